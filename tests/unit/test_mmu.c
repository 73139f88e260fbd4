/*
 * The MMU hypercalls (src/xen/mmu.c) as a guest calls them: request arrays
 * in guest memory read through the vCPU's page tables, Xen's error codes,
 * pdone, flush semantics.  Same fixture as test_pagetype.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

#include "pt_fixture.h"


#define BUF 50 /* guest buffer frame */
#define BUF_VA (0x400000ull + BUF * 4096ull)
#define VA(mfn) (0x400000ull + (uint64_t)(mfn) * 4096ull)

static long call3(long (*fn)(struct vcpu *, const struct hc_args *),
		  uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct hc_args a = { { a0, a1, a2, a3, 0 } };

	return fn(&F->v, &a);
}

static uint32_t *pdone_ptr(void)
{
	return (uint32_t *)((uint8_t *)frame(BUF) + 4000);
}

static long mmu_update(const struct mmu_update *reqs, unsigned n,
		       uint64_t foreigndom)
{
	memcpy(frame(BUF), reqs, n * sizeof(*reqs));
	*pdone_ptr() = 0xdead;
	return call3(hc_mmu_update, BUF_VA, n, BUF_VA + 4000, foreigndom);
}

static long mmuext(const struct mmuext_op *ops, unsigned n)
{
	memcpy(frame(BUF), ops, n * sizeof(*ops));
	*pdone_ptr() = 0xdead;
	return call3(hc_mmuext_op, BUF_VA, n, BUF_VA + 4000, DOMID_SELF);
}

#define l1_ma(slot) (((uint64_t)L1F << 12) + (slot) * 8ull)

static void test_mmu_update_ok(void **state)
{
	struct mmu_update reqs[] = {
		{ l1_ma(100) | MMU_NORMAL_PT_UPDATE, ent(20, P | RW) },
		{ l1_ma(101) | MMU_PT_UPDATE_PRESERVE_AD, ent(21, P) },
		{ (33ull << 12) | MMU_MACHPHYS_UPDATE, 1234 },
	};

	boot();
	assert_int_equal(mmu_update(reqs, 3, DOMID_SELF), 0);
	assert_int_equal(*pdone_ptr(), 3);
	assert_int_equal(frame(L1F)[100], ent(20, P | RW | U));
	assert_int_equal(frame(L1F)[101], ent(21, P | U));
	assert_int_equal(pagetype_m2p(&F->vm, 33), 1234);
	assert_consistent();
	assert_all_released();
}

struct mmu_case {
	const char *name;
	struct mmu_update reqs[3];
	unsigned n;
	long rc;
	uint32_t pdone;
};

static const struct mmu_case mmu_cases[] = {
	{ "second of three fails (MMIO)",
	  { { l1_ma(100), ent(20, P) },
	    { l1_ma(101), ent(0xfee00, P | RW) },
	    { l1_ma(102), ent(22, P) } },
	  3, -XEN_EPERM, 1 },
	{ "first fails: page table mapped RW",
	  { { l1_ma(100), ent(L2F, P | RW) }, { l1_ma(101), ent(20, P) } },
	  2, -XEN_EBUSY, 0 },
	{ "third fails: reserved L4 slot",
	  { { l1_ma(100), ent(20, P) },
	    { l1_ma(101), ent(21, P) },
	    { (L4F << 12) + RESERVED_SLOT * 8, 0 } },
	  3, -XEN_EINVAL, 2 },
	{ "unknown command in ptr bits",
	  { { l1_ma(100) | 5, ent(20, P) } }, 1, -XEN_ENOSYS, 0 },
	{ "M2P of a frame not the domain's",
	  { { (5000ull << 12) | MMU_MACHPHYS_UPDATE, 1 } }, 1, -XEN_EINVAL, 0 },
	{ "update a frame beyond RAM",
	  { { (5000ull << 12), 0 } }, 1, -XEN_EINVAL, 0 },
	{ "L2 superpage",
	  { { (L2F << 12) + 8 * 8, ent(0, P | PTE_PSE) } }, 1, -XEN_EINVAL,
	  0 },
	{ "count 0", { { 0, 0 } }, 0, 0, 0 },
};

static void test_mmu_update_cases(void **state)
{
	for (size_t i = 0; i < sizeof(mmu_cases) / sizeof(mmu_cases[0]); i++) {
		const struct mmu_case *c = &mmu_cases[i];
		long rc;

		teardown(state);
		setup(state);
		boot();
		rc = mmu_update(c->reqs, c->n, DOMID_SELF);
		if (rc != c->rc || *pdone_ptr() != c->pdone)
			fail_msg("%s: rc %ld pdone %u, expected %ld / %u",
				 c->name, rc, *pdone_ptr(), c->rc, c->pdone);
		/* Requests before the failure took effect. */
		for (unsigned j = 0; j < c->pdone; j++)
			if ((c->reqs[j].ptr & 7) == MMU_NORMAL_PT_UPDATE)
				assert_int_equal(
					*(uint64_t *)gmem_ptr(&F->vm.mem,
							      c->reqs[j].ptr, 8),
					c->reqs[j].val | U);
		assert_consistent();
		assert_all_released();
	}
}

static void test_mmu_update_args(void **state)
{
	struct mmu_update req = { l1_ma(100), ent(20, P) };

	boot();
	assert_int_equal(mmu_update(&req, 1, 1), -XEN_ESRCH);
	assert_int_equal(mmu_update(&req, 1, DOMID_IO), -XEN_ESRCH);
	assert_int_equal(mmu_update(&req, 1, DOMID_SELF | (1u << 16)),
			 -XEN_ESRCH);
	assert_int_equal(*pdone_ptr(), 0xdead); /* untouched */
	/* Requests at an unmapped address. */
	assert_int_equal(call3(hc_mmu_update, 0x10000000, 1, BUF_VA + 4000,
			       DOMID_SELF),
			 -XEN_EFAULT);
	assert_int_equal(*pdone_ptr(), 0);
	/* No pdone at all. */
	memcpy(frame(BUF), &req, sizeof(req));
	assert_int_equal(call3(hc_mmu_update, BUF_VA, 1, 0, DOMID_SELF), 0);
	/* Continuation: done is read back from pdone and added to. */
	*pdone_ptr() = 7;
	assert_int_equal(call3(hc_mmu_update, BUF_VA, 1 | 0x80000000u,
			       BUF_VA + 4000, DOMID_SELF),
			 0);
	assert_int_equal(*pdone_ptr(), 8);
	assert_consistent();
	assert_all_released();
}

static void test_update_va_mapping(void **state)
{
	uint64_t va = VA(20);

	boot();
	F->flushes = 0;
	assert_int_equal(call3(hc_update_va_mapping, va, ent(21, P | RW),
			       UVMF_INVLPG | UVMF_LOCAL, 0),
			 0);
	assert_int_equal(frame(L1F)[20], ent(21, P | RW | U));
	assert_int_equal(F->flushes, 1);
	assert_int_equal(F->last_flush_va, va);
	assert_false(F->last_flush_all);

	assert_int_equal(call3(hc_update_va_mapping, va, ent(20, P | RW),
			       UVMF_TLB_FLUSH | UVMF_ALL, 0),
			 0);
	assert_int_equal(F->flushes, 2);
	assert_true(F->last_flush_all);

	assert_int_equal(call3(hc_update_va_mapping, va, ent(20, P),
			       UVMF_NONE, 0),
			 0);
	assert_int_equal(F->flushes, 2);

	/* UVMF_MULTI: a vCPU bitmap in guest memory. */
	*(uint64_t *)frame(BUF) = 1;
	assert_int_equal(call3(hc_update_va_mapping, va, ent(20, P | RW),
			       UVMF_INVLPG | BUF_VA, 0),
			 0);
	assert_int_equal(F->flushes, 3);
	assert_int_equal(F->last_flush_va, va);
	*(uint64_t *)frame(BUF) = 0;
	assert_int_equal(call3(hc_update_va_mapping, va, ent(20, P | RW),
			       UVMF_INVLPG | BUF_VA, 0),
			 0);
	assert_int_equal(F->flushes, 3);
	assert_int_equal(call3(hc_update_va_mapping, va, ent(20, P | RW),
			       UVMF_INVLPG | 0x10000000, 0),
			 -XEN_EFAULT);

	/* Failures: the flush still happens, as in Xen. */
	assert_int_equal(call3(hc_update_va_mapping, va, ent(L1F, P | RW),
			       UVMF_INVLPG | UVMF_LOCAL, 0),
			 -XEN_EBUSY);
	assert_int_equal(F->flushes, 4);
	assert_int_equal(call3(hc_update_va_mapping, 9ull << 21, 0, 0, 0),
			 -XEN_EINVAL);
	assert_int_equal(call3(hc_update_va_mapping, 0xffff800000000000ull, 0,
			       0, 0),
			 -XEN_EINVAL);
	assert_int_equal(call3(hc_update_va_mapping, 0x8000000000000000ull, 0,
			       0, 0),
			 -XEN_EINVAL);
	assert_consistent();
	assert_all_released();
}

static struct mmuext_op op_mfn(unsigned cmd, uint64_t mfn)
{
	struct mmuext_op op;

	memset(&op, 0, sizeof(op));
	op.cmd = cmd;
	op.arg1.mfn = mfn;
	return op;
}

static void test_mmuext_pin(void **state)
{
	struct mmuext_op ops[3];

	boot();
	/* Make frame 40 read-only, then pin it as L1 and unpin it. */
	assert_int_equal(call3(hc_update_va_mapping, VA(40), ent(40, P), 0, 0),
			 0);
	ops[0] = op_mfn(MMUEXT_PIN_L1_TABLE, 40);
	ops[1] = op_mfn(MMUEXT_UNPIN_TABLE, 40);
	ops[2] = op_mfn(MMUEXT_PIN_L2_TABLE, 40);
	assert_int_equal(mmuext(ops, 3), 0);
	assert_int_equal(*pdone_ptr(), 3);
	assert_true(pagetype_is_pagetable(&F->vm, 40));
	/* Pinned twice; unpin of a frame not pinned; wrong type. */
	ops[0] = op_mfn(MMUEXT_PIN_L2_TABLE, 40);
	assert_int_equal(mmuext(ops, 1), -XEN_EINVAL);
	ops[0] = op_mfn(MMUEXT_UNPIN_TABLE, 40);
	ops[1] = op_mfn(MMUEXT_UNPIN_TABLE, 40);
	assert_int_equal(mmuext(ops, 2), -XEN_EINVAL);
	assert_int_equal(*pdone_ptr(), 1);
	ops[0] = op_mfn(MMUEXT_PIN_L1_TABLE, L2F);
	assert_int_equal(mmuext(ops, 1), -XEN_EINVAL);
	ops[0] = op_mfn(MMUEXT_PIN_L1_TABLE, 5000);
	assert_int_equal(mmuext(ops, 1), -XEN_EINVAL);
	assert_consistent();
	assert_all_released();
}

static void test_mmuext_baseptr(void **state)
{
	struct mmuext_op op;

	boot();
	op = op_mfn(MMUEXT_NEW_BASEPTR, L1F);
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	op = op_mfn(MMUEXT_NEW_BASEPTR, 20); /* mapped RW */
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	assert_int_equal(F->set_baseptrs, 0);
	op = op_mfn(MMUEXT_NEW_USER_BASEPTR, L4F);
	assert_int_equal(mmuext(&op, 1), 0);
	assert_int_equal(F->v.xen.user_baseptr_mfn, L4F);
	op = op_mfn(MMUEXT_NEW_USER_BASEPTR, 0);
	assert_int_equal(mmuext(&op, 1), 0);
	op = op_mfn(MMUEXT_NEW_BASEPTR, L4F); /* same: reload */
	assert_int_equal(mmuext(&op, 1), 0);
	assert_int_equal(F->set_baseptrs, 1);
	assert_int_equal(F->last_baseptr, L4F);
	assert_consistent();
	assert_all_released();
}

static void test_mmuext_misc(void **state)
{
	struct mmuext_op op;

	boot();
	F->flushes = 0;
	op = op_mfn(MMUEXT_TLB_FLUSH_LOCAL, 0);
	assert_int_equal(mmuext(&op, 1), 0);
	assert_true(F->last_flush_all);
	op = op_mfn(MMUEXT_INVLPG_LOCAL, 0);
	op.arg1.linear_addr = 0x401000;
	assert_int_equal(mmuext(&op, 1), 0);
	assert_int_equal(F->last_flush_va, 0x401000);
	assert_false(F->last_flush_all);
	op = op_mfn(MMUEXT_TLB_FLUSH_ALL, 0);
	assert_int_equal(mmuext(&op, 1), 0);
	op = op_mfn(MMUEXT_INVLPG_ALL, 0);
	op.arg1.linear_addr = 0x402000;
	assert_int_equal(mmuext(&op, 1), 0);
	assert_int_equal(F->flushes, 4);
	/* MULTI with a bitmap in guest memory (after the op itself). */
	op = op_mfn(MMUEXT_TLB_FLUSH_MULTI, 0);
	op.arg2.vcpumask.p = (const void *)(uintptr_t)(BUF_VA + 2048);
	*(uint64_t *)((uint8_t *)frame(BUF) + 2048) = 1;
	assert_int_equal(mmuext(&op, 1), 0);
	assert_int_equal(F->flushes, 5);
	op.arg2.vcpumask.p = (const void *)(uintptr_t)0x10000000;
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);

	op = op_mfn(MMUEXT_FLUSH_CACHE, 0);
	assert_int_equal(mmuext(&op, 1), -XEN_EACCES);
	op = op_mfn(MMUEXT_FLUSH_CACHE_GLOBAL, 0);
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	op = op_mfn(MMUEXT_SET_LDT, 0);
	assert_int_equal(mmuext(&op, 1), 0);
	op.arg1.linear_addr = 0x10000;
	op.arg2.nr_ents = 16;
	assert_int_equal(mmuext(&op, 1), -XEN_ENOSYS);
	op.arg1.linear_addr = 0x10008;
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	op.arg1.linear_addr = 0x10000;
	op.arg2.nr_ents = 8193;
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	op = op_mfn(MMUEXT_MARK_SUPER, 20);
	assert_int_equal(mmuext(&op, 1), -XEN_EOPNOTSUPP);
	op = op_mfn(99, 0);
	assert_int_equal(mmuext(&op, 1), -XEN_ENOSYS);
	assert_int_equal(*pdone_ptr(), 0);
	assert_int_equal(call3(hc_mmuext_op, BUF_VA, 1, 0, 3), -XEN_ESRCH);
	assert_consistent();
	assert_all_released();
}

static void test_mmuext_pages(void **state)
{
	struct mmuext_op op;

	boot();
	memset(frame(20), 0xab, 4096);
	op = op_mfn(MMUEXT_COPY_PAGE, 21);
	op.arg2.src_mfn = 20;
	assert_int_equal(mmuext(&op, 1), 0);
	assert_memory_equal(frame(20), frame(21), 4096);
	op = op_mfn(MMUEXT_CLEAR_PAGE, 20);
	assert_int_equal(mmuext(&op, 1), 0);
	assert_int_equal(frame(20)[17], 0);
	/* Page tables can be a source but never a destination. */
	op = op_mfn(MMUEXT_CLEAR_PAGE, L1F);
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	op = op_mfn(MMUEXT_COPY_PAGE, L2F);
	op.arg2.src_mfn = 20;
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	op = op_mfn(MMUEXT_COPY_PAGE, 22);
	op.arg2.src_mfn = L1F;
	assert_int_equal(mmuext(&op, 1), 0);
	op = op_mfn(MMUEXT_CLEAR_PAGE, SHINFO);
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	op = op_mfn(MMUEXT_COPY_PAGE, 22);
	op.arg2.src_mfn = 5000;
	assert_int_equal(mmuext(&op, 1), -XEN_EINVAL);
	assert_consistent();
	assert_all_released();
}

/* A guest builds a new address space the way Linux does: allocate, make
 * read-only, fill, pin, switch; then tears it down. */
static void test_build_and_switch(void **state)
{
	struct mmu_update reqs[4];
	struct mmuext_op ops[3];

	boot();
	for (unsigned f = 40; f < 43; f++)
		assert_int_equal(call3(hc_update_va_mapping, VA(f), ent(f, P),
				       UVMF_INVLPG, 0),
				 0);
	frame(40)[0] = ent(41, P | RW | U);   /* new L4 -> new L3 */
	frame(41)[0] = ent(L2F, P | RW | U);  /* -> the boot L2 */
	frame(40)[1] = ent(42, P | RW | U);   /* -> empty L3 */
	ops[0] = op_mfn(MMUEXT_PIN_L4_TABLE, 40);
	ops[1] = op_mfn(MMUEXT_NEW_BASEPTR, 40);
	assert_int_equal(mmuext(ops, 2), 0);
	assert_int_equal(F->v.xen.baseptr_mfn, 40);
	/* The guest buffer is still reachable through the new tables. */
	reqs[0] = (struct mmu_update){ (42ull << 12) + 3 * 8, ent(L2F, P) };
	assert_int_equal(mmu_update(reqs, 1, DOMID_SELF), 0);
	assert_consistent();
	/* Back to the boot tables and drop the new ones. */
	ops[0] = op_mfn(MMUEXT_NEW_BASEPTR, L4F);
	ops[1] = op_mfn(MMUEXT_UNPIN_TABLE, 40);
	assert_int_equal(mmuext(ops, 2), 0);
	for (unsigned f = 40; f < 43; f++)
		assert_false(pagetype_is_pagetable(&F->vm, f));
	assert_int_equal(call3(hc_update_va_mapping, VA(41), ent(41, P | RW),
			       UVMF_INVLPG, 0),
			 0);
	assert_consistent();
	assert_all_released();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mmu_update_ok, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mmu_update_cases, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mmu_update_args, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_update_va_mapping, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mmuext_pin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mmuext_baseptr, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mmuext_misc, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mmuext_pages, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_build_and_switch, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
