/* fuzz_event.c - libFuzzer target: bytes -> decode -> validate -> reduce.
 *
 * Each input is one encoded cx.Event. A valid one is reduced into a context
 * that lives across inputs, so that sequences of mutated events reach deep
 * states (full goal lists, dropped milestones, erasures). Between inputs the
 * context is kept only as its packed bytes, and unpacked into a fresh arena for
 * the next one, exactly like the broker's cache and store: no arena outlives an
 * input. A milestone or acceptance that names a goal or offer the context lacks
 * is refused, then retried after a synthetic goal.set / offer.made, so mutated
 * ids still reach the code behind the lookup.
 * Besides "never crash", it aborts on a broken promise of reducer.h:
 * a refusal that changed the context, a bound exceeded, or a context whose
 * pack -> unpack -> pack does not give the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "cx_error.h"
#include "reducer.h"

#define S_LIMIT 65536

static cx_arena_t *s_arena;
static uint8_t *s_saved;   /* the context carried between inputs, packed */
static size_t s_saved_len; /* 0: no context yet */
static size_t s_saved_cap;

/* Packs ctx into a malloc'ed buffer; the caller frees it. */
static uint8_t *s_pack(const Cx__CustomerContext *ctx, size_t *len)
{
    *len = cx__customer_context__get_packed_size(ctx);
    uint8_t *buf = malloc(*len + 1);
    if (!buf) abort();
    if (cx__customer_context__pack(ctx, buf) != *len) abort();
    return buf;
}

static int s_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void s_check_bounds(const Cx__CustomerContext *ctx)
{
    if (ctx->n_goals > CX_MAX_GOALS || ctx->n_attributes > CX_MAX_ATTRIBUTES ||
        ctx->n_consents > CX_MAX_CONSENTS || ctx->n_offers > CX_MAX_OFFERS)
        abort();
    for (size_t i = 0; i < ctx->n_goals; i++)
        if (ctx->goals[i]->n_milestones > CX_MAX_MILESTONES) abort();
}

static void s_save(const uint8_t *bytes, size_t len)
{
    if (len > s_saved_cap) {
        uint8_t *p = realloc(s_saved, len);
        if (!p) abort();
        s_saved = p;
        s_saved_cap = len;
    }
    if (len) memcpy(s_saved, bytes, len);
    s_saved_len = len;
}

/* The carried context, unpacked into the arena; a fresh one for a new customer. */
static Cx__CustomerContext *s_load(const Cx__Event *ev)
{
    Cx__CustomerContext *ctx = NULL;
    if (s_saved_len) {
        ctx = cx__customer_context__unpack(cx_arena_allocator(s_arena), s_saved_len, s_saved);
        if (!ctx) abort(); /* we packed it ourselves */
        if (ctx->customer_id && strcmp(ctx->customer_id, ev->customer_id) == 0) return ctx;
    }
    ctx = cx_arena_alloc(s_arena, sizeof(*ctx));
    if (!ctx) abort();
    cx__customer_context__init(ctx);
    return ctx;
}

/* Reduces ev into ctx and checks the promises of a refusal: only the refusals
 * a context can make of a validated event, and ctx byte for byte as before. */
static int s_reduce_checked(Cx__CustomerContext *ctx, const Cx__Event *ev)
{
    size_t before_len, after_len;
    uint8_t *before = s_pack(ctx, &before_len);
    int rc = cx_reduce(ctx, ev, s_arena);
    if (rc) {
        if (rc != CX_E_UNKNOWN_GOAL && rc != CX_E_UNKNOWN_OFFER && rc != CX_E_LIMIT) abort();
        uint8_t *after = s_pack(ctx, &after_len);
        if (!s_same(before, before_len, after, after_len)) abort();
        free(after);
    }
    free(before);
    return rc;
}

/* The goal.set or offer.made that introduces what ev names but ctx lacks, so
 * that a mutated milestone or acceptance reaches the code behind the lookup. */
static Cx__Event *s_introduce(const Cx__Event *ev, int rc)
{
    Cx__Event *intro = cx_arena_alloc(s_arena, sizeof(*intro));
    if (!intro) abort();
    *intro = *ev;
    if (rc == CX_E_UNKNOWN_OFFER) {
        Cx__Offer *o = cx_arena_alloc(s_arena, sizeof(*o));
        if (!o) abort();
        cx__offer__init(o);
        o->offer_id = ev->offer->offer_id;
        intro->type = "offer.made";
        intro->payload_case = CX__EVENT__PAYLOAD_OFFER;
        intro->offer = o;
        return intro;
    }
    Cx__Goal *g = cx_arena_alloc(s_arena, sizeof(*g));
    if (!g) abort();
    cx__goal__init(g);
    g->goal_id = ev->payload_case == CX__EVENT__PAYLOAD_MILESTONE ? ev->milestone->goal_id
                                                                  : ev->goal->goal_id;
    g->has_target = 1;
    g->target = 3;
    intro->type = "goal.set";
    intro->payload_case = CX__EVENT__PAYLOAD_GOAL;
    intro->goal = g;
    return intro;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_arena && !(s_arena = cx_arena_new(0))) abort();
    cx_arena_reset(s_arena);

    Cx__Event *ev = NULL;
    const char *reason = NULL;
    char buf[256];
    if (cx_codec_decode_event(data, size, S_LIMIT, s_arena, &ev, &reason)) {
        if (!reason) abort();
        return 0;
    }
    int rc = cx_codec_validate(ev, buf, sizeof(buf), &reason);
    if (rc) {
        if (rc > 0 || !reason || !*reason) abort();
        return 0;
    }

    Cx__CustomerContext *ctx = s_load(ev);
    rc = s_reduce_checked(ctx, ev);
    if (rc == CX_E_UNKNOWN_GOAL || rc == CX_E_UNKNOWN_OFFER) {
        if (s_reduce_checked(ctx, s_introduce(ev, rc))) return 0; /* full: nothing changed */
        rc = s_reduce_checked(ctx, ev);
    }
    if (rc) return 0;

    s_check_bounds(ctx);
    size_t len, again_len;
    uint8_t *packed = s_pack(ctx, &len);
    Cx__CustomerContext *back =
        cx__customer_context__unpack(cx_arena_allocator(s_arena), len, packed);
    if (!back) abort();
    uint8_t *again = s_pack(back, &again_len);
    if (!s_same(packed, len, again, again_len)) abort();
    s_save(packed, len);
    free(packed);
    free(again);
    return 0;
}
