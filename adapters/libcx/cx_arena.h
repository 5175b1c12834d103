/* cx_arena.h - a bump allocator, reset as a whole.
 *
 * The hot path allocates nothing per event from malloc: protobuf-c unpacks and
 * the reducer's new arrays come from an arena that is reset once per batch.
 * `cx_arena_allocator(a)` gives a ProtobufCAllocator whose free is a no-op, so
 * never call protobuf_c_message_free_unpacked on arena memory: reset instead.
 */
#ifndef CX_ARENA_H
#define CX_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct cx_arena cx_arena_t;

/* New arena with chunks of at least chunk_size bytes (0: 64 KiB). NULL on OOM. */
cx_arena_t *cx_arena_new(size_t chunk_size);
/* Frees every chunk and the arena; sets *self to NULL. */
void cx_arena_destroy(cx_arena_t **self);
/* size bytes aligned to 16, or NULL on OOM. Memory lives until the next reset. */
void *cx_arena_alloc(cx_arena_t *self, size_t size);
/* Copy of s (NUL-terminated) in the arena; NULL on OOM or s == NULL. */
char *cx_arena_strdup(cx_arena_t *self, const char *s);
/* Forgets everything allocated; keeps the first chunk for reuse, frees the rest. */
void cx_arena_reset(cx_arena_t *self);
/* Bytes handed out since the last reset. */
size_t cx_arena_used(const cx_arena_t *self);
/* A protobuf-c allocator backed by this arena; valid while the arena lives. */
ProtobufCAllocator *cx_arena_allocator(cx_arena_t *self);

#endif
