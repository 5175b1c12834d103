/* dedup.h - the event_id duplicate window.
 *
 * Holds the 64-bit hash of each recent event_id with the log seq it was logged
 * at, bounded by age and by count (oldest out first). A hash hit is only a
 * candidate: the caller confirms it against the logged event, so a hash
 * collision can never turn a new event into a "duplicate". Rebuilt from the
 * log's tail at start.
 */
#ifndef CX_DEDUP_H
#define CX_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct cx_dedup cx_dedup_t;

/* NULL on OOM. window_count 0: the window is off. */
cx_dedup_t *cx_dedup_new(int64_t window_us, uint32_t window_count);
void cx_dedup_destroy(cx_dedup_t **self);
/* true and *log_seq if an event_id with this hash is in the window. */
bool cx_dedup_has(const cx_dedup_t *self, uint64_t hash, uint64_t *log_seq);
/* Adds an entry (the oldest leaves when full). 0 or CX_E_NOMEM. */
int cx_dedup_add(cx_dedup_t *self, uint64_t hash, uint64_t log_seq, int64_t at_us);
/* Drops entries older than now - window. */
void cx_dedup_expire(cx_dedup_t *self, int64_t now_us);
uint32_t cx_dedup_size(const cx_dedup_t *self);

#endif
