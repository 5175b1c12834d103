/* cache.c - the context cache and its checkpoint thread; see cache.h.
 *
 * Packed contexts live in refcounted buffers so that a checkpoint can write a
 * buffer while the event loop replaces the entry's context with a newer one:
 * the job holds a reference, and whichever lets go last frees it. All list and
 * refcount changes happen on the event-loop thread; the checkpoint thread only
 * reads the buffers of its job and calls the store.
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

typedef struct {
    uint32_t refs;
    uint32_t len, cap;
    uint8_t data[];
} buf_t;

enum { CLEAN = 0, DIRTY, PENDING };

typedef struct entry {
    const char *key; /* owned by the hmap */
    buf_t *buf;      /* NULL: erased */
    int state;
    struct entry *prev, *next; /* in the dirty list or the clean LRU list */
} entry_t;

typedef struct {
    entry_t **head;
    entry_t **tail;
    size_t *count;
} list_t;

typedef struct {
    entry_t **entries;
    buf_t **bufs;
    cx_ctx_write_t *items;
    size_t n;
    uint64_t applied_seq;
    int rc;
    int64_t took_us;
} job_t;

struct cx_cache {
    cx_store_t *store;
    cx_hmap_t *map;
    uint32_t max_clean;
    entry_t *dirty_head, *dirty_tail;
    size_t n_dirty;
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

/* A buffer for len bytes, with an eighth more room: a context grows by a few
 * bytes per event, and the next version is then written in place. */
static buf_t *s_buf_alloc(size_t len)
{
    size_t cap = (len + len / 8 + 63) & ~(size_t)63;
    buf_t *b = malloc(sizeof(buf_t) + cap);
    if (!b) return NULL;
    b->refs = 1;
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

static void s_buf_unref(buf_t *b)
{
    if (b && --b->refs == 0) free(b);
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

/* Detaches e from whatever list its state puts it in. */
static void s_detach(cx_cache_t *self, entry_t *e)
{
    if (e->state == DIRTY) {
        s_unlink(&self->dirty_head, &self->dirty_tail, e);
        self->n_dirty--;
    } else if (e->state == CLEAN) {
        s_unlink(&self->lru_head, &self->lru_tail, e);
        self->n_clean--;
    } else
        self->n_pending--;
}

static void s_make_dirty(cx_cache_t *self, entry_t *e)
{
    e->state = DIRTY;
    s_push_front(&self->dirty_head, &self->dirty_tail, e);
    self->n_dirty++;
}

static void s_make_clean(cx_cache_t *self, entry_t *e)
{
    e->state = CLEAN;
    s_push_front(&self->lru_head, &self->lru_tail, e);
    self->n_clean++;
}

static void s_drop(cx_cache_t *self, entry_t *e)
{
    s_detach(self, e);
    cx_hmap_remove(self->map, e->key);
    s_buf_unref(e->buf);
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
        self->job.rc =
            cx_store_ctx_write(self->store, self->job.items, self->job.n, self->job.applied_seq);
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
    s_buf_unref(e->buf);
    free(e);
}

static void s_job_release(cx_cache_t *self)
{
    for (size_t i = 0; i < self->job.n; i++)
        s_buf_unref(self->job.bufs[i]);
    free(self->job.entries);
    free(self->job.bufs);
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
 * none yet), and marks it dirty. On failure b is freed. */
static int s_install(cx_cache_t *self, const char *customer_id, entry_t *e, buf_t *b)
{
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
    if (e->buf != b) s_buf_unref(e->buf);
    e->buf = b;
    if (e->state != DIRTY) {
        s_detach(self, e);
        s_make_dirty(self, e);
    }
    return 0;
}

int cx_cache_put(cx_cache_t *self, const char *customer_id, const uint8_t *data, size_t len)
{
    buf_t *b = NULL;
    if (data && !(b = s_buf_new(data, len))) return CX_E_NOMEM;
    return s_install(self, customer_id, cx_hmap_get(self->map, customer_id), b);
}

int cx_cache_put_packed(cx_cache_t *self, const char *customer_id, size_t len,
                        void (*pack)(const void *arg, uint8_t *out), const void *arg)
{
    entry_t *e = cx_hmap_get(self->map, customer_id);
    /* In place when nothing else holds the buffer (a checkpoint may) and it fits. */
    buf_t *b = e && e->buf && e->buf->refs == 1 && e->buf->cap >= len ? e->buf : s_buf_alloc(len);
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
    size_t n = self->n_dirty;
    job_t *j = &self->job;
    j->entries = malloc((n ? n : 1) * sizeof(entry_t *));
    j->bufs = malloc((n ? n : 1) * sizeof(buf_t *));
    j->items = malloc((n ? n : 1) * sizeof(cx_ctx_write_t));
    if (!j->entries || !j->bufs || !j->items) {
        s_job_release(self);
        return CX_E_NOMEM;
    }
    size_t i = 0;
    for (entry_t *e = self->dirty_head; e; i++) {
        entry_t *next = e->next;
        j->entries[i] = e;
        j->bufs[i] = e->buf;
        if (e->buf) e->buf->refs++;
        j->items[i].customer_id = e->key;
        j->items[i].data = e->buf ? e->buf->data : NULL;
        j->items[i].len = e->buf ? e->buf->len : 0;
        e->prev = e->next = NULL;
        e->state = PENDING;
        e = next;
    }
    self->dirty_head = self->dirty_tail = NULL;
    self->n_dirty = 0;
    self->n_pending = n;
    j->n = n;
    j->applied_seq = applied_seq;
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
    for (size_t i = 0; i < j->n; i++) {
        entry_t *e = j->entries[i];
        if (e->state != PENDING) continue; /* changed meanwhile: dirty again */
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
