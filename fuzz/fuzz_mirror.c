/*
 * libFuzzer harness for the proc mirror's incremental walk
 * (backend/proc/proc_mirror.h) over guest-written page tables: each 4-byte
 * record is a page-table write (a leaf, a table linked or unlinked at any
 * level, or a table rewritten while it or its L2 is unlinked, as
 * tests/unit/mirror_world.h keeps them within what pagetype allows) or a
 * walk.  Invariant at every
 * walk: the incremental walk, reusing the previous one, gives exactly the
 * runs of a full walk; ASan/UBSan watch memory.
 */
// fuzz-sources: src/backend/proc/proc_mirror.c src/core/gmem.c src/core/host_table.c src/core/log.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../tests/unit/mirror_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct world w;
static struct proc_runs prev, cur, full;
static struct proc_l1s l1s, l1s_next;
static uint64_t prev_gen; /* the generation when the previous walk began */

static void walk_and_check(void)
{
	struct proc_walk_prev p = { &prev, &l1s, w.wgen, prev_gen };
	struct proc_runs tmp;
	struct proc_l1s tmpl;

	if (proc_mirror_walk(&w.m, MW_L4, &full) ||
	    proc_mirror_walk_from(&w.m, MW_L4, &p, &l1s_next, &cur))
		abort(); /* -ENOMEM */
	if (!world_same_runs(&full, &cur))
		abort();
	prev_gen = w.gen;
	tmp = prev, prev = cur, cur = tmp;
	tmpl = l1s, l1s = l1s_next, l1s_next = tmpl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!w.m.nr_frames && gmem_init(&w.m, MW_FRAMES, 0))
		abort();
	/* Every input starts from empty tables and an empty mirror. */
	for (uint64_t f = MW_L4; f < MW_DATA; f++)
		for (unsigned i = 0; i < 512; i++)
			*world_entry(&w, f, i) = 0;
	w.gen++;
	for (uint64_t f = 0; f < MW_FRAMES; f++)
		w.wgen[f] = w.gen;
	prev.n = 0;
	l1s.n = 0;
	walk_and_check();
	for (size_t at = 0; at + 4 <= size; at += 4) {
		const uint8_t *r = data + at;
		unsigned slot = r[2] | (r[3] & 1u) << 8, bits = r[3] >> 1;

		switch (r[0] % 5) {
		case 0:
		case 1:
			world_leaf(&w, r[1], slot, r[3], r[0] & 0x80, bits);
			break;
		case 2:
			world_link(&w, 1 + r[1] % 3, r[1] >> 2, r[2], r[3], r[0] & 0x80,
				   bits);
			break;
		case 3:
			if (r[0] & 0x40)
				world_relink_rewritten_l2(&w, r[1], r[1] >> 1, r[1] >> 3,
							  slot, r[3], bits);
			else
				world_relink_rewritten(&w, r[1], r[1] >> 2, slot, r[3],
						       bits);
			break;
		default:
			walk_and_check();
		}
	}
	walk_and_check();
	return 0;
}
