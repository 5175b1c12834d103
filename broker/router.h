/* router.h - who should hear about an event, and what they may see.
 *
 * A pure function of (event, the customer's context after the event, config,
 * now): no I/O. Rules match in config order; each partner gets an event at
 * most once, attributed to the first route that reached it. The consent gate
 * and the field filter live here too: routing uses the gate, and these two
 * are the rules, on the unpacked context, that delivery applies to the packed
 * one (view.c) at send time; test_view and fuzz_view hold view.c to them.
 */
#ifndef CX_ROUTER_H
#define CX_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "context.pb-c.h"
#include "cx_arena.h"
#include "event.pb-c.h"

typedef struct {
    uint32_t partner; /* index into cfg->partners */
    uint32_t route;   /* index into cfg->routes */
} cx_delivery_t;

/* Routes ev. ctx is the context after ev was applied (for customer.erase, the
 * context before); NULL is read as an empty context. At most cfg->n_partners
 * deliveries are written to out (which must hold that many); *n_out gets their
 * number, in the order made: routes in config order, then each route's `to`.
 *
 * A route matches when every match key given matches and every where condition
 * holds (config.h). "The event's goal" is the goal in ctx named by the payload's
 * goal_id (goal, milestone or offer payload; for an offer event without one, the
 * goal of the offer with that offer_id in ctx). An event without such a goal never
 * matches a route with goal.category, goal.deadline_within or goal.progress_*; an
 * event without a milestone payload never matches a route with milestone; an
 * absent attribute never matches attributes.KEY.
 *
 * Each partner gets at most one delivery, attributed to the first matching route
 * that delivered to it. A route with consent required delivers to a partner only
 * if cx_router_has_consent(); a partner skipped for lack of consent can still be
 * reached by a later route with consent not-required.
 * Events of type customer.erase are routed to no one here (the broker tells the
 * partners who saw the customer).
 * 0, or CX_E_INVAL if cfg, ev or n_out is NULL, or out is NULL while
 * cfg->n_partners > 0 (then *n_out is 0 when n_out is not NULL). */
int cx_route(const cx_config_t *cfg, const Cx__Event *ev, const Cx__CustomerContext *ctx,
             int64_t now_us, cx_delivery_t *out, size_t *n_out);

/* true if ctx holds a grant whose scope is the partner's id or one of its
 * categories and that has no expires_at or expires_at > now_us. false for a NULL
 * partner or ctx. A revoke removes the grant from ctx, so it needs no case here. */
bool cx_router_has_consent(const cx_partner_cfg_t *partner, const Cx__CustomerContext *ctx,
                           int64_t now_us);

/* Fills *out with the parts of in the partner may see (see `sees` in config.h):
 * customer_id, version and updated_at always; goals (without milestones unless
 * milestones is seen); attributes (all, or only the attributes.KEY ones);
 * consents; offers (only those whose partner is this partner's id); activity
 * fields. Nothing else: unknown fields of in's messages are dropped too.
 * out is a shallow view: it points into in's strings and messages, with new
 * arrays (and filtered goal copies) from arena, so in must outlive out and out
 * must be packed before arena resets; in is not modified. out must be
 * initialised by the caller with cx__customer_context__init.
 * 0, CX_E_INVAL for a NULL argument, or CX_E_NOMEM (then discard *out). */
int cx_router_filter_context(const cx_partner_cfg_t *partner, const Cx__CustomerContext *in,
                             Cx__CustomerContext *out, cx_arena_t *arena);

#endif
