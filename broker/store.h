/* store.h - the broker's LMDB storage: the log environment and the state environment.
 *
 * The log environment holds what the acked path writes, all of it appends or a
 * handful of small keys: the event log (seq -> event), the partner streams
 * (one db per partner, "stream.N": seq -> log seq + route), partner cursors,
 * producer sequences.
 * Its write transaction is committed once per batch, fsync'd with sync: full.
 *
 * The state environment holds what is keyed by customer: contexts, and the log
 * seq they include (meta "applied_seq"). It is written only by the checkpoint
 * thread, in large transactions off the acked path. After a crash the broker
 * replays the log from applied_seq + 1.
 *
 * Threads: the event-loop thread owns the log environment and reads the state
 * environment; the checkpoint thread writes the state environment. Nothing
 * outside store.c and ingest.c assumes the log is a local LMDB database.
 */
#ifndef CX_STORE_H
#define CX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct cx_store cx_store_t;

/* Partner numbers (one per partner id ever configured) stay below this: each
 * has its own stream db, and LMDB sizes its tables for a fixed number of dbs. */
#define CX_STORE_MAX_STREAMS 1024

/* Opens (creating) DIR/log and DIR/state. 0 and *out, or CX_E_STORAGE/CX_E_IO with
 * err filled ("var/data/log: mdb_env_open: Permission denied"). */
int cx_store_open(const char *dir, uint64_t log_map_size, uint64_t state_map_size, cx_sync_t sync,
                  cx_store_t **out, char *err, size_t errlen);
void cx_store_destroy(cx_store_t **self);

/* ---- log environment: the write path (event-loop thread only) ---- */

/* Starts the batch's write transaction. 0 or CX_E_STORAGE. */
int cx_store_begin(cx_store_t *self);
/* Appends the event at seq (must be greater than every seq before). */
int cx_store_log_append(cx_store_t *self, uint64_t seq, const void *data, size_t len);
/* Records the last sequence seen from a producer, with the time it was seen. */
int cx_store_producer_put(cx_store_t *self, const char *producer_id, uint64_t seq, int64_t at_us);
/* Appends a stream entry for a partner: stream_seq -> (log_seq, route), in the
 * partner's own db (opened by cx_store_partner_num; CX_E_INVAL if it was not).
 * stream_seq must be greater than every one before in that stream. */
int cx_store_stream_append(cx_store_t *self, uint32_t partner_num, uint64_t stream_seq,
                           uint64_t log_seq, const char *route);
/* Stores a partner's acked cursor. */
int cx_store_cursor_put(cx_store_t *self, const char *partner_id, uint64_t seq);
/* Commits the batch. 0, CX_E_STORAGE_FULL (map full: nothing of the batch is
 * kept) or CX_E_STORAGE. */
int cx_store_commit(cx_store_t *self);
/* Abandons the batch. */
void cx_store_abort(cx_store_t *self);
/* true if a write transaction is open. */
bool cx_store_is_writing(const cx_store_t *self);

/* ---- log environment: reads (event-loop thread) ---- */

/* Last log seq written (0 if empty), first seq present, and entry count. */
int cx_store_log_bounds(cx_store_t *self, uint64_t *first, uint64_t *last, uint64_t *count);
/* Calls fn for each log entry with seq >= from, in order, until fn returns non-zero
 * (which is then returned) or the log ends (0). Data is valid only during fn. */
int cx_store_log_scan(cx_store_t *self, uint64_t from,
                      int (*fn)(void *arg, uint64_t seq, const void *data, size_t len), void *arg);
/* Like scan, backwards from the last entry. */
int cx_store_log_scan_back(cx_store_t *self,
                           int (*fn)(void *arg, uint64_t seq, const void *data, size_t len),
                           void *arg);

/* A malloc'd copy of the event at seq, own read transaction (any time, rare
 * paths such as confirming a duplicate). 0, CX_E_INVAL if absent, CX_E_*. */
int cx_store_log_fetch(cx_store_t *self, uint64_t seq, uint8_t **data, size_t *len);

/* A read view of the log env, for delivery: begin, any number of gets, end. */
int cx_store_read_begin(cx_store_t *self);
void cx_store_read_end(cx_store_t *self);
/* The event at seq within the read view: 0 with data/len (valid until read_end),
 * CX_E_INVAL if absent (removed by retention or erasure), CX_E_STORAGE. */
int cx_store_log_get(cx_store_t *self, uint64_t seq, const void **data, size_t *len);
/* A stream entry as read; the strings point into the read view (not terminated). */
typedef struct {
    uint64_t stream_seq, log_seq;
    const char *route;
    size_t route_len;
} cx_stream_entry_t;

/* Stream entries of partner_num with stream seq > after, at most max of them, within
 * the read view: fn is called for each until it returns non-zero. Returns the
 * number visited or a CX_E_*. */
int cx_store_stream_scan(cx_store_t *self, uint32_t partner_num, uint64_t after, size_t max,
                         int (*fn)(void *arg, const cx_stream_entry_t *e), void *arg);
/* Last stream seq of a partner (0 if none). Own read transaction. */
int cx_store_stream_last(cx_store_t *self, uint32_t partner_num, uint64_t *last);

/* Retention: deletes, in one transaction, log entries with seq <= log_upto whose
 * accepted_at is before older_than_us (oldest first, stopping at the first
 * younger one), and each listed partner's stream entries with seq <= its
 * cursor; at most max of each. Not inside a batch. *n_log and *n_stream get
 * what was deleted. 0, CX_E_STORAGE_FULL, CX_E_STORAGE. */
int cx_store_prune(cx_store_t *self, uint64_t log_upto, int64_t older_than_us,
                   const uint32_t *partner_nums, const uint64_t *cursors, size_t n_partners,
                   size_t max, uint64_t *n_log, uint64_t *n_stream);
/* The log seq referenced by a partner's stream entry, within the read view. 0,
 * CX_E_INVAL if there is no such entry. */
int cx_store_stream_get(cx_store_t *self, uint32_t partner_num, uint64_t stream_seq,
                        uint64_t *log_seq);

/* Loaded at start: producer table, cursors, partner numbers. fn per entry. */
int cx_store_producers_load(cx_store_t *self,
                            int (*fn)(void *arg, const char *producer, uint64_t seq, int64_t at),
                            void *arg);
int cx_store_cursor_get(cx_store_t *self, const char *partner_id, uint64_t *seq);
/* The stable number of a partner id, assigned (and committed) on first use. */
int cx_store_partner_num(cx_store_t *self, const char *partner_id, uint32_t *num);

/* ---- state environment ---- */

/* A customer's packed context: 0 and a malloc'd copy in *data (caller frees),
 * CX_E_UNKNOWN_CUSTOMER if absent, CX_E_STORAGE. Any thread. */
int cx_store_ctx_get(cx_store_t *self, const char *customer_id, uint8_t **data, size_t *len);

typedef struct {
    const char *customer_id;
    const uint8_t *data; /* NULL: delete the customer's context */
    size_t len;
} cx_ctx_write_t;

/* Writes contexts and applied_seq in one transaction (checkpoint thread). 0,
 * CX_E_STORAGE_FULL or CX_E_STORAGE. */
int cx_store_ctx_write(cx_store_t *self, cx_ctx_write_t *items, size_t n, uint64_t applied_seq);
/* The log seq every stored context includes (0 for a new store). */
int cx_store_applied_seq(cx_store_t *self, uint64_t *seq);
/* Number of stored contexts. */
int cx_store_ctx_count(cx_store_t *self, uint64_t *n);

/* Bytes used by each environment's data file (for stats and benchmarks). */
void cx_store_sizes(cx_store_t *self, uint64_t *log_bytes, uint64_t *state_bytes);

#endif
