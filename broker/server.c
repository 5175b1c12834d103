/* server.c - the broker's event loop: one thread owns every socket.
 *
 * Each turn: take one batch from the publish socket (ingest), serve partner
 * hellos and acks, push deliveries within credit, answer admin requests, take
 * in a finished checkpoint and start the next when due. A turn never waits on
 * a partner or a checkpoint; it waits (zmq_poll) only when there is nothing to
 * do, and at most 50 ms so that timers run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "cx_error.h"
#include "cx_event.h"
#include "delivery.h"
#include "log.h"
#include "server.h"

void cx_zmq_drain(void *sock)
{
    int more = 1;
    size_t sz = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, sock, 0);
        zmq_msg_close(&m);
        if (rc < 0) break;
    }
}

/* mkdir -p of the folder of an ipc:// endpoint's path. */
static void s_ipc_dir(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) != 0) return;
    char path[512];
    snprintf(path, sizeof path, "%s", endpoint + 6);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0750);
        *p = '/';
    }
}

static void *s_bind(cx_broker_t *b, const char *endpoint, const char *what, bool mandatory)
{
    void *s = zmq_socket(b->zctx, ZMQ_ROUTER);
    if (!s) return NULL;
    int one = 1, zero = 0, hwm = 100000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (mandatory) zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    s_ipc_dir(endpoint);
    if (zmq_bind(s, endpoint) != 0) {
        cx_log(CX_LOG_ERROR, "listen.%s: cannot bind %s: %s", what, endpoint,
               zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    cx_log(CX_LOG_INFO, "listen.%s on %s", what, endpoint);
    return s;
}

int cx_server_open(cx_config_t *cfg, const char *config_path, volatile int *stop, cx_broker_t **out)
{
    cx_broker_t *b = calloc(1, sizeof(*b));
    if (!b) {
        cx_config_destroy(&cfg);
        return CX_E_NOMEM;
    }
    b->cfg = cfg;
    b->config_path = config_path ? strdup(config_path) : NULL;
    b->stop = stop;
    b->started_us = b->last_checkpoint_us = cx_now_us();
    char err[600];
    int rc = cx_store_open(cfg->storage_path, cfg->map_size, cfg->state_map_size, cfg->sync,
                           &b->store, err, sizeof err);
    if (rc) {
        cx_log(CX_LOG_ERROR, "storage: %s", err);
        goto fail;
    }
    rc = CX_E_NOMEM;
    b->cache = cx_cache_new(b->store, cfg->cache_customers);
    b->dedup = cx_dedup_new(cfg->dedup_window_us, cfg->dedup_window_count);
    b->producers = cx_hmap_new();
    b->arena = cx_arena_new(256 * 1024);
    if (!b->cache || !b->dedup || !b->producers || !b->arena) goto fail;
    if ((rc = cx_ingest_recover(b)) != 0) {
        cx_log(CX_LOG_ERROR, "recovery failed: %s", cx_strerror(rc));
        goto fail;
    }
    b->delivery = cx_delivery_new(b);
    if (!b->delivery) {
        rc = CX_E_STORAGE;
        goto fail;
    }
    rc = CX_E_ZMQ;
    b->zctx = zmq_ctx_new();
    if (!b->zctx) goto fail;
    b->pub_sock = s_bind(b, cfg->listen_publish, "publish", false);
    b->deliver_sock = cfg->listen_deliver ? s_bind(b, cfg->listen_deliver, "deliver", true) : NULL;
    b->admin_sock = cfg->listen_admin ? s_bind(b, cfg->listen_admin, "admin", false) : NULL;
    if (!b->pub_sock || (cfg->listen_deliver && !b->deliver_sock) ||
        (cfg->listen_admin && !b->admin_sock))
        goto fail;
    *out = b;
    return 0;
fail:
    cx_server_destroy(&b);
    return rc;
}

static void s_free_value(void *arg, const char *key, void *value)
{
    (void)arg;
    (void)key;
    free(value);
}

void cx_server_destroy(cx_broker_t **pself)
{
    if (!pself || !*pself) return;
    cx_broker_t *b = *pself;
    if (b->pub_sock) zmq_close(b->pub_sock);
    if (b->deliver_sock) zmq_close(b->deliver_sock);
    if (b->admin_sock) zmq_close(b->admin_sock);
    if (b->zctx) zmq_ctx_term(b->zctx);
    cx_delivery_destroy(&b->delivery);
    cx_ingest_destroy(b);
    cx_cache_destroy(&b->cache);
    cx_dedup_destroy(&b->dedup);
    if (b->producers) {
        cx_hmap_each(b->producers, s_free_value, NULL); /* malloc'd cx_producer_t */
        cx_hmap_destroy(&b->producers);
    }
    cx_arena_destroy(&b->arena);
    cx_store_destroy(&b->store);
    cx_config_destroy(&b->cfg);
    free(b->config_path);
    free(b);
    *pself = NULL;
}

static bool s_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int cx_server_reload(cx_broker_t *b, char *err, size_t errlen)
{
    if (!b->config_path) {
        snprintf(err, errlen, "no config file to reload");
        return CX_E_CONFIG;
    }
    cx_config_t *cfg = NULL;
    cx_config_error_t ce;
    int rc = cx_config_load(b->config_path, &cfg, &ce);
    if (rc) {
        cx_config_error_format(&ce, err, errlen);
        cx_log(CX_LOG_ERROR, "reload refused, running config kept: %s", err);
        return CX_E_CONFIG;
    }
    if (!s_same(cfg->listen_publish, b->cfg->listen_publish) ||
        !s_same(cfg->listen_deliver, b->cfg->listen_deliver) ||
        !s_same(cfg->listen_admin, b->cfg->listen_admin) ||
        !s_same(cfg->storage_path, b->cfg->storage_path))
        cx_log(CX_LOG_WARN, "reload: listen and storage changes take effect at the next restart");
    /* Everything else applies from the next batch on (ingest resizes its
     * batch to a new batch_max itself). */
    cx_config_t *old = b->cfg;
    b->cfg = cfg;
    rc = cx_delivery_reload(b->delivery);
    if (rc) {
        b->cfg = old;
        cx_config_destroy(&cfg);
        snprintf(err, errlen, "reload: partner streams: %s", cx_strerror(rc));
        return CX_E_CONFIG;
    }
    cx_config_destroy(&old);
    cx_log(CX_LOG_INFO, "config reloaded from %s: %zu partners, %zu routes", b->config_path,
           b->cfg->n_partners, b->cfg->n_routes);
    return 0;
}

static void s_maybe_checkpoint(cx_broker_t *b, int64_t now)
{
    cx_cache_poll(b->cache);
    if (cx_cache_is_checkpointing(b->cache) || cx_cache_dirty(b->cache) == 0) return;
    if (cx_cache_dirty(b->cache) < b->cfg->checkpoint_max_dirty &&
        now - b->last_checkpoint_us < b->cfg->checkpoint_interval_us)
        return;
    if (cx_cache_checkpoint_start(b->cache, b->last_seq) == 0) b->last_checkpoint_us = now;
}

int cx_server_run(cx_broker_t *b, volatile int *reload)
{
    zmq_pollitem_t items[3];
    int nitems = 0;
    items[nitems++] = (zmq_pollitem_t){b->pub_sock, 0, ZMQ_POLLIN, 0};
    int di = -1, ai = -1;
    if (b->deliver_sock) {
        di = nitems;
        items[nitems++] = (zmq_pollitem_t){b->deliver_sock, 0, ZMQ_POLLIN, 0};
    }
    if (b->admin_sock) {
        ai = nitems;
        items[nitems++] = (zmq_pollitem_t){b->admin_sock, 0, ZMQ_POLLIN, 0};
    }
    int64_t last_expire = 0, last_prune = 0;
    cx_log(CX_LOG_INFO, "ready: %zu partners, %zu routes, log at seq %llu", b->cfg->n_partners,
           b->cfg->n_routes, (unsigned long long)b->last_seq);
    int64_t last_pause_log = 0;
    while (!*b->stop) {
        bool busy = cx_delivery_has_work(b->delivery);
        /* Dirty contexts are never evicted: when checkpoints write slower than
         * ingest changes customers (many customers, a slow disk), ingest waits
         * for the running checkpoint at twice max_dirty, so memory stays bounded. */
        bool paused = cx_cache_is_checkpointing(b->cache) &&
                      cx_cache_dirty(b->cache) >= 2 * (size_t)b->cfg->checkpoint_max_dirty;
        if (paused && cx_now_us() - last_pause_log > 10000000) {
            cx_log(CX_LOG_INFO, "ingest waits for the checkpoint: %zu contexts changed",
                   cx_cache_dirty(b->cache));
            last_pause_log = cx_now_us();
        }
        items[0].events = paused ? 0 : ZMQ_POLLIN;
        int rc = zmq_poll(items, nitems, busy ? 0 : paused ? 2 : 50);
        if (rc < 0 && zmq_errno() != EINTR) {
            cx_log(CX_LOG_ERROR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            return CX_E_ZMQ;
        }
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            int n = cx_ingest_pump(b);
            if (n < 0) cx_log(CX_LOG_ERROR, "ingest: %s", cx_strerror(n));
        }
        if (di >= 0 && rc > 0 && (items[di].revents & ZMQ_POLLIN))
            cx_delivery_on_readable(b->delivery);
        cx_delivery_pump(b->delivery);
        if (ai >= 0 && rc > 0 && (items[ai].revents & ZMQ_POLLIN)) cx_admin_on_readable(b);
        int64_t now = cx_now_us();
        s_maybe_checkpoint(b, now);
        if (now - last_expire > 1000000) {
            cx_dedup_expire(b->dedup, now);
            last_expire = now;
        }
        if (b->cfg->retention_us > 0 && now - last_prune > 2000000) {
            cx_cache_stats_t cs;
            cx_cache_stats(b->cache, &cs);
            int prc = cx_delivery_prune(b->delivery, cs.checkpoint_seq, &b->n.log_pruned);
            if (prc) cx_log(CX_LOG_WARN, "retention: %s", cx_strerror(prc));
            last_prune = now;
        }
        if (reload && *reload) {
            *reload = 0;
            char err[600];
            cx_server_reload(b, err, sizeof err);
        }
    }
    cx_delivery_flush_cursors(b->delivery);
    if (b->fatal) {
        /* No checkpoint of a cache that may not match the log. */
        cx_log(CX_LOG_ERROR, "stopped on an error: %s", cx_strerror(b->fatal));
        return b->fatal;
    }
    cx_log(CX_LOG_INFO, "stopping: writing cursors and a last checkpoint");
    int rc = cx_cache_checkpoint_sync(b->cache, b->last_seq);
    if (rc)
        cx_log(CX_LOG_ERROR, "final checkpoint: %s (the log replays at next start)",
               cx_strerror(rc));
    cx_log(CX_LOG_INFO, "stopped at log seq %llu: %llu accepted, %llu rejected, %llu duplicates",
           (unsigned long long)b->last_seq, (unsigned long long)b->n.accepted,
           (unsigned long long)b->n.rejected, (unsigned long long)b->n.duplicates);
    return 0;
}
