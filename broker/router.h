/* router.h - who should hear about an event, and what they may see.
 *
 * A pure function of (event, the customer's context after the event, config,
 * now): no I/O. Rules match in config order; each partner gets an event at
 * most once, attributed to the first route that reached it. The consent gate
 * and the field filter live here too, because delivery re-checks them at
 * send time with the context as it is then.
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
 * context before). At most cfg->n_partners deliveries are written to out (which
 * must hold that many); *n_out gets their number. A route with consent required
 * yields a delivery only if cx_router_has_consent() for that partner.
 * Events of type customer.erase are routed to no one here (the broker tells the
 * partners who saw the customer). 0 always (kept int for the error convention). */
int cx_route(const cx_config_t *cfg, const Cx__Event *ev, const Cx__CustomerContext *ctx,
             int64_t now_us, cx_delivery_t *out, size_t *n_out);

/* true if ctx holds a grant, not expired at now_us, whose scope is the partner's id
 * or one of its categories. */
bool cx_router_has_consent(const cx_partner_cfg_t *partner, const Cx__CustomerContext *ctx,
                           int64_t now_us);

/* Fills *out with the parts of in the partner may see (see `sees` in config.h).
 * out is a shallow view: it points into in's strings and messages, with new
 * arrays (and filtered goal copies) from arena. out must be initialised by
 * the caller with cx__customer_context__init. 0 or CX_E_NOMEM. */
int cx_router_filter_context(const cx_partner_cfg_t *partner, const Cx__CustomerContext *in,
                             Cx__CustomerContext *out, cx_arena_t *arena);

#endif
