/* dedup.c - see dedup.h. A ring of (hash, seq, time) in arrival order indexes
 * the age bound; a u64 map from hash to seq answers lookups in O(1). */
#include "dedup.h"
#include "cx_error.h"
#include "hmap.h"

#include <stdlib.h>

typedef struct { uint64_t hash, seq; int64_t at; } ring_t;

struct cx_dedup {
    int64_t window_us;
    uint32_t cap, head, count; /* head: oldest */
    ring_t *ring;
    cx_u64map_t *map;
};

cx_dedup_t *cx_dedup_new(int64_t window_us, uint32_t window_count)
{
    cx_dedup_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->window_us = window_us;
    self->cap = window_count;
    self->ring = calloc(window_count ? window_count : 1, sizeof(ring_t));
    self->map = cx_u64map_new(window_count < 1024 ? 1024 : window_count);
    if (!self->ring || !self->map) {
        cx_dedup_destroy(&self);
        return NULL;
    }
    return self;
}

void cx_dedup_destroy(cx_dedup_t **pself)
{
    if (!pself || !*pself) return;
    free((*pself)->ring);
    cx_u64map_destroy(&(*pself)->map);
    free(*pself);
    *pself = NULL;
}

bool cx_dedup_has(const cx_dedup_t *self, uint64_t hash, uint64_t *log_seq)
{
    return self->cap && cx_u64map_has(self->map, hash, log_seq);
}

static void s_pop_oldest(cx_dedup_t *self)
{
    ring_t *r = &self->ring[self->head];
    uint64_t seq;
    if (cx_u64map_has(self->map, r->hash, &seq) && seq == r->seq) cx_u64map_remove(self->map, r->hash);
    self->head = (self->head + 1) % self->cap;
    self->count--;
}

int cx_dedup_add(cx_dedup_t *self, uint64_t hash, uint64_t log_seq, int64_t at_us)
{
    if (!self->cap) return 0;
    if (self->count == self->cap) s_pop_oldest(self);
    int rc = cx_u64map_put(self->map, hash, log_seq);
    if (rc) return rc;
    self->ring[(self->head + self->count) % self->cap] = (ring_t){hash, log_seq, at_us};
    self->count++;
    return 0;
}

void cx_dedup_expire(cx_dedup_t *self, int64_t now_us)
{
    while (self->count && self->ring[self->head].at < now_us - self->window_us) s_pop_oldest(self);
}

uint32_t cx_dedup_size(const cx_dedup_t *self) { return self->count; }
