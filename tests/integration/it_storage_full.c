/* it_storage_full - a full log refuses new events with a clear NACK, loses
 * nothing acked, and keeps delivering.
 *
 * The log map is 1 MiB. Events are published until the broker answers
 * CX_E_STORAGE_FULL; every event acked before that is in its customer's
 * context and reaches the partner, the broker still answers admin requests,
 * and after a restart with a larger map it accepts events again.
 */
#include <stdio.h>
#include <string.h>

#include "cxtest.h"

static uint64_t s_acked, s_full, s_other;

static void s_on_result(void *arg, const cx_result_t *r)
{
    (void)arg;
    if (r->code == 0)
        s_acked++;
    else if (r->code == CX_E_STORAGE_FULL)
        s_full++;
    else
        s_other++;
}

static void s_publish(cx_publisher_t *pub, int k)
{
    Cx__Event ev = CX__EVENT__INIT;
    Cx__Activity a = CX__ACTIVITY__INIT;
    char id[32], cid[32], name[200];
    snprintf(id, sizeof id, "ev-%d", k);
    snprintf(cid, sizeof cid, "c-%d", k % 20);
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    ev.event_id = id;
    ev.customer_id = cid;
    ev.type = "activity";
    a.name = name;
    ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
    ev.activity = &a;
    cx_publish(pub, &ev, (uintptr_t)k, NULL);
}

int main(void)
{
    cxt_begin("it_storage_full");
    cxt_broker_t b;
    cxt_broker_init(&b, "partners:\n  - id: p1\n    sees: [activity]\n"
                        "routes:\n  - name: all\n    match: { type: activity }\n    to: [p1]\n"
                        "    consent: not-required\n");
    /* Shrink the log map: rewrite the storage section the helper wrote. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "sed -i 's/map_size: 1GiB/map_size: 1MiB/' %s", b.config);
    cxt_run(cmd, NULL);
    if (cxt_broker_start(&b) != 0) {
        CXT_CHECK(false, "broker starts with a 1 MiB log");
        return cxt_end();
    }
    cx_publisher_opts_t po = {.window = 100, .timeout_ms = 5000, .max_tries = 2};
    cx_publisher_t *pub = cx_publisher_new(b.pub_ep, &po);
    cx_publisher_on_result(pub, s_on_result, NULL);
    int k = 0;
    for (; k < 20000 && s_full == 0; k++) {
        s_publish(pub, k);
        if (k % 100 == 99) cx_publisher_flush(pub, 10000);
    }
    cx_publisher_flush(pub, 10000);
    CXT_CHECK(s_full > 0,
              "the broker refuses with CX_E_STORAGE_FULL once the log is full (%llu acked first)",
              (unsigned long long)s_acked);
    CXT_CHECK(s_other == 0, "no other kind of failure and no hang (%llu)",
              (unsigned long long)s_other);
    uint64_t acked = s_acked;
    /* More events are refused too, each with an answer. */
    uint64_t full_before = s_full;
    for (int j = 0; j < 50; j++)
        s_publish(pub, k + j);
    int rc = cx_publisher_flush(pub, 10000);
    CXT_CHECK(rc == 0 && s_full - full_before + (s_acked - acked) == 50,
              "every later event gets an answer (%llu refused)",
              (unsigned long long)(s_full - full_before));
    acked = s_acked;
    CXT_CHECK(cxt_stat(&b, "log_events") == (int64_t)acked,
              "the log holds exactly the %llu acked events", (unsigned long long)acked);
    /* Delivery goes on from a full log. */
    cx_subscriber_t *sub = cx_subscriber_new(b.deliver_ep, "p1", NULL);
    Cx__Delivery *d;
    uint64_t got = 0;
    while (got < acked && cx_subscriber_next(sub, 5000, &d) == 0) {
        cx_subscriber_ack(sub, d->seq);
        cx_delivery_free(d);
        got++;
    }
    CXT_CHECK(got == acked, "the partner receives all %llu acked events from the full log",
              (unsigned long long)got);
    cx_subscriber_destroy(&sub);
    uint64_t activities = 0;
    for (int c = 0; c < 20; c++) {
        char cid[32];
        snprintf(cid, sizeof cid, "c-%d", c);
        Cx__AdminReply *r = cxt_admin(&b, "context", cid);
        if (r && r->context) activities += r->context->activity_count;
        if (r) cx__admin_reply__free_unpacked(r, NULL);
    }
    CXT_CHECK(activities == acked, "contexts hold exactly the acked events (%llu)",
              (unsigned long long)activities);
    cx_publisher_destroy(&pub);
    CXT_CHECK(cxt_broker_stop(&b) == 0, "broker stops cleanly while full");

    snprintf(cmd, sizeof cmd, "sed -i 's/map_size: 1MiB/map_size: 64MiB/' %s", b.config);
    cxt_run(cmd, NULL);
    CXT_CHECK(cxt_broker_start(&b) == 0, "restarts with a larger map");
    s_acked = s_full = 0;
    pub = cx_publisher_new(b.pub_ep, &po);
    cx_publisher_on_result(pub, s_on_result, NULL);
    for (int j = 0; j < 100; j++)
        s_publish(pub, 100000 + j);
    cx_publisher_flush(pub, 10000);
    CXT_CHECK(s_acked == 100, "and accepts events again (%llu acked)", (unsigned long long)s_acked);
    cx_publisher_destroy(&pub);
    cxt_broker_cleanup(&b);
    return cxt_end();
}
