/*
 * floors: this machine's floors for pvisor's hypercall paths, measured with
 * the same statistics as the guest's hcbench (each sample is one operation
 * timed on its own; median, p99 and min over n samples):
 *
 *   clock_read      two back-to-back clock reads (the timer's own overhead,
 *                   included in every other figure)
 *   getppid         a plain host system call
 *   futex_pingpong  wake/wait round trip between two processes over a
 *                   shared futex word (what a blocking doorbell costs)
 *   spin_pingpong   the same round trip by spinning on shared memory (what a
 *                   polled doorbell costs: the proc backend's floor)
 *   seccomp_trap    a syscall trapped by SECCOMP_RET_TRAP -> SIGSYS handler
 *                   in the same process -> sigreturn (a raw guest syscall on
 *                   the proc backend)
 *   kvm_exit        KVM_RUN -> CPL3 guest stores to unbacked MMIO -> exit,
 *                   on a minimal VM with nothing else per exit (the kvm
 *                   backend's floor)
 *   kvm_exit_regs   the same plus GET_REGS, GET_SREGS and SET_REGS per exit,
 *                   the least a VMM that reads and writes guest state does
 *
 * Output: one line per floor, "floor NAME median_ns=.. p99_ns=.. min_ns=..
 * n=..", or "floor NAME skipped reason=..." / "floor NAME error=...".
 *
 * Usage: floors [-s SCALE] [NAME...]   (SCALE divides the iteration counts)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AUDIT_ARCH_X86_64
#define AUDIT_ARCH_X86_64 0xc000003eu
#endif

static unsigned scale = 1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Same indices as guest/apps/bench.c: s[n/2], s[n*99/100], s[0]. */
static void report(const char *name, uint64_t *s, unsigned n)
{
	qsort(s, n, sizeof(*s), cmp_u64);
	printf("floor %s median_ns=%lu p99_ns=%lu min_ns=%lu n=%u\n", name,
	       (unsigned long)s[n / 2], (unsigned long)s[(n * 99ull) / 100],
	       (unsigned long)s[0], n);
	fflush(stdout);
}

static void skipped(const char *name, const char *why)
{
	printf("floor %s skipped reason=\"%s\"\n", name, why);
	fflush(stdout);
}

static void failed(const char *name, const char *what, int err)
{
	printf("floor %s error=\"%s: %s\"\n", name, what, strerror(err));
	fflush(stdout);
}

static uint64_t *samples(unsigned n)
{
	uint64_t *s = calloc(n, sizeof(*s));

	if (!s) {
		perror("floors: calloc");
		exit(1);
	}
	return s;
}

static unsigned iters(unsigned n)
{
	n /= scale;
	return n < 100 ? 100 : n;
}

/* ---- plain host ------------------------------------------------------- */

static int floor_clock(const char *name)
{
	unsigned n = iters(100000);
	uint64_t *s = samples(n);

	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		s[i] = now_ns() - t0;
	}
	report(name, s, n);
	free(s);
	return 0;
}

static int floor_getppid(const char *name)
{
	unsigned n = iters(100000);
	uint64_t *s = samples(n);

	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		syscall(SYS_getppid);
		s[i] = now_ns() - t0;
	}
	report(name, s, n);
	free(s);
	return 0;
}

/* ---- two processes over shared memory ----------------------------------- */

/* One cache line per direction so that the two sides do not share a line
 * they both write. */
struct pingpong {
	_Alignas(64) atomic_uint ping;
	_Alignas(64) atomic_uint pong;
};

static long futex(atomic_uint *uaddr, int op, unsigned val)
{
	/* Not FUTEX_PRIVATE_FLAG: the two sides are separate processes. */
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

/* Waits until *w != old; by futex or by spinning. */
static void wait_change(atomic_uint *w, unsigned old, int spin)
{
	unsigned spins = 0;

	while (atomic_load_explicit(w, memory_order_acquire) == old) {
		if (spin) {
			/* Pure spinning while the peer runs; if it does not
			 * answer for a long while it is not on a CPU (one CPU,
			 * or a busy machine): let it run. */
			if (++spins % (1u << 16) == 0)
				sched_yield();
			__builtin_ia32_pause();
		} else
			futex(w, FUTEX_WAIT, old);
	}
}

static void post(atomic_uint *w, unsigned val, int spin)
{
	atomic_store_explicit(w, val, memory_order_release);
	if (!spin)
		futex(w, FUTEX_WAKE, 1);
}

/* The CPUs we may use, as at startup (pin() narrows the main process's set
 * for one floor at a time; unpin() restores it). */
static cpu_set_t cpus_allowed;
static bool have_cpus_allowed;

/* Puts the calling process on CPU `idx` of its allowed set, if there are
 * at least two: the ping-pong floors are cross-CPU round trips. */
static void pin(unsigned idx)
{
	cpu_set_t one;
	unsigned seen = 0;

	if (!have_cpus_allowed || CPU_COUNT(&cpus_allowed) < 2)
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &cpus_allowed))
			continue;
		if (seen++ == idx) {
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			sched_setaffinity(0, sizeof(one), &one);
			return;
		}
	}
}

static void unpin(void)
{
	if (have_cpus_allowed)
		sched_setaffinity(0, sizeof(cpus_allowed), &cpus_allowed);
}

static int floor_pingpong(const char *name, int spin)
{
	unsigned n = iters(spin ? 100000 : 10000), warm = n / 10;
	struct pingpong *pp;
	uint64_t *s;
	pid_t pid;
	int status;

	pp = mmap(NULL, sizeof(*pp), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pp == MAP_FAILED) {
		failed(name, "mmap", errno);
		return 1;
	}
	atomic_init(&pp->ping, 0);
	atomic_init(&pp->pong, 0);
	s = samples(n);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		failed(name, "fork", errno);
		munmap(pp, sizeof(*pp));
		free(s);
		return 1;
	}
	if (pid == 0) {
		/* The peer: answer every ping with the same sequence number;
		 * it must not outlive us if we are killed mid-run. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		pin(1);
		for (unsigned i = 1; i <= warm + n; i++) {
			wait_change(&pp->ping, i - 1, spin);
			post(&pp->pong, i, spin);
		}
		_exit(0);
	}
	pin(0);
	for (unsigned i = 1; i <= warm + n; i++) {
		uint64_t t0 = now_ns();

		post(&pp->ping, i, spin);
		wait_change(&pp->pong, i - 1, spin);
		if (i > warm)
			s[i - warm - 1] = now_ns() - t0;
	}
	waitpid(pid, &status, 0);
	unpin();
	munmap(pp, sizeof(*pp));
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("floor %s error=\"peer failed\"\n", name);
		free(s);
		return 1;
	}
	report(name, s, n);
	free(s);
	return 0;
}

/* ---- seccomp trap --------------------------------------------------------- */

/* The syscall the filter traps: one no program makes by accident. */
#define TRAPPED_NR SYS_getppid

static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	/* Returning is the whole cost: the kernel's sigreturn resumes after
	 * the trapped syscall (rax holds -ENOSYS, which nobody reads). */
}

static int seccomp_child(const char *name)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TRAPPED_NR, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { .len = sizeof(prog) / sizeof(prog[0]),
				    .filter = prog };
	struct sigaction sa = { .sa_sigaction = sigsys_handler,
				.sa_flags = SA_SIGINFO };
	unsigned n = iters(100000);
	uint64_t *s = samples(n);

	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		failed(name, "sigaction", errno);
		return 1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0) {
		failed(name, "seccomp", errno);
		return 1;
	}
	for (unsigned i = 0; i < n / 10; i++)
		syscall(TRAPPED_NR);
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		syscall(TRAPPED_NR);
		s[i] = now_ns() - t0;
	}
	report(name, s, n);
	return 0;
}

static int floor_seccomp(const char *name)
{
	int status;
	pid_t pid;

	/* A seccomp filter cannot be removed: install it in a child. */
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		failed(name, "fork", errno);
		return 1;
	}
	if (pid == 0)
		_exit(seccomp_child(name));
	waitpid(pid, &status, 0);
	return !WIFEXITED(status) || WEXITSTATUS(status);
}

/* ---- KVM exit --------------------------------------------------------------- */

/*
 * A minimal long-mode VM: guest RAM at GPA 0 mapped at VA 0x400000
 * (supervisor pages for GDT/IDT/TSS/page tables, user pages for code and
 * stack), and one page at VA MMIO_VA backed by no memory slot.  The vCPU
 * starts at CPL3 with Xen's flat ring-3 selectors (as pvisor's kvm backend
 * does) in a loop that stores to that page, so every iteration is exactly
 * one KVM_EXIT_MMIO.  Nothing runs at CPL0 (which kvm-pvm would emulate).
 */
#define VM_VA 0x400000ull
#define VM_PAGES 32
#define PG_GDT 0      /* 16 pages: selectors up to 0xffff */
#define PG_IDT 16     /* all zero: any exception shuts the VM down */
#define PG_TSS 17
#define PG_L4 18
#define PG_L3 19
#define PG_L2 20
#define PG_L1 21
#define PG_CODE 22
#define PG_STACK 23
#define MMIO_GPA 0x100000000ull
#define MMIO_VA (VM_VA + VM_PAGES * 4096ull)
#define SEL_CS3 0xe033 /* Xen's FLAT_RING3_CS64 */
#define SEL_SS3 0xe02b /* Xen's FLAT_RING3_SS64 */
#define SEL_TSS 0xe040

/* The guest loop: store to MMIO_VA (absolute 32-bit address), repeat. */
extern const uint8_t guest_loop_start[], guest_loop_end[];
__asm__(".pushsection .rodata\n"
	"guest_loop_start:\n"
	"1: movl %eax, 0x420000\n"
	"   jmp 1b\n"
	"guest_loop_end:\n"
	".popsection\n");
_Static_assert(MMIO_VA == 0x420000, "guest_loop stores to MMIO_VA");

struct kvmvm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
};

static void kvmvm_close(struct kvmvm *k)
{
	if (k->run && k->run != MAP_FAILED)
		munmap(k->run, k->run_size);
	if (k->mem && k->mem != MAP_FAILED)
		munmap(k->mem, VM_PAGES * 4096ul);
	if (k->vcpu >= 0)
		close(k->vcpu);
	if (k->vm >= 0)
		close(k->vm);
	if (k->kvm >= 0)
		close(k->kvm);
}

static uint64_t *page(struct kvmvm *k, unsigned pg)
{
	return (uint64_t *)(k->mem + pg * 4096ul);
}

static void build_guest(struct kvmvm *k)
{
	uint64_t *gdt = page(k, PG_GDT), *l1 = page(k, PG_L1);
	uint64_t tss = VM_VA + PG_TSS * 4096ull;

	gdt[SEL_CS3 >> 3] = 0x00affa000000ffffull; /* 64-bit code, DPL 3 */
	gdt[SEL_SS3 >> 3] = 0x00cff2000000ffffull; /* data, DPL 3 */
	/* 64-bit TSS (busy), limit 0x67. */
	gdt[SEL_TSS >> 3] = 0x67 | (tss & 0xffffff) << 16 | 0xbull << 40 |
			    1ull << 47 | ((tss >> 24) & 0xff) << 56;
	gdt[(SEL_TSS >> 3) + 1] = tss >> 32;

	page(k, PG_L4)[0] = PG_L3 * 4096ull | 0x67;
	page(k, PG_L3)[0] = PG_L2 * 4096ull | 0x67;
	page(k, PG_L2)[VM_VA >> 21] = PG_L1 * 4096ull | 0x67;
	for (unsigned i = 0; i < VM_PAGES; i++) {
		bool user = i == PG_CODE || i == PG_STACK;

		l1[((VM_VA >> 12) & 511) + i] = i * 4096ull | (user ? 0x67 : 0x63);
	}
	/* The MMIO page: user, writable, no-execute. */
	l1[(MMIO_VA >> 12) & 511] = MMIO_GPA | 0x67 | 1ull << 63;
	memcpy(page(k, PG_CODE), guest_loop_start,
	       (size_t)(guest_loop_end - guest_loop_start));
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, bool code)
{
	return (struct kvm_segment){ .selector = sel, .limit = 0xffffffff,
		.type = type, .present = 1, .dpl = 3, .s = 1, .l = code,
		.db = !code, .g = 1 };
}

/* 0, or -1 with a reason in why. */
static int kvmvm_open(struct kvmvm *k, char *why, size_t len)
{
	struct kvm_userspace_memory_region r = { 0 };
	struct kvm_cpuid2 *cpuid;
	struct kvm_sregs s;
	struct kvm_regs regs = { 0 };
	int n;

	memset(k, 0, sizeof(*k));
	k->kvm = k->vm = k->vcpu = -1;
	k->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->kvm < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return -1;
	}
	k->vm = ioctl(k->kvm, KVM_CREATE_VM, 0);
	if (k->vm < 0) {
		snprintf(why, len, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	k->mem = mmap(NULL, VM_PAGES * 4096ul, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->mem == MAP_FAILED) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		return -1;
	}
	build_guest(k);
	r.memory_size = VM_PAGES * 4096ul;
	r.userspace_addr = (uintptr_t)k->mem;
	if (ioctl(k->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		snprintf(why, len, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -1;
	}
	k->vcpu = ioctl(k->vm, KVM_CREATE_VCPU, 0);
	k->run_size = (size_t)ioctl(k->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vcpu < 0 || (long)k->run_size <= 0) {
		snprintf(why, len, "KVM_CREATE_VCPU: %s", strerror(errno));
		return -1;
	}
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      k->vcpu, 0);
	if (k->run == MAP_FAILED) {
		snprintf(why, len, "mmap kvm_run: %s", strerror(errno));
		return -1;
	}
	/* KVM accepts EFER.LME/NXE only if the guest's CPUID has LM/NX. */
	for (n = 64; n <= 4096; n *= 2) {
		cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
		if (!cpuid)
			break;
		cpuid->nent = n;
		if (ioctl(k->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) {
			int rc = ioctl(k->vcpu, KVM_SET_CPUID2, cpuid);

			free(cpuid);
			if (rc < 0) {
				snprintf(why, len, "KVM_SET_CPUID2: %s", strerror(errno));
				return -1;
			}
			break;
		}
		free(cpuid);
		if (errno != E2BIG) {
			snprintf(why, len, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			return -1;
		}
	}
	if (ioctl(k->vcpu, KVM_GET_SREGS, &s) < 0) {
		snprintf(why, len, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	s.cs = seg(SEL_CS3, 0xb, true);
	s.ss = seg(SEL_SS3, 0x3, false);
	s.ds = s.es = s.fs = s.gs = seg(0, 0x3, false);
	s.ds.unusable = s.es.unusable = 1;
	s.tr = (struct kvm_segment){ .selector = SEL_TSS,
		.base = VM_VA + PG_TSS * 4096ull, .limit = 0x67, .type = 0xb,
		.present = 1 };
	s.ldt = (struct kvm_segment){ .unusable = 1 };
	s.gdt.base = VM_VA + PG_GDT * 4096ull;
	s.gdt.limit = 16 * 4096 - 1;
	s.idt.base = VM_VA + PG_IDT * 4096ull;
	s.idt.limit = 4095;
	s.cr0 = 0x80050033; /* PE MP ET NE WP AM PG */
	s.cr3 = PG_L4 * 4096ull;
	s.cr4 = 0x620;      /* PAE OSFXSR OSXMMEXCPT */
	s.efer = 0xd01;     /* SCE LME LMA NXE */
	if (ioctl(k->vcpu, KVM_SET_SREGS, &s) < 0) {
		snprintf(why, len, "KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	regs.rip = VM_VA + PG_CODE * 4096ull;
	regs.rsp = VM_VA + (PG_STACK + 1) * 4096ull - 64;
	regs.rflags = 0x202;
	if (ioctl(k->vcpu, KVM_SET_REGS, &regs) < 0) {
		snprintf(why, len, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* One KVM_RUN that must end in the guest's MMIO store; 0 or -1. */
static int kvm_one(struct kvmvm *k, char *why, size_t len)
{
	if (ioctl(k->vcpu, KVM_RUN, 0) < 0) {
		if (errno == EINTR)
			return 0;
		snprintf(why, len, "KVM_RUN: %s", strerror(errno));
		return -1;
	}
	if (k->run->exit_reason != KVM_EXIT_MMIO || !k->run->mmio.is_write ||
	    k->run->mmio.phys_addr != MMIO_GPA) {
		snprintf(why, len, "unexpected exit reason %u (mmio gpa %#llx)",
			 k->run->exit_reason,
			 (unsigned long long)k->run->mmio.phys_addr);
		return -1;
	}
	return 0;
}

enum kvm_mode {
	KVM_RAW,       /* KVM_RUN only */
	KVM_REGS,      /* + GET_REGS, GET_SREGS, SET_REGS */
	KVM_SYNCREGS,  /* registers through kvm_run's sync_regs area */
	KVM_GETREGS,   /* diagnosis: + GET_REGS only */
	KVM_GETSREGS,  /* diagnosis: + GET_SREGS only */
	KVM_SETREGS,   /* diagnosis: + GET_REGS + SET_REGS */
};

static int floor_kvm(const char *name, enum kvm_mode mode)
{
	unsigned n = iters(10000);
	struct kvmvm k;
	char why[200];
	uint64_t *s;

	if (access("/dev/kvm", F_OK) < 0) {
		skipped(name, "no /dev/kvm on this machine");
		return 0;
	}
	if (kvmvm_open(&k, why, sizeof(why)) < 0) {
		kvmvm_close(&k);
		/* Present but unusable (permissions, nested KVM refused). */
		skipped(name, why);
		return 0;
	}
	if (mode == KVM_SYNCREGS) {
		if (ioctl(k.kvm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0) {
			kvmvm_close(&k);
			skipped(name, "KVM_CAP_SYNC_REGS not offered");
			return 0;
		}
		k.run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	}
	s = samples(n);
	for (unsigned i = 0; i < n / 10 + n; i++) {
		struct kvm_regs regs;
		struct kvm_sregs sregs;
		uint64_t t0 = now_ns();
		int rc = 0;

		if (kvm_one(&k, why, sizeof(why)) < 0)
			goto fail;
		switch (mode) {
		case KVM_RAW:
			break;
		case KVM_REGS:
			rc = ioctl(k.vcpu, KVM_GET_REGS, &regs) < 0 ||
			     ioctl(k.vcpu, KVM_GET_SREGS, &sregs) < 0 ||
			     ioctl(k.vcpu, KVM_SET_REGS, &regs) < 0;
			break;
		case KVM_SYNCREGS:
			/* What a VMM does with the synced copy: read the
			 * registers, write one (a hypercall result) back.
			 * Check that KVM really filled it in. */
			if (k.run->s.regs.sregs.cs.selector != SEL_CS3 ||
			    k.run->s.regs.regs.rip - (VM_VA + PG_CODE * 4096ull) >= 4096) {
				snprintf(why, sizeof(why), "sync_regs not filled "
					 "(rip %#llx)", k.run->s.regs.regs.rip);
				goto fail;
			}
			k.run->s.regs.regs.rax = k.run->s.regs.regs.rax;
			k.run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
			break;
		case KVM_GETREGS:
			rc = ioctl(k.vcpu, KVM_GET_REGS, &regs) < 0;
			break;
		case KVM_GETSREGS:
			rc = ioctl(k.vcpu, KVM_GET_SREGS, &sregs) < 0;
			break;
		case KVM_SETREGS:
			rc = ioctl(k.vcpu, KVM_GET_REGS, &regs) < 0 ||
			     ioctl(k.vcpu, KVM_SET_REGS, &regs) < 0;
			break;
		}
		if (rc) {
			snprintf(why, sizeof(why), "regs ioctl: %s", strerror(errno));
			goto fail;
		}
		if (i >= n / 10)
			s[i - n / 10] = now_ns() - t0;
	}
	kvmvm_close(&k);
	report(name, s, n);
	free(s);
	return 0;
fail:
	kvmvm_close(&k);
	free(s);
	printf("floor %s error=\"%s\"\n", name, why);
	return 1;
}

/* ---- main --------------------------------------------------------------- */

static int f_clock(const char *nm) { return floor_clock(nm); }
static int f_getppid(const char *nm) { return floor_getppid(nm); }
static int f_futex(const char *nm) { return floor_pingpong(nm, 0); }
static int f_spin(const char *nm) { return floor_pingpong(nm, 1); }
static int f_seccomp(const char *nm) { return floor_seccomp(nm); }
static int f_kvm(const char *nm) { return floor_kvm(nm, KVM_RAW); }
static int f_kvm_regs(const char *nm) { return floor_kvm(nm, KVM_REGS); }
static int f_kvm_sync(const char *nm) { return floor_kvm(nm, KVM_SYNCREGS); }
static int f_kvm_g(const char *nm) { return floor_kvm(nm, KVM_GETREGS); }
static int f_kvm_gs(const char *nm) { return floor_kvm(nm, KVM_GETSREGS); }
static int f_kvm_s(const char *nm) { return floor_kvm(nm, KVM_SETREGS); }

static const struct {
	const char *name;
	int (*fn)(const char *name);
} floors[] = {
	{ "clock_read", f_clock },
	{ "getppid", f_getppid },
	{ "futex_pingpong", f_futex },
	{ "spin_pingpong", f_spin },
	{ "seccomp_trap", f_seccomp },
	{ "kvm_exit", f_kvm },
	{ "kvm_exit_regs", f_kvm_regs },
	{ "kvm_exit_syncregs", f_kvm_sync },
};

/* Diagnosis only (named on the command line, not run by default). */
static const struct {
	const char *name;
	int (*fn)(const char *name);
} extra_floors[] = {
	{ "kvm_exit_getregs", f_kvm_g },
	{ "kvm_exit_getsregs", f_kvm_gs },
	{ "kvm_exit_get_setregs", f_kvm_s },
};
#define NR_EXTRA (sizeof(extra_floors) / sizeof(extra_floors[0]))
#define NR_FLOORS (sizeof(floors) / sizeof(floors[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: floors [-s SCALE] [NAME...]\n"
		   "  -s SCALE  divide the iteration counts by SCALE (quick runs)\n"
		   "floors (default: all of these):");
	for (size_t i = 0; i < NR_FLOORS; i++)
		fprintf(f, " %s", floors[i].name);
	fprintf(f, "\ndiagnosis (only when named):");
	for (size_t i = 0; i < NR_EXTRA; i++)
		fprintf(f, " %s", extra_floors[i].name);
	fprintf(f, "\n");
}

/* Runs the floor called name; -1 if there is none. */
static int run_named(const char *name)
{
	for (size_t i = 0; i < NR_FLOORS; i++)
		if (!strcmp(name, floors[i].name))
			return floors[i].fn(floors[i].name);
	for (size_t i = 0; i < NR_EXTRA; i++)
		if (!strcmp(name, extra_floors[i].name))
			return extra_floors[i].fn(extra_floors[i].name);
	return -1;
}

int main(int argc, char **argv)
{
	int fails = 0, opt;

	have_cpus_allowed = sched_getaffinity(0, sizeof(cpus_allowed),
					      &cpus_allowed) == 0;
	while ((opt = getopt(argc, argv, "s:h")) != -1) {
		switch (opt) {
		case 's':
			scale = (unsigned)strtoul(optarg, NULL, 10);
			if (!scale) {
				fprintf(stderr, "floors: bad scale '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* Check every name before measuring anything. */
	for (int a = optind; a < argc; a++) {
		bool known = false;

		for (size_t i = 0; i < NR_FLOORS; i++)
			known |= !strcmp(argv[a], floors[i].name);
		for (size_t i = 0; i < NR_EXTRA; i++)
			known |= !strcmp(argv[a], extra_floors[i].name);
		if (!known) {
			fprintf(stderr, "floors: unknown floor '%s'\n", argv[a]);
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		for (size_t i = 0; i < NR_FLOORS; i++)
			fails += floors[i].fn(floors[i].name) != 0;
	} else {
		for (int a = optind; a < argc; a++)
			fails += run_named(argv[a]) != 0;
	}
	return fails ? 1 : 0;
}
