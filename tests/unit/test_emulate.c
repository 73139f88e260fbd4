/*
 * Privileged-operation emulation: the instruction decoder (table of
 * encodings, truncated and unsupported ones), the page-table store
 * semantics (mov/xchg/cmpxchg/and/or/bts/btr at every width), the PV CPUID
 * policy and descriptor validation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/regs.h"
#include "xen/cpuid.h"
#include "xen/descriptor.h"
#include "xen/emulate.h"

struct dec_case {
	const char *name;
	uint8_t bytes[16];
	unsigned n;
	int rc;
	enum emul_op op;
	unsigned len, opsize, reg, rm;
	bool mem;
};

static const struct dec_case dec_cases[] = {
	{ "wrmsr", { 0x0f, 0x30 }, 2, 0, EOP_WRMSR, 2, 4, 0, 0, false },
	{ "rdmsr", { 0x0f, 0x32 }, 2, 0, EOP_RDMSR, 2, 4, 0, 0, false },
	{ "rdtsc", { 0x0f, 0x31 }, 2, 0, EOP_RDTSC, 2, 4, 0, 0, false },
	{ "rdtscp", { 0x0f, 0x01, 0xf9 }, 3, 0, EOP_RDTSCP, 3, 4, 0, 0, false },
	{ "rdpmc", { 0x0f, 0x33 }, 2, 0, EOP_RDPMC, 2, 4, 0, 0, false },
	{ "cpuid", { 0x0f, 0xa2 }, 2, 0, EOP_CPUID, 2, 4, 0, 0, false },
	{ "xen cpuid", { 0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2 }, 7, 0,
	  EOP_XEN_CPUID, 7, 0, 0, 0, false },
	{ "wbinvd", { 0x0f, 0x09 }, 2, 0, EOP_WBINVD, 2, 4, 0, 0, false },
	{ "clts", { 0x0f, 0x06 }, 2, 0, EOP_CLTS, 2, 4, 0, 0, false },
	{ "mov %cr4,%rax", { 0x0f, 0x20, 0xe0 }, 3, 0, EOP_MOV_FROM_CR, 3, 8, 4, 0, false },
	{ "mov %r9,%cr3", { 0x41, 0x0f, 0x22, 0xd9 }, 4, 0, EOP_MOV_TO_CR, 4, 8, 3, 9, false },
	{ "mov %db7,%rdx", { 0x0f, 0x21, 0xfa }, 3, 0, EOP_MOV_FROM_DR, 3, 8, 7, 2, false },
	{ "in $0x61,%al", { 0xe4, 0x61 }, 2, 0, EOP_IN, 2, 1, 0, 0, false },
	{ "out %eax,(%dx)", { 0xef }, 1, 0, EOP_OUT, 1, 4, 0, 0, false },
	{ "out %ax,(%dx)", { 0x66, 0xef }, 2, 0, EOP_OUT, 2, 2, 0, 0, false },
	{ "cli", { 0xfa }, 1, 0, EOP_CLI_STI, 1, 4, 0, 0, false },
	{ "hlt", { 0xf4 }, 1, 0, EOP_OTHER_PRIV, 1, 4, 0, 0, false },
	{ "rep insb", { 0xf3, 0x6c }, 2, 0, EOP_STR_IO, 2, 4, 0, 0, false },
	{ "mov %rax,(%rdi)", { 0x48, 0x89, 0x07 }, 3, 0, EOP_MOV_STORE, 3, 8, 0, 7, true },
	{ "mov %r8,0x10(%rsp,%rbx,8)", { 0x4c, 0x89, 0x44, 0xdc, 0x10 }, 5, 0,
	  EOP_MOV_STORE, 5, 8, 8, 4, true },
	{ "mov %eax,disp32(%rip)", { 0x89, 0x05, 1, 2, 3, 4 }, 6, 0,
	  EOP_MOV_STORE, 6, 4, 0, 5, true },
	{ "movq $imm32,(%rdi)", { 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff }, 7, 0,
	  EOP_MOV_STORE, 7, 8, 0, 7, true },
	{ "xchg %rax,(%rdx)", { 0x48, 0x87, 0x02 }, 3, 0, EOP_XCHG, 3, 8, 0, 2, true },
	{ "lock cmpxchg %rcx,(%rdx)", { 0xf0, 0x48, 0x0f, 0xb1, 0x0a }, 5, 0,
	  EOP_CMPXCHG, 5, 8, 1, 2, true },
	{ "ds andb $0xfd,(%r15)", { 0x3e, 0x41, 0x80, 0x27, 0xfd }, 5, 0,
	  EOP_AND, 5, 1, 4, 15, true },
	{ "lock btr $1,(%rdi)", { 0xf0, 0x48, 0x0f, 0xba, 0x37, 0x01 }, 6, 0,
	  EOP_BTR, 6, 8, 6, 7, true },
	{ "lock bts %rax,(%rdi)", { 0xf0, 0x48, 0x0f, 0xab, 0x07 }, 5, 0,
	  EOP_BTS, 5, 8, 0, 7, true },
	{ "orq $imm8,(%rax)", { 0x48, 0x83, 0x08, 0x20 }, 4, 0, EOP_OR, 4, 8, 1, 0, true },
	/* Negative rows. */
	{ "nop", { 0x90 }, 1, -EINVAL, EOP_NONE, 0, 0, 0, 0, false },
	{ "bt (no store)", { 0x0f, 0xa3, 0x07 }, 3, -EINVAL, EOP_NONE, 0, 0, 0, 0, false },
	{ "add to memory", { 0x48, 0x01, 0x07 }, 3, -EINVAL, EOP_NONE, 0, 0, 0, 0, false },
	{ "c7 /1", { 0xc7, 0x0f, 0, 0, 0, 0 }, 6, -EINVAL, EOP_NONE, 0, 0, 0, 0, false },
	{ "truncated 0f", { 0x0f }, 1, -ENODATA, EOP_NONE, 0, 0, 0, 0, false },
	{ "truncated modrm", { 0x48, 0x89 }, 2, -ENODATA, EOP_NONE, 0, 0, 0, 0, false },
	{ "truncated disp32", { 0x89, 0x05, 1, 2 }, 4, -ENODATA, EOP_NONE, 0, 0, 0, 0, false },
	{ "truncated imm", { 0x48, 0xc7, 0x07, 0xff }, 4, -ENODATA, EOP_NONE, 0, 0, 0, 0, false },
	{ "only prefixes", { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
			     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66 }, 15,
	  -EINVAL, EOP_NONE, 0, 0, 0, 0, false },
	{ "empty", { 0 }, 0, -ENODATA, EOP_NONE, 0, 0, 0, 0, false },
};

static void test_decode_table(void **state)
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
		if (c->op != EOP_XEN_CPUID)
			assert_int_equal(in.opsize, c->opsize);
		if (c->mem || c->op == EOP_MOV_FROM_CR || c->op == EOP_MOV_TO_CR ||
		    c->op == EOP_MOV_FROM_DR) {
			assert_int_equal(in.reg, c->reg);
			assert_int_equal(in.rm, c->rm);
		}
		assert_int_equal(in.mem, c->mem);
	}
}

/* Any prefix of a valid encoding is -ENODATA, never a wrong decode. */
static void test_decode_prefixes_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dec_cases) / sizeof(dec_cases[0]); i++) {
		const struct dec_case *c = &dec_cases[i];
		struct emul_insn in;

		/* ud2 alone is not emulated: a cut "ud2; xen" is -EINVAL. */
		if (c->rc || c->op == EOP_XEN_CPUID)
			continue;
		print_message("# %s\n", c->name);
		for (unsigned n = 0; n < c->len; n++)
			assert_int_equal(emul_decode(c->bytes, n, &in), -ENODATA);
	}
}

struct store_case {
	const char *name;
	uint8_t bytes[8];
	unsigned n;
	unsigned addr_low;
	uint64_t old, rax, rcx;
	int rc;
	uint64_t new, rax_after;
};

static const struct store_case store_cases[] = {
	{ "mov rax", { 0x48, 0x89, 0x07 }, 3, 0, 0x1111, 0xabc067, 0, 0, 0xabc067, 0xabc067 },
	{ "mov eax high half", { 0x89, 0x07 }, 2, 4, 0x00000000deadbeefull, 0x80000000, 0, 0,
	  0x80000000deadbeefull, 0x80000000 },
	{ "xchg clears", { 0x48, 0x87, 0x07 }, 3, 0, 0x5067, 0, 0, 0, 0, 0x5067 },
	{ "cmpxchg hit", { 0xf0, 0x48, 0x0f, 0xb1, 0x0f }, 5, 0, 0x5067, 0x5067, 0x6067, 0,
	  0x6067, 0x5067 },
	{ "cmpxchg miss", { 0xf0, 0x48, 0x0f, 0xb1, 0x0f }, 5, 0, 0x5067, 0x1, 0x6067, 1,
	  0, 0x5067 },
	{ "andb clears RW", { 0x80, 0x27, 0xfd }, 3, 0, 0x8000000000005067ull, 0, 0, 0,
	  0x8000000000005065ull, 0 },
	{ "andb byte 7", { 0x80, 0x27, 0x7f }, 3, 7, 0x8000000000005067ull, 0, 0, 0,
	  0x5067, 0 },
	{ "btr imm RW", { 0x48, 0x0f, 0xba, 0x37, 0x01 }, 5, 0, 0x5067, 0, 0, 0, 0x5065, 0 },
	{ "bts reg", { 0x48, 0x0f, 0xab, 0x0f }, 4, 0, 0x5065, 0, 1, 0, 0x5067, 0 },
	{ "or imm8", { 0x48, 0x83, 0x0f, 0x20 }, 4, 0, 0x5047, 0, 0, 0, 0x5067, 0 },
	{ "movq imm sign-extends", { 0x48, 0xc7, 0x07, 0, 0, 0, 0x80 }, 7, 0, 0, 0, 0, 0,
	  0xffffffff80000000ull, 0 },
	/* Negative rows. */
	{ "misaligned qword", { 0x48, 0x89, 0x07 }, 3, 4, 0, 0, 0, -EINVAL, 0, 0 },
	{ "misaligned dword", { 0x89, 0x07 }, 2, 2, 0, 0, 0, -EINVAL, 0, 0 },
	{ "bts reg beyond entry", { 0x48, 0x0f, 0xab, 0x0f }, 4, 0, 0, 0, 64, -EINVAL, 0, 0 },
	/* Byte registers 4-7: ah..bh without REX, spl..dil with it. */
	{ "byte store from ah", { 0x88, 0x27 }, 2, 1, 0x5067, 0xab12, 0, 0, 0xab67, 0xab12 },
	{ "byte store from ch", { 0x88, 0x2f }, 2, 0, 0x5067, 0, 0xcd34, 0, 0x50cd, 0 },
	{ "xchg with ah", { 0x86, 0x27 }, 2, 0, 0x5067, 0xab12, 0, 0, 0x50ab, 0x6712 },
	{ "byte store from dil (REX)", { 0x40, 0x88, 0x3f }, 3, 0, 0x50ff, 0, 0, 0, 0x5000, 0 },
	{ "byte store from spl (REX)", { 0x40, 0x88, 0x27 }, 3, 0, 0x5067, 0xab12, 0, 0, 0x5000, 0xab12 },
};

static void test_store_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(store_cases) / sizeof(store_cases[0]); i++) {
		const struct store_case *c = &store_cases[i];
		struct emul_insn in;
		struct regs r;
		uint64_t new = 0;
		int rc;

		print_message("# %s\n", c->name);
		memset(&r, 0, sizeof(r));
		r.rax = c->rax;
		r.rcx = c->rcx;
		r.rdi = 0x1000;
		assert_int_equal(emul_decode(c->bytes, c->n, &in), 0);
		rc = emul_store_value(&in, &r, c->addr_low, c->old, &new);
		assert_int_equal(rc, c->rc);
		if (rc == 0)
			assert_int_equal(new, c->new);
		if (rc >= 0)
			assert_int_equal(r.rax, c->rax_after);
	}
}

static void test_store_flags(void **state)
{
	static const uint8_t btr[] = { 0x48, 0x0f, 0xba, 0x37, 0x01 };
	static const uint8_t cmpx[] = { 0x48, 0x0f, 0xb1, 0x0f };
	struct emul_insn in;
	struct regs r;
	uint64_t new;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(emul_decode(btr, sizeof(btr), &in), 0);
	assert_int_equal(emul_store_value(&in, &r, 0, 0x2, &new), 0);
	assert_true(r.rflags & 1); /* CF = the old bit */
	assert_int_equal(emul_store_value(&in, &r, 0, 0x0, &new), 0);
	assert_false(r.rflags & 1);
	assert_int_equal(emul_decode(cmpx, sizeof(cmpx), &in), 0);
	r.rax = 5;
	assert_int_equal(emul_store_value(&in, &r, 0, 5, &new), 0);
	assert_true(r.rflags & (1u << 6)); /* ZF on success */
	assert_int_equal(emul_store_value(&in, &r, 0, 6, &new), 1);
	assert_false(r.rflags & (1u << 6));
}

static void test_cpuid_policy(void **state)
{
	uint32_t r[4];

	(void)state;
	cpuid_pv_policy(XEN_CPUID_BASE, 0, 0, r);
	assert_int_equal(r[0], XEN_CPUID_BASE + 2);
	assert_memory_equal(&r[1], "XenVMMXenVMM", 12);
	cpuid_pv_policy(XEN_CPUID_BASE + 1, 0, 0, r);
	assert_int_equal(r[0], (4u << 16) | 14);
	cpuid_pv_policy(XEN_CPUID_BASE + 2, 0, 0, r);
	assert_int_equal(r[0], 1);
	assert_int_equal(r[1], XEN_CPUID_MSR_HYPERCALL);
	cpuid_pv_policy(XEN_CPUID_BASE + 0x100, 0, 0, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);

	/* Leaf 1: VMX MONITOR x2APIC PCID XSAVE OSXSAVE hidden, hypervisor
	 * bit set, CX16 and SSE kept; PSE MTRR MCE hidden; APIC ID = vCPU. */
	r[0] = 0; r[1] = 0xff000000; r[2] = 0xffffffff; r[3] = 0xffffffff;
	cpuid_pv_policy(1, 0, 3, r);
	assert_int_equal(r[1] >> 24, 3);
	assert_false(r[2] & (1u << 5));
	assert_false(r[2] & (1u << 3));
	assert_false(r[2] & (1u << 21));
	assert_false(r[2] & (1u << 17));
	assert_false(r[2] & (1u << 26));
	assert_false(r[2] & (1u << 27));
	assert_true(r[2] & (1u << 31));
	assert_true(r[2] & (1u << 13));
	assert_false(r[3] & (1u << 3));
	assert_false(r[3] & (1u << 12));
	assert_false(r[3] & (1u << 7));
	assert_true(r[3] & (1u << 25));
	/* Leaf 7: SMEP SMAP FSGSBASE INVPCID hidden, BMI kept. */
	r[0] = 0; r[1] = r[2] = r[3] = 0xffffffff;
	cpuid_pv_policy(7, 0, 0, r);
	assert_false(r[1] & (1u << 7));
	assert_false(r[1] & (1u << 20));
	assert_false(r[1] & (1u << 0));
	assert_false(r[1] & (1u << 10));
	assert_true(r[1] & (1u << 3));
	/* XSAVE leaf and SVM hidden, 1 GiB pages hidden. */
	r[0] = r[1] = r[2] = r[3] = 0xffffffff;
	cpuid_pv_policy(0xd, 0, 0, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	r[0] = r[1] = r[2] = r[3] = 0xffffffff;
	cpuid_pv_policy(0x80000001, 0, 0, r);
	assert_false(r[2] & (1u << 2));
	assert_false(r[3] & (1u << 26));
	assert_true(r[3] & (1u << 29)); /* long mode */
}

struct desc_case {
	const char *name;
	uint64_t in;
	bool ok;
	uint64_t out;
};

static const struct desc_case desc_cases[] = {
	{ "null", 0, true, 0 },
	{ "not present anything", 0x0000090000000000ull, true, 0x0000090000000000ull },
	{ "user code 64", 0x00affb000000ffffull, true, 0x00affb000000ffffull },
	{ "kernel code gets DPL3", 0x00af9b000000ffffull, true, 0x00affb000000ffffull },
	{ "kernel data gets DPL3", 0x00cf93000000ffffull, true, 0x00cff3000000ffffull },
	{ "TLS data", 0x00cff3001000ffffull, true, 0x00cff3001000ffffull },
	{ "TSS refused", 0x00008b000000ffffull, false, 0 },
	{ "LDT refused", 0x000082000000ffffull, false, 0 },
	{ "call gate refused", 0x0000ec000000ffffull, false, 0 },
	{ "interrupt gate refused", 0x00008e000000ffffull, false, 0 },
};

static void test_descriptors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(desc_cases) / sizeof(desc_cases[0]); i++) {
		const struct desc_case *c = &desc_cases[i];
		uint64_t out = 0;

		print_message("# %s\n", c->name);
		assert_int_equal(desc_check(c->in, &out), c->ok);
		if (c->ok)
			assert_int_equal(out, c->out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_prefixes_truncated),
		cmocka_unit_test(test_store_values),
		cmocka_unit_test(test_store_flags),
		cmocka_unit_test(test_cpuid_policy),
		cmocka_unit_test(test_descriptors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
