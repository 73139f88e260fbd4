/* A secondary console frontend (see kit/vconsole.h). */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/vconsole.h>
#include <kit/xenbus.h>

#include <xen/io/xenbus.h>

#define VC_BACKEND_DOMID 0
#define VC_TIMEOUT_NS (10ull * 1000000000ull)

static struct xencons_interface *vc_ring;
static evtchn_port_t vc_port;

struct vc_publish {
	const char *dir;
	grant_ref_t ref;
	evtchn_port_t port;
};

static int publish_entries(xenbus_transaction_t t, void *opaque)
{
	struct vc_publish *p = opaque;
	int rc = 0;

	xenbus_printf_under(t, &rc, p->dir, "ring-ref", "%u", p->ref);
	xenbus_printf_under(t, &rc, p->dir, "port", "%u", p->port);
	xenbus_printf_under(t, &rc, p->dir, "state", "%u", XenbusStateInitialised);
	return rc;
}

static void vc_event(evtchn_port_t port, void *data)
{
	/* Ring space freed: vconsole_write polls out_cons. */
}

int vconsole_open(unsigned devid)
{
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
					   .remote_dom = VC_BACKEND_DOMID };
	char dir[64], path[200], backend[128];
	struct vc_publish p = { .dir = dir };
	struct xencons_interface *ring;
	long rc;

	snprintf(dir, sizeof(dir), "device/console/%u", devid);
	snprintf(path, sizeof(path), "%s/backend", dir);
	if (xenbus_read(XBT_NIL, path, backend, sizeof(backend)) < 0) {
		printf("vconsole: no %s\n", dir);
		return -1;
	}
	ring = alloc_page();
	if (!ring)
		return -1;
	memset(ring, 0, PAGE_SIZE);
	rc = gnttab_grant_access(VC_BACKEND_DOMID, virt_to_mfn(ring), false);
	if (rc < 0)
		return -1;
	p.ref = (grant_ref_t)rc;
	rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au);
	if (rc < 0)
		return -1;
	p.port = au.port;
	evtchn_bind(p.port, vc_event, NULL);
	if (xenbus_transact(publish_entries, &p)) {
		printf("vconsole: cannot publish %s\n", dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", backend);
	rc = xenbus_wait_state(path, XenbusStateConnected, XenbusStateClosed,
			       monotonic_ns() + VC_TIMEOUT_NS);
	if (rc != XenbusStateConnected) {
		printf("vconsole: backend did not connect (state %ld)\n", rc);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", dir);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateConnected);
	vc_ring = ring;
	vc_port = p.port;
	return 0;
}

int vconsole_write(const char *buf, size_t len)
{
	if (!vc_ring)
		return -1;
	xencons_write(vc_ring, vc_port, buf, len);
	return 0;
}

int vconsole_printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return n;
	if ((size_t)n >= sizeof(buf))
		n = (int)sizeof(buf) - 1;
	return vconsole_write(buf, (size_t)n) ? -1 : n;
}
