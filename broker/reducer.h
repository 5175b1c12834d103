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
#define CX_MAX_GOALS 32      /* goal.set beyond this: CX_E_LIMIT */
#define CX_MAX_MILESTONES 16 /* per goal; the oldest is dropped, progress kept */
#define CX_MAX_ATTRIBUTES 32 /* a profile.updated adding more: CX_E_LIMIT */
#define CX_MAX_CONSENTS 32   /* a grant adding more: CX_E_LIMIT */
#define CX_MAX_OFFERS 16     /* the oldest offer is dropped */

/* Applies ev (already validated by cx_codec_validate) to ctx, in place.
 *
 * ctx may be fresh from cx__customer_context__init (it takes ev's customer_id)
 * or unpacked with cx_arena_allocator; existing messages and arrays are never
 * written through, only replaced, except that a pointer slot of an existing
 * array may be overwritten or an array shortened in place.
 * The event's time t is ev->accepted_at if present, else ev->occurred_at, else 0.
 * Every new string, message and array comes from arena; existing pointers in ctx
 * may be kept, so ctx's memory must outlive or be packed before the arena resets.
 * On success ctx->version is incremented and ctx->updated_at set to t.
 *
 * Semantics (a goal's status is active | completed | abandoned, an offer's made |
 * accepted; in every goal event an active goal with target > 0 and progress >=
 * target becomes completed):
 *   goal.set          adds the goal (status active, progress from the event or 0,
 *                     created_at t); CX_E_LIMIT if it would be goal CX_MAX_GOALS + 1.
 *                     On an existing goal replaces title/category/deadline/target,
 *                     clearing those the event leaves out (status back to active);
 *                     progress and milestones kept
 *   goal.updated      sets the fields present, progress included; CX_E_UNKNOWN_GOAL
 *   goal.completed    status completed, progress = target (if it has one); CX_E_UNKNOWN_GOAL
 *   goal.abandoned    status abandoned; CX_E_UNKNOWN_GOAL
 *   milestone.reached appends the milestone (reached_at t), adds its progress
 *                     (default 1) to the goal; CX_E_UNKNOWN_GOAL. Beyond
 *                     CX_MAX_MILESTONES the oldest is dropped, its progress kept.
 *                     A sum beyond DBL_MAX stays at DBL_MAX.
 *   activity          activity_count++, last_activity = name, last_activity_at = t
 *   profile.updated   sets (an absent value is stored as "") then unsets attributes;
 *                     new keys are appended; CX_E_LIMIT if the result has more than
 *                     CX_MAX_ATTRIBUTES (and more than before)
 *   consent.granted   adds the scope, or refreshes it: granted_at = t, expires_at
 *                     from the event (absent: no expiry); CX_E_LIMIT beyond
 *                     CX_MAX_CONSENTS
 *   consent.revoked   removes the scope (no error if it was not granted)
 *   offer.made        adds or replaces the offer (status made, made_at t); it goes
 *                     to the end, so offers are oldest first and beyond
 *                     CX_MAX_OFFERS the first is dropped
 *   offer.accepted    status accepted, updated_at t; CX_E_UNKNOWN_OFFER
 *   customer.erase    empties the context (customer_id kept, version and
 *                     updated_at absent, i.e. 0): it packs like a fresh context;
 *                     the caller deletes it from the store
 * Returns 0, or a negative CX_E_* with ctx unchanged: the codes above, CX_E_NOMEM
 * (arena exhausted), CX_E_INVAL (NULL argument, or ctx belongs to another
 * customer), and for an event that skipped validation CX_E_UNKNOWN_TYPE /
 * CX_E_PAYLOAD_MISMATCH / CX_E_MISSING_FIELD. */
int cx_reduce(Cx__CustomerContext *ctx, const Cx__Event *ev, cx_arena_t *arena);

/* The goal with this id in ctx, or NULL. */
Cx__GoalState *cx_context_find_goal(const Cx__CustomerContext *ctx, const char *goal_id);
/* The value of attribute key, or NULL. */
const char *cx_context_attribute(const Cx__CustomerContext *ctx, const char *key);

#endif
