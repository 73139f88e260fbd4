/*
 * A hostile netfront: transmit requests with bogus sizes, fragments that
 * cross their page, grant references that are out of range or not granted,
 * bad extra-info chains, and finally a producer index run past the ring.
 * Each bad packet must be answered NETIF_RSP_ERROR (extra slots
 * NETIF_RSP_NULL) while good packets still pass; the broken ring must stop
 * being served; pvisor must survive all of it (the guest exits 0 when every
 * check passed).  Run with --net user.
 */
#include <kit/console.h>
#include <kit/gnttab.h>
#include <kit/kit.h>
#include <kit/netfront.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()

static struct netfront *nf;

union slot {
	struct netif_tx_request req;
	struct netif_extra_info extra;
};

/* Posts n slots, waits for their responses; statuses into st. */
static bool post(const union slot *s, unsigned n, int16_t *st)
{
	struct netif_tx_front_ring *ring = netfront_tx_ring(nf);
	RING_IDX start = ring->req_prod_pvt;
	uint64_t deadline = monotonic_ns() + 2000000000ull;

	for (unsigned i = 0; i < n; i++) {
		memcpy(RING_GET_REQUEST(ring, ring->req_prod_pvt), &s[i], sizeof(s[i]));
		ring->req_prod_pvt++;
	}
	RING_PUSH_REQUESTS(ring);
	netfront_notify(nf);
	while ((RING_IDX)(ring->sring->rsp_prod - start) < n) {
		if (monotonic_ns() > deadline)
			return false;
		sleep_ms(1);
	}
	rmb();
	for (unsigned i = 0; i < n; i++)
		st[i] = RING_GET_RESPONSE(ring, start + i)->status;
	ring->rsp_cons = start + n;
	return true;
}

#define REQ(g, o, f, i, sz) \
	{ .req = { .gref = (g), .offset = (o), .flags = (f), .id = (i), .size = (sz) } }

static void one(const char *name, union slot s, int16_t want)
{
	int16_t st = 1;
	bool answered = post(&s, 1, &st);

	check(answered && st == want, name, "answered %d status %d want %d",
	      answered, st, want);
}

int app_main(const char *cmdline)
{
	grant_ref_t good;
	unsigned nr_entries;
	int16_t st[4] = { 1, 1, 1, 1 };
	RING_IDX before;
	struct netif_tx_front_ring *ring;

	nf = netfront_init(0, NULL);
	if (!check(nf != NULL, "netfront_connects", "no device (run with --net user)"))
		test_finish();
	good = netfront_tx_gref(nf, 63);
	gnttab_table(&nr_entries);
	one("good_packet_ok", (union slot)REQ(good, 0, 0, 100, 60), NETIF_RSP_OKAY);
	one("size_below_ethernet_error", (union slot)REQ(good, 0, 0, 101, 5), NETIF_RSP_ERROR);
	one("size_zero_error", (union slot)REQ(good, 0, 0, 102, 0), NETIF_RSP_ERROR);
	one("crosses_page_error", (union slot)REQ(good, 4000, 0, 103, 200), NETIF_RSP_ERROR);
	one("max_size_one_slot_error", (union slot)REQ(good, 0, 0, 104, 0xffff), NETIF_RSP_ERROR);
	one("gref_out_of_range_error", (union slot)REQ(nr_entries + 5, 0, 0, 105, 60),
	    NETIF_RSP_ERROR);
	one("gref_huge_error", (union slot)REQ(0xfffffff0u, 0, 0, 106, 60), NETIF_RSP_ERROR);
	one("gref_not_granted_error", (union slot)REQ(nr_entries - 1, 0, 0, 107, 60),
	    NETIF_RSP_ERROR);
	{
		union slot s[2] = { REQ(good, 0, NETTXF_more_data, 110, 100),
				    REQ(good, 0, 0, 111, 200) };

		check(post(s, 2, st) && st[0] == NETIF_RSP_ERROR && st[1] == NETIF_RSP_ERROR,
		      "frags_larger_than_packet_error", "status %d %d", st[0], st[1]);
	}
	{
		union slot s[2] = { REQ(good, 0, NETTXF_extra_info, 112, 60),
				    { .extra = { .type = 77 } } };

		check(post(s, 2, st) && st[0] == NETIF_RSP_ERROR && st[1] == NETIF_RSP_NULL,
		      "bad_extra_type_error", "status %d %d", st[0], st[1]);
	}
	{
		union slot s[2] = { REQ(good, 0, NETTXF_extra_info, 113, 60),
				    { .extra = { .type = XEN_NETIF_EXTRA_TYPE_GSO,
						 .u.gso = { .size = 1400,
							    .type = XEN_NETIF_GSO_TYPE_TCPV6 } } } };

		check(post(s, 2, st) && st[0] == NETIF_RSP_ERROR && st[1] == NETIF_RSP_NULL,
		      "gso_tcpv6_not_offered_error", "status %d %d", st[0], st[1]);
	}
	{
		/* TCPv4 GSO is offered, but the (zeroed) page holds no TCP
		 * packet. */
		union slot s[2] = { REQ(good, 0, NETTXF_extra_info, 114, 3000),
				    { .extra = { .type = XEN_NETIF_EXTRA_TYPE_GSO,
						 .u.gso = { .size = 1400,
							    .type = XEN_NETIF_GSO_TYPE_TCPV4 } } } };

		check(post(s, 2, st) && st[0] == NETIF_RSP_ERROR && st[1] == NETIF_RSP_NULL,
		      "gso_tcpv4_not_tcp_error", "status %d %d", st[0], st[1]);
	}
	one("good_packet_still_ok", (union slot)REQ(good, 0, 0, 120, 60), NETIF_RSP_OKAY);

	/* The producer runs past the ring: the backend must stop serving,
	 * not loop over garbage. */
	ring = netfront_tx_ring(nf);
	before = ring->sring->rsp_prod;
	ring->sring->req_prod = ring->req_prod_pvt + 1000;
	netfront_notify(nf);
	sleep_ms(100);
	check(ring->sring->rsp_prod == before, "producer_past_ring_not_served",
	      "rsp_prod moved from %u to %u", before, ring->sring->rsp_prod);
	ring->sring->req_prod = ring->req_prod_pvt;
	{
		union slot s = REQ(good, 0, 0, 121, 60);
		int16_t st1 = 1;

		check(!post(&s, 1, &st1), "broken_ring_stays_unserved", "status %d", st1);
	}
	/* pvisor is alive: xenstore and the backend's entries still answer. */
	check(netfront_backend_state(nf) == XenbusStateConnected, "xenstore_still_serves",
	      "backend state %d", netfront_backend_state(nf));
	test_finish();
}
