/*
 * Privileged operations of a PV guest on the Xen layer (test VM, fake
 * backend): rdmsr/wrmsr rules through the #GP path, forced CPUID through the
 * #UD path, port I/O and the virtual IOPL, CR and DR moves, set_gdt /
 * update_descriptor, runstate area, vcpu_op up/down/initialise errors, debug
 * registers.  Negative cases are table rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

#include <cmocka.h>

#include "testvm.h"
#include "xen/emulate.h"
#include "xen/msr.h"

#define CODE_PFN 10
#define DATA_PFN 20

/* Puts insn at the start of CODE_PFN, points rip at it and runs the fault
 * path; returns xen_emulate_fault's verdict, *ex as it left it. */
static bool fault(struct vcpu *v, unsigned vector, const uint8_t *insn,
		  size_t len, struct vexit *ex)
{
	memset(ex, 0, sizeof(*ex));
	ex->kind = VEXIT_EXCEPTION;
	ex->vector = vector;
	v->regs.rip = testvm_put(v->vm, CODE_PFN, insn, len);
	return xen_emulate_fault(v, ex);
}

struct msr_case {
	const char *name;
	bool write, kernel;
	uint32_t idx;
	uint64_t val;
	bool emulated;
};

static const struct msr_case msr_cases[] = {
	{ "wrmsr GS_BASE", true, true, 0xc0000101, 0xffffffff8301a000ull, true },
	{ "wrmsr FS_BASE", true, true, 0xc0000100, 0x7f0000001000ull, true },
	{ "wrmsr KERNEL_GS_BASE", true, true, 0xc0000102, 0x1000, true },
	{ "wrmsr EFER unchanged", true, true, 0xc0000080, 0xd01, true },
	{ "rdmsr PAT", false, true, 0x277, 0x0000050100070406ull, true },
	{ "rdmsr EFER", false, true, 0xc0000080, 0xd01, true },
	{ "wrmsr PAT ignored", true, true, 0x277, 0, true },
	/* Negative rows: #GP. */
	{ "wrmsr GS_BASE non-canonical", true, true, 0xc0000101, 0x0000800000000000ull, false },
	{ "wrmsr EFER clears NXE", true, true, 0xc0000080, 0x501, false },
	{ "rdmsr unknown", false, true, 0xc0010140, 0, false },
	{ "wrmsr unknown", true, true, 0x49, 0x80, false },
	{ "wrmsr LSTAR", true, true, 0xc0000082, 0x1000, false },
	{ "rdmsr from user mode", false, false, 0x277, 0, false },
	{ "wrmsr from user mode", true, false, 0xc0000100, 0, false },
};

static void test_msr_rules(void **state)
{
	static const uint8_t wrmsr[] = { 0x0f, 0x30 }, rdmsr[] = { 0x0f, 0x32 };

	(void)state;
	for (size_t i = 0; i < sizeof(msr_cases) / sizeof(msr_cases[0]); i++) {
		const struct msr_case *c = &msr_cases[i];
		struct vm *vm = testvm_new();
		struct vcpu *v = vm->vcpus[0];
		struct vexit ex;
		uint64_t rip;
		bool ok;

		print_message("# %s\n", c->name);
		v->xen.kernel_mode = c->kernel;
		v->regs.rcx = c->idx;
		v->regs.rax = (uint32_t)c->val;
		v->regs.rdx = c->val >> 32;
		ok = fault(v, 13, c->write ? wrmsr : rdmsr, 2, &ex);
		rip = testvm_va(CODE_PFN, 0);
		assert_int_equal(ok, c->emulated);
		if (c->emulated) {
			uint64_t got;

			assert_int_equal(v->regs.rip, rip + 2);
			if (!c->write) {
				assert_int_equal(v->regs.rax, (uint32_t)c->val);
				assert_int_equal(v->regs.rdx, c->val >> 32);
			} else if (c->idx != 0x277 && c->idx != 0xc0000080) {
				assert_int_equal(xen_msr_read(v, c->idx, &got), 0);
				assert_int_equal(got, c->val);
			}
		} else {
			/* #GP(0) for the guest, rip unchanged. */
			assert_int_equal(ex.vector, 13);
			assert_int_equal(ex.error_code, 0);
			assert_int_equal(v->regs.rip, rip);
		}
		testvm_free(vm);
	}
}

static void test_hypercall_page_msr(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];

	(void)state;
	assert_int_equal(xen_msr_write(v, 0x40000000, (uint64_t)DATA_PFN << 12), 0);
	assert_int_equal(testvm_frame(vm, DATA_PFN)[0], 0xccccccccccccccccull);
	/* Negative rows: low bits set (one page only), outside RAM.  (A
	 * page-table frame is refused through pagetype_get_page.) */
	assert_int_equal(xen_msr_write(v, 0x40000000, 1ull << 12 | 1), -EPERM);
	assert_int_equal(xen_msr_write(v, 0x40000000, vm->mem.nr_frames << 12),
			 -EPERM);
	testvm_free(vm);
}

static void test_forced_cpuid(void **state)
{
	static const uint8_t xen_cpuid[] = { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2 };
	static const uint8_t plain_ud2[] = { 0x0f, 0x0b, 0x90, 0x90, 0x90, 0x90, 0x90 };
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex;
	char sig[13] = { 0 };

	(void)state;
	v->regs.rax = 0x40000000;
	assert_true(fault(v, 6, xen_cpuid, sizeof(xen_cpuid), &ex));
	memcpy(sig, &v->regs.rbx, 4);
	memcpy(sig + 4, &v->regs.rcx, 4);
	memcpy(sig + 8, &v->regs.rdx, 4);
	assert_string_equal(sig, "XenVMMXenVMM");
	assert_int_equal(v->regs.rip, testvm_va(CODE_PFN, 7));
	/* From guest user mode too, as in Xen. */
	v->xen.kernel_mode = false;
	v->regs.rax = 0x40000001;
	assert_true(fault(v, 6, xen_cpuid, sizeof(xen_cpuid), &ex));
	assert_int_equal(v->regs.rax, (4u << 16) | 14);
	/* A plain ud2 is the guest's #UD. */
	assert_false(fault(v, 6, plain_ud2, sizeof(plain_ud2), &ex));
	assert_int_equal(ex.vector, 6);
	testvm_free(vm);
}

static void test_io_and_iopl(void **state)
{
	static const uint8_t inb61[] = { 0xe4, 0x61 }, outdx[] = { 0xee };
	static const uint8_t cli[] = { 0xfa };
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct physdev_set_iopl io = { .iopl = 4 };
	struct vexit ex;

	(void)state;
	/* Without the virtual IOPL: #GP. */
	assert_false(fault(v, 13, inb61, 2, &ex));
	assert_int_equal(ex.vector, 13);
	assert_false(fault(v, 13, cli, 1, &ex));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl,
				   testvm_put(vm, DATA_PFN, &io, sizeof(io)), 0),
			 -XEN_EINVAL);
	io.iopl = 1;
	assert_int_equal(testvm_hc(v, __HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl,
				   testvm_put(vm, DATA_PFN, &io, sizeof(io)), 0), 0);
	v->regs.rax = 0x1200;
	assert_true(fault(v, 13, inb61, 2, &ex));
	assert_int_equal(v->regs.rax, 0x12ff); /* all ones, as Xen for a domU */
	assert_true(fault(v, 13, outdx, 1, &ex));
	assert_true(fault(v, 13, cli, 1, &ex));
	/* IOPL 1 is not enough for guest user mode. */
	v->xen.kernel_mode = false;
	assert_false(fault(v, 13, inb61, 2, &ex));
	testvm_free(vm);
}

static void test_cr_dr(void **state)
{
	static const uint8_t rd_cr4[] = { 0x0f, 0x20, 0xe0 };   /* mov %cr4,%rax */
	static const uint8_t wr_cr0[] = { 0x0f, 0x22, 0xc0 };   /* mov %rax,%cr0 */
	static const uint8_t rd_cr3[] = { 0x0f, 0x20, 0xd8 };   /* mov %cr3,%rax */
	static const uint8_t clts[] = { 0x0f, 0x06 };
	static const uint8_t wr_dr7[] = { 0x0f, 0x23, 0xf8 };   /* mov %rax,%db7 */
	static const uint8_t rd_cr8[] = { 0x44, 0x0f, 0x20, 0xc0 };
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex;

	(void)state;
	assert_true(fault(v, 13, rd_cr4, 3, &ex));
	assert_true(v->regs.rax & (1u << 5)); /* PAE */
	assert_true(fault(v, 13, rd_cr3, 3, &ex));
	assert_int_equal(v->regs.rax, (uint64_t)TESTVM_L4 << 12);
	v->regs.rax = 0x8005003bull | 8; /* set TS */
	assert_true(fault(v, 13, wr_cr0, 3, &ex));
	assert_true(v->xen.fpu_ts);
	assert_true(fault(v, 13, clts, 2, &ex));
	assert_false(v->xen.fpu_ts);
	v->regs.rax = 0x8005003bull & ~1ull; /* clear PE: refused */
	assert_false(fault(v, 13, wr_cr0, 3, &ex));
	assert_int_equal(ex.vector, 13);
	assert_false(fault(v, 13, rd_cr8, 4, &ex));
	v->regs.rax = 0x401;
	assert_true(fault(v, 13, wr_dr7, 3, &ex));
	assert_int_equal(v->xen.debugreg[7], 0x401);
	v->xen.kernel_mode = false;
	assert_false(fault(v, 13, rd_cr4, 3, &ex));
	testvm_free(vm);
}

static void test_gdt(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	uint64_t gdt[16] = { 0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull,
			     0, 0x00cff3000000ffffull, 0x00affb000000ffffull };
	uint64_t frame = DATA_PFN, tss = 0x00008b000000ffffull;

	(void)state;
	testvm_put(vm, DATA_PFN, gdt, sizeof(gdt));
	uint64_t fl = testvm_put(vm, DATA_PFN + 1, &frame, sizeof(frame));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_gdt, fl, 16, 0), 0);
	assert_int_equal(v->xen.gdt_ents, 16);
	/* Too many entries, a TSS, a frame outside RAM. */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_gdt, fl, 7169, 0), -XEN_EINVAL);
	gdt[7] = tss;
	testvm_put(vm, DATA_PFN, gdt, sizeof(gdt));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_gdt, fl, 16, 0), -XEN_EINVAL);
	frame = vm->mem.nr_frames + 5;
	fl = testvm_put(vm, DATA_PFN + 1, &frame, sizeof(frame));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_gdt, fl, 16, 0), -XEN_EINVAL);
	/* update_descriptor: good, misaligned, system descriptor, a page
	 * table frame. */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_update_descriptor,
				   ((uint64_t)DATA_PFN << 12) + 12 * 8,
				   0x00cff3001000ffffull, 0), 0);
	assert_int_equal(testvm_frame(vm, DATA_PFN)[12], 0x00cff3001000ffffull);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_update_descriptor,
				   ((uint64_t)DATA_PFN << 12) + 4, 0, 0), -XEN_EINVAL);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_update_descriptor,
				   ((uint64_t)DATA_PFN << 12) + 8, tss, 0), -XEN_EINVAL);
	testvm_free(vm);
}

static void test_vcpu_op(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct vcpu_register_runstate_memory_area area;
	struct vcpu_runstate_info *rs;

	(void)state;
	area.addr.v = (struct vcpu_runstate_info *)(uintptr_t)testvm_va(DATA_PFN, 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_vcpu_op,
				   VCPUOP_register_runstate_memory_area, 0,
				   testvm_put(vm, DATA_PFN + 1, &area, sizeof(area))), 0);
	rs = (struct vcpu_runstate_info *)testvm_frame(vm, DATA_PFN);
	assert_int_equal(rs->state, RUNSTATE_running);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_vcpu_op, VCPUOP_is_up, 0, 0), 1);
	/* Negative rows: no such vCPU; initialise self; up before init is
	 * about the target only (vCPU 0 is running). */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_vcpu_op, VCPUOP_is_up, 1, 0),
			 -XEN_ENOENT);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_vcpu_op, VCPUOP_initialise, 0,
				   testvm_va(DATA_PFN + 2, 0)), -XEN_EINVAL);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_vcpu_op, VCPUOP_up, 7, 0),
			 -XEN_ENOENT);
	testvm_free(vm);
}

static void test_debugreg(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];

	(void)state;
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 7, 0, 0), 0x400);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 0, 0x401000, 0), 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 0, 0, 0), 0x401000);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 0,
				   0xffff800000000000ull, 0), -XEN_EPERM);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 1,
				   0x0000800000000000ull, 0), -XEN_EPERM);
	/* Xen's rules (issue 15): reserved DR7/DR6 bits forced, not refused. */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 7, 1ull << 32, 0), 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 7, 0, 0), 0x400);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 7, 0x1800 | 1, 0), 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 7, 0, 0), 0x401);
	/* GD, and an I/O breakpoint without CR4.DE: -EPERM */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 7, 0x2000, 0),
			 -XEN_EPERM);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 7,
				   (2ull << 16) | 1, 0), -XEN_EPERM);
	/* ... but an I/O breakpoint that is not enabled is kept */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 7, 2ull << 16, 0), 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 6, 0x1001, 0), 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 6, 0, 0), 0xffff0ff1);
	/* DR4/DR5 alias DR6/DR7 without CR4.DE */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 4, 0, 0), 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 4, 0, 0), 0xffff0ff0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 5, 0, 0),
			 (long)((2ull << 16) | 0x400));
	v->xen.guest_cr4 |= 8; /* CR4.DE */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 4, 0, 0), -XEN_ENODEV);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 5, 0, 0), -XEN_ENODEV);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 4, 0, 0), -XEN_EINVAL);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 7,
				   (2ull << 16) | 1, 0), 0);
	v->xen.guest_cr4 &= ~8ull;
	/* DR0-3: Xen's range ends at HYPERVISOR_VIRT_END */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 2,
				   HYPERVISOR_VIRT_END - 8, 0), -XEN_EPERM);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 2,
				   HYPERVISOR_VIRT_END, 0), 0);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_debugreg, 8, 0, 0), -XEN_ENODEV);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_get_debugreg, 8, 0, 0), -XEN_EINVAL);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_platform_op, 0, 0, 0), -XEN_EPERM);
	testvm_free(vm);
}

/* TF set: an emulated instruction ends in a #DB right after it (the
 * caller bounces the rewritten exit); a load of %ss does not (the shadow:
 * the host's trap after the next instruction is the #DB). */
static void test_single_step_after_emulation(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	static const uint8_t xen_cpuid[] = { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2 };
	static const uint8_t mov_ss[] = { 0x8e, 0xd0 }; /* mov %ax, %ss */
	static const uint8_t mov_ds[] = { 0x8e, 0xd8 }; /* mov %ax, %ds */
	struct vexit ex;
	uint64_t at;

	(void)state;
	v->regs.rflags |= 1ull << 8;
	v->regs.rax = 0;
	assert_false(fault(v, 6, xen_cpuid, sizeof(xen_cpuid), &ex));
	assert_int_equal(ex.vector, 1);
	at = testvm_va(CODE_PFN, sizeof(xen_cpuid));
	assert_int_equal(v->regs.rip, at);
	v->regs.rax = 0xe02b;
	assert_true(fault(v, 13, mov_ss, sizeof(mov_ss), &ex));
	assert_int_equal(v->regs.rip, testvm_va(CODE_PFN, 2));
	assert_false(fault(v, 13, mov_ds, sizeof(mov_ds), &ex));
	assert_int_equal(ex.vector, 1);
	assert_int_equal(v->regs.rip, testvm_va(CODE_PFN, 2));
	/* Without TF: emulated, no #DB. */
	v->regs.rflags &= ~(1ull << 8);
	assert_true(fault(v, 13, mov_ds, sizeof(mov_ds), &ex));
	testvm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msr_rules),
		cmocka_unit_test(test_hypercall_page_msr),
		cmocka_unit_test(test_forced_cpuid),
		cmocka_unit_test(test_io_and_iopl),
		cmocka_unit_test(test_cr_dr),
		cmocka_unit_test(test_gdt),
		cmocka_unit_test(test_vcpu_op),
		cmocka_unit_test(test_debugreg),
		cmocka_unit_test(test_single_step_after_emulation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
