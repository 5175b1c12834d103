/* admin.c - the admin endpoint: what cxctl asks, answered from the loop's state.
 *
 * Requests are served in the event loop between batches, so a context read
 * here reflects every event acked before the request arrived.
 */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cx_error.h"
#include "cx_event.h"
#include "delivery.h"
#include "server.h"
#include "wire.pb-c.h"

static void s_fill_stats(cx_broker_t *b, Cx__Stats *st, cx_arena_t *a)
{
    cx_cache_stats_t cs;
    cx_cache_stats(b->cache, &cs);
    uint64_t first, last, count = 0;
    cx_store_log_bounds(b->store, &first, &last, &count);
#define SET(f, v) (st->has_##f = 1, st->f = (v))
    SET(events_accepted, b->n.accepted);
    SET(events_rejected, b->n.rejected);
    SET(duplicates, b->n.duplicates);
    SET(batches, b->n.batches);
    SET(log_events, count);
    SET(log_last_seq, b->last_seq);
    SET(customers_cached, cs.entries);
    SET(checkpoints, cs.checkpoints);
    SET(checkpoint_seq, cs.checkpoint_seq);
    SET(deliveries, b->n.deliveries);
    SET(deliveries_skipped, b->n.deliveries_skipped);
    SET(frames_dropped, b->n.frames_dropped);
    SET(log_pruned, b->n.log_pruned);
    SET(uptime_s, (uint64_t)((cx_now_us() - b->started_us) / 1000000));
#undef SET
    st->rejected_by_reason = cx_arena_alloc(a, CX_REASONS * sizeof(Cx__ReasonCount *));
    if (!st->rejected_by_reason) return;
    for (int i = 1; i < CX_REASONS; i++) {
        if (!b->n.rejected_by[i]) continue;
        Cx__ReasonCount *rc = cx_arena_alloc(a, sizeof(*rc));
        if (!rc) return;
        cx__reason_count__init(rc);
        rc->reason = (char *)cx_err_name(-i);
        rc->has_count = 1;
        rc->count = b->n.rejected_by[i];
        st->rejected_by_reason[st->n_rejected_by_reason++] = rc;
    }
}

static void s_handle(cx_broker_t *b, const Cx__AdminRequest *req, Cx__AdminReply *rep,
                     cx_arena_t *a)
{
    static char err[512];
    const char *cmd = req->command ? req->command : "";
    if (strcmp(cmd, "context") == 0) {
        if (req->n_args != 1) {
            rep->code = CX_E_INVAL;
            rep->error = "usage: context CUSTOMER_ID";
            return;
        }
        const uint8_t *data;
        size_t len;
        int rc = cx_cache_get(b->cache, req->args[0], &data, &len);
        if (rc == 0) {
            rep->context = cx__customer_context__unpack(cx_arena_allocator(a), len, data);
            if (!rep->context) rc = CX_E_STORAGE;
        }
        if (rc) {
            rep->code = rc;
            snprintf(err, sizeof err, "%s: %s", req->args[0], cx_strerror(rc));
            rep->error = err;
        }
    } else if (strcmp(cmd, "stats") == 0) {
        rep->stats = cx_arena_alloc(a, sizeof(Cx__Stats));
        if (!rep->stats) return;
        cx__stats__init(rep->stats);
        s_fill_stats(b, rep->stats, a);
    } else if (strcmp(cmd, "partners") == 0) {
        rep->code = cx_delivery_status(b->delivery, rep, a);
    } else if (strcmp(cmd, "reload") == 0) {
        rep->code = cx_server_reload(b, err, sizeof err);
        rep->error = rep->code ? err : NULL;
        rep->text = rep->code ? NULL : "config reloaded";
    } else {
        rep->code = CX_E_UNKNOWN_COMMAND;
        snprintf(err, sizeof err,
                 "unknown command '%.64s' (known: context, stats, partners, reload)", cmd);
        rep->error = err;
    }
}

void cx_admin_on_readable(cx_broker_t *b)
{
    cx_arena_t *a = b->arena;
    for (int i = 0; i < 64; i++) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, b->admin_sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        zmq_msg_init(&body);
        /* REQ peers put an empty delimiter frame first; DEALER peers may not. */
        int rc = zmq_msg_more(&id) ? zmq_msg_recv(&body, b->admin_sock, 0) : -1;
        bool delim = rc == 0 && zmq_msg_more(&body);
        if (delim) rc = zmq_msg_recv(&body, b->admin_sock, 0);
        if (rc >= 0 && zmq_msg_more(&body)) {
            cx_zmq_drain(b->admin_sock);
            rc = -1;
        }
        cx_arena_reset(a);
        Cx__AdminReply rep = CX__ADMIN_REPLY__INIT;
        rep.has_code = 1;
        Cx__AdminRequest *req =
            rc >= 0 ? cx__admin_request__unpack(cx_arena_allocator(a), zmq_msg_size(&body),
                                                zmq_msg_data(&body))
                    : NULL;
        if (req) {
            s_handle(b, req, &rep, a);
        } else {
            rep.code = CX_E_BAD_FRAME;
            rep.error = "not a cx.AdminRequest";
        }
        size_t len = cx__admin_reply__get_packed_size(&rep);
        zmq_msg_t out;
        if (zmq_msg_init_size(&out, len) == 0) {
            cx__admin_reply__pack(&rep, zmq_msg_data(&out));
            if (zmq_msg_send(&id, b->admin_sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                (delim && zmq_send(b->admin_sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) ||
                zmq_msg_send(&out, b->admin_sock, ZMQ_DONTWAIT) < 0)
                zmq_msg_close(&out);
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}
