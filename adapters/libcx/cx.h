/* cx.h - libcx, the cxbroker client library.
 *
 * Two roles, one header:
 *
 *   A brand service PUBLISHES customer-context events:
 *
 *       cx_publisher_t *pub = cx_publisher_new("tcp://127.0.0.1:7700", NULL);
 *       Cx__Event ev = CX__EVENT__INIT;  ... fill event_id, customer_id, type, payload
 *       cx_publish(pub, &ev, 0);           // returns once the event is queued
 *       cx_publisher_flush(pub, 10000);    // waits until every event is acked or nacked
 *       cx_publisher_destroy(&pub);
 *
 *     An ACK means the broker has the event on disk (sync: full) and will never
 *     lose it. A NACK carries a reason (CX_E_* code + text) and is final: fix the
 *     event, don't retry it. Up to `window` events are in flight at once
 *     (pipelined). An event not answered within `timeout_ms` is sent again,
 *     with the same producer seq and event_id, on a fresh connection; the broker
 *     recognises the retry and acks it without applying it twice.
 *
 *   A partner adapter RECEIVES the events routed to it:
 *
 *       cx_subscriber_t *sub = cx_subscriber_new("tcp://127.0.0.1:7701", "acme-insurance", NULL);
 *       Cx__Delivery *d;
 *       while (cx_subscriber_next(sub, 1000, &d) == 0) {
 *           ... d->seq, d->route, d->event (encoded cx.Event), d->context
 *           cx_subscriber_ack(sub, d->seq);   // after you have it safe
 *           cx_delivery_free(d);
 *       }
 *
 *     Deliveries arrive in stream order within a credit window. Acks are
 *     cumulative. After a restart the broker resumes after the last ack;
 *     `from_seq` replays from an earlier retained seq.
 *
 * Errors: every int-returning call gives 0 or a negative CX_E_* (cx_error.h);
 * cx_strerror(code) is the human text. Threads: an object is used by one
 * thread at a time.
 */
#ifndef CX_H
#define CX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.pb-c.h"
#include "cx_error.h"
#include "cx_event.h"
#include "event.pb-c.h"
#include "wire.pb-c.h"

/* ---------------------------------------------------------------- publisher */

typedef struct cx_publisher cx_publisher_t;

typedef struct {
    const char *producer_id; /* a name for this publisher (NULL: the host name); libcx adds
                                the pid and start time so each session's seqs are its own */
    const char *partner;     /* a partner publishing offers: its partner id; else NULL */
    uint32_t window;         /* most events in flight; 0: 1000 */
    int timeout_ms;          /* unanswered this long: reconnect and resend; 0: 3000 */
    int max_tries;           /* sends of one event before it fails with CX_E_TIMEOUT; 0: 10 */
} cx_publisher_opts_t;

/* The outcome of one event, given to the result callback. */
typedef struct {
    uint64_t seq;       /* the producer seq cx_publish gave it */
    uintptr_t tag;      /* what the caller passed to cx_publish */
    int code;           /* 0: acked; else the NACK's CX_E_* code or CX_E_TIMEOUT */
    bool duplicate;     /* acked as a duplicate of an event already logged */
    const char *reason; /* NACK text (valid during the callback only); NULL if acked */
} cx_result_t;

typedef void(cx_result_fn)(void *arg, const cx_result_t *result);

typedef struct {
    uint64_t sent, acked, nacked, duplicates, failed, resends, in_flight;
} cx_publisher_stats_t;

/* Connects a DEALER to the broker's publish endpoint. opts may be NULL.
 * Returns a publisher (caller owns: cx_publisher_destroy) or NULL (bad endpoint, OOM). */
cx_publisher_t *cx_publisher_new(const char *endpoint, const cx_publisher_opts_t *opts);
/* Closes the connection and frees everything; unanswered events are dropped
 * (flush first). Sets *self to NULL. */
void cx_publisher_destroy(cx_publisher_t **self);
/* Called once per event with its outcome, from inside cx_publish / flush. */
void cx_publisher_on_result(cx_publisher_t *self, cx_result_fn *fn, void *arg);

/* Encodes and sends ev. Blocks (processing replies) while the window is full.
 * 0 and *seq (may be NULL), CX_E_TOO_LARGE, CX_E_NOMEM, CX_E_ZMQ. */
int cx_publish(cx_publisher_t *self, const Cx__Event *ev, uintptr_t tag, uint64_t *seq);
/* The same for an already encoded cx.Event (len bytes, copied). */
int cx_publish_raw(cx_publisher_t *self, const void *data, size_t len, uintptr_t tag,
                   uint64_t *seq);
/* Processes replies for up to timeout_ms without sending. Returns how many
 * events got their outcome. */
int cx_publisher_poll(cx_publisher_t *self, int timeout_ms);
/* Waits until every event sent has its outcome, or timeout_ms passes.
 * 0, or CX_E_TIMEOUT with events still in flight. */
int cx_publisher_flush(cx_publisher_t *self, int timeout_ms);
void cx_publisher_stats(const cx_publisher_t *self, cx_publisher_stats_t *out);

/* --------------------------------------------------------------- subscriber */

typedef struct cx_subscriber cx_subscriber_t;

typedef struct {
    uint64_t from_seq; /* 0: resume after the stored cursor; else replay from this seq */
    uint32_t credit;   /* most unacked deliveries in flight; 0: the partner's max_in_flight */
} cx_subscriber_opts_t;

/* Connects a DEALER to the deliver endpoint and says hello as partner_id. */
cx_subscriber_t *cx_subscriber_new(const char *endpoint, const char *partner_id,
                                   const cx_subscriber_opts_t *opts);
void cx_subscriber_destroy(cx_subscriber_t **self);
/* Waits up to timeout_ms for the next delivery. 0 and *out (caller frees with
 * cx_delivery_free), CX_E_TIMEOUT, or the broker's refusal (e.g.
 * CX_E_UNKNOWN_PARTNER; cx_subscriber_error() has its text). A delivery already
 * received (seq not above the last one) is never returned twice. */
int cx_subscriber_next(cx_subscriber_t *self, int timeout_ms, Cx__Delivery **out);
/* Acks every delivery up to seq. 0 or CX_E_ZMQ. */
int cx_subscriber_ack(cx_subscriber_t *self, uint64_t seq);
/* The broker's last error text, or NULL. */
const char *cx_subscriber_error(const cx_subscriber_t *self);
void cx_delivery_free(Cx__Delivery *d);

/* ---------------------------------------------------------------- admin */

/* Sends one admin request and waits up to timeout_ms for the reply.
 * 0 and *reply (free with cx__admin_reply__free_unpacked(reply, NULL)),
 * CX_E_TIMEOUT, CX_E_ZMQ. The reply's own code says if the request succeeded. */
int cx_admin_call(const char *endpoint, const char *command, const char *const *args, size_t n_args,
                  int timeout_ms, Cx__AdminReply **reply);

#endif
