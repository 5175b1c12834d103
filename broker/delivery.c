/* delivery.c - per-partner streams: append at ingest, push within credit, ack.
 *
 * Per partner, four numbers tell the whole state: head (last stream seq
 * written), cursor (last acked, stored), sent (last pushed or skipped) and
 * last_real (last actually pushed). Pushing walks head-ward from sent while
 * sent - cursor < credit. An entry whose customer's consent is gone by now is
 * skipped, not sent; an ack that reaches last_real covers the skips after it.
 * A reconnect (new hello) rewinds sent to the cursor: everything not acked is
 * delivered again, nothing acked is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "codec.h"
#include "cx_error.h"
#include "cx_event.h"
#include "delivery.h"
#include "log.h"
#include "router.h"
#include "view.h"

#define MAX_IDENTITY 255
#define PUMP_BATCH 256        /* most entries read per partner per pump */
#define CURSOR_FLUSH_US 20000 /* dirty cursors are written at least this often */

typedef struct {
    char *id;
    uint32_t num;
    uint64_t head, head_tentative;
    uint64_t cursor, sent, last_real;
    bool cursor_dirty;
    bool cursor_put;        /* written into the open batch transaction ... */
    uint64_t cursor_put_at; /* ... with this value */
    bool connected;
    unsigned char identity[MAX_IDENTITY];
    size_t identity_len;
    uint32_t credit;
    uint64_t delivered;
} pstate_t;

struct cx_deliveries {
    cx_broker_t *b;
    pstate_t *p; /* aligned with b->cfg->partners */
    size_t n;
    cx_delivery_t *hits; /* router output, n entries */
    cx_arena_t *arena;   /* reset per pump */
    uint8_t *view;       /* a partner's view of one context, being framed */
    size_t view_cap;
    uint32_t num_delivery, num_context; /* BrokerMsg.delivery, Delivery.context */
    int64_t last_flush_us;
};

static int s_init_partner(cx_deliveries_t *self, pstate_t *ps, const cx_partner_cfg_t *pc)
{
    memset(ps, 0, sizeof(*ps));
    ps->id = strdup(pc->id);
    if (!ps->id) return CX_E_NOMEM;
    int rc = cx_store_partner_num(self->b->store, pc->id, &ps->num);
    if (rc == 0) rc = cx_store_stream_last(self->b->store, ps->num, &ps->head);
    if (rc == 0) rc = cx_store_cursor_get(self->b->store, pc->id, &ps->cursor);
    /* Retention keeps the newest stream entry, but a stream seq must never be
     * reused even so: the head is at least the cursor. */
    if (ps->head < ps->cursor) ps->head = ps->cursor;
    ps->head_tentative = ps->head;
    ps->sent = ps->last_real = ps->cursor;
    ps->credit = pc->max_in_flight ? pc->max_in_flight : 1000;
    return rc;
}

static void s_free_partners(pstate_t *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        free(p[i].id);
    free(p);
}

static size_t s_find_old(const pstate_t *old, size_t n_old, const char *id)
{
    size_t j = 0;
    while (j < n_old && !(old[j].id && strcmp(old[j].id, id) == 0))
        j++;
    return j;
}

/* Builds the partner table for b->cfg, keeping the live state of partners that
 * were already known (old may be NULL). On failure nothing changes: partners
 * are moved over from old only once every new one has loaded. */
static int s_build(cx_deliveries_t *self, pstate_t *old, size_t n_old)
{
    const cx_config_t *cfg = self->b->cfg;
    size_t n = cfg->n_partners;
    pstate_t *p = calloc(n ? n : 1, sizeof(pstate_t));
    cx_delivery_t *hits = calloc(n ? n : 1, sizeof(cx_delivery_t));
    if (!p || !hits) {
        free(p);
        free(hits);
        return CX_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const cx_partner_cfg_t *pc = &cfg->partners[i];
        if (s_find_old(old, n_old, pc->id) < n_old) continue;
        int rc = s_init_partner(self, &p[i], pc);
        if (rc) {
            cx_log(CX_LOG_ERROR, "partner %s: loading its stream: %s", pc->id, cx_strerror(rc));
            s_free_partners(p, n);
            free(hits);
            return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const cx_partner_cfg_t *pc = &cfg->partners[i];
        size_t j = s_find_old(old, n_old, pc->id);
        if (j == n_old) continue;
        p[i] = old[j];
        old[j].id = NULL; /* moved */
        p[i].credit = pc->max_in_flight ? pc->max_in_flight : 1000;
    }
    s_free_partners(old, n_old);
    free(self->hits);
    self->p = p;
    self->n = n;
    self->hits = hits;
    return 0;
}

cx_deliveries_t *cx_delivery_new(cx_broker_t *b)
{
    cx_deliveries_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->b = b;
    self->arena = cx_arena_new(0);
    self->num_delivery = cx_view_field_number(&cx__broker_msg__descriptor, "delivery");
    self->num_context = cx_view_field_number(&cx__delivery__descriptor, "context");
    if (!self->arena || s_build(self, NULL, 0) != 0) {
        cx_delivery_destroy(&self);
        return NULL;
    }
    return self;
}

void cx_delivery_destroy(cx_deliveries_t **pself)
{
    if (!pself || !*pself) return;
    cx_deliveries_t *self = *pself;
    s_free_partners(self->p, self->n);
    free(self->hits);
    cx_arena_destroy(&self->arena);
    free(self->view);
    free(self);
    *pself = NULL;
}

int cx_delivery_reload(cx_deliveries_t *self)
{
    cx_delivery_flush_cursors(self); /* a removed partner keeps its place */
    pstate_t *old = self->p;
    size_t n_old = self->n;
    /* s_build frees old on success; on failure the old table stays. */
    return s_build(self, old, n_old);
}

/* ---- at ingest ---- */

int cx_delivery_route(cx_deliveries_t *self, const Cx__Event *ev, const Cx__CustomerContext *ctx,
                      uint64_t log_seq, int64_t now_us)
{
    const cx_config_t *cfg = self->b->cfg;
    size_t n_hits = 0;
    if (cfg->n_routes == 0 || self->n == 0) return 0;
    cx_route(cfg, ev, ctx, now_us, self->hits, &n_hits);
    for (size_t i = 0; i < n_hits; i++) {
        pstate_t *ps = &self->p[self->hits[i].partner];
        const char *route = cfg->routes[self->hits[i].route].name;
        uint64_t sseq = ps->head_tentative + 1;
        int rc = cx_store_stream_append(self->b->store, ps->num, sseq, log_seq, route);
        if (rc) return rc;
        ps->head_tentative = sseq;
    }
    return 0;
}

int cx_delivery_put_cursors(cx_deliveries_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        pstate_t *ps = &self->p[i];
        if (!ps->cursor_dirty) continue;
        int rc = cx_store_cursor_put(self->b->store, ps->id, ps->cursor);
        if (rc) return rc;
        ps->cursor_put = true;
        ps->cursor_put_at = ps->cursor;
    }
    return 0;
}

/* After the transaction that cx_delivery_put_cursors wrote into: a cursor is
 * clean if it was committed and has not moved since. */
static void s_cursors_done(cx_deliveries_t *self, bool committed)
{
    for (size_t i = 0; i < self->n; i++) {
        pstate_t *ps = &self->p[i];
        if (ps->cursor_put && committed && ps->cursor == ps->cursor_put_at)
            ps->cursor_dirty = false;
        ps->cursor_put = false;
    }
}

void cx_delivery_batch_end(cx_deliveries_t *self, bool committed)
{
    for (size_t i = 0; i < self->n; i++) {
        pstate_t *ps = &self->p[i];
        if (committed)
            ps->head = ps->head_tentative;
        else
            ps->head_tentative = ps->head;
    }
    s_cursors_done(self, committed);
}

/* ---- partner messages ---- */

static pstate_t *s_by_identity(cx_deliveries_t *self, const void *id, size_t len)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->p[i].connected && self->p[i].identity_len == len &&
            memcmp(self->p[i].identity, id, len) == 0)
            return &self->p[i];
    return NULL;
}

static void s_send(cx_deliveries_t *self, const void *id, size_t idlen, const Cx__BrokerMsg *m)
{
    size_t len = cx__broker_msg__get_packed_size(m);
    zmq_msg_t out;
    if (zmq_msg_init_size(&out, len) != 0) return;
    cx__broker_msg__pack(m, zmq_msg_data(&out));
    if (zmq_send(self->b->deliver_sock, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_msg_send(&out, self->b->deliver_sock, ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&out);
}

static void s_send_error(cx_deliveries_t *self, const void *id, size_t idlen, int code,
                         const char *reason)
{
    Cx__Nack nk = CX__NACK__INIT;
    nk.has_code = 1;
    nk.code = code;
    nk.reason = (char *)reason;
    Cx__BrokerMsg m = CX__BROKER_MSG__INIT;
    m.msg_case = CX__BROKER_MSG__MSG_ERROR;
    m.error = &nk;
    s_send(self, id, idlen, &m);
}

static void s_on_hello(cx_deliveries_t *self, const void *id, size_t idlen, const Cx__Hello *h)
{
    int pi = h->partner_id ? cx_config_partner_index(self->b->cfg, h->partner_id) : -1;
    if (pi < 0 || (size_t)pi >= self->n) {
        char reason[160];
        snprintf(reason, sizeof reason, "unknown partner '%.64s'",
                 h->partner_id ? h->partner_id : "");
        s_send_error(self, id, idlen, CX_E_UNKNOWN_PARTNER, reason);
        return;
    }
    if (idlen > MAX_IDENTITY) return;
    pstate_t *ps = &self->p[pi];
    bool is_new =
        !ps->connected || ps->identity_len != idlen || memcmp(ps->identity, id, idlen) != 0;
    memcpy(ps->identity, id, idlen);
    ps->identity_len = idlen;
    ps->connected = true;
    const cx_partner_cfg_t *pc = &self->b->cfg->partners[pi];
    ps->credit = pc->max_in_flight ? pc->max_in_flight : 1000;
    if (h->has_credit && h->credit > 0 && h->credit < ps->credit) ps->credit = h->credit;
    if (h->has_from_seq && h->from_seq > 0) {
        /* Replay from any retained seq: the cursor moves to just before it. */
        uint64_t c = h->from_seq - 1;
        ps->cursor = c > ps->head ? ps->head : c;
        ps->cursor_dirty = true;
        ps->sent = ps->last_real = ps->cursor;
    } else if (is_new) {
        /* A new connection: everything not acked is sent again. */
        ps->sent = ps->last_real = ps->cursor;
    }
    /* else: the connection we know says hello again (a keepalive): nothing
     * in flight is resent, and entries skipped for consent stay skipped. */
    if (is_new)
        cx_log(CX_LOG_INFO, "partner %s connected: cursor %llu, head %llu, credit %u", ps->id,
               (unsigned long long)ps->cursor, (unsigned long long)ps->head, ps->credit);
    Cx__Welcome w = CX__WELCOME__INIT;
    w.partner_id = ps->id;
    w.has_cursor = w.has_head = 1;
    w.cursor = ps->cursor;
    w.head = ps->head;
    Cx__BrokerMsg m = CX__BROKER_MSG__INIT;
    m.msg_case = CX__BROKER_MSG__MSG_WELCOME;
    m.welcome = &w;
    s_send(self, id, idlen, &m);
}

static void s_on_ack(cx_deliveries_t *self, const void *id, size_t idlen, uint64_t seq)
{
    pstate_t *ps = s_by_identity(self, id, idlen);
    if (!ps) return; /* not (or no longer) a connected partner */
    if (seq > ps->head) seq = ps->head;
    if (seq <= ps->cursor) return;
    if (seq > ps->sent) {
        /* Acked beyond what this broker run has sent: the partner got those
         * before a restart whose cursor write was lost. Stream seqs outlive
         * restarts, so take its word up to the head. */
        ps->sent = ps->last_real = seq;
    }
    ps->cursor = seq >= ps->last_real ? ps->sent : seq;
    ps->cursor_dirty = true;
    self->b->n.partner_acks++;
}

void cx_delivery_on_readable(cx_deliveries_t *self)
{
    for (int i = 0; i < 1024; i++) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, self->b->deliver_sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        zmq_msg_init(&body);
        bool ok = zmq_msg_more(&id) && zmq_msg_recv(&body, self->b->deliver_sock, 0) >= 0;
        if (ok && zmq_msg_more(&body)) { /* one frame expected: drop the rest */
            cx_zmq_drain(self->b->deliver_sock);
            ok = false;
        }
        Cx__PartnerMsg *m =
            ok ? cx__partner_msg__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body)) : NULL;
        if (!m) {
            self->b->n.frames_dropped++;
            s_send_error(self, zmq_msg_data(&id), zmq_msg_size(&id), CX_E_BAD_FRAME,
                         "not a cx.PartnerMsg (expected hello or ack)");
        } else if (m->msg_case == CX__PARTNER_MSG__MSG_HELLO) {
            s_on_hello(self, zmq_msg_data(&id), zmq_msg_size(&id), m->hello);
        } else if (m->msg_case == CX__PARTNER_MSG__MSG_ACK && m->ack->has_seq) {
            s_on_ack(self, zmq_msg_data(&id), zmq_msg_size(&id), m->ack->seq);
        } else {
            self->b->n.frames_dropped++;
        }
        if (m) cx__partner_msg__free_unpacked(m, NULL);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
}

/* ---- pushing ---- */

static const cx_route_cfg_t *s_route(const cx_config_t *cfg, const char *name, size_t len)
{
    for (size_t i = 0; i < cfg->n_routes; i++)
        if (strlen(cfg->routes[i].name) == len && memcmp(cfg->routes[i].name, name, len) == 0)
            return &cfg->routes[i];
    return NULL;
}

typedef struct {
    cx_deliveries_t *self;
    pstate_t *ps;
    const cx_partner_cfg_t *pc;
    int64_t now;
    int sent;
    bool blocked; /* the socket would block, or the partner is gone */
} push_t;

/* A context holding just its customer id (an unknown or erased customer's). */
typedef struct {
    uint8_t bytes[16 + CX_MAX_ID_LEN];
} s_empty_ctx_t;

/* The packed context, as it is now, of the customer of the logged event ev,
 * valid until the cache changes (or until *empty goes, for an unknown or erased
 * customer, whose context is just the id). 0, or -1 if it could not be read
 * now: the delivery waits, it is not skipped. */
static int s_context(cx_deliveries_t *self, const void *ev, size_t ev_len, s_empty_ctx_t *empty,
                     const uint8_t **data, size_t *len)
{
    char cid[CX_MAX_ID_LEN + 1];
    if (cx_view_event_customer(ev, ev_len, cid, sizeof cid) != 0) return -1;
    int rc = cx_cache_get(self->b->cache, cid, data, len);
    if (rc == CX_E_UNKNOWN_CUSTOMER) {
        *data = empty->bytes;
        *len = cx_view_empty_context(cid, empty->bytes);
        return 0;
    }
    return rc == 0 ? 0 : -1; /* a read error is not "no consent": retry later */
}

/* The partner's view of the packed context in self->view; 0 or -1. */
static int s_view(cx_deliveries_t *self, const cx_partner_cfg_t *pc, const uint8_t *ctx, size_t len,
                  size_t *vlen)
{
    if (!self->view || len > self->view_cap) {
        size_t cap = len < 4096 ? 4096 : len;
        uint8_t *v = realloc(self->view, cap);
        if (!v) return -1;
        self->view = v;
        self->view_cap = cap;
    }
    return cx_view_filter(pc, ctx, len, self->view, vlen) == 0 ? 0 : -1;
}

/* Frames BrokerMsg{delivery: Delivery{dv fields, context: view}} into out: the
 * view is already an encoded CustomerContext, so it goes in as the bytes of
 * field `context` instead of being unpacked and packed again. */
static int s_frame(cx_deliveries_t *self, const Cx__Delivery *dv, const uint8_t *view, size_t vlen,
                   zmq_msg_t *out)
{
    uint8_t ctag[10], clen[10], dtag[10], dlen[10];
    size_t nct = cx_view_put_varint(ctag, (uint64_t)self->num_context << 3 | 2);
    size_t ncl = cx_view_put_varint(clen, vlen);
    size_t inner = cx__delivery__get_packed_size(dv) + nct + ncl + vlen;
    size_t ndt = cx_view_put_varint(dtag, (uint64_t)self->num_delivery << 3 | 2);
    size_t ndl = cx_view_put_varint(dlen, inner);
    if (zmq_msg_init_size(out, ndt + ndl + inner) != 0) return -1;
    uint8_t *p = zmq_msg_data(out);
    memcpy(p, dtag, ndt);
    memcpy(p += ndt, dlen, ndl);
    p += ndl;
    p += cx__delivery__pack(dv, p);
    memcpy(p, ctag, nct);
    memcpy(p += nct, clen, ncl);
    if (vlen) memcpy(p + ncl, view, vlen);
    return 0;
}

/* Builds and sends one delivery. 0 sent, 1 skipped (no consent now, or the
 * event is retained no more), -1 blocked. */
static int s_push_one(push_t *pu, const cx_stream_entry_t *e)
{
    cx_deliveries_t *self = pu->self;
    cx_broker_t *b = self->b;
    const void *data;
    size_t len;
    int rc = cx_store_log_get(b->store, e->log_seq, &data, &len);
    if (rc == CX_E_INVAL) return 1; /* removed by retention or erasure */
    if (rc) return -1;
    s_empty_ctx_t empty;
    const uint8_t *ctx;
    size_t clen, vlen;
    if (s_context(self, data, len, &empty, &ctx, &clen) != 0) return -1;
    const cx_route_cfg_t *rt = s_route(b->cfg, e->route, e->route_len);
    bool consent_required = rt ? rt->consent_required : true;
    if (consent_required) {
        bool ok;
        if (cx_view_has_consent(pu->pc, ctx, clen, pu->now, &ok) != 0) return -1;
        if (!ok) return 1;
    }
    if (s_view(self, pu->pc, ctx, clen, &vlen) != 0) return -1;
    char *rname = cx_arena_alloc(self->arena, e->route_len + 1);
    if (!rname) return -1;
    memcpy(rname, e->route, e->route_len);
    rname[e->route_len] = '\0';
    Cx__Delivery dv = CX__DELIVERY__INIT;
    dv.has_seq = dv.has_event = 1;
    dv.seq = e->stream_seq;
    dv.partner = pu->ps->id;
    dv.route = rname;
    dv.event.data = (uint8_t *)data;
    dv.event.len = len;
    zmq_msg_t out;
    if (s_frame(self, &dv, self->view, vlen, &out) != 0) return -1;
    /* ROUTER_MANDATORY: a send that cannot be queued fails here instead of
     * vanishing; nothing counts as sent unless zmq took it. */
    if (zmq_send(b->deliver_sock, pu->ps->identity, pu->ps->identity_len,
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&out);
        if (zmq_errno() == EHOSTUNREACH) {
            pu->ps->connected = false;
            cx_log(CX_LOG_INFO, "partner %s disconnected (cursor %llu)", pu->ps->id,
                   (unsigned long long)pu->ps->cursor);
        }
        return -1;
    }
    if (zmq_msg_send(&out, b->deliver_sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&out);
        return -1;
    }
    return 0;
}

static int s_visit(void *arg, const cx_stream_entry_t *e)
{
    push_t *pu = arg;
    pstate_t *ps = pu->ps;
    int r = s_push_one(pu, e);
    if (r < 0) {
        pu->blocked = true;
        return 1;
    }
    uint64_t sseq = e->stream_seq;
    if (r == 1) {
        pu->self->b->n.deliveries_skipped++;
        if (ps->cursor == ps->sent) { /* nothing in flight: the skip is done */
            ps->cursor = sseq;
            ps->last_real = sseq;
            ps->cursor_dirty = true;
        }
    } else {
        ps->last_real = sseq;
        ps->delivered++;
        pu->self->b->n.deliveries++;
        pu->sent++;
    }
    ps->sent = sseq;
    return ps->sent - ps->cursor >= ps->credit;
}

int cx_delivery_pump(cx_deliveries_t *self)
{
    int total = 0;
    bool opened = false;
    for (size_t i = 0; i < self->n; i++) {
        pstate_t *ps = &self->p[i];
        if (!ps->connected || ps->sent >= ps->head || ps->sent - ps->cursor >= ps->credit) continue;
        if (!opened) {
            if (cx_store_read_begin(self->b->store) != 0) return 0;
            opened = true;
            cx_arena_reset(self->arena);
        }
        push_t pu = {self, ps, &self->b->cfg->partners[i], cx_now_us(), 0, false};
        size_t room = ps->credit - (size_t)(ps->sent - ps->cursor);
        int rc = cx_store_stream_scan(self->b->store, ps->num, ps->sent,
                                      room < PUMP_BATCH ? room : PUMP_BATCH, s_visit, &pu);
        if (rc < 0)
            cx_log(CX_LOG_ERROR, "partner %s: reading its stream: %s", ps->id, cx_strerror(rc));
        total += pu.sent;
    }
    if (opened) cx_store_read_end(self->b->store);
    /* Cursors ride in the ingest batches' commits; only while ingest is idle
     * do they get a transaction (and an fsync) of their own. */
    int64_t now = cx_now_us();
    if (now - self->last_flush_us >= CURSOR_FLUSH_US &&
        now - self->b->last_batch_us >= CURSOR_FLUSH_US) {
        cx_delivery_flush_cursors(self);
        self->last_flush_us = now;
    }
    return total;
}

bool cx_delivery_has_work(const cx_deliveries_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        const pstate_t *ps = &self->p[i];
        if (ps->connected && ps->sent < ps->head && ps->sent - ps->cursor < ps->credit) return true;
    }
    return false;
}

void cx_delivery_flush_cursors(cx_deliveries_t *self)
{
    bool any = false;
    for (size_t i = 0; i < self->n; i++)
        any |= self->p[i].cursor_dirty;
    if (!any || cx_store_is_writing(self->b->store)) return;
    int rc = cx_store_begin(self->b->store);
    if (rc == 0) rc = cx_delivery_put_cursors(self);
    if (rc == 0)
        rc = cx_store_commit(self->b->store);
    else
        cx_store_abort(self->b->store);
    s_cursors_done(self, rc == 0);
    /* A failed write keeps them dirty in memory; a full disk must not stop delivery. */
    if (rc) cx_log(CX_LOG_WARN, "writing partner cursors: %s", cx_strerror(rc));
}

int cx_delivery_prune(cx_deliveries_t *self, uint64_t checkpoint_seq, uint64_t *n_log)
{
    const cx_config_t *cfg = self->b->cfg;
    if (cfg->retention_us <= 0 || cx_store_is_writing(self->b->store)) return 0;
    /* The newest log entry always stays, so a log seq is never used twice even
     * when everything else has gone. */
    uint64_t upto = checkpoint_seq < self->b->last_seq ? checkpoint_seq : self->b->last_seq - 1;
    if (self->b->last_seq == 0) return 0;
    uint32_t *nums = calloc(self->n ? self->n : 1, sizeof(uint32_t));
    uint64_t *cursors = calloc(self->n ? self->n : 1, sizeof(uint64_t));
    if (!nums || !cursors) {
        free(nums);
        free(cursors);
        return CX_E_NOMEM;
    }
    int rc = cx_store_read_begin(self->b->store);
    for (size_t i = 0; rc == 0 && i < self->n; i++) {
        pstate_t *ps = &self->p[i];
        nums[i] = ps->num;
        /* Likewise each partner's newest stream entry stays. */
        cursors[i] = ps->cursor < ps->head ? ps->cursor : ps->head - (ps->head > 0);
        if (ps->head <= ps->cursor) continue;
        /* The oldest entry this partner still needs bounds what may go; if it
         * cannot be read, nothing goes this time. */
        uint64_t log_seq;
        rc = cx_store_stream_get(self->b->store, ps->num, ps->cursor + 1, &log_seq);
        if (rc == 0 && log_seq - 1 < upto) upto = log_seq - 1;
    }
    cx_store_read_end(self->b->store);
    uint64_t nl = 0, ns = 0;
    if (rc == 0)
        rc = cx_store_prune(self->b->store, upto, cx_now_us() - cfg->retention_us, nums, cursors,
                            self->n, 20000, &nl, &ns);
    free(nums);
    free(cursors);
    if (rc == 0 && (nl || ns))
        cx_log(CX_LOG_DEBUG, "retention: %llu log entries and %llu stream entries removed",
               (unsigned long long)nl, (unsigned long long)ns);
    *n_log += nl;
    return rc;
}

int cx_delivery_status(cx_deliveries_t *self, Cx__AdminReply *reply, cx_arena_t *arena)
{
    reply->partners = cx_arena_alloc(arena, (self->n ? self->n : 1) * sizeof(Cx__PartnerStatus *));
    if (!reply->partners) return CX_E_NOMEM;
    for (size_t i = 0; i < self->n; i++) {
        pstate_t *ps = &self->p[i];
        Cx__PartnerStatus *s = cx_arena_alloc(arena, sizeof(*s));
        if (!s) return CX_E_NOMEM;
        cx__partner_status__init(s);
        s->partner_id = ps->id;
        s->has_connected = s->has_cursor = s->has_head = s->has_backlog = 1;
        s->has_in_flight = s->has_delivered = 1;
        s->connected = ps->connected;
        s->cursor = ps->cursor;
        s->head = ps->head;
        s->backlog = ps->head - ps->cursor;
        s->in_flight = ps->connected ? ps->sent - ps->cursor : 0;
        s->delivered = ps->delivered;
        reply->partners[reply->n_partners++] = s;
    }
    return 0;
}
