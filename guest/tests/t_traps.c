/*
 * Exceptions bounced to the kit's handlers and resumed: #PF (fixed by
 * mapping the page, and skipped), #UD (ud2), #DE, int3; and a timer that
 * fires on time.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/traps.h>

#define MARKER 0x7e57da7a7e57da7aul

/* Resume labels, defined in the asm statements below. */
extern char ud2_insn[], ud2_resume[], de_resume[], pf_skip_resume[];

static void *pf_page;          /* unmapped until the fixup maps it */
static unsigned long pf_mfn;   /* frame the fixup maps there */
static uint64_t pf_cr2, pf_err;
static unsigned pf_hits, ud_hits, de_hits, bp_hits;
static uint64_t ud_rip;

static bool pf_fix(struct trap_frame *f, uint64_t cr2)
{
	pf_hits++;
	pf_cr2 = cr2;
	pf_err = f->error_code;
	if ((cr2 & PAGE_MASK) == (unsigned long)pf_page) {
		/* Map the page and retry the instruction. */
		return HYPERVISOR_update_va_mapping(
			       (unsigned long)pf_page,
			       (pf_mfn << PAGE_SHIFT) | L1_PROT,
			       UVMF_INVLPG) == 0;
	}
	if (cr2 == 0x10) { /* the deliberate NULL-ish read: skip it */
		f->rip = (uint64_t)pf_skip_resume;
		return true;
	}
	return false;
}

static bool ud_fix(struct trap_frame *f, uint64_t cr2)
{
	ud_hits++;
	ud_rip = f->rip;
	if (f->rip != (uint64_t)ud2_insn)
		return false;
	f->rip = (uint64_t)ud2_resume;
	return true;
}

static bool de_fix(struct trap_frame *f, uint64_t cr2)
{
	de_hits++;
	f->rip = (uint64_t)de_resume;
	return true;
}

static bool bp_fix(struct trap_frame *f, uint64_t cr2)
{
	bp_hits++;
	return true; /* int3 is a trap: rip is already past it */
}

static void test_pf(void)
{
	volatile uint64_t *p;
	uint64_t *backing = alloc_page();
	uint64_t v;

	pf_page = alloc_page();
	backing[0] = MARKER;
	pf_mfn = virt_to_mfn(backing);
	check_rc(HYPERVISOR_update_va_mapping((unsigned long)pf_page, 0,
					      UVMF_INVLPG),
		 0, "pf_unmap_page");
	trap_set_hook(14, pf_fix);

	p = pf_page;
	v = p[0]; /* faults, fixup maps `backing` there, retried */
	check(v == MARKER, "pf_fixup_maps_page", "read %#lx", v);
	check(pf_hits == 1, "pf_handler_once", "%u faults", pf_hits);
	check(pf_cr2 == (unsigned long)pf_page, "pf_cr2", "cr2 %#lx want %p",
	      pf_cr2, pf_page);
	check((pf_err & 3) == 0, "pf_error_code_not_present_read",
	      "error code %#lx", pf_err);

	/* A read of an unmapped low address, skipped by the fixup. */
	pf_hits = 0;
	asm volatile("movq $0, %%rax\n\t"
		     "movq 0x10(%%rax), %%rax\n"
		     "pf_skip_resume:"
		     ::: "rax", "memory");
	check(pf_hits == 1 && pf_cr2 == 0x10, "pf_skip_instruction",
	      "hits %u cr2 %#lx", pf_hits, pf_cr2);

	trap_set_hook(14, NULL);
	HYPERVISOR_update_va_mapping((unsigned long)pf_page,
				     (virt_to_mfn(pf_page) << PAGE_SHIFT) |
					     L1_PROT, UVMF_INVLPG);
	free_page(pf_page);
	free_page(backing);
}

static void test_ud(void)
{
	trap_set_hook(6, ud_fix);
	asm volatile("ud2_insn: ud2\n"
		     "ud2_resume:" ::: "memory");
	check(ud_hits == 1, "ud2_bounced_and_resumed", "hits %u rip %#lx",
	      ud_hits, ud_rip);
	trap_set_hook(6, NULL);
}

static void test_de(void)
{
	unsigned long q = 0;

	trap_set_hook(0, de_fix);
	asm volatile("xorl %%edx, %%edx\n\t"
		     "movl $1, %%eax\n\t"
		     "xorl %%ecx, %%ecx\n\t"
		     "divl %%ecx\n\t"
		     "movq %%rax, %0\n"
		     "de_resume:"
		     : "+r"(q)::"rax", "rcx", "rdx", "memory");
	check(de_hits == 1 && q == 0, "divide_error_bounced_and_resumed",
	      "hits %u", de_hits);
	trap_set_hook(0, NULL);
}

static void test_bp(void)
{
	trap_set_hook(3, bp_fix);
	asm volatile("int3" ::: "memory");
	asm volatile("int3" ::: "memory");
	check(bp_hits == 2, "int3_bounced_and_resumed", "hits %u", bp_hits);
	trap_set_hook(3, NULL);
}

static void test_timer(void)
{
	uint64_t t0 = monotonic_ns(), dt;

	sleep_ms(10);
	dt = monotonic_ns() - t0;
	check(dt >= 2000000 && dt <= 200000000, "timer_sleep_10ms",
	      "slept %lu us", dt / 1000);
}

int app_main(const char *cmdline)
{
	printf("t_traps on %s\n", kit_backend());
	test_pf();
	test_ud();
	test_de();
	test_bp();
	test_timer();
	test_finish();
}
