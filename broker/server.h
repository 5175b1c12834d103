/* server.h - the broker process: open, recover, bind, run the loop, stop. */
#ifndef CX_SERVER_H
#define CX_SERVER_H

#include "broker.h"

/* Opens the store, recovers state and binds the sockets of cfg (ownership of cfg
 * passes to the broker). 0 and *out, or a CX_E_* (already logged). */
int cx_server_open(cx_config_t *cfg, const char *config_path, volatile int *stop,
                   cx_broker_t **out);
/* Runs until *stop is set: then finishes the current batch, writes cursors and a
 * final checkpoint. A set *reload (SIGHUP) reloads the config and is cleared.
 * 0, or a CX_E_* for a fatal error. */
int cx_server_run(cx_broker_t *b, volatile int *reload);
/* Closes everything; sets *self to NULL. */
void cx_server_destroy(cx_broker_t **self);
/* Loads config_path again and swaps it in if it is valid; *err gets the problem
 * otherwise (the running config stays). 0 or CX_E_CONFIG. */
int cx_server_reload(cx_broker_t *b, char *err, size_t errlen);

/* Admin requests (admin.c). */
void cx_admin_on_readable(cx_broker_t *b);

#endif
