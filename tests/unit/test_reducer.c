/* test_reducer.c - unit tests of broker/reducer.c (cx_reduce).
 *
 * One test per claim of reducer.h. Events are built in the fixture's arena with
 * times that advance by 10 per event; "unchanged" is always checked on the
 * packed bytes of the context, which is what the store and partners see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_error.h"
#include "reducer.h"

typedef struct {
    cx_arena_t *arena;
    Cx__CustomerContext ctx;
    int64_t clock; /* time of the last event built */
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    if (!fx) return -1;
    fx->arena = cx_arena_new(0);
    if (!fx->arena) return -1;
    cx__customer_context__init(&fx->ctx);
    fx->clock = 1000;
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    cx_arena_destroy(&fx->arena);
    free(fx);
    return 0;
}

/* ---- event builders ---- */

static char *s_str(fx_t *fx, const char *s)
{
    return cx_arena_strdup(fx->arena, s);
}

static void *s_alloc(fx_t *fx, size_t size)
{
    void *p = cx_arena_alloc(fx->arena, size);
    assert_non_null(p);
    return p;
}

static Cx__Event *s_event(fx_t *fx, const char *type)
{
    Cx__Event *ev = s_alloc(fx, sizeof(*ev));
    cx__event__init(ev);
    ev->event_id = s_str(fx, "e");
    ev->customer_id = s_str(fx, "c1");
    ev->type = s_str(fx, type);
    ev->has_occurred_at = 1;
    ev->occurred_at = fx->clock += 10;
    return ev;
}

static Cx__Event *s_goal(fx_t *fx, const char *type, const char *goal_id)
{
    Cx__Event *ev = s_event(fx, type);
    ev->payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev->goal = s_alloc(fx, sizeof(*ev->goal));
    cx__goal__init(ev->goal);
    ev->goal->goal_id = s_str(fx, goal_id);
    return ev;
}

/* goal.set with a category, a title and a target (< 0: none). */
static Cx__Event *s_goal_set(fx_t *fx, const char *goal_id, double target)
{
    Cx__Event *ev = s_goal(fx, "goal.set", goal_id);
    ev->goal->category = s_str(fx, "travel");
    ev->goal->title = s_str(fx, "Trip to Lisbon");
    ev->goal->has_deadline = 1;
    ev->goal->deadline = 5000000;
    if (target >= 0) ev->goal->has_target = 1, ev->goal->target = target;
    return ev;
}

/* milestone.reached; progress < 0: absent (the default 1 applies). */
static Cx__Event *s_milestone(fx_t *fx, const char *goal_id, const char *name, double progress)
{
    Cx__Event *ev = s_event(fx, "milestone.reached");
    ev->payload_case = CX__EVENT__PAYLOAD_MILESTONE;
    ev->milestone = s_alloc(fx, sizeof(*ev->milestone));
    cx__milestone__init(ev->milestone);
    ev->milestone->goal_id = s_str(fx, goal_id);
    ev->milestone->name = s_str(fx, name);
    if (progress >= 0) ev->milestone->has_progress = 1, ev->milestone->progress = progress;
    return ev;
}

static Cx__Event *s_activity(fx_t *fx, const char *name)
{
    Cx__Event *ev = s_event(fx, "activity");
    ev->payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
    ev->activity = s_alloc(fx, sizeof(*ev->activity));
    cx__activity__init(ev->activity);
    ev->activity->name = s_str(fx, name);
    return ev;
}

static Cx__Event *s_profile(fx_t *fx)
{
    Cx__Event *ev = s_event(fx, "profile.updated");
    ev->payload_case = CX__EVENT__PAYLOAD_PROFILE;
    ev->profile = s_alloc(fx, sizeof(*ev->profile));
    cx__profile__init(ev->profile);
    ev->profile->set = s_alloc(fx, 64 * sizeof(*ev->profile->set));
    ev->profile->unset = s_alloc(fx, 64 * sizeof(*ev->profile->unset));
    return ev;
}

static void s_profile_set(fx_t *fx, Cx__Event *ev, const char *key, const char *value)
{
    Cx__Attribute *a = s_alloc(fx, sizeof(*a));
    cx__attribute__init(a);
    a->key = s_str(fx, key);
    a->value = value ? s_str(fx, value) : NULL;
    ev->profile->set[ev->profile->n_set++] = a;
}

static void s_profile_unset(fx_t *fx, Cx__Event *ev, const char *key)
{
    ev->profile->unset[ev->profile->n_unset++] = s_str(fx, key);
}

static Cx__Event *s_consent(fx_t *fx, const char *type, const char *scope)
{
    Cx__Event *ev = s_event(fx, type);
    ev->payload_case = CX__EVENT__PAYLOAD_CONSENT;
    ev->consent = s_alloc(fx, sizeof(*ev->consent));
    cx__consent__init(ev->consent);
    ev->consent->scope = s_str(fx, scope);
    return ev;
}

static Cx__Event *s_offer(fx_t *fx, const char *type, const char *offer_id)
{
    Cx__Event *ev = s_event(fx, type);
    ev->payload_case = CX__EVENT__PAYLOAD_OFFER;
    ev->offer = s_alloc(fx, sizeof(*ev->offer));
    cx__offer__init(ev->offer);
    ev->offer->offer_id = s_str(fx, offer_id);
    if (!strcmp(type, "offer.made")) {
        ev->offer->partner = s_str(fx, "acme-insurance");
        ev->offer->goal_id = s_str(fx, "trip");
        ev->offer->title = s_str(fx, "Travel insurance");
    }
    return ev;
}

static Cx__Event *s_erase(fx_t *fx)
{
    Cx__Event *ev = s_event(fx, "customer.erase");
    ev->payload_case = CX__EVENT__PAYLOAD_ERASE;
    ev->erase = s_alloc(fx, sizeof(*ev->erase));
    cx__erase__init(ev->erase);
    ev->erase->reason = s_str(fx, "customer request");
    return ev;
}

static int s_apply(fx_t *fx, Cx__Event *ev)
{
    return cx_reduce(&fx->ctx, ev, fx->arena);
}

/* ---- packed bytes ---- */

typedef struct {
    uint8_t *data;
    size_t len;
} bytes_t;

static bytes_t s_pack(const Cx__CustomerContext *ctx)
{
    bytes_t b;
    b.len = cx__customer_context__get_packed_size(ctx);
    b.data = malloc(b.len + 1);
    assert_non_null(b.data);
    assert_int_equal(cx__customer_context__pack(ctx, b.data), b.len);
    return b;
}

/* Asserts a and b hold the same bytes, and frees both. */
static void s_assert_same(bytes_t a, bytes_t b)
{
    assert_int_equal(a.len, b.len);
    if (a.len) assert_memory_equal(a.data, b.data, a.len);
    free(a.data);
    free(b.data);
}

/* Asserts cx_reduce refuses ev with code and leaves the context byte for byte as it was. */
static void s_assert_refused(fx_t *fx, Cx__Event *ev, int code)
{
    bytes_t before = s_pack(&fx->ctx);
    assert_int_equal(s_apply(fx, ev), code);
    s_assert_same(before, s_pack(&fx->ctx));
}

static Cx__GoalState *s_find(fx_t *fx, const char *goal_id)
{
    Cx__GoalState *g = cx_context_find_goal(&fx->ctx, goal_id);
    assert_non_null(g);
    return g;
}

/* ---- goals ---- */

static void test_reducer_goal_set_adds_active_goal(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 3)), 0);
    assert_int_equal(fx->ctx.n_goals, 1);
    Cx__GoalState *g = s_find(fx, "trip");
    assert_string_equal(g->status, "active");
    assert_string_equal(g->category, "travel");
    assert_string_equal(g->title, "Trip to Lisbon");
    assert_true(g->has_deadline && g->deadline == 5000000);
    assert_true(g->has_target && g->target == 3);
    assert_true(g->has_progress && g->progress == 0);
    assert_true(g->has_created_at && g->created_at == fx->clock);
    assert_int_equal(g->n_milestones, 0);
}

static void test_reducer_goal_set_existing_replaces_fields_keeps_progress(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 10)), 0);
    int64_t created = fx->clock;
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "flights-booked", 4)), 0);
    Cx__Event *ev = s_goal(fx, "goal.set", "trip");
    ev->goal->title = s_str(fx, "Trip to Porto");
    ev->goal->has_target = 1;
    ev->goal->target = 20;
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_goals, 1);
    Cx__GoalState *g = s_find(fx, "trip");
    assert_string_equal(g->title, "Trip to Porto");
    assert_null(g->category); /* set replaces: what the event leaves out is cleared */
    assert_false(g->has_deadline);
    assert_true(g->target == 20);
    assert_true(g->progress == 4);
    assert_int_equal(g->n_milestones, 1);
    assert_true(g->created_at == created);
    assert_true(g->updated_at == fx->clock);
}

static void test_reducer_goal_set_reactivates_abandoned_goal(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 3)), 0);
    assert_int_equal(s_apply(fx, s_goal(fx, "goal.abandoned", "trip")), 0);
    assert_string_equal(s_find(fx, "trip")->status, "abandoned");
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 3)), 0);
    assert_string_equal(s_find(fx, "trip")->status, "active");
}

static void test_reducer_goal_set_33rd_goal_is_limit(void **state)
{
    fx_t *fx = *state;
    char id[16];
    for (int i = 0; i < CX_MAX_GOALS; i++) {
        snprintf(id, sizeof(id), "g%d", i);
        assert_int_equal(s_apply(fx, s_goal_set(fx, id, 1)), 0);
    }
    assert_int_equal(fx->ctx.n_goals, CX_MAX_GOALS);
    s_assert_refused(fx, s_goal_set(fx, "g32", 1), CX_E_LIMIT);
    /* re-setting an existing goal at the limit is still fine */
    assert_int_equal(s_apply(fx, s_goal_set(fx, "g7", 2)), 0);
    assert_int_equal(fx->ctx.n_goals, CX_MAX_GOALS);
}

static void test_reducer_goal_updated_sets_present_fields(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 10)), 0);
    Cx__Event *ev = s_goal(fx, "goal.updated", "trip");
    ev->goal->has_progress = 1;
    ev->goal->progress = 2.5;
    ev->goal->title = s_str(fx, "Trip to Faro");
    assert_int_equal(s_apply(fx, ev), 0);
    Cx__GoalState *g = s_find(fx, "trip");
    assert_string_equal(g->title, "Trip to Faro");
    assert_string_equal(g->category, "travel"); /* absent: kept */
    assert_true(g->deadline == 5000000);
    assert_true(g->target == 10);
    assert_true(g->progress == 2.5);
    assert_string_equal(g->status, "active");
}

static void test_reducer_goal_updated_progress_at_target_completes(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 10)), 0);
    Cx__Event *ev = s_goal(fx, "goal.updated", "trip");
    ev->goal->has_progress = 1;
    ev->goal->progress = 10;
    assert_int_equal(s_apply(fx, ev), 0);
    assert_string_equal(s_find(fx, "trip")->status, "completed");
}

static void test_reducer_goal_updated_unknown_goal_is_refused(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 10)), 0);
    s_assert_refused(fx, s_goal(fx, "goal.updated", "nope"), CX_E_UNKNOWN_GOAL);
}

static void test_reducer_goal_completed_sets_status_and_progress(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 5)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "m", 1)), 0);
    assert_int_equal(s_apply(fx, s_goal(fx, "goal.completed", "trip")), 0);
    Cx__GoalState *g = s_find(fx, "trip");
    assert_string_equal(g->status, "completed");
    assert_true(g->progress == 5);
    assert_true(g->updated_at == fx->clock);
}

static void test_reducer_goal_completed_unknown_goal_is_refused(void **state)
{
    fx_t *fx = *state;
    s_assert_refused(fx, s_goal(fx, "goal.completed", "nope"), CX_E_UNKNOWN_GOAL);
}

static void test_reducer_goal_abandoned_sets_status(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 5)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "m", 2)), 0);
    assert_int_equal(s_apply(fx, s_goal(fx, "goal.abandoned", "trip")), 0);
    Cx__GoalState *g = s_find(fx, "trip");
    assert_string_equal(g->status, "abandoned");
    assert_true(g->progress == 2);
}

static void test_reducer_goal_abandoned_unknown_goal_is_refused(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 5)), 0);
    s_assert_refused(fx, s_goal(fx, "goal.abandoned", "nope"), CX_E_UNKNOWN_GOAL);
}

/* ---- milestones ---- */

static void test_reducer_milestone_moves_progress(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 10)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "flights-booked", 2.5)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "hotel-booked", 3)), 0);
    Cx__GoalState *g = s_find(fx, "trip");
    assert_true(g->progress == 5.5);
    assert_string_equal(g->status, "active");
    assert_int_equal(g->n_milestones, 2);
    assert_string_equal(g->milestones[0]->name, "flights-booked");
    assert_true(g->milestones[0]->progress == 2.5);
    assert_string_equal(g->milestones[1]->name, "hotel-booked");
    assert_true(g->milestones[1]->has_reached_at && g->milestones[1]->reached_at == fx->clock);
}

static void test_reducer_milestone_default_progress_is_one(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 10)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "m", -1)), 0);
    Cx__GoalState *g = s_find(fx, "trip");
    assert_true(g->progress == 1);
    assert_true(g->milestones[0]->progress == 1);
}

static void test_reducer_milestone_completes_goal_at_target(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 3)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "a", -1)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "b", -1)), 0);
    assert_string_equal(s_find(fx, "trip")->status, "active");
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "c", -1)), 0);
    assert_string_equal(s_find(fx, "trip")->status, "completed");
    assert_true(s_find(fx, "trip")->progress == 3);
}

static void test_reducer_milestone_without_target_never_completes(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", -1)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "a", 100)), 0);
    assert_string_equal(s_find(fx, "trip")->status, "active");
}

static void test_reducer_milestone_unknown_goal_leaves_context_unchanged(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 3)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "a", 1)), 0);
    s_assert_refused(fx, s_milestone(fx, "other", "a", 1), CX_E_UNKNOWN_GOAL);
    assert_true(fx->ctx.version == 2);
}

static void test_reducer_milestone_17th_drops_oldest_keeps_progress(void **state)
{
    fx_t *fx = *state;
    char name[16];
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 100)), 0);
    for (int i = 0; i < CX_MAX_MILESTONES + 1; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(s_apply(fx, s_milestone(fx, "trip", name, 1)), 0);
    }
    Cx__GoalState *g = s_find(fx, "trip");
    assert_int_equal(g->n_milestones, CX_MAX_MILESTONES);
    assert_string_equal(g->milestones[0]->name, "m1");
    assert_string_equal(g->milestones[CX_MAX_MILESTONES - 1]->name, "m16");
    assert_true(g->progress == CX_MAX_MILESTONES + 1);
}

static void test_reducer_milestone_sum_beyond_double_stays_finite(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", -1)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "a", 1.7e308)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "b", 1.7e308)), 0);
    double p = s_find(fx, "trip")->progress;
    assert_true(p > 1.7e308 && p - p == 0); /* finite */
}

/* ---- activity and profile ---- */

static void test_reducer_activity_counts_and_records_last(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_activity(fx, "viewed-hotels")), 0);
    assert_int_equal(s_apply(fx, s_activity(fx, "viewed-flights")), 0);
    assert_true(fx->ctx.has_activity_count && fx->ctx.activity_count == 2);
    assert_string_equal(fx->ctx.last_activity, "viewed-flights");
    assert_true(fx->ctx.has_last_activity_at && fx->ctx.last_activity_at == fx->clock);
}

static void test_reducer_profile_sets_and_replaces_attributes(void **state)
{
    fx_t *fx = *state;
    Cx__Event *ev = s_profile(fx);
    s_profile_set(fx, ev, "home_city", "Lisbon");
    s_profile_set(fx, ev, "language", "pt");
    assert_int_equal(s_apply(fx, ev), 0);
    ev = s_profile(fx);
    s_profile_set(fx, ev, "home_city", "Porto");
    s_profile_set(fx, ev, "tier", NULL);
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_attributes, 3);
    assert_string_equal(cx_context_attribute(&fx->ctx, "home_city"), "Porto");
    assert_string_equal(cx_context_attribute(&fx->ctx, "language"), "pt");
    assert_string_equal(cx_context_attribute(&fx->ctx, "tier"), "");
    assert_string_equal(fx->ctx.attributes[0]->key, "home_city"); /* order kept */
}

static void test_reducer_profile_unsets_attributes(void **state)
{
    fx_t *fx = *state;
    Cx__Event *ev = s_profile(fx);
    s_profile_set(fx, ev, "a", "1");
    s_profile_set(fx, ev, "b", "2");
    s_profile_set(fx, ev, "c", "3");
    assert_int_equal(s_apply(fx, ev), 0);
    ev = s_profile(fx);
    s_profile_unset(fx, ev, "b");
    s_profile_unset(fx, ev, "never-set");
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_attributes, 2);
    assert_null(cx_context_attribute(&fx->ctx, "b"));
    assert_string_equal(fx->ctx.attributes[1]->key, "c");
}

static void test_reducer_profile_sets_then_unsets(void **state)
{
    fx_t *fx = *state;
    Cx__Event *ev = s_profile(fx);
    s_profile_set(fx, ev, "a", "1");
    s_profile_unset(fx, ev, "a");
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_attributes, 0);
    assert_true(fx->ctx.version == 1);
}

static void test_reducer_profile_33rd_attribute_is_limit(void **state)
{
    fx_t *fx = *state;
    char key[16];
    Cx__Event *ev = s_profile(fx);
    for (int i = 0; i < CX_MAX_ATTRIBUTES; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        s_profile_set(fx, ev, key, "v");
    }
    assert_int_equal(s_apply(fx, ev), 0);
    ev = s_profile(fx);
    s_profile_set(fx, ev, "k0", "replaced");
    s_profile_set(fx, ev, "one-more", "v");
    s_assert_refused(fx, ev, CX_E_LIMIT);
    /* adding one while removing one fits */
    s_profile_unset(fx, ev, "k5");
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_attributes, CX_MAX_ATTRIBUTES);
    assert_string_equal(cx_context_attribute(&fx->ctx, "k0"), "replaced");
}

/* ---- consent ---- */

static void test_reducer_consent_grant_then_revoke(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.granted", "acme-insurance")), 0);
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.granted", "travel")), 0);
    assert_int_equal(fx->ctx.n_consents, 2);
    assert_string_equal(fx->ctx.consents[0]->scope, "acme-insurance");
    assert_true(fx->ctx.consents[1]->has_granted_at &&
                fx->ctx.consents[1]->granted_at == fx->clock);
    assert_false(fx->ctx.consents[1]->has_expires_at);
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.revoked", "acme-insurance")), 0);
    assert_int_equal(fx->ctx.n_consents, 1);
    assert_string_equal(fx->ctx.consents[0]->scope, "travel");
}

static void test_reducer_consent_grant_refresh_updates_expiry(void **state)
{
    fx_t *fx = *state;
    Cx__Event *ev = s_consent(fx, "consent.granted", "travel");
    ev->consent->has_expires_at = 1;
    ev->consent->expires_at = 9000;
    assert_int_equal(s_apply(fx, ev), 0);
    ev = s_consent(fx, "consent.granted", "travel");
    ev->consent->has_expires_at = 1;
    ev->consent->expires_at = 20000;
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_consents, 1);
    assert_true(fx->ctx.consents[0]->expires_at == 20000);
    assert_true(fx->ctx.consents[0]->granted_at == fx->clock);
    /* a grant without expiry makes it open-ended */
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.granted", "travel")), 0);
    assert_false(fx->ctx.consents[0]->has_expires_at);
}

static void test_reducer_consent_revoke_not_granted_is_noop_with_version(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.granted", "travel")), 0);
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.revoked", "money")), 0);
    assert_int_equal(fx->ctx.n_consents, 1);
    assert_true(fx->ctx.version == 2);
    assert_true(fx->ctx.updated_at == fx->clock);
}

static void test_reducer_consent_33rd_scope_is_limit(void **state)
{
    fx_t *fx = *state;
    char scope[16];
    for (int i = 0; i < CX_MAX_CONSENTS; i++) {
        snprintf(scope, sizeof(scope), "p%d", i);
        assert_int_equal(s_apply(fx, s_consent(fx, "consent.granted", scope)), 0);
    }
    s_assert_refused(fx, s_consent(fx, "consent.granted", "p32"), CX_E_LIMIT);
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.granted", "p3")), 0); /* refresh */
}

/* ---- offers ---- */

static void test_reducer_offer_made_adds_offer(void **state)
{
    fx_t *fx = *state;
    Cx__Event *ev = s_offer(fx, "offer.made", "o1");
    ev->offer->has_expires_at = 1;
    ev->offer->expires_at = 77777;
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_offers, 1);
    Cx__OfferState *o = fx->ctx.offers[0];
    assert_string_equal(o->offer_id, "o1");
    assert_string_equal(o->partner, "acme-insurance");
    assert_string_equal(o->goal_id, "trip");
    assert_string_equal(o->title, "Travel insurance");
    assert_string_equal(o->status, "made");
    assert_true(o->made_at == fx->clock && o->updated_at == fx->clock);
    assert_true(o->has_expires_at && o->expires_at == 77777);
}

static void test_reducer_offer_made_replaces_and_moves_to_newest(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.made", "o1")), 0);
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.made", "o2")), 0);
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.accepted", "o1")), 0);
    Cx__Event *ev = s_offer(fx, "offer.made", "o1");
    ev->offer->title = s_str(fx, "Better insurance");
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(fx->ctx.n_offers, 2);
    assert_string_equal(fx->ctx.offers[0]->offer_id, "o2");
    assert_string_equal(fx->ctx.offers[1]->offer_id, "o1");
    assert_string_equal(fx->ctx.offers[1]->title, "Better insurance");
    assert_string_equal(fx->ctx.offers[1]->status, "made");
}

static void test_reducer_offer_accepted_sets_status(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.made", "o1")), 0);
    int64_t made = fx->clock;
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.accepted", "o1")), 0);
    Cx__OfferState *o = fx->ctx.offers[0];
    assert_string_equal(o->status, "accepted");
    assert_true(o->made_at == made);
    assert_true(o->updated_at == fx->clock);
}

static void test_reducer_offer_accepted_unknown_offer_leaves_context_unchanged(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.made", "o1")), 0);
    s_assert_refused(fx, s_offer(fx, "offer.accepted", "o9"), CX_E_UNKNOWN_OFFER);
}

static void test_reducer_offer_17th_drops_oldest(void **state)
{
    fx_t *fx = *state;
    char id[16];
    for (int i = 0; i < CX_MAX_OFFERS + 1; i++) {
        snprintf(id, sizeof(id), "o%d", i);
        assert_int_equal(s_apply(fx, s_offer(fx, "offer.made", id)), 0);
    }
    assert_int_equal(fx->ctx.n_offers, CX_MAX_OFFERS);
    assert_string_equal(fx->ctx.offers[0]->offer_id, "o1");
    assert_string_equal(fx->ctx.offers[CX_MAX_OFFERS - 1]->offer_id, "o16");
    /* replacing one at the limit drops nothing */
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.made", "o5")), 0);
    assert_int_equal(fx->ctx.n_offers, CX_MAX_OFFERS);
    assert_string_equal(fx->ctx.offers[0]->offer_id, "o1");
    assert_string_equal(fx->ctx.offers[CX_MAX_OFFERS - 1]->offer_id, "o5");
}

/* ---- erase, versions, owners ---- */

static void test_reducer_erase_empties_context_keeps_customer_id(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 3)), 0);
    assert_int_equal(s_apply(fx, s_milestone(fx, "trip", "a", 1)), 0);
    assert_int_equal(s_apply(fx, s_activity(fx, "viewed")), 0);
    Cx__Event *ev = s_profile(fx);
    s_profile_set(fx, ev, "home_city", "Lisbon");
    assert_int_equal(s_apply(fx, ev), 0);
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.granted", "travel")), 0);
    assert_int_equal(s_apply(fx, s_offer(fx, "offer.made", "o1")), 0);
    assert_int_equal(s_apply(fx, s_erase(fx)), 0);

    const Cx__CustomerContext *c = &fx->ctx;
    assert_string_equal(c->customer_id, "c1");
    assert_int_equal(c->n_goals + c->n_attributes + c->n_consents + c->n_offers, 0);
    assert_true(c->version == 0 && c->updated_at == 0 && c->activity_count == 0);
    assert_null(c->last_activity);
    assert_true(c->last_activity_at == 0);
    /* it packs exactly like a fresh context that only knows its customer */
    Cx__CustomerContext fresh = CX__CUSTOMER_CONTEXT__INIT;
    fresh.customer_id = "c1";
    s_assert_same(s_pack(c), s_pack(&fresh));
}

static void test_reducer_erase_without_payload_is_accepted(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_activity(fx, "viewed")), 0);
    Cx__Event *ev = s_event(fx, "customer.erase");
    assert_int_equal(s_apply(fx, ev), 0);
    assert_true(fx->ctx.activity_count == 0);
}

static void test_reducer_version_and_updated_at_advance(void **state)
{
    fx_t *fx = *state;
    assert_false(fx->ctx.has_version);
    assert_int_equal(s_apply(fx, s_activity(fx, "a")), 0);
    assert_true(fx->ctx.has_version && fx->ctx.version == 1);
    assert_true(fx->ctx.has_updated_at && fx->ctx.updated_at == fx->clock);
    assert_int_equal(s_apply(fx, s_goal_set(fx, "trip", 1)), 0);
    assert_true(fx->ctx.version == 2);
    assert_true(fx->ctx.updated_at == fx->clock);
}

static void test_reducer_event_time_prefers_accepted_at(void **state)
{
    fx_t *fx = *state;
    Cx__Event *ev = s_activity(fx, "a");
    ev->has_accepted_at = 1;
    ev->accepted_at = 424242;
    assert_int_equal(s_apply(fx, ev), 0);
    assert_true(fx->ctx.updated_at == 424242);
    assert_true(fx->ctx.last_activity_at == 424242);
    ev = s_activity(fx, "b");
    ev->has_occurred_at = 0;
    assert_int_equal(s_apply(fx, ev), 0);
    assert_true(fx->ctx.updated_at == 0);
}

static void test_reducer_fresh_context_takes_customer_id(void **state)
{
    fx_t *fx = *state;
    assert_null(fx->ctx.customer_id);
    assert_int_equal(s_apply(fx, s_consent(fx, "consent.revoked", "x")), 0);
    assert_string_equal(fx->ctx.customer_id, "c1");
}

static void test_reducer_other_customers_event_is_refused(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_apply(fx, s_activity(fx, "a")), 0);
    Cx__Event *ev = s_activity(fx, "b");
    ev->customer_id = s_str(fx, "c2");
    s_assert_refused(fx, ev, CX_E_INVAL);
}

static void test_reducer_unvalidated_event_is_refused_not_crashed(void **state)
{
    fx_t *fx = *state;
    Cx__Event *ev = s_event(fx, "goal.exploded");
    s_assert_refused(fx, ev, CX_E_UNKNOWN_TYPE);
    ev = s_event(fx, "milestone.reached"); /* no payload */
    s_assert_refused(fx, ev, CX_E_PAYLOAD_MISMATCH);
    ev = s_goal(fx, "milestone.reached", "trip"); /* wrong payload */
    s_assert_refused(fx, ev, CX_E_PAYLOAD_MISMATCH);
    ev = s_goal(fx, "goal.set", "trip");
    ev->goal->goal_id = NULL;
    s_assert_refused(fx, ev, CX_E_MISSING_FIELD);
    ev = s_activity(fx, "a");
    ev->customer_id = NULL;
    s_assert_refused(fx, ev, CX_E_MISSING_FIELD);
    assert_int_equal(cx_reduce(NULL, ev, fx->arena), CX_E_INVAL);
}

/* ---- random streams: determinism, atomicity, unpacked contexts ---- */

static uint64_t s_next(uint64_t *seed)
{
    uint64_t x = *seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *seed = x;
}

static unsigned s_pick(uint64_t *seed, unsigned n)
{
    return (unsigned)(s_next(seed) % n);
}

/* A valid event over small pools of ids, so that events meet: goals beyond the
 * limit, milestones on unknown goals, offers accepted before they are made. */
static Cx__Event *s_random_event(fx_t *fx, uint64_t *seed)
{
    char id[16], name[16];
    snprintf(id, sizeof(id), "g%u", s_pick(seed, 40));
    snprintf(name, sizeof(name), "n%u", s_pick(seed, 30));
    unsigned r = s_pick(seed, 1000);
    Cx__Event *ev;
    if (r < 150) {
        ev = s_goal_set(fx, id, s_pick(seed, 4) ? (double)s_pick(seed, 20) : -1);
    } else if (r < 230) {
        ev = s_goal(fx, "goal.updated", id);
        if (s_pick(seed, 2))
            ev->goal->has_progress = 1, ev->goal->progress = s_pick(seed, 80) / 4.0;
        if (s_pick(seed, 2)) ev->goal->title = s_str(fx, name);
        if (s_pick(seed, 3) == 0) ev->goal->has_target = 1, ev->goal->target = s_pick(seed, 20);
    } else if (r < 270) {
        ev = s_goal(fx, "goal.completed", id);
    } else if (r < 300) {
        ev = s_goal(fx, "goal.abandoned", id);
    } else if (r < 550) {
        ev = s_milestone(fx, id, name, s_pick(seed, 3) ? s_pick(seed, 12) / 4.0 : -1);
    } else if (r < 650) {
        ev = s_activity(fx, name);
    } else if (r < 750) {
        ev = s_profile(fx);
        for (unsigned i = s_pick(seed, 4); i > 0; i--) {
            snprintf(id, sizeof(id), "k%u", s_pick(seed, 40));
            s_profile_set(fx, ev, id, name);
        }
        for (unsigned i = s_pick(seed, 3); i > 0; i--) {
            snprintf(id, sizeof(id), "k%u", s_pick(seed, 40));
            s_profile_unset(fx, ev, id);
        }
    } else if (r < 830) {
        snprintf(id, sizeof(id), "p%u", s_pick(seed, 40));
        ev = s_consent(fx, "consent.granted", id);
        if (s_pick(seed, 2))
            ev->consent->has_expires_at = 1, ev->consent->expires_at = s_pick(seed, 99999);
    } else if (r < 880) {
        snprintf(id, sizeof(id), "p%u", s_pick(seed, 40));
        ev = s_consent(fx, "consent.revoked", id);
    } else if (r < 960) {
        snprintf(id, sizeof(id), "o%u", s_pick(seed, 24));
        ev = s_offer(fx, "offer.made", id);
    } else if (r < 995) {
        snprintf(id, sizeof(id), "o%u", s_pick(seed, 24));
        ev = s_offer(fx, "offer.accepted", id);
    } else {
        ev = s_erase(fx);
    }
    if (s_pick(seed, 10) == 0) ev->has_accepted_at = 1, ev->accepted_at = fx->clock + 5;
    return ev;
}

/* Applies n random events from seed to a fresh context; returns its packed bytes. */
static bytes_t s_replay(uint64_t seed, int n)
{
    void *state = NULL;
    assert_int_equal(s_setup(&state), 0);
    fx_t *fx = state;
    for (int i = 0; i < n; i++)
        (void)s_apply(fx, s_random_event(fx, &seed));
    bytes_t b = s_pack(&fx->ctx);
    s_teardown(&state);
    return b;
}

static void test_reducer_is_deterministic_over_1000_random_events(void **state)
{
    (void)state;
    bytes_t a = s_replay(0x9E3779B97F4A7C15ull, 1000);
    bytes_t b = s_replay(0x9E3779B97F4A7C15ull, 1000);
    assert_true(a.len > 100);
    s_assert_same(a, b);
}

static void test_reducer_refusals_in_random_stream_leave_context_unchanged(void **state)
{
    fx_t *fx = *state;
    uint64_t seed = 12345;
    int refused = 0;
    for (int i = 0; i < 2000; i++) {
        Cx__Event *ev = s_random_event(fx, &seed);
        bytes_t before = s_pack(&fx->ctx);
        int rc = s_apply(fx, ev);
        if (rc == 0) {
            free(before.data);
        } else {
            refused++;
            assert_true(rc == CX_E_UNKNOWN_GOAL || rc == CX_E_UNKNOWN_OFFER || rc == CX_E_LIMIT);
            s_assert_same(before, s_pack(&fx->ctx));
        }
        assert_true(fx->ctx.n_goals <= CX_MAX_GOALS);
        assert_true(fx->ctx.n_attributes <= CX_MAX_ATTRIBUTES);
        assert_true(fx->ctx.n_consents <= CX_MAX_CONSENTS);
        assert_true(fx->ctx.n_offers <= CX_MAX_OFFERS);
        for (size_t g = 0; g < fx->ctx.n_goals; g++)
            assert_true(fx->ctx.goals[g]->n_milestones <= CX_MAX_MILESTONES);
    }
    assert_true(refused > 50); /* the stream does exercise refusals */
}

static void test_reducer_pack_unpack_after_reducing_is_identical(void **state)
{
    fx_t *fx = *state;
    uint64_t seed = 777;
    for (int i = 0; i < 300; i++)
        (void)s_apply(fx, s_random_event(fx, &seed));
    bytes_t a = s_pack(&fx->ctx);
    cx_arena_t *other = cx_arena_new(0);
    Cx__CustomerContext *back =
        cx__customer_context__unpack(cx_arena_allocator(other), a.len, a.data);
    assert_non_null(back);
    assert_int_equal(back->n_goals, fx->ctx.n_goals);
    assert_true(back->version == fx->ctx.version);
    s_assert_same(a, s_pack(back));
    cx_arena_destroy(&other);
}

/* The same stream applied straight through, and to a context that is packed and
 * unpacked into a fresh arena every few events (as the store and cache do). */
static void test_reducer_continues_on_unpacked_context(void **state)
{
    fx_t *fx = *state;
    cx_arena_t *arenas[2] = {cx_arena_new(0), cx_arena_new(0)};
    int cur = 0;
    Cx__CustomerContext fresh = CX__CUSTOMER_CONTEXT__INIT;
    Cx__CustomerContext *b = &fresh;
    uint64_t seed = 4242;
    for (int i = 0; i < 1000; i++) {
        Cx__Event *ev = s_random_event(fx, &seed);
        int rc_a = s_apply(fx, ev);
        int rc_b = cx_reduce(b, ev, arenas[cur]);
        assert_int_equal(rc_a, rc_b);
        if (i % 7 == 6) {
            bytes_t packed = s_pack(b);
            cur = !cur;
            cx_arena_reset(arenas[cur]);
            b = cx__customer_context__unpack(cx_arena_allocator(arenas[cur]), packed.len,
                                             packed.data);
            assert_non_null(b);
            free(packed.data);
        }
    }
    s_assert_same(s_pack(&fx->ctx), s_pack(b));
    cx_arena_destroy(&arenas[0]);
    cx_arena_destroy(&arenas[1]);
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reducer_goal_set_adds_active_goal),
        T(test_reducer_goal_set_existing_replaces_fields_keeps_progress),
        T(test_reducer_goal_set_reactivates_abandoned_goal),
        T(test_reducer_goal_set_33rd_goal_is_limit),
        T(test_reducer_goal_updated_sets_present_fields),
        T(test_reducer_goal_updated_progress_at_target_completes),
        T(test_reducer_goal_updated_unknown_goal_is_refused),
        T(test_reducer_goal_completed_sets_status_and_progress),
        T(test_reducer_goal_completed_unknown_goal_is_refused),
        T(test_reducer_goal_abandoned_sets_status),
        T(test_reducer_goal_abandoned_unknown_goal_is_refused),
        T(test_reducer_milestone_moves_progress),
        T(test_reducer_milestone_default_progress_is_one),
        T(test_reducer_milestone_completes_goal_at_target),
        T(test_reducer_milestone_without_target_never_completes),
        T(test_reducer_milestone_unknown_goal_leaves_context_unchanged),
        T(test_reducer_milestone_17th_drops_oldest_keeps_progress),
        T(test_reducer_milestone_sum_beyond_double_stays_finite),
        T(test_reducer_activity_counts_and_records_last),
        T(test_reducer_profile_sets_and_replaces_attributes),
        T(test_reducer_profile_unsets_attributes),
        T(test_reducer_profile_sets_then_unsets),
        T(test_reducer_profile_33rd_attribute_is_limit),
        T(test_reducer_consent_grant_then_revoke),
        T(test_reducer_consent_grant_refresh_updates_expiry),
        T(test_reducer_consent_revoke_not_granted_is_noop_with_version),
        T(test_reducer_consent_33rd_scope_is_limit),
        T(test_reducer_offer_made_adds_offer),
        T(test_reducer_offer_made_replaces_and_moves_to_newest),
        T(test_reducer_offer_accepted_sets_status),
        T(test_reducer_offer_accepted_unknown_offer_leaves_context_unchanged),
        T(test_reducer_offer_17th_drops_oldest),
        T(test_reducer_erase_empties_context_keeps_customer_id),
        T(test_reducer_erase_without_payload_is_accepted),
        T(test_reducer_version_and_updated_at_advance),
        T(test_reducer_event_time_prefers_accepted_at),
        T(test_reducer_fresh_context_takes_customer_id),
        T(test_reducer_other_customers_event_is_refused),
        T(test_reducer_unvalidated_event_is_refused_not_crashed),
        T(test_reducer_is_deterministic_over_1000_random_events),
        T(test_reducer_refusals_in_random_stream_leave_context_unchanged),
        T(test_reducer_pack_unpack_after_reducing_is_identical),
        T(test_reducer_continues_on_unpacked_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
