/*
 * Software interrupts as Xen delivers them (issue 15): `int $n` reaches the
 * guest's trap-table entry for n when the entry's DPL allows the guest's
 * ring (guest kernel mode = ring 1, user mode = ring 3), with rip past the
 * instruction and no error code; otherwise a #GP with error code
 * (n << 3) | 2 at the instruction.  int3 (#BP) and `int $4` (#OF) need no
 * DPL, icebp is a #DB trap, `into` is #UD in 64-bit mode.  From guest
 * kernel mode and from guest user mode (kit/user.h).
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/test.h>
#include <kit/traps.h>
#include <kit/user.h>

#define VEC_DPL3 0x80
#define VEC_DPL0 0x81
#define VEC_DPL1 0x82
#define VEC_NONE 0x40  /* no trap-table entry */
#define GP_IDT(n) (((n) << 3) | 2)

KIT_TRAP_ENTRY(softint_entry_80, 0x80);
KIT_TRAP_ENTRY(softint_entry_81, 0x81);
KIT_TRAP_ENTRY(softint_entry_82, 0x82);
extern char softint_entry_80[], softint_entry_81[], softint_entry_82[];

/* What the last trap saw (written by the hooks, read by the checks). */
struct seen {
	unsigned hits;
	uint64_t vector, error_code, rip, cs, rsp, rbx;
};
static struct seen seen;
static uint64_t user_rsp; /* rsp at the user-mode int $0x80 */

extern char k_int80[], k_int80_end[], k_int82_end[], k_int81[], k_int40[];
extern char u_int80[], u_int80_end[], u_int82[], u_int81[], u_int3_end[];
extern char u_icebp_end[], u_into[], u_int1[], u_int4_end[];

static void record(const struct trap_frame *f)
{
	seen.hits++;
	seen.vector = f->vector;
	seen.error_code = f->error_code;
	seen.rip = f->rip;
	seen.cs = f->cs;
	seen.rsp = f->rsp;
	seen.rbx = f->rbx;
}

/* Software interrupts and traps: rip is already past the instruction. */
static bool resume_hook(struct trap_frame *f, uint64_t cr2)
{
	record(f);
	return true;
}

/* Faults at an instruction of known length: skip it. */
static bool skip2_hook(struct trap_frame *f, uint64_t cr2)
{
	record(f);
	f->rip += 2;
	return true;
}

static bool skip1_hook(struct trap_frame *f, uint64_t cr2)
{
	record(f);
	f->rip += 1;
	return true;
}

static void reset_seen(void)
{
	seen = (struct seen){ 0 };
}

static void expect(const char *name, unsigned vector, uint64_t ec,
		   const char *rip, unsigned ring)
{
	check(seen.hits == 1 && seen.vector == vector &&
		      seen.error_code == ec && seen.rip == (uint64_t)rip &&
		      (seen.cs & 3) == ring,
	      name, "hits %u vector %#lx error %#lx rip %#lx (want %#x %#lx "
	      "%p) cs %#lx", seen.hits, seen.vector, seen.error_code,
	      seen.rip, vector, ec, rip, seen.cs);
}

static void kernel_mode_tests(void)
{
	uint64_t rbx = 0x5eed0bb5;

	/* DPL 3 and DPL 1 entries admit guest kernel mode (ring 1). */
	reset_seen();
	asm volatile("k_int80: int $0x80\nk_int80_end:" : "+b"(rbx) :: "memory");
	expect("kernel_int80_dpl3_delivered", VEC_DPL3, 0, k_int80_end, 0);
	check(seen.rbx == 0x5eed0bb5 && rbx == 0x5eed0bb5,
	      "kernel_int80_registers_kept", "rbx %#lx / %#lx", seen.rbx, rbx);

	reset_seen();
	asm volatile("int $0x82\nk_int82_end:" ::: "memory");
	expect("kernel_int82_dpl1_delivered", VEC_DPL1, 0, k_int82_end, 0);

	/* DPL 0: the #GP Xen gives, at the instruction. */
	reset_seen();
	asm volatile("k_int81: int $0x81" ::: "memory");
	expect("kernel_int81_dpl0_gp", 13, GP_IDT(VEC_DPL0), k_int81, 0);

	reset_seen();
	asm volatile("k_int40: int $0x40" ::: "memory");
	expect("kernel_int_no_entry_gp", 13, GP_IDT(VEC_NONE), k_int40, 0);
}

/* User-mode code: no hypercalls, no console; results land in `seen`. */
static long user_int80(long arg)
{
	uint64_t rbx = (uint64_t)arg;

	asm volatile("movq %%rsp, %1\nu_int80: int $0x80\nu_int80_end:"
		     : "+b"(rbx), "=m"(user_rsp) :: "memory");
	return (long)rbx;
}

static long user_asm(long which)
{
	switch (which) {
	case 0x82:
		asm volatile("u_int82: int $0x82" ::: "memory");
		break;
	case 0x81:
		asm volatile("u_int81: int $0x81" ::: "memory");
		break;
	case 3:
		asm volatile("int3\nu_int3_end:" ::: "memory");
		break;
	case 1:
		asm volatile(".byte 0xf1\nu_icebp_end:" ::: "memory");
		break;
	case 0xce:
		asm volatile("u_into: .byte 0xce" ::: "memory");
		break;
	case 0x101:
		asm volatile("u_int1: int $1" ::: "memory");
		break;
	case 4:
		asm volatile("int $4\nu_int4_end:" ::: "memory");
		break;
	}
	return which;
}

static void user_mode_tests(void)
{
	long rc;

	rc = user_init();
	if (!check_rc(rc, 0, "user_mode_set_up"))
		return;

	reset_seen();
	rc = user_run(user_int80, 0x0123456789);
	expect("user_int80_dpl3_delivered", VEC_DPL3, 0, u_int80_end, 3);
	check(rc == 0x0123456789 && seen.rbx == 0x0123456789,
	      "user_int80_returns_to_user", "rc %#lx rbx %#lx", rc, seen.rbx);
	check(seen.rsp == user_rsp, "user_int80_frame_user_rsp",
	      "frame rsp %#lx, user rsp %#lx", seen.rsp, user_rsp);

	reset_seen();
	user_run(user_asm, 0x82);
	expect("user_int82_dpl1_gp", 13, GP_IDT(VEC_DPL1), u_int82, 3);

	reset_seen();
	user_run(user_asm, 0x81);
	expect("user_int81_dpl0_gp", 13, GP_IDT(VEC_DPL0), u_int81, 3);

	/* int3 and int $4 are host traps through DPL-3 gates: delivered
	 * without a DPL check (the kit's #BP and #OF entries say 3 anyway;
	 * Xen does not look). */
	reset_seen();
	user_run(user_asm, 3);
	expect("user_int3_bp", 3, 0, u_int3_end, 3);

	reset_seen();
	user_run(user_asm, 4);
	expect("user_int_4_of", 4, 0, u_int4_end, 3);

	/* icebp: a #DB trap, rip past it. */
	reset_seen();
	user_run(user_asm, 1);
	expect("user_icebp_db", 1, 0, u_icebp_end, 3);

	/* `int $1` goes through vector 1's DPL (0 in the kit): #GP. */
	reset_seen();
	user_run(user_asm, 0x101);
	expect("user_int_1_dpl0_gp", 13, GP_IDT(1), u_int1, 3);

	/* into: #UD in 64-bit mode. */
	reset_seen();
	user_run(user_asm, 0xce);
	expect("user_into_ud", 6, 0, u_into, 3);
}

int app_main(const char *cmdline)
{
	printf("t_softint on %s\n", kit_backend());
	check_rc(trap_register(VEC_DPL3, 3, softint_entry_80), 0,
		 "trap_table_int80_dpl3");
	check_rc(trap_register(VEC_DPL0, 0, softint_entry_81), 0,
		 "trap_table_int81_dpl0");
	check_rc(trap_register(VEC_DPL1, 1, softint_entry_82), 0,
		 "trap_table_int82_dpl1");
	trap_set_hook(VEC_DPL3, resume_hook);
	trap_set_hook(VEC_DPL1, resume_hook);
	trap_set_hook(VEC_DPL0, resume_hook); /* must never run */
	trap_set_hook(13, skip2_hook);
	trap_set_hook(3, resume_hook);
	trap_set_hook(4, resume_hook);
	trap_set_hook(1, resume_hook);
	trap_set_hook(6, skip1_hook);

	kernel_mode_tests();
	user_mode_tests();
	test_finish();
}
