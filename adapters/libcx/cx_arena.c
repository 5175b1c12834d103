/* cx_arena.c - bump allocation in chunks; see cx_arena.h.
 *
 * One chunk list; allocation takes from the head chunk, a request that does
 * not fit starts a new chunk (sized for the request if it is large). Reset
 * frees all but the first chunk so a steady workload settles on one chunk and
 * no malloc at all.
 */
#include "cx_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct cx_arena {
    chunk_t *head;  /* current chunk; older ones follow */
    chunk_t *first; /* the chunk kept across resets */
    size_t chunk_size;
    size_t used;
    ProtobufCAllocator pb;
};

static void *s_pb_alloc(void *data, size_t size)
{
    return cx_arena_alloc(data, size);
}
static void s_pb_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

static chunk_t *s_chunk_new(size_t size)
{
    chunk_t *c = malloc(sizeof(chunk_t) + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

cx_arena_t *cx_arena_new(size_t chunk_size)
{
    cx_arena_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    self->first = self->head = s_chunk_new(self->chunk_size);
    if (!self->head) {
        free(self);
        return NULL;
    }
    self->pb.alloc = s_pb_alloc;
    self->pb.free = s_pb_free;
    self->pb.allocator_data = self;
    return self;
}

void cx_arena_destroy(cx_arena_t **pself)
{
    if (!pself || !*pself) return;
    chunk_t *c = (*pself)->head;
    while (c) {
        chunk_t *n = c->next;
        free(c);
        c = n;
    }
    free(*pself);
    *pself = NULL;
}

void *cx_arena_alloc(cx_arena_t *self, size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size) return NULL;
    chunk_t *c = self->head;
    if (c->size - c->used < need) {
        size_t csize = need > self->chunk_size ? need : self->chunk_size;
        chunk_t *n = s_chunk_new(csize);
        if (!n) return NULL;
        n->next = c;
        self->head = c = n;
    }
    void *p = c->data + c->used;
    c->used += need;
    self->used += need;
    return p;
}

char *cx_arena_strdup(cx_arena_t *self, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = cx_arena_alloc(self, n);
    if (d) memcpy(d, s, n);
    return d;
}

void cx_arena_reset(cx_arena_t *self)
{
    chunk_t *c = self->head;
    while (c && c != self->first) {
        chunk_t *n = c->next;
        free(c);
        c = n;
    }
    self->head = self->first;
    self->first->used = 0;
    self->first->next = NULL;
    self->used = 0;
}

size_t cx_arena_used(const cx_arena_t *self)
{
    return self->used;
}

ProtobufCAllocator *cx_arena_allocator(cx_arena_t *self)
{
    return &self->pb;
}
