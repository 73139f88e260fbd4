/*
 * Xen ABI conformance, the M2P (issue 14 item 4): a Xen-targeted guest
 * reads machine_to_phys_mapping at MACH2PHYS_VIRT_START (Mini-OS's
 * constant) without asking XENMEM_machphys_mapping.  Reads it there with
 * the load forms compilers emit and compares with the start_info mfn
 * list (the P2M); reads past the last machine frame (INVALID_M2P_ENTRY
 * within the table, a page fault beyond it); a write (a page fault: the
 * table is read-only); and, where XENMEM_machphys_mapping reports another
 * address (kvm), the same entries there.
 *
 * Prints "xenabi <name> median_ns=..." timing lines (docs/benchmarks.md):
 * an M2P read at MACH2PHYS_VIRT_START beside the null hypercall.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/samples.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/traps.h>

#define N_TIMED 2000

static const volatile unsigned long *const m2p =
	(const volatile unsigned long *)MACH2PHYS_VIRT_START;

extern char far_read_insn[], far_read_resume[];
extern char write_insn[], write_resume[];
static unsigned pf_hits;
static uint64_t pf_cr2, pf_err, pf_rip;

static bool pf_fix(struct trap_frame *f, uint64_t cr2)
{
	pf_hits++;
	pf_cr2 = cr2;
	pf_err = f->error_code;
	pf_rip = f->rip;
	if (f->rip == (uint64_t)far_read_insn)
		f->rip = (uint64_t)far_read_resume;
	else if (f->rip == (uint64_t)write_insn)
		f->rip = (uint64_t)write_resume;
	else
		return false;
	return true;
}

/* The load forms: base+index*8 (gcc's usual), a 32-bit half, a byte
 * zero-extended, an absolute movabs, a base+disp32. */
static unsigned long rd_index(unsigned long mfn)
{
	unsigned long v;

	asm volatile("mov (%1,%2,8), %0" : "=r"(v)
		     : "r"(MACH2PHYS_VIRT_START), "r"(mfn) : "memory");
	return v;
}

static uint32_t rd_low32(unsigned long mfn)
{
	uint32_t v;

	asm volatile("movl (%1), %0" : "=r"(v) : "r"(&m2p[mfn]) : "memory");
	return v;
}

static uint32_t rd_byte1(unsigned long mfn)
{
	uint32_t v;

	asm volatile("movzbl 1(%1), %0" : "=r"(v) : "r"(&m2p[mfn]) : "memory");
	return v;
}

static unsigned long rd_movabs0(void)
{
	unsigned long v;

	asm volatile("movabs 0xffff800000000000, %%rax" : "=a"(v) :: "memory");
	return v;
}

static unsigned long rd_disp(void)
{
	unsigned long v;

	/* m2p[2] as 0x10(%reg) */
	asm volatile("mov 0x10(%1), %0" : "=r"(v)
		     : "r"(MACH2PHYS_VIRT_START) : "memory");
	return v;
}

static void report(const char *name, uint64_t *s, unsigned n)
{
	samples_report("xenabi", name, s, n, "");
}

static uint64_t samples[N_TIMED];

int app_main(const char *cmdline)
{
	struct xen_machphys_mapping mm = { 0 };
	unsigned long nr = start_info.nr_pages, bad = 0, first_bad = 0;
	unsigned long max_mfn, past;
	volatile unsigned long sink;

	printf("t_xenabi_m2p on %s\n", kit_backend());
	check_rc(HYPERVISOR_memory_op(XENMEM_machphys_mapping, &mm), 0,
		 "machphys_mapping");
	max_mfn = mm.max_mfn;
	printf("machphys_mapping v_start %#lx max_mfn %#lx\n",
	       (unsigned long)mm.v_start, max_mfn);

	/* Every RAM frame, through the fixed address. */
	for (unsigned long pfn = 0; pfn < nr; pfn++) {
		unsigned long mfn = phys_to_machine_mapping[pfn];

		if (rd_index(mfn) != pfn) {
			if (!bad++)
				first_bad = pfn;
		}
	}
	check(bad == 0, "m2p_matches_p2m_all_frames",
	      "%lu of %lu differ, first pfn %lu reads %#lx", bad, nr, first_bad,
	      rd_index(phys_to_machine_mapping[first_bad]));
	check(rd_index(phys_to_machine_mapping[nr - 1]) == nr - 1,
	      "m2p_last_frame", "got %#lx", rd_index(phys_to_machine_mapping[nr - 1]));
	check(m2p[phys_to_machine_mapping[7]] == 7, "m2p_c_array_read",
	      "got %#lx", m2p[phys_to_machine_mapping[7]]);
	check(rd_low32(phys_to_machine_mapping[5]) == 5, "m2p_read_32bit",
	      "got %#x", rd_low32(phys_to_machine_mapping[5]));
	check(rd_byte1(phys_to_machine_mapping[0x1234 % nr]) ==
		      ((0x1234 % nr) >> 8 & 0xff),
	      "m2p_read_byte_movzx", "got %#x",
	      rd_byte1(phys_to_machine_mapping[0x1234 % nr]));
	check(rd_movabs0() == mfn_to_pfn(0), "m2p_read_movabs", "got %#lx",
	      rd_movabs0());
	check(rd_disp() == mfn_to_pfn(2), "m2p_read_disp", "got %#lx", rd_disp());

	/* Past the last machine frame, within the table: invalid entry. */
	past = max_mfn + 1;
	if (((past * 8) & (PAGE_SIZE - 1)) != 0)
		check(m2p[past] == ~0ul, "m2p_past_max_mfn_invalid", "got %#lx",
		      m2p[past]);
	/* Beyond the table: a page fault, not-present, cr2 the address. */
	trap_set_hook(14, pf_fix);
	{
		unsigned long far = MACH2PHYS_VIRT_START +
				    ((max_mfn * 8 + PAGE_SIZE) & PAGE_MASK) + 64;

		asm volatile("far_read_insn: mov (%1), %0\n"
			     "far_read_resume:" : "=r"(sink) : "r"(far) : "memory");
		check(pf_hits == 1 && pf_cr2 == far && !(pf_err & 1),
		      "m2p_beyond_table_faults", "hits %u cr2 %#lx err %#lx rip %#lx",
		      pf_hits, (unsigned long)pf_cr2, (unsigned long)pf_err,
		      (unsigned long)pf_rip);
	}
	/* Read-only: a write faults (present, write, kernel mode). */
	pf_hits = 0;
	asm volatile("write_insn: movq $1, (%0)\n"
		     "write_resume:" :: "r"(MACH2PHYS_VIRT_START) : "memory");
	check(pf_hits == 1 && pf_cr2 == MACH2PHYS_VIRT_START &&
		      (pf_err & 7) == 3,
	      "m2p_write_faults", "hits %u cr2 %#lx err %#lx", pf_hits,
	      (unsigned long)pf_cr2, (unsigned long)pf_err);
	trap_set_hook(14, NULL);

	/* Where the backend maps the table elsewhere, it is the same table. */
	if (mm.v_start != MACH2PHYS_VIRT_START) {
		const volatile unsigned long *alt =
			(const volatile unsigned long *)mm.v_start;

		bad = 0;
		for (unsigned long pfn = 0; pfn < nr; pfn += 17)
			bad += alt[phys_to_machine_mapping[pfn]] !=
			       m2p[phys_to_machine_mapping[pfn]];
		check(bad == 0, "m2p_alt_mapping_agrees", "%lu differ", bad);
	}

	for (unsigned i = 0; i < N_TIMED; i++) {
		uint64_t t0 = monotonic_ns();

		HYPERVISOR_xen_version(XENVER_version, NULL);
		samples[i] = monotonic_ns() - t0;
	}
	report("null_hypercall", samples, N_TIMED);
	for (unsigned i = 0; i < N_TIMED; i++) {
		uint64_t t0 = monotonic_ns();

		sink = m2p[i % nr];
		samples[i] = monotonic_ns() - t0;
	}
	report("m2p_read_fixed_va", samples, N_TIMED);
	if (mm.v_start != MACH2PHYS_VIRT_START) {
		const volatile unsigned long *alt =
			(const volatile unsigned long *)mm.v_start;

		for (unsigned i = 0; i < N_TIMED; i++) {
			uint64_t t0 = monotonic_ns();

			sink = alt[i % nr];
			samples[i] = monotonic_ns() - t0;
		}
		report("m2p_read_machphys_mapping_va", samples, N_TIMED);
	}
	(void)sink;
	test_finish();
}
