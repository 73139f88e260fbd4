/* xenbus client over the store ring (see kit/xenbus.h). */
#include <stdarg.h>

#include <kit/console.h>
#include <kit/events.h>
#include <kit/kit.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define XB_MAX_EVENTS 16
#define XB_TOKEN_MAX 64

static struct xenstore_domain_interface *xb_ring;
static evtchn_port_t xb_port;
static bool xb_ready;
static uint32_t xb_req_id = 1;
/* Threads asleep until the store notifies: one talking on the ring and
 * any waiting for a watch event; each is woken (one waiter alone lost the
 * others' wake-ups, which then took the 10 ms polling backstop). */
#define XB_MAX_WAITERS 8
static struct thread *xb_waiters[XB_MAX_WAITERS];
/* One thread at a time talks on the ring (a request and its reply, or a
 * drain of watch events); others wait their turn. */
static bool xb_busy;
/* A thread woken on every store notification (kit/control.c). */
static struct thread *xb_event_thread;

/* Watch events that arrived while waiting for a reply. */
static struct {
	char token[XB_TOKEN_MAX];
} xb_events[XB_MAX_EVENTS];
static unsigned xb_ev_head, xb_ev_count;

static char xb_msg[XENSTORE_PAYLOAD_MAX + 1];

static const struct {
	const char *name;
	int err;
} xb_errors[] = {
	{ "EINVAL", XEN_EINVAL }, { "EACCES", XEN_EACCES },
	{ "EEXIST", XEN_EEXIST }, { "EISDIR", XEN_EISDIR },
	{ "ENOENT", XEN_ENOENT }, { "ENOMEM", XEN_ENOMEM },
	{ "ENOSPC", XEN_ENOSPC }, { "EIO", XEN_EIO },
	{ "ENOTEMPTY", XEN_ENOTEMPTY }, { "ENOSYS", XEN_ENOSYS },
	{ "EROFS", XEN_EROFS }, { "EBUSY", XEN_EBUSY },
	{ "EAGAIN", XEN_EAGAIN }, { "EISCONN", XEN_EISCONN },
	{ "E2BIG", XEN_E2BIG }, { "EPERM", XEN_EPERM },
};

static void xb_handler(evtchn_port_t port, void *data)
{
	for (unsigned i = 0; i < XB_MAX_WAITERS; i++)
		thread_wake(xb_waiters[i]);
	thread_wake(xb_event_thread);
}

static void xb_acquire(void)
{
	while (xb_busy) {
		unsigned long flags = local_irq_save();

		thread_block(monotonic_ns() + 1000000ull);
		local_irq_restore(flags);
	}
	xb_busy = true;
}

static void xb_release(void)
{
	xb_busy = false;
}

int xenbus_init(void)
{
	int rc;

	if (xb_ready)
		return 0;
	xb_ring = mfn_to_virt(start_info.store_mfn);
	xb_port = start_info.store_evtchn;
	rc = evtchn_bind(xb_port, xb_handler, NULL);
	if (rc < 0)
		return rc;
	xb_ready = true;
	return 0;
}

/* Sleeps until the store notifies (or a short timeout: polling backstop). */
static void xb_wait(bool (*ready)(void))
{
	unsigned long flags = local_irq_save();

	if (!ready()) {
		unsigned slot = 0;

		while (slot < XB_MAX_WAITERS && xb_waiters[slot])
			slot++;
		/* More sleepers than slots: this one polls. */
		if (slot < XB_MAX_WAITERS)
			xb_waiters[slot] = thread_current();
		thread_block(monotonic_ns() + 10000000ull);
		if (slot < XB_MAX_WAITERS)
			xb_waiters[slot] = NULL;
	}
	local_irq_restore(flags);
}

static bool req_space(void)
{
	return READ_ONCE(xb_ring->req_prod) - READ_ONCE(xb_ring->req_cons) <
	       XENSTORE_RING_SIZE;
}

static bool rsp_avail(void)
{
	return READ_ONCE(xb_ring->rsp_prod) != READ_ONCE(xb_ring->rsp_cons);
}

/* Bytes written to `req` the store has not been told of yet. */
static bool xb_req_unsent;

/* Tells the store of what ring_write() queued: once per message, and
 * before waiting for room (a request is one notification, not one per
 * part: each is an exit into the hypervisor). */
static void req_notify(void)
{
	if (!xb_req_unsent)
		return;
	xb_req_unsent = false;
	evtchn_send(xb_port);
}

static void ring_write(const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		XENSTORE_RING_IDX prod = xb_ring->req_prod;
		size_t n;

		while (!req_space()) {
			req_notify();
			xb_wait(req_space);
		}
		n = XENSTORE_RING_SIZE - (prod - READ_ONCE(xb_ring->req_cons));
		if (n > XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod))
			n = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
		if (n > len)
			n = len;
		memcpy(xb_ring->req + MASK_XENSTORE_IDX(prod), p, n);
		wmb();
		WRITE_ONCE(xb_ring->req_prod, prod + (XENSTORE_RING_IDX)n);
		xb_req_unsent = true;
		p += n;
		len -= n;
	}
}

/* Reads from `rsp`; notifies only where the ring was full, the one case
 * in which the store may be waiting for room (as Linux's xb_read). */
static void ring_read(void *data, size_t len)
{
	char *p = data;

	while (len) {
		XENSTORE_RING_IDX cons = xb_ring->rsp_cons, prod;
		size_t n;

		while (!rsp_avail())
			xb_wait(rsp_avail);
		prod = READ_ONCE(xb_ring->rsp_prod);
		rmb();
		n = prod - cons;
		if (n > XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons))
			n = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
		if (n > len)
			n = len;
		memcpy(p, xb_ring->rsp + MASK_XENSTORE_IDX(cons), n);
		mb();
		WRITE_ONCE(xb_ring->rsp_cons, cons + (XENSTORE_RING_IDX)n);
		if (prod - cons >= XENSTORE_RING_SIZE)
			evtchn_send(xb_port);
		p += n;
		len -= n;
	}
}

static void queue_event(const char *payload, size_t len)
{
	/* Payload: path NUL token NUL. */
	size_t plen = strnlen(payload, len);
	const char *token = payload + plen + 1;
	unsigned slot;

	if (plen + 1 >= len)
		return;
	/* An event says only "look again" (the token, not the path, is
	 * kept): one queued per token is enough, and a busy watch (a whole
	 * device directory) cannot crowd the others' out of the queue. */
	for (unsigned i = 0; i < xb_ev_count; i++)
		if (!strncmp(xb_events[(xb_ev_head + i) % XB_MAX_EVENTS].token, token,
			     XB_TOKEN_MAX - 1))
			return;
	/* Full: the oldest goes.  It is most likely one of a watch already
	 * removed (xenbus_wait_state's private tokens: an event the store
	 * sent before the unwatch), which nobody will ever take. */
	if (xb_ev_count == XB_MAX_EVENTS) {
		xb_ev_head = (xb_ev_head + 1) % XB_MAX_EVENTS;
		xb_ev_count--;
	}
	slot = (xb_ev_head + xb_ev_count++) % XB_MAX_EVENTS;
	strlcpy(xb_events[slot].token, token, XB_TOKEN_MAX);
}

/*
 * Sends one request (payload = the parts, each followed by NUL unless
 * `last_raw` says the last part is sent without one, as for XS_WRITE
 * values) and waits for its reply into xb_msg.  Returns the reply length or
 * -errno.
 */
static long xb_request_locked(enum xsd_sockmsg_type type, xenbus_transaction_t t,
			      const char *const *parts, unsigned nr, bool last_raw)
{
	struct xsd_sockmsg hdr = { .type = type, .tx_id = t };
	size_t len = 0;

	for (unsigned i = 0; i < nr; i++)
		len += strlen(parts[i]) + (last_raw && i == nr - 1 ? 0 : 1);
	if (len > XENSTORE_PAYLOAD_MAX)
		return -XEN_E2BIG;
	hdr.req_id = xb_req_id++;
	hdr.len = (uint32_t)len;
	ring_write(&hdr, sizeof(hdr));
	for (unsigned i = 0; i < nr; i++)
		ring_write(parts[i], strlen(parts[i]) +
					     (last_raw && i == nr - 1 ? 0 : 1));
	req_notify();
	for (;;) {
		struct xsd_sockmsg rsp;

		ring_read(&rsp, sizeof(rsp));
		if (rsp.len > XENSTORE_PAYLOAD_MAX)
			panic("xenbus: reply of %u bytes", rsp.len);
		ring_read(xb_msg, rsp.len);
		xb_msg[rsp.len] = '\0';
		if (rsp.type == XS_WATCH_EVENT) {
			queue_event(xb_msg, rsp.len);
			continue;
		}
		if (rsp.req_id != hdr.req_id)
			continue;
		if (rsp.type == XS_ERROR) {
			for (unsigned i = 0; i < ARRAY_SIZE(xb_errors); i++)
				if (!strcmp(xb_msg, xb_errors[i].name))
					return -xb_errors[i].err;
			return -XEN_EINVAL;
		}
		return (long)rsp.len;
	}
}

static long xb_request(enum xsd_sockmsg_type type, xenbus_transaction_t t,
		       const char *const *parts, unsigned nr, bool last_raw)
{
	int rc = xenbus_init();
	long n;

	if (rc < 0)
		return rc;
	xb_acquire();
	n = xb_request_locked(type, t, parts, nr, last_raw);
	xb_release();
	return n;
}

long xenbus_read(xenbus_transaction_t t, const char *path, char *buf, size_t len)
{
	const char *parts[] = { path };
	long n = xb_request(XS_READ, t, parts, 1, false);

	if (n < 0)
		return n;
	if ((size_t)n >= len)
		return -XEN_E2BIG;
	memcpy(buf, xb_msg, (size_t)n);
	buf[n] = '\0';
	return n;
}

int xenbus_read_ulong(xenbus_transaction_t t, const char *path, unsigned long *v)
{
	char buf[32];
	const char *end;
	long n = xenbus_read(t, path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	if (!isdigit(buf[0]))
		return -XEN_EINVAL;
	*v = (unsigned long)strtol(buf, &end, 10);
	return *end ? -XEN_EINVAL : 0;
}

int xenbus_write(xenbus_transaction_t t, const char *path, const char *value)
{
	const char *parts[] = { path, value };
	long n = xb_request(XS_WRITE, t, parts, 2, true);

	return n < 0 ? (int)n : 0;
}

int xenbus_printf(xenbus_transaction_t t, const char *path, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return xenbus_write(t, path, buf);
}

void xenbus_printf_under(xenbus_transaction_t t, int *rc, const char *dir,
			 const char *key, const char *fmt, ...)
{
	char path[160], buf[256];
	va_list ap;

	if (*rc)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	*rc = xenbus_write(t, path, buf);
}

int xenbus_transact(int (*fill)(xenbus_transaction_t t, void *opaque),
		    void *opaque)
{
	xenbus_transaction_t t = XBT_NIL;
	int rc;

	do {
		rc = xenbus_transaction_start(&t);
		if (rc)
			return rc;
		rc = fill(t, opaque);
		if (rc) {
			xenbus_transaction_end(t, true);
			return rc;
		}
		rc = xenbus_transaction_end(t, false);
	} while (rc == -XEN_EAGAIN);
	return rc;
}

int xenbus_rm(xenbus_transaction_t t, const char *path)
{
	const char *parts[] = { path };
	long n = xb_request(XS_RM, t, parts, 1, false);

	return n < 0 ? (int)n : 0;
}

long xenbus_directory(xenbus_transaction_t t, const char *path, char *buf, size_t len)
{
	const char *parts[] = { path };
	long n = xb_request(XS_DIRECTORY, t, parts, 1, false);

	if (n < 0)
		return n;
	if ((size_t)n > len)
		return -XEN_E2BIG;
	memcpy(buf, xb_msg, (size_t)n);
	return n;
}

int xenbus_transaction_start(xenbus_transaction_t *t)
{
	const char *parts[] = { "" };
	const char *end;
	long n = xb_request(XS_TRANSACTION_START, XBT_NIL, parts, 1, false);

	if (n < 0)
		return (int)n;
	*t = (xenbus_transaction_t)strtol(xb_msg, &end, 10);
	return 0;
}

int xenbus_transaction_end(xenbus_transaction_t t, bool abort)
{
	const char *parts[] = { abort ? "F" : "T" };
	long n = xb_request(XS_TRANSACTION_END, t, parts, 1, false);

	return n < 0 ? (int)n : 0;
}

/* The watches set, sent again after a restore (a new domain's store
 * connection has none), as Linux's xs_resume does. */
#define XB_MAX_WATCHES 16
static struct {
	char path[XB_TOKEN_MAX * 2], token[XB_TOKEN_MAX];
} xb_watches[XB_MAX_WATCHES];

static void remember_watch(const char *path, const char *token, bool add)
{
	for (unsigned i = 0; i < XB_MAX_WATCHES; i++) {
		bool used = xb_watches[i].token[0] != '\0';

		if (add && !used) {
			strlcpy(xb_watches[i].path, path, sizeof(xb_watches[i].path));
			strlcpy(xb_watches[i].token, token, sizeof(xb_watches[i].token));
			return;
		}
		if (!add && used && !strcmp(xb_watches[i].path, path) &&
		    !strcmp(xb_watches[i].token, token)) {
			xb_watches[i].token[0] = '\0';
			return;
		}
	}
}

int xenbus_watch(const char *path, const char *token)
{
	const char *parts[] = { path, token };
	long n = xb_request(XS_WATCH, XBT_NIL, parts, 2, false);

	if (n >= 0)
		remember_watch(path, token, true);
	return n < 0 ? (int)n : 0;
}

static bool take_event(const char *token);

/*
 * Events the store sent before it took the unwatch are queued by now (they
 * precede its reply on the ring) and nobody will take them: they go, or
 * the watches a long-running guest makes and removes (each device close
 * has two) fill the queue with dead tokens, and its overflow then drops
 * live events.
 */
int xenbus_unwatch(const char *path, const char *token)
{
	const char *parts[] = { path, token };
	long n = xb_request(XS_UNWATCH, XBT_NIL, parts, 2, false);

	remember_watch(path, token, false);
	while (take_event(token))
		;
	return n < 0 ? (int)n : 0;
}

int xenbus_resume(void)
{
	int rc = 0;

	if (!xb_ready)
		return 0;
	xb_ready = false;
	xb_busy = false; /* the suspending thread held nothing */
	rc = xenbus_init();
	for (unsigned i = 0; rc == 0 && i < XB_MAX_WATCHES; i++) {
		const char *parts[] = { xb_watches[i].path, xb_watches[i].token };

		long n = xb_watches[i].token[0] ?
				 xb_request(XS_WATCH, XBT_NIL, parts, 2, false) : 0;

		if (n < 0)
			rc = (int)n;
	}
	return rc < 0 ? rc : 0;
}

/* Takes a queued event with token; true if there was one. */
static bool take_event(const char *token)
{
	for (unsigned i = 0; i < xb_ev_count; i++) {
		unsigned slot = (xb_ev_head + i) % XB_MAX_EVENTS;

		if (strcmp(xb_events[slot].token, token))
			continue;
		/* Drop it, keeping the order of the rest. */
		for (unsigned j = i; j + 1 < xb_ev_count; j++)
			xb_events[(xb_ev_head + j) % XB_MAX_EVENTS] =
				xb_events[(xb_ev_head + j + 1) % XB_MAX_EVENTS];
		xb_ev_count--;
		return true;
	}
	return false;
}

/* Pulls in whatever the store sent: events only, as no request of ours is
 * outstanding outside xb_busy. */
static void drain_events(void)
{
	xb_acquire();
	while (rsp_avail()) {
		struct xsd_sockmsg rsp;

		ring_read(&rsp, sizeof(rsp));
		if (rsp.len > XENSTORE_PAYLOAD_MAX)
			panic("xenbus: message of %u bytes", rsp.len);
		ring_read(xb_msg, rsp.len);
		xb_msg[rsp.len] = '\0';
		if (rsp.type == XS_WATCH_EVENT)
			queue_event(xb_msg, rsp.len);
	}
	xb_release();
}

int xenbus_poll_watch(const char *token)
{
	int rc = xenbus_init();

	if (rc < 0)
		return rc;
	if (take_event(token))
		return 0;
	if (xb_busy)
		return -XEN_EBUSY;
	drain_events();
	return take_event(token) ? 0 : -XEN_EAGAIN;
}

bool xenbus_input_pending(void)
{
	return xb_ready && rsp_avail();
}

void xenbus_wake_on_event(struct thread *t)
{
	xb_event_thread = t;
}

int xenbus_wait_watch(const char *token, uint64_t deadline_ns)
{
	for (;;) {
		if (take_event(token))
			return 0;
		drain_events();
		if (take_event(token))
			return 0;
		if (deadline_ns && monotonic_ns() >= deadline_ns)
			return -XEN_ETIMEDOUT;
		xb_wait(rsp_avail);
	}
}

long xenbus_wait_state_watched(const char *path, const char *token, unsigned long lo,
			       unsigned long hi, uint64_t deadline_ns)
{
	for (;;) {
		unsigned long st = 0;
		long rc = xenbus_read_ulong(XBT_NIL, path, &st);

		if (rc == 0 && st >= lo && st <= hi)
			return (long)st;
		/* An event queued since the read is taken at once: none lost. */
		rc = xenbus_wait_watch(token, deadline_ns);
		if (rc < 0)
			return rc;
	}
}

long xenbus_wait_state(const char *path, unsigned long lo, unsigned long hi,
		       uint64_t deadline_ns)
{
	static unsigned seq;
	char token[32];
	long rc;

	snprintf(token, sizeof(token), "kit-state-%u", seq++);
	rc = xenbus_watch(path, token);
	if (rc < 0)
		return rc;
	rc = xenbus_wait_state_watched(path, token, lo, hi, deadline_ns);
	xenbus_unwatch(path, token);
	return rc;
}
