/* cx_pub.c - the publisher side of libcx; see cx.h.
 *
 * A ring of `window` slots holds every event in flight with its encoded bytes,
 * indexed by producer seq modulo window. Seqs are handed out in order and the
 * ring never spans more than `window` seqs, so a reply's seq finds its slot
 * directly. When the oldest event has waited timeout_ms, the DEALER is
 * replaced (a fresh connection, so nothing stale sits in a pipe) and every
 * event in flight is sent again, in order, with its original seq: the broker
 * acks those it already has as duplicates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cx.h"

typedef struct {
    uint64_t seq; /* 0: free */
    uint8_t *data;
    size_t len;
    uintptr_t tag;
    int64_t sent_at;
    int tries;
} slot_t;

struct cx_publisher {
    void *zctx, *sock;
    char *endpoint;
    char *producer_id;
    char *partner;
    uint32_t window;
    int timeout_ms, max_tries;
    slot_t *slots;
    uint64_t next_seq; /* next seq to hand out */
    uint64_t oldest;   /* lowest seq possibly in flight */
    cx_result_fn *fn;
    void *arg;
    bool resend_now; /* an out-of-order NACK asks for a resend */
    int64_t last_resend_ms;
    cx_publisher_stats_t st;
};

static int64_t s_ms(void)
{
    return cx_now_us() / 1000;
}

static int s_connect(cx_publisher_t *self)
{
    if (self->sock) zmq_close(self->sock);
    self->sock = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!self->sock) return CX_E_ZMQ;
    int zero = 0, hwm = 0;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    return zmq_connect(self->sock, self->endpoint) == 0 ? 0 : CX_E_ZMQ;
}

cx_publisher_t *cx_publisher_new(const char *endpoint, const cx_publisher_opts_t *opts)
{
    cx_publisher_opts_t o = {0};
    if (opts) o = *opts;
    cx_publisher_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->window = o.window ? o.window : 1000;
    self->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : 3000;
    self->max_tries = o.max_tries > 0 ? o.max_tries : 10;
    self->next_seq = self->oldest = 1;
    self->endpoint = strdup(endpoint);
    /* Unique per session: seqs start at 1 each time, so a restarted publisher
     * under the same name must not look like a replay of the last one. */
    char host[64] = "host", id[200];
    if (!o.producer_id) gethostname(host, sizeof host - 1);
    snprintf(id, sizeof id, "%.120s-%d-%llx", o.producer_id ? o.producer_id : host, (int)getpid(),
             (unsigned long long)cx_now_us());
    self->producer_id = strdup(id);
    self->partner = o.partner ? strdup(o.partner) : NULL;
    self->slots = calloc(self->window, sizeof(slot_t));
    self->zctx = zmq_ctx_new();
    if (!self->endpoint || !self->producer_id || (o.partner && !self->partner) || !self->slots ||
        !self->zctx || s_connect(self) != 0) {
        cx_publisher_destroy(&self);
        return NULL;
    }
    return self;
}

void cx_publisher_destroy(cx_publisher_t **pself)
{
    if (!pself || !*pself) return;
    cx_publisher_t *self = *pself;
    if (self->slots)
        for (uint32_t i = 0; i < self->window; i++)
            free(self->slots[i].data);
    if (self->sock) zmq_close(self->sock);
    if (self->zctx) zmq_ctx_term(self->zctx);
    free(self->slots);
    free(self->endpoint);
    free(self->producer_id);
    free(self->partner);
    free(self);
    *pself = NULL;
}

void cx_publisher_on_result(cx_publisher_t *self, cx_result_fn *fn, void *arg)
{
    self->fn = fn;
    self->arg = arg;
}

static int s_send_slot(cx_publisher_t *self, slot_t *s)
{
    Cx__Publish p = CX__PUBLISH__INIT;
    p.producer_id = self->producer_id;
    p.has_seq = p.has_event = p.has_base_seq = 1;
    p.seq = s->seq;
    p.base_seq = self->oldest;
    p.event.data = s->data;
    p.event.len = s->len;
    p.partner = self->partner;
    size_t len = cx__publish__get_packed_size(&p);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, len) != 0) return CX_E_NOMEM;
    cx__publish__pack(&p, zmq_msg_data(&m));
    /* An attempt counts whether or not zmq takes it. */
    s->sent_at = s_ms();
    s->tries++;
    if (zmq_msg_send(&m, self->sock, 0) < 0) {
        zmq_msg_close(&m);
        return CX_E_ZMQ;
    }
    return 0;
}

static void s_finish(cx_publisher_t *self, slot_t *s, int code, bool dup, const char *reason)
{
    cx_result_t r = {s->seq, s->tag, code, dup, reason};
    if (code == 0)
        self->st.acked++;
    else if (code == CX_E_TIMEOUT)
        self->st.failed++;
    else
        self->st.nacked++;
    if (dup) self->st.duplicates++;
    self->st.in_flight--;
    free(s->data);
    memset(s, 0, sizeof *s);
    if (self->fn) self->fn(self->arg, &r);
    while (self->oldest < self->next_seq && self->slots[self->oldest % self->window].seq == 0)
        self->oldest++;
}

static slot_t *s_slot(cx_publisher_t *self, uint64_t seq)
{
    slot_t *s = &self->slots[seq % self->window];
    return s->seq == seq ? s : NULL;
}

static bool s_is_dup(const Cx__PublishReply *r, uint64_t seq)
{
    for (size_t i = 0; i < r->n_duplicates; i++)
        if (r->duplicates[i] == seq) return true;
    return false;
}

static int s_handle_reply(cx_publisher_t *self, const void *data, size_t len)
{
    Cx__PublishReply *r = cx__publish_reply__unpack(NULL, len, data);
    if (!r) return 0;
    int done = 0;
    for (size_t i = 0; i < r->n_acked; i++) {
        slot_t *s = s_slot(self, r->acked[i]);
        if (s) {
            s_finish(self, s, 0, s_is_dup(r, r->acked[i]), NULL);
            done++;
        }
    }
    for (size_t i = 0; i < r->n_nacks; i++) {
        Cx__Nack *nk = r->nacks[i];
        slot_t *s = nk->has_seq ? s_slot(self, nk->seq) : NULL;
        if (s && nk->code == CX_E_OUT_OF_ORDER) {
            /* Not final: an earlier event was lost on the way. Resend everything
             * in flight, in order, now (once per burst of such NACKs). */
            if (s_ms() - self->last_resend_ms > 100) self->resend_now = true;
            continue;
        }
        if (s) {
            s_finish(self, s, nk->code ? nk->code : CX_E_INVAL, false, nk->reason);
            done++;
        }
    }
    cx__publish_reply__free_unpacked(r, NULL);
    return done;
}

/* Resends everything in flight on a fresh connection, failing what has been
 * tried max_tries times. */
static void s_resend(cx_publisher_t *self)
{
    self->resend_now = false;
    self->last_resend_ms = s_ms();
    if (s_connect(self) != 0) {
        /* Count the attempt, so the timeout paces the next one and max_tries
         * ends it; never spin. */
        for (uint64_t seq = self->oldest; seq < self->next_seq; seq++) {
            slot_t *s = s_slot(self, seq);
            if (!s) continue;
            s->sent_at = s_ms();
            if (++s->tries >= self->max_tries)
                s_finish(self, s, CX_E_TIMEOUT, false, "cannot connect to the broker");
        }
        return;
    }
    for (uint64_t seq = self->oldest; seq < self->next_seq; seq++) {
        slot_t *s = s_slot(self, seq);
        if (!s) continue;
        if (s->tries >= self->max_tries) {
            s_finish(self, s, CX_E_TIMEOUT, false, "no answer from the broker");
            continue;
        }
        self->st.resends++;
        if (s_send_slot(self, s) != 0) {
            /* The rest waits for the next resend, so order is kept. */
            for (uint64_t r = seq + 1; r < self->next_seq; r++)
                if (s_slot(self, r)) s_slot(self, r)->sent_at = s_ms();
            break;
        }
    }
}

int cx_publisher_poll(cx_publisher_t *self, int timeout_ms)
{
    int done = 0;
    int64_t deadline = s_ms() + timeout_ms;
    for (;;) {
        zmq_pollitem_t it = {self->sock, 0, ZMQ_POLLIN, 0};
        int64_t left = deadline - s_ms();
        if (left < 0) left = 0;
        if (self->resend_now) {
            s_resend(self);
            continue;
        }
        if (self->st.in_flight) {
            slot_t *old = s_slot(self, self->oldest);
            int64_t due = old ? old->sent_at + self->timeout_ms - s_ms() : left;
            if (due <= 0) {
                s_resend(self);
                continue;
            }
            if (due < left) left = due;
        }
        int rc = zmq_poll(&it, 1, (long)left);
        if (rc < 0) return done;
        if (rc > 0) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, self->sock, ZMQ_DONTWAIT) >= 0)
                done += s_handle_reply(self, zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
            if (done) return done;
        }
        if (s_ms() >= deadline) return done;
    }
}

int cx_publish_raw(cx_publisher_t *self, const void *data, size_t len, uintptr_t tag, uint64_t *seq)
{
    /* Room in the window: the ring may not span more than `window` seqs. */
    while (self->next_seq - self->oldest >= self->window)
        cx_publisher_poll(self, 100);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return CX_E_NOMEM;
    memcpy(copy, data, len);
    slot_t *s = &self->slots[self->next_seq % self->window];
    s->seq = self->next_seq++;
    s->data = copy;
    s->len = len;
    s->tag = tag;
    s->tries = 0;
    self->st.sent++;
    self->st.in_flight++;
    if (seq) *seq = s->seq;
    /* The broker dedups a producer's retries by its highest seq, so a newer
     * event must never reach it before an older one: if this send failed,
     * everything in flight goes again, in order, on a fresh connection. */
    if (s_send_slot(self, s) != 0) s_resend(self);
    /* Take in replies that are already here, without waiting: ZMQ_EVENTS asks
     * the socket without a system call, so most sends cost no poll. */
    int events = 0;
    size_t sz = sizeof events;
    if (zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &sz) == 0 && (events & ZMQ_POLLIN))
        cx_publisher_poll(self, 0);
    return 0;
}

int cx_publish(cx_publisher_t *self, const Cx__Event *ev, uintptr_t tag, uint64_t *seq)
{
    size_t len = cx__event__get_packed_size(ev);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf) return CX_E_NOMEM;
    cx__event__pack(ev, buf);
    int rc = cx_publish_raw(self, buf, len, tag, seq);
    if (buf != stackbuf) free(buf);
    return rc;
}

int cx_publisher_flush(cx_publisher_t *self, int timeout_ms)
{
    int64_t deadline = s_ms() + timeout_ms;
    while (self->st.in_flight) {
        int64_t left = deadline - s_ms();
        if (left <= 0) return CX_E_TIMEOUT;
        cx_publisher_poll(self, (int)left);
    }
    return 0;
}

void cx_publisher_stats(const cx_publisher_t *self, cx_publisher_stats_t *out)
{
    *out = self->st;
}
