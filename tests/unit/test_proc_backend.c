/*
 * The proc backend against a tiny hand-built VM: page tables in guest
 * memory mapping a code, data, hypercall and stack page at 0x400000, and
 * small hand-assembled code snippets (listed next to their offsets below)
 * that hypercall, fault, make raw system calls and spin.
 *
 * PROC_BENCH=1 also prints round-trip measurements (never asserted).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/proc/proc.h"
#include "backend/proc/proc_layout.h"
#include "backend/proc/proc_mirror.h"
#include "core/vm.h"

#define VA_CODE 0x400000ul
#define VA_DATA 0x401000ul
#define VA_HCALL 0x402000ul
#define VA_STACK 0x403000ul
#define VA_EXTRA 0x405000ul /* unmapped until a test maps it */

/* Frames: L4 1, L3 2, L2 3, L1 4; code 8, data 9, hypercall 10, stack
 * 11, extra 12. */
#define F_L4 1
#define F_L1 4
#define F_CODE 8
#define F_DATA 9
#define F_HCALL 10
#define F_STACK 11
#define F_EXTRA 12

#define P 1ull
#define RW 2ull
#define US 4ull
#define NX (1ull << 63)

/* Offsets of the snippets in `code` (see the disassembly in comments). */
#define C_HC 0x00    /* mov $0x11,%edi; mov $hcall+7*32,%ebx; call *%rbx; ud2 */
#define C_PF 0x0e    /* mov $0x500000,%ebx; movl $1,(%rbx) */
#define C_HLT 0x19   /* hlt */
#define C_SYS 0x1a   /* mov $62,%eax (kill); syscall; ud2 */
#define C_RW 0x23    /* ud2; mov %rax,0x401008; ud2 */
#define C_RD 0x2f    /* mov 0x405000,%rax; ud2 */
#define C_SPIN 0x39  /* jmp . */
#define C_IRET 0x3b  /* mov $0x99,%eax; mov $hcall+23*32,%ebx; jmp *%rbx */
#define C_BENCH 0x47 /* mov $hcall+29*32,%ebx; 1: call *%rbx; jmp 1b */
#define C_EXC 0x50   /* 1: ud2; jmp 1b */
#define C_FSRD 0x54  /* mov %fs:0,%rax; mov %gs:8,%rbx; ud2 */
#define C_SEL 0x68   /* mov $0x2b,%eax; mov %eax,%fs; mov %eax,%gs; ud2 */
#define C_WRFS 0x73  /* wrfsbase %rax; ud2 */
#define C_ARCH 0x7a  /* mov $158,%eax (arch_prctl); syscall; ud2 */
#define C_JMP 0x83   /* jmp *%r11 */

static const uint8_t code[] = {
	0xbf, 0x11, 0x00, 0x00, 0x00, 0xbb, 0xe0, 0x20, 0x40, 0x00, 0xff, 0xd3,
	0x0f, 0x0b, 0xbb, 0x00, 0x00, 0x50, 0x00, 0xc7, 0x03, 0x01, 0x00, 0x00,
	0x00, 0xf4, 0xb8, 0x3e, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x0f, 0x0b, 0x0f,
	0x0b, 0x48, 0x89, 0x04, 0x25, 0x08, 0x10, 0x40, 0x00, 0x0f, 0x0b, 0x48,
	0x8b, 0x04, 0x25, 0x00, 0x50, 0x40, 0x00, 0x0f, 0x0b, 0xeb, 0xfe, 0xb8,
	0x99, 0x00, 0x00, 0x00, 0xbb, 0xe0, 0x22, 0x40, 0x00, 0xff, 0xe3, 0xbb,
	0xa0, 0x23, 0x40, 0x00, 0xff, 0xd3, 0xeb, 0xfc, 0x0f, 0x0b, 0xeb, 0xfc,
	0x64, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, 0x65, 0x48, 0x8b,
	0x1c, 0x25, 0x08, 0x00, 0x00, 0x00, 0x0f, 0x0b, 0xb8, 0x2b, 0x00, 0x00,
	0x00, 0x8e, 0xe0, 0x8e, 0xe8, 0x0f, 0x0b, 0xf3, 0x48, 0x0f, 0xae, 0xd0,
	0x0f, 0x0b, 0xb8, 0x9e, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x0f, 0x0b, 0x41,
	0xff, 0xe3,
};

struct tvm {
	struct vm vm;
	struct vcpu v;
};

static uint64_t *frame(struct tvm *t, uint64_t mfn)
{
	uint64_t *p = gmem_ptr(&t->vm.mem, mfn * PAGE_SIZE, PAGE_SIZE);

	assert_non_null(p);
	return p;
}

static uint64_t l1_gpa(uint64_t va)
{
	return F_L1 * PAGE_SIZE + ((va >> 12) & 511) * 8;
}

static struct tvm *tvm_new(uint64_t ram_frames)
{
	struct tvm *t = calloc(1, sizeof(*t));
	char why[160];

	assert_non_null(t);
	if (backend_proc.probe(why, sizeof(why)) != 0) {
		free(t);
		return NULL;
	}
	assert_int_equal(gmem_init(&t->vm.mem, ram_frames, 4), 0);
	t->vm.backend = &backend_proc;
	assert_int_equal(backend_proc.vm_init(&t->vm), 0);
	t->v.vm = &t->vm;
	t->v.id = 0;
	assert_int_equal(backend_proc.vcpu_init(&t->v), 0);

	frame(t, 1)[0] = 2 * PAGE_SIZE | P | RW | US;
	frame(t, 2)[0] = 3 * PAGE_SIZE | P | RW | US;
	frame(t, 3)[VA_CODE >> 21] = 4 * PAGE_SIZE | P | RW | US;
	frame(t, F_L1)[0] = F_CODE * PAGE_SIZE | P | US;
	frame(t, F_L1)[1] = F_DATA * PAGE_SIZE | P | RW | US | NX;
	frame(t, F_L1)[2] = F_HCALL * PAGE_SIZE | P | US;
	frame(t, F_L1)[3] = F_STACK * PAGE_SIZE | P | RW | US | NX;
	memcpy(frame(t, F_CODE), code, sizeof(code));
	backend_proc.fill_hypercall_page(&t->vm, (uint8_t *)frame(t, F_HCALL));
	assert_int_equal(backend_proc.set_baseptr(&t->v, F_L4), 0);
	return t;
}

static void tvm_free(struct tvm *t)
{
	backend_proc.vm_destroy(&t->vm);
	gmem_destroy(&t->vm.mem);
	free(t);
}

static struct tvm *tvm_or_skip(uint64_t ram_frames)
{
	struct tvm *t = tvm_new(ram_frames);

	if (!t)
		skip();
	return t;
}

static void start_at(struct tvm *t, uint64_t off)
{
	memset(&t->v.regs, 0, sizeof(t->v.regs));
	t->v.regs.rip = VA_CODE + off;
	t->v.regs.rsp = VA_STACK + PAGE_SIZE - 8;
	t->v.regs.rflags = RFLAGS_RESERVED1 | RFLAGS_IF;
}

static struct vexit run(struct tvm *t)
{
	struct vexit e;

	assert_int_equal(backend_proc.vcpu_run(&t->v, &e), 0);
	if (e.kind == VEXIT_FATAL)
		fail_msg("fatal exit: %s", e.message);
	return e;
}

static void test_hypercall(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	struct vexit e;

	start_at(t, C_HC);
	t->v.regs.r12 = 0x1212;
	t->v.regs.rcx = 0xc1c1;
	t->v.regs.r11 = 0x1111;
	t->v.regs.fs_base = 0x12345000;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_HYPERCALL);
	assert_int_equal(t->v.regs.rax, 7);
	assert_int_equal(t->v.regs.rdi, 0x11);
	assert_int_equal(t->v.regs.r12, 0x1212);
	assert_int_equal(t->v.regs.fs_base, 0x12345000);
	/* The guest stack holds the return address, rcx and r11 (Xen's page
	 * keeps them); rip is the entry's pop/ret tail. */
	assert_int_equal(t->v.regs.rsp, VA_STACK + PAGE_SIZE - 32);
	assert_int_equal(t->v.regs.rip, VA_HCALL + 7 * 32 + 28);
	t->v.regs.rax = 42;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(e.vector, 6);
	assert_int_equal(t->v.regs.rax, 42);
	assert_int_equal(t->v.regs.rip, VA_CODE + C_HC + 12);
	assert_int_equal(t->v.regs.rsp, VA_STACK + PAGE_SIZE - 8);
	assert_int_equal(t->v.regs.rcx, 0xc1c1); /* as before the call */
	assert_int_equal(t->v.regs.r11, 0x1111);
	assert_int_equal(t->v.regs.fs_base, 0x12345000);
	tvm_free(t);
}

static void test_iret_entry(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	uint64_t *stack;
	struct vexit e;

	start_at(t, C_IRET);
	t->v.regs.rcx = 0xc1;
	t->v.regs.r11 = 0x11;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_HYPERCALL);
	assert_int_equal(t->v.regs.rax, 23);
	/* struct iret_context: rax, r11, rcx, ... at rsp. */
	assert_int_equal(t->v.regs.rsp, VA_STACK + PAGE_SIZE - 8 - 24);
	stack = frame(t, F_STACK);
	assert_int_equal(stack[(PAGE_SIZE - 32) / 8], 0x99);
	assert_int_equal(stack[(PAGE_SIZE - 24) / 8], 0x11);
	assert_int_equal(stack[(PAGE_SIZE - 16) / 8], 0xc1);
	tvm_free(t);
}

struct fault_case {
	const char *name;
	uint64_t off;
	enum vexit_kind kind;
	unsigned vector;
	uint32_t error_code;
	uint64_t cr2;
	uint64_t rip_off; /* expected rip at the exit */
};

static const struct fault_case fault_cases[] = {
	{ "ud2", C_EXC, VEXIT_EXCEPTION, 6, 0, 0, C_EXC },
	{ "store to unmapped", C_PF, VEXIT_EXCEPTION, 14, 6, 0x500000, C_PF + 5 },
	{ "hlt is privileged", C_HLT, VEXIT_EXCEPTION, 13, 0, 0, C_HLT },
	{ "load from unmapped", C_RD, VEXIT_EXCEPTION, 14, 4, VA_EXTRA,
	  C_RD },
};

static void test_faults(void **state)
{
	for (size_t i = 0; i < sizeof(fault_cases) / sizeof(fault_cases[0]); i++) {
		const struct fault_case *c = &fault_cases[i];
		struct tvm *t = tvm_or_skip(64);
		struct vexit e;

		print_message("# %s\n", c->name);
		start_at(t, c->off);
		e = run(t);
		assert_int_equal(e.kind, c->kind);
		assert_int_equal(e.vector, c->vector);
		assert_int_equal(e.error_code, c->error_code);
		assert_int_equal(e.cr2, c->cr2);
		assert_int_equal(t->v.regs.rip, VA_CODE + c->rip_off);
		tvm_free(t);
	}
}

/*
 * fs/gs base, run once per way the stub can load them: "auto" (the host's
 * rd/wr{fs,gs}base where it has them) and "off" (arch_prctl when a base
 * changes).  Each returns a VM in that mode, or NULL (the caller skips).
 */
static struct tvm *tvm_fsgs(const char *mode)
{
	struct tvm *t;

	setenv(PROC_FSGSBASE_ENV, mode, 1);
	t = tvm_new(64);
	unsetenv(PROC_FSGSBASE_ENV);
	if (t)
		print_message("# fs/gs mode %s: %s\n", mode,
			      proc_vm_uses_fsgsbase(&t->vm) ? "rd/wr{fs,gs}base"
							    : "arch_prctl");
	return t;
}

static const char *const fsgs_modes[] = { "auto", "off" };

/* The guest's %fs/%gs-relative loads see the bases pvisor set. */
static void test_fsgs_loads(void **state)
{
	for (size_t m = 0; m < 2; m++) {
		struct tvm *t = tvm_fsgs(fsgs_modes[m]);
		struct vexit e;

		if (!t)
			skip();
		frame(t, F_DATA)[0] = 0xf5f5;
		frame(t, F_DATA)[1] = 0x6565;
		frame(t, F_DATA)[3] = 0x3333;
		start_at(t, C_FSRD);
		t->v.regs.fs_base = VA_DATA;
		t->v.regs.gs_base = VA_DATA;
		e = run(t);
		assert_int_equal(e.kind, VEXIT_EXCEPTION);
		assert_int_equal(t->v.regs.rax, 0xf5f5);
		assert_int_equal(t->v.regs.rbx, 0x6565);
		assert_int_equal(t->v.regs.fs_base, VA_DATA);
		assert_int_equal(t->v.regs.gs_base, VA_DATA);
		/* A new gs base through the signal-return path. */
		t->v.regs.rip = VA_CODE + C_FSRD;
		t->v.regs.gs_base = VA_DATA + 16;
		e = run(t);
		assert_int_equal(t->v.regs.rax, 0xf5f5);
		assert_int_equal(t->v.regs.rbx, 0x3333);
		assert_int_equal(t->v.regs.gs_base, VA_DATA + 16);
		tvm_free(t);
	}
}

/* Exits that leave the bases alone make no system call; each changed
 * base costs exactly one (the arch_prctl path). */
static void test_fsgs_syscall_count(void **state)
{
	struct tvm *t = tvm_fsgs("off");
	struct vexit e;
	uint64_t n0;

	if (!t)
		skip();
	assert_false(proc_vm_uses_fsgsbase(&t->vm));
	start_at(t, C_BENCH);
	t->v.regs.fs_base = 0x1000;
	t->v.regs.gs_base = 0x2000;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_HYPERCALL);
	n0 = proc_vcpu_fsgs_loads(&t->v);
	assert_int_equal(n0, 2); /* the first resume loads both */
	for (int i = 0; i < 100; i++) {
		e = run(t);
		assert_int_equal(e.kind, VEXIT_HYPERCALL);
	}
	assert_int_equal(proc_vcpu_fsgs_loads(&t->v), n0);
	t->v.regs.fs_base = 0x3000;
	e = run(t);
	assert_int_equal(proc_vcpu_fsgs_loads(&t->v), n0 + 1);
	t->v.regs.gs_base = 0x4000;
	e = run(t);
	assert_int_equal(proc_vcpu_fsgs_loads(&t->v), n0 + 2);
	t->v.regs.fs_base = 0x5000;
	t->v.regs.gs_base = 0x6000;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_HYPERCALL);
	assert_int_equal(proc_vcpu_fsgs_loads(&t->v), n0 + 4);
	assert_int_equal(t->v.regs.fs_base, 0x5000);
	assert_int_equal(t->v.regs.gs_base, 0x6000);
	/* The exception path: unchanged bases, no call. */
	t->v.regs.rip = VA_CODE + C_EXC;
	for (int i = 0; i < 20; i++) {
		e = run(t);
		assert_int_equal(e.kind, VEXIT_EXCEPTION);
	}
	assert_int_equal(proc_vcpu_fsgs_loads(&t->v), n0 + 4);
	tvm_free(t);
}

/* A selector loaded into %fs/%gs: the base is its descriptor's (0), and
 * pvisor's copy follows, so the next base pvisor sets really loads. */
static void test_fsgs_selector(void **state)
{
	for (size_t m = 0; m < 2; m++) {
		struct tvm *t = tvm_fsgs(fsgs_modes[m]);
		struct vexit e;

		if (!t)
			skip();
		frame(t, F_DATA)[0] = 0xabc;
		start_at(t, C_SEL);
		t->v.regs.fs_base = VA_DATA;
		t->v.regs.gs_base = VA_DATA;
		e = run(t);
		assert_int_equal(e.kind, VEXIT_EXCEPTION);
		assert_int_equal(e.vector, 6);
		assert_int_equal(t->v.regs.fs_base, 0);
		assert_int_equal(t->v.regs.gs_base, 0);
		t->v.regs.rip = VA_CODE + C_FSRD;
		t->v.regs.fs_base = VA_DATA;
		t->v.regs.gs_base = VA_DATA;
		e = run(t);
		assert_int_equal(t->v.regs.rax, 0xabc);
		tvm_free(t);
	}
}

/* Without FSGSBASE in the stub, wrfsbase in guest code is #UD, and the
 * base stays pvisor's. */
static void test_fsgs_wrfsbase_ud(void **state)
{
	struct tvm *t = tvm_fsgs("off");
	struct vexit e;

	if (!t)
		skip();
	if (proc_cpu_runs_fsgsbase()) {
		/* The host's CR4 decides, not the stub. */
		print_message("# skipping: this CPU executes wrfsbase in user space%s\n",
			      proc_host_has_fsgsbase() ? "" :
			      " although the kernel does not enable FSGSBASE "
			      "(a hypervisor below leaves CR4.FSGSBASE set)");
		tvm_free(t);
		skip();
	}
	start_at(t, C_WRFS);
	t->v.regs.fs_base = 0x7000;
	t->v.regs.rax = 0x9000;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(e.vector, 6);
	assert_int_equal(t->v.regs.rip, VA_CODE + C_WRFS);
	assert_int_equal(t->v.regs.fs_base, 0x7000);
	tvm_free(t);
}

/* Where is `mov $158,%eax; syscall` in the stub?  Its syscall's address. */
static uint64_t stub_arch_prctl_syscall(void)
{
	static const uint8_t pat[] = { 0xb8, 0x9e, 0, 0, 0, 0x0f, 0x05 };
	size_t n = (size_t)(proc_stub_end - proc_stub_start);

	for (size_t i = 0; i + sizeof(pat) <= n; i++)
		if (!memcmp(proc_stub_start + i, pat, sizeof(pat)))
			return PROC_STUB_BASE + i + 5;
	fail_msg("no arch_prctl in the stub");
	return 0;
}

/* The filter: arch_prctl from guest code traps whatever the code; from
 * the stub's own instruction, any code but ARCH_SET_FS/GS is refused. */
static void test_fsgs_filter(void **state)
{
	static const uint64_t codes[] = { 0x1002 /* SET_FS */, 0x1001 /* SET_GS */,
					  0x1003 /* GET_FS */, 0x1004 /* GET_GS */,
					  0x3001 /* CET */ };
	struct tvm *t;
	struct vexit e;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		t = tvm_fsgs("off");
		if (!t)
			skip();
		start_at(t, C_ARCH);
		t->v.regs.rdi = codes[i];
		t->v.regs.rsi = VA_DATA;
		e = run(t);
		assert_int_equal(e.kind, VEXIT_SYSCALL);
		assert_int_equal(e.syscall_nr, 158);
		tvm_free(t);
	}
	for (size_t i = 2; i < sizeof(codes) / sizeof(codes[0]); i++) {
		t = tvm_fsgs("off");
		if (!t)
			skip();
		start_at(t, C_JMP);
		t->v.regs.r11 = stub_arch_prctl_syscall();
		t->v.regs.rax = 158;
		t->v.regs.rdi = codes[i];
		t->v.regs.rsi = VA_DATA;
		assert_int_equal(backend_proc.vcpu_run(&t->v, &e), 0);
		assert_int_equal(e.kind, VEXIT_FATAL);
		print_message("# code %#llx from the stub: %s\n",
			      (unsigned long long)codes[i], e.message);
		assert_non_null(strstr(e.message, "stub fault (signal 31"));
		tvm_free(t);
	}
}

/* A base the host cannot load without FSGSBASE: a clear fatal exit. */
static void test_fsgs_upper_base(void **state)
{
	struct tvm *t = tvm_fsgs("off");
	struct vexit e;

	if (!t)
		skip();
	start_at(t, C_EXC);
	t->v.regs.gs_base = 0xffff888000000000ull;
	assert_int_equal(backend_proc.vcpu_run(&t->v, &e), 0);
	assert_int_equal(e.kind, VEXIT_FATAL);
	assert_non_null(strstr(e.message, "needs FSGSBASE"));
	tvm_free(t);
}

static volatile sig_atomic_t usr2_count;

static void on_usr2(int sig)
{
	usr2_count++;
}

static void test_raw_syscall(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	struct vexit e;

	signal(SIGUSR2, on_usr2);
	usr2_count = 0;
	start_at(t, C_SYS);
	t->v.regs.rdi = (uint64_t)getpid(); /* kill(pvisor, SIGUSR2) */
	t->v.regs.rsi = SIGUSR2;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_SYSCALL);
	assert_int_equal(e.syscall_nr, 62);
	assert_int_equal(t->v.regs.rip, VA_CODE + C_SYS + 7);
	usleep(20000);
	assert_int_equal(usr2_count, 0);
	/* An allowed call (mmap) from guest code is trapped too. */
	t->v.regs.rip = VA_CODE + C_SYS + 5;
	t->v.regs.rax = 9;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_SYSCALL);
	assert_int_equal(e.syscall_nr, 9);
	signal(SIGUSR2, SIG_DFL);
	tvm_free(t);
}

static void test_regs_rewrite(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	struct vexit e;

	start_at(t, C_RW);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(e.vector, 6);
	assert_int_equal(t->v.regs.rip, VA_CODE + C_RW);
	t->v.regs.rip += 2;
	t->v.regs.rax = 0xfeedface;
	t->v.regs.rflags |= 1; /* CF, restored through sigreturn */
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(t->v.regs.rip, VA_CODE + C_RW + 10);
	assert_true(t->v.regs.rflags & 1);
	assert_int_equal(frame(t, F_DATA)[1], 0xfeedface);
	tvm_free(t);
}

static void test_pt_change(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	struct vexit e;

	frame(t, F_EXTRA)[0] = 0x5eed;
	start_at(t, C_RD);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(e.vector, 14);
	assert_int_equal(e.cr2, VA_EXTRA);
	/* Map it, flush, retry the load. */
	assert_int_equal(backend_proc.pt_write(&t->v, l1_gpa(VA_EXTRA),
					       F_EXTRA * PAGE_SIZE | P | US | NX), 0);
	assert_int_equal(frame(t, F_L1)[5], F_EXTRA * PAGE_SIZE | P | US | NX);
	assert_int_equal(backend_proc.flush_tlb(&t->v, VA_EXTRA, false), 0);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(e.vector, 6);
	assert_int_equal(t->v.regs.rax, 0x5eed);
	/* Unmap: the load faults again. */
	assert_int_equal(backend_proc.pt_write(&t->v, l1_gpa(VA_EXTRA), 0), 0);
	assert_int_equal(backend_proc.flush_tlb(&t->v, 0, true), 0);
	start_at(t, C_RD);
	e = run(t);
	assert_int_equal(e.vector, 14);
	/* Invalid arguments. */
	assert_int_equal(backend_proc.pt_write(&t->v, 3, 0), -EINVAL);
	assert_int_equal(backend_proc.pt_write(&t->v, 1ull << 40, 0), -EFAULT);
	assert_int_equal(backend_proc.set_baseptr(&t->v, 1ull << 30), -EINVAL);
	tvm_free(t);
}

/* save --live's tracking of the guest process's writes (proc_dirty.c),
 * by the fault thread and (where the host has it) asynchronously: a write
 * after the start shows in the next collect, then not again until written
 * again; after the stop the process writes without stopping. */
static bool frame_marked(const uint64_t *bits, uint64_t f)
{
	return (bits[f / 64] >> (f % 64)) & 1;
}

static void dirty_tracking(void **state, const char *mode)
{
	struct tvm *t = tvm_or_skip(64);
	uint64_t bits[1];
	struct vexit e;
	int rc;

	setenv("PVISOR_LIVE_WP", mode, 1);
	start_at(t, C_RW);
	e = run(t); /* the first ud2: the mappings are in place */
	assert_int_equal(e.vector, 6);
	rc = backend_proc.dirty_start(&t->vm);
	if (rc == -EOPNOTSUPP) {
		tvm_free(t);
		unsetenv("PVISOR_LIVE_WP");
		skip(); /* no userfaultfd on this host */
	}
	assert_int_equal(rc, 0);
	bits[0] = 0;
	assert_int_equal(backend_proc.dirty_collect(&t->vm, bits, false), 0);
	assert_false(frame_marked(bits, F_DATA));
	for (uint64_t v = 0x1234; v < 0x1236; v++) {
		t->v.regs.rip = VA_CODE + C_RW + 2; /* mov %rax,0x401008 */
		t->v.regs.rax = v;
		e = run(t);
		assert_int_equal(e.vector, 6);
		assert_int_equal(frame(t, F_DATA)[1], v);
		bits[0] = 0;
		assert_int_equal(backend_proc.dirty_collect(&t->vm, bits, false), 0);
		assert_true(frame_marked(bits, F_DATA));
		assert_false(frame_marked(bits, F_CODE));
		bits[0] = 0;
		assert_int_equal(backend_proc.dirty_collect(&t->vm, bits, false), 0);
		assert_false(frame_marked(bits, F_DATA));
	}
	bits[0] = 0;
	assert_int_equal(backend_proc.dirty_collect(&t->vm, bits, true), 0);
	backend_proc.dirty_stop(&t->vm);
	t->v.regs.rip = VA_CODE + C_RW + 2;
	t->v.regs.rax = 0x5678;
	e = run(t);
	assert_int_equal(e.vector, 6);
	assert_int_equal(frame(t, F_DATA)[1], 0x5678);
	tvm_free(t);
	unsetenv("PVISOR_LIVE_WP");
}

static void test_dirty_tracking(void **state)
{
	dirty_tracking(state, "sync");
}

static void test_dirty_tracking_async(void **state)
{
	dirty_tracking(state, "async");
}

static uint64_t ns(void);
static _Atomic uint64_t kick_t0;

static void *kicker(void *arg)
{
	struct tvm *t = arg;

	usleep(30000);
	kick_t0 = ns();
	backend_proc.vcpu_kick(&t->v);
	return NULL;
}

static void test_kick(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	pthread_t th;
	struct vexit e;

	start_at(t, C_SPIN);
	for (int i = 0; i < 3; i++) {
		pthread_create(&th, NULL, kicker, t);
		e = run(t);
		pthread_join(th, NULL);
		assert_int_equal(e.kind, VEXIT_KICK);
		assert_int_equal(t->v.regs.rip, VA_CODE + C_SPIN);
	}
	/* A kick while pvisor handles an exit: reported once, next run. */
	backend_proc.vcpu_kick(&t->v);
	backend_proc.vcpu_kick(&t->v);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_KICK);
	t->v.regs.rip = VA_CODE + C_EXC;
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	tvm_free(t);
}

static void test_no_leftovers(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	struct vexit e;

	start_at(t, C_EXC);
	e = run(t);
	assert_int_equal(e.kind, VEXIT_EXCEPTION);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), 0); /* child alive */
	tvm_free(t);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* The guest process (the only child of this thread). */
static pid_t guest_pid(void)
{
	char path[64];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", gettid());
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

static void test_dead_process(void **state)
{
	struct tvm *t = tvm_or_skip(64);
	struct vexit e;

	start_at(t, C_SPIN);
	assert_int_equal(kill(guest_pid(), SIGKILL), 0);
	assert_int_equal(backend_proc.vcpu_run(&t->v, &e), 0);
	assert_int_equal(e.kind, VEXIT_FATAL);
	assert_non_null(strstr(e.message, "killed by signal 9"));
	tvm_free(t);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

static void test_reserved_slots(void **state)
{
	struct vm vm = { 0 };

	assert_false(backend_proc.l4_slot_reserved(&vm, 0));
	assert_false(backend_proc.l4_slot_reserved(&vm, 253));
	assert_true(backend_proc.l4_slot_reserved(&vm, 254));
	assert_true(backend_proc.l4_slot_reserved(&vm, 256));
	assert_true(backend_proc.l4_slot_reserved(&vm, 511));
	assert_int_equal(backend_proc.l4_slot_entry(&vm, 300), 0);
}

/* Mirror diff, table-driven: old runs → new runs → expected ops. */
struct diff_case {
	const char *name;
	struct proc_run old[3], new[3];
	struct proc_op ops[4];
};

#define R_(va, n, pfn, prot) { (va), (n), (pfn), (prot) }
#define O_(k, prot, a, l, off) { (k), (prot), (a), (l), (off) }

static const struct diff_case diff_cases[] = {
	{ "identical", { R_(0x1000, 4, 10, 3) }, { R_(0x1000, 4, 10, 3) }, { { 0 } } },
	{ "new run", { { 0 } }, { R_(0x1000, 2, 10, 1) },
	  { O_(PROC_OP_MMAP, 1, 0x1000, 0x2000, 0xa000) } },
	{ "removed run", { R_(0x1000, 2, 10, 1) }, { { 0 } },
	  { O_(PROC_OP_MUNMAP, 0, 0x1000, 0x2000, 0) } },
	{ "one page changes frame",
	  { R_(0x1000, 4, 10, 3) },
	  { R_(0x1000, 1, 10, 3), R_(0x2000, 1, 50, 3), R_(0x3000, 2, 12, 3) },
	  { O_(PROC_OP_MMAP, 3, 0x2000, 0x1000, 50 * 0x1000) } },
	{ "protection only",
	  { R_(0x1000, 4, 10, 3) },
	  { R_(0x1000, 2, 10, 3), R_(0x3000, 2, 12, 1) },
	  { O_(PROC_OP_MPROTECT, 1, 0x3000, 0x2000, 0) } },
	{ "shrink and move",
	  { R_(0x1000, 4, 10, 3) },
	  { R_(0x8000, 1, 10, 3) },
	  { O_(PROC_OP_MUNMAP, 0, 0x1000, 0x4000, 0),
	    O_(PROC_OP_MMAP, 3, 0x8000, 0x1000, 0xa000) } },
};

static void test_mirror_diff(void **state)
{
	for (size_t i = 0; i < sizeof(diff_cases) / sizeof(diff_cases[0]); i++) {
		const struct diff_case *c = &diff_cases[i];
		struct proc_runs o = { (struct proc_run *)c->old, 0, 3 };
		struct proc_runs n = { (struct proc_run *)c->new, 0, 3 };
		struct proc_opbuf ops = { 0 };
		size_t want = 0;

		print_message("# %s\n", c->name);
		while (o.n < 3 && c->old[o.n].npages)
			o.n++;
		while (n.n < 3 && c->new[n.n].npages)
			n.n++;
		while (want < 4 && c->ops[want].kind)
			want++;
		assert_int_equal(proc_mirror_diff(&o, &n, &ops), 0);
		assert_int_equal(ops.n, want);
		for (size_t k = 0; k < want; k++)
			assert_memory_equal(&ops.v[k], &c->ops[k], sizeof(ops.v[k]));
		proc_opbuf_free(&ops);
	}
}

/* Benchmarks: PROC_BENCH=1. */
static uint64_t ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp64);
	print_message("# %-40s median %8.2f us  p99 %8.2f us  (n=%zu)\n", what,
		      v[n / 2] / 1000.0, v[n * 99 / 100] / 1000.0, n);
}

static void bench_loop(struct tvm *t, const char *what, uint64_t off,
		       enum vexit_kind kind, unsigned delay_us, size_t n)
{
	uint64_t *v = calloc(n, sizeof(*v));
	struct vexit e;

	start_at(t, off);
	e = run(t); /* warm up, first mirror sync */
	for (size_t i = 0; i < n; i++) {
		if (delay_us)
			usleep(delay_us);
		if (kind == VEXIT_HYPERCALL)
			t->v.regs.rax = 0;
		else
			t->v.regs.rip = VA_CODE + C_EXC;
		uint64_t t0 = ns();
		e = run(t);
		v[i] = ns() - t0;
		assert_int_equal(e.kind, kind);
	}
	report(what, v, n);
	free(v);
}

/* Full iteration counts with PROC_BENCH=1; a short smoke run otherwise
 * (the exits are still checked). */
static size_t iterations(size_t n)
{
	return getenv("PROC_BENCH") ? n : n / 100 + 1;
}

static void test_bench(void **state)
{
	struct tvm *t;

	t = tvm_or_skip(16384 + 64);
	bench_loop(t, "null hypercall (spinning)", C_BENCH, VEXIT_HYPERCALL, 0,
		   iterations(100000));
	bench_loop(t, "null hypercall (stub asleep)", C_BENCH, VEXIT_HYPERCALL,
		   200, iterations(2000));
	bench_loop(t, "exception (ud2) round trip", C_EXC, VEXIT_EXCEPTION, 0,
		   iterations(20000));

	/* Kick: from vcpu_kick to vcpu_run returning. */
	{
		size_t n = iterations(100);
		uint64_t *v = calloc(n, sizeof(*v));

		start_at(t, C_SPIN);
		for (size_t i = 0; i < n; i++) {
			pthread_t th;
			struct vexit e;
			uint64_t t0;

			pthread_create(&th, NULL, kicker, t);
			e = run(t);
			t0 = ns();
			pthread_join(th, NULL);
			assert_int_equal(e.kind, VEXIT_KICK);
			v[i] = t0 - kick_t0;
		}
		report("kick (vcpu_kick to VEXIT_KICK)", v, n);
		free(v);
	}

	/* Mirror: map 64 MiB (frames 64..16447) at 0x10000000. */
	{
		uint64_t *l2 = frame(t, 3);
		uint64_t base_mfn = 64, t0, full, one, again;
		struct vexit e;

		for (unsigned i = 0; i < 32; i++) {
			uint64_t l1 = 16384 + 64 - 32 + i; /* top frames */
			uint64_t *pt = frame(t, l1);

			for (unsigned k = 0; k < 512; k++)
				pt[k] = (base_mfn + i * 512 + k) * PAGE_SIZE | P | RW |
					US | NX;
			l2[(0x10000000 >> 21) + i] = l1 * PAGE_SIZE | P | RW | US;
		}
		start_at(t, C_EXC);
		backend_proc.flush_tlb(&t->v, 0, true);
		t0 = ns();
		e = run(t);
		full = ns() - t0;
		assert_int_equal(e.kind, VEXIT_EXCEPTION);
		assert_int_equal(backend_proc.pt_write(&t->v,
			(16384 + 64 - 32) * PAGE_SIZE + 8 * 100, 0), 0);
		t0 = ns();
		e = run(t);
		one = ns() - t0;
		backend_proc.flush_tlb(&t->v, 0, true);
		t0 = ns();
		e = run(t);
		again = ns() - t0;
		print_message("# mirror: map 64 MiB %.1f us, one PTE change %.1f us, "
			      "re-walk without change %.1f us\n",
			      full / 1000.0, one / 1000.0, again / 1000.0);
	}
	tvm_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserved_slots),
		cmocka_unit_test(test_mirror_diff),
		cmocka_unit_test(test_hypercall),
		cmocka_unit_test(test_iret_entry),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_raw_syscall),
		cmocka_unit_test(test_fsgs_loads),
		cmocka_unit_test(test_fsgs_syscall_count),
		cmocka_unit_test(test_fsgs_selector),
		cmocka_unit_test(test_fsgs_wrfsbase_ud),
		cmocka_unit_test(test_fsgs_filter),
		cmocka_unit_test(test_fsgs_upper_base),
		cmocka_unit_test(test_regs_rewrite),
		cmocka_unit_test(test_pt_change),
		cmocka_unit_test(test_dirty_tracking),
		cmocka_unit_test(test_dirty_tracking_async),
		cmocka_unit_test(test_kick),
		cmocka_unit_test(test_no_leftovers),
		cmocka_unit_test(test_dead_process),
		cmocka_unit_test(test_bench),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
