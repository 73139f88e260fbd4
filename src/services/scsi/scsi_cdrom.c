/*
 * CD/DVD LUNs on ISO images (MMC-6): one data track from LBA 0, 2048-byte
 * blocks, read-only.  READ TOC/PMA/ATIP, GET CONFIGURATION, READ DISC
 * INFORMATION, GET EVENT STATUS NOTIFICATION and the capabilities mode
 * page here; READ CAPACITY and READ(10/12) go through the block code
 * (writes there answer DATA PROTECT).
 */
#include <errno.h>
#include <string.h>

#include "services/scsi/scsi_target.h"

#define CD_MAX_BLOCKS (700u * 1024 * 1024 / 2048) /* beyond: a DVD */
#define PROFILE_CDROM 0x0008
#define PROFILE_DVDROM 0x0010

static uint16_t profile(const struct scsi_lun *lun)
{
	if (!lun->present)
		return 0;
	return lun->blocks > CD_MAX_BLOCKS ? PROFILE_DVDROM : PROFILE_CDROM;
}

/* An LBA as MSF (minutes, seconds, frames; 150 frames of lead-in). */
static void put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	if (!msf) {
		scsi_put32(p, (uint32_t)lba);
		return;
	}
	lba += 150;
	p[0] = 0;
	p[1] = (uint8_t)(lba / (75 * 60));
	p[2] = (uint8_t)(lba / 75 % 60);
	p[3] = (uint8_t)(lba % 75);
}

static void toc_entry(uint8_t *e, uint8_t track, uint64_t lba, bool msf)
{
	memset(e, 0, 8);
	e[1] = 0x14; /* ADR 1 (position), control 4 (data track) */
	e[2] = track;
	put_addr(e + 4, lba, msf);
}

static void cmd_read_toc(struct scsi_lun *lun, struct scsi_cmd *c)
{
	bool msf = c->cdb[1] & 0x02;
	unsigned format = c->cdb[2] & 0x0f, track = c->cdb[6], len;
	uint8_t b[4 + 2 * 8];

	if (!format && (c->cdb[9] >> 6)) /* the old (SFF-8020) format field */
		format = c->cdb[9] >> 6;
	if (!lun->present) {
		scsi_set_sense(c, SENSE_NO_MEDIUM);
		return;
	}
	b[2] = 1; /* first track/session */
	b[3] = 1; /* last */
	switch (format) {
	case 0: /* TOC: track 1 and the lead-out (0xaa) */
		if (track > 1 && track != 0xaa) {
			scsi_set_invalid_field(c, 6);
			return;
		}
		len = 4;
		if (track <= 1) {
			toc_entry(b + len, 1, 0, msf);
			len += 8;
		}
		toc_entry(b + len, 0xaa, lun->blocks, msf);
		len += 8;
		break;
	case 1: /* session information: the first track of the last session */
		toc_entry(b + 4, 1, 0, msf);
		len = 12;
		break;
	default:
		scsi_set_invalid_field(c, 2);
		return;
	}
	scsi_put16(b, (uint16_t)(len - 2));
	scsi_reply(c, b, len, scsi_be16(c->cdb + 7));
}

/* One feature descriptor: code, flags (version, persistent, current). */
static unsigned feature(uint8_t *p, uint16_t code, uint8_t flags,
			const uint8_t *data, uint8_t n)
{
	scsi_put16(p, code);
	p[2] = flags;
	p[3] = n;
	memcpy(p + 4, data, n);
	return 4u + n;
}

static void cmd_get_configuration(struct scsi_lun *lun, struct scsi_cmd *c)
{
	unsigned rt = c->cdb[1] & 3, start = scsi_be16(c->cdb + 2), len = 8;
	uint16_t cur = profile(lun);
	uint8_t b[128], d[8];
	struct {
		uint16_t code;
		bool current;
	} feats[] = {
		{ 0x0000, true },         /* profile list */
		{ 0x0001, true },         /* core */
		{ 0x0003, true },         /* removable medium */
		{ 0x0010, cur != 0 },     /* random readable */
	};

	if (rt == 3) {
		scsi_set_invalid_field(c, 1);
		return;
	}
	memset(b, 0, sizeof(b));
	scsi_put16(b + 6, cur);
	for (unsigned i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		uint16_t code = feats[i].code;
		uint8_t flags = (uint8_t)(feats[i].current ? 0x01 : 0);

		if (code < start || (rt == 2 && code != start) ||
		    (rt == 1 && !feats[i].current))
			continue;
		memset(d, 0, sizeof(d));
		switch (code) {
		case 0x0000: /* DVD-ROM, CD-ROM; the current one flagged */
			scsi_put16(d, PROFILE_DVDROM);
			d[2] = cur == PROFILE_DVDROM;
			scsi_put16(d + 4, PROFILE_CDROM);
			d[6] = cur == PROFILE_CDROM;
			len += feature(b + len, code, 0x03, d, 8);
			break;
		case 0x0001: /* core: SCSI physical interface */
			scsi_put32(d, 1);
			len += feature(b + len, code, 0x07, d, 4);
			break;
		case 0x0003: /* tray loading, eject, lock */
			d[0] = 0x29;
			len += feature(b + len, code, 0x03, d, 4);
			break;
		case 0x0010: /* 2048-byte blocks, blocking 1 */
			scsi_put32(d, 2048);
			scsi_put16(d + 4, 1);
			len += feature(b + len, code, flags, d, 4);
			break;
		}
	}
	scsi_put32(b, len - 4);
	scsi_reply(c, b, len, scsi_be16(c->cdb + 7));
}

static void cmd_read_disc_info(struct scsi_lun *lun, struct scsi_cmd *c)
{
	uint8_t b[34] = { 0 };

	if (c->cdb[1] & 0x07) { /* data type: only standard disc info */
		scsi_set_invalid_field(c, 1);
		return;
	}
	if (!lun->present) {
		scsi_set_sense(c, SENSE_NO_MEDIUM);
		return;
	}
	scsi_put16(b, sizeof(b) - 2);
	b[2] = 0x0e;  /* last session complete, disc complete */
	b[3] = 1;     /* first track */
	b[4] = 1;     /* sessions */
	b[5] = 1;     /* first track of the last session */
	b[6] = 1;     /* last track of the last session */
	b[7] = 0x20;  /* URU: unrestricted use */
	memset(b + 16, 0xff, 8); /* no lead-in / lead-out start for a ROM */
	scsi_reply(c, b, sizeof(b), scsi_be16(c->cdb + 7));
}

/* GET EVENT STATUS NOTIFICATION, polled, media class only. */
static void cmd_gesn(struct scsi_lun *lun, struct scsi_cmd *c)
{
	uint8_t b[8] = { 0 };
	unsigned len = 4;

	if (!(c->cdb[1] & 1)) { /* asynchronous notification not supported */
		scsi_set_invalid_field(c, 1);
		return;
	}
	b[3] = 0x10; /* supported classes: media */
	if (c->cdb[4] & 0x10) {
		b[2] = 0x04; /* media class */
		b[4] = (uint8_t)lun->event;
		b[5] = lun->present ? 0x02 : 0x00;
		lun->event = MEV_NONE;
		len = 8;
	} else {
		b[2] = 0x80; /* NEA: no class asked for is supported */
	}
	scsi_put16(b, (uint16_t)(len - 4));
	scsi_reply(c, b, len, scsi_be16(c->cdb + 7));
}

/* Mode page 0x2a (MM capabilities and mechanical status). */
int scsi_cdrom_mode_page(const struct scsi_lun *lun, uint8_t page, int pc,
			 uint8_t *o)
{
	if (page != 0x2a && page != 0x3f)
		return -EINVAL;
	memset(o, 0, 22);
	o[0] = 0x2a;
	o[1] = 20;
	if (pc == 1)
		return 22; /* nothing changeable */
	o[2] = 0x08;  /* reads DVD-ROM */
	o[4] = 0x40;  /* multi-session */
	o[6] = (uint8_t)(0x29 | (lun->prevent ? 0x02 : 0)); /* tray, eject, lock */
	scsi_put16(o + 8, 1412);  /* obsolete max speed, KB/s (8x) */
	scsi_put16(o + 12, 1412);
	return 22;
}

bool scsi_cdrom_cmd(struct scsi_lun *lun, struct scsi_cmd *c)
{
	switch (c->cdb[0]) {
	case 0x43: cmd_read_toc(lun, c); return true;
	case 0x46: cmd_get_configuration(lun, c); return true;
	case 0x51: cmd_read_disc_info(lun, c); return true;
	case 0x4a: cmd_gesn(lun, c); return true;
	/* Block commands an MMC device has; writes meet lun->ro. */
	case 0x25: case 0x28: case 0xa8: case 0x2a: case 0xaa: case 0x35:
		return scsi_disk_cmd(lun, c);
	default:
		return false;
	}
}
