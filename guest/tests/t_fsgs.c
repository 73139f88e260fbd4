/*
 * fs and gs base through HYPERVISOR_set_segment_base, read back with
 * %fs/%gs-relative loads: on the main thread, across a vCPU block (the
 * host process sleeps and is switched out), in a second thread that uses
 * bases of its own (set on every switch, as a kernel would), and after a
 * selector load.  The command line picks the FSGSBASE instruction checks:
 *   (empty)      the base checks only
 *   wrfsbase     execute wrfsbase with a #UD hook: prints "WRFSBASE ud"
 *                or "WRFSBASE ran" (CPUID does not offer it; whether the
 *                CPU runs it anyway is the host's business)
 *   unhandled    execute wrfsbase with no trap table at all
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/traps.h>

static uint64_t fs_area[4] = { 0xf5000001, 0xf5000002, 0xf5000003, 0xf5000004 };
static uint64_t gs_area[4] = { 0x65000001, 0x65000002, 0x65000003, 0x65000004 };
static uint64_t thread_area[2] = { 0x7a000001, 0x7a000002 };

extern char wrfsbase_insn[], wrfsbase_resume[];

static uint64_t fs_load(unsigned slot)
{
	uint64_t v;

	asm volatile("mov %%fs:(%1), %0" : "=r"(v) : "r"((uint64_t)slot * 8));
	return v;
}

static uint64_t gs_load(unsigned slot)
{
	uint64_t v;

	asm volatile("mov %%gs:(%1), %0" : "=r"(v) : "r"((uint64_t)slot * 8));
	return v;
}

static long set_base(unsigned which, const void *base)
{
	return HC(__HYPERVISOR_set_segment_base, which, base, 0, 0, 0);
}

static void check_fs(const char *name, const uint64_t *area, unsigned slot)
{
	uint64_t v = fs_load(slot);

	check(v == area[slot], name, "%%fs:%u = %#lx, want %#lx", slot * 8,
	      (unsigned long)v, (unsigned long)area[slot]);
}

static void test_bases(void)
{
	check_rc(set_base(SEGBASE_FS, fs_area), 0, "set_fs_base");
	check_rc(set_base(SEGBASE_GS_KERNEL, gs_area), 0, "set_gs_base");
	check_fs("fs_load_0", fs_area, 0);
	check_fs("fs_load_3", fs_area, 3);
	check(gs_load(1) == gs_area[1], "gs_load_1", "%%gs:8 = %#lx",
	      (unsigned long)gs_load(1));
	/* Through a hypercall that changes nothing, and many of them. */
	for (int i = 0; i < 1000; i++)
		HYPERVISOR_xen_version(0, NULL);
	check_fs("fs_after_hypercalls", fs_area, 2);
	/* The vCPU blocks: the host process sleeps and is switched out. */
	sleep_ms(30);
	check_fs("fs_after_block", fs_area, 1);
	check(gs_load(2) == gs_area[2], "gs_after_block", "%%gs:16 = %#lx",
	      (unsigned long)gs_load(2));
	/* Non-canonical bases are refused. */
	check_rc(set_base(SEGBASE_FS, (void *)0x8000000000000000ul), -XEN_EINVAL,
		 "noncanonical_fs_refused");
	check_fs("fs_kept_after_refusal", fs_area, 0);
}

static int thread_ok, thread_rounds;

/* A second thread with its own fs base: it sets it every time it runs. */
static void other_thread(void *arg)
{
	for (int i = 0; i < 5; i++) {
		set_base(SEGBASE_FS, thread_area);
		if (fs_load(0) == thread_area[0] && fs_load(1) == thread_area[1])
			thread_ok++;
		thread_rounds++;
		thread_yield();
	}
}

static void test_threads(void)
{
	struct thread *t = thread_create("fsgs", other_thread, NULL);
	int main_ok = 0;

	BUG_ON(!t);
	for (int i = 0; i < 5; i++) {
		thread_yield();
		set_base(SEGBASE_FS, fs_area);
		if (fs_load(0) == fs_area[0])
			main_ok++;
		sleep_ms(2);
	}
	thread_join(t);
	check(thread_ok == 5 && thread_rounds == 5, "thread_sees_its_fs",
	      "%d of %d", thread_ok, thread_rounds);
	check(main_ok == 5, "main_sees_its_fs_after_switch", "%d of 5", main_ok);
}

/* mov of a flat data selector (the stack's, valid wherever the guest
 * runs): the base becomes the descriptor's (0), and a base set afterwards
 * is really loaded again. */
static void test_selector(void)
{
	uint64_t ss;

	asm volatile("mov %%ss, %0" : "=r"(ss));
	check(ss != 0, "stack_selector", "%%ss is null");
	set_base(SEGBASE_FS, fs_area);
	asm volatile("mov %0, %%fs" : : "r"(ss));
	HYPERVISOR_xen_version(0, NULL);
	check_rc(set_base(SEGBASE_FS, fs_area), 0, "fs_base_after_selector");
	check_fs("fs_load_after_selector", fs_area, 2);
}

static int ud_hits;

static bool ud_fix(struct trap_frame *f, uint64_t cr2)
{
	if (f->rip != (uint64_t)wrfsbase_insn)
		return false;
	ud_hits++;
	f->rip = (uint64_t)wrfsbase_resume;
	return true;
}

static __attribute__((noinline)) void run_wrfsbase(void)
{
	asm volatile("wrfsbase_insn: wrfsbase %0\n"
		     "wrfsbase_resume:"
		     :
		     : "r"((uint64_t)gs_area)
		     : "memory");
}

static void test_wrfsbase(void)
{
	uint32_t a = 7, b = 0, c = 0, d = 0;

	/* Xen's forced-emulation prefix: what the hypervisor offers (a
	 * plain cpuid may run on the CPU itself). */
	asm volatile("ud2; .ascii \"xen\"; cpuid"
		     : "+a"(a), "+b"(b), "+c"(c), "+d"(d));
	check(!(b & 1), "cpuid_hides_fsgsbase", "leaf 7 ebx %#x", b);
	trap_set_hook(6, ud_fix);
	run_wrfsbase();
	printf("WRFSBASE %s\n", ud_hits ? "ud" : "ran");
	trap_set_hook(6, NULL);
	set_base(SEGBASE_FS, fs_area);
}

int app_main(const char *cmdline)
{
	if (!strcmp(cmdline, "unhandled")) {
		traps_clear();
		printf("UNHANDLED about to execute wrfsbase\n");
		run_wrfsbase();
		printf("WRFSBASE ran\n");
		return 3;
	}
	test_bases();
	test_threads();
	test_selector();
	if (!strcmp(cmdline, "wrfsbase"))
		test_wrfsbase();
	test_finish();
}
