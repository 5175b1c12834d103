/* delivery.h - durable per-partner streams and pushing them to partner adapters.
 *
 * Routing happens in the ingest batch: cx_delivery_route() appends a stream
 * entry (a reference: log seq + route) per routed partner inside the batch's
 * write transaction, so a delivery is as durable as the event's ack.
 * Pushing happens in the event loop: for each connected partner, entries after
 * what it was sent, within its credit window, are read from the log, re-checked
 * for consent against the customer's context as it is now, filtered to the
 * partner's `sees`, and sent with ZMQ_ROUTER_MANDATORY (a send that cannot go
 * out is retried later, never counted as sent). Partners ack cumulatively; the
 * cursor is stored in LMDB and a reconnecting partner resumes after it.
 */
#ifndef CX_DELIVERY_H
#define CX_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "context.pb-c.h"
#include "event.pb-c.h"
#include "wire.pb-c.h"

/* Loads each configured partner's stream head and cursor. NULL on failure. */
cx_deliveries_t *cx_delivery_new(cx_broker_t *b);
void cx_delivery_destroy(cx_deliveries_t **self);

/* Inside the batch's write transaction: routes ev (ctx: the context after it)
 * and appends the stream entries. 0 or a CX_E_* from the store. */
int cx_delivery_route(cx_deliveries_t *self, const Cx__Event *ev, const Cx__CustomerContext *ctx,
                      uint64_t log_seq, int64_t now_us);
/* Inside the batch's write transaction: writes the partner cursors that changed,
 * so they need no commit of their own. 0 or a CX_E_* from the store. */
int cx_delivery_put_cursors(cx_deliveries_t *self);
/* After the batch: committed keeps the new stream heads (and marks the cursors
 * written clean), else they roll back. */
void cx_delivery_batch_end(cx_deliveries_t *self, bool committed);

/* Handles every message waiting on the deliver socket (hello, ack). */
void cx_delivery_on_readable(cx_deliveries_t *self);
/* Sends what credit allows to every connected partner; writes dirty cursors at
 * most every few ms. Returns the number of deliveries sent. */
int cx_delivery_pump(cx_deliveries_t *self);
/* true if some partner has unsent entries and credit (the loop should not sleep). */
bool cx_delivery_has_work(const cx_deliveries_t *self);
/* Writes dirty cursors now (shutdown). */
void cx_delivery_flush_cursors(cx_deliveries_t *self);
/* Adopts b->cfg after a reload: new partners, removed ones disconnected. 0 or CX_E_*. */
int cx_delivery_reload(cx_deliveries_t *self);

/* Retention: deletes log entries older than cfg->retention_us that the last
 * checkpoint includes (seq <= checkpoint_seq) and every configured partner has
 * acked, and stream entries at or before each cursor; a bounded amount per call.
 * Adds what it deleted to *n_log. 0 or a CX_E_* from the store. */
int cx_delivery_prune(cx_deliveries_t *self, uint64_t checkpoint_seq, uint64_t *n_log);

/* Fills the partner list of an admin reply (arena memory). */
int cx_delivery_status(cx_deliveries_t *self, Cx__AdminReply *reply, cx_arena_t *arena);

#endif
