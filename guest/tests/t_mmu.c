/*
 * Page-table rules (Xen's mm.c is where PV security lives): frames beyond
 * memory, writable mappings of page tables, invalid tables that must not
 * pin, Xen's reserved L4 slots, and a stale-TLB check of legitimate remaps.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/test.h>

#define MARKER_A 0xa5a5a5a5a5a5a5a5ul
#define MARKER_B 0x5b5b5b5b5b5b5b5bul

static long mmu_set(uint64_t ma, uint64_t val)
{
	struct mmu_update u = { .ptr = ma | MMU_NORMAL_PT_UPDATE, .val = val };

	return HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
}

static long mmuext(unsigned cmd, unsigned long mfn_or_va)
{
	struct mmuext_op op = { .cmd = cmd };

	if (cmd == MMUEXT_INVLPG_LOCAL || cmd == MMUEXT_INVLPG_ALL)
		op.arg1.linear_addr = mfn_or_va;
	else
		op.arg1.mfn = mfn_or_va;
	return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

static long remap(void *va, unsigned long mfn, uint64_t prot)
{
	return HYPERVISOR_update_va_mapping((unsigned long)va,
					    (mfn << PAGE_SHIFT) | prot,
					    UVMF_INVLPG);
}

/* Scratch: a page whose own mapping we may change; its L1 entry's MA. */
static void *scratch;
static uint64_t scratch_pte_ma;

static void test_bad_frames(void)
{
	unsigned long beyond = nr_ram_pages + 4096; /* past RAM and Xen pages */
	long rc;

	rc = mmu_set(scratch_pte_ma, (beyond << PAGE_SHIFT) | L1_PROT);
	check(rc < 0, "mmu_update_frame_beyond_memory", "rc %ld", rc);
	rc = mmu_set(scratch_pte_ma, (0xfffffffful << PAGE_SHIFT) | L1_PROT);
	check(rc < 0, "mmu_update_frame_huge", "rc %ld", rc);
	rc = remap(scratch, beyond, L1_PROT);
	check(rc < 0, "update_va_mapping_frame_beyond_memory", "rc %ld", rc);
	/* The scratch page must still be itself. */
	check(remap(scratch, virt_to_mfn(scratch), L1_PROT) == 0,
	      "scratch_restored", "remap failed");
}

static void test_pt_writable(void)
{
	unsigned long l1_pfn = pt_alloc_table(1);
	unsigned long root_mfn = virt_to_mfn(pt_root());
	long rc;

	if (!check(l1_pfn != 0, "pt_alloc_l1", "no page table"))
		return;
	rc = mmu_set(scratch_pte_ma, (pfn_to_mfn(l1_pfn) << PAGE_SHIFT) |
					     L1_PROT);
	/* Xen: get_page_from_l1e cannot take the writable type -> -EBUSY. */
	check_rc(rc, -XEN_EBUSY, "mmu_update_map_l1_writable");
	rc = remap(scratch, pfn_to_mfn(l1_pfn), L1_PROT);
	check(rc < 0, "update_va_mapping_l1_writable", "rc %ld", rc);
	rc = remap(scratch, root_mfn, L1_PROT);
	check(rc < 0, "update_va_mapping_l4_writable", "rc %ld", rc);
	/* Read-only is fine (Xen lets guests read their page tables). */
	rc = remap(scratch, pfn_to_mfn(l1_pfn), L1_PROT_RO);
	check_rc(rc, 0, "update_va_mapping_l1_readonly");
	check_rc(remap(scratch, virt_to_mfn(scratch), L1_PROT), 0,
		 "scratch_restored_2");
	/* Writing to a pinned table through its RO mapping must fault, not
	 * land: we only check the mapping stayed read-only via the pin. */
	rc = mmuext(MMUEXT_PIN_L1_TABLE, pfn_to_mfn(l1_pfn));
	check(rc < 0, "pin_twice_refused", "rc %ld", rc);
	pt_free_table(l1_pfn);
}

/* A page made into a would-be L1 table and remapped read-only. */
static void *prepare_table(const pgentry_t *entries, unsigned n)
{
	pgentry_t *p = alloc_page();

	if (!p)
		return NULL;
	memcpy(p, entries, n * sizeof(*entries));
	if (remap(p, virt_to_mfn(p), L1_PROT_RO)) {
		free_page(p);
		return NULL;
	}
	return p;
}

static void release_table(void *p)
{
	if (remap(p, virt_to_mfn(p), L1_PROT) == 0)
		free_page(p);
}

static void test_bad_pins(void)
{
	unsigned long beyond = nr_ram_pages + 4096;
	pgentry_t e[2];
	pgentry_t *p;
	long rc;

	/* Garbage: present entries naming frames that do not exist. */
	e[0] = (beyond << PAGE_SHIFT) | L1_PROT;
	e[1] = 0xdeadbeef000ul | L1_PROT;
	p = prepare_table(e, 2);
	if (check(p != NULL, "garbage_table_prepared", "alloc/remap failed")) {
		rc = mmuext(MMUEXT_PIN_L1_TABLE, virt_to_mfn(p));
		/* Xen: a frame that is no RAM is MMIO space a domU may not
		 * map -> -EPERM. */
		check_rc(rc, -XEN_EPERM, "pin_l1_garbage");
		release_table(p);
	}

	/* A table that maps itself writable. */
	p = alloc_page();
	if (check(p != NULL, "self_map_alloc", "no page")) {
		p[0] = (virt_to_mfn(p) << PAGE_SHIFT) | L1_PROT;
		if (remap(p, virt_to_mfn(p), L1_PROT_RO) == 0) {
			rc = mmuext(MMUEXT_PIN_L1_TABLE, virt_to_mfn(p));
			/* Xen: the writable self-reference fails validation
			 * with get_page_from_l1e's -EBUSY. */
			check_rc(rc, -XEN_EBUSY, "pin_l1_maps_itself_writable");
			release_table(p);
		} else {
			check(false, "pin_l1_maps_itself_writable",
			      "cannot remap read-only");
		}
	}

	/* An L2 whose entry points at a data page (not an L1). */
	p = alloc_page();
	if (check(p != NULL, "bad_l2_alloc", "no page")) {
		void *data = alloc_page();

		p[0] = (virt_to_mfn(data) << PAGE_SHIFT) | PT_PROT;
		if (remap(p, virt_to_mfn(p), L1_PROT_RO) == 0) {
			rc = mmuext(MMUEXT_PIN_L2_TABLE, virt_to_mfn(p));
			check(rc < 0, "pin_l2_pointing_at_data_page",
			      "rc %ld", rc);
			release_table(p);
		}
		free_page(data);
	}

	/* Pinning a frame that is mapped writable. */
	p = alloc_page();
	if (p) {
		rc = mmuext(MMUEXT_PIN_L1_TABLE, virt_to_mfn(p));
		check(rc < 0, "pin_l1_while_mapped_writable", "rc %ld", rc);
		if (rc == 0)
			mmuext(MMUEXT_UNPIN_TABLE, virt_to_mfn(p));
		free_page(p);
	}
	/* Pinning a frame past memory. */
	rc = mmuext(MMUEXT_PIN_L1_TABLE, beyond);
	check(rc < 0, "pin_frame_beyond_memory", "rc %ld", rc);
}

static void test_reserved_l4(void)
{
	static const unsigned slots[] = { 256, 260, 271 };
	unsigned long l3 = pt_alloc_table(3);
	uint64_t root_ma = virt_to_mfn(pt_root()) << PAGE_SHIFT;

	if (!check(l3 != 0, "pt_alloc_l3", "no page table"))
		return;
	for (unsigned i = 0; i < ARRAY_SIZE(slots); i++) {
		char name[48];
		long rc = mmu_set(root_ma + slots[i] * sizeof(pgentry_t),
				  (pfn_to_mfn(l3) << PAGE_SHIFT) | PT_PROT);

		snprintf(name, sizeof(name), "l4_reserved_slot_%u", slots[i]);
		check_rc(rc, -XEN_EINVAL, name);
	}
	pt_free_table(l3);
}

static void test_remap_staleness(void)
{
	uint64_t *a = alloc_page(), *b = alloc_page();
	volatile uint64_t *x = scratch;
	unsigned bad_uvm = 0, bad_mmu = 0, rounds = 64;
	long rc;

	if (!check(a && b, "remap_alloc", "no pages"))
		return;
	a[0] = MARKER_A;
	b[0] = MARKER_B;

	for (unsigned i = 0; i < rounds; i++) {
		(void)x[0]; /* warm the TLB with the old mapping */
		rc = remap(scratch, virt_to_mfn(a), L1_PROT);
		if (rc || x[0] != MARKER_A)
			bad_uvm++;
		rc = remap(scratch, virt_to_mfn(b), L1_PROT);
		if (rc || x[0] != MARKER_B)
			bad_uvm++;
	}
	check(bad_uvm == 0, "update_va_mapping_remap_not_stale",
	      "%u of %u reads saw the old frame", bad_uvm, 2 * rounds);

	for (unsigned i = 0; i < rounds; i++) {
		(void)x[0];
		rc = mmu_set(scratch_pte_ma,
			     (virt_to_mfn(a) << PAGE_SHIFT) | L1_PROT);
		rc |= mmuext(MMUEXT_INVLPG_LOCAL, (unsigned long)scratch);
		if (rc || x[0] != MARKER_A)
			bad_mmu++;
		rc = mmu_set(scratch_pte_ma,
			     (virt_to_mfn(b) << PAGE_SHIFT) | L1_PROT);
		rc |= mmuext(MMUEXT_INVLPG_LOCAL, (unsigned long)scratch);
		if (rc || x[0] != MARKER_B)
			bad_mmu++;
	}
	check(bad_mmu == 0, "mmu_update_invlpg_remap_not_stale",
	      "%u of %u reads saw the old frame", bad_mmu, 2 * rounds);

	/* Writes through the alias land in the frame. */
	x[1] = 0x1234;
	check(b[1] == 0x1234, "remap_write_through_alias", "b[1] = %#lx",
	      b[1]);

	/* Unmap: the next access must fault; leave the page mapped. */
	check_rc(remap(scratch, virt_to_mfn(scratch), L1_PROT), 0,
		 "scratch_restored_3");
	free_page(a);
	free_page(b);
}

int app_main(const char *cmdline)
{
	const pgentry_t *pte;

	printf("t_mmu on %s\n", kit_backend());
	scratch = alloc_page();
	pte = pt_lookup((unsigned long)scratch, &scratch_pte_ma);
	if (!check(pte && (*pte & _PAGE_PRESENT), "scratch_lookup",
		   "no L1 entry for %p", scratch))
		test_finish();

	test_bad_frames();
	test_pt_writable();
	test_bad_pins();
	test_reserved_l4();
	test_remap_staleness();
	test_finish();
}
