/*
 * A hostile blkfront: requests with grant refs out of range or not granted,
 * too many and page-crossing segments, sectors past the disk, unknown
 * operations (each must get an error response), then a producer index run
 * past the ring (the backend must disconnect).  pvisor must survive all of
 * it: the guest finishes and exits 0.
 */
#include <kit/blkfront.h>
#include <kit/console.h>
#include <kit/gnttab.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>

#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()

static struct blkfront *dev;
static struct blkfront_info info;

/* Sends one raw request and returns the status of its response, or 99 on
 * timeout. */
static int raw_request(const struct blkif_request *r)
{
	struct blkif_front_ring *ring = blkfront_ring(dev);
	uint64_t deadline = monotonic_ns() + 5000000000ull;
	int notify;

	*RING_GET_REQUEST(ring, ring->req_prod_pvt) = *r;
	ring->req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(ring, notify);
	if (notify)
		blkfront_notify(dev);
	while (monotonic_ns() < deadline) {
		if (RING_HAS_UNCONSUMED_RESPONSES(ring)) {
			struct blkif_response *rsp;
			int st;

			rmb();
			rsp = RING_GET_RESPONSE(ring, ring->rsp_cons);
			st = rsp->status;
			ring->rsp_cons++;
			if (rsp->id != r->id)
				return 98;
			return st;
		}
		blkfront_wait(dev, monotonic_ns() + 10000000ull);
	}
	return 99;
}

int app_main(const char *cmdline)
{
	uint8_t *page = alloc_page();
	long ref = 0;
	struct blkif_request r;
	struct blkif_front_ring *ring;

	dev = blkfront_init(blkfront_vdev("xvda"), 0, &info);
	if (!check(dev != NULL, "blkfront_connects", "no device"))
		test_finish();
	ref = gnttab_grant_access(0, virt_to_mfn(page), false);
#define REQ(op_, n_, sector_)                                                 \
	do {                                                                  \
		memset(&r, 0, sizeof(r));                                     \
		r.operation = (op_);                                          \
		r.nr_segments = (n_);                                         \
		r.id = 0x1000 + __LINE__;                                     \
		r.sector_number = (sector_);                                  \
		for (unsigned i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) \
			r.seg[i] = (struct blkif_request_segment){            \
				.gref = (grant_ref_t)ref, .first_sect = 0,    \
				.last_sect = 7 };                             \
	} while (0)
	REQ(BLKIF_OP_READ, 1, 0);
	check_rc(raw_request(&r), BLKIF_RSP_OKAY, "valid_read_ok");
	REQ(BLKIF_OP_READ, 1, 0);
	r.seg[0].gref = 1000000;
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "gref_out_of_range");
	REQ(BLKIF_OP_READ, 1, 0);
	r.seg[0].gref = 300; /* never granted */
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "gref_not_granted");
	REQ(BLKIF_OP_READ, 1, 0);
	r.seg[0].gref = 3; /* reserved for the toolstack, not granted */
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "gref_reserved");
	REQ(BLKIF_OP_READ, 12, 0);
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "too_many_segments");
	REQ(BLKIF_OP_READ, 255, 0);
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "255_segments");
	REQ(BLKIF_OP_READ, 1, 0);
	r.seg[0].last_sect = 8;
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "segment_crosses_page");
	REQ(BLKIF_OP_READ, 1, 0);
	r.seg[0].first_sect = 6;
	r.seg[0].last_sect = 2;
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "first_after_last");
	REQ(BLKIF_OP_READ, 1, info.sectors - 4);
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "past_the_disk");
	REQ(BLKIF_OP_READ, 0, 0);
	check_rc(raw_request(&r), BLKIF_RSP_ERROR, "read_zero_segments");
	REQ(77, 1, 0);
	check_rc(raw_request(&r), BLKIF_RSP_EOPNOTSUPP, "unknown_op");
	REQ(BLKIF_OP_READ, 1, 8);
	check_rc(raw_request(&r), BLKIF_RSP_OKAY, "still_serving");

	/* Producer index far past the ring: the backend disconnects. */
	ring = blkfront_ring(dev);
	ring->sring->req_prod += 3 * RING_SIZE(ring);
	blkfront_notify(dev);
	{
		uint64_t deadline = monotonic_ns() + 5000000000ull;
		int st;

		while ((st = blkfront_backend_state(dev)) == XenbusStateConnected &&
		       monotonic_ns() < deadline)
			sleep_ms(10);
		check(st == XenbusStateClosing || st == XenbusStateClosed,
		      "prod_past_ring_disconnects", "backend state %d", st);
	}
	test_finish();
}
