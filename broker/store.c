/* store.c - LMDB environments of the broker; see store.h for the layout.
 *
 * Keys that grow (log seq, stream seq) are big-endian u64 so LMDB's byte order
 * is their numeric order and MDB_APPEND applies: an append touches only the
 * rightmost leaf page, which is why the acked path stays near raw append speed.
 * Every LMDB error becomes a CX_E_* code here; MDB_MAP_FULL is CX_E_STORAGE_FULL.
 */
#include "store.h"
#include "cx_error.h"
#include "log.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct cx_store {
    MDB_env *log_env;
    MDB_dbi db_log, db_cursor, db_producer, db_partner;
    MDB_dbi *streams; /* by partner number; 0: not open yet */
    uint32_t n_streams;
    MDB_txn *wtxn;       /* the batch's write transaction */
    MDB_txn *rtxn;       /* delivery's read view, while open */
    MDB_txn *rtxn_spare; /* the same transaction, reset: renewed, not allocated */
    MDB_env *state_env;
    MDB_dbi db_ctx, db_meta;
    char dir[512];
};

static void s_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t s_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static int s_code(int rc)
{
    if (rc == 0) return 0;
    if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == MDB_TXN_FULL) return CX_E_STORAGE_FULL;
    return CX_E_STORAGE;
}

/* A malloc'd copy of a value (it is valid only inside its transaction). */
static int s_copy_out(const MDB_val *v, uint8_t **data, size_t *len)
{
    *data = malloc(v->mv_size ? v->mv_size : 1);
    if (!*data) return CX_E_NOMEM;
    memcpy(*data, v->mv_data, v->mv_size);
    *len = v->mv_size;
    return 0;
}

/* s_code for a write, logging what LMDB said unless the map is simply full. */
static int s_put_code(int rc, const char *what)
{
    if (rc && rc != MDB_MAP_FULL) cx_log(CX_LOG_ERROR, "log: %s: %s", what, mdb_strerror(rc));
    return s_code(rc);
}

static int s_open_env(const char *path, uint64_t map_size, unsigned flags, int maxdbs,
                      MDB_env **out, char *err, size_t errlen)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return CX_E_IO;
    }
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc == 0) rc = mdb_env_set_maxdbs(env, (MDB_dbi)maxdbs);
    if (rc == 0) rc = mdb_env_set_mapsize(env, (size_t)map_size);
    if (rc == 0) rc = mdb_env_set_maxreaders(env, 16);
    if (rc == 0) rc = mdb_env_open(env, path, flags | MDB_NOTLS, 0640);
    if (rc != 0) {
        snprintf(err, errlen, "%s: mdb_env_open: %s", path, mdb_strerror(rc));
        mdb_env_close(env);
        return CX_E_STORAGE;
    }
    *out = env;
    return 0;
}

static int s_open_dbs(MDB_env *env, const char **names, MDB_dbi **dbis, int n, char *err,
                      size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = mdb_dbi_open(txn, names[i], MDB_CREATE, dbis[i]);
        if (rc) snprintf(err, errlen, "db %s: %s", names[i], mdb_strerror(rc));
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc && !err[0]) snprintf(err, errlen, "opening databases: %s", mdb_strerror(rc));
    return rc ? CX_E_STORAGE : 0;
}

/* Earlier versions kept every partner's stream in one db named "stream"; its
 * entries would be ignored now, so a data dir holding any is refused. */
static int s_check_layout(MDB_env *env, const char *path, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st = {0};
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc) return CX_E_STORAGE;
    rc = mdb_dbi_open(txn, "stream", 0, &dbi);
    if (rc == 0) mdb_stat(txn, dbi, &st);
    mdb_txn_abort(txn);
    if (rc != 0 || st.ms_entries == 0) return 0;
    snprintf(err, errlen,
             "%s: holds %zu partner stream entries in the layout of an earlier version (one "
             "\"stream\" db); this version keeps a db per partner: let partners drain the "
             "old broker, then start on an empty storage.path",
             path, (size_t)st.ms_entries);
    return CX_E_STORAGE;
}

int cx_store_open(const char *dir, uint64_t log_map_size, uint64_t state_map_size, cx_sync_t sync,
                  cx_store_t **out, char *err, size_t errlen)
{
    err[0] = '\0';
    /* mkdir -p: every missing folder on the way. */
    char path0[512];
    snprintf(path0, sizeof path0, "%s", dir);
    for (char *p = path0 + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path0, 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create: %s", path0, strerror(errno));
            return CX_E_IO;
        }
        *p = c;
        if (c == '\0') break;
    }
    cx_store_t *self = calloc(1, sizeof(*self));
    if (!self) return CX_E_NOMEM;
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    char path[600];
    /* sync: full fsyncs each commit; batch skips the meta-page fsync (the last
     * commit may roll back on power loss, never corrupts); none leaves flushing to
     * the OS (a kill -9 still loses nothing, a power cut may). */
    unsigned flags = sync == CX_SYNC_NONE ? MDB_NOSYNC : sync == CX_SYNC_BATCH ? MDB_NOMETASYNC : 0;
    snprintf(path, sizeof path, "%s/log", dir);
    int rc = s_open_env(path, log_map_size, flags, 8 + CX_STORE_MAX_STREAMS, &self->log_env, err,
                        errlen);
    if (rc) goto fail;
    const char *lnames[] = {"log", "cursor", "producer", "partner"};
    MDB_dbi *ldbis[] = {&self->db_log, &self->db_cursor, &self->db_producer, &self->db_partner};
    rc = s_open_dbs(self->log_env, lnames, ldbis, 4, err, errlen);
    if (rc == 0) rc = s_check_layout(self->log_env, path, err, errlen);
    if (rc) goto fail;
    snprintf(path, sizeof path, "%s/state", dir);
    /* Always fsync'd: one commit per checkpoint, off the acked path, and
     * applied_seq must never claim more than the disk holds. */
    rc = s_open_env(path, state_map_size, 0, 4, &self->state_env, err, errlen);
    if (rc) goto fail;
    const char *snames[] = {"ctx", "meta"};
    MDB_dbi *sdbis[] = {&self->db_ctx, &self->db_meta};
    rc = s_open_dbs(self->state_env, snames, sdbis, 2, err, errlen);
    if (rc) goto fail;
    *out = self;
    return 0;
fail:
    cx_store_destroy(&self);
    return rc;
}

void cx_store_destroy(cx_store_t **pself)
{
    if (!pself || !*pself) return;
    cx_store_t *self = *pself;
    if (self->wtxn) mdb_txn_abort(self->wtxn);
    if (self->rtxn) mdb_txn_abort(self->rtxn);
    if (self->rtxn_spare) mdb_txn_abort(self->rtxn_spare);
    free(self->streams);
    if (self->log_env) mdb_env_close(self->log_env);
    if (self->state_env) mdb_env_close(self->state_env);
    free(self);
    *pself = NULL;
}

/* ---- write path ---- */

int cx_store_begin(cx_store_t *self)
{
    if (self->wtxn) return 0;
    int rc = mdb_txn_begin(self->log_env, NULL, 0, &self->wtxn);
    if (rc) {
        cx_log(CX_LOG_ERROR, "log: begin transaction: %s", mdb_strerror(rc));
        self->wtxn = NULL;
    }
    return s_code(rc);
}

bool cx_store_is_writing(const cx_store_t *self)
{
    return self->wtxn != NULL;
}

int cx_store_log_append(cx_store_t *self, uint64_t seq, const void *data, size_t len)
{
    unsigned char k[8];
    s_put_be64(k, seq);
    MDB_val key = {8, k}, val = {len, (void *)data};
    return s_put_code(mdb_put(self->wtxn, self->db_log, &key, &val, MDB_APPEND), "append event");
}

int cx_store_producer_put(cx_store_t *self, const char *producer_id, uint64_t seq, int64_t at_us)
{
    uint64_t v[2] = {seq, (uint64_t)at_us};
    MDB_val key = {strlen(producer_id), (void *)producer_id}, val = {sizeof v, v};
    return s_put_code(mdb_put(self->wtxn, self->db_producer, &key, &val, 0), "producer seq");
}

/* The stream db of a partner number, 0 if cx_store_partner_num did not open it. */
static MDB_dbi s_stream(const cx_store_t *self, uint32_t partner_num)
{
    return partner_num < self->n_streams ? self->streams[partner_num] : 0;
}

int cx_store_stream_append(cx_store_t *self, uint32_t partner_num, uint64_t stream_seq,
                           uint64_t log_seq, const char *route)
{
    /* value: log seq (8, BE) | route name; the customer is in the event */
    unsigned char k[8], v[8 + 255];
    MDB_dbi dbi = s_stream(self, partner_num);
    if (!dbi) return CX_E_INVAL;
    size_t rlen = strlen(route);
    if (rlen > 255) rlen = 255;
    s_put_be64(k, stream_seq);
    s_put_be64(v, log_seq);
    memcpy(v + 8, route, rlen);
    MDB_val key = {8, k}, val = {8 + rlen, v};
    /* A db per partner, so every partner's stream grows at its db's end: full pages. */
    return s_put_code(mdb_put(self->wtxn, dbi, &key, &val, MDB_APPEND), "stream entry");
}

int cx_store_cursor_put(cx_store_t *self, const char *partner_id, uint64_t seq)
{
    MDB_val key = {strlen(partner_id), (void *)partner_id}, val = {8, &seq};
    return s_put_code(mdb_put(self->wtxn, self->db_cursor, &key, &val, 0), "partner cursor");
}

int cx_store_commit(cx_store_t *self)
{
    if (!self->wtxn) return 0;
    int rc = mdb_txn_commit(self->wtxn);
    self->wtxn = NULL;
    if (rc) cx_log(CX_LOG_ERROR, "log: commit: %s", mdb_strerror(rc));
    return s_code(rc);
}

void cx_store_abort(cx_store_t *self)
{
    if (self->wtxn) mdb_txn_abort(self->wtxn);
    self->wtxn = NULL;
}

/* ---- log reads ---- */

int cx_store_log_bounds(cx_store_t *self, uint64_t *first, uint64_t *last, uint64_t *count)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->log_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    *first = *last = 0;
    if (count) {
        MDB_stat st;
        mdb_stat(txn, self->db_log, &st);
        *count = st.ms_entries;
    }
    rc = mdb_cursor_open(txn, self->db_log, &cur);
    if (rc == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8)
            *first = s_get_be64(k.mv_data);
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
            *last = s_get_be64(k.mv_data);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return s_code(rc);
}

static int s_scan(cx_store_t *self, uint64_t from, bool back,
                  int (*fn)(void *, uint64_t, const void *, size_t), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->log_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    rc = mdb_cursor_open(txn, self->db_log, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return s_code(rc);
    }
    unsigned char kb[8];
    s_put_be64(kb, from);
    MDB_val k = {8, kb}, v;
    int ret = 0;
    rc = mdb_cursor_get(cur, &k, &v, back ? MDB_LAST : MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size == 8) {
            ret = fn(arg, s_get_be64(k.mv_data), v.mv_data, v.mv_size);
            if (ret) break;
        }
        rc = mdb_cursor_get(cur, &k, &v, back ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (ret) return ret;
    return rc == MDB_NOTFOUND ? 0 : s_code(rc);
}

int cx_store_log_scan(cx_store_t *self, uint64_t from,
                      int (*fn)(void *, uint64_t, const void *, size_t), void *arg)
{
    return s_scan(self, from, false, fn, arg);
}

int cx_store_log_scan_back(cx_store_t *self, int (*fn)(void *, uint64_t, const void *, size_t),
                           void *arg)
{
    return s_scan(self, 0, true, fn, arg);
}

int cx_store_log_fetch(cx_store_t *self, uint64_t seq, uint8_t **data, size_t *len)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->log_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    unsigned char kb[8];
    s_put_be64(kb, seq);
    MDB_val k = {8, kb}, v;
    rc = mdb_get(txn, self->db_log, &k, &v);
    int ret = rc == MDB_NOTFOUND ? CX_E_INVAL : rc ? s_code(rc) : s_copy_out(&v, data, len);
    mdb_txn_abort(txn);
    return ret;
}

int cx_store_read_begin(cx_store_t *self)
{
    if (self->rtxn) return 0;
    if (self->rtxn_spare) {
        int rc = mdb_txn_renew(self->rtxn_spare);
        if (rc == 0) {
            self->rtxn = self->rtxn_spare;
            self->rtxn_spare = NULL;
            return 0;
        }
        mdb_txn_abort(self->rtxn_spare);
        self->rtxn_spare = NULL;
    }
    return s_code(mdb_txn_begin(self->log_env, NULL, MDB_RDONLY, &self->rtxn));
}

void cx_store_read_end(cx_store_t *self)
{
    if (!self->rtxn) return;
    mdb_txn_reset(self->rtxn); /* kept for the next read_begin: no allocation per pump */
    self->rtxn_spare = self->rtxn;
    self->rtxn = NULL;
}

int cx_store_log_get(cx_store_t *self, uint64_t seq, const void **data, size_t *len)
{
    unsigned char kb[8];
    s_put_be64(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(self->rtxn, self->db_log, &k, &v);
    if (rc == MDB_NOTFOUND) return CX_E_INVAL;
    if (rc) return s_code(rc);
    *data = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int cx_store_stream_scan(cx_store_t *self, uint32_t partner_num, uint64_t after, size_t max,
                         int (*fn)(void *, const cx_stream_entry_t *), void *arg)
{
    MDB_dbi dbi = s_stream(self, partner_num);
    if (!dbi) return CX_E_INVAL;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(self->rtxn, dbi, &cur);
    if (rc) return s_code(rc);
    unsigned char kb[8];
    s_put_be64(kb, after + 1);
    MDB_val k = {8, kb}, v;
    size_t n = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < max) {
        if (k.mv_size != 8 || v.mv_size < 8) break;
        const unsigned char *vp = v.mv_data;
        cx_stream_entry_t e = {s_get_be64(k.mv_data), s_get_be64(vp), (const char *)vp + 8,
                               v.mv_size - 8};
        int r = fn(arg, &e);
        n++;
        if (r) break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return (rc == 0 || rc == MDB_NOTFOUND) ? (int)n : s_code(rc);
}

int cx_store_stream_last(cx_store_t *self, uint32_t partner_num, uint64_t *last)
{
    MDB_dbi dbi = s_stream(self, partner_num);
    MDB_txn *txn;
    MDB_cursor *cur;
    *last = 0;
    if (!dbi) return CX_E_INVAL;
    int rc = mdb_txn_begin(self->log_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
            *last = s_get_be64(k.mv_data);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return s_code(rc);
}

/* accepted_at of a logged event: the broker appends it as the last 9 bytes
 * (field 6, fixed64), so no decode is needed. -1 if the record is not ours. */
static int64_t s_accepted_at(const MDB_val *v)
{
    if (v->mv_size < 9) return -1;
    const unsigned char *p = (const unsigned char *)v->mv_data + v->mv_size - 9;
    if (p[0] != ((6 << 3) | 1)) return -1;
    uint64_t t = 0;
    for (int i = 8; i >= 1; i--)
        t = t << 8 | p[i];
    return (int64_t)t;
}

int cx_store_prune(cx_store_t *self, uint64_t log_upto, int64_t older_than_us,
                   const uint32_t *partner_nums, const uint64_t *cursors, size_t n_partners,
                   size_t max, uint64_t *n_log, uint64_t *n_stream)
{
    *n_log = *n_stream = 0;
    if (self->wtxn) return CX_E_INVAL;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->log_env, NULL, 0, &txn);
    if (rc) return s_code(rc);
    rc = mdb_cursor_open(txn, self->db_log, &cur);
    MDB_val k, v;
    while (rc == 0 && *n_log < max && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != 8 || s_get_be64(k.mv_data) > log_upto) break;
        int64_t at = s_accepted_at(&v);
        if (at < 0 || at >= older_than_us) break;
        if ((rc = mdb_cursor_del(cur, 0)) == 0) (*n_log)++;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    if (cur) mdb_cursor_close(cur);
    cur = NULL;
    for (size_t i = 0; rc == 0 && i < n_partners; i++) {
        MDB_dbi dbi = s_stream(self, partner_nums[i]);
        if (!dbi) continue;
        if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) break;
        int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        size_t n = 0;
        while (r == 0 && n < max && k.mv_size == 8 && s_get_be64(k.mv_data) <= cursors[i]) {
            if ((r = mdb_cursor_del(cur, 0)) != 0) break;
            n++;
            r = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        }
        mdb_cursor_close(cur);
        cur = NULL;
        *n_stream += n;
        if (r != 0 && r != MDB_NOTFOUND && r != EINVAL) rc = r;
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc) *n_log = *n_stream = 0;
    return s_code(rc);
}

int cx_store_stream_get(cx_store_t *self, uint32_t partner_num, uint64_t stream_seq,
                        uint64_t *log_seq)
{
    MDB_dbi dbi = s_stream(self, partner_num);
    if (!dbi) return CX_E_INVAL;
    unsigned char kb[8];
    s_put_be64(kb, stream_seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(self->rtxn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size < 8)) return CX_E_INVAL;
    if (rc) return s_code(rc);
    *log_seq = s_get_be64(v.mv_data);
    return 0;
}

int cx_store_producers_load(cx_store_t *self, int (*fn)(void *, const char *, uint64_t, int64_t),
                            void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->log_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    rc = mdb_cursor_open(txn, self->db_producer, &cur);
    MDB_val k, v;
    int ret = 0;
    while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (v.mv_size != 16 || k.mv_size == 0 || k.mv_size > 255) continue;
        char id[256];
        uint64_t val[2];
        memcpy(id, k.mv_data, k.mv_size);
        id[k.mv_size] = '\0';
        memcpy(val, v.mv_data, 16);
        if ((ret = fn(arg, id, val[0], (int64_t)val[1])) != 0) break;
    }
    if (cur) mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (ret) return ret;
    return rc == MDB_NOTFOUND ? 0 : s_code(rc);
}

int cx_store_cursor_get(cx_store_t *self, const char *partner_id, uint64_t *seq)
{
    MDB_txn *txn;
    *seq = 0;
    int rc = mdb_txn_begin(self->log_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    MDB_val k = {strlen(partner_id), (void *)partner_id}, v;
    rc = mdb_get(txn, self->db_cursor, &k, &v);
    if (rc == 0 && v.mv_size == 8) memcpy(seq, v.mv_data, 8);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : s_code(rc);
}

/* Opens (creating) the stream db of partner number num in txn, and keeps its handle. */
static int s_open_stream(cx_store_t *self, MDB_txn *txn, uint32_t num)
{
    if (num >= CX_STORE_MAX_STREAMS) {
        cx_log(CX_LOG_ERROR, "log: partner number %u: at most %d partner streams", num,
               CX_STORE_MAX_STREAMS - 1);
        return MDB_DBS_FULL;
    }
    if (num >= self->n_streams) {
        uint32_t n = num + 16;
        MDB_dbi *a = realloc(self->streams, n * sizeof *a);
        if (!a) return ENOMEM;
        memset(a + self->n_streams, 0, (n - self->n_streams) * sizeof *a);
        self->streams = a;
        self->n_streams = n;
    }
    char name[32];
    snprintf(name, sizeof name, "stream.%u", num);
    return mdb_dbi_open(txn, name, MDB_CREATE, &self->streams[num]);
}

int cx_store_partner_num(cx_store_t *self, const char *partner_id, uint32_t *num)
{
    /* Called at start and on reload, outside any batch: its own transaction,
     * committed, so that the stream db handle it opens stays open. */
    if (self->wtxn) return CX_E_INVAL;
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->log_env, NULL, 0, &txn);
    if (rc) return s_code(rc);
    MDB_val k = {strlen(partner_id), (void *)partner_id}, v;
    uint32_t n = 0;
    rc = mdb_get(txn, self->db_partner, &k, &v);
    if (rc == 0 && v.mv_size == 4) {
        memcpy(&n, v.mv_data, 4);
    } else if (rc == MDB_NOTFOUND) {
        MDB_stat st;
        rc = mdb_stat(txn, self->db_partner, &st);
        n = (uint32_t)st.ms_entries + 1;
        v.mv_size = 4;
        v.mv_data = &n;
        if (rc == 0) rc = mdb_put(txn, self->db_partner, &k, &v, 0);
    } else if (rc == 0) {
        rc = MDB_CORRUPTED;
    }
    if (rc == 0 && !s_stream(self, n)) rc = s_open_stream(self, txn, n);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == 0) *num = n;
    return s_code(rc);
}

/* ---- state environment ---- */

int cx_store_ctx_get(cx_store_t *self, const char *customer_id, uint8_t **data, size_t *len)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->state_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    MDB_val k = {strlen(customer_id), (void *)customer_id}, v;
    rc = mdb_get(txn, self->db_ctx, &k, &v);
    int ret = 0;
    if (rc == MDB_NOTFOUND) {
        ret = CX_E_UNKNOWN_CUSTOMER;
    } else if (rc) {
        ret = s_code(rc);
    } else {
        ret = s_copy_out(&v, data, len);
    }
    mdb_txn_abort(txn);
    return ret;
}

static int s_cmp_items(const void *a, const void *b)
{
    return strcmp(((const cx_ctx_write_t *)a)->customer_id,
                  ((const cx_ctx_write_t *)b)->customer_id);
}

int cx_store_ctx_write(cx_store_t *self, cx_ctx_write_t *items, size_t n, uint64_t applied_seq)
{
    /* Sorted keys fill leaf pages in order: fewer page touches per transaction. */
    qsort(items, n, sizeof *items, s_cmp_items);
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->state_env, NULL, 0, &txn);
    if (rc) return s_code(rc);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        MDB_val k = {strlen(items[i].customer_id), (void *)items[i].customer_id};
        if (items[i].data) {
            MDB_val v = {items[i].len, (void *)items[i].data};
            rc = mdb_put(txn, self->db_ctx, &k, &v, 0);
        } else {
            rc = mdb_del(txn, self->db_ctx, &k, NULL);
            if (rc == MDB_NOTFOUND) rc = 0;
        }
    }
    if (rc == 0) {
        MDB_val k = {11, "applied_seq"}, v = {8, &applied_seq};
        rc = mdb_put(txn, self->db_meta, &k, &v, 0);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return s_code(rc);
    }
    return s_code(mdb_txn_commit(txn));
}

int cx_store_applied_seq(cx_store_t *self, uint64_t *seq)
{
    MDB_txn *txn;
    *seq = 0;
    int rc = mdb_txn_begin(self->state_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    MDB_val k = {11, "applied_seq"}, v;
    rc = mdb_get(txn, self->db_meta, &k, &v);
    if (rc == 0 && v.mv_size == 8) memcpy(seq, v.mv_data, 8);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : s_code(rc);
}

int cx_store_ctx_count(cx_store_t *self, uint64_t *n)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->state_env, NULL, MDB_RDONLY, &txn);
    if (rc) return s_code(rc);
    MDB_stat st;
    rc = mdb_stat(txn, self->db_ctx, &st);
    *n = rc == 0 ? st.ms_entries : 0;
    mdb_txn_abort(txn);
    return s_code(rc);
}

void cx_store_sizes(cx_store_t *self, uint64_t *log_bytes, uint64_t *state_bytes)
{
    MDB_envinfo info;
    MDB_stat st;
    *log_bytes = *state_bytes = 0;
    if (mdb_env_info(self->log_env, &info) == 0 && mdb_env_stat(self->log_env, &st) == 0)
        *log_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    if (mdb_env_info(self->state_env, &info) == 0 && mdb_env_stat(self->state_env, &st) == 0)
        *state_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
}
