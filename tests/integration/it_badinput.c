/* it_badinput - every kind of bad publish gets a NACK with its reason, and the
 * broker serves the next good event. Talks raw ZeroMQ (a DEALER) so it can
 * send what libcx never would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cxtest.h"

static void *s_sock;

/* Sends frames (count n) and waits for one PublishReply. */
static Cx__PublishReply *s_send(const void *const *frames, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        zmq_send(s_sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
    zmq_pollitem_t it = {s_sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5000) <= 0) return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s_sock, 0) < 0) return NULL;
    Cx__PublishReply *r = cx__publish_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    return r;
}

static Cx__PublishReply *s_send1(const void *data, size_t len)
{
    const void *f[1] = {data};
    size_t l[1] = {len};
    return s_send(f, l, 1);
}

/* A Publish frame from producer with seq and base (0: none) carrying these
 * event bytes. *len gets its size; caller frees. */
static uint8_t *s_publish_from(const char *producer, uint64_t seq, uint64_t base, const void *ev,
                               size_t evlen, size_t *len)
{
    Cx__Publish p = CX__PUBLISH__INIT;
    p.producer_id = (char *)producer;
    p.has_seq = p.has_event = 1;
    p.seq = seq;
    p.has_base_seq = base != 0;
    p.base_seq = base;
    p.event.data = (uint8_t *)ev;
    p.event.len = evlen;
    *len = cx__publish__get_packed_size(&p);
    uint8_t *buf = malloc(*len);
    cx__publish__pack(&p, buf);
    return buf;
}

static uint8_t *s_publish(uint64_t seq, const void *ev, size_t evlen, size_t *len)
{
    return s_publish_from("badinput", seq, 0, ev, evlen, len);
}

static uint8_t *s_event(const char *id, const char *customer, const char *type, const char *title,
                        size_t *len)
{
    Cx__Event ev = CX__EVENT__INIT;
    Cx__Goal g = CX__GOAL__INIT;
    ev.event_id = (char *)id;
    ev.customer_id = (char *)customer;
    ev.type = (char *)type;
    g.goal_id = "g1";
    g.title = (char *)title;
    ev.payload_case = CX__EVENT__PAYLOAD_GOAL;
    ev.goal = &g;
    *len = cx__event__get_packed_size(&ev);
    uint8_t *buf = malloc(*len);
    cx__event__pack(&ev, buf);
    return buf;
}

/* Checks that r is one NACK for seq with code. */
static void s_expect_nack(Cx__PublishReply *r, uint64_t seq, int code, const char *what)
{
    bool ok = r && r->n_acked == 0 && r->n_nacks == 1 && r->nacks[0]->seq == seq &&
              r->nacks[0]->code == code && r->nacks[0]->reason && r->nacks[0]->reason[0];
    CXT_CHECK(ok, "%s: NACK %s (got %s: %s)", what, cx_err_name(code),
              r && r->n_nacks ? cx_err_name(r->nacks[0]->code) : (r ? "an ack" : "no reply"),
              r && r->n_nacks && r->nacks[0]->reason ? r->nacks[0]->reason : "");
    if (r) cx__publish_reply__free_unpacked(r, NULL);
}

static void s_expect_ack(Cx__PublishReply *r, uint64_t seq, const char *what)
{
    CXT_CHECK(r && r->n_acked == 1 && r->acked[0] == seq && r->n_nacks == 0, "%s: acked", what);
    if (r) cx__publish_reply__free_unpacked(r, NULL);
}

int main(void)
{
    cxt_begin("it_badinput");
    cxt_broker_t b;
    if (cxt_broker_init(&b, "ingest:\n  max_event_bytes: 4096\n") != 0 ||
        cxt_broker_start(&b) != 0) {
        CXT_CHECK(false, "broker starts");
        return cxt_end();
    }
    void *ctx = zmq_ctx_new();
    s_sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s_sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s_sock, b.pub_ep);
    size_t len, evlen;
    uint8_t *ev, *pub;

    s_expect_nack(s_send1("hello, broker", 13), 0, CX_E_BAD_FRAME, "garbage frame");

    ev = s_event("e1", "c-1", "goal.set", "trip", &evlen);
    pub = s_publish(1, ev, evlen, &len);
    s_expect_nack(s_send1(pub, len - 3), 0, CX_E_BAD_FRAME, "truncated Publish protobuf");
    free(pub);
    pub = s_publish(2, ev, evlen - 4, &len);
    s_expect_nack(s_send1(pub, len), 2, CX_E_BAD_PROTOBUF, "truncated Event inside a Publish");
    free(pub);
    free(ev);

    ev = s_event("e3", NULL, "goal.set", "trip", &evlen);
    pub = s_publish(3, ev, evlen, &len);
    s_expect_nack(s_send1(pub, len), 3, CX_E_MISSING_FIELD, "event without customer_id");
    free(pub);
    free(ev);

    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    ev = s_event("e4", "c-1", "goal.set", big, &evlen);
    pub = s_publish(4, ev, evlen, &len);
    s_expect_nack(s_send1(pub, len), 4, CX_E_TOO_LARGE, "event over max_event_bytes");
    free(pub);
    free(ev);
    char *huge = calloc(1, 2 * 1024 * 1024);
    s_expect_nack(s_send1(huge, 2 * 1024 * 1024), 0, CX_E_TOO_LARGE, "2 MiB frame");
    free(huge);
    free(big);

    ev = s_event("e5", "c-1", "goal.exploded", "trip", &evlen);
    pub = s_publish(5, ev, evlen, &len);
    s_expect_nack(s_send1(pub, len), 5, CX_E_UNKNOWN_TYPE, "unknown event type");
    free(pub);
    free(ev);

    ev = s_event("e6", "c-1", "goal.set", "bad \x01 control", &evlen);
    pub = s_publish(6, ev, evlen, &len);
    s_expect_nack(s_send1(pub, len), 6, CX_E_BAD_STRING, "control character in a title");
    free(pub);
    free(ev);

    ev = s_event("e7", "c-1", "goal.set", "trip", &evlen);
    pub = s_publish(7, ev, evlen, &len);
    const void *frames[2] = {pub, "extra"};
    size_t lens[2] = {len, 5};
    s_expect_nack(s_send(frames, lens, 2), 0, CX_E_BAD_FRAME, "two frames instead of one");
    s_expect_ack(s_send1(pub, len), 7, "the next good event");
    free(pub);
    free(ev);

    ev = s_event("e8", "c-2", "goal.updated", "trip", &evlen);
    pub = s_publish(8, ev, evlen, &len);
    s_expect_nack(s_send1(pub, len), 8, CX_E_UNKNOWN_GOAL,
                  "goal.updated of a goal the customer lacks");
    free(pub);
    free(ev);

    CXT_CHECK(cxt_stat(&b, "events_accepted") == 1, "exactly one event accepted");
    CXT_CHECK(cxt_stat(&b, "events_rejected") == 10, "ten rejections counted (%lld)",
              (long long)cxt_stat(&b, "events_rejected"));
    CXT_CHECK(cxt_stat(&b, "log_events") == 1, "only the good event is in the log");

    /* Producer sequences: in order, duplicates, and gaps. */
    uint8_t *evs[6];
    size_t evls[6];
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        evs[i] = s_event(id, "c-seq", "goal.set", "trip", &evls[i]);
    }
    pub = s_publish_from("seqp", 1, 1, evs[1], evls[1], &len);
    s_expect_ack(s_send1(pub, len), 1, "producer seq 1");
    free(pub);
    pub = s_publish_from("seqp", 3, 2, evs[3], evls[3], &len);
    s_expect_nack(s_send1(pub, len), 3, CX_E_OUT_OF_ORDER,
                  "seq 3 while seq 2 is still awaited (base 2)");
    free(pub);
    pub = s_publish_from("seqp", 2, 2, evs[2], evls[2], &len);
    s_expect_ack(s_send1(pub, len), 2, "then seq 2");
    free(pub);
    pub = s_publish_from("seqp", 3, 3, evs[3], evls[3], &len);
    s_expect_ack(s_send1(pub, len), 3, "then seq 3, resent in order");
    free(pub);
    pub = s_publish_from("seqp", 2, 2, evs[2], evls[2], &len);
    Cx__PublishReply *dup = s_send1(pub, len);
    CXT_CHECK(dup && dup->n_acked == 1 && dup->n_duplicates == 1 && dup->duplicates[0] == 2,
              "seq 2 again is acked as a duplicate");
    if (dup) cx__publish_reply__free_unpacked(dup, NULL);
    free(pub);
    pub = s_publish_from("seqp", 5, 5, evs[5], evls[5], &len);
    s_expect_ack(s_send1(pub, len), 5, "seq 5 with base 5: seq 4 was answered, the gap is fine");
    free(pub);
    pub = s_publish_from("newp", 7, 3, evs[4], evls[4], &len);
    s_expect_nack(s_send1(pub, len), 7, CX_E_OUT_OF_ORDER,
                  "a new producer's seq 7 while it awaits seq 3");
    free(pub);
    for (int i = 1; i <= 5; i++)
        free(evs[i]);
    CXT_CHECK(cxt_stat(&b, "log_events") == 5, "each of s1, s2, s3, s5 logged once (%lld in all)",
              (long long)cxt_stat(&b, "log_events"));
    Cx__AdminReply *r = cxt_admin(&b, "stats", NULL);
    size_t reasons = r && r->stats ? r->stats->n_rejected_by_reason : 0;
    CXT_CHECK(reasons >= 6, "stats break rejections down by reason (%zu reasons)", reasons);
    if (r) cx__admin_reply__free_unpacked(r, NULL);

    zmq_close(s_sock);
    zmq_ctx_term(ctx);
    CXT_CHECK(cxt_broker_stop(&b) == 0, "broker exits 0 after all of it");
    cxt_broker_cleanup(&b);
    return cxt_end();
}
