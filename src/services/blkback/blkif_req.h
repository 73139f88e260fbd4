/*
 * blkif requests (Xen's public/io/blkif.h) parsed by pure functions: the
 * ring slot is copied once, the copy is validated and turned into a
 * struct blkif_req, and the device acts only on that.  Nothing here touches
 * guest memory or the host file; tests and the fuzz harness call these
 * directly.
 */
#ifndef PVISOR_BLKIF_REQ_H
#define PVISOR_BLKIF_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include <pvisor/xen.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#define BLKIF_SECTOR_SHIFT 9 /* sector-size 512 */
#define BLKIF_SECTORS_PER_PAGE 8
/* feature-max-indirect-segments: 256 segments = 1 MiB per request. */
#define BLKIF_MAX_INDIRECT_SEGS 256
#define BLKIF_SEGS_PER_INDIRECT_PAGE (4096 / sizeof(struct blkif_request_segment))

/* What the device offers. */
struct blkif_limits {
	uint64_t sectors;        /* disk size in 512-byte sectors */
	bool ro;                 /* writes and discards fail */
	bool discard;            /* feature-discard */
	unsigned max_indirect;   /* 0: no BLKIF_OP_INDIRECT */
};

struct blkif_seg {
	grant_ref_t gref;
	uint8_t first_sect, last_sect; /* validated: first <= last <= 7 */
};

struct blkif_req {
	uint64_t id;             /* echoed in the response */
	uint8_t op;              /* effective BLKIF_OP_* (indirect_op for INDIRECT) */
	blkif_sector_t sector;
	uint64_t nr_sectors;     /* sum of the segments, or the discard length */
	unsigned nr_segs;
	unsigned nr_indirect;    /* > 0: segments are in these granted pages */
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct blkif_seg seg[BLKIF_MAX_INDIRECT_SEGS];
};

/*
 * Parses one request: raw is the caller's private copy of a ring slot
 * (sizeof(struct blkif_request) bytes).  out->id and out->op are set first,
 * so that even a rejected request can be answered.  Returns
 *  0           valid; if out->nr_indirect > 0 the caller must fetch
 *              out->nr_segs segments from the indirect pages into out->seg
 *              and call blkif_req_check_segs();
 *  -EOPNOTSUPP unknown operation or feature not offered (BLKIF_RSP_EOPNOTSUPP);
 *  -EROFS      write or discard on a read-only disk (BLKIF_RSP_ERROR);
 *  -EINVAL     bad segment count, segment or sector range (BLKIF_RSP_ERROR).
 */
int blkif_req_parse(const struct blkif_request *raw,
		    const struct blkif_limits *lim, struct blkif_req *out)
	__attribute__((warn_unused_result));

/*
 * Validates out->seg[0..nr_segs) (first_sect <= last_sect <= 7), sums
 * nr_sectors and checks [sector, sector + nr_sectors) lies on the disk.
 * 0 or -EINVAL.
 */
int blkif_req_check_segs(struct blkif_req *r, const struct blkif_limits *lim)
	__attribute__((warn_unused_result));

/* The response status for a parse/check error (BLKIF_RSP_*). */
int16_t blkif_status_for(int err);

#endif
