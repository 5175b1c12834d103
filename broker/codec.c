/* codec.c - decoding and validating what publishers send.
 *
 * For: turning the bytes of an encoded cx.Event into a Cx__Event in an arena,
 * and deciding whether that event may enter the log. Not for: the meaning of
 * an event against a customer's context (reducer.c: unknown goals, limits) or
 * who may publish what (ingest, router).
 *
 * The one idea: the broker logs the bytes it validated, not a re-encoding, so
 * the check must hold for what any decoder will read from those bytes. Hence
 * one wire-level pass besides protobuf-c's unpack: protobuf-c stops a C string
 * at an embedded NUL byte, so "ab\0cd" would pass as "ab" here and arrive whole
 * at a partner. Everything else is checked on the unpacked message, field by
 * field, and the first failure is reported with the field's name.
 */
#include "codec.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cx_error.h"
#include "cx_event.h"

#define S_MAX_DEPTH 8 /* Event > Profile > Attribute is 3; deeper is not our schema */

static const char S_BAD_PROTOBUF[] =
    "event is not a valid encoded cx.Event (truncated or malformed protobuf)";

/* ---- strings ---- */

typedef enum { S_STR_OK, S_STR_EMPTY, S_STR_TOO_LONG, S_STR_BAD_UTF8, S_STR_CONTROL } s_str_t;

/* Length of the UTF-8 sequence at p (at most n bytes) and its code point, or 0
 * if it is not valid UTF-8 (overlong forms, surrogates, beyond U+10FFFF). */
static size_t s_utf8_next(const unsigned char *p, size_t n, unsigned long *cp)
{
    unsigned c = p[0];
    size_t k;
    unsigned long v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        k = 2, v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3, v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4, v = c & 0x07;
    } else {
        return 0;
    }
    if (n < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((p[j] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[j] & 0x3F);
    }
    if ((k == 3 && v < 0x800) || (k == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return k;
}

/* C0 controls, DEL and C1 controls: nothing a log line or a partner's UI should receive. */
static bool s_is_control(unsigned long cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

static s_str_t s_check_string(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0) return S_STR_EMPTY;
    if (n > max) return S_STR_TOO_LONG;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned long cp;
        size_t k = s_utf8_next(p + i, n - i, &cp);
        if (k == 0) return S_STR_BAD_UTF8;
        if (s_is_control(cp)) return S_STR_CONTROL;
        i += k;
    }
    return S_STR_OK;
}

bool cx_codec_is_sane_string(const char *s, size_t max)
{
    return s && s_check_string(s, max) == S_STR_OK;
}

/* ---- decode ---- */

/* A reason formatted into the arena, or the code's generic text if the arena is out of memory. */
__attribute__((format(printf, 3, 4))) static const char *s_arena_printf(cx_arena_t *arena, int code,
                                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = n >= 0 ? cx_arena_alloc(arena, (size_t)n + 1) : NULL;
    if (!buf) return cx_strerror(code);
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return buf;
}

static int s_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *i < len; shift += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Walks the wire form of a message of type desc and refuses a NUL byte inside
 * any string field, at any depth. path names the message ("" for the event). */
static int s_scan_nul(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                      const char *path, int depth, cx_arena_t *arena, const char **reason)
{
    size_t i = 0;
    while (i < len) {
        uint64_t tag, n;
        if (s_varint(p, len, &i, &tag)) goto bad;
        /* Field number 0 is invalid protobuf; protobuf-c keeps it as an unknown
         * field and then cannot decode its own re-encoding of it. */
        if ((tag >> 3) == 0 || (tag >> 3) > 536870911) goto bad;
        switch (tag & 7) {
        case 0:
            if (s_varint(p, len, &i, &n)) goto bad;
            break;
        case 1:
            if (len - i < 8) goto bad;
            i += 8;
            break;
        case 5:
            if (len - i < 4) goto bad;
            i += 4;
            break;
        case 2: {
            if (s_varint(p, len, &i, &n) || n > len - i) goto bad;
            uint64_t num = tag >> 3;
            const ProtobufCFieldDescriptor *f =
                num <= UINT_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)num)
                                : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p + i, 0, n)) {
                *reason = s_arena_printf(arena, CX_E_BAD_STRING,
                                         "bad string in %s%s%s: contains a NUL byte", path,
                                         *path ? "." : "", f->name);
                return CX_E_BAD_STRING;
            }
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth >= S_MAX_DEPTH) goto bad;
                char sub[128];
                snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", f->name);
                int rc = s_scan_nul(f->descriptor, p + i, n, sub, depth + 1, arena, reason);
                if (rc) return rc;
            }
            i += n;
            break;
        }
        default: goto bad;
        }
    }
    return 0;
bad:
    *reason = S_BAD_PROTOBUF;
    return CX_E_BAD_PROTOBUF;
}

int cx_codec_decode_event(const uint8_t *data, size_t len, size_t max_bytes, cx_arena_t *arena,
                          Cx__Event **out, const char **reason)
{
    const char *ignored;
    if (!reason) reason = &ignored;
    if (!out || !arena || (!data && len)) {
        *reason = cx_strerror(CX_E_INVAL);
        return CX_E_INVAL;
    }
    *out = NULL;
    if (len > max_bytes) {
        *reason =
            s_arena_printf(arena, CX_E_TOO_LARGE, "event is %zu bytes, limit %zu", len, max_bytes);
        return CX_E_TOO_LARGE;
    }
    static const uint8_t empty[1];
    Cx__Event *ev = cx__event__unpack(cx_arena_allocator(arena), len, data ? data : empty);
    if (!ev) {
        *reason = S_BAD_PROTOBUF;
        return CX_E_BAD_PROTOBUF;
    }
    int rc = s_scan_nul(&cx__event__descriptor, data ? data : empty, len, "", 0, arena, reason);
    if (rc) return rc;
    *out = ev;
    return 0;
}

/* ---- validate ---- */

typedef struct {
    char *buf;
    size_t buflen;
    const char **reason;
} s_out_t;

__attribute__((format(printf, 3, 4))) static int s_fail(s_out_t *o, int code, const char *fmt, ...)
{
    if (!o->buf || o->buflen == 0) {
        *o->reason = cx_strerror(code);
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->buf, o->buflen, fmt, ap);
    va_end(ap);
    *o->reason = o->buf;
    return code;
}

/* A string that is present: non-empty (unless may_be_empty), within max, clean UTF-8. */
static int s_string(s_out_t *o, const char *field, const char *s, size_t max, bool may_be_empty)
{
    switch (s_check_string(s, max)) {
    case S_STR_OK: return 0;
    case S_STR_EMPTY:
        return may_be_empty ? 0 : s_fail(o, CX_E_BAD_STRING, "bad string in %s: empty", field);
    case S_STR_TOO_LONG:
        return s_fail(o, CX_E_BAD_STRING, "bad string in %s: too long (%zu bytes, limit %zu)",
                      field, strlen(s), max);
    case S_STR_BAD_UTF8:
        return s_fail(o, CX_E_BAD_STRING, "bad string in %s: not valid UTF-8", field);
    case S_STR_CONTROL:
        return s_fail(o, CX_E_BAD_STRING, "bad string in %s: contains a control character", field);
    }
    return 0;
}

static int s_required(s_out_t *o, const char *field, const char *s, size_t max)
{
    if (!s) return s_fail(o, CX_E_MISSING_FIELD, "missing field: %s", field);
    return s_string(o, field, s, max, false);
}

static int s_optional(s_out_t *o, const char *field, const char *s, size_t max)
{
    return s ? s_string(o, field, s, max, true) : 0;
}

static int s_time(s_out_t *o, const char *field, protobuf_c_boolean has, int64_t t)
{
    if (has && t < 0) return s_fail(o, CX_E_BAD_VALUE, "bad value in %s: negative time", field);
    return 0;
}

static int s_amount(s_out_t *o, const char *field, protobuf_c_boolean has, double v)
{
    if (!has) return 0;
    if (!isfinite(v))
        return s_fail(o, CX_E_BAD_VALUE, "bad value in %s: not a finite number", field);
    if (v < 0) return s_fail(o, CX_E_BAD_VALUE, "bad value in %s: negative (%g)", field, v);
    return 0;
}

static int s_goal(s_out_t *o, const Cx__Goal *g)
{
    int rc;
    if ((rc = s_required(o, "goal.goal_id", g->goal_id, CX_MAX_ID_LEN)) ||
        (rc = s_optional(o, "goal.category", g->category, CX_MAX_ID_LEN)) ||
        (rc = s_optional(o, "goal.title", g->title, CX_MAX_TEXT_LEN)) ||
        (rc = s_time(o, "goal.deadline", g->has_deadline, g->deadline)) ||
        (rc = s_amount(o, "goal.target", g->has_target, g->target)))
        return rc;
    return s_amount(o, "goal.progress", g->has_progress, g->progress);
}

static int s_milestone(s_out_t *o, const Cx__Milestone *m)
{
    int rc;
    if ((rc = s_required(o, "milestone.goal_id", m->goal_id, CX_MAX_ID_LEN)) ||
        (rc = s_required(o, "milestone.name", m->name, CX_MAX_TEXT_LEN)))
        return rc;
    return s_amount(o, "milestone.progress", m->has_progress, m->progress);
}

static int s_activity(s_out_t *o, const Cx__Activity *a)
{
    int rc = s_required(o, "activity.name", a->name, CX_MAX_TEXT_LEN);
    return rc ? rc : s_optional(o, "activity.category", a->category, CX_MAX_ID_LEN);
}

static int s_profile(s_out_t *o, const Cx__Profile *p)
{
    if (p->n_set > CX_MAX_PROFILE_ENTRIES || p->n_unset > CX_MAX_PROFILE_ENTRIES)
        return s_fail(o, CX_E_BAD_VALUE,
                      "bad value in profile: %zu set and %zu unset, limit %d each", p->n_set,
                      p->n_unset, CX_MAX_PROFILE_ENTRIES);
    char field[64];
    int rc;
    for (size_t i = 0; i < p->n_set; i++) {
        snprintf(field, sizeof(field), "profile.set[%zu].key", i);
        if ((rc = s_required(o, field, p->set[i]->key, CX_MAX_ID_LEN))) return rc;
        snprintf(field, sizeof(field), "profile.set[%zu].value", i);
        if ((rc = s_optional(o, field, p->set[i]->value, CX_MAX_TEXT_LEN))) return rc;
    }
    for (size_t i = 0; i < p->n_unset; i++) {
        snprintf(field, sizeof(field), "profile.unset[%zu]", i);
        if ((rc = s_required(o, field, p->unset[i], CX_MAX_ID_LEN))) return rc;
    }
    return 0;
}

static int s_consent(s_out_t *o, const Cx__Consent *c)
{
    int rc = s_required(o, "consent.scope", c->scope, CX_MAX_ID_LEN);
    return rc ? rc : s_time(o, "consent.expires_at", c->has_expires_at, c->expires_at);
}

static int s_offer(s_out_t *o, const Cx__Offer *f)
{
    int rc;
    if ((rc = s_required(o, "offer.offer_id", f->offer_id, CX_MAX_ID_LEN)) ||
        (rc = s_optional(o, "offer.partner", f->partner, CX_MAX_ID_LEN)) ||
        (rc = s_optional(o, "offer.goal_id", f->goal_id, CX_MAX_ID_LEN)) ||
        (rc = s_optional(o, "offer.title", f->title, CX_MAX_TEXT_LEN)))
        return rc;
    return s_time(o, "offer.expires_at", f->has_expires_at, f->expires_at);
}

/* The payload's name in the schema ("milestone"), for reasons. */
static const char *s_payload_name(int payload_case)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&cx__event__descriptor, (unsigned)payload_case);
    return f ? f->name : "none";
}

static int s_payload(s_out_t *o, const Cx__Event *ev, cx_event_type_t type)
{
    int want = cx_event_type_payload(type);
    if (type == CX_EV_CUSTOMER_ERASE && ev->payload_case == CX__EVENT__PAYLOAD__NOT_SET) return 0;
    if ((int)ev->payload_case != want || !ev->goal)
        return s_fail(o, CX_E_PAYLOAD_MISMATCH, "payload does not match type %s: expected %s",
                      cx_event_type_name(type), s_payload_name(want));
    switch (ev->payload_case) {
    case CX__EVENT__PAYLOAD_GOAL: return s_goal(o, ev->goal);
    case CX__EVENT__PAYLOAD_MILESTONE: return s_milestone(o, ev->milestone);
    case CX__EVENT__PAYLOAD_ACTIVITY: return s_activity(o, ev->activity);
    case CX__EVENT__PAYLOAD_PROFILE: return s_profile(o, ev->profile);
    case CX__EVENT__PAYLOAD_CONSENT: return s_consent(o, ev->consent);
    case CX__EVENT__PAYLOAD_OFFER: return s_offer(o, ev->offer);
    case CX__EVENT__PAYLOAD_ERASE:
        return s_optional(o, "erase.reason", ev->erase->reason, CX_MAX_TEXT_LEN);
    default: return 0;
    }
}

int cx_codec_validate(const Cx__Event *ev, char *buf, size_t buflen, const char **reason)
{
    const char *ignored;
    s_out_t o = {buf, buflen, reason ? reason : &ignored};
    if (!ev) return s_fail(&o, CX_E_INVAL, "no event");
    int rc;
    if ((rc = s_required(&o, "event_id", ev->event_id, CX_MAX_ID_LEN)) ||
        (rc = s_required(&o, "customer_id", ev->customer_id, CX_MAX_ID_LEN)) ||
        (rc = s_optional(&o, "source", ev->source, CX_MAX_ID_LEN)) ||
        (rc = s_required(&o, "type", ev->type, CX_MAX_ID_LEN)) ||
        (rc = s_time(&o, "occurred_at", ev->has_occurred_at, ev->occurred_at)) ||
        (rc = s_time(&o, "accepted_at", ev->has_accepted_at, ev->accepted_at)))
        return rc;
    cx_event_type_t type = cx_event_type_parse(ev->type);
    if (type == CX_EV_UNKNOWN)
        return s_fail(&o, CX_E_UNKNOWN_TYPE, "unknown event type '%s'", ev->type);
    return s_payload(&o, ev, type);
}
