/* cxpub - publish customer-context events to cxbroker.
 *
 * Reads JSON lines on stdin, one cx.Event each (keys are the .proto field
 * names, times RFC 3339), or builds one event from flags. A line that is not
 * valid JSON or not a valid event is reported with its number and skipped; a
 * NACK is reported with the line it came from. The last line printed is the
 * summary; the exit status is 0 only if every event was acked.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cx.h"
#include "cx_json.h"

typedef struct {
    bool quiet;
    uint64_t invalid;
} state_t;

static void s_usage(FILE *f)
{
    fprintf(
        f, "usage: cxpub -b ENDPOINT [options] < events.jsonl\n"
           "       cxpub -b ENDPOINT --type TYPE --customer ID [--payload JSON] [options]\n"
           "  -b, --broker EP        the broker's publish endpoint, e.g. tcp://127.0.0.1:7700\n"
           "  -t, --type TYPE        build one event: its type (goal.set, milestone.reached, ...)\n"
           "  -c, --customer ID      ... its customer_id\n"
           "  -P, --payload JSON     ... its payload object, e.g. "
           "'{\"goal_id\":\"g1\",\"name\":\"flights-booked\"}'\n"
           "  -e, --event-id ID      ... its event_id (default: a new time-ordered id)\n"
           "  -s, --source NAME      source of events that have none\n"
           "      --partner ID       publish as this partner (offers)\n"
           "      --producer NAME    producer name (default: the host; made unique per run)\n"
           "  -w, --window N         events in flight (default 1000)\n"
           "      --timeout SEC      give up waiting for acks after SEC seconds (default 60)\n"
           "  -q, --quiet            print only problems and the summary\n");
}

/* A time-ordered, unique event id: microseconds, pid, counter. */
static void s_make_id(char *buf, size_t len)
{
    static unsigned counter;
    snprintf(buf, len, "%013llx-%04x-%06x", (unsigned long long)cx_now_us(),
             (unsigned)getpid() & 0xffff, counter++ & 0xffffff);
}

static void s_on_result(void *arg, const cx_result_t *r)
{
    state_t *st = arg;
    if (r->code == 0) return;
    fprintf(stderr, "line %llu: nacked: %s: %s\n", (unsigned long long)r->tag, cx_err_name(r->code),
            r->reason ? r->reason : cx_strerror(r->code));
    (void)st;
}

/* Publishes one event given as JSON text; problems are reported against line. */
static void s_publish_text(cx_publisher_t *pub, const char *text, size_t len, uint64_t line,
                           const char *source, state_t *st)
{
    char err[256];
    ProtobufCMessage *m = NULL;
    int rc = cx_json_parse_message(text, len, &cx__event__descriptor, NULL, &m, err, sizeof err);
    if (rc) {
        /* The text is one line: keep jansson's column, drop its "line 1, ". */
        bool syntax = rc == CX_E_JSON && strncmp(err, "line 1, ", 8) == 0;
        fprintf(stderr, "line %llu: %s: %s\n", (unsigned long long)line,
                syntax ? "invalid JSON" : "not a valid event", syntax ? err + 8 : err);
        st->invalid++;
        return;
    }
    Cx__Event *ev = (Cx__Event *)m;
    char id[64];
    if (!ev->event_id) {
        s_make_id(id, sizeof id);
        ev->event_id = strdup(id);
    }
    if (!ev->source && source) ev->source = strdup(source);
    if (!ev->has_occurred_at) {
        ev->has_occurred_at = 1;
        ev->occurred_at = cx_now_us();
    }
    rc = cx_publish(pub, ev, (uintptr_t)line, NULL);
    if (rc) {
        fprintf(stderr, "line %llu: cannot send: %s\n", (unsigned long long)line, cx_strerror(rc));
        st->invalid++;
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

/* Builds {"event_id":..,"customer_id":..,"type":..,"<payload field>":PAYLOAD}. */
static json_t *s_event_from_flags(const char *type, const char *customer, const char *payload,
                                  const char *event_id)
{
    cx_event_type_t t = cx_event_type_parse(type);
    if (t == CX_EV_UNKNOWN) {
        fprintf(stderr, "cxpub: unknown event type '%s'\n", type);
        return NULL;
    }
    json_t *j = json_object();
    json_object_set_new(j, "customer_id", json_string(customer));
    json_object_set_new(j, "type", json_string(type));
    if (event_id) json_object_set_new(j, "event_id", json_string(event_id));
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
        &cx__event__descriptor, (unsigned)cx_event_type_payload(t));
    json_error_t je;
    json_t *p = payload ? json_loads(payload, 0, &je) : json_object();
    if (!p) {
        fprintf(stderr, "cxpub: --payload: invalid JSON: %s\n", je.text);
        json_decref(j);
        return NULL;
    }
    if (f)
        json_object_set_new(j, f->name, p);
    else
        json_decref(p);
    return j;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"broker", required_argument, 0, 'b'},
                                         {"type", required_argument, 0, 't'},
                                         {"customer", required_argument, 0, 'c'},
                                         {"payload", required_argument, 0, 'P'},
                                         {"event-id", required_argument, 0, 'e'},
                                         {"source", required_argument, 0, 's'},
                                         {"partner", required_argument, 0, 'R'},
                                         {"producer", required_argument, 0, 'p'},
                                         {"window", required_argument, 0, 'w'},
                                         {"timeout", required_argument, 0, 'T'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *broker = NULL, *type = NULL, *customer = NULL, *payload = NULL, *event_id = NULL;
    const char *source = NULL;
    cx_publisher_opts_t po = {0};
    int timeout_s = 60;
    state_t st = {0};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:c:P:e:s:p:w:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'b': broker = optarg; break;
        case 't': type = optarg; break;
        case 'c': customer = optarg; break;
        case 'P': payload = optarg; break;
        case 'e': event_id = optarg; break;
        case 's': source = optarg; break;
        case 'R': po.partner = optarg; break;
        case 'p': po.producer_id = optarg; break;
        case 'w': po.window = (uint32_t)atoi(optarg); break;
        case 'T': timeout_s = atoi(optarg); break;
        case 'q': st.quiet = true; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!broker || (type && !customer) || (!type && customer)) {
        s_usage(stderr);
        return 2;
    }
    cx_publisher_t *pub = cx_publisher_new(broker, &po);
    if (!pub) {
        fprintf(stderr, "cxpub: cannot connect to %s\n", broker);
        return 1;
    }
    cx_publisher_on_result(pub, s_on_result, &st);
    int64_t t0 = cx_now_us();
    if (type) {
        json_t *j = s_event_from_flags(type, customer, payload, event_id);
        if (!j) {
            cx_publisher_destroy(&pub);
            return 2;
        }
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!text) {
            cx_publisher_destroy(&pub);
            return 1;
        }
        s_publish_text(pub, text, strlen(text), 1, source, &st);
        free(text);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        uint64_t lineno = 0;
        while ((n = getline(&line, &cap, stdin)) != -1) {
            lineno++;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            if (n == 0) continue;
            s_publish_text(pub, line, (size_t)n, lineno, source, &st);
        }
        free(line);
    }
    int rc = cx_publisher_flush(pub, timeout_s * 1000);
    cx_publisher_stats_t ps;
    cx_publisher_stats(pub, &ps);
    double secs = (double)(cx_now_us() - t0) / 1e6;
    if (rc)
        fprintf(stderr, "cxpub: %llu events still unanswered after %d s\n",
                (unsigned long long)ps.in_flight, timeout_s);
    printf("sent %llu acked %llu nacked %llu (duplicates %llu, invalid lines %llu, failed %llu) "
           "in %.3f s, %.0f events/s\n",
           (unsigned long long)ps.sent, (unsigned long long)ps.acked, (unsigned long long)ps.nacked,
           (unsigned long long)ps.duplicates, (unsigned long long)st.invalid,
           (unsigned long long)(ps.failed + ps.in_flight), secs,
           secs > 0 ? (double)ps.acked / secs : 0.0);
    cx_publisher_destroy(&pub);
    return (ps.acked == ps.sent && st.invalid == 0 && rc == 0) ? 0 : 1;
}
