/* bench.c - the cxbroker load generator: baselines, scenarios, one report.
 *
 * What it is for: figures, not verdicts. It measures, in one run and on the
 * same socket kind (ipc:// in a temp dir), how fast two baselines go and how
 * fast a real cxbroker process goes under the workloads of docs/benchmarks.md,
 * and prints one table row per scenario (and appends it to a CSV). It asserts
 * nothing about time; every loop is bounded and the whole run stops by itself.
 *
 * The one idea: the baselines are the floor the broker is compared with.
 *   base-a  raw ZeroMQ DEALER -> ROUTER, the ROUTER acks each message, the
 *           DEALER keeps `window` messages in flight.
 *   base-b  the same plus an LMDB append (MDB_APPEND, big-endian u64 keys) of
 *           each message, one fsync'd commit per batch of what is waiting (at
 *           most 1024), acks after the commit: what "durable ack" costs at least.
 * The broker does that and more (decode, validate, dedup, reduce, route, write
 * deliveries, checkpoint contexts), so ratio_b = broker / base-b says how much
 * of the floor it keeps.
 *
 * Scenarios against a real broker (tests/lib/cxtest.c starts it in a temp dir):
 *   W2       events over N active customers (each given a goal first, untimed),
 *            mix 10% goal.set, 60% milestone.reached, 10% profile.updated,
 *            10% consent, 10% activity; P partners (4) whose routes each take
 *            about half the events (a bit of the event's source), consent
 *            not-required; partners consume with cx_subscriber in threads.
 *   W1       the same with many customers preloaded (goal.set each, timed as
 *            its own row), then the mix over all of them. Then, once its
 *            storage is measured after the usual clean stop, W1-recovery: the
 *            broker is started again, takes the mix at full speed for a moment
 *            and is killed with SIGKILL with a window of events in flight; a
 *            recovery block after the table says how long until the restarted
 *            broker answers and until a new event is acked (s_run_recovery).
 *   fanout   P partners (8), every event routed to each of them.
 *   latency  a fixed rate; occurred_at carries the publish time (us) and the
 *            partner computes publish -> receipt latency; sync full and none.
 *   slow     W2's setup at latency's fixed rate, run twice: slow-ref as is,
 *            slow-p0 with partner p0 stalled (no next, no ack) for --stall
 *            seconds. Both rows give p1..pN's latency only, so their p99 ratio
 *            says what one stuck partner costs the others; p0's catch-up after
 *            the stall (how far behind, how long, how fast) is reported apart.
 *
 * After the table comes a targets section: each figure the spec sets a target
 * for, the target, and "met" or by how much it is missed.
 *
 * Processes: only the brokers it starts (by PID, through cxt_broker_*).
 */
#include "cx.h"
#include "cxtest.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ------------------------------------------------------------------ options */

typedef struct {
    const char *bin;
    const char *scenario;
    const char *csv;
    const char *mode; /* label only: short | full | custom */
    long events;
    long customers;
    long w1_customers;
    int partners; /* 0: the scenario's default */
    long rate;    /* latency and slow scenarios, events/s */
    double duration;
    double stall;         /* slow: how long p0 stalls, s */
    double slow_duration; /* slow: length of each of its two runs, s */
    uint32_t window;
    const char *sync;
} s_opts_t;

static s_opts_t s_opt = {
    .bin = NULL,
    .scenario = "all",
    .csv = NULL,
    .mode = "custom",
    .events = 100000,
    .customers = 10000,
    .w1_customers = 100000,
    .partners = 0,
    .rate = 20000,
    .duration = 3,
    .stall = 6,
    .slow_duration = 12,
    .window = 1000,
    .sync = "full",
};

/* ------------------------------------------------------------------ results */

#define S_MAX_PARTNERS 16

/* What the stalled partner (p0) of a slow-partner run went through. */
typedef struct {
    int happened;       /* 0: no stall in this row */
    double at_s, for_s; /* stall start (after the first publish) and length, as it happened */
    long behind;        /* routed to p0 before it resumed but not yet received */
    long caught;        /* deliveries from resume until caught up */
    double catch_s;     /* resume -> caught up (see s_stall_summary) */
    long received, routed;
    int64_t stalled_at, resumed_at, caught_at; /* wall clock, us */
    /* The other partners' p99 (us) by what p0 was doing when they received:
     * stalled, catching up, or neither (before the stall and after catch-up). */
    double p99_stall_us, p99_catch_us, p99_rest_us;
} s_stall_t;

/* A kill -9 under load and the restart after it; times are from the kill. */
typedef struct {
    int happened;     /* 0: no kill in this row */
    double restart_s; /* the clean start before the load (nothing to replay) */
    double load_s;    /* first publish -> kill */
    long in_flight;   /* published but not answered at the kill */
    double answer_s;  /* until cxt_broker_start saw the broker answer; -1: it did not */
    double ack_s;     /* until a new event was acked; -1: none was */
    char why[256];    /* if ack_s < 0: what happened instead */
    long replayed;    /* events replayed at the restart, from broker.log; -1: no line */
    double replay_s;
} s_recovery_t;

typedef struct {
    char name[32];
    char sync[8];
    long events, customers;
    int partners;
    double seconds;
    double pub_eps; /* acked events per second */
    long nacked;
    double deliv_eps[S_MAX_PARTNERS];
    long delivered[S_MAX_PARTNERS];
    double p50_us, p99_us, p999_us; /* < 0: not measured */
    double cpu_s, cpu_pct;
    long rss_anon_kb;
    double log_bytes_per_event, state_bytes_per_customer;
    double ratio_b, ratio_a; /* < 0: not applicable */
    s_stall_t stall;
    s_recovery_t recovery;
} s_row_t;

static s_row_t s_rows[32];
static int s_n_rows;
static double s_base_a_eps, s_base_b_eps;

static void s_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cxt_note("bench: %s", msg);
}

static int64_t s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_sleep_us(int64_t us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ /proc helpers */

/* utime+stime of pid, in seconds; -1 if unreadable. */
static double s_proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may hold spaces */
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* after ") ": state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long s_proc_rss_anon_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld", &kb) == 1) break;
    fclose(f);
    return kb;
}

static uint64_t s_du_total;
static int s_du_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F) s_du_total += (uint64_t)sb->st_blocks * 512;
    return 0;
}

/* Allocated bytes under dir (what du says), 0 if missing. */
static uint64_t s_du(const char *dir)
{
    s_du_total = 0;
    nftw(dir, s_du_one, 16, FTW_PHYS);
    return s_du_total;
}

/* ------------------------------------------------------------ the workload */

/* Per-customer state the generator needs to keep events valid. */
typedef struct {
    uint8_t *consent; /* 1: travel consent granted */
    long n;
} s_model_t;

typedef struct {
    Cx__Event ev;
    Cx__Goal goal;
    Cx__Milestone ms;
    Cx__Profile prof;
    Cx__Attribute a1, a2, *attrs[2];
    Cx__Consent consent;
    Cx__Activity act;
    char id[40], cid[32], source[16], city[16], tier[8];
} s_evbuf_t;

static void s_ev_base(s_evbuf_t *b, const char *run, long k, long c, const char *source)
{
    cx__event__init(&b->ev);
    snprintf(b->id, sizeof b->id, "%s-%09ld", run, k);
    snprintf(b->cid, sizeof b->cid, "cust-%07ld", c);
    snprintf(b->source, sizeof b->source, "%s", source);
    b->ev.event_id = b->id;
    b->ev.customer_id = b->cid;
    b->ev.source = b->source;
    b->ev.has_occurred_at = 1;
    b->ev.occurred_at = cx_now_us();
}

static void s_ev_goal(s_evbuf_t *b)
{
    cx__goal__init(&b->goal);
    b->goal.goal_id = "g1";
    b->goal.category = "travel";
    b->goal.title = "Lisbon trip";
    b->goal.has_target = 1;
    b->goal.target = 1e9; /* never completes: milestones stay valid */
    b->ev.type = "goal.set";
    b->ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    b->ev.goal = &b->goal;
}

/* Event k of the mix for customer c, who already has goal g1. */
static void s_ev_mix(s_evbuf_t *b, s_model_t *m, uint64_t *rng, const char *run, long k, long c,
                     const char *source)
{
    s_ev_base(b, run, k, c, source);
    unsigned r = (unsigned)(cxt_rand(rng) % 100);
    if (r < 10) {
        s_ev_goal(b);
    } else if (r < 70) {
        cx__milestone__init(&b->ms);
        b->ms.goal_id = "g1";
        b->ms.name = "step";
        b->ev.type = "milestone.reached";
        b->ev.payload_case = CX__EVENT__PAYLOAD_MILESTONE;
        b->ev.milestone = &b->ms;
    } else if (r < 80) {
        cx__profile__init(&b->prof);
        cx__attribute__init(&b->a1);
        cx__attribute__init(&b->a2);
        snprintf(b->city, sizeof b->city, "city%d", (int)(cxt_rand(rng) % 50));
        snprintf(b->tier, sizeof b->tier, "%d", (int)(cxt_rand(rng) % 4));
        b->a1.key = "home_city";
        b->a1.value = b->city;
        b->a2.key = "tier";
        b->a2.value = b->tier;
        b->attrs[0] = &b->a1;
        b->attrs[1] = &b->a2;
        b->prof.set = b->attrs;
        b->prof.n_set = 2;
        b->ev.type = "profile.updated";
        b->ev.payload_case = CX__EVENT__PAYLOAD_PROFILE;
        b->ev.profile = &b->prof;
    } else if (r < 90) {
        cx__consent__init(&b->consent);
        b->consent.scope = "travel";
        b->ev.type = m->consent[c] ? "consent.revoked" : "consent.granted";
        m->consent[c] ^= 1;
        b->ev.payload_case = CX__EVENT__PAYLOAD_CONSENT;
        b->ev.consent = &b->consent;
    } else {
        cx__activity__init(&b->act);
        b->act.name = "viewed-hotels";
        b->ev.type = "activity";
        b->ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
        b->ev.activity = &b->act;
    }
}

/* ---------------------------------------------------------------- baselines */

typedef struct {
    void *zctx;
    char ep[300];
    char lmdb_dir[300]; /* "" for base-a */
    int rc;
    _Atomic int ready;
} s_base_t;

#define S_BASE_BATCH 1024

static void *s_base_router(void *arg)
{
    s_base_t *bt = arg;
    void *r = zmq_socket(bt->zctx, ZMQ_ROUTER);
    int hwm = 0;
    zmq_setsockopt(r, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r, ZMQ_SNDHWM, &hwm, sizeof hwm);
    /* Acks still queued for a dealer that is gone must not hold zmq_ctx_term. */
    int linger = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(r, bt->ep) != 0) {
        bt->rc = -1;
        atomic_store(&bt->ready, 1);
        zmq_close(r);
        return NULL;
    }
    MDB_env *env = NULL;
    MDB_dbi dbi = 0;
    if (bt->lmdb_dir[0]) {
        mkdir(bt->lmdb_dir, 0750);
        MDB_txn *t;
        if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)8 << 30) ||
            mdb_env_open(env, bt->lmdb_dir, 0, 0640) || mdb_txn_begin(env, NULL, 0, &t) ||
            mdb_dbi_open(t, NULL, 0, &dbi) || mdb_txn_commit(t)) {
            bt->rc = -2;
            atomic_store(&bt->ready, 1);
            if (env) mdb_env_close(env);
            zmq_close(r);
            return NULL;
        }
    }
    atomic_store(&bt->ready, 1);
    static zmq_msg_t ids[S_BASE_BATCH], bodies[S_BASE_BATCH];
    uint64_t seq = 0;
    int stop = 0;
    while (!stop) {
        zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 5000) <= 0) break; /* idle 5 s: the dealer is gone */
        int n = 0;
        while (n < S_BASE_BATCH) {
            zmq_msg_init(&ids[n]);
            zmq_msg_init(&bodies[n]);
            if (zmq_msg_recv(&ids[n], r, n == 0 ? 0 : ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&ids[n]);
                zmq_msg_close(&bodies[n]);
                break;
            }
            zmq_msg_recv(&bodies[n], r, 0);
            if (zmq_msg_size(&bodies[n]) == 0) stop = 1;
            n++;
            if (!env) break; /* base-a: ack each message as it comes */
        }
        if (env) {
            MDB_txn *t;
            int rc = mdb_txn_begin(env, NULL, 0, &t);
            for (int i = 0; rc == 0 && i < n; i++) {
                uint64_t k = __builtin_bswap64(++seq);
                MDB_val key = {sizeof k, &k};
                MDB_val val = {zmq_msg_size(&bodies[i]), zmq_msg_data(&bodies[i])};
                rc = mdb_put(t, dbi, &key, &val, MDB_APPEND);
            }
            if (rc == 0)
                rc = mdb_txn_commit(t); /* fsyncs: env opened without NOSYNC */
            else
                mdb_txn_abort(t);
            if (rc) bt->rc = rc;
        }
        for (int i = 0; i < n; i++) {
            uint64_t ack = i; /* the ack's content does not matter, its arrival does */
            zmq_msg_send(&ids[i], r, ZMQ_SNDMORE);
            zmq_send(r, &ack, sizeof ack, 0);
            zmq_msg_close(&bodies[i]);
        }
    }
    if (env) mdb_env_close(env);
    zmq_close(r);
    return NULL;
}

/* Pipelined DEALER: n encoded events, `window` in flight. Events per second or -1. */
static double s_run_baseline(const char *dir, int with_lmdb, long n, uint32_t window)
{
    s_base_t bt = {0};
    bt.zctx = zmq_ctx_new();
    snprintf(bt.ep, sizeof bt.ep, "ipc://%s/base-%c.sock", dir, with_lmdb ? 'b' : 'a');
    if (with_lmdb) snprintf(bt.lmdb_dir, sizeof bt.lmdb_dir, "%s/base-lmdb", dir);
    pthread_t th;
    pthread_create(&th, NULL, s_base_router, &bt);
    while (!atomic_load(&bt.ready))
        s_sleep_us(1000);
    double eps = -1;
    if (bt.rc != 0) goto done;
    void *d = zmq_socket(bt.zctx, ZMQ_DEALER);
    int hwm = 0;
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_connect(d, bt.ep);
    /* The same kind of bytes the broker gets: encoded W2 events. */
    s_model_t m = {calloc((size_t)s_opt.customers, 1), s_opt.customers};
    uint64_t rng = 42;
    s_evbuf_t eb;
    uint8_t buf[1024];
    long sent = 0, acked = 0;
    int64_t t0 = s_now(), deadline = t0 + 120 * 1000000LL;
    while (acked < n && s_now() < deadline) {
        while (sent < n && sent - acked < (long)window) {
            long c = (long)(cxt_rand(&rng) % (uint64_t)s_opt.customers);
            s_ev_mix(&eb, &m, &rng, "base", sent, c, "s0000");
            size_t len = cx__event__pack(&eb.ev, buf);
            zmq_send(d, buf, len, 0);
            sent++;
        }
        zmq_pollitem_t it = {d, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 1000) <= 0) continue;
        uint64_t ack;
        while (zmq_recv(d, &ack, sizeof ack, ZMQ_DONTWAIT) >= 0)
            acked++;
    }
    double secs = (double)(s_now() - t0) / 1e6;
    if (acked == n) eps = (double)n / secs;
    zmq_send(d, "", 0, 0); /* stop */
    int linger = 1000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(d);
    free(m.consent);
done:
    pthread_join(th, NULL);
    zmq_ctx_term(bt.zctx);
    return eps;
}

/* ----------------------------------------------------------------- partners */

typedef struct {
    const char *ep;
    char id[32];
    _Atomic long expected; /* < 0: unknown until the publisher is done */
    _Atomic int pub_done;
    long received;
    uint64_t last_seq;
    int64_t t_last;   /* monotonic us of the last delivery */
    int64_t *lat;     /* latency samples (us), NULL: not measured */
    int64_t *recv_at; /* wall clock (us) of each sample's receipt, NULL: not kept */
    long lat_n, lat_cap;
    /* A stall: from stall_from (monotonic us, set by the publisher once it
     * starts; 0: not yet) the thread neither takes deliveries nor acks for
     * stall_us, as a partner stuck in its own processing would. */
    _Atomic int64_t stall_from;
    int64_t stall_us;
    int64_t stalled_at, resumed_at; /* wall clock (us) of the stall; 0: not stalled yet */
    int error;
    char errtext[128];
} s_partner_t;

/* Stalls if it is time to; deliveries pile up at the broker meanwhile. */
static void s_maybe_stall(s_partner_t *p)
{
    int64_t from = atomic_load(&p->stall_from);
    if (p->stall_us <= 0 || p->resumed_at || from == 0 || s_now() < from) return;
    p->stalled_at = cx_now_us();
    for (int64_t end = from + p->stall_us, now = s_now(); now < end; now = s_now())
        s_sleep_us(end - now);
    p->resumed_at = cx_now_us();
}

/* Keeps the publish -> receipt latency of one delivery, if measured. */
static void s_sample(s_partner_t *p, const Cx__Delivery *d)
{
    if (!p->lat || p->lat_n >= p->lat_cap || !d->has_event) return;
    Cx__Event *ev = cx__event__unpack(NULL, d->event.len, d->event.data);
    if (ev && ev->has_occurred_at) {
        int64_t now = cx_now_us(); /* the same clock as occurred_at */
        if (p->recv_at) p->recv_at[p->lat_n] = now;
        p->lat[p->lat_n++] = now - ev->occurred_at;
    }
    if (ev) cx__event__free_unpacked(ev, NULL);
}

static void *s_partner_main(void *arg)
{
    s_partner_t *p = arg;
    cx_subscriber_t *sub = cx_subscriber_new(p->ep, p->id, NULL);
    if (!sub) {
        p->error = CX_E_ZMQ;
        return NULL;
    }
    int64_t hard = s_now() + 600 * 1000000LL; /* never past 10 min */
    int64_t idle_since = s_now();
    uint64_t acked = 0;
    while (s_now() < hard) {
        s_maybe_stall(p);
        Cx__Delivery *d = NULL;
        int rc = cx_subscriber_next(sub, 100, &d);
        if (rc == 0) {
            int64_t now = s_now();
            p->received++;
            p->t_last = now;
            idle_since = now;
            p->last_seq = d->seq;
            s_sample(p, d);
            cx_delivery_free(d);
            if (p->received % 64 == 0) {
                cx_subscriber_ack(sub, p->last_seq);
                acked = p->last_seq;
            }
            long exp = atomic_load(&p->expected);
            if (atomic_load(&p->pub_done) && exp >= 0 && p->received >= exp) break;
            continue;
        }
        if (rc != CX_E_TIMEOUT) {
            p->error = rc;
            const char *t = cx_subscriber_error(sub);
            snprintf(p->errtext, sizeof p->errtext, "%s", t ? t : cx_strerror(rc));
            break;
        }
        if (p->last_seq > acked) {
            cx_subscriber_ack(sub, p->last_seq);
            acked = p->last_seq;
        }
        long exp = atomic_load(&p->expected);
        if (atomic_load(&p->pub_done) && exp >= 0 && p->received >= exp) break;
        /* Publisher done and nothing for 5 s: what was routed has come. */
        if (atomic_load(&p->pub_done) && s_now() - idle_since > 5000000) break;
        if (!atomic_load(&p->pub_done)) idle_since = s_now();
    }
    if (p->last_seq > acked) cx_subscriber_ack(sub, p->last_seq);
    s_sleep_us(50000); /* let the last ack leave */
    cx_subscriber_destroy(&sub);
    return NULL;
}

/* ---------------------------------------------------------------- publisher */

typedef struct {
    long nacked;
    int first_nack;
    char first_reason[160];
} s_pubres_t;

static void s_on_result(void *arg, const cx_result_t *r)
{
    s_pubres_t *pr = arg;
    if (r->code == 0) return;
    if (pr->nacked++ == 0) {
        pr->first_nack = r->code;
        snprintf(pr->first_reason, sizeof pr->first_reason, "%s",
                 r->reason ? r->reason : cx_strerror(r->code));
    }
}

static cx_publisher_t *s_pub_new(cxt_broker_t *b, s_pubres_t *pr)
{
    cx_publisher_opts_t po = {.window = s_opt.window, .timeout_ms = 10000, .max_tries = 3};
    cx_publisher_t *pub = cx_publisher_new(b->pub_ep, &po);
    if (pub) cx_publisher_on_result(pub, s_on_result, pr);
    return pub;
}

/* Paces event i to t0 + i/rate, processing replies while it waits. Under a
 * millisecond (every gap at 20k/s) it sleeps instead of polling in a loop: a
 * spinning publisher takes a core the broker and the partners need on a 2-core
 * machine. A sleep that overshoots only makes the next events go back to back. */
static void s_pace(cx_publisher_t *pub, int64_t t0, long i, long rate)
{
    if (rate <= 0) return;
    int64_t due = t0 + (int64_t)((double)i * 1e6 / (double)rate);
    for (int64_t now = s_now(); now < due; now = s_now()) {
        int ms = (int)((due - now) / 1000);
        cx_publisher_poll(pub, ms > 0 ? ms : 0);
        if (ms == 0) s_sleep_us(due - now);
    }
}

/* ------------------------------------------------------------------ brokers */

/* Starts a broker whose config is the usual (cxtest) endpoints, storage with
 * the given sync and room for big runs, then extra (partners, routes). */
static int s_broker_start(cxt_broker_t *b, const char *sync, const char *extra)
{
    if (cxt_broker_init(b, NULL) != 0) return -1;
    FILE *f = fopen(b->config, "w");
    if (!f) return -1;
    fprintf(f, "listen:\n  publish: %s\n  deliver: %s\n  admin: %s\n", b->pub_ep, b->deliver_ep,
            b->admin_ep);
    fprintf(f, "storage:\n  path: data\n  map_size: 16GiB\n  state_map_size: 8GiB\n  sync: %s\n",
            sync);
    if (extra) fputs(extra, f);
    /* Experiments: more YAML sections, e.g. "checkpoint:\n  interval: 60s\n". */
    const char *more = getenv("CX_BENCH_EXTRA");
    if (more) fputs(more, f);
    fclose(f);
    return cxt_broker_start(b);
}

static void s_yaml_partners(char *buf, size_t len, int n, const char *sees)
{
    size_t o = (size_t)snprintf(buf, len, "partners:\n");
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "  - id: p%d\n    sees: [%s]\n", i, sees);
}

/* After a run: stop the broker (it checkpoints) and measure its storage. The
 * temp dir stays, so the broker can be started again on it. */
static void s_stop_and_measure(cxt_broker_t *b, s_row_t *row, long total_events, long customers)
{
    row->rss_anon_kb = s_proc_rss_anon_kb(b->pid);
    cxt_broker_stop(b);
    char path[400];
    snprintf(path, sizeof path, "%s/data/log", b->dir);
    uint64_t log = s_du(path);
    snprintf(path, sizeof path, "%s/data/state", b->dir);
    uint64_t state = s_du(path);
    row->log_bytes_per_event = total_events > 0 ? (double)log / (double)total_events : 0;
    row->state_bytes_per_customer = customers > 0 ? (double)state / (double)customers : 0;
}

/* ---------------------------------------------------------------- scenarios */

typedef enum { S_ROUTE_HALF, S_ROUTE_ALL } s_routing_t;

typedef struct {
    const char *name;
    const char *sync;
    long events;
    long customers;
    int partners;
    s_routing_t routing;
    long rate; /* 0: as fast as possible */
    int measure_latency;
    int preload_row; /* also report the preload (goal.set per customer) as a row */
    int others_only; /* latency percentiles over p1.. only (slow: p0 is the one that stalls) */
    double stall_at_s, stall_s; /* stall_s > 0: p0 stalls that long, from stall_at_s in */
    int recovery;               /* after the run: kill -9 under load and restart (s_run_recovery) */
} s_scn_t;

/* The event's source: "s" + one random bit per partner; route i takes the
 * events whose bit i is 1 (all of them with S_ROUTE_ALL). Counts what each
 * partner is routed into expected (NULL: not counted). */
static void s_pick_source(char *src, int np, s_routing_t routing, uint64_t *rng, long *expected)
{
    uint64_t bits = cxt_rand(rng);
    src[0] = 's';
    for (int i = 0; i < np; i++) {
        src[1 + i] = (bits >> i) & 1 ? '1' : '0';
        if (expected && (routing == S_ROUTE_ALL || ((bits >> i) & 1))) expected[i]++;
    }
    src[1 + np] = '\0';
}

static int s_lat_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(const int64_t *v, long n, double q)
{
    if (n <= 0) return -1;
    long i = (long)(q * (double)(n - 1) + 0.5);
    return (double)v[i];
}

/* The row's p50/p99/p99.9 over the samples of partners [first, np). */
static void s_latency_row(s_row_t *r, const s_partner_t *parts, int np, int first)
{
    long n = 0;
    for (int i = first; i < np; i++)
        n += parts[i].lat ? parts[i].lat_n : 0;
    int64_t *all = n > 0 ? malloc((size_t)n * sizeof *all) : NULL;
    if (!all) return;
    long o = 0;
    for (int i = first; i < np; i++) {
        if (!parts[i].lat) continue;
        memcpy(all + o, parts[i].lat, (size_t)parts[i].lat_n * sizeof *all);
        o += parts[i].lat_n;
    }
    qsort(all, (size_t)n, sizeof *all, s_lat_cmp);
    r->p50_us = s_pct(all, n, 0.50);
    r->p99_us = s_pct(all, n, 0.99);
    r->p999_us = s_pct(all, n, 0.999);
    free(all);
}

/* How the stalled partner p came back, from its own samples (in stream order,
 * so in publish order). Behind: published before the resume, received after.
 * Caught up: at the first delivery after the resume that is as fresh as the
 * other partners' p99.9 (fresh_us) -- by then everything routed to p up to
 * fresh_us ago has arrived -- or, if none is, at its last delivery, when it
 * had received everything routed to it. */
static void s_stall_summary(s_stall_t *st, const s_partner_t *p, double fresh_us)
{
    if (!p->resumed_at || !p->recv_at || p->lat_n == 0) return;
    st->happened = 1;
    st->stalled_at = p->stalled_at;
    st->resumed_at = p->resumed_at;
    /* A starved thread enters the stall late but leaves it on time: report
     * the stall it had, not the one asked for. */
    double asked = st->for_s;
    st->for_s = (double)(p->resumed_at - p->stalled_at) / 1e6;
    st->at_s += asked - st->for_s;
    long i0 = 0, pub_before = 0;
    for (long j = 0; j < p->lat_n; j++) {
        if (p->recv_at[j] < p->resumed_at) i0 = j + 1;
        if (p->recv_at[j] - p->lat[j] < p->resumed_at) pub_before++;
    }
    st->behind = pub_before - i0;
    if (i0 >= p->lat_n) return; /* nothing came after the resume */
    long j = i0;
    while (j < p->lat_n - 1 && (double)p->lat[j] > (fresh_us > 1000 ? fresh_us : 1000))
        j++;
    st->caught = j - i0 + 1;
    st->caught_at = p->recv_at[j];
    st->catch_s = (double)(p->recv_at[j] - p->resumed_at) / 1e6;
}

/* p99 (us) of the samples of partners [1, np) received in [from, to) or, if
 * outside, outside it; -1 if there are none. */
static double s_p99_window(const s_partner_t *parts, int np, int64_t from, int64_t to, int outside)
{
    long n = 0;
    for (int i = 1; i < np; i++)
        n += parts[i].recv_at ? parts[i].lat_n : 0;
    int64_t *v = n > 0 ? malloc((size_t)n * sizeof *v) : NULL;
    if (!v) return -1;
    long k = 0;
    for (int i = 1; i < np; i++)
        for (long j = 0; parts[i].recv_at && j < parts[i].lat_n; j++) {
            int64_t t = parts[i].recv_at[j];
            if ((t >= from && t < to) != outside) v[k++] = parts[i].lat[j];
        }
    qsort(v, (size_t)k, sizeof *v, s_lat_cmp);
    double p = s_pct(v, k, 0.99);
    free(v);
    return p;
}

/* Splits the others' p99 by p0's phase: the whole-run p99 says whether the
 * stall costs them, this says whether the stall or the catch-up does. */
static void s_stall_phases(s_stall_t *st, const s_partner_t *parts, int np)
{
    st->p99_stall_us = st->p99_catch_us = st->p99_rest_us = -1;
    if (!st->happened) return;
    st->p99_stall_us = s_p99_window(parts, np, st->stalled_at, st->resumed_at, 0);
    st->p99_catch_us = s_p99_window(parts, np, st->resumed_at, st->caught_at + 1, 0);
    st->p99_rest_us = s_p99_window(parts, np, st->stalled_at, st->caught_at + 1, 1);
}

/* "no loss", or how the stalled partner's count differs from what was routed to it. */
static void s_loss_text(char *buf, size_t len, const s_stall_t *st)
{
    if (st->received < st->routed)
        snprintf(buf, len, "%ld LOST", st->routed - st->received);
    else if (st->received > st->routed)
        snprintf(buf, len, "%ld more than routed", st->received - st->routed);
    else
        snprintf(buf, len, "no loss");
}

static void s_progress_stall(const char *name, const s_stall_t *st)
{
    if (!st->happened) {
        s_progress("%s: p0 did not stall or got nothing after it (run too short?)", name);
        return;
    }
    char loss[64];
    s_loss_text(loss, sizeof loss, st);
    s_progress("%s: p0 stalled %.1fs from %.1fs in; %ld deliveries behind at resume, caught up "
               "%.2fs after it (%ld deliveries, %.0f/s); received %ld of %ld routed: %s",
               name, st->for_s, st->at_s, st->behind, st->catch_s, st->caught,
               st->catch_s > 0 ? (double)st->caught / st->catch_s : 0, st->received, st->routed,
               loss);
}

static s_row_t *s_row_new(const char *name, const char *sync)
{
    s_row_t *r = &s_rows[s_n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->sync, sizeof r->sync, "%s", sync);
    r->p50_us = r->p99_us = r->p999_us = -1;
    r->ratio_a = r->ratio_b = -1;
    return r;
}

/* Publishes goal.set for customers [0, n) (source "warm": no route takes it).
 * Returns the acked events per second, or -1 on failure. */
static double s_preload(cxt_broker_t *b, long n, long *nacked)
{
    s_pubres_t pr = {0};
    cx_publisher_t *pub = s_pub_new(b, &pr);
    if (!pub) return -1;
    s_evbuf_t eb;
    int64_t t0 = s_now();
    for (long c = 0; c < n; c++) {
        s_ev_base(&eb, "warm", c, c, "warm");
        s_ev_goal(&eb);
        if (cx_publish(pub, &eb.ev, 0, NULL) != 0 || pr.nacked >= 1000) break;
        if (c % 100000 == 99999) s_progress("  preload %ld/%ld customers", c + 1, n);
    }
    cx_publisher_flush(pub, 60000);
    double secs = (double)(s_now() - t0) / 1e6;
    cx_publisher_stats_t st;
    cx_publisher_stats(pub, &st);
    cx_publisher_destroy(&pub);
    *nacked = pr.nacked;
    if (pr.nacked) s_progress("  preload: %ld nacked, first: %s", pr.nacked, pr.first_reason);
    return (double)st.acked / secs;
}

/* Recovery, the spec's "after kill -9 under W1 load the broker accepts events
 * again within 10 s (log replay since the last checkpoint is bounded)".
 * Load: the mix at full speed over the scenario's customers, until 4.5 s have
 * passed or S_RECOVERY_ACKED events are acked, whichever comes first; then
 * SIGKILL with a window of events in flight. The partners are not connected
 * (their streams are still written). After the kill: how long until the
 * restarted broker answers its admin endpoint (cxt_broker_start, which polls
 * every 100 ms; the broker binds its endpoints after the replay) and until a
 * fresh publisher's first event is acked; both count from just before the
 * kill. The broker logs what it replayed: the log since its last checkpoint,
 * here all of the load, since the clean start left nothing to replay and
 * starts the checkpoint clock: with the default 5 s interval the kill comes
 * just before the first checkpoint is due (unless checkpoint.max_dirty
 * contexts change first), close to the worst case, a whole interval of log. */
#define S_RECOVERY_LOAD_US 4500000
#define S_RECOVERY_ACKED 600000
#define S_RECOVERY_ACK_MS 30000 /* cxt_broker_start also gives up after 30 s */

/* The last "replay: N events in S s" line of the broker's log. */
static void s_replay_from_log(const cxt_broker_t *b, s_recovery_t *rec)
{
    rec->replayed = -1;
    rec->replay_s = -1;
    char path[300], line[512];
    snprintf(path, sizeof path, "%s/broker.log", b->dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "replay: ");
        unsigned long long n;
        double secs;
        if (p && sscanf(p, "replay: %llu events in %lf s", &n, &secs) == 2) {
            rec->replayed = (long)n;
            rec->replay_s = secs;
        }
    }
    fclose(f);
}

/* One new event (goal.set, routed nowhere) on a fresh publisher: the seconds
 * from t_kill until it is acked, or -1 with why. */
static double s_first_ack_s(cxt_broker_t *b, int64_t t_kill, char *why, size_t why_len)
{
    s_pubres_t pr = {0};
    cx_publisher_t *pub = s_pub_new(b, &pr);
    if (!pub) {
        snprintf(why, why_len, "no publisher (%.200s)", b->pub_ep);
        return -1;
    }
    s_evbuf_t eb;
    s_ev_base(&eb, "probe", 0, 0, "warm");
    s_ev_goal(&eb);
    double secs = -1;
    int rc = cx_publish(pub, &eb.ev, 0, NULL);
    if (rc == 0) rc = cx_publisher_flush(pub, S_RECOVERY_ACK_MS);
    cx_publisher_stats_t st;
    cx_publisher_stats(pub, &st);
    if (rc == 0 && st.acked == 1)
        secs = (double)(s_now() - t_kill) / 1e6;
    else if (pr.nacked)
        snprintf(why, why_len, "NACKed: %.200s", pr.first_reason);
    else
        snprintf(why, why_len, "%s", cx_strerror(rc ? rc : CX_E_TIMEOUT));
    cx_publisher_destroy(&pub);
    return secs;
}

/* Load until S_RECOVERY_LOAD_US or S_RECOVERY_ACKED, then kill -9. Fills the
 * row's load figures; returns the kill's time (monotonic us). */
static int64_t s_load_and_kill(cxt_broker_t *b, const s_scn_t *sc, int np, s_model_t *m, s_row_t *r)
{
    s_pubres_t pr = {0};
    cx_publisher_t *pub = s_pub_new(b, &pr);
    uint64_t rng = 0xD1B54A32D192ED03ULL; /* not W1's: other customers, other kinds */
    s_evbuf_t eb;
    cx_publisher_stats_t st = {0};
    double cpu0 = s_proc_cpu(b->pid);
    int64_t t0 = s_now(), end = t0 + S_RECOVERY_LOAD_US;
    for (long k = 0; pub && s_now() < end && st.acked < S_RECOVERY_ACKED && pr.nacked < 1000; k++) {
        long c = (long)(cxt_rand(&rng) % (uint64_t)sc->customers);
        char src[20];
        s_pick_source(src, np, sc->routing, &rng, NULL);
        s_ev_mix(&eb, m, &rng, "crash", k, c, src);
        if (cx_publish(pub, &eb.ev, 0, NULL) != 0) break;
        cx_publisher_stats(pub, &st);
    }
    double cpu1 = s_proc_cpu(b->pid);
    int64_t t_kill = s_now();
    cxt_broker_kill9(b);
    cx_publisher_destroy(&pub); /* drops what is in flight */
    r->events = (long)st.acked;
    r->nacked = pr.nacked;
    r->seconds = r->recovery.load_s = (double)(t_kill - t0) / 1e6;
    r->pub_eps = r->seconds > 0 ? (double)st.acked / r->seconds : 0;
    r->recovery.in_flight = (long)st.in_flight;
    r->cpu_s = cpu1 - cpu0;
    r->cpu_pct = r->seconds > 0 ? 100 * r->cpu_s / r->seconds : 0;
    if (pr.nacked)
        s_progress("%s-recovery: %ld NACKs under load, first: %s", sc->name, pr.nacked,
                   pr.first_reason);
    return t_kill;
}

/* On the scenario's stopped broker b (its storage already measured): start,
 * load, kill -9, restart, first ack. 0, or -1 if the broker did not start. */
static int s_run_recovery(cxt_broker_t *b, const s_scn_t *sc, int np, s_model_t *m)
{
    char name[32];
    snprintf(name, sizeof name, "%.20s-recovery", sc->name);
    s_row_t *r = s_row_new(name, sc->sync);
    s_recovery_t *rec = &r->recovery;
    r->customers = sc->customers;
    r->log_bytes_per_event = r->state_bytes_per_customer = -1;
    rec->answer_s = rec->ack_s = -1;
    rec->replayed = -1;
    int64_t t = s_now();
    if (cxt_broker_start(b) != 0) {
        snprintf(rec->why, sizeof rec->why,
                 "the broker did not start again after its clean stop; CX_KEEP=1 keeps its "
                 "broker.log");
        s_progress("%s: %s", name, rec->why);
        return -1;
    }
    rec->happened = 1;
    rec->restart_s = (double)(s_now() - t) / 1e6;
    s_progress("%s: broker started again (clean, %.2fs); the mix at full speed until %.1fs or "
               "%d events acked, then kill -9",
               name, rec->restart_s, S_RECOVERY_LOAD_US / 1e6, S_RECOVERY_ACKED);
    int64_t t_kill = s_load_and_kill(b, sc, np, m, r);
    int rc = cxt_broker_start(b);
    if (rc == 0) {
        rec->answer_s = (double)(s_now() - t_kill) / 1e6;
        rec->ack_s = s_first_ack_s(b, t_kill, rec->why, sizeof rec->why);
    } else {
        snprintf(rec->why, sizeof rec->why, "the broker %s; CX_KEEP=1 keeps its broker.log",
                 b->pid ? "did not answer within 30 s" : "exited at start");
    }
    s_replay_from_log(b, rec);
    char replay[96] = "no replay line in broker.log";
    if (rec->replayed >= 0)
        snprintf(replay, sizeof replay, "replayed %ld events in %.2fs", rec->replayed,
                 rec->replay_s);
    if (rec->ack_s >= 0)
        s_progress("%s: killed after %.2fs of load, %ld events acked, %ld in flight; answered "
                   "%.2fs after the kill, first new event acked %.2fs after it; %s",
                   name, rec->load_s, r->events, rec->in_flight, rec->answer_s, rec->ack_s, replay);
    else
        s_progress("%s: killed after %.2fs of load, %ld events acked, %ld in flight; no new "
                   "event acked: %s; %s",
                   name, rec->load_s, r->events, rec->in_flight, rec->why, replay);
    return rc == 0 ? 0 : -1;
}

static int s_run_scenario(const s_scn_t *sc)
{
    int np = sc->partners;
    if (np > S_MAX_PARTNERS) np = S_MAX_PARTNERS;
    char yaml[8192];
    s_yaml_partners(yaml, sizeof yaml, np, "goals, milestones");
    size_t o = strlen(yaml);
    o += (size_t)snprintf(yaml + o, sizeof yaml - o, "routes:\n");
    for (int i = 0; i < np && o < sizeof yaml; i++) {
        if (sc->routing == S_ROUTE_ALL)
            o += (size_t)snprintf(yaml + o, sizeof yaml - o,
                                  "  - name: r%d\n    match:\n      type: \"*\"\n"
                                  "      source: \"s*\"\n    to: [p%d]\n"
                                  "    consent: not-required\n",
                                  i, i);
        else /* source is "s" + one random bit per partner: route i takes bit i = 1 */
            o += (size_t)snprintf(yaml + o, sizeof yaml - o,
                                  "  - name: r%d\n    match:\n      source: \"s%.*s1*\"\n"
                                  "    to: [p%d]\n    consent: not-required\n",
                                  i, i, "????????????????", i);
    }
    s_progress("%s: starting broker (sync %s, %d partners, %ld customers, %ld events%s)", sc->name,
               sc->sync, np, sc->customers, sc->events, sc->rate ? ", paced" : "");
    cxt_broker_t b;
    if (s_broker_start(&b, sc->sync, yaml) != 0) {
        s_progress("%s: broker did not start (config: %s)", sc->name, b.config);
        cxt_broker_cleanup(&b);
        return -1;
    }
    /* Untimed (or own row) warm-up: every customer gets goal g1. */
    long pre_nacked = 0;
    double pre_cpu0 = s_proc_cpu(b.pid);
    int64_t pre_t0 = s_now();
    double pre_eps = s_preload(&b, sc->customers, &pre_nacked);
    if (sc->preload_row) {
        s_row_t *r = s_row_new("W1-preload", sc->sync);
        r->events = sc->customers;
        r->customers = sc->customers;
        r->seconds = (double)(s_now() - pre_t0) / 1e6;
        r->pub_eps = pre_eps;
        r->nacked = pre_nacked;
        r->cpu_s = s_proc_cpu(b.pid) - pre_cpu0;
        r->cpu_pct = 100 * r->cpu_s / r->seconds;
        r->rss_anon_kb = s_proc_rss_anon_kb(b.pid);
        r->log_bytes_per_event = r->state_bytes_per_customer = -1;
        if (s_base_b_eps > 0) r->ratio_b = pre_eps / s_base_b_eps;
        if (s_base_a_eps > 0) r->ratio_a = pre_eps / s_base_a_eps;
    }
    s_progress("%s: %ld customers preloaded at %.0f events/s", sc->name, sc->customers, pre_eps);

    s_partner_t *parts = calloc((size_t)(np ? np : 1), sizeof *parts);
    pthread_t *th = calloc((size_t)(np ? np : 1), sizeof *th);
    for (int i = 0; i < np; i++) {
        parts[i].ep = b.deliver_ep;
        snprintf(parts[i].id, sizeof parts[i].id, "p%d", i);
        atomic_store(&parts[i].expected, -1);
        if (sc->measure_latency) {
            parts[i].lat_cap = sc->events;
            parts[i].lat = malloc((size_t)sc->events * sizeof(int64_t));
        }
        if (sc->stall_s > 0) { /* p0 stalls; everyone keeps receipt times for the phases */
            parts[i].stall_us = i == 0 ? (int64_t)(sc->stall_s * 1e6) : 0;
            parts[i].recv_at = malloc((size_t)sc->events * sizeof(int64_t));
        }
        pthread_create(&th[i], NULL, s_partner_main, &parts[i]);
    }
    s_sleep_us(300000); /* partners say hello before the first event */

    s_model_t m = {calloc((size_t)sc->customers, 1), sc->customers};
    long *expected = calloc((size_t)(np ? np : 1), sizeof *expected);
    s_pubres_t pr = {0};
    cx_publisher_t *pub = s_pub_new(&b, &pr);
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    s_evbuf_t eb;
    double cpu0 = s_proc_cpu(b.pid);
    int64_t t0 = s_now(), hard = t0 + 300 * 1000000LL;
    if (np > 0 && sc->stall_s > 0)
        atomic_store(&parts[0].stall_from, t0 + (int64_t)(sc->stall_at_s * 1e6));
    long sent = 0;
    for (; pub && sent < sc->events && s_now() < hard; sent++) {
        long c = (long)(cxt_rand(&rng) % (uint64_t)sc->customers);
        char src[20];
        s_pick_source(src, np, sc->routing, &rng, expected);
        s_pace(pub, t0, sent, sc->rate);
        s_ev_mix(&eb, &m, &rng, "ev", sent, c, src);
        if (cx_publish(pub, &eb.ev, 0, NULL) != 0) break;
        if (pr.nacked >= 1000) { /* something is wrong: report it, don't grind on */
            s_progress("%s: stopping early: %ld NACKs", sc->name, pr.nacked);
            sent++;
            break;
        }
    }
    if (pub) cx_publisher_flush(pub, 60000);
    int64_t t_acked = s_now();
    cx_publisher_stats_t st = {0};
    if (pub) cx_publisher_stats(pub, &st);
    cx_publisher_destroy(&pub);
    for (int i = 0; i < np; i++) {
        atomic_store(&parts[i].expected, expected[i]);
        atomic_store(&parts[i].pub_done, 1);
    }
    s_progress("%s: %ld events published, %llu acked, %ld nacked in %.2fs; waiting for partners",
               sc->name, sent, (unsigned long long)st.acked, pr.nacked,
               (double)(t_acked - t0) / 1e6);
    if (pr.nacked)
        s_progress("%s: first NACK: %s (%s)", sc->name, pr.first_reason,
                   cx_err_name(pr.first_nack));
    for (int i = 0; i < np; i++)
        pthread_join(th[i], NULL);
    int64_t t_end = s_now();
    double cpu1 = s_proc_cpu(b.pid);

    s_row_t *r = s_row_new(sc->name, sc->sync);
    r->events = sent;
    r->customers = sc->customers;
    r->partners = np;
    r->seconds = (double)(t_acked - t0) / 1e6;
    r->pub_eps = (double)st.acked / r->seconds;
    r->nacked = pr.nacked;
    r->cpu_s = cpu1 - cpu0;
    r->cpu_pct = 100 * r->cpu_s / ((double)(t_end - t0) / 1e6);
    for (int i = 0; i < np; i++) {
        s_partner_t *p = &parts[i];
        r->delivered[i] = p->received;
        r->deliv_eps[i] =
            p->t_last > t0 ? (double)p->received / ((double)(p->t_last - t0) / 1e6) : 0;
        if (p->error) s_progress("%s: partner %s: %s", sc->name, p->id, p->errtext);
        if (p->received != expected[i])
            s_progress("%s: partner %s received %ld of %ld routed", sc->name, p->id, p->received,
                       expected[i]);
    }
    s_latency_row(r, parts, np, sc->others_only ? 1 : 0);
    if (np > 0 && sc->stall_s > 0) {
        s_stall_t *st = &r->stall;
        st->at_s = sc->stall_at_s;
        st->for_s = sc->stall_s;
        st->received = parts[0].received;
        st->routed = expected[0];
        s_stall_summary(st, &parts[0], r->p999_us);
        s_stall_phases(st, parts, np);
        s_progress_stall(sc->name, st);
    }
    for (int i = 0; i < np; i++) {
        free(parts[i].lat);
        free(parts[i].recv_at);
    }
    if (!sc->rate) {
        if (s_base_b_eps > 0) r->ratio_b = r->pub_eps / s_base_b_eps;
        if (s_base_a_eps > 0) r->ratio_a = r->pub_eps / s_base_a_eps;
    }
    s_stop_and_measure(&b, r, sent + sc->customers, sc->customers);
    s_progress("%s: done: %.0f events/s acked, broker cpu %.1fs", sc->name, r->pub_eps, r->cpu_s);
    int rc = sc->recovery ? s_run_recovery(&b, sc, np, &m) : 0;
    cxt_broker_cleanup(&b);
    free(parts);
    free(th);
    free(expected);
    free(m.consent);
    return rc;
}

/* ------------------------------------------------------------------- report */

static void s_fmt(char *buf, size_t len, double v, const char *fmt)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, v);
}

static void s_deliv_summary(const s_row_t *r, double *min, double *max, double *sum)
{
    *min = *max = *sum = 0;
    for (int i = 0; i < r->partners; i++) {
        double v = r->deliv_eps[i];
        if (i == 0 || v < *min) *min = v;
        if (v > *max) *max = v;
        *sum += v;
    }
}

/* A recovery row whose broker never got to the kill has no figures: it is
 * left out of the table and the CSV (the targets section says why). */
static int s_has_figures(const s_row_t *r)
{
    return !strstr(r->name, "-recovery") || r->recovery.happened;
}

static void s_print_table(void)
{
    printf("\n%-12s %-4s %9s %8s %3s %10s %6s %21s %8s %8s %8s %6s %5s %8s %8s %9s %6s %6s\n",
           "scenario", "sync", "events", "cust", "P", "pub_ev/s", "nack",
           "deliv/s/partner(min-max)", "p50_us", "p99_us", "p999_us", "cpu_s", "cpu%", "rssMiB",
           "log_B/ev", "state_B/cu", "x_b", "x_a");
    for (int i = 0; i < s_n_rows; i++) {
        const s_row_t *r = &s_rows[i];
        if (!s_has_figures(r)) continue;
        char d[40] = "-", p50[16], p99[16], p999[16], lb[16], sb[16], xb[16], xa[16];
        double mn, mx, sum;
        s_deliv_summary(r, &mn, &mx, &sum);
        if (r->partners) snprintf(d, sizeof d, "%.0f-%.0f", mn, mx);
        s_fmt(p50, sizeof p50, r->p50_us, "%.0f");
        s_fmt(p99, sizeof p99, r->p99_us, "%.0f");
        s_fmt(p999, sizeof p999, r->p999_us, "%.0f");
        s_fmt(lb, sizeof lb, r->log_bytes_per_event, "%.0f");
        s_fmt(sb, sizeof sb, r->state_bytes_per_customer, "%.0f");
        s_fmt(xb, sizeof xb, r->ratio_b, "%.2f");
        s_fmt(xa, sizeof xa, r->ratio_a, "%.2f");
        char rss[16] = "-";
        if (r->rss_anon_kb > 0) snprintf(rss, sizeof rss, "%.1f", (double)r->rss_anon_kb / 1024);
        char cpu[16] = "-", cpup[16] = "-";
        if (r->cpu_s > 0) {
            snprintf(cpu, sizeof cpu, "%.1f", r->cpu_s);
            snprintf(cpup, sizeof cpup, "%.0f", r->cpu_pct);
        }
        printf(
            "%-12s %-4s %9ld %8ld %3d %10.0f %6ld %21s %8s %8s %8s %6s %5s %8s %8s %9s %6s %6s\n",
            r->name, r->sync, r->events, r->customers, r->partners, r->pub_eps, r->nacked, d, p50,
            p99, p999, cpu, cpup, rss, lb, sb, xb, xa);
    }
    printf("\npub_ev/s: acked publish throughput; deliv/s: deliveries per second per partner "
           "(slowest-fastest); x_b, x_a: pub_ev/s / baseline b (ZeroMQ + fsync'd LMDB append) "
           "and / baseline a (ZeroMQ only); cpu: broker utime+stime over the run; "
           "rss: broker RssAnon at the end; log_B/ev, state_B/cu: du of data/log per event "
           "logged and of data/state per customer; slow-*: latency of p1.. only (p0 is the "
           "one that stalls in slow-p0); W1-recovery: the load before the kill -9 (events "
           "acked before it), its times are in the recovery block below.\n");
}

static const s_row_t *s_find_row(const char *name)
{
    for (int i = 0; i < s_n_rows; i++)
        if (strcmp(s_rows[i].name, name) == 0) return &s_rows[i];
    return NULL;
}

/* p99 of the other partners with p0 stalled over without; -1 if either is missing. */
static double s_slow_ratio(void)
{
    const s_row_t *ref = s_find_row("slow-ref"), *st = s_find_row("slow-p0");
    if (!ref || !st || ref->p99_us <= 0 || st->p99_us < 0) return -1;
    return st->p99_us / ref->p99_us;
}

static void s_print_slow(void)
{
    const s_row_t *ref = s_find_row("slow-ref"), *sr = s_find_row("slow-p0");
    if (!ref || !sr) return;
    const s_stall_t *st = &sr->stall;
    printf("\nslow partner: %d partners, p0 stalled %.1f s from %.1f s into the run\n",
           sr->partners, st->for_s, st->at_s);
    printf("  p1..p%d latency p50/p99/p99.9 us: %.0f/%.0f/%.0f with p0 stalled, "
           "%.0f/%.0f/%.0f without\n",
           sr->partners - 1, sr->p50_us, sr->p99_us, sr->p999_us, ref->p50_us, ref->p99_us,
           ref->p999_us);
    char ratio[16];
    s_fmt(ratio, sizeof ratio, s_slow_ratio(), "%.2f");
    printf("  p99 ratio (stalled / without): %s (target <= 2.00)\n", ratio);
    if (!st->happened) {
        printf("  p0: did not stall or got nothing after it\n");
        return;
    }
    char loss[64];
    s_loss_text(loss, sizeof loss, st);
    printf("  p0: %ld deliveries behind at resume; caught up %.2f s after it "
           "(%ld deliveries, %.0f/s); received %ld of %ld routed: %s\n",
           st->behind, st->catch_s, st->caught,
           st->catch_s > 0 ? (double)st->caught / st->catch_s : 0, st->received, st->routed, loss);
    char ps[16], pc[16], pr[16];
    s_fmt(ps, sizeof ps, st->p99_stall_us, "%.0f");
    s_fmt(pc, sizeof pc, st->p99_catch_us, "%.0f");
    s_fmt(pr, sizeof pr, st->p99_rest_us, "%.0f");
    printf("  p1..p%d p99 us by what p0 was doing: %s while stalled, %s while catching up, %s "
           "otherwise\n",
           sr->partners - 1, ps, pc, pr);
}

static void s_print_recovery(void)
{
    for (int i = 0; i < s_n_rows; i++) {
        const s_row_t *r = &s_rows[i];
        const s_recovery_t *rec = &r->recovery;
        if (!strstr(r->name, "-recovery")) continue;
        printf("\nrecovery (%s): kill -9 under load, then restart; seconds from the kill\n",
               r->name);
        if (!rec->happened) {
            printf("  not measured: %s\n", rec->why);
            continue;
        }
        printf("  load: %.2f s of the mix at full speed over %ld customers, %ld events acked, "
               "%ld in flight at the kill\n",
               rec->load_s, r->customers, r->events, rec->in_flight);
        char ans[16] = "never", ack[300], rep[80] = "no replay line in broker.log";
        if (rec->answer_s >= 0) snprintf(ans, sizeof ans, "%.2f s", rec->answer_s);
        if (rec->ack_s >= 0)
            snprintf(ack, sizeof ack, "%.2f s", rec->ack_s);
        else
            snprintf(ack, sizeof ack, "none: %s", rec->why);
        if (rec->replayed >= 0)
            snprintf(rep, sizeof rep, "replayed %ld events in %.2f s (broker.log)", rec->replayed,
                     rec->replay_s);
        printf("  broker answered: %s; first new event acked: %s; %s\n", ans, ack, rep);
        printf("  (the clean start before the load took %.2f s)\n", rec->restart_s);
    }
}

/* One line of the targets section; at_least: the target is a floor, else a ceiling. */
static void s_target(const char *what, double v, int at_least, double target, const char *fmt,
                     const char *unit)
{
    char mv[48], tv[48], verdict[48];
    s_fmt(mv, sizeof mv, v, fmt);
    snprintf(tv, sizeof tv, fmt, target);
    if (v < 0)
        snprintf(verdict, sizeof verdict, "not measured");
    else if (at_least ? v >= target : v <= target)
        snprintf(verdict, sizeof verdict, "met");
    else /* by how much, as a share of the target */
        snprintf(verdict, sizeof verdict, "missed by %.1f%%",
                 100 * (at_least ? target - v : v - target) / target);
    printf("  %-46s %10s %-5s %s %8s %-5s %s\n", what, mv, unit, at_least ? ">=" : "<=", tv, unit,
           verdict);
}

static void s_target_latency(void)
{
    for (int i = 0; i < s_n_rows; i++) {
        const s_row_t *r = &s_rows[i];
        if (strncmp(r->name, "latency@", 8) != 0) continue;
        char what[96];
        snprintf(what, sizeof what, "%.31s p99, sync %.7s%s", r->name, r->sync,
                 strcmp(r->name, "latency@20k") != 0 ? " (target: at 20k/s)" : "");
        s_target(what, r->p99_us, 0, strcmp(r->sync, "none") == 0 ? 1000 : 5000, "%.0f", "us");
    }
}

/* Recovery: kill -> first new event acked. With no such ack the target is
 * missed if the broker was killed, not measured if it never got that far. */
static void s_target_recovery(const s_row_t *r)
{
    const char *what = "recovery after kill -9 under W1 load";
    const s_recovery_t *rec = &r->recovery;
    if (rec->ack_s >= 0)
        s_target(what, rec->ack_s, 0, 10, "%.2f", "s");
    else
        printf("  %-46s %10s %-5s <= %8s %-5s %s: %s\n", what, "-", "s", "10.00", "s",
               rec->happened ? "missed" : "not measured", rec->why);
}

/* The largest of a per-row figure over the broker rows, and which row. */
static const s_row_t *s_max_row(double (*get)(const s_row_t *))
{
    const s_row_t *best = NULL;
    for (int i = 0; i < s_n_rows; i++) {
        const s_row_t *r = &s_rows[i];
        if (strncmp(r->name, "base-", 5) == 0 || get(r) < 0) continue;
        if (!best || get(r) > get(best)) best = r;
    }
    return best;
}

static double s_rss_mib(const s_row_t *r)
{
    return r->rss_anon_kb > 0 ? (double)r->rss_anon_kb / 1024 : -1;
}

static double s_log_b(const s_row_t *r)
{
    return r->log_bytes_per_event;
}

/* The spec's targets for what ran, each with its verdict. */
static void s_print_targets(void)
{
    printf("\ntargets (spec; KB and MB read as 1024 and 1024^2 bytes; missed by: share of the "
           "target):\n");
    char what[96];
    const s_row_t *r = s_find_row("W2");
    if (r) {
        snprintf(what, sizeof what, "W2 acked events/s, sync %s%s", r->sync,
                 strcmp(r->sync, "full") != 0 ? " (target: full)" : "");
        s_target(what, r->pub_eps, 1, 150000, "%.0f", "ev/s");
        s_target("W2 x_b (pub_ev/s / base-b)", r->ratio_b, 1, 0.5, "%.2f", "");
    }
    if ((r = s_find_row("W1"))) {
        snprintf(what, sizeof what, "W1 acked events/s, sync %s", r->sync);
        s_target(what, r->pub_eps, 1, 100000, "%.0f", "ev/s");
    }
    s_target_latency();
    if ((r = s_find_row("fanout"))) {
        double mn, mx, sum;
        s_deliv_summary(r, &mn, &mx, &sum);
        snprintf(what, sizeof what, "fan-out deliv/s, slowest of %d partners%s", r->partners,
                 r->partners != 8 ? " (target: 8)" : "");
        s_target(what, mn, 1, 60000, "%.0f", "ev/s");
    }
    if ((r = s_max_row(s_rss_mib))) {
        snprintf(what, sizeof what, "broker RssAnon, max over rows (%s)", r->name);
        s_target(what, s_rss_mib(r), 0, 200, "%.1f", "MiB");
    }
    if ((r = s_find_row("W1")) && r->state_bytes_per_customer >= 0)
        s_target("LMDB state per customer (W1)", r->state_bytes_per_customer, 0, 1024, "%.0f", "B");
    if ((r = s_max_row(s_log_b))) {
        snprintf(what, sizeof what, "LMDB log per event, max over rows (%s)", r->name);
        s_target(what, r->log_bytes_per_event, 0, 512, "%.0f", "B");
    }
    if (s_find_row("slow-ref") && s_find_row("slow-p0"))
        s_target("slow partner: others' p99 stalled / without", s_slow_ratio(), 0, 2, "%.2f", "");
    if ((r = s_find_row("W1-recovery"))) s_target_recovery(r);
}

static void s_write_csv(const char *path)
{
    struct stat sb;
    int is_new = stat(path, &sb) != 0 || sb.st_size == 0;
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return;
    }
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (is_new)
        fprintf(f, "date,mode,cores,scenario,sync,events,customers,partners,window,seconds,"
                   "pub_eps,nacked,deliv_eps_min,deliv_eps_max,deliv_eps_sum,p50_us,p99_us,"
                   "p999_us,cpu_s,cpu_pct,rss_anon_kb,log_bytes_per_event,"
                   "state_bytes_per_customer,ratio_b,ratio_a\n");
    for (int i = 0; i < s_n_rows; i++) {
        const s_row_t *r = &s_rows[i];
        if (!s_has_figures(r)) continue;
        double mn, mx, sum;
        s_deliv_summary(r, &mn, &mx, &sum);
        fprintf(f,
                "%s,%s,%ld,%s,%s,%ld,%ld,%d,%u,%.3f,%.0f,%ld,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,"
                "%.2f,%.0f,%ld,%.1f,%.1f,%.3f,%.3f\n",
                date, s_opt.mode, cores, r->name, r->sync, r->events, r->customers, r->partners,
                s_opt.window, r->seconds, r->pub_eps, r->nacked, mn, mx, sum, r->p50_us, r->p99_us,
                r->p999_us, r->cpu_s, r->cpu_pct, r->rss_anon_kb, r->log_bytes_per_event,
                r->state_bytes_per_customer, r->ratio_b, r->ratio_a);
    }
    fclose(f);
}

/* --------------------------------------------------------------------- main */

static void s_usage(void)
{
    fprintf(stderr,
            "usage: bench [--bin DIR] [--scenario base|W2|fanout|latency|slow|W1|all]\n"
            "             [--events N] [--customers N] [--w1-customers N] [--partners N]\n"
            "             [--rate N] [--duration S] [--stall S] [--slow-duration S]\n"
            "             [--window N] [--sync full|none] [--csv FILE] [--mode LABEL]\n"
            "--bin: where cxbroker is (default $CX_BIN, else build/bin). --events: events per\n"
            "throughput scenario. --rate/--duration: the latency scenario (events = rate *\n"
            "duration). --stall/--slow-duration: the slow scenario, p0 stalls S s (default 6)\n"
            "inside each run of S s (default 12) at --rate. --sync: for the throughput and\n"
            "slow scenarios; latency runs full and none.\n");
}

static int s_is(const char *name)
{
    return strcmp(s_opt.scenario, "all") == 0 || strcasecmp(s_opt.scenario, name) == 0;
}

/* Slow partner: the same paced W2 run without (slow-ref) and with p0 stalled
 * (slow-p0). The stall starts a third of the way into the time it leaves
 * free, so the others are under load before it and p0 has time to catch up
 * while events still come. */
static int s_run_slow(void)
{
    s_scn_t sc = {.name = "slow-ref",
                  .sync = s_opt.sync,
                  .events = (long)((double)s_opt.rate * s_opt.slow_duration),
                  .customers = s_opt.customers,
                  .partners = s_opt.partners >= 2 ? s_opt.partners : 4,
                  .routing = S_ROUTE_HALF,
                  .rate = s_opt.rate,
                  .measure_latency = 1,
                  .others_only = 1};
    int failed = s_run_scenario(&sc) != 0;
    sc.name = "slow-p0";
    sc.stall_s = s_opt.stall;
    sc.stall_at_s = (s_opt.slow_duration - s_opt.stall) / 3;
    failed |= s_run_scenario(&sc) != 0;
    double ratio = s_slow_ratio();
    if (ratio >= 0)
        s_progress("slow: p1..p%d p99 with p0 stalled / without: %.2f (target <= 2)",
                   sc.partners - 1, ratio);
    return failed;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"bin", required_argument, 0, 'b'},
                                       {"scenario", required_argument, 0, 's'},
                                       {"events", required_argument, 0, 'e'},
                                       {"customers", required_argument, 0, 'c'},
                                       {"w1-customers", required_argument, 0, 'W'},
                                       {"partners", required_argument, 0, 'p'},
                                       {"rate", required_argument, 0, 'r'},
                                       {"duration", required_argument, 0, 'd'},
                                       {"stall", required_argument, 0, 'S'},
                                       {"slow-duration", required_argument, 0, 'D'},
                                       {"window", required_argument, 0, 'w'},
                                       {"sync", required_argument, 0, 'y'},
                                       {"csv", required_argument, 0, 'o'},
                                       {"mode", required_argument, 0, 'm'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'b': s_opt.bin = optarg; break;
        case 's': s_opt.scenario = optarg; break;
        case 'e': s_opt.events = atol(optarg); break;
        case 'c': s_opt.customers = atol(optarg); break;
        case 'W': s_opt.w1_customers = atol(optarg); break;
        case 'p': s_opt.partners = atoi(optarg); break;
        case 'r': s_opt.rate = atol(optarg); break;
        case 'd': s_opt.duration = atof(optarg); break;
        case 'S': s_opt.stall = atof(optarg); break;
        case 'D': s_opt.slow_duration = atof(optarg); break;
        case 'w': s_opt.window = (uint32_t)atol(optarg); break;
        case 'y': s_opt.sync = optarg; break;
        case 'o': s_opt.csv = optarg; break;
        case 'm': s_opt.mode = optarg; break;
        default: s_usage(); return ch == 'h' ? 0 : 2;
        }
    }
    if (s_opt.events < 1 || s_opt.customers < 1 || s_opt.window < 1 || s_opt.duration <= 0 ||
        s_opt.rate < 1 || s_opt.stall <= 0 || s_opt.slow_duration <= s_opt.stall ||
        s_opt.w1_customers < 1 || s_opt.partners < 0 || s_opt.partners > S_MAX_PARTNERS ||
        (strcmp(s_opt.sync, "full") != 0 && strcmp(s_opt.sync, "none") != 0)) {
        s_usage();
        return 2;
    }
    if (s_opt.bin) setenv("CX_BIN", s_opt.bin, 1);
    cxt_begin("bench");
    char bpath[600];
    snprintf(bpath, sizeof bpath, "%s", cxt_bin("cxbroker"));
    if (access(bpath, X_OK) != 0) {
        fprintf(stderr, "bench: %s: not found or not executable; pass --bin DIR\n", bpath);
        return 2;
    }

    char dir[] = "/tmp/cxbench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench: mkdtemp");
        return 1;
    }
    /* The baselines always run: every broker row is compared with them. */
    s_progress("baseline a: ZeroMQ DEALER->ROUTER, ack each, window %u, %ld messages", s_opt.window,
               s_opt.events);
    s_base_a_eps = s_run_baseline(dir, 0, s_opt.events, s_opt.window);
    s_row_t *r = s_row_new("base-a", "-");
    r->events = s_opt.events;
    r->pub_eps = s_base_a_eps;
    r->log_bytes_per_event = r->state_bytes_per_customer = -1;
    s_progress("baseline a: %.0f messages/s", s_base_a_eps);
    s_progress("baseline b: + LMDB MDB_APPEND, fsync'd commit per batch (<=%d)", S_BASE_BATCH);
    s_base_b_eps = s_run_baseline(dir, 1, s_opt.events, s_opt.window);
    char lpath[400];
    snprintf(lpath, sizeof lpath, "%s/base-lmdb", dir);
    r = s_row_new("base-b", "full");
    r->events = s_opt.events;
    r->pub_eps = s_base_b_eps;
    r->log_bytes_per_event = (double)s_du(lpath) / (double)s_opt.events;
    r->state_bytes_per_customer = -1;
    s_progress("baseline b: %.0f messages/s", s_base_b_eps);
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    cxt_run(rm, NULL);

    int failed = 0;
    if (s_is("W2")) {
        s_scn_t sc = {.name = "W2",
                      .sync = s_opt.sync,
                      .events = s_opt.events,
                      .customers = s_opt.customers,
                      .partners = s_opt.partners ? s_opt.partners : 4,
                      .routing = S_ROUTE_HALF};
        failed |= s_run_scenario(&sc) != 0;
    }
    if (s_is("fanout")) {
        s_scn_t sc = {.name = "fanout",
                      .sync = s_opt.sync,
                      .events = s_opt.events / 2,
                      .customers = s_opt.customers,
                      .partners = s_opt.partners ? s_opt.partners : 8,
                      .routing = S_ROUTE_ALL};
        failed |= s_run_scenario(&sc) != 0;
    }
    if (s_is("latency")) {
        long n = (long)((double)s_opt.rate * s_opt.duration);
        const char *syncs[] = {"full", "none"};
        for (int i = 0; i < 2; i++) {
            char name[32];
            snprintf(name, sizeof name, "latency@%ldk", s_opt.rate / 1000);
            s_scn_t sc = {.name = name,
                          .sync = syncs[i],
                          .events = n,
                          .customers = s_opt.customers,
                          .partners = s_opt.partners ? s_opt.partners : 1,
                          .routing = S_ROUTE_ALL,
                          .rate = s_opt.rate,
                          .measure_latency = 1};
            failed |= s_run_scenario(&sc) != 0;
        }
    }
    if (s_is("slow")) failed |= s_run_slow();
    if (s_is("W1")) {
        s_scn_t sc = {.name = "W1",
                      .sync = s_opt.sync,
                      .events = s_opt.events,
                      .customers = s_opt.w1_customers,
                      .partners = s_opt.partners ? s_opt.partners : 4,
                      .routing = S_ROUTE_HALF,
                      .preload_row = 1,
                      .recovery = 1};
        failed |= s_run_scenario(&sc) != 0;
    }
    s_print_table();
    s_print_slow();
    s_print_recovery();
    s_print_targets();
    if (s_opt.csv) s_write_csv(s_opt.csv);
    return failed ? 1 : 0;
}
