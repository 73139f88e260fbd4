/*
 * Writable page tables: a guest-kernel store that faults on its own
 * read-only mapped L1 is decoded, validated like an mmu_update and applied
 * (xen_emulate_fault on #PF).  Rows: the stores Linux makes (mov, xchg,
 * cmpxchg, andb, btr), and the ones that must not be applied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/vm.h"
#include "xen/emulate.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

#include "pt_fixture.h"

#define VA(mfn) (0x400000ull + (uint64_t)(mfn) * 4096ull)
#define CODE 10

struct ptwr_case {
	const char *name;
	uint8_t insn[8];
	unsigned len;
	unsigned slot;      /* L1F entry written (rdi points at it) */
	unsigned off;       /* byte offset in the entry */
	uint64_t rax, rcx;
	bool user;          /* guest user mode */
	uint32_t error;     /* #PF error code */
	bool emulated;
	uint64_t entry;     /* the entry afterwards */
	uint64_t rax_after;
};

static const struct ptwr_case cases[] = {
	{ "mov new entry", { 0x48, 0x89, 0x07 }, 3, 40, 0, ent(20, P | RW | U), 0,
	  false, 7, true, ent(20, P | RW | U), ent(20, P | RW | U) },
	{ "xchg clears (ptep_get_and_clear)", { 0x48, 0x87, 0x07 }, 3, 41, 0, 0, 0,
	  false, 7, true, 0, ent(41, P | RW | U) },
	{ "lock cmpxchg", { 0xf0, 0x48, 0x0f, 0xb1, 0x0f }, 5, 42, 0,
	  ent(42, P | RW | U), ent(42, P | U), false, 7, true, ent(42, P | U),
	  ent(42, P | RW | U) },
	{ "andb $~RW (ptep_set_wrprotect)", { 0x80, 0x27, 0xfd }, 3, 43, 0, 0, 0,
	  false, 7, true, ent(43, P | U), 0 },
	{ "lock btr $RW", { 0xf0, 0x48, 0x0f, 0xba, 0x37, 0x01 }, 6, 44, 0, 0, 0,
	  false, 7, true, ent(44, P | U), 0 },
	/* Negative rows: the entry must be unchanged and the #PF the guest's. */
	{ "maps a page table writable", { 0x48, 0x89, 0x07 }, 3, 45, 0,
	  ent(L2F, P | RW | U), 0, false, 7, false, ent(45, P | RW | U), 0 },
	{ "maps a Xen frame", { 0x48, 0x89, 0x07 }, 3, 46, 0,
	  ent(XEN_PRIVATE, P | U), 0, false, 7, false, ent(46, P | RW | U), 0 },
	{ "from guest user mode", { 0x48, 0x89, 0x07 }, 3, 47, 0,
	  ent(20, P | RW | U), 0, true, 7, false, ent(47, P | RW | U), 0 },
	{ "read fault", { 0x48, 0x89, 0x07 }, 3, 48, 0, ent(20, P | RW | U), 0,
	  false, 5, false, ent(48, P | RW | U), 0 },
	{ "not a store", { 0x48, 0x8b, 0x07 }, 3, 49, 0, 0, 0, false, 7, false,
	  ent(49, P | RW | U), 0 },
	{ "misaligned qword", { 0x48, 0x89, 0x07 }, 3, 50, 4, 0, 0, false, 7,
	  false, ent(50, P | RW | U), 0 },
};

static void test_ptwr_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ptwr_case *c = &cases[i];
		struct vexit ex;
		uint64_t cr2 = VA(L1F) + c->slot * 8 + c->off;

		print_message("# %s\n", c->name);
		teardown(NULL);
		setup(state);
		boot();
		F->v.xen.kernel_mode = !c->user;
		memcpy((uint8_t *)frame(CODE), c->insn, c->len);
		memset(&F->v.regs, 0, sizeof(F->v.regs));
		F->v.regs.rip = VA(CODE);
		F->v.regs.rdi = cr2;
		F->v.regs.rax = c->rax;
		F->v.regs.rcx = c->rcx;
		memset(&ex, 0, sizeof(ex));
		ex.kind = VEXIT_EXCEPTION;
		ex.vector = 14;
		ex.error_code = c->error;
		ex.cr2 = cr2;
		assert_int_equal(xen_emulate_fault(&F->v, &ex), c->emulated);
		assert_int_equal(frame(L1F)[c->slot], c->entry);
		if (c->emulated) {
			assert_int_equal(F->v.regs.rip, VA(CODE) + c->len);
			assert_int_equal(F->v.regs.rax, c->rax_after);
		} else {
			assert_int_equal(F->v.regs.rip, VA(CODE));
			assert_int_equal(ex.vector, 14);
		}
		assert_consistent();
	}
	assert_all_released();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ptwr_table, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
