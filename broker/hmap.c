/* hmap.c - see hmap.h. Both maps double their table at 3/4 load. */
#include "hmap.h"
#include "cx_error.h"

#include <stdlib.h>
#include <string.h>

uint64_t cx_hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    /* Final mix so that low bits (the bucket index) depend on every byte. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* ---- string map ---- */

typedef struct node {
    struct node *next;
    uint64_t hash;
    void *value;
    char key[];
} node_t;

struct cx_hmap {
    node_t **buckets;
    size_t nbuckets; /* power of two */
    size_t size;
};

cx_hmap_t *cx_hmap_new(void)
{
    cx_hmap_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->nbuckets = 64;
    self->buckets = calloc(self->nbuckets, sizeof(node_t *));
    if (!self->buckets) {
        free(self);
        return NULL;
    }
    return self;
}

void cx_hmap_clear(cx_hmap_t *self)
{
    for (size_t i = 0; i < self->nbuckets; i++) {
        node_t *n = self->buckets[i];
        while (n) {
            node_t *next = n->next;
            free(n);
            n = next;
        }
        self->buckets[i] = NULL;
    }
    self->size = 0;
}

void cx_hmap_destroy(cx_hmap_t **pself)
{
    if (!pself || !*pself) return;
    cx_hmap_clear(*pself);
    free((*pself)->buckets);
    free(*pself);
    *pself = NULL;
}

static node_t **s_find(const cx_hmap_t *self, const char *key, uint64_t h)
{
    node_t **pp = &self->buckets[h & (self->nbuckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *cx_hmap_get(const cx_hmap_t *self, const char *key)
{
    node_t **pp = s_find(self, key, cx_hash64(key, strlen(key)));
    return *pp ? (*pp)->value : NULL;
}

static int s_grow(cx_hmap_t *self)
{
    size_t nb = self->nbuckets * 2;
    node_t **b = calloc(nb, sizeof(node_t *));
    if (!b) return CX_E_NOMEM;
    for (size_t i = 0; i < self->nbuckets; i++) {
        node_t *n = self->buckets[i];
        while (n) {
            node_t *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(self->buckets);
    self->buckets = b;
    self->nbuckets = nb;
    return 0;
}

int cx_hmap_put(cx_hmap_t *self, const char *key, void *value, const char **key_out)
{
    size_t len = strlen(key);
    uint64_t h = cx_hash64(key, len);
    node_t **pp = s_find(self, key, h);
    if (*pp) {
        (*pp)->value = value;
        if (key_out) *key_out = (*pp)->key;
        return 0;
    }
    if (self->size + 1 > self->nbuckets / 4 * 3 && s_grow(self) == 0) pp = s_find(self, key, h);
    node_t *n = malloc(sizeof(node_t) + len + 1);
    if (!n) return CX_E_NOMEM;
    memcpy(n->key, key, len + 1);
    n->hash = h;
    n->value = value;
    n->next = NULL;
    *pp = n;
    self->size++;
    if (key_out) *key_out = n->key;
    return 0;
}

void *cx_hmap_remove(cx_hmap_t *self, const char *key)
{
    node_t **pp = s_find(self, key, cx_hash64(key, strlen(key)));
    node_t *n = *pp;
    if (!n) return NULL;
    void *v = n->value;
    *pp = n->next;
    free(n);
    self->size--;
    return v;
}

size_t cx_hmap_size(const cx_hmap_t *self)
{
    return self->size;
}

void cx_hmap_each(const cx_hmap_t *self, void (*fn)(void *, const char *, void *), void *arg)
{
    for (size_t i = 0; i < self->nbuckets; i++)
        for (node_t *n = self->buckets[i]; n; n = n->next)
            fn(arg, n->key, n->value);
}

/* ---- u64 map: key 0 marks an empty slot, so key 0 is stored as a flag ---- */

typedef struct {
    uint64_t key, value;
} slot_t;

struct cx_u64map {
    slot_t *slots;
    size_t cap; /* power of two */
    size_t size;
    bool has_zero;
    uint64_t zero_value;
};

cx_u64map_t *cx_u64map_new(size_t expected)
{
    cx_u64map_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->cap = 16;
    while (self->cap < expected * 4 / 3 + 1)
        self->cap *= 2;
    self->slots = calloc(self->cap, sizeof(slot_t));
    if (!self->slots) {
        free(self);
        return NULL;
    }
    return self;
}

void cx_u64map_destroy(cx_u64map_t **pself)
{
    if (!pself || !*pself) return;
    free((*pself)->slots);
    free(*pself);
    *pself = NULL;
}

static size_t s_slot(uint64_t key, size_t cap)
{
    return (size_t)(key * 0x9E3779B97F4A7C15ULL >> 17) & (cap - 1);
}

bool cx_u64map_has(const cx_u64map_t *self, uint64_t key, uint64_t *value)
{
    if (key == 0) {
        if (self->has_zero && value) *value = self->zero_value;
        return self->has_zero;
    }
    for (size_t i = s_slot(key, self->cap);; i = (i + 1) & (self->cap - 1)) {
        if (self->slots[i].key == key) {
            if (value) *value = self->slots[i].value;
            return true;
        }
        if (self->slots[i].key == 0) return false;
    }
}

static void s_insert(slot_t *slots, size_t cap, uint64_t key, uint64_t value, size_t *size)
{
    size_t i = s_slot(key, cap);
    while (slots[i].key != 0 && slots[i].key != key)
        i = (i + 1) & (cap - 1);
    if (slots[i].key == 0) (*size)++;
    slots[i].key = key;
    slots[i].value = value;
}

int cx_u64map_put(cx_u64map_t *self, uint64_t key, uint64_t value)
{
    if (key == 0) {
        if (!self->has_zero) self->size++;
        self->has_zero = true;
        self->zero_value = value;
        return 0;
    }
    if ((self->size + 1) * 4 > self->cap * 3) {
        size_t ncap = self->cap * 2, nsize = self->has_zero ? 1 : 0;
        slot_t *ns = calloc(ncap, sizeof(slot_t));
        if (!ns) return CX_E_NOMEM;
        for (size_t i = 0; i < self->cap; i++)
            if (self->slots[i].key)
                s_insert(ns, ncap, self->slots[i].key, self->slots[i].value, &nsize);
        free(self->slots);
        self->slots = ns;
        self->cap = ncap;
        self->size = nsize;
    }
    s_insert(self->slots, self->cap, key, value, &self->size);
    return 0;
}

void cx_u64map_remove(cx_u64map_t *self, uint64_t key)
{
    if (key == 0) {
        if (self->has_zero) self->size--;
        self->has_zero = false;
        return;
    }
    size_t mask = self->cap - 1, i = s_slot(key, self->cap);
    while (self->slots[i].key != key) {
        if (self->slots[i].key == 0) return;
        i = (i + 1) & mask;
    }
    /* Backward-shift: pull later entries of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (hole + 1) & mask; self->slots[j].key != 0; j = (j + 1) & mask) {
        size_t home = s_slot(self->slots[j].key, self->cap);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].key = 0;
    self->slots[hole].value = 0;
    self->size--;
}

size_t cx_u64map_size(const cx_u64map_t *self)
{
    return self->size;
}
