/* cache.c - the context cache and its checkpoint thread; see cache.h.
 *
 * Packed contexts live in buffers the event loop mostly rewrites in place.
 * Dirty entries are kept by generation, in a vector of (entry, buffer, key)
 * slots. Starting a checkpoint hands the current generation's vector to the
 * thread whole and opens the next generation: no walk over the entries, which
 * on a loop busy with 10k dirty customers was a 1.5 ms stall each time. An
 * entry of the generation being written is "pending": the job owns its buffer,
 * so when it changes it gets a new buffer and joins the current generation,
 * and the job's old buffer is freed when the finished job is taken in, which
 * goes S_POLL_CHUNK slots per call. All entry and list changes happen on the
 * event-loop thread; the checkpoint thread only reads its job's slots and
 * buffers and calls the store.
 */
#include "cache.h"
#include "cx_error.h"
#include "cx_event.h"
#include "hmap.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define S_POLL_CHUNK 1024 /* entries of a finished checkpoint taken in per poll */

typedef struct {
    uint32_t len, cap;
    uint8_t data[];
} buf_t;

enum { CLEAN = 0, DIRTY };

typedef struct entry {
    const char *key; /* owned by the hmap */
    buf_t *buf;      /* NULL: erased */
    int state;
    uint64_t gen;              /* DIRTY: the dirty generation it belongs to ... */
    size_t slot;               /* ... and its slot in that generation's vector */
    struct entry *prev, *next; /* CLEAN: in the LRU list */
} entry_t;

/* A dirty entry as its generation's vector holds it: what a checkpoint writes. */
typedef struct {
    entry_t *e;
    buf_t *buf;
    const char *key;
} slot_t;

typedef struct {
    slot_t *v; /* the generation handed over: owned by the job */
    size_t n;
    uint64_t gen;
    cx_ctx_write_t *items; /* made by the thread */
    size_t absorbed;       /* slots taken in after the job finished */
    uint64_t applied_seq;
    int rc;
    int64_t took_us;
} job_t;

struct cx_cache {
    cx_store_t *store;
    cx_hmap_t *map;
    uint32_t max_clean;
    slot_t *dirty; /* the current dirty generation */
    size_t n_dirty, dirty_cap;
    uint64_t gen;
    entry_t *lru_head, *lru_tail; /* head: most recently used */
    size_t n_clean;
    size_t n_pending;
    job_t job;
    bool job_running;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool job_ready; /* guarded by mu: a job waits for the thread */
    bool stopping;  /* guarded by mu */
    atomic_bool job_done;
    cx_cache_stats_t st;
};

/* A buffer for len bytes, with a sixteenth more room: a context grows by a few
 * bytes per event, and the next version is then written in place. */
static buf_t *s_buf_alloc(size_t len)
{
    size_t cap = (len + len / 16 + 15) & ~(size_t)15;
    buf_t *b = malloc(sizeof(buf_t) + cap);
    if (!b) return NULL;
    b->len = (uint32_t)len;
    b->cap = (uint32_t)cap;
    return b;
}

static buf_t *s_buf_new(const uint8_t *data, size_t len)
{
    buf_t *b = s_buf_alloc(len);
    if (b && len) memcpy(b->data, data, len);
    return b;
}

static void s_buf_free(buf_t *b)
{
    free(b);
}

static void s_unlink(entry_t **head, entry_t **tail, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        *head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        *tail = e->prev;
    e->prev = e->next = NULL;
}

static void s_push_front(entry_t **head, entry_t **tail, entry_t *e)
{
    e->prev = NULL;
    e->next = *head;
    if (*head)
        (*head)->prev = e;
    else
        *tail = e;
    *head = e;
}

/* true while a running checkpoint is writing e's buffer (e is in its generation). */
static bool s_is_pending(const cx_cache_t *self, const entry_t *e)
{
    return e->state == DIRTY && self->job_running && e->gen == self->job.gen;
}

/* Room for `more` slots in the current generation. 0 or CX_E_NOMEM. */
static int s_reserve(cx_cache_t *self, size_t more)
{
    if (self->n_dirty + more <= self->dirty_cap) return 0;
    size_t cap = self->dirty_cap ? self->dirty_cap * 2 : 1024;
    while (cap < self->n_dirty + more)
        cap *= 2;
    slot_t *v = realloc(self->dirty, cap * sizeof *v);
    if (!v) return CX_E_NOMEM;
    self->dirty = v;
    self->dirty_cap = cap;
    return 0;
}

/* e (not CLEAN, not in the current generation) joins the current generation;
 * room was reserved. */
static void s_make_dirty(cx_cache_t *self, entry_t *e)
{
    e->state = DIRTY;
    e->gen = self->gen;
    e->slot = self->n_dirty;
    self->dirty[self->n_dirty++] = (slot_t){e, e->buf, e->key};
}

static void s_make_clean(cx_cache_t *self, entry_t *e)
{
    e->state = CLEAN;
    s_push_front(&self->lru_head, &self->lru_tail, e);
    self->n_clean++;
}

/* Only clean entries are ever dropped: the LRU list is theirs. */
static void s_drop(cx_cache_t *self, entry_t *e)
{
    s_unlink(&self->lru_head, &self->lru_tail, e);
    self->n_clean--;
    cx_hmap_remove(self->map, e->key);
    s_buf_free(e->buf);
    free(e);
}

/* Evicts least recently used clean entries until at most limit are left. */
static void s_evict_to(cx_cache_t *self, size_t limit)
{
    while (self->n_clean > limit && self->lru_tail) {
        s_drop(self, self->lru_tail);
        self->st.evictions++;
    }
}

static void s_evict(cx_cache_t *self)
{
    s_evict_to(self, self->max_clean);
}

static void *s_thread(void *arg)
{
    cx_cache_t *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (!self->job_ready && !self->stopping)
            pthread_cond_wait(&self->cv, &self->mu);
        if (!self->job_ready && self->stopping) break;
        self->job_ready = false;
        pthread_mutex_unlock(&self->mu);
        int64_t t0 = cx_now_us();
        job_t *j = &self->job;
        j->items = malloc((j->n ? j->n : 1) * sizeof *j->items);
        if (j->items) {
            for (size_t i = 0; i < j->n; i++) {
                const buf_t *b = j->v[i].buf;
                j->items[i] = (cx_ctx_write_t){j->v[i].key, b ? b->data : NULL, b ? b->len : 0};
            }
            j->rc = cx_store_ctx_write(self->store, j->items, j->n, j->applied_seq);
        } else {
            j->rc = CX_E_NOMEM;
        }
        self->job.took_us = cx_now_us() - t0;
        atomic_store(&self->job_done, true);
        pthread_mutex_lock(&self->mu);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

cx_cache_t *cx_cache_new(cx_store_t *store, uint32_t max_clean)
{
    cx_cache_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->store = store;
    self->max_clean = max_clean;
    self->map = cx_hmap_new();
    if (!self->map) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    atomic_init(&self->job_done, false);
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        cx_hmap_destroy(&self->map);
        free(self);
        return NULL;
    }
    return self;
}

static void s_free_entry(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    entry_t *e = value;
    s_buf_free(e->buf);
    free(e);
}

static void s_job_release(cx_cache_t *self)
{
    free(self->job.v);
    free(self->job.items);
    memset(&self->job, 0, sizeof self->job);
}

void cx_cache_destroy(cx_cache_t **pself)
{
    if (!pself || !*pself) return;
    cx_cache_t *self = *pself;
    while (self->job_running && !cx_cache_poll(self)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&self->mu);
    self->stopping = true;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    cx_hmap_each(self->map, s_free_entry, NULL);
    cx_hmap_destroy(&self->map);
    free(self->dirty);
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    free(self);
    *pself = NULL;
}

int cx_cache_get(cx_cache_t *self, const char *customer_id, const uint8_t **data, size_t *len)
{
    entry_t *e = cx_hmap_get(self->map, customer_id);
    if (e) {
        self->st.hits++;
        if (!e->buf) return CX_E_UNKNOWN_CUSTOMER;
        if (e->state == CLEAN && e != self->lru_head) {
            s_unlink(&self->lru_head, &self->lru_tail, e);
            s_push_front(&self->lru_head, &self->lru_tail, e);
        }
        *data = e->buf->data;
        *len = e->buf->len;
        return 0;
    }
    self->st.misses++;
    uint8_t *d;
    size_t n;
    int rc = cx_store_ctx_get(self->store, customer_id, &d, &n);
    if (rc) return rc;
    buf_t *b = s_buf_new(d, n);
    free(d);
    e = calloc(1, sizeof(*e));
    if (!b || !e || cx_hmap_put(self->map, customer_id, e, &e->key) != 0) {
        free(b);
        free(e);
        return CX_E_NOMEM;
    }
    e->buf = b;
    /* Make room first, so the entry handed back is never the one evicted
     * (with cache_customers: 0 it would be). */
    s_evict_to(self, self->max_clean ? self->max_clean - 1 : 0);
    s_make_clean(self, e);
    *data = b->data;
    *len = b->len;
    return 0;
}

/* Makes b (NULL: erased) the context of customer_id, whose entry is e (NULL:
 * none yet), and puts it in the current dirty generation. On failure b is
 * freed (unless it is e's own buffer, which stays). */
static int s_install(cx_cache_t *self, const char *customer_id, entry_t *e, buf_t *b)
{
    if (s_reserve(self, 1) != 0) {
        if (!e || e->buf != b) free(b);
        return CX_E_NOMEM;
    }
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e || cx_hmap_put(self->map, customer_id, e, &e->key) != 0) {
            free(e);
            free(b);
            return CX_E_NOMEM;
        }
        e->buf = b;
        s_make_dirty(self, e);
        return 0;
    }
    /* A running checkpoint owns a pending entry's buffer: taking the job in frees it. */
    if (e->buf != b && !s_is_pending(self, e)) s_buf_free(e->buf);
    e->buf = b;
    if (e->state == DIRTY && e->gen == self->gen) {
        self->dirty[e->slot].buf = b;
        return 0;
    }
    if (e->state == CLEAN) {
        s_unlink(&self->lru_head, &self->lru_tail, e);
        self->n_clean--;
    }
    s_make_dirty(self, e); /* from clean, or from the generation being written */
    return 0;
}

int cx_cache_erase(cx_cache_t *self, const char *customer_id)
{
    return s_install(self, customer_id, cx_hmap_get(self->map, customer_id), NULL);
}

int cx_cache_put_packed(cx_cache_t *self, const char *customer_id, size_t len,
                        void (*pack)(const void *arg, uint8_t *out), const void *arg)
{
    entry_t *e = cx_hmap_get(self->map, customer_id);
    if (s_reserve(self, 1) != 0) return CX_E_NOMEM; /* before the bytes change */
    /* In place when nothing else holds the buffer (a checkpoint may) and it fits. */
    bool own = e && e->buf && !s_is_pending(self, e) && e->buf->cap >= len;
    buf_t *b = own ? e->buf : s_buf_alloc(len);
    if (!b) return CX_E_NOMEM;
    pack(arg, b->data);
    b->len = (uint32_t)len;
    return s_install(self, customer_id, e, b);
}

size_t cx_cache_dirty(const cx_cache_t *self)
{
    return self->n_dirty;
}

bool cx_cache_is_checkpointing(const cx_cache_t *self)
{
    return self->job_running;
}

int cx_cache_checkpoint_start(cx_cache_t *self, uint64_t applied_seq)
{
    if (self->job_running) return CX_E_INVAL;
    /* The whole current generation goes to the job as it is: no walk here. */
    job_t *j = &self->job;
    *j = (job_t){.v = self->dirty, .n = self->n_dirty, .gen = self->gen};
    j->applied_seq = applied_seq;
    self->dirty = NULL;
    self->n_dirty = self->dirty_cap = 0;
    self->gen++;
    self->n_pending = j->n;
    self->job_running = true;
    atomic_store(&self->job_done, false);
    pthread_mutex_lock(&self->mu);
    self->job_ready = true;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    return 0;
}

bool cx_cache_poll(cx_cache_t *self)
{
    if (!self->job_running || !atomic_load(&self->job_done)) return false;
    job_t *j = &self->job;
    bool ok = j->rc == 0;
    size_t end = j->n - j->absorbed > S_POLL_CHUNK ? j->absorbed + S_POLL_CHUNK : j->n;
    /* A failed job's entries go back to the current generation: room first. */
    if (!ok && s_reserve(self, end - j->absorbed) != 0) return false;
    for (size_t i = j->absorbed; i < end; i++) {
        entry_t *e = j->v[i].e;
        if (!s_is_pending(self, e)) { /* changed meanwhile: in the current generation */
            if (e->buf != j->v[i].buf) s_buf_free(j->v[i].buf);
            continue;
        }
        self->n_pending--;
        if (!ok) {
            s_make_dirty(self, e);
        } else if (!e->buf) { /* erased and now deleted from the store */
            cx_hmap_remove(self->map, e->key);
            free(e);
        } else {
            s_make_clean(self, e);
        }
    }
    j->absorbed = end;
    if (end < j->n) return false; /* the rest at the next polls */
    if (ok) {
        self->st.checkpoints++;
        self->st.checkpoint_seq = j->applied_seq;
        self->st.last_checkpoint_items = j->n;
        self->st.last_checkpoint_us = (uint64_t)j->took_us;
        cx_log(CX_LOG_DEBUG, "checkpoint: %zu contexts through log seq %llu in %lld us", j->n,
               (unsigned long long)j->applied_seq, (long long)j->took_us);
    } else {
        self->st.checkpoint_failures++;
        cx_log(CX_LOG_ERROR, "checkpoint of %zu contexts failed: %s; will retry", j->n,
               cx_strerror(j->rc));
    }
    s_job_release(self);
    self->job_running = false;
    s_evict(self);
    return true;
}

int cx_cache_checkpoint_sync(cx_cache_t *self, uint64_t applied_seq)
{
    while (self->job_running && !cx_cache_poll(self)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    int rc = cx_cache_checkpoint_start(self, applied_seq);
    if (rc) return rc;
    while (!cx_cache_poll(self)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return self->st.checkpoint_seq == applied_seq ? 0 : CX_E_STORAGE;
}

void cx_cache_stats(const cx_cache_t *self, cx_cache_stats_t *out)
{
    *out = self->st;
    out->entries = cx_hmap_size(self->map);
    out->dirty = self->n_dirty;
    out->clean = self->n_clean;
}
