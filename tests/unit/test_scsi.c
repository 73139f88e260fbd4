/*
 * The SCSI target (services/scsi): every command it implements and each
 * sense code, on in-memory images (scsi_fixture.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scsi_fixture.h"

#define DISK_BLOCKS 2048 /* 1 MiB of 512-byte blocks */
#define CD_BLOCKS 100

static struct scsi_lun disk, rodisk, cd;
static struct scsi_host host;
static struct mem_image disk_img, ro_img, cd_img;
static uint8_t buf[2 * SCSI_MAX_XFER];
static struct scsi_cmd cmd;

static const struct scsi_addr A_DISK = { 0, 0, 0, 0 }, A_RO = { 0, 0, 0, 1 },
			      A_CD = { 0, 0, 1, 0 };

static int setup(void **state)
{
	memset(&host, 0, sizeof(host));
	scsi_lun_init(&disk, SCSI_MEDIA_DISK, 0x1234);
	disk.addr = A_DISK;
	disk.blocks = DISK_BLOCKS;
	disk.discard = true;
	scsi_lun_init(&rodisk, SCSI_MEDIA_DISK, 0x5678);
	rodisk.addr = A_RO;
	rodisk.blocks = DISK_BLOCKS;
	rodisk.ro = true;
	scsi_lun_init(&cd, SCSI_MEDIA_CDROM, 0x9abc);
	cd.addr = A_CD;
	cd.blocks = CD_BLOCKS;
	host.lun[host.nr++] = &disk;
	host.lun[host.nr++] = &rodisk;
	host.lun[host.nr++] = &cd;
	disk_img = (struct mem_image){ .buf = calloc(1, DISK_BLOCKS * 512), .size = DISK_BLOCKS * 512 };
	ro_img = (struct mem_image){ .buf = calloc(1, DISK_BLOCKS * 512), .size = DISK_BLOCKS * 512 };
	cd_img = (struct mem_image){ .buf = malloc(CD_BLOCKS * 2048), .size = CD_BLOCKS * 2048 };
	for (unsigned i = 0; i < CD_BLOCKS * 2048; i++)
		cd_img.buf[i] = (uint8_t)(i * 7 + i / 2048);
	return 0;
}

static int teardown(void **state)
{
	free(disk_img.buf);
	free(ro_img.buf);
	free(cd_img.buf);
	return 0;
}

static struct mem_image *image_of(const struct scsi_addr *a)
{
	return a == &A_DISK ? &disk_img : a == &A_RO ? &ro_img : &cd_img;
}

/* Runs cdb (len bytes) with an xfer-byte buffer in `buf`. */
static struct scsi_cmd *run(const struct scsi_addr *a, const uint8_t *cdb,
			    unsigned len, bool out, uint32_t xfer)
{
	struct scsi_image img = mem_image_ops(image_of(a));

	assert_true(scsi_exec_sync(&host, a, cdb, len, out, buf, xfer, &img, &cmd));
	return &cmd;
}

#define RUN(a, out, xfer, ...)                                               \
	({                                                                   \
		static const uint8_t cdb_[] = { __VA_ARGS__ };               \
		run(a, cdb_, sizeof(cdb_), out, xfer);                       \
	})

static void expect_good(const struct scsi_cmd *c)
{
	if (c->status != SCSI_GOOD)
		fail_msg("status %#x sense %x/%02x/%02x", c->status, c->sense[2],
			 c->sense[12], c->sense[13]);
}

static void expect_sense(const struct scsi_cmd *c, struct scsi_sense_code s)
{
	assert_int_equal(c->status, SCSI_CHECK_CONDITION);
	assert_int_equal(c->sense_len, SCSI_SENSE_LEN);
	assert_int_equal(c->sense[0], 0x70);
	assert_int_equal(c->sense[7], 10);
	if (c->sense[2] != s.key || c->sense[12] != s.asc || c->sense[13] != s.ascq)
		fail_msg("sense %x/%02x/%02x, want %x/%02x/%02x", c->sense[2],
			 c->sense[12], c->sense[13], s.key, s.asc, s.ascq);
}

static void test_test_unit_ready(void **state)
{
	expect_good(RUN(&A_DISK, false, 0, 0x00, 0, 0, 0, 0, 0));
	disk.stopped = true;
	expect_sense(RUN(&A_DISK, false, 0, 0x00, 0, 0, 0, 0, 0), SENSE_NEED_START);
	expect_good(RUN(&A_DISK, false, 0, 0x1b, 0, 0, 0, 0x01, 0)); /* START */
	expect_good(RUN(&A_DISK, false, 0, 0x00, 0, 0, 0, 0, 0));
}

static void test_inquiry(void **state)
{
	struct scsi_cmd *c = RUN(&A_DISK, false, 96, 0x12, 0, 0, 0, 96, 0);

	expect_good(c);
	assert_int_equal(c->din_len, 36);
	assert_int_equal(c->residual, 60);
	assert_int_equal(buf[0], 0x00);
	assert_memory_equal(buf + 8, "PVISOR  VIRTUAL DISK    ", 24);
	c = RUN(&A_CD, false, 96, 0x12, 0, 0, 0, 96, 0);
	assert_int_equal(buf[0], 0x05);
	assert_int_equal(buf[1], 0x80); /* removable */
	/* allocation length truncates */
	c = RUN(&A_DISK, false, 96, 0x12, 0, 0, 0, 5, 0);
	assert_int_equal(c->din_len, 5);
	assert_int_equal(c->residual, 91);
	/* CMDDT, and a page code without EVPD */
	c = RUN(&A_DISK, false, 96, 0x12, 0x02, 0, 0, 96, 0);
	expect_sense(c, SENSE_INVALID_FIELD);
	assert_int_equal(c->sense[15], 0xc0);
	assert_int_equal(c->sense[17], 1);
	c = RUN(&A_DISK, false, 96, 0x12, 0, 0x80, 0, 96, 0);
	expect_sense(c, SENSE_INVALID_FIELD);
	assert_int_equal(c->sense[17], 2);
}

static void test_inquiry_vpd(void **state)
{
	static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	struct scsi_cmd *c = RUN(&A_DISK, false, 255, 0x12, 1, 0x00, 0, 255, 0);

	expect_good(c);
	assert_int_equal(buf[3], 6);
	assert_memory_equal(buf + 4, pages, 6);
	for (unsigned i = 0; i < 6; i++) {
		uint8_t cdb[6] = { 0x12, 1, pages[i], 0, 255, 0 };

		c = run(&A_DISK, cdb, 6, false, 255);
		expect_good(c);
		assert_int_equal(buf[1], pages[i]);
		assert_int_equal(c->din_len, 4u + scsi_be16(buf + 2));
	}
	c = RUN(&A_DISK, false, 255, 0x12, 1, 0x80, 0, 255, 0);
	assert_memory_equal(buf + 4, disk.serial, strlen(disk.serial));
	c = RUN(&A_DISK, false, 255, 0x12, 1, 0x83, 0, 255, 0);
	assert_int_equal(buf[5], 0x03);
	assert_int_equal(scsi_be64(buf + 8), disk.naa);
	assert_int_equal(buf[8] >> 4, 5); /* NAA 5 */
	c = RUN(&A_DISK, false, 255, 0x12, 1, 0xb0, 0, 255, 0);
	assert_int_equal(scsi_be32(buf + 8), SCSI_MAX_XFER / 512);
	assert_int_equal(scsi_be32(buf + 24), SCSI_MAX_UNMAP_DESC);
	c = RUN(&A_DISK, false, 255, 0x12, 1, 0xb1, 0, 255, 0);
	assert_int_equal(scsi_be16(buf + 4), 1);
	c = RUN(&A_DISK, false, 255, 0x12, 1, 0xb2, 0, 255, 0);
	assert_int_equal(buf[5] & 0x80, 0x80); /* LBPU */
	/* A CD has no block-device pages; an unknown page */
	expect_sense(RUN(&A_CD, false, 255, 0x12, 1, 0xb0, 0, 255, 0), SENSE_INVALID_FIELD);
	expect_sense(RUN(&A_DISK, false, 255, 0x12, 1, 0x99, 0, 255, 0), SENSE_INVALID_FIELD);
	c = RUN(&A_CD, false, 255, 0x12, 1, 0x00, 0, 255, 0);
	assert_int_equal(buf[3], 3);
}

static void test_read_capacity(void **state)
{
	struct scsi_cmd *c = RUN(&A_DISK, false, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);

	expect_good(c);
	assert_int_equal(scsi_be32(buf), DISK_BLOCKS - 1);
	assert_int_equal(scsi_be32(buf + 4), 512);
	c = RUN(&A_CD, false, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(scsi_be32(buf), CD_BLOCKS - 1);
	assert_int_equal(scsi_be32(buf + 4), 2048);
	/* LBA without PMI */
	expect_sense(RUN(&A_DISK, false, 8, 0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0),
		     SENSE_INVALID_FIELD);
	c = RUN(&A_DISK, false, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	expect_good(c);
	assert_int_equal(c->din_len, 32);
	assert_int_equal(scsi_be64(buf), DISK_BLOCKS - 1);
	assert_int_equal(buf[14], 0xc0); /* LBPME | LBPRZ */
	c = RUN(&A_RO, false, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	assert_int_equal(buf[14], 0);
	expect_sense(RUN(&A_DISK, false, 32, 0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0),
		     SENSE_INVALID_FIELD);
}

static void test_read_write_forms(void **state)
{
	struct scsi_cmd *c;

	/* WRITE(6) LBA 3, 1 block; READ(10) it back */
	memset(buf, 0xa1, 512);
	expect_good(RUN(&A_DISK, true, 512, 0x0a, 0, 0, 3, 1, 0));
	assert_int_equal(disk_img.buf[3 * 512], 0xa1);
	memset(buf, 0, 512);
	c = RUN(&A_DISK, false, 512, 0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0);
	expect_good(c);
	assert_int_equal(c->din_len, 512);
	assert_int_equal(buf[511], 0xa1);
	/* WRITE(10) 2 blocks at 10, READ(6) */
	memset(buf, 0xb2, 1024);
	expect_good(RUN(&A_DISK, true, 1024, 0x2a, 0, 0, 0, 0, 10, 0, 0, 2, 0));
	c = RUN(&A_DISK, false, 1024, 0x08, 0, 0, 10, 2, 0);
	expect_good(c);
	assert_int_equal(buf[1023], 0xb2);
	/* WRITE(12), READ(16), with a larger buffer: residual */
	memset(buf, 0xc3, 512);
	expect_good(RUN(&A_DISK, true, 512, 0xaa, 0, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0));
	c = RUN(&A_DISK, false, 4096, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0);
	expect_good(c);
	assert_int_equal(c->residual, 4096 - 512);
	assert_int_equal(buf[0], 0xc3);
	/* WRITE(16), READ(12) */
	memset(buf, 0xd4, 512);
	expect_good(RUN(&A_DISK, true, 512, 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0));
	c = RUN(&A_DISK, false, 512, 0xa8, 0, 0, 0, 0, 30, 0, 0, 0, 1, 0, 0);
	assert_int_equal(buf[100], 0xd4);
	/* READ(6) with 0 blocks is 256 blocks */
	c = RUN(&A_DISK, false, 256 * 512, 0x08, 0, 0, 0, 0, 0);
	expect_good(c);
	assert_int_equal(c->din_len, 256 * 512);
	/* READ(10) of 0 blocks: nothing moves */
	c = RUN(&A_DISK, false, 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_good(c);
	assert_int_equal(c->din_len, 0);
}

static void test_read_write_errors(void **state)
{
	unsigned flushes = disk_img.flushes;

	/* The last block is fine; one past, or a range crossing the end, not */
	expect_good(RUN(&A_DISK, false, 512, 0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 1, 0));
	expect_sense(RUN(&A_DISK, false, 512, 0x28, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0),
		     SENSE_LBA_OUT_OF_RANGE);
	expect_sense(RUN(&A_DISK, false, 1024, 0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0),
		     SENSE_LBA_OUT_OF_RANGE);
	expect_sense(RUN(&A_DISK, false, 512, 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			 0xff, 0xff, 0, 0, 0, 1, 0, 0), SENSE_LBA_OUT_OF_RANGE);
	/* Writes on a read-only LUN and a CD */
	expect_sense(RUN(&A_RO, true, 512, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_WRITE_PROTECTED);
	expect_sense(RUN(&A_CD, true, 2048, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_WRITE_PROTECTED);
	/* A buffer smaller than the transfer; more than the maximum */
	expect_sense(RUN(&A_DISK, false, 511, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_INVALID_FIELD);
	disk.blocks = 4 * DISK_BLOCKS; /* refused before any I/O */
	expect_sense(RUN(&A_DISK, false, 2 * SCSI_MAX_XFER, 0x28, 0, 0, 0, 0, 0, 0,
			 0x08, 0x01, 0), SENSE_INVALID_FIELD);
	disk.blocks = DISK_BLOCKS;
	/* RDPROTECT */
	expect_sense(RUN(&A_DISK, false, 512, 0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_INVALID_FIELD);
	/* FUA: durable before GOOD */
	expect_good(RUN(&A_DISK, true, 512, 0x2a, 0x08, 0, 0, 0, 0, 0, 0, 1, 0));
	assert_int_equal(disk_img.flushes, flushes + 1);
	/* Host I/O errors */
	disk_img.fail = -EIO;
	expect_sense(RUN(&A_DISK, false, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_READ_ERROR);
	expect_sense(RUN(&A_DISK, true, 512, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_WRITE_ERROR);
	disk_img.fail = -ENOSPC;
	expect_sense(RUN(&A_DISK, true, 512, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_SPACE_FULL);
	disk_img.fail = 0;
}

static void test_write_and_verify(void **state)
{
	unsigned flushes = disk_img.flushes;

	memset(buf, 0x5a, 1024);
	expect_good(RUN(&A_DISK, true, 1024, 0x2e, 0, 0, 0, 0, 40, 0, 0, 2, 0));
	assert_int_equal(disk_img.flushes, flushes + 1);
	assert_int_equal(disk_img.buf[40 * 512 + 1023], 0x5a);
	expect_good(RUN(&A_DISK, true, 512, 0xae, 0, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0));
	expect_good(RUN(&A_DISK, true, 512, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0));
	expect_sense(RUN(&A_RO, true, 512, 0x2e, 0, 0, 0, 0, 40, 0, 0, 1, 0),
		     SENSE_WRITE_PROTECTED);
	expect_sense(RUN(&A_DISK, true, 512, 0x2e, 0x04, 0, 0, 0, 40, 0, 0, 1, 0),
		     SENSE_INVALID_FIELD);
	/* VERIFY: BYTCHK 0 checks the range, 1 compares */
	expect_good(RUN(&A_DISK, false, 0, 0x2f, 0, 0, 0, 0, 40, 0, 0, 2, 0));
	expect_sense(RUN(&A_DISK, false, 0, 0x2f, 0, 0, 0, 0x08, 0, 0, 0, 2, 0),
		     SENSE_LBA_OUT_OF_RANGE);
	memset(buf, 0x5a, 1024);
	expect_good(RUN(&A_DISK, true, 1024, 0x2f, 0x02, 0, 0, 0, 40, 0, 0, 2, 0));
	buf[700] = 0;
	expect_sense(RUN(&A_DISK, true, 1024, 0x2f, 0x02, 0, 0, 0, 40, 0, 0, 2, 0),
		     SENSE_MISCOMPARE_VERIFY);
	expect_good(RUN(&A_DISK, true, 512, 0x8f, 0x02, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0));
	expect_sense(RUN(&A_DISK, true, 512, 0x2f, 0x06, 0, 0, 0, 40, 0, 0, 1, 0),
		     SENSE_INVALID_FIELD);
}

static void test_synchronize_cache(void **state)
{
	unsigned flushes = disk_img.flushes;

	expect_good(RUN(&A_DISK, false, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0));
	expect_good(RUN(&A_DISK, false, 0, 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
	assert_int_equal(disk_img.flushes, flushes + 2);
	expect_sense(RUN(&A_DISK, false, 0, 0x35, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0),
		     SENSE_LBA_OUT_OF_RANGE);
	expect_sense(RUN(&A_DISK, false, 0, 0x35, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0),
		     SENSE_LBA_OUT_OF_RANGE);
}

static void put_unmap(uint8_t *p, unsigned n, uint64_t lba, uint32_t blocks)
{
	memset(p, 0, 8 + 16 * n);
	scsi_put16(p, (uint16_t)(6 + 16 * n));
	scsi_put16(p + 2, (uint16_t)(16 * n));
	for (unsigned i = 0; i < n; i++) {
		scsi_put64(p + 8 + 16 * i, lba + 8 * i);
		scsi_put32(p + 16 + 16 * i, blocks);
	}
}

static void test_unmap(void **state)
{
	unsigned d0 = disk_img.discards;

	memset(disk_img.buf + 100 * 512, 0xee, 16 * 512);
	put_unmap(buf, 2, 100, 4);
	expect_good(RUN(&A_DISK, true, 40, 0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0));
	assert_int_equal(disk_img.discards, d0 + 2);
	assert_int_equal(disk_img.buf[100 * 512], 0);
	assert_int_equal(disk_img.buf[104 * 512], 0xee); /* not in a range */
	assert_int_equal(disk_img.buf[108 * 512 + 2047], 0);
	put_unmap(buf, 1, DISK_BLOCKS - 1, 2);
	expect_sense(RUN(&A_DISK, true, 24, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
		     SENSE_LBA_OUT_OF_RANGE);
	put_unmap(buf, 1, 0, 1);
	expect_sense(RUN(&A_RO, true, 24, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
		     SENSE_WRITE_PROTECTED);
	/* parameter list longer than sent; block descriptor length beyond it */
	expect_sense(RUN(&A_DISK, true, 16, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
		     SENSE_PARAM_LIST_LENGTH);
	scsi_put16(buf + 2, 32);
	expect_sense(RUN(&A_DISK, true, 24, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
		     SENSE_PARAM_LIST_LENGTH);
	put_unmap(buf, SCSI_MAX_UNMAP_DESC + 1, 0, 1);
	expect_sense(RUN(&A_DISK, true, 8 + 16 * (SCSI_MAX_UNMAP_DESC + 1), 0x42, 0, 0, 0,
			 0, 0, 0, 0x04, 0x18, 0), SENSE_INVALID_PARAM);
	expect_sense(RUN(&A_DISK, true, 24, 0x42, 1, 0, 0, 0, 0, 0, 0, 24, 0),
		     SENSE_INVALID_FIELD);
}

static void test_write_same(void **state)
{
	unsigned d0 = disk_img.discards;

	/* UNMAP with a zero block punches */
	memset(disk_img.buf + 200 * 512, 0xee, 8 * 512);
	memset(buf, 0, 512);
	expect_good(RUN(&A_DISK, true, 512, 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0,
			8, 0, 0));
	assert_int_equal(disk_img.discards, d0 + 1);
	assert_int_equal(disk_img.buf[207 * 512], 0);
	/* Without UNMAP: the pattern is written to every block */
	memset(buf, 0x77, 512);
	expect_good(RUN(&A_DISK, true, 512, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 4,
			0, 0));
	assert_int_equal(disk_img.buf[203 * 512 + 511], 0x77);
	assert_int_equal(disk_img.buf[204 * 512], 0);
	expect_good(RUN(&A_DISK, true, 512, 0x41, 0, 0, 0, 0, 210, 0, 0, 2, 0));
	assert_int_equal(disk_img.buf[211 * 512], 0x77);
	/* NDOB: zeroes without a data-out buffer */
	expect_good(RUN(&A_DISK, false, 0, 0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0,
			4, 0, 0));
	assert_int_equal(disk_img.buf[203 * 512 + 511], 0);
	expect_sense(RUN(&A_DISK, true, 512, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 0,
			 0, 0), SENSE_INVALID_FIELD);
	expect_sense(RUN(&A_DISK, true, 512, 0x93, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0,
			 2, 0, 0), SENSE_LBA_OUT_OF_RANGE);
	expect_sense(RUN(&A_DISK, true, 100, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
			 0), SENSE_PARAM_LIST_LENGTH);
	expect_sense(RUN(&A_RO, true, 512, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
		     SENSE_WRITE_PROTECTED);
}

static void test_mode_sense(void **state)
{
	struct scsi_cmd *c = RUN(&A_DISK, false, 255, 0x1a, 0, 0x08, 0, 255, 0);

	expect_good(c);
	assert_int_equal(c->din_len, 4 + 8 + 20);
	assert_int_equal(buf[0], c->din_len - 1);
	assert_int_equal(buf[2] & 0x80, 0);   /* not WP */
	assert_int_equal(buf[3], 8);          /* block descriptor */
	assert_int_equal(scsi_be32(buf + 4), DISK_BLOCKS);
	assert_int_equal(buf[12], 0x08);
	assert_int_equal(buf[14] & 0x04, 0x04); /* WCE */
	c = RUN(&A_RO, false, 255, 0x1a, 0x08, 0x3f, 0, 255, 0); /* DBD, all */
	expect_good(c);
	assert_int_equal(buf[2] & 0x80, 0x80);  /* WP */
	assert_int_equal(buf[3], 0);
	assert_int_equal(c->din_len, 4 + 20 + 12);
	assert_int_equal(buf[24], 0x0a);
	c = RUN(&A_DISK, false, 255, 0x5a, 0x10, 0x0a, 0, 0, 0, 0, 0, 255, 0); /* LLBAA */
	expect_good(c);
	assert_int_equal(scsi_be16(buf + 6), 16);
	assert_int_equal(scsi_be64(buf + 8), DISK_BLOCKS);
	assert_int_equal(buf[24], 0x0a);
	c = RUN(&A_RO, false, 255, 0x5a, 0, 0x08, 0, 0, 0, 0, 0, 255, 0);
	assert_int_equal(buf[3] & 0x80, 0x80);
	/* changeable values: only WCE */
	c = RUN(&A_DISK, false, 255, 0x1a, 0x08, 0x48, 0, 255, 0);
	assert_int_equal(buf[6], 0x04);
	expect_sense(RUN(&A_DISK, false, 255, 0x1a, 0, 0xc8, 0, 255, 0),
		     SENSE_SAVING_NOT_SUPPORTED);
	expect_sense(RUN(&A_DISK, false, 255, 0x1a, 0, 0x19, 0, 255, 0), SENSE_INVALID_FIELD);
	expect_sense(RUN(&A_DISK, false, 255, 0x1a, 0, 0x08, 0x01, 255, 0), SENSE_INVALID_FIELD);
	c = RUN(&A_CD, false, 255, 0x5a, 0x08, 0x2a, 0, 0, 0, 0, 0, 255, 0);
	expect_good(c);
	assert_int_equal(buf[8], 0x2a);
	assert_int_equal(buf[3] & 0x80, 0x80);
}

static void test_mode_select(void **state)
{
	unsigned flushes;
	struct scsi_cmd *c = RUN(&A_DISK, false, 255, 0x1a, 0x08, 0x08, 0, 255, 0);
	uint8_t page[24];

	/* Clear WCE with MODE SELECT(6): the page as read, header zeroed */
	memcpy(page, buf, 24);
	page[0] = 0;
	page[2] = 0;
	page[4 + 2] &= (uint8_t)~0x04;
	memcpy(buf, page, 24);
	expect_good(RUN(&A_DISK, true, 24, 0x15, 0x10, 0, 0, 24, 0));
	assert_false(disk.wce);
	flushes = disk_img.flushes;
	expect_good(RUN(&A_DISK, true, 512, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0));
	assert_int_equal(disk_img.flushes, flushes + 1); /* write-through */
	/* A bit that is not changeable */
	memcpy(buf, page, 24);
	buf[4 + 3] = 0x01;
	expect_sense(RUN(&A_DISK, true, 24, 0x15, 0x10, 0, 0, 24, 0), SENSE_INVALID_PARAM);
	/* WCE back on with MODE SELECT(10) */
	memset(buf, 0, 8);
	memcpy(buf + 8, page + 4, 20);
	buf[8 + 2] |= 0x04;
	expect_good(RUN(&A_DISK, true, 28, 0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0));
	assert_true(disk.wce);
	expect_sense(RUN(&A_DISK, true, 24, 0x15, 0x11, 0, 0, 24, 0),
		     SENSE_SAVING_NOT_SUPPORTED);
	expect_sense(RUN(&A_DISK, true, 24, 0x15, 0x00, 0, 0, 24, 0), SENSE_INVALID_FIELD);
	expect_sense(RUN(&A_DISK, true, 10, 0x15, 0x10, 0, 0, 24, 0),
		     SENSE_PARAM_LIST_LENGTH);
	(void)c;
}

static void test_report_luns(void **state)
{
	struct scsi_cmd *c = RUN(&A_DISK, false, 64, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0);

	expect_good(c);
	assert_int_equal(scsi_be32(buf), 16); /* LUN 0 and 1 of target 0 */
	assert_int_equal(c->din_len, 24);
	assert_int_equal(buf[8 + 1], 0);
	assert_int_equal(buf[16 + 1], 1);
	c = RUN(&A_CD, false, 64, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	assert_int_equal(scsi_be32(buf), 8);
	expect_sense(RUN(&A_DISK, false, 64, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0),
		     SENSE_INVALID_FIELD);
	expect_sense(RUN(&A_DISK, false, 64, 0xa0, 0, 5, 0, 0, 0, 0, 0, 0, 64, 0, 0),
		     SENSE_INVALID_FIELD);
}

static void test_addressing(void **state)
{
	static const uint8_t tur[6] = { 0 }, inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	const struct scsi_addr no_target = { 0, 0, 5, 0 }, no_lun = { 0, 0, 0, 7 };
	struct scsi_image img = mem_image_ops(&disk_img);
	uint8_t bad[16] = { 0xff };

	assert_false(scsi_exec_sync(&host, &no_target, tur, 6, false, buf, 0, &img, &cmd));
	assert_true(scsi_exec_sync(&host, &no_lun, tur, 6, false, buf, 0, &img, &cmd));
	expect_sense(&cmd, SENSE_LUN_NOT_SUPPORTED);
	assert_true(scsi_exec_sync(&host, &no_lun, inq, 6, false, buf, 36, &img, &cmd));
	expect_good(&cmd);
	assert_int_equal(buf[0], 0x7f);
	/* CDB shorter than its group, none at all, unknown opcodes */
	expect_sense(run(&A_DISK, (const uint8_t[]){ 0x28, 0, 0 }, 3, false, 0),
		     SENSE_INVALID_FIELD);
	expect_sense(run(&A_DISK, tur, 0, false, 0), SENSE_INVALID_OPCODE);
	expect_sense(run(&A_DISK, bad, 16, false, 0), SENSE_INVALID_OPCODE);
	expect_sense(RUN(&A_DISK, false, 0, 0x43, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		     SENSE_INVALID_OPCODE); /* READ TOC on a disk */
	expect_sense(RUN(&A_CD, false, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		     SENSE_INVALID_OPCODE); /* UNMAP on a CD */
	expect_sense(RUN(&A_DISK, false, 0, 0x01, 0, 0, 0, 0, 0), SENSE_INVALID_OPCODE);
	/* vendor-specific and reserved groups: whatever the length */
	expect_sense(RUN(&A_DISK, false, 0, 0xc5, 0, 0, 0, 0, 0), SENSE_INVALID_OPCODE);
	expect_sense(RUN(&A_DISK, false, 0, 0x7f, 0, 0, 0, 0, 0), SENSE_INVALID_OPCODE);
}

static void test_request_sense_and_start_stop(void **state)
{
	struct scsi_cmd *c = RUN(&A_DISK, false, 18, 0x03, 0, 0, 0, 18, 0);

	expect_good(c);
	assert_int_equal(buf[0], 0x70);
	assert_int_equal(buf[2], SK_NO_SENSE);
	expect_good(RUN(&A_DISK, false, 0, 0x1b, 0, 0, 0, 0x00, 0)); /* STOP */
	expect_sense(RUN(&A_DISK, false, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		     SENSE_NEED_START);
	RUN(&A_DISK, false, 18, 0x03, 0, 0, 0, 18, 0);
	assert_int_equal(buf[12], 0x04);
	expect_good(RUN(&A_DISK, false, 0, 0x1b, 0, 0, 0, 0x01, 0));
	expect_sense(RUN(&A_DISK, false, 0, 0x1b, 0, 0, 0, 0x04, 0), SENSE_INVALID_FIELD);
	expect_good(RUN(&A_DISK, false, 0, 0x1e, 0, 0, 0, 1, 0));
	assert_true(disk.prevent);
	expect_good(RUN(&A_DISK, false, 0, 0x1e, 0, 0, 0, 0, 0));
	expect_sense(RUN(&A_DISK, false, 0, 0x1e, 0, 0, 0, 2, 0), SENSE_INVALID_FIELD);
}

static void test_cdrom_read(void **state)
{
	struct scsi_cmd *c = RUN(&A_CD, false, 4096, 0x28, 0, 0, 0, 0, 5, 0, 0, 2, 0);

	expect_good(c);
	assert_int_equal(c->din_len, 4096);
	assert_memory_equal(buf, cd_img.buf + 5 * 2048, 4096);
	c = RUN(&A_CD, false, 2048, 0xa8, 0, 0, 0, 0, CD_BLOCKS - 1, 0, 0, 0, 1, 0, 0);
	expect_good(c);
	assert_memory_equal(buf, cd_img.buf + (CD_BLOCKS - 1) * 2048, 2048);
	expect_sense(RUN(&A_CD, false, 2048, 0x28, 0, 0, 0, 0, CD_BLOCKS, 0, 0, 1, 0),
		     SENSE_LBA_OUT_OF_RANGE);
	expect_sense(RUN(&A_CD, false, 2048, 0x08, 0, 0, 0, 1, 0), SENSE_INVALID_OPCODE);
}

static void test_cdrom_toc_config_disc(void **state)
{
	struct scsi_cmd *c = RUN(&A_CD, false, 100, 0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0);

	expect_good(c);
	assert_int_equal(scsi_be16(buf), 18);
	assert_int_equal(buf[6], 1);
	assert_int_equal(buf[5], 0x14);
	assert_int_equal(buf[14], 0xaa);
	assert_int_equal(scsi_be32(buf + 16), CD_BLOCKS);
	c = RUN(&A_CD, false, 100, 0x43, 0x02, 0, 0, 0, 0, 0, 0, 100, 0); /* MSF */
	assert_int_equal(buf[9], 0);
	assert_int_equal(buf[10], 2);  /* 150 frames: 00:02:00 */
	assert_int_equal(buf[11], 0);
	c = RUN(&A_CD, false, 100, 0x43, 0, 1, 0, 0, 0, 0, 0, 100, 0); /* sessions */
	expect_good(c);
	assert_int_equal(scsi_be16(buf), 10);
	expect_sense(RUN(&A_CD, false, 100, 0x43, 0, 0, 0, 0, 0, 2, 0, 100, 0),
		     SENSE_INVALID_FIELD);
	expect_sense(RUN(&A_CD, false, 100, 0x43, 0, 5, 0, 0, 0, 0, 0, 100, 0),
		     SENSE_INVALID_FIELD);
	c = RUN(&A_CD, false, 255, 0x46, 0, 0, 0, 0, 0, 0, 0, 255, 0);
	expect_good(c);
	assert_int_equal(scsi_be16(buf + 6), 0x0008); /* CD-ROM */
	assert_int_equal(scsi_be32(buf), c->din_len - 4);
	assert_int_equal(scsi_be16(buf + 8), 0x0000);
	c = RUN(&A_CD, false, 255, 0x46, 2, 0, 0x10, 0, 0, 0, 0, 255, 0); /* just 0x10 */
	assert_int_equal(c->din_len, 8 + 8);
	assert_int_equal(scsi_be16(buf + 8), 0x0010);
	assert_int_equal(scsi_be32(buf + 12), 2048);
	expect_sense(RUN(&A_CD, false, 255, 0x46, 3, 0, 0, 0, 0, 0, 0, 255, 0),
		     SENSE_INVALID_FIELD);
	c = RUN(&A_CD, false, 255, 0x51, 0, 0, 0, 0, 0, 0, 0, 255, 0);
	expect_good(c);
	assert_int_equal(c->din_len, 34);
	assert_int_equal(buf[2], 0x0e);
	expect_sense(RUN(&A_CD, false, 255, 0x51, 1, 0, 0, 0, 0, 0, 0, 255, 0),
		     SENSE_INVALID_FIELD);
}

static void test_cdrom_eject_insert(void **state)
{
	struct scsi_cmd *c;

	/* Prevented: neither the guest nor (unforced) the host ejects */
	expect_good(RUN(&A_CD, false, 0, 0x1e, 0, 0, 0, 1, 0));
	expect_sense(RUN(&A_CD, false, 0, 0x1b, 0, 0, 0, 0x02, 0), SENSE_REMOVAL_PREVENTED);
	assert_int_equal(scsi_lun_change_medium(&cd, 0, false), -EBUSY);
	expect_good(RUN(&A_CD, false, 0, 0x1e, 0, 0, 0, 0, 0));
	/* Guest eject: no medium */
	expect_good(RUN(&A_CD, false, 0, 0x1b, 0, 0, 0, 0x02, 0));
	expect_sense(RUN(&A_CD, false, 0, 0x00, 0, 0, 0, 0, 0), SENSE_NO_MEDIUM);
	expect_sense(RUN(&A_CD, false, 2048, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), SENSE_NO_MEDIUM);
	expect_sense(RUN(&A_CD, false, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), SENSE_NO_MEDIUM);
	expect_sense(RUN(&A_CD, false, 100, 0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0), SENSE_NO_MEDIUM);
	c = RUN(&A_CD, false, 8, 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0);
	expect_good(c);
	assert_int_equal(buf[4], MEV_REMOVAL);
	assert_int_equal(buf[5], 0);
	c = RUN(&A_CD, false, 255, 0x46, 0, 0, 0, 0, 0, 0, 0, 255, 0);
	assert_int_equal(scsi_be16(buf + 6), 0);
	/* Host insert: unit attention once, then a new-media event */
	assert_int_equal(scsi_lun_change_medium(&cd, CD_BLOCKS, false), 0);
	expect_sense(RUN(&A_CD, false, 0, 0x00, 0, 0, 0, 0, 0), SENSE_MEDIUM_CHANGED);
	expect_good(RUN(&A_CD, false, 0, 0x00, 0, 0, 0, 0, 0));
	c = RUN(&A_CD, false, 8, 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0);
	assert_int_equal(buf[4], MEV_NEW_MEDIA);
	assert_int_equal(buf[5], 0x02);
	c = RUN(&A_CD, false, 8, 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0);
	assert_int_equal(buf[4], MEV_NONE);
	/* Unit attention reported through REQUEST SENSE */
	assert_int_equal(scsi_lun_change_medium(&cd, 0, true), 0);
	RUN(&A_CD, false, 18, 0x03, 0, 0, 0, 18, 0);
	assert_int_equal(buf[2], SK_UNIT_ATTENTION);
	assert_int_equal(buf[12], 0x28);
	assert_int_equal(scsi_lun_change_medium(&cd, CD_BLOCKS, false), 0);
	assert_int_equal(scsi_lun_change_medium(&disk, 0, true), -EINVAL);
	/* GESN needs polled mode; no supported class asked: NEA */
	expect_sense(RUN(&A_CD, false, 8, 0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8, 0), SENSE_INVALID_FIELD);
	c = RUN(&A_CD, false, 8, 0x4a, 1, 0, 0, 0x02, 0, 0, 0, 8, 0);
	assert_int_equal(buf[2], 0x80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_test_unit_ready),
		cmocka_unit_test(test_inquiry),
		cmocka_unit_test(test_inquiry_vpd),
		cmocka_unit_test(test_read_capacity),
		cmocka_unit_test(test_read_write_forms),
		cmocka_unit_test(test_read_write_errors),
		cmocka_unit_test(test_write_and_verify),
		cmocka_unit_test(test_synchronize_cache),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_write_same),
		cmocka_unit_test(test_mode_sense),
		cmocka_unit_test(test_mode_select),
		cmocka_unit_test(test_report_luns),
		cmocka_unit_test(test_addressing),
		cmocka_unit_test(test_request_sense_and_start_stop),
		cmocka_unit_test(test_cdrom_read),
		cmocka_unit_test(test_cdrom_toc_config_disc),
		cmocka_unit_test(test_cdrom_eject_insert),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
