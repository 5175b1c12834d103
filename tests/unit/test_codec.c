/* test_codec.c - unit tests of broker/codec.c (decode and validate).
 *
 * Every event goes the way a publisher's does: built as a struct, packed to
 * bytes, decoded into the arena, then validated. Each rejection is checked for
 * its code and for the field its reason names.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "cx_error.h"

#define S_LIMIT 65536

typedef struct {
    cx_arena_t *arena;
    char buf[256];
    const char *reason;
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    if (!fx) return -1;
    fx->arena = cx_arena_new(0);
    *state = fx;
    return fx->arena ? 0 : -1;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    cx_arena_destroy(&fx->arena);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

typedef struct {
    uint8_t *data;
    size_t len;
} bytes_t;

static bytes_t s_pack(const Cx__Event *ev)
{
    bytes_t b;
    b.len = cx__event__get_packed_size(ev);
    b.data = malloc(b.len + 16);
    assert_non_null(b.data);
    assert_int_equal(cx__event__pack(ev, b.data), b.len);
    return b;
}

/* Decodes then validates bytes as the broker does; the reason lands in fx. */
static int s_check_bytes(fx_t *fx, const uint8_t *data, size_t len)
{
    Cx__Event *out = NULL;
    fx->reason = NULL;
    int rc = cx_codec_decode_event(data, len, S_LIMIT, fx->arena, &out, &fx->reason);
    if (rc) {
        assert_null(out);
        assert_non_null(fx->reason);
        return rc;
    }
    assert_non_null(out);
    return cx_codec_validate(out, fx->buf, sizeof(fx->buf), &fx->reason);
}

static int s_check(fx_t *fx, const Cx__Event *ev)
{
    bytes_t b = s_pack(ev);
    int rc = s_check_bytes(fx, b.data, b.len);
    free(b.data);
    return rc;
}

static void s_assert_valid(fx_t *fx, const Cx__Event *ev)
{
    int rc = s_check(fx, ev);
    if (rc) fail_msg("rejected: %s (%s)", fx->reason, cx_err_name(rc));
}

static void s_assert_rejected(fx_t *fx, const Cx__Event *ev, int code, const char *reason)
{
    int rc = s_check(fx, ev);
    if (rc != code)
        fail_msg("%s, expected %s: %s", cx_err_name(rc), cx_err_name(code),
                 fx->reason ? fx->reason : "(no reason)");
    if (!strstr(fx->reason, reason)) fail_msg("reason '%s' lacks '%s'", fx->reason, reason);
}

/* An event with every common field and no payload. */
static Cx__Event s_base(char *type)
{
    Cx__Event ev = CX__EVENT__INIT;
    ev.event_id = "evt-0001";
    ev.customer_id = "cust-42";
    ev.source = "trips";
    ev.type = type;
    ev.has_occurred_at = 1;
    ev.occurred_at = 1780000000000000;
    return ev;
}

static Cx__Goal s_goal(void)
{
    Cx__Goal g = CX__GOAL__INIT;
    g.goal_id = "trip-lisbon";
    g.category = "travel";
    g.title = "Trip to Lisbon";
    g.has_deadline = 1;
    g.deadline = 1790000000000000;
    g.has_target = 1;
    g.target = 3;
    return g;
}

static Cx__Milestone s_milestone(void)
{
    Cx__Milestone m = CX__MILESTONE__INIT;
    m.goal_id = "trip-lisbon";
    m.name = "flights-booked";
    m.has_progress = 1;
    m.progress = 1;
    return m;
}

static char *s_repeat(fx_t *fx, char c, size_t n)
{
    char *s = cx_arena_alloc(fx->arena, n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- every type, valid ---- */

static void s_assert_goal_type_valid(fx_t *fx, char *type)
{
    Cx__Goal g = s_goal();
    Cx__Event ev = s_base(type);
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_valid(fx, &ev);
}

static void test_codec_valid_goal_set_passes(void **state)
{
    s_assert_goal_type_valid(*state, "goal.set");
}

static void test_codec_valid_goal_updated_passes(void **state)
{
    fx_t *fx = *state;
    Cx__Goal g = CX__GOAL__INIT;
    g.goal_id = "trip-lisbon";
    g.has_progress = 1;
    g.progress = 2.5;
    Cx__Event ev = s_base("goal.updated");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_valid(fx, &ev);
}

static void test_codec_valid_goal_completed_passes(void **state)
{
    s_assert_goal_type_valid(*state, "goal.completed");
}

static void test_codec_valid_goal_abandoned_passes(void **state)
{
    s_assert_goal_type_valid(*state, "goal.abandoned");
}

static void test_codec_valid_milestone_reached_passes(void **state)
{
    Cx__Milestone m = s_milestone();
    Cx__Event ev = s_base("milestone.reached");
    ev.payload_case = CX__EVENT__PAYLOAD_MILESTONE;
    ev.milestone = &m;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_activity_passes(void **state)
{
    Cx__Activity a = CX__ACTIVITY__INIT;
    a.name = "viewed-hotels";
    a.category = "travel";
    Cx__Event ev = s_base("activity");
    ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
    ev.activity = &a;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_profile_updated_passes(void **state)
{
    Cx__Attribute a = CX__ATTRIBUTE__INIT, b = CX__ATTRIBUTE__INIT;
    a.key = "home_city";
    a.value = "Lisbon";
    b.key = "nickname";
    b.value = ""; /* an optional string may be empty */
    Cx__Attribute *set[] = {&a, &b};
    char *unset[] = {"old_city"};
    Cx__Profile p = CX__PROFILE__INIT;
    p.n_set = 2;
    p.set = set;
    p.n_unset = 1;
    p.unset = unset;
    Cx__Event ev = s_base("profile.updated");
    ev.payload_case = CX__EVENT__PAYLOAD_PROFILE;
    ev.profile = &p;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_consent_granted_passes(void **state)
{
    Cx__Consent c = CX__CONSENT__INIT;
    c.scope = "acme-insurance";
    c.has_expires_at = 1;
    c.expires_at = 1800000000000000;
    Cx__Event ev = s_base("consent.granted");
    ev.payload_case = CX__EVENT__PAYLOAD_CONSENT;
    ev.consent = &c;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_consent_revoked_passes(void **state)
{
    Cx__Consent c = CX__CONSENT__INIT;
    c.scope = "travel";
    Cx__Event ev = s_base("consent.revoked");
    ev.payload_case = CX__EVENT__PAYLOAD_CONSENT;
    ev.consent = &c;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_offer_made_passes(void **state)
{
    Cx__Offer o = CX__OFFER__INIT;
    o.offer_id = "offer-7";
    o.partner = "acme-insurance";
    o.goal_id = "trip-lisbon";
    o.title = "Travel insurance, 10% off";
    o.has_expires_at = 1;
    o.expires_at = 1785000000000000;
    Cx__Event ev = s_base("offer.made");
    ev.payload_case = CX__EVENT__PAYLOAD_OFFER;
    ev.offer = &o;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_offer_accepted_passes(void **state)
{
    Cx__Offer o = CX__OFFER__INIT;
    o.offer_id = "offer-7";
    Cx__Event ev = s_base("offer.accepted");
    ev.payload_case = CX__EVENT__PAYLOAD_OFFER;
    ev.offer = &o;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_customer_erase_passes(void **state)
{
    Cx__Erase e = CX__ERASE__INIT;
    e.reason = "customer asked, GDPR art. 17";
    Cx__Event ev = s_base("customer.erase");
    ev.payload_case = CX__EVENT__PAYLOAD_ERASE;
    ev.erase = &e;
    s_assert_valid(*state, &ev);
}

static void test_codec_valid_customer_erase_without_payload_passes(void **state)
{
    Cx__Event ev = s_base("customer.erase");
    s_assert_valid(*state, &ev);
}

static void test_codec_utf8_text_is_accepted(void **state)
{
    Cx__Goal g = s_goal();
    g.title = "Z\xc3\xbcrich \xe2\x9c\x88 \xf0\x9f\x8f\x96"; /* Zürich ✈ 🏖 */
    Cx__Event ev = s_base("goal.set");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_valid(*state, &ev);
}

static void test_codec_unknown_fields_are_accepted(void **state)
{
    fx_t *fx = *state;
    Cx__Event ev = s_base("customer.erase");
    bytes_t b = s_pack(&ev);
    b.data[b.len++] = 0x98; /* field 99, varint: a field from a newer schema */
    b.data[b.len++] = 0x06;
    b.data[b.len++] = 0x01;
    int rc = s_check_bytes(fx, b.data, b.len);
    free(b.data);
    assert_int_equal(rc, 0);
}

/* ---- common fields ---- */

static void test_codec_missing_event_id_is_rejected(void **state)
{
    Cx__Event ev = s_base("customer.erase");
    ev.event_id = NULL;
    s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: event_id");
}

static void test_codec_empty_event_id_is_rejected(void **state)
{
    Cx__Event ev = s_base("customer.erase");
    ev.event_id = "";
    s_assert_rejected(*state, &ev, CX_E_BAD_STRING, "bad string in event_id: empty");
}

static void test_codec_missing_customer_id_is_rejected(void **state)
{
    Cx__Event ev = s_base("customer.erase");
    ev.customer_id = NULL;
    s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: customer_id");
}

static void test_codec_missing_type_is_rejected(void **state)
{
    Cx__Event ev = s_base(NULL);
    s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: type");
}

static void test_codec_unknown_type_is_rejected(void **state)
{
    Cx__Goal g = s_goal();
    Cx__Event ev = s_base("goal.exploded");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_rejected(*state, &ev, CX_E_UNKNOWN_TYPE, "unknown event type 'goal.exploded'");
}

static void test_codec_payload_mismatch_is_rejected(void **state)
{
    Cx__Goal g = s_goal();
    Cx__Event ev = s_base("milestone.reached");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_rejected(*state, &ev, CX_E_PAYLOAD_MISMATCH,
                      "payload does not match type milestone.reached: expected milestone");
}

static void test_codec_missing_payload_is_rejected(void **state)
{
    Cx__Event ev = s_base("goal.set");
    s_assert_rejected(*state, &ev, CX_E_PAYLOAD_MISMATCH,
                      "payload does not match type goal.set: expected goal");
}

static void test_codec_negative_time_is_rejected(void **state)
{
    Cx__Event ev = s_base("customer.erase");
    ev.occurred_at = -1;
    s_assert_rejected(*state, &ev, CX_E_BAD_VALUE, "bad value in occurred_at: negative time");
}

static void test_codec_negative_deadline_is_rejected(void **state)
{
    Cx__Goal g = s_goal();
    g.deadline = -5;
    Cx__Event ev = s_base("goal.set");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_rejected(*state, &ev, CX_E_BAD_VALUE, "bad value in goal.deadline: negative time");
}

static void test_codec_bad_source_is_rejected(void **state)
{
    Cx__Event ev = s_base("customer.erase");
    ev.source = "tr\tips";
    s_assert_rejected(*state, &ev, CX_E_BAD_STRING, "bad string in source: contains a control");
}

/* ---- per-type required fields ---- */

static void test_codec_goal_events_need_goal_id(void **state)
{
    char *types[] = {"goal.set", "goal.updated", "goal.completed", "goal.abandoned"};
    for (size_t i = 0; i < 4; i++) {
        Cx__Goal g = s_goal();
        g.goal_id = NULL;
        Cx__Event ev = s_base(types[i]);
        ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
        ev.goal = &g;
        s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: goal.goal_id");
    }
}

static void test_codec_milestone_needs_goal_id(void **state)
{
    Cx__Milestone m = s_milestone();
    m.goal_id = NULL;
    Cx__Event ev = s_base("milestone.reached");
    ev.payload_case = CX__EVENT__PAYLOAD_MILESTONE;
    ev.milestone = &m;
    s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: milestone.goal_id");
}

static void test_codec_milestone_needs_name(void **state)
{
    Cx__Milestone m = s_milestone();
    m.name = NULL;
    Cx__Event ev = s_base("milestone.reached");
    ev.payload_case = CX__EVENT__PAYLOAD_MILESTONE;
    ev.milestone = &m;
    s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: milestone.name");
}

static void test_codec_activity_needs_name(void **state)
{
    Cx__Activity a = CX__ACTIVITY__INIT;
    a.category = "travel";
    Cx__Event ev = s_base("activity");
    ev.payload_case = CX__EVENT__PAYLOAD_ACTIVITY;
    ev.activity = &a;
    s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: activity.name");
}

static void test_codec_consents_need_scope(void **state)
{
    char *types[] = {"consent.granted", "consent.revoked"};
    for (size_t i = 0; i < 2; i++) {
        Cx__Consent c = CX__CONSENT__INIT;
        Cx__Event ev = s_base(types[i]);
        ev.payload_case = CX__EVENT__PAYLOAD_CONSENT;
        ev.consent = &c;
        s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: consent.scope");
    }
}

static void test_codec_offers_need_offer_id(void **state)
{
    char *types[] = {"offer.made", "offer.accepted"};
    for (size_t i = 0; i < 2; i++) {
        Cx__Offer o = CX__OFFER__INIT;
        o.title = "Insurance";
        Cx__Event ev = s_base(types[i]);
        ev.payload_case = CX__EVENT__PAYLOAD_OFFER;
        ev.offer = &o;
        s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: offer.offer_id");
    }
}

static void test_codec_profile_attributes_need_key(void **state)
{
    Cx__Attribute a = CX__ATTRIBUTE__INIT, b = CX__ATTRIBUTE__INIT;
    a.key = "home_city";
    a.value = "Lisbon";
    b.value = "orphan";
    Cx__Attribute *set[] = {&a, &b};
    Cx__Profile p = CX__PROFILE__INIT;
    p.n_set = 2;
    p.set = set;
    Cx__Event ev = s_base("profile.updated");
    ev.payload_case = CX__EVENT__PAYLOAD_PROFILE;
    ev.profile = &p;
    s_assert_rejected(*state, &ev, CX_E_MISSING_FIELD, "missing field: profile.set[1].key");
}

static void test_codec_profile_unset_must_not_be_empty(void **state)
{
    char *unset[] = {""};
    Cx__Profile p = CX__PROFILE__INIT;
    p.n_unset = 1;
    p.unset = unset;
    Cx__Event ev = s_base("profile.updated");
    ev.payload_case = CX__EVENT__PAYLOAD_PROFILE;
    ev.profile = &p;
    s_assert_rejected(*state, &ev, CX_E_BAD_STRING, "bad string in profile.unset[0]: empty");
}

static void test_codec_too_many_profile_entries_are_rejected(void **state)
{
    Cx__Attribute attrs[CX_MAX_PROFILE_ENTRIES + 1];
    Cx__Attribute *set[CX_MAX_PROFILE_ENTRIES + 1];
    for (size_t i = 0; i <= CX_MAX_PROFILE_ENTRIES; i++) {
        cx__attribute__init(&attrs[i]);
        attrs[i].key = "k";
        set[i] = &attrs[i];
    }
    Cx__Profile p = CX__PROFILE__INIT;
    p.n_set = CX_MAX_PROFILE_ENTRIES + 1;
    p.set = set;
    Cx__Event ev = s_base("profile.updated");
    ev.payload_case = CX__EVENT__PAYLOAD_PROFILE;
    ev.profile = &p;
    s_assert_rejected(*state, &ev, CX_E_BAD_VALUE, "bad value in profile: 65 set");
}

/* ---- strings ---- */

static void s_assert_title_rejected(fx_t *fx, char *title, const char *reason)
{
    Cx__Goal g = s_goal();
    g.title = title;
    Cx__Event ev = s_base("goal.set");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_rejected(fx, &ev, CX_E_BAD_STRING, reason);
}

static void test_codec_bad_utf8_is_rejected(void **state)
{
    s_assert_title_rejected(*state, "caf\xc3", "bad string in goal.title: not valid UTF-8");
    s_assert_title_rejected(*state, "\xff", "bad string in goal.title: not valid UTF-8");
}

static void test_codec_overlong_utf8_is_rejected(void **state)
{
    s_assert_title_rejected(*state, "\xc0\xaf", "not valid UTF-8");     /* '/' in 2 bytes */
    s_assert_title_rejected(*state, "\xe0\x80\xaf", "not valid UTF-8"); /* '/' in 3 bytes */
}

static void test_codec_surrogate_and_out_of_range_utf8_are_rejected(void **state)
{
    s_assert_title_rejected(*state, "\xed\xa0\x80", "not valid UTF-8");     /* U+D800 */
    s_assert_title_rejected(*state, "\xf4\x90\x80\x80", "not valid UTF-8"); /* U+110000 */
}

static void test_codec_control_char_is_rejected(void **state)
{
    const char *r = "bad string in goal.title: contains a control character";
    s_assert_title_rejected(*state, "line\nbreak", r);
    s_assert_title_rejected(*state, "del\x7f", r);
    s_assert_title_rejected(*state, "next-line\xc2\x85", r); /* U+0085, a C1 control */
}

static void test_codec_nul_byte_in_string_is_rejected(void **state)
{
    fx_t *fx = *state;
    Cx__Goal g = s_goal();
    g.title = "abXcd";
    Cx__Event ev = s_base("goal.set");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    bytes_t b = s_pack(&ev);
    uint8_t *x = memchr(b.data, 'X', b.len);
    assert_non_null(x);
    *x = 0; /* protobuf-c would hand out "ab"; a partner would read "ab\0cd" */
    int rc = s_check_bytes(fx, b.data, b.len);
    free(b.data);
    assert_int_equal(rc, CX_E_BAD_STRING);
    assert_string_equal(fx->reason, "bad string in goal.title: contains a NUL byte");
}

static void test_codec_too_long_id_is_rejected(void **state)
{
    fx_t *fx = *state;
    Cx__Goal g = s_goal();
    g.goal_id = s_repeat(fx, 'g', CX_MAX_ID_LEN);
    Cx__Event ev = s_base("goal.set");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_valid(fx, &ev); /* exactly at the limit */
    g.goal_id = s_repeat(fx, 'g', CX_MAX_ID_LEN + 1);
    s_assert_rejected(fx, &ev, CX_E_BAD_STRING,
                      "bad string in goal.goal_id: too long (129 bytes, limit 128)");
}

static void test_codec_too_long_customer_id_is_rejected(void **state)
{
    fx_t *fx = *state;
    Cx__Event ev = s_base("customer.erase");
    ev.customer_id = s_repeat(fx, 'c', CX_MAX_ID_LEN + 1);
    s_assert_rejected(fx, &ev, CX_E_BAD_STRING, "bad string in customer_id: too long");
}

static void test_codec_too_long_text_is_rejected(void **state)
{
    fx_t *fx = *state;
    s_assert_title_rejected(fx, s_repeat(fx, 't', CX_MAX_TEXT_LEN + 1),
                            "bad string in goal.title: too long (1025 bytes, limit 1024)");
}

/* ---- numbers ---- */

static void s_assert_goal_number_rejected(fx_t *fx, double target, double progress,
                                          const char *reason)
{
    Cx__Goal g = s_goal();
    g.target = target;
    g.has_progress = 1;
    g.progress = progress;
    Cx__Event ev = s_base("goal.updated");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    s_assert_rejected(fx, &ev, CX_E_BAD_VALUE, reason);
}

static void test_codec_negative_target_is_rejected(void **state)
{
    s_assert_goal_number_rejected(*state, -1, 0, "bad value in goal.target: negative");
}

static void test_codec_nan_target_is_rejected(void **state)
{
    s_assert_goal_number_rejected(*state, NAN, 0, "bad value in goal.target: not a finite number");
}

static void test_codec_infinite_progress_is_rejected(void **state)
{
    s_assert_goal_number_rejected(*state, 3, INFINITY,
                                  "bad value in goal.progress: not a finite number");
}

static void test_codec_negative_milestone_progress_is_rejected(void **state)
{
    Cx__Milestone m = s_milestone();
    m.progress = -2;
    Cx__Event ev = s_base("milestone.reached");
    ev.payload_case = CX__EVENT__PAYLOAD_MILESTONE;
    ev.milestone = &m;
    s_assert_rejected(*state, &ev, CX_E_BAD_VALUE, "bad value in milestone.progress: negative");
}

/* ---- bytes ---- */

static void test_codec_too_large_is_rejected(void **state)
{
    fx_t *fx = *state;
    uint8_t *big = calloc(1, 70000);
    assert_non_null(big);
    int rc = s_check_bytes(fx, big, 70000);
    free(big);
    assert_int_equal(rc, CX_E_TOO_LARGE);
    assert_string_equal(fx->reason, "event is 70000 bytes, limit 65536");
}

static void test_codec_truncated_protobuf_is_rejected(void **state)
{
    fx_t *fx = *state;
    Cx__Goal g = s_goal();
    Cx__Event ev = s_base("goal.set");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    bytes_t b = s_pack(&ev);
    int rc = s_check_bytes(fx, b.data, b.len - 3);
    free(b.data);
    assert_int_equal(rc, CX_E_BAD_PROTOBUF);
    assert_non_null(strstr(fx->reason, "not a valid encoded cx.Event"));
}

static void test_codec_field_number_zero_is_rejected(void **state)
{
    fx_t *fx = *state;
    Cx__Goal g = s_goal();
    Cx__Event ev = s_base("goal.set");
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    bytes_t b = s_pack(&ev);
    /* A valid event plus a fixed64 field numbered 0 (tag 0x81 0x00): protobuf-c
     * unpacks it as an unknown field but cannot decode its own re-encoding. */
    uint8_t *bad = malloc(b.len + 10);
    memcpy(bad, b.data, b.len);
    const uint8_t zero_field[10] = {0x81, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(bad + b.len, zero_field, sizeof zero_field);
    int rc = s_check_bytes(fx, bad, b.len + 10);
    free(bad);
    free(b.data);
    assert_int_equal(rc, CX_E_BAD_PROTOBUF);
}

static void test_codec_garbage_is_rejected(void **state)
{
    fx_t *fx = *state;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x07};
    assert_int_equal(s_check_bytes(fx, junk, sizeof(junk)), CX_E_BAD_PROTOBUF);
}

static void test_codec_empty_input_decodes_then_fails_validation(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_check_bytes(fx, NULL, 0), CX_E_MISSING_FIELD);
    assert_string_equal(fx->reason, "missing field: event_id");
}

/* ---- the API around ---- */

static void test_codec_decode_null_arguments_are_inval(void **state)
{
    fx_t *fx = *state;
    Cx__Event *out;
    const uint8_t one[] = {0};
    assert_int_equal(cx_codec_decode_event(NULL, 3, S_LIMIT, fx->arena, &out, NULL), CX_E_INVAL);
    assert_int_equal(cx_codec_decode_event(one, 1, S_LIMIT, NULL, &out, NULL), CX_E_INVAL);
    assert_int_equal(cx_codec_validate(NULL, NULL, 0, NULL), CX_E_INVAL);
}

static void test_codec_reason_without_buffer_is_generic_text(void **state)
{
    (void)state;
    Cx__Event ev = s_base("customer.erase");
    ev.customer_id = NULL;
    const char *reason = NULL;
    assert_int_equal(cx_codec_validate(&ev, NULL, 0, &reason), CX_E_MISSING_FIELD);
    assert_string_equal(reason, cx_strerror(CX_E_MISSING_FIELD));
}

static void test_codec_is_sane_string_checks_each_rule(void **state)
{
    (void)state;
    assert_true(cx_codec_is_sane_string("acme-insurance", 128));
    assert_true(cx_codec_is_sane_string("caf\xc3\xa9", 5));
    assert_false(cx_codec_is_sane_string("caf\xc3\xa9", 4));
    assert_false(cx_codec_is_sane_string(NULL, 128));
    assert_false(cx_codec_is_sane_string("", 128));
    assert_false(cx_codec_is_sane_string("tab\there", 128));
    assert_false(cx_codec_is_sane_string("\xe2\x82", 128));
}

#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_codec_valid_goal_set_passes),
        T(test_codec_valid_goal_updated_passes),
        T(test_codec_valid_goal_completed_passes),
        T(test_codec_valid_goal_abandoned_passes),
        T(test_codec_valid_milestone_reached_passes),
        T(test_codec_valid_activity_passes),
        T(test_codec_valid_profile_updated_passes),
        T(test_codec_valid_consent_granted_passes),
        T(test_codec_valid_consent_revoked_passes),
        T(test_codec_valid_offer_made_passes),
        T(test_codec_valid_offer_accepted_passes),
        T(test_codec_valid_customer_erase_passes),
        T(test_codec_valid_customer_erase_without_payload_passes),
        T(test_codec_utf8_text_is_accepted),
        T(test_codec_unknown_fields_are_accepted),
        T(test_codec_missing_event_id_is_rejected),
        T(test_codec_empty_event_id_is_rejected),
        T(test_codec_missing_customer_id_is_rejected),
        T(test_codec_missing_type_is_rejected),
        T(test_codec_unknown_type_is_rejected),
        T(test_codec_payload_mismatch_is_rejected),
        T(test_codec_missing_payload_is_rejected),
        T(test_codec_negative_time_is_rejected),
        T(test_codec_negative_deadline_is_rejected),
        T(test_codec_bad_source_is_rejected),
        T(test_codec_goal_events_need_goal_id),
        T(test_codec_milestone_needs_goal_id),
        T(test_codec_milestone_needs_name),
        T(test_codec_activity_needs_name),
        T(test_codec_consents_need_scope),
        T(test_codec_offers_need_offer_id),
        T(test_codec_profile_attributes_need_key),
        T(test_codec_profile_unset_must_not_be_empty),
        T(test_codec_too_many_profile_entries_are_rejected),
        T(test_codec_bad_utf8_is_rejected),
        T(test_codec_overlong_utf8_is_rejected),
        T(test_codec_surrogate_and_out_of_range_utf8_are_rejected),
        T(test_codec_control_char_is_rejected),
        T(test_codec_nul_byte_in_string_is_rejected),
        T(test_codec_too_long_id_is_rejected),
        T(test_codec_too_long_customer_id_is_rejected),
        T(test_codec_too_long_text_is_rejected),
        T(test_codec_negative_target_is_rejected),
        T(test_codec_nan_target_is_rejected),
        T(test_codec_infinite_progress_is_rejected),
        T(test_codec_negative_milestone_progress_is_rejected),
        T(test_codec_too_large_is_rejected),
        T(test_codec_truncated_protobuf_is_rejected),
        T(test_codec_field_number_zero_is_rejected),
        T(test_codec_garbage_is_rejected),
        T(test_codec_empty_input_decodes_then_fails_validation),
        T(test_codec_decode_null_arguments_are_inval),
        T(test_codec_reason_without_buffer_is_generic_text),
        T(test_codec_is_sane_string_checks_each_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
