/*
 * Logging.  pvisor's own messages go to stderr prefixed "pvisor: "; the guest
 * console goes to stdout.  Anything a guest can trigger repeatedly is logged
 * with log_guest(), which is rate-limited.
 */
#ifndef PVISOR_LOG_H
#define PVISOR_LOG_H

#include <stdbool.h>
#include <stddef.h>

extern int log_verbosity; /* 0 quiet, 1 normal (default), 2 debug */

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A guest's mistake: debug-level detail, at most a few lines per second. */
void log_guest(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A parser's or checker's one-line error into the caller's buffer (err may
 * be NULL or err_len 0: nothing is written); the caller decides whether
 * and where it is logged. */
void errbuf_printf(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
