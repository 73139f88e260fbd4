/*
 * Console: the xencons_interface ring from start_info.console.domU (output
 * ring + EVTCHNOP_send notify; input ring read by console_getc), and printf.
 */
#ifndef KIT_CONSOLE_H
#define KIT_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

#include <pvisor/xen.h>
#include <xen/io/console.h>

/* Maps the ring (call first: needs only start_info). */
void console_init(void);
/* After a restore: the ring and channel start_info names now. */
void console_resume(void);
/* Binds the input notification (after events_init). */
void console_init_input(void);

/* Writes len bytes to the output ring, waiting for space.  Bytes go out
 * unchanged (no "\r" is added).  Usable from any context once console_init
 * ran. */
void console_write(const char *buf, size_t len);

/* The same on any console ring r whose backend listens on port (the
 * secondary consoles of kit/vconsole.h). */
void xencons_write(struct xencons_interface *r, evtchn_port_t port,
		   const char *buf, size_t len);

/* Next input byte, or -1 if none is waiting. */
int console_trygetc(void);
/* Next input byte; blocks the calling thread until one arrives. */
int console_getc(void);

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
/* C99 semantics: returns the length the full output would have. */
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int puts(const char *s);

#endif
