/* pbcopy.c - deep copies of protobuf-c messages; see pbcopy.h.
 *
 * One walk serves both sizing and copying: with no allocator it only adds up
 * what it would allocate. Everything scalar comes over with one memcpy of the
 * message struct; then each pointer (strings, bytes, sub-messages, repeated
 * arrays, unknown fields) is replaced by a copy.
 */
#include "pbcopy.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    ProtobufCAllocator *alloc; /* NULL: only count */
    size_t size;
    int failed;
} walk_t;

static size_t s_round(size_t n) { return (n + 7) & ~(size_t)7; }

static void *s_alloc(walk_t *w, size_t n)
{
    w->size += s_round(n);
    if (!w->alloc) return NULL;
    void *p = w->alloc->alloc(w->alloc->allocator_data, s_round(n));
    if (!p) w->failed = 1;
    return p;
}

static void *s_dup(walk_t *w, const void *src, size_t n)
{
    void *p = s_alloc(w, n);
    if (p) memcpy(p, src, n);
    return p;
}

static size_t s_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: return 4;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 8; /* 64-bit integers and double */
    }
}

static ProtobufCMessage *s_copy(walk_t *w, const ProtobufCMessage *m);

/* Replaces *slot (a string, bytes or message pointer inside a copy) by a copy. */
static void s_copy_value(walk_t *w, const ProtobufCFieldDescriptor *f, const void *src, void *dst)
{
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)src;
        if (!s || s == (const char *)f->default_value) return;
        char *d = s_dup(w, s, strlen(s) + 1);
        if (dst) *(char **)dst = d;
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
        const ProtobufCBinaryData *b = src;
        if (!b->data || !b->len) return;
        const ProtobufCBinaryData *def = f->default_value;
        if (def && b->data == def->data) return;
        uint8_t *d = s_dup(w, b->data, b->len);
        if (dst) ((ProtobufCBinaryData *)dst)->data = d;
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)src;
        if (!sub) return;
        ProtobufCMessage *d = s_copy(w, sub);
        if (dst) *(ProtobufCMessage **)dst = d;
    }
}

static bool s_is_pointer_type(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES ||
           f->type == PROTOBUF_C_TYPE_MESSAGE;
}

static ProtobufCMessage *s_copy(walk_t *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    ProtobufCMessage *out = s_dup(w, m, d->sizeof_message);
    if (m->n_unknown_fields) {
        ProtobufCMessageUnknownField *uf =
            s_dup(w, m->unknown_fields, m->n_unknown_fields * sizeof(*uf));
        for (unsigned i = 0; i < m->n_unknown_fields; i++) {
            uint8_t *data = s_dup(w, m->unknown_fields[i].data, m->unknown_fields[i].len);
            if (uf) uf[i].data = data;
        }
        if (out) out->unknown_fields = uf;
    }
    const char *src = (const char *)m;
    char *dst = (char *)out;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(src + f->quantifier_offset);
            const void *arr = *(void *const *)(src + f->offset);
            if (!n || !arr) continue;
            size_t esz = s_elem_size(f);
            char *copy = s_dup(w, arr, n * esz);
            if (dst) *(void **)(dst + f->offset) = copy;
            if (!s_is_pointer_type(f)) continue;
            for (size_t j = 0; j < n; j++)
                s_copy_value(w, f, (const char *)arr + j * esz, copy ? copy + j * esz : NULL);
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(src + f->quantifier_offset) != f->id)
            continue;
        if (s_is_pointer_type(f))
            s_copy_value(w, f, src + f->offset, dst ? dst + f->offset : NULL);
    }
    return out;
}

size_t cx_pb_copy_size(const ProtobufCMessage *msg)
{
    walk_t w = {NULL, 0, 0};
    s_copy(&w, msg);
    return w.size;
}

typedef struct {
    ProtobufCAllocator pb;
    char *next;
} bump_t;

static void *s_bump(void *data, size_t size)
{
    bump_t *b = data;
    void *p = b->next;
    b->next += size; /* sizes arrive rounded; the block was sized by the same walk */
    return p;
}

static void s_no_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

ProtobufCMessage *cx_pb_copy_into(const ProtobufCMessage *msg, void *block)
{
    bump_t b = {{s_bump, s_no_free, NULL}, block};
    b.pb.allocator_data = &b;
    walk_t w = {&b.pb, 0, 0};
    return s_copy(&w, msg);
}

ProtobufCMessage *cx_pb_copy(const ProtobufCMessage *msg, ProtobufCAllocator *alloc)
{
    walk_t w = {alloc, 0, 0};
    ProtobufCMessage *out = s_copy(&w, msg);
    return w.failed ? NULL : out;
}
