/*
 * libFuzzer harness for the vscsiif request parser: a ring slot, the
 * feature-sg-grant offered, and the segments a hostile frontend would put
 * in its indirect pages.  Accepted requests must be within the limits.
 */
// fuzz-sources: src/services/scsiback/vscsiif_req.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/scsiback/vscsiif_req.h"
#include "fuzz_sandbox.h"

static int fuzz_one(const uint8_t *data, size_t size)
{
	static struct vscsiif_req out;
	struct vscsiif_request raw;
	uint16_t max;

	if (size < sizeof(raw) + 2)
		return 0;
	memcpy(&raw, data, sizeof(raw));
	memcpy(&max, data + sizeof(raw), 2);
	data += sizeof(raw) + 2;
	size -= sizeof(raw) + 2;
	if (vscsiif_req_parse(&raw, max, &out) != 0)
		return 0;
	if (out.nr_segs > VSCSIIF_MAX_SEGS || out.nr_indirect > VSCSIIF_MAX_INDIRECT_PAGES)
		abort();
	if (out.nr_indirect) {
		if (out.nr_segs > max)
			abort();
		for (unsigned i = 0; i < out.nr_segs; i++) {
			struct scsiif_request_segment s = { 0 };

			if (size >= sizeof(s)) {
				memcpy(&s, data, sizeof(s));
				data += sizeof(s);
				size -= sizeof(s);
			}
			out.seg[i] = (struct vscsiif_seg){ s.gref, s.offset, s.length };
		}
		if (vscsiif_req_check_segs(&out) != 0)
			return 0;
	} else if (out.nr_segs > VSCSIIF_SG_TABLESIZE) {
		abort();
	}
	for (unsigned i = 0; i < out.nr_segs; i++)
		if (!out.seg[i].length || out.seg[i].offset + out.seg[i].length > 4096)
			abort();
	if (out.bytes > VSCSIIF_MAX_SEGS * 4096u)
		abort();
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_BLOCK, fuzz_one)
