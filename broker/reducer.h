/* reducer.h - a customer's context as a pure function of its events.
 *
 * cx_reduce(ctx, event) -> ctx': no I/O, no clock, no globals. The same events
 * in the same order give the same context, which is what makes the log the
 * write-ahead log: after a crash, contexts are rebuilt by replaying it.
 */
#ifndef CX_REDUCER_H
#define CX_REDUCER_H

#include "context.pb-c.h"
#include "cx_arena.h"
#include "event.pb-c.h"

/* Bounds that keep a context small (well under 1 KiB for a typical customer). */
#define CX_MAX_GOALS 32           /* goal.set beyond this: CX_E_LIMIT */
#define CX_MAX_MILESTONES 16      /* per goal; the oldest is dropped, progress kept */
#define CX_MAX_ATTRIBUTES 32      /* a profile.updated adding more: CX_E_LIMIT */
#define CX_MAX_CONSENTS 32        /* a grant adding more: CX_E_LIMIT */
#define CX_MAX_OFFERS 16          /* the oldest offer is dropped */

/* Applies ev (already validated by cx_codec_validate) to ctx, in place.
 *
 * The event's time is ev->accepted_at if present, else ev->occurred_at, else 0.
 * Every new string, message and array comes from arena; existing pointers in ctx
 * may be kept, so ctx's memory must outlive or be packed before the arena resets.
 * On success ctx->version is incremented and ctx->updated_at set.
 *
 * Semantics:
 *   goal.set          adds the goal, or replaces title/category/deadline/target of an
 *                     existing one (status back to active); progress kept
 *   goal.updated      sets the fields present; CX_E_UNKNOWN_GOAL if absent
 *   goal.completed    status completed, progress = target; CX_E_UNKNOWN_GOAL
 *   goal.abandoned    status abandoned; CX_E_UNKNOWN_GOAL
 *   milestone.reached appends the milestone, adds its progress (default 1) to the
 *                     goal; progress >= target > 0 completes the goal; CX_E_UNKNOWN_GOAL
 *   activity          activity_count++, last_activity(_at)
 *   profile.updated   sets then unsets attributes
 *   consent.granted   adds or refreshes the scope (granted_at, expires_at)
 *   consent.revoked   removes the scope (no error if it was not granted)
 *   offer.made        adds or replaces the offer (status made)
 *   offer.accepted    status accepted; CX_E_UNKNOWN_OFFER
 *   customer.erase    empties the context (customer_id kept, version 0); the
 *                     caller deletes it from the store
 * Returns 0, or a negative CX_E_* with ctx unchanged. */
int cx_reduce(Cx__CustomerContext *ctx, const Cx__Event *ev, cx_arena_t *arena);

/* The goal with this id in ctx, or NULL. */
Cx__GoalState *cx_context_find_goal(const Cx__CustomerContext *ctx, const char *goal_id);
/* The value of attribute key, or NULL. */
const char *cx_context_attribute(const Cx__CustomerContext *ctx, const char *key);

#endif
