/*
 * The 9pfs backend (see p9back.h and docs/9pfs.md).
 *
 * Threads: as blkback.  The vCPU thread only runs on_send() (an eventfd
 * write) and the frontend-state watch; the device thread does the
 * XenbusState handshake, maps the rings through grant pins, and serves
 * them: one request at a time per ring, taken whole off `out` by
 * p9_ring_take(), answered by the file server, its response put on `in`.
 * A response that does not fit yet waits in the ring's buffer (the only
 * request in flight on that ring) and the thread polls for room, since a
 * frontend need not notify when it consumes.
 */
#include "services/p9back/p9back.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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
	uint8_t *rsp;        /* a response waiting for room on `in` */
	uint32_t pending;
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

	/* Device thread only from here on. */
	int be_state;
	bool connected;
	unsigned nr_rings;
	struct p9_xring *rings;  /* P9BACK_MAX_RINGS */
	uint8_t *req;            /* the request being served */
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
	free(r->rsp);
	memset(r, 0, sizeof(*r));
}

static void disconnect(struct p9_dev *d)
{
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
	r->rsp = malloc(d->buf_size);
	if (!r->rsp)
		return -ENOMEM;
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

/* Puts the ring's waiting response on `in`: 1 done, 0 no room yet, <0 fatal. */
static int flush_response(struct p9_dev *d, struct p9_xring *r, bool *notify)
{
	uint32_t cons = __atomic_load_n(&r->intf->in_cons, __ATOMIC_ACQUIRE);
	int rc;

	if (!r->pending)
		return 1;
	rc = p9_ring_put(r->data, r->size, r->in_prod, cons, r->rsp, r->pending);
	if (rc == -EAGAIN)
		return 0;
	if (rc)
		return rc;
	r->in_prod += r->pending;
	r->pending = 0;
	__atomic_store_n(&r->intf->in_prod, r->in_prod, __ATOMIC_RELEASE);
	*notify = true;
	return 1;
}

static void serve_ring(struct p9_dev *d, struct p9_xring *r)
{
	bool notify = false;
	int rc = 0;

	for (unsigned budget = P9BACK_BUDGET; budget; budget--) {
		uint32_t prod, len = 0;

		rc = flush_response(d, r, &notify);
		if (rc <= 0)
			break;
		prod = __atomic_load_n(&r->intf->out_prod, __ATOMIC_ACQUIRE);
		rc = p9_ring_take(r->data + r->size, r->size, r->out_cons, prod,
				  p9_fs_msize(d->fs), d->req, d->buf_size, &len);
		if (rc <= 0)
			break;
		r->out_cons += len;
		__atomic_store_n(&r->intf->out_cons, r->out_cons, __ATOMIC_RELEASE);
		r->pending = p9_fs_request(d->fs, d->req, len, r->rsp, d->buf_size);
		if (budget == 1)
			kick(d); /* bounded work per wakeup: come back */
	}
	if (rc == 1)
		rc = flush_response(d, r, &notify);
	if (notify)
		evtchn_notify_guest(d->vm, r->port);
	if (rc == -EPROTO)
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

static bool any_pending(struct p9_dev *d)
{
	for (unsigned i = 0; d->connected && i < d->nr_rings; i++)
		if (d->rings[i].pending)
			return true;
	return false;
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

		if (poll(&pfd, 1, any_pending(d) ? P9BACK_POLL_MS : -1) < 0 &&
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

static int xs_setup_dev(struct xenstore *xs, void *opaque)
{
	struct p9_dev *d = opaque;
	const struct xs_perm be_perms[] = { { 0, XS_PERM_NONE },
					    { XS_GUEST_DOMID, XS_PERM_READ } };
	const struct xs_perm fe_perms[] = { { XS_GUEST_DOMID, XS_PERM_NONE },
					    { 0, XS_PERM_READ } };
	char path[160];
	int rc;

	d->xs = xs;
#define NODE(dir, key, fmt, ...)                                           \
	do {                                                               \
		if (!rc) {                                                 \
			snprintf(path, sizeof(path), "%s/" key, (dir));    \
			rc = xs_dom0_printf(xs, path, fmt, __VA_ARGS__);   \
		}                                                          \
	} while (0)
	rc = xs_dom0_mkdir(xs, d->be);
	if (!rc)
		rc = xs_dom0_set_perms(xs, d->be, be_perms, 2);
	NODE(d->be, "frontend", "%s", d->fe);
	NODE(d->be, "frontend-id", "%d", XS_GUEST_DOMID);
	NODE(d->be, "online", "%d", 1);
	NODE(d->be, "versions", "%s", "1");
	NODE(d->be, "max-rings", "%d", P9BACK_MAX_RINGS);
	NODE(d->be, "max-ring-page-order", "%d", P9BACK_MAX_ORDER);
	NODE(d->be, "path", "%s", d->cfg->path);
	NODE(d->be, "tag", "%s", d->cfg->tag);
	NODE(d->be, "security_model", "%s", d->cfg->security_model);
	NODE(d->be, "mode", "%s", d->cfg->ro ? "r" : "w");
	NODE(d->be, "state", "%d", XenbusStateInitWait);
	if (!rc)
		rc = xs_dom0_mkdir(xs, d->fe);
	if (!rc)
		rc = xs_dom0_set_perms(xs, d->fe, fe_perms, 2);
	NODE(d->fe, "backend", "%s", d->be);
	NODE(d->fe, "backend-id", "%d", 0);
	NODE(d->fe, "tag", "%s", d->cfg->tag); /* Linux's 9pnet_xen reads it here */
	NODE(d->fe, "state", "%d", XenbusStateInitialising);
#undef NODE
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

static int dev_init(struct vm *vm, struct p9_dev *d, unsigned devid,
		    const struct vm_share *cfg, char *err, size_t err_len)
{
	struct p9_fs_config fc = { .root = cfg->path, .ro = cfg->ro,
				   .sm = P9_SM_PASSTHROUGH,
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
	d->req = malloc(d->buf_size);
	d->rings = calloc(P9BACK_MAX_RINGS, sizeof(*d->rings));
	if (!d->req || !d->rings) {
		snprintf(err, err_len, "share %s: out of memory", cfg->path);
		return -ENOMEM;
	}
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
		if (d->efd >= 0)
			close(d->efd);
		p9_fs_close(d->fs);
		free(d->req);
		free(d->rings);
	}
	vm->p9back = NULL;
	free(pb);
}
