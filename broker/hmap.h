/* hmap.h - two small hash maps the broker keeps its in-memory state in.
 *
 * cx_hmap: string key -> void* value, chained, owns a copy of each key. Used
 * for the context cache, producer sequences and per-batch staging.
 * cx_u64map: u64 key -> u64 value, open addressing with linear probing and
 * backward-shift deletion, no per-entry allocation. Used for the event_id
 * duplicate window, where it holds hashes.
 */
#ifndef CX_HMAP_H
#define CX_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cx_hmap cx_hmap_t;

/* New map; NULL on OOM. */
cx_hmap_t *cx_hmap_new(void);
/* Frees the map and its keys (not the values); sets *self to NULL. */
void cx_hmap_destroy(cx_hmap_t **self);
/* The value stored for key, or NULL. */
void *cx_hmap_get(const cx_hmap_t *self, const char *key);
/* Stores value for key (replacing any). 0 or CX_E_NOMEM. If key_out is not NULL
 * it receives the map's own copy of the key, valid until the entry is removed. */
int cx_hmap_put(cx_hmap_t *self, const char *key, void *value, const char **key_out);
/* Removes key; returns its value or NULL. */
void *cx_hmap_remove(cx_hmap_t *self, const char *key);
size_t cx_hmap_size(const cx_hmap_t *self);
/* Calls fn for each entry; fn must not change the map. */
void cx_hmap_each(const cx_hmap_t *self, void (*fn)(void *arg, const char *key, void *value),
                  void *arg);
/* Removes every entry (keys freed, values untouched). */
void cx_hmap_clear(cx_hmap_t *self);

/* 64-bit FNV-1a hash of n bytes. */
uint64_t cx_hash64(const void *data, size_t n);

typedef struct cx_u64map cx_u64map_t;
cx_u64map_t *cx_u64map_new(size_t expected);
void cx_u64map_destroy(cx_u64map_t **self);
/* true and *value if key is present. */
bool cx_u64map_has(const cx_u64map_t *self, uint64_t key, uint64_t *value);
/* Inserts or replaces. 0 or CX_E_NOMEM. */
int cx_u64map_put(cx_u64map_t *self, uint64_t key, uint64_t value);
void cx_u64map_remove(cx_u64map_t *self, uint64_t key);
size_t cx_u64map_size(const cx_u64map_t *self);

#endif
