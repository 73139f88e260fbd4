/*
 * The SCSI target's dispatch and the SPC-4 commands every LUN has (see
 * scsi_target.h): TEST UNIT READY, INQUIRY, REQUEST SENSE, REPORT LUNS,
 * START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, MODE SENSE/SELECT.  The
 * block commands are in scsi_disk.c, MMC's in scsi_cdrom.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "services/scsi/scsi_target.h"

#define INQUIRY_LEN 36

static const char VENDOR[] = "PVISOR  "; /* 8 bytes, T10 vendor id */

void scsi_lun_init(struct scsi_lun *lun, enum scsi_media media, uint64_t id_seed)
{
	lun->media = media;
	lun->block_size = media == SCSI_MEDIA_CDROM ? 2048 : 512;
	lun->present = true;
	lun->wce = true;
	if (media == SCSI_MEDIA_CDROM) {
		lun->ro = true;
		lun->discard = false;
	}
	snprintf(lun->serial, sizeof(lun->serial), "PV%016llX",
		 (unsigned long long)id_seed);
	/* NAA 5 (IEEE registered), OUI 0x00163e (Xen's), 36 bits of the seed */
	lun->naa = 5ull << 60 | 0x00163eull << 36 | (id_seed & 0xfffffffffull);
}

bool scsi_cdb_direct(const uint8_t *cdb, unsigned cdb_len)
{
	if (!cdb_len)
		return false;
	switch (cdb[0]) {
	case 0x08: case 0x0a: case 0x28: case 0x2a: case 0xa8: case 0xaa:
	case 0x88: case 0x8a: case 0x2e: case 0xae: case 0x8e:
		return true;
	case 0x2f: case 0x8f: /* VERIFY with BYTCHK 1: compares the data-out */
		return cdb_len > 1 && (cdb[1] & 0x06) == 0x02;
	default:
		return false;
	}
}

/* The CDB length of an opcode's group (SPC-4 4.2.5.1); 0 for the reserved
 * and vendor-specific groups (no command of pvisor's is there). */
static unsigned cdb_group_len(uint8_t op)
{
	switch (op >> 5) {
	case 0: return 6;
	case 1: case 2: return 10;
	case 4: return 16;
	case 5: return 12;
	default: return 0;
	}
}

struct scsi_lun *scsi_host_find(struct scsi_host *h, const struct scsi_addr *a)
{
	for (unsigned i = 0; i < h->nr; i++) {
		struct scsi_lun *l = h->lun[i];

		if (l->addr.channel == a->channel && l->addr.target == a->target &&
		    l->addr.lun == a->lun)
			return l;
	}
	return NULL;
}

static bool target_exists(struct scsi_host *h, const struct scsi_addr *a)
{
	for (unsigned i = 0; i < h->nr; i++)
		if (h->lun[i]->addr.channel == a->channel &&
		    h->lun[i]->addr.target == a->target)
			return true;
	return false;
}

static void inquiry_standard(const struct scsi_lun *lun, uint8_t *b)
{
	memset(b, 0, INQUIRY_LEN);
	if (!lun) {
		b[0] = 0x7f; /* peripheral qualifier 3, type 0x1f: no LUN here */
	} else {
		b[0] = lun->media == SCSI_MEDIA_CDROM ? 0x05 : 0x00;
		b[1] = lun->media == SCSI_MEDIA_CDROM ? 0x80 : 0x00; /* RMB */
	}
	b[2] = 0x06;             /* SPC-4 */
	b[3] = 0x12;             /* HISUP, response data format 2 */
	b[4] = INQUIRY_LEN - 5;
	b[7] = 0x02;             /* CMDQUE */
	memcpy(b + 8, VENDOR, 8);
	memcpy(b + 16, lun && lun->media == SCSI_MEDIA_CDROM ? "VIRTUAL CDROM   "
							     : "VIRTUAL DISK    ", 16);
	memcpy(b + 32, "1.0 ", 4);
}

/* VPD pages every LUN has; a disk adds 0xb0-0xb2 (scsi_disk_vpd). */
static int inquiry_vpd(const struct scsi_lun *lun, uint8_t page, uint8_t *b)
{
	unsigned n;

	memset(b, 0, 64);
	b[0] = lun->media == SCSI_MEDIA_CDROM ? 0x05 : 0x00;
	b[1] = page;
	switch (page) {
	case 0x00: {
		static const uint8_t disk[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

		n = lun->media == SCSI_MEDIA_DISK ? sizeof(disk) : 3;
		memcpy(b + 4, disk, n);
		break;
	}
	case 0x80:
		n = (unsigned)strlen(lun->serial);
		memcpy(b + 4, lun->serial, n);
		break;
	case 0x83:
		/* NAA designator: binary, LUN association, type 3 */
		b[4] = 0x01;
		b[5] = 0x03;
		b[7] = 8;
		scsi_put64(b + 8, lun->naa);
		/* T10 vendor id designator: ASCII, type 1 */
		b[16] = 0x02;
		b[17] = 0x01;
		b[19] = (uint8_t)(8 + strlen(lun->serial));
		memcpy(b + 20, VENDOR, 8);
		memcpy(b + 28, lun->serial, strlen(lun->serial));
		n = 16 + b[19];
		break;
	default:
		return lun->media == SCSI_MEDIA_DISK ? scsi_disk_vpd(lun, page, b)
						     : -EINVAL;
	}
	scsi_put16(b + 2, (uint16_t)n);
	return (int)n + 4;
}

static void cmd_inquiry(struct scsi_lun *lun, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint8_t b[INQUIRY_LEN > 256 ? INQUIRY_LEN : 256];
	uint16_t alloc = scsi_be16(cdb + 3);
	int n;

	if (cdb[1] & 0xfe) {           /* CMDDT (obsolete) or reserved bits */
		scsi_set_invalid_field(c, 1);
		return;
	}
	if (!(cdb[1] & 1)) {
		if (cdb[2]) {
			scsi_set_invalid_field(c, 2);
			return;
		}
		inquiry_standard(lun, b);
		scsi_reply(c, b, INQUIRY_LEN, alloc);
		return;
	}
	n = lun ? inquiry_vpd(lun, cdb[2], b) : -EINVAL;
	if (n < 0) {
		scsi_set_invalid_field(c, 2);
		return;
	}
	scsi_reply(c, b, (uint32_t)n, alloc);
}

/* REPORT LUNS (SPC-4 6.33): the LUNs of this (channel, target). */
static void cmd_report_luns(struct scsi_host *h, const struct scsi_addr *a,
			    struct scsi_cmd *c)
{
	uint8_t b[8 + 8 * SCSI_MAX_LUNS];
	uint32_t alloc = scsi_be32(c->cdb + 6);
	unsigned n = 0;

	if (c->cdb[2] > 2 && c->cdb[2] != 0x10 && c->cdb[2] != 0x11 &&
	    c->cdb[2] != 0x12) {
		scsi_set_invalid_field(c, 2);
		return;
	}
	if (alloc < 16) {
		scsi_set_invalid_field(c, 6);
		return;
	}
	memset(b, 0, sizeof(b));
	/* SELECT REPORT 1 is well-known LUNs only: pvisor has none. */
	for (unsigned i = 0; c->cdb[2] != 1 && c->cdb[2] != 0x11 && i < h->nr; i++) {
		const struct scsi_addr *l = &h->lun[i]->addr;
		uint8_t *e = b + 8 + 8 * n;

		if (l->channel != a->channel || l->target != a->target)
			continue;
		if (l->lun < 256) {
			e[1] = (uint8_t)l->lun;          /* peripheral addressing */
		} else {
			e[0] = (uint8_t)(0x40 | (l->lun >> 8)); /* flat space */
			e[1] = (uint8_t)l->lun;
		}
		n++;
	}
	scsi_put32(b, 8 * n);
	scsi_reply(c, b, 8 + 8 * n, alloc);
}

static void cmd_request_sense(struct scsi_lun *lun, struct scsi_cmd *c)
{
	uint8_t b[SCSI_SENSE_LEN];

	if (c->cdb[1] & 0xfe) {
		scsi_set_invalid_field(c, 1);
		return;
	}
	/* Descriptor format (DESC) is not supported: fixed format is
	 * returned, as SPC-4 allows. */
	if (!lun) {
		scsi_sense_build(b, SENSE_LUN_NOT_SUPPORTED);
	} else if (lun->ua_changed) {
		lun->ua_changed = false;
		scsi_sense_build(b, SENSE_MEDIUM_CHANGED);
	} else if (lun->media == SCSI_MEDIA_CDROM && !lun->present) {
		scsi_sense_build(b, SENSE_NO_MEDIUM);
	} else if (lun->stopped) {
		scsi_sense_build(b, SENSE_NEED_START);
	} else {
		scsi_sense_build(b, (struct scsi_sense_code){ SK_NO_SENSE, 0, 0 });
	}
	scsi_reply(c, b, sizeof(b), c->cdb[4]);
}

static void cmd_start_stop(struct scsi_lun *lun, struct scsi_cmd *c)
{
	bool start = c->cdb[4] & 1, loej = c->cdb[4] & 2;

	if (c->cdb[4] & 0x0c) { /* NO_FLUSH is fine; reserved bits not */
		scsi_set_invalid_field(c, 4);
		return;
	}
	if (c->cdb[4] >> 4) {   /* a power condition: nothing to do */
		scsi_set_good(c);
		return;
	}
	if (loej && lun->media == SCSI_MEDIA_CDROM) {
		if (!start) {
			if (lun->prevent) {
				scsi_set_sense(c, SENSE_REMOVAL_PREVENTED);
				return;
			}
			/* The tray opens: the medium is gone until the host
			 * inserts one (scsi_lun_change_medium). */
			if (lun->present) {
				lun->present = false;
				lun->blocks = 0;
				lun->event = MEV_REMOVAL;
			}
		}
		scsi_set_good(c);
		return;
	}
	lun->stopped = !start;
	scsi_set_good(c);
}

static void cmd_prevent_allow(struct scsi_lun *lun, struct scsi_cmd *c)
{
	if (c->cdb[4] & 0xfe) { /* persistent prevent (2, 3) not supported */
		scsi_set_invalid_field(c, 4);
		return;
	}
	lun->prevent = c->cdb[4] & 1;
	scsi_set_good(c);
}

/* The mode pages of a LUN into out; length or -EINVAL. */
static int mode_page(const struct scsi_lun *lun, uint8_t page, int pc, uint8_t *out)
{
	return lun->media == SCSI_MEDIA_DISK ? scsi_disk_mode_page(lun, page, pc, out)
					     : scsi_cdrom_mode_page(lun, page, pc, out);
}

/* MODE SENSE(6) 0x1a and (10) 0x5a (SPC-4 6.11/6.12). */
static void cmd_mode_sense(struct scsi_lun *lun, struct scsi_cmd *c, bool ten)
{
	const uint8_t *cdb = c->cdb;
	uint8_t b[512];
	bool dbd = cdb[1] & 0x08, llba = ten && (cdb[1] & 0x10);
	int pc = cdb[2] >> 6, n;
	uint8_t page = cdb[2] & 0x3f;
	unsigned hdr = ten ? 8 : 4, len;
	uint32_t alloc = ten ? scsi_be16(cdb + 7) : cdb[4];

	if (pc == 3) {
		scsi_set_sense(c, SENSE_SAVING_NOT_SUPPORTED);
		return;
	}
	if (cdb[3] && cdb[3] != 0xff) { /* subpages: only 0 (and all) */
		scsi_set_invalid_field(c, 3);
		return;
	}
	memset(b, 0, sizeof(b));
	len = hdr;
	if (!dbd && lun->media == SCSI_MEDIA_DISK) {
		uint8_t *d = b + hdr;

		if (llba) {
			scsi_put64(d, lun->blocks);
			scsi_put32(d + 12, lun->block_size);
			len += 16;
		} else {
			scsi_put32(d, lun->blocks > 0xffffffffu ? 0xffffffffu
								 : (uint32_t)lun->blocks);
			scsi_put32(d + 4, lun->block_size & 0xffffff);
			len += 8;
		}
	}
	n = mode_page(lun, page, pc, b + len);
	if (n < 0) {
		scsi_set_invalid_field(c, 2);
		return;
	}
	len += (unsigned)n;
	if (ten) {
		scsi_put16(b, (uint16_t)(len - 2));
		b[3] = lun->ro ? 0x80 : 0x00; /* WP */
		if (lun->media == SCSI_MEDIA_DISK)
			b[3] |= 0x10;         /* DPOFUA */
		b[4] = llba;
		scsi_put16(b + 6, (uint16_t)(len - hdr - (unsigned)n));
	} else {
		b[0] = (uint8_t)(len - 1);
		b[2] = lun->ro ? 0x80 : 0x00;
		if (lun->media == SCSI_MEDIA_DISK)
			b[2] |= 0x10;
		b[3] = (uint8_t)(len - hdr - (unsigned)n);
	}
	scsi_reply(c, b, len, alloc);
}

/* MODE SELECT(6) 0x15 / (10) 0x55: only the caching page's WCE changes. */
static void cmd_mode_select(struct scsi_lun *lun, struct scsi_cmd *c, bool ten)
{
	const uint8_t *cdb = c->cdb, *p = c->dout;
	uint32_t plen = ten ? scsi_be16(cdb + 7) : cdb[4];
	unsigned hdr = ten ? 8 : 4, bdl, off;
	bool wce = lun->wce;

	if (cdb[1] & 0x01) {            /* SP: cannot save */
		scsi_set_sense(c, SENSE_SAVING_NOT_SUPPORTED);
		return;
	}
	if (!(cdb[1] & 0x10)) {         /* PF: only the standard page format */
		scsi_set_invalid_field(c, 1);
		return;
	}
	if (!plen) {
		scsi_set_good(c);
		return;
	}
	if (plen > SCSI_BOUNCE || plen > c->xfer_out || plen < hdr) {
		scsi_set_sense(c, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	bdl = ten ? scsi_be16(p + 6) : p[3];
	if (hdr + bdl > plen) {
		scsi_set_sense(c, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	/* A block descriptor may only restate the block length. */
	if (bdl && ((bdl != 8 && bdl != 16) ||
		    (bdl == 8 ? (scsi_be32(p + hdr + 4) & 0xffffff)
			      : scsi_be32(p + hdr + 12)) != lun->block_size)) {
		scsi_set_sense(c, SENSE_INVALID_PARAM);
		return;
	}
	for (off = hdr + bdl; off < plen;) {
		uint8_t cur[64], chg[64];
		unsigned page = p[off] & 0x3f, len;
		int n;

		if (off + 2 > plen || (p[off] & 0x40)) { /* SPF: no subpages */
			scsi_set_sense(c, SENSE_INVALID_PARAM);
			return;
		}
		len = 2u + p[off + 1];
		n = mode_page(lun, (uint8_t)page, 0, cur);
		if (page == 0x3f || n < 0 || (unsigned)n != len || off + len > plen ||
		    mode_page(lun, (uint8_t)page, 1, chg) != n) {
			scsi_set_sense(c, SENSE_INVALID_PARAM);
			return;
		}
		/* Every bit not changeable must keep its current value. */
		for (unsigned i = 2; i < len; i++) {
			if ((p[off + i] ^ cur[i]) & ~chg[i]) {
				scsi_set_sense(c, SENSE_INVALID_PARAM);
				return;
			}
		}
		if (page == 0x08)
			wce = p[off + 2] & 0x04;
		off += len;
	}
	lun->wce = wce;
	scsi_set_good(c);
}

/* Commands for an address that is not a LUN of an existing target. */
static void no_lun(struct scsi_host *h, const struct scsi_addr *a,
		   struct scsi_cmd *c)
{
	switch (c->cdb[0]) {
	case 0x12: cmd_inquiry(NULL, c); return;
	case 0xa0: cmd_report_luns(h, a, c); return;
	case 0x03: cmd_request_sense(NULL, c); return;
	default: scsi_set_sense(c, SENSE_LUN_NOT_SUPPORTED);
	}
}

static bool common_cmd(struct scsi_host *h, const struct scsi_addr *a,
		       struct scsi_lun *lun, struct scsi_cmd *c)
{
	switch (c->cdb[0]) {
	case 0x00: /* TEST UNIT READY */
		if (lun->media == SCSI_MEDIA_CDROM && !lun->present)
			scsi_set_sense(c, SENSE_NO_MEDIUM);
		else if (lun->stopped)
			scsi_set_sense(c, SENSE_NEED_START);
		else
			scsi_set_good(c);
		return true;
	case 0x03: cmd_request_sense(lun, c); return true;
	case 0x12: cmd_inquiry(lun, c); return true;
	case 0xa0: cmd_report_luns(h, a, c); return true;
	case 0x1b: cmd_start_stop(lun, c); return true;
	case 0x1e: cmd_prevent_allow(lun, c); return true;
	case 0x1a: cmd_mode_sense(lun, c, false); return true;
	case 0x5a: cmd_mode_sense(lun, c, true); return true;
	case 0x15: cmd_mode_select(lun, c, false); return true;
	case 0x55: cmd_mode_select(lun, c, true); return true;
	default: return false;
	}
}

bool scsi_cmd_start(struct scsi_host *h, const struct scsi_addr *a,
		    struct scsi_cmd *c)
{
	struct scsi_lun *lun = scsi_host_find(h, a);
	uint8_t op;

	memset(&c->io, 0, sizeof(c->io));
	scsi_set_good(c);
	if (!lun && !target_exists(h, a))
		return false;
	if (!c->cdb_len || c->cdb_len > SCSI_MAX_CDB) {
		scsi_set_sense(c, SENSE_INVALID_OPCODE);
		return true;
	}
	op = c->cdb[0];
	if (!cdb_group_len(op)) {
		scsi_set_sense(c, SENSE_INVALID_OPCODE);
		return true;
	}
	if (c->cdb_len < cdb_group_len(op)) {
		scsi_set_invalid_field(c, c->cdb_len - 1);
		return true;
	}
	if (!lun) {
		no_lun(h, a, c);
		return true;
	}
	/* A pending unit attention answers the next command but these (and,
	 * as MMC-6 has it, GET CONFIGURATION and GET EVENT STATUS). */
	if (lun->ua_changed && op != 0x12 && op != 0xa0 && op != 0x03 &&
	    op != 0x46 && op != 0x4a) {
		lun->ua_changed = false;
		scsi_set_sense(c, SENSE_MEDIUM_CHANGED);
		return true;
	}
	if (common_cmd(h, a, lun, c))
		return true;
	if (lun->media == SCSI_MEDIA_DISK ? scsi_disk_cmd(lun, c)
					  : scsi_cdrom_cmd(lun, c))
		return true;
	scsi_set_sense(c, SENSE_INVALID_OPCODE);
	return true;
}

void scsi_cmd_finish(struct scsi_lun *lun, struct scsi_cmd *c, int res)
{
	enum scsi_io_op op = c->io.op;

	c->io.op = SCSI_IO_NONE;
	if (res == 0)
		return; /* status, din_len and residual were set by start */
	if (res == -EILSEQ && op == SCSI_IO_VERIFY)
		scsi_set_sense(c, SENSE_MISCOMPARE_VERIFY);
	else if (res == -ENOSPC || res == -EDQUOT)
		scsi_set_sense(c, SENSE_SPACE_FULL);
	else if (op == SCSI_IO_READ || op == SCSI_IO_VERIFY)
		scsi_set_sense(c, SENSE_READ_ERROR);
	else
		scsi_set_sense(c, SENSE_WRITE_ERROR);
}

int scsi_lun_change_medium(struct scsi_lun *lun, uint64_t blocks, bool force)
{
	if (lun->media != SCSI_MEDIA_CDROM)
		return -EINVAL;
	if (!blocks) {
		if (lun->prevent && !force)
			return -EBUSY;
		if (lun->present)
			lun->event = MEV_REMOVAL;
		lun->present = false;
	} else {
		lun->present = true;
		lun->event = MEV_NEW_MEDIA;
	}
	lun->blocks = blocks;
	lun->stopped = false;
	lun->ua_changed = true;
	return 0;
}
