/*
 * The fixture test_pagetype.c and test_mmu.c share: a small VM with boot
 * page tables and a fake backend that records what the page-type code asks
 * of it.  Header-only: each test binary includes it once.
 */
#ifndef PVISOR_PT_FIXTURE_H
#define PVISOR_PT_FIXTURE_H

/* Layout: RAM frames 0..63, then shared_info (64) and one more Xen frame
 * (65) the guest may not map.  Boot tables: L4 1, L3 2, L2 3, L1 4; the L1
 * maps frame i at KIT_VA(i) (slot i), page tables read-only. */
#define NR_RAM 64
#define SHINFO 64
#define XEN_PRIVATE 65
#define L4F 1
#define L3F 2
#define L2F 3
#define L1F 4
#define RESERVED_SLOT 255
#define RESERVED_ENTRY ((65ull << 12) | PTE_PRESENT | PTE_RW)
#define P PTE_PRESENT
#define RW PTE_RW
#define U PTE_USER

struct fake {
	struct vm vm;
	struct vcpu v;
	unsigned pt_writes, set_baseptrs, flushes;
	uint64_t last_flush_va, last_baseptr;
	bool last_flush_all;
};

static struct fake *F;

static int fake_pt_write(struct vcpu *v, uint64_t gpa, uint64_t val)
{
	F->pt_writes++;
	return gmem_write(&v->vm->mem, gpa, &val, sizeof(val));
}

static int fake_set_baseptr(struct vcpu *v, uint64_t mfn)
{
	F->set_baseptrs++;
	F->last_baseptr = mfn;
	return 0;
}

static int fake_flush(struct vcpu *v, uint64_t va, bool all)
{
	F->flushes++;
	F->last_flush_va = va;
	F->last_flush_all = all;
	return 0;
}

static bool fake_reserved(const struct vm *vm, unsigned slot)
{
	return slot == RESERVED_SLOT;
}

static uint64_t fake_entry(const struct vm *vm, unsigned slot)
{
	return slot == RESERVED_SLOT ? RESERVED_ENTRY : 0;
}

static const struct backend_ops fake_backend = {
	.name = "fake",
	.l4_slot_reserved = fake_reserved,
	.l4_slot_entry = fake_entry,
	.pt_write = fake_pt_write,
	.set_baseptr = fake_set_baseptr,
	.flush_tlb = fake_flush,
};

static uint64_t *frame(uint64_t mfn)
{
	return gmem_ptr(&F->vm.mem, mfn << 12, 4096);
}

#define ent(mfn, flags) (((uint64_t)(mfn) << 12) | (flags))

static int setup(void **state)
{
	static struct fake f;

	memset(&f, 0, sizeof(f));
	F = &f;
	assert_int_equal(gmem_init(&f.vm.mem, NR_RAM, 2), 0);
	f.vm.backend = &fake_backend;
	f.vm.xen.shared_info_mfn = SHINFO;
	f.v.vm = &f.vm;
	f.v.id = 0;
	f.vm.vcpus[0] = &f.v;
	f.vm.nr_vcpus = 1;
	assert_int_equal(pagetype_init(&f.vm), 0);
	/* Boot tables as the domain builder makes them: U bits, page-table
	 * frames mapped read-only, junk in the reserved slot. */
	frame(L4F)[0] = ent(L3F, P | RW | U);
	frame(L4F)[RESERVED_SLOT] = ent(7, P | RW | U);
	frame(L3F)[0] = ent(L2F, P | RW | U);
	frame(L2F)[2] = ent(L1F, P | RW | U);
	for (uint64_t i = 0; i < NR_RAM; i++) {
		bool pt = i >= L4F && i <= L1F;

		frame(L1F)[i] = ent(i, P | U | (pt ? 0 : RW));
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	pagetype_destroy(&F->vm);
	gmem_destroy(&F->vm.mem);
	return 0;
}

static void assert_consistent(void)
{
	char why[256] = "";
	bool ok = pagetype_check(&F->vm, why, sizeof(why));

	if (!ok)
		fail_msg("inconsistent: %s", why);
}

static void assert_all_released(void)
{
	struct pagetype_info info;

	pagetype_release_all(&F->vm);
	for (uint64_t mfn = 0; mfn < F->vm.mem.nr_frames; mfn++) {
		assert_int_equal(pagetype_get_info(&F->vm, mfn, &info), 0);
		if (info.count || info.type_count || info.pinned)
			fail_msg("frame %lu still held: count %u type %u/%u",
				 (unsigned long)mfn, info.count, info.type,
				 info.type_count);
	}
}

static void boot(void)
{
	assert_int_equal(pagetype_pin_boot_tables(&F->v, L4F), 0);
}

#endif
