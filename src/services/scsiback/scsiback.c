/*
 * vscsiif backend (see scsiback.h and docs/scsi.md).
 *
 * Threads as in blkback: the guest's vCPU only writes the host's eventfd
 * (event-channel send, frontend-state watch); the host's thread does the
 * XenbusState handshake, the ring, grant pins, the SCSI target's commands
 * and their I/O plans through a block I/O engine (blk_engine.h), and the
 * responses.  Direct commands (READ/WRITE/VERIFY) move data between the
 * image and the granted guest pages with no copy; the others use the
 * slot's bounce buffers (at most SCSI_BOUNCE bytes each way).
 */
#include "services/scsiback/scsiback.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/vm.h"
#include "hostio/hio_file.h"
#include "services/blkback/blk_engine.h"
#include "services/scsi/scsi_target.h"
#include "services/scsiback/vscsi_lun.h"
#include "services/scsiback/vscsiif_req.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/events.h"
#include "xen/grant.h"
#include "xen/time.h"

#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#define SB_DOM 0
#define SB_VHOST 0             /* the guest's one vscsi host */
#define SB_DEPTH 64            /* engine jobs in flight (>= ring slots) */
#define SB_BATCH 32
#define NO_SLOT UINT32_MAX
#define RSLT_HOST(h) ((int32_t)(h) << 16)

/*
 * A slot of the host: slot N is vscsi-devs/dev-N.  used, cfg, state and
 * the shown_ flags are what other threads see of it (scsiback_lun_info, a
 * save, the hot-plug thread's waits): changed under scsiback.lock, by the
 * host thread (reattach: with the host thread idle); the host thread reads
 * them freely.  A slot not used is the hot-plug thread's to fill
 * (lun_open) before plug_apply publishes it.
 */
struct sb_lun {
	struct scsi_lun t;
	struct vm_scsi cfg;      /* a copy: hot-plugged LUNs are not in vm->cfg;
				  * path: the medium's image, after an insert too */
	struct hio_file file;
	char vdev[32];
	int state;               /* its dev-N/state */
	bool shown_present;      /* t.present and t.prevent as last published: */
	bool shown_prevent;      /* the commands change those on the host thread */
	bool used;               /* the slot holds a LUN (dev-N exists); last:
				  * lun_open fills the slot up to it */
};

enum sb_stage { ST_MAIN, ST_FLUSH };

/* A change asked by the control API (a medium change, a LUN's hot-plug
 * or removal): applied by the host thread once nothing is in flight, so no
 * command sees half of it and no job holds a descriptor it closes. */
struct scsiback;
struct sb_change {
	int (*apply)(struct scsiback *sb, struct sb_change *c);
	struct sb_lun *lun;
	struct hio_file file;    /* media: the new image (fd -1: eject) */
	const char *path;        /* media: the new image's path */
	bool force;              /* eject even if the guest prevents removal;
				  * remove without the guest */
	bool live;               /* out: the frontend is connected (a
				  * reconfiguration round will run) */
	bool done;
	int result;              /* 0 or -errno, once done */
};

static struct sb_lun *lun_of(struct scsi_lun *t)
{
	return (struct sb_lun *)(void *)((char *)t - offsetof(struct sb_lun, t));
}

struct sb_slot {
	struct vscsiif_req req;
	struct scsi_cmd cmd;
	struct sb_lun *lun;
	enum sb_stage stage;
	uint64_t done;           /* bytes of the plan's range done */
	unsigned range;          /* DISCARD: ranges done */
	uint8_t *verify;         /* VERIFY: the medium's bytes */
	unsigned nr_pins;
	struct gnttab_pin pins[VSCSIIF_MAX_SEGS];
	struct iovec iov[BLK_ENGINE_MAX_IOV];
	uint8_t din[SCSI_BOUNCE], dout[SCSI_BOUNCE];
};

struct scsiback {
	struct vm *vm;
	struct xenstore *xs;
	char be[96], fe[96], fe_state_path[112];
	struct sb_lun luns[VM_MAX_SCSI];
	struct scsi_host host;
	int efd;
	struct blk_engine *eng;
	bool started, watching;
	pthread_t thread;
	int fe_state;            /* atomic: written by the watch */
	bool stop;               /* atomic */
	pthread_mutex_t media_lock;
	pthread_cond_t media_cond;
	struct sb_change *media; /* waiting; under media_lock, read atomically */
	pthread_mutex_t lock;    /* the slots as other threads see them (sb_lun) */
	pthread_cond_t lun_cond; /* a LUN's state changed (wait_lun_state) */

	/* Host thread only from here on. */
	int be_state;
	bool connected, mapped;
	bool luns_live;          /* LUNs moved 3 -> 4 after the frontend's Connected */
	uint8_t *ring_va;
	struct gnttab_pin ring_pin;
	struct vscsiif_back_ring ring;
	evtchn_port_t port;
	struct sb_slot *slots;
	uint32_t *free_slots;
	unsigned nr_slots, nr_free, inflight;
	uint32_t held;           /* ABORT/RESET waiting for the queue to drain */
	bool rsp_pending;
	bool reconf_wanted;      /* the frontend is Reconfiguring: the pass waits
				  * for the commands in flight */
};

static void kick(struct scsiback *sb)
{
	uint64_t one = 1;

	if (write(sb->efd, &one, sizeof(one)) < 0)
		log_debug("scsiback: eventfd write: %s", strerror(errno));
}

static void on_send(void *opaque)
{
	kick(opaque);
}

static void on_fe_state(void *opaque, const char *path, const char *token)
{
	struct scsiback *sb = opaque;
	uint64_t st;

	if (xs_dom0_read_uint(sb->xs, sb->fe_state_path, XenbusStateReconfigured, &st))
		st = XenbusStateUnknown;
	__atomic_store_n(&sb->fe_state, (int)st, __ATOMIC_RELEASE);
	kick(sb);
}

/* A slot's state or use as other threads see it; its waiters woken. */
static void lun_set_state(struct scsiback *sb, struct sb_lun *l, int state)
{
	pthread_mutex_lock(&sb->lock);
	l->state = state;
	pthread_cond_broadcast(&sb->lun_cond);
	pthread_mutex_unlock(&sb->lock);
}

static void lun_set_used(struct scsiback *sb, struct sb_lun *l, bool used)
{
	pthread_mutex_lock(&sb->lock);
	l->used = used;
	pthread_cond_broadcast(&sb->lun_cond);
	pthread_mutex_unlock(&sb->lock);
}

/* The medium flags the guest's commands changed (START STOP UNIT's
 * eject, PREVENT ALLOW MEDIUM REMOVAL), published for status: a compare
 * per LUN on each turn of the host thread, the lock only on a change. */
static void publish_media(struct scsiback *sb)
{
	for (unsigned i = 0; i < VM_MAX_SCSI; i++) {
		struct sb_lun *l = &sb->luns[i];

		if (!l->used || (l->shown_present == l->t.present &&
				 l->shown_prevent == l->t.prevent))
			continue;
		pthread_mutex_lock(&sb->lock);
		l->shown_present = l->t.present;
		l->shown_prevent = l->t.prevent;
		pthread_mutex_unlock(&sb->lock);
	}
}

/* The target's LUN list from the slots' states; a LUN that left it
 * (Closed) gives its image up.  Host thread, with nothing in flight
 * whenever a LUN leaves (the passes run then). */
static void sync_target(struct scsiback *sb)
{
	sb->host.nr = 0;
	for (unsigned i = 0; i < VM_MAX_SCSI; i++) {
		struct sb_lun *l = &sb->luns[i];

		if (l->used && vscsi_lun_in_target(l->state))
			sb->host.lun[sb->host.nr++] = &l->t;
		else if (l->used && l->state == XenbusStateClosed)
			hio_file_close(&l->file); /* unlocked here */
	}
}

/* Writes the host's state, and each LUN's state as the pass moves it, in
 * one go under the store lock. */
struct state_write {
	struct scsiback *sb;
	int state;
	enum vscsi_lun_pass pass;
};

static int xs_write_states(struct xenstore *xs, void *opaque)
{
	struct state_write *w = opaque;
	char path[160];
	int rc = 0;

	for (unsigned i = 0; w->pass != VSCSI_PASS_NONE && !rc && i < VM_MAX_SCSI; i++) {
		struct sb_lun *l = &w->sb->luns[i];
		int to;

		if (!l->used)
			continue;
		to = vscsi_lun_step(w->pass, l->state);
		if (to == l->state)
			continue;
		snprintf(path, sizeof(path), "%s/vscsi-devs/dev-%u/state", w->sb->be, i);
		rc = xs_dom0_printf(xs, path, "%d", to);
		if (!rc)
			lun_set_state(w->sb, l, to);
	}
	snprintf(path, sizeof(path), "%s/state", w->sb->be);
	return rc ? rc : xs_dom0_printf(xs, path, "%d", w->state);
}

static void set_states(struct scsiback *sb, int state, enum vscsi_lun_pass pass)
{
	struct state_write w = { sb, state, pass };

	if (sb->be_state == state && pass == VSCSI_PASS_NONE)
		return;
	sb->be_state = state;
	if (xs_service_with(sb->vm, xs_write_states, &w) < 0)
		log_error("scsiback: cannot write the backend state");
	if (pass != VSCSI_PASS_NONE)
		sync_target(sb);
}

static void release_ring(struct scsiback *sb)
{
	if (!sb->mapped || sb->inflight)
		return;
	if (sb->port)
		evtchn_unbind_backend(sb->vm, sb->port, on_send, sb);
	sb->port = 0;
	gnttab_unpin(sb->vm, &sb->ring_pin);
	munmap(sb->ring_va, PAGE_SIZE);
	sb->ring_va = NULL;
	free(sb->slots);
	free(sb->free_slots);
	sb->slots = NULL;
	sb->free_slots = NULL;
	sb->nr_slots = sb->nr_free = 0;
	sb->held = NO_SLOT;
	sb->mapped = false;
}

static void disconnect(struct scsiback *sb)
{
	sb->connected = false;
	sb->luns_live = false;
	if (sb->held != NO_SLOT) {
		sb->free_slots[sb->nr_free++] = sb->held;
		sb->held = NO_SLOT;
	}
	release_ring(sb);
}

static void dev_fatal(struct scsiback *sb, const char *why)
{
	log_guest("scsiback: %s; host disconnected", why);
	disconnect(sb);
	set_states(sb, XenbusStateClosing, VSCSI_PASS_NONE);
}

struct fe_info {
	struct scsiback *sb;
	uint64_t ref, port;
	char why[96];
};

static int xs_read_frontend(struct xenstore *xs, void *opaque)
{
	struct fe_info *fi = opaque;
	char path[160], *proto = NULL;
	size_t len;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/ring-ref", fi->sb->fe);
	if (xs_dom0_read_uint(xs, path, UINT32_MAX, &fi->ref)) {
		snprintf(fi->why, sizeof(fi->why), "missing or bad ring-ref");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/event-channel", fi->sb->fe);
	if (xs_dom0_read_uint(xs, path, XEN_NR_EVTCHN - 1, &fi->port) || !fi->port) {
		snprintf(fi->why, sizeof(fi->why), "missing or bad event-channel");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/protocol", fi->sb->fe);
	if (xs_dom0_read(xs, path, &proto, &len) == 0) {
		if (strcmp(proto, XEN_IO_PROTO_ABI_X86_64)) {
			snprintf(fi->why, sizeof(fi->why), "unsupported protocol '%.40s'",
				 proto);
			rc = -EINVAL;
		}
		free(proto);
	}
	return rc;
}

static int connect_ring(struct scsiback *sb)
{
	struct fe_info fi = { .sb = sb };
	uint8_t *va;
	int rc = xs_service_with(sb->vm, xs_read_frontend, &fi);

	if (rc < 0) {
		log_guest("scsiback: frontend: %s", fi.why);
		return rc;
	}
	if (gnttab_pin(sb->vm, SB_DOM, (grant_ref_t)fi.ref, true, &sb->ring_pin)) {
		log_guest("scsiback: cannot map the ring (grant refused)");
		return -EPERM;
	}
	va = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		  sb->vm->mem.memfd, (off_t)(sb->ring_pin.mfn << PAGE_SHIFT));
	if (va == MAP_FAILED) {
		gnttab_unpin(sb->vm, &sb->ring_pin);
		return -ENOMEM;
	}
	sb->ring_va = va;
	BACK_RING_INIT(&sb->ring, (struct vscsiif_sring *)(void *)va, PAGE_SIZE);
	sb->nr_slots = RING_SIZE(&sb->ring);
	sb->slots = calloc(sb->nr_slots, sizeof(*sb->slots));
	sb->free_slots = calloc(sb->nr_slots, sizeof(*sb->free_slots));
	sb->mapped = true;
	sb->held = NO_SLOT;
	if (!sb->slots || !sb->free_slots) {
		release_ring(sb);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < sb->nr_slots; i++)
		sb->free_slots[i] = sb->nr_slots - 1 - i;
	sb->nr_free = sb->nr_slots;
	rc = evtchn_bind_backend(sb->vm, (evtchn_port_t)fi.port, on_send, sb);
	if (rc < 0) {
		log_guest("scsiback: event-channel %" PRIu64 " is not an unbound port "
			  "for domain 0", fi.port);
		release_ring(sb);
		return rc;
	}
	sb->port = (evtchn_port_t)fi.port;
	sb->connected = true;
	return 0;
}

static void respond(struct scsiback *sb, const struct sb_slot *s, int32_t rslt)
{
	struct vscsiif_response *rsp;

	if (!sb->connected)
		return;
	rsp = RING_GET_RESPONSE(&sb->ring, sb->ring.rsp_prod_pvt);
	memset(rsp, 0, sizeof(*rsp));
	rsp->rqid = s->req.rqid;
	rsp->act = s->req.act;
	rsp->rslt = rslt;
	if (s->req.act == VSCSIIF_ACT_SCSI_CDB && !(rslt >> 16)) {
		rsp->sense_len = s->cmd.sense_len;
		memcpy(rsp->sense_buffer, s->cmd.sense, s->cmd.sense_len);
		rsp->residual_len = s->cmd.residual;
	} else if (s->req.act == VSCSIIF_ACT_SCSI_CDB) {
		rsp->residual_len = s->req.bytes;
	}
	sb->ring.rsp_prod_pvt++;
	sb->rsp_pending = true;
}

static void push_responses(struct scsiback *sb)
{
	int notify;

	if (!sb->connected || !sb->rsp_pending)
		return;
	sb->rsp_pending = false;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&sb->ring, notify);
	if (notify)
		evtchn_notify_guest(sb->vm, sb->port);
}

static void unpin_all(struct scsiback *sb, struct sb_slot *s)
{
	for (unsigned i = 0; i < s->nr_pins; i++)
		gnttab_unpin(sb->vm, &s->pins[i]);
	s->nr_pins = 0;
}

static void finish(struct scsiback *sb, uint32_t idx, int32_t rslt)
{
	struct sb_slot *s = &sb->slots[idx];

	respond(sb, s, rslt);
	unpin_all(sb, s);
	free(s->verify);
	s->verify = NULL;
	sb->free_slots[sb->nr_free++] = idx;
}

/* Copies between a flat buffer and the request's guest segments. */
static void sg_copy(struct sb_slot *s, uint8_t *buf, uint32_t len, uint64_t skip,
		    bool to_guest)
{
	for (unsigned i = 0; i < s->nr_pins && len; i++) {
		const struct vscsiif_seg *g = &s->req.seg[i];
		uint8_t *p = s->pins[i].page + g->offset;
		uint32_t n = g->length;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		p += skip;
		n -= (uint32_t)skip;
		skip = 0;
		if (n > len)
			n = len;
		if (to_guest)
			memcpy(p, buf, n);
		else
			memcpy(buf, p, n);
		buf += n;
		len -= n;
	}
}

/* iovecs over [skip, skip + len) of the guest segments; their count. */
static unsigned guest_iov(struct sb_slot *s, uint64_t skip, uint64_t len)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nr_pins && len; i++) {
		const struct vscsiif_seg *g = &s->req.seg[i];
		uint64_t l = g->length;
		uint8_t *p = s->pins[i].page + g->offset;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		if (l > len)
			l = len;
		s->iov[n].iov_base = p;
		s->iov[n].iov_len = l;
		n++;
		len -= l;
	}
	return n;
}

static int submit_step(struct scsiback *sb, uint32_t idx)
{
	static uint8_t zero_block[4096];
	struct sb_slot *s = &sb->slots[idx];
	const struct scsi_io *io = &s->cmd.io;
	int fd = s->lun->file.fd;
	uint64_t left = io->len - s->done;
	unsigned n;

	if (s->stage == ST_FLUSH)
		return blk_engine_submit_flush(sb->eng, idx, fd);
	switch (io->op) {
	case SCSI_IO_READ:
	case SCSI_IO_WRITE:
		n = guest_iov(s, s->done, left);
		return blk_engine_submit_rw(sb->eng, idx, fd, s->iov, n,
					    (off_t)(io->off + s->done),
					    io->op == SCSI_IO_WRITE);
	case SCSI_IO_VERIFY:
		s->iov[0].iov_base = s->verify + s->done;
		s->iov[0].iov_len = left;
		return blk_engine_submit_rw(sb->eng, idx, fd, s->iov, 1,
					    (off_t)(io->off + s->done), false);
	case SCSI_IO_WRITE_SAME: {
		uint32_t bs = s->lun->t.block_size;

		n = 0;
		while (left && n < BLK_ENGINE_MAX_IOV) {
			s->iov[n].iov_base = (void *)(io->pattern ? io->pattern
								  : zero_block);
			s->iov[n].iov_len = bs;
			left -= bs;
			n++;
		}
		return blk_engine_submit_rw(sb->eng, idx, fd, s->iov, n,
					    (off_t)(io->off + s->done), true);
	}
	case SCSI_IO_DISCARD:
		return blk_engine_submit_discard(sb->eng, idx, fd,
						 (off_t)io->range[s->range].off,
						 (off_t)io->range[s->range].len);
	case SCSI_IO_FLUSH:
		return blk_engine_submit_flush(sb->eng, idx, fd);
	case SCSI_IO_NONE:
		break;
	}
	return -EINVAL;
}

static void complete_cmd(struct scsiback *sb, uint32_t idx, int res)
{
	struct sb_slot *s = &sb->slots[idx];

	scsi_cmd_finish(&s->lun->t, &s->cmd, res);
	finish(sb, idx, s->cmd.status);
}

static void submit(struct scsiback *sb, uint32_t idx)
{
	int rc = submit_step(sb, idx);

	if (rc < 0) {
		log_error("scsi %s: %s refused the I/O: %s", sb->slots[idx].lun->cfg.path,
			  blk_engine_name(sb->eng), strerror(-rc));
		complete_cmd(sb, idx, -EIO);
		return;
	}
	sb->inflight++;
}

/* An engine job of slot idx completed with res. */
static void complete(struct scsiback *sb, uint32_t idx, int res)
{
	struct sb_slot *s;
	const struct scsi_io *io;

	if (idx >= sb->nr_slots)
		return;
	s = &sb->slots[idx];
	io = &s->cmd.io;
	sb->inflight--;
	if (res < 0 || s->stage == ST_FLUSH || !sb->connected) {
		complete_cmd(sb, idx, res < 0 ? res : sb->connected ? 0 : -EIO);
		return;
	}
	switch (io->op) {
	case SCSI_IO_READ: case SCSI_IO_WRITE: case SCSI_IO_VERIFY:
	case SCSI_IO_WRITE_SAME:
		if (res == 0) { /* no progress: past the end of a shrunk file */
			complete_cmd(sb, idx, -EIO);
			return;
		}
		s->done += (uint64_t)res;
		if (s->done < io->len) {
			submit(sb, idx); /* short transfer: the rest */
			return;
		}
		break;
	case SCSI_IO_DISCARD:
		if (++s->range < io->nr_ranges) {
			submit(sb, idx);
			return;
		}
		break;
	default:
		break;
	}
	if (io->op == SCSI_IO_VERIFY) {
		uint8_t *guest = malloc(io->len);
		int rc = 0;

		if (!guest) {
			rc = -ENOMEM;
		} else {
			sg_copy(s, guest, (uint32_t)io->len, 0, false);
			if (memcmp(guest, s->verify, io->len))
				rc = -EILSEQ;
		}
		free(guest);
		complete_cmd(sb, idx, rc);
		return;
	}
	if (io->flush_after) {
		s->stage = ST_FLUSH;
		submit(sb, idx);
		return;
	}
	complete_cmd(sb, idx, 0);
}

static int pin_segments(struct scsiback *sb, struct sb_slot *s)
{
	bool to_guest = s->req.dir == VSCSIIF_DIR_FROM_DEVICE;

	s->nr_pins = 0;
	for (unsigned i = 0; i < s->req.nr_segs; i++) {
		if (gnttab_pin(sb->vm, SB_DOM, s->req.seg[i].gref, to_guest,
			       &s->pins[i])) {
			unpin_all(sb, s);
			return -EPERM;
		}
		s->nr_pins++;
	}
	return 0;
}

static int fetch_indirect(struct scsiback *sb, struct vscsiif_req *r)
{
	unsigned done = 0;

	for (unsigned p = 0; p < r->nr_indirect; p++) {
		const struct vscsiif_seg *ind = &r->indirect[p];
		struct scsiif_request_segment segs[VSCSIIF_SG_PER_PAGE];
		unsigned n = ind->length / sizeof(segs[0]);
		struct gnttab_pin pin;

		if (gnttab_pin(sb->vm, SB_DOM, ind->gref, false, &pin))
			return -EPERM;
		memcpy(segs, pin.page + ind->offset, n * sizeof(segs[0]));
		gnttab_unpin(sb->vm, &pin);
		for (unsigned i = 0; i < n; i++)
			r->seg[done + i] = (struct vscsiif_seg){ segs[i].gref,
								 segs[i].offset,
								 segs[i].length };
		done += n;
	}
	return vscsiif_req_check_segs(r);
}

/* Runs the SCSI command of slot idx (parsed, segments pinned). */
static void start_cmd(struct scsiback *sb, uint32_t idx)
{
	struct sb_slot *s = &sb->slots[idx];
	struct scsi_cmd *c = &s->cmd;
	struct scsi_addr a = { SB_VHOST, s->req.channel, s->req.id, s->req.lun };
	bool direct = scsi_cdb_direct(s->req.cdb, s->req.cmd_len);

	memset(c, 0, sizeof(*c));
	c->cdb = s->req.cdb;
	c->cdb_len = s->req.cmd_len;
	c->xfer_in = s->req.dir == VSCSIIF_DIR_FROM_DEVICE ? s->req.bytes : 0;
	c->xfer_out = s->req.dir == VSCSIIF_DIR_TO_DEVICE ? s->req.bytes : 0;
	c->din = s->din;
	c->dout = s->dout;
	if (!direct && c->xfer_out)
		sg_copy(s, s->dout, c->xfer_out < SCSI_BOUNCE ? c->xfer_out : SCSI_BOUNCE,
			0, false);
	if (!scsi_cmd_start(&sb->host, &a, c)) {
		finish(sb, idx, RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_NO_CONNECT));
		return;
	}
	if (c->io.op == SCSI_IO_NONE) {
		if (!direct && c->din_len)
			sg_copy(s, s->din, c->din_len, 0, true);
		finish(sb, idx, c->status);
		return;
	}
	s->lun = lun_of(scsi_host_find(&sb->host, &a)); /* found: start said so */
	s->stage = ST_MAIN;
	s->done = 0;
	s->range = 0;
	if (c->io.op == SCSI_IO_VERIFY) {
		s->verify = malloc(c->io.len);
		if (!s->verify) {
			complete_cmd(sb, idx, -ENOMEM);
			return;
		}
	}
	submit(sb, idx);
}

static void take(struct scsiback *sb, const struct vscsiif_request *raw)
{
	uint32_t idx = sb->free_slots[--sb->nr_free];
	struct sb_slot *s = &sb->slots[idx];
	int rc;

	s->nr_pins = 0;
	s->verify = NULL;
	rc = vscsiif_req_parse(raw, VSCSIIF_MAX_SEGS, &s->req);
	if (rc == 0 && s->req.nr_indirect)
		rc = fetch_indirect(sb, &s->req);
	if (rc == 0 && s->req.act == VSCSIIF_ACT_SCSI_CDB)
		rc = pin_segments(sb, s);
	if (rc) {
		log_debug("scsiback: request %u act %u rejected: %s", s->req.rqid,
			  s->req.act, strerror(-rc));
		finish(sb, idx, RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ERROR));
		return;
	}
	if (s->req.act != VSCSIIF_ACT_SCSI_CDB) {
		/* ABORT/RESET: answered once everything taken before has
		 * completed (no command is cancelled mid-I/O). */
		if (sb->inflight) {
			sb->held = idx;
			return;
		}
		finish(sb, idx, XEN_VSCSIIF_RSLT_RESET_SUCCESS);
		return;
	}
	start_cmd(sb, idx);
}

static void process_ring(struct scsiback *sb)
{
	struct vscsiif_request raw;
	unsigned budget = 2 * sb->nr_slots;
	int more;

	if (!sb->connected)
		return;
	do {
		RING_IDX rp = __atomic_load_n(&sb->ring.sring->req_prod,
					      __ATOMIC_ACQUIRE);

		if (RING_REQUEST_PROD_OVERFLOW(&sb->ring, rp)) {
			dev_fatal(sb, "request producer index runs past the ring");
			return;
		}
		while (sb->ring.req_cons != rp) {
			if (sb->held != NO_SLOT || !sb->nr_free ||
			    RING_REQUEST_CONS_OVERFLOW(&sb->ring, sb->ring.req_cons))
				return;
			if (!budget--) {
				kick(sb);
				return;
			}
			memcpy(&raw, RING_GET_REQUEST(&sb->ring, sb->ring.req_cons),
			       sizeof(raw));
			sb->ring.req_cons++;
			take(sb, &raw);
			if (!sb->connected)
				return;
		}
		RING_FINAL_CHECK_FOR_REQUESTS(&sb->ring, more);
	} while (more);
}

/* ------------------------------------------------------------------ */
/* Reconfiguration: LUNs added and removed while the guest runs, in
 * xen-scsiback's order.  The toolstack part (scsiback_lun_add/_remove)
 * offers a LUN (dev-N state 1) or asks one away (5) and sets the host to
 * Reconfiguring (7); the frontend drops the LUNs in Closing and answers
 * Reconfiguring; our pass (with nothing in flight) moves 1 -> 3 into the
 * target and 5 -> 6 out of it (image closed), host Reconfigured (8); the
 * frontend adds the LUNs in 3 and is Connected again; 3 -> 4, host
 * Connected (4). */

static bool luns_pending(const struct scsiback *sb)
{
	for (unsigned i = 0; i < VM_MAX_SCSI; i++)
		if (sb->luns[i].used && vscsi_lun_pending(sb->luns[i].state))
			return true;
	return false;
}

/* A round starts when the host is Connected and a LUN waits; one under
 * way picks up what came meanwhile when it ends. */
static void reconf_start(struct scsiback *sb)
{
	if (sb->connected && sb->luns_live && sb->be_state == XenbusStateConnected &&
	    luns_pending(sb))
		set_states(sb, XenbusStateReconfiguring, VSCSI_PASS_NONE);
}

/* The frontend is Reconfiguring and nothing is in flight. */
static void reconf_pass(struct scsiback *sb)
{
	sb->reconf_wanted = false;
	if (sb->connected && sb->be_state == XenbusStateReconfiguring)
		set_states(sb, XenbusStateReconfigured, VSCSI_PASS_ADD_OR_DEL);
}

/* The frontend is Connected again after our Reconfigured. */
static void reconf_finish(struct scsiback *sb)
{
	set_states(sb, XenbusStateConnected, VSCSI_PASS_UPDATE);
	reconf_start(sb);
}

static void handle_state(struct scsiback *sb)
{
	int fe = __atomic_load_n(&sb->fe_state, __ATOMIC_ACQUIRE);

	switch (fe) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (sb->be_state == XenbusStateInitWait && !sb->mapped) {
			if (connect_ring(sb) == 0)
				/* LUNs offered (1) are added (3), as xen-scsiback */
				set_states(sb, XenbusStateConnected, VSCSI_PASS_ADD_OR_DEL);
			else
				set_states(sb, XenbusStateClosing, VSCSI_PASS_NONE);
		}
		/* The frontend added them: LUNs 3 -> 4 */
		if (fe == XenbusStateConnected && sb->connected && !sb->luns_live &&
		    sb->be_state == XenbusStateConnected) {
			set_states(sb, XenbusStateConnected, VSCSI_PASS_UPDATE);
			sb->luns_live = true;
			reconf_start(sb); /* a LUN came while we connected */
		}
		if (fe == XenbusStateConnected && sb->connected &&
		    sb->be_state == XenbusStateReconfigured)
			reconf_finish(sb);
		break;
	case XenbusStateReconfiguring:
		/* The frontend dropped the LUNs in Closing: our pass next */
		if (sb->connected && sb->be_state == XenbusStateReconfiguring)
			sb->reconf_wanted = true;
		break;
	case XenbusStateClosing:
		disconnect(sb);
		if (sb->be_state != XenbusStateClosed)
			set_states(sb, XenbusStateClosing, VSCSI_PASS_NONE);
		break;
	case XenbusStateClosed:
		disconnect(sb);
		set_states(sb, XenbusStateClosed, VSCSI_PASS_NONE);
		break;
	case XenbusStateUnknown:
	case XenbusStateInitialising:
		disconnect(sb);
		if (!sb->mapped)
			set_states(sb, XenbusStateInitWait, VSCSI_PASS_NONE);
		break;
	default:
		break;
	}
}

/* The host thread's part of a medium change, with nothing in flight (no
 * job holds the old descriptor). */
static int swap_medium(struct scsiback *sb, struct sb_change *m)
{
	struct sb_lun *l = m->lun;
	int rc;

	if (m->file.fd < 0) {
		rc = scsi_lun_change_medium(&l->t, 0, m->force);
		if (rc == 0)
			hio_file_close(&l->file);
		return rc;
	}
	if (l->t.present)
		return -EEXIST;
	rc = scsi_lun_change_medium(&l->t, m->file.size / l->t.block_size, false);
	if (rc == 0) {
		hio_file_close(&l->file);
		l->file = m->file;
		m->file.fd = -1; /* the LUN's now */
		/* Status and a snapshot name the image that is in now. */
		pthread_mutex_lock(&sb->lock);
		snprintf(l->cfg.path, sizeof(l->cfg.path), "%s", m->path);
		pthread_mutex_unlock(&sb->lock);
	}
	return rc;
}

static bool media_waiting(struct scsiback *sb)
{
	return __atomic_load_n(&sb->media, __ATOMIC_ACQUIRE) != NULL;
}

static void apply_media(struct scsiback *sb)
{
	pthread_mutex_lock(&sb->media_lock);
	if (sb->media) {
		sb->media->result = sb->media->apply(sb, sb->media);
		sb->media->done = true;
		__atomic_store_n(&sb->media, NULL, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&sb->media_cond);
	}
	pthread_mutex_unlock(&sb->media_lock);
}

static void *host_thread(void *arg)
{
	struct scsiback *sb = arg;

	sandbox_thread(SANDBOX_ROLE_BLOCK, "scsi");
	for (;;) {
		struct blk_completion c[SB_BATCH];
		int rc = blk_engine_wait(sb->eng, c, SB_BATCH);

		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			log_error("scsiback: %s: %s", blk_engine_name(sb->eng),
				  strerror(-rc));
			break;
		}
		for (int i = 0; i < rc; i++)
			if (c[i].idx != BLK_ENGINE_EVENT)
				complete(sb, c[i].idx, c[i].res);
		if (__atomic_load_n(&sb->stop, __ATOMIC_ACQUIRE) && !sb->inflight)
			break;
		if (!sb->connected)
			release_ring(sb);
		handle_state(sb);
		if (sb->connected && sb->held != NO_SLOT && !sb->inflight) {
			uint32_t idx = sb->held;

			sb->held = NO_SLOT;
			finish(sb, idx, XEN_VSCSIIF_RSLT_RESET_SUCCESS);
		}
		/* A change waits for the commands in flight, and no new one
		 * starts before it: none sees half a change. */
		if (media_waiting(sb) && !sb->inflight)
			apply_media(sb);
		if (sb->reconf_wanted && !sb->inflight)
			reconf_pass(sb);
		if (!media_waiting(sb) && !sb->reconf_wanted)
			process_ring(sb);
		push_responses(sb);
		publish_media(sb);
		rc = blk_engine_commit(sb->eng);
		if (rc < 0)
			log_debug("scsiback: %s submit: %s", blk_engine_name(sb->eng),
				  strerror(-rc));
	}
	disconnect(sb);
	return NULL;
}

/* One LUN's vscsi-devs/dev-N entries, as libxl writes them. */
static int xs_write_dev(struct xenstore *xs, struct scsiback *sb, unsigned n)
{
	const struct sb_lun *l = &sb->luns[n];
	char dev[160], path[240];
	int rc = 0;

	snprintf(dev, sizeof(dev), "%s/vscsi-devs/dev-%u", sb->be, n);
#define DEV(key, fmt, ...)                                                  \
	do {                                                                \
		if (!rc) {                                                  \
			snprintf(path, sizeof(path), "%s/" key, dev);       \
			rc = xs_dom0_printf(xs, path, fmt, __VA_ARGS__);    \
		}                                                           \
	} while (0)
	DEV("p-dev", "naa.%016" PRIx64 ":0", l->t.naa);
	DEV("p-devname", "%.200s", l->cfg.path);
	DEV("v-dev", "%s", l->vdev);
	DEV("state", "%d", l->state);
#undef DEV
	return rc;
}

/* A reboot's new domain: each LUN offered again (1), as at set-up, and
 * the frontend's directory.  The host thread is idle: no frontend. */
static int xs_reattach(struct xenstore *xs, void *opaque)
{
	struct scsiback *sb = opaque;
	int rc = 0;

	for (unsigned i = 0; !rc && i < VM_MAX_SCSI; i++) {
		struct sb_lun *l = &sb->luns[i];

		/* One being removed goes on its way (ctl_hotplug waits). */
		if (!l->used || l->state == XenbusStateClosing || l->state == XenbusStateClosed)
			continue;
		lun_set_state(sb, l, XenbusStateInitialising);
		rc = xs_write_dev(xs, sb, i);
	}
	return rc ? rc : xs_write_frontend(xs, sb->fe, sb->be, NULL, 0);
}

/* The vscsi entries as libxl and xen-scsiback write them. */
static int xs_setup(struct xenstore *xs, void *opaque)
{
	struct scsiback *sb = opaque;
	const struct xs_perm be_perms[] = { { 0, XS_PERM_NONE },
					    { XS_GUEST_DOMID, XS_PERM_READ } };
	char path[1200];
	int rc;

	sb->xs = xs;
	rc = xs_dom0_mkdir(xs, sb->be);
	if (!rc)
		rc = xs_dom0_set_perms(xs, sb->be, be_perms, 2);
#define BE(key, fmt, ...)                                                   \
	do {                                                                \
		if (!rc) {                                                  \
			snprintf(path, sizeof(path), "%s/" key, sb->be);    \
			rc = xs_dom0_printf(xs, path, fmt, __VA_ARGS__);    \
		}                                                           \
	} while (0)
	BE("frontend", "%s", sb->fe);
	BE("frontend-id", "%d", XS_GUEST_DOMID);
	BE("online", "%d", 1);
	BE("feature-host", "%d", 0);
	BE("feature-sg-grant", "%d", VSCSIIF_MAX_SEGS);
	for (unsigned i = 0; !rc && i < VM_MAX_SCSI; i++)
		if (sb->luns[i].used)
			rc = xs_write_dev(xs, sb, i);
	BE("state", "%d", XenbusStateInitWait);
#undef BE
	if (!rc)
		rc = xs_write_frontend(xs, sb->fe, sb->be, NULL, 0);
	sb->be_state = XenbusStateInitWait;
	if (!rc) {
		rc = xs_dom0_watch(xs, sb->fe_state_path, "vscsi", on_fe_state, sb);
		sb->watching = rc == 0;
	}
	return rc;
}

static int xs_unwatch(struct xenstore *xs, void *opaque)
{
	struct scsiback *sb = opaque;

	return xs_dom0_unwatch(xs, sb->fe_state_path, "vscsi");
}

/* FNV-1a of the path: a stable identity for INQUIRY serial and NAA. */
static uint64_t path_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*p)
		h = (h ^ (uint8_t)*p++) * 0x100000001b3ull;
	return h;
}

/* Fills slot l for cfg on its image: opened here (fd -1, at start-up) or
 * the descriptor a control client sent (fd, taken).  The slot stays
 * unused (l->used false) for the caller to publish. */
static int lun_open(struct sb_lun *l, const struct vm_scsi *cfg, int fd, char *err,
		    size_t err_len)
{
	uint32_t bs = cfg->cdrom ? 2048 : 512;
	char why[1200];
	int rc;

	/* All but `used`, which the host thread reads (false: unpublished). */
	memset(l, 0, offsetof(struct sb_lun, used));
	l->cfg = *cfg;
	l->file.fd = -1;
	l->state = XenbusStateInitialising;
	rc = fd < 0 ? hio_file_open(&l->file, cfg->path, cfg->ro, why, sizeof(why))
		    : hio_file_adopt(&l->file, fd, cfg->path, cfg->ro, why, sizeof(why));
	if (rc < 0) {
		/* hio_file says "disk PATH: ..."; this is a SCSI LUN */
		snprintf(err, err_len, "scsi %s", strncmp(why, "disk ", 5) ? why : why + 5);
		return rc;
	}
	if (l->file.size < bs || l->file.size % bs) {
		snprintf(err, err_len,
			 "scsi %s: size %" PRIu64 " is not a positive multiple of %u bytes",
			 cfg->path, l->file.size, bs);
		hio_file_close(&l->file);
		return -EINVAL;
	}
	scsi_lun_init(&l->t, cfg->cdrom ? SCSI_MEDIA_CDROM : SCSI_MEDIA_DISK,
		      path_hash(cfg->path));
	l->t.addr = (struct scsi_addr){ SB_VHOST, cfg->channel, cfg->target, cfg->lun };
	l->t.blocks = l->file.size / bs;
	l->t.ro = cfg->ro || cfg->cdrom;
	l->t.discard = !l->t.ro;
	if (cfg->cdrom && cfg->ejected)
		l->t.present = false; /* the tray open: the host's insert loads it */
	if (cfg->cdrom && cfg->locked)
		l->t.prevent = true; /* until the guest allows removal again */
	l->shown_present = l->t.present;
	l->shown_prevent = l->t.prevent;
	snprintf(l->vdev, sizeof(l->vdev), "%u:%u:%u:%u", cfg->host, cfg->channel,
		 cfg->target, cfg->lun);
	return 0;
}

/* A condition variable whose timed waits count CLOCK_MONOTONIC. */
static void cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
}

/* The host without LUNs: its eventfd and I/O engine, into *out (also on
 * failure: sb_destroy it).  Not yet vm->scsiback: the caller publishes it. */
static int sb_create(struct vm *vm, struct scsiback **out, char *err, size_t err_len)
{
	enum blk_engine_kind kind;
	struct scsiback *sb;
	char why[200];
	int rc;

	*out = sb = calloc(1, sizeof(*sb));
	if (!sb) {
		snprintf(err, err_len, "scsiback: out of memory");
		return -ENOMEM;
	}
	sb->vm = vm;
	sb->efd = -1;
	sb->held = NO_SLOT;
	pthread_mutex_init(&sb->media_lock, NULL);
	cond_init_monotonic(&sb->media_cond);
	pthread_mutex_init(&sb->lock, NULL);
	cond_init_monotonic(&sb->lun_cond);
	snprintf(sb->be, sizeof(sb->be), "/local/domain/0/backend/vscsi/%d/%d",
		 XS_GUEST_DOMID, SB_VHOST);
	snprintf(sb->fe, sizeof(sb->fe), "/local/domain/%d/device/vscsi/%d",
		 XS_GUEST_DOMID, SB_VHOST);
	snprintf(sb->fe_state_path, sizeof(sb->fe_state_path), "%s/state", sb->fe);
	sb->efd = eventfd(0, EFD_CLOEXEC);
	if (sb->efd < 0) {
		rc = -errno;
		snprintf(err, err_len, "scsiback: eventfd: %s", strerror(errno));
		return rc;
	}
	rc = blk_engine_kind_from_env(&kind, err, err_len);
	if (rc < 0)
		return rc;
	rc = blk_engine_open(kind, sb->efd, SB_DEPTH, &sb->eng, why, sizeof(why));
	if (rc < 0)
		snprintf(err, err_len, "scsiback: %s", why);
	return rc;
}

/* Publishes the host (and the LUNs in use) and starts its thread. */
static int sb_start(struct scsiback *sb, char *err, size_t err_len)
{
	int rc = xs_service_with(sb->vm, xs_setup, sb);

	if (rc < 0) {
		snprintf(err, err_len, "scsiback: xenstore: %s", strerror(-rc));
		return rc;
	}
	rc = pthread_create(&sb->thread, NULL, host_thread, sb);
	if (rc) {
		snprintf(err, err_len, "scsiback: thread: %s", strerror(rc));
		return -rc;
	}
	sb->started = true;
	return 0;
}

int scsiback_init(struct vm *vm, char *err, size_t err_len)
{
	struct scsiback *sb;
	int rc;

	if (!vm->cfg->nr_scsi)
		return 0;
	rc = sb_create(vm, &sb, err, err_len);
	vm->scsiback = sb; /* before any other thread looks */
	for (unsigned i = 0; rc == 0 && i < vm->cfg->nr_scsi && i < VM_MAX_SCSI; i++) {
		rc = lun_open(&sb->luns[i], &vm->cfg->scsi[i], -1, err, err_len);
		sb->luns[i].used = rc == 0;
	}
	return rc < 0 ? rc : sb_start(sb, err, err_len);
}

int scsiback_reattach(struct vm *vm, char *err, size_t err_len)
{
	int rc = vm->scsiback ? xs_service_with(vm, xs_reattach, vm->scsiback) : 0;

	if (rc < 0)
		snprintf(err, err_len, "vscsi: xenstore: %s", strerror(-rc));
	return rc;
}

static void sb_destroy(struct scsiback *sb)
{
	if (!sb)
		return;
	if (sb->watching && xs_service_with(sb->vm, xs_unwatch, sb) < 0)
		log_debug("scsiback: unwatch failed");
	if (sb->started) {
		__atomic_store_n(&sb->stop, true, __ATOMIC_RELEASE);
		kick(sb);
		pthread_join(sb->thread, NULL);
	}
	blk_engine_close(sb->eng);
	if (sb->efd >= 0)
		close(sb->efd);
	for (unsigned i = 0; i < VM_MAX_SCSI; i++)
		hio_file_close(&sb->luns[i].file);
	free(sb);
}

void scsiback_destroy(struct vm *vm)
{
	struct scsiback *sb = vm->scsiback;

	vm->scsiback = NULL;
	sb_destroy(sb);
}

/* The LUN at addr ("H:C:T:L").  Slots come and go only on the control
 * API's hot-plug thread, which is the caller. */
static struct sb_lun *find_lun(struct scsiback *sb, const char *addr)
{
	struct sb_lun *found = NULL;

	if (!sb)
		return NULL;
	pthread_mutex_lock(&sb->lock);
	for (unsigned i = 0; !found && i < VM_MAX_SCSI; i++)
		if (sb->luns[i].used && !strcmp(sb->luns[i].vdev, addr))
			found = &sb->luns[i];
	pthread_mutex_unlock(&sb->lock);
	return found;
}

/* Waits on cond until deadline (monotonic ns), but wakes at least every
 * 50 ms: the callers look at vm_stopped() too. */
static void cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *m, int64_t deadline)
{
	int64_t until = time_monotonic_ns() + 50 * 1000000; /* CLOCK_MONOTONIC */
	struct timespec ts;

	if (until > deadline)
		until = deadline;
	ts.tv_sec = (time_t)(until / 1000000000);
	ts.tv_nsec = (long)(until % 1000000000);
	pthread_cond_timedwait(cond, m, &ts);
}

/* Posts c and waits until the host thread has applied it, the VM stops or
 * the time is up (c withdrawn then). */
static int post_change(struct scsiback *sb, struct sb_change *c, unsigned timeout_ms)
{
	int64_t deadline = time_monotonic_ns() + (int64_t)timeout_ms * 1000000;
	int rc = -ETIMEDOUT;

	pthread_mutex_lock(&sb->media_lock);
	if (sb->media) {
		pthread_mutex_unlock(&sb->media_lock);
		return -EAGAIN;
	}
	__atomic_store_n(&sb->media, c, __ATOMIC_RELEASE);
	kick(sb);
	while (!c->done && !vm_stopped(sb->vm) && time_monotonic_ns() < deadline)
		cond_wait_until(&sb->media_cond, &sb->media_lock, deadline);
	if (c->done)
		rc = c->result;
	else
		__atomic_store_n(&sb->media, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sb->media_lock);
	return rc;
}

int scsiback_change_medium(struct vm *vm, const char *addr, int fd, const char *path,
			   bool force, unsigned timeout_ms, char *err, size_t err_len)
{
	struct scsiback *sb = vm->scsiback;
	struct sb_change m = { .apply = swap_medium, .lun = find_lun(sb, addr),
			       .force = force, .file = { .fd = -1 }, .path = path };
	int rc;

	if (!m.lun || !sb->started) {
		if (fd >= 0)
			close(fd);
		snprintf(err, err_len, "no SCSI LUN %s", addr);
		return -ENOENT;
	}
	if (m.lun->t.media != SCSI_MEDIA_CDROM) {
		if (fd >= 0)
			close(fd);
		snprintf(err, err_len, "LUN %s is a disk, not a CD/DVD drive", addr);
		return -EINVAL;
	}
	if (fd >= 0) {
		rc = hio_file_adopt(&m.file, fd, addr, true, err, err_len);
		if (rc < 0)
			return rc;
		if (!m.file.size || m.file.size % m.lun->t.block_size) {
			snprintf(err, err_len, "medium for %s: size %" PRIu64
				 " is not a positive multiple of %u bytes", addr,
				 m.file.size, m.lun->t.block_size);
			hio_file_close(&m.file);
			return -EINVAL;
		}
	}
	rc = post_change(sb, &m, timeout_ms);
	hio_file_close(&m.file); /* still ours if the change did not take it */
	if (rc == -EBUSY)
		snprintf(err, err_len, "the guest prevents medium removal from %s "
			 "(PREVENT ALLOW MEDIUM REMOVAL); eject with force", addr);
	else if (rc == -EEXIST)
		snprintf(err, err_len, "%s holds a medium: eject it first", addr);
	else if (rc == -EAGAIN)
		snprintf(err, err_len, "another medium change is under way");
	else if (rc == -ETIMEDOUT)
		snprintf(err, err_len, "the commands in flight on %s did not finish in time", addr);
	else if (rc < 0)
		snprintf(err, err_len, "%s: %s", addr, strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Hot-plug (scsiback.h): the toolstack's part of a reconfiguration, as
 * libxl's libxl_vscsi.c writes it; the host thread applies each step. */

struct lun_ref {
	struct scsiback *sb;
	unsigned n;
};

static unsigned slot_of(struct scsiback *sb, const struct sb_lun *l)
{
	return (unsigned)(l - sb->luns);
}

static int xs_publish_lun(struct xenstore *xs, void *opaque)
{
	struct lun_ref *r = opaque;

	return xs_write_dev(xs, r->sb, r->n);
}

static int xs_write_lun_state(struct xenstore *xs, void *opaque)
{
	struct lun_ref *r = opaque;
	char path[160];

	snprintf(path, sizeof(path), "%s/vscsi-devs/dev-%u/state", r->sb->be, r->n);
	return xs_dom0_printf(xs, path, "%d", r->sb->luns[r->n].state);
}

static int xs_remove_lun(struct xenstore *xs, void *opaque)
{
	struct lun_ref *r = opaque;
	char path[160];

	snprintf(path, sizeof(path), "%s/vscsi-devs/dev-%u", r->sb->be, r->n);
	return xs_dom0_rm(xs, path);
}

/* Whether the frontend is connected and past its first LUN pass: a
 * reconfiguration round can run. */
static bool fe_live(const struct scsiback *sb)
{
	return sb->connected && sb->luns_live;
}

/* Takes slot l away at once: image closed, dev-N gone.  A round nobody
 * answers is given up when nothing else waits for it. */
static void lun_drop(struct scsiback *sb, struct sb_lun *l)
{
	struct lun_ref r = { sb, slot_of(sb, l) };

	lun_set_used(sb, l, false);
	sync_target(sb);
	hio_file_close(&l->file);
	if (xs_service_with(sb->vm, xs_remove_lun, &r) < 0)
		log_error("scsiback: cannot remove vscsi-devs/dev-%u", r.n);
	if (sb->be_state == XenbusStateReconfiguring && !luns_pending(sb) &&
	    __atomic_load_n(&sb->fe_state, __ATOMIC_ACQUIRE) != XenbusStateReconfiguring)
		set_states(sb, XenbusStateConnected, VSCSI_PASS_NONE);
}

/* Offers the LUN prepared in c->lun (dev-N, state 1) and starts a round. */
static int plug_apply(struct scsiback *sb, struct sb_change *c)
{
	struct lun_ref r = { sb, slot_of(sb, c->lun) };
	int rc = xs_service_with(sb->vm, xs_publish_lun, &r);

	if (rc < 0)
		return rc;
	lun_set_used(sb, c->lun, true);
	c->live = fe_live(sb);
	reconf_start(sb);
	return 0;
}

/* Asks the frontend to let c->lun go (Closing, then a round); without a
 * frontend that has it, or forced, takes it away at once. */
static int unplug_apply(struct scsiback *sb, struct sb_change *c)
{
	struct sb_lun *l = c->lun;
	struct lun_ref r = { sb, slot_of(sb, l) };

	c->live = fe_live(sb) && !c->force && l->state != XenbusStateInitialising;
	if (!c->live) {
		lun_drop(sb, l);
		return 0;
	}
	if (l->state != XenbusStateClosing) {
		lun_set_state(sb, l, XenbusStateClosing);
		if (xs_service_with(sb->vm, xs_write_lun_state, &r) < 0)
			return -EIO;
	}
	reconf_start(sb);
	return 0;
}

/* The frontend let it go and our pass closed it (6): the nodes go. */
static int unplug_finish_apply(struct scsiback *sb, struct sb_change *c)
{
	lun_drop(sb, c->lun);
	return 0;
}

/* Waits until the LUN's state is `want` (true), the time is up or the VM
 * stops (false).  Woken by the host thread's lun_set_state. */
static bool wait_lun_state(struct scsiback *sb, const struct sb_lun *l, int want,
			   int64_t deadline)
{
	bool reached;

	pthread_mutex_lock(&sb->lock);
	while (!(reached = l->state == want) && !vm_stopped(sb->vm) &&
	       time_monotonic_ns() < deadline)
		cond_wait_until(&sb->lun_cond, &sb->lock, deadline);
	pthread_mutex_unlock(&sb->lock);
	return reached;
}

static unsigned ms_left(int64_t deadline)
{
	int64_t left = deadline - time_monotonic_ns();

	return left > 0 ? (unsigned)(left / 1000000) + 1 : 1;
}

/* Where cfg goes among the LUNs in use (vscsi_lun_place). */
static int place(struct scsiback *sb, struct vm_scsi *cfg, bool given, char *err,
		 size_t err_len)
{
	struct scsi_addr taken[VM_MAX_SCSI], a = { cfg->host, cfg->channel, cfg->target,
						   cfg->lun };
	unsigned nr = 0;
	int rc;

	for (unsigned i = 0; i < VM_MAX_SCSI; i++) {
		const struct vm_scsi *o = &sb->luns[i].cfg;

		if (sb->luns[i].used)
			taken[nr++] = (struct scsi_addr){ o->host, o->channel, o->target, o->lun };
	}
	rc = vscsi_lun_place(taken, nr, given, &a);
	if (rc == -ENOSPC)
		snprintf(err, err_len, "the SCSI host has %d LUNs already (the most)",
			 VM_MAX_SCSI);
	else if (rc == -EEXIST)
		snprintf(err, err_len, "LUN %u:%u:%u:%u is taken", a.host, a.channel, a.target,
			 a.lun);
	else if (rc == -EXDEV)
		snprintf(err, err_len, "LUN %u:%u:%u:%u is on host %u, the others on host %u "
			 "(one SCSI host per guest)", a.host, a.channel, a.target, a.lun,
			 a.host, taken[0].host);
	cfg->ro = cfg->ro || cfg->cdrom;
	cfg->host = a.host;
	cfg->channel = a.channel;
	cfg->target = a.target;
	cfg->lun = a.lun;
	return rc;
}

/* The host for a first LUN, as disk-add creates a vbd: backend directory
 * with the LUN already in it (state 1), frontend directory, InitWait; the
 * guest's xenbus finds it and the LUN comes with the first connection. */
static int host_add(struct vm *vm, struct vm_scsi *cfg, bool given, int fd, char *err,
		    size_t err_len)
{
	struct scsiback *sb;
	int rc = sb_create(vm, &sb, err, err_len);

	if (rc == 0)
		rc = place(sb, cfg, given, err, err_len);
	if (rc == 0) {
		rc = lun_open(&sb->luns[0], cfg, fd, err, err_len);
		fd = -1; /* taken */
	}
	if (rc == 0) {
		sb->luns[0].used = true;
		rc = sb_start(sb, err, err_len);
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		sb_destroy(sb);
		return rc;
	}
	/* Release: status and a save (other threads) read the host whole. */
	__atomic_store_n(&vm->scsiback, sb, __ATOMIC_RELEASE);
	log_info("scsiback: vscsi host created for a hot-plugged LUN");
	return 0;
}

int scsiback_lun_add(struct vm *vm, struct vm_scsi *cfg, bool given, int fd,
		     unsigned timeout_ms, bool *taken, char *err, size_t err_len)
{
	int64_t deadline = time_monotonic_ns() + (int64_t)timeout_ms * 1000000;
	struct sb_change c = { .apply = plug_apply };
	struct vm_scsi want = *cfg;
	struct scsiback *sb = vm->scsiback;
	int rc;

	*taken = false;
	if (!sb) {
		rc = host_add(vm, &want, given, fd, err, err_len);
		if (rc == 0)
			*cfg = want;
		return rc;
	}
	for (unsigned i = 0; i < VM_MAX_SCSI && !c.lun; i++)
		if (!sb->luns[i].used)
			c.lun = &sb->luns[i];
	rc = place(sb, &want, given, err, err_len);
	if (rc < 0 || !c.lun) {
		close(fd);
		return rc < 0 ? rc : -ENOSPC;
	}
	rc = lun_open(c.lun, &want, fd, err, err_len);
	if (rc < 0)
		return rc;
	rc = post_change(sb, &c, ms_left(deadline));
	if (rc < 0) {
		hio_file_close(&c.lun->file);
		snprintf(err, err_len, "%s: %s", c.lun->vdev, strerror(-rc));
		return rc;
	}
	*cfg = want;
	if (!c.live)
		return 0; /* the frontend gets it when it connects */
	if (!wait_lun_state(sb, c.lun, XenbusStateConnected, deadline)) {
		snprintf(err, err_len, "the guest did not take LUN %s within %u ms; it stays "
			 "offered (scsi-remove takes it away)", c.lun->vdev, timeout_ms);
		return vm_stopped(vm) ? -ECANCELED : -ETIMEDOUT;
	}
	*taken = true;
	return 0;
}

int scsiback_lun_remove(struct vm *vm, const char *addr, bool force, unsigned timeout_ms,
			bool *closed, char *err, size_t err_len)
{
	int64_t deadline = time_monotonic_ns() + (int64_t)timeout_ms * 1000000;
	struct scsiback *sb = vm->scsiback;
	struct sb_change c = { .apply = unplug_apply, .lun = find_lun(sb, addr),
			       .force = force };
	int rc;

	*closed = false;
	if (!c.lun) {
		snprintf(err, err_len, "no SCSI LUN %s", addr);
		return -ENOENT;
	}
	rc = post_change(sb, &c, ms_left(deadline));
	if (rc == 0 && c.live) {
		if (!wait_lun_state(sb, c.lun, XenbusStateClosed, deadline)) {
			snprintf(err, err_len, "the guest did not let LUN %s go within %u ms; it "
				 "stays Closing (scsi-remove with force takes it away)", addr,
				 timeout_ms);
			return vm_stopped(vm) ? -ECANCELED : -ETIMEDOUT;
		}
		*closed = true;
		c = (struct sb_change){ .apply = unplug_finish_apply, .lun = c.lun };
		rc = post_change(sb, &c, ms_left(deadline) + 1000);
	}
	if (rc < 0)
		snprintf(err, err_len, "%s: %s", addr, strerror(-rc));
	return rc;
}

/* The used slots, copied under the lock into info or cfg (either may be
 * NULL): status and a snapshot see the same table. */
static unsigned copy_luns(struct vm *vm, struct scsiback_lun_info *info, struct vm_scsi *cfg)
{
	struct scsiback *sb = __atomic_load_n(&vm->scsiback, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	if (!sb)
		return 0;
	pthread_mutex_lock(&sb->lock);
	for (unsigned i = 0; i < VM_MAX_SCSI; i++) {
		const struct sb_lun *l = &sb->luns[i];

		if (!l->used)
			continue;
		if (info)
			info[n] = (struct scsiback_lun_info){ .cfg = l->cfg, .state = l->state,
							      .medium = l->shown_present,
							      .prevent = l->shown_prevent };
		if (cfg) {
			cfg[n] = l->cfg;
			cfg[n].ejected = l->cfg.cdrom && !l->shown_present;
			cfg[n].locked = l->cfg.cdrom && l->shown_prevent;
		}
		n++;
	}
	pthread_mutex_unlock(&sb->lock);
	return n;
}

unsigned scsiback_lun_info(struct vm *vm, struct scsiback_lun_info *out)
{
	return copy_luns(vm, out, NULL);
}

unsigned scsiback_luns(struct vm *vm, struct vm_scsi *out)
{
	return copy_luns(vm, NULL, out);
}
