/*
 * Xen ABI conformance, flat selectors (issue 14 item 3): a Xen-targeted
 * 64-bit PV kernel loads Xen's reserved selectors (FLAT_RING3_*,
 * FLAT_KERNEL_*, FLAT_USER_*: xen/arch-x86/xen-x86_64.h) into %ds, %es,
 * %fs, %gs and %ss, with mov from a register, mov from memory and pop.
 * Under Xen they are flat DPL-3 descriptors: every load succeeds, a flat
 * selector in %fs/%gs means base 0, and a selector Xen has no ring-3
 * descriptor for is a #GP with the selector as error code.  Also checks
 * that the CS/SS values in a bounce frame are Xen's.
 *
 * Prints "xenabi <name> median_ns=..." timing lines (docs/benchmarks.md):
 * an emulated selector load (native on kvm) beside the null hypercall.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/samples.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/traps.h>

#define N_TIMED 2000

static const struct {
	const char *name;
	uint16_t sel;
} flat[] = {
	{ "FLAT_RING3_DS64", FLAT_RING3_DS64 },
	{ "FLAT_RING3_DS32", FLAT_RING3_DS32 },
	{ "FLAT_RING3_SS64", FLAT_RING3_SS64 },
	{ "FLAT_RING3_CS64", FLAT_RING3_CS64 },
	{ "FLAT_RING3_CS32", FLAT_RING3_CS32 },
	{ "FLAT_KERNEL_DS", FLAT_KERNEL_DS },
	{ "FLAT_KERNEL_DS32", FLAT_KERNEL_DS32 },
	{ "FLAT_KERNEL_SS", FLAT_KERNEL_SS },
	{ "FLAT_KERNEL_CS", FLAT_KERNEL_CS },
	{ "FLAT_USER_DS32", FLAT_USER_DS32 },
	{ "FLAT_RING3_DS32 RPL0", FLAT_RING3_DS32 & ~3 },
};

static uint64_t marker[2] = { 0x5e1ec7015e1ec701ul, 0x5e1ec7025e1ec702ul };
static uint64_t fs_area[2] = { 0xf5f5f5f5ul, 0xf5f5f5f6ul };

extern char bad_sel_insn[], bad_sel_resume[];
static unsigned gp_hits;
static uint64_t gp_err, gp_rip;

static bool gp_fix(struct trap_frame *f, uint64_t cr2)
{
	gp_hits++;
	gp_err = f->error_code;
	gp_rip = f->rip;
	if (f->rip != (uint64_t)bad_sel_insn)
		return false;
	f->rip = (uint64_t)bad_sel_resume;
	return true;
}

static uint64_t bp_cs, bp_ss;
static unsigned bp_hits;

static bool bp_fix(struct trap_frame *f, uint64_t cr2)
{
	bp_hits++;
	bp_cs = f->cs;
	bp_ss = f->ss;
	return true;
}

static long set_base(unsigned which, const void *base)
{
	return HC(__HYPERVISOR_set_segment_base, which, base, 0, 0, 0);
}

static uint64_t fs_read(const uint64_t *p)
{
	uint64_t v;

	asm volatile("mov %%fs:(%1), %0" : "=r"(v) : "r"(p) : "memory");
	return v;
}

static uint64_t gs_read(const uint64_t *p)
{
	uint64_t v;

	asm volatile("mov %%gs:(%1), %0" : "=r"(v) : "r"(p) : "memory");
	return v;
}

/* Loads sel into each data segment register three ways; afterwards the
 * fs and gs bases must be 0 (flat descriptors) or untouched (null). */
static void load_all(const char *name, uint16_t sel)
{
	uint16_t mem = sel;
	uint64_t stk = sel;
	char what[96];
	bool null = (sel & ~3) == 0;

	/* mov %reg, %Sreg */
	asm volatile("mov %0, %%ds\n\tmov %0, %%es" :: "r"((uint32_t)sel) : "memory");
	snprintf(what, sizeof(what), "mov_reg_ds_es %s", name);
	check(true, what, "%s", "");

	set_base(SEGBASE_FS, fs_area);
	asm volatile("mov %0, %%fs" :: "r"((uint32_t)sel) : "memory");
	snprintf(what, sizeof(what), "mov_reg_fs %s", name);
	if (null)
		check(true, what, "%s", "");
	else
		check(fs_read(marker) == marker[0], what,
		      "%%fs:marker = %#lx: base not 0", fs_read(marker));

	set_base(SEGBASE_GS_KERNEL, fs_area);
	asm volatile("mov %0, %%gs" :: "r"((uint32_t)sel) : "memory");
	snprintf(what, sizeof(what), "mov_reg_gs %s", name);
	if (null)
		check(true, what, "%s", "");
	else
		check(gs_read(marker) == marker[0], what,
		      "%%gs:marker = %#lx: base not 0", gs_read(marker));

	/* mov m16, %Sreg */
	set_base(SEGBASE_FS, fs_area);
	set_base(SEGBASE_GS_KERNEL, fs_area);
	asm volatile("mov %0, %%ds\n\t"
		     "mov %0, %%es\n\t"
		     "mov %0, %%fs\n\t"
		     "mov %0, %%gs" :: "m"(mem) : "memory");
	snprintf(what, sizeof(what), "mov_mem_all %s", name);
	check(null || (fs_read(&marker[1]) == marker[1] &&
		       gs_read(&marker[1]) == marker[1]), what,
	      "bases not 0 after the loads");

	/* pop %fs, pop %gs (pop %ds/%es do not exist in 64-bit mode) */
	set_base(SEGBASE_FS, fs_area);
	set_base(SEGBASE_GS_KERNEL, fs_area);
	asm volatile("pushq %0\n\tpopq %%fs\n\t"
		     "pushq %0\n\tpopq %%gs" :: "r"(stk) : "memory");
	snprintf(what, sizeof(what), "pop_fs_gs %s", name);
	check(null || (fs_read(marker) == marker[0] &&
		       gs_read(marker) == marker[0]), what,
	      "bases not 0 after pop");
	set_base(SEGBASE_FS, NULL);
	set_base(SEGBASE_GS_KERNEL, NULL);
}

static void test_ss(void)
{
	uint16_t mem = FLAT_KERNEL_SS;

	asm volatile("mov %0, %%ss" :: "r"((uint32_t)FLAT_KERNEL_SS) : "memory");
	check(true, "mov_reg_ss FLAT_KERNEL_SS", "%s", "");
	asm volatile("mov %0, %%ss" :: "r"((uint32_t)FLAT_RING3_SS32) : "memory");
	check(true, "mov_reg_ss FLAT_RING3_SS32", "%s", "");
	asm volatile("mov %0, %%ss" :: "m"(mem) : "memory");
	check(true, "mov_mem_ss FLAT_KERNEL_SS", "%s", "");
}

/* Xen has no ring-3 descriptor for 0xe008 (its own ring-0 code): #GP with
 * the selector as error code, as on hardware, bounced to the guest. */
static void test_bad_selector(void)
{
	trap_set_hook(13, gp_fix);
	asm volatile("movl $0xe008, %%eax\n"
		     "bad_sel_insn: mov %%eax, %%ds\n"
		     "bad_sel_resume:" ::: "rax", "memory");
	trap_set_hook(13, NULL);
	check(gp_hits == 1 && gp_err == 0xe008, "bad_selector_gp",
	      "hits %u error %#lx rip %#lx", gp_hits, (unsigned long)gp_err,
	      (unsigned long)gp_rip);
}

/* The frame of an exception taken in guest kernel mode: Xen's flat
 * CS with RPL cleared ("kernel context") and its flat SS. */
static void test_bounce_frame(void)
{
	trap_set_hook(3, bp_fix);
	asm volatile("int3" ::: "memory");
	trap_set_hook(3, NULL);
	check(bp_hits == 1 && (uint16_t)bp_cs == (FLAT_KERNEL_CS & ~3),
	      "bounce_frame_cs", "cs %#lx want %#x", (unsigned long)bp_cs,
	      FLAT_KERNEL_CS & ~3);
	check(bp_hits == 1 && (uint16_t)bp_ss == FLAT_KERNEL_SS,
	      "bounce_frame_ss", "ss %#lx want %#x", (unsigned long)bp_ss,
	      FLAT_KERNEL_SS);
}

static void report(const char *name, uint64_t *s, unsigned n)
{
	samples_report("xenabi", name, s, n, "");
}

static uint64_t samples[N_TIMED];

static void timing(void)
{
	for (unsigned i = 0; i < N_TIMED; i++) {
		uint64_t t0 = monotonic_ns();

		HYPERVISOR_xen_version(XENVER_version, NULL);
		samples[i] = monotonic_ns() - t0;
	}
	report("null_hypercall", samples, N_TIMED);
	for (unsigned i = 0; i < N_TIMED; i++) {
		uint64_t t0 = monotonic_ns();

		asm volatile("mov %0, %%ds" :: "r"((uint32_t)FLAT_KERNEL_DS32)
			     : "memory");
		samples[i] = monotonic_ns() - t0;
	}
	report("selector_load_ds", samples, N_TIMED);
	for (unsigned i = 0; i < N_TIMED; i++) {
		uint64_t t0 = monotonic_ns();

		asm volatile("mov %0, %%fs" :: "r"((uint32_t)FLAT_RING3_DS32)
			     : "memory");
		samples[i] = monotonic_ns() - t0;
	}
	report("selector_load_fs", samples, N_TIMED);
}

int app_main(const char *cmdline)
{
	printf("t_xenabi_selectors on %s\n", kit_backend());
	for (unsigned i = 0; i < ARRAY_SIZE(flat); i++)
		load_all(flat[i].name, flat[i].sel);
	test_ss();
	test_bad_selector();
	test_bounce_frame();
	timing();
	/* Leave the guest's data segments as a Xen guest would. */
	asm volatile("mov %0, %%ds\n\tmov %0, %%es" :: "r"(0) : "memory");
	test_finish();
}
