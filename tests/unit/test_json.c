/* test_json.c - the JSON <-> protobuf mapping (adapters/libcx/cx_json.c) and
 * the RFC 3339 time helpers it relies on (cx_time_parse/cx_time_format).
 *
 * The round-trip tests all take the same road a publisher's JSON takes:
 * JSON -> message -> wire bytes -> message -> JSON, which must give back the
 * JSON we started from. Error tests check the exact text, since that text is
 * what a publisher sees in a Nack or cxpub prints.
 */
/* cmocka needs these four first, in this order. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.pb-c.h"
#include "cx_arena.h"
#include "cx_error.h"
#include "cx_event.h"
#include "cx_json.h"
#include "event.pb-c.h"
#include "wire.pb-c.h"

#define JUNE_1_2027_US INT64_C(1811808000000000) /* 2027-06-01T00:00:00Z */

/* ---- helpers ---- */

static json_t *s_load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) fail_msg("bad test JSON: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
    return j;
}

static void s_assert_json_equal(const json_t *want, const json_t *got)
{
    if (json_equal(want, got)) return;
    char *a = json_dumps(want, JSON_SORT_KEYS), *b = json_dumps(got, JSON_SORT_KEYS);
    fail_msg("JSON differs\n want: %s\n  got: %s", a ? a : "(null)", b ? b : "(null)");
}

/* JSON text -> message (malloc), or fails the test with the mapping's error. */
static ProtobufCMessage *s_parse(const char *text, const ProtobufCMessageDescriptor *desc)
{
    json_t *j = s_load(text);
    ProtobufCMessage *msg = NULL;
    char err[256];
    int rc = cx_json_to_message(j, desc, NULL, &msg, err, sizeof err);
    json_decref(j);
    if (rc != 0) fail_msg("cx_json_to_message: %s (%s)", err, cx_err_name(rc));
    assert_string_equal(err, "");
    return msg;
}

/* The message packed and unpacked again: what a peer receives. */
static ProtobufCMessage *s_over_the_wire(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(msg, buf), len);
    ProtobufCMessage *back = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
    free(buf);
    assert_non_null(back);
    return back;
}

/* JSON -> message -> pack -> unpack -> JSON must equal the original. Returns
 * the unpacked message for further checks (caller frees). */
static ProtobufCMessage *s_roundtrip(const char *text, const ProtobufCMessageDescriptor *desc)
{
    json_t *want = s_load(text);
    ProtobufCMessage *msg = s_parse(text, desc);
    ProtobufCMessage *back = s_over_the_wire(msg);
    protobuf_c_message_free_unpacked(msg, NULL);
    json_t *got = cx_json_from_message(back);
    assert_non_null(got);
    s_assert_json_equal(want, got);
    json_decref(want);
    json_decref(got);
    return back;
}

/* An event's round trip, and its payload is the one its type calls for. */
static void s_roundtrip_event(const char *text, Cx__Event__PayloadCase payload)
{
    Cx__Event *ev = (Cx__Event *)s_roundtrip(text, &cx__event__descriptor);
    assert_int_equal(ev->payload_case, payload);
    assert_int_equal(cx_event_type_payload(cx_event_type_parse(ev->type)), payload);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* Must fail with CX_E_JSON and exactly this error text, leaving *out NULL. */
static void s_expect_error_json(const json_t *j, const ProtobufCMessageDescriptor *desc,
                                const char *want_err)
{
    ProtobufCMessage *msg = (ProtobufCMessage *)&msg; /* not NULL: must be cleared */
    char err[256];
    int rc = cx_json_to_message(j, desc, NULL, &msg, err, sizeof err);
    if (rc == 0) protobuf_c_message_free_unpacked(msg, NULL);
    assert_int_equal(rc, CX_E_JSON);
    assert_null(msg);
    assert_string_equal(err, want_err);
}

static void s_expect_error(const char *text, const ProtobufCMessageDescriptor *desc,
                           const char *want_err)
{
    json_t *j = s_load(text);
    s_expect_error_json(j, desc, want_err);
    json_decref(j);
}

/* The JSON for msg, dumped with sorted keys (caller frees). */
static char *s_dump(const ProtobufCMessage *msg)
{
    json_t *j = cx_json_from_message(msg);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static void s_assert_dump(const ProtobufCMessage *msg, const char *want)
{
    char *got = s_dump(msg);
    assert_string_equal(got, want);
    free(got);
}

/* ---- every event type round-trips ---- */

static void test_json_roundtrip_goal_set(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-1\", \"customer_id\": \"c-42\", \"source\": \"trips\","
                      " \"type\": \"goal.set\", \"occurred_at\": \"2027-01-15T10:00:00Z\","
                      " \"goal\": {\"goal_id\": \"g-1\", \"category\": \"travel\","
                      " \"title\": \"Japan in spring\", \"deadline\": \"2027-06-01T00:00:00Z\","
                      " \"target\": 3.0}}",
                      CX__EVENT__PAYLOAD_GOAL);
}

static void test_json_roundtrip_goal_updated(void **state)
{
    (void)state;
    s_roundtrip_event(
        "{\"event_id\": \"e-2\", \"customer_id\": \"c-42\", \"source\": \"trips\","
        " \"type\": \"goal.updated\", \"occurred_at\": \"2027-02-01T08:30:00.250000Z\","
        " \"accepted_at\": \"2027-02-01T08:30:01Z\","
        " \"goal\": {\"goal_id\": \"g-1\", \"title\": \"Japan, two weeks\","
        " \"deadline\": \"2027-07-01T00:00:00Z\", \"target\": 4.0,"
        " \"progress\": 1.5}}",
        CX__EVENT__PAYLOAD_GOAL);
}

static void test_json_roundtrip_goal_completed(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-3\", \"customer_id\": \"c-42\", \"source\": \"trips\","
                      " \"type\": \"goal.completed\", \"occurred_at\": \"2027-05-30T18:00:00Z\","
                      " \"goal\": {\"goal_id\": \"g-1\"}}",
                      CX__EVENT__PAYLOAD_GOAL);
}

static void test_json_roundtrip_goal_abandoned(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-4\", \"customer_id\": \"c-42\", \"source\": \"home\","
                      " \"type\": \"goal.abandoned\", \"occurred_at\": \"2027-03-01T00:00:00Z\","
                      " \"goal\": {\"goal_id\": \"g-2\"}}",
                      CX__EVENT__PAYLOAD_GOAL);
}

static void test_json_roundtrip_milestone_reached(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-5\", \"customer_id\": \"c-42\", \"source\": \"trips\","
                      " \"type\": \"milestone.reached\", \"occurred_at\": \"2027-02-10T12:00:00Z\","
                      " \"milestone\": {\"goal_id\": \"g-1\", \"name\": \"flights-booked\","
                      " \"progress\": 1.0}}",
                      CX__EVENT__PAYLOAD_MILESTONE);
}

static void test_json_roundtrip_activity(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-6\", \"customer_id\": \"c-42\", \"source\": \"web\","
                      " \"type\": \"activity\", \"occurred_at\": \"2027-02-11T21:15:07.000001Z\","
                      " \"activity\": {\"name\": \"viewed-hotels\", \"category\": \"travel\"}}",
                      CX__EVENT__PAYLOAD_ACTIVITY);
}

static void test_json_roundtrip_profile_updated(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-7\", \"customer_id\": \"c-42\", \"source\": \"crm\","
                      " \"type\": \"profile.updated\", \"occurred_at\": \"2027-02-12T09:00:00Z\","
                      " \"profile\": {\"set\": [{\"key\": \"city\", \"value\": \"Lyon\"},"
                      " {\"key\": \"tier\", \"value\": \"gold\"}],"
                      " \"unset\": [\"phone\", \"fax\"]}}",
                      CX__EVENT__PAYLOAD_PROFILE);
}

static void test_json_roundtrip_consent_granted(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-8\", \"customer_id\": \"c-42\", \"source\": \"app\","
                      " \"type\": \"consent.granted\", \"occurred_at\": \"2027-02-13T09:00:00Z\","
                      " \"consent\": {\"scope\": \"air-partner\","
                      " \"expires_at\": \"2028-02-13T00:00:00Z\"}}",
                      CX__EVENT__PAYLOAD_CONSENT);
}

static void test_json_roundtrip_consent_revoked(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-9\", \"customer_id\": \"c-42\", \"source\": \"app\","
                      " \"type\": \"consent.revoked\", \"occurred_at\": \"2027-03-13T09:00:00Z\","
                      " \"consent\": {\"scope\": \"air-partner\"}}",
                      CX__EVENT__PAYLOAD_CONSENT);
}

static void test_json_roundtrip_offer_made(void **state)
{
    (void)state;
    s_roundtrip_event(
        "{\"event_id\": \"e-10\", \"customer_id\": \"c-42\", \"source\": \"air\","
        " \"type\": \"offer.made\", \"occurred_at\": \"2027-02-14T09:00:00Z\","
        " \"offer\": {\"offer_id\": \"o-1\", \"partner\": \"air\", \"goal_id\": \"g-1\","
        " \"title\": \"10% off Tokyo flights\","
        " \"expires_at\": \"2027-03-01T00:00:00Z\"}}",
        CX__EVENT__PAYLOAD_OFFER);
}

static void test_json_roundtrip_offer_accepted(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-11\", \"customer_id\": \"c-42\", \"source\": \"app\","
                      " \"type\": \"offer.accepted\", \"occurred_at\": \"2027-02-15T09:00:00Z\","
                      " \"offer\": {\"offer_id\": \"o-1\"}}",
                      CX__EVENT__PAYLOAD_OFFER);
}

static void test_json_roundtrip_customer_erase(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-12\", \"customer_id\": \"c-42\", \"source\": \"privacy\","
                      " \"type\": \"customer.erase\", \"occurred_at\": \"2027-04-01T00:00:00Z\","
                      " \"erase\": {\"reason\": \"customer request (GDPR art. 17)\"}}",
                      CX__EVENT__PAYLOAD_ERASE);
}

static void test_json_roundtrip_customer_erase_empty_payload(void **state)
{
    (void)state;
    s_roundtrip_event("{\"event_id\": \"e-13\", \"customer_id\": \"c-42\","
                      " \"type\": \"customer.erase\", \"erase\": {}}",
                      CX__EVENT__PAYLOAD_ERASE);
}

static void test_json_roundtrip_unicode_strings(void **state)
{
    (void)state;
    s_roundtrip_event(
        "{\"type\": \"activity\", \"activity\": {\"name\": \"caf\\u00e9 \\u6771\\u4eac"
        " \\ud83d\\ude80\", \"category\": \"quote \\\" backslash \\\\ tab \\t\"}}",
        CX__EVENT__PAYLOAD_ACTIVITY);
}

/* ---- the other messages ---- */

static const char s_context_json[] =
    "{\"customer_id\": \"c-42\","
    " \"goals\": ["
    "  {\"goal_id\": \"g-1\", \"category\": \"travel\", \"title\": \"Japan\","
    "   \"deadline\": \"2027-06-01T00:00:00Z\", \"target\": 3.0, \"progress\": 2.0,"
    "   \"status\": \"active\","
    "   \"milestones\": [{\"name\": \"flights-booked\", \"reached_at\": \"2027-02-10T12:00:00Z\","
    "     \"progress\": 1.0},"
    "    {\"name\": \"hotel-booked\", \"reached_at\": \"2027-02-11T12:00:00.500000Z\", "
    "\"progress\": 1.0}],"
    "   \"created_at\": \"2027-01-15T10:00:00Z\", \"updated_at\": \"2027-02-11T12:00:00.500000Z\"},"
    "  {\"goal_id\": \"g-2\", \"category\": \"home\", \"title\": \"New kitchen\","
    "   \"status\": \"abandoned\", \"created_at\": \"2027-01-20T10:00:00Z\","
    "   \"updated_at\": \"2027-03-01T00:00:00Z\"}],"
    " \"attributes\": [{\"key\": \"city\", \"value\": \"Lyon\"}, {\"key\": \"tier\", \"value\": "
    "\"gold\"}],"
    " \"consents\": [{\"scope\": \"air-partner\", \"granted_at\": \"2027-02-13T09:00:00Z\","
    "   \"expires_at\": \"2028-02-13T00:00:00Z\"},"
    "  {\"scope\": \"travel\", \"granted_at\": \"2027-02-13T09:00:00Z\"}],"
    " \"offers\": [{\"offer_id\": \"o-1\", \"partner\": \"air\", \"goal_id\": \"g-1\","
    "   \"title\": \"10% off\", \"status\": \"accepted\", \"made_at\": \"2027-02-14T09:00:00Z\","
    "   \"updated_at\": \"2027-02-15T09:00:00Z\", \"expires_at\": \"2027-03-01T00:00:00Z\"}],"
    " \"version\": 17, \"updated_at\": \"2027-03-01T00:00:00Z\", \"activity_count\": 9,"
    " \"last_activity\": \"viewed-hotels\", \"last_activity_at\": \"2027-02-11T21:15:07Z\"}";

static void test_json_roundtrip_customer_context(void **state)
{
    (void)state;
    Cx__CustomerContext *ctx =
        (Cx__CustomerContext *)s_roundtrip(s_context_json, &cx__customer_context__descriptor);
    assert_int_equal(ctx->n_goals, 2);
    assert_int_equal(ctx->goals[0]->n_milestones, 2);
    assert_int_equal(ctx->goals[0]->milestones[1]->reached_at,
                     ctx->goals[0]->milestones[0]->reached_at + 86400 * INT64_C(1000000) + 500000);
    assert_int_equal(ctx->goals[1]->n_milestones, 0);
    assert_false(ctx->goals[1]->has_deadline);
    assert_int_equal(ctx->n_attributes, 2);
    assert_int_equal(ctx->n_consents, 2);
    assert_false(ctx->consents[1]->has_expires_at);
    assert_int_equal(ctx->n_offers, 1);
    assert_int_equal(ctx->version, 17);
    protobuf_c_message_free_unpacked(&ctx->base, NULL);
}

/* An encoded cx.Event {event_id: "e1", customer_id: "c1"} and its base64. */
static const uint8_t s_event_bytes[] = {0x0a, 0x02, 0x65, 0x31, 0x12, 0x02, 0x63, 0x31};
#define EVENT_B64 "CgJlMRICYzE="

static void test_json_roundtrip_delivery_with_bytes(void **state)
{
    (void)state;
    Cx__Delivery *d = (Cx__Delivery *)s_roundtrip(
        "{\"seq\": 42, \"partner\": \"air\", \"route\": \"travel-goals\","
        " \"event\": \"" EVENT_B64 "\","
        " \"context\": {\"customer_id\": \"c1\", \"goals\": [{\"goal_id\": \"g-1\","
        " \"deadline\": \"2027-06-01T00:00:00Z\"}], \"version\": 3}}",
        &cx__delivery__descriptor);
    assert_true(d->has_event);
    assert_int_equal(d->event.len, sizeof s_event_bytes);
    assert_memory_equal(d->event.data, s_event_bytes, sizeof s_event_bytes);
    Cx__Event *ev = cx__event__unpack(NULL, d->event.len, d->event.data);
    assert_non_null(ev);
    assert_string_equal(ev->event_id, "e1");
    assert_string_equal(ev->customer_id, "c1");
    cx__event__free_unpacked(ev, NULL);
    protobuf_c_message_free_unpacked(&d->base, NULL);
}

static void test_json_roundtrip_broker_msg_oneof(void **state)
{
    (void)state;
    ProtobufCMessage *m = s_roundtrip("{\"delivery\": {\"seq\": 7, \"event\": \"" EVENT_B64 "\"}}",
                                      &cx__broker_msg__descriptor);
    assert_int_equal(((Cx__BrokerMsg *)m)->msg_case, CX__BROKER_MSG__MSG_DELIVERY);
    protobuf_c_message_free_unpacked(m, NULL);
    m = s_roundtrip("{\"error\": {\"seq\": 7, \"code\": -21, \"reason\": \"invalid JSON\"}}",
                    &cx__broker_msg__descriptor);
    assert_int_equal(((Cx__BrokerMsg *)m)->msg_case, CX__BROKER_MSG__MSG_ERROR);
    assert_int_equal(((Cx__BrokerMsg *)m)->error->code, CX_E_JSON);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_roundtrip_stats(void **state)
{
    (void)state;
    ProtobufCMessage *m = s_roundtrip(
        "{\"events_accepted\": 1000000, \"events_rejected\": 12,"
        " \"rejected_by_reason\": [{\"reason\": \"CX_E_BAD_TIME\", \"count\": 10},"
        " {\"reason\": \"CX_E_UNKNOWN_GOAL\", \"count\": 2}],"
        " \"duplicates\": 3, \"batches\": 4000, \"log_events\": 999990, \"log_last_seq\": 1000000,"
        " \"customers_cached\": 5000, \"checkpoints\": 9, \"checkpoint_seq\": 900000,"
        " \"deliveries\": 123456, \"deliveries_skipped\": 4, \"frames_dropped\": 0,"
        " \"uptime_s\": 86400, \"log_pruned\": 77}",
        &cx__stats__descriptor);
    assert_true(((Cx__Stats *)m)->has_frames_dropped); /* a zero that was given stays */
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_roundtrip_admin_reply(void **state)
{
    (void)state;
    ProtobufCMessage *m = s_roundtrip(
        "{\"code\": -17, \"error\": \"no such customer\","
        " \"context\": {\"customer_id\": \"c-42\", \"version\": 1},"
        " \"stats\": {\"events_accepted\": 5, \"rejected_by_reason\": [{\"reason\": \"x\","
        " \"count\": 1}]},"
        " \"partners\": [{\"partner_id\": \"air\", \"connected\": true, \"cursor\": 10, \"head\": "
        "12,"
        " \"backlog\": 2, \"in_flight\": 2, \"delivered\": 10},"
        " {\"partner_id\": \"hotels\", \"connected\": false, \"cursor\": 0}],"
        " \"text\": \"multi\\nline\"}",
        &cx__admin_reply__descriptor);
    Cx__AdminReply *r = (Cx__AdminReply *)m;
    assert_int_equal(r->code, CX_E_UNKNOWN_CUSTOMER);
    assert_true(r->partners[1]->has_connected);
    assert_false(r->partners[1]->connected);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_roundtrip_partner_msg(void **state)
{
    (void)state;
    ProtobufCMessage *m = s_roundtrip(
        "{\"hello\": {\"partner_id\": \"air\", \"from_seq\": 0, \"credit\": 4294967295}}",
        &cx__partner_msg__descriptor);
    assert_int_equal(((Cx__PartnerMsg *)m)->hello->credit, UINT32_MAX);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- output: what is left out ---- */

static void test_json_absent_fields_omitted(void **state)
{
    (void)state;
    Cx__Event ev = CX__EVENT__INIT;
    ev.occurred_at = 5; /* has_occurred_at is false: absent whatever the value */
    s_assert_dump(&ev.base, "{}");
    Cx__Goal goal = CX__GOAL__INIT;
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &goal;
    ev.event_id = "e";
    s_assert_dump(&ev.base, "{\"event_id\":\"e\",\"goal\":{}}");
}

static void test_json_empty_repeated_omitted(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        s_parse("{\"profile\": {\"set\": [], \"unset\": []}}", &cx__event__descriptor);
    Cx__Event *ev = (Cx__Event *)m;
    assert_int_equal(ev->profile->n_set, 0);
    assert_null(ev->profile->set);
    s_assert_dump(m, "{\"profile\":{}}");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_null_is_absent(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        s_parse("{\"event_id\": null, \"occurred_at\": null, \"goal\": null, \"milestone\": {}}",
                &cx__event__descriptor);
    Cx__Event *ev = (Cx__Event *)m;
    assert_null(ev->event_id);
    assert_false(ev->has_occurred_at);
    assert_int_equal(ev->payload_case, CX__EVENT__PAYLOAD_MILESTONE);
    s_assert_dump(m, "{\"milestone\":{}}");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_empty_string_and_zero_are_present(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        s_roundtrip("{\"event_id\": \"\", \"occurred_at\": \"1970-01-01T00:00:00Z\","
                    " \"goal\": {\"target\": 0.0}}",
                    &cx__event__descriptor);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- numbers ---- */

static void test_json_integral_real_accepted_for_integer(void **state)
{
    (void)state;
    ProtobufCMessage *m = s_parse("{\"batches\": 3.0, \"uptime_s\": 1e3}", &cx__stats__descriptor);
    assert_int_equal(((Cx__Stats *)m)->batches, 3);
    assert_int_equal(((Cx__Stats *)m)->uptime_s, 1000);
    s_assert_dump(m, "{\"batches\":3,\"uptime_s\":1000}");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_integer_accepted_for_double(void **state)
{
    (void)state;
    ProtobufCMessage *m = s_parse("{\"goal\": {\"target\": 3}}", &cx__event__descriptor);
    assert_true(((Cx__Event *)m)->goal->has_target);
    assert_true(((Cx__Event *)m)->goal->target == 3.0);
    s_assert_dump(m, "{\"goal\":{\"target\":3.0}}");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_int32_limits_accepted(void **state)
{
    (void)state;
    ProtobufCMessage *m = s_roundtrip("{\"code\": -2147483648}", &cx__admin_reply__descriptor);
    assert_int_equal(((Cx__AdminReply *)m)->code, INT32_MIN);
    protobuf_c_message_free_unpacked(m, NULL);
    m = s_roundtrip("{\"code\": 2147483647}", &cx__admin_reply__descriptor);
    assert_int_equal(((Cx__AdminReply *)m)->code, INT32_MAX);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_uint64_above_int64_max_is_a_string(void **state)
{
    (void)state;
    Cx__Stats st = CX__STATS__INIT;
    st.has_batches = 1;
    st.batches = UINT64_MAX;
    st.has_duplicates = 1;
    st.duplicates = INT64_MAX;
    s_assert_dump(&st.base,
                  "{\"batches\":\"18446744073709551615\",\"duplicates\":9223372036854775807}");
    ProtobufCMessage *m = s_roundtrip("{\"batches\": \"18446744073709551615\","
                                      " \"duplicates\": 9223372036854775807}",
                                      &cx__stats__descriptor);
    assert_true(((Cx__Stats *)m)->batches == UINT64_MAX);
    protobuf_c_message_free_unpacked(m, NULL);
    /* A decimal string below 2^63 is accepted too, and written back as a number. */
    m = s_parse("{\"batches\": \"12\"}", &cx__stats__descriptor);
    s_assert_dump(m, "{\"batches\":12}");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_double_nan_and_infinity_are_strings(void **state)
{
    (void)state;
    Cx__Goal g = CX__GOAL__INIT;
    g.has_target = g.has_progress = 1;
    g.target = NAN;
    g.progress = -INFINITY;
    s_assert_dump(&g.base, "{\"progress\":\"-Infinity\",\"target\":\"NaN\"}");
    ProtobufCMessage *m =
        s_roundtrip("{\"target\": \"Infinity\", \"progress\": \"NaN\"}", &cx__goal__descriptor);
    assert_true(isinf(((Cx__Goal *)m)->target));
    assert_true(isnan(((Cx__Goal *)m)->progress));
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- times ---- */

static void test_json_time_integer_micros_accepted(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        s_parse("{\"occurred_at\": 1811808000000000, \"accepted_at\": 1811808000000001}",
                &cx__event__descriptor);
    assert_int_equal(((Cx__Event *)m)->occurred_at, JUNE_1_2027_US);
    s_assert_dump(m, "{\"accepted_at\":\"2027-06-01T00:00:00.000001Z\","
                     "\"occurred_at\":\"2027-06-01T00:00:00Z\"}");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_time_offset_written_as_utc(void **state)
{
    (void)state;
    ProtobufCMessage *m =
        s_parse("{\"occurred_at\": \"2027-06-01T09:30:00.250+02:00\"}", &cx__event__descriptor);
    s_assert_dump(m, "{\"occurred_at\":\"2027-06-01T07:30:00.250000Z\"}");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_time_outside_rfc3339_range_is_an_integer(void **state)
{
    (void)state;
    /* Before 1970 and after 9999 cx_time_parse cannot read them back as text. */
    ProtobufCMessage *m = s_roundtrip("{\"occurred_at\": -1, \"accepted_at\": 253402300800000000}",
                                      &cx__event__descriptor);
    assert_int_equal(((Cx__Event *)m)->occurred_at, -1);
    protobuf_c_message_free_unpacked(m, NULL);
    /* A time with an offset can land before the epoch. */
    m = s_parse("{\"occurred_at\": \"1970-01-01T00:00:00+01:00\"}", &cx__event__descriptor);
    s_assert_dump(m, "{\"occurred_at\":-3600000000}");
    protobuf_c_message_free_unpacked(m, NULL);
    m = s_roundtrip("{\"occurred_at\": \"9999-12-31T23:59:59.999999Z\"}", &cx__event__descriptor);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- bytes ---- */

static void s_expect_bytes(const char *b64, const char *want, const char *canonical)
{
    char text[128];
    snprintf(text, sizeof text, "{\"event\": \"%s\"}", b64);
    ProtobufCMessage *m = s_parse(text, &cx__delivery__descriptor);
    Cx__Delivery *d = (Cx__Delivery *)m;
    assert_true(d->has_event);
    assert_int_equal(d->event.len, strlen(want));
    if (d->event.len) assert_memory_equal(d->event.data, want, d->event.len);
    snprintf(text, sizeof text, "{\"event\":\"%s\"}", canonical);
    s_assert_dump(m, text);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_bytes_base64_rfc4648_vectors(void **state)
{
    (void)state;
    s_expect_bytes("", "", "");
    s_expect_bytes("Zg==", "f", "Zg==");
    s_expect_bytes("Zm8=", "fo", "Zm8=");
    s_expect_bytes("Zm9v", "foo", "Zm9v");
    s_expect_bytes("Zm9vYg==", "foob", "Zm9vYg==");
    s_expect_bytes("Zm9vYmE=", "fooba", "Zm9vYmE=");
    s_expect_bytes("Zm9vYmFy", "foobar", "Zm9vYmFy");
}

static void test_json_bytes_unpadded_base64_accepted(void **state)
{
    (void)state;
    s_expect_bytes("Zg", "f", "Zg==");
    s_expect_bytes("Zm8", "fo", "Zm8=");
}

static void test_json_bytes_every_byte_value_roundtrips(void **state)
{
    (void)state;
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    Cx__Delivery d = CX__DELIVERY__INIT;
    d.has_event = 1;
    d.event.len = sizeof all;
    d.event.data = all;
    json_t *j = cx_json_from_message(&d.base);
    assert_non_null(j);
    const char *b64 = json_string_value(json_object_get(j, "event"));
    assert_non_null(b64);
    assert_int_equal(strlen(b64), 344);
    assert_non_null(strstr(b64, "+/"));
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(cx_json_to_message(j, &cx__delivery__descriptor, NULL, &m, err, sizeof err),
                     0);
    Cx__Delivery *back = (Cx__Delivery *)m;
    assert_int_equal(back->event.len, sizeof all);
    assert_memory_equal(back->event.data, all, sizeof all);
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(j);
}

/* ---- strings from the wire ---- */

static void test_json_invalid_utf8_from_wire_replaced(void **state)
{
    (void)state;
    Cx__Event ev = CX__EVENT__INIT;
    char id[] = "a\xff"
                "b\xc3";
    ev.event_id = id;
    s_assert_dump(&ev.base, "{\"event_id\":\"a\xef\xbf\xbd"
                            "b\xef\xbf\xbd\"}");
}

/* ---- allocators ---- */

static void test_json_arena_allocator_builds_the_same_message(void **state)
{
    (void)state;
    cx_arena_t *arena = cx_arena_new(0);
    assert_non_null(arena);
    json_t *j = s_load(s_context_json);
    ProtobufCMessage *in_arena = NULL, *in_heap = NULL;
    char err[128];
    assert_int_equal(cx_json_to_message(j, &cx__customer_context__descriptor,
                                        cx_arena_allocator(arena), &in_arena, err, sizeof err),
                     0);
    assert_true(cx_arena_used(arena) > sizeof(Cx__CustomerContext));
    assert_int_equal(
        cx_json_to_message(j, &cx__customer_context__descriptor, NULL, &in_heap, err, sizeof err),
        0);
    size_t len = protobuf_c_message_get_packed_size(in_heap);
    assert_int_equal(protobuf_c_message_get_packed_size(in_arena), len);
    uint8_t *a = malloc(len), *b = malloc(len);
    protobuf_c_message_pack(in_arena, a);
    protobuf_c_message_pack(in_heap, b);
    assert_memory_equal(a, b, len);
    free(a);
    free(b);
    protobuf_c_message_free_unpacked(in_heap, NULL);
    json_decref(j);
    cx_arena_reset(arena);
    cx_arena_destroy(&arena);
    assert_null(arena);
}

static void test_json_arena_allocator_error_returns_code(void **state)
{
    (void)state;
    cx_arena_t *arena = cx_arena_new(1024);
    json_t *j = s_load("{\"goal\": {\"title\": \"t\", \"deadline\": \"later\"}}");
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(cx_json_to_message(j, &cx__event__descriptor, cx_arena_allocator(arena), &m,
                                        err, sizeof err),
                     CX_E_JSON);
    assert_null(m);
    assert_string_equal(err, "goal.deadline: invalid time 'later': expected RFC 3339");
    json_decref(j);
    cx_arena_destroy(&arena);
}

/* ---- errors ---- */

static void test_json_error_unknown_field(void **state)
{
    (void)state;
    s_expect_error("{\"type\": \"activity\", \"colour\": \"red\"}", &cx__event__descriptor,
                   "event: unknown field 'colour'");
}

static void test_json_error_unknown_field_nested(void **state)
{
    (void)state;
    s_expect_error("{\"goal\": {\"goal_id\": \"g\", \"colour\": \"red\"}}", &cx__event__descriptor,
                   "goal: unknown field 'colour'");
}

static void test_json_error_unknown_field_names_top_message_in_snake_case(void **state)
{
    (void)state;
    s_expect_error("{\"colour\": 1}", &cx__customer_context__descriptor,
                   "customer_context: unknown field 'colour'");
}

static void test_json_error_path_through_arrays(void **state)
{
    (void)state;
    s_expect_error(
        "{\"goals\": [{\"goal_id\": \"g-1\"}, {\"milestones\": [{\"reached_at\": \"soon\"}]}]}",
        &cx__customer_context__descriptor,
        "goals[1].milestones[0].reached_at: invalid time 'soon': expected RFC 3339");
    s_expect_error("{\"goals\": [{}, {}, {\"size\": 3}]}", &cx__customer_context__descriptor,
                   "goals[2]: unknown field 'size'");
}

static void test_json_error_top_not_object(void **state)
{
    (void)state;
    s_expect_error("[{\"type\": \"activity\"}]", &cx__event__descriptor,
                   "event: expected a JSON object, got an array");
    json_t *s = json_string("goal.set");
    s_expect_error_json(s, &cx__event__descriptor, "event: expected a JSON object, got a string");
    json_decref(s);
}

static void test_json_error_string_wrong_type(void **state)
{
    (void)state;
    s_expect_error("{\"type\": 42}", &cx__event__descriptor,
                   "type: expected a string, got a number");
    s_expect_error("{\"type\": [\"goal.set\"]}", &cx__event__descriptor,
                   "type: expected a string, got an array");
}

static void test_json_error_message_wrong_type(void **state)
{
    (void)state;
    s_expect_error("{\"goal\": \"g-1\"}", &cx__event__descriptor,
                   "goal: expected an object, got a string");
}

static void test_json_error_repeated_wrong_type(void **state)
{
    (void)state;
    s_expect_error("{\"profile\": {\"unset\": \"phone\"}}", &cx__event__descriptor,
                   "profile.unset: expected an array, got a string");
}

static void test_json_error_repeated_element_wrong_type(void **state)
{
    (void)state;
    s_expect_error("{\"profile\": {\"unset\": [\"phone\", 7]}}", &cx__event__descriptor,
                   "profile.unset[1]: expected a string, got a number");
    s_expect_error("{\"profile\": {\"set\": [null]}}", &cx__event__descriptor,
                   "profile.set[0]: expected an object, got null");
}

static void test_json_error_double_wrong_type(void **state)
{
    (void)state;
    s_expect_error("{\"goal\": {\"target\": \"3\"}}", &cx__event__descriptor,
                   "goal.target: expected a number, got a string");
}

static void test_json_error_bool_wrong_type(void **state)
{
    (void)state;
    s_expect_error("{\"partners\": [{\"connected\": 1}]}", &cx__admin_reply__descriptor,
                   "partners[0].connected: expected true or false, got a number");
}

static void test_json_error_integer_not_integral(void **state)
{
    (void)state;
    s_expect_error("{\"batches\": 1.5}", &cx__stats__descriptor,
                   "batches: expected an integer, got 1.5");
    s_expect_error("{\"batches\": true}", &cx__stats__descriptor,
                   "batches: expected an integer, got a boolean");
}

static void test_json_error_uint32_out_of_range(void **state)
{
    (void)state;
    s_expect_error("{\"hello\": {\"credit\": 4294967296}}", &cx__partner_msg__descriptor,
                   "hello.credit: 4294967296 is out of range for uint32");
}

static void test_json_error_int32_out_of_range(void **state)
{
    (void)state;
    s_expect_error("{\"code\": 2147483648}", &cx__admin_reply__descriptor,
                   "code: 2147483648 is out of range for int32");
    s_expect_error("{\"code\": -2147483649}", &cx__admin_reply__descriptor,
                   "code: -2147483649 is out of range for int32");
}

static void test_json_error_uint64_negative(void **state)
{
    (void)state;
    s_expect_error("{\"batches\": -1}", &cx__stats__descriptor,
                   "batches: -1 is out of range for uint64");
    s_expect_error("{\"batches\": -9223372036854775808}", &cx__stats__descriptor,
                   "batches: -9223372036854775808 is out of range for uint64");
}

static void test_json_error_uint64_too_large(void **state)
{
    (void)state;
    s_expect_error("{\"batches\": \"18446744073709551616\"}", &cx__stats__descriptor,
                   "batches: 18446744073709551616 is out of range for uint64");
    s_expect_error("{\"batches\": 1e20}", &cx__stats__descriptor,
                   "batches: 1e+20 is out of range for uint64");
}

static void test_json_error_uint64_string_not_decimal(void **state)
{
    (void)state;
    s_expect_error("{\"batches\": \"12x\"}", &cx__stats__descriptor,
                   "batches: expected an integer, got '12x'");
    s_expect_error("{\"batches\": \"-1\"}", &cx__stats__descriptor,
                   "batches: expected an integer, got '-1'");
    s_expect_error("{\"batches\": \"\"}", &cx__stats__descriptor,
                   "batches: expected an integer, got ''");
}

static void test_json_error_integer_string_only_for_uint64(void **state)
{
    (void)state;
    s_expect_error("{\"hello\": {\"credit\": \"10\"}}", &cx__partner_msg__descriptor,
                   "hello.credit: expected an integer, got a string");
}

static void test_json_error_two_members_of_one_oneof(void **state)
{
    (void)state;
    s_expect_error("{\"type\": \"goal.set\", \"goal\": {\"goal_id\": \"g\"},"
                   " \"milestone\": {\"goal_id\": \"g\"}}",
                   &cx__event__descriptor,
                   "event: 'goal' and 'milestone' are members of one oneof: give at most one");
    s_expect_error(
        "{\"delivery\": {}, \"welcome\": {}}", &cx__broker_msg__descriptor,
        "broker_msg: 'delivery' and 'welcome' are members of one oneof: give at most one");
}

static void test_json_error_invalid_time(void **state)
{
    (void)state;
    s_expect_error("{\"goal\": {\"goal_id\": \"g\", \"deadline\": \"tomorrow\"}}",
                   &cx__event__descriptor,
                   "goal.deadline: invalid time 'tomorrow': expected RFC 3339");
    s_expect_error("{\"occurred_at\": \"2027-06-01\"}", &cx__event__descriptor,
                   "occurred_at: invalid time '2027-06-01': expected RFC 3339");
}

static void test_json_error_time_wrong_type(void **state)
{
    (void)state;
    s_expect_error("{\"occurred_at\": true}", &cx__event__descriptor,
                   "occurred_at: expected an RFC 3339 time string or integer microseconds, got a "
                   "boolean");
    s_expect_error("{\"occurred_at\": 1.5}", &cx__event__descriptor,
                   "occurred_at: expected an integer, got 1.5");
}

static void test_json_error_invalid_base64(void **state)
{
    (void)state;
    const char *bad[] = {"Zg=", "Z", "Zm9v!", "====", "Zg==Zg==", "Zm9v\\n", "Zg===", "=Zg="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "{\"event\": \"%s\"}", bad[i]);
        s_expect_error(text, &cx__delivery__descriptor, "event: invalid base64");
    }
    s_expect_error("{\"event\": 12}", &cx__delivery__descriptor,
                   "event: expected a base64 string, got a number");
}

static void test_json_error_string_with_nul(void **state)
{
    (void)state;
    json_t *j = json_object();
    json_object_set_new(j, "type", json_stringn("goal\0set", 8));
    s_expect_error_json(j, &cx__event__descriptor, "type: string contains a NUL character");
    json_object_set_new(j, "type", json_string("goal.set"));
    json_object_set_new(j, "occurred_at", json_stringn("2027-06-01T00:00:00Z\0junk", 25));
    s_expect_error_json(j, &cx__event__descriptor,
                        "occurred_at: invalid time '2027-06-01T00:00:00Z': expected RFC 3339");
    json_decref(j);
}

/* Under ASan's leak check: everything built before the failing field is freed. */
static void test_json_error_frees_partial_message(void **state)
{
    (void)state;
    s_expect_error(
        "{\"customer_id\": \"c\", \"attributes\": [{\"key\": \"a\", \"value\": \"b\"}],"
        " \"goals\": [{\"goal_id\": \"g\", \"title\": \"t\", \"milestones\": [{\"name\": \"m\"},"
        " {\"name\": \"n\", \"reached_at\": \"never\"}, {\"name\": \"o\"}]}]}",
        &cx__customer_context__descriptor,
        "goals[0].milestones[1].reached_at: invalid time 'never': expected RFC 3339");
    s_expect_error("{\"event_id\": \"e\", \"goal\": {\"title\": \"t\", \"deadline\": \"x\"}}",
                   &cx__event__descriptor, "goal.deadline: invalid time 'x': expected RFC 3339");
    s_expect_error("{\"event\": \"Zm9v!\"}", &cx__delivery__descriptor, "event: invalid base64");
    s_expect_error("{\"profile\": {\"unset\": [\"a\", \"b\", 3]}}", &cx__event__descriptor,
                   "profile.unset[2]: expected a string, got a number");
}

static void test_json_error_null_arguments(void **state)
{
    (void)state;
    ProtobufCMessage *m = NULL;
    char err[64];
    json_t *j = json_object();
    assert_int_equal(cx_json_to_message(NULL, &cx__event__descriptor, NULL, &m, err, sizeof err),
                     CX_E_INVAL);
    assert_int_equal(cx_json_to_message(j, NULL, NULL, &m, err, sizeof err), CX_E_INVAL);
    assert_int_equal(cx_json_to_message(j, &cx__event__descriptor, NULL, NULL, err, sizeof err),
                     CX_E_INVAL);
    assert_null(cx_json_from_message(NULL));
    json_decref(j);
}

static void test_json_error_text_truncated_to_buffer(void **state)
{
    (void)state;
    json_t *j = s_load("{\"colour\": 1}");
    ProtobufCMessage *m = NULL;
    char err[9];
    memset(err, 'x', sizeof err);
    assert_int_equal(cx_json_to_message(j, &cx__event__descriptor, NULL, &m, err, sizeof err),
                     CX_E_JSON);
    assert_string_equal(err, "event: u");
    /* No buffer at all is fine too. */
    assert_int_equal(cx_json_to_message(j, &cx__event__descriptor, NULL, &m, NULL, 0), CX_E_JSON);
    json_decref(j);
}

/* ---- cx_json_parse_message ---- */

static void test_json_parse_message_reads_text(void **state)
{
    (void)state;
    const char text[] = "{\"type\": \"activity\", \"activity\": {\"name\": \"x\"}} trailing";
    ProtobufCMessage *m = NULL;
    char err[128];
    /* len stops before the trailing word: the text need not be NUL-terminated. */
    assert_int_equal(cx_json_parse_message(text, strlen(text) - strlen(" trailing"),
                                           &cx__event__descriptor, NULL, &m, err, sizeof err),
                     0);
    assert_string_equal(((Cx__Event *)m)->activity->name, "x");
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_json_parse_message_syntax_error(void **state)
{
    (void)state;
    const char text[] = "{\"type\": }";
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(cx_json_parse_message(text, strlen(text), &cx__event__descriptor, NULL, &m,
                                           err, sizeof err),
                     CX_E_JSON);
    assert_null(m);
    assert_true(strncmp(err, "line 1, column 10: ", 19) == 0);
}

static void test_json_parse_message_duplicate_key_refused(void **state)
{
    (void)state;
    const char text[] = "{\"type\": \"goal.set\", \"type\": \"activity\"}";
    ProtobufCMessage *m = NULL;
    char err[128];
    assert_int_equal(cx_json_parse_message(text, strlen(text), &cx__event__descriptor, NULL, &m,
                                           err, sizeof err),
                     CX_E_JSON);
    assert_non_null(strstr(err, "duplicate object key"));
}

/* ---- cx_time_parse / cx_time_format ---- */

static int64_t s_time(const char *s)
{
    int64_t us = 0;
    int rc = cx_time_parse(s, &us);
    if (rc != 0) fail_msg("cx_time_parse(\"%s\") = %s", s, cx_err_name(rc));
    return us;
}

static void test_time_parse_utc(void **state)
{
    (void)state;
    assert_int_equal(s_time("2027-06-01T00:00:00Z"), JUNE_1_2027_US);
    assert_int_equal(s_time("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(s_time("2027-06-01t00:00:00z"), JUNE_1_2027_US);
    assert_int_equal(s_time("2027-06-01 00:00:00Z"), JUNE_1_2027_US);
}

static void test_time_parse_fractions(void **state)
{
    (void)state;
    assert_int_equal(s_time("2027-06-01T00:00:00.5Z"), JUNE_1_2027_US + 500000);
    assert_int_equal(s_time("2027-06-01T00:00:00.250Z"), JUNE_1_2027_US + 250000);
    assert_int_equal(s_time("2027-06-01T00:00:00.000001Z"), JUNE_1_2027_US + 1);
    /* Beyond microseconds the digits are cut, not rounded. */
    assert_int_equal(s_time("2027-06-01T00:00:00.1234569Z"), JUNE_1_2027_US + 123456);
    assert_int_equal(s_time("2027-06-01T00:00:00.999999999Z"), JUNE_1_2027_US + 999999);
}

static void test_time_parse_offsets(void **state)
{
    (void)state;
    assert_int_equal(s_time("2027-06-01T02:00:00+02:00"), JUNE_1_2027_US);
    assert_int_equal(s_time("2027-05-31T20:00:00-04:00"), JUNE_1_2027_US);
    assert_int_equal(s_time("2027-06-01T05:45:00.5+05:45"), JUNE_1_2027_US + 500000);
    assert_int_equal(s_time("2027-06-01T00:00:00+00:00"), JUNE_1_2027_US);
    assert_int_equal(s_time("2027-06-01T00:00:00-00:00"), JUNE_1_2027_US);
}

static void test_time_parse_leap_day(void **state)
{
    (void)state;
    assert_int_equal(s_time("2028-02-29T00:00:00Z") + 86400 * INT64_C(1000000),
                     s_time("2028-03-01T00:00:00Z"));
}

static void test_time_parse_leap_second_folds_into_next_minute(void **state)
{
    (void)state;
    assert_int_equal(s_time("2027-06-30T23:59:60Z"), s_time("2027-07-01T00:00:00Z"));
}

static void test_time_parse_rejects_bad_input(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "tomorrow",
                         "2027-06-01",
                         "2027-06-01T00:00:00",
                         "2027-06-01T00:00Z",
                         "2027-13-01T00:00:00Z",
                         "2027-00-10T00:00:00Z",
                         "2027-06-00T00:00:00Z",
                         "2027-06-31T00:00:00Z",
                         "2027-06-01T24:00:00Z",
                         "2027-06-01T00:60:00Z",
                         "2027-06-01T00:00:61Z",
                         "2027-06-01T00:00:00.Z",
                         "2027-06-01T00:00:00Zjunk",
                         "2027-06-01T00:00:00+0200",
                         "2027-06-01T00:00:00+24:00",
                         "2027-06-01T00:00:00+02:60",
                         "2027-06-01T00:00:00+2:00",
                         "1969-12-31T23:59:59Z",
                         "27-06-01T00:00:00Z",
                         "2027/06/01T00:00:00Z",
                         "2027-06-01X00:00:00Z",
                         " 2027-06-01T00:00:00Z",
                         "2027-06-01T00:00:00 Z",
                         "+2027-06-01T00:00:00Z",
                         "2027-6-1T0:0:0Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 12345;
        if (cx_time_parse(bad[i], &us) != CX_E_BAD_TIME)
            fail_msg("cx_time_parse accepted \"%s\" as %lld", bad[i], (long long)us);
    }
    int64_t us;
    assert_int_equal(cx_time_parse(NULL, &us), CX_E_BAD_TIME);
    assert_int_equal(cx_time_parse("2027-06-01T00:00:00Z", NULL), CX_E_BAD_TIME);
}

static void test_time_parse_rejects_feb_29_in_common_year(void **state)
{
    (void)state;
    int64_t us;
    assert_int_equal(cx_time_parse("2027-02-29T00:00:00Z", &us), CX_E_BAD_TIME);
    assert_int_equal(cx_time_parse("2100-02-29T00:00:00Z", &us), CX_E_BAD_TIME);
    assert_int_equal(cx_time_parse("2028-02-29T00:00:00Z", &us), 0); /* leap year */
    assert_int_equal(cx_time_parse("2000-02-29T00:00:00Z", &us), 0); /* divisible by 400 */
}

static void test_time_format_utc(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(cx_time_format(JUNE_1_2027_US, buf, sizeof buf), 0);
    assert_string_equal(buf, "2027-06-01T00:00:00Z");
    assert_int_equal(cx_time_format(0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
}

static void test_time_format_fractions_have_six_digits(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(cx_time_format(JUNE_1_2027_US + 250000, buf, sizeof buf), 0);
    assert_string_equal(buf, "2027-06-01T00:00:00.250000Z");
    assert_int_equal(cx_time_format(JUNE_1_2027_US + 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "2027-06-01T00:00:00.000001Z");
}

static void test_time_format_before_epoch(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(cx_time_format(-1, buf, sizeof buf), 0);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
}

static void test_time_format_buffer_too_small(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(cx_time_format(JUNE_1_2027_US, buf, 20), CX_E_INVAL);
    assert_int_equal(cx_time_format(JUNE_1_2027_US, buf, 21), 0);
    assert_int_equal(cx_time_format(JUNE_1_2027_US + 1, buf, 27), CX_E_INVAL);
    assert_int_equal(cx_time_format(JUNE_1_2027_US + 1, buf, 28), 0);
}

static void test_time_format_then_parse_is_identity(void **state)
{
    (void)state;
    const int64_t times[] = {0,
                             1,
                             999999,
                             1000000,
                             JUNE_1_2027_US,
                             JUNE_1_2027_US + 123456,
                             951782400000000 /* 2000-02-29 */,
                             INT64_C(253402300799999999)};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char buf[32];
        assert_int_equal(cx_time_format(times[i], buf, sizeof buf), 0);
        assert_int_equal(s_time(buf), times[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_roundtrip_goal_set),
        cmocka_unit_test(test_json_roundtrip_goal_updated),
        cmocka_unit_test(test_json_roundtrip_goal_completed),
        cmocka_unit_test(test_json_roundtrip_goal_abandoned),
        cmocka_unit_test(test_json_roundtrip_milestone_reached),
        cmocka_unit_test(test_json_roundtrip_activity),
        cmocka_unit_test(test_json_roundtrip_profile_updated),
        cmocka_unit_test(test_json_roundtrip_consent_granted),
        cmocka_unit_test(test_json_roundtrip_consent_revoked),
        cmocka_unit_test(test_json_roundtrip_offer_made),
        cmocka_unit_test(test_json_roundtrip_offer_accepted),
        cmocka_unit_test(test_json_roundtrip_customer_erase),
        cmocka_unit_test(test_json_roundtrip_customer_erase_empty_payload),
        cmocka_unit_test(test_json_roundtrip_unicode_strings),
        cmocka_unit_test(test_json_roundtrip_customer_context),
        cmocka_unit_test(test_json_roundtrip_delivery_with_bytes),
        cmocka_unit_test(test_json_roundtrip_broker_msg_oneof),
        cmocka_unit_test(test_json_roundtrip_stats),
        cmocka_unit_test(test_json_roundtrip_admin_reply),
        cmocka_unit_test(test_json_roundtrip_partner_msg),
        cmocka_unit_test(test_json_absent_fields_omitted),
        cmocka_unit_test(test_json_empty_repeated_omitted),
        cmocka_unit_test(test_json_null_is_absent),
        cmocka_unit_test(test_json_empty_string_and_zero_are_present),
        cmocka_unit_test(test_json_integral_real_accepted_for_integer),
        cmocka_unit_test(test_json_integer_accepted_for_double),
        cmocka_unit_test(test_json_int32_limits_accepted),
        cmocka_unit_test(test_json_uint64_above_int64_max_is_a_string),
        cmocka_unit_test(test_json_double_nan_and_infinity_are_strings),
        cmocka_unit_test(test_json_time_integer_micros_accepted),
        cmocka_unit_test(test_json_time_offset_written_as_utc),
        cmocka_unit_test(test_json_time_outside_rfc3339_range_is_an_integer),
        cmocka_unit_test(test_json_bytes_base64_rfc4648_vectors),
        cmocka_unit_test(test_json_bytes_unpadded_base64_accepted),
        cmocka_unit_test(test_json_bytes_every_byte_value_roundtrips),
        cmocka_unit_test(test_json_invalid_utf8_from_wire_replaced),
        cmocka_unit_test(test_json_arena_allocator_builds_the_same_message),
        cmocka_unit_test(test_json_arena_allocator_error_returns_code),
        cmocka_unit_test(test_json_error_unknown_field),
        cmocka_unit_test(test_json_error_unknown_field_nested),
        cmocka_unit_test(test_json_error_unknown_field_names_top_message_in_snake_case),
        cmocka_unit_test(test_json_error_path_through_arrays),
        cmocka_unit_test(test_json_error_top_not_object),
        cmocka_unit_test(test_json_error_string_wrong_type),
        cmocka_unit_test(test_json_error_message_wrong_type),
        cmocka_unit_test(test_json_error_repeated_wrong_type),
        cmocka_unit_test(test_json_error_repeated_element_wrong_type),
        cmocka_unit_test(test_json_error_double_wrong_type),
        cmocka_unit_test(test_json_error_bool_wrong_type),
        cmocka_unit_test(test_json_error_integer_not_integral),
        cmocka_unit_test(test_json_error_uint32_out_of_range),
        cmocka_unit_test(test_json_error_int32_out_of_range),
        cmocka_unit_test(test_json_error_uint64_negative),
        cmocka_unit_test(test_json_error_uint64_too_large),
        cmocka_unit_test(test_json_error_uint64_string_not_decimal),
        cmocka_unit_test(test_json_error_integer_string_only_for_uint64),
        cmocka_unit_test(test_json_error_two_members_of_one_oneof),
        cmocka_unit_test(test_json_error_invalid_time),
        cmocka_unit_test(test_json_error_time_wrong_type),
        cmocka_unit_test(test_json_error_invalid_base64),
        cmocka_unit_test(test_json_error_string_with_nul),
        cmocka_unit_test(test_json_error_frees_partial_message),
        cmocka_unit_test(test_json_error_null_arguments),
        cmocka_unit_test(test_json_error_text_truncated_to_buffer),
        cmocka_unit_test(test_json_parse_message_reads_text),
        cmocka_unit_test(test_json_parse_message_syntax_error),
        cmocka_unit_test(test_json_parse_message_duplicate_key_refused),
        cmocka_unit_test(test_time_parse_utc),
        cmocka_unit_test(test_time_parse_fractions),
        cmocka_unit_test(test_time_parse_offsets),
        cmocka_unit_test(test_time_parse_leap_day),
        cmocka_unit_test(test_time_parse_leap_second_folds_into_next_minute),
        cmocka_unit_test(test_time_parse_rejects_bad_input),
        cmocka_unit_test(test_time_parse_rejects_feb_29_in_common_year),
        cmocka_unit_test(test_time_format_utc),
        cmocka_unit_test(test_time_format_fractions_have_six_digits),
        cmocka_unit_test(test_time_format_before_epoch),
        cmocka_unit_test(test_time_format_buffer_too_small),
        cmocka_unit_test(test_time_format_then_parse_is_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
