/*
 * The 9pfs backend (see p9back.h and docs/9pfs.md).
 *
 * Threads: as blkback.  The vCPU thread only runs on_send() (an eventfd
 * write) and the frontend-state watch; the device thread does the
 * XenbusState handshake, maps the rings through grant pins, and takes the
 * requests whole off each ring's `out` (p9_ring_take()) into slots, up to
 * P9BACK_RING_INFLIGHT per ring and P9BACK_SLOTS per share.  A pool of
 * P9BACK_WORKERS threads per share answers them with the file server,
 * several at once, and each puts its response on `in` as it completes,
 * tagged (9P allows any order; Linux's 9pnet_xen keeps many requests in
 * flight).  A Tflush is answered by the device thread, after the response
 * of the request it names if that one is still in flight (flush(5)).
 * Responses that do not fit yet wait, in completion order, on the ring's
 * out-queue, and the device thread polls for room, since a frontend need
 * not notify when it consumes.  d->lock guards the slots, the job queue
 * and the rings' `in` side; `out` is the device thread's alone.
 */
#include "services/p9back/p9back.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/vm.h"
#include "services/p9/p9_fs.h"
#include "services/p9/p9_ring.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/events.h"
#include "xen/grant.h"

#include <pvisor/xen.h>
#include <xen/io/9pfs.h>
#include <xen/io/xenbus.h>

#define P9BACK_DOM 0
#define P9BACK_MAX_RINGS 4         /* max-rings (Linux uses 2) */
#define P9BACK_MAX_ORDER 9         /* max-ring-page-order: 2 MiB, the spec's most */
#define P9BACK_MIN_ORDER 1         /* 4 KiB each way: room for P9_FS_MIN_MSIZE */
#define P9BACK_MAX_MSIZE (512u << 10)
#define P9BACK_BUDGET 64           /* requests per ring per wakeup */
#define P9BACK_POLL_MS 1           /* while a response waits for room */
#define P9BACK_WORKERS 4           /* per share: requests served at once */
#define P9BACK_RING_INFLIGHT 8     /* requests taken off one ring, unanswered */
#define P9BACK_SLOTS 16            /* per share (each: 2 x msize of buffers) */

struct p9_xring;

/* One request taken off a ring, until its response is on `in`. */
struct p9_slot {
	struct p9_slot *next;     /* free list, job queue or out-queue */
	struct p9_slot *busy_next; /* the ring's in-flight list */
	struct p9_slot *flushes;  /* Tflushes answered right after this one */
	struct p9_xring *ring;
	uint8_t *req, *rsp;       /* buf_size each */
	uint32_t req_len, rsp_len;
	uint16_t tag;
	bool done;                /* rsp holds the response */
};

struct p9_xring {
	bool mapped;
	evtchn_port_t port;
	struct gnttab_pin intf_pin;
	struct xen_9pfs_data_intf *intf;
	unsigned nr_pages;
	struct gnttab_pin pins[1u << P9BACK_MAX_ORDER];
	uint8_t *data;       /* in: data, out: data + size */
	size_t map_len;      /* the reservation data heads */
	uint32_t size;       /* bytes each way */
	uint32_t out_cons, in_prod; /* ours; the shared copies are written */
	/* Under the device's lock: */
	unsigned inflight;           /* slots of this ring */
	struct p9_slot *busy;        /* in-flight slots (Tflush looks here) */
	struct p9_slot *outq, **outq_tail; /* done, waiting for room on `in` */
	bool dead;                   /* disconnecting: responses are dropped */
	bool stalled;                /* a bound stopped taking requests */
	bool in_busy;                /* a thread is writing `in` */
	bool broken;                 /* `in` indexes were bad */
};

struct p9_dev {
	struct vm *vm;
	const struct vm_share *cfg;
	struct xenstore *xs;
	unsigned devid;
	char be[96], fe[96], fe_state_path[112];
	struct p9_fs *fs;
	int efd;
	bool started, watching;
	pthread_t thread;
	int fe_state;        /* atomic: written by the watch */
	bool stop;           /* atomic */

	/* The workers and what they share with the device thread. */
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	pthread_t workers[P9BACK_WORKERS];
	unsigned nr_workers;
	bool workers_stop;
	struct p9_slot *slots;   /* P9BACK_SLOTS */
	struct p9_slot *free_slots;
	struct p9_slot *jobs, **jobs_tail;
	unsigned running;        /* slots a worker is answering */

	/* Device thread only from here on. */
	int be_state;
	bool connected;
	unsigned nr_rings;
	struct p9_xring *rings;  /* P9BACK_MAX_RINGS */
	uint32_t buf_size;
};

struct p9back {
	unsigned nr;
	struct p9_dev dev[VM_MAX_SHARES];
};

static void kick(struct p9_dev *d)
{
	uint64_t one = 1;

	if (write(d->efd, &one, sizeof(one)) < 0)
		log_debug("p9back: eventfd write: %s", strerror(errno));
}

static void on_send(void *opaque)
{
	kick(opaque);
}

static void on_fe_state(void *opaque, const char *path, const char *token)
{
	struct p9_dev *d = opaque;
	uint64_t st;

	if (xs_dom0_read_uint(d->xs, d->fe_state_path, XenbusStateReconfigured, &st))
		st = XenbusStateUnknown;
	__atomic_store_n(&d->fe_state, (int)st, __ATOMIC_RELEASE);
	kick(d);
}

static void set_be_state(struct p9_dev *d, int state)
{
	if (d->be_state == state)
		return;
	d->be_state = state;
	if (xs_service_write_state(d->vm, d->be, state) < 0)
		log_error("p9back %s: cannot write the backend state", d->cfg->tag);
}

/* --- rings --- */

static void unmap_ring(struct p9_dev *d, struct p9_xring *r)
{
	if (r->port)
		evtchn_unbind_backend(d->vm, r->port, on_send, d);
	r->port = 0;
	for (unsigned i = 0; i < r->nr_pages; i++)
		gnttab_unpin(d->vm, &r->pins[i]);
	if (r->data)
		munmap(r->data, r->map_len);
	if (r->intf) {
		munmap(r->intf, PAGE_SIZE);
		gnttab_unpin(d->vm, &r->intf_pin);
	}
	memset(r, 0, sizeof(*r));
	r->outq_tail = &r->outq;
}

static void drain(struct p9_dev *d);

static void disconnect(struct p9_dev *d)
{
	drain(d);
	if (d->rings)
		for (unsigned i = 0; i < P9BACK_MAX_RINGS; i++)
			unmap_ring(d, &d->rings[i]);
	d->nr_rings = 0;
	d->connected = false;
	p9_fs_reset(d->fs, 0);
}

static void dev_fatal(struct p9_dev *d, const char *why)
{
	log_guest("p9back %s: %s; device disconnected", d->cfg->tag, why);
	disconnect(d);
	set_be_state(d, XenbusStateClosing);
}

static void *map_frame(struct p9_dev *d, void *at, uint64_t mfn)
{
	void *p = mmap(at, PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (at ? MAP_FIXED : 0), d->vm->mem.memfd,
		       (off_t)(mfn << PAGE_SHIFT));

	return p == MAP_FAILED ? NULL : p;
}

/* Maps ring i: the interface page (ring-ref<i>), then the data pages it
 * names, contiguously, as a Xen backend maps them. */
static int map_ring(struct p9_dev *d, struct p9_xring *r, grant_ref_t ref,
		    char *why, size_t why_len)
{
	grant_ref_t refs[1u << P9BACK_MAX_ORDER];
	uint32_t order;

	if (gnttab_pin(d->vm, P9BACK_DOM, ref, true, &r->intf_pin)) {
		snprintf(why, why_len, "ring-ref %u: grant refused", ref);
		return -EPERM;
	}
	r->intf = map_frame(d, NULL, r->intf_pin.mfn);
	if (!r->intf) {
		gnttab_unpin(d->vm, &r->intf_pin);
		return -ENOMEM;
	}
	/* Read once; the guest may change the page at any time. */
	order = __atomic_load_n(&r->intf->ring_order, __ATOMIC_ACQUIRE);
	if (order < P9BACK_MIN_ORDER || order > P9BACK_MAX_ORDER) {
		snprintf(why, why_len, "ring_order %u (want %u to %u)", order,
			 P9BACK_MIN_ORDER, P9BACK_MAX_ORDER);
		return -EINVAL;
	}
	for (unsigned i = 0; i < (1u << order); i++)
		refs[i] = __atomic_load_n(&r->intf->ref[i], __ATOMIC_RELAXED);
	r->data = mmap(NULL, (size_t)PAGE_SIZE << order, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->data == MAP_FAILED) {
		r->data = NULL;
		return -ENOMEM;
	}
	r->map_len = (size_t)PAGE_SIZE << order;
	r->nr_pages = 0;
	for (unsigned i = 0; i < (1u << order); i++) {
		struct gnttab_pin *p = &r->pins[i];

		if (gnttab_pin(d->vm, P9BACK_DOM, refs[i], true, p)) {
			snprintf(why, why_len, "data ref %u: grant refused", refs[i]);
			return -EPERM;
		}
		r->nr_pages = i + 1;
		if (!map_frame(d, r->data + (size_t)i * PAGE_SIZE, p->mfn))
			return -ENOMEM;
	}
	r->nr_pages = 1u << order;
	r->size = XEN_FLEX_RING_SIZE(order);
	r->out_cons = __atomic_load_n(&r->intf->out_cons, __ATOMIC_ACQUIRE);
	r->in_prod = __atomic_load_n(&r->intf->in_prod, __ATOMIC_ACQUIRE);
	r->mapped = true;
	return 0;
}

struct fe_info {
	struct p9_dev *d;
	unsigned nr;
	grant_ref_t refs[P9BACK_MAX_RINGS];
	uint64_t ports[P9BACK_MAX_RINGS];
	char why[128];
};

static int xs_read_frontend(struct xenstore *xs, void *opaque)
{
	struct fe_info *fi = opaque;
	struct p9_dev *d = fi->d;
	char path[160], *ver = NULL;
	uint64_t v;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/version", d->fe);
	rc = xs_dom0_read(xs, path, &ver, &len);
	if (rc == 0 && strcmp(ver, "1"))
		rc = -EINVAL;
	free(ver);
	if (rc) {
		snprintf(fi->why, sizeof(fi->why), "missing or unsupported version");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/num-rings", d->fe);
	if (xs_dom0_read_uint(xs, path, P9BACK_MAX_RINGS, &v) || v == 0) {
		snprintf(fi->why, sizeof(fi->why), "num-rings missing, 0 or above %d",
			 P9BACK_MAX_RINGS);
		return -EINVAL;
	}
	fi->nr = (unsigned)v;
	for (unsigned i = 0; i < fi->nr; i++) {
		snprintf(path, sizeof(path), "%s/ring-ref%u", d->fe, i);
		if (xs_dom0_read_uint(xs, path, UINT32_MAX, &v)) {
			snprintf(fi->why, sizeof(fi->why), "missing or bad ring-ref%u", i);
			return -EINVAL;
		}
		fi->refs[i] = (grant_ref_t)v;
		snprintf(path, sizeof(path), "%s/event-channel-%u", d->fe, i);
		if (xs_dom0_read_uint(xs, path, XEN_NR_EVTCHN - 1, &fi->ports[i]) ||
		    fi->ports[i] == 0) {
			snprintf(fi->why, sizeof(fi->why),
				 "missing or bad event-channel-%u", i);
			return -EINVAL;
		}
	}
	return 0;
}

static int connect_rings(struct p9_dev *d)
{
	struct fe_info fi = { .d = d };
	uint32_t smallest = UINT32_MAX;
	char why[128] = "out of memory";
	int rc;

	rc = xs_service_with(d->vm, xs_read_frontend, &fi);
	if (rc < 0) {
		log_guest("p9back %s: frontend: %s", d->cfg->tag, fi.why);
		return rc;
	}
	d->nr_rings = fi.nr;
	for (unsigned i = 0; i < fi.nr; i++) {
		struct p9_xring *r = &d->rings[i];

		rc = map_ring(d, r, fi.refs[i], why, sizeof(why));
		if (rc == 0) {
			rc = evtchn_bind_backend(d->vm, (evtchn_port_t)fi.ports[i],
						 on_send, d);
			if (rc == 0)
				r->port = (evtchn_port_t)fi.ports[i];
			else
				snprintf(why, sizeof(why),
					 "event-channel-%u %" PRIu64 " is not an unbound "
					 "port for domain 0", i, fi.ports[i]);
		}
		if (rc) {
			log_guest("p9back %s: ring %u: %s", d->cfg->tag, i, why);
			disconnect(d);
			return rc;
		}
		if (r->size < smallest)
			smallest = r->size;
	}
	/* No message may be larger than a ring, or it could never pass. */
	p9_fs_reset(d->fs, smallest < P9BACK_MAX_MSIZE ? smallest : P9BACK_MAX_MSIZE);
	d->connected = true;
	return 0;
}

/* --- slots, the out-queue and the workers (all under d->lock) --- */

static void release_slot(struct p9_dev *d, struct p9_slot *s)
{
	struct p9_xring *r = s->ring;

	for (struct p9_slot **pp = &r->busy; *pp; pp = &(*pp)->busy_next)
		if (*pp == s) {
			*pp = s->busy_next;
			break;
		}
	r->inflight--;
	if (r->stalled) { /* room to take requests again */
		r->stalled = false;
		kick(d);
	}
	s->ring = NULL;
	s->next = d->free_slots;
	d->free_slots = s;
}

/* Queues a done slot's response for `in`, then the Tflushes that wait for
 * it, in that order. */
static void emit(struct p9_xring *r, struct p9_slot *s)
{
	struct p9_slot *f = s->flushes;

	s->flushes = NULL;
	s->next = NULL;
	*r->outq_tail = s;
	r->outq_tail = &s->next;
	while (f) {
		struct p9_slot *nf = f->next;

		emit(r, f);
		f = nf;
	}
}

/* Puts the out-queue's responses on `in` while they fit; *notify when
 * any went.  One thread at a time writes `in` (r->in_busy), copying
 * without the lock; the others only queue, and the writer takes what they
 * queued.  A dead ring's responses are dropped.  Called with d->lock. */
static void flush_outq(struct p9_dev *d, struct p9_xring *r, bool *notify)
{
	if (r->in_busy)
		return;
	r->in_busy = true;
	while (r->outq) {
		struct p9_slot *s = r->outq;

		if (!r->dead) {
			uint32_t cons = __atomic_load_n(&r->intf->in_cons, __ATOMIC_ACQUIRE);
			int rc;

			pthread_mutex_unlock(&d->lock);
			rc = p9_ring_put(r->data, r->size, r->in_prod, cons, s->rsp,
					 s->rsp_len);
			pthread_mutex_lock(&d->lock);
			if (rc == -EAGAIN)
				break;
			if (rc) {
				r->broken = true;
				kick(d); /* the device thread disconnects */
				break;
			}
			r->in_prod += s->rsp_len;
			__atomic_store_n(&r->intf->in_prod, r->in_prod, __ATOMIC_RELEASE);
			*notify = true;
		}
		r->outq = s->next;
		if (!r->outq)
			r->outq_tail = &r->outq;
		release_slot(d, s);
	}
	r->in_busy = false;
}

static void *worker(void *arg)
{
	struct p9_dev *d = arg;
	char name[16];

	snprintf(name, sizeof(name), "9p-%.6s-w", d->cfg->tag);
	sandbox_thread(SANDBOX_ROLE_FS, name);
	pthread_mutex_lock(&d->lock);
	while (!d->workers_stop) {
		struct p9_slot *s = d->jobs;
		struct p9_xring *r;
		evtchn_port_t port;
		bool notify = false;

		if (!s) {
			pthread_cond_wait(&d->work, &d->lock);
			continue;
		}
		d->jobs = s->next;
		if (!d->jobs)
			d->jobs_tail = &d->jobs;
		d->running++;
		pthread_mutex_unlock(&d->lock);
		s->rsp_len = p9_fs_request(d->fs, s->req, s->req_len, s->rsp, d->buf_size);
		pthread_mutex_lock(&d->lock);
		s->done = true;
		r = s->ring;
		port = r->port;
		emit(r, s);
		flush_outq(d, r, &notify);
		d->running--; /* after flush_outq, which may be writing the ring */
		if (d->running == 0)
			pthread_cond_broadcast(&d->idle);
		pthread_mutex_unlock(&d->lock);
		if (notify)
			evtchn_notify_guest(d->vm, port);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Before the rings go: drops the requests no worker started, waits for
 * the running ones, drops every response not yet on `in`. */
static void drain(struct p9_dev *d)
{
	bool notify;

	if (!d->slots)
		return;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; d->rings && i < P9BACK_MAX_RINGS; i++)
		d->rings[i].dead = true;
	while (d->jobs) {
		struct p9_slot *s = d->jobs;

		d->jobs = s->next;
		emit(s->ring, s); /* dead: dropped with its Tflushes */
	}
	d->jobs_tail = &d->jobs;
	while (d->running)
		pthread_cond_wait(&d->idle, &d->lock);
	for (unsigned i = 0; d->rings && i < P9BACK_MAX_RINGS; i++)
		flush_outq(d, &d->rings[i], &notify);
	pthread_mutex_unlock(&d->lock);
}

/* A Tflush (answered here: nothing to abort) goes after the response of
 * the request it names while that is unanswered, else at once. */
static void take_flush(struct p9_dev *d, struct p9_xring *r, struct p9_slot *s)
{
	uint16_t oldtag = s->req_len >= P9_HDR_SIZE + 2
				  ? (uint16_t)(s->req[7] | s->req[8] << 8) : P9_NOTAG;
	struct p9_slot *t = r->busy;

	s->rsp_len = p9_fs_request(d->fs, s->req, s->req_len, s->rsp, d->buf_size);
	s->done = true;
	while (t && (t == s || t->done || t->tag != oldtag))
		t = t->busy_next;
	if (t && s->rsp[4] == P9_RFLUSH) {
		s->next = t->flushes; /* answered after t's, newest first */
		t->flushes = s;
	} else {
		emit(r, s);
	}
}

/* Takes one request off `out` into a free slot and hands it on: 1 taken,
 * 0 nothing to take or no room to take it, <0 a protocol violation. */
static int take_one(struct p9_dev *d, struct p9_xring *r)
{
	struct p9_slot *s;
	uint32_t prod, len = 0;
	int rc;

	if (r->inflight >= P9BACK_RING_INFLIGHT || !d->free_slots) {
		r->stalled = true;
		return 0;
	}
	s = d->free_slots;
	d->free_slots = s->next;
	/* `out` is the device thread's: copy without holding the lock. */
	pthread_mutex_unlock(&d->lock);
	prod = __atomic_load_n(&r->intf->out_prod, __ATOMIC_ACQUIRE);
	rc = p9_ring_take(r->data + r->size, r->size, r->out_cons, prod,
			  p9_fs_msize(d->fs), s->req, d->buf_size, &len);
	pthread_mutex_lock(&d->lock);
	if (rc <= 0) {
		s->next = d->free_slots;
		d->free_slots = s;
		return rc;
	}
	r->out_cons += len;
	__atomic_store_n(&r->intf->out_cons, r->out_cons, __ATOMIC_RELEASE);
	s->ring = r;
	s->req_len = len;
	s->tag = (uint16_t)(s->req[5] | s->req[6] << 8);
	s->done = false;
	s->flushes = NULL;
	s->next = NULL;
	s->busy_next = r->busy;
	r->busy = s;
	r->inflight++;
	if (s->req[4] == P9_TFLUSH) {
		take_flush(d, r, s);
	} else {
		*d->jobs_tail = s;
		d->jobs_tail = &s->next;
		pthread_cond_signal(&d->work);
	}
	return 1;
}

static void serve_ring(struct p9_dev *d, struct p9_xring *r)
{
	bool notify = false, broken;
	unsigned budget;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	flush_outq(d, r, &notify);
	for (budget = P9BACK_BUDGET; budget; budget--) {
		rc = take_one(d, r);
		if (rc <= 0)
			break;
	}
	if (!budget)
		kick(d); /* bounded work per wakeup: come back */
	flush_outq(d, r, &notify);
	broken = r->broken;
	pthread_mutex_unlock(&d->lock);
	if (notify)
		evtchn_notify_guest(d->vm, r->port);
	if (broken)
		dev_fatal(d, "ring indexes more than a ring apart");
	else if (rc == -EPROTO)
		dev_fatal(d, "ring indexes more than a ring apart");
	else if (rc == -EMSGSIZE)
		dev_fatal(d, "a message size below the 9P header or above msize");
}

static void handle_state(struct p9_dev *d)
{
	int fe = __atomic_load_n(&d->fe_state, __ATOMIC_ACQUIRE);

	switch (fe) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (d->be_state != XenbusStateInitWait || d->connected)
			break;
		set_be_state(d, connect_rings(d) == 0 ? XenbusStateConnected
						      : XenbusStateClosing);
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
		if (d->connected || d->be_state != XenbusStateInitWait) {
			disconnect(d);
			set_be_state(d, XenbusStateInitWait);
		}
		break;
	default:
		break;
	}
}

/* A response waits for room on `in`: poll for it. */
static bool any_waiting(struct p9_dev *d)
{
	bool waiting = false;

	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; d->connected && i < d->nr_rings; i++)
		waiting |= d->rings[i].outq != NULL;
	pthread_mutex_unlock(&d->lock);
	return waiting;
}

static void *dev_thread(void *arg)
{
	struct p9_dev *d = arg;
	char name[8 + VM_SHARE_TAG_MAX];

	snprintf(name, sizeof(name), "9p-%s", d->cfg->tag);
	sandbox_thread(SANDBOX_ROLE_FS, name);
	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = { .fd = d->efd, .events = POLLIN };
		uint64_t n;

		if (poll(&pfd, 1, any_waiting(d) ? P9BACK_POLL_MS : -1) < 0 &&
		    errno != EINTR) {
			log_error("p9back %s: poll: %s", d->cfg->tag, strerror(errno));
			break;
		}
		if ((pfd.revents & POLLIN) && read(d->efd, &n, sizeof(n)) < 0)
			log_debug("p9back: eventfd read: %s", strerror(errno));
		handle_state(d);
		for (unsigned i = 0; d->connected && i < d->nr_rings; i++)
			serve_ring(d, &d->rings[i]);
	}
	disconnect(d);
	return NULL;
}

/* --- setup --- */

/* The frontend's directory (at set-up and on a reboot's reattach); Linux's
 * 9pnet_xen reads the tag there. */
static int xs_write_fe(struct xenstore *xs, void *opaque)
{
	struct p9_dev *d = opaque;
	const struct xs_node_value tag = { "tag", d->cfg->tag };

	return xs_write_frontend(xs, d->fe, d->be, &tag, 1);
}

static int xs_setup_dev(struct xenstore *xs, void *opaque)
{
	struct p9_dev *d = opaque;
	const struct xs_perm be_perms[] = { { 0, XS_PERM_NONE },
					    { XS_GUEST_DOMID, XS_PERM_READ } };
	int rc;

	d->xs = xs;
	rc = xs_dom0_mkdir(xs, d->be);
	if (!rc)
		rc = xs_dom0_set_perms(xs, d->be, be_perms, 2);
	xs_dom0_printf_under(xs, &rc, d->be, "frontend", "%s", d->fe);
	xs_dom0_printf_under(xs, &rc, d->be, "frontend-id", "%d", XS_GUEST_DOMID);
	xs_dom0_printf_under(xs, &rc, d->be, "online", "%d", 1);
	xs_dom0_printf_under(xs, &rc, d->be, "versions", "%s", "1");
	xs_dom0_printf_under(xs, &rc, d->be, "max-rings", "%d", P9BACK_MAX_RINGS);
	xs_dom0_printf_under(xs, &rc, d->be, "max-ring-page-order", "%d", P9BACK_MAX_ORDER);
	xs_dom0_printf_under(xs, &rc, d->be, "path", "%s", d->cfg->path);
	xs_dom0_printf_under(xs, &rc, d->be, "tag", "%s", d->cfg->tag);
	xs_dom0_printf_under(xs, &rc, d->be, "security_model", "%s", d->cfg->security_model);
	xs_dom0_printf_under(xs, &rc, d->be, "mode", "%s", d->cfg->ro ? "r" : "w");
	xs_dom0_printf_under(xs, &rc, d->be, "state", "%d", XenbusStateInitWait);
	if (!rc)
		rc = xs_write_fe(xs, d);
	d->be_state = XenbusStateInitWait;
	if (!rc) {
		rc = xs_dom0_watch(xs, d->fe_state_path, d->cfg->tag, on_fe_state, d);
		d->watching = rc == 0;
	}
	return rc;
}

static int xs_unwatch_dev(struct xenstore *xs, void *opaque)
{
	struct p9_dev *d = opaque;

	return xs_dom0_unwatch(xs, d->fe_state_path, d->cfg->tag);
}

/* The slots and their buffers (malloc maps them; untouched pages cost
 * nothing), the lock and the conditions. */
static int init_slots(struct p9_dev *d)
{
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->work, NULL);
	pthread_cond_init(&d->idle, NULL);
	d->jobs_tail = &d->jobs;
	d->slots = calloc(P9BACK_SLOTS, sizeof(*d->slots));
	if (!d->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < P9BACK_SLOTS; i++) {
		struct p9_slot *s = &d->slots[i];

		s->req = malloc(d->buf_size);
		s->rsp = malloc(d->buf_size);
		if (!s->req || !s->rsp)
			return -ENOMEM;
		s->next = d->free_slots;
		d->free_slots = s;
	}
	return 0;
}

static void stop_workers(struct p9_dev *d)
{
	if (!d->slots)
		return;
	pthread_mutex_lock(&d->lock);
	d->workers_stop = true;
	pthread_cond_broadcast(&d->work);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nr_workers; i++)
		pthread_join(d->workers[i], NULL);
	for (unsigned i = 0; i < P9BACK_SLOTS; i++) {
		free(d->slots[i].req);
		free(d->slots[i].rsp);
	}
	free(d->slots);
	pthread_cond_destroy(&d->work);
	pthread_cond_destroy(&d->idle);
	pthread_mutex_destroy(&d->lock);
}

static int dev_init(struct vm *vm, struct p9_dev *d, unsigned devid,
		    const struct vm_share *cfg, char *err, size_t err_len)
{
	struct p9_fs_config fc = { .root = cfg->path, .ro = cfg->ro,
				   .sm = strcmp(cfg->security_model, "mapped-xattr")
						 ? P9_SM_PASSTHROUGH : P9_SM_MAPPED_XATTR,
				   .max_msize = P9BACK_MAX_MSIZE };
	int rc;

	d->vm = vm;
	d->cfg = cfg;
	d->devid = devid;
	d->efd = -1;
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/9pfs/%d/%u",
		 XS_GUEST_DOMID, devid);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%d/device/9pfs/%u",
		 XS_GUEST_DOMID, devid);
	snprintf(d->fe_state_path, sizeof(d->fe_state_path), "%s/state", d->fe);
	rc = p9_fs_open(&fc, &d->fs, err, err_len);
	if (rc < 0)
		return rc;
	d->buf_size = P9BACK_MAX_MSIZE;
	d->rings = calloc(P9BACK_MAX_RINGS, sizeof(*d->rings));
	if (!d->rings || init_slots(d)) {
		snprintf(err, err_len, "share %s: out of memory", cfg->path);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < P9BACK_MAX_RINGS; i++)
		d->rings[i].outq_tail = &d->rings[i].outq;
	d->efd = eventfd(0, EFD_CLOEXEC);
	if (d->efd < 0) {
		rc = -errno;
		snprintf(err, err_len, "share %s: eventfd: %s", cfg->path,
			 strerror(errno));
		return rc;
	}
	rc = xs_service_with(vm, xs_setup_dev, d);
	if (rc < 0) {
		snprintf(err, err_len, "share %s: xenstore: %s", cfg->path,
			 strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < P9BACK_WORKERS; i++) {
		rc = pthread_create(&d->workers[i], NULL, worker, d);
		if (rc) {
			snprintf(err, err_len, "share %s: thread: %s", cfg->path,
				 strerror(rc));
			return -rc;
		}
		d->nr_workers = i + 1;
	}
	rc = pthread_create(&d->thread, NULL, dev_thread, d);
	if (rc) {
		snprintf(err, err_len, "share %s: thread: %s", cfg->path, strerror(rc));
		return -rc;
	}
	d->started = true;
	return 0;
}

/* Each fid holds one or two descriptors: lift the soft limit to the hard
 * one so that a busy guest meets the fid bound before the fd limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_debug("p9back: RLIMIT_NOFILE: %s", strerror(errno));
	}
}

int p9back_init(struct vm *vm, char *err, size_t err_len)
{
	struct p9back *pb;
	int rc;

	if (!vm->cfg->nr_shares)
		return 0;
	pb = calloc(1, sizeof(*pb));
	if (!pb) {
		snprintf(err, err_len, "p9back: out of memory");
		return -ENOMEM;
	}
	vm->p9back = pb;
	raise_nofile();
	for (unsigned i = 0; i < vm->cfg->nr_shares && i < VM_MAX_SHARES; i++) {
		pb->nr = i + 1;
		rc = dev_init(vm, &pb->dev[i], i, &vm->cfg->shares[i], err, err_len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int p9back_reattach(struct vm *vm, char *err, size_t err_len)
{
	struct p9back *pb = vm->p9back;

	for (unsigned i = 0; pb && i < pb->nr; i++) {
		int rc = xs_service_with(vm, xs_write_fe, &pb->dev[i]);

		if (rc < 0) {
			snprintf(err, err_len, "share %s: xenstore: %s", pb->dev[i].cfg->tag,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void p9back_destroy(struct vm *vm)
{
	struct p9back *pb = vm->p9back;

	if (!pb)
		return;
	for (unsigned i = 0; i < pb->nr; i++) {
		struct p9_dev *d = &pb->dev[i];

		if (d->watching && xs_service_with(vm, xs_unwatch_dev, d) < 0)
			log_debug("p9back %s: unwatch failed", d->cfg->tag);
		if (d->started) {
			__atomic_store_n(&d->stop, true, __ATOMIC_RELEASE);
			kick(d);
			pthread_join(d->thread, NULL);
		}
		stop_workers(d);
		if (d->efd >= 0)
			close(d->efd);
		p9_fs_close(d->fs);
		free(d->rings);
	}
	vm->p9back = NULL;
	free(pb);
}
