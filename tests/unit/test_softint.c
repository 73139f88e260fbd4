/*
 * Software interrupts (issue 15) on the Xen layer (test VM, fake backend):
 * Xen's DPL rule, the decoder for the #UD path, and each way a host
 * reports `int $n` (a #GP with an IDT error code, proc's vector 0x80, a
 * #UD at the instruction) delivered or turned into Xen's #GP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testvm.h"
#include "xen/softint.h"
#include "xen/traps.h"

#define CODE_PFN 10
#define STACK_PFN 30
#define KSTACK_PFN 40
#define HANDLER testvm_va(CODE_PFN, 0x800)
#define INSN_OFF 0x100

static void test_permitted(void **state)
{
	(void)state;
	/* guest kernel mode is ring 1, user mode ring 3 */
	assert_false(softint_permitted(0, true));
	assert_true(softint_permitted(1, true));
	assert_true(softint_permitted(3, true));
	assert_false(softint_permitted(0, false));
	assert_false(softint_permitted(1, false));
	assert_false(softint_permitted(2, false));
	assert_true(softint_permitted(3, false));
	/* TI_SET_IF (bit 2) does not count */
	assert_false(softint_permitted(4, false));
	assert_true(softint_permitted(7, false));
}

static void test_decode(void **state)
{
	static const struct {
		uint8_t b[2];
		size_t n;
		enum softint_kind kind;
		unsigned vector, len;
	} rows[] = {
		{ { 0xcd, 0x80 }, 2, SOFTINT_INTN, 0x80, 2 },
		{ { 0xcd, 0x00 }, 2, SOFTINT_INTN, 0, 2 },
		{ { 0xcd, 0xff }, 2, SOFTINT_INTN, 0xff, 2 },
		{ { 0xcd, 0x80 }, 1, SOFTINT_NONE, 0, 0 },  /* truncated */
		{ { 0xcc, 0x90 }, 1, SOFTINT_INT3, 3, 1 },
		{ { 0xf1, 0x90 }, 2, SOFTINT_INT1, 1, 1 },
		{ { 0xce, 0x90 }, 2, SOFTINT_NONE, 0, 0 },  /* into: #UD */
		{ { 0x0f, 0x0b }, 2, SOFTINT_NONE, 0, 0 },  /* ud2 */
		{ { 0x66, 0xcd }, 2, SOFTINT_NONE, 0, 0 },  /* prefixed */
		{ { 0 }, 0, SOFTINT_NONE, 0, 0 },
	};
	struct softint si;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(softint_decode(rows[i].b, rows[i].n, &si),
				 rows[i].kind);
		assert_int_equal(si.kind, rows[i].kind);
		assert_int_equal(si.vector, rows[i].vector);
		assert_int_equal(si.len, rows[i].len);
	}
}

static struct vm *setup(uint8_t b0, uint8_t b1)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	uint8_t *code = (uint8_t *)testvm_frame(vm, CODE_PFN);

	code[INSN_OFF] = b0;
	code[INSN_OFF + 1] = b1;
	v->regs.rip = testvm_va(CODE_PFN, INSN_OFF);
	v->regs.rsp = testvm_va(STACK_PFN, 4096);
	v->regs.rcx = 0xc1c1;
	v->regs.r11 = 0x1111;
	v->xen.kernel_sp = testvm_va(KSTACK_PFN, 4096);
	v->xen.user_baseptr_mfn = TESTVM_L4;
	return vm;
}

static void set_entry(struct vcpu *v, unsigned vec, unsigned dpl)
{
	v->xen.traps[vec].vector = (uint8_t)vec;
	v->xen.traps[vec].flags = dpl | 4; /* TI_SET_IF */
	v->xen.traps[vec].cs = FLAT_KERNEL_CS;
	v->xen.traps[vec].address = HANDLER;
}

/* The 7-word frame { rcx, r11, rip, cs, rflags, rsp, ss }: no error code. */
static void assert_delivered(struct vm *vm, uint64_t frame_pfn,
			     uint64_t rip_after, unsigned ring)
{
	struct vcpu *v = vm->vcpus[0];
	uint64_t f[7];

	assert_int_equal(v->regs.rip, HANDLER);
	assert_int_equal(v->regs.rsp, testvm_va(frame_pfn, 4096 - 56));
	assert_int_equal(gmem_read(&vm->mem, (frame_pfn << 12) + 4096 - 56,
				   f, sizeof(f)), 0);
	assert_int_equal(f[0], 0xc1c1);
	assert_int_equal(f[1], 0x1111);
	assert_int_equal(f[2], rip_after);
	assert_int_equal(f[3] & 3, ring);
	assert_int_equal(f[5], testvm_va(STACK_PFN, 4096));
	assert_true(xen_vcpu_info(v)->evtchn_upcall_mask); /* TI_SET_IF */
	assert_true(v->xen.kernel_mode);
}

static void test_gp_idt_kernel(void **state)
{
	struct vm *vm = setup(0xcd, 0x81);
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex = { .kind = VEXIT_EXCEPTION, .vector = 13,
			    .error_code = (0x81 << 3) | 2 };
	uint64_t at = v->regs.rip;

	(void)state;
	xen_vcpu_info(v)->evtchn_upcall_mask = 0;
	/* DPL 0: Xen's #GP stays, at the instruction. */
	set_entry(v, 0x81, 0);
	assert_false(xen_softint_exit(v, &ex));
	assert_int_equal(ex.vector, 13);
	assert_int_equal(ex.error_code, (0x81 << 3) | 2);
	assert_int_equal(v->regs.rip, at);
	/* DPL 1 admits guest kernel mode. */
	set_entry(v, 0x81, 1);
	assert_true(xen_softint_exit(v, &ex));
	assert_delivered(vm, STACK_PFN, at + 2, 0);
	assert_false(vm_stopped(vm));
	testvm_free(vm);
}

static void test_gp_idt_user(void **state)
{
	struct vm *vm = setup(0xcd, 0x81);
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex = { .kind = VEXIT_EXCEPTION, .vector = 13,
			    .error_code = (0x81 << 3) | 2 };
	uint64_t at = v->regs.rip;

	(void)state;
	v->xen.kernel_mode = false;
	set_entry(v, 0x81, 1); /* not enough for ring 3 */
	assert_false(xen_softint_exit(v, &ex));
	assert_int_equal(ex.error_code, (0x81 << 3) | 2);
	assert_false(v->xen.kernel_mode);
	set_entry(v, 0x81, 3);
	assert_true(xen_softint_exit(v, &ex));
	assert_delivered(vm, KSTACK_PFN, at + 2, 3);
	testvm_free(vm);
}

static void test_gp_not_idt(void **state)
{
	struct vm *vm = setup(0xcd, 0x81);
	struct vcpu *v = vm->vcpus[0];
	static const uint32_t ecs[] = { 0, 0x10, (0x81 << 3) | 3, (0x81 << 3) | 1 };

	(void)state;
	set_entry(v, 0x81, 3);
	set_entry(v, 0x10 >> 3, 3);
	for (size_t i = 0; i < sizeof(ecs) / sizeof(ecs[0]); i++) {
		struct vexit ex = { .kind = VEXIT_EXCEPTION, .vector = 13,
				    .error_code = ecs[i] };

		/* a selector, or raised by an external event: not int n */
		assert_false(xen_softint_exit(v, &ex));
		assert_int_equal(ex.error_code, ecs[i]);
	}
	testvm_free(vm);
}

static void test_no_handler_stops(void **state)
{
	struct vm *vm = setup(0xcd, 0x90);
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex = { .kind = VEXIT_EXCEPTION, .vector = 13,
			    .error_code = (0x90 << 3) | 2 };

	(void)state;
	v->xen.traps[0x90].flags = 3; /* DPL 3 but no address */
	assert_true(xen_softint_exit(v, &ex));
	assert_true(vm_stopped(vm));
	testvm_free(vm);
}

static void test_proc_int80(void **state)
{
	struct vm *vm = setup(0xcd, 0x80);
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex = { .kind = VEXIT_EXCEPTION, .vector = 0x80 };
	uint64_t after = v->regs.rip + 2;

	(void)state;
	/* The host reports it past the instruction. */
	v->regs.rip = after;
	assert_false(xen_softint_exit(v, &ex)); /* no entry: DPL 0 */
	assert_int_equal(ex.vector, 13);
	assert_int_equal(ex.error_code, (0x80 << 3) | 2);
	assert_int_equal(v->regs.rip, after - 2);

	v->regs.rip = after;
	ex = (struct vexit){ .kind = VEXIT_EXCEPTION, .vector = 0x80 };
	set_entry(v, 0x80, 3);
	assert_true(xen_softint_exit(v, &ex));
	assert_delivered(vm, STACK_PFN, after, 0);
	testvm_free(vm);
}

static void test_proc_int80_not_int(void **state)
{
	struct vm *vm = setup(0x0f, 0x34); /* sysenter */
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex = { .kind = VEXIT_EXCEPTION, .vector = 0x80 };

	(void)state;
	set_entry(v, 0x80, 3);
	v->regs.rip += 2;
	assert_true(xen_softint_exit(v, &ex));
	assert_true(vm_stopped(vm));
	testvm_free(vm);
}

static void test_ud_path(void **state)
{
	struct vm *vm;
	struct vcpu *v;
	struct vexit ex;
	uint64_t at;

	(void)state;
	/* kvm-pvm: int $0x85 reported as #UD at the instruction */
	vm = setup(0xcd, 0x85);
	v = vm->vcpus[0];
	at = v->regs.rip;
	ex = (struct vexit){ .kind = VEXIT_EXCEPTION, .vector = 6 };
	assert_false(xen_softint_exit(v, &ex));
	assert_int_equal(ex.vector, 13);
	assert_int_equal(ex.error_code, (0x85 << 3) | 2);
	assert_int_equal(v->regs.rip, at);
	ex = (struct vexit){ .kind = VEXIT_EXCEPTION, .vector = 6 };
	set_entry(v, 0x85, 1);
	assert_true(xen_softint_exit(v, &ex));
	assert_delivered(vm, STACK_PFN, at + 2, 0);
	testvm_free(vm);

	/* int3 and icebp: traps, rip past them, no DPL check */
	for (unsigned i = 0; i < 2; i++) {
		vm = setup(i ? 0xf1 : 0xcc, 0x90);
		v = vm->vcpus[0];
		at = v->regs.rip;
		ex = (struct vexit){ .kind = VEXIT_EXCEPTION, .vector = 6 };
		assert_false(xen_softint_exit(v, &ex));
		assert_int_equal(ex.vector, i ? 1 : 3);
		assert_int_equal(v->regs.rip, at + 1);
		testvm_free(vm);
	}

	/* into and ud2 stay #UD */
	for (unsigned i = 0; i < 2; i++) {
		vm = setup(i ? 0x0f : 0xce, i ? 0x0b : 0x90);
		v = vm->vcpus[0];
		at = v->regs.rip;
		ex = (struct vexit){ .kind = VEXIT_EXCEPTION, .vector = 6 };
		assert_false(xen_softint_exit(v, &ex));
		assert_int_equal(ex.vector, 6);
		assert_int_equal(v->regs.rip, at);
		testvm_free(vm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_permitted),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_gp_idt_kernel),
		cmocka_unit_test(test_gp_idt_user),
		cmocka_unit_test(test_gp_not_idt),
		cmocka_unit_test(test_no_handler_stops),
		cmocka_unit_test(test_proc_int80),
		cmocka_unit_test(test_proc_int80_not_int),
		cmocka_unit_test(test_ud_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
