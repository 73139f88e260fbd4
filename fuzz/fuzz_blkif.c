/*
 * libFuzzer harness for the blkif request parser: the input is a ring slot
 * (struct blkif_request) followed by limits and, for indirect requests, the
 * segments a hostile frontend would put in its indirect pages.
 */
// fuzz-sources: src/services/blkback/blkif_req.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/blkback/blkif_req.h"
#include "fuzz_sandbox.h"

static int fuzz_one(const uint8_t *data, size_t size)
{
	static struct blkif_req out;
	struct blkif_request raw;
	struct blkif_limits lim;
	uint8_t flags;
	uint32_t sectors;

	if (size < sizeof(raw) + 5)
		return 0;
	memcpy(&raw, data, sizeof(raw));
	data += sizeof(raw);
	size -= sizeof(raw);
	flags = data[0];
	memcpy(&sectors, data + 1, 4);
	data += 5;
	size -= 5;
	lim = (struct blkif_limits){ .sectors = sectors, .ro = flags & 1,
				     .discard = flags & 2,
				     .max_indirect = flags & 4 ? BLKIF_MAX_INDIRECT_SEGS : 0 };
	if (blkif_req_parse(&raw, &lim, &out) == 0) {
		if (out.nr_segs > BLKIF_MAX_INDIRECT_SEGS)
			abort();
		if (out.nr_indirect) {
			for (unsigned i = 0; i < out.nr_segs; i++) {
				struct blkif_request_segment s = { 0 };

				if (size >= sizeof(s)) {
					memcpy(&s, data, sizeof(s));
					data += sizeof(s);
					size -= sizeof(s);
				}
				out.seg[i] = (struct blkif_seg){ s.gref, s.first_sect,
								 s.last_sect };
			}
			if (blkif_req_check_segs(&out, &lim) != 0)
				return 0;
		}
		/* What the parser accepts must lie on the disk. */
		if (out.sector + out.nr_sectors > lim.sectors ||
		    out.sector + out.nr_sectors < out.sector)
			abort();
		for (unsigned i = 0; i < out.nr_segs; i++)
			if (out.seg[i].first_sect > out.seg[i].last_sect ||
			    out.seg[i].last_sect > 7)
				abort();
		if (lim.ro && out.op != BLKIF_OP_READ &&
		    !(out.op == BLKIF_OP_FLUSH_DISKCACHE && !out.nr_segs))
			abort();
	}
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_BLOCK, fuzz_one)
