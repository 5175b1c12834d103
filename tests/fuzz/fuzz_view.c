/* fuzz_view.c - libFuzzer target: the view on encoded contexts against the router.
 *
 * The input's first byte picks a partner from a fixed set that covers every
 * `sees` bit; the rest is a cx.CustomerContext as bytes. Whatever the bytes,
 * cx_view_filter and cx_view_has_consent must not crash, must write no more
 * than the input's length and on refusal say CX_E_BAD_PROTOBUF with an empty
 * view. When protobuf-c unpacks the bytes they must also succeed and agree with
 * the router: unpack(view) packed again equals pack(cx_router_filter_context
 * (unpack(input))), and has_consent equals cx_router_has_consent at a fixed now
 * and at a clock read from the input's last 8 bytes (so that an expiry exactly
 * at the clock is easy to reach: the seeds hold some at the fixed now). The view is
 * compared after a round trip because it keeps the input's field order, which
 * for arbitrary bytes is not protobuf-c's. Any disagreement aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context.pb-c.h"
#include "cx_arena.h"
#include "cx_error.h"
#include "router.h"
#include "view.h"

#define S_SEES_ALL                                                                                 \
    (CX_SEES_GOALS | CX_SEES_MILESTONES | CX_SEES_ATTRIBUTES | CX_SEES_CONSENTS | CX_SEES_OFFERS | \
     CX_SEES_ACTIVITY)
#define S_NOW 1800000000000000LL

static char *s_travel[] = {"travel"};
static char *s_money[] = {"money"};
static char *s_hotels[] = {"travel", "lodging"};
static char *s_keys[] = {"home_city", "email"};
static char *s_tier[] = {"tier"};

static const cx_partner_cfg_t s_partners[] = {
    {.id = "acme", .categories = s_travel, .n_categories = 1},
    {.id = "acme", .categories = s_travel, .n_categories = 1, .sees = CX_SEES_GOALS},
    {.id = "acme",
     .categories = s_travel,
     .n_categories = 1,
     .sees = CX_SEES_GOALS | CX_SEES_MILESTONES},
    {.id = "bank", .categories = s_money, .n_categories = 1, .sees = CX_SEES_ATTRIBUTES},
    {.id = "acme",
     .categories = s_travel,
     .n_categories = 1,
     .sees_attributes = s_keys,
     .n_sees_attributes = 2},
    {.id = "hotels", .categories = s_hotels, .n_categories = 2, .sees = CX_SEES_CONSENTS},
    {.id = "acme", .categories = s_travel, .n_categories = 1, .sees = CX_SEES_OFFERS},
    {.id = "crm", .sees = CX_SEES_ACTIVITY | CX_SEES_MILESTONES},
    {.id = "bank",
     .categories = s_money,
     .n_categories = 1,
     .sees = S_SEES_ALL,
     .sees_attributes = s_tier,
     .n_sees_attributes = 1},
    {.categories = s_travel, .n_categories = 1, .sees = S_SEES_ALL}, /* no id */
};
#define S_N_PARTNERS (sizeof s_partners / sizeof s_partners[0])

static cx_arena_t *s_arena;

static uint8_t *s_pack(const Cx__CustomerContext *ctx, size_t *len)
{
    *len = cx__customer_context__get_packed_size(ctx);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf) abort();
    if (cx__customer_context__pack(ctx, buf) != *len) abort();
    return buf;
}

/* The input's last 8 bytes as a clock: a context that ends in an expiry is
 * then checked exactly at it. */
static int64_t s_clock(const uint8_t *data, size_t len)
{
    int64_t t = S_NOW;
    if (len >= 8) memcpy(&t, data + len - 8, sizeof t);
    return t;
}

/* has_consent at now: CX_E_BAD_PROTOBUF or 0, and then the router's answer
 * when protobuf-c read the bytes (u). */
static int s_check_consent(const cx_partner_cfg_t *partner, const uint8_t *in, size_t len,
                           const Cx__CustomerContext *u, int64_t now)
{
    bool says = false;
    int rc = cx_view_has_consent(partner, in, len, now, &says);
    if (rc != 0 && rc != CX_E_BAD_PROTOBUF) abort();
    if (rc == 0 && u && says != cx_router_has_consent(partner, u, now)) abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (!s_arena && !(s_arena = cx_arena_new(0))) abort();
    cx_arena_reset(s_arena);
    const cx_partner_cfg_t *partner = &s_partners[data[0] % S_N_PARTNERS];
    size_t len = size - 1;
    /* a copy of exactly len bytes, so a read past the context is caught */
    uint8_t *in = malloc(len ? len : 1);
    uint8_t *out = malloc(len ? len : 1);
    if (!in || !out) abort();
    memcpy(in, data + 1, len);

    size_t out_len = 1;
    int rc = cx_view_filter(partner, in, len, out, &out_len);
    if (rc != 0 && (rc != CX_E_BAD_PROTOBUF || out_len != 0)) abort();
    if (rc == 0 && out_len > len) abort();

    Cx__CustomerContext *u = cx__customer_context__unpack(cx_arena_allocator(s_arena), len, in);
    int crc = s_check_consent(partner, in, len, u, S_NOW);
    int crc2 = s_check_consent(partner, in, len, u, s_clock(in, len));
    if (u) {
        if (rc != 0 || crc != 0 || crc2 != 0) abort(); /* protobuf-c reads it: so must the view */
        Cx__CustomerContext want = CX__CUSTOMER_CONTEXT__INIT;
        if (cx_router_filter_context(partner, u, &want, s_arena) != 0) abort();
        size_t want_len, got_len;
        uint8_t *want_bytes = s_pack(&want, &want_len);
        Cx__CustomerContext *v =
            cx__customer_context__unpack(cx_arena_allocator(s_arena), out_len, out);
        if (!v) abort();
        uint8_t *got_bytes = s_pack(v, &got_len);
        if (got_len != want_len || (want_len && memcmp(got_bytes, want_bytes, want_len) != 0))
            abort();
        free(want_bytes);
        free(got_bytes);
    }
    free(in);
    free(out);
    return 0;
}
