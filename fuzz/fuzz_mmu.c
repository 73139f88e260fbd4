/*
 * libFuzzer harness for the MMU hypercalls and page-type rules: random
 * sequences of mmu_update / mmuext_op / update_va_mapping against a small
 * VM (16 RAM frames, shared_info, one private Xen frame) with a fake
 * backend.  After every operation pagetype_check() must hold: no page table
 * reachable from a pin or base pointer is mapped writable anywhere, and all
 * counts match the tables in memory.  At the end, releasing pins and base
 * pointers must bring every count back to zero.
 */
// fuzz-sources: src/xen/pagetype.c src/xen/mmu.c src/core/gmem.c src/core/host_table.c src/core/log.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

#define NR_RAM 16
#define BUF 15 /* request buffer frame, mapped at VA(BUF) by the boot L1 */
#define VA(mfn) (0x400000ull + (uint64_t)(mfn) * 4096ull)

/* hc_read/hc_write as dispatch.c has them, without the whole table. */
int hc_read(struct vcpu *v, uint64_t gva, void *dst, size_t len)
{
	return gva_read(&v->vm->mem, v->xen.baseptr_mfn, gva, dst, len) ?
		       -XEN_EFAULT : 0;
}

int hc_write(struct vcpu *v, uint64_t gva, const void *src, size_t len)
{
	return gva_write(&v->vm->mem, v->xen.baseptr_mfn, gva, src, len) ?
		       -XEN_EFAULT : 0;
}

/* vm_stop as core/vm.c has it, for a grant PTE dropped implicitly (no
 * grant PTE exists here: mmu_update cannot create one). */
void vm_stop(struct vm *vm, enum vm_stop_reason reason, int exit_status,
	     const char *fmt, ...)
{
	int running = VM_RUNNING;

	(void)exit_status;
	(void)fmt;
	atomic_compare_exchange_strong(&vm->stop_reason, &running, (int)reason);
}

static int fake_pt_write(struct vcpu *v, uint64_t gpa, uint64_t val)
{
	return gmem_write(&v->vm->mem, gpa, &val, sizeof(val));
}

static int fake_set_baseptr(struct vcpu *v, uint64_t mfn)
{
	return 0;
}

static int fake_flush(struct vcpu *v, uint64_t va, bool all)
{
	return 0;
}

static bool fake_reserved(const struct vm *vm, unsigned slot)
{
	return slot == 255;
}

static uint64_t fake_entry(const struct vm *vm, unsigned slot)
{
	return slot == 255 ? ((uint64_t)(NR_RAM + 1) << 12) | 3 : 0;
}

static const struct backend_ops fake_backend = {
	.name = "fake",
	.l4_slot_reserved = fake_reserved,
	.l4_slot_entry = fake_entry,
	.pt_write = fake_pt_write,
	.set_baseptr = fake_set_baseptr,
	.flush_tlb = fake_flush,
};

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

/* Entries that mostly hit interesting frames and flag combinations. */
static uint64_t take_entry(struct input *in)
{
	uint64_t sel = take(in, 1), mfn = take(in, 1), flags = take(in, 2);
	uint64_t e;

	if (sel == 0xff)
		return take(in, 8); /* anything at all */
	mfn = sel & 0x80 ? mfn : mfn % (NR_RAM + 3);
	e = (mfn << 12) | (flags & 0x1ff) | ((flags >> 9) & 1 ? PTE_NX : 0);
	if ((flags >> 10) & 1)
		e |= 1ull << 62;
	if ((flags >> 11) & 1)
		e &= ~PTE_PRESENT & ~PTE_PSE;
	return e;
}

static uint64_t take_gpa(struct input *in)
{
	uint64_t mfn = take(in, 1) % (NR_RAM + 2), slot = take(in, 2) % 512;

	return (mfn << 12) + slot * 8;
}

static uint64_t take_va(struct input *in)
{
	uint64_t r = take(in, 1);

	if (r < 200)
		return VA(r % NR_RAM);
	return take(in, 8);
}

static void build_boot_tables(struct vm *vm)
{
	uint64_t *l4 = gmem_ptr(&vm->mem, 1 << 12, 4096);
	uint64_t *l3 = gmem_ptr(&vm->mem, 2 << 12, 4096);
	uint64_t *l2 = gmem_ptr(&vm->mem, 3 << 12, 4096);
	uint64_t *l1 = gmem_ptr(&vm->mem, 4 << 12, 4096);

	l4[0] = (2 << 12) | 7;
	l3[0] = (3 << 12) | 7;
	l2[2] = (4 << 12) | 7;
	for (uint64_t i = 0; i < NR_RAM; i++)
		l1[i] = (i << 12) | (i >= 1 && i <= 4 ? 5 : 7);
}

static void check(struct vm *vm, const char *after)
{
	char why[256];

	if (!pagetype_check(vm, why, sizeof(why))) {
		fprintf(stderr, "invariant broken after %s: %s\n", after, why);
		abort();
	}
}

static void one_op(struct vcpu *v, struct input *in)
{
	struct vm *vm = v->vm;
	uint8_t *buf = gmem_ptr(&vm->mem, (uint64_t)BUF << 12, 4096);
	struct hc_args a = { { 0 } };
	unsigned kind = take(in, 1) % 8, n;
	static const char *const names[] = {
		"mmu_update", "mmu_update", "update_va_mapping",
		"mmuext pin", "mmuext unpin", "mmuext baseptr",
		"mmuext page/flush", "mmuext raw",
	};

	/* The requests are written into BUF directly, as the guest would
	 * through its own mapping; once BUF is a page table that mapping is
	 * read-only and the guest cannot (the write would go behind the
	 * page-type rules: the harness's fault, not pvisor's). */
	if (pagetype_is_pagetable(vm, BUF) && kind != 2)
		return;
	switch (kind) {
	case 0:
	case 1: /* 1..4 page-table updates, some M2P or junk commands */
		n = take(in, 1) % 4 + 1;
		for (unsigned i = 0; i < n; i++) {
			struct mmu_update req;
			unsigned cmd = take(in, 1) % 5;

			req.ptr = take_gpa(in) | (cmd == 4 ? 7 : cmd);
			req.val = take_entry(in);
			memcpy(buf + i * sizeof(req), &req, sizeof(req));
		}
		a.a[0] = VA(BUF);
		a.a[1] = n;
		a.a[2] = VA(BUF) + 4000;
		a.a[3] = take(in, 1) == 0x42 ? 5 : DOMID_SELF;
		(void)hc_mmu_update(v, &a);
		break;
	case 2:
		a.a[0] = take_va(in);
		a.a[1] = take_entry(in);
		a.a[2] = take(in, 1) & 7;
		(void)hc_update_va_mapping(v, &a);
		break;
	default: {
		struct mmuext_op op;

		memset(&op, 0, sizeof(op));
		if (kind == 3)
			op.cmd = MMUEXT_PIN_L1_TABLE + take(in, 1) % 4;
		else if (kind == 4)
			op.cmd = MMUEXT_UNPIN_TABLE;
		else if (kind == 5)
			op.cmd = take(in, 1) & 1 ? MMUEXT_NEW_BASEPTR
						 : MMUEXT_NEW_USER_BASEPTR;
		else if (kind == 6)
			op.cmd = MMUEXT_TLB_FLUSH_LOCAL + take(in, 1) % 13;
		else
			op.cmd = take(in, 1);
		op.arg1.mfn = take(in, 1) % (NR_RAM + 3);
		op.arg2.src_mfn = take(in, 1) % (NR_RAM + 3);
		if (kind == 7)
			op.arg2.src_mfn = take(in, 8);
		memcpy(buf, &op, sizeof(op));
		a.a[0] = VA(BUF);
		a.a[1] = 1;
		a.a[2] = VA(BUF) + 4000;
		a.a[3] = DOMID_SELF;
		(void)hc_mmuext_op(v, &a);
		break;
	}
	}
	check(vm, names[kind]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm vm;
	static struct vcpu v;
	struct input in = { data, size };
	struct pagetype_info info;

	log_verbosity = 0;
	memset(&vm, 0, sizeof(vm));
	memset(&v, 0, sizeof(v));
	if (gmem_init(&vm.mem, NR_RAM, 2) < 0)
		abort();
	vm.backend = &fake_backend;
	vm.xen.shared_info_mfn = NR_RAM;
	v.vm = &vm;
	vm.vcpus[0] = &v;
	vm.nr_vcpus = 1;
	if (pagetype_init(&vm) < 0)
		abort();
	build_boot_tables(&vm);
	if (pagetype_pin_boot_tables(&v, 1) < 0)
		abort();
	check(&vm, "boot");
	for (unsigned ops = 0; in.n > 0 && ops < 64; ops++)
		one_op(&v, &in);
	pagetype_release_all(&vm);
	for (uint64_t mfn = 0; mfn < vm.mem.nr_frames; mfn++) {
		if (pagetype_get_info(&vm, mfn, &info) < 0 || info.count ||
		    info.type_count || info.pinned) {
			fprintf(stderr, "frame %lu still held after release\n",
				(unsigned long)mfn);
			abort();
		}
	}
	pagetype_destroy(&vm);
	gmem_destroy(&vm.mem);
	return 0;
}
