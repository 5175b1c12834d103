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
                    "  retention: 1s\ndedup:\n  window: 1s\ncheckpoint:\n  interval: 100ms\n"
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
    CXT_CHECK(logged == 1 && pruned == 1999,
              "once both acked, retention removes all but the newest entry (log %lld, pruned %lld)",
              (long long)logged, (long long)pruned);
    /* A restart on the pruned log: seqs go on, nothing is reused. */
    cx_subscriber_t *stay = cx_subscriber_new(b.deliver_ep, "eager", NULL);
    CXT_CHECK(cxt_broker_stop(&b) == 0 && cxt_broker_start(&b) == 0,
              "broker restarts on the pruned log");
    Cx__AdminReply *pr = cxt_admin(&b, "partners", NULL);
    CXT_CHECK(pr && pr->n_partners == 2 && pr->partners[0]->head == 2000 &&
                  pr->partners[0]->cursor == 2000,
              "partner streams keep their seqs across the restart (head %llu)",
              pr && pr->n_partners ? (unsigned long long)pr->partners[0]->head : 0ULL);
    if (pr) cx__admin_reply__free_unpacked(pr, NULL);
    cx_publisher_destroy(&pub);
    pub = cx_publisher_new(b.pub_ep, NULL);
    s_publish(pub, 2000, 100);
    CXT_CHECK(cxt_stat(&b, "events_accepted") == 100 && cxt_stat(&b, "log_last_seq") == 2100,
              "the broker keeps accepting after pruning, log seqs go on (last %lld)",
              (long long)cxt_stat(&b, "log_last_seq"));
    Cx__Delivery *d;
    int got = 0;
    uint64_t first_seq = 0;
    while (got < 100 && cx_subscriber_next(stay, 5000, &d) == 0) {
        if (!first_seq) first_seq = d->seq;
        cx_subscriber_ack(stay, d->seq);
        cx_delivery_free(d);
        got++;
    }
    CXT_CHECK(got == 100 && first_seq == 2001,
              "a subscriber connected across the restart gets the new events at seq 2001.. (%d, "
              "first %llu)",
              got, (unsigned long long)first_seq);
    cx_subscriber_destroy(&stay);
    Cx__AdminReply *r = cxt_admin(&b, "context", "c-7");
    CXT_CHECK(r && r->context && r->context->activity_count == 42,
              "contexts survive pruning and restart (activity_count %llu)",
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
