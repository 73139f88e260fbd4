/*
 * netback: one vif per --net, served by one thread per NIC (see netback.h).
 *
 * Threads and locks: the guest's event-channel sends run on a vCPU thread
 * and only write the NIC's eventfd.  The frontend's xenstore state changes
 * arrive in a watch callback (store lock held), which connects or
 * disconnects the rings under nic->lock.  The NIC thread holds nic->lock
 * while it serves the rings and the host attachment and drops it only to
 * sleep in poll(2).  Order: store lock -> nic->lock -> vm->xen.lock.
 *
 * Bounds: a tx notification is served in batches of NIC_TX_BUDGET packets
 * with the host side polled in between; frames for a guest that posts no rx
 * buffers wait in a backlog of at most NIC_BACKLOG_PKTS frames /
 * NIC_BACKLOG_BYTES bytes, beyond which they are dropped and counted (TAP is
 * then not read at all: the kernel's queue drops).
 */
#include "services/netback/netback.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xen/io/xenbus.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/vm.h"
#include "hostio/hostnet.h"
#include "services/netback/netif.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_service.h"
#include "xen/events.h"
#include "xen/grant.h"

#define NIC_TX_BUDGET 64
#define NIC_BACKLOG_PKTS 256
#define NIC_BACKLOG_BYTES (1u << 20)
#define NIC_MAX_FDS 128

struct backlog_pkt {
	struct backlog_pkt *next;
	size_t len;
	uint8_t data[];
};

struct nic {
	struct vm *vm;
	unsigned devid;
	struct hostnet_config hcfg;
	struct hostnet *host;
	struct xenstore *xs;     /* for the watch callback (store lock held) */
	char be_path[64], fe_path[64], watch_path[80], token[32];
	uint8_t mac[6];
	int kick_fd;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;

	pthread_mutex_t lock;
	/* the connection (nic->lock) */
	bool connected;
	struct netif_queue *q;
	struct gnttab_pin tx_pin, rx_pin;
	evtchn_port_t port_tx, port_rx;
	bool notify_tx, notify_rx;
	bool broken_logged;
	int be_state;
	/* frames waiting for rx buffers (nic->lock) */
	struct backlog_pkt *bl_head, *bl_tail;
	unsigned bl_pkts;
	size_t bl_bytes;
	uint64_t bl_max, dropped;
};

struct netback {
	unsigned nr;
	struct nic *nic[VM_MAX_NICS];
};

static void nic_kick(struct nic *n)
{
	uint64_t one = 1;

	if (write(n->kick_fd, &one, sizeof(one)) < 0) {
		/* counter saturated: a kick is pending anyway */
	}
}

/* The guest notified the NIC's event channel (vCPU thread: stay cheap). */
static void nic_on_send(void *opaque)
{
	nic_kick(opaque);
}

/* GNTTABOP_copy semantics: one grant checked and held for the copy. */
static int nic_copy(void *opaque, grant_ref_t gref, unsigned off, void *buf,
		    unsigned len, bool to_guest)
{
	struct nic *n = opaque;
	struct gnttab_pin pin;

	if (off > NETIF_PAGE_SIZE || len > NETIF_PAGE_SIZE - off)
		return -EINVAL;
	if (gnttab_pin_copy(n->vm, 0, gref, to_guest, &pin))
		return -EPERM;
	/* A v2 sub-page grant covers only its window, as for Xen's copy. */
	if (!gnttab_pin_covers(&pin, off, len)) {
		gnttab_unpin(n->vm, &pin);
		return -EPERM;
	}
	if (to_guest)
		memcpy(pin.page + off, buf, len);
	else
		memcpy(buf, pin.page + off, len);
	gnttab_unpin(n->vm, &pin);
	return 0;
}

static void backlog_clear(struct nic *n)
{
	while (n->bl_head) {
		struct backlog_pkt *p = n->bl_head;

		n->bl_head = p->next;
		free(p);
	}
	n->bl_tail = NULL;
	n->bl_pkts = 0;
	n->bl_bytes = 0;
}

/* Moves backlog frames into posted rx buffers; nic->lock held. */
static void backlog_drain(struct nic *n)
{
	while (n->bl_head && n->connected) {
		struct backlog_pkt *p = n->bl_head;
		int rc = netif_rx_put(n->q, p->data, p->len, &n->notify_rx);

		if (rc == -EAGAIN || rc == -EPIPE)
			return;
		n->bl_head = p->next;
		if (!n->bl_head)
			n->bl_tail = NULL;
		n->bl_pkts--;
		n->bl_bytes -= p->len;
		free(p);
	}
}

/* A frame from the host for the guest (NIC thread, nic->lock held). */
static void nic_to_guest(void *opaque, const uint8_t *frame, size_t len)
{
	struct nic *n = opaque;
	struct backlog_pkt *p;
	int rc;

	if (!n->connected || n->q->broken) {
		n->dropped++;
		return;
	}
	if (!n->bl_head) {
		rc = netif_rx_put(n->q, frame, len, &n->notify_rx);
		if (rc != -EAGAIN) {
			if (rc)
				n->dropped++;
			return;
		}
	}
	if (n->bl_pkts >= NIC_BACKLOG_PKTS ||
	    n->bl_bytes + len > NIC_BACKLOG_BYTES ||
	    !(p = malloc(sizeof(*p) + len))) {
		n->dropped++;
		return;
	}
	p->next = NULL;
	p->len = len;
	memcpy(p->data, frame, len);
	if (n->bl_tail)
		n->bl_tail->next = p;
	else
		n->bl_head = p;
	n->bl_tail = p;
	n->bl_pkts++;
	n->bl_bytes += len;
	if (n->bl_pkts > n->bl_max)
		n->bl_max = n->bl_pkts;
}

/* A frame from the guest (NIC thread, nic->lock held). */
static void nic_to_host(void *opaque, const uint8_t *frame, size_t len)
{
	struct nic *n = opaque;

	n->host->ops->send(n->host, frame, len);
}

static void nic_flush_notify(struct nic *n)
{
	if (n->notify_tx && n->connected)
		evtchn_notify_guest(n->vm, n->port_tx);
	if (n->notify_rx && n->connected)
		evtchn_notify_guest(n->vm, n->port_rx);
	n->notify_tx = n->notify_rx = false;
}

/* Serves the rings once; nic->lock held.  True if tx work is left. */
static bool nic_serve(struct nic *n)
{
	bool more;

	if (!n->connected)
		return false;
	backlog_drain(n);
	more = netif_tx_process(n->q, NIC_TX_BUDGET, nic_to_host, n,
				&n->notify_tx);
	if (n->q->broken && !n->broken_logged) {
		n->broken_logged = true;
		log_error("vif%u: the guest broke the netif protocol (%s); its rings are no longer served",
			  n->devid, n->q->broken_why);
	}
	nic_flush_notify(n);
	return more && !n->q->broken;
}

static void *nic_thread(void *opaque)
{
	struct nic *n = opaque;
	struct pollfd fds[NIC_MAX_FDS];
	char name[16];

	snprintf(name, sizeof(name), "net%u", n->devid);
	sandbox_thread(SANDBOX_ROLE_NET, name);
	while (!atomic_load(&n->stop)) {
		int timeout = -1;
		unsigned nfds;
		bool more, can_rx;
		uint64_t v;

		pthread_mutex_lock(&n->lock);
		more = nic_serve(n);
		can_rx = n->bl_pkts < NIC_BACKLOG_PKTS;
		fds[0] = (struct pollfd){ .fd = n->kick_fd, .events = POLLIN };
		nfds = n->host->ops->fill(n->host, fds + 1, NIC_MAX_FDS - 1,
					  &timeout, can_rx);
		pthread_mutex_unlock(&n->lock);
		if (poll(fds, nfds + 1, more ? 0 : timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN &&
		    read(n->kick_fd, &v, sizeof(v)) < 0) {
			/* nothing pending after all */
		}
		pthread_mutex_lock(&n->lock);
		n->host->ops->dispatch(n->host, fds + 1, nfds);
		nic_flush_notify(n);
		pthread_mutex_unlock(&n->lock);
	}
	return NULL;
}

/* ---- xenstore device model and the XenbusState handshake ---- */

static int xs_read_uint(struct xenstore *xs, const char *dir, const char *key,
			unsigned long *out)
{
	char path[160];
	uint64_t v;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	rc = xs_dom0_read_uint(xs, path, ULONG_MAX, &v);
	if (!rc)
		*out = (unsigned long)v;
	return rc;
}

static void set_be_state(struct nic *n, int state)
{
	char path[96];

	if (n->be_state == state)
		return;
	n->be_state = state;
	snprintf(path, sizeof(path), "%s/state", n->be_path);
	if (xs_dom0_printf(n->xs, path, "%d", state))
		log_error("vif%u: cannot write %s", n->devid, path);
}

/* nic->lock held. */
static void nic_disconnect(struct nic *n)
{
	if (!n->connected)
		return;
	n->connected = false;
	evtchn_unbind_backend(n->vm, n->port_tx, nic_on_send, n);
	if (n->port_rx != n->port_tx)
		evtchn_unbind_backend(n->vm, n->port_rx, nic_on_send, n);
	gnttab_unpin(n->vm, &n->tx_pin);
	gnttab_unpin(n->vm, &n->rx_pin);
	backlog_clear(n);
}

/* Reads what the frontend published and connects; nic->lock held.  0, or
 * -errno with the reason logged. */
static int nic_connect(struct nic *n)
{
	unsigned long tx_ref, rx_ref, p_tx, p_rx, v;
	unsigned features = NETIF_F_GSO_TCPV4; /* what we advertised */
	struct xenstore *xs = n->xs;
	const char *fe = n->fe_path;

	if (xs_read_uint(xs, fe, "tx-ring-ref", &tx_ref) ||
	    xs_read_uint(xs, fe, "rx-ring-ref", &rx_ref)) {
		log_guest("vif%u: frontend published no ring references", n->devid);
		return -EINVAL;
	}
	if (xs_read_uint(xs, fe, "event-channel-tx", &p_tx) == 0) {
		if (xs_read_uint(xs, fe, "event-channel-rx", &p_rx)) {
			log_guest("vif%u: event-channel-tx without -rx", n->devid);
			return -EINVAL;
		}
	} else if (xs_read_uint(xs, fe, "event-channel", &p_tx) == 0) {
		p_rx = p_tx;
	} else {
		log_guest("vif%u: frontend published no event channel", n->devid);
		return -EINVAL;
	}
	if (tx_ref > UINT32_MAX || rx_ref > UINT32_MAX || p_tx >= XEN_NR_EVTCHN ||
	    p_rx >= XEN_NR_EVTCHN)
		return -EINVAL;
	/* Only copying receive: the mode Linux uses, and the only one pvisor
	 * has (page flipping is gone from Xen too). */
	if (xs_read_uint(xs, fe, "request-rx-copy", &v) || v != 1) {
		log_guest("vif%u: frontend did not request rx-copy", n->devid);
		return -EOPNOTSUPP;
	}
	if (xs_read_uint(xs, fe, "feature-sg", &v) == 0 && v == 1)
		features |= NETIF_F_RX_SG;
	if (gnttab_pin(n->vm, 0, (grant_ref_t)tx_ref, true, &n->tx_pin)) {
		log_guest("vif%u: tx ring grant %lu is not usable", n->devid, tx_ref);
		return -EPERM;
	}
	if (gnttab_pin(n->vm, 0, (grant_ref_t)rx_ref, true, &n->rx_pin)) {
		log_guest("vif%u: rx ring grant %lu is not usable", n->devid, rx_ref);
		gnttab_unpin(n->vm, &n->tx_pin);
		return -EPERM;
	}
	if (evtchn_bind_backend(n->vm, (evtchn_port_t)p_tx, nic_on_send, n) ||
	    (p_rx != p_tx &&
	     evtchn_bind_backend(n->vm, (evtchn_port_t)p_rx, nic_on_send, n))) {
		log_guest("vif%u: event channel %lu/%lu is not unbound to dom0",
			  n->devid, p_tx, p_rx);
		evtchn_unbind_backend(n->vm, (evtchn_port_t)p_tx, nic_on_send, n);
		gnttab_unpin(n->vm, &n->tx_pin);
		gnttab_unpin(n->vm, &n->rx_pin);
		return -EINVAL;
	}
	n->port_tx = (evtchn_port_t)p_tx;
	n->port_rx = (evtchn_port_t)p_rx;
	netif_queue_init(n->q, (struct netif_tx_sring *)n->tx_pin.page,
			 (struct netif_rx_sring *)n->rx_pin.page, features,
			 nic_copy, n);
	n->broken_logged = false;
	n->connected = true;
	return 0;
}

/* The frontend's state changed (store lock held: use n->xs only). */
static void nic_fe_changed(void *opaque, const char *path, const char *token)
{
	struct nic *n = opaque;
	unsigned long fe_state;

	if (!n->xs)
		return;
	if (xs_read_uint(n->xs, n->fe_path, "state", &fe_state))
		fe_state = XenbusStateUnknown;
	pthread_mutex_lock(&n->lock);
	switch (fe_state) {
	case XenbusStateInitialising:
		nic_disconnect(n);
		set_be_state(n, XenbusStateInitWait);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (n->connected)
			break;
		if (nic_connect(n) == 0) {
			set_be_state(n, XenbusStateConnected);
			nic_kick(n);
		} else {
			set_be_state(n, XenbusStateClosing);
		}
		break;
	case XenbusStateClosing:
		nic_disconnect(n);
		set_be_state(n, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:
	default:
		nic_disconnect(n);
		if (n->be_state != XenbusStateInitWait)
			set_be_state(n, XenbusStateClosed);
		break;
	}
	pthread_mutex_unlock(&n->lock);
}

static void nic_mac_string(const struct nic *n, char mac[18])
{
	snprintf(mac, 18, "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
		 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
}

/* The frontend's directory, the guest's (at set-up and on a reboot's
 * reattach). */
static int nic_xs_frontend(struct xenstore *xs, void *opaque)
{
	struct nic *n = opaque;
	char mac[18], handle[16];
	const struct xs_node_value nodes[] = { { "handle", handle }, { "mac", mac } };

	nic_mac_string(n, mac);
	snprintf(handle, sizeof(handle), "%u", n->devid);
	return xs_write_frontend(xs, n->fe_path, n->be_path, nodes, 2);
}

static int nic_xs_setup(struct xenstore *xs, void *opaque)
{
	struct nic *n = opaque;
	const struct xs_perm be_perms[] = {
		{ .id = 0, .perm = XS_PERM_NONE },
		{ .id = XS_GUEST_DOMID, .perm = XS_PERM_READ },
	};
	char mac[18], path[128];
	static const struct {
		const char *key, *val;
	} features[] = {
		{ "feature-sg", "1" },
		{ "feature-rx-copy", "1" },
		{ "feature-rx-flip", "0" },
		{ "feature-split-event-channels", "1" },
		{ "feature-ipv6-csum-offload", "1" },
		{ "feature-gso-tcpv4", "1" }, /* segmented in software */
		{ "feature-gso-tcpv6", "0" },
		{ "feature-multicast-control", "0" },
		{ "type", "vif" },
		{ "online", "1" },
		{ "hotplug-status", "connected" },
	};
	int rc = 0;

	n->xs = xs;
	nic_mac_string(n, mac);
	/* Backend directory: dom0's, readable by the guest. */
	rc |= xs_dom0_mkdir(xs, n->be_path);
	rc |= xs_dom0_set_perms(xs, n->be_path, be_perms, 2);
#define W(dir, key, ...)                                                    \
	do {                                                                \
		snprintf(path, sizeof(path), "%s/%s", dir, key);            \
		rc |= xs_dom0_printf(xs, path, __VA_ARGS__);                \
	} while (0)
	W(n->be_path, "frontend", "%s", n->fe_path);
	W(n->be_path, "frontend-id", "%d", XS_GUEST_DOMID);
	W(n->be_path, "handle", "%u", n->devid);
	W(n->be_path, "mac", "%s", mac);
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		W(n->be_path, features[i].key, "%s", features[i].val);
	W(n->be_path, "state", "%d", XenbusStateInitWait);
#undef W
	n->be_state = XenbusStateInitWait;
	if (rc || nic_xs_frontend(xs, n))
		return -EIO;
	return xs_dom0_watch(xs, n->watch_path, n->token, nic_fe_changed, n);
}

static int nic_xs_teardown(struct xenstore *xs, void *opaque)
{
	struct nic *n = opaque;

	if (xs_dom0_unwatch(xs, n->watch_path, n->token)) {
		/* already gone */
	}
	n->xs = NULL;
	return 0;
}

static void nic_free(struct nic *n)
{
	if (!n)
		return;
	if (n->thread_started) {
		atomic_store(&n->stop, true);
		nic_kick(n);
		pthread_join(n->thread, NULL);
	}
	if (n->xs)
		xs_service_with(n->vm, nic_xs_teardown, n);
	pthread_mutex_lock(&n->lock);
	nic_disconnect(n);
	pthread_mutex_unlock(&n->lock);
	if (n->host)
		n->host->ops->free(n->host);
	if (n->kick_fd >= 0)
		close(n->kick_fd);
	pthread_mutex_destroy(&n->lock);
	free(n->q);
	free(n);
}

static int nic_create(struct vm *vm, unsigned devid, const char *spec,
		      struct nic **out, char *err, size_t err_len)
{
	struct nic *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n || !(n->q = calloc(1, sizeof(*n->q)))) {
		free(n);
		snprintf(err, err_len, "--net: out of memory");
		return -ENOMEM;
	}
	n->vm = vm;
	n->devid = devid;
	n->kick_fd = -1;
	pthread_mutex_init(&n->lock, NULL);
	*out = n;
	rc = hostnet_parse(spec, &n->hcfg, err, err_len);
	if (rc)
		return rc;
	if (n->hcfg.mac_set) {
		memcpy(n->mac, n->hcfg.mac, 6);
	} else {
		/* Xen's OUI, as libxl picks, made unique per NIC. */
		const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x50, 0x56,
					 (uint8_t)(0x10 + devid) };

		memcpy(n->mac, mac, 6);
	}
	n->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->kick_fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "--net: eventfd: %s", strerror(errno));
		return rc;
	}
	rc = hostnet_open(&n->hcfg, nic_to_guest, n, &n->host, err, err_len);
	if (rc)
		return rc;
	snprintf(n->be_path, sizeof(n->be_path),
		 "/local/domain/0/backend/vif/%d/%u", XS_GUEST_DOMID, devid);
	snprintf(n->fe_path, sizeof(n->fe_path), "/local/domain/%d/device/vif/%u",
		 XS_GUEST_DOMID, devid);
	snprintf(n->watch_path, sizeof(n->watch_path), "%s/state", n->fe_path);
	snprintf(n->token, sizeof(n->token), "netback-%u", devid);
	rc = xs_service_with(vm, nic_xs_setup, n);
	if (rc) {
		snprintf(err, err_len, "--net: cannot write the vif%u xenstore entries: %s",
			 devid, strerror(-rc));
		return rc;
	}
	rc = pthread_create(&n->thread, NULL, nic_thread, n);
	if (rc) {
		snprintf(err, err_len, "--net: cannot start a thread: %s",
			 strerror(rc));
		return -rc;
	}
	n->thread_started = true;
	return 0;
}

int netback_start(struct vm *vm, char *err, size_t err_len)
{
	struct netback *nb;
	int rc;

	if (!vm->cfg || vm->cfg->nr_net == 0)
		return 0;
	nb = calloc(1, sizeof(*nb));
	if (!nb) {
		snprintf(err, err_len, "--net: out of memory");
		return -ENOMEM;
	}
	vm->netback = nb;
	for (unsigned i = 0; i < vm->cfg->nr_net && i < VM_MAX_NICS; i++) {
		rc = nic_create(vm, i, vm->cfg->net[i], &nb->nic[i], err, err_len);
		nb->nr = i + 1;
		if (rc)
			return rc;
	}
	return 0;
}

void netback_destroy(struct vm *vm)
{
	struct netback *nb = vm->netback;

	if (!nb)
		return;
	for (unsigned i = 0; i < nb->nr; i++) {
		struct nic *n = nb->nic[i];

		if (n && n->q && (n->q->stats.tx_packets || n->q->stats.rx_packets))
			log_debug("vif%u: tx %lu packets (%lu errors), rx %lu packets (%lu dropped, backlog max %lu)",
				  n->devid, (unsigned long)n->q->stats.tx_packets,
				  (unsigned long)n->q->stats.tx_errors,
				  (unsigned long)n->q->stats.rx_packets,
				  (unsigned long)(n->dropped + n->q->stats.rx_dropped),
				  (unsigned long)n->bl_max);
		nic_free(n);
	}
	free(nb);
	vm->netback = NULL;
}

int netback_reattach(struct vm *vm, char *err, size_t err_len)
{
	struct netback *nb = vm->netback;

	for (unsigned i = 0; nb && i < nb->nr; i++) {
		struct nic *n = nb->nic[i];
		int rc = n ? xs_service_with(vm, nic_xs_frontend, n) : 0;

		if (rc < 0) {
			snprintf(err, err_len, "vif%u: xenstore: %s", i, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int netback_get_stats(struct vm *vm, unsigned devid, struct netback_stats *st)
{
	struct netback *nb = vm->netback;
	struct nic *n;

	if (!nb || devid >= nb->nr || !(n = nb->nic[devid]))
		return -ENOENT;
	pthread_mutex_lock(&n->lock);
	*st = (struct netback_stats){
		.tx_packets = n->q->stats.tx_packets,
		.tx_errors = n->q->stats.tx_errors,
		.rx_packets = n->q->stats.rx_packets,
		.rx_dropped = n->dropped + n->q->stats.rx_dropped,
		.backlog_max = n->bl_max,
		.connected = n->connected,
	};
	pthread_mutex_unlock(&n->lock);
	return 0;
}
