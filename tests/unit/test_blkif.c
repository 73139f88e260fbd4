/* blkif request parsing (pure): table-driven, negative cases as rows. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "services/blkback/blkif_req.h"

#define DISK 1000 /* sectors */

struct row {
	const char *what;
	uint8_t op, nseg;
	uint64_t sector;
	uint8_t first, last; /* for every segment */
	bool ro;
	int want;
	uint64_t want_sectors;
};

static void test_parse_table(void **state)
{
	static const struct row rows[] = {
		{ "read 1 segment", BLKIF_OP_READ, 1, 0, 0, 7, false, 0, 8 },
		{ "write 11 segments", BLKIF_OP_WRITE, 11, 0, 0, 7, false, 0, 88 },
		{ "partial sectors", BLKIF_OP_READ, 2, 10, 3, 5, false, 0, 6 },
		{ "last sector of the disk", BLKIF_OP_READ, 1, DISK - 1, 0, 0, false, 0, 1 },
		{ "flush without data", BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 0, false, 0, 0 },
		{ "barrier without data", BLKIF_OP_WRITE_BARRIER, 0, 0, 0, 0, false, 0, 0 },
		{ "flush on a read-only disk", BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 0, true, 0, 0 },
		{ "read on a read-only disk", BLKIF_OP_READ, 1, 0, 0, 7, true, 0, 8 },
		{ "12 segments", BLKIF_OP_READ, 12, 0, 0, 7, false, -EINVAL, 0 },
		{ "255 segments", BLKIF_OP_WRITE, 255, 0, 0, 7, false, -EINVAL, 0 },
		{ "read of 0 segments", BLKIF_OP_READ, 0, 0, 0, 0, false, -EINVAL, 0 },
		{ "write of 0 segments", BLKIF_OP_WRITE, 0, 0, 0, 0, false, -EINVAL, 0 },
		{ "last_sect 8 (crosses the page)", BLKIF_OP_READ, 1, 0, 0, 8, false, -EINVAL, 0 },
		{ "last_sect 255", BLKIF_OP_READ, 1, 0, 3, 255, false, -EINVAL, 0 },
		{ "first > last", BLKIF_OP_READ, 1, 0, 5, 4, false, -EINVAL, 0 },
		{ "past the end", BLKIF_OP_READ, 1, DISK - 7, 0, 7, false, -EINVAL, 0 },
		{ "sector ~0 (overflow)", BLKIF_OP_READ, 1, ~0ull, 0, 0, false, -EINVAL, 0 },
		{ "sector = disk size", BLKIF_OP_READ, 1, DISK, 0, 0, false, -EINVAL, 0 },
		{ "write on a read-only disk", BLKIF_OP_WRITE, 1, 0, 0, 7, true, -EROFS, 0 },
		{ "barrier on a read-only disk", BLKIF_OP_WRITE_BARRIER, 0, 0, 0, 0, true, -EROFS, 0 },
		{ "flush with data on a read-only disk", BLKIF_OP_FLUSH_DISKCACHE, 1, 0, 0, 7, true, -EROFS, 0 },
		{ "reserved op 4", BLKIF_OP_RESERVED_1, 1, 0, 0, 7, false, -EOPNOTSUPP, 0 },
		{ "op 200", 200, 1, 0, 0, 7, false, -EOPNOTSUPP, 0 },
	};
	const struct blkif_limits rw = { .sectors = DISK, .discard = true,
					 .max_indirect = BLKIF_MAX_INDIRECT_SEGS };
	const struct blkif_limits ro = { .sectors = DISK, .ro = true };
	static struct blkif_req out;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct blkif_request raw = { .operation = r->op, .nr_segments = r->nseg,
					     .id = 0xabc0 + i, .sector_number = r->sector };
		int rc;

		for (unsigned s = 0; s < BLKIF_MAX_SEGMENTS_PER_REQUEST; s++)
			raw.seg[s] = (struct blkif_request_segment){
				.gref = 8 + s, .first_sect = r->first, .last_sect = r->last };
		rc = blkif_req_parse(&raw, r->ro ? &ro : &rw, &out);
		if (rc != r->want)
			fail_msg("%s: got %d, want %d", r->what, rc, r->want);
		/* The id is always there to answer with. */
		assert_int_equal(out.id, 0xabc0 + i);
		if (rc == 0) {
			assert_int_equal(out.nr_sectors, r->want_sectors);
			assert_int_equal(out.nr_segs, r->nseg);
		}
	}
	assert_int_equal(blkif_status_for(0), BLKIF_RSP_OKAY);
	assert_int_equal(blkif_status_for(-EOPNOTSUPP), BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(blkif_status_for(-EINVAL), BLKIF_RSP_ERROR);
	assert_int_equal(blkif_status_for(-EROFS), BLKIF_RSP_ERROR);
}

struct drow {
	const char *what;
	uint64_t sector, n;
	bool ro, feature;
	int want;
};

static void test_discard_table(void **state)
{
	static const struct drow rows[] = {
		{ "whole disk", 0, DISK, false, true, 0 },
		{ "zero sectors", 5, 0, false, true, 0 },
		{ "past the end", 1, DISK, false, true, -EINVAL },
		{ "overflow", 8, ~0ull - 3, false, true, -EINVAL },
		{ "read-only disk", 0, 8, true, true, -EROFS },
		{ "feature off", 0, 8, false, false, -EOPNOTSUPP },
	};
	static struct blkif_req out;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct drow *r = &rows[i];
		struct blkif_limits lim = { .sectors = DISK, .ro = r->ro,
					    .discard = r->feature };
		struct blkif_request raw;
		struct blkif_request_discard d = { .operation = BLKIF_OP_DISCARD,
						   .id = 7, .sector_number = r->sector,
						   .nr_sectors = r->n };
		int rc;

		memset(&raw, 0, sizeof(raw));
		memcpy(&raw, &d, sizeof(d));
		rc = blkif_req_parse(&raw, &lim, &out);
		if (rc != r->want)
			fail_msg("discard %s: got %d, want %d", r->what, rc, r->want);
		if (!rc)
			assert_int_equal(out.nr_sectors, r->n);
	}
}

struct irow {
	const char *what;
	uint8_t iop;
	uint16_t nseg;
	unsigned max;
	bool ro;
	int want;
	unsigned pages;
};

static void test_indirect_table(void **state)
{
	static const struct irow rows[] = {
		{ "read 256 segments", BLKIF_OP_READ, 256, 256, false, 0, 1 },
		{ "write 12 segments", BLKIF_OP_WRITE, 12, 256, false, 0, 1 },
		{ "0 segments", BLKIF_OP_READ, 0, 256, false, -EINVAL, 0 },
		{ "more than offered", BLKIF_OP_READ, 257, 256, false, -EINVAL, 0 },
		{ "65535 segments", BLKIF_OP_READ, 65535, 256, false, -EINVAL, 0 },
		{ "indirect flush", BLKIF_OP_FLUSH_DISKCACHE, 4, 256, false, -EINVAL, 0 },
		{ "indirect indirect", BLKIF_OP_INDIRECT, 4, 256, false, -EINVAL, 0 },
		{ "not offered", BLKIF_OP_READ, 4, 0, false, -EOPNOTSUPP, 0 },
		{ "write on read-only", BLKIF_OP_WRITE, 4, 256, true, -EROFS, 0 },
	};
	static struct blkif_req out;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct irow *r = &rows[i];
		struct blkif_limits lim = { .sectors = 1 << 20, .ro = r->ro,
					    .max_indirect = r->max };
		struct blkif_request raw;
		struct blkif_request_indirect ind = {
			.operation = BLKIF_OP_INDIRECT, .indirect_op = r->iop,
			.nr_segments = r->nseg, .id = 99, .sector_number = 16,
			.indirect_grefs = { 40, 41 } };
		int rc;

		memset(&raw, 0, sizeof(raw));
		memcpy(&raw, &ind, sizeof(ind));
		rc = blkif_req_parse(&raw, &lim, &out);
		if (rc != r->want)
			fail_msg("indirect %s: got %d, want %d", r->what, rc, r->want);
		assert_int_equal(out.id, 99);
		if (rc == 0) {
			assert_int_equal(out.nr_indirect, r->pages);
			assert_int_equal(out.op, r->iop); /* answered as READ/WRITE */
			assert_int_equal(out.indirect_grefs[0], 40);
		}
	}
}

static void test_check_segs(void **state)
{
	static struct blkif_req r;
	struct blkif_limits lim = { .sectors = 64 };

	r.sector = 0;
	r.nr_segs = 2;
	r.seg[0] = (struct blkif_seg){ 8, 0, 7 };
	r.seg[1] = (struct blkif_seg){ 9, 2, 3 };
	assert_int_equal(blkif_req_check_segs(&r, &lim), 0);
	assert_int_equal(r.nr_sectors, 10);
	r.seg[1].last_sect = 9;
	assert_int_equal(blkif_req_check_segs(&r, &lim), -EINVAL);
	r.seg[1].last_sect = 3;
	r.sector = 55;
	assert_int_equal(blkif_req_check_segs(&r, &lim), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_discard_table),
		cmocka_unit_test(test_indirect_table),
		cmocka_unit_test(test_check_segs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
