/* router.c - who should hear about an event, and what they may see (router.h).
 *
 * The router is a pure function of (event, the customer's context after the
 * event, config, now) to a list of deliveries: no I/O, no clock, no allocation.
 * Ingest calls it once per accepted event; delivery calls the consent gate and
 * the field filter again at send time with the context as it is then, so a
 * revoke or an expiry between routing and sending still stops the data.
 *
 * The one idea: routes are a first-match-per-partner list. They are checked in
 * config order; a route matches when every match key and every where condition
 * holds; each partner named in its `to` gets the event unless an earlier route
 * already gave it to that partner, and, when the route requires consent, only
 * if the customer granted it. A partner is thus attributed to the first route
 * that actually delivered to it, and never hears about one event twice.
 *
 * What the router is not for: it does not decide what a partner may publish
 * (ingest does), nor whom an erasure must reach (the audit index knows who saw
 * the customer, so customer.erase is routed to no one here).
 *
 * The field filter builds a view, not a copy: the filtered context points into
 * the input's strings and messages, with new pointer arrays (and goal copies,
 * whose milestones may be cut) from an arena. Messages carrying unknown fields
 * (a context written by a newer schema) are copied without them, so a partner
 * receives exactly the fields its `sees` names and nothing else.
 */
#include "router.h"

#include <string.h>

#include "cx_error.h"
#include "cx_event.h"
#include "reducer.h"

/* ---- the event's goal ---- */

/* The goal_id an offer event refers to: its own, or for an offer.accepted that
 * names only the offer, the goal of that offer in the context. */
static const char *s_offer_goal_id(const Cx__Offer *offer, const Cx__CustomerContext *ctx)
{
    if (!offer) return NULL;
    if (offer->goal_id) return offer->goal_id;
    if (!ctx || !offer->offer_id) return NULL;
    for (size_t i = 0; i < ctx->n_offers; i++) {
        const Cx__OfferState *o = ctx->offers[i];
        if (o && o->offer_id && strcmp(o->offer_id, offer->offer_id) == 0) return o->goal_id;
    }
    return NULL;
}

/* The goal_id named by the event's payload, or NULL for events without a goal. */
static const char *s_event_goal_id(const Cx__Event *ev, const Cx__CustomerContext *ctx)
{
    switch (ev->payload_case) {
    case CX__EVENT__PAYLOAD_GOAL: return ev->goal ? ev->goal->goal_id : NULL;
    case CX__EVENT__PAYLOAD_MILESTONE: return ev->milestone ? ev->milestone->goal_id : NULL;
    case CX__EVENT__PAYLOAD_OFFER: return s_offer_goal_id(ev->offer, ctx);
    default: return NULL;
    }
}

static bool s_is_erase(const Cx__Event *ev)
{
    return ev->payload_case == CX__EVENT__PAYLOAD_ERASE ||
           cx_event_type_parse(ev->type) == CX_EV_CUSTOMER_ERASE;
}

/* ---- match ---- */

static bool s_is_milestone_match(const cx_route_cfg_t *route, const Cx__Event *ev)
{
    if (!route->milestone_glob) return true;
    if (ev->payload_case != CX__EVENT__PAYLOAD_MILESTONE || !ev->milestone) return false;
    return cx_is_glob_match(route->milestone_glob, ev->milestone->name);
}

static bool s_is_category_match(const cx_route_cfg_t *route, const Cx__GoalState *goal)
{
    if (!route->goal_category_glob) return true;
    return goal && cx_is_glob_match(route->goal_category_glob, goal->category);
}

static bool s_is_attr_match(const cx_route_cfg_t *route, const Cx__CustomerContext *ctx)
{
    for (size_t i = 0; i < route->n_attr_match; i++) {
        const char *value = cx_context_attribute(ctx, route->attr_match[i].key);
        if (!value || !cx_is_glob_match(route->attr_match[i].glob, value)) return false;
    }
    return true;
}

static bool s_is_match(const cx_route_cfg_t *route, const Cx__Event *ev,
                       const Cx__CustomerContext *ctx, const Cx__GoalState *goal)
{
    return cx_is_glob_match(route->type_glob, ev->type) &&
           cx_is_glob_match(route->source_glob, ev->source) && s_is_milestone_match(route, ev) &&
           s_is_category_match(route, goal) && s_is_attr_match(route, ctx);
}

/* ---- where ---- */

/* now <= deadline <= now + within, without overflowing for any within. */
static bool s_is_deadline_within(const Cx__GoalState *goal, int64_t within_us, int64_t now_us)
{
    if (!goal || !goal->has_deadline || within_us < 0) return false;
    if (goal->deadline < now_us) return false;
    return (uint64_t)goal->deadline - (uint64_t)now_us <= (uint64_t)within_us;
}

/* progress/target, or for a goal without a positive target 1 when completed, else 0. */
static double s_goal_ratio(const Cx__GoalState *goal)
{
    if (goal->has_target && goal->target > 0)
        return (goal->has_progress ? goal->progress : 0) / goal->target;
    return goal->status && strcmp(goal->status, "completed") == 0 ? 1.0 : 0.0;
}

static bool s_has_every_attribute(char *const *keys, size_t n, const Cx__CustomerContext *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (!cx_context_attribute(ctx, keys[i])) return false;
    return true;
}

static bool s_has_no_attribute(char *const *keys, size_t n, const Cx__CustomerContext *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (cx_context_attribute(ctx, keys[i])) return false;
    return true;
}

static bool s_is_where_true(const cx_route_cfg_t *route, const Cx__CustomerContext *ctx,
                            const Cx__GoalState *goal, int64_t now_us)
{
    if (route->has_deadline_within &&
        !s_is_deadline_within(goal, route->deadline_within_us, now_us))
        return false;
    if (route->has_progress_at_least && !(goal && s_goal_ratio(goal) >= route->progress_at_least))
        return false;
    if (route->has_progress_below && !(goal && s_goal_ratio(goal) < route->progress_below))
        return false;
    return s_has_every_attribute(route->has_attributes, route->n_has_attributes, ctx) &&
           s_has_no_attribute(route->missing_attributes, route->n_missing_attributes, ctx);
}

/* ---- route ---- */

static bool s_has_delivery(const cx_delivery_t *out, size_t n, size_t partner)
{
    for (size_t i = 0; i < n; i++)
        if (out[i].partner == partner) return true;
    return false;
}

int cx_route(const cx_config_t *cfg, const Cx__Event *ev, const Cx__CustomerContext *ctx,
             int64_t now_us, cx_delivery_t *out, size_t *n_out)
{
    if (!n_out) return CX_E_INVAL;
    *n_out = 0;
    if (!cfg || !ev || (!out && cfg->n_partners > 0)) return CX_E_INVAL;
    if (s_is_erase(ev)) return 0;

    const Cx__GoalState *goal = cx_context_find_goal(ctx, s_event_goal_id(ev, ctx));
    size_t n = 0;
    for (size_t r = 0; r < cfg->n_routes && n < cfg->n_partners; r++) {
        const cx_route_cfg_t *route = &cfg->routes[r];
        if (!s_is_match(route, ev, ctx, goal) || !s_is_where_true(route, ctx, goal, now_us))
            continue;
        for (size_t i = 0; i < route->n_to; i++) {
            size_t p = route->to[i];
            if (p >= cfg->n_partners || s_has_delivery(out, n, p)) continue;
            if (route->consent_required && !cx_router_has_consent(&cfg->partners[p], ctx, now_us))
                continue;
            out[n++] = (cx_delivery_t){.partner = (uint32_t)p, .route = (uint32_t)r};
        }
    }
    *n_out = n;
    return 0;
}

/* ---- consent ---- */

static bool s_is_scope_of(const cx_partner_cfg_t *partner, const char *scope)
{
    if (partner->id && strcmp(partner->id, scope) == 0) return true;
    for (size_t i = 0; i < partner->n_categories; i++)
        if (partner->categories[i] && strcmp(partner->categories[i], scope) == 0) return true;
    return false;
}

bool cx_router_has_consent(const cx_partner_cfg_t *partner, const Cx__CustomerContext *ctx,
                           int64_t now_us)
{
    if (!partner || !ctx) return false;
    for (size_t i = 0; i < ctx->n_consents; i++) {
        const Cx__ConsentState *c = ctx->consents[i];
        if (!c || !c->scope) continue;
        if (c->has_expires_at && c->expires_at <= now_us) continue;
        if (s_is_scope_of(partner, c->scope)) return true;
    }
    return false;
}

/* ---- field filter ---- */

/* msg itself, or when it carries unknown fields an arena copy without them
 * (NULL on OOM). Every protobuf-c message starts with its ProtobufCMessage. */
static void *s_known_fields_only(const void *msg, cx_arena_t *arena)
{
    const ProtobufCMessage *m = msg;
    if (m->n_unknown_fields == 0) return (void *)msg;
    ProtobufCMessage *copy = cx_arena_alloc(arena, m->descriptor->sizeof_message);
    if (!copy) return NULL;
    memcpy(copy, m, m->descriptor->sizeof_message);
    copy->n_unknown_fields = 0;
    copy->unknown_fields = NULL;
    return copy;
}

/* A pointer array for n elements, or NULL (also when n is 0: nothing to hold). */
static void *s_array(cx_arena_t *arena, size_t n, size_t elem_size)
{
    return n ? cx_arena_alloc(arena, n * elem_size) : NULL;
}

static int s_filter_milestones(Cx__GoalState *goal, cx_arena_t *arena)
{
    Cx__MilestoneState **in = goal->milestones;
    size_t n_in = goal->n_milestones;
    goal->milestones = s_array(arena, n_in, sizeof *goal->milestones);
    goal->n_milestones = 0;
    if (n_in && !goal->milestones) return CX_E_NOMEM;
    for (size_t i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        Cx__MilestoneState *m = s_known_fields_only(in[i], arena);
        if (!m) return CX_E_NOMEM;
        goal->milestones[goal->n_milestones++] = m;
    }
    return 0;
}

static int s_filter_goals(uint32_t sees, const Cx__CustomerContext *in, Cx__CustomerContext *out,
                          cx_arena_t *arena)
{
    out->goals = s_array(arena, in->n_goals, sizeof *out->goals);
    if (in->n_goals && !out->goals) return CX_E_NOMEM;
    for (size_t i = 0; i < in->n_goals; i++) {
        if (!in->goals[i]) continue;
        Cx__GoalState *g = cx_arena_alloc(arena, sizeof *g);
        if (!g) return CX_E_NOMEM;
        *g = *in->goals[i];
        g->base.n_unknown_fields = 0;
        g->base.unknown_fields = NULL;
        out->goals[out->n_goals++] = g;
        if (!(sees & CX_SEES_MILESTONES)) {
            g->n_milestones = 0;
            g->milestones = NULL;
        } else if (s_filter_milestones(g, arena) != 0) {
            return CX_E_NOMEM;
        }
    }
    return 0;
}

static bool s_is_attribute_seen(const cx_partner_cfg_t *partner, const char *key)
{
    if (partner->sees & CX_SEES_ATTRIBUTES) return true;
    if (!key) return false;
    for (size_t i = 0; i < partner->n_sees_attributes; i++)
        if (partner->sees_attributes[i] && strcmp(partner->sees_attributes[i], key) == 0)
            return true;
    return false;
}

static int s_filter_attributes(const cx_partner_cfg_t *partner, const Cx__CustomerContext *in,
                               Cx__CustomerContext *out, cx_arena_t *arena)
{
    out->attributes = s_array(arena, in->n_attributes, sizeof *out->attributes);
    if (in->n_attributes && !out->attributes) return CX_E_NOMEM;
    for (size_t i = 0; i < in->n_attributes; i++) {
        const Cx__Attribute *a = in->attributes[i];
        if (!a || !s_is_attribute_seen(partner, a->key)) continue;
        Cx__Attribute *view = s_known_fields_only(a, arena);
        if (!view) return CX_E_NOMEM;
        out->attributes[out->n_attributes++] = view;
    }
    return 0;
}

static int s_filter_consents(const Cx__CustomerContext *in, Cx__CustomerContext *out,
                             cx_arena_t *arena)
{
    out->consents = s_array(arena, in->n_consents, sizeof *out->consents);
    if (in->n_consents && !out->consents) return CX_E_NOMEM;
    for (size_t i = 0; i < in->n_consents; i++) {
        if (!in->consents[i]) continue;
        Cx__ConsentState *c = s_known_fields_only(in->consents[i], arena);
        if (!c) return CX_E_NOMEM;
        out->consents[out->n_consents++] = c;
    }
    return 0;
}

static bool s_is_own_offer(const cx_partner_cfg_t *partner, const Cx__OfferState *offer)
{
    return offer && offer->partner && partner->id && strcmp(offer->partner, partner->id) == 0;
}

static int s_filter_offers(const cx_partner_cfg_t *partner, const Cx__CustomerContext *in,
                           Cx__CustomerContext *out, cx_arena_t *arena)
{
    out->offers = s_array(arena, in->n_offers, sizeof *out->offers);
    if (in->n_offers && !out->offers) return CX_E_NOMEM;
    for (size_t i = 0; i < in->n_offers; i++) {
        if (!s_is_own_offer(partner, in->offers[i])) continue;
        Cx__OfferState *o = s_known_fields_only(in->offers[i], arena);
        if (!o) return CX_E_NOMEM;
        out->offers[out->n_offers++] = o;
    }
    return 0;
}

static void s_copy_activity(const Cx__CustomerContext *in, Cx__CustomerContext *out)
{
    out->has_activity_count = in->has_activity_count;
    out->activity_count = in->activity_count;
    out->last_activity = in->last_activity;
    out->has_last_activity_at = in->has_last_activity_at;
    out->last_activity_at = in->last_activity_at;
}

static bool s_has_attribute_rights(const cx_partner_cfg_t *partner)
{
    return (partner->sees & CX_SEES_ATTRIBUTES) || partner->n_sees_attributes > 0;
}

int cx_router_filter_context(const cx_partner_cfg_t *partner, const Cx__CustomerContext *in,
                             Cx__CustomerContext *out, cx_arena_t *arena)
{
    if (!partner || !in || !out || !arena) return CX_E_INVAL;
    out->customer_id = in->customer_id;
    out->has_version = in->has_version;
    out->version = in->version;
    out->has_updated_at = in->has_updated_at;
    out->updated_at = in->updated_at;

    int rc = 0;
    if (partner->sees & CX_SEES_GOALS) rc = s_filter_goals(partner->sees, in, out, arena);
    if (rc == 0 && s_has_attribute_rights(partner))
        rc = s_filter_attributes(partner, in, out, arena);
    if (rc == 0 && (partner->sees & CX_SEES_CONSENTS)) rc = s_filter_consents(in, out, arena);
    if (rc == 0 && (partner->sees & CX_SEES_OFFERS)) rc = s_filter_offers(partner, in, out, arena);
    if (rc == 0 && (partner->sees & CX_SEES_ACTIVITY)) s_copy_activity(in, out);
    return rc;
}
