/*
 * Direct-access block commands (SBC-3) and the block I/O both media share:
 * READ CAPACITY(10/16), READ/WRITE(6/10/12/16), WRITE AND VERIFY, VERIFY,
 * SYNCHRONIZE CACHE, UNMAP, WRITE SAME(10/16), VPD 0xb0-0xb2, and the
 * caching and control mode pages.
 */
#include <errno.h>
#include <string.h>

#include "services/scsi/scsi_target.h"

/* Not ready (stopped), or no medium: sense set, false. */
static bool ready(struct scsi_lun *lun, struct scsi_cmd *c)
{
	if (!lun->present) {
		scsi_set_sense(c, SENSE_NO_MEDIUM);
		return false;
	}
	if (lun->stopped) {
		scsi_set_sense(c, SENSE_NEED_START);
		return false;
	}
	return true;
}

static bool in_range(const struct scsi_lun *lun, uint64_t lba, uint64_t n)
{
	return lba <= lun->blocks && n <= lun->blocks - lba;
}

void scsi_block_rw(struct scsi_lun *lun, struct scsi_cmd *c, uint64_t lba,
		   uint32_t nblocks, enum scsi_io_op op, bool fua)
{
	uint64_t bytes = (uint64_t)nblocks * lun->block_size;
	bool write = op == SCSI_IO_WRITE;
	uint32_t buf = op == SCSI_IO_READ ? c->xfer_in : c->xfer_out;

	if (!ready(lun, c))
		return;
	if (write && lun->ro) {
		scsi_set_sense(c, SENSE_WRITE_PROTECTED);
		return;
	}
	if (!in_range(lun, lba, nblocks)) {
		scsi_set_sense(c, SENSE_LBA_OUT_OF_RANGE);
		return;
	}
	/* Beyond the advertised maximum transfer, or a buffer the data does
	 * not fit: the command cannot run as given. */
	if (bytes > SCSI_MAX_XFER || bytes > buf) {
		scsi_set_invalid_field(c, c->cdb_len == 6 ? 4 : 7);
		return;
	}
	scsi_set_good(c);
	c->residual = buf - (uint32_t)bytes;
	if (!nblocks)
		return;
	c->din_len = op == SCSI_IO_READ ? (uint32_t)bytes : 0;
	c->io.op = op;
	c->io.off = lba * lun->block_size;
	c->io.len = bytes;
	c->io.flush_after = write && (fua || !lun->wce);
}

/* The LBA and length of the READ/WRITE/VERIFY/WRITE SAME forms. */
static void decode_lba(const uint8_t *cdb, uint64_t *lba, uint32_t *n)
{
	switch (cdb[0] >> 5) {
	case 0: /* 6-byte: 21-bit LBA, 0 blocks means 256 */
		*lba = (uint64_t)(cdb[1] & 0x1f) << 16 | scsi_be16(cdb + 2);
		*n = cdb[4] ? cdb[4] : 256;
		break;
	case 1: case 2:
		*lba = scsi_be32(cdb + 2);
		*n = scsi_be16(cdb + 7);
		break;
	case 5:
		*lba = scsi_be32(cdb + 2);
		*n = scsi_be32(cdb + 6);
		break;
	default:
		*lba = scsi_be64(cdb + 2);
		*n = scsi_be32(cdb + 10);
	}
}

static void cmd_rw(struct scsi_lun *lun, struct scsi_cmd *c, bool write,
		   bool verify)
{
	uint64_t lba;
	uint32_t n;

	/* RDPROTECT/WRPROTECT: no protection information. */
	if (c->cdb[0] != 0x08 && c->cdb[0] != 0x0a && (c->cdb[1] & 0xe0)) {
		scsi_set_invalid_field(c, 1);
		return;
	}
	decode_lba(c->cdb, &lba, &n);
	/* WRITE AND VERIFY: the data is made durable (the medium then
	 * verifies trivially: it holds what was written). */
	scsi_block_rw(lun, c, lba, n, write ? SCSI_IO_WRITE : SCSI_IO_READ,
		      verify || (c->cdb[0] != 0x08 && c->cdb[0] != 0x0a &&
				 (c->cdb[1] & 0x08)));
}

static void cmd_read_capacity10(struct scsi_lun *lun, struct scsi_cmd *c)
{
	uint8_t b[8];

	if (!(c->cdb[8] & 1) && scsi_be32(c->cdb + 2)) { /* LBA without PMI */
		scsi_set_invalid_field(c, 2);
		return;
	}
	if (!ready(lun, c))
		return;
	scsi_put32(b, lun->blocks - 1 > 0xffffffffu ? 0xffffffffu
						    : (uint32_t)(lun->blocks - 1));
	scsi_put32(b + 4, lun->block_size);
	scsi_reply(c, b, sizeof(b), sizeof(b));
}

static void cmd_read_capacity16(struct scsi_lun *lun, struct scsi_cmd *c)
{
	uint8_t b[32] = { 0 };

	if ((c->cdb[1] & 0x1f) != 0x10) { /* SERVICE ACTION IN: only this one */
		scsi_set_invalid_field(c, 1);
		return;
	}
	if (!ready(lun, c))
		return;
	scsi_put64(b, lun->blocks - 1);
	scsi_put32(b + 8, lun->block_size);
	if (lun->discard)
		b[14] = 0xc0; /* LBPME, LBPRZ: unmapped blocks read zero */
	scsi_reply(c, b, sizeof(b), scsi_be32(c->cdb + 10));
}

static void cmd_verify(struct scsi_lun *lun, struct scsi_cmd *c)
{
	unsigned bytchk = (c->cdb[1] >> 1) & 3;
	uint64_t lba;
	uint32_t n;

	if ((c->cdb[1] & 0xe0) || bytchk > 1) { /* VRPROTECT; BYTCHK 2/3 */
		scsi_set_invalid_field(c, 1);
		return;
	}
	decode_lba(c->cdb, &lba, &n);
	if (!bytchk) {
		/* Medium verification: the range must exist. */
		if (!ready(lun, c))
			return;
		if (!in_range(lun, lba, n))
			scsi_set_sense(c, SENSE_LBA_OUT_OF_RANGE);
		else
			scsi_set_good(c);
		return;
	}
	scsi_block_rw(lun, c, lba, n, SCSI_IO_VERIFY, false);
}

static void cmd_sync_cache(struct scsi_lun *lun, struct scsi_cmd *c, bool sixteen)
{
	uint64_t lba = sixteen ? scsi_be64(c->cdb + 2) : scsi_be32(c->cdb + 2);
	uint32_t n = sixteen ? scsi_be32(c->cdb + 10) : scsi_be16(c->cdb + 7);

	if (!ready(lun, c))
		return;
	/* 0 blocks: to the end of the medium */
	if (lba > lun->blocks || (n && !in_range(lun, lba, n))) {
		scsi_set_sense(c, SENSE_LBA_OUT_OF_RANGE);
		return;
	}
	scsi_set_good(c);
	c->io.op = SCSI_IO_FLUSH; /* the whole image: fdatasync */
}

static bool writable(struct scsi_lun *lun, struct scsi_cmd *c)
{
	if (!ready(lun, c))
		return false;
	if (lun->ro) {
		scsi_set_sense(c, SENSE_WRITE_PROTECTED);
		return false;
	}
	return true;
}

/* UNMAP (SBC-3 5.28): each block descriptor becomes a punched range. */
static void cmd_unmap(struct scsi_lun *lun, struct scsi_cmd *c)
{
	uint32_t plen = scsi_be16(c->cdb + 7), dlen, nd;
	const uint8_t *p = c->dout;

	if (c->cdb[1] & 0x01) { /* ANCHOR */
		scsi_set_invalid_field(c, 1);
		return;
	}
	if (!writable(lun, c))
		return;
	if (!lun->discard) {
		scsi_set_sense(c, SENSE_INVALID_OPCODE);
		return;
	}
	if (!plen) {
		scsi_set_good(c);
		return;
	}
	if (plen < 8 || plen > c->xfer_out || plen > SCSI_BOUNCE) {
		scsi_set_sense(c, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	dlen = scsi_be16(p + 2);
	if (dlen % 16 || 8 + dlen > plen || scsi_be16(p) + 2u < 8 + dlen) {
		scsi_set_sense(c, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	nd = dlen / 16;
	if (nd > SCSI_MAX_UNMAP_DESC) {
		scsi_set_sense(c, SENSE_INVALID_PARAM);
		return;
	}
	scsi_set_good(c);
	c->residual = c->xfer_out - plen;
	for (uint32_t i = 0; i < nd; i++) {
		const uint8_t *d = p + 8 + 16 * i;
		uint64_t lba = scsi_be64(d);
		uint32_t n = scsi_be32(d + 8);

		if (!in_range(lun, lba, n)) {
			scsi_set_sense(c, SENSE_LBA_OUT_OF_RANGE);
			return;
		}
		if (!n)
			continue;
		c->io.range[c->io.nr_ranges].off = lba * lun->block_size;
		c->io.range[c->io.nr_ranges].len = (uint64_t)n * lun->block_size;
		c->io.nr_ranges++;
	}
	if (c->io.nr_ranges)
		c->io.op = SCSI_IO_DISCARD;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* WRITE SAME(10) 0x41 / (16) 0x93; UNMAP with zeroes punches the range. */
static void cmd_write_same(struct scsi_lun *lun, struct scsi_cmd *c)
{
	bool unmap = c->cdb[1] & 0x08, ndob = c->cdb[0] == 0x93 && (c->cdb[1] & 1);
	uint64_t lba;
	uint32_t n;

	if ((c->cdb[1] & 0xe0) || (c->cdb[1] & 0x10) || /* WRPROTECT, ANCHOR */
	    (c->cdb[0] == 0x41 && (c->cdb[1] & 0x01))) {
		scsi_set_invalid_field(c, 1);
		return;
	}
	decode_lba(c->cdb, &lba, &n);
	if (!n || n > SCSI_MAX_WRITE_SAME) { /* WSNZ: 0 is not "to the end" */
		scsi_set_invalid_field(c, c->cdb[0] == 0x41 ? 7 : 10);
		return;
	}
	if (!writable(lun, c))
		return;
	if (!in_range(lun, lba, n)) {
		scsi_set_sense(c, SENSE_LBA_OUT_OF_RANGE);
		return;
	}
	if (!ndob && c->xfer_out < lun->block_size) {
		scsi_set_sense(c, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	scsi_set_good(c);
	c->residual = ndob ? c->xfer_out : c->xfer_out - lun->block_size;
	if (unmap && lun->discard && (ndob || all_zero(c->dout, lun->block_size))) {
		c->io.op = SCSI_IO_DISCARD;
		c->io.nr_ranges = 1;
		c->io.range[0].off = lba * lun->block_size;
		c->io.range[0].len = (uint64_t)n * lun->block_size;
		return;
	}
	c->io.op = SCSI_IO_WRITE_SAME;
	c->io.off = lba * lun->block_size;
	c->io.len = (uint64_t)n * lun->block_size;
	c->io.pattern = ndob ? NULL : c->dout; /* NULL: zeroes */
	c->io.flush_after = !lun->wce;
}

int scsi_disk_vpd(const struct scsi_lun *lun, uint8_t page, uint8_t *b)
{
	switch (page) {
	case 0xb0: /* block limits */
		memset(b + 4, 0, 0x3c);
		scsi_put32(b + 8, SCSI_MAX_XFER / lun->block_size); /* max transfer */
		scsi_put32(b + 12, 4096 / lun->block_size);         /* optimal */
		if (lun->discard) {
			scsi_put32(b + 20, 0xffffffffu);            /* max unmap LBAs */
			scsi_put32(b + 24, SCSI_MAX_UNMAP_DESC);
			scsi_put32(b + 28, 4096 / lun->block_size); /* granularity */
		}
		scsi_put64(b + 36, SCSI_MAX_WRITE_SAME);
		b[4] = 0x01; /* WSNZ */
		scsi_put16(b + 2, 0x3c);
		return 0x40;
	case 0xb1: /* block device characteristics */
		memset(b + 4, 0, 0x3c);
		scsi_put16(b + 4, 1); /* non-rotating medium */
		scsi_put16(b + 2, 0x3c);
		return 0x40;
	case 0xb2: /* logical block provisioning */
		memset(b + 4, 0, 4);
		if (lun->discard) {
			b[5] = 0xe4;  /* LBPU, LBPWS, LBPWS10, LBPRZ */
			b[6] = 0x02;  /* thin provisioned */
		}
		scsi_put16(b + 2, 4);
		return 8;
	default:
		return -EINVAL;
	}
}

/* pc: 0 current, 1 changeable, 2 default. */
static int caching_page(const struct scsi_lun *lun, int pc, uint8_t *o)
{
	memset(o, 0, 20);
	o[0] = 0x08;
	o[1] = 0x12;
	if (pc == 1)
		o[2] = 0x04;               /* WCE can change */
	else if (pc == 2 || lun->wce)
		o[2] = 0x04;
	return 20;
}

static int control_page(int pc, uint8_t *o)
{
	memset(o, 0, 12);
	o[0] = 0x0a;
	o[1] = 0x0a;
	if (pc != 1)
		scsi_put16(o + 10, 0xffff); /* busy timeout period: unlimited */
	return 12;
}

int scsi_disk_mode_page(const struct scsi_lun *lun, uint8_t page, int pc,
			uint8_t *out)
{
	switch (page) {
	case 0x08: return caching_page(lun, pc, out);
	case 0x0a: return control_page(pc, out);
	case 0x3f: {
		int n = caching_page(lun, pc, out);

		return n + control_page(pc, out + n);
	}
	default: return -EINVAL;
	}
}

bool scsi_disk_cmd(struct scsi_lun *lun, struct scsi_cmd *c)
{
	switch (c->cdb[0]) {
	case 0x25: cmd_read_capacity10(lun, c); return true;
	case 0x9e: cmd_read_capacity16(lun, c); return true;
	case 0x08: case 0x28: case 0xa8: case 0x88:
		cmd_rw(lun, c, false, false);
		return true;
	case 0x0a: case 0x2a: case 0xaa: case 0x8a:
		cmd_rw(lun, c, true, false);
		return true;
	case 0x2e: case 0xae: case 0x8e: /* WRITE AND VERIFY */
		if (c->cdb[1] & 0x04) {  /* BYTCHK 2/3 are reserved/ unsupported */
			scsi_set_invalid_field(c, 1);
			return true;
		}
		cmd_rw(lun, c, true, true);
		return true;
	case 0x2f: case 0x8f: cmd_verify(lun, c); return true;
	case 0x35: cmd_sync_cache(lun, c, false); return true;
	case 0x91: cmd_sync_cache(lun, c, true); return true;
	case 0x42: cmd_unmap(lun, c); return true;
	case 0x41: case 0x93: cmd_write_same(lun, c); return true;
	default: return false;
	}
}
