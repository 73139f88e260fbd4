/*
 * The secondary console backend (see vconsole.h).
 *
 * Xenstore, as libxl lays out a PV domain's second console and as Linux's
 * hvc_xen (xencons_probe/connect_backend) uses it: the frontend grants its
 * xencons_interface page to domain 0, allocates an unbound port for it,
 * writes `ring-ref` and `port` and goes Initialised; the backend maps the
 * grant, binds the port and goes Connected, and the frontend follows.
 * Closing or Closed from the frontend disconnects; Initialising again
 * (a driver reload, a resume) waits for a new connection.
 *
 * Threads: the vCPU thread runs on_send() (the guest notified the port):
 * it drains the ring to the output under c->lock.  The frontend-state
 * watch runs inside the store, so it only records the state and wakes the
 * event thread, whose vconsole_poll() reads the frontend's nodes, maps and
 * binds, and writes the backend state.  Lock order: c->lock, then the
 * domain's (evtchn_* take it).
 */
#include "services/console/vconsole.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/vm.h"
#include "services/console/xencons_ring.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/events.h"
#include "xen/grant.h"

#include <xen/io/xenbus.h>

#define VCONS_DEVID 1 /* device/console/1: Linux's /dev/hvc1 */
#define VCONS_DOM 0   /* pvisor's backends are domain 0 */

struct vconsole {
	struct vm *vm;
	struct xenstore *xs;       /* for the watch's own read */
	char be[96], fe[96], fe_state_path[112];
	int out_fd;
	bool watching;
	int fe_state;              /* atomic: the watch's last reading */
	bool dirty;                /* atomic: vconsole_poll has work */
	int be_state;              /* event thread */
	pthread_mutex_t lock;      /* the connection: */
	bool connected;
	struct gnttab_pin pin;
	evtchn_port_t port;
};

/* Drains the ring to the output; caller holds c->lock and is connected. */
static void drain_locked(struct vconsole *c)
{
	char buf[XENCONS_OUT_SIZE];
	struct xencons_skew skew;
	size_t n = xencons_take_output((struct xencons_interface *)c->pin.page, buf, &skew);

	if (skew.broken)
		log_guest("console %d: out_prod %u runs past out_cons %u", VCONS_DEVID,
			  skew.prod, skew.cons);
	if (n) {
		xencons_write_all(c->out_fd, buf, n);
		/* Ring space freed: the frontend may wait for it. */
		evtchn_notify_guest(c->vm, c->port);
	}
}

/* The guest notified the port (its vCPU thread). */
static void on_send(void *opaque)
{
	struct vconsole *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (c->connected)
		drain_locked(c);
	pthread_mutex_unlock(&c->lock);
}

static void on_fe_state(void *opaque, const char *path, const char *token)
{
	struct vconsole *c = opaque;
	uint64_t st;

	if (xs_dom0_read_uint(c->xs, c->fe_state_path, XenbusStateReconfigured, &st))
		st = XenbusStateUnknown;
	__atomic_store_n(&c->fe_state, (int)st, __ATOMIC_RELEASE);
	__atomic_store_n(&c->dirty, true, __ATOMIC_RELEASE);
	evloop_wake(c->vm);
}

static void set_be_state(struct vconsole *c, int state)
{
	if (c->be_state == state)
		return;
	c->be_state = state;
	if (xs_service_write_state(c->vm, c->be, state) < 0)
		log_error("console %d: cannot write the backend state", VCONS_DEVID);
}

/* What the frontend published. */
struct fe_ring {
	struct vconsole *c;
	uint64_t ref, port;
};

static int xs_read_ring(struct xenstore *xs, void *opaque)
{
	struct fe_ring *f = opaque;
	char path[140];

	snprintf(path, sizeof(path), "%s/ring-ref", f->c->fe);
	if (xs_dom0_read_uint(xs, path, UINT32_MAX, &f->ref))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/port", f->c->fe);
	if (xs_dom0_read_uint(xs, path, XEN_NR_EVTCHN - 1, &f->port))
		return -ENOENT;
	return 0;
}

/* Maps the frontend's ring and binds its port; 0, or -errno (said why). */
static int connect_ring(struct vconsole *c)
{
	struct fe_ring f = { .c = c };
	int rc = xs_service_with(c->vm, xs_read_ring, &f);

	if (rc < 0) {
		log_guest("console %d: no usable ring-ref and port from the frontend",
			  VCONS_DEVID);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	if (gnttab_pin(c->vm, VCONS_DOM, (grant_ref_t)f.ref, true, &c->pin)) {
		log_guest("console %d: ring-ref %" PRIu64 ": grant refused", VCONS_DEVID,
			  f.ref);
		rc = -EPERM;
	} else if (evtchn_bind_backend(c->vm, (evtchn_port_t)f.port, on_send, c)) {
		log_guest("console %d: port %" PRIu64 " is not an unbound port for "
			  "domain 0", VCONS_DEVID, f.port);
		gnttab_unpin(c->vm, &c->pin);
		rc = -EINVAL;
	} else {
		c->port = (evtchn_port_t)f.port;
		c->connected = true;
		drain_locked(c); /* what it wrote before we were there */
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void disconnect(struct vconsole *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->connected) {
		drain_locked(c);
		evtchn_unbind_backend(c->vm, c->port, on_send, c);
		gnttab_unpin(c->vm, &c->pin);
		c->connected = false;
		c->port = 0;
	}
	pthread_mutex_unlock(&c->lock);
}

void vconsole_poll(struct vm *vm)
{
	struct vconsole *c = vm->vconsole;

	if (!c || !__atomic_exchange_n(&c->dirty, false, __ATOMIC_ACQ_REL))
		return;
	switch (__atomic_load_n(&c->fe_state, __ATOMIC_ACQUIRE)) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (c->be_state == XenbusStateInitWait)
			set_be_state(c, connect_ring(c) ? XenbusStateClosing
							: XenbusStateConnected);
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
		disconnect(c);
		set_be_state(c, XenbusStateClosed);
		break;
	default: /* Initialising, Unknown, gone: wait for a new connection */
		disconnect(c);
		set_be_state(c, XenbusStateInitWait);
		break;
	}
}

/* The frontend's directory (at set-up and on a reboot's reattach). */
static int xs_write_fe(struct xenstore *xs, void *opaque)
{
	struct vconsole *c = opaque;
	const struct xs_node_value nodes[] = {
		{ "name", "stderr" }, /* libxl's `name` of a channel */
		{ "type", "xenconsoled" },
	};

	return xs_write_frontend(xs, c->fe, c->be, nodes, 2);
}

static int xs_setup(struct xenstore *xs, void *opaque)
{
	struct vconsole *c = opaque;
	const struct xs_perm be_perms[] = { { 0, XS_PERM_NONE },
					    { XS_GUEST_DOMID, XS_PERM_READ } };
	int rc;

	c->xs = xs;
	rc = xs_dom0_mkdir(xs, c->be);
	if (!rc)
		rc = xs_dom0_set_perms(xs, c->be, be_perms, 2);
	xs_dom0_printf_under(xs, &rc, c->be, "frontend", "%s", c->fe);
	xs_dom0_printf_under(xs, &rc, c->be, "frontend-id", "%d", XS_GUEST_DOMID);
	xs_dom0_printf_under(xs, &rc, c->be, "online", "%d", 1);
	xs_dom0_printf_under(xs, &rc, c->be, "protocol", "%s", "vt100");
	xs_dom0_printf_under(xs, &rc, c->be, "state", "%d", XenbusStateInitWait);
	if (!rc)
		rc = xs_write_fe(xs, c);
	c->be_state = XenbusStateInitWait;
	if (!rc) {
		rc = xs_dom0_watch(xs, c->fe_state_path, "console2", on_fe_state, c);
		c->watching = rc == 0;
	}
	return rc;
}

static int xs_unwatch(struct xenstore *xs, void *opaque)
{
	struct vconsole *c = opaque;

	return xs_dom0_unwatch(xs, c->fe_state_path, "console2");
}

int vconsole_init(struct vm *vm, char *err, size_t err_len)
{
	struct vconsole *c;
	int rc;

	if (!vm->cfg->console2)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_len, "console 1: out of memory");
		return -ENOMEM;
	}
	c->vm = vm;
	c->out_fd = STDERR_FILENO;
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->be, sizeof(c->be), "/local/domain/0/backend/console/%d/%d",
		 XS_GUEST_DOMID, VCONS_DEVID);
	snprintf(c->fe, sizeof(c->fe), "/local/domain/%d/device/console/%d",
		 XS_GUEST_DOMID, VCONS_DEVID);
	snprintf(c->fe_state_path, sizeof(c->fe_state_path), "%s/state", c->fe);
	vm->vconsole = c;
	rc = xs_service_with(vm, xs_setup, c);
	if (rc < 0)
		snprintf(err, err_len, "console 1: cannot create its xenstore nodes: %s",
			 strerror(-rc));
	return rc;
}

int vconsole_reattach(struct vm *vm, char *err, size_t err_len)
{
	int rc = vm->vconsole ? xs_service_with(vm, xs_write_fe, vm->vconsole) : 0;

	if (rc < 0)
		snprintf(err, err_len, "console 1: xenstore: %s", strerror(-rc));
	return rc;
}

void vconsole_destroy(struct vm *vm)
{
	struct vconsole *c = vm->vconsole;

	if (!c)
		return;
	if (c->watching && xs_service_with(vm, xs_unwatch, c) < 0)
		log_debug("console 1: unwatch failed");
	disconnect(c);
	vm->vconsole = NULL;
	pthread_mutex_destroy(&c->lock);
	free(c);
}
