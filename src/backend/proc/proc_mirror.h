/*
 * The proc backend's mapping mirror: the guest process's mappings below
 * PVISOR_GUEST_VA_LIMIT follow the guest page tables.  A walk turns the
 * tables into sorted runs; a diff of two run lists gives the
 * mmap/munmap/mprotect operations that turn one into the other.  Pure
 * functions over guest memory, testable without a guest process.
 */
#ifndef PVISOR_PROC_MIRROR_H
#define PVISOR_PROC_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "backend/proc/proc_layout.h"
#include "core/gmem.h"

/* npages pages from va map frames pfn.. with prot (PROT_*). */
struct proc_run {
	uint64_t va;
	uint64_t npages;
	uint64_t pfn;
	uint32_t prot;
};

struct proc_runs {
	struct proc_run *v;
	size_t n, cap;
};

/* An L1 table a walk went through: at va (2 MiB aligned), frame mfn,
 * with the RW/NX the levels above gave it. */
struct proc_l1 {
	uint64_t va;
	uint64_t mfn;
	bool rw, nx;
};

struct proc_l1s {
	struct proc_l1 *v;
	size_t n, cap;
};

/*
 * What an incremental walk may take from the previous one: its runs and
 * L1 tables, and which tables changed since it began.  wgen[mfn] is the
 * write generation of frame mfn: the last page-table write into it, or
 * the last one that took a link to it away (proc_mirror_unlinked).  An
 * L1 table gives the runs it gave before when the previous walk met it at
 * the same address with the same inherited RW/NX, its generation is not
 * above `since`, and neither are those of the L4 and L3 above it; its L2
 * may have been written.  Sound because a table in use changes only by a
 * page-table write (pagetype keeps the guest's own mappings of it
 * read-only).  A table could lose its type and be rewritten behind the
 * mirror's back only after the link the walk came through went away:
 * from an L2 written since, which stamps the L1 it unlinked, or with the
 * L2 itself, through a write into an L3 or L4 above, which makes every L1
 * under it be read again.
 */
/*
 * The frame whose link a page-table write of `val` over `old` takes away
 * (the entry stops pointing at it, or turns into or out of a superpage),
 * or UINT64_MAX for none; pt_write stamps its generation too.
 */
static inline uint64_t proc_mirror_unlinked(uint64_t old, uint64_t val)
{
	const uint64_t p = 1, ps = 1ull << 7, addr = 0x000ffffffffff000ull;

	if (!(old & p))
		return UINT64_MAX;
	if ((val & p) && !((old ^ val) & (addr | ps)))
		return UINT64_MAX;
	return (old & addr) >> 12;
}

struct proc_walk_prev {
	const struct proc_runs *runs;
	const struct proc_l1s *l1s;
	const uint64_t *wgen; /* read with __atomic_load_n */
	uint64_t since;
};

struct proc_opbuf {
	struct proc_op *v;
	size_t n, cap;
};

/*
 * Rebuilds `out` from the 4-level tables rooted at frame l4_mfn: every
 * present 4K leaf below PVISOR_GUEST_VA_LIMIT whose frames (tables and leaf)
 * are guest frames; PROT_READ, +PROT_WRITE if RW at every level, +PROT_EXEC
 * unless NX at some level.  Superpage entries are skipped (Xen PV has none
 * without opt-in).  Each entry is read once.  0 or -ENOMEM.
 */
int proc_mirror_walk(const struct gmem *m, uint64_t l4_mfn,
		     struct proc_runs *out) __attribute__((warn_unused_result));

/*
 * The same runs as proc_mirror_walk, reusing what `prev` allows (NULL or
 * prev->l1s empty: a full walk); `l1s` gets this walk's L1 tables for the
 * next one.  0 or -ENOMEM.
 */
int proc_mirror_walk_from(const struct gmem *m, uint64_t l4_mfn,
			  const struct proc_walk_prev *prev, struct proc_l1s *l1s,
			  struct proc_runs *out) __attribute__((warn_unused_result));

/*
 * Appends to `ops` what turns mappings `old` into `new` (both sorted, as
 * the walk makes them): munmap where only old maps, mmap where new maps
 * something else, mprotect where only the protection changed.  Adjacent
 * operations are coalesced.  0 or -ENOMEM.
 */
int proc_mirror_diff(const struct proc_runs *old, const struct proc_runs *new,
		     struct proc_opbuf *ops) __attribute__((warn_unused_result));

void proc_runs_free(struct proc_runs *r);
void proc_l1s_free(struct proc_l1s *l);
void proc_opbuf_free(struct proc_opbuf *b);

#endif
