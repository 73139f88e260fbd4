/*
 * xenbus client: the xenstore wire protocol (<xen/io/xs_wire.h>) over the
 * store ring named in start_info (store_mfn, store_evtchn).  One request is
 * outstanding at a time (threads are cooperative and take turns on the
 * ring); watch events that arrive
 * meanwhile are queued for xenbus_wait_watch().  Paths are absolute or
 * relative to /local/domain/<own id>.  Errors are -XEN_Exxx, mapped from the
 * store's error strings.
 */
#ifndef KIT_XENBUS_H
#define KIT_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t xenbus_transaction_t;
#define XBT_NIL 0u

/* Binds the store event channel; called by the first request too. */
int xenbus_init(void);
/* After a restore: the store channel start_info names now, and every
 * watch set again.  0 or -errno. */
int xenbus_resume(void);

/* Reads path into buf (NUL-terminated); returns the value length or -errno
 * (-XEN_E2BIG if it does not fit). */
long xenbus_read(xenbus_transaction_t t, const char *path, char *buf, size_t len);
/* Reads a decimal number; 0 or -errno. */
int xenbus_read_ulong(xenbus_transaction_t t, const char *path, unsigned long *v);
int xenbus_write(xenbus_transaction_t t, const char *path, const char *value);
int xenbus_printf(xenbus_transaction_t t, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int xenbus_rm(xenbus_transaction_t t, const char *path);

/* Writes dir/key = printf(fmt, ...) in t, unless *rc already holds an error
 * (which it then keeps): a run of writes checks the result once. */
void xenbus_printf_under(xenbus_transaction_t t, int *rc, const char *dir,
			 const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Runs fill(t, opaque) in a transaction, again on EAGAIN (a conflict);
 * aborts it if fill fails.  0 or the error. */
int xenbus_transact(int (*fill)(xenbus_transaction_t t, void *opaque),
		    void *opaque);
/* Child names, each NUL-terminated, into buf; returns the byte count. */
long xenbus_directory(xenbus_transaction_t t, const char *path, char *buf, size_t len);

int xenbus_transaction_start(xenbus_transaction_t *t);
/* Commits (abort false) or aborts; -XEN_EAGAIN: conflict, start over. */
int xenbus_transaction_end(xenbus_transaction_t t, bool abort);

/* Watches path with token (the store fires once at once). */
int xenbus_watch(const char *path, const char *token);
int xenbus_unwatch(const char *path, const char *token);
/* Waits for a watch event with token (consumes it); 0, or -XEN_ETIMEDOUT
 * when deadline_ns (monotonic, 0 = none) passes. */
int xenbus_wait_watch(const char *token, uint64_t deadline_ns);

/* Takes a watch event with token if one is queued or has arrived, without
 * waiting: 0, -XEN_EAGAIN (none), -XEN_EBUSY (another thread is on the
 * ring; try later). */
int xenbus_poll_watch(const char *token);
/* The store sent something not yet read (call with events disabled before
 * blocking, so that the wake-up is not lost). */
bool xenbus_input_pending(void);
/* Makes t runnable on every store notification (NULL: none). */
struct thread;
void xenbus_wake_on_event(struct thread *t);

/*
 * Waits until the number at path is one of the states in [lo, hi]; returns
 * the state, or -errno (-XEN_ETIMEDOUT).  Uses a watch with a private token,
 * set and removed on each call.
 */
long xenbus_wait_state(const char *path, unsigned long lo, unsigned long hi,
		       uint64_t deadline_ns);
/*
 * The same on a watch the caller keeps (xenbus_watch(path, token) done
 * before, e.g. a frontend's watch on its backend's state): no watch round
 * trip per call.  The events it takes are token's; one left queued only
 * makes the next wait read the state once more.
 */
long xenbus_wait_state_watched(const char *path, const char *token, unsigned long lo,
			       unsigned long hi, uint64_t deadline_ns);

#endif
