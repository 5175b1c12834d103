/* dedup.c - see dedup.h. A ring of (hash, seq, time) in arrival order indexes
 * the age bound; a u64 map from hash to seq answers lookups in O(1). The ring
 * grows by doubling up to window_count, so memory follows what the time window
 * really holds (10 min at 100 events/s is 60,000 entries, not a million). */
#include "dedup.h"
#include "cx_error.h"
#include "hmap.h"

#include <stdlib.h>

typedef struct {
    uint64_t hash, seq;
    int64_t at;
} ring_t;

struct cx_dedup {
    int64_t window_us;
    uint32_t max;              /* window_count */
    uint32_t cap, head, count; /* head: oldest; cap grows up to max */
    ring_t *ring;
    cx_u64map_t *map;
};

cx_dedup_t *cx_dedup_new(int64_t window_us, uint32_t window_count)
{
    cx_dedup_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->window_us = window_us;
    self->max = window_count;
    self->cap = window_count < 4096 ? window_count : 4096;
    self->ring = calloc(self->cap ? self->cap : 1, sizeof(ring_t));
    self->map = cx_u64map_new(4096);
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
    return self->max && cx_u64map_has(self->map, hash, log_seq);
}

static void s_pop_oldest(cx_dedup_t *self)
{
    ring_t *r = &self->ring[self->head];
    uint64_t seq;
    if (cx_u64map_has(self->map, r->hash, &seq) && seq == r->seq)
        cx_u64map_remove(self->map, r->hash);
    self->head = (self->head + 1) % self->cap;
    self->count--;
}

/* Doubles the ring (up to max), oldest entry first in the new one. */
static int s_grow(cx_dedup_t *self)
{
    uint32_t ncap = self->cap > self->max / 2 ? self->max : self->cap * 2;
    ring_t *r = malloc((size_t)ncap * sizeof(ring_t));
    if (!r) return CX_E_NOMEM;
    for (uint32_t i = 0; i < self->count; i++)
        r[i] = self->ring[(self->head + i) % self->cap];
    free(self->ring);
    self->ring = r;
    self->cap = ncap;
    self->head = 0;
    return 0;
}

int cx_dedup_add(cx_dedup_t *self, uint64_t hash, uint64_t log_seq, int64_t at_us)
{
    if (!self->max) return 0;
    if (self->count == self->cap && (self->cap == self->max || s_grow(self) != 0))
        s_pop_oldest(self);
    int rc = cx_u64map_put(self->map, hash, log_seq);
    if (rc) return rc;
    self->ring[(self->head + self->count) % self->cap] = (ring_t){hash, log_seq, at_us};
    self->count++;
    return 0;
}

void cx_dedup_expire(cx_dedup_t *self, int64_t now_us)
{
    while (self->count && self->ring[self->head].at < now_us - self->window_us)
        s_pop_oldest(self);
}

uint32_t cx_dedup_size(const cx_dedup_t *self)
{
    return self->count;
}
