/* it_reload - ops change partners and routes on a running broker.
 *
 * A good config (cxctl reload, or SIGHUP) takes effect for the next events and
 * keeps every partner's stream and cursor; a bad one is refused with
 * file:line:column and the running config stays.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cxtest.h"

static const char *s_p1 = "partners:\n  - id: p1\n  - id: p2\n"
                          "routes:\n  - name: r1\n    match: { type: activity }\n    to: [p1]\n"
                          "    consent: not-required\n";
static const char *s_p2 = "partners:\n  - id: p1\n  - id: p2\n  - id: p3\n"
                          "routes:\n  - name: r1\n    match: { type: activity }\n    to: [p1, p3]\n"
                          "    consent: not-required\n";
static const char *s_bad = "partners:\n  - id: p1\n"
                           "routes:\n  - name: r1\n    match: { type: activity }\n    to: [p9]\n";

/* Rewrites the broker's config: its listen/storage header plus tail. */
static void s_write(cxt_broker_t *b, const char *tail)
{
    FILE *f = fopen(b->config, "w");
    fprintf(f, "listen:\n  publish: %s\n  deliver: %s\n  admin: %s\n", b->pub_ep, b->deliver_ep,
            b->admin_ep);
    fprintf(f, "storage:\n  path: data\n  map_size: 1GiB\n  sync: full\n%s", tail);
    fclose(f);
}

static int s_publish(cxt_broker_t *b, int from, int n)
{
    cx_publisher_t *pub = cx_publisher_new(b->pub_ep, NULL);
    for (int k = from; k < from + n; k++) {
        Cx__Event ev = CX__EVENT__INIT;
        Cx__Activity a = CX__ACTIVITY__INIT;
        char id[32];
        snprintf(id, sizeof id, "ev-%d", k);
        ev.event_id = id;
        ev.customer_id = "c-1";
        ev.type = "activity";
        a.name = "browsed";
        ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
        ev.activity = &a;
        cx_publish(pub, &ev, 0, NULL);
    }
    int rc = cx_publisher_flush(pub, 10000);
    cx_publisher_destroy(&pub);
    return rc;
}

/* Deliveries a partner gets within 1.5 s of silence; -1 if the broker refuses it. */
static int s_drain(cxt_broker_t *b, const char *partner)
{
    cx_subscriber_t *sub = cx_subscriber_new(b->deliver_ep, partner, NULL);
    Cx__Delivery *d;
    int got = 0, rc;
    while ((rc = cx_subscriber_next(sub, 1500, &d)) == 0) {
        cx_subscriber_ack(sub, d->seq);
        cx_delivery_free(d);
        got++;
    }
    cx_subscriber_destroy(&sub);
    return rc == CX_E_TIMEOUT ? got : -1;
}

static int s_cxctl_reload(cxt_broker_t *b, char **out)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s -a %s reload 2>&1", cxt_bin("cxctl"), b->admin_ep);
    return cxt_run(cmd, out);
}

int main(void)
{
    cxt_begin("it_reload");
    cxt_broker_t b;
    cxt_broker_init(&b, NULL);
    s_write(&b, s_p1);
    if (cxt_broker_start(&b) != 0) {
        CXT_CHECK(false, "broker starts");
        return cxt_end();
    }
    s_publish(&b, 0, 10);
    CXT_CHECK(s_drain(&b, "p1") == 10, "p1 gets the 10 events its route sends");
    CXT_CHECK(s_drain(&b, "p3") == -1, "p3 is not a partner yet");

    s_write(&b, s_p2);
    char *out = NULL;
    int st = s_cxctl_reload(&b, &out);
    CXT_CHECK(st == 0 && out && strstr(out, "reloaded"),
              "cxctl reload of a good config exits 0 (%s)", out ? out : "");
    free(out);
    s_publish(&b, 10, 5);
    CXT_CHECK(s_drain(&b, "p1") == 5, "p1 keeps its cursor: only the 5 new events");
    CXT_CHECK(s_drain(&b, "p3") == 5, "p3, added by the reload, gets the 5 new events");

    s_write(&b, s_bad);
    out = NULL;
    st = s_cxctl_reload(&b, &out);
    CXT_CHECK(st == 1 && out && strstr(out, b.config) && strstr(out, ":14:10:") &&
                  strstr(out, "p9"),
              "a bad config is refused naming file, line and problem (%s)", out ? out : "");
    free(out);
    s_publish(&b, 15, 5);
    CXT_CHECK(s_drain(&b, "p3") == 5, "the running config stays: p3 still gets events");

    s_write(&b, s_p1);
    kill(b.pid, SIGHUP);
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    s_publish(&b, 20, 5);
    CXT_CHECK(s_drain(&b, "p3") == -1, "SIGHUP reloads too: p3 is gone");
    CXT_CHECK(s_drain(&b, "p1") == 10, "p1 got everything of its route through all reloads");
    CXT_CHECK(cxt_stat(&b, "events_accepted") == 25, "no event was refused during the reloads");
    CXT_CHECK(cxt_broker_stop(&b) == 0, "broker exits 0");
    cxt_broker_cleanup(&b);
    return cxt_end();
}
