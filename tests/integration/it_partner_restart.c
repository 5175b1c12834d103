/* it_partner_restart - the cxsub program killed and restarted for one partner.
 *
 * A partner's stream of about 18,000 deliveries is read by the real cxsub
 * program, which prints each delivery and only then acks it. Killed with
 * SIGKILL after a few hundred lines, and run again for the same partner, the
 * two runs together print every stream seq 1..head, with no gap; the second
 * run starts right after the cursor the broker kept, so the only seqs printed
 * twice are the last ones of the first run, those it printed but whose ack did
 * not reach the broker, at most one credit window. `--from 1` replays the
 * whole stream. Every printed seq carries the event the test expects at that
 * place of the stream (the stream is in log order, and the test published the
 * log). `cxctl partners` reports the cursor and backlog the admin API does.
 */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cxtest.h"

#define CUSTOMERS 100
#define MILESTONES 20000
#define MORE 100  /* milestones published after the broker restarts */
#define CREDIT 50 /* cxsub --credit of the first run */

/* clang-format off */
static const char *const s_config =
    "partners:\n"
    "  - id: trip-insurer\n"
    "    categories: [travel]\n"
    "    sees: [goals, milestones]\n"
    "routes:\n"
    "  - name: trip-milestones\n"
    "    match:\n"
    "      type: milestone.reached\n"
    "      goal.category: travel\n"
    "    to: [trip-insurer]\n";
/* clang-format on */

/* The event_id expected at each stream seq (1-based), as the test published them. */
static char (*s_expected)[32];
static int s_head;

typedef struct {
    int n; /* complete lines */
    int first, last;
    int gaps;  /* a seq not one above the previous */
    int wrong; /* a seq with another event than expected, or a bad line */
    int *seq;  /* n seqs */
} run_t;

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) len = 0;
    if (buf) buf[len] = '\0';
    fclose(f);
    return buf;
}

static int s_count_lines(const char *path)
{
    char *s = s_slurp(path);
    int n = 0;
    for (char *p = s; p && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* Parses cxsub's output: complete lines only (a line cut by SIGKILL was never acked). */
static run_t s_parse(const char *text)
{
    run_t r = {0};
    size_t cap = 1024;
    r.seq = malloc(cap * sizeof *r.seq);
    const char *p = text ? text : "";
    while (r.seq) {
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
        json_t *ev = j ? json_object_get(j, "event") : NULL;
        const char *id = ev ? json_string_value(json_object_get(ev, "event_id")) : NULL;
        const char *route = j ? json_string_value(json_object_get(j, "route")) : NULL;
        json_int_t seq = j ? json_integer_value(json_object_get(j, "seq")) : 0;
        if (seq < 1 || seq > s_head || !id || strcmp(id, s_expected[seq]) != 0 || !route ||
            strcmp(route, "trip-milestones") != 0) {
            if (r.wrong++ == 0)
                fprintf(stderr, "unexpected line: %.*s\n", (int)(nl - p > 300 ? 300 : nl - p), p);
        }
        if (r.n == (int)cap) {
            int *ns = realloc(r.seq, (cap *= 2) * sizeof *r.seq);
            if (!ns) break;
            r.seq = ns;
        }
        if (r.n == 0)
            r.first = (int)seq;
        else if (seq != r.last + 1)
            r.gaps++;
        r.last = (int)seq;
        r.seq[r.n++] = (int)seq;
        json_decref(j);
        p = nl + 1;
    }
    return r;
}

static pid_t s_spawn_cxsub(cxt_broker_t *b, const char *out, const char *err)
{
    char credit[16];
    snprintf(credit, sizeof credit, "%d", CREDIT);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644),
        fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0) _exit(126);
    dup2(fo, 1);
    dup2(fe, 2);
    execl(cxt_bin("cxsub"), "cxsub", "-b", b->deliver_ep, "-p", "trip-insurer", "--credit", credit,
          (char *)NULL);
    _exit(127);
}

typedef struct {
    bool found, connected;
    uint64_t cursor, head, backlog;
} pstat_t;

static pstat_t s_pstat(cxt_broker_t *b)
{
    pstat_t s = {0};
    Cx__AdminReply *r = cxt_admin(b, "partners", NULL);
    for (size_t i = 0; r && i < r->n_partners; i++)
        if (r->partners[i]->partner_id && strcmp(r->partners[i]->partner_id, "trip-insurer") == 0)
            s = (pstat_t){true, r->partners[i]->connected, r->partners[i]->cursor,
                          r->partners[i]->head, r->partners[i]->backlog};
    if (r) cx__admin_reply__free_unpacked(r, NULL);
    return s;
}

/* The cursor once the acks still in the socket have reached the broker:
 * the same for 3 polls in a row (up to 5 s). */
static pstat_t s_stable_pstat(cxt_broker_t *b)
{
    pstat_t s = s_pstat(b);
    int same = 0;
    for (int i = 0; i < 50 && same < 3; i++) {
        s_sleep_ms(100);
        pstat_t t = s_pstat(b);
        same = t.cursor == s.cursor ? same + 1 : 0;
        s = t;
    }
    return s;
}

static json_int_t s_jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* `cxctl partners` agrees with the admin API on cursor and backlog, and prints
 * connected and in_flight. */
static void s_check_cxctl(cxt_broker_t *b, const pstat_t *want, const char *when)
{
    char cmd[700], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -a %s partners", cxt_bin("cxctl"), b->admin_ep);
    int st = cxt_run(cmd, &out);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    json_t *e = j ? json_array_get(json_object_get(j, "partners"), 0) : NULL;
    const char *id = e ? json_string_value(json_object_get(e, "partner_id")) : NULL;
    CXT_CHECK(st == 0 && id && strcmp(id, "trip-insurer") == 0 &&
                  json_is_boolean(json_object_get(e, "connected")) &&
                  s_jint(e, "cursor") == (json_int_t)want->cursor &&
                  s_jint(e, "backlog") == (json_int_t)want->backlog && s_jint(e, "in_flight") >= 0,
              "%s: cxctl partners prints trip-insurer with connected, cursor %llu, backlog %llu, "
              "in_flight",
              when, (unsigned long long)want->cursor, (unsigned long long)want->backlog);
    if (!e) fprintf(stderr, "cxctl partners printed:\n%s\n", out ? out : "(nothing)");
    json_decref(j);
    free(out);
}

/* Publishes, the first time, a travel goal per customer (90 of them
 * consenting); then milestones k_from..k_to-1 round-robin, recording the
 * event of each stream seq. */
static int s_publish(cxt_broker_t *b, int k_from, int k_to)
{
    cx_publisher_opts_t o = {.window = 1000, .timeout_ms = 5000, .max_tries = 3};
    cx_publisher_t *pub = cx_publisher_new(b->pub_ep, &o);
    if (!pub) return -1;
    if (!s_expected) s_expected = calloc(MILESTONES + 1, sizeof *s_expected);
    if (!s_expected || k_to > MILESTONES) return -1;
    char id[32], cid[32];
    Cx__Event ev = CX__EVENT__INIT;
    Cx__Consent consent = CX__CONSENT__INIT;
    Cx__Goal goal = CX__GOAL__INIT;
    Cx__Milestone ms = CX__MILESTONE__INIT;
    ev.event_id = id;
    ev.customer_id = cid;
    consent.scope = "travel";
    goal.goal_id = ms.goal_id = "g1";
    goal.category = "travel";
    ms.name = "flights-booked";
    for (int c = 0; k_from == 0 && c < CUSTOMERS; c++) {
        snprintf(cid, sizeof cid, "pr-%03d", c);
        if (c % 10 != 0) { /* every tenth customer never consents */
            snprintf(id, sizeof id, "consent-%03d", c);
            ev.type = "consent.granted";
            ev.payload_case = CX__EVENT__PAYLOAD_CONSENT;
            ev.consent = &consent;
            cx_publish(pub, &ev, 0, NULL);
        }
        snprintf(id, sizeof id, "goal-%03d", c);
        ev.type = "goal.set";
        ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
        ev.goal = &goal;
        cx_publish(pub, &ev, 0, NULL);
    }
    ev.type = "milestone.reached";
    ev.payload_case = CX__EVENT__PAYLOAD_MILESTONE;
    ev.milestone = &ms;
    int64_t deadline = cx_now_us() + 60 * 1000000LL;
    for (int k = k_from; k < k_to && cx_now_us() < deadline; k++) {
        int c = k % CUSTOMERS;
        snprintf(cid, sizeof cid, "pr-%03d", c);
        snprintf(id, sizeof id, "ms-%06d", k);
        if (c % 10 != 0) snprintf(s_expected[++s_head], sizeof s_expected[0], "%s", id);
        cx_publish(pub, &ev, 0, NULL);
    }
    int rc = cx_publisher_flush(pub, 30000);
    cx_publisher_stats_t st;
    cx_publisher_stats(pub, &st);
    cx_publisher_destroy(&pub);
    return rc == 0 && st.acked == st.sent ? 0 : -1;
}

int main(void)
{
    cxt_begin("it_partner_restart");
    cxt_broker_t b;
    if (cxt_broker_init(&b, s_config) != 0 || cxt_broker_start(&b) != 0) {
        CXT_CHECK(false, "broker starts");
        return cxt_end();
    }
    CXT_CHECK(s_publish(&b, 0, MILESTONES - MORE) == 0, "every event acked");
    pstat_t s = s_pstat(&b);
    CXT_CHECK(s.head == (uint64_t)s_head && s.cursor == 0,
              "the partner's stream holds the %d milestones of consenting customers (head %llu)",
              s_head, (unsigned long long)s.head);

    /* Run 1: killed with SIGKILL once it has printed a few hundred lines. */
    char out1[300], err1[300];
    snprintf(out1, sizeof out1, "%s/run1.out", b.dir);
    snprintf(err1, sizeof err1, "%s/run1.err", b.dir);
    pid_t pid = s_spawn_cxsub(&b, out1, err1);
    int lines = 0;
    for (int i = 0; i < 7500 && lines < 300; i++) { /* up to 15 s */
        s_sleep_ms(2);
        lines = s_count_lines(out1);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = 0;
            break;
        }
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    char *text1 = s_slurp(out1);
    run_t r1 = s_parse(text1);
    cxt_note("run 1 printed %d lines (seq %d..%d) before SIGKILL", r1.n, r1.first, r1.last);
    CXT_CHECK(pid > 0 && r1.n >= 300 && r1.last < s_head,
              "cxsub killed mid-stream, after %d of %d deliveries", r1.n, s_head);
    CXT_CHECK(r1.n > 0 && r1.first == 1 && r1.gaps == 0 && r1.wrong == 0,
              "run 1 printed seqs 1..%d in order, each with its expected event", r1.last);

    /* What the broker kept: never more than was printed, at most a credit less. */
    s = s_stable_pstat(&b);
    cxt_note("cursor after the kill: %llu", (unsigned long long)s.cursor);
    CXT_CHECK(s.cursor <= (uint64_t)r1.last && s.cursor + CREDIT >= (uint64_t)r1.last,
              "the cursor (%llu) is within one credit (%d) below the last seq printed (%d)",
              (unsigned long long)s.cursor, CREDIT, r1.last);
    CXT_CHECK(s.backlog == s.head - s.cursor, "backlog = head - cursor (%llu)",
              (unsigned long long)s.backlog);
    s_check_cxctl(&b, &s, "after the kill");
    uint64_t cursor = s.cursor;

    /* Run 2: the same partner again, until 2 s pass with nothing new. */
    char cmd[700], *text2 = NULL;
    snprintf(cmd, sizeof cmd, "%s -b %s -p trip-insurer --timeout 2 2>/dev/null", cxt_bin("cxsub"),
             b.deliver_ep);
    int st = cxt_run(cmd, &text2);
    run_t r2 = s_parse(text2);
    cxt_note("run 2 printed %d lines (seq %d..%d)", r2.n, r2.first, r2.last);
    CXT_CHECK(st == 0 && r2.n > 0 && r2.gaps == 0 && r2.wrong == 0 && r2.last == s_head,
              "run 2 exits 0 and prints seqs %d..%d in order, each with its expected event",
              r2.first, s_head);
    CXT_CHECK(r2.first == (int)cursor + 1,
              "run 2 starts right after the cursor: seq %d (cursor %llu)", r2.first,
              (unsigned long long)cursor);
    CXT_CHECK(r2.first <= r1.last + 1 && r1.first == 1 && r2.last == s_head,
              "together the runs print every seq 1..%d with no gap", s_head);
    int twice = r2.first <= r1.last ? r1.last - r2.first + 1 : 0;
    CXT_CHECK(
        r2.first > r1.last - CREDIT,
        "only the last %d seqs of run 1 are printed again (run 2's first %d > %d - credit %d)",
        twice, r2.first, r1.last, CREDIT);
    s = s_stable_pstat(&b);
    CXT_CHECK(s.cursor == (uint64_t)s_head && s.backlog == 0,
              "after run 2 the cursor is at the head (%llu)", (unsigned long long)s.cursor);
    s_check_cxctl(&b, &s, "after run 2");

    /* --from 1: the whole stream again. */
    char *text3 = NULL;
    snprintf(cmd, sizeof cmd, "%s -b %s -p trip-insurer --from 1 --timeout 2 2>/dev/null",
             cxt_bin("cxsub"), b.deliver_ep);
    st = cxt_run(cmd, &text3);
    run_t r3 = s_parse(text3);
    CXT_CHECK(st == 0 && r3.n == s_head && r3.first == 1 && r3.last == s_head && r3.gaps == 0 &&
                  r3.wrong == 0,
              "--from 1 replays seqs 1..%d, each once with its event (%d lines, %d..%d)", s_head,
              r3.n, r3.first, r3.last);
    s = s_stable_pstat(&b);
    CXT_CHECK(s.cursor == (uint64_t)s_head && s.backlog == 0,
              "after the replay the cursor is at the head again");

    /* A clean restart keeps the cursor: only what is published after it arrives. */
    CXT_CHECK(cxt_broker_stop(&b) == 0 && cxt_broker_start(&b) == 0,
              "the broker restarts (SIGTERM, start)");
    s = s_pstat(&b);
    CXT_CHECK(s.cursor == (uint64_t)s_head && s.head == (uint64_t)s_head,
              "after the restart cursor and head are still %d (%llu, %llu)", s_head,
              (unsigned long long)s.cursor, (unsigned long long)s.head);
    int old_head = s_head;
    CXT_CHECK(s_publish(&b, MILESTONES - MORE, MILESTONES) == 0, "%d more milestones acked", MORE);
    char *text4 = NULL;
    snprintf(cmd, sizeof cmd, "%s -b %s -p trip-insurer --timeout 2 2>/dev/null", cxt_bin("cxsub"),
             b.deliver_ep);
    st = cxt_run(cmd, &text4);
    run_t r4 = s_parse(text4);
    CXT_CHECK(st == 0 && r4.n == s_head - old_head && r4.first == old_head + 1 &&
                  r4.last == s_head && r4.gaps == 0 && r4.wrong == 0,
              "cxsub after the restart prints only the new seqs %d..%d (%d lines, %d..%d)",
              old_head + 1, s_head, r4.n, r4.first, r4.last);
    free(text4);
    free(r4.seq);

    free(text1);
    free(text2);
    free(text3);
    free(r1.seq);
    free(r2.seq);
    free(r3.seq);
    free(s_expected);
    CXT_CHECK(cxt_broker_stop(&b) == 0, "SIGTERM: broker exits 0");
    cxt_broker_cleanup(&b);
    return cxt_end();
}
