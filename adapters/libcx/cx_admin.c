/* cx_admin.c - one request, one reply, on the broker's admin endpoint; see cx.h. */
#include <zmq.h>

#include "cx.h"

int cx_admin_call(const char *endpoint, const char *command, const char *const *args, size_t n_args,
                  int timeout_ms, Cx__AdminReply **reply)
{
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int rc = CX_E_ZMQ;
    if (!s) goto out;
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, endpoint) != 0) goto out;
    Cx__AdminRequest req = CX__ADMIN_REQUEST__INIT;
    req.command = (char *)command;
    req.args = (char **)args;
    req.n_args = n_args;
    size_t len = cx__admin_request__get_packed_size(&req);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, len) != 0) goto out;
    cx__admin_request__pack(&req, zmq_msg_data(&m));
    if (zmq_msg_send(&m, s, 0) < 0) {
        zmq_msg_close(&m);
        goto out;
    }
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) {
        rc = CX_E_TIMEOUT;
        goto out;
    }
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) >= 0) {
        *reply = cx__admin_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        rc = *reply ? 0 : CX_E_BAD_FRAME;
    }
    zmq_msg_close(&m);
out:
    if (s) zmq_close(s);
    if (ctx) zmq_ctx_term(ctx);
    return rc;
}
