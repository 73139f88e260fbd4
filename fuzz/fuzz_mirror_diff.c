/*
 * libFuzzer harness for proc_mirror_diff (backend/proc/proc_mirror.h), the
 * step that turns the guest process's mappings of the last walk into this
 * walk's: the input gives two sorted, non-overlapping run lists (as a walk
 * of guest-written tables makes them) over a window of WINDOW pages.
 * Invariant: the ops are well formed (page-aligned, non-empty, known kinds,
 * protections within RWX, an mprotect only over mapped pages) and, applied
 * page by page to the old mappings, give exactly the new ones.
 */
// fuzz-sources: src/backend/proc/proc_mirror.c src/core/gmem.c src/core/host_table.c src/core/log.c
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/proc/proc_layout.h"
#include "backend/proc/proc_mirror.h"

#define WINDOW 512u
#define BASE 0x400000ull
#define RWX 7u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A page of the window: mapped or not, and to which frame with what. */
struct page {
	bool mapped;
	uint64_t pfn;
	uint32_t prot;
};

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned take(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

/*
 * Up to 32 runs: each a gap and a length in pages, a frame and a
 * protection, clipped to the window.  Run i+1 starts where run i ends
 * plus its gap (0: adjacent, which the walk never makes with a contiguous
 * frame and the same protection, but which the diff must take anyway).
 */
static void make_runs(struct input *in, struct proc_runs *r, struct page *model)
{
	unsigned n = take(in) % 33, at = 0;

	r->n = 0;
	memset(model, 0, WINDOW * sizeof(*model));
	for (unsigned i = 0; i < n && at < WINDOW; i++) {
		unsigned gap = take(in) % 16, len = take(in) % 24 + 1;
		uint64_t pfn = take(in) | (uint64_t)(take(in) & 0xf) << 8;
		uint32_t prot = take(in) & RWX;

		at += gap;
		if (at >= WINDOW)
			break;
		if (len > WINDOW - at)
			len = WINDOW - at;
		r->v[r->n++] = (struct proc_run){ BASE + (uint64_t)at * PAGE_SIZE, len, pfn, prot };
		for (unsigned k = 0; k < len; k++)
			model[at + k] = (struct page){ true, pfn + k, prot };
		at += len;
	}
}

/* Applies one op to the model; false if the op is malformed. */
static bool apply(const struct proc_op *op, struct page *model)
{
	uint64_t first, count;

	if (op->addr % PAGE_SIZE || op->len % PAGE_SIZE || !op->len ||
	    op->addr < BASE || op->addr - BASE > (uint64_t)WINDOW * PAGE_SIZE ||
	    op->len > (uint64_t)WINDOW * PAGE_SIZE - (op->addr - BASE))
		return false;
	first = (op->addr - BASE) / PAGE_SIZE;
	count = op->len / PAGE_SIZE;
	for (uint64_t k = 0; k < count; k++) {
		struct page *pg = &model[first + k];

		switch (op->kind) {
		case PROC_OP_MMAP:
			if (op->off % PAGE_SIZE || op->prot & ~RWX)
				return false;
			*pg = (struct page){ true, op->off / PAGE_SIZE + k, op->prot };
			break;
		case PROC_OP_MUNMAP:
			pg->mapped = false;
			break;
		case PROC_OP_MPROTECT:
			if (!pg->mapped || op->prot & ~RWX)
				return false; /* mprotect of a hole fails */
			pg->prot = op->prot;
			break;
		default:
			return false;
		}
	}
	return true;
}

static bool same_page(const struct page *a, const struct page *b)
{
	return a->mapped == b->mapped &&
	       (!a->mapped || (a->pfn == b->pfn && a->prot == b->prot));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proc_run old_v[32], new_v[32];
	static struct page have[WINDOW], want[WINDOW];
	struct proc_runs old = { old_v, 0, 32 }, new = { new_v, 0, 32 };
	struct proc_opbuf ops = { 0 };
	struct input in = { data, size };

	make_runs(&in, &old, have);
	make_runs(&in, &new, want);
	if (proc_mirror_diff(&old, &new, &ops))
		abort(); /* -ENOMEM */
	for (size_t i = 0; i < ops.n; i++)
		if (!apply(&ops.v[i], have))
			abort();
	for (unsigned p = 0; p < WINDOW; p++)
		if (!same_page(&have[p], &want[p]))
			abort();
	/* Nothing to do for lists that agree page by page. */
	if (!memcmp(old_v, new_v, sizeof(old_v[0]) * (old.n < new.n ? old.n : new.n)) &&
	    old.n == new.n && ops.n)
		abort();
	proc_opbuf_free(&ops);
	return 0;
}
