/*
 * Page-type rules (src/xen/pagetype.c): boot tables, entry validation per
 * level, pinning, writable mappings vs page tables, reserved L4 slots,
 * reference counts.  A fake backend records page-table stores and flushes;
 * the page tables live in a real gmem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/vm.h"
#include "xen/pagetype.h"

#include "pt_fixture.h"

static void test_boot_tables(void **state)
{
	struct pagetype_info info;

	boot();
	assert_int_equal(F->v.xen.baseptr_mfn, L4F);
	assert_int_equal(pagetype_get_info(&F->vm, L4F, &info), 0);
	assert_int_equal(info.type, PGT_L4);
	assert_int_equal(info.type_count, 2); /* pin + base pointer */
	assert_true(info.pinned);
	assert_int_equal(pagetype_get_info(&F->vm, L1F, &info), 0);
	assert_int_equal(info.type, PGT_L1);
	assert_int_equal(info.type_count, 1);
	assert_int_equal(pagetype_get_info(&F->vm, 10, &info), 0);
	assert_int_equal(info.type, PGT_WRITABLE);
	assert_true(pagetype_is_pagetable(&F->vm, L2F));
	assert_false(pagetype_is_pagetable(&F->vm, 10));
	/* pvisor's slot replaced the guest's junk. */
	assert_int_equal(frame(L4F)[RESERVED_SLOT], RESERVED_ENTRY);
	assert_consistent();
	assert_all_released();
}

static void test_boot_tables_adjusted(void **state)
{
	/* A builder that forgot U bits gets them added, as Xen's
	 * adjust_guest_lNe does for a 64-bit PV guest. */
	frame(L4F)[0] &= ~U;
	frame(L1F)[20] &= ~U;
	boot();
	assert_true(frame(L4F)[0] & U);
	assert_true(frame(L1F)[20] & U);
	assert_consistent();
	assert_all_released();
}

struct entry_case {
	const char *name;
	uint64_t table;  /* frame whose entry is written */
	unsigned slot;
	uint64_t val;
	int rc;
};

static const struct entry_case entry_cases[] = {
	{ "L1 maps own frame RW", L1F, 100, ent(20, P | RW), 0 },
	{ "L1 maps own frame RO", L1F, 100, ent(20, P), 0 },
	{ "L1 clears an entry", L1F, 20, 0, 0 },
	{ "L1 NX, G, A/D and avail bits", L1F, 100,
	  ent(20, P | RW | PTE_NX | PTE_GLOBAL | PTE_ACCESSED | PTE_DIRTY |
			  (7ull << 9) | (1ull << 52)),
	  0 },
	{ "L1 maps a frame beyond memory", L1F, 100, ent(1000, P), -XEN_EPERM },
	{ "L1 maps MMIO far away", L1F, 100, ent(0xfee00, P | RW), -XEN_EPERM },
	{ "L1 maps INVALID_MFN", L1F, 100, ent(0xffffffffffull, P), -XEN_EINVAL },
	{ "L1 maps shared_info RW", L1F, 100, ent(SHINFO, P | RW), 0 },
	{ "L1 maps a Xen frame not shared", L1F, 100, ent(XEN_PRIVATE, P),
	  -XEN_EBUSY },
	{ "L1 maps a page table RW", L1F, 100, ent(L2F, P | RW), -XEN_EBUSY },
	{ "L1 maps itself RW", L1F, 100, ent(L1F, P | RW), -XEN_EBUSY },
	{ "L1 maps a page table RO", L1F, 100, ent(L2F, P), 0 },
	{ "L1 PCD", L1F, 100, ent(20, P | PTE_PCD), -XEN_EINVAL },
	{ "L1 PWT", L1F, 100, ent(20, P | PTE_PWT), -XEN_EINVAL },
	{ "L1 PAT", L1F, 100, ent(20, P | PTE_PSE), -XEN_EINVAL },
	{ "L1 grant-mapping bit 62", L1F, 100, ent(20, P | (1ull << 62)),
	  -XEN_EINVAL },
	{ "L1 not present junk", L1F, 100, 0xfffffffffffffffeull, 0 },
	{ "L2 shares the boot L1", L2F, 5, ent(L1F, P | RW), 0 },
	{ "L2 PSE superpage", L2F, 5, ent(0, P | RW | PTE_PSE), -XEN_EINVAL },
	{ "L2 global", L2F, 5, ent(40, P | PTE_GLOBAL), -XEN_EINVAL },
	{ "L2 to a frame mapped RW", L2F, 5, ent(10, P | RW), -XEN_EINVAL },
	{ "L2 RO self map", L2F, 5, ent(L2F, P), 0 },
	{ "L2 RW self map", L2F, 5, ent(L2F, P | RW), -XEN_EINVAL },
	{ "L2 to the L3 (wrong level)", L2F, 5, ent(L3F, P), -XEN_EINVAL },
	{ "L2 to a Xen frame", L2F, 5, ent(SHINFO, P), -XEN_EINVAL },
	{ "L2 beyond memory", L2F, 5, ent(1000, P), -XEN_EINVAL },
	{ "L3 to the L4 (wrong level)", L3F, 7, ent(L4F, P), -XEN_EINVAL },
	{ "L3 to the existing L2", L3F, 7, ent(L2F, P | RW), 0 },
	{ "L3 1G superpage", L3F, 7, ent(0, P | PTE_PSE), -XEN_EINVAL },
	{ "L4 RO self map", L4F, 3, ent(L4F, P), 0 },
	{ "L4 to the L3 again", L4F, 3, ent(L3F, P | RW), 0 },
	{ "L4 pvisor's reserved slot", L4F, RESERVED_SLOT, 0, -XEN_EINVAL },
	{ "L4 Xen's slot 256", L4F, 256, ent(L3F, P), -XEN_EINVAL },
	{ "L4 Xen's slot 271", L4F, 271, 0, -XEN_EINVAL },
	{ "L4 slot 272 is the guest's", L4F, 272, ent(L3F, P), 0 },
	{ "data frame: plain write", 30, 1, 0x1234, 0 },
	{ "frame beyond RAM", SHINFO, 0, 0, -XEN_EINVAL },
};

static void test_entries(void **state)
{
	for (size_t i = 0; i < sizeof(entry_cases) / sizeof(entry_cases[0]);
	     i++) {
		const struct entry_case *c = &entry_cases[i];
		uint64_t gpa = (c->table << 12) + c->slot * 8ull, before;
		int rc;

		teardown(state);
		setup(state);
		boot();
		before = *(uint64_t *)gmem_ptr(&F->vm.mem, gpa, 8);
		rc = pagetype_mod_entry(&F->v, gpa, c->val, false);
		if (rc != c->rc)
			fail_msg("%s: rc %d, expected %d", c->name, rc, c->rc);
		if (c->table != SHINFO) {
			uint64_t now = *(uint64_t *)gmem_ptr(&F->vm.mem, gpa, 8);
			uint64_t want = rc == 0 ? ((c->val & P) &&
							   c->table != 30
						   ? c->val | U
						   : c->val)
						: before;

			if (now != want)
				fail_msg("%s: entry %#lx, expected %#lx",
					 c->name, (unsigned long)now,
					 (unsigned long)want);
		}
		assert_consistent();
		assert_all_released();
	}
}

static void test_preserve_ad(void **state)
{
	uint64_t gpa = (L1F << 12) + 20 * 8;

	boot();
	frame(L1F)[20] |= PTE_ACCESSED | PTE_DIRTY; /* as the CPU would */
	assert_int_equal(pagetype_mod_entry(&F->v, gpa, ent(21, P | RW), true),
			 0);
	assert_int_equal(frame(L1F)[20],
			 ent(21, P | RW | U | PTE_ACCESSED | PTE_DIRTY));
	assert_consistent();
	assert_all_released();
}

/* Tables that must not validate, built in frame 40 (first made read-only
 * in the boot L1, as a guest would). */
struct pin_case {
	const char *name;
	unsigned level;
	unsigned slot;
	uint64_t val;
	bool keep_rw_mapping;
	int rc;
};

static const struct pin_case pin_cases[] = {
	{ "empty L1", 1, 0, 0, false, 0 },
	{ "empty L4", 4, 0, 0, false, 0 },
	{ "L1 with RW data mapping", 1, 3, ent(20, P | RW), false, 0 },
	{ "frame still mapped writable", 1, 0, 0, true, -XEN_EINVAL },
	{ "L1 maps itself writable", 1, 3, ent(40, P | RW), false, -XEN_EBUSY },
	{ "L1 maps a page table writable", 1, 3, ent(L1F, P | RW), false,
	  -XEN_EBUSY },
	{ "L1 maps beyond memory", 1, 3, ent(5000, P), false, -XEN_EPERM },
	{ "L1 bad cache bits", 1, 3, ent(20, P | PTE_PCD), false, -XEN_EINVAL },
	{ "L2 with PSE", 2, 3, ent(0, P | PTE_PSE), false, -XEN_EINVAL },
	{ "L2 to a data frame mapped RW", 2, 3, ent(20, P), false, -XEN_EINVAL },
	{ "L3 to the boot L3", 3, 3, ent(L3F, P), false, -XEN_EINVAL },
	{ "L4 to the boot L3 (shared)", 4, 3, ent(L3F, P), false, 0 },
	{ "L4 RW self map", 4, 3, ent(40, P | RW), false, -XEN_EINVAL },
	{ "L4 RO self map", 4, 3, ent(40, P), false, 0 },
	{ "L4 junk in reserved slot is ignored", 4, RESERVED_SLOT,
	  ent(20, P | RW | PTE_PSE), false, 0 },
	{ "L4 entry that is itself an L4", 4, 3, ent(L4F, P), false,
	  -XEN_EINVAL },
};

static void test_pin(void **state)
{
	for (size_t i = 0; i < sizeof(pin_cases) / sizeof(pin_cases[0]); i++) {
		const struct pin_case *c = &pin_cases[i];
		struct pagetype_info info;
		int rc;

		teardown(state);
		setup(state);
		boot();
		if (!c->keep_rw_mapping)
			assert_int_equal(pagetype_mod_entry(&F->v,
							    (L1F << 12) + 40 * 8,
							    ent(40, P), false),
					 0);
		frame(40)[c->slot] = c->val;
		rc = pagetype_pin(&F->v, 40, c->level);
		if (rc != c->rc)
			fail_msg("%s: rc %d, expected %d", c->name, rc, c->rc);
		assert_int_equal(pagetype_get_info(&F->vm, 40, &info), 0);
		assert_int_equal(info.pinned, rc == 0);
		if (rc == 0 && c->level == 4)
			assert_int_equal(frame(40)[RESERVED_SLOT],
					 RESERVED_ENTRY);
		assert_consistent();
		if (rc == 0) {
			assert_int_equal(pagetype_pin(&F->v, 40, c->level),
					 -XEN_EINVAL); /* already pinned */
			assert_int_equal(pagetype_unpin(&F->v, 40), 0);
			assert_int_equal(pagetype_unpin(&F->v, 40),
					 -XEN_EINVAL);
		}
		assert_consistent();
		assert_all_released();
	}
}

static void test_pin_bad_frames(void **state)
{
	boot();
	assert_int_equal(pagetype_pin(&F->v, 5000, 1), -XEN_EINVAL);
	assert_int_equal(pagetype_pin(&F->v, SHINFO, 1), -XEN_EINVAL);
	assert_int_equal(pagetype_pin(&F->v, XEN_PRIVATE, 1), -XEN_EINVAL);
	assert_int_equal(pagetype_pin(&F->v, L1F, 2), -XEN_EINVAL);
	assert_int_equal(pagetype_pin(&F->v, L1F, 5), -XEN_EINVAL);
	assert_int_equal(pagetype_unpin(&F->v, 5000), -XEN_EINVAL);
	assert_int_equal(pagetype_unpin(&F->v, L1F), -XEN_EINVAL);
	assert_consistent();
	assert_all_released();
}

/* Unpin, unhook, then the frame can be mapped writable again. */
static void test_unpin_then_writable(void **state)
{
	uint64_t l1slot40 = (L1F << 12) + 40 * 8, l2slot5 = (L2F << 12) + 5 * 8;
	struct pagetype_info info;

	boot();
	assert_int_equal(pagetype_mod_entry(&F->v, l1slot40, ent(40, P), false),
			 0);
	memset(frame(40), 0, 4096);
	assert_int_equal(pagetype_pin(&F->v, 40, 1), 0);
	assert_int_equal(pagetype_mod_entry(&F->v, l2slot5, ent(40, P | RW),
					    false),
			 0);
	assert_int_equal(pagetype_get_info(&F->vm, 40, &info), 0);
	assert_int_equal(info.type_count, 2);
	assert_int_equal(pagetype_mod_entry(&F->v, l1slot40, ent(40, P | RW),
					    false),
			 -XEN_EBUSY);
	assert_int_equal(pagetype_unpin(&F->v, 40), 0);
	/* Still an L1: the L2 refers to it. */
	assert_true(pagetype_is_pagetable(&F->vm, 40));
	assert_int_equal(pagetype_mod_entry(&F->v, l1slot40, ent(40, P | RW),
					    false),
			 -XEN_EBUSY);
	assert_int_equal(pagetype_mod_entry(&F->v, l2slot5, 0, false), 0);
	assert_false(pagetype_is_pagetable(&F->vm, 40));
	assert_int_equal(pagetype_mod_entry(&F->v, l1slot40, ent(40, P | RW),
					    false),
			 0);
	assert_int_equal(pagetype_get_info(&F->vm, 40, &info), 0);
	assert_int_equal(info.type, PGT_WRITABLE);
	assert_consistent();
	assert_all_released();
}

/* A frame whose writable mapping just went cannot become a page table
 * before every TLB forgot that mapping. */
static void test_stale_writable_flush(void **state)
{
	boot();
	assert_int_equal(pagetype_mod_entry(&F->v, (L1F << 12) + 40 * 8,
					    ent(40, P), false),
			 0);
	F->flushes = 0;
	assert_int_equal(pagetype_pin(&F->v, 40, 1), 0);
	assert_int_equal(F->flushes, 1);
	assert_true(F->last_flush_all);
	/* Once flushed, no more flushes are needed. */
	assert_int_equal(pagetype_unpin(&F->v, 40), 0);
	assert_int_equal(pagetype_pin(&F->v, 40, 1), 0);
	assert_int_equal(F->flushes, 1);
	assert_all_released();
}

static void test_baseptr(void **state)
{
	boot();
	assert_int_equal(pagetype_new_baseptr(&F->v, L1F, false), -XEN_EINVAL);
	assert_int_equal(pagetype_new_baseptr(&F->v, 10, false), -XEN_EINVAL);
	assert_int_equal(pagetype_new_baseptr(&F->v, 5000, false), -XEN_EINVAL);
	assert_int_equal(pagetype_new_baseptr(&F->v, SHINFO, false),
			 -XEN_EINVAL);
	assert_int_equal(F->set_baseptrs, 0);
	assert_int_equal(F->v.xen.baseptr_mfn, L4F);
	/* A fresh L4 sharing the boot L3. */
	assert_int_equal(pagetype_mod_entry(&F->v, (L1F << 12) + 41 * 8,
					    ent(41, P), false),
			 0);
	frame(41)[0] = ent(L3F, P | RW | U);
	assert_int_equal(pagetype_new_baseptr(&F->v, 41, false), 0);
	assert_int_equal(F->last_baseptr, 41);
	assert_int_equal(F->v.xen.baseptr_mfn, 41);
	assert_true(pagetype_is_pagetable(&F->vm, 41));
	assert_int_equal(pagetype_new_baseptr(&F->v, 41, true), 0);
	assert_int_equal(F->v.xen.user_baseptr_mfn, 41);
	assert_consistent();
	assert_int_equal(pagetype_new_baseptr(&F->v, 0, true), 0);
	assert_int_equal(F->v.xen.user_baseptr_mfn, 0);
	/* Back to the boot L4: 41 is no longer a page table. */
	assert_int_equal(pagetype_new_baseptr(&F->v, L4F, false), 0);
	assert_false(pagetype_is_pagetable(&F->vm, 41));
	assert_consistent();
	assert_all_released();
}

static void test_mod_va(void **state)
{
	uint64_t va = (2ull << 21) + 20 * 4096; /* L2 slot 2 -> boot L1 */

	boot();
	assert_int_equal(pagetype_mod_va(&F->v, va, ent(21, P | RW)), 0);
	assert_int_equal(frame(L1F)[20], ent(21, P | RW | U));
	assert_int_equal(pagetype_mod_va(&F->v, va, ent(L3F, P | RW)),
			 -XEN_EBUSY);
	/* No L1 behind these. */
	assert_int_equal(pagetype_mod_va(&F->v, 5ull << 21, 0), -XEN_EINVAL);
	assert_int_equal(pagetype_mod_va(&F->v, 0xffff800000001000ull, 0),
			 -XEN_EINVAL);
	assert_int_equal(pagetype_mod_va(&F->v, 0x0000800000000000ull, 0),
			 -XEN_EINVAL);
	assert_int_equal(pagetype_mod_va(&F->v,
					 (uint64_t)RESERVED_SLOT << 39, 0),
			 -XEN_EINVAL);
	assert_consistent();
	assert_all_released();
}

static void test_get_put_page(void **state)
{
	struct pagetype_info info;

	boot();
	assert_int_equal(pagetype_get_page(&F->vm, 20, true), 0);
	assert_int_equal(pagetype_get_page(&F->vm, L1F, false), 0);
	assert_int_equal(pagetype_get_page(&F->vm, L1F, true), -XEN_EBUSY);
	assert_int_equal(pagetype_get_page(&F->vm, XEN_PRIVATE, false),
			 -XEN_EINVAL);
	assert_int_equal(pagetype_get_page(&F->vm, 9999, false), -XEN_EINVAL);
	pagetype_put_page(&F->vm, 20, true);
	pagetype_put_page(&F->vm, L1F, false);
	assert_int_equal(pagetype_allow_xen_frame(&F->vm, XEN_PRIVATE, false),
			 0);
	assert_int_equal(pagetype_allow_xen_frame(&F->vm, 20, false),
			 -XEN_EINVAL);
	assert_int_equal(pagetype_mod_entry(&F->v, (L1F << 12) + 100 * 8,
					    ent(XEN_PRIVATE, P | RW), false),
			 -XEN_EBUSY);
	assert_int_equal(pagetype_mod_entry(&F->v, (L1F << 12) + 100 * 8,
					    ent(XEN_PRIVATE, P), false),
			 0);
	assert_int_equal(pagetype_get_info(&F->vm, XEN_PRIVATE, &info), 0);
	assert_int_equal(info.count, 1);
	assert_consistent();
	assert_all_released();
}

static void test_m2p(void **state)
{
	assert_int_equal(pagetype_m2p(&F->vm, 5), 5);
	assert_int_equal(pagetype_set_m2p(&F->vm, 5, 77), 0);
	assert_int_equal(pagetype_m2p(&F->vm, 5), 77);
	assert_int_equal(pagetype_set_m2p(&F->vm, SHINFO, 1), -XEN_EINVAL);
	assert_int_equal(pagetype_m2p(&F->vm, SHINFO), ~0ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_boot_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_tables_adjusted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preserve_ad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_bad_frames, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unpin_then_writable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_writable_flush, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_baseptr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mod_va, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_put_page, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_m2p, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
