/* scsifront (see kit/scsifront.h). */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/events.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/sched.h>
#include <kit/scsifront.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()

#define SF_MAX_SEGS 256
#define SF_TIMEOUT_NS (10ull * 1000000000ull)
#define BACKEND_DOMID 0

struct sf_shadow {
	struct scsifront_cmd *cmd;
	unsigned nr_grefs;
	grant_ref_t grefs[SF_MAX_SEGS];
	unsigned nr_ind;
	void *ind[2];            /* pages of segments (256 * 8 bytes = 2 pages) */
	grant_ref_t ind_gref[2];
	bool busy;
};

struct scsifront {
	struct scsifront_info info;
	char nodename[64], backend[96];
	/* The watch on the backend's state, kept from the first connection
	 * to shutdown: xenbus_resume() sets it again after a restore. */
	char be_state[112], token[80];
	bool watching;
	struct vscsiif_front_ring ring;
	struct vscsiif_sring *sring;
	grant_ref_t ring_ref;
	evtchn_port_t port;
	struct sf_shadow *shadow;
	unsigned nr_shadow, pending;
	unsigned *free_ids, nr_free;
	struct thread *waiter;
	bool notified;
	bool suspending;         /* kit_suspend: no new request */
	uint64_t notifications;
};

static void sf_handler(evtchn_port_t port, void *data)
{
	struct scsifront *dev = data;

	dev->notified = true;
	dev->notifications++;
	thread_wake(dev->waiter);
}

static unsigned long be_ulong(struct scsifront *dev, const char *key,
			      unsigned long dflt)
{
	char path[200];
	unsigned long v;

	snprintf(path, sizeof(path), "%s/%s", dev->backend, key);
	return xenbus_read_ulong(XBT_NIL, path, &v) ? dflt : v;
}

static int publish_entries(xenbus_transaction_t t, void *opaque)
{
	struct scsifront *dev = opaque;
	int rc = 0;

	xenbus_printf_under(t, &rc, dev->nodename, "ring-ref", "%u", dev->ring_ref);
	xenbus_printf_under(t, &rc, dev->nodename, "event-channel", "%u", dev->port);
	xenbus_printf_under(t, &rc, dev->nodename, "protocol", "%s",
			    XEN_IO_PROTO_ABI_X86_64);
	xenbus_printf_under(t, &rc, dev->nodename, "state", "%u",
			    XenbusStateInitialised);
	return rc;
}

/* "h:c:t:l" */
static int parse_vdev(const char *s, uint16_t out[4])
{
	for (unsigned i = 0; i < 4; i++) {
		unsigned long v = 0;

		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			v = v * 10 + (unsigned long)(*s++ - '0');
		if (v > 65535 || (i < 3 && *s++ != ':'))
			return -1;
		out[i] = (uint16_t)v;
	}
	return *s ? -1 : 0;
}

static unsigned dev_number(const char *name)
{
	unsigned n = 0;

	for (const char *p = name + 4; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (unsigned)(*p - '0');
	return n;
}

static void mark_connected(struct scsifront *dev, const char *name)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/vscsi-devs/%s/state", dev->nodename, name);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateConnected);
}

enum lun_pass { PASS_ADD, PASS_DEL };

static int find_dev(const struct scsifront_info *info, unsigned n)
{
	for (unsigned i = 0; i < info->nr_luns; i++)
		if (info->luns[i].dev == n)
			return (int)i;
	return -1;
}

/* One LUN of vscsi-devs as xen-scsifront's scsifront_do_lun_hotplug
 * takes it: ADD a LUN the backend put in the target (Initialised; our
 * vscsi-devs/dev-N/state becomes Connected, again for one we know after a
 * restore), DEL one it asks away (Closing).  1 if the LUN list changed. */
static int lun_pass_one(struct scsifront *dev, const char *name, enum lun_pass pass)
{
	char path[200], val[32];
	unsigned long st;
	uint16_t v[4];
	int known;
	struct scsifront_lun *l;

	if (strncmp(name, "dev-", 4))
		return 0;
	snprintf(path, sizeof(path), "%s/vscsi-devs/%s/state", dev->backend, name);
	if (xenbus_read_ulong(XBT_NIL, path, &st))
		return 0;
	snprintf(path, sizeof(path), "%s/vscsi-devs/%s/v-dev", dev->backend, name);
	if (xenbus_read(XBT_NIL, path, val, sizeof(val)) < 0 || parse_vdev(val, v))
		return 0;
	known = find_dev(&dev->info, dev_number(name));
	if (pass == PASS_DEL) {
		if (st != XenbusStateClosing || known < 0)
			return 0;
		dev->info.luns[known] = dev->info.luns[--dev->info.nr_luns];
		return 1;
	}
	if (st != XenbusStateInitialised)
		return 0;
	if (known >= 0) {
		mark_connected(dev, name); /* again, after a restore */
		return 0;
	}
	if (dev->info.nr_luns == SCSIFRONT_MAX_LUNS)
		return 0;
	l = &dev->info.luns[dev->info.nr_luns++];
	l->host = v[0];
	l->channel = v[1];
	l->target = v[2];
	l->lun = v[3];
	l->dev = dev_number(name);
	mark_connected(dev, name);
	return 1;
}

static int lun_pass(struct scsifront *dev, enum lun_pass pass)
{
	static char names[1024];
	char path[200];
	long n;
	int changed = 0;

	snprintf(path, sizeof(path), "%s/vscsi-devs", dev->backend);
	n = xenbus_directory(XBT_NIL, path, names, sizeof(names));
	for (long off = 0; n > 0 && off < n; off += (long)strlen(names + off) + 1)
		changed |= lun_pass_one(dev, names + off, pass);
	return changed;
}

static void set_state(struct scsifront *dev, unsigned st)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/state", dev->nodename);
	xenbus_printf(XBT_NIL, path, "%u", st);
}

/* Waits for the backend's state in [lo, hi] on the kept watch (or, if it
 * could not be set, on one of xenbus_wait_state's own). */
static long wait_backend(struct scsifront *dev, unsigned long lo, unsigned long hi,
			 uint64_t deadline_ns)
{
	if (!dev->watching)
		return xenbus_wait_state(dev->be_state, lo, hi, deadline_ns);
	return xenbus_wait_state_watched(dev->be_state, dev->token, lo, hi, deadline_ns);
}

/*
 * The handshake up to Connected: the ring page granted, a channel, the
 * entries published, the LUNs taken.  At init, and again after a restore
 * into a new domain (the old grant and channel are gone; the new domain's
 * backend waits in InitWait as at boot, with the same LUNs).  0 or -1.
 */
static int sf_connect(struct scsifront *dev)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = BACKEND_DOMID };
	long rc;

	SHARED_RING_INIT(dev->sring);
	FRONT_RING_INIT(&dev->ring, dev->sring, PAGE_SIZE);
	rc = gnttab_grant_access(BACKEND_DOMID, virt_to_mfn(dev->sring), false);
	if (rc < 0)
		return -1;
	dev->ring_ref = (grant_ref_t)rc;
	rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	if (rc < 0)
		return -1;
	dev->port = au.port;
	evtchn_bind(dev->port, sf_handler, dev);
	if (xenbus_transact(publish_entries, dev)) {
		printf("scsifront: cannot publish the ring\n");
		return -1;
	}
	if (!dev->watching && xenbus_watch(dev->be_state, dev->token) == 0)
		dev->watching = true;
	rc = wait_backend(dev, XenbusStateConnected, XenbusStateClosed,
			  monotonic_ns() + SF_TIMEOUT_NS);
	if (rc != XenbusStateConnected) {
		printf("scsifront: backend did not connect (state %ld)\n", rc);
		return -1;
	}
	dev->info.max_segs = (unsigned)be_ulong(dev, "feature-sg-grant", 0);
	if (dev->info.max_segs > SF_MAX_SEGS)
		dev->info.max_segs = SF_MAX_SEGS;
	if (dev->info.max_segs < VSCSIIF_SG_TABLESIZE)
		dev->info.max_segs = VSCSIIF_SG_TABLESIZE;
	lun_pass(dev, PASS_ADD);
	set_state(dev, XenbusStateConnected);
	return 0;
}

/* Suspend (kit/control.h): no new request, the ring drained, so that no
 * answer is in flight into guest memory while it is saved. */
static void sf_suspend(void *opaque)
{
	struct scsifront *dev = opaque;
	uint64_t until = monotonic_ns() + SF_TIMEOUT_NS;

	dev->suspending = true;
	while (dev->pending && monotonic_ns() < until) {
		scsifront_poll(dev);
		if (dev->pending)
			scsifront_wait(dev, monotonic_ns() + 10000000ull);
	}
}

/* In a new domain the watch on the backend's state is already back:
 * xenbus_resume() set every watch again before the hooks run (and the
 * store fires each once, so a thread in scsifront_wait_reconfigure reads
 * the state anew).  sf_connect keeps it and only waits on it. */
static void sf_resume(void *opaque, bool new_domain)
{
	struct scsifront *dev = opaque;

	if (new_domain && sf_connect(dev) < 0)
		panic("scsifront: cannot reconnect after the restore");
	dev->suspending = false;
	if (dev->waiter)
		thread_wake(dev->waiter);
}

struct scsifront *scsifront_init(struct scsifront_info *info)
{
	struct scsifront *dev = kzalloc(sizeof(*dev));
	char path[200];

	if (!dev)
		return NULL;
	snprintf(dev->nodename, sizeof(dev->nodename), "device/vscsi/0");
	snprintf(path, sizeof(path), "%s/backend", dev->nodename);
	if (xenbus_read(XBT_NIL, path, dev->backend, sizeof(dev->backend)) < 0) {
		printf("scsifront: no %s\n", path);
		return NULL;
	}
	snprintf(dev->be_state, sizeof(dev->be_state), "%s/state", dev->backend);
	snprintf(dev->token, sizeof(dev->token), "scsifront:%s", dev->nodename);
	dev->sring = alloc_page();
	if (!dev->sring)
		return NULL;
	FRONT_RING_INIT(&dev->ring, dev->sring, PAGE_SIZE);
	dev->nr_shadow = RING_SIZE(&dev->ring);
	dev->shadow = kzalloc(dev->nr_shadow * sizeof(*dev->shadow));
	dev->free_ids = kzalloc(dev->nr_shadow * sizeof(*dev->free_ids));
	if (!dev->shadow || !dev->free_ids)
		return NULL;
	for (unsigned i = 0; i < dev->nr_shadow; i++)
		dev->free_ids[dev->nr_free++] = dev->nr_shadow - 1 - i;
	if (sf_connect(dev) < 0)
		return NULL;
	kit_suspend_hook(sf_suspend, sf_resume, dev);
	if (info)
		*info = dev->info;
	return dev;
}

/* xen-scsifront's answer to the backend's Reconfiguring: drop the LUNs in
 * Closing and say Reconfiguring; on its Reconfigured, add the LUNs in
 * Initialised and be Connected again. */
static int reconfigure_round(struct scsifront *dev, struct scsifront_info *info)
{
	int changed;
	long st;

	changed = lun_pass(dev, PASS_DEL);
	set_state(dev, XenbusStateReconfiguring);
	st = wait_backend(dev, XenbusStateReconfigured, XenbusStateReconfigured,
			  monotonic_ns() + SF_TIMEOUT_NS);
	if (st == XenbusStateReconfigured)
		changed |= lun_pass(dev, PASS_ADD);
	set_state(dev, XenbusStateConnected);
	if (info)
		*info = dev->info;
	return st == XenbusStateReconfigured ? changed : -XEN_ETIMEDOUT;
}

int scsifront_wait_device(uint64_t deadline_ns)
{
	char buf[128];
	int rc;

	rc = xenbus_watch("device/vscsi", "scsifront-wait");
	if (rc < 0)
		return rc;
	/* The directory comes in one transaction: its backend node is there
	 * once it is. */
	while (rc == 0 && xenbus_read(XBT_NIL, "device/vscsi/0/backend", buf, sizeof(buf)) < 0)
		rc = xenbus_wait_watch("scsifront-wait", deadline_ns);
	xenbus_unwatch("device/vscsi", "scsifront-wait");
	return rc;
}

int scsifront_reconfigure(struct scsifront *dev, struct scsifront_info *info)
{
	if (scsifront_backend_state(dev) != XenbusStateReconfiguring)
		return 0;
	return reconfigure_round(dev, info);
}

int scsifront_wait_reconfigure(struct scsifront *dev, struct scsifront_info *info,
			       uint64_t deadline_ns)
{
	long st = wait_backend(dev, XenbusStateReconfiguring, XenbusStateReconfiguring,
			       deadline_ns);

	if (st == -XEN_ETIMEDOUT)
		return 0;
	if (st < 0)
		return (int)st;
	return reconfigure_round(dev, info);
}

struct vscsiif_front_ring *scsifront_ring(struct scsifront *dev)
{
	return &dev->ring;
}

void scsifront_notify(struct scsifront *dev)
{
	evtchn_send(dev->port);
}

int scsifront_backend_state(struct scsifront *dev)
{
	return (int)be_ulong(dev, "state", XenbusStateUnknown);
}

unsigned scsifront_pending(struct scsifront *dev)
{
	return dev->pending;
}

uint64_t scsifront_notifications(struct scsifront *dev)
{
	return dev->notifications;
}

static void release(struct sf_shadow *sh)
{
	for (unsigned i = 0; i < sh->nr_grefs; i++)
		while (gnttab_end_access(sh->grefs[i]) == -XEN_EBUSY)
			thread_yield();
	for (unsigned i = 0; i < sh->nr_ind; i++) {
		while (gnttab_end_access(sh->ind_gref[i]) == -XEN_EBUSY)
			thread_yield();
		free_page(sh->ind[i]);
	}
	sh->nr_grefs = sh->nr_ind = 0;
}

int scsifront_submit(struct scsifront *dev, struct scsifront_cmd *cmd)
{
	struct scsiif_request_segment segs[SF_MAX_SEGS];
	uintptr_t addr = (uintptr_t)cmd->buf;
	size_t left = cmd->len;
	bool ro = cmd->dir != SCSIFRONT_DIR_FROM_DEVICE;
	struct vscsiif_request *req;
	struct sf_shadow *sh;
	unsigned nsegs = 0, id;
	int notify;

	if (dev->suspending)
		return -XEN_EAGAIN; /* as a full ring: poll, wait, retry */
	if (RING_FULL(&dev->ring) || !dev->nr_free)
		return -XEN_EAGAIN;
	id = dev->free_ids[--dev->nr_free];
	sh = &dev->shadow[id];
	sh->cmd = cmd;
	sh->nr_grefs = sh->nr_ind = 0;
	while (left && cmd->dir != SCSIFRONT_DIR_NONE) {
		size_t off = addr & (PAGE_SIZE - 1), chunk = PAGE_SIZE - off;
		long ref;

		if (chunk > left)
			chunk = left;
		if (nsegs == dev->info.max_segs)
			goto fail;
		ref = gnttab_grant_access(BACKEND_DOMID, virt_to_mfn((void *)addr), ro);
		if (ref < 0)
			goto fail;
		sh->grefs[sh->nr_grefs++] = (grant_ref_t)ref;
		segs[nsegs].gref = (grant_ref_t)ref;
		segs[nsegs].offset = (uint16_t)off;
		segs[nsegs].length = (uint16_t)chunk;
		nsegs++;
		addr += chunk;
		left -= chunk;
	}
	req = RING_GET_REQUEST(&dev->ring, dev->ring.req_prod_pvt);
	memset(req, 0, sizeof(*req));
	req->rqid = (uint16_t)id;
	req->act = cmd->act ? cmd->act : VSCSIIF_ACT_SCSI_CDB;
	req->cmd_len = cmd->cdb_len;
	memcpy(req->cmnd, cmd->cdb, sizeof(req->cmnd));
	req->channel = cmd->channel;
	req->id = cmd->target;
	req->lun = cmd->lun;
	req->ref_rqid = cmd->ref_rqid;
	req->sc_data_direction = cmd->dir;
	if (nsegs <= VSCSIIF_SG_TABLESIZE) {
		req->nr_segments = (uint8_t)nsegs;
		memcpy(req->seg, segs, nsegs * sizeof(segs[0]));
	} else {
		unsigned per = VSCSIIF_SG_PER_PAGE;

		for (unsigned done = 0; done < nsegs; done += per) {
			unsigned n = nsegs - done < per ? nsegs - done : per;
			long ref;

			sh->ind[sh->nr_ind] = alloc_page();
			if (!sh->ind[sh->nr_ind])
				goto fail;
			memcpy(sh->ind[sh->nr_ind], segs + done, n * sizeof(segs[0]));
			ref = gnttab_grant_access(BACKEND_DOMID,
						  virt_to_mfn(sh->ind[sh->nr_ind]), true);
			if (ref < 0) {
				free_page(sh->ind[sh->nr_ind]);
				goto fail;
			}
			sh->ind_gref[sh->nr_ind] = (grant_ref_t)ref;
			req->seg[sh->nr_ind].gref = (grant_ref_t)ref;
			req->seg[sh->nr_ind].offset = 0;
			req->seg[sh->nr_ind].length = (uint16_t)(n * sizeof(segs[0]));
			sh->nr_ind++;
		}
		req->nr_segments = (uint8_t)(VSCSIIF_SG_GRANT | sh->nr_ind);
	}
	cmd->rqid = (uint16_t)id;
	cmd->done = false;
	sh->busy = true;
	dev->ring.req_prod_pvt++;
	dev->pending++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&dev->ring, notify);
	if (notify)
		evtchn_send(dev->port);
	return 0;
fail:
	release(sh);
	dev->free_ids[dev->nr_free++] = id;
	return -XEN_EINVAL;
}

int scsifront_poll(struct scsifront *dev)
{
	int done = 0, more;

	do {
		RING_IDX rp = READ_ONCE(dev->ring.sring->rsp_prod);

		rmb();
		while (dev->ring.rsp_cons != rp) {
			struct vscsiif_response *rsp =
				RING_GET_RESPONSE(&dev->ring, dev->ring.rsp_cons);
			unsigned id = rsp->rqid;
			struct sf_shadow *sh;
			struct scsifront_cmd *c;

			dev->ring.rsp_cons++;
			if (id >= dev->nr_shadow || !dev->shadow[id].busy)
				continue; /* not ours (hostile tests) */
			sh = &dev->shadow[id];
			c = sh->cmd;
			release(sh);
			sh->busy = false;
			dev->free_ids[dev->nr_free++] = id;
			dev->pending--;
			c->rslt = rsp->rslt;
			c->sense_len = rsp->sense_len > VSCSIIF_SENSE_BUFFERSIZE
					       ? VSCSIIF_SENSE_BUFFERSIZE : rsp->sense_len;
			memcpy(c->sense, rsp->sense_buffer, c->sense_len);
			c->residual = rsp->residual_len;
			c->done = true;
			done++;
		}
		RING_FINAL_CHECK_FOR_RESPONSES(&dev->ring, more);
	} while (more);
	return done;
}

void scsifront_wait(struct scsifront *dev, uint64_t deadline_ns)
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

int scsifront_exec(struct scsifront *dev, struct scsifront_cmd *cmd)
{
	uint64_t deadline = monotonic_ns() + SF_TIMEOUT_NS;
	int rc;

	while ((rc = scsifront_submit(dev, cmd)) == -XEN_EAGAIN) {
		scsifront_poll(dev);
		scsifront_wait(dev, monotonic_ns() + 100000000ull);
	}
	if (rc)
		return rc;
	while (!cmd->done) {
		if (monotonic_ns() > deadline)
			return -XEN_ETIMEDOUT;
		if (!scsifront_poll(dev))
			scsifront_wait(dev, monotonic_ns() + 100000000ull);
	}
	if (cmd->rslt >> 16)
		return -1;
	return cmd->rslt & 0xff;
}

void scsifront_shutdown(struct scsifront *dev)
{
	set_state(dev, XenbusStateClosing);
	wait_backend(dev, XenbusStateClosing, XenbusStateClosed,
		     monotonic_ns() + SF_TIMEOUT_NS);
	set_state(dev, XenbusStateClosed);
	wait_backend(dev, XenbusStateClosed, XenbusStateClosed,
		     monotonic_ns() + SF_TIMEOUT_NS);
	if (dev->watching)
		xenbus_unwatch(dev->be_state, dev->token);
	kit_suspend_unhook(dev);
	evtchn_unbind(dev->port);
	evtchn_close(dev->port);
	gnttab_end_access(dev->ring_ref);
	free_page(dev->sring);
	kfree(dev->shadow);
	kfree(dev->free_ids);
	kfree(dev);
}
