/* vscsiif request parsing (pure): every accept and reject path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "services/scsiback/vscsiif_req.h"

static struct vscsiif_req out;

static struct vscsiif_request cdb_req(uint8_t dir, uint8_t nseg)
{
	struct vscsiif_request r = { .rqid = 0x1234, .act = VSCSIIF_ACT_SCSI_CDB,
				     .cmd_len = 10, .channel = 1, .id = 2, .lun = 3,
				     .sc_data_direction = dir, .nr_segments = nseg };

	r.cmnd[0] = 0x28;
	for (unsigned i = 0; i < VSCSIIF_SG_TABLESIZE; i++)
		r.seg[i] = (struct scsiif_request_segment){ 100 + i, 0, 4096 };
	return r;
}

static void test_direct(void **state)
{
	struct vscsiif_request r = cdb_req(VSCSIIF_DIR_FROM_DEVICE, 3);

	r.seg[1].offset = 512;
	r.seg[1].length = 3584;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), 0);
	assert_int_equal(out.rqid, 0x1234);
	assert_int_equal(out.nr_segs, 3);
	assert_int_equal(out.nr_indirect, 0);
	assert_int_equal(out.bytes, 4096 + 3584 + 4096);
	assert_int_equal(out.cdb[0], 0x28);
	assert_int_equal(out.cmd_len, 10);
	assert_int_equal(out.channel, 1);
	assert_int_equal(out.id, 2);
	assert_int_equal(out.lun, 3);
	assert_int_equal(out.seg[2].gref, 102);
	r = cdb_req(VSCSIIF_DIR_TO_DEVICE, VSCSIIF_SG_TABLESIZE);
	assert_int_equal(vscsiif_req_parse(&r, 0, &out), 0);
	assert_int_equal(out.bytes, VSCSIIF_SG_TABLESIZE * 4096);
	r = cdb_req(VSCSIIF_DIR_NONE, 0);
	assert_int_equal(vscsiif_req_parse(&r, 0, &out), 0);
	assert_int_equal(out.bytes, 0);
	/* The target, not the parser, answers bad CDB lengths (with sense). */
	r = cdb_req(VSCSIIF_DIR_NONE, 0);
	r.cmd_len = 0;
	assert_int_equal(vscsiif_req_parse(&r, 0, &out), 0);
	r.cmd_len = 200;
	assert_int_equal(vscsiif_req_parse(&r, 0, &out), 0);
	assert_int_equal(out.cmd_len, 200);
}

static void test_rejects(void **state)
{
	struct vscsiif_request r;

	r = cdb_req(VSCSIIF_DIR_FROM_DEVICE, VSCSIIF_SG_TABLESIZE + 1);
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	assert_int_equal(out.rqid, 0x1234); /* still answerable */
	r = cdb_req(VSCSIIF_DIR_FROM_DEVICE, 1);
	r.seg[0].offset = 1;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r = cdb_req(VSCSIIF_DIR_FROM_DEVICE, 1);
	r.seg[0].length = 0;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r = cdb_req(VSCSIIF_DIR_FROM_DEVICE, 1);
	r.seg[0] = (struct scsiif_request_segment){ 1, 4095, 2 };
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r = cdb_req(VSCSIIF_DIR_BIDIRECTIONAL, 1);
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r = cdb_req(7, 1);
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r = cdb_req(VSCSIIF_DIR_NONE, 1);
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r = cdb_req(VSCSIIF_DIR_NONE, 0);
	r.act = VSCSIIF_ACT_SCSI_SG_PRESET;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EOPNOTSUPP);
	r.act = 0;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EOPNOTSUPP);
	r.act = 200;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EOPNOTSUPP);
	assert_int_equal(out.act, 200);
}

static void test_indirect(void **state)
{
	struct vscsiif_request r = cdb_req(VSCSIIF_DIR_FROM_DEVICE, VSCSIIF_SG_GRANT | 2);

	r.seg[0] = (struct scsiif_request_segment){ 7, 0, 4096 };  /* 512 */
	r.seg[1] = (struct scsiif_request_segment){ 8, 0, 8 };     /* 1 */
	assert_int_equal(vscsiif_req_parse(&r, 1024, &out), -EINVAL); /* > 256 */
	r.seg[0].length = 128 * 8;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), 0);
	assert_int_equal(out.nr_indirect, 2);
	assert_int_equal(out.nr_segs, 129);
	assert_int_equal(out.indirect[1].gref, 8);
	/* not offered */
	assert_int_equal(vscsiif_req_parse(&r, 0, &out), -EINVAL);
	/* more than the backend's feature-sg-grant */
	assert_int_equal(vscsiif_req_parse(&r, 100, &out), -EINVAL);
	/* zero pages, too many pages, partial segments, page crossing */
	r.nr_segments = VSCSIIF_SG_GRANT;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r.nr_segments = VSCSIIF_SG_GRANT | (VSCSIIF_SG_TABLESIZE + 1);
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r.nr_segments = VSCSIIF_SG_GRANT | 1;
	r.seg[0].length = 12;
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	r.seg[0] = (struct scsiif_request_segment){ 7, 4090, 16 };
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), -EINVAL);
	/* the fetched segments are checked like direct ones */
	r.seg[0] = (struct scsiif_request_segment){ 7, 0, 16 };
	assert_int_equal(vscsiif_req_parse(&r, VSCSIIF_MAX_SEGS, &out), 0);
	out.seg[0] = (struct vscsiif_seg){ 1, 0, 4096 };
	out.seg[1] = (struct vscsiif_seg){ 2, 100, 100 };
	assert_int_equal(vscsiif_req_check_segs(&out), 0);
	assert_int_equal(out.bytes, 4196);
	out.seg[1] = (struct vscsiif_seg){ 2, 4000, 100 };
	assert_int_equal(vscsiif_req_check_segs(&out), -EINVAL);
}

static void test_task_management(void **state)
{
	struct vscsiif_request r = { .rqid = 9, .act = VSCSIIF_ACT_SCSI_ABORT,
				     .channel = 1, .id = 2, .lun = 3, .ref_rqid = 5,
				     .nr_segments = 200 };

	assert_int_equal(vscsiif_req_parse(&r, 0, &out), 0);
	assert_int_equal(out.ref_rqid, 5);
	assert_int_equal(out.nr_segs, 0); /* segments ignored */
	r.act = VSCSIIF_ACT_SCSI_RESET;
	assert_int_equal(vscsiif_req_parse(&r, 0, &out), 0);
	assert_int_equal(out.act, VSCSIIF_ACT_SCSI_RESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_task_management),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
