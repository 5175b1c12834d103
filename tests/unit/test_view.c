/* test_view.c - the view on encoded contexts against the router on unpacked ones.
 *
 * The one idea: view.c promises to be router.c by other means, so nearly every
 * test here is a comparison. For a context c packed by protobuf-c and a partner
 * p, cx_view_filter(p, c) must be, byte for byte, pack(cx_router_filter_context(p,
 * unpack(c))), and cx_view_has_consent(p, c) must be cx_router_has_consent(p,
 * unpack(c)). The contexts are random (a fixed seed, so a failure repeats) and
 * hold every kind of field, unknown fields at every level and clocks that sit
 * exactly on a consent's expiry; the partners cover every `sees` bit that
 * changes what is kept. Each view is written to a buffer of exactly the input's
 * length from malloc, so an overrun is a sanitizer report. Byte-level rows check
 * encodings protobuf-c reads but never writes (fields out of order, repeats,
 * NUL bytes in strings); there the views are compared after an unpack/pack round
 * trip, since the view keeps the input's order. Partner configs are built by
 * hand, as in test_router.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "context.pb-c.h"
#include "cx_arena.h"
#include "cx_error.h"
#include "router.h"
#include "view.h"

#define SEC 1000000LL
#define DAY (86400LL * SEC)
#define NOW (1800000000LL * SEC) /* 2027-01-15 */
#define SEES_ALL                                                                                   \
    (CX_SEES_GOALS | CX_SEES_MILESTONES | CX_SEES_ATTRIBUTES | CX_SEES_CONSENTS | CX_SEES_OFFERS | \
     CX_SEES_ACTIVITY)
#define N_RANDOM_CONTEXTS 3000 /* per partner, for the byte-for-byte comparison */
#define N_PREFIX_CONTEXTS 40   /* per partner, each cut at every length */
#define SEED_DIFF 0x5eedc0ffee123457ULL
#define SEED_PREFIX 0x0dd5eed5a1ad0001ULL
#define SEED_IDENTITY 0x1de0717700000003ULL

/* ---- the partners ---- */

typedef struct {
    const char *name;
    const char *id; /* NULL: a partner without an id (never from the loader, but allowed) */
    const char *categories[3];
    uint32_t sees;
    const char *attrs[3]; /* sees_attributes */
    int identity_only;    /* its view must hold customer_id, version, updated_at only */
} partner_row_t;

static const partner_row_t s_partner_rows[] = {
    {"sees_nothing", "acme", {"travel"}, 0, {NULL}, 1},
    {"goals_without_milestones", "acme", {"travel"}, CX_SEES_GOALS, {NULL}, 0},
    {"goals_with_milestones", "acme", {"travel"}, CX_SEES_GOALS | CX_SEES_MILESTONES, {NULL}, 0},
    {"milestones_without_goals", "acme", {"travel"}, CX_SEES_MILESTONES, {NULL}, 1},
    {"all_attributes", "bank", {"money"}, CX_SEES_ATTRIBUTES, {NULL}, 0},
    {"attribute_keys", "acme", {"travel"}, 0, {"home_city", "email"}, 0},
    {"attribute_key_never_present", "acme", {"travel"}, 0, {"phone"}, 1},
    {"all_attributes_and_keys", "acme", {"travel"}, CX_SEES_ATTRIBUTES, {"tier"}, 0},
    {"consents", "hotels", {"travel", "lodging"}, CX_SEES_CONSENTS, {NULL}, 0},
    {"own_offers_acme", "acme", {"travel"}, CX_SEES_OFFERS, {NULL}, 0},
    {"own_offers_bank", "bank", {"money"}, CX_SEES_OFFERS, {NULL}, 0},
    {"offers_of_partner_that_made_none", "crm", {NULL}, CX_SEES_OFFERS, {NULL}, 0},
    {"activity", "acme", {"travel"}, CX_SEES_ACTIVITY, {NULL}, 0},
    {"consents_and_activity", "crm", {NULL}, CX_SEES_CONSENTS | CX_SEES_ACTIVITY, {NULL}, 0},
    {"goals_offers_and_attribute_keys",
     "acme",
     {"travel"},
     CX_SEES_GOALS | CX_SEES_OFFERS,
     {"tier", "email"},
     0},
    {"everything", "bank", {"money"}, SEES_ALL, {NULL}, 0},
    {"everything_and_keys", "hotels", {"travel", "lodging"}, SEES_ALL, {"home_city"}, 0},
    {"everything_without_id", NULL, {"travel"}, SEES_ALL, {NULL}, 0},
};
#define N_PARTNER_ROWS (sizeof s_partner_rows / sizeof s_partner_rows[0])

static size_t s_count(const char *const *list, size_t max)
{
    size_t n = 0;
    while (n < max && list[n])
        n++;
    return n;
}

static cx_partner_cfg_t s_partner(const partner_row_t *row)
{
    return (cx_partner_cfg_t){.id = (char *)row->id,
                              .categories = (char **)row->categories,
                              .n_categories = s_count(row->categories, 3),
                              .sees = row->sees,
                              .sees_attributes = (char **)row->attrs,
                              .n_sees_attributes = s_count(row->attrs, 3)};
}

static const cx_partner_cfg_t s_acme = {
    .id = "acme", .categories = (char *[]){"travel"}, .n_categories = 1, .sees = SEES_ALL};

/* ---- a seeded generator of contexts ---- */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t s_rand(rng_t *r) /* xorshift64* */
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static size_t s_below(rng_t *r, size_t n)
{
    return (size_t)(s_rand(r) % n);
}

static bool s_chance(rng_t *r, unsigned percent)
{
    return s_below(r, 100) < percent;
}

#define PICK(r, pool) ((char *)(pool)[s_below((r), sizeof(pool) / sizeof((pool)[0]))])

/* Strings the partners ask about, near misses, empties, and absence (NULL). */
static const char *const s_scopes[] = {"acme",    "bank", "hotels", "crm", "travel", "money",
                                       "lodging", "acm",  "acme-x", "",    NULL};
static const char *const s_offer_partners[] = {"acme", "bank", "hotels", "acmee", "", NULL};
static const char *const s_attr_keys[] = {"home_city", "tier", "email", "nickname",
                                          "home_cit",  "",     NULL};
static const char *const s_values[] = {"Lisbon", "gold", "c1@example.com", "", "São Paulo", NULL};
static const char *const s_names[] = {
    "g-trip", "g-save", "flights-booked", "first-deposit", "o-1", "o-2", "Lisbon trip", "", NULL};
static const char *const s_statuses[] = {"active", "completed", "abandoned",
                                         "made",   "accepted",  NULL};
static const char *const s_customers[] = {"c-1", "customer-with-a-longer-id", "", NULL};

static int64_t s_time(rng_t *r)
{
    static const int64_t fixed[] = {NOW, NOW - 1, NOW + 1,   NOW - DAY, NOW + DAY,
                                    0,   -1,      INT64_MIN, INT64_MAX};
    if (s_chance(r, 20)) return (int64_t)s_rand(r);
    return fixed[s_below(r, sizeof fixed / sizeof fixed[0])];
}

static double s_double(rng_t *r)
{
    static const double fixed[] = {0.0, -0.0, 0.5, 1.0, 3.0, 1e300, -2.5};
    if (s_chance(r, 5)) return NAN;
    if (s_chance(r, 20)) return (double)s_rand(r) / 1e9;
    return fixed[s_below(r, sizeof fixed / sizeof fixed[0])];
}

static uint64_t s_uint(rng_t *r)
{
    static const uint64_t fixed[] = {0, 1, 127, 128, 300, UINT64_MAX};
    if (s_chance(r, 50)) return s_rand(r) >> s_below(r, 64);
    return fixed[s_below(r, sizeof fixed / sizeof fixed[0])];
}

/* Unknown fields, as a newer schema would leave them; valid encodings of each
 * wire type, field numbers no message of ours uses (all known ones are <= 10).
 * The bytes of a length-prefixed one include its prefix, as protobuf-c keeps them. */
static uint8_t s_secret[] = {6, 's', 'e', 'c', 'r', 'e', 't'};
static uint8_t s_varint_one[] = {0x05};
static uint8_t s_varint_max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
static uint8_t s_fixed64[] = {1, 2, 3, 4, 5, 6, 7, 8};
static uint8_t s_fixed32[] = {0xde, 0xad, 0xbe, 0xef};
static ProtobufCMessageUnknownField s_unknown[] = {
    {.tag = 99, .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, .len = 7, .data = s_secret},
    {.tag = 11, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1, .data = s_varint_one},
    {.tag = 2047, .wire_type = PROTOBUF_C_WIRE_TYPE_64BIT, .len = 8, .data = s_fixed64},
    {.tag = 16, .wire_type = PROTOBUF_C_WIRE_TYPE_32BIT, .len = 4, .data = s_fixed32},
    {.tag = 536870911, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 10, .data = s_varint_max},
};
#define N_UNKNOWN (sizeof s_unknown / sizeof s_unknown[0])

static void s_set_unknown(ProtobufCMessage *m, size_t first, size_t n)
{
    m->unknown_fields = &s_unknown[first];
    m->n_unknown_fields = (unsigned)n;
}

static void s_maybe_unknown(rng_t *r, ProtobufCMessage *m)
{
    if (!s_chance(r, 15)) return;
    size_t first = s_below(r, N_UNKNOWN);
    s_set_unknown(m, first, 1 + s_below(r, N_UNKNOWN - first));
}

static void *s_alloc(cx_arena_t *a, size_t size)
{
    void *p = cx_arena_alloc(a, size ? size : 1);
    assert_non_null(p);
    memset(p, 0, size);
    return p;
}

static Cx__MilestoneState *s_random_milestone(rng_t *r, cx_arena_t *a)
{
    Cx__MilestoneState *m = s_alloc(a, sizeof *m);
    cx__milestone_state__init(m);
    m->name = PICK(r, s_names);
    if ((m->has_reached_at = s_chance(r, 60))) m->reached_at = s_time(r);
    if ((m->has_progress = s_chance(r, 60))) m->progress = s_double(r);
    s_maybe_unknown(r, &m->base);
    return m;
}

static Cx__GoalState *s_random_goal(rng_t *r, cx_arena_t *a)
{
    Cx__GoalState *g = s_alloc(a, sizeof *g);
    cx__goal_state__init(g);
    g->goal_id = PICK(r, s_names);
    g->category = PICK(r, s_scopes);
    g->title = PICK(r, s_names);
    if ((g->has_deadline = s_chance(r, 50))) g->deadline = s_time(r);
    if ((g->has_target = s_chance(r, 50))) g->target = s_double(r);
    if ((g->has_progress = s_chance(r, 70))) g->progress = s_double(r);
    g->status = PICK(r, s_statuses);
    size_t n = s_chance(r, 50) ? 0 : 1 + s_below(r, 3);
    g->milestones = s_alloc(a, n * sizeof *g->milestones);
    for (size_t i = 0; i < n; i++)
        g->milestones[g->n_milestones++] = s_random_milestone(r, a);
    if ((g->has_created_at = s_chance(r, 60))) g->created_at = s_time(r);
    if ((g->has_updated_at = s_chance(r, 60))) g->updated_at = s_time(r);
    s_maybe_unknown(r, &g->base);
    return g;
}

static Cx__Attribute *s_random_attribute(rng_t *r, cx_arena_t *a)
{
    Cx__Attribute *attr = s_alloc(a, sizeof *attr);
    cx__attribute__init(attr);
    attr->key = PICK(r, s_attr_keys);
    attr->value = PICK(r, s_values);
    s_maybe_unknown(r, &attr->base);
    return attr;
}

static Cx__ConsentState *s_random_consent(rng_t *r, cx_arena_t *a)
{
    Cx__ConsentState *c = s_alloc(a, sizeof *c);
    cx__consent_state__init(c);
    c->scope = PICK(r, s_scopes);
    if ((c->has_granted_at = s_chance(r, 70))) c->granted_at = s_time(r);
    if ((c->has_expires_at = s_chance(r, 60))) c->expires_at = s_time(r);
    s_maybe_unknown(r, &c->base);
    return c;
}

static Cx__OfferState *s_random_offer(rng_t *r, cx_arena_t *a)
{
    Cx__OfferState *o = s_alloc(a, sizeof *o);
    cx__offer_state__init(o);
    o->offer_id = PICK(r, s_names);
    o->partner = PICK(r, s_offer_partners);
    o->goal_id = PICK(r, s_names);
    o->title = PICK(r, s_names);
    o->status = PICK(r, s_statuses);
    if ((o->has_made_at = s_chance(r, 60))) o->made_at = s_time(r);
    if ((o->has_updated_at = s_chance(r, 60))) o->updated_at = s_time(r);
    if ((o->has_expires_at = s_chance(r, 40))) o->expires_at = s_time(r);
    s_maybe_unknown(r, &o->base);
    return o;
}

/* A context with each field present or not at random, lists of 0..5. */
static Cx__CustomerContext *s_random_context(rng_t *r, cx_arena_t *a)
{
    Cx__CustomerContext *ctx = s_alloc(a, sizeof *ctx);
    cx__customer_context__init(ctx);
    ctx->customer_id = PICK(r, s_customers);
    size_t n = s_below(r, 5);
    ctx->goals = s_alloc(a, n * sizeof *ctx->goals);
    for (size_t i = 0; i < n; i++)
        ctx->goals[ctx->n_goals++] = s_random_goal(r, a);
    n = s_below(r, 6);
    ctx->attributes = s_alloc(a, n * sizeof *ctx->attributes);
    for (size_t i = 0; i < n; i++)
        ctx->attributes[ctx->n_attributes++] = s_random_attribute(r, a);
    n = s_below(r, 5);
    ctx->consents = s_alloc(a, n * sizeof *ctx->consents);
    for (size_t i = 0; i < n; i++)
        ctx->consents[ctx->n_consents++] = s_random_consent(r, a);
    n = s_below(r, 5);
    ctx->offers = s_alloc(a, n * sizeof *ctx->offers);
    for (size_t i = 0; i < n; i++)
        ctx->offers[ctx->n_offers++] = s_random_offer(r, a);
    if ((ctx->has_version = s_chance(r, 80))) ctx->version = s_uint(r);
    if ((ctx->has_updated_at = s_chance(r, 80))) ctx->updated_at = s_time(r);
    if ((ctx->has_activity_count = s_chance(r, 50))) ctx->activity_count = s_uint(r);
    ctx->last_activity = s_chance(r, 50) ? PICK(r, s_names) : NULL;
    if ((ctx->has_last_activity_at = s_chance(r, 50))) ctx->last_activity_at = s_time(r);
    s_maybe_unknown(r, &ctx->base);
    return ctx;
}

/* ---- the two sides ---- */

typedef struct {
    uint8_t *data;
    size_t len;
} bytes_t;

static bytes_t s_pack(const Cx__CustomerContext *ctx)
{
    bytes_t b = {NULL, cx__customer_context__get_packed_size(ctx)};
    b.data = malloc(b.len ? b.len : 1);
    assert_non_null(b.data);
    assert_int_equal(cx__customer_context__pack(ctx, b.data), b.len);
    return b;
}

/* pack(cx_router_filter_context(partner, u)). */
static bytes_t s_router_view(const cx_partner_cfg_t *partner, const Cx__CustomerContext *u)
{
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    Cx__CustomerContext view = CX__CUSTOMER_CONTEXT__INIT;
    assert_int_equal(cx_router_filter_context(partner, u, &view, a), 0);
    bytes_t b = s_pack(&view);
    cx_arena_destroy(&a);
    return b;
}

/* cx_view_filter into a buffer of exactly len bytes from malloc. */
static int s_view(const cx_partner_cfg_t *partner, const uint8_t *data, size_t len, bytes_t *out)
{
    out->data = malloc(len ? len : 1);
    assert_non_null(out->data);
    out->len = 0xdeadbeef; /* must be overwritten, also on failure */
    return cx_view_filter(partner, data, len, out->data, &out->len);
}

static bool s_same(const bytes_t *a, const bytes_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void s_hex(const uint8_t *p, size_t len, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < len && o + 4 < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%02x", p[i]);
    if (len * 2 + 1 > size) snprintf(buf + size - 4, 4, "...");
}

/* "WHY: partner P, context #I (N bytes): HEX" into msg, for a fail_msg once the
 * test has freed what it holds (so a failing test reports no leaks). */
static void s_describe(char *msg, size_t size, const char *why, const char *partner, size_t index,
                       const uint8_t *in, size_t len)
{
    char hex[512];
    s_hex(in, len, hex, sizeof hex);
    snprintf(msg, size, "%s: partner %s, context #%zu (%zu bytes): %s", why, partner, index, len,
             hex);
}

/* The heart of it: do view and router agree on these bytes, which protobuf-c
 * unpacks (u)? Byte for byte when canonical (the input was packed by
 * protobuf-c), else after an unpack/pack round trip of the view; has_consent at
 * a microsecond before, at and after NOW. NULL if they agree, else what differs. */
static const char *s_disagreement(const cx_partner_cfg_t *partner, const uint8_t *in, size_t len,
                                  const Cx__CustomerContext *u, bool canonical)
{
    const char *why = NULL;
    bytes_t want = s_router_view(partner, u), got;
    int rc = s_view(partner, in, len, &got);
    if (rc != 0)
        why = cx_err_name(rc);
    else if (got.len > len)
        why = "view longer than its context";
    if (!why && !canonical) {
        Cx__CustomerContext *v = cx__customer_context__unpack(NULL, got.len, got.data);
        if (v) {
            bytes_t again = s_pack(v);
            cx__customer_context__free_unpacked(v, NULL);
            free(got.data);
            got = again;
        } else {
            why = "view does not unpack";
        }
    }
    if (!why && !s_same(&got, &want)) why = "view differs from router";
    free(got.data);
    free(want.data);

    static const int64_t clocks[] = {NOW - 1, NOW, NOW + 1};
    for (size_t i = 0; !why && i < sizeof clocks / sizeof clocks[0]; i++) {
        bool view_says = !cx_router_has_consent(partner, u, clocks[i]);
        rc = cx_view_has_consent(partner, in, len, clocks[i], &view_says);
        if (rc != 0)
            why = cx_err_name(rc);
        else if (view_says != cx_router_has_consent(partner, u, clocks[i]))
            why = "has_consent differs from router";
    }
    return why;
}

/* ---- per partner: random contexts, byte for byte ---- */

static void test_view_equals_router(void **state)
{
    const partner_row_t *row = *state;
    cx_partner_cfg_t partner = s_partner(row);
    rng_t r = {SEED_DIFF};
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    char msg[640];
    const char *why = NULL;
    for (size_t i = 0; !why && i < N_RANDOM_CONTEXTS; i++) {
        bytes_t in = s_pack(s_random_context(&r, a));
        Cx__CustomerContext *u = cx__customer_context__unpack(NULL, in.len, in.data);
        assert_non_null(u);
        why = s_disagreement(&partner, in.data, in.len, u, true);
        if (why) s_describe(msg, sizeof msg, why, row->name, i, in.data, in.len);
        cx__customer_context__free_unpacked(u, NULL);
        free(in.data);
        cx_arena_reset(a);
    }
    cx_arena_destroy(&a);
    if (why) fail_msg("%s", msg);
}

/* Every prefix of a packed context: the view fails exactly when protobuf-c's
 * unpack does, with CX_E_BAD_PROTOBUF and *out_len 0, and agrees with the router
 * when both succeed (a cut on a field boundary). */
static void test_prefix_fails_iff_unpack_fails(void **state)
{
    const partner_row_t *row = *state;
    cx_partner_cfg_t partner = s_partner(row);
    rng_t r = {SEED_PREFIX};
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    char msg[640];
    const char *why = NULL;
    for (size_t i = 0; !why && i < N_PREFIX_CONTEXTS; i++) {
        bytes_t in = s_pack(s_random_context(&r, a));
        for (size_t cut = 0; !why && cut <= in.len; cut++) {
            uint8_t *p = malloc(cut ? cut : 1); /* exactly the prefix: reads past it are caught */
            assert_non_null(p);
            memcpy(p, in.data, cut);
            Cx__CustomerContext *u = cx__customer_context__unpack(NULL, cut, p);
            if (u) {
                why = s_disagreement(&partner, p, cut, u, true);
                cx__customer_context__free_unpacked(u, NULL);
            } else {
                bytes_t got;
                bool consent = true;
                int rc = s_view(&partner, p, cut, &got);
                free(got.data);
                if (rc != CX_E_BAD_PROTOBUF || got.len != 0)
                    why = "view of a prefix protobuf-c refuses";
                else if (cx_view_has_consent(&partner, p, cut, NOW, &consent) != CX_E_BAD_PROTOBUF)
                    why = "has_consent on a prefix protobuf-c refuses";
            }
            if (why) s_describe(msg, sizeof msg, why, row->name, i, p, cut);
            free(p);
        }
        free(in.data);
        cx_arena_reset(a);
    }
    cx_arena_destroy(&a);
    if (why) fail_msg("%s", msg);
}

/* A partner never gets a field it may not see: these partners' views unpack to
 * the context's customer_id, version and updated_at and nothing else. */
static void test_view_holds_identity_only(void **state)
{
    const partner_row_t *row = *state;
    cx_partner_cfg_t partner = s_partner(row);
    rng_t r = {SEED_IDENTITY};
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    for (size_t i = 0; i < N_RANDOM_CONTEXTS; i++) {
        const Cx__CustomerContext *ctx = s_random_context(&r, a);
        bytes_t in = s_pack(ctx), got;
        assert_int_equal(s_view(&partner, in.data, in.len, &got), 0);
        Cx__CustomerContext *v = cx__customer_context__unpack(NULL, got.len, got.data);
        assert_non_null(v);
        if (ctx->customer_id)
            assert_string_equal(v->customer_id, ctx->customer_id);
        else
            assert_null(v->customer_id);
        assert_int_equal(v->has_version, ctx->has_version);
        assert_int_equal(v->version, ctx->has_version ? ctx->version : 0);
        assert_int_equal(v->has_updated_at, ctx->has_updated_at);
        assert_int_equal(v->updated_at, ctx->has_updated_at ? ctx->updated_at : 0);
        assert_int_equal(v->n_goals, 0);
        assert_int_equal(v->n_attributes, 0);
        assert_int_equal(v->n_consents, 0);
        assert_int_equal(v->n_offers, 0);
        assert_false(v->has_activity_count);
        assert_null(v->last_activity);
        assert_false(v->has_last_activity_at);
        assert_int_equal(v->base.n_unknown_fields, 0);
        cx__customer_context__free_unpacked(v, NULL);
        free(got.data);
        free(in.data);
        cx_arena_reset(a);
    }
    cx_arena_destroy(&a);
}

/* ---- unknown fields, one level at a time ---- */

enum { AT_CONTEXT, AT_GOAL, AT_MILESTONE, AT_ATTRIBUTE, AT_CONSENT, AT_OFFER };

typedef struct {
    const char *name;
    int at;
} unknown_row_t;

static const unknown_row_t s_unknown_rows[] = {
    {"unknown_fields_of_context_dropped", AT_CONTEXT},
    {"unknown_fields_of_goal_dropped", AT_GOAL},
    {"unknown_fields_of_milestone_dropped", AT_MILESTONE},
    {"unknown_fields_of_attribute_dropped", AT_ATTRIBUTE},
    {"unknown_fields_of_consent_dropped", AT_CONSENT},
    {"unknown_fields_of_offer_dropped", AT_OFFER},
};
#define N_UNKNOWN_ROWS (sizeof s_unknown_rows / sizeof s_unknown_rows[0])

/* One element of each kind (their other fields random, no unknown fields), each
 * one that acme, seeing everything, keeps. */
static Cx__CustomerContext *s_full_context(cx_arena_t *a)
{
    rng_t r = {42};
    Cx__CustomerContext *ctx = s_random_context(&r, a);
    ctx->base.n_unknown_fields = 0;
    ctx->customer_id = "c-1";
    ctx->has_version = ctx->has_updated_at = ctx->has_activity_count = 1;
    ctx->has_last_activity_at = 1;
    ctx->last_activity = "viewed-hotels";
    Cx__GoalState *g = s_random_goal(&r, a);
    g->base.n_unknown_fields = 0;
    g->milestones = s_alloc(a, sizeof *g->milestones);
    g->milestones[0] = s_random_milestone(&r, a);
    g->milestones[0]->base.n_unknown_fields = 0;
    g->milestones[0]->name = "flights-booked";
    g->n_milestones = 1;
    Cx__Attribute *attr = s_random_attribute(&r, a);
    attr->base.n_unknown_fields = 0;
    attr->key = "home_city";
    attr->value = "Lisbon";
    Cx__ConsentState *c = s_random_consent(&r, a);
    c->base.n_unknown_fields = 0;
    c->scope = "acme";
    c->has_expires_at = 0;
    Cx__OfferState *o = s_random_offer(&r, a);
    o->base.n_unknown_fields = 0;
    o->partner = "acme";
    ctx->goals = s_alloc(a, sizeof *ctx->goals);
    ctx->goals[0] = g;
    ctx->attributes = s_alloc(a, sizeof *ctx->attributes);
    ctx->attributes[0] = attr;
    ctx->consents = s_alloc(a, sizeof *ctx->consents);
    ctx->consents[0] = c;
    ctx->offers = s_alloc(a, sizeof *ctx->offers);
    ctx->offers[0] = o;
    ctx->n_goals = ctx->n_attributes = ctx->n_consents = ctx->n_offers = 1;
    return ctx;
}

static void test_unknown_fields_dropped(void **state)
{
    const unknown_row_t *row = *state;
    cx_arena_t *a = cx_arena_new(0);
    assert_non_null(a);
    Cx__CustomerContext *ctx = s_full_context(a);
    ProtobufCMessage *carriers[] = {&ctx->base,
                                    &ctx->goals[0]->base,
                                    &ctx->goals[0]->milestones[0]->base,
                                    &ctx->attributes[0]->base,
                                    &ctx->consents[0]->base,
                                    &ctx->offers[0]->base};
    s_set_unknown(carriers[row->at], 0, N_UNKNOWN);
    bytes_t in = s_pack(ctx);
    s_set_unknown(carriers[row->at], 0, 0);
    /* protobuf-c did emit them */
    assert_non_null(memmem(in.data, in.len, "secret", 6));
    Cx__CustomerContext *u = cx__customer_context__unpack(NULL, in.len, in.data);
    assert_non_null(u);

    for (size_t i = 0; i < N_PARTNER_ROWS; i++) {
        cx_partner_cfg_t partner = s_partner(&s_partner_rows[i]);
        const char *why = s_disagreement(&partner, in.data, in.len, u, true);
        if (why) fail_msg("%s: partner %s", why, s_partner_rows[i].name);
        bytes_t got;
        assert_int_equal(s_view(&partner, in.data, in.len, &got), 0);
        assert_null(memmem(got.data, got.len, "secret", 6));
        Cx__CustomerContext *v = cx__customer_context__unpack(NULL, got.len, got.data);
        assert_non_null(v);
        assert_int_equal(v->base.n_unknown_fields, 0);
        for (size_t k = 0; k < v->n_goals; k++) {
            assert_int_equal(v->goals[k]->base.n_unknown_fields, 0);
            for (size_t m = 0; m < v->goals[k]->n_milestones; m++)
                assert_int_equal(v->goals[k]->milestones[m]->base.n_unknown_fields, 0);
        }
        for (size_t k = 0; k < v->n_attributes; k++)
            assert_int_equal(v->attributes[k]->base.n_unknown_fields, 0);
        for (size_t k = 0; k < v->n_consents; k++)
            assert_int_equal(v->consents[k]->base.n_unknown_fields, 0);
        for (size_t k = 0; k < v->n_offers; k++)
            assert_int_equal(v->offers[k]->base.n_unknown_fields, 0);
        cx__customer_context__free_unpacked(v, NULL);
        free(got.data);
    }
    /* the everything partner still sees the element that carried them */
    cx_partner_cfg_t all = s_acme;
    bytes_t got;
    assert_int_equal(s_view(&all, in.data, in.len, &got), 0);
    Cx__CustomerContext *v = cx__customer_context__unpack(NULL, got.len, got.data);
    assert_non_null(v);
    assert_int_equal(v->n_goals, 1);
    assert_int_equal(v->goals[0]->n_milestones, 1);
    assert_int_equal(v->n_attributes, 1);
    assert_int_equal(v->n_consents, 1);
    assert_int_equal(v->n_offers, 1);
    cx__customer_context__free_unpacked(v, NULL);
    free(got.data);
    cx__customer_context__free_unpacked(u, NULL);
    free(in.data);
    cx_arena_destroy(&a);
}

/* ---- consent edges, for acme (category travel) at NOW ---- */

typedef struct {
    const char *scope; /* NULL: no scope */
    int has_expiry;
    int64_t expires_at;
} consent_row_t;

typedef struct {
    const char *name;
    consent_row_t consents[3]; /* ends at the first all-zero row */
    int expect;
} consent_case_t;

static const consent_case_t s_consent_cases[] = {
    {"consent_by_id_without_expiry_grants", {{"acme", 0, 0}}, 1},
    {"consent_by_category_grants", {{"travel", 1, NOW + DAY}}, 1},
    {"consent_expiring_exactly_now_does_not_grant", {{"acme", 1, NOW}}, 0},
    {"consent_expiring_one_us_after_now_grants", {{"acme", 1, NOW + 1}}, 1},
    {"consent_expired_does_not_grant", {{"travel", 1, NOW - DAY}}, 0},
    {"consent_expiring_at_int64_min_does_not_grant", {{"acme", 1, INT64_MIN}}, 0},
    {"consent_for_other_partner_does_not_grant", {{"bank", 0, 0}, {"money", 0, 0}}, 0},
    {"consent_scope_prefix_of_id_does_not_grant", {{"acm", 0, 0}}, 0},
    {"consent_scope_longer_than_id_does_not_grant", {{"acme-x", 0, 0}}, 0},
    {"consent_empty_scope_does_not_grant", {{"", 0, 0}}, 0},
    {"consent_without_scope_does_not_grant", {{NULL, 1, NOW + DAY}}, 0},
    {"expired_id_consent_and_live_category_consent_grants",
     {{"acme", 1, NOW - 1}, {"travel", 1, NOW + 1}},
     1},
    {"live_consent_after_expired_ones_grants",
     {{"acme", 1, NOW}, {"travel", 1, NOW}, {"acme", 0, 0}},
     1},
    {"no_consents_does_not_grant", {{NULL, 0, 0}}, 0},
};
#define N_CONSENT_CASES (sizeof s_consent_cases / sizeof s_consent_cases[0])

static void test_consent_case(void **state)
{
    const consent_case_t *row = *state;
    Cx__ConsentState cs[3];
    Cx__ConsentState *list[3];
    Cx__CustomerContext ctx = CX__CUSTOMER_CONTEXT__INIT;
    ctx.customer_id = "c-1";
    ctx.consents = list;
    for (size_t i = 0; i < 3 && (row->consents[i].scope || row->consents[i].has_expiry); i++) {
        cx__consent_state__init(&cs[i]);
        cs[i].scope = (char *)row->consents[i].scope;
        cs[i].has_expires_at = row->consents[i].has_expiry;
        cs[i].expires_at = row->consents[i].expires_at;
        list[ctx.n_consents++] = &cs[i];
    }
    bytes_t in = s_pack(&ctx);
    Cx__CustomerContext *u = cx__customer_context__unpack(NULL, in.len, in.data);
    assert_non_null(u);
    assert_int_equal(cx_router_has_consent(&s_acme, u, NOW), row->expect);
    bool got = !row->expect;
    assert_int_equal(cx_view_has_consent(&s_acme, in.data, in.len, NOW, &got), 0);
    assert_int_equal(got, row->expect);
    cx__customer_context__free_unpacked(u, NULL);
    free(in.data);
}

/* ---- encodings protobuf-c reads but does not write ---- */

typedef struct {
    const char *name;
    uint8_t bytes[48];
    size_t len;
} wire_case_t;

/* Tags: customer_id 0x0a, goals 0x12, attributes 0x1a, consents 0x22, offers 0x2a,
 * version 0x30, updated_at 0x39, activity_count 0x40, last_activity 0x4a. */
static const wire_case_t s_wire_cases[] = {
    {"wire_fields_out_of_order_filtered_like_router",
     {0x30, 0x07, 0x1a, 0x06, 0x0a, 0x04, 't',  'i',  'e', 'r', 0x0a, 0x01, 'c',
      0x12, 0x02, 0x0a, 0x00, 0x1a, 0x07, 0x0a, 0x05, 'e', 'm', 'a',  'i',  'l'},
     26},
    {"wire_repeated_scalar_last_one_wins",
     {0x0a, 0x01, 'a', 0x30, 0x01, 0x0a, 0x01, 'b', 0x30, 0x02},
     10},
    {"wire_attribute_key_repeated_last_one_decides",
     {0x1a, 0x0b, 0x0a, 0x03, 'x', 'y', 'z', 0x0a, 0x04, 't', 'i', 'e', 'r'},
     13},
    {"wire_attribute_key_with_nul_compares_up_to_nul",
     {0x1a, 0x08, 0x0a, 0x06, 't', 'i', 'e', 'r', 0x00, 'x'},
     10},
    {"wire_offer_partner_with_nul_compares_up_to_nul",
     {0x2a, 0x08, 0x12, 0x06, 'a', 'c', 'm', 'e', 0x00, 'x'},
     10},
    {"wire_consent_scope_with_nul_compares_up_to_nul",
     {0x22, 0x08, 0x0a, 0x06, 'a', 'c', 'm', 'e', 0x00, 'x'},
     10},
    {"wire_consent_scope_repeated_last_one_decides",
     {0x22, 0x0c, 0x0a, 0x04, 'a', 'c', 'm', 'e', 0x0a, 0x04, 'b', 'a', 'n', 'k'},
     14},
    {"wire_nonminimal_length_prefix", {0x12, 0x82, 0x00, 0x0a, 0x00}, 5},
    {"wire_empty_submessages", {0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00}, 8},
    {"wire_unknown_fields_of_each_wire_type_in_goal",
     {0x12, 0x13, 0xf8, 0x01, 0x01, 0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0xfd, 0x01, 1, 2, 3, 4},
     21},
    /* Field number 0 in a two-byte tag: protobuf-c reads it as an unknown field. */
    {"wire_field_number_zero_in_long_tag", {0x0a, 0x01, 'c', 0x80, 0x00, 0x00}, 6},
    {"wire_field_number_zero_in_long_tag_inside_goal", {0x12, 0x03, 0x80, 0x00, 0x00}, 5},
    /* Field number 2^29 (five-byte tag): protobuf-c reads it, and packs it from
     * an unknown field with that tag. */
    {"wire_field_number_above_2_29_minus_1",
     {0x0a, 0x01, 'c', 0x80, 0x80, 0x80, 0x80, 0x10, 0x00},
     9},
    /* A ten-byte varint whose last byte holds bits past 64: protobuf-c drops them. */
    {"wire_varint_with_bits_past_64",
     {0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
     11},
};
#define N_WIRE_CASES (sizeof s_wire_cases / sizeof s_wire_cases[0])

/* Bytes protobuf-c unpacks: the view must succeed for every partner and agree
 * with the router after a round trip. */
static void test_wire_case(void **state)
{
    const wire_case_t *row = *state;
    uint8_t *in = malloc(row->len);
    assert_non_null(in);
    memcpy(in, row->bytes, row->len);
    Cx__CustomerContext *u = cx__customer_context__unpack(NULL, row->len, in);
    assert_non_null(u); /* the row is meant to be one protobuf-c reads */
    char msg[640];
    const char *why = NULL;
    for (size_t i = 0; !why && i < N_PARTNER_ROWS; i++) {
        cx_partner_cfg_t partner = s_partner(&s_partner_rows[i]);
        why = s_disagreement(&partner, in, row->len, u, false);
        if (why) s_describe(msg, sizeof msg, why, s_partner_rows[i].name, 0, in, row->len);
    }
    cx__customer_context__free_unpacked(u, NULL);
    free(in);
    if (why) fail_msg("%s", msg);
}

/* ---- arguments and the empty context ---- */

static const uint8_t s_one_field[] = {0x0a, 0x01, 'c'};

static void test_filter_null_partner_is_inval(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 1;
    assert_int_equal(cx_view_filter(NULL, s_one_field, 3, out, &n), CX_E_INVAL);
}

static void test_filter_null_data_with_length_is_inval(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 1;
    assert_int_equal(cx_view_filter(&s_acme, NULL, 3, out, &n), CX_E_INVAL);
}

static void test_filter_null_out_is_inval(void **state)
{
    (void)state;
    size_t n = 1;
    assert_int_equal(cx_view_filter(&s_acme, s_one_field, 3, NULL, &n), CX_E_INVAL);
}

static void test_filter_null_out_len_is_inval(void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal(cx_view_filter(&s_acme, s_one_field, 3, out, NULL), CX_E_INVAL);
}

static void test_has_consent_null_partner_is_inval(void **state)
{
    (void)state;
    bool c;
    assert_int_equal(cx_view_has_consent(NULL, s_one_field, 3, NOW, &c), CX_E_INVAL);
}

static void test_has_consent_null_out_is_inval(void **state)
{
    (void)state;
    assert_int_equal(cx_view_has_consent(&s_acme, s_one_field, 3, NOW, NULL), CX_E_INVAL);
}

static void test_has_consent_null_data_with_length_is_inval(void **state)
{
    (void)state;
    bool c;
    assert_int_equal(cx_view_has_consent(&s_acme, NULL, 3, NOW, &c), CX_E_INVAL);
}

static void test_empty_context_gives_empty_view(void **state)
{
    (void)state;
    uint8_t out[1] = {0xaa}, none[1] = {0};
    size_t n = 99;
    assert_int_equal(cx_view_filter(&s_acme, none, 0, out, &n), 0);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(cx_view_filter(&s_acme, NULL, 0, out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(out[0], 0xaa);
    /* and the router's view of it packs to nothing as well */
    Cx__CustomerContext *u = cx__customer_context__unpack(NULL, 0, none);
    assert_non_null(u);
    bytes_t want = s_router_view(&s_acme, u);
    assert_int_equal(want.len, 0);
    free(want.data);
    cx__customer_context__free_unpacked(u, NULL);
}

static void test_empty_context_has_no_consent(void **state)
{
    (void)state;
    uint8_t none[1] = {0};
    bool c = true;
    assert_int_equal(cx_view_has_consent(&s_acme, none, 0, NOW, &c), 0);
    assert_false(c);
    c = true;
    assert_int_equal(cx_view_has_consent(&s_acme, NULL, 0, NOW, &c), 0);
    assert_false(c);
}

/* ---- registration: one cmocka test per claim and table row ---- */

#define N_PER_PARTNER 3
#define N_TESTS                                                                                    \
    (N_PARTNER_ROWS * N_PER_PARTNER + N_UNKNOWN_ROWS + N_CONSENT_CASES + N_WIRE_CASES + 16)

int main(void)
{
    static struct CMUnitTest tests[N_TESTS];
    static char names[N_PARTNER_ROWS * N_PER_PARTNER][96];
    size_t n = 0, k = 0;
    for (size_t i = 0; i < N_PARTNER_ROWS; i++) {
        const partner_row_t *row = &s_partner_rows[i];
        snprintf(names[k], sizeof names[k], "view_equals_router_%s", row->name);
        tests[n++] = (struct CMUnitTest){
            .name = names[k++], .test_func = test_view_equals_router, .initial_state = (void *)row};
        snprintf(names[k], sizeof names[k], "prefix_fails_iff_unpack_fails_%s", row->name);
        tests[n++] = (struct CMUnitTest){.name = names[k++],
                                         .test_func = test_prefix_fails_iff_unpack_fails,
                                         .initial_state = (void *)row};
        if (!row->identity_only) continue;
        snprintf(names[k], sizeof names[k], "view_holds_identity_only_%s", row->name);
        tests[n++] = (struct CMUnitTest){.name = names[k++],
                                         .test_func = test_view_holds_identity_only,
                                         .initial_state = (void *)row};
    }
    for (size_t i = 0; i < N_UNKNOWN_ROWS; i++)
        tests[n++] = (struct CMUnitTest){.name = s_unknown_rows[i].name,
                                         .test_func = test_unknown_fields_dropped,
                                         .initial_state = (void *)&s_unknown_rows[i]};
    for (size_t i = 0; i < N_CONSENT_CASES; i++)
        tests[n++] = (struct CMUnitTest){.name = s_consent_cases[i].name,
                                         .test_func = test_consent_case,
                                         .initial_state = (void *)&s_consent_cases[i]};
    for (size_t i = 0; i < N_WIRE_CASES; i++)
        tests[n++] = (struct CMUnitTest){.name = s_wire_cases[i].name,
                                         .test_func = test_wire_case,
                                         .initial_state = (void *)&s_wire_cases[i]};
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_filter_null_partner_is_inval),
        cmocka_unit_test(test_filter_null_data_with_length_is_inval),
        cmocka_unit_test(test_filter_null_out_is_inval),
        cmocka_unit_test(test_filter_null_out_len_is_inval),
        cmocka_unit_test(test_has_consent_null_partner_is_inval),
        cmocka_unit_test(test_has_consent_null_out_is_inval),
        cmocka_unit_test(test_has_consent_null_data_with_length_is_inval),
        cmocka_unit_test(test_empty_context_gives_empty_view),
        cmocka_unit_test(test_empty_context_has_no_consent),
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        tests[n++] = others[i];
    return _cmocka_run_group_tests("view", tests, n, NULL, NULL);
}
