/* it_retention - the log keeps what someone still needs and drops the rest.
 *
 * Two partners are routed every event; one acks everything, the other is not
 * connected. With retention 1s, nothing may be pruned while the absent partner
 * has not acked; once it connects and acks, the log empties to what is younger
 * than the retention, and the broker keeps accepting and delivering.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cxtest.h"

static void s_publish(cx_publisher_t *pub, int from, int n)
{
    for (int k = from; k < from + n; k++) {
        Cx__Event ev = CX__EVENT__INIT;
        Cx__Activity a = CX__ACTIVITY__INIT;
        char id[32], cid[32];
        snprintf(id, sizeof id, "ev-%d", k);
        snprintf(cid, sizeof cid, "c-%d", k % 50);
        ev.event_id = id;
        ev.customer_id = cid;
        ev.type = "activity";
        a.name = "browsed";
        ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
        ev.activity = &a;
        cx_publish(pub, &ev, 0, NULL);
    }
    cx_publisher_flush(pub, 30000);
}

static int s_consume(cxt_broker_t *b, const char *partner, int want)
{
    cx_subscriber_t *sub = cx_subscriber_new(b->deliver_ep, partner, NULL);
    Cx__Delivery *d;
    int got = 0;
    while (got < want && cx_subscriber_next(sub, 3000, &d) == 0) {
        cx_subscriber_ack(sub, d->seq);
        cx_delivery_free(d);
        got++;
    }
    cx_subscriber_destroy(&sub);
    return got;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void)
{
    cxt_begin("it_retention");
    cxt_broker_t b;
    cxt_broker_init(&b,
                    "  retention: 1s\ncheckpoint:\n  interval: 100ms\n"
                    "partners:\n  - id: eager\n  - id: absent\n"
                    "routes:\n  - name: all\n    match: { type: \"*\" }\n    to: [eager, absent]\n"
                    "    consent: not-required\n");
    if (cxt_broker_start(&b) != 0) {
        CXT_CHECK(false, "broker starts");
        return cxt_end();
    }
    cx_publisher_t *pub = cx_publisher_new(b.pub_ep, NULL);
    s_publish(pub, 0, 2000);
    CXT_CHECK(s_consume(&b, "eager", 2000) == 2000, "the eager partner gets and acks 2,000 events");
    s_sleep_ms(4500); /* > retention + two prune passes */
    CXT_CHECK(cxt_stat(&b, "log_events") == 2000,
              "nothing is pruned while a partner has not acked (log %lld)",
              (long long)cxt_stat(&b, "log_events"));
    CXT_CHECK(s_consume(&b, "absent", 2000) == 2000,
              "the absent partner connects and gets all 2,000");
    s_sleep_ms(4500);
    int64_t logged = cxt_stat(&b, "log_events"), pruned = cxt_stat(&b, "log_pruned");
    CXT_CHECK(logged == 0 && pruned == 2000,
              "once both acked, retention removes all 2,000 (log %lld, pruned %lld)",
              (long long)logged, (long long)pruned);
    s_publish(pub, 2000, 100);
    CXT_CHECK(cxt_stat(&b, "events_accepted") == 2100, "the broker keeps accepting after pruning");
    CXT_CHECK(s_consume(&b, "eager", 100) == 100, "and keeps delivering");
    Cx__AdminReply *r = cxt_admin(&b, "context", "c-7");
    CXT_CHECK(r && r->context && r->context->activity_count == 42,
              "contexts survive the pruning of the events that built them (activity_count %llu)",
              r && r->context ? (unsigned long long)r->context->activity_count : 0ULL);
    if (r) cx__admin_reply__free_unpacked(r, NULL);
    cx_publisher_destroy(&pub);
    CXT_CHECK(cxt_broker_stop(&b) == 0, "broker exits 0");
    CXT_CHECK(cxt_broker_start(&b) == 0, "and restarts on the pruned log");
    r = cxt_admin(&b, "context", "c-7");
    CXT_CHECK(r && r->context && r->context->activity_count == 42, "with the same contexts");
    if (r) cx__admin_reply__free_unpacked(r, NULL);
    cxt_broker_cleanup(&b);
    return cxt_end();
}
