/* broker.h - the state the event loop owns, shared by its modules.
 *
 * One thread runs the loop (server.c): it owns every socket, the log
 * environment and the cache, so ingest, delivery and admin touch this struct
 * without locks. The checkpoint thread (cache.c) is the only other thread.
 */
#ifndef CX_BROKER_H
#define CX_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"
#include "cx_arena.h"
#include "dedup.h"
#include "hmap.h"
#include "store.h"

#define CX_REASONS 32 /* counters per CX_E_* code, indexed by -code */

typedef struct {
    uint64_t accepted, rejected, duplicates, batches, frames_dropped;
    uint64_t rejected_by[CX_REASONS];
    uint64_t deliveries, deliveries_skipped, partner_acks;
    uint64_t log_pruned;
} cx_counters_t;

typedef struct cx_deliveries cx_deliveries_t;
typedef struct cx_batch cx_batch_t;

typedef struct cx_broker {
    cx_config_t *cfg; /* current snapshot; swapped whole on reload */
    char *config_path;
    void *zctx;
    void *pub_sock, *deliver_sock, *admin_sock;
    cx_store_t *store;
    cx_cache_t *cache;
    cx_dedup_t *dedup;
    cx_hmap_t *producers; /* producer id -> producer_t */
    cx_arena_t *arena;    /* reset per batch */
    cx_batch_t *batch;    /* ingest's per-batch scratch (ingest.c) */
    cx_deliveries_t *delivery;
    uint64_t last_seq; /* last committed log seq */
    cx_counters_t n;
    int64_t started_us;
    int64_t last_checkpoint_us;
    int64_t last_batch_us; /* when the last ingest batch ended */
    volatile int *stop;    /* set by the signal handler */
    bool storage_full;     /* the last batch hit a full map */
    int fatal;             /* memory no longer matches the log: stop, exit non-zero */
} cx_broker_t;

typedef struct {
    uint64_t seq;
    int64_t at;
} cx_producer_t;

/* Reads up to cfg->batch_max publish messages waiting on pub_sock and processes
 * them as one batch: one write transaction, then one reply per publisher.
 * Returns the number of messages taken (0 if none waited) or a CX_E_*. */
int cx_ingest_pump(cx_broker_t *b);

/* Frees ingest's scratch (b->batch). */
void cx_ingest_destroy(cx_broker_t *b);

/* Rebuilds the in-memory state at start: producer table, contexts since the
 * last checkpoint (replayed from the log), the event_id window. 0 or CX_E_*. */
int cx_ingest_recover(cx_broker_t *b);

/* Receives and drops the rest of a multipart message (server.c). */
void cx_zmq_drain(void *sock);

/* Counts a rejection by code. */
static inline void cx_count_reject(cx_broker_t *b, int code)
{
    b->n.rejected++;
    if (code < 0 && -code < CX_REASONS) b->n.rejected_by[-code]++;
}

#endif
