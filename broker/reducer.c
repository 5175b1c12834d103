/* reducer.c - a customer's context as a pure function of its events.
 *
 * For: applying one validated event to one CustomerContext, in place (the
 * semantics of each event type are in reducer.h). Not for: decoding or
 * validating what came off the wire (codec.c), deciding who hears about the
 * event (router.c), or storing the result (store.c).
 *
 * The one idea: a pure function from (context, event) to context; no I/O, no
 * clock, no globals. Every apply runs in two phases. The first looks the event
 * up against the context and builds everything new in the arena: strings,
 * messages, arrays, and private copies of the goal, consent or offer it changes.
 * It touches nothing the context can see, so a refusal (an unknown goal, a full
 * context, an arena out of memory) returns with ctx exactly as it was. The
 * second phase commits with plain assignments, which cannot fail. Copying a
 * changed message instead of editing it also means arrays and messages that
 * came from protobuf_c_message_unpack are never written through, only replaced.
 */
#include "reducer.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "cx_error.h"
#include "cx_event.h"

#define S_ACTIVE "active"
#define S_COMPLETED "completed"
#define S_ABANDONED "abandoned"
#define S_MADE "made"
#define S_ACCEPTED "accepted"

/* ---- phase-one helpers: allocate, never touch ctx ---- */

/* *out = arena copy of s, or NULL when s is NULL. 0 or CX_E_NOMEM. */
static int s_dup(cx_arena_t *arena, const char *s, char **out)
{
    *out = NULL;
    if (!s) return 0;
    *out = cx_arena_strdup(arena, s);
    return *out ? 0 : CX_E_NOMEM;
}

/* A new arena array of n + extra pointers (each size bytes) starting with the n of old. */
static void *s_ptrs(cx_arena_t *arena, const void *old, size_t n, size_t size, size_t extra)
{
    size_t total = n + extra ? n + extra : 1;
    void *p = cx_arena_alloc(arena, total * size);
    if (p && n) memcpy(p, old, n * size);
    return p;
}

/* A private copy of a message struct, so that edits stay invisible until committed. */
static void *s_copy(cx_arena_t *arena, const void *msg, size_t size)
{
    void *p = cx_arena_alloc(arena, size);
    if (p) memcpy(p, msg, size);
    return p;
}

/* Adds to progress; a sum beyond the largest double stays at the largest double,
 * so that progress remains a finite number in every context. */
static double s_add_progress(double progress, double delta)
{
    double sum = progress + delta;
    return isfinite(sum) ? sum : DBL_MAX;
}

static int s_is_active(const Cx__GoalState *g)
{
    return !g->status || !strcmp(g->status, S_ACTIVE);
}

/* Completion rule of every goal event: an active goal whose progress reached a
 * positive target is completed. */
static int s_settle_status(Cx__GoalState *g, cx_arena_t *arena)
{
    if (!s_is_active(g) || !g->has_target || !(g->target > 0)) return 0;
    if (!g->has_progress || g->progress < g->target) return 0;
    return s_dup(arena, S_COMPLETED, &g->status);
}

static size_t s_goal_index(const Cx__CustomerContext *ctx, const Cx__GoalState *g)
{
    size_t i = 0;
    while (i < ctx->n_goals && ctx->goals[i] != g)
        i++;
    return i;
}

static size_t s_consent_index(const Cx__CustomerContext *ctx, const char *scope)
{
    size_t i = 0;
    while (i < ctx->n_consents &&
           !(ctx->consents[i]->scope && !strcmp(ctx->consents[i]->scope, scope)))
        i++;
    return i;
}

static size_t s_offer_index(const Cx__CustomerContext *ctx, const char *offer_id)
{
    size_t i = 0;
    while (i < ctx->n_offers &&
           !(ctx->offers[i]->offer_id && !strcmp(ctx->offers[i]->offer_id, offer_id)))
        i++;
    return i;
}

/* The slot of key among the n attributes of attrs, or n. */
static size_t s_attribute_index(Cx__Attribute *const *attrs, size_t n, const char *key)
{
    size_t i = 0;
    while (i < n && !(attrs[i]->key && !strcmp(attrs[i]->key, key)))
        i++;
    return i;
}

/* ---- one function per event type: phase one, then commit ---- */

/* Swaps a changed goal into its slot. */
static void s_commit_goal(Cx__CustomerContext *ctx, const Cx__GoalState *old, Cx__GoalState *g)
{
    ctx->goals[s_goal_index(ctx, old)] = g;
}

static int s_goal_set(Cx__CustomerContext *ctx, const Cx__Goal *src, int64_t t, cx_arena_t *arena)
{
    Cx__GoalState *cur = cx_context_find_goal(ctx, src->goal_id);
    if (!cur && ctx->n_goals >= CX_MAX_GOALS) return CX_E_LIMIT;
    Cx__GoalState *g = cx_arena_alloc(arena, sizeof(*g));
    if (!g) return CX_E_NOMEM;
    if (cur) {
        *g = *cur;
    } else {
        cx__goal_state__init(g);
        if (s_dup(arena, src->goal_id, &g->goal_id)) return CX_E_NOMEM;
        g->has_created_at = 1;
        g->created_at = t;
        g->has_progress = 1;
        g->progress = src->has_progress ? src->progress : 0;
    }
    /* set, unlike updated, replaces: a field the event leaves out is cleared */
    if (s_dup(arena, src->category, &g->category) || s_dup(arena, src->title, &g->title) ||
        s_dup(arena, S_ACTIVE, &g->status))
        return CX_E_NOMEM;
    g->has_deadline = src->has_deadline;
    g->deadline = src->has_deadline ? src->deadline : 0;
    g->has_target = src->has_target;
    g->target = src->has_target ? src->target : 0;
    g->has_updated_at = 1;
    g->updated_at = t;
    if (s_settle_status(g, arena)) return CX_E_NOMEM;
    if (cur) {
        s_commit_goal(ctx, cur, g);
        return 0;
    }
    Cx__GoalState **goals = s_ptrs(arena, ctx->goals, ctx->n_goals, sizeof(*goals), 1);
    if (!goals) return CX_E_NOMEM;
    goals[ctx->n_goals] = g;
    ctx->goals = goals;
    ctx->n_goals++;
    return 0;
}

static int s_goal_updated(Cx__CustomerContext *ctx, const Cx__Goal *src, int64_t t,
                          cx_arena_t *arena)
{
    Cx__GoalState *cur = cx_context_find_goal(ctx, src->goal_id);
    if (!cur) return CX_E_UNKNOWN_GOAL;
    Cx__GoalState *g = s_copy(arena, cur, sizeof(*cur));
    if (!g) return CX_E_NOMEM;
    if ((src->category && s_dup(arena, src->category, &g->category)) ||
        (src->title && s_dup(arena, src->title, &g->title)))
        return CX_E_NOMEM;
    if (src->has_deadline) g->has_deadline = 1, g->deadline = src->deadline;
    if (src->has_target) g->has_target = 1, g->target = src->target;
    if (src->has_progress) g->has_progress = 1, g->progress = src->progress;
    g->has_updated_at = 1;
    g->updated_at = t;
    if (s_settle_status(g, arena)) return CX_E_NOMEM;
    s_commit_goal(ctx, cur, g);
    return 0;
}

/* goal.completed and goal.abandoned: a new status, and for completed progress = target. */
static int s_goal_close(Cx__CustomerContext *ctx, const Cx__Goal *src, int64_t t,
                        const char *status, cx_arena_t *arena)
{
    Cx__GoalState *cur = cx_context_find_goal(ctx, src->goal_id);
    if (!cur) return CX_E_UNKNOWN_GOAL;
    Cx__GoalState *g = s_copy(arena, cur, sizeof(*cur));
    if (!g || s_dup(arena, status, &g->status)) return CX_E_NOMEM;
    if (!strcmp(status, S_COMPLETED) && g->has_target) g->has_progress = 1, g->progress = g->target;
    g->has_updated_at = 1;
    g->updated_at = t;
    s_commit_goal(ctx, cur, g);
    return 0;
}

static int s_milestone(Cx__CustomerContext *ctx, const Cx__Milestone *src, int64_t t,
                       cx_arena_t *arena)
{
    Cx__GoalState *cur = cx_context_find_goal(ctx, src->goal_id);
    if (!cur) return CX_E_UNKNOWN_GOAL;
    double delta = src->has_progress ? src->progress : 1;
    Cx__MilestoneState *m = cx_arena_alloc(arena, sizeof(*m));
    if (!m) return CX_E_NOMEM;
    cx__milestone_state__init(m);
    if (s_dup(arena, src->name, &m->name)) return CX_E_NOMEM;
    m->has_reached_at = 1;
    m->reached_at = t;
    m->has_progress = 1;
    m->progress = delta;

    /* keep the newest CX_MAX_MILESTONES - 1 and append: the oldest drop out,
     * the progress they brought stays on the goal */
    size_t keep = cur->n_milestones < CX_MAX_MILESTONES ? cur->n_milestones : CX_MAX_MILESTONES - 1;
    Cx__MilestoneState *const *newest = keep ? cur->milestones + (cur->n_milestones - keep) : NULL;
    Cx__MilestoneState **ms = s_ptrs(arena, newest, keep, sizeof(*ms), 1);
    Cx__GoalState *g = s_copy(arena, cur, sizeof(*cur));
    if (!ms || !g) return CX_E_NOMEM;
    ms[keep] = m;
    g->milestones = ms;
    g->n_milestones = keep + 1;
    g->progress = s_add_progress(g->has_progress ? g->progress : 0, delta);
    g->has_progress = 1;
    g->has_updated_at = 1;
    g->updated_at = t;
    if (s_settle_status(g, arena)) return CX_E_NOMEM;
    s_commit_goal(ctx, cur, g);
    return 0;
}

static int s_activity(Cx__CustomerContext *ctx, const Cx__Activity *src, int64_t t,
                      cx_arena_t *arena)
{
    char *name;
    if (s_dup(arena, src->name, &name)) return CX_E_NOMEM;
    ctx->has_activity_count = 1;
    ctx->activity_count++;
    ctx->last_activity = name;
    ctx->has_last_activity_at = 1;
    ctx->last_activity_at = t;
    return 0;
}

/* Sets, then unsets, on a new array; the context sees it only if it fits the bound. */
static int s_profile(Cx__CustomerContext *ctx, const Cx__Profile *src, cx_arena_t *arena)
{
    size_t n = ctx->n_attributes;
    Cx__Attribute **attrs = s_ptrs(arena, ctx->attributes, n, sizeof(*attrs), src->n_set);
    if (!attrs) return CX_E_NOMEM;
    for (size_t i = 0; i < src->n_set; i++) {
        const Cx__Attribute *set = src->set[i];
        Cx__Attribute *a = cx_arena_alloc(arena, sizeof(*a));
        if (!a) return CX_E_NOMEM;
        cx__attribute__init(a);
        if (s_dup(arena, set->key, &a->key) ||
            s_dup(arena, set->value ? set->value : "", &a->value))
            return CX_E_NOMEM;
        size_t at = s_attribute_index(attrs, n, set->key);
        attrs[at] = a;
        if (at == n) n++;
        /* unsets can remove at most n_unset keys: beyond that the result cannot fit */
        if (n > CX_MAX_ATTRIBUTES + src->n_unset && n > ctx->n_attributes) return CX_E_LIMIT;
    }
    for (size_t i = 0; i < src->n_unset; i++) {
        size_t at = s_attribute_index(attrs, n, src->unset[i]);
        if (at == n) continue;
        memmove(attrs + at, attrs + at + 1, (n - at - 1) * sizeof(*attrs));
        n--;
    }
    if (n > CX_MAX_ATTRIBUTES && n > ctx->n_attributes) return CX_E_LIMIT;
    ctx->attributes = attrs;
    ctx->n_attributes = n;
    return 0;
}

static int s_consent_granted(Cx__CustomerContext *ctx, const Cx__Consent *src, int64_t t,
                             cx_arena_t *arena)
{
    size_t at = s_consent_index(ctx, src->scope);
    int is_new = at == ctx->n_consents;
    if (is_new && ctx->n_consents >= CX_MAX_CONSENTS) return CX_E_LIMIT;
    Cx__ConsentState *c = cx_arena_alloc(arena, sizeof(*c));
    if (!c) return CX_E_NOMEM;
    cx__consent_state__init(c);
    if (s_dup(arena, src->scope, &c->scope)) return CX_E_NOMEM;
    c->has_granted_at = 1;
    c->granted_at = t;
    c->has_expires_at = src->has_expires_at;
    c->expires_at = src->has_expires_at ? src->expires_at : 0;
    if (!is_new) {
        ctx->consents[at] = c;
        return 0;
    }
    Cx__ConsentState **cs = s_ptrs(arena, ctx->consents, ctx->n_consents, sizeof(*cs), 1);
    if (!cs) return CX_E_NOMEM;
    cs[ctx->n_consents] = c;
    ctx->consents = cs;
    ctx->n_consents++;
    return 0;
}

/* Removing needs no memory, so it cannot fail: an absent scope is a no-op. */
static int s_consent_revoked(Cx__CustomerContext *ctx, const Cx__Consent *src)
{
    size_t at = s_consent_index(ctx, src->scope);
    if (at == ctx->n_consents) return 0;
    memmove(ctx->consents + at, ctx->consents + at + 1,
            (ctx->n_consents - at - 1) * sizeof(*ctx->consents));
    ctx->n_consents--;
    return 0;
}

/* Adds or replaces an offer; either way it becomes the newest, at the end, so
 * that the array stays oldest first and a full list drops its first entry. */
static int s_offer_made(Cx__CustomerContext *ctx, const Cx__Offer *src, int64_t t,
                        cx_arena_t *arena)
{
    Cx__OfferState *o = cx_arena_alloc(arena, sizeof(*o));
    if (!o) return CX_E_NOMEM;
    cx__offer_state__init(o);
    if (s_dup(arena, src->offer_id, &o->offer_id) || s_dup(arena, src->partner, &o->partner) ||
        s_dup(arena, src->goal_id, &o->goal_id) || s_dup(arena, src->title, &o->title) ||
        s_dup(arena, S_MADE, &o->status))
        return CX_E_NOMEM;
    o->has_made_at = o->has_updated_at = 1;
    o->made_at = o->updated_at = t;
    o->has_expires_at = src->has_expires_at;
    o->expires_at = src->has_expires_at ? src->expires_at : 0;

    size_t n = ctx->n_offers, at = s_offer_index(ctx, src->offer_id);
    Cx__OfferState **os = cx_arena_alloc(arena, (n + 1) * sizeof(*os));
    if (!os) return CX_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i != at) os[k++] = ctx->offers[i];
    size_t drop = k >= CX_MAX_OFFERS ? k - (CX_MAX_OFFERS - 1) : 0;
    memmove(os, os + drop, (k - drop) * sizeof(*os));
    k -= drop;
    os[k++] = o;
    ctx->offers = os;
    ctx->n_offers = k;
    return 0;
}

static int s_offer_accepted(Cx__CustomerContext *ctx, const Cx__Offer *src, int64_t t,
                            cx_arena_t *arena)
{
    size_t at = s_offer_index(ctx, src->offer_id);
    if (at == ctx->n_offers) return CX_E_UNKNOWN_OFFER;
    Cx__OfferState *o = s_copy(arena, ctx->offers[at], sizeof(*o));
    if (!o || s_dup(arena, S_ACCEPTED, &o->status)) return CX_E_NOMEM;
    o->has_updated_at = 1;
    o->updated_at = t;
    ctx->offers[at] = o;
    return 0;
}

/* Everything but the customer id goes: the context then packs exactly like a
 * fresh one that only knows whose it is. */
static void s_erase(Cx__CustomerContext *ctx)
{
    char *customer_id = ctx->customer_id;
    cx__customer_context__init(ctx);
    ctx->customer_id = customer_id;
}

/* ---- the entry point ---- */

/* Defends the pointers the reducer follows; cx_codec_validate checks far more. */
static int s_check_event(const Cx__Event *ev, cx_event_type_t type)
{
    int want = cx_event_type_payload(type);
    if (type == CX_EV_CUSTOMER_ERASE && ev->payload_case == CX__EVENT__PAYLOAD__NOT_SET) return 0;
    if ((int)ev->payload_case != want || !ev->goal) return CX_E_PAYLOAD_MISMATCH;
    switch (ev->payload_case) {
    case CX__EVENT__PAYLOAD_GOAL: return ev->goal->goal_id ? 0 : CX_E_MISSING_FIELD;
    case CX__EVENT__PAYLOAD_MILESTONE: return ev->milestone->goal_id ? 0 : CX_E_MISSING_FIELD;
    case CX__EVENT__PAYLOAD_CONSENT: return ev->consent->scope ? 0 : CX_E_MISSING_FIELD;
    case CX__EVENT__PAYLOAD_OFFER: return ev->offer->offer_id ? 0 : CX_E_MISSING_FIELD;
    case CX__EVENT__PAYLOAD_PROFILE:
        for (size_t i = 0; i < ev->profile->n_set; i++)
            if (!ev->profile->set[i] || !ev->profile->set[i]->key) return CX_E_MISSING_FIELD;
        for (size_t i = 0; i < ev->profile->n_unset; i++)
            if (!ev->profile->unset[i]) return CX_E_MISSING_FIELD;
        return 0;
    default: return 0;
    }
}

static int s_apply(Cx__CustomerContext *ctx, const Cx__Event *ev, cx_event_type_t type, int64_t t,
                   cx_arena_t *arena)
{
    switch (type) {
    case CX_EV_GOAL_SET: return s_goal_set(ctx, ev->goal, t, arena);
    case CX_EV_GOAL_UPDATED: return s_goal_updated(ctx, ev->goal, t, arena);
    case CX_EV_GOAL_COMPLETED: return s_goal_close(ctx, ev->goal, t, S_COMPLETED, arena);
    case CX_EV_GOAL_ABANDONED: return s_goal_close(ctx, ev->goal, t, S_ABANDONED, arena);
    case CX_EV_MILESTONE_REACHED: return s_milestone(ctx, ev->milestone, t, arena);
    case CX_EV_ACTIVITY: return s_activity(ctx, ev->activity, t, arena);
    case CX_EV_PROFILE_UPDATED: return s_profile(ctx, ev->profile, arena);
    case CX_EV_CONSENT_GRANTED: return s_consent_granted(ctx, ev->consent, t, arena);
    case CX_EV_CONSENT_REVOKED: return s_consent_revoked(ctx, ev->consent);
    case CX_EV_OFFER_MADE: return s_offer_made(ctx, ev->offer, t, arena);
    case CX_EV_OFFER_ACCEPTED: return s_offer_accepted(ctx, ev->offer, t, arena);
    case CX_EV_CUSTOMER_ERASE: s_erase(ctx); return 0;
    default: return CX_E_UNKNOWN_TYPE;
    }
}

int cx_reduce(Cx__CustomerContext *ctx, const Cx__Event *ev, cx_arena_t *arena)
{
    if (!ctx || !ev || !arena) return CX_E_INVAL;
    cx_event_type_t type = cx_event_type_parse(ev->type);
    if (type == CX_EV_UNKNOWN) return CX_E_UNKNOWN_TYPE;
    if (!ev->customer_id || !*ev->customer_id) return CX_E_MISSING_FIELD;
    int rc = s_check_event(ev, type);
    if (rc) return rc;

    /* a fresh context takes the event's customer; a context never changes owner */
    char *customer_id = NULL;
    if (!ctx->customer_id || !*ctx->customer_id) {
        if (s_dup(arena, ev->customer_id, &customer_id)) return CX_E_NOMEM;
    } else if (strcmp(ctx->customer_id, ev->customer_id) != 0) {
        return CX_E_INVAL;
    }

    int64_t t = ev->has_accepted_at ? ev->accepted_at : ev->has_occurred_at ? ev->occurred_at : 0;
    rc = s_apply(ctx, ev, type, t, arena);
    if (rc) return rc;
    if (customer_id) ctx->customer_id = customer_id;
    if (type == CX_EV_CUSTOMER_ERASE) return 0;
    ctx->has_version = 1;
    ctx->version++;
    ctx->has_updated_at = 1;
    ctx->updated_at = t;
    return 0;
}
