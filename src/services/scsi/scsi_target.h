/*
 * pvisor's SCSI target: the command interpreter behind paravirtual SCSI
 * (docs/scsi.md).  Pure logic: a command (CDB, the initiator's data-out,
 * room for data-in) and the LUN's state go in; status, fixed-format sense,
 * data-in and the residual come out.  Commands that touch the image return
 * an I/O plan (struct scsi_io) instead: the caller performs it — the
 * backend through blkback's I/O engine, tests and the fuzz harness through
 * scsi_exec_sync() on an in-memory image — and calls scsi_cmd_finish().
 *
 * Direct-access disks follow SPC-4/SBC-3, CD/DVD LUNs (read-only ISO
 * images, 2048-byte blocks) MMC-6.  Every opcode not listed in docs/scsi.md
 * is CHECK CONDITION, ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.
 *
 * Not thread-safe: one thread runs a LUN's commands (the device thread);
 * the host's eject/insert must be serialised with it by the caller.
 */
#ifndef PVISOR_SCSI_TARGET_H
#define PVISOR_SCSI_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCSI_SENSE_LEN 18         /* fixed format, additional length 10 */
#define SCSI_MAX_CDB 16
#define SCSI_MAX_XFER (1u << 20)  /* bytes per READ/WRITE/VERIFY (VPD 0xb0) */
#define SCSI_MAX_UNMAP_DESC 64    /* block descriptors per UNMAP */
#define SCSI_MAX_WRITE_SAME 65536 /* blocks per WRITE SAME (VPD 0xb0) */
#define SCSI_BOUNCE 4096          /* most data-in / data-out of other commands */
#define SCSI_MAX_LUNS 16          /* per host adapter */

/* Status byte. */
#define SCSI_GOOD 0x00
#define SCSI_CHECK_CONDITION 0x02

/* Sense keys. */
#define SK_NO_SENSE 0x0
#define SK_NOT_READY 0x2
#define SK_MEDIUM_ERROR 0x3
#define SK_HARDWARE_ERROR 0x4
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION 0x6
#define SK_DATA_PROTECT 0x7
#define SK_MISCOMPARE 0xe

/* A sense key with its additional sense code and qualifier. */
struct scsi_sense_code {
	uint8_t key, asc, ascq;
};

extern const struct scsi_sense_code SENSE_INVALID_OPCODE;    /* 5/20/00 */
extern const struct scsi_sense_code SENSE_INVALID_FIELD;     /* 5/24/00 */
extern const struct scsi_sense_code SENSE_INVALID_PARAM;     /* 5/26/00 */
extern const struct scsi_sense_code SENSE_PARAM_LIST_LENGTH; /* 5/1a/00 */
extern const struct scsi_sense_code SENSE_LBA_OUT_OF_RANGE;  /* 5/21/00 */
extern const struct scsi_sense_code SENSE_LUN_NOT_SUPPORTED; /* 5/25/00 */
extern const struct scsi_sense_code SENSE_SAVING_NOT_SUPPORTED; /* 5/39/00 */
extern const struct scsi_sense_code SENSE_REMOVAL_PREVENTED; /* 5/53/02 */
extern const struct scsi_sense_code SENSE_WRITE_PROTECTED;   /* 7/27/00 */
extern const struct scsi_sense_code SENSE_NO_MEDIUM;         /* 2/3a/00 */
extern const struct scsi_sense_code SENSE_NEED_START;        /* 2/04/02 */
extern const struct scsi_sense_code SENSE_MEDIUM_CHANGED;    /* 6/28/00 */
extern const struct scsi_sense_code SENSE_READ_ERROR;        /* 3/11/00 */
extern const struct scsi_sense_code SENSE_WRITE_ERROR;       /* 3/0c/00 */
extern const struct scsi_sense_code SENSE_SPACE_FULL;        /* 7/27/07 */
extern const struct scsi_sense_code SENSE_MISCOMPARE_VERIFY; /* e/1d/00 */

enum scsi_media { SCSI_MEDIA_DISK, SCSI_MEDIA_CDROM };

/* Host, channel, target, LUN (vscsiif's "h:c:t:l"). */
struct scsi_addr {
	uint16_t host, channel, target, lun;
};

/* GET EVENT STATUS NOTIFICATION media events (MMC-6 table 150). */
enum scsi_media_event { MEV_NONE = 0, MEV_NEW_MEDIA = 2, MEV_REMOVAL = 3 };

struct scsi_lun {
	/* Configuration (set before the first command). */
	struct scsi_addr addr;
	enum scsi_media media;
	bool ro;             /* disks; a CD/DVD is always read-only */
	bool discard;        /* UNMAP / WRITE SAME(UNMAP) punch holes */
	uint32_t block_size; /* 512, or 2048 for a CD/DVD */
	uint64_t blocks;     /* the medium's size (0 with no medium) */
	char serial[21];     /* VPD 0x80 (NUL-terminated, ASCII) */
	uint64_t naa;        /* VPD 0x83 NAA-5 identifier */

	/* State the commands change. */
	bool present;        /* medium loaded (always for a disk) */
	bool stopped;        /* START STOP UNIT: stopped */
	bool prevent;        /* PREVENT ALLOW MEDIUM REMOVAL */
	bool wce;            /* caching mode page: write-back cache */
	bool ua_changed;     /* unit attention: medium may have changed */
	enum scsi_media_event event; /* the next GESN media event */
};

/* What the caller does on the image before scsi_cmd_finish(). */
enum scsi_io_op {
	SCSI_IO_NONE,       /* the command is complete */
	SCSI_IO_READ,       /* image [off, off+len) -> the initiator's buffer */
	SCSI_IO_WRITE,      /* the initiator's buffer -> image */
	SCSI_IO_VERIFY,     /* read the image, compare with the data-out: -EILSEQ */
	SCSI_IO_WRITE_SAME, /* `pattern` (one block) repeated over [off, off+len) */
	SCSI_IO_DISCARD,    /* punch each range (reads back zero) */
	SCSI_IO_FLUSH,      /* fdatasync */
};

struct scsi_range {
	uint64_t off, len; /* bytes */
};

struct scsi_io {
	enum scsi_io_op op;
	uint64_t off, len;       /* bytes on the image */
	bool flush_after;        /* FUA, WRITE AND VERIFY, write-through cache */
	const uint8_t *pattern;  /* WRITE_SAME: block_size bytes of the data-out */
	unsigned nr_ranges;      /* DISCARD */
	struct scsi_range range[SCSI_MAX_UNMAP_DESC];
};

struct scsi_cmd {
	/* In. */
	const uint8_t *cdb;
	unsigned cdb_len;
	uint32_t xfer_in;      /* bytes the initiator's buffer takes (data-in) */
	uint32_t xfer_out;     /* bytes of data-out the initiator sends */
	const uint8_t *dout;   /* non-direct commands: min(xfer_out, SCSI_BOUNCE)
				* bytes of the data-out */
	uint8_t *din;          /* non-direct commands: SCSI_BOUNCE bytes of room */

	/* Out. */
	struct scsi_io io;
	uint8_t status;
	uint8_t sense_len;     /* 0 or SCSI_SENSE_LEN */
	uint8_t sense[SCSI_SENSE_LEN];
	uint32_t din_len;      /* data-in bytes (in din, or the io's read) */
	uint32_t residual;     /* initiator's buffer length - bytes transferred */
};

/* The LUNs of one virtual host adapter. */
struct scsi_host {
	unsigned nr;
	struct scsi_lun *lun[SCSI_MAX_LUNS];
};

/*
 * Fills the LUN's defaults for `media` (block size, present, identity from
 * `id_seed`, e.g. a hash of the image path).  blocks/ro/discard/addr are
 * the caller's.
 */
void scsi_lun_init(struct scsi_lun *lun, enum scsi_media media, uint64_t id_seed);

/* True for the commands whose data goes straight between the image and
 * the initiator's buffer (READ/WRITE/WRITE AND VERIFY/VERIFY BYTCHK=1):
 * the caller gives them no dout/din bounce. */
bool scsi_cdb_direct(const uint8_t *cdb, unsigned cdb_len);

/*
 * Interprets one command for (channel, target, lun) on host h.  On return
 * either c->io.op is SCSI_IO_NONE and the outcome is in c, or the caller
 * must perform c->io and call scsi_cmd_finish().  Returns false only when
 * no LUN of (channel, target) exists (the transport answers "no connect").
 */
bool scsi_cmd_start(struct scsi_host *h, const struct scsi_addr *a,
		    struct scsi_cmd *c);

/* Completes c->io: res 0, -EILSEQ (miscompare) or another -errno. */
void scsi_cmd_finish(struct scsi_lun *lun, struct scsi_cmd *c, int res);

/* The LUN of a (channel, target, lun), or NULL. */
struct scsi_lun *scsi_host_find(struct scsi_host *h, const struct scsi_addr *a);

/*
 * Host-side medium change of a CD/DVD LUN: eject (blocks 0) or insert
 * (blocks > 0).  Eject fails with -EBUSY while the guest prevents removal
 * unless `force`; -EINVAL for a disk.  The guest sees UNIT ATTENTION
 * (28/00) and a GESN media event.
 */
int scsi_lun_change_medium(struct scsi_lun *lun, uint64_t blocks, bool force);

/* Sense helpers (scsi_sense.c). */
void scsi_set_sense(struct scsi_cmd *c, struct scsi_sense_code s);
/* INVALID FIELD IN CDB with the sense-key specific field pointer. */
void scsi_set_invalid_field(struct scsi_cmd *c, unsigned byte);
void scsi_set_good(struct scsi_cmd *c);
/* Builds fixed-format sense into out (SCSI_SENSE_LEN bytes). */
void scsi_sense_build(uint8_t *out, struct scsi_sense_code s);

/* Data-in helper: copies min(len, alloc, xfer_in, SCSI_BOUNCE) bytes to
 * c->din and sets GOOD and the residual. */
void scsi_reply(struct scsi_cmd *c, const uint8_t *buf, uint32_t len,
		uint32_t alloc);

/* Per-media commands (scsi_disk.c, scsi_cdrom.c): false if the opcode is
 * not theirs. */
bool scsi_disk_cmd(struct scsi_lun *lun, struct scsi_cmd *c);
bool scsi_cdrom_cmd(struct scsi_lun *lun, struct scsi_cmd *c);
/* Block I/O common to both (READ on either, WRITE/VERIFY on disks): checks
 * the medium, range and buffer and fills c->io (op READ, WRITE or VERIFY). */
void scsi_block_rw(struct scsi_lun *lun, struct scsi_cmd *c, uint64_t lba,
		   uint32_t nblocks, enum scsi_io_op op, bool fua);
/* VPD pages and mode pages of a disk (scsi_disk.c). */
int scsi_disk_vpd(const struct scsi_lun *lun, uint8_t page, uint8_t *out);
int scsi_disk_mode_page(const struct scsi_lun *lun, uint8_t page, int pc,
			uint8_t *out);
int scsi_cdrom_mode_page(const struct scsi_lun *lun, uint8_t page, int pc,
			 uint8_t *out);

/* Image I/O for scsi_exec_sync (tests, fuzz): 0 or -errno. */
struct scsi_image {
	void *opaque;
	int (*read)(void *opaque, void *buf, uint64_t len, uint64_t off);
	int (*write)(void *opaque, const void *buf, uint64_t len, uint64_t off);
	int (*flush)(void *opaque);
	int (*discard)(void *opaque, uint64_t off, uint64_t len);
};

/*
 * Runs one command to completion on img: data is the initiator's buffer of
 * xfer bytes (data-out for to_device, else data-in).  Returns false as
 * scsi_cmd_start does.
 */
bool scsi_exec_sync(struct scsi_host *h, const struct scsi_addr *a,
		    const uint8_t *cdb, unsigned cdb_len, bool to_device,
		    uint8_t *data, uint32_t xfer, const struct scsi_image *img,
		    struct scsi_cmd *c);

static inline uint16_t scsi_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t scsi_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t scsi_be64(const uint8_t *p)
{
	return (uint64_t)scsi_be32(p) << 32 | scsi_be32(p + 4);
}
static inline void scsi_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void scsi_put32(uint8_t *p, uint32_t v)
{
	scsi_put16(p, (uint16_t)(v >> 16));
	scsi_put16(p + 2, (uint16_t)v);
}
static inline void scsi_put64(uint8_t *p, uint64_t v)
{
	scsi_put32(p, (uint32_t)(v >> 32));
	scsi_put32(p + 4, (uint32_t)v);
}

#endif
