/* blkif request parsing (see blkif_req.h). */
#include "services/blkback/blkif_req.h"

#include <errno.h>
#include <string.h>

int16_t blkif_status_for(int err)
{
	if (err == 0)
		return BLKIF_RSP_OKAY;
	return err == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
}

int blkif_req_check_segs(struct blkif_req *r, const struct blkif_limits *lim)
{
	uint64_t total = 0, end;

	for (unsigned i = 0; i < r->nr_segs; i++) {
		const struct blkif_seg *s = &r->seg[i];

		/* A segment stays inside its page: first <= last <= 7. */
		if (s->last_sect >= BLKIF_SECTORS_PER_PAGE ||
		    s->first_sect > s->last_sect)
			return -EINVAL;
		total += (uint64_t)(s->last_sect - s->first_sect) + 1;
	}
	if (__builtin_add_overflow(r->sector, total, &end) || end > lim->sectors)
		return -EINVAL;
	r->nr_sectors = total;
	return 0;
}

static void copy_segs(struct blkif_req *out, const struct blkif_request *raw,
		      unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		out->seg[i].gref = raw->seg[i].gref;
		out->seg[i].first_sect = raw->seg[i].first_sect;
		out->seg[i].last_sect = raw->seg[i].last_sect;
	}
}

static int parse_indirect(const struct blkif_request *raw,
			  const struct blkif_limits *lim, struct blkif_req *out)
{
	struct blkif_request_indirect ind;
	unsigned pages;

	memcpy(&ind, raw, sizeof(ind));
	out->id = ind.id;
	out->op = ind.indirect_op;
	if (!lim->max_indirect)
		return -EOPNOTSUPP;
	if (ind.indirect_op != BLKIF_OP_READ && ind.indirect_op != BLKIF_OP_WRITE) {
		out->op = BLKIF_OP_INDIRECT;
		return -EINVAL;
	}
	if (ind.indirect_op == BLKIF_OP_WRITE && lim->ro)
		return -EROFS;
	if (ind.nr_segments == 0 || ind.nr_segments > lim->max_indirect ||
	    ind.nr_segments > BLKIF_MAX_INDIRECT_SEGS)
		return -EINVAL;
	pages = (ind.nr_segments + BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
		BLKIF_SEGS_PER_INDIRECT_PAGE;
	out->sector = ind.sector_number;
	out->nr_segs = ind.nr_segments;
	out->nr_indirect = pages;
	memcpy(out->indirect_grefs, ind.indirect_grefs,
	       pages * sizeof(grant_ref_t));
	return 0;
}

int blkif_req_parse(const struct blkif_request *raw,
		    const struct blkif_limits *lim, struct blkif_req *out)
{
	out->id = raw->id;
	out->op = raw->operation;
	out->sector = raw->sector_number;
	out->nr_sectors = 0;
	out->nr_segs = 0;
	out->nr_indirect = 0;

	switch (raw->operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		if (raw->operation != BLKIF_OP_READ &&
		    raw->operation != BLKIF_OP_FLUSH_DISKCACHE && lim->ro)
			return -EROFS;
		if (raw->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return -EINVAL;
		/* Reads and writes move data; flushes may carry none. */
		if (raw->nr_segments == 0 && (raw->operation == BLKIF_OP_READ ||
					      raw->operation == BLKIF_OP_WRITE))
			return -EINVAL;
		if (raw->nr_segments && raw->operation == BLKIF_OP_FLUSH_DISKCACHE &&
		    lim->ro)
			return -EROFS;
		out->nr_segs = raw->nr_segments;
		copy_segs(out, raw, out->nr_segs);
		return blkif_req_check_segs(out, lim);
	case BLKIF_OP_DISCARD: {
		struct blkif_request_discard d;
		uint64_t end;

		memcpy(&d, raw, sizeof(d));
		if (!lim->discard)
			return -EOPNOTSUPP;
		if (lim->ro)
			return -EROFS;
		if (__builtin_add_overflow(d.sector_number, d.nr_sectors, &end) ||
		    end > lim->sectors)
			return -EINVAL;
		out->sector = d.sector_number;
		out->nr_sectors = d.nr_sectors;
		return 0;
	}
	case BLKIF_OP_INDIRECT:
		return parse_indirect(raw, lim, out);
	default:
		return -EOPNOTSUPP;
	}
}
