/* soak - steady load for a while; the broker's RSS, open fds and LMDB size must
 * stay flat with retention on. Prints one line a minute.
 *
 *   soak --bin build/bin --minutes 10 [--rate 5000] [--interval-s 60]
 *
 * Two partners take every event (one of them half the events) and ack; the
 * log is pruned 20 s after everyone acked. At the end it compares the last
 * sample with the one after warm-up and exits 1 if RSS grew by more than 25%,
 * fds by more than 8, or the LMDB files by more than 25%.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cxtest.h"

typedef struct {
    long rss_kb, anon_kb;
    int fds;
    long long lmdb_kb;
} sample_t;

static long s_status(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) v = atol(line + kl + 1);
    if (f) fclose(f);
    return v;
}

static int s_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d) closedir(d);
    return n - 2;
}

static long long s_kb(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_blocks / 2 : 0; /* allocated, not apparent */
}

static sample_t s_sample(cxt_broker_t *b)
{
    sample_t s;
    char p1[400], p2[400];
    snprintf(p1, sizeof p1, "%s/data/log/data.mdb", b->dir);
    snprintf(p2, sizeof p2, "%s/data/state/data.mdb", b->dir);
    s.rss_kb = s_status(b->pid, "VmRSS");
    s.anon_kb = s_status(b->pid, "RssAnon");
    s.fds = s_fds(b->pid);
    s.lmdb_kb = s_kb(p1) + s_kb(p2);
    return s;
}

static void s_consume(cx_subscriber_t *sub, uint64_t *got)
{
    Cx__Delivery *d;
    uint64_t last = 0;
    while (cx_subscriber_next(sub, 0, &d) == 0) {
        last = d->seq;
        (*got)++;
        cx_delivery_free(d);
    }
    if (last) cx_subscriber_ack(sub, last);
}

int main(int argc, char **argv)
{
    int minutes = 10, rate = 5000, interval_s = 60;
    static const struct option opts[] = {{"bin", required_argument, 0, 'b'},
                                         {"minutes", required_argument, 0, 'm'},
                                         {"rate", required_argument, 0, 'r'},
                                         {"interval-s", required_argument, 0, 'i'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "b:m:r:i:", opts, NULL)) != -1) {
        if (c == 'b')
            setenv("CX_BIN", optarg, 1);
        else if (c == 'm')
            minutes = atoi(optarg);
        else if (c == 'r')
            rate = atoi(optarg);
        else if (c == 'i')
            interval_s = atoi(optarg);
    }
    cxt_begin("soak");
    cxt_broker_t b;
    cxt_broker_init(&b, "  retention: 20s\ncheckpoint:\n  interval: 1s\ndedup:\n  window: 10s\n"
                        "partners:\n  - id: all\n  - id: goals\n"
                        "routes:\n  - name: everything\n    match: { type: \"*\" }\n    to: [all]\n"
                        "    consent: not-required\n"
                        "  - name: goals\n    match: { type: \"goal.*\" }\n    to: [goals]\n"
                        "    consent: not-required\n");
    if (cxt_broker_start(&b) != 0) {
        CXT_CHECK(false, "broker starts");
        return cxt_end();
    }
    cx_publisher_t *pub = cx_publisher_new(b.pub_ep, NULL);
    cx_subscriber_t *s1 = cx_subscriber_new(b.deliver_ep, "all", NULL);
    cx_subscriber_t *s2 = cx_subscriber_new(b.deliver_ep, "goals", NULL);
    printf("soak: %d minutes at %d events/s, a sample every %d s\n", minutes, rate, interval_s);
    printf("%6s %10s %10s %9s %9s %5s %10s %10s\n", "minute", "accepted", "delivered", "rss_kb",
           "anon_kb", "fds", "lmdb_kb", "log_events");
    int64_t t0 = cx_now_us(), end = t0 + (int64_t)minutes * 60 * 1000000,
            next = t0 + interval_s * 1000000LL;
    uint64_t k = 0, got = 0;
    sample_t first = {0}, last = {0};
    int samples = 0;
    while (cx_now_us() < end) {
        /* Publish what the rate allows so far, in steps of 10 ms. */
        uint64_t due = (uint64_t)((double)(cx_now_us() - t0) / 1e6 * rate);
        for (; k < due; k++) {
            Cx__Event ev = CX__EVENT__INIT;
            Cx__Goal g = CX__GOAL__INIT;
            Cx__Activity a = CX__ACTIVITY__INIT;
            char id[32], cid[32];
            snprintf(id, sizeof id, "soak-%llu", (unsigned long long)k);
            snprintf(cid, sizeof cid, "c-%llu", (unsigned long long)(k % 10000));
            ev.event_id = id;
            ev.customer_id = cid;
            if (k % 2) {
                ev.type = "goal.set";
                g.goal_id = "g1";
                g.title = "soak";
                ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
                ev.goal = &g;
            } else {
                ev.type = "activity";
                a.name = "browsed";
                ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
                ev.activity = &a;
            }
            cx_publish(pub, &ev, 0, NULL);
        }
        cx_publisher_poll(pub, 0);
        s_consume(s1, &got);
        s_consume(s2, &got);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        if (cx_now_us() >= next) {
            next += interval_s * 1000000LL;
            sample_t s = s_sample(&b);
            samples++;
            if (samples == 2 || (samples == 1 && minutes < 2)) first = s;
            last = s;
            printf("%6d %10lld %10llu %9ld %9ld %5d %10lld %10lld\n", samples,
                   (long long)cxt_stat(&b, "events_accepted"), (unsigned long long)got, s.rss_kb,
                   s.anon_kb, s.fds, s.lmdb_kb, (long long)cxt_stat(&b, "log_events"));
        }
    }
    cx_publisher_flush(pub, 30000);
    cx_publisher_stats_t ps;
    cx_publisher_stats(pub, &ps);
    CXT_CHECK(ps.acked == ps.sent && ps.nacked == 0, "every event acked (%llu of %llu)",
              (unsigned long long)ps.acked, (unsigned long long)ps.sent);
    if (samples >= 2) {
        CXT_CHECK(last.anon_kb <= first.anon_kb * 5 / 4 + 1024,
                  "anonymous RSS flat: %ld kB -> %ld kB", first.anon_kb, last.anon_kb);
        CXT_CHECK(last.fds <= first.fds + 8, "open fds flat: %d -> %d", first.fds, last.fds);
        CXT_CHECK(last.lmdb_kb <= first.lmdb_kb * 5 / 4 + 1024,
                  "LMDB files flat: %lld kB -> %lld kB", first.lmdb_kb, last.lmdb_kb);
    }
    CXT_CHECK(cxt_stat(&b, "log_pruned") > 0, "retention pruned the log (%lld entries)",
              (long long)cxt_stat(&b, "log_pruned"));
    cx_subscriber_destroy(&s1);
    cx_subscriber_destroy(&s2);
    cx_publisher_destroy(&pub);
    CXT_CHECK(cxt_broker_stop(&b) == 0, "broker exits 0");
    cxt_broker_cleanup(&b);
    return cxt_end();
}
