/* test_pbcopy - deep copies pack to the same bytes and share nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "context.pb-c.h"
#include "cx_arena.h"
#include "pbcopy.h"
#include "wire.pb-c.h"

typedef struct {
    uint8_t *data;
    size_t len;
} bytes_t;

static bytes_t s_pack(const ProtobufCMessage *m)
{
    bytes_t b;
    b.len = protobuf_c_message_get_packed_size(m);
    b.data = malloc(b.len ? b.len : 1);
    protobuf_c_message_pack(m, b.data);
    return b;
}

static void s_assert_same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    bytes_t x = s_pack(a), y = s_pack(b);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    free(x.data);
    free(y.data);
}

/* A context with every kind of field, unpacked with malloc (caller frees). */
static Cx__CustomerContext *s_rich_context(void)
{
    Cx__MilestoneState m1 = CX__MILESTONE_STATE__INIT, m2 = CX__MILESTONE_STATE__INIT;
    m1.name = "flights-booked";
    m1.has_reached_at = 1;
    m1.reached_at = 1700000000000000;
    m2.name = "hotel-booked";
    m2.has_progress = 1;
    m2.progress = 2.5;
    Cx__MilestoneState *ms[] = {&m1, &m2};
    Cx__GoalState g1 = CX__GOAL_STATE__INIT, g2 = CX__GOAL_STATE__INIT;
    g1.goal_id = "g1";
    g1.category = "travel";
    g1.title = "Lisbon";
    g1.has_target = g1.has_progress = 1;
    g1.target = 3;
    g1.progress = 2;
    g1.milestones = ms;
    g1.n_milestones = 2;
    g2.goal_id = "g2";
    g2.status = "completed";
    Cx__GoalState *gs[] = {&g1, &g2};
    Cx__Attribute a1 = CX__ATTRIBUTE__INIT, a2 = CX__ATTRIBUTE__INIT;
    a1.key = "home_city";
    a1.value = "Porto";
    a2.key = "empty";
    a2.value = "";
    Cx__Attribute *as[] = {&a1, &a2};
    Cx__ConsentState c1 = CX__CONSENT_STATE__INIT;
    c1.scope = "travel";
    c1.has_expires_at = 1;
    c1.expires_at = 1800000000000000;
    Cx__ConsentState *cs[] = {&c1};
    Cx__OfferState o1 = CX__OFFER_STATE__INIT;
    o1.offer_id = "o1";
    o1.partner = "acme";
    Cx__OfferState *os[] = {&o1};
    Cx__CustomerContext ctx = CX__CUSTOMER_CONTEXT__INIT;
    ctx.customer_id = "c-1";
    ctx.goals = gs;
    ctx.n_goals = 2;
    ctx.attributes = as;
    ctx.n_attributes = 2;
    ctx.consents = cs;
    ctx.n_consents = 1;
    ctx.offers = os;
    ctx.n_offers = 1;
    ctx.has_version = ctx.has_activity_count = 1;
    ctx.version = 42;
    ctx.activity_count = 7;
    ctx.last_activity = "browsed";
    bytes_t b = s_pack(&ctx.base);
    /* An unknown field (number 99, varint 5) rides along. */
    uint8_t *with = malloc(b.len + 3);
    memcpy(with, b.data, b.len);
    with[b.len] = 0x98;
    with[b.len + 1] = 0x06;
    with[b.len + 2] = 0x05;
    Cx__CustomerContext *out = cx__customer_context__unpack(NULL, b.len + 3, with);
    free(b.data);
    free(with);
    return out;
}

static void test_pbcopy_into_block_packs_the_same_and_fills_it_exactly(void **state)
{
    (void)state;
    Cx__CustomerContext *src = s_rich_context();
    assert_non_null(src);
    assert_int_equal(src->base.n_unknown_fields, 1);
    size_t n = cx_pb_copy_size(&src->base);
    /* A guard after the block: the copy must not write past its size. */
    uint8_t *block = malloc(n + 64);
    memset(block + n, 0xAB, 64);
    ProtobufCMessage *copy = cx_pb_copy_into(&src->base, block);
    assert_ptr_equal(copy, block);
    for (int i = 0; i < 64; i++) assert_int_equal(block[n + i], 0xAB);
    s_assert_same(&src->base, copy);
    free(block);
    cx__customer_context__free_unpacked(src, NULL);
}

static void test_pbcopy_shares_nothing_with_the_source(void **state)
{
    (void)state;
    Cx__CustomerContext *src = s_rich_context();
    uint8_t *block = malloc(cx_pb_copy_size(&src->base));
    Cx__CustomerContext *copy = (Cx__CustomerContext *)cx_pb_copy_into(&src->base, block);
    bytes_t before = s_pack(&copy->base);
    /* Scribble over the source, then free it: the copy must not notice. */
    src->goals[0]->title[0] = 'X';
    src->goals[0]->milestones[1]->name[0] = 'X';
    src->attributes[0]->value[0] = 'X';
    src->base.unknown_fields[0].data[0] = 0x7f;
    assert_ptr_not_equal(copy->goals, src->goals);
    assert_ptr_not_equal(copy->goals[0], src->goals[0]);
    cx__customer_context__free_unpacked(src, NULL);
    bytes_t after = s_pack(&copy->base);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.data, after.data, before.len);
    assert_string_equal(copy->goals[0]->title, "Lisbon");
    free(before.data);
    free(after.data);
    free(block);
}

static void test_pbcopy_with_arena_allocator(void **state)
{
    (void)state;
    Cx__CustomerContext *src = s_rich_context();
    cx_arena_t *a = cx_arena_new(256); /* small chunks: many of them */
    ProtobufCMessage *copy = cx_pb_copy(&src->base, cx_arena_allocator(a));
    assert_non_null(copy);
    s_assert_same(&src->base, copy);
    cx_arena_destroy(&a);
    cx__customer_context__free_unpacked(src, NULL);
}

static void test_pbcopy_oneof_and_bytes(void **state)
{
    (void)state;
    Cx__CustomerContext ctx = CX__CUSTOMER_CONTEXT__INIT;
    ctx.customer_id = "c-9";
    uint8_t ev[] = {0x0a, 0x02, 'e', '1'};
    Cx__Delivery dv = CX__DELIVERY__INIT;
    dv.has_seq = dv.has_event = 1;
    dv.seq = 5;
    dv.route = "r";
    dv.event.data = ev;
    dv.event.len = sizeof ev;
    dv.context = &ctx;
    Cx__BrokerMsg m = CX__BROKER_MSG__INIT;
    m.msg_case = CX__BROKER_MSG__MSG_DELIVERY;
    m.delivery = &dv;
    uint8_t *block = malloc(cx_pb_copy_size(&m.base));
    Cx__BrokerMsg *copy = (Cx__BrokerMsg *)cx_pb_copy_into(&m.base, block);
    s_assert_same(&m.base, &copy->base);
    assert_ptr_not_equal(copy->delivery->event.data, ev);
    assert_ptr_not_equal(copy->delivery->context, &ctx);
    free(block);
}

static void test_pbcopy_empty_message(void **state)
{
    (void)state;
    Cx__CustomerContext ctx = CX__CUSTOMER_CONTEXT__INIT;
    assert_int_equal(cx_pb_copy_size(&ctx.base), (sizeof ctx + 7) & ~(size_t)7);
    uint8_t *block = malloc(cx_pb_copy_size(&ctx.base));
    s_assert_same(&ctx.base, cx_pb_copy_into(&ctx.base, block));
    free(block);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbcopy_into_block_packs_the_same_and_fills_it_exactly),
        cmocka_unit_test(test_pbcopy_shares_nothing_with_the_source),
        cmocka_unit_test(test_pbcopy_with_arena_allocator),
        cmocka_unit_test(test_pbcopy_oneof_and_bytes),
        cmocka_unit_test(test_pbcopy_empty_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
