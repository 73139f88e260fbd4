/*
 * Block backend (see blkback.h and docs/block.md).
 *
 * Threads: the guest's vCPU thread only runs on_send() (an eventfd write)
 * and, with the store lock held, the frontend-state watch (an atomic store
 * and the same eventfd write).  Everything else — the XenbusState
 * handshake, ring processing, grant pins, I/O submission and completion,
 * responses — runs on the device's own thread, so the ring needs no lock.
 * That thread hands disk I/O to a block I/O engine (blk_engine.h: io_uring,
 * or a thread pool where io_uring is unavailable) and sleeps in the
 * engine's wait, which returns on a completion or a kick of the eventfd.
 */
#include "services/blkback/blkback.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/vm.h"
#include "hostio/hio_file.h"
#include "services/blkback/blk_engine.h"
#include "services/blkback/blkif_req.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/events.h"
#include "xen/grant.h"

/* ring.h leaves the barriers to its user. */
#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#define BLKBACK_MAX_RING_ORDER 4 /* max-ring-page-order: 16 pages, 512 slots */
#define BLKBACK_MAX_RING_PAGES (1u << BLKBACK_MAX_RING_ORDER)
#define BLKBACK_DOM 0            /* pvisor's backends are domain 0 */
#define NO_SLOT UINT32_MAX
#define BLKBACK_DEPTH 512        /* jobs in flight: the largest ring's slots */
#define BLKBACK_BATCH 64         /* completions taken per engine wait */

enum slot_stage { STAGE_DATA, STAGE_FLUSH, STAGE_DISCARD };

/* One request between the ring and its response. */
struct blk_slot {
	struct blkif_req req;
	enum slot_stage stage;
	bool flush_after;   /* FLUSH/BARRIER with data: fdatasync after it */
	unsigned nr_pins;
	struct gnttab_pin pins[BLKIF_MAX_INDIRECT_SEGS];
	unsigned nr_iov;
	struct iovec iov[BLKIF_MAX_INDIRECT_SEGS];
	uint64_t bytes;
};

struct blk_dev {
	struct vm *vm;
	struct vm_disk cfg;      /* a copy: hot-plugged disks are not in vm->cfg */
	struct xenstore *xs;   /* for the watch callback (store lock held) */
	int vdev;
	char be[96], fe[96], fe_state_path[112];
	struct hio_file file;
	struct blkif_limits lim;
	int efd;
	struct blk_engine *eng;
	bool in_use;           /* this slot holds a device */
	bool in_store;         /* its xenstore nodes were written */
	bool started, watching;
	pthread_t thread;
	bool removing;         /* atomic: the toolstack is taking it away */
	int shown_state;       /* atomic: be_state, for the remover */
	int fe_state;          /* atomic: written by the watch */
	bool stop;             /* atomic */

	/* Device thread only from here on. */
	int be_state;
	bool connected;        /* serving the ring */
	bool mapped;           /* ring pinned and mapped, port bound */
	uint8_t *ring_va;
	unsigned ring_pages;
	struct gnttab_pin ring_pins[BLKBACK_MAX_RING_PAGES];
	struct blkif_back_ring ring;
	evtchn_port_t port;
	struct blk_slot *slots;
	uint32_t *free_slots;
	unsigned nr_slots, nr_free, inflight;
	uint32_t held;         /* a FLUSH/BARRIER waiting for the queue to drain */
	uint32_t exclusive;    /* the FLUSH/BARRIER running alone */
	bool rsp_pending;
};

struct blkback {
	struct blk_dev dev[VM_MAX_DISKS]; /* in_use: the guest's disks */
};

int blkback_vdev(const char *name)
{
	if (strlen(name) != 4 || strncmp(name, "xvd", 3) || name[3] < 'a' ||
	    name[3] > 'z')
		return -1;
	return (202 << 8) | ((name[3] - 'a') << 4);
}

static void kick(struct blk_dev *d)
{
	uint64_t one = 1;

	if (write(d->efd, &one, sizeof(one)) < 0)
		log_debug("blkback: eventfd write: %s", strerror(errno));
}

/* The guest sent on the device's event channel (its vCPU thread). */
static void on_send(void *opaque)
{
	kick(opaque);
}

/* The frontend's state changed (store lock held; the guest's thread). */
static void on_fe_state(void *opaque, const char *path, const char *token)
{
	struct blk_dev *d = opaque;
	uint64_t st;

	if (xs_dom0_read_uint(d->xs, d->fe_state_path, XenbusStateReconfigured, &st))
		st = XenbusStateUnknown;
	__atomic_store_n(&d->fe_state, (int)st, __ATOMIC_RELEASE);
	kick(d);
}

static void set_be_state(struct blk_dev *d, int state)
{
	if (d->be_state == state)
		return;
	d->be_state = state;
	__atomic_store_n(&d->shown_state, state, __ATOMIC_RELEASE);
	if (xs_service_write_state(d->vm, d->be, state) < 0)
		log_error("blkback %s: cannot write the backend state",
			  d->cfg.name);
}

/* Binds the frontend's unbound port (remote domain 0) to this device. */
static int bind_port(struct blk_dev *d, uint64_t port)
{
	int rc;

	if (port == 0 || port >= XEN_NR_EVTCHN)
		return -EINVAL;
	rc = evtchn_bind_backend(d->vm, (evtchn_port_t)port, on_send, d);
	if (rc == 0)
		d->port = (evtchn_port_t)port;
	return rc;
}

/* Back to unbound, as Xen leaves a port whose remote end closed; only if
 * the port is still ours (the guest may have closed and reused it). */
static void unbind_port(struct blk_dev *d)
{
	if (!d->port)
		return;
	evtchn_unbind_backend(d->vm, d->port, on_send, d);
	d->port = 0;
}

/* Releases the ring once no request holds guest pages any more. */
static void release_ring(struct blk_dev *d)
{
	if (!d->mapped || d->inflight)
		return;
	unbind_port(d);
	for (unsigned i = 0; i < d->ring_pages; i++)
		gnttab_unpin(d->vm, &d->ring_pins[i]);
	munmap(d->ring_va, d->ring_pages * PAGE_SIZE);
	d->ring_va = NULL;
	d->ring_pages = 0;
	free(d->slots);
	free(d->free_slots);
	d->slots = NULL;
	d->free_slots = NULL;
	d->nr_slots = d->nr_free = 0;
	d->held = d->exclusive = NO_SLOT;
	d->mapped = false;
}

static void disconnect(struct blk_dev *d)
{
	d->connected = false;
	if (d->held != NO_SLOT) {
		d->free_slots[d->nr_free++] = d->held;
		d->held = NO_SLOT;
	}
	release_ring(d);
}

/* The frontend broke the protocol: the device is disconnected. */
static void dev_fatal(struct blk_dev *d, const char *why)
{
	log_guest("blkback %s: %s; device disconnected", d->cfg.name, why);
	disconnect(d);
	set_be_state(d, XenbusStateClosing);
}

struct fe_info {
	struct blk_dev *d;
	unsigned order;
	grant_ref_t refs[BLKBACK_MAX_RING_PAGES];
	uint64_t port;
	char why[128];
};

/* Reads what the frontend published (store lock held). */
static int xs_read_frontend(struct xenstore *xs, void *opaque)
{
	struct fe_info *fi = opaque;
	struct blk_dev *d = fi->d;
	char path[160], *proto = NULL;
	uint64_t v;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/ring-page-order", d->fe);
	rc = xs_dom0_read_uint(xs, path, BLKBACK_MAX_RING_ORDER, &v);
	if (rc == -EINVAL) {
		snprintf(fi->why, sizeof(fi->why), "bad ring-page-order");
		return rc;
	}
	fi->order = rc == 0 ? (unsigned)v : 0;
	for (unsigned i = 0; i < (1u << fi->order); i++) {
		if (rc == -ENOENT) /* no ring-page-order: single ring-ref */
			snprintf(path, sizeof(path), "%s/ring-ref", d->fe);
		else
			snprintf(path, sizeof(path), "%s/ring-ref%u", d->fe, i);
		if (xs_dom0_read_uint(xs, path, UINT32_MAX, &v)) {
			snprintf(fi->why, sizeof(fi->why), "missing or bad %s",
				 path + strlen(d->fe) + 1);
			return -EINVAL;
		}
		fi->refs[i] = (grant_ref_t)v;
	}
	snprintf(path, sizeof(path), "%s/event-channel", d->fe);
	if (xs_dom0_read_uint(xs, path, XEN_NR_EVTCHN - 1, &fi->port)) {
		snprintf(fi->why, sizeof(fi->why), "missing or bad event-channel");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/protocol", d->fe);
	if (xs_dom0_read(xs, path, &proto, &len) == 0) {
		rc = strcmp(proto, XEN_IO_PROTO_ABI_X86_64) ? -EINVAL : 0;
		if (rc)
			snprintf(fi->why, sizeof(fi->why),
				 "unsupported protocol '%.40s'", proto);
		free(proto);
		return rc;
	}
	return 0;
}

static int map_ring(struct blk_dev *d, const struct fe_info *fi)
{
	unsigned n = 1u << fi->order, i;
	uint8_t *va;
	int rc;

	va = mmap(NULL, n * PAGE_SIZE, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (va == MAP_FAILED)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rc = gnttab_pin(d->vm, BLKBACK_DOM, fi->refs[i], true,
				&d->ring_pins[i]);
		if (rc) {
			rc = -EPERM;
			goto fail;
		}
		/* The ring pages are contiguous here, as a Xen backend maps
		 * them, even if the guest's frames are not. */
		if (mmap(va + i * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, d->vm->mem.memfd,
			 (off_t)(d->ring_pins[i].mfn << PAGE_SHIFT)) == MAP_FAILED) {
			gnttab_unpin(d->vm, &d->ring_pins[i]);
			rc = -ENOMEM;
			goto fail;
		}
	}
	d->ring_va = va;
	d->ring_pages = n;
	BACK_RING_INIT(&d->ring, (struct blkif_sring *)(void *)va, n * PAGE_SIZE);
	return 0;
fail:
	while (i--)
		gnttab_unpin(d->vm, &d->ring_pins[i]);
	munmap(va, n * PAGE_SIZE);
	return rc;
}

static int connect_ring(struct blk_dev *d)
{
	struct fe_info fi = { .d = d };
	int rc;

	rc = xs_service_with(d->vm, xs_read_frontend, &fi);
	if (rc < 0) {
		log_guest("blkback %s: frontend: %s", d->cfg.name, fi.why);
		return rc;
	}
	rc = map_ring(d, &fi);
	if (rc < 0) {
		log_guest("blkback %s: cannot map the ring (grant refused)",
			  d->cfg.name);
		return rc;
	}
	d->nr_slots = RING_SIZE(&d->ring);
	if (d->nr_slots > BLKBACK_DEPTH) /* BLKBACK_MAX_RING_ORDER grew */
		d->nr_slots = BLKBACK_DEPTH;
	d->slots = calloc(d->nr_slots, sizeof(*d->slots));
	d->free_slots = calloc(d->nr_slots, sizeof(*d->free_slots));
	d->mapped = true;
	if (!d->slots || !d->free_slots) {
		release_ring(d);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < d->nr_slots; i++)
		d->free_slots[i] = d->nr_slots - 1 - i;
	d->nr_free = d->nr_slots;
	d->held = d->exclusive = NO_SLOT;
	rc = bind_port(d, fi.port);
	if (rc < 0) {
		log_guest("blkback %s: event-channel %" PRIu64 " is not an unbound "
			  "port for domain 0", d->cfg.name, fi.port);
		release_ring(d);
		return rc;
	}
	d->connected = true;
	return 0;
}

static void respond(struct blk_dev *d, uint64_t id, uint8_t op, int16_t st)
{
	struct blkif_response *rsp;

	if (!d->connected)
		return;
	rsp = RING_GET_RESPONSE(&d->ring, d->ring.rsp_prod_pvt);
	rsp->id = id;
	rsp->operation = op;
	rsp->status = st;
	d->ring.rsp_prod_pvt++;
	d->rsp_pending = true;
}

static void push_responses(struct blk_dev *d)
{
	int notify;

	if (!d->connected || !d->rsp_pending)
		return;
	d->rsp_pending = false;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&d->ring, notify);
	if (notify)
		evtchn_notify_guest(d->vm, d->port);
}

static void unpin_all(struct blk_dev *d, struct blk_slot *s)
{
	for (unsigned i = 0; i < s->nr_pins; i++)
		gnttab_unpin(d->vm, &s->pins[i]);
	s->nr_pins = 0;
}

static void finish(struct blk_dev *d, uint32_t idx, int16_t status)
{
	struct blk_slot *s = &d->slots[idx];

	unpin_all(d, s);
	respond(d, s->req.id, s->req.op, status);
	d->free_slots[d->nr_free++] = idx;
	if (d->exclusive == idx)
		d->exclusive = NO_SLOT;
}

/* Pins every segment and builds the iovecs (adjacent ones merged). */
static int pin_segments(struct blk_dev *d, struct blk_slot *s)
{
	bool to_guest = s->req.op == BLKIF_OP_READ;

	s->nr_pins = s->nr_iov = 0;
	s->bytes = 0;
	for (unsigned i = 0; i < s->req.nr_segs; i++) {
		const struct blkif_seg *seg = &s->req.seg[i]; /* checked */
		struct gnttab_pin *p = &s->pins[s->nr_pins];
		uint8_t *base;
		size_t len;

		if (gnttab_pin(d->vm, BLKBACK_DOM, seg->gref, to_guest, p)) {
			unpin_all(d, s);
			return -EPERM;
		}
		s->nr_pins++;
		base = p->page + ((size_t)seg->first_sect << BLKIF_SECTOR_SHIFT);
		len = (size_t)(seg->last_sect - seg->first_sect + 1)
		      << BLKIF_SECTOR_SHIFT;
		if (s->nr_iov && (uint8_t *)s->iov[s->nr_iov - 1].iov_base +
					 s->iov[s->nr_iov - 1].iov_len == base) {
			s->iov[s->nr_iov - 1].iov_len += len;
		} else {
			s->iov[s->nr_iov].iov_base = base;
			s->iov[s->nr_iov].iov_len = len;
			s->nr_iov++;
		}
		s->bytes += len;
	}
	return 0;
}

/* Copies the segments of an indirect request out of its granted pages. */
static int fetch_indirect(struct blk_dev *d, struct blkif_req *r)
{
	unsigned done = 0;

	for (unsigned p = 0; p < r->nr_indirect; p++) {
		struct blkif_request_segment segs[BLKIF_SEGS_PER_INDIRECT_PAGE];
		struct gnttab_pin pin;
		unsigned n = r->nr_segs - done;

		if (n > BLKIF_SEGS_PER_INDIRECT_PAGE)
			n = BLKIF_SEGS_PER_INDIRECT_PAGE;
		if (gnttab_pin(d->vm, BLKBACK_DOM, r->indirect_grefs[p], false, &pin))
			return -EPERM;
		memcpy(segs, pin.page, n * sizeof(segs[0]));
		gnttab_unpin(d->vm, &pin);
		for (unsigned i = 0; i < n; i++) {
			r->seg[done + i].gref = segs[i].gref;
			r->seg[done + i].first_sect = segs[i].first_sect;
			r->seg[done + i].last_sect = segs[i].last_sect;
		}
		done += n;
	}
	return blkif_req_check_segs(r, &d->lim);
}

/* A request's engine job was refused (cannot happen: at most a ring of
 * requests is in flight, fewer than the engine's depth). */
static void refused(struct blk_dev *d, uint32_t idx, int rc)
{
	log_error("disk %s: %s refused the I/O: %s", d->cfg.path,
		  blk_engine_name(d->eng), strerror(-rc));
	finish(d, idx, BLKIF_RSP_ERROR);
}

static void submit_data(struct blk_dev *d, uint32_t idx)
{
	struct blk_slot *s = &d->slots[idx];
	off_t off = (off_t)(s->req.sector << BLKIF_SECTOR_SHIFT);
	int rc = blk_engine_submit_rw(d->eng, idx, d->file.fd, s->iov, s->nr_iov,
				      off, s->req.op != BLKIF_OP_READ);

	if (rc < 0) {
		refused(d, idx, rc);
		return;
	}
	s->stage = STAGE_DATA;
	d->inflight++;
}

static void submit_flush(struct blk_dev *d, uint32_t idx)
{
	int rc = blk_engine_submit_flush(d->eng, idx, d->file.fd);

	if (rc < 0) {
		refused(d, idx, rc);
		return;
	}
	d->slots[idx].stage = STAGE_FLUSH;
	d->inflight++;
}

/* Starts a parsed, checked request in slot idx. */
static void start(struct blk_dev *d, uint32_t idx)
{
	struct blk_slot *s = &d->slots[idx];

	switch (s->req.op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (pin_segments(d, s)) {
			finish(d, idx, BLKIF_RSP_ERROR);
			return;
		}
		submit_data(d, idx);
		return;
	case BLKIF_OP_FLUSH_DISKCACHE:
	case BLKIF_OP_WRITE_BARRIER:
		d->exclusive = idx;
		s->flush_after = true;
		if (s->req.nr_segs) {
			/* The data is a write, then made durable. */
			uint8_t op = s->req.op;
			int rc;

			s->req.op = BLKIF_OP_WRITE;
			rc = pin_segments(d, s);
			s->req.op = op;
			if (rc) {
				finish(d, idx, BLKIF_RSP_ERROR);
				return;
			}
			submit_data(d, idx);
		} else {
			submit_flush(d, idx);
		}
		return;
	case BLKIF_OP_DISCARD: {
		int rc;

		if (!s->req.nr_sectors) {
			finish(d, idx, BLKIF_RSP_OKAY);
			return;
		}
		rc = blk_engine_submit_discard(
			d->eng, idx, d->file.fd,
			(off_t)(s->req.sector << BLKIF_SECTOR_SHIFT),
			(off_t)(s->req.nr_sectors << BLKIF_SECTOR_SHIFT));
		if (rc < 0) {
			refused(d, idx, rc);
			return;
		}
		s->stage = STAGE_DISCARD;
		d->inflight++;
		return;
	}
	default:
		finish(d, idx, BLKIF_RSP_EOPNOTSUPP);
	}
}

/* Takes one request copied off the ring. */
static void take(struct blk_dev *d, const struct blkif_request *raw)
{
	uint32_t idx = d->free_slots[--d->nr_free]; /* cons - rsp < slots */
	struct blk_slot *s = &d->slots[idx];
	int rc;

	memset(s, 0, offsetof(struct blk_slot, pins));
	rc = blkif_req_parse(raw, &d->lim, &s->req);
	if (rc == 0 && s->req.nr_indirect)
		rc = fetch_indirect(d, &s->req);
	if (rc) {
		log_debug("blkback %s: request %#" PRIx64 " op %u rejected: %s",
			  d->cfg.name, s->req.id, s->req.op, strerror(-rc));
		finish(d, idx, blkif_status_for(rc));
		return;
	}
	/* FLUSH and BARRIER run alone, after everything taken before. */
	if ((s->req.op == BLKIF_OP_FLUSH_DISKCACHE ||
	     s->req.op == BLKIF_OP_WRITE_BARRIER) && d->inflight) {
		d->held = idx;
		return;
	}
	start(d, idx);
}

static void process_ring(struct blk_dev *d)
{
	struct blkif_request raw;
	unsigned budget = 2 * d->nr_slots;
	int more;

	if (!d->connected)
		return;
	do {
		RING_IDX rp = __atomic_load_n(&d->ring.sring->req_prod,
					      __ATOMIC_ACQUIRE);

		if (RING_REQUEST_PROD_OVERFLOW(&d->ring, rp)) {
			dev_fatal(d, "request producer index runs past the ring");
			return;
		}
		while (d->ring.req_cons != rp) {
			if (d->held != NO_SLOT || d->exclusive != NO_SLOT ||
			    RING_REQUEST_CONS_OVERFLOW(&d->ring, d->ring.req_cons))
				return;
			if (!budget--) {
				kick(d); /* bounded work per wakeup */
				return;
			}
			/* Copy once; only the copy is looked at. */
			memcpy(&raw, RING_GET_REQUEST(&d->ring, d->ring.req_cons),
			       sizeof(raw));
			d->ring.req_cons++;
			take(d, &raw);
		}
		RING_FINAL_CHECK_FOR_REQUESTS(&d->ring, more);
	} while (more);
}

/* Finishes a short transfer synchronously (rare: signals, odd files; the
 * thread pool finishes them itself). */
static int64_t finish_short(struct blk_dev *d, struct blk_slot *s, uint64_t done)
{
	while (done < s->bytes) {
		struct iovec iov[BLKIF_MAX_INDIRECT_SEGS];
		uint64_t skip = done;
		unsigned n = 0;
		ssize_t r;

		for (unsigned i = 0; i < s->nr_iov; i++) {
			if (skip >= s->iov[i].iov_len) {
				skip -= s->iov[i].iov_len;
				continue;
			}
			iov[n].iov_base = (uint8_t *)s->iov[i].iov_base + skip;
			iov[n].iov_len = s->iov[i].iov_len - skip;
			skip = 0;
			n++;
		}
		off_t off = (off_t)((s->req.sector << BLKIF_SECTOR_SHIFT) + done);
		r = s->req.op == BLKIF_OP_READ ? preadv(d->file.fd, iov, (int)n, off)
					       : pwritev(d->file.fd, iov, (int)n, off);
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += (uint64_t)r;
	}
	return (int64_t)done;
}

static void complete(struct blk_dev *d, uint32_t idx, int res)
{
	struct blk_slot *s;
	int16_t st = BLKIF_RSP_OKAY;

	if (idx >= d->nr_slots)
		return;
	s = &d->slots[idx];
	d->inflight--;
	switch (s->stage) {
	case STAGE_DATA: {
		int64_t r = res;

		if (r >= 0 && (uint64_t)r < s->bytes)
			r = finish_short(d, s, (uint64_t)r);
		if (r < 0 || (uint64_t)r != s->bytes) {
			log_error("disk %s: %s failed: %s", d->cfg.path,
				  s->req.op == BLKIF_OP_READ ? "read" : "write",
				  strerror(r < 0 ? (int)-r : EIO));
			st = BLKIF_RSP_ERROR;
		} else if (s->flush_after && d->connected) {
			unpin_all(d, s);
			submit_flush(d, idx);
			return;
		}
		break;
	}
	case STAGE_FLUSH:
		if (res < 0) {
			log_error("disk %s: fdatasync failed: %s", d->cfg.path,
				  strerror(-res));
			st = BLKIF_RSP_ERROR;
		}
		break;
	case STAGE_DISCARD:
		if (res == -EOPNOTSUPP)
			st = BLKIF_RSP_EOPNOTSUPP;
		else if (res < 0)
			st = BLKIF_RSP_ERROR;
		break;
	}
	finish(d, idx, st);
}

/* The toolstack is removing the device (libxl's device remove: online 0,
 * backend Closing); the frontend closes, then the backend is Closed. */
static int xs_offline(struct xenstore *xs, void *opaque)
{
	struct blk_dev *d = opaque;
	char path[112];

	snprintf(path, sizeof(path), "%s/online", d->be);
	return xs_dom0_write(xs, path, "0", 1);
}

static void handle_removal(struct blk_dev *d, int fe)
{
	if (d->be_state < XenbusStateClosing) {
		if (xs_service_with(d->vm, xs_offline, d) < 0)
			log_error("blkback %s: cannot write online", d->cfg.name);
		set_be_state(d, XenbusStateClosing);
	}
	if (fe == XenbusStateClosing || fe == XenbusStateClosed)
		disconnect(d);
	if (fe == XenbusStateClosed && !d->mapped)
		set_be_state(d, XenbusStateClosed);
}

/* Follows the frontend's XenbusState. */
static void handle_state(struct blk_dev *d)
{
	int fe = __atomic_load_n(&d->fe_state, __ATOMIC_ACQUIRE);

	if (__atomic_load_n(&d->removing, __ATOMIC_ACQUIRE)) {
		handle_removal(d, fe);
		return;
	}
	switch (fe) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (d->be_state != XenbusStateInitWait || d->mapped)
			break;
		if (connect_ring(d) == 0)
			set_be_state(d, XenbusStateConnected);
		else
			set_be_state(d, XenbusStateClosing);
		break;
	case XenbusStateClosing:
		disconnect(d);
		if (d->be_state != XenbusStateClosed)
			set_be_state(d, XenbusStateClosing);
		break;
	case XenbusStateClosed:
		disconnect(d);
		set_be_state(d, XenbusStateClosed);
		break;
	case XenbusStateUnknown:
	case XenbusStateInitialising:
		/* A frontend starting over (guest reboot, driver reload). */
		disconnect(d);
		if (!d->mapped)
			set_be_state(d, XenbusStateInitWait);
		break;
	default:
		break;
	}
}

static void *dev_thread(void *arg)
{
	struct blk_dev *d = arg;
	char name[16];

	snprintf(name, sizeof(name), "blk-%s", d->cfg.name);
	sandbox_thread(SANDBOX_ROLE_BLOCK, name);
	for (;;) {
		struct blk_completion c[BLKBACK_BATCH];
		int rc = blk_engine_wait(d->eng, c, BLKBACK_BATCH);

		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			log_error("blkback %s: %s: %s", d->cfg.name,
				  blk_engine_name(d->eng), strerror(-rc));
			break;
		}
		/* Kicks (BLK_ENGINE_EVENT) need nothing more: the ring and the
		 * state are looked at on every wakeup. */
		for (int i = 0; i < rc; i++)
			if (c[i].idx != BLK_ENGINE_EVENT)
				complete(d, c[i].idx, c[i].res);
		if (__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE) && !d->inflight)
			break;
		if (!d->connected)
			release_ring(d);
		handle_state(d);
		if (d->connected && d->held != NO_SLOT && !d->inflight) {
			uint32_t idx = d->held;

			d->held = NO_SLOT;
			start(d, idx);
		}
		process_ring(d);
		push_responses(d);
		rc = blk_engine_commit(d->eng);
		if (rc < 0)
			log_debug("blkback %s: %s submit: %s", d->cfg.name,
				  blk_engine_name(d->eng), strerror(-rc));
	}
	disconnect(d);
	return NULL;
}

/* The frontend's directory as libxl writes it (at init and on a reboot's
 * reattach). */
static int xs_write_fe(struct xenstore *xs, void *opaque)
{
	struct blk_dev *d = opaque;
	char vdev[16];
	const struct xs_node_value nodes[] = { { "virtual-device", vdev },
					       { "device-type", "disk" } };

	snprintf(vdev, sizeof(vdev), "%d", d->vdev);
	return xs_write_frontend(xs, d->fe, d->be, nodes, 2);
}

/* Backend and frontend entries as libxl and Linux's blkback write them. */
static int xs_setup_dev(struct xenstore *xs, void *opaque)
{
	struct blk_dev *d = opaque;
	const struct xs_perm be_perms[] = { { 0, XS_PERM_NONE },
					    { XS_GUEST_DOMID, XS_PERM_READ } };
	const struct {
		const char *key;
		const char *fmt;
		uint64_t v;
	} be_nums[] = {
		{ "frontend-id", "%" PRIu64, XS_GUEST_DOMID },
		{ "online", "%" PRIu64, 1 },
		{ "removable", "%" PRIu64, 0 },
		{ "bootable", "%" PRIu64, 1 },
		{ "sectors", "%" PRIu64, d->lim.sectors },
		{ "info", "%" PRIu64, d->cfg.ro ? VDISK_READONLY : 0 },
		{ "sector-size", "%" PRIu64, 512 },
		{ "physical-sector-size", "%" PRIu64, 512 },
		{ "feature-flush-cache", "%" PRIu64, 1 },
		{ "feature-barrier", "%" PRIu64, 1 },
		{ "feature-discard", "%" PRIu64, d->lim.discard },
		{ "discard-granularity", "%" PRIu64, 4096 },
		{ "discard-alignment", "%" PRIu64, 0 },
		{ "discard-secure", "%" PRIu64, 0 },
		{ "feature-max-indirect-segments", "%" PRIu64, d->lim.max_indirect },
		{ "max-ring-page-order", "%" PRIu64, BLKBACK_MAX_RING_ORDER },
	};
	char path[160];
	int rc;

	d->xs = xs;
	rc = xs_dom0_mkdir(xs, d->be);
	if (!rc)
		rc = xs_dom0_set_perms(xs, d->be, be_perms, 2);
	for (size_t i = 0; !rc && i < sizeof(be_nums) / sizeof(be_nums[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->be, be_nums[i].key);
		rc = xs_dom0_printf(xs, path, be_nums[i].fmt, be_nums[i].v);
	}
#define BE_STR(key, val)                                                  \
	do {                                                              \
		if (!rc) {                                                \
			snprintf(path, sizeof(path), "%s/" key, d->be);   \
			rc = xs_dom0_printf(xs, path, "%s", (val));       \
		}                                                         \
	} while (0)
	BE_STR("frontend", d->fe);
	BE_STR("params", d->cfg.path);
	BE_STR("mode", d->cfg.ro ? "r" : "w");
	BE_STR("type", "raw");
	BE_STR("dev", d->cfg.name);
	BE_STR("device-type", "disk");
	BE_STR("state", "1"); /* Initialising, as libxl writes it; then InitWait */
#undef BE_STR
	if (!rc)
		rc = xs_write_fe(xs, d);
	d->be_state = XenbusStateInitialising;
	if (!rc) {
		rc = xs_dom0_watch(xs, d->fe_state_path, d->cfg.name, on_fe_state, d);
		d->watching = rc == 0;
	}
	return rc;
}

static int xs_unwatch_dev(struct xenstore *xs, void *opaque)
{
	struct blk_dev *d = opaque;

	return xs_dom0_unwatch(xs, d->fe_state_path, d->cfg.name);
}

/*
 * Opens the device: the image (or, fd >= 0, a descriptor a control client
 * sent: hio_file_adopt), its engine, its xenstore entries (backend state
 * Initialising as libxl writes it, then InitWait once the features are
 * there, as Linux's blkback does), its thread.
 */
static int dev_init(struct vm *vm, struct blk_dev *d, const struct vm_disk *cfg, int fd,
		    char *err, size_t err_len)
{
	enum blk_engine_kind kind;
	char why[200];
	int rc;

	memset(d, 0, sizeof(*d));
	d->vm = vm;
	d->cfg = *cfg;
	d->efd = -1;
	d->file.fd = -1;
	d->held = d->exclusive = NO_SLOT;
	d->vdev = blkback_vdev(cfg->name);
	if (d->vdev < 0) {
		snprintf(err, err_len, "disk %s: bad device name '%s'", cfg->path,
			 cfg->name);
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/vbd/%d/%d",
		 XS_GUEST_DOMID, d->vdev);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%d/device/vbd/%d",
		 XS_GUEST_DOMID, d->vdev);
	snprintf(d->fe_state_path, sizeof(d->fe_state_path), "%s/state", d->fe);
	rc = fd >= 0 ? hio_file_adopt(&d->file, fd, cfg->path, cfg->ro, err, err_len)
		     : hio_file_open(&d->file, cfg->path, cfg->ro, err, err_len);
	if (rc < 0)
		return rc;
	if (d->file.size < 512 || d->file.size % 512) {
		snprintf(err, err_len,
			 "disk %s: size %" PRIu64 " is not a positive multiple of "
			 "512 bytes", cfg->path, d->file.size);
		return -EINVAL;
	}
	d->lim.sectors = d->file.size >> BLKIF_SECTOR_SHIFT;
	d->lim.ro = cfg->ro;
	d->lim.discard = !cfg->ro;
	d->lim.max_indirect = BLKIF_MAX_INDIRECT_SEGS;
	d->efd = eventfd(0, EFD_CLOEXEC);
	if (d->efd < 0) {
		rc = -errno;
		snprintf(err, err_len, "disk %s: eventfd: %s", cfg->path,
			 strerror(errno));
		return rc;
	}
	rc = blk_engine_kind_from_env(&kind, err, err_len);
	if (rc < 0)
		return rc;
	rc = blk_engine_open(kind, d->efd, BLKBACK_DEPTH, &d->eng, why,
			     sizeof(why));
	if (rc < 0) {
		snprintf(err, err_len, "disk %s: %s", cfg->path, why);
		return rc;
	}
	d->in_store = true;
	rc = xs_service_with(vm, xs_setup_dev, d);
	if (!rc)
		set_be_state(d, XenbusStateInitWait);
	if (rc < 0) {
		snprintf(err, err_len, "disk %s: xenstore: %s", cfg->path,
			 strerror(-rc));
		return rc;
	}
	rc = pthread_create(&d->thread, NULL, dev_thread, d);
	if (rc) {
		snprintf(err, err_len, "disk %s: thread: %s", cfg->path,
			 strerror(rc));
		return -rc;
	}
	d->started = true;
	return 0;
}

static int xs_remove_dev(struct xenstore *xs, void *opaque)
{
	struct blk_dev *d = opaque;
	int rc = xs_dom0_rm(xs, d->fe);

	/* libxl__device_destroy: the frontend directory, then the backend's. */
	if (xs_dom0_rm(xs, d->be) < 0)
		rc = -EIO;
	return rc;
}

/* Stops the thread (in-flight I/O completes first) and closes everything;
 * remove_nodes: and takes its xenstore directories away too. */
static void dev_destroy(struct blk_dev *d, bool remove_nodes)
{
	if (d->watching && xs_service_with(d->vm, xs_unwatch_dev, d) < 0)
		log_debug("blkback %s: unwatch failed", d->cfg.name);
	d->watching = false;
	if (d->started) {
		__atomic_store_n(&d->stop, true, __ATOMIC_RELEASE);
		kick(d);
		pthread_join(d->thread, NULL);
		d->started = false;
	}
	if (remove_nodes && d->in_store && xs_service_with(d->vm, xs_remove_dev, d) < 0)
		log_error("blkback %s: cannot remove its xenstore nodes", d->cfg.name);
	blk_engine_close(d->eng);
	d->eng = NULL;
	if (d->efd >= 0)
		close(d->efd);
	d->efd = -1;
	hio_file_close(&d->file);
	d->in_use = false;
}

static struct blkback *get_blkback(struct vm *vm, char *err, size_t err_len)
{
	if (!vm->blkback)
		vm->blkback = calloc(1, sizeof(struct blkback));
	if (!vm->blkback)
		snprintf(err, err_len, "blkback: out of memory");
	return vm->blkback;
}

int blkback_init(struct vm *vm, char *err, size_t err_len)
{
	struct blkback *bb;
	int rc;

	if (!vm->cfg->nr_disks)
		return 0;
	bb = get_blkback(vm, err, err_len);
	if (!bb)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->cfg->nr_disks && i < VM_MAX_DISKS; i++) {
		bb->dev[i].in_use = true;
		rc = dev_init(vm, &bb->dev[i], &vm->cfg->disks[i], -1, err, err_len);
		bb->dev[i].in_use = true; /* dev_init cleared it; destroy takes it */
		if (rc < 0)
			return rc;
	}
	return 0;
}

void blkback_destroy(struct vm *vm)
{
	struct blkback *bb = vm->blkback;

	if (!bb)
		return;
	for (unsigned i = 0; i < VM_MAX_DISKS; i++)
		if (bb->dev[i].in_use)
			dev_destroy(&bb->dev[i], false);
	vm->blkback = NULL;
	free(bb);
}

int blkback_reattach(struct vm *vm, char *err, size_t err_len)
{
	struct blkback *bb = vm->blkback;

	for (unsigned i = 0; bb && i < VM_MAX_DISKS; i++) {
		struct blk_dev *d = &bb->dev[i];
		int rc;

		if (!d->in_use || !d->in_store ||
		    __atomic_load_n(&d->removing, __ATOMIC_ACQUIRE))
			continue;
		rc = xs_service_with(vm, xs_write_fe, d);
		if (rc < 0) {
			snprintf(err, err_len, "disk %s: xenstore: %s", d->cfg.path,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Hot-plug (blkback.h) */

static struct blk_dev *find_dev(struct vm *vm, const char *name)
{
	struct blkback *bb = vm->blkback;

	for (unsigned i = 0; bb && i < VM_MAX_DISKS; i++)
		if (bb->dev[i].in_use && !strcmp(bb->dev[i].cfg.name, name))
			return &bb->dev[i];
	return NULL;
}

int blkback_free_name(struct vm *vm, char name[8])
{
	for (char c = 'a'; c <= 'z'; c++) {
		snprintf(name, 8, "xvd%c", c);
		if (!find_dev(vm, name))
			return 0;
	}
	return -ENOSPC;
}

int blkback_add(struct vm *vm, const struct vm_disk *cfg, int fd, char *err,
		size_t err_len)
{
	struct blkback *bb = get_blkback(vm, err, err_len);
	struct blk_dev *d = NULL;
	int rc;

	for (unsigned i = 0; bb && i < VM_MAX_DISKS && !d; i++)
		if (!bb->dev[i].in_use)
			d = &bb->dev[i];
	if (!bb || !d || find_dev(vm, cfg->name)) {
		if (!bb)
			rc = -ENOMEM;
		else if (!d)
			rc = -ENOSPC, snprintf(err, err_len,
					       "disk %s: the guest has %d disks already (the most)",
					       cfg->path, VM_MAX_DISKS);
		else
			rc = -EEXIST, snprintf(err, err_len, "disk %s: %s is attached already",
					       cfg->path, cfg->name);
		close(fd);
		return rc;
	}
	rc = dev_init(vm, d, cfg, fd, err, err_len);
	/* Release: blkback_disks (a save, on a vCPU's thread) reads d->cfg. */
	__atomic_store_n(&d->in_use, true, __ATOMIC_RELEASE);
	if (rc < 0)
		dev_destroy(d, true);
	return rc;
}

int blkback_remove_begin(struct vm *vm, const char *name)
{
	struct blk_dev *d = find_dev(vm, name);

	if (!d)
		return -ENOENT;
	__atomic_store_n(&d->removing, true, __ATOMIC_RELEASE);
	kick(d);
	return 0;
}

int blkback_remove_state(struct vm *vm, const char *name)
{
	struct blk_dev *d = find_dev(vm, name);

	return d ? __atomic_load_n(&d->shown_state, __ATOMIC_ACQUIRE) : -ENOENT;
}

int blkback_remove_finish(struct vm *vm, const char *name)
{
	struct blk_dev *d = find_dev(vm, name);

	if (!d)
		return -ENOENT;
	dev_destroy(d, true);
	return 0;
}

unsigned blkback_disks(struct vm *vm, struct vm_disk *out)
{
	unsigned n = 0;

	for (unsigned i = 0; vm->blkback && i < VM_MAX_DISKS; i++) {
		const struct blk_dev *d = &vm->blkback->dev[i];
		unsigned at = n;

		if (!__atomic_load_n(&d->in_use, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&d->removing, __ATOMIC_ACQUIRE))
			continue;
		/* Insertion by name (not qsort: glibc's asks sysinfo, which a
		 * vCPU's sandbox role refuses). */
		for (; at > 0 && strcmp(out[at - 1].name, d->cfg.name) > 0; at--)
			out[at] = out[at - 1];
		out[at] = d->cfg;
		n++;
	}
	return n;
}

unsigned blkback_nr_disks(struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; vm->blkback && i < VM_MAX_DISKS; i++)
		n += vm->blkback->dev[i].in_use;
	return n;
}
