/*
 * A VM for unit tests of the Xen layer: real guest memory, page tables that
 * map all RAM at TESTVM_VA (pfn p at TESTVM_VA + p*4096, RW|USER), one vCPU
 * in guest kernel mode, and a fake backend that records what the Xen layer
 * asks of it.  Header-only so that each test binary stays self-contained.
 */
#ifndef PVISOR_TESTVM_H
#define PVISOR_TESTVM_H

#include <stdlib.h>
#include <string.h>

#include "core/vm.h"
#include "xen/events.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"
#include "xen/shared.h"
#include "xen/time.h"

#define TESTVM_VA 0x400000ul
#define TESTVM_FRAMES 1024 /* 4 MiB of RAM */
/* Page tables live in the last frames of RAM. */
#define TESTVM_L4 (TESTVM_FRAMES - 4)
#define TESTVM_L3 (TESTVM_FRAMES - 3)
#define TESTVM_L2 (TESTVM_FRAMES - 2)
#define TESTVM_L1A (TESTVM_FRAMES - 1)

struct testvm_record {
	unsigned kicks, pt_writes, baseptrs, flushes;
	uint64_t last_baseptr;
};
static struct testvm_record testvm_rec;

static int testvm_probe(char *why, size_t len) { return 0; }
static int testvm_vm_init(struct vm *vm) { return 0; }
static void testvm_vm_destroy(struct vm *vm) { }
static int testvm_vcpu_init(struct vcpu *v) { v->backend_state = v; return 0; }
static void testvm_vcpu_destroy(struct vcpu *v) { v->backend_state = NULL; }
static void testvm_fill(struct vm *vm, uint8_t *page) { memset(page, 0xcc, 4096); }
static bool testvm_l4_reserved(const struct vm *vm, unsigned slot) { return slot >= 256; }
static uint64_t testvm_l4_entry(const struct vm *vm, unsigned slot) { return 0; }
static int testvm_run(struct vcpu *v, struct vexit *e) { e->kind = VEXIT_FATAL; return 0; }
static void testvm_kick(struct vcpu *v) { testvm_rec.kicks++; }
static int testvm_pt_write(struct vcpu *v, uint64_t gpa, uint64_t val)
{
	testvm_rec.pt_writes++;
	return gmem_write(&v->vm->mem, gpa, &val, 8);
}
static int testvm_set_baseptr(struct vcpu *v, uint64_t mfn)
{
	testvm_rec.baseptrs++;
	testvm_rec.last_baseptr = mfn;
	return 0;
}
static int testvm_flush(struct vcpu *v, uint64_t va, bool all)
{
	testvm_rec.flushes++;
	return 0;
}

static const struct backend_ops testvm_backend = {
	.name = "test",
	.probe = testvm_probe,
	.vm_init = testvm_vm_init,
	.vm_destroy = testvm_vm_destroy,
	.vcpu_init = testvm_vcpu_init,
	.vcpu_destroy = testvm_vcpu_destroy,
	.fill_hypercall_page = testvm_fill,
	.l4_slot_reserved = testvm_l4_reserved,
	.l4_slot_entry = testvm_l4_entry,
	.vcpu_run = testvm_run,
	.vcpu_kick = testvm_kick,
	.pt_write = testvm_pt_write,
	.set_baseptr = testvm_set_baseptr,
	.flush_tlb = testvm_flush,
};

static uint64_t *testvm_frame(struct vm *vm, uint64_t pfn)
{
	return gmem_ptr(&vm->mem, pfn << PAGE_SHIFT, PAGE_SIZE);
}

/* Maps RAM frames [0, TESTVM_L4) at TESTVM_VA (first 2 MiB only: one L1)
 * plus the shared_info frame right after them. */
static void testvm_map(struct vm *vm)
{
	uint64_t *l4 = testvm_frame(vm, TESTVM_L4), *l3 = testvm_frame(vm, TESTVM_L3);
	uint64_t *l2 = testvm_frame(vm, TESTVM_L2), *l1 = testvm_frame(vm, TESTVM_L1A);
	const uint64_t f = 7; /* P|RW|U */

	l4[0] = (TESTVM_L3 << 12) | f;
	l3[0] = (TESTVM_L2 << 12) | f;
	l2[TESTVM_VA >> 21] = (TESTVM_L1A << 12) | f;
	for (unsigned i = 0; i < 500; i++)
		l1[i] = ((uint64_t)i << 12) | f;
	/* shared_info at TESTVM_VA + 500 pages */
	l1[500] = (vm->xen.shared_info_mfn << 12) | f;
}

static struct vm *testvm_new(void)
{
	static struct vm_config cfg = { .mem_bytes = TESTVM_FRAMES * 4096ull,
					.nr_vcpus = 1, .cmdline = "" };
	struct vm *vm = calloc(1, sizeof(*vm));
	struct vcpu *v;
	char err[256];

	memset(&testvm_rec, 0, sizeof(testvm_rec));
	if (vm_create(vm, &cfg, &testvm_backend, err, sizeof(err)) < 0)
		abort();
	if (vm_add_vcpu(vm, &v, err, sizeof(err)) < 0)
		abort();
	testvm_map(vm);
	v->xen.baseptr_mfn = v->xen.kernel_baseptr_mfn = TESTVM_L4;
	/* Xen starts a vCPU with events masked. */
	xen_vcpu_info(v)->evtchn_upcall_mask = 1;
	v->regs.cs = FLAT_KERNEL_CS;
	v->regs.ss = FLAT_KERNEL_SS;
	v->regs.rflags = RFLAGS_IF | RFLAGS_RESERVED1;
	return vm;
}

static void testvm_free(struct vm *vm)
{
	vm_destroy(vm);
	free(vm);
}

/* Guest VA of byte `off` of RAM frame `pfn`. */
static inline uint64_t testvm_va(uint64_t pfn, uint64_t off)
{
	return TESTVM_VA + (pfn << PAGE_SHIFT) + off;
}

/* Copies obj into guest memory at frame pfn and returns its VA. */
static inline uint64_t testvm_put(struct vm *vm, uint64_t pfn, const void *obj,
				  size_t len)
{
	memcpy(testvm_frame(vm, pfn), obj, len);
	return testvm_va(pfn, 0);
}

static inline long testvm_hc(struct vcpu *v, unsigned nr, uint64_t a0,
			     uint64_t a1, uint64_t a2)
{
	struct hc_args args = { { a0, a1, a2, 0, 0 } };

	return hypercall_call(v, nr, &args);
}

#endif
