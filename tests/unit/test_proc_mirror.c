/*
 * The proc mirror's incremental walk (backend/proc/proc_mirror.h): after
 * any sequence of page-table writes, a walk that reuses the previous one
 * gives exactly the runs of a full walk.  The writes are random, at every
 * level, including the one the reuse must not be fooled by: a table
 * unlinked, rewritten without a page-table write (as a guest may while the
 * frame is no table) and linked back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/proc/proc_mirror.h"
#include "core/gmem.h"

#define FRAMES 96
#define P 1ull
#define RW 2ull
#define NX (1ull << 63)

/* Frames: 1 L4, 2-3 L3, 4-7 L2, 8-23 L1, 24.. data. */
#define F_L4 1
#define F_L3 2
#define F_L2 4
#define F_L1 8
#define NR_L1 16
#define F_DATA 24

struct world {
	struct gmem m;
	uint64_t wgen[FRAMES];
	uint64_t gen;
	unsigned seed;
};

static uint64_t *entry(struct world *w, uint64_t mfn, unsigned slot)
{
	return (uint64_t *)gmem_ptr(&w->m, mfn << PAGE_SHIFT, PAGE_SIZE) + slot;
}

/* What proc_pt_write does: the entry, then the frame's generation. */
static void pt_write(struct world *w, uint64_t mfn, unsigned slot, uint64_t val)
{
	*entry(w, mfn, slot) = val;
	w->wgen[mfn] = ++w->gen;
}

static unsigned rnd(struct world *w, unsigned n)
{
	return (unsigned)(rand_r(&w->seed) % n);
}

static uint64_t flags(struct world *w)
{
	return P | (rnd(w, 4) ? RW : 0) | (rnd(w, 5) ? 0 : NX);
}

/* A random table of `level` (1..3) and a slot in the one above for it. */
static void link_random(struct world *w)
{
	unsigned level = 1 + rnd(w, 3);

	if (level == 3)
		pt_write(w, F_L4, rnd(w, 3), rnd(w, 6) ? (F_L3 + rnd(w, 2)) << PAGE_SHIFT | flags(w) : 0);
	else if (level == 2)
		pt_write(w, F_L3 + rnd(w, 2), rnd(w, 3),
			 rnd(w, 6) ? (F_L2 + rnd(w, 4)) << PAGE_SHIFT | flags(w) : 0);
	else
		pt_write(w, F_L2 + rnd(w, 4), rnd(w, 4),
			 rnd(w, 6) ? (F_L1 + rnd(w, NR_L1)) << PAGE_SHIFT | flags(w) : 0);
}

static void leaf_random(struct world *w)
{
	uint64_t pfn = F_DATA + rnd(w, FRAMES - F_DATA + 8); /* some beyond memory */

	pt_write(w, F_L1 + rnd(w, NR_L1), rnd(w, 512),
		 rnd(w, 5) ? pfn << PAGE_SHIFT | flags(w) : 0);
}

/* Entries in the L2 tables that point at frame mfn. */
static unsigned l2_refs(struct world *w, uint64_t mfn)
{
	unsigned n = 0;

	for (unsigned t = 0; t < 4; t++)
		for (unsigned i = 0; i < 4; i++) {
			uint64_t e = *entry(w, F_L2 + t, i);

			n += (e & P) && ((e >> PAGE_SHIFT) & 0xffffffffffull) == mfn;
		}
	return n;
}

/* An L1 table unlinked, rewritten behind the mirror's back, linked back.
 * Only one no other entry uses: while any does, it stays a table, which
 * the guest cannot write (pagetype). */
static void relink_rewritten(struct world *w)
{
	uint64_t l2 = F_L2 + rnd(w, 4), l1;
	unsigned slot = rnd(w, 4);
	uint64_t e = *entry(w, l2, slot);

	if (!(e & P))
		return;
	l1 = (e >> PAGE_SHIFT) & 0xffffffffffull;
	if (l2_refs(w, l1) != 1)
		return;
	pt_write(w, l2, slot, 0);
	for (unsigned i = 0; i < 8; i++)
		*entry(w, l1, rnd(w, 512)) = (uint64_t)(F_DATA + rnd(w, 40)) << PAGE_SHIFT | flags(w);
	pt_write(w, l2, slot, e);
}

static void assert_same_runs(const struct proc_runs *a, const struct proc_runs *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->v[i].va, b->v[i].va);
		assert_int_equal(a->v[i].npages, b->v[i].npages);
		assert_int_equal(a->v[i].pfn, b->v[i].pfn);
		assert_int_equal(a->v[i].prot, b->v[i].prot);
	}
}

static void test_incremental_equals_full(void **state)
{
	static struct world w;
	struct proc_runs full = { 0 }, prev = { 0 }, cur = { 0 }, tmp;
	struct proc_l1s l1s = { 0 }, l1s_next = { 0 }, tmpl;
	uint64_t reused_walks = 0;

	w.seed = 20261207;
	assert_int_equal(gmem_init(&w.m, FRAMES, 0), 0);
	/* A tree to start with: every table linked, leaves dense. */
	pt_write(&w, F_L4, 0, F_L3 << PAGE_SHIFT | P | RW);
	pt_write(&w, F_L3, 0, F_L2 << PAGE_SHIFT | P | RW);
	for (unsigned i = 0; i < 4; i++)
		pt_write(&w, F_L2, i, (uint64_t)(F_L1 + i) << PAGE_SHIFT | P | RW);
	for (unsigned i = 0; i < 2000; i++)
		leaf_random(&w);
	assert_int_equal(proc_mirror_walk_from(&w.m, F_L4, NULL, &l1s, &prev), 0);
	for (unsigned round = 0; round < 3000; round++) {
		struct proc_walk_prev p = { &prev, &l1s, w.wgen, w.gen };
		unsigned k = rnd(&w, 4);

		for (unsigned i = 0; i <= k; i++) {
			unsigned what = rnd(&w, 10);

			if (what < 6)
				leaf_random(&w);
			else if (what < 9)
				link_random(&w);
			else
				relink_rewritten(&w);
		}
		assert_int_equal(proc_mirror_walk(&w.m, F_L4, &full), 0);
		assert_int_equal(proc_mirror_walk_from(&w.m, F_L4, &p, &l1s_next, &cur), 0);
		assert_same_runs(&full, &cur);
		reused_walks += k == 0;
		tmp = prev, prev = cur, cur = tmp;
		tmpl = l1s, l1s = l1s_next, l1s_next = tmpl;
	}
	/* A walk with nothing changed reuses everything and still agrees. */
	{
		struct proc_walk_prev p = { &prev, &l1s, w.wgen, w.gen };

		assert_int_equal(proc_mirror_walk_from(&w.m, F_L4, &p, &l1s_next, &cur), 0);
		assert_same_runs(&prev, &cur);
	}
	assert_true(reused_walks > 0);
	proc_runs_free(&full);
	proc_runs_free(&prev);
	proc_runs_free(&cur);
	proc_l1s_free(&l1s);
	proc_l1s_free(&l1s_next);
	gmem_destroy(&w.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incremental_equals_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
