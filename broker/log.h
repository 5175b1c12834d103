/* log.h - the broker's logger: one line per message on stderr, with level and time. */
#ifndef CX_LOG_H
#define CX_LOG_H

typedef enum { CX_LOG_DEBUG = 0, CX_LOG_INFO, CX_LOG_WARN, CX_LOG_ERROR } cx_log_level_t;

/* Messages below level are dropped (default CX_LOG_INFO). */
void cx_log_set_level(cx_log_level_t level);
void cx_log(cx_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
