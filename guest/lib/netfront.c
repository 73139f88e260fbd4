/* netfront (see kit/netfront.h). */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/events.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/netfront.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()

#define NF_TIMEOUT_NS (10ull * 1000000000ull)
#define BACKEND_DOMID 0

struct nf_buf {
	void *page;
	grant_ref_t gref;
	bool busy;
};

struct netfront {
	char nodename[64], backend[96];
	struct netif_tx_front_ring tx;
	struct netif_rx_front_ring rx;
	grant_ref_t tx_ref, rx_ref;
	evtchn_port_t port;
	struct nf_buf txb[NETFRONT_TX_BUFS];
	struct nf_buf rxb[NETFRONT_RX_BUFS];
	struct thread *waiter;
	bool notified;
	struct netfront_stats stats;
};

static void nf_handler(evtchn_port_t port, void *data)
{
	struct netfront *nf = data;

	nf->notified = true;
	if (nf->waiter)
		thread_wake(nf->waiter);
}

/* Grants b's page (allocated the first time) to the backend. */
static int grant_buf(struct nf_buf *b, bool readonly)
{
	long rc;

	if (!b->page)
		b->page = alloc_page();
	if (!b->page)
		return -XEN_ENOMEM;
	rc = gnttab_grant_access(BACKEND_DOMID, virt_to_mfn(b->page), readonly);
	if (rc < 0)
		return (int)rc;
	b->gref = (grant_ref_t)rc;
	b->busy = false;
	return 0;
}

/* Posts rx buffer id (its page) to the backend. */
static void rx_post(struct netfront *nf, unsigned id)
{
	struct netif_rx_request *req =
		RING_GET_REQUEST(&nf->rx, nf->rx.req_prod_pvt);

	req->id = (uint16_t)id;
	req->gref = nf->rxb[id].gref;
	nf->rx.req_prod_pvt++;
}

static void rx_push(struct netfront *nf)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->rx, notify);
	if (notify)
		evtchn_send(nf->port);
}

/* The frontend's half of the handshake, written in one transaction. */
static int publish_entries(xenbus_transaction_t t, void *opaque)
{
	struct netfront *nf = opaque;
	const char *dir = nf->nodename;
	int rc = 0;

	xenbus_printf_under(t, &rc, dir, "tx-ring-ref", "%u", nf->tx_ref);
	xenbus_printf_under(t, &rc, dir, "rx-ring-ref", "%u", nf->rx_ref);
	xenbus_printf_under(t, &rc, dir, "event-channel", "%u", nf->port);
	xenbus_printf_under(t, &rc, dir, "request-rx-copy", "%u", 1);
	xenbus_printf_under(t, &rc, dir, "feature-rx-notify", "%u", 1);
	xenbus_printf_under(t, &rc, dir, "feature-sg", "%u", 0);
	xenbus_printf_under(t, &rc, dir, "feature-no-csum-offload", "%u", 1);
	xenbus_printf_under(t, &rc, dir, "state", "%u", XenbusStateInitialised);
	return rc;
}

static int publish(struct netfront *nf)
{
	return xenbus_transact(publish_entries, nf);
}

static int parse_mac(const char *s, uint8_t *mac)
{
	for (int i = 0; i < 6; i++) {
		const char *end;
		long v = strtol(s, &end, 16);

		if (end == s || v < 0 || v > 255 || (i < 5 && *end != ':'))
			return -1;
		mac[i] = (uint8_t)v;
		s = end + 1;
	}
	return 0;
}

/*
 * From the backend's InitWait to Connected: rings and buffers granted, rx
 * buffers posted, a channel, the entries published.  At init, and again
 * after a restore into a new domain (grants and channel gone; frames in
 * flight are lost, as on a real link).  0 or -1 (said why).
 */
static int nf_connect(struct netfront *nf)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = BACKEND_DOMID };
	struct netif_tx_sring *txs = nf->tx.sring;
	struct netif_rx_sring *rxs = nf->rx.sring;
	char path[160];
	long rc;

	snprintf(path, sizeof(path), "%s/state", nf->backend);
	rc = xenbus_wait_state(path, XenbusStateInitWait, XenbusStateInitWait,
			       monotonic_ns() + NF_TIMEOUT_NS);
	if (rc < 0) {
		printf("netfront: backend %s not in InitWait (%ld)\n",
		       nf->backend, rc);
		return -1;
	}
	if (!txs)
		txs = alloc_page();
	if (!rxs)
		rxs = alloc_page();
	if (!txs || !rxs)
		return -1;
	SHARED_RING_INIT(txs);
	FRONT_RING_INIT(&nf->tx, txs, PAGE_SIZE);
	SHARED_RING_INIT(rxs);
	FRONT_RING_INIT(&nf->rx, rxs, PAGE_SIZE);
	rc = gnttab_grant_access(BACKEND_DOMID, virt_to_mfn(txs), false);
	if (rc < 0)
		return -1;
	nf->tx_ref = (grant_ref_t)rc;
	rc = gnttab_grant_access(BACKEND_DOMID, virt_to_mfn(rxs), false);
	if (rc < 0)
		return -1;
	nf->rx_ref = (grant_ref_t)rc;
	for (unsigned i = 0; i < NETFRONT_TX_BUFS; i++)
		if (grant_buf(&nf->txb[i], true))
			return -1;
	for (unsigned i = 0; i < NETFRONT_RX_BUFS; i++) {
		if (grant_buf(&nf->rxb[i], false))
			return -1;
		rx_post(nf, i);
	}
	RING_PUSH_REQUESTS(&nf->rx);
	rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	if (rc < 0)
		return -1;
	nf->port = au.port;
	evtchn_bind(nf->port, nf_handler, nf);
	if (publish(nf)) {
		printf("netfront: cannot publish the rings\n");
		return -1;
	}
	rc = xenbus_wait_state(path, XenbusStateConnected, XenbusStateClosed,
			       monotonic_ns() + NF_TIMEOUT_NS);
	if (rc != XenbusStateConnected) {
		printf("netfront: backend did not connect (state %ld)\n", rc);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", nf->nodename);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateConnected);
	return 0;
}

static void nf_resume(void *opaque, bool new_domain)
{
	struct netfront *nf = opaque;

	if (new_domain && nf_connect(nf) < 0)
		panic("netfront %s: cannot reconnect after the restore", nf->nodename);
	if (nf->waiter)
		thread_wake(nf->waiter);
}

struct netfront *netfront_init(unsigned devid, uint8_t *mac)
{
	struct netfront *nf = kzalloc(sizeof(*nf));
	char path[160], val[32];

	if (!nf)
		return NULL;
	snprintf(nf->nodename, sizeof(nf->nodename), "device/vif/%u", devid);
	snprintf(path, sizeof(path), "%s/backend", nf->nodename);
	if (xenbus_read(XBT_NIL, path, nf->backend, sizeof(nf->backend)) < 0) {
		printf("netfront: no %s\n", path);
		goto fail;
	}
	if (mac) {
		snprintf(path, sizeof(path), "%s/mac", nf->nodename);
		if (xenbus_read(XBT_NIL, path, val, sizeof(val)) < 0 ||
		    parse_mac(val, mac)) {
			printf("netfront: no usable %s\n", path);
			goto fail;
		}
	}
	if (nf_connect(nf) < 0)
		goto fail;
	kit_suspend_hook(NULL, nf_resume, nf);
	return nf;
fail:
	return NULL; /* pages and grants stay allocated: a failed device */
}

/* Frees the tx buffers the backend answered for. */
static void tx_reap(struct netfront *nf)
{
	RING_IDX prod, i;

	do {
		prod = nf->tx.sring->rsp_prod;
		xen_rmb();
		for (i = nf->tx.rsp_cons; i != prod; i++) {
			struct netif_tx_response *rsp = RING_GET_RESPONSE(&nf->tx, i);

			if (rsp->status == NETIF_RSP_NULL)
				continue;
			if (rsp->id < NETFRONT_TX_BUFS)
				nf->txb[rsp->id].busy = false;
			if (rsp->status != NETIF_RSP_OKAY)
				nf->stats.tx_errors++;
		}
		nf->tx.rsp_cons = prod;
		RING_FINAL_CHECK_FOR_RESPONSES(&nf->tx, i);
	} while (i);
}

int netfront_xmit(struct netfront *nf, const void *frame, size_t len)
{
	struct netif_tx_request *req;
	unsigned id;
	int notify;

	if (len < 14 || len > NETFRONT_MTU_FRAME)
		return -XEN_EINVAL;
	tx_reap(nf);
	for (id = 0; id < NETFRONT_TX_BUFS && nf->txb[id].busy; id++)
		;
	if (id == NETFRONT_TX_BUFS || RING_FULL(&nf->tx)) {
		nf->stats.tx_busy++;
		return -XEN_EAGAIN;
	}
	memcpy(nf->txb[id].page, frame, len);
	nf->txb[id].busy = true;
	req = RING_GET_REQUEST(&nf->tx, nf->tx.req_prod_pvt);
	req->gref = nf->txb[id].gref;
	req->offset = 0;
	req->flags = 0;
	req->id = (uint16_t)id;
	req->size = (uint16_t)len;
	nf->tx.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->tx, notify);
	if (notify)
		evtchn_send(nf->port);
	nf->stats.tx_packets++;
	return 0;
}

long netfront_recv(struct netfront *nf, void *buf, size_t len)
{
	struct netif_rx_response rsp;
	RING_IDX prod;
	int more;
	long n;

	prod = nf->rx.sring->rsp_prod;
	xen_rmb();
	if (nf->rx.rsp_cons == prod) {
		RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
		if (!more)
			return 0;
	}
	rsp = *RING_GET_RESPONSE(&nf->rx, nf->rx.rsp_cons);
	nf->rx.rsp_cons++;
	if (rsp.id >= NETFRONT_RX_BUFS) {
		nf->stats.rx_errors++;
		return -XEN_EIO; /* a backend bug: the buffer is lost */
	}
	if (rsp.status < 0 || rsp.flags & NETRXF_more_data ||
	    (unsigned)rsp.offset + (unsigned)rsp.status > PAGE_SIZE) {
		nf->stats.rx_errors++;
		n = -XEN_EIO;
	} else {
		n = rsp.status < (long)len ? rsp.status : (long)len;
		memcpy(buf, (uint8_t *)nf->rxb[rsp.id].page + rsp.offset, (size_t)n);
		nf->stats.rx_packets++;
	}
	rx_post(nf, rsp.id);
	rx_push(nf);
	return n;
}

void netfront_wait(struct netfront *nf, uint64_t deadline_ns)
{
	unsigned long flags = local_irq_save();
	int more;

	RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
	if (!more && !nf->notified) {
		nf->waiter = thread_current();
		local_irq_restore(flags);
		thread_block(deadline_ns);
		flags = local_irq_save();
		nf->waiter = NULL;
	}
	nf->notified = false;
	local_irq_restore(flags);
}

void netfront_shutdown(struct netfront *nf)
{
	char path[160];

	kit_suspend_unhook(nf);
	snprintf(path, sizeof(path), "%s/state", nf->nodename);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateClosing);
	snprintf(path, sizeof(path), "%s/state", nf->backend);
	xenbus_wait_state(path, XenbusStateClosing, XenbusStateClosed,
			  monotonic_ns() + NF_TIMEOUT_NS);
	snprintf(path, sizeof(path), "%s/state", nf->nodename);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateClosed);
	evtchn_unbind(nf->port);
}

void netfront_get_stats(struct netfront *nf, struct netfront_stats *st)
{
	*st = nf->stats;
}

struct netif_tx_front_ring *netfront_tx_ring(struct netfront *nf)
{
	return &nf->tx;
}

grant_ref_t netfront_tx_gref(struct netfront *nf, unsigned i)
{
	return nf->txb[i % NETFRONT_TX_BUFS].gref;
}

void netfront_notify(struct netfront *nf)
{
	evtchn_send(nf->port);
}

int netfront_backend_state(struct netfront *nf)
{
	char path[160];
	unsigned long v;

	snprintf(path, sizeof(path), "%s/state", nf->backend);
	return xenbus_read_ulong(XBT_NIL, path, &v) ? -1 : (int)v;
}
