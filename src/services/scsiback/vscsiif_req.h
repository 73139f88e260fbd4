/*
 * vscsiif requests (Xen's public/io/vscsiif.h) parsed by pure functions,
 * as blkif_req does for blkback: the ring slot is copied once, the copy is
 * validated into a struct vscsiif_req, and scsiback acts only on that.
 */
#ifndef PVISOR_VSCSIIF_REQ_H
#define PVISOR_VSCSIIF_REQ_H

#include <stdbool.h>
#include <stdint.h>

#include <pvisor/xen.h>
#include <xen/io/protocols.h>
#include <xen/io/vscsiif.h>
#include <xen/io/xenbus.h>

/* feature-sg-grant: segments per request (1 MiB of pages). */
#define VSCSIIF_MAX_SEGS 256
#define VSCSIIF_MAX_INDIRECT_PAGES VSCSIIF_SG_TABLESIZE

/* sc_data_direction (Linux's DMA_* numbers). */
#define VSCSIIF_DIR_BIDIRECTIONAL 0
#define VSCSIIF_DIR_TO_DEVICE 1
#define VSCSIIF_DIR_FROM_DEVICE 2
#define VSCSIIF_DIR_NONE 3

struct vscsiif_seg {
	grant_ref_t gref;
	uint16_t offset, length; /* validated: offset + length <= 4096 */
};

struct vscsiif_req {
	uint16_t rqid;           /* echoed in the response */
	uint8_t act;
	uint8_t cmd_len;         /* as sent: the target refuses 0 and > 16 */
	uint8_t cdb[VSCSIIF_MAX_COMMAND_SIZE];
	uint16_t channel, id, lun, ref_rqid;
	uint8_t dir;
	unsigned nr_segs;
	unsigned nr_indirect;    /* > 0: the segments are in these pages */
	struct vscsiif_seg indirect[VSCSIIF_MAX_INDIRECT_PAGES];
	struct vscsiif_seg seg[VSCSIIF_MAX_SEGS];
	uint32_t bytes;          /* sum of the segment lengths */
};

/*
 * Parses one request (raw: the caller's copy of a ring slot).  out->rqid
 * and out->act are set first, so a rejected request can be answered.
 * max_segs is the feature-sg-grant offered (0: no indirect pages).
 * Returns
 *  0           valid; if out->nr_indirect > 0 the caller copies out->nr_segs
 *              segments from the indirect pages into out->seg and calls
 *              vscsiif_req_check_segs();
 *  -EOPNOTSUPP an action other than CDB, ABORT, RESET;
 *  -EINVAL     bad direction, segment count, segment or indirect page.
 */
int vscsiif_req_parse(const struct vscsiif_request *raw, unsigned max_segs,
		      struct vscsiif_req *out) __attribute__((warn_unused_result));

/* Validates out->seg[0..nr_segs) and sums out->bytes.  0 or -EINVAL. */
int vscsiif_req_check_segs(struct vscsiif_req *out)
	__attribute__((warn_unused_result));

#endif
