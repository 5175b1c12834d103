/* it_delivery - partner delivery against a real broker on ipc://.
 *
 * Three partners with different consent scopes and `sees`, and routes that
 * reach them by event type, goal category and consent. The test keeps its own
 * model of every customer (consents, goals and their categories) and computes
 * from it, without the broker's router, which partner must get which event
 * under which route. Each partner's received set must equal that exactly (no
 * missing, no extra), every delivered context must hold only what the partner
 * sees, and no customer without consent may reach a consent-required partner.
 *
 * The claims, one block each in main():
 *   all_connected      50,000 events for 5,000 customers, every partner connected
 *   cxctl_partners     the cxctl program prints connected/cursor/backlog/in_flight
 *   slow_partner       a partner that connects only after the publish catches up
 *   revoked_skipped    queued events of a customer who revoked (or whose consent
 *                      expired) are skipped at delivery time; others' are not
 *   skips_stay_skipped a skipped event is final: an idle partner does not make the
 *                      broker walk it again, and a later re-grant does not deliver it
 *   partner_publish    a partner publishes an offer; other types and unknown
 *                      partners are refused with their codes
 *   crash_no_loss      kill -9 while publishing and delivering; after a restart and
 *                      a re-publish of what was not acked, every acked event reaches
 *                      every partner it was routed to, through new subscribers and
 *                      through one that lived on across the restart
 *
 * Receivers run on their own threads (one cx_subscriber each, acking as they
 * go); a thread only writes its own recv_t, and the main thread reads it after
 * joining, except for the n_unique counter it polls.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cxtest.h"

#define WAIT_MS 40000 /* longest wait for a partner to get everything */

/* ---------------------------------------------------------------- config */

enum { P_TRIP, P_BANK, P_CRM, N_PARTNERS };
static const char *const s_partner[N_PARTNERS] = {"trip-insurer", "bank", "crm"};

enum { R_TRIP_MILESTONES, R_MONEY_GOALS, R_BANK_GOALS, R_CRM_PROFILE, R_CRM_ACTIVITY, N_ROUTES };
static const char *const s_route[N_ROUTES] = {"trip-milestones", "money-goals", "bank-goals",
                                              "crm-profile", "crm-activity"};

/* Route order matters: a money goal reaches the bank through money-goals, any
 * other goal through bank-goals (first match per partner). */
/* clang-format off */
static const char *const s_config =
    "partners:\n"
    "  - id: trip-insurer\n"
    "    categories: [travel]\n"
    "    sees: [goals, milestones]\n"
    "    may_publish: [offer.made]\n"
    "  - id: bank\n"
    "    categories: [money]\n"
    "    sees: [attributes.home_city]\n"
    "    max_in_flight: 64\n"
    "  - id: crm\n"
    "    sees: [attributes, activity]\n"
    "    max_in_flight: 500\n"
    "routes:\n"
    "  - name: trip-milestones\n"
    "    match:\n"
    "      type: milestone.reached\n"
    "      goal.category: travel\n"
    "    to: [trip-insurer]\n"
    "  - name: money-goals\n"
    "    match:\n"
    "      type: goal.*\n"
    "      goal.category: money\n"
    "    to: [bank]\n"
    "  - name: bank-goals\n"
    "    match:\n"
    "      type: goal.*\n"
    "    to: [bank]\n"
    "  - name: crm-profile\n"
    "    match:\n"
    "      type: profile.updated\n"
    "    to: [crm]\n"
    "    consent: not-required\n"
    "  - name: crm-activity\n"
    "    match:\n"
    "      type: activity\n"
    "    to: [crm]\n"
    "    consent: not-required\n";
/* clang-format on */

enum { CAT_TRAVEL, CAT_MONEY, CAT_HOME, N_CATS };
static const char *const s_category[N_CATS] = {"travel", "money", "home"};

/* ---------------------------------------------------------------- the model */

#define MAX_GOALS 3

typedef struct {
    bool consent[N_PARTNERS]; /* an unexpired grant covering the partner (crm: unused) */
    int n_goals;
    int category[MAX_GOALS];
} cust_t;

typedef struct {
    int customer;
    signed char route[N_PARTNERS]; /* the route that must deliver it, or -1 */
} expect_t;

typedef struct {
    uint8_t *data;
    size_t len;
} enc_t;

/* Everything one run publishes and expects. Events "ev-%07d" are k = 0..n_events-1;
 * consent events (phase 1) are separate and never routed. */
typedef struct {
    int n_customers, n_events, n_consents;
    cust_t *cust;
    expect_t *exp;
    enc_t *ev;  /* n_events encoded events */
    enc_t *cev; /* n_consents encoded consent events */
    int cap_consents;
    int expected[N_PARTNERS];
} world_t;

static void s_cid(char *buf, size_t len, int c)
{
    snprintf(buf, len, "cu-%05d", c);
}

static void s_world_init(world_t *w, int n_customers, int n_events)
{
    memset(w, 0, sizeof *w);
    w->n_customers = n_customers;
    w->n_events = n_events;
    w->cap_consents = n_customers * 4 + 16;
    w->cust = calloc((size_t)n_customers, sizeof *w->cust);
    w->exp = calloc((size_t)n_events, sizeof *w->exp);
    w->ev = calloc((size_t)n_events, sizeof *w->ev);
    w->cev = calloc((size_t)w->cap_consents, sizeof *w->cev);
    if (!w->cust || !w->exp || !w->ev || !w->cev) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
}

static void s_world_free(world_t *w)
{
    for (int k = 0; k < w->n_events; k++)
        free(w->ev[k].data);
    for (int j = 0; j < w->n_consents; j++)
        free(w->cev[j].data);
    free(w->cust);
    free(w->exp);
    free(w->ev);
    free(w->cev);
    memset(w, 0, sizeof *w);
}

static void s_encode(enc_t *e, const Cx__Event *ev)
{
    e->len = cx__event__get_packed_size(ev);
    e->data = malloc(e->len ? e->len : 1);
    if (!e->data) exit(2);
    cx__event__pack(ev, e->data);
}

/* One event under construction: the event, every payload kind, and its strings. */
typedef struct {
    Cx__Event ev;
    Cx__Goal goal;
    Cx__Milestone ms;
    Cx__Profile prof;
    Cx__Attribute attr[3], *attrp[3];
    Cx__Activity act;
    Cx__Consent consent;
    Cx__Offer offer;
    char id[48], cid[32], goal_id[16], name[32], v1[48], v2[48], v3[48];
} evbuf_t;

static Cx__Event *s_ev(evbuf_t *e, const char *id, const char *cid, const char *type)
{
    memset(e, 0, sizeof *e);
    cx__event__init(&e->ev);
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->cid, sizeof e->cid, "%s", cid);
    e->ev.event_id = e->id;
    e->ev.customer_id = e->cid;
    e->ev.source = "it-delivery";
    e->ev.type = (char *)type;
    return &e->ev;
}

static void s_ev_goal(evbuf_t *e, const char *goal_id, const char *category, const char *title)
{
    cx__goal__init(&e->goal);
    snprintf(e->goal_id, sizeof e->goal_id, "%s", goal_id);
    e->goal.goal_id = e->goal_id;
    e->goal.category = (char *)category;
    e->goal.title = (char *)title;
    e->ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    e->ev.goal = &e->goal;
}

static void s_ev_milestone(evbuf_t *e, const char *goal_id, const char *name)
{
    cx__milestone__init(&e->ms);
    snprintf(e->goal_id, sizeof e->goal_id, "%s", goal_id);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ms.goal_id = e->goal_id;
    e->ms.name = e->name;
    e->ev.payload_case = CX__EVENT__PAYLOAD_MILESTONE;
    e->ev.milestone = &e->ms;
}

static void s_ev_consent(evbuf_t *e, const char *scope, bool has_expiry, int64_t expires_at)
{
    cx__consent__init(&e->consent);
    e->consent.scope = (char *)scope;
    e->consent.has_expires_at = has_expiry;
    e->consent.expires_at = expires_at;
    e->ev.payload_case = CX__EVENT__PAYLOAD_CONSENT;
    e->ev.consent = &e->consent;
}

static void s_ev_attr(evbuf_t *e, const char *key, const char *value)
{
    size_t i = e->prof.n_set;
    cx__attribute__init(&e->attr[i]);
    e->attr[i].key = (char *)key;
    e->attr[i].value = (char *)value;
    e->attrp[i] = &e->attr[i];
    e->prof.set = e->attrp;
    e->prof.n_set = i + 1;
}

static bool s_is_goal_type(const char *type)
{
    return strncmp(type, "goal.", 5) == 0;
}

/* The routing rules of s_config, applied to the model: who gets an event of
 * this type on a goal of category cat (-1: no goal), and by which route. */
static void s_expect(world_t *w, int k, int c, const char *type, int cat)
{
    const cust_t *cu = &w->cust[c];
    expect_t *x = &w->exp[k];
    x->customer = c;
    for (int p = 0; p < N_PARTNERS; p++)
        x->route[p] = -1;
    if (strcmp(type, "milestone.reached") == 0 && cat == CAT_TRAVEL && cu->consent[P_TRIP])
        x->route[P_TRIP] = R_TRIP_MILESTONES;
    if (s_is_goal_type(type) && cu->consent[P_BANK])
        x->route[P_BANK] = cat == CAT_MONEY ? R_MONEY_GOALS : R_BANK_GOALS;
    if (strcmp(type, "profile.updated") == 0) x->route[P_CRM] = R_CRM_PROFILE;
    if (strcmp(type, "activity") == 0) x->route[P_CRM] = R_CRM_ACTIVITY;
    for (int p = 0; p < N_PARTNERS; p++)
        w->expected[p] += x->route[p] >= 0;
}

static void s_add_consent(world_t *w, int c, int i, const char *type, const char *scope,
                          bool has_expiry, int64_t expires_at)
{
    evbuf_t e;
    char id[48], cid[32];
    snprintf(id, sizeof id, "cs-%05d-%d", c, i);
    s_cid(cid, sizeof cid, c);
    s_ev(&e, id, cid, type);
    s_ev_consent(&e, scope, has_expiry, expires_at);
    if (w->n_consents >= w->cap_consents) exit(2);
    s_encode(&w->cev[w->n_consents++], &e.ev);
}

/* Phase 1: each customer's consents, by class. An expiry in the past is no
 * consent; a revoke removes a grant; a grant for an unrelated scope is nothing. */
static void s_gen_consents(world_t *w, uint64_t *rng)
{
    const int64_t now = cx_now_us(), hour = 3600LL * 1000000;
    const char *G = "consent.granted", *R = "consent.revoked";
    for (int c = 0; c < w->n_customers; c++) {
        cust_t *cu = &w->cust[c];
        switch (cxt_rand(rng) % 10) {
        case 0:
            s_add_consent(w, c, 0, G, "travel", false, 0);
            cu->consent[P_TRIP] = true;
            break;
        case 1:
            s_add_consent(w, c, 0, G, "trip-insurer", false, 0);
            cu->consent[P_TRIP] = true;
            break;
        case 2:
            s_add_consent(w, c, 0, G, "money", false, 0);
            cu->consent[P_BANK] = true;
            break;
        case 3:
            s_add_consent(w, c, 0, G, "bank", true, now + 24 * hour);
            cu->consent[P_BANK] = true;
            break;
        case 4:
            s_add_consent(w, c, 0, G, "travel", true, now + 24 * hour);
            s_add_consent(w, c, 1, G, "money", false, 0);
            cu->consent[P_TRIP] = cu->consent[P_BANK] = true;
            break;
        case 5: break; /* nothing */
        case 6:        /* travel expired an hour ago; money valid for a day */
            s_add_consent(w, c, 0, G, "travel", true, now - hour);
            s_add_consent(w, c, 1, G, "money", true, now + 24 * hour);
            cu->consent[P_BANK] = true;
            break;
        case 7: /* everything expired, plus scopes no partner falls under */
            s_add_consent(w, c, 0, G, "trip-insurer", true, now - hour);
            s_add_consent(w, c, 1, G, "bank", true, now - 1);
            s_add_consent(w, c, 2, G, "home", false, 0);
            s_add_consent(w, c, 3, G, "crm", false, 0);
            break;
        case 8: /* travel granted then revoked; money granted */
            s_add_consent(w, c, 0, G, "travel", false, 0);
            s_add_consent(w, c, 1, G, "money", false, 0);
            s_add_consent(w, c, 2, R, "travel", false, 0);
            cu->consent[P_BANK] = true;
            break;
        default: /* both granted, both revoked */
            s_add_consent(w, c, 0, G, "trip-insurer", false, 0);
            s_add_consent(w, c, 1, G, "bank", false, 0);
            s_add_consent(w, c, 2, R, "bank", false, 0);
            s_add_consent(w, c, 3, R, "trip-insurer", false, 0);
            break;
        }
    }
}

/* Phase 2: goal.set / goal.updated / milestone.reached / profile.updated /
 * activity, no consent changes, so the routing outcome is a function of the model. */
static void s_gen_events(world_t *w, uint64_t *rng)
{
    static const char *const cities[] = {"Lisbon", "Porto", "Faro", "Braga"};
    for (int k = 0; k < w->n_events; k++) {
        evbuf_t e;
        char id[48], cid[32], gid[16];
        int c = (int)(cxt_rand(rng) % (uint64_t)w->n_customers);
        cust_t *cu = &w->cust[c];
        snprintf(id, sizeof id, "ev-%07d", k);
        s_cid(cid, sizeof cid, c);
        int r = cu->n_goals == 0 ? 0 : (int)(cxt_rand(rng) % 10);
        const char *type;
        int cat = -1;
        if (r == 0) { /* goal.set: a new goal, or a re-set that may change its category */
            int g = cu->n_goals < MAX_GOALS ? cu->n_goals++ : (int)(cxt_rand(rng) % MAX_GOALS);
            cat = (int)(cxt_rand(rng) % N_CATS);
            cu->category[g] = cat;
            snprintf(gid, sizeof gid, "g%d", g + 1);
            type = "goal.set";
            s_ev(&e, id, cid, type);
            s_ev_goal(&e, gid, s_category[cat], "a goal");
        } else if (r == 1) { /* goal.updated: new title, same category */
            int g = (int)(cxt_rand(rng) % (uint64_t)cu->n_goals);
            cat = cu->category[g];
            snprintf(gid, sizeof gid, "g%d", g + 1);
            type = "goal.updated";
            s_ev(&e, id, cid, type);
            s_ev_goal(&e, gid, NULL, "renamed");
        } else if (r <= 4) {
            int g = (int)(cxt_rand(rng) % (uint64_t)cu->n_goals);
            cat = cu->category[g];
            snprintf(gid, sizeof gid, "g%d", g + 1);
            type = "milestone.reached";
            s_ev(&e, id, cid, type);
            s_ev_milestone(&e, gid, cat == CAT_TRAVEL ? "flights-booked" : "saved-more");
        } else if (r <= 6) {
            type = "profile.updated";
            s_ev(&e, id, cid, type);
            cx__profile__init(&e.prof);
            e.ev.payload_case = CX__EVENT__PAYLOAD_PROFILE;
            e.ev.profile = &e.prof;
            snprintf(e.v1, sizeof e.v1, "%s", cities[cxt_rand(rng) % 4]);
            snprintf(e.v2, sizeof e.v2, "%d", (int)(cxt_rand(rng) % 4));
            snprintf(e.v3, sizeof e.v3, "%s@example.com", cid);
            if (r == 5) {
                s_ev_attr(&e, "home_city", e.v1);
                s_ev_attr(&e, "tier", e.v2);
            } else {
                s_ev_attr(&e, "email", e.v3);
                s_ev_attr(&e, "tier", e.v2);
            }
        } else {
            type = "activity";
            s_ev(&e, id, cid, type);
            cx__activity__init(&e.act);
            e.act.name = r == 7 ? "viewed-hotels" : "opened-app";
            e.ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
            e.ev.activity = &e.act;
        }
        s_expect(w, k, c, type, cat);
        s_encode(&w->ev[k], &e.ev);
    }
}

/* ---------------------------------------------------------------- publishing */

/* Outcome per tag: events are tagged k, consent events n_events + j. */
typedef struct {
    int *code; /* 1: no answer yet; 0: acked; else the NACK code */
    size_t n;
    atomic_ullong acked, nacked, dups;
} results_t;

static void s_results_init(results_t *r, size_t n)
{
    r->code = malloc(n * sizeof *r->code);
    if (!r->code) exit(2);
    for (size_t i = 0; i < n; i++)
        r->code[i] = 1;
    r->n = n;
    atomic_store(&r->acked, 0);
    atomic_store(&r->nacked, 0);
    atomic_store(&r->dups, 0);
}

static void s_on_result(void *arg, const cx_result_t *res)
{
    results_t *r = arg;
    if (res->tag < r->n) r->code[res->tag] = res->code;
    if (res->code == 0)
        atomic_fetch_add(&r->acked, 1);
    else {
        if (atomic_fetch_add(&r->nacked, 1) < 5)
            fprintf(stderr, "nack tag %lu: %s: %s\n", (unsigned long)res->tag,
                    cx_err_name(res->code), res->reason ? res->reason : "");
    }
    if (res->duplicate) atomic_fetch_add(&r->dups, 1);
}

static cx_publisher_t *s_publisher(cxt_broker_t *b, results_t *r, const char *partner)
{
    /* A stalled broker fails an event after 3 x 5 s instead of hanging the test. */
    cx_publisher_opts_t o = {
        .window = 1000, .timeout_ms = 5000, .max_tries = 3, .partner = partner};
    cx_publisher_t *p = cx_publisher_new(b->pub_ep, &o);
    if (p) cx_publisher_on_result(p, s_on_result, r);
    return p;
}

/* Publishes the consents and flushes. true if every one was acked. */
static bool s_publish_consents(cx_publisher_t *pub, world_t *w, results_t *r)
{
    for (int j = 0; j < w->n_consents; j++)
        cx_publish_raw(pub, w->cev[j].data, w->cev[j].len, (uintptr_t)(w->n_events + j), NULL);
    if (cx_publisher_flush(pub, 30000) != 0) return false;
    for (int j = 0; j < w->n_consents; j++)
        if (r->code[w->n_events + j] != 0) return false;
    return true;
}

/* Publishes the events not acked yet (all, the first time), in order, and
 * flushes. Stops sending after 60 s so that a stalled broker fails the test
 * instead of hanging it. 0, or CX_E_TIMEOUT. */
static int s_publish_events(cx_publisher_t *pub, const world_t *w, const results_t *r)
{
    if (!pub) return CX_E_INVAL;
    int64_t deadline = cx_now_us() + 60 * 1000000LL;
    for (int k = 0; k < w->n_events && cx_now_us() < deadline; k++)
        if (r->code[k] != 0) cx_publish_raw(pub, w->ev[k].data, w->ev[k].len, (uintptr_t)k, NULL);
    return cx_publisher_flush(pub, 30000);
}

static int s_count_acked_events(const world_t *w, const results_t *r)
{
    int n = 0;
    for (int k = 0; k < w->n_events; k++)
        n += r->code[k] == 0;
    return n;
}

/* ---------------------------------------------------------------- receiving */

typedef struct {
    const world_t *w;
    const char *endpoint;
    int partner;
    pthread_t th;
    bool running;
    atomic_int stop;
    atomic_int n_unique; /* distinct events received */
    unsigned char *seen; /* per event: deliveries received (saturating) */
    long deliveries;
    int not_ev;         /* deliveries of an event that is not one of ours */
    int bad_customer;   /* event or context customer differs from the model's */
    int bad_route;      /* route name differs from the expected one */
    int no_consent;     /* a consent-required partner got a customer without consent */
    int leaks;          /* a context field outside `sees` */
    int missing_always; /* customer_id / version not delivered */
    int seq_disorder;   /* a seq not above the previous one */
    int errors;
    int pos_a, pos_b; /* evidence that what the partner sees does arrive */
    uint64_t last_seq;
    char first_problem[256];
} recv_t;

static void s_problem(recv_t *r, const char *fmt, const char *a, const char *b)
{
    if (r->first_problem[0]) return;
    snprintf(r->first_problem, sizeof r->first_problem, fmt, a ? a : "(null)", b ? b : "(null)");
}

static bool s_has_activity(const Cx__CustomerContext *c)
{
    return c->has_activity_count || c->last_activity || c->has_last_activity_at;
}

/* The first field outside the partner's `sees`, or NULL. */
static const char *s_leak(int p, const Cx__CustomerContext *c)
{
    if (c->n_offers) return "offers";
    if (c->n_consents) return "consents";
    switch (p) {
    case P_TRIP:
        if (c->n_attributes) return "attributes";
        if (s_has_activity(c)) return "activity";
        return NULL;
    case P_BANK:
        if (c->n_goals) return "goals";
        for (size_t i = 0; i < c->n_attributes; i++)
            if (!c->attributes[i]->key || strcmp(c->attributes[i]->key, "home_city") != 0)
                return "an attribute other than home_city";
        if (s_has_activity(c)) return "activity";
        return NULL;
    default:
        if (c->n_goals) return "goals";
        return NULL;
    }
}

static void s_positive(recv_t *r, const Cx__Event *ev, const Cx__CustomerContext *c)
{
    switch (r->partner) {
    case P_TRIP: /* the milestone's goal, with its milestones */
        for (size_t i = 0; i < c->n_goals; i++)
            if (ev->milestone && c->goals[i]->goal_id &&
                strcmp(c->goals[i]->goal_id, ev->milestone->goal_id) == 0 &&
                c->goals[i]->n_milestones)
                r->pos_a++;
        break;
    case P_BANK: r->pos_a += c->n_attributes == 1; break;
    default:
        r->pos_a += c->has_activity_count;
        for (size_t i = 0; i < c->n_attributes; i++)
            r->pos_b += strcmp(c->attributes[i]->key, "tier") == 0;
        break;
    }
}

static void s_check_delivery(recv_t *r, const Cx__Delivery *d)
{
    const world_t *w = r->w;
    r->deliveries++;
    if (d->seq <= r->last_seq) r->seq_disorder++;
    r->last_seq = d->seq;
    Cx__Event *ev = cx__event__unpack(NULL, d->event.len, d->event.data);
    int k = -1;
    if (!ev || !ev->event_id || sscanf(ev->event_id, "ev-%d", &k) != 1 || k < 0 ||
        k >= w->n_events) {
        r->not_ev++;
        s_problem(r, "delivery of an unknown event %s%s", ev ? ev->event_id : "?", "");
        goto done;
    }
    const expect_t *x = &w->exp[k];
    char cid[32];
    s_cid(cid, sizeof cid, x->customer);
    const Cx__CustomerContext *c = d->context;
    if (!ev->customer_id || strcmp(ev->customer_id, cid) != 0 || !c || !c->customer_id ||
        strcmp(c->customer_id, cid) != 0) {
        r->bad_customer++;
        s_problem(r, "event %s: customer is not the model's %s", ev->event_id, cid);
    }
    int route = -1;
    for (int i = 0; i < N_ROUTES; i++)
        if (d->route && strcmp(d->route, s_route[i]) == 0) route = i;
    if (route != x->route[r->partner]) {
        r->bad_route++;
        s_problem(r, "event %s came by route %s", ev->event_id, d->route);
    }
    if (r->partner != P_CRM && !w->cust[x->customer].consent[r->partner]) {
        r->no_consent++;
        s_problem(r, "event %s of %s, a customer without consent", ev->event_id, cid);
    }
    if (c) {
        const char *leak = s_leak(r->partner, c);
        if (leak) {
            r->leaks++;
            s_problem(r, "event %s: the context holds %s", ev->event_id, leak);
        }
        if (!c->customer_id || !c->has_version || c->version == 0) r->missing_always++;
        s_positive(r, ev, c);
    }
    if (r->seen[k] == 0) atomic_fetch_add(&r->n_unique, 1);
    if (r->seen[k] < 255) r->seen[k]++;
done:
    if (ev) cx__event__free_unpacked(ev, NULL);
}

static void *s_recv_main(void *arg)
{
    recv_t *r = arg;
    cx_subscriber_t *sub = cx_subscriber_new(r->endpoint, s_partner[r->partner], NULL);
    if (!sub) {
        r->errors++;
        return NULL;
    }
    r->last_seq = 0; /* a new subscriber: the broker may resend from its cursor */
    while (!atomic_load(&r->stop)) {
        Cx__Delivery *d = NULL;
        int rc = cx_subscriber_next(sub, 100, &d);
        if (rc == CX_E_TIMEOUT) continue;
        if (rc) {
            if (r->errors++ == 0) s_problem(r, "subscriber: %s%s", cx_strerror(rc), "");
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            continue;
        }
        s_check_delivery(r, d);
        cx_subscriber_ack(sub, d->seq);
        cx_delivery_free(d);
    }
    cx_subscriber_destroy(&sub);
    return NULL;
}

static void s_recv_init(recv_t *r, const world_t *w, cxt_broker_t *b, int partner)
{
    memset(r, 0, sizeof *r);
    r->w = w;
    r->endpoint = b->deliver_ep;
    r->partner = partner;
    r->seen = calloc((size_t)w->n_events, 1);
    if (!r->seen) exit(2);
}

static void s_recv_start(recv_t *r)
{
    atomic_store(&r->stop, 0);
    r->running = pthread_create(&r->th, NULL, s_recv_main, r) == 0;
    if (!r->running) r->errors++;
}

static void s_recv_stop(recv_t *r)
{
    if (!r->running) return;
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
    r->running = false;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits until each receiver has every event it expects, or WAIT_MS pass; then
 * a little longer, so that anything extra has a chance to show. */
static bool s_wait_complete(recv_t *const *rs, int n)
{
    int64_t deadline = cx_now_us() + (int64_t)WAIT_MS * 1000;
    bool done = false;
    while (!done && cx_now_us() < deadline) {
        done = true;
        for (int i = 0; i < n; i++)
            done &= atomic_load(&rs[i]->n_unique) >= rs[i]->w->expected[rs[i]->partner];
        if (!done) s_sleep_ms(20);
    }
    s_sleep_ms(300);
    return done;
}

/* Checks a receiver's set against the model: exactly the expected events
 * (dups_ok: an event may arrive more than once), and every per-delivery check. */
static void s_check_recv(const recv_t *r, const char *what, bool dups_ok)
{
    const world_t *w = r->w;
    const char *p = s_partner[r->partner];
    int missing = 0, extra = 0, dups = 0, first_missing = -1, first_extra = -1;
    for (int k = 0; k < w->n_events; k++) {
        bool want = w->exp[k].route[r->partner] >= 0;
        if (want && !r->seen[k] && missing++ == 0) first_missing = k;
        if (!want && r->seen[k] && extra++ == 0) first_extra = k;
        dups += r->seen[k] > 1;
    }
    CXT_CHECK(missing == 0 && extra == 0,
              "%s: %s received exactly its %d expected events (missing %d, first #%d; extra %d, "
              "first #%d)",
              what, p, w->expected[r->partner], missing, first_missing, extra, first_extra);
    if (!dups_ok)
        CXT_CHECK(dups == 0 && r->seq_disorder == 0,
                  "%s: %s: no event twice, seqs increasing (%d twice, %d out of order)", what, p,
                  dups, r->seq_disorder);
    else
        cxt_note("%s: %s: %d events delivered more than once (allowed)", what, p, dups);
    CXT_CHECK(r->not_ev == 0 && r->bad_customer == 0 && r->errors == 0,
              "%s: %s: every delivery is one of ours, for the model's customer (%d unknown, "
              "%d wrong customer, %d errors) %s",
              what, p, r->not_ev, r->bad_customer, r->errors, r->first_problem);
    CXT_CHECK(r->bad_route == 0,
              "%s: %s: each came by the first route that reaches it (%d wrong) %s", what, p,
              r->bad_route, r->first_problem);
    CXT_CHECK(
        r->leaks == 0 && r->missing_always == 0,
        "%s: %s: no context field outside its sees (%d leaks, %d without customer_id/version) %s",
        what, p, r->leaks, r->missing_always, r->first_problem);
    if (r->partner != P_CRM)
        CXT_CHECK(r->no_consent == 0, "%s: %s: no customer without consent (%d) %s", what, p,
                  r->no_consent, r->first_problem);
}

/* ---------------------------------------------------------------- admin */

typedef struct {
    bool found, connected;
    uint64_t cursor, head, backlog, in_flight;
} pstat_t;

static pstat_t s_pstat(cxt_broker_t *b, const char *partner)
{
    pstat_t s = {0};
    Cx__AdminReply *r = cxt_admin(b, "partners", NULL);
    for (size_t i = 0; r && i < r->n_partners; i++) {
        const Cx__PartnerStatus *ps = r->partners[i];
        if (!ps->partner_id || strcmp(ps->partner_id, partner) != 0) continue;
        s = (pstat_t){true, ps->connected, ps->cursor, ps->head, ps->backlog, ps->in_flight};
    }
    if (r) cx__admin_reply__free_unpacked(r, NULL);
    return s;
}

/* Polls until the partner's backlog is 0 (its acks reached the broker), up to 5 s. */
static pstat_t s_wait_drained(cxt_broker_t *b, const char *partner)
{
    pstat_t s = {0};
    for (int i = 0; i < 100; i++) {
        s = s_pstat(b, partner);
        if (s.found && s.backlog == 0 && s.in_flight == 0) break;
        s_sleep_ms(50);
    }
    return s;
}

static json_int_t s_jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* `cxctl partners` prints every partner with connected, cursor, backlog and in_flight. */
static void s_test_cxctl_partners(cxt_broker_t *b, const world_t *w)
{
    char cmd[700], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -a %s partners", cxt_bin("cxctl"), b->admin_ep);
    int st = cxt_run(cmd, &out);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    json_t *list = j ? json_object_get(j, "partners") : NULL;
    CXT_CHECK(st == 0 && json_is_array(list) && json_array_size(list) == N_PARTNERS,
              "cxctl partners exits 0 and prints %d partners", N_PARTNERS);
    for (int p = 0; p < N_PARTNERS; p++) {
        json_t *e = NULL;
        for (size_t i = 0; list && i < json_array_size(list); i++) {
            json_t *id = json_object_get(json_array_get(list, i), "partner_id");
            if (json_is_string(id) && strcmp(json_string_value(id), s_partner[p]) == 0)
                e = json_array_get(list, i);
        }
        json_t *conn = e ? json_object_get(e, "connected") : NULL;
        CXT_CHECK(
            e && json_is_true(conn) && s_jint(e, "cursor") == w->expected[p] &&
                s_jint(e, "backlog") == 0 && s_jint(e, "in_flight") == 0,
            "cxctl partners: %s connected, cursor %d, backlog 0, in_flight 0 (got connected %s, "
            "cursor %lld, backlog %lld, in_flight %lld)",
            s_partner[p], w->expected[p], conn ? (json_is_true(conn) ? "true" : "false") : "absent",
            e ? (long long)s_jint(e, "cursor") : -1, e ? (long long)s_jint(e, "backlog") : -1,
            e ? (long long)s_jint(e, "in_flight") : -1);
    }
    if (st != 0 || !list) fprintf(stderr, "cxctl partners printed:\n%s\n", out ? out : "(nothing)");
    json_decref(j);
    free(out);
}

static bool s_start(cxt_broker_t *b, const char *what)
{
    if (cxt_broker_init(b, s_config) != 0 || cxt_broker_start(b) != 0) {
        CXT_CHECK(false, "%s: broker starts (see %s/broker.log)", what, b->dir);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- claims */

/* 50,000 events for 5,000 customers with mixed consents, every partner connected. */
static void s_test_all_connected(void)
{
    const char *T = "all_connected";
    cxt_broker_t b;
    if (!s_start(&b, T)) return;
    world_t w;
    uint64_t rng = 2024;
    s_world_init(&w, 5000, 50000);
    s_gen_consents(&w, &rng);
    s_gen_events(&w, &rng);
    cxt_note("%s: expected trip-insurer %d, bank %d, crm %d", T, w.expected[P_TRIP],
             w.expected[P_BANK], w.expected[P_CRM]);
    results_t res;
    s_results_init(&res, (size_t)(w.n_events + w.n_consents));
    cx_publisher_t *pub = s_publisher(&b, &res, NULL);
    CXT_CHECK(pub && s_publish_consents(pub, &w, &res), "%s: %d consent events acked", T,
              w.n_consents);

    recv_t r[N_PARTNERS], *rs[N_PARTNERS];
    for (int p = 0; p < N_PARTNERS; p++) {
        s_recv_init(&r[p], &w, &b, p);
        rs[p] = &r[p];
        s_recv_start(&r[p]);
    }
    int64_t t0 = cx_now_us();
    int rc = s_publish_events(pub, &w, &res);
    cxt_note("%s: published %d events in %.2f s", T, w.n_events, (double)(cx_now_us() - t0) / 1e6);
    CXT_CHECK(rc == 0 && s_count_acked_events(&w, &res) == w.n_events, "%s: all %d events acked", T,
              w.n_events);
    bool done = s_wait_complete(rs, N_PARTNERS);
    cxt_note("%s: delivered in %.2f s since the publish began", T,
             (double)(cx_now_us() - t0) / 1e6);
    CXT_CHECK(done, "%s: every partner reaches its expected count", T);
    for (int p = 0; p < N_PARTNERS; p++) {
        pstat_t s = s_wait_drained(&b, s_partner[p]);
        CXT_CHECK(
            s.found && s.head == (uint64_t)w.expected[p] && s.cursor == s.head,
            "%s: %s stream head %d = the model's count, cursor at head (head %llu, cursor %llu)", T,
            s_partner[p], w.expected[p], (unsigned long long)s.head, (unsigned long long)s.cursor);
    }
    s_test_cxctl_partners(&b, &w);
    for (int p = 0; p < N_PARTNERS; p++)
        s_recv_stop(&r[p]);
    for (int p = 0; p < N_PARTNERS; p++)
        s_check_recv(&r[p], T, false);
    CXT_CHECK(
        r[P_TRIP].pos_a > 0 && r[P_BANK].pos_a > 0 && r[P_CRM].pos_a > 0 && r[P_CRM].pos_b > 0,
        "%s: what each partner sees does arrive (trip goals with milestones %d, bank home_city %d, "
        "crm activity %d, crm tier %d)",
        T, r[P_TRIP].pos_a, r[P_BANK].pos_a, r[P_CRM].pos_a, r[P_CRM].pos_b);
    cx_publisher_destroy(&pub);
    CXT_CHECK(cxt_broker_stop(&b) == 0, "%s: SIGTERM: broker exits 0", T);
    for (int p = 0; p < N_PARTNERS; p++)
        free(r[p].seen);
    free(res.code);
    s_world_free(&w);
    cxt_broker_cleanup(&b);
}

/* One partner reads nothing during the publish and connects afterwards. */
static void s_test_slow_partner(void)
{
    const char *T = "slow_partner";
    cxt_broker_t b;
    if (!s_start(&b, T)) return;
    world_t w;
    uint64_t rng = 77;
    s_world_init(&w, 2000, 20000);
    s_gen_consents(&w, &rng);
    s_gen_events(&w, &rng);
    results_t res;
    s_results_init(&res, (size_t)(w.n_events + w.n_consents));
    cx_publisher_t *pub = s_publisher(&b, &res, NULL);
    CXT_CHECK(pub && s_publish_consents(pub, &w, &res), "%s: consents acked", T);
    recv_t r[N_PARTNERS];
    for (int p = 0; p < N_PARTNERS; p++)
        s_recv_init(&r[p], &w, &b, p);
    s_recv_start(&r[P_TRIP]);
    s_recv_start(&r[P_CRM]);
    int rc = s_publish_events(pub, &w, &res);
    CXT_CHECK(rc == 0 && s_count_acked_events(&w, &res) == w.n_events,
              "%s: the publisher completes (%d events acked) while bank reads nothing", T,
              w.n_events);
    recv_t *fast[2] = {&r[P_TRIP], &r[P_CRM]};
    CXT_CHECK(s_wait_complete(fast, 2),
              "%s: trip-insurer and crm complete while bank reads nothing", T);
    pstat_t s = s_pstat(&b, "bank");
    CXT_CHECK(s.found && !s.connected && s.cursor == 0 && s.head == (uint64_t)w.expected[P_BANK] &&
                  s.backlog == s.head,
              "%s: bank not connected, its %d events queued (connected %d, cursor %llu, head %llu, "
              "backlog %llu)",
              T, w.expected[P_BANK], s.connected, (unsigned long long)s.cursor,
              (unsigned long long)s.head, (unsigned long long)s.backlog);
    s_recv_start(&r[P_BANK]);
    recv_t *slow[1] = {&r[P_BANK]};
    CXT_CHECK(s_wait_complete(slow, 1), "%s: bank catches up", T);
    s = s_wait_drained(&b, "bank");
    CXT_CHECK(s.backlog == 0 && s.cursor == (uint64_t)w.expected[P_BANK],
              "%s: bank's cursor reaches its head (cursor %llu)", T, (unsigned long long)s.cursor);
    for (int p = 0; p < N_PARTNERS; p++)
        s_recv_stop(&r[p]);
    for (int p = 0; p < N_PARTNERS; p++)
        s_check_recv(&r[p], T, false);
    cx_publisher_destroy(&pub);
    for (int p = 0; p < N_PARTNERS; p++)
        free(r[p].seen);
    free(res.code);
    s_world_free(&w);
    cxt_broker_cleanup(&b);
}

/* Publishes one hand-made event and waits for its outcome. */
static int s_publish_one(cx_publisher_t *pub, results_t *res, uintptr_t tag, const Cx__Event *ev)
{
    if (cx_publish(pub, ev, tag, NULL) != 0) return CX_E_ZMQ;
    cx_publisher_flush(pub, 10000);
    return tag < res->n ? res->code[tag] : 1;
}

/* Stores event k of a hand-built world and sets who must get it. */
static void s_put(world_t *w, int k, int c, const evbuf_t *e, int trip_route)
{
    w->exp[k].customer = c;
    for (int p = 0; p < N_PARTNERS; p++)
        w->exp[k].route[p] = -1;
    w->exp[k].route[P_TRIP] = (signed char)trip_route;
    w->expected[P_TRIP] += trip_route >= 0;
    s_encode(&w->ev[k], &e->ev);
}

/* Revocation (and expiry) between routing and delivery: the partner is not
 * connected while a's and e's events queue; a revokes travel, e's grant
 * expires; d revokes travel but still has a grant for the partner's id. When
 * the partner connects, none of a's or e's events arrive, all of b's and d's do,
 * and its cursor still reaches the head past the skipped tail. */
static void s_test_revoked_skipped(cxt_broker_t *b)
{
    const char *T = "revoked_skipped";
    enum { A, B, D, E, N_CUST };
    const int per = 30, tail = 10, n_e = 5;
    world_t w;
    s_world_init(&w, N_CUST, per * 3 + n_e + tail);
    w.cust[B].consent[P_TRIP] = w.cust[D].consent[P_TRIP] = true; /* as it is at delivery time */
    results_t res;
    s_results_init(&res, 1000);
    cx_publisher_t *pub = s_publisher(b, &res, NULL);
    int64_t expiry = cx_now_us() + 1500000;
    struct {
        int c;
        const char *scope;
        bool exp;
    } grants[] = {{A, "travel", false},
                  {B, "trip-insurer", false},
                  {D, "travel", false},
                  {D, "trip-insurer", false},
                  {E, "travel", true}};
    evbuf_t e;
    char id[48], cid[32];
    int tag = 500, bad = 0;
    for (size_t i = 0; i < sizeof grants / sizeof grants[0]; i++) {
        snprintf(id, sizeof id, "rv-grant-%zu", i);
        s_cid(cid, sizeof cid, grants[i].c);
        s_ev(&e, id, cid, "consent.granted");
        s_ev_consent(&e, grants[i].scope, grants[i].exp, expiry);
        cx_publish(pub, &e.ev, (uintptr_t)tag++, NULL);
    }
    for (int c = 0; c < N_CUST; c++) {
        snprintf(id, sizeof id, "rv-goal-%d", c);
        s_cid(cid, sizeof cid, c);
        s_ev(&e, id, cid, "goal.set");
        s_ev_goal(&e, "g1", "travel", "Lisbon trip");
        cx_publish(pub, &e.ev, (uintptr_t)tag++, NULL);
    }
    /* a, b, d interleaved; then e's; then a tail of a's only */
    int k = 0;
    for (int i = 0; i < per * 3 + n_e + tail; i++) {
        int c = i < per * 3 ? (int[]){A, B, D}[i % 3] : i < per * 3 + n_e ? E : A;
        snprintf(id, sizeof id, "ev-%07d", k);
        s_cid(cid, sizeof cid, c);
        s_ev(&e, id, cid, "milestone.reached");
        s_ev_milestone(&e, "g1", "flights-booked");
        s_put(&w, k, c, &e, c == B || c == D ? R_TRIP_MILESTONES : -1);
        cx_publish_raw(pub, w.ev[k].data, w.ev[k].len, (uintptr_t)k, NULL);
        k++;
    }
    const int revokers[] = {A, D};
    for (int i = 0; i < 2; i++) { /* a and d revoke travel */
        int c = revokers[i];
        snprintf(id, sizeof id, "rv-revoke-%d", c);
        s_cid(cid, sizeof cid, c);
        s_ev(&e, id, cid, "consent.revoked");
        s_ev_consent(&e, "travel", false, 0);
        cx_publish(pub, &e.ev, (uintptr_t)tag++, NULL);
    }
    int rc = cx_publisher_flush(pub, 30000);
    for (int t = 0; t < tag; t++)
        bad += (t < k || t >= 500) && res.code[t] != 0;
    CXT_CHECK(rc == 0 && bad == 0, "%s: grants, goals, %d milestones and revokes acked", T, k);
    pstat_t before = s_pstat(b, "trip-insurer");
    cxt_note("%s: trip-insurer head %llu before it connects", T, (unsigned long long)before.head);
    CXT_CHECK(!before.connected && before.head >= (uint64_t)(per * 3 + tail),
              "%s: a's, b's and d's milestones are queued for the unconnected partner (head %llu)",
              T, (unsigned long long)before.head);
    while (cx_now_us() <= expiry + 200000)
        s_sleep_ms(50); /* e's grant is now expired */
    int64_t skipped0 = cxt_stat(b, "deliveries_skipped");
    recv_t r;
    s_recv_init(&r, &w, b, P_TRIP);
    s_recv_start(&r);
    recv_t *rs[1] = {&r};
    CXT_CHECK(s_wait_complete(rs, 1), "%s: b's and d's %d events arrive", T, per * 2);
    s_recv_stop(&r);
    pstat_t s = s_wait_drained(b, "trip-insurer");
    s_check_recv(&r, T, false);
    int got_a = 0, got_e = 0;
    for (int i = 0; i < k; i++) {
        got_a += r.seen[i] && w.exp[i].customer == A;
        got_e += r.seen[i] && w.exp[i].customer == E;
    }
    CXT_CHECK(
        got_a == 0 && got_e == 0,
        "%s: none of the revoking customer's (%d) or the expired customer's (%d) events delivered",
        T, got_a, got_e);
    int64_t skipped = cxt_stat(b, "deliveries_skipped") - skipped0;
    /* Exactly once each: an idle subscriber's hello is a keepalive and walks
     * nothing again. */
    CXT_CHECK(skipped == (int64_t)(before.head - (uint64_t)(per * 2)),
              "%s: stats count each queued event of a and e as skipped once (%lld, expected %llu)",
              T, (long long)skipped, (unsigned long long)(before.head - (uint64_t)(per * 2)));
    CXT_CHECK(s.backlog == 0 && s.cursor == before.head,
              "%s: the cursor reaches the head past the skipped tail (cursor %llu, head %llu)", T,
              (unsigned long long)s.cursor, (unsigned long long)before.head);
    cx_publisher_destroy(&pub);
    free(r.seen);
    free(res.code);
    s_world_free(&w);
}

/* Publishes one consent event for customer c and waits for its ack. */
static int s_consent_now(cx_publisher_t *pub, results_t *res, uintptr_t tag, const char *id, int c,
                         const char *type, const char *scope)
{
    evbuf_t e;
    char cid[32];
    s_cid(cid, sizeof cid, c);
    s_ev(&e, id, cid, type);
    s_ev_consent(&e, scope, false, 0);
    return s_publish_one(pub, res, tag, &e.ev);
}

/* Receives on sub for ms milliseconds, acking; counts deliveries per customer
 * index (customers 10 and 11 of this block). */
static void s_drain_for(cx_subscriber_t *sub, int ms, int *got_f, int *got_g)
{
    int64_t end = cx_now_us() + (int64_t)ms * 1000;
    while (cx_now_us() < end) {
        Cx__Delivery *d = NULL;
        if (cx_subscriber_next(sub, 100, &d) != 0) continue;
        Cx__Event *ev = cx__event__unpack(NULL, d->event.len, d->event.data);
        if (ev && ev->customer_id && strcmp(ev->customer_id, "cu-00010") == 0) (*got_f)++;
        if (ev && ev->customer_id && strcmp(ev->customer_id, "cu-00011") == 0) (*got_g)++;
        if (ev) cx__event__free_unpacked(ev, NULL);
        cx_subscriber_ack(sub, d->seq);
        cx_delivery_free(d);
    }
}

/* A skipped delivery is final, like an acked one: the cursor has passed it.
 * f keeps consent, g revokes; g's queued events are skipped while the partner
 * reads f's. Then the partner's subscriber stays connected and idle (libcx says
 * hello again after each idle second), and later g grants consent again: the
 * skipped events must neither be walked again nor delivered. */
static void s_test_skips_stay_skipped(cxt_broker_t *b)
{
    const char *T = "skips_stay_skipped";
    enum { F = 10, G = 11, N = 3 };
    results_t res;
    s_results_init(&res, 64);
    cx_publisher_t *pub = s_publisher(b, &res, NULL);
    int bad = 0, tag = 0;
    char id[48], cid[32];
    evbuf_t e;
    bad += s_consent_now(pub, &res, tag++, "sk-grant-f", F, "consent.granted", "travel") != 0;
    bad += s_consent_now(pub, &res, tag++, "sk-grant-g", G, "consent.granted", "travel") != 0;
    for (int c = F; c <= G; c++) {
        snprintf(id, sizeof id, "sk-goal-%d", c);
        s_cid(cid, sizeof cid, c);
        s_ev(&e, id, cid, "goal.set");
        s_ev_goal(&e, "g1", "travel", "Rome");
        bad += s_publish_one(pub, &res, tag++, &e.ev) != 0;
    }
    for (int i = 0; i < 2 * N; i++) { /* f's first, then g's: the skips are the tail */
        int c = i < N ? F : G;
        snprintf(id, sizeof id, "sk-ms-%d", i);
        s_cid(cid, sizeof cid, c);
        s_ev(&e, id, cid, "milestone.reached");
        s_ev_milestone(&e, "g1", "flights-booked");
        bad += s_publish_one(pub, &res, tag++, &e.ev) != 0;
    }
    bad += s_consent_now(pub, &res, tag++, "sk-revoke-g", G, "consent.revoked", "travel") != 0;
    CXT_CHECK(bad == 0, "%s: grants, goals, milestones and the revoke acked", T);
    pstat_t s0 = s_pstat(b, "trip-insurer");

    cx_subscriber_t *sub = cx_subscriber_new(b->deliver_ep, "trip-insurer", NULL);
    int got_f = 0, got_g = 0;
    for (int i = 0; sub && i < 100 && got_f < N; i++)
        s_drain_for(sub, 100, &got_f, &got_g);
    pstat_t s1 = s_wait_drained(b, "trip-insurer");
    int64_t skipped1 = cxt_stat(b, "deliveries_skipped");
    CXT_CHECK(
        got_f == N && got_g == 0 && s1.cursor == s0.head,
        "%s: f's %d arrive, g's %d are skipped, the cursor passes them (cursor %llu, head %llu)", T,
        got_f, N, (unsigned long long)s1.cursor, (unsigned long long)s0.head);

    s_drain_for(sub, 2500, &got_f, &got_g); /* connected and idle */
    int64_t skipped2 = cxt_stat(b, "deliveries_skipped");
    pstat_t s2 = s_pstat(b, "trip-insurer");
    CXT_CHECK(skipped2 == skipped1 && s2.cursor == s0.head,
              "%s: an idle subscriber does not make the broker walk the skipped events again "
              "(deliveries_skipped +%lld in 2.5 s idle; cursor %llu)",
              T, (long long)(skipped2 - skipped1), (unsigned long long)s2.cursor);

    int code = s_consent_now(pub, &res, tag++, "sk-regrant-g", G, "consent.granted", "travel");
    s_drain_for(sub, 2000, &got_f, &got_g);
    CXT_CHECK(code == 0 && got_g == 0,
              "%s: g's skipped events stay skipped after g grants consent again (%d delivered)", T,
              got_g);
    cx_subscriber_destroy(&sub);
    cx_publisher_destroy(&pub);
    free(res.code);
}

static const Cx__OfferState *s_find_offer(const Cx__CustomerContext *c, const char *offer_id)
{
    for (size_t i = 0; c && i < c->n_offers; i++)
        if (c->offers[i]->offer_id && strcmp(c->offers[i]->offer_id, offer_id) == 0)
            return c->offers[i];
    return NULL;
}

/* A partner publishes what its may_publish allows, stamped with its id; nothing else. */
static void s_test_partner_publish(cxt_broker_t *b)
{
    const char *T = "partner_publish";
    results_t res;
    s_results_init(&res, 16);
    evbuf_t e;
    char cid[32];
    s_cid(cid, sizeof cid, 1); /* customer b of the revocation test: has goal g1 */

    cx_publisher_t *pub = s_publisher(b, &res, "trip-insurer");
    s_ev(&e, "pp-offer-1", cid, "offer.made");
    cx__offer__init(&e.offer);
    e.offer.offer_id = "trip-cover-1";
    e.offer.goal_id = "g1";
    e.offer.title = "Trip cover";
    e.offer.partner = "bank"; /* a false claim: the broker stamps the publisher's id */
    e.ev.payload_case = CX__EVENT__PAYLOAD_OFFER;
    e.ev.offer = &e.offer;
    int code = s_publish_one(pub, &res, 0, &e.ev);
    CXT_CHECK(code == 0, "%s: offer.made as trip-insurer is acked (%s)", T, cx_err_name(code));
    Cx__AdminReply *r = cxt_admin(b, "context", cid);
    const Cx__OfferState *o = s_find_offer(r ? r->context : NULL, "trip-cover-1");
    CXT_CHECK(o && o->partner && strcmp(o->partner, "trip-insurer") == 0 && o->status &&
                  strcmp(o->status, "made") == 0,
              "%s: the offer is in the customer's context with partner trip-insurer (partner %s)",
              T, o && o->partner ? o->partner : "(none)");
    if (r) cx__admin_reply__free_unpacked(r, NULL);

    s_ev(&e, "pp-goal-1", cid, "goal.set");
    s_ev_goal(&e, "g9", "travel", "not yours to set");
    code = s_publish_one(pub, &res, 1, &e.ev);
    CXT_CHECK(code == CX_E_NOT_PERMITTED,
              "%s: goal.set as trip-insurer is nacked CX_E_NOT_PERMITTED (%s)", T,
              cx_err_name(code));
    r = cxt_admin(b, "context", cid);
    bool has_g9 = false;
    for (size_t i = 0; r && r->context && i < r->context->n_goals; i++)
        has_g9 |= strcmp(r->context->goals[i]->goal_id, "g9") == 0;
    CXT_CHECK(r && r->context && !has_g9, "%s: the refused goal.set changed nothing", T);
    if (r) cx__admin_reply__free_unpacked(r, NULL);
    cx_publisher_destroy(&pub);

    pub = s_publisher(b, &res, "no-such-partner");
    s_ev(&e, "pp-offer-2", cid, "offer.made");
    cx__offer__init(&e.offer);
    e.offer.offer_id = "ghost-1";
    e.ev.payload_case = CX__EVENT__PAYLOAD_OFFER;
    e.ev.offer = &e.offer;
    code = s_publish_one(pub, &res, 2, &e.ev);
    CXT_CHECK(code == CX_E_UNKNOWN_PARTNER,
              "%s: an unknown partner is nacked CX_E_UNKNOWN_PARTNER (%s)", T, cx_err_name(code));
    cx_publisher_destroy(&pub);
    free(res.code);
}

/* kill -9 while publishing and delivering; restart; re-publish what was not acked. */
static void s_test_crash_no_loss(void)
{
    const char *T = "crash_no_loss";
    cxt_broker_t b;
    if (!s_start(&b, T)) return;
    world_t w;
    uint64_t rng = 99;
    s_world_init(&w, 2000, 20000);
    s_gen_consents(&w, &rng);
    s_gen_events(&w, &rng);
    results_t res;
    s_results_init(&res, (size_t)(w.n_events + w.n_consents));
    cx_publisher_t *pub = s_publisher(&b, &res, NULL);
    CXT_CHECK(pub && s_publish_consents(pub, &w, &res), "%s: consents acked", T);
    recv_t r[N_PARTNERS], *rs[N_PARTNERS];
    for (int p = 0; p < N_PARTNERS; p++) {
        s_recv_init(&r[p], &w, &b, p);
        rs[p] = &r[p];
        s_recv_start(&r[p]);
    }
    const unsigned long long kill_at = atomic_load(&res.acked) + 6000;
    bool killed = false;
    int sent = 0;
    int64_t deadline = cx_now_us() + 60 * 1000000LL;
    for (int k = 0; pub && k < w.n_events && !killed && cx_now_us() < deadline; k++) {
        cx_publish_raw(pub, w.ev[k].data, w.ev[k].len, (uintptr_t)k, NULL);
        sent++;
        if (atomic_load(&res.acked) >= kill_at) {
            cxt_broker_kill9(&b);
            killed = true;
        }
    }
    int got_before = 0;
    for (int p = 0; p < N_PARTNERS; p++)
        got_before += atomic_load(&r[p].n_unique);
    int acked_before = s_count_acked_events(&w, &res);
    cxt_note("%s: killed after %d sent, %d acked, %d delivered", T, sent, acked_before, got_before);
    CXT_CHECK(killed && sent < w.n_events && got_before > 0,
              "%s: kill -9 while publishing (%d of %d sent) and delivering (%d delivered)", T, sent,
              w.n_events, got_before);
    /* bank and crm get new subscribers; trip-insurer keeps its own, which says
     * hello again to the new broker after a second of silence. */
    s_recv_stop(&r[P_BANK]);
    s_recv_stop(&r[P_CRM]);
    cx_publisher_destroy(&pub);

    CXT_CHECK(cxt_broker_start(&b) == 0, "%s: broker restarts on the same dir", T);
    s_recv_start(&r[P_BANK]);
    s_recv_start(&r[P_CRM]);
    pub = s_publisher(&b, &res, NULL);
    int republished = w.n_events - s_count_acked_events(&w, &res);
    int rc = s_publish_events(pub, &w, &res);
    CXT_CHECK(rc == 0 && s_count_acked_events(&w, &res) == w.n_events,
              "%s: after re-publishing %d events not acked, all %d are acked (%llu as duplicates)",
              T, republished, w.n_events, (unsigned long long)atomic_load(&res.dups));
    CXT_CHECK(cxt_stat(&b, "log_events") == w.n_events + w.n_consents,
              "%s: the log holds each event once (%lld, expected %d)", T,
              (long long)cxt_stat(&b, "log_events"), w.n_events + w.n_consents);
    CXT_CHECK(s_wait_complete(rs, N_PARTNERS), "%s: every partner reaches its expected count", T);
    for (int p = 0; p < N_PARTNERS; p++)
        s_recv_stop(&r[p]);
    for (int p = 0; p < N_PARTNERS; p++)
        s_check_recv(&r[p], T, true);
    cx_publisher_destroy(&pub);
    CXT_CHECK(cxt_broker_stop(&b) == 0, "%s: SIGTERM: broker exits 0", T);
    for (int p = 0; p < N_PARTNERS; p++)
        free(r[p].seen);
    free(res.code);
    s_world_free(&w);
    cxt_broker_cleanup(&b);
}

int main(void)
{
    cxt_begin("it_delivery");
    s_test_all_connected();
    s_test_slow_partner();
    cxt_broker_t b;
    if (s_start(&b, "revoked_skipped")) {
        s_test_revoked_skipped(&b);
        s_test_skips_stay_skipped(&b);
        s_test_partner_publish(&b);
        cxt_broker_cleanup(&b);
    }
    s_test_crash_no_loss();
    return cxt_end();
}
