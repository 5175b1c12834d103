/* view.c - a partner's view of a customer context, taken from its encoding.
 *
 * For: the consent check and the `sees` filter of every delivery, on the packed
 * context the cache holds. Not for: deciding the rules (router.c says what a
 * partner may see; this follows it) or decoding anything else.
 *
 * The one idea: a filtered view is the context's own bytes with fields left
 * out, so it is a copy, not a re-encoding. Only the length of a message that
 * loses fields inside it changes. Its body is written where the original body
 * sat (after a length prefix as long as the original one), then the new, never
 * longer, prefix goes in front and the body moves up. So the write position
 * never passes the read position, and an output as long as the input is always
 * enough.
 */
#include "view.h"

#include <pthread.h>
#include <string.h>

#include "context.pb-c.h"
#include "cx_error.h"
#include "event.pb-c.h"

/* ---- reading ---- */

typedef struct {
    const uint8_t *p, *end;
} s_rd_t;

/* One field: number, wire type, its bytes [start, end), for length-delimited
 * ones also where the length prefix starts (lenp) and the payload (val, vlen). */
typedef struct {
    uint32_t num;
    unsigned wt;
    const uint8_t *start, *lenp, *val, *end;
    size_t vlen;
} s_field_t;

enum { S_WT_VARINT = 0, S_WT_64 = 1, S_WT_LEN = 2, S_WT_32 = 5 };

/* A varint of at most 10 bytes; bits past the 64th are dropped, as protobuf-c does. */
static int s_varint(s_rd_t *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* A field's tag read the way protobuf-c reads it: at most 5 bytes, a 32-bit
 * field number, and only a first byte without field bits is refused (a longer
 * tag for field 0 is an unknown field to protobuf-c, so it is one here too). */
static int s_tag(s_rd_t *r, uint32_t *num, unsigned *wt)
{
    size_t avail = (size_t)(r->end - r->p);
    const uint8_t *d = r->p;
    if (avail == 0 || (d[0] & 0xF8) == 0) return -1;
    *wt = d[0] & 7;
    uint32_t tag = (uint32_t)(d[0] & 0x7F) >> 3;
    unsigned shift = 4;
    for (size_t i = 0; i < (avail < 5 ? avail : 5); i++) {
        if (i > 0) {
            tag |= (uint32_t)(d[i] & 0x7F) << shift;
            shift += 7;
        }
        if (!(d[i] & 0x80)) {
            *num = tag;
            r->p += i + 1;
            return 0;
        }
    }
    return -1;
}

/* 1 and the next field in *f, 0 at the end, -1 if the bytes are malformed
 * (groups included: protobuf-c does not read them either). */
static int s_next(s_rd_t *r, s_field_t *f)
{
    if (r->p >= r->end) return 0;
    f->start = r->p;
    uint64_t n;
    if (s_tag(r, &f->num, &f->wt) != 0) return -1;
    f->lenp = f->val = r->p;
    f->vlen = 0;
    switch (f->wt) {
    case S_WT_VARINT:
        if (s_varint(r, &n) != 0) return -1;
        break;
    case S_WT_64:
    case S_WT_32: {
        size_t k = f->wt == S_WT_64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < k) return -1;
        r->p += k;
        break;
    }
    case S_WT_LEN:
        if (s_varint(r, &n) != 0 || n > (uint64_t)(r->end - r->p)) return -1;
        f->val = r->p;
        f->vlen = (size_t)n;
        r->p += n;
        break;
    default: return -1;
    }
    f->end = r->p;
    return 1;
}

/* The wire type a known field must have (proto2, no packed fields in our schema). */
static unsigned s_wire_type(const ProtobufCFieldDescriptor *fd)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE: return S_WT_LEN;
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64: return S_WT_64;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32: return S_WT_32;
    default: return S_WT_VARINT;
    }
}

/* A string as protobuf-c hands it over: a C string, so it ends at a NUL byte. */
static size_t s_cstr_len(const s_field_t *f)
{
    const void *nul = memchr(f->val, 0, f->vlen);
    return nul ? (size_t)((const uint8_t *)nul - f->val) : f->vlen;
}

static bool s_str_eq(const s_field_t *f, const char *s)
{
    size_t n = s_cstr_len(f);
    return s && strlen(s) == n && memcmp(f->val, s, n) == 0;
}

/* The last occurrence of string field num in the message body [p, p + len)
 * (the one an unpack keeps) in *f. 1 found, 0 absent, -1 malformed. */
static int s_last_string(const uint8_t *p, size_t len, uint32_t num, s_field_t *f)
{
    s_rd_t r = {p, p + len};
    s_field_t g;
    int rc, found = 0;
    while ((rc = s_next(&r, &g)) == 1) {
        if (g.num != num) continue;
        if (g.wt != S_WT_LEN) return -1;
        *f = g;
        found = 1;
    }
    return rc < 0 ? -1 : found;
}

/* ---- field numbers, from the descriptors ---- */

static struct {
    uint32_t event_customer_id;
    uint32_t customer_id, goals, attributes, consents, offers, version, updated_at;
    uint32_t activity_count, last_activity, last_activity_at;
    uint32_t goal_milestones, attribute_key, consent_scope, consent_expires_at, offer_partner;
} s_num;
static pthread_once_t s_num_once = PTHREAD_ONCE_INIT;

uint32_t cx_view_field_number(const void *descriptor, const char *name)
{
    const ProtobufCFieldDescriptor *fd =
        descriptor ? protobuf_c_message_descriptor_get_field_by_name(descriptor, name) : NULL;
    return fd ? fd->id : 0;
}

static void s_num_init(void)
{
    const ProtobufCMessageDescriptor *c = &cx__customer_context__descriptor;
    s_num.event_customer_id = cx_view_field_number(&cx__event__descriptor, "customer_id");
    s_num.customer_id = cx_view_field_number(c, "customer_id");
    s_num.goals = cx_view_field_number(c, "goals");
    s_num.attributes = cx_view_field_number(c, "attributes");
    s_num.consents = cx_view_field_number(c, "consents");
    s_num.offers = cx_view_field_number(c, "offers");
    s_num.version = cx_view_field_number(c, "version");
    s_num.updated_at = cx_view_field_number(c, "updated_at");
    s_num.activity_count = cx_view_field_number(c, "activity_count");
    s_num.last_activity = cx_view_field_number(c, "last_activity");
    s_num.last_activity_at = cx_view_field_number(c, "last_activity_at");
    s_num.goal_milestones = cx_view_field_number(&cx__goal_state__descriptor, "milestones");
    s_num.attribute_key = cx_view_field_number(&cx__attribute__descriptor, "key");
    s_num.consent_scope = cx_view_field_number(&cx__consent_state__descriptor, "scope");
    s_num.consent_expires_at = cx_view_field_number(&cx__consent_state__descriptor, "expires_at");
    s_num.offer_partner = cx_view_field_number(&cx__offer_state__descriptor, "partner");
}

/* ---- events ---- */

int cx_view_event_customer(const uint8_t *data, size_t len, char *out, size_t cap)
{
    if ((!data && len) || !out || cap == 0) return CX_E_INVAL;
    pthread_once(&s_num_once, s_num_init);
    s_field_t f;
    int rc = s_last_string(data, len, s_num.event_customer_id, &f);
    if (rc < 0) return CX_E_BAD_PROTOBUF;
    size_t n = rc ? s_cstr_len(&f) : 0;
    if (n == 0 || n >= cap) return CX_E_MISSING_FIELD;
    memcpy(out, f.val, n);
    out[n] = '\0';
    return 0;
}

/* ---- consent ---- */

static bool s_is_scope_of(const cx_partner_cfg_t *partner, const s_field_t *scope)
{
    if (s_str_eq(scope, partner->id)) return true;
    for (size_t i = 0; i < partner->n_categories; i++)
        if (s_str_eq(scope, partner->categories[i])) return true;
    return false;
}

/* 1 if the ConsentState body [p, p + len) grants the partner now, 0 if not, -1 malformed. */
static int s_grants(const cx_partner_cfg_t *partner, const uint8_t *p, size_t len, int64_t now_us)
{
    s_rd_t r = {p, p + len};
    s_field_t f, scope;
    bool has_scope = false, has_expiry = false;
    int64_t expires_at = 0;
    int rc;
    while ((rc = s_next(&r, &f)) == 1) {
        if (f.num == s_num.consent_scope) {
            if (f.wt != S_WT_LEN) return -1;
            scope = f;
            has_scope = true;
        } else if (f.num == s_num.consent_expires_at) {
            if (f.wt != S_WT_64) return -1;
            uint64_t u = 0;
            for (int i = 7; i >= 0; i--)
                u = (u << 8) | f.lenp[i];
            memcpy(&expires_at, &u, sizeof expires_at);
            has_expiry = true;
        }
    }
    if (rc < 0) return -1;
    if (!has_scope || (has_expiry && expires_at <= now_us)) return 0;
    return s_is_scope_of(partner, &scope) ? 1 : 0;
}

int cx_view_has_consent(const cx_partner_cfg_t *partner, const uint8_t *data, size_t len,
                        int64_t now_us, bool *out)
{
    if (!partner || !out || (!data && len)) return CX_E_INVAL;
    pthread_once(&s_num_once, s_num_init);
    *out = false;
    s_rd_t r = {data, data + len};
    s_field_t f;
    int rc;
    while ((rc = s_next(&r, &f)) == 1) {
        if (f.num != s_num.consents) continue;
        if (f.wt != S_WT_LEN) return CX_E_BAD_PROTOBUF;
        int g = s_grants(partner, f.val, f.vlen, now_us);
        if (g < 0) return CX_E_BAD_PROTOBUF;
        if (g) *out = true; /* keep going: the rest must be well formed too */
    }
    return rc < 0 ? CX_E_BAD_PROTOBUF : 0;
}

/* ---- filter ---- */

typedef struct s_rule s_rule_t;

/* How one field of a message goes into a view: S_DROP, S_COPY (its bytes as
 * they are) or S_SUB (a submessage whose body is walked again with *sub);
 * -1 if it is malformed. fd is the field's descriptor (known fields only). */
enum { S_DROP, S_COPY, S_SUB };
typedef int (*s_decide_fn)(const cx_partner_cfg_t *partner, const s_field_t *f,
                           const ProtobufCFieldDescriptor *fd, const s_rule_t **sub);
struct s_rule {
    s_decide_fn decide;
};

static size_t s_copy(uint8_t *out, const s_field_t *f)
{
    size_t n = (size_t)(f->end - f->start);
    memcpy(out, f->start, n);
    return n;
}

size_t cx_view_put_varint(uint8_t *out, uint64_t v)
{
    size_t k = 0;
    while (v >= 0x80) {
        out[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[k++] = (uint8_t)v;
    return k;
}

static int s_walk(const cx_partner_cfg_t *partner, const ProtobufCMessageDescriptor *desc,
                  const s_rule_t *rule, const uint8_t *in, size_t len, uint8_t *out,
                  size_t *out_len);

/* Writes field f (length-delimited) at out with its body walked by rule; returns
 * the bytes written or -1. See the top of the file for why the body goes where
 * the original one sat. */
static long s_put_sub(const cx_partner_cfg_t *partner, const s_field_t *f,
                      const ProtobufCMessageDescriptor *desc, const s_rule_t *rule, uint8_t *out)
{
    size_t tag_len = (size_t)(f->lenp - f->start);
    size_t len_len = (size_t)(f->val - f->lenp);
    size_t blen;
    memcpy(out, f->start, tag_len);
    uint8_t *b = out + tag_len + len_len;
    if (s_walk(partner, desc, rule, f->val, f->vlen, b, &blen) != 0) return -1;
    size_t k = cx_view_put_varint(out + tag_len, blen); /* k <= len_len: blen <= f->vlen */
    memmove(out + tag_len + k, b, blen);
    return (long)(tag_len + k + blen);
}

/* The one walk every level of a view goes through: unknown fields are left
 * out, known ones must have their wire type, rule decides the rest. */
static int s_walk(const cx_partner_cfg_t *partner, const ProtobufCMessageDescriptor *desc,
                  const s_rule_t *rule, const uint8_t *in, size_t len, uint8_t *out,
                  size_t *out_len)
{
    s_rd_t r = {in, in + len};
    s_field_t f;
    size_t o = 0;
    int rc;
    while ((rc = s_next(&r, &f)) == 1) {
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(desc, f.num);
        if (!fd) continue;
        if (f.wt != s_wire_type(fd)) return -1;
        const s_rule_t *sub = NULL;
        int how = rule->decide(partner, &f, fd, &sub);
        if (how < 0) return -1;
        if (how == S_COPY) {
            o += s_copy(out + o, &f);
        } else if (how == S_SUB) {
            long n = s_put_sub(partner, &f, fd->descriptor, sub, out + o);
            if (n < 0) return -1;
            o += (size_t)n;
        }
    }
    *out_len = o;
    return rc < 0 ? -1 : 0;
}

/* Every known field, submessages likewise. */
static int s_known(const cx_partner_cfg_t *partner, const s_field_t *f,
                   const ProtobufCFieldDescriptor *fd, const s_rule_t **sub);
static const s_rule_t s_rule_known = {s_known};

static int s_known(const cx_partner_cfg_t *partner, const s_field_t *f,
                   const ProtobufCFieldDescriptor *fd, const s_rule_t **sub)
{
    (void)partner;
    (void)f;
    if (fd->type != PROTOBUF_C_TYPE_MESSAGE) return S_COPY;
    *sub = &s_rule_known;
    return S_SUB;
}

/* A GoalState: its known fields, the milestones only for a partner that sees them. */
static int s_goal(const cx_partner_cfg_t *partner, const s_field_t *f,
                  const ProtobufCFieldDescriptor *fd, const s_rule_t **sub)
{
    if (f->num == s_num.goal_milestones && !(partner->sees & CX_SEES_MILESTONES)) return S_DROP;
    return s_known(partner, f, fd, sub);
}
static const s_rule_t s_rule_goal = {s_goal};

static bool s_attribute_key_seen(const cx_partner_cfg_t *partner, const s_field_t *key)
{
    for (size_t i = 0; i < partner->n_sees_attributes; i++)
        if (s_str_eq(key, partner->sees_attributes[i])) return true;
    return false;
}

/* Does the partner see this element of a repeated context field? 1 yes, 0 no, -1 malformed. */
static int s_element_seen(const cx_partner_cfg_t *partner, const s_field_t *f)
{
    s_field_t k;
    int rc;
    if (f->num == s_num.attributes) {
        if (partner->sees & CX_SEES_ATTRIBUTES) return 1;
        rc = s_last_string(f->val, f->vlen, s_num.attribute_key, &k);
        return rc <= 0 ? rc : s_attribute_key_seen(partner, &k);
    }
    if (f->num == s_num.offers) { /* only the partner's own offers */
        rc = s_last_string(f->val, f->vlen, s_num.offer_partner, &k);
        return rc <= 0 ? rc : s_str_eq(&k, partner->id);
    }
    return 1;
}

/* Which top-level context fields the partner gets at all. */
static bool s_field_seen(const cx_partner_cfg_t *partner, uint32_t num)
{
    uint32_t sees = partner->sees;
    if (num == s_num.customer_id || num == s_num.version || num == s_num.updated_at) return true;
    if (num == s_num.goals) return sees & CX_SEES_GOALS;
    if (num == s_num.attributes)
        return (sees & CX_SEES_ATTRIBUTES) || partner->n_sees_attributes > 0;
    if (num == s_num.consents) return sees & CX_SEES_CONSENTS;
    if (num == s_num.offers) return sees & CX_SEES_OFFERS;
    if (num == s_num.activity_count || num == s_num.last_activity || num == s_num.last_activity_at)
        return sees & CX_SEES_ACTIVITY;
    return false;
}

/* A CustomerContext: what `sees` allows, each element filtered as above. */
static int s_context(const cx_partner_cfg_t *partner, const s_field_t *f,
                     const ProtobufCFieldDescriptor *fd, const s_rule_t **sub)
{
    if (!s_field_seen(partner, f->num)) return S_DROP;
    if (fd->type != PROTOBUF_C_TYPE_MESSAGE) return S_COPY;
    int seen = s_element_seen(partner, f);
    if (seen <= 0) return seen < 0 ? -1 : S_DROP;
    *sub = f->num == s_num.goals ? &s_rule_goal : &s_rule_known;
    return S_SUB;
}
static const s_rule_t s_rule_context = {s_context};

int cx_view_filter(const cx_partner_cfg_t *partner, const uint8_t *data, size_t len, uint8_t *out,
                   size_t *out_len)
{
    if (!partner || !out || !out_len || (!data && len)) return CX_E_INVAL;
    pthread_once(&s_num_once, s_num_init);
    *out_len = 0;
    size_t n;
    if (s_walk(partner, &cx__customer_context__descriptor, &s_rule_context, data, len, out, &n) !=
        0)
        return CX_E_BAD_PROTOBUF;
    *out_len = n;
    return 0;
}

size_t cx_view_empty_context(const char *customer_id, uint8_t *out)
{
    pthread_once(&s_num_once, s_num_init);
    size_t n = strlen(customer_id);
    uint8_t *p = out;
    p += cx_view_put_varint(p, (uint64_t)s_num.customer_id << 3 | S_WT_LEN);
    p += cx_view_put_varint(p, n);
    memcpy(p, customer_id, n);
    return (size_t)(p - out) + n;
}
