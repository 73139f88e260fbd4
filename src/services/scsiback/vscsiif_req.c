/* vscsiif request parsing (see vscsiif_req.h). */
#include "services/scsiback/vscsiif_req.h"

#include <errno.h>
#include <string.h>

static bool seg_ok(uint16_t offset, uint16_t length)
{
	return length && (uint32_t)offset + length <= VSCSIIF_PAGE_SIZE;
}

int vscsiif_req_parse(const struct vscsiif_request *raw, unsigned max_segs,
		      struct vscsiif_req *out)
{
	unsigned n = raw->nr_segments;

	out->rqid = raw->rqid;
	out->act = raw->act;
	out->nr_segs = out->nr_indirect = 0;
	out->bytes = 0;
	if (raw->act == VSCSIIF_ACT_SCSI_ABORT || raw->act == VSCSIIF_ACT_SCSI_RESET) {
		out->channel = raw->channel;
		out->id = raw->id;
		out->lun = raw->lun;
		out->ref_rqid = raw->ref_rqid;
		return 0;
	}
	if (raw->act != VSCSIIF_ACT_SCSI_CDB)
		return -EOPNOTSUPP;
	out->cmd_len = raw->cmd_len;
	memcpy(out->cdb, raw->cmnd, sizeof(out->cdb));
	out->channel = raw->channel;
	out->id = raw->id;
	out->lun = raw->lun;
	out->dir = raw->sc_data_direction;
	if (out->dir != VSCSIIF_DIR_TO_DEVICE && out->dir != VSCSIIF_DIR_FROM_DEVICE &&
	    out->dir != VSCSIIF_DIR_NONE)
		return -EINVAL; /* bidirectional (or garbage) is not offered */
	if (out->dir == VSCSIIF_DIR_NONE)
		return n ? -EINVAL : 0;
	if (n & VSCSIIF_SG_GRANT) {
		unsigned total = 0;

		n &= ~VSCSIIF_SG_GRANT;
		if (!max_segs || !n || n > VSCSIIF_MAX_INDIRECT_PAGES)
			return -EINVAL;
		for (unsigned i = 0; i < n; i++) {
			const struct scsiif_request_segment *s = &raw->seg[i];

			if (!seg_ok(s->offset, s->length) ||
			    s->length % sizeof(struct scsiif_request_segment))
				return -EINVAL;
			out->indirect[i] = (struct vscsiif_seg){ s->gref, s->offset,
								 s->length };
			total += s->length / sizeof(struct scsiif_request_segment);
		}
		if (!total || total > max_segs || total > VSCSIIF_MAX_SEGS)
			return -EINVAL;
		out->nr_indirect = n;
		out->nr_segs = total;
		return 0;
	}
	if (n > VSCSIIF_SG_TABLESIZE)
		return -EINVAL;
	out->nr_segs = n;
	for (unsigned i = 0; i < n; i++)
		out->seg[i] = (struct vscsiif_seg){ raw->seg[i].gref, raw->seg[i].offset,
						    raw->seg[i].length };
	return vscsiif_req_check_segs(out);
}

int vscsiif_req_check_segs(struct vscsiif_req *out)
{
	uint32_t bytes = 0;

	for (unsigned i = 0; i < out->nr_segs; i++) {
		if (!seg_ok(out->seg[i].offset, out->seg[i].length))
			return -EINVAL;
		bytes += out->seg[i].length; /* <= 256 * 4096: no overflow */
	}
	out->bytes = bytes;
	return 0;
}
