/* cxsub - receive a partner's deliveries from cxbroker as JSON lines.
 *
 * Prints {"seq":N,"partner":"ID","route":"NAME","event":{...},"context":{...}}
 * per delivery, flushes stdout, and only then acks it: a delivery is acked
 * once it is written. Exits 0 after --count deliveries, or when --timeout
 * seconds pass with nothing new (saying on stderr how many it got).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cx.h"
#include "cx_json.h"

static void s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: cxsub -b DELIVER_ENDPOINT --partner ID [--from SEQ] [--count N] [--timeout SEC]\n"
        "  -b, --broker EP     the broker's deliver endpoint, e.g. tcp://127.0.0.1:7701\n"
        "  -p, --partner ID    the partner id (as in the broker's config)\n"
        "  -f, --from SEQ      replay from this stream seq (default: after the last ack)\n"
        "  -n, --count N       exit after N deliveries\n"
        "  -t, --timeout SEC   exit when nothing new arrives for SEC seconds\n"
        "  -c, --credit N      deliveries in flight (default: the partner's max_in_flight)\n");
}

static json_t *s_delivery_json(const Cx__Delivery *d)
{
    json_t *j = json_object();
    json_object_set_new(j, "seq", json_integer((json_int_t)d->seq));
    json_object_set_new(j, "partner", json_string(d->partner ? d->partner : ""));
    json_object_set_new(j, "route", json_string(d->route ? d->route : ""));
    Cx__Event *ev = cx__event__unpack(NULL, d->event.len, d->event.data);
    json_object_set_new(j, "event", ev ? cx_json_from_message(&ev->base) : json_null());
    if (ev) cx__event__free_unpacked(ev, NULL);
    json_object_set_new(j, "context",
                        d->context ? cx_json_from_message(&d->context->base) : json_object());
    return j;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"broker", required_argument, 0, 'b'},  {"partner", required_argument, 0, 'p'},
        {"from", required_argument, 0, 'f'},    {"count", required_argument, 0, 'n'},
        {"timeout", required_argument, 0, 't'}, {"credit", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *ep = NULL, *partner = NULL;
    cx_subscriber_opts_t so = {0};
    long long count = -1;
    double timeout = -1;
    int c;
    while ((c = getopt_long(argc, argv, "b:p:f:n:t:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': ep = optarg; break;
        case 'p': partner = optarg; break;
        case 'f': so.from_seq = strtoull(optarg, NULL, 10); break;
        case 'n': count = atoll(optarg); break;
        case 't': timeout = atof(optarg); break;
        case 'c': so.credit = (uint32_t)atoi(optarg); break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!ep || !partner) {
        s_usage(stderr);
        return 2;
    }
    cx_subscriber_t *sub = cx_subscriber_new(ep, partner, &so);
    if (!sub) {
        fprintf(stderr, "cxsub: cannot connect to %s\n", ep);
        return 1;
    }
    long long got = 0;
    int status = 0;
    int wait_ms = timeout >= 0 ? (int)(timeout * 1000) : 1000;
    while (count < 0 || got < count) {
        Cx__Delivery *d = NULL;
        int rc = cx_subscriber_next(sub, wait_ms, &d);
        if (rc == CX_E_TIMEOUT) {
            if (timeout >= 0) break;
            continue;
        }
        if (rc) {
            fprintf(stderr, "cxsub: %s\n",
                    cx_subscriber_error(sub) ? cx_subscriber_error(sub) : cx_strerror(rc));
            status = 1;
            break;
        }
        json_t *j = s_delivery_json(d);
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s) {
            fputs(s, stdout);
            fputc('\n', stdout);
        }
        free(s);
        json_decref(j);
        if (fflush(stdout) != 0) { /* not written: do not ack */
            cx_delivery_free(d);
            status = 1;
            break;
        }
        cx_subscriber_ack(sub, d->seq);
        cx_delivery_free(d);
        got++;
    }
    fprintf(stderr, "cxsub: %lld deliveries\n", got);
    /* Let the last ack leave before the socket closes. */
    cx_subscriber_destroy(&sub);
    return status;
}
