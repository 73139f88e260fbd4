/*
 * A small guest page-table tree for the proc mirror's walks (shared by
 * tests/unit/test_proc_mirror.c and fuzz/fuzz_mirror.c): frames 1 (L4),
 * 2-3 (L3), 4-7 (L2), 8-23 (L1), data after; writes go through
 * world_pt_write, which keeps the per-frame write generations as
 * proc_pt_write does.  The tree stays within what pagetype allows a guest:
 * tables point only at tables of the level below, and a table is
 * rewritten without a page-table write only while nothing links it.
 */
#ifndef PVISOR_TEST_MIRROR_WORLD_H
#define PVISOR_TEST_MIRROR_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/proc/proc_mirror.h"
#include "core/gmem.h"

#define MW_FRAMES 96
#define MW_P 1ull
#define MW_RW 2ull
#define MW_NX (1ull << 63)
#define MW_L4 1
#define MW_L3 2  /* 2 of them */
#define MW_L2 4  /* 4 */
#define MW_L1 8  /* 16 */
#define MW_NR_L1 16
#define MW_DATA 24
#define MW_SLOTS 4 /* slots of L4/L3/L2 used */

struct world {
	struct gmem m;
	uint64_t wgen[MW_FRAMES];
	uint64_t gen;
};

static inline uint64_t *world_entry(struct world *w, uint64_t mfn, unsigned slot)
{
	return (uint64_t *)gmem_ptr(&w->m, mfn << PAGE_SHIFT, PAGE_SIZE) + slot;
}

static inline void world_pt_write(struct world *w, uint64_t mfn, unsigned slot,
				  uint64_t val)
{
	uint64_t gone = proc_mirror_unlinked(*world_entry(w, mfn, slot), val);

	*world_entry(w, mfn, slot) = val;
	w->wgen[mfn] = ++w->gen;
	if (gone < MW_FRAMES)
		w->wgen[gone] = w->gen;
}

/* Flags from two bits of choice: RW most of the time, NX some. */
static inline uint64_t world_flags(unsigned bits)
{
	return MW_P | (bits & 3 ? MW_RW : 0) | (bits & 4 ? MW_NX : 0);
}

/* level 3, 2 or 1: which table of that level goes in a slot of one above
 * (or the slot is cleared). */
static inline void world_link(struct world *w, unsigned level, unsigned parent,
			      unsigned slot, unsigned child, bool present,
			      unsigned bits)
{
	static const uint64_t first[] = { 0, MW_L1, MW_L2, MW_L3 };
	static const unsigned count[] = { 0, MW_NR_L1, 4, 2 };
	static const uint64_t parents[] = { 0, MW_L2, MW_L3, MW_L4 };
	static const unsigned nparents[] = { 0, 4, 2, 1 };
	uint64_t c = first[level] + child % count[level];

	world_pt_write(w, parents[level] + parent % nparents[level], slot % MW_SLOTS,
		       present ? c << PAGE_SHIFT | world_flags(bits) : 0);
}

/* An L1 leaf (a pfn past memory now and then: the walk skips it). */
static inline void world_leaf(struct world *w, unsigned l1, unsigned slot,
			      unsigned pfn, bool present, unsigned bits)
{
	uint64_t f = MW_DATA + pfn % (MW_FRAMES - MW_DATA + 8);

	world_pt_write(w, MW_L1 + l1 % MW_NR_L1, slot % 512,
		       present ? f << PAGE_SHIFT | world_flags(bits) : 0);
}

/* How many used slots of the ntables tables from frame `first` link mfn. */
static inline unsigned world_refs(struct world *w, uint64_t first,
				  unsigned ntables, uint64_t mfn)
{
	unsigned n = 0;

	for (unsigned t = 0; t < ntables; t++)
		for (unsigned i = 0; i < MW_SLOTS; i++) {
			uint64_t e = *world_entry(w, first + t, i);

			n += (e & MW_P) && ((e >> PAGE_SHIFT) & 0xffffffffffull) == mfn;
		}
	return n;
}

static inline unsigned world_l2_refs(struct world *w, uint64_t mfn)
{
	return world_refs(w, MW_L2, 4, mfn);
}

/* Entry tslot of table t cleared, entry `slot` of L1 table l1 rewritten
 * with no page-table write, entry tslot put back. */
static inline void world_rewrite_unlinked(struct world *w, uint64_t t,
					  unsigned tslot, uint64_t l1,
					  unsigned slot, unsigned pfn,
					  unsigned bits)
{
	uint64_t e = *world_entry(w, t, tslot);

	world_pt_write(w, t, tslot, 0);
	*world_entry(w, l1, slot % 512) =
		(uint64_t)(MW_DATA + pfn % 40) << PAGE_SHIFT | world_flags(bits);
	world_pt_write(w, t, tslot, e);
}

/* The L1 table in that L2 slot unlinked, entry `slot` of it rewritten
 * behind the mirror's back (no page-table write), linked back: only when
 * no other entry links it (else it stays a table the guest cannot write). */
static inline void world_relink_rewritten(struct world *w, unsigned l2, unsigned l2slot,
					  unsigned slot, unsigned pfn, unsigned bits)
{
	uint64_t t = MW_L2 + l2 % 4, e = *world_entry(w, t, l2slot % MW_SLOTS), l1;

	if (!(e & MW_P))
		return;
	l1 = (e >> PAGE_SHIFT) & 0xffffffffffull;
	if (world_l2_refs(w, l1) != 1)
		return;
	world_rewrite_unlinked(w, t, l2slot % MW_SLOTS, l1, slot, pfn, bits);
}

/* The L2 table in that L3 slot unlinked, an L1 that only it links
 * rewritten behind the mirror's back (the L2 losing its type takes the
 * L1's with it, with no write into the L2), and the L2 linked back. */
static inline void world_relink_rewritten_l2(struct world *w, unsigned l3,
					     unsigned l3slot, unsigned l2slot,
					     unsigned slot, unsigned pfn,
					     unsigned bits)
{
	uint64_t t = MW_L3 + l3 % 2, e = *world_entry(w, t, l3slot % MW_SLOTS);
	uint64_t l2, f, l1;

	if (!(e & MW_P))
		return;
	l2 = (e >> PAGE_SHIFT) & 0xffffffffffull;
	f = *world_entry(w, l2, l2slot % MW_SLOTS);
	if (world_refs(w, MW_L3, 2, l2) != 1 || !(f & MW_P))
		return;
	l1 = (f >> PAGE_SHIFT) & 0xffffffffffull;
	if (world_l2_refs(w, l1) != 1)
		return;
	world_rewrite_unlinked(w, t, l3slot % MW_SLOTS, l1, slot, pfn, bits);
}

/* The two run lists are the same mappings. */
static inline bool world_same_runs(const struct proc_runs *a, const struct proc_runs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].va != b->v[i].va || a->v[i].npages != b->v[i].npages ||
		    a->v[i].pfn != b->v[i].pfn || a->v[i].prot != b->v[i].prot)
			return false;
	return true;
}

#endif
