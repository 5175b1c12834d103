/* cx_error.h - the one error table of cxbroker and libcx.
 *
 * Every function that can fail returns 0 or a negative CX_E_* code. The same
 * codes travel on the wire in a Nack, so a publisher sees the broker's reason
 * as a stable number and a human text. Like LMDB and libuv: cx_strerror() for
 * people, cx_err_name() for logs and scripts.
 */
#ifndef CX_ERROR_H
#define CX_ERROR_H

#define CX_ERRORS(X)                                                                               \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVAL, -2, "invalid argument")                                                               \
    X(BAD_FRAME, -3, "malformed message: not one protobuf frame of the expected kind")             \
    X(BAD_PROTOBUF, -4, "event is not a valid encoded cx.Event")                                   \
    X(TOO_LARGE, -5, "message exceeds the size limit")                                             \
    X(MISSING_FIELD, -6, "a required field is missing")                                            \
    X(UNKNOWN_TYPE, -7, "unknown event type")                                                      \
    X(BAD_STRING, -8, "a string is empty, too long or not printable UTF-8")                        \
    X(PAYLOAD_MISMATCH, -9, "the payload does not match the event type")                           \
    X(UNKNOWN_GOAL, -10, "the event names a goal the customer does not have")                      \
    X(UNKNOWN_OFFER, -11, "the event names an offer the customer does not have")                   \
    X(LIMIT, -12, "the customer's context is at its size limit")                                   \
    X(NOT_PERMITTED, -13, "not permitted")                                                         \
    X(STORAGE_FULL, -14, "storage full: the broker refuses new events until space is freed")       \
    X(STORAGE, -15, "storage error")                                                               \
    X(TIMEOUT, -16, "timed out")                                                                   \
    X(UNKNOWN_CUSTOMER, -17, "no such customer")                                                   \
    X(UNKNOWN_PARTNER, -18, "no such partner")                                                     \
    X(CONFIG, -19, "configuration error")                                                          \
    X(ZMQ, -20, "ZeroMQ error")                                                                    \
    X(JSON, -21, "invalid JSON")                                                                   \
    X(BAD_TIME, -22, "invalid time: expected RFC 3339, e.g. 2027-06-01T00:00:00Z")                 \
    X(UNKNOWN_COMMAND, -23, "unknown command")                                                     \
    X(IO, -24, "I/O error")                                                                        \
    X(BAD_VALUE, -25, "a value is out of range")                                                   \
    X(SHUTDOWN, -26, "shutting down")                                                              \
    X(OUT_OF_ORDER, -27, "out of order: an earlier event of this producer has not arrived")

enum {
    CX_OK = 0,
#define CX_ERR_ENUM(name, code, text) CX_E_##name = (code),
    CX_ERRORS(CX_ERR_ENUM)
#undef CX_ERR_ENUM
};

/* Human text for a code; never NULL ("unknown error" for a code not in the table). */
const char *cx_strerror(int code);
/* Stable short name, e.g. "CX_E_TOO_LARGE"; "CX_OK" for 0. Never NULL. */
const char *cx_err_name(int code);

#endif
