/* 9pfs frontend (see kit/p9front.h). */
#include <kit/console.h>
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
	char nodename[64], backend[96], tag[64];
	struct xen_9pfs_data_intf *intf;
	grant_ref_t intf_ref;
	unsigned char *data;  /* in, then out */
	uint32_t size;
	unsigned order;
	evtchn_port_t port;
	struct thread *waiter;
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

static int alloc_ring(struct p9front *dev)
{
	long rc;

	dev->intf = alloc_page();
	dev->data = alloc_pages(1ul << dev->order);
	if (!dev->intf || !dev->data)
		return -XEN_ENOMEM;
	memset(dev->intf, 0, PAGE_SIZE);
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
	dev->size = XEN_FLEX_RING_SIZE(dev->order);
	return 0;
}

struct p9front *p9front_init(unsigned devid, unsigned order)
{
	struct p9front *dev = kzalloc(sizeof(*dev));
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = BACKEND_DOMID };
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
	rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	if (rc < 0)
		return NULL;
	dev->port = au.port;
	evtchn_bind(dev->port, p9f_handler, dev);
	if (xenbus_transact(publish_entries, dev)) {
		printf("p9front: cannot publish the ring\n");
		return NULL;
	}
	rc = xenbus_wait_state(path, XenbusStateConnected, XenbusStateClosed,
			       monotonic_ns() + P9F_TIMEOUT_NS);
	if (rc != XenbusStateConnected) {
		printf("p9front: backend did not connect (state %ld)\n", rc);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/state", dev->nodename);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateConnected);
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

long p9front_backend_state(struct p9front *dev)
{
	char path[160];
	unsigned long v;

	snprintf(path, sizeof(path), "%s/state", dev->backend);
	return xenbus_read_ulong(XBT_NIL, path, &v) ? -1 : (long)v;
}

/* Writes len bytes to `out`, waiting for room. */
static int put_out(struct p9front *dev, const void *msg, uint32_t len)
{
	unsigned char *out = dev->data + dev->size;
	uint64_t deadline = monotonic_ns() + P9F_TIMEOUT_NS;

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

long p9front_recv(struct p9front *dev, void *rsp, uint32_t cap)
{
	uint64_t deadline = monotonic_ns() + P9F_TIMEOUT_NS;

	for (;;) {
		RING_IDX prod = READ_ONCE(dev->intf->in_prod);
		RING_IDX cons = dev->intf->in_cons;
		RING_IDX queued;

		rmb();
		queued = xen_9pfs_queued(prod, cons, dev->size);
		if (queued >= 7) {
			RING_IDX mcons = xen_9pfs_mask(cons, dev->size);
			uint32_t size;

			xen_9pfs_read_packet(&size, dev->data, 4,
					     xen_9pfs_mask(prod, dev->size), &mcons,
					     dev->size);
			if (size <= queued) {
				mcons = xen_9pfs_mask(cons, dev->size);
				if (size <= cap)
					xen_9pfs_read_packet(rsp, dev->data, size,
							     xen_9pfs_mask(prod, dev->size),
							     &mcons, dev->size);
				mb();
				WRITE_ONCE(dev->intf->in_cons, cons + size);
				/* Room on `in` for answers waiting for it (as
				 * Linux's 9pnet_xen notifies). */
				if (queued - size < size)
					evtchn_send(dev->port);
				return size <= cap ? (long)size : -XEN_E2BIG;
			}
		}
		if (monotonic_ns() > deadline)
			return -XEN_ETIMEDOUT;
		p9f_wait(dev, monotonic_ns() + 10000000ull);
	}
}
