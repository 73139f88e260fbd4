/*
 * The proc mirror's incremental walk (backend/proc/proc_mirror.h): after
 * any sequence of page-table writes, a walk that reuses the previous one
 * gives exactly the runs of a full walk.  The writes are random, at every
 * level, including the one the reuse must not be fooled by: a table
 * unlinked, rewritten without a page-table write (as a guest may while the
 * frame is no table) and linked back, directly or with the L2 above it.  fuzz/fuzz_mirror.c drives the same
 * tree from its input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mirror_world.h"

static unsigned seed = 20261207;

static unsigned rnd(unsigned n)
{
	return (unsigned)(rand_r(&seed) % n);
}

static void one_write(struct world *w)
{
	unsigned what = rnd(10);

	if (what < 6)
		world_leaf(w, rnd(MW_NR_L1), rnd(512), rnd(200), rnd(5), rnd(8));
	else if (what < 9)
		world_link(w, 1 + rnd(3), rnd(4), rnd(MW_SLOTS), rnd(MW_NR_L1), rnd(6),
			   rnd(8));
	else if (rnd(2))
		world_relink_rewritten(w, rnd(4), rnd(MW_SLOTS), rnd(512), rnd(40), rnd(8));
	else
		world_relink_rewritten_l2(w, rnd(2), rnd(MW_SLOTS), rnd(MW_SLOTS),
					  rnd(512), rnd(40), rnd(8));
}

static void test_incremental_equals_full(void **state)
{
	static struct world w;
	struct proc_runs full = { 0 }, prev = { 0 }, cur = { 0 }, tmp;
	struct proc_l1s l1s = { 0 }, l1s_next = { 0 }, tmpl;
	unsigned reused = 0;

	assert_int_equal(gmem_init(&w.m, MW_FRAMES, 0), 0);
	/* A tree to start with: every table linked, leaves dense. */
	world_link(&w, 3, 0, 0, 0, true, 1);
	world_link(&w, 2, 0, 0, 0, true, 1);
	for (unsigned i = 0; i < 4; i++)
		world_link(&w, 1, 0, i, i, true, 1);
	for (unsigned i = 0; i < 2000; i++)
		world_leaf(&w, rnd(4), rnd(512), rnd(200), rnd(5), rnd(8));
	assert_int_equal(proc_mirror_walk_from(&w.m, MW_L4, NULL, &l1s, &prev), 0);
	for (unsigned round = 0; round < 3000; round++) {
		struct proc_walk_prev p = { &prev, &l1s, w.wgen, w.gen };
		unsigned k = rnd(4);

		for (unsigned i = 0; i < k; i++)
			one_write(&w);
		assert_int_equal(proc_mirror_walk(&w.m, MW_L4, &full), 0);
		assert_int_equal(proc_mirror_walk_from(&w.m, MW_L4, &p, &l1s_next, &cur), 0);
		assert_true(world_same_runs(&full, &cur));
		reused += k == 0 && cur.n;
		tmp = prev, prev = cur, cur = tmp;
		tmpl = l1s, l1s = l1s_next, l1s_next = tmpl;
	}
	assert_true(reused > 0); /* some walks had something to reuse */
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
