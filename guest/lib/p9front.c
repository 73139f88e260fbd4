/* 9pfs frontend (see kit/p9front.h). */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/events.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/p9front.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#include <xen/io/9pfs.h>
#include <xen/io/xenbus.h>

#define P9F_MAX_ORDER 9
#define P9F_TIMEOUT_NS (5ull * 1000000000ull)
#define BACKEND_DOMID 0

struct p9front {
	char nodename[64], backend[96], tag[64], security_model[16];
	struct xen_9pfs_data_intf *intf;
	grant_ref_t intf_ref;
	unsigned char *data;  /* in, then out */
	uint32_t size;
	unsigned order;
	evtchn_port_t port;
	struct thread *waiter;
	/* Suspend and restore (p9f_suspend, p9f_resume): */
	bool suspending, recovering;   /* other threads wait */
	struct thread *recoverer;      /* the thread that may go on */
	uint64_t nr_sent, nr_recv;     /* whole messages each way */
	uint8_t *stash;                /* answers saved in the old ring */
	uint32_t stash_len, stash_off;
	int (*reconnect)(void *);      /* the session's owner (p9client) */
	void *reconnect_opaque;
};

static void p9f_handler(evtchn_port_t port, void *data)
{
	struct p9front *dev = data;

	if (dev->waiter)
		thread_wake(dev->waiter);
}

static void p9f_wait(struct p9front *dev, uint64_t deadline_ns)
{
	unsigned long flags = local_irq_save();

	dev->waiter = thread_current();
	thread_block(deadline_ns);
	dev->waiter = NULL;
	local_irq_restore(flags);
}

static int publish_entries(xenbus_transaction_t t, void *opaque)
{
	struct p9front *dev = opaque;
	int rc = 0;

	xenbus_printf_under(t, &rc, dev->nodename, "version", "%s", "1");
	xenbus_printf_under(t, &rc, dev->nodename, "num-rings", "%u", 1);
	xenbus_printf_under(t, &rc, dev->nodename, "ring-ref0", "%u", dev->intf_ref);
	xenbus_printf_under(t, &rc, dev->nodename, "event-channel-0", "%u", dev->port);
	xenbus_printf_under(t, &rc, dev->nodename, "state", "%u", XenbusStateInitialised);
	return rc;
}

static unsigned long be_ulong(struct p9front *dev, const char *key,
			      unsigned long dflt)
{
	char path[160];
	unsigned long v;

	snprintf(path, sizeof(path), "%s/%s", dev->backend, key);
	return xenbus_read_ulong(XBT_NIL, path, &v) ? dflt : v;
}

/* Grants the data pages and the interface page (again after a restore:
 * the new domain has no grant). */
static int grant_ring(struct p9front *dev)
{
	long rc;

	for (unsigned i = 0; i < (1u << dev->order); i++) {
		rc = gnttab_grant_access(BACKEND_DOMID,
					 virt_to_mfn(dev->data + i * PAGE_SIZE), false);
		if (rc < 0)
			return (int)rc;
		dev->intf->ref[i] = (grant_ref_t)rc;
	}
	dev->intf->ring_order = dev->order;
	rc = gnttab_grant_access(BACKEND_DOMID, virt_to_mfn(dev->intf), false);
	if (rc < 0)
		return (int)rc;
	dev->intf_ref = (grant_ref_t)rc;
	return 0;
}

static int alloc_ring(struct p9front *dev)
{
	dev->intf = alloc_page();
	dev->data = alloc_pages(1ul << dev->order);
	if (!dev->intf || !dev->data)
		return -XEN_ENOMEM;
	memset(dev->intf, 0, PAGE_SIZE);
	dev->size = XEN_FLEX_RING_SIZE(dev->order);
	return grant_ring(dev);
}

/* The channel, the entries, the wait for Connected: at init, and after a
 * restore with the same ring pages.  0 or -1 (said why). */
static int p9f_connect(struct p9front *dev)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = BACKEND_DOMID };
	char path[160];
	long rc;

	rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	if (rc < 0)
		return -1;
	dev->port = au.port;
	evtchn_bind(dev->port, p9f_handler, dev);
	if (xenbus_transact(publish_entries, dev)) {
		printf("p9front: cannot publish the ring\n");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", dev->backend);
	rc = xenbus_wait_state(path, XenbusStateConnected, XenbusStateClosed,
			       monotonic_ns() + P9F_TIMEOUT_NS);
	if (rc != XenbusStateConnected) {
		printf("p9front: backend did not connect (state %ld)\n", rc);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", dev->nodename);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateConnected);
	return 0;
}

static void p9f_suspend(void *opaque);
static void p9f_resume(void *opaque, bool new_domain);

struct p9front *p9front_init(unsigned devid, unsigned order)
{
	struct p9front *dev = kzalloc(sizeof(*dev));
	char path[160];
	unsigned long max_order;
	long rc;

	if (!dev)
		return NULL;
	snprintf(dev->nodename, sizeof(dev->nodename), "device/9pfs/%u", devid);
	snprintf(path, sizeof(path), "%s/backend", dev->nodename);
	if (xenbus_read(XBT_NIL, path, dev->backend, sizeof(dev->backend)) < 0) {
		printf("p9front: no %s\n", path);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/tag", dev->nodename);
	if (xenbus_read(XBT_NIL, path, dev->tag, sizeof(dev->tag)) < 0)
		dev->tag[0] = '\0';
	snprintf(path, sizeof(path), "%s/security_model", dev->backend);
	if (xenbus_read(XBT_NIL, path, dev->security_model, sizeof(dev->security_model)) < 0)
		dev->security_model[0] = '\0';
	snprintf(path, sizeof(path), "%s/state", dev->backend);
	rc = xenbus_wait_state(path, XenbusStateInitWait, XenbusStateInitWait,
			       monotonic_ns() + P9F_TIMEOUT_NS);
	if (rc < 0) {
		printf("p9front: backend %s not in InitWait (%ld)\n", dev->backend, rc);
		return NULL;
	}
	max_order = be_ulong(dev, "max-ring-page-order", 1);
	dev->order = order < max_order ? order : (unsigned)max_order;
	if (dev->order > P9F_MAX_ORDER)
		dev->order = P9F_MAX_ORDER;
	if (alloc_ring(dev)) {
		printf("p9front: cannot set up the ring\n");
		return NULL;
	}
	if (p9f_connect(dev) < 0)
		return NULL;
	kit_suspend_hook(p9f_suspend, p9f_resume, dev);
	return dev;
}

uint32_t p9front_ring_size(const struct p9front *dev)
{
	return dev->size;
}

const char *p9front_tag(const struct p9front *dev)
{
	return dev->tag;
}

const char *p9front_security_model(const struct p9front *dev)
{
	return dev->security_model;
}

long p9front_backend_state(struct p9front *dev)
{
	char path[160];
	unsigned long v;

	snprintf(path, sizeof(path), "%s/state", dev->backend);
	return xenbus_read_ulong(XBT_NIL, path, &v) ? -1 : (long)v;
}

/* Writes len bytes to `out`, waiting for room. */
/* While suspended or recovering, only the recovering thread goes on. */
static bool held(const struct p9front *dev, bool sending)
{
	return (dev->recovering || (sending && dev->suspending)) &&
	       thread_current() != dev->recoverer;
}

static int put_out(struct p9front *dev, const void *msg, uint32_t len)
{
	unsigned char *out = dev->data + dev->size;
	uint64_t deadline;

	while (held(dev, true))
		p9f_wait(dev, monotonic_ns() + 1000000ull);
	deadline = monotonic_ns() + P9F_TIMEOUT_NS;
	for (;;) {
		RING_IDX cons = READ_ONCE(dev->intf->out_cons);
		RING_IDX prod = dev->intf->out_prod;

		mb();
		if (dev->size - xen_9pfs_queued(prod, cons, dev->size) >= len) {
			RING_IDX mprod = xen_9pfs_mask(prod, dev->size);

			xen_9pfs_write_packet(out, msg, len, &mprod,
					      xen_9pfs_mask(cons, dev->size), dev->size);
			wmb();
			WRITE_ONCE(dev->intf->out_prod, prod + len);
			dev->nr_sent++;
			evtchn_send(dev->port);
			return 0;
		}
		if (monotonic_ns() > deadline)
			return -XEN_ETIMEDOUT;
		p9f_wait(dev, monotonic_ns() + 1000000ull);
	}
}

void p9front_send_raw(struct p9front *dev, const void *msg, uint32_t len)
{
	put_out(dev, msg, len);
}

int p9front_send(struct p9front *dev, const void *msg, uint32_t len)
{
	return put_out(dev, msg, len);
}

long p9front_rpc(struct p9front *dev, const void *msg, uint32_t len, void *rsp,
		 uint32_t cap)
{
	int rc = put_out(dev, msg, len);

	return rc ? rc : p9front_recv(dev, rsp, cap);
}

/* The next whole answer from the ring itself, if one is there:
 * -XEN_EAGAIN if not. */
static long ring_take(struct p9front *dev, void *rsp, uint32_t cap)
{
	RING_IDX prod = READ_ONCE(dev->intf->in_prod);
	RING_IDX cons = dev->intf->in_cons;
	RING_IDX queued, mcons;
	uint32_t size;

	rmb();
	queued = xen_9pfs_queued(prod, cons, dev->size);
	if (queued < 7)
		return -XEN_EAGAIN;
	mcons = xen_9pfs_mask(cons, dev->size);
	xen_9pfs_read_packet(&size, dev->data, 4, xen_9pfs_mask(prod, dev->size), &mcons,
			     dev->size);
	if (size > queued)
		return -XEN_EAGAIN;
	mcons = xen_9pfs_mask(cons, dev->size);
	if (size <= cap)
		xen_9pfs_read_packet(rsp, dev->data, size, xen_9pfs_mask(prod, dev->size),
				     &mcons, dev->size);
	mb();
	WRITE_ONCE(dev->intf->in_cons, cons + size);
	/* Room on `in` for answers waiting for it (as Linux's 9pnet_xen
	 * notifies). */
	if (queued - size < size)
		evtchn_send(dev->port);
	dev->nr_recv++;
	return size <= cap ? (long)size : -XEN_E2BIG;
}

/* Answers that were in the ring when the guest was saved come first. */
static long stash_recv(struct p9front *dev, void *rsp, uint32_t cap)
{
	uint32_t size;

	memcpy(&size, dev->stash + dev->stash_off, 4);
	if (size <= cap)
		memcpy(rsp, dev->stash + dev->stash_off, size);
	dev->stash_off += size;
	if (dev->stash_off >= dev->stash_len) {
		free_pages(dev->stash, PFN_UP(dev->stash_len));
		dev->stash = NULL;
		dev->stash_len = dev->stash_off = 0;
	}
	dev->nr_recv++;
	return size <= cap ? (long)size : -XEN_E2BIG;
}

/* Waits for the next answer: the stash's first, then the ring's.  The
 * time spent held by a restore does not count against the timeout. */
long p9front_recv(struct p9front *dev, void *rsp, uint32_t cap)
{
	uint64_t deadline = monotonic_ns() + P9F_TIMEOUT_NS;

	for (;;) {
		long n;

		if (held(dev, false)) {
			p9f_wait(dev, monotonic_ns() + 1000000ull);
			deadline = monotonic_ns() + P9F_TIMEOUT_NS;
			continue;
		}
		if (dev->stash && thread_current() != dev->recoverer)
			return stash_recv(dev, rsp, cap);
		n = ring_take(dev, rsp, cap);
		if (n != -XEN_EAGAIN)
			return n;
		if (monotonic_ns() > deadline)
			return -XEN_ETIMEDOUT;
		p9f_wait(dev, monotonic_ns() + 10000000ull);
	}
}

void p9front_on_reconnect(struct p9front *dev, int (*fn)(void *), void *opaque)
{
	dev->reconnect = fn;
	dev->reconnect_opaque = opaque;
}

/* Whole answers waiting in `in` (written by the backend, not yet taken). */
static uint64_t answers_queued(struct p9front *dev)
{
	RING_IDX prod = READ_ONCE(dev->intf->in_prod), cons = dev->intf->in_cons;
	uint64_t n = 0;

	rmb();
	while (xen_9pfs_queued(prod, cons, dev->size) >= 7) {
		RING_IDX mcons = xen_9pfs_mask(cons, dev->size);
		uint32_t size;

		xen_9pfs_read_packet(&size, dev->data, 4, xen_9pfs_mask(prod, dev->size),
				     &mcons, dev->size);
		if (size < 7 || size > xen_9pfs_queued(prod, cons, dev->size))
			break;
		cons += size;
		n++;
	}
	return n;
}

/*
 * Suspend (kit/control.h): no new request; wait until the backend has
 * answered every request sent, so that nothing is in flight into guest
 * memory while it is saved.  The answers may stay unread in the ring.
 */
static void p9f_suspend(void *opaque)
{
	struct p9front *dev = opaque;
	uint64_t until = monotonic_ns() + P9F_TIMEOUT_NS;

	dev->suspending = true;
	while (dev->nr_sent != dev->nr_recv + answers_queued(dev) &&
	       monotonic_ns() < until)
		p9f_wait(dev, monotonic_ns() + 1000000ull);
}

/* The unread answers out of the old ring, which then starts empty. */
static void stash_answers(struct p9front *dev)
{
	RING_IDX prod = dev->intf->in_prod, cons = dev->intf->in_cons;
	uint32_t queued = xen_9pfs_queued(prod, cons, dev->size);
	RING_IDX mcons = xen_9pfs_mask(cons, dev->size);

	if (!queued)
		return;
	dev->stash = alloc_pages(PFN_UP(queued));
	if (!dev->stash)
		panic("p9front: no memory for the answers of before the restore");
	xen_9pfs_read_packet(dev->stash, dev->data, queued, xen_9pfs_mask(prod, dev->size),
			     &mcons, dev->size);
	dev->stash_len = queued;
	dev->stash_off = 0;
	dev->intf->in_cons = prod;
}

/*
 * Resume in a new domain: the same ring pages granted again, a new
 * channel, the handshake with the new backend, whose 9P session is new:
 * the session's owner (p9client) opens its fids again on this thread
 * while every other thread waits.
 */
static void p9f_resume(void *opaque, bool new_domain)
{
	struct p9front *dev = opaque;

	if (new_domain) {
		dev->recoverer = thread_current();
		dev->recovering = true;
		stash_answers(dev);
		if (grant_ring(dev) || p9f_connect(dev) < 0)
			panic("p9front %s: cannot reconnect after the restore", dev->tag);
		if (dev->reconnect && dev->reconnect(dev->reconnect_opaque) < 0)
			panic("p9front %s: cannot open the session again after the restore",
			      dev->tag);
		dev->recovering = false;
		dev->recoverer = NULL;
	}
	dev->suspending = false;
	if (dev->waiter)
		thread_wake(dev->waiter);
}
