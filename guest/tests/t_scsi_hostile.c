/*
 * A hostile scsifront: CDBs of length 0 and 17, unknown opcodes, transfers
 * past the image or larger than the buffer (each gets CHECK CONDITION with
 * sense data); more segments than granted, bogus or ungranted grant refs,
 * segments crossing a page, a bidirectional request, an unknown action, a
 * target that does not exist (each gets a host error); ABORT and RESET;
 * then a producer index run past the ring (the backend must disconnect).
 * pvisor must survive all of it: the guest finishes and exits 0.
 */
#include <kit/console.h>
#include <kit/gnttab.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/scsifront.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>

#define xen_mb() mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()

static struct scsifront *dev;
static struct scsifront_info info;
static struct vscsiif_response last;

/* Sends one raw request; its response is in `last`; false on timeout. */
static bool raw_request(const struct vscsiif_request *r)
{
	struct vscsiif_front_ring *ring = scsifront_ring(dev);
	uint64_t deadline = monotonic_ns() + 5000000000ull;
	int notify;

	*RING_GET_REQUEST(ring, ring->req_prod_pvt) = *r;
	ring->req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(ring, notify);
	if (notify)
		scsifront_notify(dev);
	while (monotonic_ns() < deadline) {
		if (RING_HAS_UNCONSUMED_RESPONSES(ring)) {
			rmb();
			last = *RING_GET_RESPONSE(ring, ring->rsp_cons);
			ring->rsp_cons++;
			return last.rqid == r->rqid;
		}
		scsifront_wait(dev, monotonic_ns() + 10000000ull);
	}
	return false;
}

static void expect_sense(const struct vscsiif_request *r, uint8_t key, uint8_t asc,
			 const char *name)
{
	bool got = raw_request(r);

	check(got && last.rslt == 2 && last.sense_len >= 14 &&
		      (last.sense_buffer[2] & 0xf) == key && last.sense_buffer[12] == asc,
	      name, "response %d rslt %#x sense_len %u sense %x/%02x", got,
	      (unsigned)last.rslt, last.sense_len, last.sense_buffer[2] & 0xf,
	      last.sense_buffer[12]);
}

static void expect_rslt(const struct vscsiif_request *r, int32_t rslt, const char *name)
{
	bool got = raw_request(r);

	check(got && last.rslt == rslt, name, "response %d rslt %#x, want %#x", got,
	      (unsigned)last.rslt, (unsigned)rslt);
}

int app_main(const char *cmdline)
{
	uint8_t *page = alloc_page(), *ind = alloc_page();
	struct vscsiif_front_ring *ring;
	struct vscsiif_request r;
	const struct scsifront_lun *l;
	long ref, iref;
	uint16_t id = 0x100;

	dev = scsifront_init(&info);
	if (!check(dev != NULL && info.nr_luns >= 1, "scsifront_connects", "no LUN"))
		test_finish();
	l = &info.luns[0];
	ref = gnttab_grant_access(0, virt_to_mfn(page), false);
	iref = gnttab_grant_access(0, virt_to_mfn(ind), true);
#define REQ(dir_, nseg_, ...)                                                   \
	do {                                                                    \
		static const uint8_t cdb_[] = { __VA_ARGS__ };                  \
		memset(&r, 0, sizeof(r));                                       \
		r.rqid = id++;                                                  \
		r.act = VSCSIIF_ACT_SCSI_CDB;                                   \
		r.cmd_len = sizeof(cdb_);                                       \
		memcpy(r.cmnd, cdb_, sizeof(cdb_));                             \
		r.channel = l->channel;                                         \
		r.id = l->target;                                               \
		r.lun = l->lun;                                                 \
		r.sc_data_direction = (dir_);                                   \
		r.nr_segments = (nseg_);                                        \
		for (unsigned i = 0; i < VSCSIIF_SG_TABLESIZE; i++)             \
			r.seg[i] = (struct scsiif_request_segment){             \
				(grant_ref_t)ref, 0, 4096 };                    \
	} while (0)
#define HOST_ERR (XEN_VSCSIIF_RSLT_HOST_ERROR << 16)
	REQ(3, 0, 0, 0, 0, 0, 0, 0);
	expect_rslt(&r, 0, "test_unit_ready_ok");
	REQ(2, 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	expect_rslt(&r, 0, "valid_read_ok");
	REQ(3, 0, 0);
	r.cmd_len = 0;
	expect_sense(&r, 5, 0x20, "cdb_length_0");
	REQ(3, 0, 0);
	r.cmd_len = 17;
	expect_sense(&r, 5, 0x20, "cdb_length_17");
	REQ(3, 0, 0xff, 0, 0, 0, 0, 0);
	expect_sense(&r, 5, 0x20, "unknown_opcode");
	REQ(3, 0, 0xc5, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_sense(&r, 5, 0x20, "vendor_opcode");
	REQ(2, 1, 0x28, 0, 0xff, 0xff, 0xff, 0xf0, 0, 0, 8, 0);
	expect_sense(&r, 5, 0x21, "read_past_the_image");
	REQ(2, 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 16, 0); /* 8 KiB into one page */
	expect_sense(&r, 5, 0x24, "transfer_larger_than_buffer");
	REQ(2, 27, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	expect_rslt(&r, HOST_ERR, "27_direct_segments");
	REQ(2, VSCSIIF_SG_GRANT | 27, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	expect_rslt(&r, HOST_ERR, "27_indirect_pages");
	/* indirect: more segments than feature-sg-grant (2 pages of 512) */
	memset(ind, 0, PAGE_SIZE);
	REQ(2, VSCSIIF_SG_GRANT | 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	r.seg[0] = (struct scsiif_request_segment){ (grant_ref_t)iref, 0, 4096 };
	expect_rslt(&r, HOST_ERR, "indirect_512_segments_over_256");
	REQ(2, VSCSIIF_SG_GRANT | 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	r.seg[0] = (struct scsiif_request_segment){ (grant_ref_t)iref, 0, 12 };
	expect_rslt(&r, HOST_ERR, "indirect_length_not_whole_segments");
	/* an indirect page naming an ungranted ref */
	((struct scsiif_request_segment *)ind)[0] =
		(struct scsiif_request_segment){ 300, 0, 4096 };
	REQ(2, VSCSIIF_SG_GRANT | 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	r.seg[0] = (struct scsiif_request_segment){ (grant_ref_t)iref, 0, 8 };
	expect_rslt(&r, HOST_ERR, "indirect_ungranted_data_ref");
	REQ(2, 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	r.seg[0].gref = 1000000;
	expect_rslt(&r, HOST_ERR, "gref_out_of_range");
	REQ(2, 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	r.seg[0].gref = 300;
	expect_rslt(&r, HOST_ERR, "gref_not_granted");
	REQ(2, 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	r.seg[0].offset = 512;
	expect_rslt(&r, HOST_ERR, "segment_crosses_page");
	REQ(2, 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	r.seg[0].length = 0;
	expect_rslt(&r, HOST_ERR, "segment_length_0");
	REQ(0, 1, 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	expect_rslt(&r, HOST_ERR, "bidirectional");
	REQ(3, 1, 0, 0, 0, 0, 0, 0);
	expect_rslt(&r, HOST_ERR, "segments_with_no_data");
	REQ(3, 0, 0, 0, 0, 0, 0, 0);
	r.act = 9;
	expect_rslt(&r, HOST_ERR, "unknown_action");
	REQ(3, 0, 0, 0, 0, 0, 0, 0);
	r.act = VSCSIIF_ACT_SCSI_SG_PRESET;
	expect_rslt(&r, HOST_ERR, "sg_preset_refused");
	REQ(3, 0, 0, 0, 0, 0, 0, 0);
	r.id = 77;
	expect_rslt(&r, XEN_VSCSIIF_RSLT_HOST_NO_CONNECT << 16, "no_such_target");
	REQ(3, 0, 0, 0, 0, 0, 0, 0);
	r.lun = 99;
	expect_sense(&r, 5, 0x25, "no_such_lun");
	REQ(3, 0, 0);
	r.act = VSCSIIF_ACT_SCSI_ABORT;
	r.ref_rqid = 0x101;
	expect_rslt(&r, XEN_VSCSIIF_RSLT_RESET_SUCCESS, "abort");
	REQ(3, 0, 0);
	r.act = VSCSIIF_ACT_SCSI_RESET;
	expect_rslt(&r, XEN_VSCSIIF_RSLT_RESET_SUCCESS, "reset");
	REQ(2, 1, 0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0);
	expect_rslt(&r, 0, "still_serving");

	/* Producer index far past the ring: the backend disconnects. */
	ring = scsifront_ring(dev);
	ring->sring->req_prod += 3 * RING_SIZE(ring);
	scsifront_notify(dev);
	{
		uint64_t deadline = monotonic_ns() + 5000000000ull;
		int st;

		while ((st = scsifront_backend_state(dev)) == XenbusStateConnected &&
		       monotonic_ns() < deadline)
			sleep_ms(10);
		check(st == XenbusStateClosing || st == XenbusStateClosed,
		      "producer_overflow_disconnects", "backend state %d", st);
	}
	test_finish();
}
