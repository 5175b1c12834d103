/* cache.h - customers' contexts in memory, and their checkpoints to the state env.
 *
 * The cache holds packed contexts: those changed since the last checkpoint
 * (dirty, never evicted), those being written by a checkpoint (pending), and
 * up to max_clean clean ones, evicted least recently used first. A miss reads
 * the state environment, which is exact because only clean entries are ever
 * evicted. A checkpoint hands every dirty context to a thread that writes them
 * with the log seq they include in one transaction; the event loop goes on.
 */
#ifndef CX_CACHE_H
#define CX_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct cx_cache cx_cache_t;

typedef struct {
    uint64_t entries, dirty, clean;
    uint64_t hits, misses, evictions;
    uint64_t checkpoints, checkpoint_failures;
    uint64_t checkpoint_seq; /* applied_seq of the last completed checkpoint */
    uint64_t last_checkpoint_items;
    uint64_t last_checkpoint_us; /* how long the last one took */
} cx_cache_stats_t;

/* New cache over store (not owned); starts the checkpoint thread. NULL on failure. */
cx_cache_t *cx_cache_new(cx_store_t *store, uint32_t max_clean);
/* Finishes a running checkpoint, stops the thread, frees everything. Does not
 * write dirty entries: call cx_cache_checkpoint_sync first for a clean stop. */
void cx_cache_destroy(cx_cache_t **self);

/* The packed context of customer_id: 0 with data and len valid until the next call
 * that changes the cache, or CX_E_UNKNOWN_CUSTOMER, or a CX_E_* from the store. */
int cx_cache_get(cx_cache_t *self, const char *customer_id, const uint8_t **data, size_t *len);

/* Marks customer_id erased: its context is deleted from the store at the next
 * checkpoint, and a get says CX_E_UNKNOWN_CUSTOMER. 0 or CX_E_NOMEM. */
int cx_cache_erase(cx_cache_t *self, const char *customer_id);

/* Installs a context of len bytes, which pack(arg, out) writes straight into
 * the cache's buffer (the entry's own when it is free and big enough: no copy,
 * and mostly no allocation), and marks it dirty. 0 or CX_E_NOMEM. */
int cx_cache_put_packed(cx_cache_t *self, const char *customer_id, size_t len,
                        void (*pack)(const void *arg, uint8_t *out), const void *arg);

/* Number of dirty contexts. */
size_t cx_cache_dirty(const cx_cache_t *self);
/* true while a checkpoint is being written. */
bool cx_cache_is_checkpointing(const cx_cache_t *self);
/* Starts a checkpoint of every dirty context as of applied_seq (the last log seq
 * whose effects the cache holds). 0, or CX_E_INVAL if one is running. */
int cx_cache_checkpoint_start(cx_cache_t *self, uint64_t applied_seq);
/* Takes in a finished checkpoint, if any: marks its contexts clean, evicts. Call
 * from the event loop often. true if a checkpoint finished. */
bool cx_cache_poll(cx_cache_t *self);
/* Runs a whole checkpoint and waits for it (start-up after replay, shutdown). */
int cx_cache_checkpoint_sync(cx_cache_t *self, uint64_t applied_seq);

void cx_cache_stats(const cx_cache_t *self, cx_cache_stats_t *out);

#endif
