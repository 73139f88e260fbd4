/* Logging to stderr; guest-triggerable messages are rate-limited. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int log_verbosity = 1;

static void log_v(const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write so that lines from vCPU threads do not interleave. */
	fprintf(stderr, "pvisor: %s\n", line);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 2)
		return;
	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}

void log_guest(const char *fmt, ...)
{
	/* Shared by every vCPU and service thread: atomics, and a lost
	 * update only moves the limit by a line. */
	static time_t window;
	static int in_window;
	time_t now = time(NULL);
	va_list ap;

	if (log_verbosity < 2)
		return;
	if (__atomic_exchange_n(&window, now, __ATOMIC_RELAXED) != now)
		__atomic_store_n(&in_window, 0, __ATOMIC_RELAXED);
	if (__atomic_add_fetch(&in_window, 1, __ATOMIC_RELAXED) > 5)
		return;
	va_start(ap, fmt);
	log_v(fmt, ap);
	va_end(ap);
}

void errbuf_printf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}
