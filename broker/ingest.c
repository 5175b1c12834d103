/* ingest.c - the acked write path: publish messages in, durable acks out.
 *
 * One batch = every publish message waiting, up to ingest.batch_max. For each:
 * unpack, drop duplicates (producer seq, then event_id window), decode and
 * validate the event, apply it with the pure reducer to its customer's context
 * (one unpack per customer per batch, kept in the batch's arena), route it, and
 * append the event and its stream entries to the log. Then one commit, and only
 * then the contexts go into the cache and the acks go out: an ack means the
 * event is in the log on disk, and nothing in memory ever runs ahead of the log.
 * If the commit fails (storage full), the batch is forgotten and every event of
 * it is NACKed; the broker keeps serving and delivering.
 *
 * The logged value is the event's bytes exactly as received plus one appended
 * field, accepted_at (protobuf's last-one-wins rule makes that a valid Event
 * with the broker's time), so the hot path never re-encodes an event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "broker.h"
#include "codec.h"
#include "cx_error.h"
#include "cx_event.h"
#include "delivery.h"
#include "log.h"
#include "reducer.h"
#include "wire.pb-c.h"

enum { IT_PENDING = 0, IT_ACCEPTED, IT_DUPLICATE, IT_NACK };

typedef struct {
    zmq_msg_t id, body;
    int state;
    int code;
    const char *reason;
    uint64_t seq; /* the publisher's seq, echoed */
    const char *event_id;
    uint64_t log_seq; /* where it was logged (accepted only) */
    int peer;         /* index into the batch's distinct publishers */
} item_t;

typedef struct {
    Cx__CustomerContext *ctx;
    bool erased;
} staged_t;

/* The batch's scratch, kept between batches so steady work allocates nothing. */
struct cx_batch {
    item_t *items;
    size_t cap;
    cx_hmap_t *staged;     /* customer_id -> staged_t (arena) */
    cx_hmap_t *batch_ids;  /* event_id -> non-NULL, accepted in this batch */
    cx_hmap_t *batch_prod; /* producer id -> cx_producer_t (arena), this batch */
};

static int s_batch_init(cx_broker_t *b, size_t cap)
{
    if (!b->batch && !(b->batch = calloc(1, sizeof(*b->batch)))) return CX_E_NOMEM;
    cx_batch_t *bt = b->batch;
    if (bt->cap >= cap) return 0;
    item_t *it = realloc(bt->items, cap * sizeof(item_t));
    if (!it) return CX_E_NOMEM;
    bt->items = it;
    bt->cap = cap;
    if (!bt->staged) bt->staged = cx_hmap_new();
    if (!bt->batch_ids) bt->batch_ids = cx_hmap_new();
    if (!bt->batch_prod) bt->batch_prod = cx_hmap_new();
    return (bt->staged && bt->batch_ids && bt->batch_prod) ? 0 : CX_E_NOMEM;
}

void cx_ingest_destroy(cx_broker_t *b)
{
    if (!b->batch) return;
    cx_hmap_destroy(&b->batch->staged);
    cx_hmap_destroy(&b->batch->batch_ids);
    cx_hmap_destroy(&b->batch->batch_prod);
    free(b->batch->items);
    free(b->batch);
    b->batch = NULL;
}

static void s_nack(item_t *it, int code, const char *reason)
{
    it->state = IT_NACK;
    it->code = code;
    it->reason = reason ? reason : cx_strerror(code);
}

/* Reads one publish message (identity + body). 1 read, 0 none waiting. */
static int s_recv(void *sock, item_t *it)
{
    zmq_msg_init(&it->id);
    if (zmq_msg_recv(&it->id, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&it->id);
        return 0;
    }
    zmq_msg_init(&it->body);
    it->state = IT_PENDING;
    it->seq = 0;
    it->event_id = NULL;
    if (!zmq_msg_more(&it->id) || zmq_msg_recv(&it->body, sock, 0) < 0) {
        s_nack(it, CX_E_BAD_FRAME, "empty message: expected one cx.Publish frame");
        return 1;
    }
    if (zmq_msg_more(&it->body)) {
        cx_zmq_drain(sock);
        s_nack(it, CX_E_BAD_FRAME, "multipart message: expected one cx.Publish frame");
    }
    return 1;
}

/* The context for customer_id in this batch: staged, else cache, else new. */
static staged_t *s_context(cx_broker_t *b, const char *customer_id, int *rc)
{
    staged_t *st = cx_hmap_get(b->batch->staged, customer_id);
    if (st) return st;
    st = cx_arena_alloc(b->arena, sizeof(*st));
    if (!st) {
        *rc = CX_E_NOMEM;
        return NULL;
    }
    st->erased = false;
    const uint8_t *data;
    size_t len;
    *rc = cx_cache_get(b->cache, customer_id, &data, &len);
    if (*rc == 0) {
        st->ctx = (Cx__CustomerContext *)protobuf_c_message_unpack(
            &cx__customer_context__descriptor, cx_arena_allocator(b->arena), len, data);
        if (!st->ctx) {
            *rc = CX_E_STORAGE;
            return NULL;
        }
    } else if (*rc == CX_E_UNKNOWN_CUSTOMER) {
        st->ctx = cx_arena_alloc(b->arena, sizeof(*st->ctx));
        if (!st->ctx) {
            *rc = CX_E_NOMEM;
            return NULL;
        }
        cx__customer_context__init(st->ctx);
        st->ctx->customer_id = cx_arena_strdup(b->arena, customer_id);
    } else {
        return NULL;
    }
    *rc = cx_hmap_put(b->batch->staged, customer_id, st, NULL);
    return *rc ? NULL : st;
}

/* true if event_id was already logged (confirmed against the log) or accepted
 * earlier in this batch. */
static bool s_is_duplicate_id(cx_broker_t *b, const char *event_id)
{
    if (cx_hmap_get(b->batch->batch_ids, event_id)) return true;
    uint64_t seq;
    if (!cx_dedup_has(b->dedup, cx_hash64(event_id, strlen(event_id)), &seq)) return false;
    uint8_t *data;
    size_t len;
    if (cx_store_log_fetch(b->store, seq, &data, &len) != 0) return false;
    Cx__Event *old = cx__event__unpack(cx_arena_allocator(b->arena), len, data);
    bool same = old && old->event_id && strcmp(old->event_id, event_id) == 0;
    free(data);
    return same;
}

static bool s_partner_may_publish(const cx_partner_cfg_t *p, const char *type)
{
    for (size_t i = 0; i < p->n_may_publish; i++)
        if (strcmp(p->may_publish[i], type) == 0) return true;
    return false;
}

/* Everything up to the log append for one item. Returns a store error (which
 * fails the whole batch) or 0. */
static int s_process(cx_broker_t *b, item_t *it, int64_t now)
{
    cx_arena_t *a = b->arena;
    size_t blen = zmq_msg_size(&it->body);
    if (blen > (size_t)b->cfg->max_event_bytes + 1024) {
        char *r = cx_arena_alloc(a, 96);
        if (r) snprintf(r, 96, "message is %zu bytes, limit %u", blen, b->cfg->max_event_bytes);
        s_nack(it, CX_E_TOO_LARGE, r);
        return 0;
    }
    Cx__Publish *pub = cx__publish__unpack(cx_arena_allocator(a), blen, zmq_msg_data(&it->body));
    if (!pub) {
        s_nack(it, CX_E_BAD_FRAME, "not a cx.Publish message (truncated or garbage protobuf)");
        return 0;
    }
    it->seq = pub->has_seq ? pub->seq : 0;
    if (!pub->has_event) {
        s_nack(it, CX_E_MISSING_FIELD, "missing field: event");
        return 0;
    }
    /* Exact dedup of a libcx publisher's retries: per producer, seqs are taken
     * in order. last is the highest seq taken; base the oldest seq the
     * publisher still awaits an answer for (all below it are answered and will
     * never come again). A seq at or below last was taken: a duplicate. A seq
     * past last + 1 while an earlier awaited one has not arrived is out of
     * order (after a reconnect, a queued later event can overtake a lost
     * earlier one): NACKed, and libcx resends all in order. Taking it would
     * make the earlier one look like a duplicate later, and lose it. */
    cx_producer_t *prod = NULL;
    if (pub->producer_id && pub->producer_id[0] && pub->has_seq) {
        prod = cx_hmap_get(b->batch->batch_prod, pub->producer_id);
        cx_producer_t *known = prod ? prod : cx_hmap_get(b->producers, pub->producer_id);
        uint64_t base = pub->has_base_seq && pub->base_seq <= pub->seq ? pub->base_seq : pub->seq;
        uint64_t last = known ? known->seq : base - 1;
        if (known && pub->seq <= last) {
            it->state = IT_DUPLICATE;
            return 0;
        }
        if (pub->seq > last + 1 && base <= last + 1) {
            char *r = cx_arena_alloc(a, 160);
            if (r)
                snprintf(r, 160, "out of order: seq %llu arrived before seq %llu; resend in order",
                         (unsigned long long)pub->seq, (unsigned long long)(last + 1));
            s_nack(it, CX_E_OUT_OF_ORDER, r);
            return 0;
        }
    }
    const char *reason = NULL;
    Cx__Event *ev;
    int rc = cx_codec_decode_event(pub->event.data, pub->event.len, b->cfg->max_event_bytes, a, &ev,
                                   &reason);
    if (rc) {
        s_nack(it, rc, reason);
        return 0;
    }
    char *buf = cx_arena_alloc(a, 256);
    rc = cx_codec_validate(ev, buf, buf ? 256 : 0, &reason);
    if (rc) {
        s_nack(it, rc, reason);
        return 0;
    }
    it->event_id = ev->event_id;
    const uint8_t *ev_bytes = pub->event.data;
    size_t ev_len = pub->event.len;
    if (pub->partner && pub->partner[0]) {
        int pi = cx_config_partner_index(b->cfg, pub->partner);
        if (pi < 0) {
            char *r = cx_arena_alloc(a, 200);
            if (r) snprintf(r, 200, "unknown partner '%.64s'", pub->partner);
            s_nack(it, CX_E_UNKNOWN_PARTNER, r);
            return 0;
        }
        if (!s_partner_may_publish(&b->cfg->partners[pi], ev->type)) {
            char *r = cx_arena_alloc(a, 200);
            if (r)
                snprintf(r, 200, "not permitted: partner '%.64s' may not publish %.64s",
                         pub->partner, ev->type);
            s_nack(it, CX_E_NOT_PERMITTED, r);
            return 0;
        }
        /* A partner's offer is stamped with who made it, whatever it claims. */
        if (ev->payload_case == CX__EVENT__PAYLOAD_OFFER) {
            ev->offer->partner = pub->partner;
            ev_len = cx__event__get_packed_size(ev);
            uint8_t *re = cx_arena_alloc(a, ev_len);
            if (!re) return CX_E_NOMEM;
            cx__event__pack(ev, re);
            ev_bytes = re;
        }
    }
    if (s_is_duplicate_id(b, ev->event_id)) {
        it->state = IT_DUPLICATE;
        goto note_producer;
    }
    staged_t *st = s_context(b, ev->customer_id, &rc);
    if (!st) {
        s_nack(it, rc, "cannot read the customer's context");
        return 0;
    }
    ev->has_accepted_at = 1;
    ev->accepted_at = now;
    rc = cx_reduce(st->ctx, ev, a);
    if (rc) {
        char *r = cx_arena_alloc(a, 200);
        if (r) snprintf(r, 200, "%s (%s)", cx_strerror(rc), ev->type);
        s_nack(it, rc, r);
        return 0;
    }
    st->erased = cx_event_type_parse(ev->type) == CX_EV_CUSTOMER_ERASE;
    /* The log record: the event as received + accepted_at (field 6, fixed64). */
    uint8_t *rec = cx_arena_alloc(a, ev_len + 9);
    if (!rec) return CX_E_NOMEM;
    memcpy(rec, ev_bytes, ev_len);
    rec[ev_len] = (6 << 3) | 1;
    for (int i = 0; i < 8; i++)
        rec[ev_len + 1 + i] = (uint8_t)((uint64_t)now >> (8 * i));
    if ((rc = cx_store_begin(b->store)) != 0) return rc;
    uint64_t seq = b->last_seq + 1;
    if ((rc = cx_store_log_append(b->store, seq, rec, ev_len + 9)) != 0) return rc;
    if ((rc = cx_delivery_route(b->delivery, ev, st->ctx, seq, now)) != 0) return rc;
    b->last_seq = seq;
    it->log_seq = seq;
    it->state = IT_ACCEPTED;
    if ((rc = cx_hmap_put(b->batch->batch_ids, ev->event_id, it, NULL)) != 0) return rc;
note_producer:
    if (pub->producer_id && pub->producer_id[0] && pub->has_seq) {
        if (!prod) {
            prod = cx_arena_alloc(a, sizeof(*prod));
            if (!prod) return CX_E_NOMEM;
            if ((rc = cx_hmap_put(b->batch->batch_prod, pub->producer_id, prod, NULL)) != 0)
                return rc;
        }
        prod->seq = pub->seq;
        prod->at = now;
    }
    return 0;
}

typedef struct {
    cx_broker_t *b;
    int rc;
} install_t;

static void s_pack_ctx(const void *ctx, uint8_t *out)
{
    cx__customer_context__pack(ctx, out);
}

/* The cache's new context for customer_id: ctx packed, or erased. */
static int s_cache_ctx(cx_broker_t *b, const char *customer_id, const Cx__CustomerContext *ctx,
                       bool erased)
{
    if (erased) return cx_cache_erase(b->cache, customer_id);
    size_t len = cx__customer_context__get_packed_size(ctx);
    return cx_cache_put_packed(b->cache, customer_id, len, s_pack_ctx, ctx);
}

static void s_install_ctx(void *arg, const char *customer_id, void *value)
{
    install_t *in = arg;
    staged_t *st = value;
    if (in->rc == 0) in->rc = s_cache_ctx(in->b, customer_id, st->ctx, st->erased);
}

static void s_install_producer(void *arg, const char *id, void *value)
{
    cx_broker_t *b = arg;
    cx_producer_t *bp = value, *p = cx_hmap_get(b->producers, id);
    if (!p) {
        p = malloc(sizeof(*p));
        if (!p || cx_hmap_put(b->producers, id, p, NULL) != 0) {
            /* Without its seq a retry could be applied twice: stop; the
             * producer table is reloaded from the log environment. */
            free(p);
            cx_log(CX_LOG_ERROR, "producer table: out of memory; stopping");
            b->fatal = CX_E_NOMEM;
            *b->stop = 1;
            return;
        }
    }
    *p = *bp;
}

typedef struct {
    cx_store_t *store;
    int rc;
} prodw_t;

static void s_put_producer(void *arg, const char *id, void *value)
{
    prodw_t *w = arg;
    cx_producer_t *p = value;
    if (w->rc == 0) w->rc = cx_store_producer_put(w->store, id, p->seq, p->at);
}

/* One reply per distinct publisher of the batch. */
static void s_reply(cx_broker_t *b, size_t n)
{
    cx_arena_t *a = b->arena;
    size_t npeers = 0;
    int *first = cx_arena_alloc(a, n * sizeof(int)); /* first item of each peer */
    if (!first) return;
    for (size_t i = 0; i < n; i++) {
        item_t *it = &b->batch->items[i];
        size_t idl = zmq_msg_size(&it->id);
        it->peer = -1;
        for (size_t p = 0; p < npeers; p++) {
            zmq_msg_t *pid = &b->batch->items[first[p]].id;
            if (zmq_msg_size(pid) == idl &&
                memcmp(zmq_msg_data(pid), zmq_msg_data(&it->id), idl) == 0) {
                it->peer = (int)p;
                break;
            }
        }
        if (it->peer < 0) {
            first[npeers] = (int)i;
            it->peer = (int)npeers++;
        }
    }
    for (size_t p = 0; p < npeers; p++) {
        Cx__PublishReply rep = CX__PUBLISH_REPLY__INIT;
        size_t cnt = 0;
        for (size_t i = (size_t)first[p]; i < n; i++)
            cnt += b->batch->items[i].peer == (int)p;
        rep.acked = cx_arena_alloc(a, cnt * sizeof(uint64_t));
        rep.duplicates = cx_arena_alloc(a, cnt * sizeof(uint64_t));
        rep.nacks = cx_arena_alloc(a, cnt * sizeof(Cx__Nack *));
        if (!rep.acked || !rep.duplicates || !rep.nacks) return;
        for (size_t i = (size_t)first[p]; i < n; i++) {
            item_t *it = &b->batch->items[i];
            if (it->peer != (int)p) continue;
            if (it->state == IT_ACCEPTED || it->state == IT_DUPLICATE) {
                rep.acked[rep.n_acked++] = it->seq;
                if (it->state == IT_DUPLICATE) rep.duplicates[rep.n_duplicates++] = it->seq;
            } else {
                Cx__Nack *nk = cx_arena_alloc(a, sizeof(*nk));
                if (!nk) return;
                cx__nack__init(nk);
                nk->has_seq = nk->has_code = 1;
                nk->seq = it->seq;
                nk->code = it->code;
                nk->reason = (char *)it->reason;
                nk->event_id = (char *)it->event_id;
                rep.nacks[rep.n_nacks++] = nk;
            }
        }
        size_t len = cx__publish_reply__get_packed_size(&rep);
        zmq_msg_t out;
        if (zmq_msg_init_size(&out, len) != 0) return;
        cx__publish_reply__pack(&rep, zmq_msg_data(&out));
        zmq_msg_t *pid = &b->batch->items[first[p]].id;
        /* A publisher that left gets no reply; it retries and is acked as a duplicate. */
        if (zmq_msg_send(pid, b->pub_sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_msg_send(&out, b->pub_sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&out);
            b->n.frames_dropped++;
        }
    }
}

int cx_ingest_pump(cx_broker_t *b)
{
    int rc = s_batch_init(b, b->cfg->batch_max);
    if (rc) return rc;
    size_t n = 0;
    while (n < b->cfg->batch_max && s_recv(b->pub_sock, &b->batch->items[n]))
        n++;
    if (n == 0) return 0;

    cx_arena_reset(b->arena);
    cx_hmap_clear(b->batch->staged);
    cx_hmap_clear(b->batch->batch_ids);
    cx_hmap_clear(b->batch->batch_prod);
    int64_t now = cx_now_us();
    uint64_t first_seq = b->last_seq;
    int store_rc = 0;
    for (size_t i = 0; i < n; i++) {
        item_t *it = &b->batch->items[i];
        if (it->state != IT_PENDING) continue;
        if (store_rc) {
            s_nack(it, store_rc, NULL);
            continue;
        }
        store_rc = s_process(b, it, now);
        if (store_rc) s_nack(it, store_rc, NULL);
    }
    prodw_t pw = {b->store, 0};
    if (!store_rc && cx_store_is_writing(b->store)) {
        cx_hmap_each(b->batch->batch_prod, s_put_producer, &pw);
        store_rc = pw.rc;
        if (!store_rc) store_rc = cx_delivery_put_cursors(b->delivery);
    }
    if (!store_rc)
        store_rc = cx_store_commit(b->store);
    else
        cx_store_abort(b->store);

    if (store_rc) {
        /* Nothing of the batch is on disk: forget it, NACK what was accepted. */
        b->last_seq = first_seq;
        cx_delivery_batch_end(b->delivery, false);
        for (size_t i = 0; i < n; i++) {
            item_t *it = &b->batch->items[i];
            /* A duplicate may be of an event accepted earlier in this very
             * batch, which is not on disk either: NACK duplicates too (a retry
             * of one that is on disk will be acked as a duplicate then). */
            if (it->state == IT_ACCEPTED || it->state == IT_DUPLICATE) s_nack(it, store_rc, NULL);
        }
        if (!b->storage_full || store_rc != CX_E_STORAGE_FULL)
            cx_log(CX_LOG_ERROR, "batch of %zu events refused: %s", n, cx_strerror(store_rc));
        b->storage_full = store_rc == CX_E_STORAGE_FULL;
    } else {
        b->storage_full = false;
        cx_delivery_batch_end(b->delivery, true);
        install_t in = {b, 0};
        cx_hmap_each(b->batch->staged, s_install_ctx, &in);
        if (in.rc) {
            /* The batch is on disk but memory no longer matches it: stop before
             * a checkpoint could record contexts without these events. A
             * restart replays them from the log. The batch is still acked. */
            cx_log(CX_LOG_ERROR, "context cache: %s; stopping (a restart replays the log)",
                   cx_strerror(in.rc));
            b->fatal = in.rc;
            *b->stop = 1;
        }
        cx_hmap_each(b->batch->batch_prod, s_install_producer, b);
        for (size_t i = 0; i < n; i++) {
            item_t *it = &b->batch->items[i];
            if (it->state == IT_ACCEPTED && it->event_id)
                cx_dedup_add(b->dedup, cx_hash64(it->event_id, strlen(it->event_id)), it->log_seq,
                             now);
        }
    }
    for (size_t i = 0; i < n; i++) {
        item_t *it = &b->batch->items[i];
        if (it->state == IT_ACCEPTED)
            b->n.accepted++;
        else if (it->state == IT_DUPLICATE)
            b->n.duplicates++;
        else
            cx_count_reject(b, it->code);
    }
    b->n.batches++;
    b->last_batch_us = cx_now_us();
    s_reply(b, n);
    for (size_t i = 0; i < n; i++) {
        zmq_msg_close(&b->batch->items[i].id);
        zmq_msg_close(&b->batch->items[i].body);
    }
    return (int)n;
}

/* ---- recovery at start ---- */

static int s_load_producer(void *arg, const char *id, uint64_t seq, int64_t at)
{
    cx_broker_t *b = arg;
    cx_producer_t *p = malloc(sizeof(*p));
    if (!p) return CX_E_NOMEM;
    p->seq = seq;
    p->at = at;
    if (cx_hmap_put(b->producers, id, p, NULL) != 0) {
        free(p);
        return CX_E_NOMEM;
    }
    return 0;
}

typedef struct {
    cx_broker_t *b;
    uint64_t replayed, failed;
    int64_t t0;
} replay_t;

static int s_replay_one(void *arg, uint64_t seq, const void *data, size_t len)
{
    replay_t *r = arg;
    cx_broker_t *b = r->b;
    cx_arena_reset(b->arena);
    Cx__Event *ev = cx__event__unpack(cx_arena_allocator(b->arena), len, data);
    if (!ev || !ev->customer_id) {
        r->failed++;
        cx_log(CX_LOG_WARN, "replay: log seq %llu does not decode; skipped",
               (unsigned long long)seq);
        return 0;
    }
    const uint8_t *cdata;
    size_t clen;
    Cx__CustomerContext *ctx, fresh;
    int rc = cx_cache_get(b->cache, ev->customer_id, &cdata, &clen);
    if (rc == 0) {
        ctx = cx__customer_context__unpack(cx_arena_allocator(b->arena), clen, cdata);
        if (!ctx) return CX_E_STORAGE;
    } else if (rc == CX_E_UNKNOWN_CUSTOMER) {
        cx__customer_context__init(&fresh);
        fresh.customer_id = ev->customer_id;
        ctx = &fresh;
    } else {
        return rc;
    }
    if (cx_reduce(ctx, ev, b->arena) != 0) {
        /* Logged events were applied once already; this cannot fail unless the
         * reducer changed incompatibly. Say so and go on. */
        r->failed++;
        cx_log(CX_LOG_WARN, "replay: log seq %llu no longer applies; skipped",
               (unsigned long long)seq);
        return 0;
    }
    rc =
        s_cache_ctx(b, ev->customer_id, ctx, cx_event_type_parse(ev->type) == CX_EV_CUSTOMER_ERASE);
    if (rc) return rc;
    if (++r->replayed % 100000 == 0)
        cx_log(CX_LOG_INFO, "replay: %llu events (log seq %llu)", (unsigned long long)r->replayed,
               (unsigned long long)seq);
    /* Keep memory bounded on a long replay: checkpoint as we go. */
    if (cx_cache_dirty(b->cache) >= b->cfg->checkpoint_max_dirty)
        return cx_cache_checkpoint_sync(b->cache, seq);
    return 0;
}

typedef struct {
    cx_broker_t *b;
    int64_t oldest;
    uint64_t *hash, *seq;
    int64_t *at;
    size_t n, cap;
} tail_t;

static int s_tail_one(void *arg, uint64_t seq, const void *data, size_t len)
{
    tail_t *t = arg;
    if (t->n >= t->cap) return 1;
    cx_arena_reset(t->b->arena);
    Cx__Event *ev = cx__event__unpack(cx_arena_allocator(t->b->arena), len, data);
    if (!ev || !ev->event_id) return 0;
    if (ev->accepted_at < t->oldest) return 1;
    t->hash[t->n] = cx_hash64(ev->event_id, strlen(ev->event_id));
    t->seq[t->n] = seq;
    t->at[t->n] = ev->accepted_at;
    t->n++;
    return 0;
}

int cx_ingest_recover(cx_broker_t *b)
{
    uint64_t first, last, count, applied;
    int rc = cx_store_log_bounds(b->store, &first, &last, &count);
    if (rc == 0) rc = cx_store_applied_seq(b->store, &applied);
    if (rc) return rc;
    b->last_seq = last;
    if (applied > last) {
        cx_log(CX_LOG_ERROR,
               "state says it includes log seq %llu but the log ends at %llu: "
               "the log environment is not the one the contexts were built from",
               (unsigned long long)applied, (unsigned long long)last);
        return CX_E_STORAGE;
    }
    if ((rc = cx_store_producers_load(b->store, s_load_producer, b)) != 0) return rc;

    replay_t r = {b, 0, 0, cx_now_us()};
    if (last > applied) {
        cx_log(CX_LOG_INFO, "replay: log seq %llu..%llu into contexts",
               (unsigned long long)applied + 1, (unsigned long long)last);
        if ((rc = cx_store_log_scan(b->store, applied + 1, s_replay_one, &r)) != 0) return rc;
        if ((rc = cx_cache_checkpoint_sync(b->cache, last)) != 0) return rc;
        cx_log(CX_LOG_INFO, "replay: %llu events in %.3f s (%llu skipped)",
               (unsigned long long)r.replayed, (double)(cx_now_us() - r.t0) / 1e6,
               (unsigned long long)r.failed);
    }

    tail_t t = {
        b, cx_now_us() - b->cfg->dedup_window_us, NULL, NULL, NULL, 0, b->cfg->dedup_window_count};
    if (t.cap > count) t.cap = (size_t)count;
    if (t.cap) {
        t.hash = malloc(t.cap * sizeof(uint64_t));
        t.seq = malloc(t.cap * sizeof(uint64_t));
        t.at = malloc(t.cap * sizeof(int64_t));
        if (t.hash && t.seq && t.at) {
            rc = cx_store_log_scan_back(b->store, s_tail_one, &t);
            for (size_t i = t.n; i-- > 0;)
                cx_dedup_add(b->dedup, t.hash[i], t.seq[i], t.at[i]);
        } else {
            rc = CX_E_NOMEM;
        }
        free(t.hash);
        free(t.seq);
        free(t.at);
        if (rc < 0) return rc;
    }
    cx_arena_reset(b->arena);
    cx_log(CX_LOG_INFO,
           "log: %llu events (seq %llu..%llu), %zu producers, %zu event ids in the "
           "duplicate window",
           (unsigned long long)count, (unsigned long long)first, (unsigned long long)last,
           cx_hmap_size(b->producers), (size_t)t.n);
    return 0;
}
