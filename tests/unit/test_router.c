/* test_router.c - the router, the consent gate, the field filter and the glob matcher.
 *
 * The one idea: every claim is a row in a table, and every row is its own
 * cmocka test named for that claim. A routing row describes a small config (up
 * to three routes over four fixed partners), an event, the customer's context
 * after it and the clock, and expects the deliveries as "partner@route" in the
 * order made. A filter row names a partner's `sees` and expects exactly which
 * fields of a context holding every kind of field survive a pack/unpack round
 * trip. Configs are built by hand in C, independent of the YAML loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "cx_arena.h"
#include "cx_error.h"
#include "cx_event.h"
#include "router.h"

#define SEC 1000000LL
#define DAY (86400LL * SEC)
#define NOW (1800000000LL * SEC) /* 2027-01-15 */
#define MAX_LIST 4

/* ---- the fixed partners ---- */

static char *s_acme_categories[] = {"travel"};
static char *s_bank_categories[] = {"money"};
static char *s_hotels_categories[] = {"travel", "lodging"};

static cx_partner_cfg_t s_partners[] = {
    {.id = "acme", .categories = s_acme_categories, .n_categories = 1},
    {.id = "bank", .categories = s_bank_categories, .n_categories = 1},
    {.id = "hotels", .categories = s_hotels_categories, .n_categories = 2},
    {.id = "crm"}, /* a brand-internal service: no categories */
};
#define N_PARTNERS (sizeof s_partners / sizeof s_partners[0])

static size_t s_partner_index(const char *id)
{
    for (size_t i = 0; i < N_PARTNERS; i++)
        if (strcmp(s_partners[i].id, id) == 0) return i;
    fail_msg("unknown partner in test table: %s", id);
    return 0;
}

/* ---- the routing table ---- */

typedef struct {
    const char *type, *source, *category, *milestone; /* match globs; NULL: any */
    const char *attr_key, *attr_glob;                 /* one attributes.KEY match */
    const char *within;                               /* goal.deadline_within: "30d" */
    const char *at_least, *below;                     /* goal.progress_*: "0.5" */
    const char *has[MAX_LIST], *missing[MAX_LIST];    /* NULL-terminated */
    const char *to;                                   /* "acme bank" */
    int no_consent;                                   /* consent: not-required */
} route_row_t;

typedef struct {
    const char *type, *source, *goal_id, *milestone, *offer_id;
} event_row_t;

typedef struct {
    const char *id, *category, *status;
    int64_t deadline; /* 0: none */
    double target, progress;
} goal_row_t;

typedef struct {
    const char *scope;
    int64_t expires_at; /* 0: no expiry */
} consent_row_t;

enum { CONSENT_ALL = 0, CONSENT_LISTED };

typedef struct {
    const char *name;
    route_row_t routes[3]; /* ends at the first route with to == NULL */
    event_row_t ev;
    goal_row_t goals[3];  /* none given: the default goals */
    const char *attrs[6]; /* "key=value"; none given: the default attributes; "-": none */
    int consent_mode;     /* CONSENT_ALL: every partner id granted */
    consent_row_t consents[4];
    int64_t now;        /* 0: NOW */
    const char *expect; /* "acme@0 bank@1" */
} route_case_t;

/* g-trip: travel, deadline in 20 days, 2 of 4 done. g-save: money, no deadline,
 * no target, completed. g-home: home, no target, active. */
static const goal_row_t s_default_goals[] = {
    {"g-trip", "travel", "active", NOW + 20 * DAY, 4, 2},
    {"g-save", "money", "completed", 0, 0, 0},
    {"g-home", "home", "active", 0, 0, 0},
};
static const char *s_default_attrs[] = {"home_city=Lisbon", "tier=gold", NULL};

static const route_case_t s_route_cases[] = {
    /* type */
    {"type_exact_matches",
     {{.type = "goal.set", .to = "acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"type_exact_rejects_other_type",
     {{.type = "goal.set", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .expect = ""},
    {"type_exact_is_not_prefix",
     {{.type = "goal", .to = "acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = ""},
    {"type_glob_goal_star_matches_goal_updated",
     {{.type = "goal.*", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"type_glob_goal_star_rejects_milestone",
     {{.type = "goal.*", .to = "acme"}},
     {.type = "milestone.reached",
      .source = "trips",
      .goal_id = "g-trip",
      .milestone = "flights-booked"},
     .expect = ""},
    {"type_glob_star_matches_activity",
     {{.type = "*", .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = "acme@0"},
    {"type_glob_question_mark",
     {{.type = "goal.?et", .to = "acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"no_match_keys_matches_everything",
     {{.to = "acme"}},
     {.type = "profile.updated", .source = "crm"},
     .expect = "acme@0"},
    /* source */
    {"source_matches",
     {{.source = "trips", .to = "acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"source_glob_matches",
     {{.source = "trip?", .to = "acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"source_rejects_other_source",
     {{.source = "trips", .to = "acme"}},
     {.type = "goal.set", .source = "bank-app", .goal_id = "g-trip"},
     .expect = ""},
    {"source_rejects_absent_source",
     {{.source = "t*", .to = "acme"}},
     {.type = "goal.set", .goal_id = "g-trip"},
     .expect = ""},
    /* goal.category */
    {"category_matches_goal_event",
     {{.category = "travel", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"category_glob_matches",
     {{.category = "trav*", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"category_rejects_other_category",
     {{.category = "travel", .to = "acme"}},
     {.type = "goal.updated", .source = "bank", .goal_id = "g-save"},
     .expect = ""},
    {"category_matches_milestone_goal",
     {{.category = "travel", .to = "acme"}},
     {.type = "milestone.reached",
      .source = "trips",
      .goal_id = "g-trip",
      .milestone = "flights-booked"},
     .expect = "acme@0"},
    {"category_matches_offer_goal",
     {{.category = "travel", .to = "acme"}},
     {.type = "offer.made", .source = "acme", .goal_id = "g-trip", .offer_id = "o-9"},
     .expect = "acme@0"},
    {"category_matches_goal_of_accepted_offer",
     {{.category = "travel", .to = "acme"}},
     {.type = "offer.accepted", .source = "web", .offer_id = "o-1"},
     .expect = "acme@0"},
    {"category_rejects_event_without_goal",
     {{.category = "*", .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = ""},
    {"category_rejects_goal_not_in_context",
     {{.category = "*", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-gone"},
     .expect = ""},
    /* milestone */
    {"milestone_name_matches",
     {{.milestone = "flights-booked", .to = "acme"}},
     {.type = "milestone.reached",
      .source = "trips",
      .goal_id = "g-trip",
      .milestone = "flights-booked"},
     .expect = "acme@0"},
    {"milestone_glob_matches",
     {{.milestone = "flights-*", .to = "acme"}},
     {.type = "milestone.reached",
      .source = "trips",
      .goal_id = "g-trip",
      .milestone = "flights-booked"},
     .expect = "acme@0"},
    {"milestone_rejects_other_name",
     {{.milestone = "flights-*", .to = "acme"}},
     {.type = "milestone.reached",
      .source = "trips",
      .goal_id = "g-trip",
      .milestone = "hotel-booked"},
     .expect = ""},
    {"milestone_star_rejects_non_milestone_event",
     {{.milestone = "*", .to = "acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = ""},
    /* attributes.KEY */
    {"attr_value_glob_matches",
     {{.attr_key = "home_city", .attr_glob = "Lis*", .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = "acme@0"},
    {"attr_value_glob_rejects_other_value",
     {{.attr_key = "home_city", .attr_glob = "Porto", .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = ""},
    {"attr_star_rejects_absent_attribute",
     {{.attr_key = "email", .attr_glob = "*", .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = ""},
    /* goal.deadline_within */
    {"deadline_in_window",
     {{.within = "30d", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"deadline_too_far",
     {{.within = "10d", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .expect = ""},
    {"deadline_past",
     {{.within = "30d", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .goals = {{"g-trip", "travel", "active", NOW - 1, 4, 2}},
     .expect = ""},
    {"deadline_exactly_now",
     {{.within = "30d", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .goals = {{"g-trip", "travel", "active", NOW, 4, 2}},
     .expect = "acme@0"},
    {"deadline_exactly_at_window_end",
     {{.within = "20d", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"deadline_one_us_past_window_end",
     {{.within = "20d", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-trip"},
     .now = NOW - 1,
     .expect = ""},
    {"deadline_absent_rejects",
     {{.within = "3650d", .to = "acme"}},
     {.type = "goal.updated", .source = "trips", .goal_id = "g-home"},
     .expect = ""},
    {"deadline_rejects_event_without_goal",
     {{.within = "3650d", .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = ""},
    /* goal.progress_at_least / goal.progress_below (g-trip is at 0.5) */
    {"progress_at_least_equal_is_true",
     {{.at_least = "0.5", .to = "acme"}},
     {.type = "milestone.reached", .source = "trips", .goal_id = "g-trip", .milestone = "x"},
     .expect = "acme@0"},
    {"progress_at_least_above_is_false",
     {{.at_least = "0.6", .to = "acme"}},
     {.type = "milestone.reached", .source = "trips", .goal_id = "g-trip", .milestone = "x"},
     .expect = ""},
    {"progress_below_equal_is_false",
     {{.below = "0.5", .to = "acme"}},
     {.type = "milestone.reached", .source = "trips", .goal_id = "g-trip", .milestone = "x"},
     .expect = ""},
    {"progress_below_above_is_true",
     {{.below = "0.6", .to = "acme"}},
     {.type = "milestone.reached", .source = "trips", .goal_id = "g-trip", .milestone = "x"},
     .expect = "acme@0"},
    {"progress_in_band",
     {{.at_least = "0.25", .below = "1", .to = "acme"}},
     {.type = "milestone.reached", .source = "trips", .goal_id = "g-trip", .milestone = "x"},
     .expect = "acme@0"},
    {"progress_no_target_completed_is_1",
     {{.at_least = "1", .to = "acme"}},
     {.type = "goal.completed", .source = "bank", .goal_id = "g-save"},
     .expect = "acme@0"},
    {"progress_no_target_active_is_0",
     {{.at_least = "0.1", .to = "acme"}},
     {.type = "goal.updated", .source = "web", .goal_id = "g-home"},
     .expect = ""},
    {"progress_no_target_active_is_below",
     {{.below = "0.1", .to = "acme"}},
     {.type = "goal.updated", .source = "web", .goal_id = "g-home"},
     .expect = "acme@0"},
    {"progress_rejects_event_without_goal",
     {{.below = "2", .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = ""},
    /* has_attributes / missing_attributes */
    {"has_attributes_all_present",
     {{.has = {"home_city", "tier"}, .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = "acme@0"},
    {"has_attributes_one_absent",
     {{.has = {"home_city", "email"}, .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = ""},
    {"missing_attributes_all_absent",
     {{.missing = {"email", "phone"}, .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = "acme@0"},
    {"missing_attributes_one_present",
     {{.missing = {"email", "tier"}, .to = "acme"}},
     {.type = "activity", .source = "web"},
     .expect = ""},
    {"has_attributes_with_empty_context",
     {{.has = {"home_city"}, .to = "acme"}},
     {.type = "activity", .source = "web"},
     .attrs = {"-"},
     .expect = ""},
    /* every key at once */
    {"all_keys_and_conditions_match",
     {{.type = "milestone.*",
       .source = "trips",
       .category = "travel",
       .milestone = "flights-*",
       .attr_key = "tier",
       .attr_glob = "g?ld",
       .within = "30d",
       .at_least = "0.5",
       .below = "1",
       .has = {"home_city"},
       .missing = {"email"},
       .to = "acme hotels"}},
     {.type = "milestone.reached",
      .source = "trips",
      .goal_id = "g-trip",
      .milestone = "flights-booked"},
     .expect = "acme@0 hotels@0"},
    /* consent */
    {"consent_by_partner_id",
     {{.to = "acme bank"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{.scope = "acme"}},
     .expect = "acme@0"},
    {"consent_by_category",
     {{.to = "acme bank hotels crm"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{.scope = "travel"}},
     .expect = "acme@0 hotels@0"},
    {"consent_by_second_category",
     {{.to = "acme hotels"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{.scope = "lodging"}},
     .expect = "hotels@0"},
    {"consent_expired",
     {{.to = "acme"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{"acme", NOW - 1}},
     .expect = ""},
    {"consent_expiring_now_is_expired",
     {{.to = "acme"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{"acme", NOW}},
     .expect = ""},
    {"consent_expiring_later_is_valid",
     {{.to = "acme"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{"acme", NOW + 1}},
     .expect = "acme@0"},
    {"consent_expired_grant_but_valid_category",
     {{.to = "acme"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{"acme", NOW - DAY}, {.scope = "travel"}},
     .expect = "acme@0"},
    {"consent_revoked_is_absent",
     {{.to = "acme bank hotels crm"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .expect = ""},
    {"consent_for_other_partner_only",
     {{.to = "acme"}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{.scope = "bank"}, {.scope = "money"}},
     .expect = ""},
    {"consent_not_required_route",
     {{.to = "crm acme", .no_consent = 1}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .expect = "crm@0 acme@0"},
    {"consent_later_not_required_route_reaches_unconsented",
     {{.to = "acme bank"}, {.to = "acme", .no_consent = 1}},
     {.type = "activity", .source = "web"},
     .consent_mode = CONSENT_LISTED,
     .consents = {{.scope = "bank"}},
     .expect = "bank@0 acme@1"},
    /* one delivery per partner */
    {"two_routes_match_one_delivery",
     {{.type = "goal.*", .to = "acme"}, {.category = "travel", .to = "acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0"},
    {"first_route_wins_then_others_added",
     {{.type = "goal.*", .to = "acme"}, {.to = "bank acme hotels"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = "acme@0 bank@1 hotels@1"},
    {"unmatched_first_route_does_not_claim",
     {{.type = "offer.*", .to = "acme"}, {.to = "hotels acme"}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = "hotels@1 acme@1"},
    {"partner_listed_twice_in_one_route",
     {{.to = "acme acme bank"}},
     {.type = "activity", .source = "web"},
     .expect = "acme@0 bank@0"},
    /* erase */
    {"erase_routed_to_no_one",
     {{.to = "acme bank hotels crm", .no_consent = 1}},
     {.type = "customer.erase", .source = "privacy"},
     .expect = ""},
    {"erase_routed_to_no_one_even_by_type_route",
     {{.type = "customer.erase", .to = "crm", .no_consent = 1}},
     {.type = "customer.erase", .source = "privacy"},
     .expect = ""},
    {"no_routes_no_deliveries",
     {{0}},
     {.type = "goal.set", .source = "trips", .goal_id = "g-trip"},
     .expect = ""},
};

/* ---- building configs, events and contexts ---- */

typedef struct {
    cx_arena_t *arena;
    cx_route_cfg_t routes[3];
    cx_config_t cfg;
    Cx__Event ev;
    Cx__CustomerContext ctx;
} route_fixture_t;

static char *s_dup(cx_arena_t *a, const char *s)
{
    return s ? cx_arena_strdup(a, s) : NULL;
}

static void *s_alloc(cx_arena_t *a, size_t size)
{
    void *p = cx_arena_alloc(a, size ? size : 1);
    assert_non_null(p);
    memset(p, 0, size);
    return p;
}

static char **s_string_list(cx_arena_t *a, const char *const *in, size_t *n)
{
    for (*n = 0; *n < MAX_LIST && in[*n]; (*n)++) {
    }
    char **out = s_alloc(a, *n * sizeof *out);
    for (size_t i = 0; i < *n; i++)
        out[i] = s_dup(a, in[i]);
    return out;
}

static size_t *s_partner_list(cx_arena_t *a, const char *to, size_t *n)
{
    size_t *out = s_alloc(a, N_PARTNERS * 2 * sizeof *out);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", to);
    *n = 0;
    for (char *save, *id = strtok_r(buf, " ", &save); id; id = strtok_r(NULL, " ", &save))
        out[(*n)++] = s_partner_index(id);
    return out;
}

static int64_t s_duration(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    assert_string_equal(end, "d"); /* the table uses days only */
    return v * DAY;
}

static void s_build_route(cx_arena_t *a, const route_row_t *row, cx_route_cfg_t *r)
{
    memset(r, 0, sizeof *r);
    r->name = "r";
    r->type_glob = s_dup(a, row->type);
    r->source_glob = s_dup(a, row->source);
    r->goal_category_glob = s_dup(a, row->category);
    r->milestone_glob = s_dup(a, row->milestone);
    if (row->attr_key) {
        r->attr_match = s_alloc(a, sizeof *r->attr_match);
        r->attr_match[0] = (cx_attr_match_t){s_dup(a, row->attr_key), s_dup(a, row->attr_glob)};
        r->n_attr_match = 1;
    }
    if (row->within) {
        r->has_deadline_within = true;
        r->deadline_within_us = s_duration(row->within);
    }
    if (row->at_least) {
        r->has_progress_at_least = true;
        r->progress_at_least = strtod(row->at_least, NULL);
    }
    if (row->below) {
        r->has_progress_below = true;
        r->progress_below = strtod(row->below, NULL);
    }
    r->has_attributes = s_string_list(a, row->has, &r->n_has_attributes);
    r->missing_attributes = s_string_list(a, row->missing, &r->n_missing_attributes);
    r->to = s_partner_list(a, row->to, &r->n_to);
    r->consent_required = !row->no_consent;
}

static void s_build_event(cx_arena_t *a, const event_row_t *row, Cx__Event *ev)
{
    cx__event__init(ev);
    ev->event_id = "e-1";
    ev->customer_id = "c-1";
    ev->type = s_dup(a, row->type);
    ev->source = s_dup(a, row->source);
    ev->payload_case = cx_event_type_payload(cx_event_type_parse(row->type));
    switch (ev->payload_case) {
    case CX__EVENT__PAYLOAD_GOAL:
        ev->goal = s_alloc(a, sizeof *ev->goal);
        cx__goal__init(ev->goal);
        ev->goal->goal_id = s_dup(a, row->goal_id);
        break;
    case CX__EVENT__PAYLOAD_MILESTONE:
        ev->milestone = s_alloc(a, sizeof *ev->milestone);
        cx__milestone__init(ev->milestone);
        ev->milestone->goal_id = s_dup(a, row->goal_id);
        ev->milestone->name = s_dup(a, row->milestone);
        break;
    case CX__EVENT__PAYLOAD_OFFER:
        ev->offer = s_alloc(a, sizeof *ev->offer);
        cx__offer__init(ev->offer);
        ev->offer->goal_id = s_dup(a, row->goal_id);
        ev->offer->offer_id = s_dup(a, row->offer_id);
        break;
    case CX__EVENT__PAYLOAD_ACTIVITY:
        ev->activity = s_alloc(a, sizeof *ev->activity);
        cx__activity__init(ev->activity);
        break;
    case CX__EVENT__PAYLOAD_PROFILE:
        ev->profile = s_alloc(a, sizeof *ev->profile);
        cx__profile__init(ev->profile);
        break;
    case CX__EVENT__PAYLOAD_ERASE:
        ev->erase = s_alloc(a, sizeof *ev->erase);
        cx__erase__init(ev->erase);
        break;
    default: fail_msg("event type without a payload in the test table: %s", row->type);
    }
}

static Cx__GoalState *s_goal(cx_arena_t *a, const goal_row_t *row)
{
    Cx__GoalState *g = s_alloc(a, sizeof *g);
    cx__goal_state__init(g);
    g->goal_id = s_dup(a, row->id);
    g->category = s_dup(a, row->category);
    g->status = s_dup(a, row->status);
    g->has_deadline = row->deadline != 0;
    g->deadline = row->deadline;
    g->has_target = row->target != 0;
    g->target = row->target;
    g->has_progress = 1;
    g->progress = row->progress;
    return g;
}

static Cx__Attribute *s_attribute(cx_arena_t *a, const char *kv)
{
    Cx__Attribute *attr = s_alloc(a, sizeof *attr);
    cx__attribute__init(attr);
    const char *eq = strchr(kv, '=');
    assert_non_null(eq);
    attr->key = s_dup(a, kv);
    attr->key[eq - kv] = '\0';
    attr->value = s_dup(a, eq + 1);
    return attr;
}

static Cx__ConsentState *s_consent(cx_arena_t *a, const char *scope, int64_t expires_at)
{
    Cx__ConsentState *c = s_alloc(a, sizeof *c);
    cx__consent_state__init(c);
    c->scope = s_dup(a, scope);
    c->has_granted_at = 1;
    c->granted_at = NOW - 100 * DAY;
    c->has_expires_at = expires_at != 0;
    c->expires_at = expires_at;
    return c;
}

static void s_build_goals(cx_arena_t *a, const route_case_t *row, Cx__CustomerContext *ctx)
{
    const goal_row_t *rows = s_default_goals;
    size_t n = 3;
    if (row->goals[0].id) {
        rows = row->goals;
        for (n = 0; n < 3 && rows[n].id; n++) {
        }
    }
    ctx->goals = s_alloc(a, n * sizeof *ctx->goals);
    for (size_t i = 0; i < n; i++)
        ctx->goals[ctx->n_goals++] = s_goal(a, &rows[i]);
}

static void s_build_attributes(cx_arena_t *a, const route_case_t *row, Cx__CustomerContext *ctx)
{
    const char *const *kvs = row->attrs[0] ? row->attrs : s_default_attrs;
    ctx->attributes = s_alloc(a, 6 * sizeof *ctx->attributes);
    for (size_t i = 0; i < 6 && kvs[i] && strcmp(kvs[i], "-") != 0; i++)
        ctx->attributes[ctx->n_attributes++] = s_attribute(a, kvs[i]);
}

static void s_build_consents(cx_arena_t *a, const route_case_t *row, Cx__CustomerContext *ctx)
{
    ctx->consents = s_alloc(a, (N_PARTNERS + 4) * sizeof *ctx->consents);
    if (row->consent_mode == CONSENT_ALL) {
        for (size_t i = 0; i < N_PARTNERS; i++)
            ctx->consents[ctx->n_consents++] = s_consent(a, s_partners[i].id, 0);
        return;
    }
    for (size_t i = 0; i < 4 && row->consents[i].scope; i++)
        ctx->consents[ctx->n_consents++] =
            s_consent(a, row->consents[i].scope, row->consents[i].expires_at);
}

/* The offer o-1 on g-trip, so an offer.accepted naming only o-1 finds its goal. */
static void s_build_offers(cx_arena_t *a, Cx__CustomerContext *ctx)
{
    Cx__OfferState *o = s_alloc(a, sizeof *o);
    cx__offer_state__init(o);
    o->offer_id = "o-1";
    o->partner = "acme";
    o->goal_id = "g-trip";
    o->status = "made";
    ctx->offers = s_alloc(a, sizeof *ctx->offers);
    ctx->offers[0] = o;
    ctx->n_offers = 1;
}

static void s_build_fixture(const route_case_t *row, route_fixture_t *f)
{
    memset(f, 0, sizeof *f);
    f->arena = cx_arena_new(0);
    assert_non_null(f->arena);
    f->cfg.partners = s_partners;
    f->cfg.n_partners = N_PARTNERS;
    f->cfg.routes = f->routes;
    for (size_t i = 0; i < 3 && row->routes[i].to; i++)
        s_build_route(f->arena, &row->routes[i], &f->routes[f->cfg.n_routes++]);
    s_build_event(f->arena, &row->ev, &f->ev);
    cx__customer_context__init(&f->ctx);
    f->ctx.customer_id = "c-1";
    s_build_goals(f->arena, row, &f->ctx);
    s_build_attributes(f->arena, row, &f->ctx);
    s_build_consents(f->arena, row, &f->ctx);
    s_build_offers(f->arena, &f->ctx);
}

/* "acme@0 bank@1" */
static void s_format_deliveries(const cx_delivery_t *d, size_t n, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        assert_true(d[i].partner < N_PARTNERS);
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s@%u", i ? " " : "", s_partners[d[i].partner].id,
                 (unsigned)d[i].route);
    }
}

static void test_route_case(void **state)
{
    const route_case_t *row = *state;
    route_fixture_t f;
    s_build_fixture(row, &f);
    cx_delivery_t out[N_PARTNERS];
    size_t n = 99;
    assert_int_equal(cx_route(&f.cfg, &f.ev, &f.ctx, row->now ? row->now : NOW, out, &n), 0);
    assert_true(n <= N_PARTNERS);
    char got[256];
    s_format_deliveries(out, n, got, sizeof got);
    assert_string_equal(got, row->expect);
    cx_arena_destroy(&f.arena);
}

/* ---- routing edge cases outside the table ---- */

static void test_route_rejects_null_arguments(void **state)
{
    (void)state;
    cx_config_t cfg = {.partners = s_partners, .n_partners = N_PARTNERS};
    Cx__Event ev = CX__EVENT__INIT;
    cx_delivery_t out[N_PARTNERS];
    size_t n = 99;
    assert_int_equal(cx_route(NULL, &ev, NULL, NOW, out, &n), CX_E_INVAL);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(cx_route(&cfg, NULL, NULL, NOW, out, &n), CX_E_INVAL);
    assert_int_equal(n, 0);
    assert_int_equal(cx_route(&cfg, &ev, NULL, NOW, NULL, &n), CX_E_INVAL);
    assert_int_equal(cx_route(&cfg, &ev, NULL, NOW, out, NULL), CX_E_INVAL);
}

static void test_route_null_context_is_empty(void **state)
{
    (void)state;
    size_t all[] = {0, 1, 2, 3};
    cx_route_cfg_t routes[] = {
        {.name = "open", .to = all, .n_to = 4, .consent_required = false},
    };
    cx_config_t cfg = {
        .partners = s_partners, .n_partners = N_PARTNERS, .routes = routes, .n_routes = 1};
    Cx__Event ev = CX__EVENT__INIT;
    ev.type = "activity";
    cx_delivery_t out[N_PARTNERS];
    size_t n = 0;
    assert_int_equal(cx_route(&cfg, &ev, NULL, NOW, out, &n), 0);
    assert_int_equal(n, 4);
    routes[0].consent_required = true;
    assert_int_equal(cx_route(&cfg, &ev, NULL, NOW, out, &n), 0);
    assert_int_equal(n, 0);
}

static void test_route_skips_out_of_range_partner_index(void **state)
{
    (void)state;
    size_t to[] = {7, 1};
    cx_route_cfg_t routes[] = {{.name = "r", .to = to, .n_to = 2}};
    cx_config_t cfg = {
        .partners = s_partners, .n_partners = N_PARTNERS, .routes = routes, .n_routes = 1};
    Cx__Event ev = CX__EVENT__INIT;
    ev.type = "activity";
    cx_delivery_t out[N_PARTNERS];
    size_t n = 0;
    assert_int_equal(cx_route(&cfg, &ev, NULL, NOW, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].partner, 1);
}

static void test_has_consent_null_arguments(void **state)
{
    (void)state;
    Cx__CustomerContext ctx = CX__CUSTOMER_CONTEXT__INIT;
    assert_false(cx_router_has_consent(NULL, &ctx, NOW));
    assert_false(cx_router_has_consent(&s_partners[0], NULL, NOW));
    assert_false(cx_router_has_consent(&s_partners[0], &ctx, NOW));
}

/* ---- the field filter ---- */

enum {
    HAS_CUSTOMER = 1u << 0,
    HAS_VERSION = 1u << 1,
    HAS_UPDATED = 1u << 2,
    HAS_ACTIVITY = 1u << 3,
};

typedef struct {
    const char *name;
    const char *partner; /* id; offers are kept by it */
    uint32_t sees;
    const char *attrs[3];   /* sees_attributes */
    const char *goals;      /* "g-trip[flights-booked,hotel-booked] g-save[]" */
    const char *attributes; /* "home_city tier" in context order */
    const char *consents;   /* "acme travel" */
    const char *offers;     /* "o-1 o-3" */
} filter_case_t;

#define GOALS_ALL "g-trip[flights-booked,hotel-booked] g-save[first-deposit]"
#define GOALS_BARE "g-trip[] g-save[]"

static const filter_case_t s_filter_cases[] = {
    {"filter_sees_nothing_keeps_identity_only", "acme", 0, {NULL}, "", "", "", ""},
    {"filter_goals_without_milestones", "acme", CX_SEES_GOALS, {NULL}, GOALS_BARE, "", "", ""},
    {"filter_goals_with_milestones",
     "acme",
     CX_SEES_GOALS | CX_SEES_MILESTONES,
     {NULL},
     GOALS_ALL,
     "",
     "",
     ""},
    {"filter_milestones_without_goals_is_nothing",
     "acme",
     CX_SEES_MILESTONES,
     {NULL},
     "",
     "",
     "",
     ""},
    {"filter_all_attributes",
     "acme",
     CX_SEES_ATTRIBUTES,
     {NULL},
     "",
     "home_city tier email",
     "",
     ""},
    {"filter_one_attribute", "acme", 0, {"home_city"}, "", "home_city", "", ""},
    {"filter_two_attributes_one_absent", "acme", 0, {"email", "phone"}, "", "email", "", ""},
    {"filter_all_attributes_wins_over_keys",
     "acme",
     CX_SEES_ATTRIBUTES,
     {"tier"},
     "",
     "home_city tier email",
     "",
     ""},
    {"filter_consents", "acme", CX_SEES_CONSENTS, {NULL}, "", "", "acme travel", ""},
    {"filter_offers_only_own", "acme", CX_SEES_OFFERS, {NULL}, "", "", "", "o-1 o-3"},
    {"filter_offers_other_partner", "bank", CX_SEES_OFFERS, {NULL}, "", "", "", "o-2"},
    {"filter_offers_partner_without_offers", "hotels", CX_SEES_OFFERS, {NULL}, "", "", "", ""},
    {"filter_activity", "acme", CX_SEES_ACTIVITY, {NULL}, "", "", "", ""},
    {"filter_everything",
     "bank",
     CX_SEES_GOALS | CX_SEES_MILESTONES | CX_SEES_ATTRIBUTES | CX_SEES_CONSENTS | CX_SEES_OFFERS |
         CX_SEES_ACTIVITY,
     {NULL},
     GOALS_ALL,
     "home_city tier email",
     "acme travel",
     "o-2"},
    {"filter_goals_and_some_attributes",
     "acme",
     CX_SEES_GOALS | CX_SEES_OFFERS,
     {"tier", "email"},
     GOALS_BARE,
     "tier email",
     "",
     "o-1 o-3"},
};

static Cx__MilestoneState *s_milestone(cx_arena_t *a, const char *name)
{
    Cx__MilestoneState *m = s_alloc(a, sizeof *m);
    cx__milestone_state__init(m);
    m->name = s_dup(a, name);
    m->has_reached_at = 1;
    m->reached_at = NOW - DAY;
    m->has_progress = 1;
    m->progress = 1;
    return m;
}

static Cx__OfferState *s_offer(cx_arena_t *a, const char *id, const char *partner)
{
    Cx__OfferState *o = s_alloc(a, sizeof *o);
    cx__offer_state__init(o);
    o->offer_id = s_dup(a, id);
    o->partner = s_dup(a, partner);
    o->goal_id = "g-trip";
    o->title = "cover";
    o->status = "made";
    o->has_made_at = 1;
    o->made_at = NOW - DAY;
    return o;
}

/* A context with every kind of field set. */
static Cx__CustomerContext *s_full_context(cx_arena_t *a)
{
    Cx__CustomerContext *ctx = s_alloc(a, sizeof *ctx);
    cx__customer_context__init(ctx);
    ctx->customer_id = "c-1";
    ctx->has_version = 1;
    ctx->version = 42;
    ctx->has_updated_at = 1;
    ctx->updated_at = NOW;
    ctx->has_activity_count = 1;
    ctx->activity_count = 7;
    ctx->last_activity = "viewed-hotels";
    ctx->has_last_activity_at = 1;
    ctx->last_activity_at = NOW - SEC;

    ctx->goals = s_alloc(a, 2 * sizeof *ctx->goals);
    ctx->goals[0] = s_goal(a, &s_default_goals[0]);
    ctx->goals[0]->title = "Lisbon trip";
    ctx->goals[0]->milestones = s_alloc(a, 2 * sizeof(Cx__MilestoneState *));
    ctx->goals[0]->milestones[0] = s_milestone(a, "flights-booked");
    ctx->goals[0]->milestones[1] = s_milestone(a, "hotel-booked");
    ctx->goals[0]->n_milestones = 2;
    ctx->goals[1] = s_goal(a, &s_default_goals[1]);
    ctx->goals[1]->milestones = s_alloc(a, sizeof(Cx__MilestoneState *));
    ctx->goals[1]->milestones[0] = s_milestone(a, "first-deposit");
    ctx->goals[1]->n_milestones = 1;
    ctx->n_goals = 2;

    ctx->attributes = s_alloc(a, 3 * sizeof *ctx->attributes);
    ctx->attributes[0] = s_attribute(a, "home_city=Lisbon");
    ctx->attributes[1] = s_attribute(a, "tier=gold");
    ctx->attributes[2] = s_attribute(a, "email=c1@example.com");
    ctx->n_attributes = 3;

    ctx->consents = s_alloc(a, 2 * sizeof *ctx->consents);
    ctx->consents[0] = s_consent(a, "acme", 0);
    ctx->consents[1] = s_consent(a, "travel", NOW + DAY);
    ctx->n_consents = 2;

    ctx->offers = s_alloc(a, 3 * sizeof *ctx->offers);
    ctx->offers[0] = s_offer(a, "o-1", "acme");
    ctx->offers[1] = s_offer(a, "o-2", "bank");
    ctx->offers[2] = s_offer(a, "o-3", "acme");
    ctx->n_offers = 3;
    return ctx;
}

static void s_append(char *buf, size_t len, const char *s)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used && buf[used - 1] != '[' ? " " : "", s);
}

static void s_describe_goals(const Cx__CustomerContext *ctx, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < ctx->n_goals; i++) {
        const Cx__GoalState *g = ctx->goals[i];
        s_append(buf, len, g->goal_id);
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "[");
        for (size_t j = 0; j < g->n_milestones; j++) {
            used = strlen(buf);
            snprintf(buf + used, len - used, "%s%s", j ? "," : "", g->milestones[j]->name);
        }
        used = strlen(buf);
        snprintf(buf + used, len - used, "]");
        /* the goal's own fields survive the copy */
        assert_string_equal(g->category, i == 0 ? "travel" : "money");
        assert_true(g->has_target || i == 1);
    }
}

static void s_describe_attributes(const Cx__CustomerContext *ctx, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < ctx->n_attributes; i++) {
        assert_non_null(ctx->attributes[i]->value);
        s_append(buf, len, ctx->attributes[i]->key);
    }
}

static void s_describe_consents(const Cx__CustomerContext *ctx, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < ctx->n_consents; i++)
        s_append(buf, len, ctx->consents[i]->scope);
}

static void s_describe_offers(const Cx__CustomerContext *ctx, const char *partner, char *buf,
                              size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < ctx->n_offers; i++) {
        assert_string_equal(ctx->offers[i]->partner, partner);
        s_append(buf, len, ctx->offers[i]->offer_id);
    }
}

/* Packs the filtered view and unpacks it: what a partner would receive. */
static Cx__CustomerContext *s_round_trip(const Cx__CustomerContext *view)
{
    size_t len = cx__customer_context__get_packed_size(view);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    assert_int_equal(cx__customer_context__pack(view, buf), len);
    Cx__CustomerContext *got = cx__customer_context__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(got);
    assert_int_equal(got->base.n_unknown_fields, 0);
    return got;
}

static void s_assert_input_untouched(const Cx__CustomerContext *in)
{
    assert_int_equal(in->n_goals, 2);
    assert_int_equal(in->goals[0]->n_milestones, 2);
    assert_int_equal(in->goals[1]->n_milestones, 1);
    assert_int_equal(in->n_attributes, 3);
    assert_int_equal(in->n_consents, 2);
    assert_int_equal(in->n_offers, 3);
}

static void test_filter_case(void **state)
{
    const filter_case_t *row = *state;
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    Cx__CustomerContext *in = s_full_context(a);
    size_t n_attrs = 0;
    while (n_attrs < 3 && row->attrs[n_attrs])
        n_attrs++;
    cx_partner_cfg_t partner = {.id = (char *)row->partner,
                                .sees = row->sees,
                                .sees_attributes = (char **)row->attrs,
                                .n_sees_attributes = n_attrs};
    Cx__CustomerContext view = CX__CUSTOMER_CONTEXT__INIT;
    assert_int_equal(cx_router_filter_context(&partner, in, &view, a), 0);
    s_assert_input_untouched(in);

    Cx__CustomerContext *got = s_round_trip(&view);
    char buf[256];
    assert_string_equal(got->customer_id, "c-1");
    assert_true(got->has_version && got->version == 42);
    assert_true(got->has_updated_at && got->updated_at == NOW);
    s_describe_goals(got, buf, sizeof buf);
    assert_string_equal(buf, row->goals);
    s_describe_attributes(got, buf, sizeof buf);
    assert_string_equal(buf, row->attributes);
    s_describe_consents(got, buf, sizeof buf);
    assert_string_equal(buf, row->consents);
    s_describe_offers(got, row->partner, buf, sizeof buf);
    assert_string_equal(buf, row->offers);
    int activity = (row->sees & CX_SEES_ACTIVITY) != 0;
    assert_int_equal(got->has_activity_count, activity);
    assert_int_equal(got->has_last_activity_at, activity);
    if (activity) {
        assert_int_equal(got->activity_count, 7);
        assert_string_equal(got->last_activity, "viewed-hotels");
    } else {
        assert_null(got->last_activity);
    }
    cx__customer_context__free_unpacked(got, NULL);
    cx_arena_destroy(&a);
}

/* A context from a newer schema carries fields this broker does not know; a
 * partner must not receive them through the filter. */
static void test_filter_drops_unknown_fields(void **state)
{
    (void)state;
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    Cx__CustomerContext *in = s_full_context(a);
    static uint8_t secret[] = {'s', 'e', 'c', 'r', 'e', 't'};
    ProtobufCMessageUnknownField uf = {.tag = 99,
                                       .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                       .len = sizeof secret,
                                       .data = secret};
    ProtobufCMessage *carriers[] = {&in->base,
                                    &in->goals[0]->base,
                                    &in->goals[0]->milestones[0]->base,
                                    &in->attributes[0]->base,
                                    &in->consents[0]->base,
                                    &in->offers[0]->base};
    for (size_t i = 0; i < sizeof carriers / sizeof carriers[0]; i++) {
        carriers[i]->n_unknown_fields = 1;
        carriers[i]->unknown_fields = &uf;
    }
    cx_partner_cfg_t partner = {.id = "acme", .sees = 0x3f};
    Cx__CustomerContext view = CX__CUSTOMER_CONTEXT__INIT;
    assert_int_equal(cx_router_filter_context(&partner, in, &view, a), 0);
    /* the input keeps its unknown fields: the filter copies, never edits */
    assert_int_equal(in->goals[0]->milestones[0]->base.n_unknown_fields, 1);

    size_t len = cx__customer_context__get_packed_size(&view);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    cx__customer_context__pack(&view, buf);
    assert_null(memmem(buf, len, secret, sizeof secret));
    Cx__CustomerContext *got = cx__customer_context__unpack(NULL, len, buf);
    assert_non_null(got);
    assert_int_equal(got->n_goals, 2);
    assert_int_equal(got->goals[0]->n_milestones, 2);
    assert_int_equal(got->n_attributes, 3);
    assert_int_equal(got->n_offers, 2);
    cx__customer_context__free_unpacked(got, NULL);
    free(buf);
    cx_arena_destroy(&a);
}

static void test_filter_rejects_null_arguments(void **state)
{
    (void)state;
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    Cx__CustomerContext in = CX__CUSTOMER_CONTEXT__INIT, out = CX__CUSTOMER_CONTEXT__INIT;
    cx_partner_cfg_t partner = {.id = "acme"};
    assert_int_equal(cx_router_filter_context(NULL, &in, &out, a), CX_E_INVAL);
    assert_int_equal(cx_router_filter_context(&partner, NULL, &out, a), CX_E_INVAL);
    assert_int_equal(cx_router_filter_context(&partner, &in, NULL, a), CX_E_INVAL);
    assert_int_equal(cx_router_filter_context(&partner, &in, &out, NULL), CX_E_INVAL);
    assert_int_equal(cx_router_filter_context(&partner, &in, &out, a), 0);
    cx_arena_destroy(&a);
}

/* ---- glob ---- */

typedef struct {
    const char *glob, *s;
    int expect;
} glob_case_t;

static const glob_case_t s_glob_cases[] = {
    {"goal.set", "goal.set", 1},
    {"goal.set", "goal.sets", 0},
    {"goal.set", "goal.se", 0},
    {"goal.*", "goal.set", 1},
    {"goal.*", "goal.", 1},
    {"goal.*", "goal", 0},
    {"goal.*", "milestone.reached", 0},
    {"*", "", 1},
    {"*", "anything at all", 1},
    {"**", "", 1},
    {"", "", 1},
    {"", "x", 0},
    {"?", "", 0},
    {"?", "a", 1},
    {"?", "ab", 0},
    {"??", "ab", 1},
    {"*.reached", "milestone.reached", 1},
    {"*.reached", "milestone.reached.x", 0},
    {"m*e*d", "milestone.reached", 1},
    {"m*e*x", "milestone.reached", 0},
    {"*a*b*", "xxaxxbxx", 1},
    {"*a*b*", "xxbxxaxx", 0},
    {"a*b?c", "abxc", 1},
    {"a*b?c", "abbbxc", 1},
    {"a*b?c", "abc", 0},
    {"flights-*", "flights-booked", 1},
    {"Lis*", "lisbon", 0},         /* case matters */
    {"S?o Paulo", "São Paulo", 1}, /* '?' is one UTF-8 character */
    {"S??o Paulo", "São Paulo", 0},
    {"*ão", "São", 1},
    {"*?", "ã", 1},
    {"*??", "ã", 0},
    {"a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    {"a*a*a*a*a*a*a*a*a*a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1},
    {NULL, "anything", 1},
    {NULL, NULL, 1},
    {"*", NULL, 1},
    {"", NULL, 0},
    {"?", NULL, 0},
    {"**", NULL, 0},
    {"x", NULL, 0},
};

static void test_glob_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_glob_cases / sizeof s_glob_cases[0]; i++) {
        const glob_case_t *c = &s_glob_cases[i];
        int got = cx_is_glob_match(c->glob, c->s);
        if (got != c->expect)
            fail_msg("glob \"%s\" on \"%s\": got %d, want %d", c->glob ? c->glob : "(null)",
                     c->s ? c->s : "(null)", got, c->expect);
    }
}

/* A long subject against many stars stays fast (no exponential backtracking). */
static void test_glob_pathological_is_linear_enough(void **state)
{
    (void)state;
    static char s[4097], glob[64];
    memset(s, 'a', sizeof s - 1);
    snprintf(glob, sizeof glob, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
    assert_false(cx_is_glob_match(glob, s));
    s[sizeof s - 2] = 'b';
    assert_true(cx_is_glob_match(glob, s));
}

/* ---- registration: one cmocka test per table row ---- */

#define N_ROUTE_CASES (sizeof s_route_cases / sizeof s_route_cases[0])
#define N_FILTER_CASES (sizeof s_filter_cases / sizeof s_filter_cases[0])

int main(void)
{
    static struct CMUnitTest tests[N_ROUTE_CASES + N_FILTER_CASES + 16];
    size_t n = 0;
    for (size_t i = 0; i < N_ROUTE_CASES; i++)
        tests[n++] = (struct CMUnitTest){.name = s_route_cases[i].name,
                                         .test_func = test_route_case,
                                         .initial_state = (void *)&s_route_cases[i]};
    for (size_t i = 0; i < N_FILTER_CASES; i++)
        tests[n++] = (struct CMUnitTest){.name = s_filter_cases[i].name,
                                         .test_func = test_filter_case,
                                         .initial_state = (void *)&s_filter_cases[i]};
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_route_rejects_null_arguments),
        cmocka_unit_test(test_route_null_context_is_empty),
        cmocka_unit_test(test_route_skips_out_of_range_partner_index),
        cmocka_unit_test(test_has_consent_null_arguments),
        cmocka_unit_test(test_filter_drops_unknown_fields),
        cmocka_unit_test(test_filter_rejects_null_arguments),
        cmocka_unit_test(test_glob_table),
        cmocka_unit_test(test_glob_pathological_is_linear_enough),
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        tests[n++] = others[i];
    return _cmocka_run_group_tests("router", tests, n, NULL, NULL);
}
