/*
 * Debug registers (issue 15), as Xen answers them: set_debugreg and
 * get_debugreg (reset values, DR0-3 guest addresses, DR6/DR7 reserved
 * bits, GD and I/O breakpoints -EPERM, DR4 aliasing DR6, reg > 7), and
 * `mov` to/from %drN emulated from guest kernel mode (#GP(0) for what
 * set_debugreg refuses); TF set through HYPERVISOR_iret single-steps one
 * instruction (#DB, TF in the frame, DR6.BS); an instruction pvisor
 * emulates with TF set ends in a #DB right after it; a `mov %ss` (Xen's
 * flat selector, emulated on proc) holds the #DB back until after the next
 * instruction.  Breakpoints are recorded, not armed (docs/pv-abi.md).
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/test.h>
#include <kit/traps.h>


#define DR6_BS (1ul << 14)
#define RFLAGS_TF (1ul << 8)
#define XSTR(x) STR(x)
#define STR(x) #x

static unsigned gp_hits, db_hits;
static uint64_t gp_err, db_rip, db_rflags;

extern char step_target[], step_after[], cpuid_target[], cpuid_after[];
extern char ss_target[], ss_after_mov[], ss_after_next[];

static bool db_hook(struct trap_frame *f, uint64_t cr2)
{
	db_hits++;
	db_rip = f->rip;
	db_rflags = f->rflags;
	f->rflags &= ~RFLAGS_TF; /* one step only */
	return true;
}


static bool gp_hook(struct trap_frame *f, uint64_t cr2)
{
	gp_hits++;
	gp_err = f->error_code;
	f->rip += 3; /* mov %rax, %drN */
	return true;
}

static long set_dr(unsigned reg, unsigned long val)
{
	return HC(__HYPERVISOR_set_debugreg, reg, val, 0, 0, 0);
}

static long get_dr(unsigned reg)
{
	return HC(__HYPERVISOR_get_debugreg, reg, 0, 0, 0, 0);
}

static void hypercalls(void)
{
	check(get_dr(6) == 0xffff0ff0, "dr6_reset_value", "%#lx", get_dr(6));
	check(get_dr(7) == 0x400, "dr7_reset_value", "%#lx", get_dr(7));
	check_rc(set_dr(0, (unsigned long)hypercalls), 0, "dr0_guest_address");
	check(get_dr(0) == (long)hypercalls, "dr0_read_back", "%#lx", get_dr(0));
	check_rc(set_dr(1, 0xffff800000001000ul), -XEN_EPERM, "dr1_xen_range_eperm");
	check_rc(set_dr(1, 0x0000800000000000ul), -XEN_EPERM, "dr1_noncanonical_eperm");
	check_rc(set_dr(7, 0x2000), -XEN_EPERM, "dr7_gd_eperm");
	check_rc(set_dr(7, (2ul << 16) | 1), -XEN_EPERM, "dr7_io_breakpoint_eperm");
	check_rc(set_dr(7, (1ul << 32) | 0x1800), 0, "dr7_reserved_bits_forced");
	check(get_dr(7) == 0x400, "dr7_reserved_bits_read", "%#lx", get_dr(7));
	check_rc(set_dr(6, 0x1001), 0, "dr6_set");
	check(get_dr(6) == 0xffff0ff1, "dr6_reserved_bits", "%#lx", get_dr(6));
	check(get_dr(4) == 0xffff0ff1, "dr4_aliases_dr6", "%#lx", get_dr(4));
	check_rc(set_dr(8, 0), -XEN_ENODEV, "set_dr8_enodev");
	check_rc(get_dr(8), -XEN_EINVAL, "get_dr8_einval");
	set_dr(6, 0);
	set_dr(0, 0);
}

static void mov_dr(void)
{
	unsigned long v = 0x1234000, out = 0;

	asm volatile("mov %1, %%dr1\n\tmov %%dr1, %0" : "=r"(out) : "r"(v));
	check(out == v && get_dr(1) == (long)v, "mov_dr1_emulated",
	      "read %#lx hypercall %#lx", out, get_dr(1));
	gp_hits = 0;
	asm volatile("movq $0x2000, %%rax\n"
		     "mov %%rax, %%dr7" ::: "rax", "memory");
	check(gp_hits == 1 && gp_err == 0, "mov_dr7_gd_gp0", "hits %u error %#lx",
	      gp_hits, gp_err);
	check(get_dr(7) == 0x400, "mov_dr7_gd_not_stored", "%#lx", get_dr(7));
}

/* The code the steps land in, entered by iret (each ends with a jmp back
 * to the numbered label after its IRET_TF). */
asm(".text\n"
    "step_target: nop\n"
    "step_after: nop\n"
    "\tjmp 1f\n"
    "cpuid_target: ud2; .ascii \"xen\"; cpuid\n"
    "cpuid_after: nop\n"
    "\tjmp 2f\n"
    "ss_target: mov %ax, %ss\n"
    "ss_after_mov: nop\n"
    "ss_after_next: nop\n"
    "\tjmp 3f\n");

/* HYPERVISOR_iret to `target` in guest kernel mode, TF and IF set, the
 * same stack; rax = ax there. */
#define IRET_TF(target, ax, back)                                            \
	asm volatile("movq %%rsp, %%rdx\n\t"                                 \
		     "pushq $" XSTR(FLAT_KERNEL_SS) "\n\t"                   \
		     "pushq %%rdx\n\t"                                       \
		     "pushq $0x302\n\t"                                      \
		     "pushq $(" XSTR(FLAT_KERNEL_CS) " & ~3)\n\t"            \
		     "leaq " #target "(%%rip), %%rdx\n\t"                    \
		     "pushq %%rdx\n\t"                                       \
		     "pushq $0\n\t"                                          \
		     "movq $" #ax ", %%rax\n\t"                              \
		     "jmp hypercall_page + 23 * 32\n"                         \
		     #back ":"                                               \
		     ::: "rax", "rbx", "rcx", "rdx", "r11", "memory")

static void single_step(void)
{
	db_hits = 0;
	set_dr(6, 0);
	IRET_TF(step_target, 0, 1);
	check(db_hits == 1 && db_rip == (uint64_t)step_after,
	      "iret_tf_single_step", "hits %u rip %#lx want %p", db_hits,
	      db_rip, step_after);
	check(db_rflags & RFLAGS_TF, "single_step_frame_has_tf", "rflags %#lx",
	      db_rflags);
	check(get_dr(6) & DR6_BS, "single_step_dr6_bs", "dr6 %#lx", get_dr(6));

	/* An emulated instruction (Xen's forced CPUID) with TF: the #DB
	 * comes right after it, as from Xen's emulator. */
	db_hits = 0;
	IRET_TF(cpuid_target, 0, 2);
	check(db_hits == 1 && db_rip == (uint64_t)cpuid_after,
	      "emulated_insn_single_step", "hits %u rip %#lx want %p", db_hits,
	      db_rip, cpuid_after);

	/* mov to %ss (Xen's flat 0xe02b; emulated on proc): the #DB is held
	 * back until after the next instruction, not lost. */
	db_hits = 0;
	IRET_TF(ss_target, 0xe02b, 3);
	check(db_hits == 1 && db_rip == (uint64_t)ss_after_next,
	      "mov_ss_shadow_db_after_next", "hits %u rip %#lx want %p "
	      "(after the mov: %p)", db_hits, db_rip, ss_after_next,
	      ss_after_mov);
}

int app_main(const char *cmdline)
{
	printf("t_debugreg on %s\n", kit_backend());
	trap_set_hook(13, gp_hook);
	trap_set_hook(1, db_hook);
	hypercalls();
	mov_dr();
	single_step();
	test_finish();
}
