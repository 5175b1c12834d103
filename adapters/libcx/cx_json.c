/* cx_json.c - the one JSON <-> protobuf mapping of cx_json.h.
 *
 * For: cxpub/cxctl input and output, admin replies, logs, anything a person
 * reads or writes. Not for the wire: the broker only ever speaks protobuf.
 *
 * The one idea: nothing here knows a cxbroker message. Both directions walk
 * protobuf-c's descriptors (field name, label, type, offsets into the generated
 * struct), so a field added to a .proto works without a change here. Building
 * a message keeps the struct consistent at every step (a oneof's case before
 * its pointer, a repeated count with a zeroed array), so on any error the
 * half-built message is freed with protobuf_c_message_free_unpacked and
 * nothing leaks.
 */
#include "cx_json.h"
#include "cx_error.h"
#include "cx_event.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The latest time cx_time_parse accepts: 9999-12-31T23:59:59.999999Z. Times
 * outside [0, this] are written as integer microseconds so they read back. */
#define S_TIME_MAX_US INT64_C(253402300799999999)

/* ---- helpers shared by both directions ---- */

static inline void *s_member(const void *msg, unsigned offset)
{
    return (char *)msg + offset;
}

static const char *s_type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: return "int32";
    case PROTOBUF_C_TYPE_SINT32: return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
    case PROTOBUF_C_TYPE_INT64: return "int64";
    case PROTOBUF_C_TYPE_SINT64: return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32: return "uint32";
    case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
    case PROTOBUF_C_TYPE_UINT64: return "uint64";
    case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT: return "float";
    case PROTOBUF_C_TYPE_DOUBLE: return "double";
    case PROTOBUF_C_TYPE_BOOL: return "bool";
    case PROTOBUF_C_TYPE_ENUM: return "enum";
    case PROTOBUF_C_TYPE_STRING: return "string";
    case PROTOBUF_C_TYPE_BYTES: return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE: return "message";
    }
    return "unknown";
}

/* Size of one element of a repeated field of type t, as protobuf-c lays it out. */
static size_t s_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static inline int s_is_signed32(ProtobufCType t)
{
    return t == PROTOBUF_C_TYPE_INT32 || t == PROTOBUF_C_TYPE_SINT32 ||
           t == PROTOBUF_C_TYPE_SFIXED32;
}

static inline int s_is_signed64(ProtobufCType t)
{
    return t == PROTOBUF_C_TYPE_INT64 || t == PROTOBUF_C_TYPE_SINT64 ||
           t == PROTOBUF_C_TYPE_SFIXED64;
}

static inline int s_is_unsigned32(ProtobufCType t)
{
    return t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_FIXED32;
}

static inline int s_is_unsigned64(ProtobufCType t)
{
    return t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
}

/* ---- base64 (RFC 4648, standard alphabet, padded) ---- */

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The base64 text of data (caller frees), or NULL on OOM. */
static char *s_base64_encode(const uint8_t *data, size_t len)
{
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3) return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = s_b64[v >> 18 & 63];
        *o++ = s_b64[v >> 12 & 63];
        *o++ = s_b64[v >> 6 & 63];
        *o++ = s_b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        *o++ = s_b64[v >> 18 & 63];
        *o++ = s_b64[v >> 12 & 63];
        *o++ = i + 1 < len ? s_b64[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int s_base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes len chars of s into out (room for len / 4 * 3 + 3 bytes); padding is
 * optional but, if present, must be right. 0 and *out_len, or -1 if s is not
 * base64. */
static int s_base64_decode(const char *s, size_t len, uint8_t *out, size_t *out_len)
{
    size_t pad = 0;
    while (pad < 2 && len > 0 && s[len - 1] == '=') {
        len--;
        pad++;
    }
    if (pad && (len + pad) % 4 != 0) return -1;
    if (len % 4 == 1) return -1;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = s_base64_value(s[i]);
        if (v < 0) return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = n;
    return 0;
}

/* ---- JSON -> message ---- */

typedef struct {
    ProtobufCAllocator *alloc; /* NULL: malloc */
    char *err;
    size_t errlen;
    char root[64];  /* the top message's name in snake case, e.g. "event" */
    char path[256]; /* field path of the value being read, e.g. "goals[1].title" */
    size_t path_len;
} s_reader_t;

/* Writes "<path>: <message>" into the caller's err buffer; returns code. */
static int s_fail(s_reader_t *r, int code, const char *fmt, ...)
{
    if (!r->err || r->errlen == 0) return code;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s: %s", r->path_len ? r->path : r->root, msg);
    return code;
}

static int s_nomem(s_reader_t *r)
{
    return s_fail(r, CX_E_NOMEM, "out of memory");
}

/* Appends ".name" (or "name" at the top) or "[i]" to the path; returns the old
 * length for s_path_pop. A path longer than the buffer is cut short. */
static size_t s_path_push(s_reader_t *r, const char *name, size_t index)
{
    size_t old = r->path_len, room = sizeof r->path - old;
    int n = name ? snprintf(r->path + old, room, "%s%s", old ? "." : "", name)
                 : snprintf(r->path + old, room, "[%zu]", index);
    if (n > 0) r->path_len = (size_t)n < room ? old + (size_t)n : sizeof r->path - 1;
    return old;
}

static void s_path_pop(s_reader_t *r, size_t old)
{
    r->path_len = old;
    r->path[old] = '\0';
}

/* "CustomerContext" -> "customer_context", for errors at the top level. */
static void s_snake_name(const char *name, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 2 < len; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            if (p != name) buf[n++] = '_';
            buf[n++] = (char)(*p - 'A' + 'a');
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
}

static void *s_alloc(s_reader_t *r, size_t size)
{
    if (size == 0) size = 1;
    return r->alloc ? r->alloc->alloc(r->alloc->allocator_data, size) : malloc(size);
}

static const char *s_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static int s_wrong_type(s_reader_t *r, const char *expected, const json_t *v)
{
    return s_fail(r, CX_E_JSON, "expected %s, got %s", expected, s_json_kind(v));
}

/* Reads an integral JSON value as sign and magnitude, so that every integer
 * type's range check is one comparison. A decimal string is allowed when
 * allow_string (uint64 above 2^63-1 has no JSON integer in jansson). */
static int s_read_integer(s_reader_t *r, const json_t *v, ProtobufCType t, int allow_string,
                          int *neg, uint64_t *mag)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        *neg = x < 0;
        *mag = x < 0 ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != trunc(d)) return s_fail(r, CX_E_JSON, "expected an integer, got %.17g", d);
        if (fabs(d) >= 18446744073709551616.0)
            return s_fail(r, CX_E_JSON, "%.17g is out of range for %s", d, s_type_name(t));
        *neg = d < 0;
        *mag = (uint64_t)fabs(d);
        return 0;
    }
    if (allow_string && json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        uint64_t m = 0;
        if (len == 0 || len > 20) goto not_decimal;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') goto not_decimal;
            unsigned d = (unsigned)(s[i] - '0');
            if (m > (UINT64_MAX - d) / 10)
                return s_fail(r, CX_E_JSON, "%s is out of range for %s", s, s_type_name(t));
            m = m * 10 + d;
        }
        *neg = 0;
        *mag = m;
        return 0;
    not_decimal:
        return s_fail(r, CX_E_JSON, "expected an integer, got '%.40s'", s);
    }
    return s_wrong_type(r, "an integer", v);
}

/* Checks sign/magnitude against t's range and stores the value at dst. */
static int s_store_integer(s_reader_t *r, ProtobufCType t, int neg, uint64_t mag, void *dst)
{
    uint64_t max_pos, max_neg;
    if (s_is_signed32(t) || t == PROTOBUF_C_TYPE_ENUM) {
        max_pos = INT32_MAX;
        max_neg = (uint64_t)INT32_MAX + 1;
    } else if (s_is_signed64(t)) {
        max_pos = INT64_MAX;
        max_neg = (uint64_t)INT64_MAX + 1;
    } else if (s_is_unsigned32(t)) {
        max_pos = UINT32_MAX;
        max_neg = 0;
    } else {
        max_pos = UINT64_MAX;
        max_neg = 0;
    }
    if (neg ? mag > max_neg : mag > max_pos)
        return s_fail(r, CX_E_JSON, "%s%llu is out of range for %s", neg ? "-" : "",
                      (unsigned long long)mag, s_type_name(t));
    /* Negative values are built as -(mag - 1) - 1 so INT64_MIN does not overflow. */
    if (s_is_signed32(t) || t == PROTOBUF_C_TYPE_ENUM)
        *(int32_t *)dst = (int32_t)(neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag);
    else if (s_is_signed64(t))
        *(int64_t *)dst = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    else if (s_is_unsigned32(t))
        *(uint32_t *)dst = (uint32_t)mag;
    else
        *(uint64_t *)dst = mag;
    return 0;
}

static int s_read_int_field(s_reader_t *r, const ProtobufCFieldDescriptor *f, const json_t *v,
                            void *dst)
{
    int neg = 0;
    uint64_t mag = 0;
    int rc = s_read_integer(r, v, f->type, s_is_unsigned64(f->type), &neg, &mag);
    return rc ? rc : s_store_integer(r, f->type, neg, mag, dst);
}

/* sfixed64 is a time: an RFC 3339 string or integer microseconds. */
static int s_read_time(s_reader_t *r, const json_t *v, void *dst)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int64_t us;
        if (strlen(s) != json_string_length(v) || cx_time_parse(s, &us) != 0)
            return s_fail(r, CX_E_JSON, "invalid time '%.64s': expected RFC 3339", s);
        *(int64_t *)dst = us;
        return 0;
    }
    if (json_is_number(v)) {
        int neg = 0;
        uint64_t mag = 0;
        int rc = s_read_integer(r, v, PROTOBUF_C_TYPE_SFIXED64, 0, &neg, &mag);
        return rc ? rc : s_store_integer(r, PROTOBUF_C_TYPE_SFIXED64, neg, mag, dst);
    }
    return s_wrong_type(r, "an RFC 3339 time string or integer microseconds", v);
}

static int s_read_float(s_reader_t *r, const ProtobufCFieldDescriptor *f, const json_t *v,
                        void *dst)
{
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v) && strcmp(json_string_value(v), "NaN") == 0) {
        d = NAN;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "Infinity") == 0) {
        d = INFINITY;
    } else if (json_is_string(v) && strcmp(json_string_value(v), "-Infinity") == 0) {
        d = -INFINITY;
    } else {
        return s_wrong_type(r, "a number", v);
    }
    if (f->type == PROTOBUF_C_TYPE_DOUBLE) {
        *(double *)dst = d;
        return 0;
    }
    if (isfinite(d) && fabs(d) > FLT_MAX)
        return s_fail(r, CX_E_JSON, "%.17g is out of range for float", d);
    *(float *)dst = (float)d;
    return 0;
}

static int s_read_enum(s_reader_t *r, const ProtobufCFieldDescriptor *f, const json_t *v, void *dst)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        if (!ev)
            return s_fail(r, CX_E_JSON, "unknown value '%.64s' of %s", json_string_value(v),
                          ed->name);
        *(int32_t *)dst = ev->value;
        return 0;
    }
    if (json_is_number(v)) return s_read_int_field(r, f, v, dst);
    return s_wrong_type(r, "an enum value name", v);
}

static int s_read_string(s_reader_t *r, const json_t *v, char **dst)
{
    if (!json_is_string(v)) return s_wrong_type(r, "a string", v);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (memchr(s, '\0', len)) return s_fail(r, CX_E_JSON, "string contains a NUL character");
    char *copy = s_alloc(r, len + 1);
    if (!copy) return s_nomem(r);
    memcpy(copy, s, len + 1);
    *dst = copy;
    return 0;
}

static int s_read_bytes(s_reader_t *r, const json_t *v, ProtobufCBinaryData *dst)
{
    if (!json_is_string(v)) return s_wrong_type(r, "a base64 string", v);
    size_t len = json_string_length(v);
    dst->len = 0;
    dst->data = NULL;
    if (len == 0) return 0;
    uint8_t *data = s_alloc(r, len / 4 * 3 + 3);
    if (!data) return s_nomem(r);
    dst->data = data; /* owned by the message from here, even if decoding fails */
    if (s_base64_decode(json_string_value(v), len, data, &dst->len) != 0)
        return s_fail(r, CX_E_JSON, "invalid base64");
    return 0;
}

static int s_read_message(s_reader_t *r, const json_t *obj, const ProtobufCMessageDescriptor *desc,
                          ProtobufCMessage *msg);

/* A new message of type desc at *dst, filled from v. *dst is set before it is
 * filled, so a failure leaves it for the parent's free. */
static int s_read_submessage(s_reader_t *r, const ProtobufCFieldDescriptor *f, const json_t *v,
                             ProtobufCMessage **dst)
{
    const ProtobufCMessageDescriptor *desc = f->descriptor;
    if (!json_is_object(v)) return s_wrong_type(r, "an object", v);
    ProtobufCMessage *sub = s_alloc(r, desc->sizeof_message);
    if (!sub) return s_nomem(r);
    desc->message_init(sub);
    *dst = sub;
    return s_read_message(r, v, desc, sub);
}

/* One value of field f (one element, for repeated fields) into dst. */
static int s_read_value(s_reader_t *r, const ProtobufCFieldDescriptor *f, const json_t *v,
                        void *dst)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_SFIXED64: return s_read_time(r, v, dst);
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return s_read_int_field(r, f, v, dst);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: return s_read_float(r, f, v, dst);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) return s_wrong_type(r, "true or false", v);
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: return s_read_enum(r, f, v, dst);
    case PROTOBUF_C_TYPE_STRING: return s_read_string(r, v, dst);
    case PROTOBUF_C_TYPE_BYTES: return s_read_bytes(r, v, dst);
    case PROTOBUF_C_TYPE_MESSAGE: return s_read_submessage(r, f, v, dst);
    }
    return s_fail(r, CX_E_JSON, "field type %d is not supported", (int)f->type);
}

/* A repeated field: a zeroed array of the JSON array's size is attached to
 * msg with its full count first, so a failure halfway frees cleanly (NULL
 * strings and messages are skipped by protobuf_c_message_free_unpacked). */
static int s_read_repeated(s_reader_t *r, const ProtobufCFieldDescriptor *f, const json_t *v,
                           ProtobufCMessage *msg)
{
    if (!json_is_array(v)) return s_wrong_type(r, "an array", v);
    size_t n = json_array_size(v), size = s_elem_size(f->type);
    if (n == 0) return 0;
    if (n > SIZE_MAX / size) return s_nomem(r);
    char *arr = s_alloc(r, n * size);
    if (!arr) return s_nomem(r);
    memset(arr, 0, n * size);
    *(void **)s_member(msg, f->offset) = arr;
    *(size_t *)s_member(msg, f->quantifier_offset) = n;
    for (size_t i = 0; i < n; i++) {
        size_t old = s_path_push(r, NULL, i);
        int rc = s_read_value(r, f, json_array_get(v, i), arr + i * size);
        if (rc) return rc;
        s_path_pop(r, old);
    }
    return 0;
}

/* The name of the oneof member of msg that shares f's case field and is set. */
static const char *s_oneof_rival(const ProtobufCMessageDescriptor *desc,
                                 const ProtobufCFieldDescriptor *f, uint32_t set_case)
{
    const ProtobufCFieldDescriptor *other = protobuf_c_message_descriptor_get_field(desc, set_case);
    return other && other->quantifier_offset == f->quantifier_offset ? other->name : "?";
}

static int s_read_field(s_reader_t *r, const ProtobufCFieldDescriptor *f, const json_t *v,
                        ProtobufCMessage *msg)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) return s_read_repeated(r, f, v, msg);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        *(uint32_t *)s_member(msg, f->quantifier_offset) = f->id; /* before the value: see top */
        return s_read_value(r, f, v, s_member(msg, f->offset));
    }
    int rc = s_read_value(r, f, v, s_member(msg, f->offset));
    if (rc) return rc;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)s_member(msg, f->quantifier_offset) = 1;
    return 0;
}

static int s_read_message(s_reader_t *r, const json_t *obj, const ProtobufCMessageDescriptor *desc,
                          ProtobufCMessage *msg)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(desc, key);
        if (!f) return s_fail(r, CX_E_JSON, "unknown field '%.64s'", key);
        if (json_is_null(v)) continue; /* null: the field is absent */
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)s_member(msg, f->quantifier_offset);
            if (which != 0)
                return s_fail(r, CX_E_JSON,
                              "'%s' and '%s' are members of one oneof: give at most one",
                              s_oneof_rival(desc, f, which), f->name);
        }
        size_t old = s_path_push(r, f->name, 0);
        int rc = s_read_field(r, f, v, msg);
        if (rc) return rc;
        s_path_pop(r, old);
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        json_t *given = json_object_get(obj, f->name);
        if (f->label == PROTOBUF_C_LABEL_REQUIRED && (!given || json_is_null(given)))
            return s_fail(r, CX_E_JSON, "missing required field '%s'", f->name);
    }
    return 0;
}

int cx_json_to_message(const json_t *json, const ProtobufCMessageDescriptor *desc,
                       ProtobufCAllocator *alloc, ProtobufCMessage **out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (out) *out = NULL;
    if (!json || !desc || !out) {
        if (err && errlen) snprintf(err, errlen, "cx_json_to_message: NULL argument");
        return CX_E_INVAL;
    }
    s_reader_t r = {.alloc = alloc, .err = err, .errlen = errlen};
    s_snake_name(desc->short_name, r.root, sizeof r.root);
    if (!json_is_object(json)) return s_wrong_type(&r, "a JSON object", json);
    ProtobufCMessage *msg = s_alloc(&r, desc->sizeof_message);
    if (!msg) return s_nomem(&r);
    desc->message_init(msg);
    int rc = s_read_message(&r, json, desc, msg);
    if (rc) {
        protobuf_c_message_free_unpacked(msg, alloc);
        return rc;
    }
    *out = msg;
    return 0;
}

/* ---- message -> JSON ---- */

/* Is the UTF-8 sequence at s (n bytes left) valid? Its length, or 0. Rejects
 * what jansson rejects: overlong forms, surrogates, code points above U+10FFFF. */
static size_t s_utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || len > n) return 0;
    uint32_t cp = s[0] & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A JSON string for s; bytes that are not UTF-8 become U+FFFD, since a string
 * from the wire is not checked by protobuf-c. NULL on OOM. */
static json_t *s_json_string(const char *s)
{
    json_t *j = json_string(s);
    if (j) return j;
    size_t n = strlen(s);
    if (n > SIZE_MAX / 3 - 1) return NULL;
    char *clean = malloc(n * 3 + 1), *o = clean;
    if (!clean) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        size_t len = s_utf8_seq(p, n);
        if (len) {
            memcpy(o, p, len);
            o += len;
        } else {
            len = 1;
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
        }
        p += len;
        n -= len;
    }
    *o = '\0';
    j = json_string(clean);
    free(clean);
    return j;
}

static json_t *s_message_to_json(const ProtobufCMessage *msg);

static json_t *s_time_to_json(int64_t us)
{
    char buf[40];
    if (us >= 0 && us <= S_TIME_MAX_US && cx_time_format(us, buf, sizeof buf) == 0)
        return json_string(buf);
    return json_integer((json_int_t)us);
}

static json_t *s_double_to_json(double d)
{
    if (isnan(d)) return json_string("NaN");
    if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

static json_t *s_uint64_to_json(uint64_t u)
{
    if (u <= INT64_MAX) return json_integer((json_int_t)u);
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
    return json_string(buf);
}

static json_t *s_enum_to_json(const ProtobufCFieldDescriptor *f, int32_t v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
    return ev ? json_string(ev->name) : json_integer(v);
}

static json_t *s_bytes_to_json(const ProtobufCBinaryData *b)
{
    char *text = s_base64_encode(b->data, b->len);
    if (!text) return NULL;
    json_t *j = json_string_nocheck(text);
    free(text);
    return j;
}

/* One value of field f (one element, for repeated fields) at p. */
static json_t *s_value_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_SFIXED64: return s_time_to_json(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64: return json_integer((json_int_t) * (const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return s_uint64_to_json(*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT: return s_double_to_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return s_double_to_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: return s_enum_to_json(f, *(const int32_t *)p);
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)p ? s_json_string(*(char *const *)p) : json_string("");
    case PROTOBUF_C_TYPE_BYTES: return s_bytes_to_json(p);
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p ? s_message_to_json(*(ProtobufCMessage *const *)p)
                                             : json_object();
    }
    return NULL;
}

/* Is the value at p the type's zero? (proto3 fields without presence) */
static int s_is_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: return !*(char *const *)p || !**(char *const *)p;
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return !*(void *const *)p;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p == 0 && !signbit(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0 && !signbit(*(const double *)p);
    default: break;
    }
    size_t size = s_elem_size(f->type);
    static const unsigned char zero[8];
    return memcmp(p, zero, size) == 0;
}

/* Does msg carry a value for the singular field f? */
static int s_has_field(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    const void *p = s_member(msg, f->offset);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)s_member(msg, f->quantifier_offset) == f->id;
    switch (f->label) {
    case PROTOBUF_C_LABEL_REQUIRED: return 1;
    case PROTOBUF_C_LABEL_NONE: return !s_is_zero(f, p);
    default: break;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING)
        return *(char *const *)p && *(char *const *)p != f->default_value;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) return *(void *const *)p != NULL;
    return *(const protobuf_c_boolean *)s_member(msg, f->quantifier_offset);
}

static json_t *s_repeated_to_json(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    size_t n = *(const size_t *)s_member(msg, f->quantifier_offset);
    const char *arr = *(char *const *)s_member(msg, f->offset);
    size_t size = s_elem_size(f->type);
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, s_value_to_json(f, arr + i * size)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *s_message_to_json(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *obj = json_object();
    if (!obj) return NULL;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        json_t *v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (*(const size_t *)s_member(msg, f->quantifier_offset) == 0) continue;
            v = s_repeated_to_json(msg, f);
        } else {
            if (!s_has_field(msg, f)) continue;
            v = s_value_to_json(f, s_member(msg, f->offset));
        }
        if (json_object_set_new_nocheck(obj, f->name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

json_t *cx_json_from_message(const ProtobufCMessage *msg)
{
    return msg ? s_message_to_json(msg) : NULL;
}

int cx_json_parse_message(const char *text, size_t len, const ProtobufCMessageDescriptor *desc,
                          ProtobufCAllocator *alloc, ProtobufCMessage **out, char *err,
                          size_t errlen)
{
    if (out) *out = NULL;
    if (!text || !desc || !out) {
        if (err && errlen) snprintf(err, errlen, "cx_json_parse_message: NULL argument");
        return CX_E_INVAL;
    }
    json_error_t jerr;
    /* A key given twice is a mistake, not "the last one wins". */
    json_t *json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json) {
        if (err && errlen)
            snprintf(err, errlen, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return CX_E_JSON;
    }
    int rc = cx_json_to_message(json, desc, alloc, out, err, errlen);
    json_decref(json);
    return rc;
}
