/* it_ingest - the acked write path against a real broker on ipc://.
 *
 * 100,000 events for 10,000 customers published with libcx are all acked, and
 * every customer's context read back through the admin endpoint (and, for a
 * sample, through the cxctl program) equals a model the test computes on its
 * own from the same events. Then: re-published event_ids are acked as
 * duplicates and change nothing; retries of a publisher whose broker stalls
 * are applied once; a clean restart keeps every context.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxmodel.h"
#include "cxtest.h"

#define CUSTOMERS 10000
#define EVENTS 100000

static model_t s_model[CUSTOMERS];
static uint64_t s_acked, s_nacked, s_dups;

static void s_on_result(void *arg, const cx_result_t *r)
{
    (void)arg;
    if (r->code == 0)
        s_acked++;
    else {
        s_nacked++;
        if (s_nacked < 5) fprintf(stderr, "nack: %s\n", r->reason ? r->reason : "?");
    }
    if (r->duplicate) s_dups++;
}

static cx_publisher_t *s_publisher(cxt_broker_t *b, int timeout_ms)
{
    cx_publisher_opts_t o = {.window = 1000, .timeout_ms = timeout_ms};
    cx_publisher_t *p = cx_publisher_new(b->pub_ep, &o);
    if (p) cx_publisher_on_result(p, s_on_result, NULL);
    return p;
}

int main(void)
{
    cxt_begin("it_ingest");
    cxt_broker_t b;
    if (cxt_broker_init(&b, "checkpoint:\n  interval: 200ms\n") != 0 || cxt_broker_start(&b) != 0) {
        CXT_CHECK(false, "broker starts");
        return cxt_end();
    }
    uint64_t rng = 42;
    cx_publisher_t *pub = s_publisher(&b, 5000);
    CXT_CHECK(pub != NULL, "publisher connects");
    int64_t t0 = cx_now_us();
    for (int k = 0; k < EVENTS; k++) {
        Cx__Event ev;
        char id[32], cid[32];
        int c = (int)(cxt_rand(&rng) % CUSTOMERS);
        cxm_event(k, c, &rng, &s_model[c], &ev, id, cid);
        cx_publish(pub, &ev, (uintptr_t)k, NULL);
    }
    int rc = cx_publisher_flush(pub, 60000);
    double secs = (double)(cx_now_us() - t0) / 1e6;
    cxt_note("published %d events in %.2f s (%.0f/s)", EVENTS, secs, EVENTS / secs);
    CXT_CHECK(rc == 0 && s_acked == EVENTS && s_nacked == 0,
              "all %d events acked (acked %llu, nacked %llu)", EVENTS, (unsigned long long)s_acked,
              (unsigned long long)s_nacked);
    CXT_CHECK(cxt_stat(&b, "log_events") == EVENTS, "log holds %d events", EVENTS);
    CXT_CHECK(cxm_mismatches(&b, s_model, CUSTOMERS, "after publish") == 0,
              "all %d contexts equal the model", CUSTOMERS);

    /* The same through the cxctl program, for a sample of customers. */
    int cx_bad = 0;
    for (int c = 0; c < CUSTOMERS; c += 100) {
        char cmd[600], cid[32], *out = NULL;
        cxm_customer_id(cid, sizeof cid, c);
        snprintf(cmd, sizeof cmd, "%s -a %s context %s", cxt_bin("cxctl"), b.admin_ep, cid);
        int st = cxt_run(cmd, &out);
        json_t *j = out ? json_loads(out, 0, NULL) : NULL;
        json_t *goals = j ? json_object_get(j, "goals") : NULL;
        json_t *g0 = goals ? json_array_get(goals, 0) : NULL;
        double progress = g0 && json_object_get(g0, "progress")
                              ? json_number_value(json_object_get(g0, "progress"))
                              : 0;
        json_int_t version = j ? json_integer_value(json_object_get(j, "version")) : -1;
        if (st != 0 || version != s_model[c].events || (int)progress != s_model[c].milestones)
            cx_bad++;
        json_decref(j);
        free(out);
    }
    CXT_CHECK(cx_bad == 0,
              "cxctl context prints the model's version and progress for 100 customers");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s -a %s context no-such-customer 2>/dev/null", cxt_bin("cxctl"),
             b.admin_ep);
    CXT_CHECK(cxt_run(cmd, NULL) == 1, "cxctl context of an unknown customer exits 1");
    cx_publisher_destroy(&pub);

    /* Duplicates: 1,000 already-acked event_ids, from a new publisher. */
    int64_t dups_before = cxt_stat(&b, "duplicates");
    s_acked = s_nacked = s_dups = 0;
    pub = s_publisher(&b, 5000);
    uint64_t rng2 = 7;
    for (int k = 0; k < 1000; k++) {
        Cx__Event ev;
        char id[32], cid[32];
        int c = (int)(cxt_rand(&rng2) % CUSTOMERS);
        model_t saved = s_model[c];
        cxm_event(k * 97 % EVENTS, c, &rng2, &s_model[c], &ev, id, cid); /* an id already used */
        s_model[c] = saved; /* a duplicate changes nothing */
        cx_publish(pub, &ev, (uintptr_t)k, NULL);
    }
    rc = cx_publisher_flush(pub, 30000);
    CXT_CHECK(rc == 0 && s_acked == 1000 && s_dups == 1000,
              "1,000 re-published event_ids are acked as duplicates (acked %llu, duplicates %llu)",
              (unsigned long long)s_acked, (unsigned long long)s_dups);
    CXT_CHECK(cxt_stat(&b, "duplicates") - dups_before == 1000, "stats count 1,000 duplicates");
    CXT_CHECK(cxt_stat(&b, "log_events") == EVENTS, "duplicates add nothing to the log");
    CXT_CHECK(cxm_mismatches(&b, s_model, CUSTOMERS, "after duplicates") == 0,
              "duplicates change no context");
    cx_publisher_destroy(&pub);

    /* Retries: the broker stalls, the publisher resends on timeout with the same
     * producer seqs; each event is applied once. */
    s_acked = s_nacked = s_dups = 0;
    pub = s_publisher(&b, 200);
    kill(b.pid, SIGSTOP);
    for (int k = 0; k < 500; k++) {
        Cx__Event ev;
        char id[32], cid[32];
        int c = (int)(cxt_rand(&rng) % CUSTOMERS);
        cxm_event(EVENTS + k, c, &rng, &s_model[c], &ev, id, cid);
        cx_publish(pub, &ev, (uintptr_t)k, NULL);
    }
    cx_publisher_poll(pub, 700); /* at least two resends of everything */
    kill(b.pid, SIGCONT);
    rc = cx_publisher_flush(pub, 30000);
    cx_publisher_stats_t ps;
    cx_publisher_stats(pub, &ps);
    CXT_CHECK(rc == 0 && s_acked == 500 && ps.resends >= 500,
              "500 events resent while the broker stalled are all acked (resends %llu)",
              (unsigned long long)ps.resends);
    CXT_CHECK(cxt_stat(&b, "log_events") == EVENTS + 500, "each resent event is logged once");
    cx_publisher_destroy(&pub);

    /* A clean stop writes a checkpoint; the restarted broker has every context. */
    CXT_CHECK(cxt_broker_stop(&b) == 0, "SIGTERM: broker exits 0");
    CXT_CHECK(cxt_broker_start(&b) == 0, "broker restarts");
    CXT_CHECK(cxm_mismatches(&b, s_model, CUSTOMERS, "after restart") == 0,
              "after restart all contexts equal the model");
    cxt_broker_cleanup(&b);
    return cxt_end();
}
