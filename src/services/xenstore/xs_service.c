/* xenstore wired to the guest's store ring (see xs_service.h). */
#include "services/xenstore/xs_service.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/vm.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_socket.h"
#include "xen/events.h"

#include <xen/io/xenbus.h>

struct xs_service {
	struct vm *vm;
	pthread_mutex_t lock;
	struct xenstore *xs;
	struct xs_conn *conn;
	struct xs_socket *sock; /* --xenstore-socket; NULL: none */
	bool kicked; /* output queued outside the guest's requests */
};

static struct xenstore_domain_interface *store_ring(struct vm *vm)
{
	return gmem_ptr(&vm->mem, vm->xen.store_mfn << PAGE_SHIFT,
			sizeof(struct xenstore_domain_interface));
}

/* Serves the ring; caller holds s->lock. */
static void serve(struct xs_service *s)
{
	struct xenstore_domain_interface *ring;

	if (!s->conn || !(ring = store_ring(s->vm)))
		return;
	s->kicked = false;
	if (xs_ring_process(s->xs, s->conn, ring) > 0)
		evtchn_notify_guest(s->vm, s->vm->xen.store_port);
}

/* The guest notified the store channel (runs on its vCPU thread). */
static void on_guest_send(void *opaque)
{
	struct xs_service *s = opaque;

	pthread_mutex_lock(&s->lock);
	serve(s);
	pthread_mutex_unlock(&s->lock);
}

/* Called by the store when output was queued outside the guest's own
 * requests; our s->lock may be held (xs_service_with), so defer to the
 * event thread. */
static void on_kick(void *opaque)
{
	struct xs_service *s = opaque;

	__atomic_store_n(&s->kicked, true, __ATOMIC_RELEASE);
	evloop_wake(s->vm);
}

void xs_service_poll(struct vm *vm)
{
	struct xs_service *s = vm->xenstore;

	if (!s || !__atomic_load_n(&s->kicked, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&s->lock);
	serve(s);
	pthread_mutex_unlock(&s->lock);
}

/* What libxl writes for a new domain (xs_domain_setup). */
static struct xs_domain_info domain_info(const struct vm *vm)
{
	return (struct xs_domain_info){
		.name = "pvisor-guest",
		.target_kb = (vm->mem.nr_ram_frames * PAGE_SIZE) >> 10,
		.vcpus = vm->cfg->nr_vcpus ? vm->cfg->nr_vcpus : 1,
	};
}

int xs_service_init(struct vm *vm)
{
	struct xs_service *s = calloc(1, sizeof(*s));
	struct xs_domain_info info = domain_info(vm);
	struct evtchn *ch;
	int rc;

	if (!s)
		return -ENOMEM;
	s->vm = vm;
	pthread_mutex_init(&s->lock, NULL);
	s->xs = xs_new();
	if (!s->xs) {
		free(s);
		return -ENOMEM;
	}
	rc = xs_domain_setup(s->xs, XS_GUEST_DOMID, &info);
	if (rc < 0) {
		xs_free(s->xs);
		free(s);
		return rc;
	}
	/* The store channel was allocated by vm_create with no service. */
	pthread_mutex_lock(&vm->xen.lock);
	ch = &vm->xen.evtchn[vm->xen.store_port];
	ch->on_send = on_guest_send;
	ch->opaque = s;
	pthread_mutex_unlock(&vm->xen.lock);
	vm->xenstore = s;
	return 0;
}

/*
 * The console as libxl describes it to xenconsoled: the same ring and event
 * channel as start_info, so a guest may find its console through xenstore
 * too (/local/domain/1/console/ring-ref, port, ...).  Caller holds s->lock.
 */
static int publish_console(struct xs_service *s)
{
	const struct vm *vm = s->vm;
	const char *dir = "/local/domain/1/console";
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "%s/ring-ref", dir);
	rc = xs_dom0_printf(s->xs, path, "%llu",
			    (unsigned long long)vm->xen.console_mfn);
	snprintf(path, sizeof(path), "%s/port", dir);
	if (!rc)
		rc = xs_dom0_printf(s->xs, path, "%u", vm->xen.console_port);
	snprintf(path, sizeof(path), "%s/limit", dir);
	if (!rc)
		rc = xs_dom0_printf(s->xs, path, "%u", 1048576);
	snprintf(path, sizeof(path), "%s/type", dir);
	if (!rc)
		rc = xs_dom0_printf(s->xs, path, "xenconsoled");
	snprintf(path, sizeof(path), "%s/output", dir);
	if (!rc)
		rc = xs_dom0_printf(s->xs, path, "pty");
	return rc;
}

int xs_service_connect(struct vm *vm)
{
	struct xs_service *s = vm->xenstore;
	struct xenstore_domain_interface *ring = store_ring(vm);
	int rc;

	if (!s || !ring)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	xs_ring_init(ring);
	s->conn = xs_conn_new(s->xs, XS_GUEST_DOMID, on_kick, s);
	rc = s->conn ? publish_console(s) : -ENOMEM;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int xs_service_reset(struct vm *vm)
{
	struct xs_service *s = vm->xenstore;
	struct xs_domain_info info = domain_info(vm);
	char dir[32];
	int rc;

	if (!s)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "/local/domain/%d", XS_GUEST_DOMID);
	pthread_mutex_lock(&s->lock);
	/* libxl's domain destroy: the guest's connection (watches,
	 * transactions; @releaseDomain fires), then its directory, whose
	 * removal fires the backends' watches on their frontends. */
	xs_conn_free(s->conn);
	s->conn = NULL;
	rc = xs_dom0_rm(s->xs, dir);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = xs_domain_setup(s->xs, XS_GUEST_DOMID, &info);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int xs_service_listen(struct vm *vm, const char *path, char *err, size_t err_len)
{
	struct xs_service *s = vm->xenstore;

	if (!s || s->sock) {
		snprintf(err, err_len, "xenstore socket: no store to serve");
		return -EINVAL;
	}
	s->sock = xs_socket_open(s->xs, path, err, err_len);
	if (!s->sock)
		return -EINVAL;
	log_info("xenstore: serving xenstored's socket at %s (XENSTORED_PATH=%s)", path,
		 path);
	return 0;
}

struct xs_socket *xs_service_socket(struct vm *vm)
{
	struct xs_service *s = vm->xenstore;

	return s ? s->sock : NULL;
}

int xs_service_with(struct vm *vm, int (*fn)(struct xenstore *, void *),
		    void *opaque)
{
	struct xs_service *s = vm->xenstore;
	int rc;

	if (!s)
		return -ENODEV;
	pthread_mutex_lock(&s->lock);
	rc = fn(s->xs, opaque);
	serve(s);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct state_write {
	const char *dir;
	int state;
};

static int write_state(struct xenstore *xs, void *opaque)
{
	const struct state_write *w = opaque;
	char path[256];

	snprintf(path, sizeof(path), "%s/state", w->dir);
	return xs_dom0_printf(xs, path, "%d", w->state);
}

int xs_service_write_state(struct vm *vm, const char *dir, int state)
{
	struct state_write w = { dir, state };

	return xs_service_with(vm, write_state, &w);
}

/* One frontend node, owned by the guest like its directory. */
static int write_fe_node(struct xenstore *xs, const char *fe, const char *key,
			 const char *value)
{
	const struct xs_perm perms[] = { { XS_GUEST_DOMID, XS_PERM_NONE },
					 { 0, XS_PERM_READ } };
	char path[256];
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", fe, key) >= sizeof(path))
		return -ENAMETOOLONG;
	rc = xs_dom0_write(xs, path, value, strlen(value));
	return rc ? rc : xs_dom0_set_perms(xs, path, perms, 2);
}

int xs_write_frontend(struct xenstore *xs, const char *fe, const char *be,
		      const struct xs_node_value *nodes, size_t n)
{
	const struct xs_perm perms[] = { { XS_GUEST_DOMID, XS_PERM_NONE },
					 { 0, XS_PERM_READ } };
	char state[4];
	int rc = xs_dom0_mkdir(xs, fe);

	if (!rc)
		rc = xs_dom0_set_perms(xs, fe, perms, 2);
	if (!rc)
		rc = write_fe_node(xs, fe, "backend", be);
	if (!rc)
		rc = write_fe_node(xs, fe, "backend-id", "0");
	for (size_t i = 0; !rc && i < n; i++)
		rc = write_fe_node(xs, fe, nodes[i].key, nodes[i].value);
	snprintf(state, sizeof(state), "%d", XenbusStateInitialising);
	return rc ? rc : write_fe_node(xs, fe, "state", state);
}

int xs_service_exit_status(struct vm *vm)
{
	struct xs_service *s = vm->xenstore;
	char *value = NULL, *end;
	size_t len;
	long n = -1;

	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	if (xs_dom0_read(s->xs, "/local/domain/1/data/pvisor-exit-status",
			 &value, &len) == 0) {
		n = strtol(value, &end, 10);
		if (end == value || (*end && *end != '\n') || n < 0 || n > 255)
			n = -1;
	}
	pthread_mutex_unlock(&s->lock);
	free(value);
	return (int)n;
}

void xs_service_destroy(struct vm *vm)
{
	struct xs_service *s = vm->xenstore;

	if (!s)
		return;
	vm->xenstore = NULL;
	xs_socket_close(s->sock); /* its dom0 connections first */
	if (s->conn)
		xs_conn_free(s->conn);
	xs_free(s->xs);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
