/* cx_sub.c - the partner side of libcx: receive deliveries, ack them; see cx.h.
 *
 * The broker only knows a partner after its hello. If the broker restarts, the
 * DEALER reconnects by itself but the new broker has not heard hello, so a
 * subscriber that has heard nothing for a second says hello again. To a broker
 * that knows this connection, that hello is only a keepalive; a broker that
 * does not resends from its stored cursor, and deliveries the application
 * already has (seq <= last returned) are dropped here, so each reaches the
 * application once per subscriber.
 */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cx.h"

#define HELLO_IDLE_MS 1000

struct cx_subscriber {
    void *zctx, *sock;
    char *partner_id;
    cx_subscriber_opts_t opts;
    uint64_t last_seq;   /* last delivery returned to the application */
    uint64_t acked;      /* last seq acked */
    bool replay_pending; /* from_seq still to be asked for */
    int64_t last_heard_ms;
    char error[256];
    bool has_error;
};

static int64_t s_ms(void)
{
    return cx_now_us() / 1000;
}

static int s_send_msg(cx_subscriber_t *self, const Cx__PartnerMsg *m)
{
    size_t len = cx__partner_msg__get_packed_size(m);
    zmq_msg_t z;
    if (zmq_msg_init_size(&z, len) != 0) return CX_E_NOMEM;
    cx__partner_msg__pack(m, zmq_msg_data(&z));
    if (zmq_msg_send(&z, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&z);
        return CX_E_ZMQ;
    }
    return 0;
}

static int s_hello(cx_subscriber_t *self)
{
    Cx__Hello h = CX__HELLO__INIT;
    h.partner_id = self->partner_id;
    /* Only an explicit replay names a seq. Otherwise the broker resumes after
     * its stored cursor; anything it sends again that the application already
     * has (seq <= last_seq) is dropped in cx_subscriber_next. */
    if (self->replay_pending && self->opts.from_seq) {
        h.has_from_seq = 1;
        h.from_seq = self->opts.from_seq;
    }
    if (self->opts.credit) {
        h.has_credit = 1;
        h.credit = self->opts.credit;
    }
    Cx__PartnerMsg m = CX__PARTNER_MSG__INIT;
    m.msg_case = CX__PARTNER_MSG__MSG_HELLO;
    m.hello = &h;
    self->last_heard_ms = s_ms();
    return s_send_msg(self, &m);
}

cx_subscriber_t *cx_subscriber_new(const char *endpoint, const char *partner_id,
                                   const cx_subscriber_opts_t *opts)
{
    cx_subscriber_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    if (opts) self->opts = *opts;
    self->replay_pending = self->opts.from_seq != 0;
    self->partner_id = strdup(partner_id);
    self->zctx = zmq_ctx_new();
    self->sock = self->zctx ? zmq_socket(self->zctx, ZMQ_DEALER) : NULL;
    if (!self->partner_id || !self->sock) goto fail;
    int zero = 0;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(self->sock, endpoint) != 0 || s_hello(self) != 0) goto fail;
    return self;
fail:
    cx_subscriber_destroy(&self);
    return NULL;
}

void cx_subscriber_destroy(cx_subscriber_t **pself)
{
    if (!pself || !*pself) return;
    cx_subscriber_t *self = *pself;
    if (self->sock) {
        int linger = 1000; /* let the last acks leave */
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(self->sock);
    }
    if (self->zctx) zmq_ctx_term(self->zctx);
    free(self->partner_id);
    free(self);
    *pself = NULL;
}

int cx_subscriber_next(cx_subscriber_t *self, int timeout_ms, Cx__Delivery **out)
{
    int64_t deadline = s_ms() + timeout_ms;
    for (;;) {
        int64_t now = s_ms();
        if (now - self->last_heard_ms >= HELLO_IDLE_MS) s_hello(self);
        int64_t wait = deadline - now;
        if (wait > HELLO_IDLE_MS) wait = HELLO_IDLE_MS;
        if (wait < 0) wait = 0;
        zmq_pollitem_t it = {self->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)wait) < 0) return CX_E_ZMQ;
        zmq_msg_t z;
        zmq_msg_init(&z);
        while (zmq_msg_recv(&z, self->sock, ZMQ_DONTWAIT) >= 0) {
            self->last_heard_ms = s_ms();
            Cx__BrokerMsg *m = cx__broker_msg__unpack(NULL, zmq_msg_size(&z), zmq_msg_data(&z));
            if (!m) continue;
            if (m->msg_case == CX__BROKER_MSG__MSG_DELIVERY && m->delivery->seq > self->last_seq) {
                Cx__Delivery *d = m->delivery;
                m->delivery = NULL;
                m->msg_case = CX__BROKER_MSG__MSG__NOT_SET;
                cx__broker_msg__free_unpacked(m, NULL);
                zmq_msg_close(&z);
                self->last_seq = d->seq;
                self->replay_pending = false;
                *out = d;
                return 0;
            }
            if (m->msg_case == CX__BROKER_MSG__MSG_DELIVERY && m->delivery->seq <= self->acked) {
                /* Already handed over and acked, before a broker restart lost
                 * that ack: ack again, or the credit window would fill with
                 * deliveries nobody acks. */
                cx_subscriber_ack(self, self->acked);
            } else if (m->msg_case == CX__BROKER_MSG__MSG_WELCOME) {
                self->replay_pending = false;
                /* A broker that restarted may hold an older cursor than our acks. */
                if (m->welcome->has_cursor && m->welcome->cursor < self->acked &&
                    !self->opts.from_seq)
                    cx_subscriber_ack(self, self->acked);
            } else if (m->msg_case == CX__BROKER_MSG__MSG_ERROR) {
                int code = m->error->code ? m->error->code : CX_E_INVAL;
                snprintf(self->error, sizeof self->error, "%s",
                         m->error->reason ? m->error->reason : cx_strerror(code));
                self->has_error = true;
                cx__broker_msg__free_unpacked(m, NULL);
                zmq_msg_close(&z);
                return code;
            }
            cx__broker_msg__free_unpacked(m, NULL);
        }
        zmq_msg_close(&z);
        if (s_ms() >= deadline) return CX_E_TIMEOUT;
    }
}

int cx_subscriber_ack(cx_subscriber_t *self, uint64_t seq)
{
    Cx__PartnerAck a = CX__PARTNER_ACK__INIT;
    a.has_seq = 1;
    a.seq = seq;
    Cx__PartnerMsg m = CX__PARTNER_MSG__INIT;
    m.msg_case = CX__PARTNER_MSG__MSG_ACK;
    m.ack = &a;
    if (seq > self->acked) self->acked = seq;
    return s_send_msg(self, &m);
}

const char *cx_subscriber_error(const cx_subscriber_t *self)
{
    return self->has_error ? self->error : NULL;
}

void cx_delivery_free(Cx__Delivery *d)
{
    if (d) cx__delivery__free_unpacked(d, NULL);
}
