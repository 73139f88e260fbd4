/*
 * Xen ABI conformance (issue 14 items 2-4) on the Xen layer (test VM, fake
 * backend): the decoder's new forms (mov Sreg, pop fs/gs, loads, address
 * computation), load semantics, Xen's flat-selector rule, selector loads
 * and M2P reads emulated through xen_emulate_fault, the bounce frame's
 * selectors and iret back, and callback_op register/unregister as Xen
 * answers them.  Negative cases are table rows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testvm.h"
#include "xen/emulate.h"
#include "xen/traps.h"

#define CODE_PFN 10
#define DATA_PFN 20
#define STACK_PFN 30

/* ---- decoder ---- */

struct dec_case {
	const char *name;
	uint8_t bytes[16];
	unsigned n;
	int rc;
	enum emul_op op;
	unsigned len, opsize, srcsize, reg;
	bool mem, sext;
	int base, index;
	unsigned scale;
	int64_t disp;
	int seg;
};

static const struct dec_case dec_cases[] = {
	{ "mov %eax,%ds", { 0x8e, 0xd8 }, 2, 0, EOP_MOV_SREG, 2, 2, 0, EMUL_DS,
	  false, false, -1, -1, 1, 0, -1 },
	{ "mov %r9d,%gs", { 0x41, 0x8e, 0xe9 }, 3, 0, EOP_MOV_SREG, 3, 2, 0, EMUL_GS,
	  false, false, -1, -1, 1, 0, -1 },
	{ "mov (%rdi),%fs", { 0x8e, 0x27 }, 2, 0, EOP_MOV_SREG, 2, 2, 0, EMUL_FS,
	  true, false, 7, -1, 1, 0, -1 },
	{ "mov 8(%rsp),%ss", { 0x8e, 0x54, 0x24, 0x08 }, 4, 0, EOP_MOV_SREG, 4, 2, 0,
	  EMUL_SS, true, false, 4, -1, 1, 8, -1 },
	{ "mov %ax,%es (66)", { 0x66, 0x8e, 0xc0 }, 3, 0, EOP_MOV_SREG, 3, 2, 0,
	  EMUL_ES, false, false, -1, -1, 1, 0, -1 },
	{ "pop %fs", { 0x0f, 0xa1 }, 2, 0, EOP_POP_SREG, 2, 8, 0, EMUL_FS,
	  false, false, -1, -1, 1, 0, -1 },
	{ "pop %gs", { 0x0f, 0xa9 }, 2, 0, EOP_POP_SREG, 2, 8, 0, EMUL_GS,
	  false, false, -1, -1, 1, 0, -1 },
	{ "popw %fs", { 0x66, 0x0f, 0xa1 }, 3, 0, EOP_POP_SREG, 3, 2, 0, EMUL_FS,
	  false, false, -1, -1, 1, 0, -1 },
	{ "mov (%rdx,%rax,8),%rcx", { 0x48, 0x8b, 0x0c, 0xc2 }, 4, 0, EOP_LOAD, 4, 8, 8,
	  1, true, false, 2, 0, 8, 0, -1 },
	{ "mov 0x10(%r13,%r12,8),%r8", { 0x4f, 0x8b, 0x44, 0xe5, 0x10 }, 5, 0, EOP_LOAD,
	  5, 8, 8, 8, true, false, 13, 12, 8, 0x10, -1 },
	{ "mov -0x8(,%rax,8),%rax", { 0x48, 0x8b, 0x04, 0xc5, 0xf8, 0xff, 0xff, 0xff },
	  8, 0, EOP_LOAD, 8, 8, 8, 0, true, false, -1, 0, 8, -8, -1 },
	{ "movl (%rsi),%eax", { 0x8b, 0x06 }, 2, 0, EOP_LOAD, 2, 4, 4, 0, true, false,
	  6, -1, 1, 0, -1 },
	{ "movb 1(%rsi),%ah", { 0x8a, 0x66, 0x01 }, 3, 0, EOP_LOAD, 3, 1, 1, 4, true,
	  false, 6, -1, 1, 1, -1 },
	{ "movzbl 1(%rdi),%eax", { 0x0f, 0xb6, 0x47, 0x01 }, 4, 0, EOP_LOAD, 4, 4, 1, 0,
	  true, false, 7, -1, 1, 1, -1 },
	{ "movswq (%rdi),%rdx", { 0x48, 0x0f, 0xbf, 0x17 }, 4, 0, EOP_LOAD, 4, 8, 2, 2,
	  true, true, 7, -1, 1, 0, -1 },
	{ "movslq (%rdi),%rdx", { 0x48, 0x63, 0x17 }, 3, 0, EOP_LOAD, 3, 8, 4, 2,
	  true, true, 7, -1, 1, 0, -1 },
	{ "movabs 0xffff800000000008,%rax",
	  { 0x48, 0xa1, 0x08, 0, 0, 0, 0, 0x80, 0xff, 0xff }, 10, 0, EOP_LOAD, 10, 8, 8,
	  0, true, false, -1, -1, 1, (int64_t)0xffff800000000008ull, -1 },
	{ "mov %fs:(%rax),%rbx", { 0x64, 0x48, 0x8b, 0x18 }, 4, 0, EOP_LOAD, 4, 8, 8, 3,
	  true, false, 0, -1, 1, 0, EMUL_FS },
	{ "mov disp32(%rip),%rax", { 0x48, 0x8b, 0x05, 0x10, 0, 0, 0 }, 7, 0, EOP_LOAD,
	  7, 8, 8, 0, true, false, -1, -1, 1, 0x10, -1 },
	/* Negative rows. */
	{ "mov %eax,%cs", { 0x8e, 0xc8 }, 2, -EINVAL, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
	{ "mov to Sreg 6", { 0x8e, 0xf0 }, 2, -EINVAL, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
	{ "pop %ds (not in 64-bit mode)", { 0x1f }, 1, -EINVAL, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
	{ "lss (not emulated)", { 0x0f, 0xb2, 0x07 }, 3, -EINVAL, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
	{ "truncated movabs", { 0x48, 0xa1, 0, 0, 0, 0 }, 6, -ENODATA, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
	{ "truncated SIB", { 0x48, 0x8b, 0x0c }, 3, -ENODATA, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
	{ "truncated disp8", { 0x8e, 0x54, 0x24 }, 3, -ENODATA, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
	{ "truncated pop", { 0x0f }, 1, -ENODATA, EOP_NONE, 0, 0, 0, 0, false, false, -1, -1, 1, 0, -1 },
};

static void test_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dec_cases) / sizeof(dec_cases[0]); i++) {
		const struct dec_case *c = &dec_cases[i];
		struct emul_insn in;
		int rc = emul_decode(c->bytes, c->n, &in);

		print_message("# %s\n", c->name);
		assert_int_equal(rc, c->rc);
		if (rc)
			continue;
		assert_int_equal(in.op, c->op);
		assert_int_equal(in.len, c->len);
		assert_int_equal(in.opsize, c->opsize);
		assert_int_equal(in.reg, c->reg);
		assert_int_equal(in.mem, c->mem);
		if (c->op == EOP_LOAD) {
			assert_int_equal(in.srcsize, c->srcsize);
			assert_int_equal(in.sext, c->sext);
		}
		if (c->mem) {
			assert_int_equal(in.base, c->base);
			assert_int_equal(in.index, c->index);
			assert_int_equal(in.scale, c->scale);
			assert_int_equal(in.disp, c->disp);
			assert_int_equal(in.seg, c->seg);
		}
		/* Every cut of a valid encoding asks for more bytes. */
		for (unsigned n = 0; n < c->len; n++)
			assert_int_equal(emul_decode(c->bytes, n, &in), -ENODATA);
	}
}

static void test_effective_address(void **state)
{
	static const uint8_t sib[] = { 0x4f, 0x8b, 0x44, 0xe5, 0x10 };
	static const uint8_t rip[] = { 0x48, 0x8b, 0x05, 0x10, 0, 0, 0 };
	static const uint8_t fs[] = { 0x64, 0x48, 0x8b, 0x18 };
	static const uint8_t a32[] = { 0x67, 0x8b, 0x06 }; /* movl (%esi),%eax */
	struct emul_insn in;
	struct regs r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.r13 = 0xffff800000000000ull;
	r.r12 = 3;
	assert_int_equal(emul_decode(sib, sizeof(sib), &in), 0);
	assert_int_equal(emul_ea(&in, &r), 0xffff800000000028ull);
	r.rip = 0x1000;
	assert_int_equal(emul_decode(rip, sizeof(rip), &in), 0);
	assert_int_equal(emul_ea(&in, &r), 0x1000 + 7 + 0x10);
	r.rax = 0x20;
	r.fs_base = 0x7000;
	assert_int_equal(emul_decode(fs, sizeof(fs), &in), 0);
	assert_int_equal(emul_ea(&in, &r), 0x7020);
	r.rsi = 0x1ffffffffull;
	assert_int_equal(emul_decode(a32, sizeof(a32), &in), 0);
	assert_int_equal(emul_ea(&in, &r), 0xffffffffull);
}

/* ---- load semantics ---- */

struct load_case {
	const char *name;
	uint8_t bytes[8];
	unsigned n;
	uint64_t before, val, after;
	unsigned reg;
};

static const struct load_case load_cases[] = {
	{ "64-bit", { 0x48, 0x8b, 0x0e }, 3, ~0ull, 0x1234, 0x1234, 1 },
	{ "32-bit zero-extends", { 0x8b, 0x0e }, 2, ~0ull, 0xfffffffe, 0xfffffffe, 1 },
	{ "16-bit merges", { 0x66, 0x8b, 0x0e }, 3, 0x1111222233334444ull, 0xabcd,
	  0x111122223333abcdull, 1 },
	{ "8-bit merges", { 0x8a, 0x0e }, 2, 0x1111222233334444ull, 0xee,
	  0x11112222333344eeull, 1 },
	{ "ah (no REX)", { 0x8a, 0x26 }, 2, 0x1111222233334444ull, 0xee,
	  0x111122223333ee44ull, 0 },
	{ "spl (REX)", { 0x40, 0x8a, 0x26 }, 3, 0x1111222233334444ull, 0xee,
	  0x11112222333344eeull, 4 },
	{ "movzbl", { 0x0f, 0xb6, 0x0e }, 3, ~0ull, 0x80, 0x80, 1 },
	{ "movsbq", { 0x48, 0x0f, 0xbe, 0x0e }, 4, 0, 0x80, 0xffffffffffffff80ull, 1 },
	{ "movswl", { 0x0f, 0xbf, 0x0e }, 3, ~0ull, 0x8000, 0xffff8000ull, 1 },
	{ "movslq", { 0x48, 0x63, 0x0e }, 3, 0, 0x80000000, 0xffffffff80000000ull, 1 },
	{ "movzwq", { 0x48, 0x0f, 0xb7, 0x0e }, 4, ~0ull, 0xffff, 0xffff, 1 },
};

static void test_load_apply(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
		const struct load_case *c = &load_cases[i];
		struct emul_insn in;
		struct regs r;

		print_message("# %s\n", c->name);
		memset(&r, 0, sizeof(r));
		*emul_gpr(&r, c->reg) = c->before;
		assert_int_equal(emul_decode(c->bytes, c->n, &in), 0);
		assert_int_equal(emul_load_apply(&in, &r, c->val), 0);
		assert_int_equal(*emul_gpr(&r, c->reg), c->after);
	}
}

/* ---- Xen's flat selectors ---- */

static void test_flat_selector_rule(void **state)
{
	static const struct {
		unsigned sreg;
		uint16_t sel;
		bool ok;
	} rows[] = {
		{ EMUL_DS, FLAT_RING3_DS32, true },
		{ EMUL_DS, FLAT_RING3_DS64, true },
		{ EMUL_ES, FLAT_KERNEL_DS32, true },
		{ EMUL_FS, FLAT_RING3_CS64, true },
		{ EMUL_GS, FLAT_RING3_CS32, true },
		{ EMUL_GS, FLAT_RING3_DS32 & ~3, true }, /* RPL 0 */
		{ EMUL_DS, 3, true },                    /* null, RPL 3 */
		{ EMUL_SS, FLAT_KERNEL_SS, true },
		{ EMUL_SS, FLAT_RING3_SS32, true },
		/* Negative rows: #GP as on Xen. */
		{ EMUL_SS, 0, false },                   /* null SS at CPL 3 */
		{ EMUL_SS, FLAT_RING3_CS64, false },     /* code into SS */
		{ EMUL_SS, FLAT_RING3_SS64 & ~3, false }, /* RPL != CPL */
		{ EMUL_DS, 0xe008, false },              /* Xen's ring-0 code */
		{ EMUL_DS, 0xe018, false },              /* Xen's ring-0 data */
		{ EMUL_DS, 0xe038, false },              /* TSS */
		{ EMUL_FS, 0xe02f, false },              /* LDT (TI) */
		{ EMUL_DS, 0x2b, false },                /* a host selector */
		{ EMUL_CS, FLAT_RING3_CS64, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("# sreg %u sel %#x\n", rows[i].sreg, rows[i].sel);
		assert_int_equal(emul_xen_flat_selector(rows[i].sreg, rows[i].sel),
				 rows[i].ok);
	}
}

/* Puts insn at CODE_PFN, points rip at it and runs the fault path. */
static bool fault(struct vcpu *v, unsigned vector, uint32_t ec, uint64_t cr2,
		  const uint8_t *insn, size_t len, struct vexit *ex)
{
	memset(ex, 0, sizeof(*ex));
	ex->kind = VEXIT_EXCEPTION;
	ex->vector = vector;
	ex->error_code = ec;
	ex->cr2 = cr2;
	v->regs.rip = testvm_put(v->vm, CODE_PFN, insn, len);
	return xen_emulate_fault(v, ex);
}

static void test_selector_loads(void **state)
{
	static const uint8_t mov_ds[] = { 0x8e, 0xd8 };        /* mov %eax,%ds */
	static const uint8_t mov_fs[] = { 0x8e, 0xe0 };        /* mov %eax,%fs */
	static const uint8_t mov_gs_mem[] = { 0x8e, 0x2f };    /* mov (%rdi),%gs */
	static const uint8_t mov_ss[] = { 0x8e, 0xd0 };        /* mov %eax,%ss */
	static const uint8_t pop_fs[] = { 0x0f, 0xa1 };
	static const uint8_t popw_gs[] = { 0x66, 0x0f, 0xa9 };
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	uint64_t sel = FLAT_RING3_DS32, rip, sp;
	uint16_t sel16 = FLAT_RING3_CS64;
	struct vexit ex;

	(void)state;
	/* mov %eax,%ds with 0xe02b: #GP(0xe028) on proc, emulated. */
	v->regs.rax = FLAT_RING3_DS32;
	assert_true(fault(v, 13, 0xe028, 0, mov_ds, sizeof(mov_ds), &ex));
	assert_int_equal(v->regs.rip, testvm_va(CODE_PFN, 2));
	assert_int_equal(v->xen.emulated, 1);

	/* %fs: base 0. */
	v->regs.fs_base = 0x123000;
	v->regs.rax = FLAT_KERNEL_DS32;
	assert_true(fault(v, 13, 0xe028, 0, mov_fs, sizeof(mov_fs), &ex));
	assert_int_equal(v->regs.fs_base, 0);

	/* mov (%rdi),%gs from memory: the active gs base goes to 0. */
	v->regs.gs_base = 0x456000;
	v->regs.rdi = testvm_put(vm, DATA_PFN, &sel16, sizeof(sel16));
	assert_true(fault(v, 13, 0xe030, 0, mov_gs_mem, sizeof(mov_gs_mem), &ex));
	assert_int_equal(v->regs.gs_base, 0);

	/* pop %fs: 8 bytes off the stack. */
	v->regs.fs_base = 0x123000;
	sp = testvm_put(vm, STACK_PFN, &sel, sizeof(sel));
	v->regs.rsp = sp;
	assert_true(fault(v, 13, 0xe028, 0, pop_fs, sizeof(pop_fs), &ex));
	assert_int_equal(v->regs.fs_base, 0);
	assert_int_equal(v->regs.rsp, sp + 8);
	assert_int_equal(v->regs.rip, testvm_va(CODE_PFN, 2));

	/* popw %gs: 2 bytes. */
	v->regs.rsp = sp;
	assert_true(fault(v, 13, 0xe028, 0, popw_gs, sizeof(popw_gs), &ex));
	assert_int_equal(v->regs.rsp, sp + 2);

	/* %ss with FLAT_KERNEL_SS: a no-op. */
	v->regs.rax = FLAT_KERNEL_SS;
	assert_true(fault(v, 13, 0xe028, 0, mov_ss, sizeof(mov_ss), &ex));

	/* Negative: Xen's ring-0 selector keeps its #GP(sel), unchanged. */
	v->regs.rax = 0xe008;
	v->regs.fs_base = 0x123000;
	assert_false(fault(v, 13, 0xe008, 0, mov_fs, sizeof(mov_fs), &ex));
	rip = testvm_va(CODE_PFN, 0);
	assert_int_equal(v->regs.rip, rip);
	assert_int_equal(ex.vector, 13);
	assert_int_equal(ex.error_code, 0xe008);
	assert_int_equal(v->regs.fs_base, 0x123000);
	/* Null %ss at CPL 3, code selector into %ss: #GP(0) / #GP(sel). */
	v->regs.rax = 0;
	assert_false(fault(v, 13, 0, 0, mov_ss, sizeof(mov_ss), &ex));
	v->regs.rax = FLAT_RING3_CS64;
	assert_false(fault(v, 13, 0xe030, 0, mov_ss, sizeof(mov_ss), &ex));
	/* A selector load on a #UD or a #PF is not this path. */
	v->regs.rax = FLAT_RING3_DS32;
	assert_false(fault(v, 6, 0, 0, mov_ds, sizeof(mov_ds), &ex));
	/* Unreadable memory operand: the #GP stays. */
	v->regs.rdi = 0x10;
	assert_false(fault(v, 13, 0xe030, 0, mov_gs_mem, sizeof(mov_gs_mem), &ex));
	testvm_free(vm);
}

/* ---- the M2P at MACH2PHYS_VIRT_START ---- */

static void test_m2p_reads(void **state)
{
	/* mov (%rdx,%rax,8),%rcx */
	static const uint8_t ld[] = { 0x48, 0x8b, 0x0c, 0xc2 };
	/* movl 4(%rdx,%rax,8),%ecx */
	static const uint8_t ld32[] = { 0x8b, 0x4c, 0xc2, 0x04 };
	/* movabs 0xffff800000000018,%rax */
	static const uint8_t mabs[] = { 0x48, 0xa1, 0x18, 0, 0, 0, 0, 0x80, 0xff, 0xff };
	/* movq $1,(%rdx) */
	static const uint8_t st[] = { 0x48, 0xc7, 0x02, 1, 0, 0, 0 };
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	const uint64_t base = MACH2PHYS_VIRT_START;
	uint64_t table_end = (vm->mem.nr_frames * 8 + 4095) & ~4095ull;
	struct vexit ex;
	uint64_t val;

	(void)state;
	v->regs.rdx = base;
	for (uint64_t mfn = 0; mfn < TESTVM_FRAMES; mfn += 97) {
		v->regs.rax = mfn;
		v->regs.rcx = 0xdead;
		/* proc reports user-mode kernel-address faults as P|U. */
		assert_true(fault(v, 14, 5, base + mfn * 8, ld, sizeof(ld), &ex));
		assert_int_equal(v->regs.rcx, mfn); /* identity M2P */
		assert_int_equal(v->regs.rip, testvm_va(CODE_PFN, sizeof(ld)));
	}
	/* MMU_MACHPHYS_UPDATE shows through. */
	assert_int_equal(pagetype_set_m2p(vm, 42, 0x1234567890ull), 0);
	v->regs.rax = 42;
	assert_true(fault(v, 14, 4, base + 42 * 8, ld, sizeof(ld), &ex));
	assert_int_equal(v->regs.rcx, 0x1234567890ull);
	v->regs.rcx = ~0ull;
	assert_true(fault(v, 14, 4, base + 42 * 8 + 4, ld32, sizeof(ld32), &ex));
	assert_int_equal(v->regs.rcx, 0x12);
	/* movabs with an absolute address. */
	assert_true(fault(v, 14, 4, base + 0x18, mabs, sizeof(mabs), &ex));
	assert_int_equal(v->regs.rax, 3);
	/* Xen-owned frames and frames past the last one: INVALID_M2P_ENTRY. */
	v->regs.rax = vm->mem.nr_frames;
	assert_true(fault(v, 14, 4, base + vm->mem.nr_frames * 8, ld, sizeof(ld), &ex));
	assert_int_equal(v->regs.rcx, ~0ull);
	assert_true(xen_m2p_read(vm, base + (TESTVM_FRAMES + 1) * 8, 8, &val));
	assert_int_equal(val, ~0ull);
	/* User mode reads it too (no m2p_strict). */
	v->xen.kernel_mode = false;
	v->regs.rax = 7;
	assert_true(fault(v, 14, 4, base + 7 * 8, ld, sizeof(ld), &ex));
	assert_int_equal(v->regs.rcx, 7);

	/* Negative rows: the guest gets Xen's fault. */
	/* m2p_strict: guest user mode sees no M2P (not present). */
	vm->xen.vm_assist |= 1ul << VMASST_TYPE_m2p_strict;
	assert_false(fault(v, 14, 5, base + 7 * 8, ld, sizeof(ld), &ex));
	assert_int_equal(ex.error_code & 1, 0);
	v->xen.kernel_mode = true;
	assert_true(fault(v, 14, 5, base + 7 * 8, ld, sizeof(ld), &ex));
	vm->xen.vm_assist = 0;
	/* Beyond the table: not present. */
	v->regs.rax = table_end / 8;
	assert_false(fault(v, 14, 5, base + table_end, ld, sizeof(ld), &ex));
	assert_int_equal(ex.vector, 14);
	assert_int_equal(ex.error_code & 1, 0);
	assert_int_equal(v->regs.rip, testvm_va(CODE_PFN, 0));
	/* A read straddling the end of the table. */
	assert_false(xen_m2p_read(vm, base + table_end - 4, 8, &val));
	/* A write: present, write (read-only mapping). */
	assert_false(fault(v, 14, 7, base, st, sizeof(st), &ex));
	assert_int_equal(ex.error_code & 3, 3);
	/* The decoded address must be the fault address. */
	v->regs.rax = 8;
	assert_false(fault(v, 14, 4, base + 9 * 8, ld, sizeof(ld), &ex));
	/* An instruction pvisor does not decode (rep movsq). */
	{
		static const uint8_t movs[] = { 0xf3, 0x48, 0xa5 };

		assert_false(fault(v, 14, 4, base, movs, sizeof(movs), &ex));
		assert_int_equal(ex.error_code & 1, 1);
	}
	testvm_free(vm);
}

/* ---- bounce frames and iret carry Xen's selectors ---- */

static void test_bounce_selectors(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct vexit ex = { .kind = VEXIT_EXCEPTION, .vector = 3 };
	uint64_t frame[7], sp;
	struct iret_context ctx;

	(void)state;
	v->xen.traps[3].address = testvm_va(CODE_PFN, 0x100);
	v->regs.rsp = testvm_va(STACK_PFN, 4096);
	v->regs.rip = testvm_va(CODE_PFN, 0x10);
	assert_int_equal(xen_bounce_exception(v, &ex), 0);
	sp = v->regs.rsp;
	assert_int_equal(gmem_read(&vm->mem, (STACK_PFN << 12) + (sp & 4095),
				   frame, sizeof(frame)), 0);
	/* rcx, r11, rip, cs, rflags, rsp, ss */
	assert_int_equal((uint16_t)frame[3], FLAT_KERNEL_CS & ~3);
	assert_int_equal(frame[6], FLAT_KERNEL_SS);
	assert_int_equal(v->regs.cs, FLAT_KERNEL_CS);
	assert_int_equal(v->regs.ss, FLAT_KERNEL_SS);

	/* iret with the frame's selectors (RPL 0 as the guest got them). */
	memset(&ctx, 0, sizeof(ctx));
	ctx.rip = testvm_va(CODE_PFN, 0x10);
	ctx.cs = FLAT_KERNEL_CS & ~3;
	ctx.rflags = RFLAGS_IF;
	ctx.rsp = testvm_va(STACK_PFN, 2048);
	ctx.ss = FLAT_KERNEL_SS;
	v->regs.rsp = testvm_put(vm, STACK_PFN, &ctx, sizeof(ctx));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_iret, 0, 0, 0), 0);
	assert_int_equal(v->regs.rip, ctx.rip);
	assert_int_equal(v->regs.cs, FLAT_RING3_CS64);
	assert_int_equal(v->regs.ss, FLAT_RING3_SS64);
	assert_true(v->xen.kernel_mode);
	testvm_free(vm);
}

/* ---- callback_op ---- */

static long cb_register(struct vcpu *v, unsigned type, uint64_t addr,
			unsigned flags)
{
	struct callback_register cb = { .type = (uint16_t)type,
					.flags = (uint16_t)flags,
					.address = addr };

	return testvm_hc(v, __HYPERVISOR_callback_op, CALLBACKOP_register,
			 testvm_put(v->vm, DATA_PFN, &cb, sizeof(cb)), 0);
}

static long cb_unregister(struct vcpu *v, unsigned type)
{
	struct callback_unregister cb = { .type = (uint16_t)type };

	return testvm_hc(v, __HYPERVISOR_callback_op, CALLBACKOP_unregister,
			 testvm_put(v->vm, DATA_PFN, &cb, sizeof(cb)), 0);
}

static void test_callbacks(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	const uint64_t a = 0xffffffff80001000ull, b = 0x401000;

	(void)state;
	assert_int_equal(cb_register(v, CALLBACKTYPE_syscall32, a, 0), 0);
	assert_int_equal(v->xen.syscall32_callback, a);
	assert_false(v->xen.syscall32_masks_events);
	assert_int_equal(cb_register(v, CALLBACKTYPE_sysenter, b,
				     CALLBACKF_mask_events), 0);
	assert_int_equal(v->xen.sysenter_callback, b);
	assert_true(v->xen.sysenter_masks_events);
	assert_int_equal(cb_register(v, CALLBACKTYPE_nmi, b, 0), 0);
	assert_int_equal(v->xen.traps[2].address, b);
	assert_int_equal(v->xen.traps[2].vector, 2);
	assert_int_equal(v->xen.traps[2].flags, 4); /* TI_SET_IF */
	assert_int_equal(v->xen.traps[2].cs, FLAT_KERNEL_CS);
	assert_int_equal(cb_register(v, CALLBACKTYPE_failsafe, b,
				     CALLBACKF_mask_events), 0);
	assert_true(v->xen.failsafe_masks_events);
	assert_int_equal(cb_register(v, CALLBACKTYPE_syscall, b, 0), 0);
	assert_false(v->xen.syscall_masks_events);

	/* Negative rows. */
	assert_int_equal(cb_register(v, CALLBACKTYPE_syscall32,
				     0x0000800000000000ull, 0), -XEN_EINVAL);
	assert_int_equal(v->xen.syscall32_callback, a);
	assert_int_equal(cb_register(v, CALLBACKTYPE_nmi, 0xffff000000000000ull, 0),
			 -XEN_EINVAL);
	assert_int_equal(cb_register(v, 42, b, 0), -XEN_ENOSYS);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_callback_op, CALLBACKOP_register,
				   0x10, 0), -XEN_EFAULT);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_callback_op, 5, 0, 0),
			 -XEN_ENOSYS);

	/* Unregister: only NMI. */
	assert_int_equal(cb_unregister(v, CALLBACKTYPE_nmi), 0);
	assert_int_equal(v->xen.traps[2].address, 0);
	assert_int_equal(cb_unregister(v, CALLBACKTYPE_event), -XEN_EINVAL);
	assert_int_equal(cb_unregister(v, CALLBACKTYPE_failsafe), -XEN_EINVAL);
	assert_int_equal(cb_unregister(v, CALLBACKTYPE_syscall), -XEN_EINVAL);
	assert_int_equal(cb_unregister(v, CALLBACKTYPE_syscall32), -XEN_EINVAL);
	assert_int_equal(cb_unregister(v, CALLBACKTYPE_sysenter), -XEN_EINVAL);
	assert_int_equal(v->xen.sysenter_callback, b);
	assert_int_equal(cb_unregister(v, 42), -XEN_ENOSYS);

	/* set_callbacks: flags 0, errors ignored, 0. */
	v->xen.syscall_masks_events = true;
	assert_int_equal(testvm_hc(v, __HYPERVISOR_set_callbacks, a,
				   0x0000800000000000ull, b), 0);
	assert_int_equal(v->xen.event_callback, a);
	assert_int_equal(v->xen.failsafe_callback, b); /* unchanged */
	assert_int_equal(v->xen.syscall_callback, b);
	assert_false(v->xen.syscall_masks_events);
	testvm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_effective_address),
		cmocka_unit_test(test_load_apply),
		cmocka_unit_test(test_flat_selector_rule),
		cmocka_unit_test(test_selector_loads),
		cmocka_unit_test(test_m2p_reads),
		cmocka_unit_test(test_bounce_selectors),
		cmocka_unit_test(test_callbacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
