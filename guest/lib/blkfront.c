/* blkfront (see kit/blkfront.h). */
#include <kit/blkfront.h>
#include <kit/console.h>
#include <kit/control.h>
#include <kit/events.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()

#define BF_MAX_ORDER 4
#define BF_MAX_SEGS 256 /* indirect segments used at most */
#define BF_SEGS_PER_PAGE (PAGE_SIZE / sizeof(struct blkif_request_segment))
#define BF_TIMEOUT_NS (10ull * 1000000000ull)
#define BACKEND_DOMID 0

struct bf_shadow {
	struct blkfront_aio *aio;
	unsigned nr_grefs;
	grant_ref_t grefs[BF_MAX_SEGS];
	void *indirect;          /* page of segments, or NULL */
	grant_ref_t indirect_gref;
	bool busy;
};

struct blkfront {
	struct blkfront_info info;
	char nodename[64], backend[96];
	struct blkif_front_ring ring;
	struct blkif_sring *sring;
	unsigned order;
	grant_ref_t ring_refs[1u << BF_MAX_ORDER];
	evtchn_port_t port;
	struct bf_shadow *shadow;
	unsigned nr_shadow, pending;
	unsigned *free_ids, nr_free;
	struct thread *waiter;
	bool notified;
	bool suspending;         /* kit_suspend: no new request */
	uint64_t notifications;
};

unsigned blkfront_vdev(const char *name)
{
	if (strlen(name) != 4 || strncmp(name, "xvd", 3) || name[3] < 'a' ||
	    name[3] > 'z')
		return 0;
	return (202u << 8) | ((unsigned)(name[3] - 'a') << 4);
}

static void bf_handler(evtchn_port_t port, void *data)
{
	struct blkfront *dev = data;

	dev->notified = true;
	dev->notifications++;
	thread_wake(dev->waiter);
}

static unsigned long be_ulong(struct blkfront *dev, const char *key,
			      unsigned long dflt)
{
	char path[160];
	unsigned long v;

	snprintf(path, sizeof(path), "%s/%s", dev->backend, key);
	return xenbus_read_ulong(XBT_NIL, path, &v) ? dflt : v;
}

/* The frontend's half of the handshake, written in one transaction. */
static int publish_entries(xenbus_transaction_t t, void *opaque)
{
	struct blkfront *dev = opaque;
	const char *dir = dev->nodename;
	int rc = 0;

	if (dev->order == 0) {
		xenbus_printf_under(t, &rc, dir, "ring-ref", "%u", dev->ring_refs[0]);
	} else {
		xenbus_printf_under(t, &rc, dir, "ring-page-order", "%u", dev->order);
		for (unsigned i = 0; i < (1u << dev->order); i++) {
			char key[16];

			snprintf(key, sizeof(key), "ring-ref%u", i);
			xenbus_printf_under(t, &rc, dir, key, "%u", dev->ring_refs[i]);
		}
	}
	xenbus_printf_under(t, &rc, dir, "event-channel", "%u", dev->port);
	xenbus_printf_under(t, &rc, dir, "protocol", "%s", XEN_IO_PROTO_ABI_X86_64);
	xenbus_printf_under(t, &rc, dir, "feature-persistent", "%u", 0);
	xenbus_printf_under(t, &rc, dir, "state", "%u", XenbusStateInitialised);
	return rc;
}

/* Publishes ring and event channel, Linux's way: one transaction. */
static int publish(struct blkfront *dev)
{
	return xenbus_transact(publish_entries, dev);
}

/*
 * The handshake from the backend's InitWait to Connected: ring pages
 * granted, a channel, the entries published.  At init, and again after a
 * restore into a new domain (the old grants and channel are gone; the new
 * domain's backend waits in InitWait as at boot).  0 or -1 (said why).
 */
static int bf_connect(struct blkfront *dev, unsigned order)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = BACKEND_DOMID };
	char path[160];
	unsigned long max_order;
	long rc;

	snprintf(path, sizeof(path), "%s/state", dev->backend);
	rc = xenbus_wait_state(path, XenbusStateInitWait, XenbusStateInitWait,
			       monotonic_ns() + BF_TIMEOUT_NS);
	if (rc < 0) {
		printf("blkfront: backend %s not in InitWait (%ld)\n",
		       dev->backend, rc);
		return -1;
	}
	if (!dev->sring) {
		max_order = be_ulong(dev, "max-ring-page-order", 0);
		dev->order = order < max_order ? order : (unsigned)max_order;
		if (dev->order > BF_MAX_ORDER)
			dev->order = BF_MAX_ORDER;
		dev->sring = alloc_pages(1ul << dev->order);
		if (!dev->sring)
			return -1;
	}
	SHARED_RING_INIT(dev->sring);
	FRONT_RING_INIT(&dev->ring, dev->sring, PAGE_SIZE << dev->order);
	for (unsigned i = 0; i < (1u << dev->order); i++) {
		rc = gnttab_grant_access(BACKEND_DOMID,
					 virt_to_mfn((uint8_t *)dev->sring + i * PAGE_SIZE),
					 false);
		if (rc < 0)
			return -1;
		dev->ring_refs[i] = (grant_ref_t)rc;
	}
	rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	if (rc < 0)
		return -1;
	dev->port = au.port;
	evtchn_bind(dev->port, bf_handler, dev);
	if (publish(dev)) {
		printf("blkfront: cannot publish the ring\n");
		return -1;
	}
	rc = xenbus_wait_state(path, XenbusStateConnected, XenbusStateClosed,
			       monotonic_ns() + BF_TIMEOUT_NS);
	if (rc != XenbusStateConnected) {
		printf("blkfront: backend did not connect (state %ld)\n", rc);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", dev->nodename);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateConnected);
	return 0;
}

/* Suspend (kit/control.h): no new request, the ring drained. */
static void bf_suspend(void *opaque)
{
	struct blkfront *dev = opaque;
	uint64_t until = monotonic_ns() + BF_TIMEOUT_NS;

	dev->suspending = true;
	while (dev->pending && monotonic_ns() < until) {
		blkfront_poll(dev);
		if (dev->pending)
			blkfront_wait(dev, monotonic_ns() + 10000000ull);
	}
}

static void bf_resume(void *opaque, bool new_domain)
{
	struct blkfront *dev = opaque;

	if (new_domain && bf_connect(dev, dev->order) < 0)
		panic("blkfront %s: cannot reconnect after the restore", dev->info.name);
	dev->suspending = false;
	if (dev->waiter)
		thread_wake(dev->waiter);
}

struct blkfront *blkfront_init(unsigned vdev, unsigned order,
			       struct blkfront_info *info)
{
	struct blkfront *dev = kzalloc(sizeof(*dev));
	char path[160];

	if (!dev)
		return NULL;
	snprintf(dev->nodename, sizeof(dev->nodename), "device/vbd/%u", vdev);
	snprintf(path, sizeof(path), "%s/backend", dev->nodename);
	if (xenbus_read(XBT_NIL, path, dev->backend, sizeof(dev->backend)) < 0) {
		printf("blkfront: no %s\n", path);
		goto fail;
	}
	if (bf_connect(dev, order) < 0)
		goto fail;
	dev->nr_shadow = RING_SIZE(&dev->ring);
	dev->shadow = kzalloc(dev->nr_shadow * sizeof(*dev->shadow));
	dev->free_ids = kzalloc(dev->nr_shadow * sizeof(*dev->free_ids));
	if (!dev->shadow || !dev->free_ids)
		goto fail;
	for (unsigned i = 0; i < dev->nr_shadow; i++)
		dev->free_ids[dev->nr_free++] = dev->nr_shadow - 1 - i;
	dev->info.vdev = vdev;
	snprintf(dev->info.name, sizeof(dev->info.name), "xvd%c",
		 'a' + (int)((vdev >> 4) & 15));
	dev->info.sectors = be_ulong(dev, "sectors", 0);
	dev->info.sector_size = (unsigned)be_ulong(dev, "sector-size", 512);
	dev->info.ro = be_ulong(dev, "info", 0) & VDISK_READONLY;
	dev->info.flush = be_ulong(dev, "feature-flush-cache", 0);
	dev->info.barrier = be_ulong(dev, "feature-barrier", 0);
	dev->info.discard = be_ulong(dev, "feature-discard", 0);
	dev->info.max_segs = (unsigned)be_ulong(dev, "feature-max-indirect-segments", 0);
	if (dev->info.max_segs > BF_MAX_SEGS)
		dev->info.max_segs = BF_MAX_SEGS;
	if (dev->info.max_segs < BLKIF_MAX_SEGMENTS_PER_REQUEST)
		dev->info.max_segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	dev->info.ring_pages = 1u << dev->order;
	kit_suspend_hook(bf_suspend, bf_resume, dev);
	if (info)
		*info = dev->info;
	return dev;
fail:
	return NULL; /* pages and grants stay allocated: a failed device */
}

struct blkif_front_ring *blkfront_ring(struct blkfront *dev)
{
	return &dev->ring;
}

void blkfront_notify(struct blkfront *dev)
{
	evtchn_send(dev->port);
}

int blkfront_backend_state(struct blkfront *dev)
{
	return (int)be_ulong(dev, "state", XenbusStateUnknown);
}

uint64_t blkfront_notifications(struct blkfront *dev)
{
	return dev->notifications;
}

unsigned blkfront_pending(struct blkfront *dev)
{
	return dev->pending;
}

int blkfront_aio_submit(struct blkfront *dev, struct blkfront_aio *aio)
{
	uintptr_t addr = (uintptr_t)aio->buf;
	unsigned nsegs = 0, id;
	struct blkif_request_segment segs[BF_MAX_SEGS];
	struct bf_shadow *sh;
	struct blkif_request *req;
	size_t left = aio->bytes;
	bool ro = aio->op != BLKIF_OP_READ; /* the backend only reads it */
	int notify;

	if ((addr & 511) || (aio->bytes & 511))
		return -XEN_EINVAL;
	if (dev->suspending)
		return -XEN_EAGAIN; /* as a full ring: poll, wait, retry */
	if (!aio->bytes && aio->op != BLKIF_OP_FLUSH_DISKCACHE &&
	    aio->op != BLKIF_OP_WRITE_BARRIER)
		return -XEN_EINVAL;
	if (RING_FULL(&dev->ring) || !dev->nr_free)
		return -XEN_EAGAIN;
	id = dev->free_ids[--dev->nr_free];
	sh = &dev->shadow[id];
	sh->aio = aio;
	sh->nr_grefs = 0;
	sh->indirect = NULL;
	while (left) {
		size_t off = addr & (PAGE_SIZE - 1);
		size_t chunk = PAGE_SIZE - off;
		long ref;

		if (chunk > left)
			chunk = left;
		if (nsegs == dev->info.max_segs)
			goto too_big;
		ref = gnttab_grant_access(BACKEND_DOMID,
					  virt_to_mfn((void *)addr), ro);
		if (ref < 0)
			goto too_big;
		sh->grefs[sh->nr_grefs++] = (grant_ref_t)ref;
		segs[nsegs].gref = (grant_ref_t)ref;
		segs[nsegs].first_sect = (uint8_t)(off >> 9);
		segs[nsegs].last_sect = (uint8_t)(((off + chunk) >> 9) - 1);
		nsegs++;
		addr += chunk;
		left -= chunk;
	}
	req = RING_GET_REQUEST(&dev->ring, dev->ring.req_prod_pvt);
	if (nsegs <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		req->operation = aio->op;
		req->nr_segments = (uint8_t)nsegs;
		req->handle = (blkif_vdev_t)dev->info.vdev;
		req->id = id;
		req->sector_number = aio->sector;
		memcpy(req->seg, segs, nsegs * sizeof(segs[0]));
	} else {
		struct blkif_request_indirect *ind = (void *)req;
		long ref;

		if (aio->op != BLKIF_OP_READ && aio->op != BLKIF_OP_WRITE)
			goto too_big;
		sh->indirect = alloc_page();
		if (!sh->indirect)
			goto too_big;
		memcpy(sh->indirect, segs, nsegs * sizeof(segs[0]));
		ref = gnttab_grant_access(BACKEND_DOMID, virt_to_mfn(sh->indirect),
					  true);
		if (ref < 0)
			goto too_big;
		sh->indirect_gref = (grant_ref_t)ref;
		ind->operation = BLKIF_OP_INDIRECT;
		ind->indirect_op = aio->op;
		ind->nr_segments = (uint16_t)nsegs;
		ind->id = id;
		ind->sector_number = aio->sector;
		ind->handle = (blkif_vdev_t)dev->info.vdev;
		ind->indirect_grefs[0] = (grant_ref_t)ref;
	}
	sh->busy = true;
	aio->done = false;
	dev->ring.req_prod_pvt++;
	dev->pending++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&dev->ring, notify);
	if (notify)
		evtchn_send(dev->port);
	return 0;
too_big:
	for (unsigned i = 0; i < sh->nr_grefs; i++)
		gnttab_end_access(sh->grefs[i]);
	if (sh->indirect)
		free_page(sh->indirect);
	sh->indirect = NULL;
	dev->free_ids[dev->nr_free++] = id;
	return -XEN_EINVAL;
}

int blkfront_poll(struct blkfront *dev)
{
	int done = 0, more;

	do {
		RING_IDX rp = READ_ONCE(dev->ring.sring->rsp_prod);

		rmb();
		while (dev->ring.rsp_cons != rp) {
			struct blkif_response *rsp =
				RING_GET_RESPONSE(&dev->ring, dev->ring.rsp_cons);
			uint64_t id = rsp->id;
			struct bf_shadow *sh;

			dev->ring.rsp_cons++;
			if (id >= dev->nr_shadow || !dev->shadow[id].busy)
				continue; /* not ours (hostile tests) */
			sh = &dev->shadow[id];
			for (unsigned i = 0; i < sh->nr_grefs; i++)
				while (gnttab_end_access(sh->grefs[i]) == -XEN_EBUSY)
					thread_yield();
			if (sh->indirect) {
				while (gnttab_end_access(sh->indirect_gref) == -XEN_EBUSY)
					thread_yield();
				free_page(sh->indirect);
				sh->indirect = NULL;
			}
			sh->busy = false;
			dev->free_ids[dev->nr_free++] = (unsigned)id;
			dev->pending--;
			sh->aio->status = rsp->status;
			sh->aio->done = true;
			if (sh->aio->cb)
				sh->aio->cb(sh->aio);
			done++;
		}
		RING_FINAL_CHECK_FOR_RESPONSES(&dev->ring, more);
	} while (more);
	return done;
}

void blkfront_wait(struct blkfront *dev, uint64_t deadline_ns)
{
	unsigned long flags = local_irq_save();

	if (!dev->notified && !RING_HAS_UNCONSUMED_RESPONSES(&dev->ring)) {
		dev->waiter = thread_current();
		thread_block(deadline_ns);
		dev->waiter = NULL;
	}
	dev->notified = false;
	local_irq_restore(flags);
}

int blkfront_io(struct blkfront *dev, uint8_t op, uint64_t sector, void *buf,
		size_t bytes)
{
	struct blkfront_aio aio = { .buf = buf, .sector = sector,
				    .bytes = bytes, .op = op };
	int rc;

	while ((rc = blkfront_aio_submit(dev, &aio)) == -XEN_EAGAIN) {
		blkfront_poll(dev);
		blkfront_wait(dev, monotonic_ns() + 100000000ull);
	}
	if (rc)
		return rc;
	while (!aio.done) {
		if (!blkfront_poll(dev))
			blkfront_wait(dev, monotonic_ns() + 100000000ull);
	}
	return aio.status == BLKIF_RSP_OKAY ? 0 : -XEN_EIO;
}

int blkfront_flush(struct blkfront *dev)
{
	return blkfront_io(dev, dev->info.flush ? BLKIF_OP_FLUSH_DISKCACHE
						 : BLKIF_OP_WRITE_BARRIER,
			   0, NULL, 0);
}

long blkfront_wait_closing(struct blkfront *dev, uint64_t deadline_ns)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/state", dev->backend);
	return xenbus_wait_state(path, XenbusStateClosing, XenbusStateClosed, deadline_ns);
}

/* Until the backend's state is in [lo, Closed], or the device is gone: its
 * nodes removed (a toolstack may take them away as soon as it is Closed),
 * or a new device's in their place, at InitWait or before (the toolstack
 * may add one at the same path at once; ours never goes back there). */
static void wait_backend(struct blkfront *dev, unsigned long lo)
{
	static unsigned seq;
	uint64_t deadline = monotonic_ns() + BF_TIMEOUT_NS;
	char path[160], token[32];
	unsigned long st;
	int rc;

	snprintf(path, sizeof(path), "%s/state", dev->backend);
	snprintf(token, sizeof(token), "bf-close-%u", seq++);
	if (xenbus_watch(path, token) < 0)
		return;
	for (;;) {
		rc = xenbus_read_ulong(XBT_NIL, path, &st);
		if (rc == -XEN_ENOENT ||
		    (rc == 0 && ((st >= lo && st <= XenbusStateClosed) ||
				 st <= XenbusStateInitWait)))
			break;
		if (xenbus_wait_watch(token, deadline) < 0) {
			printf("blkfront: %s: backend state %lu, not %lu..%u or gone, "
			       "after %llu s\n", dev->backend, st, lo, XenbusStateClosed,
			       BF_TIMEOUT_NS / 1000000000ull);
			break;
		}
	}
	xenbus_unwatch(path, token);
}

void blkfront_shutdown(struct blkfront *dev)
{
	char path[160];

	kit_suspend_unhook(dev);
	snprintf(path, sizeof(path), "%s/state", dev->nodename);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateClosing);
	wait_backend(dev, XenbusStateClosing);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateClosed);
	wait_backend(dev, XenbusStateClosed);
	evtchn_unbind(dev->port);
	evtchn_close(dev->port);
	for (unsigned i = 0; i < (1u << dev->order); i++)
		gnttab_end_access(dev->ring_refs[i]);
	free_pages(dev->sring, 1ul << dev->order);
	kfree(dev->shadow);
	kfree(dev->free_ids);
	kfree(dev);
}
