/* crash_trials - kill -9 the broker at a random moment under load, restart it,
 * and prove nothing acked was lost.
 *
 * Each trial: a fresh broker with one partner routed every milestone; this
 * process publishes (window 1000) and receives that partner's deliveries at
 * full speed; after a random number of acks the broker gets SIGKILL. Then:
 * restart (the time until it answers is printed) and finish publishing. In
 * even trials the same libcx publisher and subscriber live through the crash
 * (resends in order, producer seqs); in odd trials a new publisher re-publishes
 * every event that had no ack (same event_ids: the broker acks those it
 * already logged as duplicates). Then drain the partner. Checks: every event is acked; every
 * customer's context equals the test's own model (each event applied exactly
 * once); the partner received every milestone event; and contexts rebuilt from
 * the log alone (state environment deleted) equal the model too.
 *
 *   crash_trials --bin build/bin --trials 3 [--events 30000] [--seed N]
 * Last line: "trials N, acked N, lost N, context mismatches N".
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxmodel.h"
#include "cxtest.h"

#define CUSTOMERS 2000

static model_t s_model[CUSTOMERS];
static int *s_cust;       /* customer of event k */
static char *s_acked;     /* event k acked */
static char *s_milestone; /* event k is a milestone (routed to the partner) */
static char *s_delivered; /* event k delivered to the partner */
static uint8_t **s_bytes; /* event k as first encoded, for re-publishing */
static size_t *s_len;
static uint64_t s_n_acked;

static void s_on_result(void *arg, const cx_result_t *r)
{
    (void)arg;
    if (r->code == 0 && !s_acked[r->tag]) {
        s_acked[r->tag] = 1;
        s_n_acked++;
    }
}

static void s_drain(cx_subscriber_t *sub, int timeout_ms, int events)
{
    Cx__Delivery *d;
    while (cx_subscriber_next(sub, timeout_ms, &d) == 0) {
        Cx__Event *ev = cx__event__unpack(NULL, d->event.len, d->event.data);
        int k;
        if (ev && ev->event_id && sscanf(ev->event_id, "ev-%d", &k) == 1 && k >= 0 && k < events)
            s_delivered[k] = 1;
        if (ev) cx__event__free_unpacked(ev, NULL);
        cx_subscriber_ack(sub, d->seq);
        cx_delivery_free(d);
    }
}

/* Event k: generated (and applied to the model) the first time, the same bytes after. */
static void s_publish(cx_publisher_t *pub, int k, uint64_t *rng)
{
    if (!s_bytes[k]) {
        Cx__Event ev;
        char id[32], cid[32];
        cxm_event(k, s_cust[k], rng, &s_model[s_cust[k]], &ev, id, cid);
        s_milestone[k] = strcmp(ev.type, "milestone.reached") == 0;
        s_len[k] = cx__event__get_packed_size(&ev);
        s_bytes[k] = malloc(s_len[k]);
        cx__event__pack(&ev, s_bytes[k]);
    }
    cx_publish_raw(pub, s_bytes[k], s_len[k], (uintptr_t)k, NULL);
}

int main(int argc, char **argv)
{
    int trials = 3, events = 30000;
    uint64_t seed = (uint64_t)getpid() ^ (uint64_t)cx_now_us();
    static const struct option opts[] = {{"bin", required_argument, 0, 'b'},
                                         {"trials", required_argument, 0, 't'},
                                         {"events", required_argument, 0, 'e'},
                                         {"seed", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:e:s:", opts, NULL)) != -1) {
        if (c == 'b')
            setenv("CX_BIN", optarg, 1);
        else if (c == 't')
            trials = atoi(optarg);
        else if (c == 'e')
            events = atoi(optarg);
        else if (c == 's')
            seed = strtoull(optarg, NULL, 10);
    }
    cxt_begin("crash_trials");
    printf("seed %llu\n", (unsigned long long)seed);
    uint64_t total_acked = 0, lost = 0, mismatches = 0;
    for (int t = 0; t < trials; t++) {
        memset(s_model, 0, sizeof s_model);
        s_cust = calloc((size_t)events, sizeof(int));
        s_acked = calloc((size_t)events, 1);
        s_milestone = calloc((size_t)events, 1);
        s_delivered = calloc((size_t)events, 1);
        s_bytes = calloc((size_t)events, sizeof(uint8_t *));
        s_len = calloc((size_t)events, sizeof(size_t));
        s_n_acked = 0;
        uint64_t rng = seed + (uint64_t)t * 7919 + 1;
        for (int k = 0; k < events; k++)
            s_cust[k] = (int)(cxt_rand(&rng) % CUSTOMERS);
        cxt_broker_t b;
        cxt_broker_init(
            &b, "checkpoint:\n  interval: 100ms\n"
                "partners:\n  - id: p1\n    sees: [goals]\n"
                "routes:\n  - name: all-milestones\n    match: { type: milestone.reached }\n"
                "    to: [p1]\n    consent: not-required\n");
        if (cxt_broker_start(&b) != 0) {
            CXT_CHECK(false, "trial %d: broker starts", t);
            break;
        }
        cx_publisher_opts_t po = {.window = 1000, .timeout_ms = 1000};
        cx_publisher_t *pub = cx_publisher_new(b.pub_ep, &po);
        cx_publisher_on_result(pub, s_on_result, NULL);
        cx_subscriber_t *sub = cx_subscriber_new(b.deliver_ep, "p1", NULL);
        uint64_t kill_after = events / 10 + cxt_rand(&rng) % (uint64_t)(events * 7 / 10);
        uint64_t prng = seed * 31 + (uint64_t)t;
        int k = 0;
        for (; k < events && s_n_acked < kill_after; k++) {
            s_publish(pub, k, &prng);
            if (k % 512 == 0) s_drain(sub, 0, events);
        }
        cxt_broker_kill9(&b);
        uint64_t acked_at_kill = s_n_acked;
        /* The rest of the events are published after the restart. */
        int64_t t0 = cx_now_us();
        int started = cxt_broker_start(&b);
        double recovery = (double)(cx_now_us() - t0) / 1e6;
        CXT_CHECK(started == 0,
                  "trial %d: broker restarts after kill -9 at %llu acks (answers in %.2f s)", t,
                  (unsigned long long)acked_at_kill, recovery);
        if (t % 2 == 1) {
            /* The publisher "crashed" too: a new one re-publishes what had no
             * ack, with the same event_ids (the broker's event_id window). */
            cx_publisher_destroy(&pub);
            cx_subscriber_destroy(&sub);
            pub = cx_publisher_new(b.pub_ep, &po);
            cx_publisher_on_result(pub, s_on_result, NULL);
            sub = cx_subscriber_new(b.deliver_ep, "p1", NULL);
            for (int j = 0; j < k; j++)
                if (!s_acked[j]) s_publish(pub, j, &prng);
        }
        /* Else the same publisher and partner live on: libcx resends what had
         * no answer, in order, and the subscriber says hello again. */
        for (int j = k; j < events; j++)
            s_publish(pub, j, &prng);
        cx_publisher_flush(pub, 60000);
        s_drain(sub, 3000, events);
        int not_acked = 0, undelivered = 0;
        for (int j = 0; j < events; j++) {
            not_acked += !s_acked[j];
            undelivered += s_milestone[j] && !s_delivered[j];
        }
        int mm = cxm_mismatches(&b, s_model, CUSTOMERS, "  ");
        CXT_CHECK(not_acked == 0, "trial %d: all %d events acked after the restart (%d not)", t,
                  events, not_acked);
        CXT_CHECK(undelivered == 0, "trial %d: the partner got every milestone event (%d missing)",
                  t, undelivered);
        CXT_CHECK(mm == 0, "trial %d: every context equals the model (%d differ)", t, mm);
        int64_t logged = cxt_stat(&b, "log_events");
        CXT_CHECK(logged == events, "trial %d: the log holds each event once (%lld)", t,
                  (long long)logged);
        cx_publisher_destroy(&pub);
        cx_subscriber_destroy(&sub);
        /* Contexts from the log alone. */
        cxt_broker_stop(&b);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s/data/state", b.dir);
        cxt_run(cmd, NULL);
        cxt_broker_start(&b);
        int mm2 = cxm_mismatches(&b, s_model, CUSTOMERS, "  ");
        CXT_CHECK(mm2 == 0, "trial %d: contexts rebuilt from the log equal the model (%d differ)",
                  t, mm2);
        total_acked += acked_at_kill;
        lost += (uint64_t)undelivered + (logged < events ? (uint64_t)(events - logged) : 0);
        mismatches += (uint64_t)(mm + mm2);
        cxt_broker_cleanup(&b);
        free(s_cust);
        free(s_acked);
        free(s_milestone);
        free(s_delivered);
        for (int j = 0; j < events; j++)
            free(s_bytes[j]);
        free(s_bytes);
        free(s_len);
    }
    printf("trials %d, acked %llu, lost %llu, context mismatches %llu\n", trials,
           (unsigned long long)total_acked, (unsigned long long)lost,
           (unsigned long long)mismatches);
    return cxt_end();
}
