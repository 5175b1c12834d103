/* cxtest.h - what integration tests share: a real cxbroker process in a temp
 * dir on ipc:// sockets, and a small check/report helper.
 *
 * A test program calls cxt_begin(name), makes checks with CXT_CHECK, and ends
 * with return cxt_end(): it prints "N passed, N failed" and exits non-zero on
 * any failure. Brokers are found in $CX_BIN (set by tests/run.sh), else build/bin.
 */
#ifndef CXTEST_H
#define CXTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cx.h"

typedef struct {
    char dir[256]; /* temp dir: config, data, sockets, broker.log */
    char config[300];
    char pub_ep[300], deliver_ep[300], admin_ep[300];
    pid_t pid;
} cxt_broker_t;

void cxt_begin(const char *name);
int cxt_end(void);
void cxt_check(bool ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define CXT_CHECK(cond, ...) cxt_check((cond), __FILE__, __LINE__, __VA_ARGS__)
/* Progress line on stderr, with the time since cxt_begin. */
void cxt_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Makes a temp dir and writes its config: ipc:// endpoints inside it, storage
 * in DIR/data, then `extra` (YAML appended: partners, routes, overrides of
 * ingest/dedup/checkpoint sections). */
int cxt_broker_init(cxt_broker_t *b, const char *extra_yaml);
/* Starts cxbroker and waits until its admin endpoint answers. 0 or -1. */
int cxt_broker_start(cxt_broker_t *b);
/* SIGTERM and wait: the exit status (0 expected), or -1. */
int cxt_broker_stop(cxt_broker_t *b);
/* SIGKILL and reap. */
void cxt_broker_kill9(cxt_broker_t *b);
/* Removes the temp dir (stops the broker first if running). */
void cxt_broker_cleanup(cxt_broker_t *b);

/* One admin call; NULL on failure. Free with cx__admin_reply__free_unpacked. */
Cx__AdminReply *cxt_admin(cxt_broker_t *b, const char *cmd, const char *arg);
/* A stats counter by name via the admin endpoint (events_accepted, log_events, ...); -1 on error.
 */
int64_t cxt_stat(cxt_broker_t *b, const char *name);
/* Path of a program in $CX_BIN. */
const char *cxt_bin(const char *prog);
/* Runs a shell command, capturing stdout into out (malloc'd, may be NULL). Exit status. */
int cxt_run(const char *cmd, char **out);

/* Deterministic pseudo-random numbers (xorshift64*). */
uint64_t cxt_rand(uint64_t *state);

#endif
