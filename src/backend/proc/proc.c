/*
 * The proc backend: each vCPU is a host process that pvisor forks and
 * locks down (only the memfd, only the stub region above
 * PVISOR_GUEST_VA_LIMIT, seccomp), in which guest code runs natively at
 * its own virtual addresses.  pvisor and the process's stub talk through a
 * shared control page: a doorbell that both sides poll adaptively before
 * they sleep in futex.  See docs/proc-backend.md.
 */
#include "backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pvisor/abi.h>
#include <pvisor/xen.h>

#include "backend/proc/proc.h"
#include "backend/proc/proc_layout.h"
#include "backend/proc/proc_dirty.h"
#include "backend/proc/proc_lazy.h"
#include "backend/proc/proc_mirror.h"
#include "backend/proc/proc_priv.h"
#include "backend/proc/proc_uffd.h"
#include "core/seccomp_programs.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/vm.h"
#include "hostio/scm_rights.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
#define AUDIT_ARCH_X86_64_ 0xc000003eu

#define PROC_SPIN_NS 50000ull       /* each side polls this long, then sleeps */
#define PROC_SLEEP_NS 20000000ull   /* futex timeout between liveness checks */
#define PROC_START_NS 5000000000ull /* guest process set-up deadline */
#define PROC_KICK_NS 3000000000ull  /* an unanswered kick means a wedge */

/* The control page, as laid out in proc_layout.h. */
struct proc_ctl {
	uint32_t to_host, host_waiting;
	uint8_t pad0[0x38];
	uint32_t to_guest, guest_waiting;
	uint8_t pad1[0x38];
	uint32_t exit, cmd, sig, spin;
	uint64_t nr_ops, op_err, trapno, err, cr2, sysnr, sysarch, memfd;
	struct sock_fprog fprog;
	uint32_t kick_latch, flags;
	uint64_t fault_rip;
	uint64_t loaded_fs, loaded_gs;
	uint64_t regs[20];
	uint64_t fsgs_loads;
};
_Static_assert(offsetof(struct proc_ctl, to_guest) == CTL_TO_GUEST, "ctl");
_Static_assert(offsetof(struct proc_ctl, exit) == CTL_EXIT, "ctl");
_Static_assert(offsetof(struct proc_ctl, nr_ops) == CTL_NR_OPS, "ctl");
_Static_assert(offsetof(struct proc_ctl, memfd) == CTL_MEMFD, "ctl");
_Static_assert(offsetof(struct proc_ctl, fprog) == CTL_FPROG, "ctl");
_Static_assert(offsetof(struct proc_ctl, kick_latch) == CTL_KICK_LATCH, "ctl");
_Static_assert(offsetof(struct proc_ctl, fault_rip) == CTL_FAULT_RIP, "ctl");
_Static_assert(offsetof(struct proc_ctl, flags) == CTL_FLAGS, "ctl");
_Static_assert(offsetof(struct proc_ctl, loaded_fs) == CTL_LOADED_FS, "ctl");
_Static_assert(offsetof(struct proc_ctl, loaded_gs) == CTL_LOADED_GS, "ctl");
_Static_assert(offsetof(struct proc_ctl, regs) == CTL_REGS, "ctl");
_Static_assert(offsetof(struct proc_ctl, fsgs_loads) == CTL_FSGS_LOADS, "ctl");
_Static_assert(sizeof(struct proc_ctl) <= PROC_BPF_OFF - PROC_CTL_OFF, "ctl");

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long futex(uint32_t *uaddr, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

bool proc_host_has_fsgsbase(void)
{
	return getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE;
}

/*
 * Does this CPU execute rdfsbase in user space?  Not the same question
 * under a hypervisor that leaves CR4.FSGSBASE set while the kernel does
 * not enable the feature (then the guest's own wrfsbase does not #UD and
 * the kernel does not track what it writes).  Asked in a child process,
 * which dies of SIGILL where the instruction faults.
 */
bool proc_cpu_runs_fsgsbase(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0) {
		uint64_t v;

		signal(SIGILL, SIG_DFL);
		__asm__ volatile("rdfsbase %0" : "=r"(v));
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Whether the stub uses rd/wr{fs,gs}base: where the host enables them,
 * unless PVISOR_PROC_FSGSBASE=off forces the arch_prctl path (so that
 * path runs on every host); =on insists on the instructions.
 */
static int choose_fsgsbase(bool *use)
{
	const char *env = getenv(PROC_FSGSBASE_ENV);
	bool host = proc_host_has_fsgsbase();

	if (!env || !*env || !strcmp(env, "auto")) {
		*use = host;
		return 0;
	}
	if (!strcmp(env, "off")) {
		*use = false;
		return 0;
	}
	if (!strcmp(env, "on")) {
		if (!host) {
			log_error("proc: %s=on, but the kernel does not enable "
				  "FSGSBASE", PROC_FSGSBASE_ENV);
			return -ENOTSUP;
		}
		*use = true;
		return 0;
	}
	log_error("proc: %s=%s: expected auto, on or off", PROC_FSGSBASE_ENV,
		  env);
	return -EINVAL;
}

static int proc_probe(char *why, size_t why_len)
{
	unsigned action = SECCOMP_RET_TRAP;
	int fd;

	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0) {
		snprintf(why, why_len, "seccomp SECCOMP_RET_TRAP unavailable: %s",
			 strerror(errno));
		return -ENOTSUP;
	}
	fd = memfd_create("pvisor-probe", MFD_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "memfd_create: %s", strerror(errno));
		return -ENOTSUP;
	}
	close(fd);
	return 0;
}

/* How many `pause` rounds take PROC_SPIN_NS on this CPU: 2000 rounds
 * (~40 us, about PROC_SPIN_NS itself) measure it well enough for a spin
 * budget, where 20000 cost every VM start 0.4-0.6 ms. */
static uint32_t calibrate_spin(void)
{
	const unsigned rounds = 2000;
	uint64_t t0 = now_ns(), dt;

	for (unsigned i = 0; i < rounds; i++)
		__builtin_ia32_pause();
	dt = now_ns() - t0;
	if (!dt)
		dt = 1;
	uint64_t n = PROC_SPIN_NS * rounds / dt;
	return n > 10000000 ? 10000000 : n ? (uint32_t)n : 1;
}

static void reserve_stub_window_once(void)
{
	void *p = mmap((void *)PROC_STUB_BASE, PROC_REGION_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE,
		       -1, 0);
	if (p == MAP_FAILED)
		log_debug("proc: stub window already in use in pvisor (%s)",
			  strerror(errno));
}

/*
 * Keeps pvisor itself from ever placing anything where the guest process
 * wants its stub region: the fork child moves the region there over
 * whatever the parent had, which must not be the code or stack it is
 * running on.
 */
static void reserve_stub_window(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, reserve_stub_window_once);
}

static int proc_vm_init(struct vm *vm)
{
	struct proc_vm *pvm;
	int err;

	if ((size_t)(proc_stub_end - proc_stub_start) > PROC_CODE_SIZE)
		return -E2BIG;
	pvm = calloc(1, sizeof(*pvm));
	if (!pvm)
		return -ENOMEM;
	err = -ENOMEM;
	pvm->bpf = malloc(PROC_BPF_MAX * sizeof(*pvm->bpf));
	if (!pvm->bpf)
		goto fail;
	err = choose_fsgsbase(&pvm->fsgsbase);
	if (!err)
		err = seccomp_program_proc(!pvm->fsgsbase,
					   (uint32_t)vm->mem.memfd, pvm->bpf,
					   PROC_BPF_MAX, &pvm->bpf_len);
	if (err)
		goto fail;
	log_debug("proc: fs/gs bases with %s", pvm->fsgsbase ?
		  "rd/wr{fs,gs}base" : "arch_prctl when they change (no FSGSBASE)");
	err = -ENOMEM;
	pvm->wgen = calloc(vm->mem.nr_frames, sizeof(*pvm->wgen));
	if (!pvm->wgen)
		goto fail;
	pvm->spin_iters = calibrate_spin();
	pthread_mutex_init(&pvm->wlock, NULL);
	pthread_mutex_init(&pvm->lock, NULL);
	reserve_stub_window();
	vm->backend_state = pvm;
	vm->tsc_offset = 0;
	return 0;
fail:
	free(pvm->bpf);
	free(pvm);
	return err;
}

static void proc_kill(struct proc_vcpu *pv)
{
	if (pv->pid > 0) {
		kill(pv->pid, SIGKILL);
		while (waitpid(pv->pid, NULL, 0) < 0 && errno == EINTR)
			;
		pv->pid = 0;
	}
	pv->dead = true;
}

static void proc_vcpu_free(struct proc_vcpu *pv)
{
	proc_kill(pv);
	if (pv->uffd >= 0)
		close(pv->uffd);
	if (pv->wp_uffd >= 0)
		close(pv->wp_uffd);
	if (pv->pagemap >= 0)
		close(pv->pagemap);
	if (pv->start_sock >= 0)
		close(pv->start_sock);
	pthread_mutex_destroy(&pv->runs_lock);
	pthread_mutex_destroy(&pv->start_lock);
	if (pv->region)
		munmap(pv->region, PROC_REGION_SIZE);
	proc_runs_free(&pv->runs);
	proc_runs_free(&pv->scratch);
	proc_l1s_free(&pv->l1s);
	proc_l1s_free(&pv->l1s_scratch);
	proc_opbuf_free(&pv->ops);
	free(pv);
}

static void proc_vm_destroy(struct vm *vm)
{
	struct proc_vm *pvm = vm->backend_state;

	if (!pvm)
		return;
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		struct proc_vcpu *pv = pvm->vcpus[i];

		if (pv) {
			pv->v->backend_state = NULL;
			proc_vcpu_free(pv);
		}
	}
	pthread_mutex_destroy(&pvm->lock);
	pthread_mutex_destroy(&pvm->wlock);
	free(pvm->wgen);
	free(pvm->bpf);
	free(pvm);
	vm->backend_state = NULL;
}

/* Kernel ABI struct for rt_sigaction (not glibc's struct sigaction). */
struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

#define KSA_SIGINFO 0x4ull
#define KSA_ONSTACK 0x08000000ull
#define KSA_RESTORER 0x04000000ull

static __attribute__((noreturn)) void child_die(void)
{
	syscall(SYS_exit_group, PROC_STUB_EXIT_SETUP);
	__builtin_unreachable();
}

/*
 * The child's descriptors for save --live's tracking of its writes
 * (proc_dirty.h), made here, where the process can still make them (for
 * its own address space, user-mode faults only, as an unprivileged
 * process may), and sent to pvisor over sock, one message each, tagged:
 * 'u' a userfaultfd for synchronous write protection (and restore
 * --lazy's missing pages), 'w' one for asynchronous write protection,
 * 'p' its /proc/self/pagemap, which PAGEMAP_SCAN reads the written pages
 * of the second from.  A host without them: fewer messages, or none.
 */
static void child_send_one(int sock, char tag, long fd)
{
	struct iovec io = { &tag, 1 };
	union scm_one c;
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1 };

	if (fd < 0)
		return;
	scm_rights_put(&m, &c, (int)fd);
	syscall(SYS_sendmsg, sock, &m, MSG_DONTWAIT);
}

static void child_send_uffd(int sock)
{
	long pagemap;

	if (sock < 0)
		return;
	child_send_one(sock, 'u',
		       syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
	/* Refused under pvisor's Landlock rules (the process's /proc entry is
	 * not among them): then synchronous tracking only. */
	pagemap = syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap < 0)
		return;
	child_send_one(sock, 'p', pagemap);
	child_send_one(sock, 'w',
		       syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
}

/* pvisor's end: the descriptors the child sent into pv (each -1 if
 * absent or unusable: the userfaultfds are made ready here). */
static void recv_uffd(int sock, struct proc_vcpu *pv)
{
	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} c;
		char tag;
		struct iovec io = { &tag, 1 };
		struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1,
				    .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
		struct cmsghdr *h;
		int fd = -1, *slot;

		if (sock < 0 || recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 1)
			break;
		h = CMSG_FIRSTHDR(&m);
		if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
		    h->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(h), sizeof(fd));
		slot = tag == 'u' ? &pv->uffd : tag == 'w' ? &pv->wp_uffd
			: tag == 'p' ? &pv->pagemap : NULL;
		if (fd >= 0 && (!slot || *slot >= 0)) {
			close(fd);
			continue;
		}
		if (slot)
			*slot = fd;
	}
	if (pv->uffd >= 0 && proc_uffd_api(pv->uffd) < 0) {
		close(pv->uffd);
		pv->uffd = -1;
	}
	/* Asynchronous tracking needs both, and a host that has it. */
	if (pv->wp_uffd >= 0 && (pv->pagemap < 0 || proc_uffd_api_async(pv->wp_uffd) < 0)) {
		close(pv->wp_uffd);
		pv->wp_uffd = -1;
	}
	if (pv->wp_uffd < 0 && pv->pagemap >= 0) {
		close(pv->pagemap);
		pv->pagemap = -1;
	}
}

/*
 * The forked child, before any guest code: raw system calls only (it is a
 * copy of a multithreaded process).  Moves the stub region into place,
 * drops fds, installs the signal handlers, and jumps into the stub, which
 * drops the remaining mappings and loads the filter.
 */
static __attribute__((noreturn)) void proc_child(uint8_t *region, int memfd,
						 pid_t parent, int uffd_sock)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
				    SIGTRAP, SIGSYS, PROC_KICK_SIG };
	uint64_t zero = 0;
	struct ksigaction sa;
	stack_t ss;

	child_send_uffd(uffd_sock);
	/* glibc's rseq area lives in the TLS that is about to vanish; the
	 * kernel would raise SIGSEGV on the next preemption. */
	if (__rseq_size) {
		void *rs = (char *)__builtin_thread_pointer() + __rseq_offset;

		if (syscall(SYS_rseq, rs, __rseq_size, 1, RSEQ_SIG) &&
		    syscall(SYS_rseq, rs, 32, 1, RSEQ_SIG))
			child_die();
	}
	syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* A name users (and the tests) can find in ps. */
	syscall(SYS_prctl, PR_SET_NAME, "pvisor-guest", 0, 0, 0);
	syscall(SYS_setpgid, 0, 0); /* terminal signals are pvisor's */
	if (memfd > 0 && syscall(SYS_close_range, 0, memfd - 1, 0))
		child_die();
	if (syscall(SYS_close_range, memfd + 1, ~0u, 0))
		child_die();
	if (syscall(SYS_mremap, region, PROC_REGION_SIZE, PROC_REGION_SIZE,
		    MREMAP_MAYMOVE | MREMAP_FIXED,
		    PROC_STUB_BASE) != (long)PROC_STUB_BASE)
		child_die();
	if (syscall(SYS_mprotect, PROC_STUB_BASE, PROC_CODE_SIZE,
		    PROT_READ | PROT_EXEC))
		child_die();
	ss.ss_sp = (void *)(PROC_STUB_BASE + PROC_ALTSTACK_OFF);
	ss.ss_size = PROC_ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (syscall(SYS_sigaltstack, &ss, NULL))
		child_die();
	/* pvisor's handlers point at code that is about to vanish. */
	memset(&sa, 0, sizeof(sa));
	for (int s = 1; s <= 64; s++)
		if (s != SIGKILL && s != SIGSTOP)
			syscall(SYS_rt_sigaction, s, &sa, NULL, 8);
	sa.handler = proc_stub_addr(proc_stub_signal);
	sa.flags = KSA_SIGINFO | KSA_ONSTACK | KSA_RESTORER;
	sa.restorer = proc_stub_addr(proc_stub_restorer);
	sa.mask = 1ull << (PROC_KICK_SIG - 1);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (syscall(SYS_rt_sigaction, sigs[i], &sa, NULL, 8))
			child_die();
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &zero, NULL, 8) ||
	    syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		child_die();
	/* Guest code runs here natively: as the --user identity, with no
	 * capabilities (docs/security.md).  Then the parent-death signal:
	 * the kernel clears it when the identity changes (commit_creds), so
	 * set before, a guest process of `--user` outlived a killed pvisor,
	 * holding guest memory, forever. */
	sandbox_child_drop();
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) ||
	    syscall(SYS_getppid) != parent)
		child_die();
	__asm__ volatile("mov %0, %%rsp\n\tjmp *%1"
			 :
			 : "r"(PROC_STUB_BASE + PROC_STACK_OFF + PROC_STACK_SIZE),
			   "r"(proc_stub_addr(proc_stub_entry))
			 : "memory");
	__builtin_unreachable();
}

/* Has the process died?  Fills pv->why the first time. */
static bool proc_check_dead(struct proc_vcpu *pv)
{
	siginfo_t si;

	if (pv->dead)
		return true;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pv->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    si.si_pid == 0)
		return false;
	if (si.si_code == CLD_EXITED && si.si_status == PROC_STUB_EXIT_FAULT)
		snprintf(pv->why, sizeof(pv->why),
			 "guest process: stub fault (signal %u, trap %llu, "
			 "error %#llx, cr2 %#llx at stub+%#llx)",
			 __atomic_load_n(&pv->ctl->sig, __ATOMIC_RELAXED),
			 (unsigned long long)pv->ctl->trapno,
			 (unsigned long long)pv->ctl->err,
			 (unsigned long long)pv->ctl->cr2,
			 (unsigned long long)pv->ctl->fault_rip);
	else if (si.si_code == CLD_EXITED && si.si_status == PROC_STUB_EXIT_FSGS)
		snprintf(pv->why, sizeof(pv->why),
			 "guest process: arch_prctl refused fs base %#llx or gs "
			 "base %#llx (this host lacks FSGSBASE)",
			 (unsigned long long)pv->ctl->regs[18],
			 (unsigned long long)pv->ctl->regs[19]);
	else if (si.si_code == CLD_EXITED)
		snprintf(pv->why, sizeof(pv->why),
			 "guest process exited with status %#x", si.si_status);
	else
		snprintf(pv->why, sizeof(pv->why),
			 "guest process killed by signal %d (%s)", si.si_status,
			 strsignal(si.si_status));
	proc_kill(pv);
	return true;
}

/* Gives the stub a command (PROC_CMD_*). */
static void proc_ring(struct proc_vcpu *pv, uint32_t cmd)
{
	struct proc_ctl *c = pv->ctl;

	__atomic_store_n(&c->cmd, cmd, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->to_guest, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->guest_waiting, __ATOMIC_SEQ_CST))
		futex(&c->to_guest, FUTEX_WAKE, 1, NULL);
}

/*
 * Waits for the stub's next ring: polls, then sleeps in futex with a
 * timeout to notice a dead or wedged process.  0, or -EPIPE (pv->why says
 * why) or -ETIMEDOUT past `deadline` (0: none).
 */
static int proc_wait(struct proc_vcpu *pv, uint32_t spin, uint64_t deadline)
{
	struct proc_ctl *c = pv->ctl;
	uint32_t seen = pv->host_seq;
	const struct timespec ts = { 0, PROC_SLEEP_NS };
	int ret = 0;

	for (uint32_t n = spin; n; n--) {
		if (__atomic_load_n(&c->to_host, __ATOMIC_ACQUIRE) != seen)
			goto got;
		__builtin_ia32_pause();
	}
	for (;;) {
		__atomic_store_n(&c->host_waiting, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&c->to_host, __ATOMIC_SEQ_CST) != seen)
			break;
		futex(&c->to_host, FUTEX_WAIT, seen, &ts);
		if (__atomic_load_n(&c->to_host, __ATOMIC_SEQ_CST) != seen)
			break;
		if (proc_check_dead(pv)) {
			ret = -EPIPE;
			break;
		}
		uint64_t t = now_ns(), k = atomic_load(&pv->kick_since);
		if (deadline && t > deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		if (k && t - k > PROC_KICK_NS && atomic_load(&pv->in_guest)) {
			snprintf(pv->why, sizeof(pv->why),
				 "guest process does not answer kicks");
			proc_kill(pv);
			ret = -EPIPE;
			break;
		}
	}
	__atomic_store_n(&c->host_waiting, 0, __ATOMIC_RELAXED);
	if (ret)
		return ret;
got:
	pv->host_seq = __atomic_load_n(&c->to_host, __ATOMIC_ACQUIRE);
	return 0;
}

/*
 * The kernel queues a new process on its parent's CPU (sched_wakeup_new
 * said so in every trace on this 2-CPU host), where it waited for pvisor
 * to sleep; moved to another CPU, its set-up runs beside the domain's
 * build.  Its affinity is given back when it is ready.
 */
static void start_elsewhere(pid_t pid)
{
	cpu_set_t cpus;
	int here = sched_getcpu();

	if (here < 0 || sched_getaffinity(0, sizeof(cpus), &cpus) < 0 ||
	    CPU_COUNT(&cpus) < 2)
		return;
	CPU_CLR(here, &cpus);
	sched_setaffinity(pid, sizeof(cpus), &cpus);
}

static void start_done_anywhere(pid_t pid)
{
	cpu_set_t cpus;

	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		sched_setaffinity(pid, sizeof(cpus), &cpus);
}

static int proc_vcpu_init(struct vcpu *v)
{
	struct proc_vm *pvm = v->vm->backend_state;
	struct proc_vcpu *pv;
	pid_t parent = getpid();
	int uffd_sock[2] = { -1, -1 };
	int err;

	if (!pvm || v->id >= VM_MAX_VCPUS)
		return -EINVAL;
	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return -ENOMEM;
	pv->v = v;
	pv->uffd = pv->wp_uffd = pv->pagemap = pv->start_sock = -1;
	pthread_mutex_init(&pv->runs_lock, NULL);
	pthread_mutex_init(&pv->start_lock, NULL);
	pv->region = mmap(NULL, PROC_REGION_SIZE, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pv->region == MAP_FAILED) {
		pv->region = NULL;
		err = -errno;
		goto fail;
	}
	pv->ctl = (struct proc_ctl *)(pv->region + PROC_CTL_OFF);
	memcpy(pv->region + PROC_CODE_OFF, proc_stub_start,
	       (size_t)(proc_stub_end - proc_stub_start));
	memcpy(pv->region + PROC_BPF_OFF, pvm->bpf,
	       pvm->bpf_len * sizeof(pvm->bpf[0]));
	pv->ctl->memfd = (uint64_t)v->vm->mem.memfd;
	pv->ctl->fprog.len = (unsigned short)pvm->bpf_len;
	pv->ctl->fprog.filter =
		(struct sock_filter *)(uintptr_t)(PROC_STUB_BASE + PROC_BPF_OFF);
	pv->ctl->spin = pvm->spin_iters;
	pv->ctl->flags = pvm->fsgsbase ? CTL_F_FSGSBASE : 0;
	pv->ctl->loaded_fs = PROC_BASE_UNKNOWN;
	pv->ctl->loaded_gs = PROC_BASE_UNKNOWN;
	atomic_store(&pv->dirty, true);
	atomic_store(&pv->full, true);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, uffd_sock) < 0)
		uffd_sock[0] = uffd_sock[1] = -1;
	/* A bare clone, not glibc's fork: its handlers (malloc's arenas, the
	 * thread list, stdio) would run in the child, a copy of a
	 * multithreaded process in which each first write to a page is a
	 * copy-on-write fault, for nothing: the child makes raw system
	 * calls only and drops all of that memory.  Its first system call
	 * came 1.1-1.7 ms after the fork, now 0.6 (nested host). */
	pv->pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL,
				 NULL, 0UL);
	if (pv->pid < 0) {
		err = -errno;
		pv->pid = 0;
		goto fail;
	}
	if (pv->pid == 0)
		proc_child(pv->region, v->vm->mem.memfd, parent, uffd_sock[1]);
	if (uffd_sock[1] >= 0)
		close(uffd_sock[1]);
	uffd_sock[1] = -1;

	/* The child's set-up (1-3 ms on a nested host: copy-on-write
	 * faults, the unmapping of what it inherited, its filter) runs
	 * beside the domain's build or restore: its READY is awaited
	 * before the first run (vm_vcpus_ready), proc_vcpu_started. */
	start_elsewhere(pv->pid);
	pv->start_sock = uffd_sock[0];
	uffd_sock[0] = -1;
	pv->start_deadline = now_ns() + PROC_START_NS;
	pthread_mutex_lock(&pvm->lock);
	if (pvm->vcpus[v->id]) {
		pthread_mutex_unlock(&pvm->lock);
		err = -EEXIST;
		goto fail;
	}
	pvm->vcpus[v->id] = pv;
	pthread_mutex_unlock(&pvm->lock);
	v->backend_state = pv;
	return 0;
fail:
	for (unsigned i = 0; i < 2; i++)
		if (uffd_sock[i] >= 0)
			close(uffd_sock[i]);
	proc_vcpu_free(pv);
	return err;
}

int proc_vcpu_started(struct proc_vcpu *pv)
{
	int err;

	if (atomic_load_explicit(&pv->started, memory_order_acquire))
		return pv->start_err;
	pthread_mutex_lock(&pv->start_lock);
	if (!atomic_load_explicit(&pv->started, memory_order_relaxed)) {
		err = proc_wait(pv, 0, pv->start_deadline);
		if (!err && __atomic_load_n(&pv->ctl->exit, __ATOMIC_RELAXED) !=
				    PROC_EXIT_READY) {
			snprintf(pv->why, sizeof(pv->why),
				 "guest process: no READY from its set-up");
			err = -EPROTO;
		}
		if (err) {
			if (!pv->why[0])
				snprintf(pv->why, sizeof(pv->why), "%s", strerror(-err));
			log_error("proc: guest process did not start: %s", pv->why);
			proc_kill(pv);
		} else {
			recv_uffd(pv->start_sock, pv);
			start_done_anywhere(pv->pid);
		}
		close(pv->start_sock);
		pv->start_sock = -1;
		pv->start_err = err;
		atomic_store_explicit(&pv->started, true, memory_order_release);
	}
	err = pv->start_err;
	pthread_mutex_unlock(&pv->start_lock);
	return err;
}

static int proc_vcpu_wait_ready(struct vcpu *v)
{
	return proc_vcpu_started(v->backend_state);
}

static void proc_vcpu_destroy(struct vcpu *v)
{
	struct proc_vm *pvm = v->vm->backend_state;
	struct proc_vcpu *pv = v->backend_state;

	if (!pv)
		return;
	if (pvm) {
		pthread_mutex_lock(&pvm->lock);
		if (v->id < VM_MAX_VCPUS && pvm->vcpus[v->id] == pv)
			pvm->vcpus[v->id] = NULL;
		pthread_mutex_unlock(&pvm->lock);
	}
	v->backend_state = NULL;
	proc_vcpu_free(pv);
}

/*
 * Entry i, 32 bytes, keeps rcx and r11 as Xen's page does (it wraps its
 * syscall in push/pop): push %rcx; push %r11; mov $i,%eax;
 * lea resume(%rip),%rcx; movabs $stub,%r11; jmp *%r11;
 * resume: pop %r11; pop %rcx; ret.  Entry __HYPERVISOR_iret pushes rcx,
 * r11, rax (struct iret_context at rsp, as Xen's) and has nothing to
 * return to.
 */
static void proc_fill_hypercall_page(struct vm *vm, uint8_t *page)
{
	static const uint8_t lea[] = { 0x48, 0x8d, 0x0d, 13, 0, 0, 0 };
	uint64_t stub = proc_stub_addr(proc_stub_hypercall);

	memset(page, 0xcc, PAGE_SIZE);
	for (unsigned i = 0; i < PAGE_SIZE / 32; i++) {
		uint8_t *p = page + i * 32;
		bool iret = i == __HYPERVISOR_iret;

		*p++ = 0x51;                     /* push %rcx */
		*p++ = 0x41;
		*p++ = 0x53;                     /* push %r11 */
		if (iret)
			*p++ = 0x50;             /* push %rax */
		*p++ = 0xb8;                     /* mov $i, %eax */
		memcpy(p, &i, 4);
		p += 4;
		memcpy(p, lea, sizeof(lea));     /* lea 13(%rip), %rcx */
		p += sizeof(lea);
		*p++ = 0x49;
		*p++ = 0xbb;                     /* movabs $stub, %r11 */
		memcpy(p, &stub, 8);
		p += 8;
		*p++ = 0x41;
		*p++ = 0xff;
		*p++ = 0xe3;                     /* jmp *%r11 */
		if (iret) {
			*p++ = 0x0f;
			*p++ = 0x0b;             /* ud2 */
			continue;
		}
		*p++ = 0x41;
		*p++ = 0x5b;                     /* pop %r11 */
		*p++ = 0x59;                     /* pop %rcx */
		*p++ = 0xc3;                     /* ret */
	}
}

static bool proc_l4_slot_reserved(const struct vm *vm, unsigned slot)
{
	return (uint64_t)slot << 39 >= PVISOR_GUEST_VA_LIMIT;
}

static uint64_t proc_l4_slot_entry(const struct vm *vm, unsigned slot)
{
	return 0;
}

static bool mirror_stale(struct proc_vcpu *pv)
{
	struct proc_vm *pvm = pv->v->vm->backend_state;

	return atomic_load(&pv->dirty) ||
	       atomic_load(&pvm->pt_gen) != pv->synced_gen;
}

/* "mapping update failed" from the stub's answer to a batch. */
static int ops_failed(struct proc_vcpu *pv)
{
	snprintf(pv->why, sizeof(pv->why),
		 "guest process: mapping update failed: %s",
		 strerror((int)-(int64_t)pv->ctl->op_err));
	return -EPROTO;
}

/*
 * Brings the guest process's mappings in line with the page tables.  The
 * last batch (the only one, mostly) is left staged in the region for the
 * resume to carry (PROC_CMD_OPS_RESUME): one round trip, not two.
 */
static int proc_sync(struct proc_vcpu *pv)
{
	struct proc_vm *pvm = pv->v->vm->backend_state;
	struct proc_ctl *c = pv->ctl;
	struct proc_walk_prev prev = {
		.runs = &pv->runs, .l1s = &pv->l1s, .wgen = pvm->wgen,
		.since = pv->synced_gen,
	};
	struct proc_lazy *lazy = __atomic_load_n(&pvm->lazy, __ATOMIC_ACQUIRE);
	struct proc_runs tmp;
	struct proc_l1s tmp_l1s;
	int err;

	if (!mirror_stale(pv))
		return 0;
	atomic_store(&pv->dirty, false);
	pv->synced_gen = atomic_load(&pvm->pt_gen);
	pv->scratch.n = 0;
	pv->l1s_scratch.n = 0;
	if (pv->have_l4) {
		err = proc_mirror_walk_from(&pv->v->vm->mem, pv->l4_mfn,
					    atomic_load(&pv->full) ? NULL : &prev,
					    &pv->l1s_scratch, &pv->scratch);
		if (err)
			return err;
	}
	atomic_store(&pv->full, false);
	pv->ops.n = 0;
	err = proc_mirror_diff(&pv->runs, &pv->scratch, &pv->ops);
	if (err)
		return err;
	for (size_t off = 0; off < pv->ops.n; off += PROC_MAX_OPS) {
		size_t k = pv->ops.n - off;

		if (k > PROC_MAX_OPS)
			k = PROC_MAX_OPS;
		memcpy(pv->region + PROC_OPS_OFF, pv->ops.v + off,
		       k * sizeof(struct proc_op));
		c->nr_ops = k;
		c->op_err = 0;
		/* restore --lazy: the new mappings are registered before
		 * guest code runs, so the last batch goes now too. */
		if (off + k == pv->ops.n && !lazy) {
			pv->ops_staged = true;
			break;
		}
		proc_ring(pv, PROC_CMD_OPS);
		err = proc_wait(pv, pvm->spin_iters, 0);
		if (err)
			return err;
		if (__atomic_load_n(&c->exit, __ATOMIC_RELAXED) !=
		    PROC_EXIT_OPS_DONE) {
			snprintf(pv->why, sizeof(pv->why),
				 "guest process broke the mirror protocol");
			return -EPROTO;
		}
		if (c->op_err)
			return ops_failed(pv);
	}
	pthread_mutex_lock(&pv->runs_lock); /* proc_dirty.c looks faults up */
	tmp = pv->runs;
	pv->runs = pv->scratch;
	pv->scratch = tmp;
	if (pv->ops.n)
		pv->runs_gen++;
	pthread_mutex_unlock(&pv->runs_lock);
	proc_dirty_note_sync(pv, &pv->scratch); /* the runs before */
	if (lazy)
		return proc_lazy_note_sync(pv);
	tmp_l1s = pv->l1s;
	pv->l1s = pv->l1s_scratch;
	pv->l1s_scratch = tmp_l1s;
	return 0;
}

static void regs_to_ctl(struct proc_ctl *c, const struct regs *r)
{
	uint64_t *q = c->regs;

	q[0] = r->rax; q[1] = r->rbx; q[2] = r->rcx; q[3] = r->rdx;
	q[4] = r->rsi; q[5] = r->rdi; q[6] = r->rbp; q[7] = r->rsp;
	q[8] = r->r8; q[9] = r->r9; q[10] = r->r10; q[11] = r->r11;
	q[12] = r->r12; q[13] = r->r13; q[14] = r->r14; q[15] = r->r15;
	q[16] = r->rip; q[17] = r->rflags; q[18] = r->fs_base;
	q[19] = r->gs_base;
}

static void regs_from_ctl(struct regs *r, const struct proc_ctl *c)
{
	uint64_t q[20];

	/* One copy of what the guest process published. */
	memcpy(q, c->regs, sizeof(q));
	r->rax = q[0]; r->rbx = q[1]; r->rcx = q[2]; r->rdx = q[3];
	r->rsi = q[4]; r->rdi = q[5]; r->rbp = q[6]; r->rsp = q[7];
	r->r8 = q[8]; r->r9 = q[9]; r->r10 = q[10]; r->r11 = q[11];
	r->r12 = q[12]; r->r13 = q[13]; r->r14 = q[14]; r->r15 = q[15];
	r->rip = q[16]; r->rflags = q[17]; r->fs_base = q[18];
	r->gs_base = q[19];
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int fatal(struct vexit *exit, const char *why)
{
	exit->kind = VEXIT_FATAL;
	snprintf(exit->message, sizeof(exit->message), "%s", why);
	return 0;
}

/* Vectors that push an error code. */
static bool has_error_code(unsigned vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21;
}

static int proc_vcpu_run(struct vcpu *v, struct vexit *exit)
{
	struct proc_vcpu *pv = v->backend_state;
	struct proc_vm *pvm = v->vm->backend_state;
	struct proc_ctl *c;
	int err;

	memset(exit, 0, sizeof(*exit));
	if (!pv || !pvm)
		return -EINVAL;
	c = pv->ctl;
	if (proc_vcpu_started(pv) < 0 || pv->dead || proc_check_dead(pv))
		return fatal(exit, pv->why);

	atomic_store(&pv->in_guest, true);
	if (atomic_exchange(&pv->kick_pending, false)) {
		atomic_store(&pv->kick_since, 0);
		exit->kind = VEXIT_KICK;
		goto out;
	}
	/* What hardware would do with these before running any code. */
	if (!canonical(v->regs.rip) || !canonical(v->regs.fs_base) ||
	    !canonical(v->regs.gs_base)) {
		exit->kind = VEXIT_EXCEPTION;
		exit->vector = 13;
		goto out;
	}
	if (!pvm->fsgsbase && (v->regs.fs_base >= PROC_USER_TOP ||
			       v->regs.gs_base >= PROC_USER_TOP)) {
		snprintf(pv->why, sizeof(pv->why),
			 "fs base %#llx / gs base %#llx: a base above the host's "
			 "user address space needs FSGSBASE, which this host "
			 "lacks", (unsigned long long)v->regs.fs_base,
			 (unsigned long long)v->regs.gs_base);
		fatal(exit, pv->why);
		goto out;
	}
	if (v->regs.rip >= PVISOR_GUEST_VA_LIMIT) {
		exit->kind = VEXIT_EXCEPTION;
		exit->vector = 14;
		exit->error_code = 0x14; /* user, instruction fetch */
		exit->cr2 = v->regs.rip;
		goto out;
	}

	for (;;) {
		err = proc_sync(pv);
		if (err) {
			if (!pv->why[0])
				snprintf(pv->why, sizeof(pv->why),
					 "mirror sync: %s", strerror(-err));
			proc_kill(pv);
			fatal(exit, pv->why);
			goto out;
		}
		regs_to_ctl(c, &v->regs);
		proc_ring(pv, pv->ops_staged ? PROC_CMD_OPS_RESUME : PROC_CMD_RESUME);
		pv->ops_staged = false;
		err = proc_wait(pv, pvm->spin_iters, 0);
		if (err) {
			fatal(exit, pv->why);
			goto out;
		}
		uint32_t why = __atomic_load_n(&c->exit, __ATOMIC_RELAXED);
		uint32_t sig = __atomic_load_n(&c->sig, __ATOMIC_RELAXED);

		if (why == PROC_EXIT_OPS_DONE) {
			/* The staged batch failed; the guest did not run. */
			if (!c->op_err)
				snprintf(pv->why, sizeof(pv->why),
					 "guest process broke the mirror protocol");
			else
				ops_failed(pv);
			proc_kill(pv);
			fatal(exit, pv->why);
			break;
		}
		regs_from_ctl(&v->regs, c);

		if (why == PROC_EXIT_HYPERCALL) {
			exit->kind = VEXIT_HYPERCALL;
			break;
		}
		if (why == PROC_EXIT_SIGNAL && sig != PROC_KICK_SIG) {
			uint64_t vec = c->trapno;

			if (sig == SIGSYS) {
				if ((uint32_t)c->sysarch == AUDIT_ARCH_X86_64_) {
					exit->kind = VEXIT_SYSCALL;
					exit->syscall_nr = (long)c->sysnr;
				} else {
					/* int $0x80, run by the host as a 32-bit
					 * system call (xen/softint.c). */
					exit->kind = VEXIT_EXCEPTION;
					exit->vector = 0x80;
				}
				break;
			}
			if (vec >= 32) {
				snprintf(pv->why, sizeof(pv->why),
					 "guest process: signal %u with trap %llu",
					 sig, (unsigned long long)vec);
				fatal(exit, pv->why);
				break;
			}
			/* A fault on a mapping the mirror has yet to pick up
			 * is retried after the sync, as a TLB miss would. */
			if (vec == 14 && mirror_stale(pv))
				continue;
			exit->kind = VEXIT_EXCEPTION;
			exit->vector = (unsigned)vec;
			if (has_error_code(exit->vector))
				exit->error_code = (uint32_t)c->err;
			if (vec == 14)
				exit->cr2 = c->cr2;
			break;
		}
		if (why == PROC_EXIT_SIGNAL || why == PROC_EXIT_KICK) {
			/* A kick; one that vcpu_run already reported (or a
			 * late signal) just resumes. */
			if (atomic_exchange(&pv->kick_pending, false)) {
				atomic_store(&pv->kick_since, 0);
				exit->kind = VEXIT_KICK;
				break;
			}
			continue;
		}
		snprintf(pv->why, sizeof(pv->why),
			 "guest process: bad doorbell exit %u", why);
		proc_kill(pv);
		fatal(exit, pv->why);
		break;
	}
out:
	atomic_store(&pv->in_guest, false);
	return 0;
}

static void proc_vcpu_kick(struct vcpu *v)
{
	struct proc_vcpu *pv = v->backend_state;
	uint64_t zero = 0;

	if (!pv)
		return;
	atomic_store(&pv->kick_pending, true);
	if (atomic_load(&pv->in_guest) && pv->pid > 0) {
		atomic_compare_exchange_strong(&pv->kick_since, &zero, now_ns());
		kill(pv->pid, PROC_KICK_SIG);
	}
}

static int proc_pt_write(struct vcpu *v, uint64_t gpa, uint64_t val)
{
	struct proc_vm *pvm = v->vm->backend_state;
	uint64_t *p;

	if (gpa & 7)
		return -EINVAL;
	p = gmem_ptr(&v->vm->mem, gpa, sizeof(*p));
	if (!p)
		return -EFAULT;
	/* The frame (and the one whose link goes away, proc_mirror.h) is
	 * marked changing before the entry changes, and gets its generation
	 * after pt_gen moved: a walk that finds it unchanged saw the entry,
	 * or one that comes later sees the generation.  Any vCPU may map
	 * this table: all of them re-walk. */
	pthread_mutex_lock(&pvm->wlock);
	uint64_t gone = proc_mirror_unlinked(__atomic_load_n(p, __ATOMIC_RELAXED), val);
	uint64_t *gone_gen = gone < v->vm->mem.nr_frames ? &pvm->wgen[gone] : NULL;

	__atomic_store_n(&pvm->wgen[gpa >> PAGE_SHIFT], UINT64_MAX, __ATOMIC_SEQ_CST);
	if (gone_gen)
		__atomic_store_n(gone_gen, UINT64_MAX, __ATOMIC_SEQ_CST);
	__atomic_store_n(p, val, __ATOMIC_SEQ_CST);
	uint64_t g = atomic_fetch_add(&pvm->pt_gen, 1) + 1;
	__atomic_store_n(&pvm->wgen[gpa >> PAGE_SHIFT], g, __ATOMIC_SEQ_CST);
	if (gone_gen)
		__atomic_store_n(gone_gen, g, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&pvm->wlock);
	return 0;
}

static int proc_set_baseptr(struct vcpu *v, uint64_t l4_mfn)
{
	struct proc_vcpu *pv = v->backend_state;

	if (!pv)
		return -EINVAL;
	if (!gmem_is_frame(&v->vm->mem, l4_mfn))
		return -EINVAL;
	/* Another root: nothing of the last walk applies.  The same one
	 * again (a flush, a mode switch back) keeps what did not change. */
	if (!pv->have_l4 || pv->l4_mfn != l4_mfn)
		atomic_store(&pv->full, true);
	pv->l4_mfn = l4_mfn;
	pv->have_l4 = true;
	atomic_store(&pv->dirty, true);
	return 0;
}

/* The old domain's mappings go at each process's next sync (no L4: the
 * mirror is empty); the stub, its filter and the memfd stay. */
static void proc_vm_reset(struct vm *vm)
{
	struct proc_vm *pvm = vm->backend_state;

	if (!pvm)
		return;
	pthread_mutex_lock(&pvm->lock);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		struct proc_vcpu *pv = pvm->vcpus[i];

		if (!pv)
			continue;
		pv->have_l4 = false;
		pv->l4_mfn = 0;
		atomic_store(&pv->full, true);
		atomic_store(&pv->dirty, true);
	}
	pthread_mutex_unlock(&pvm->lock);
	atomic_fetch_add(&pvm->pt_gen, 1);
}

static int proc_flush_tlb(struct vcpu *v, uint64_t va, bool all)
{
	struct proc_vcpu *pv = v->backend_state;

	if (!pv)
		return -EINVAL;
	atomic_store(&pv->dirty, true);
	return 0;
}

bool proc_vm_uses_fsgsbase(const struct vm *vm)
{
	const struct proc_vm *pvm = vm->backend_state;

	return pvm && pvm->fsgsbase;
}

uint64_t proc_vcpu_fsgs_loads(const struct vcpu *v)
{
	const struct proc_vcpu *pv = v->backend_state;

	return pv ? __atomic_load_n(&pv->ctl->fsgs_loads, __ATOMIC_RELAXED) : 0;
}

const struct backend_ops backend_proc = {
	.name = "proc",
	.probe = proc_probe,
	.vm_init = proc_vm_init,
	.vm_destroy = proc_vm_destroy,
	.vcpu_init = proc_vcpu_init,
	.vcpu_wait_ready = proc_vcpu_wait_ready,
	.vcpu_destroy = proc_vcpu_destroy,
	.fill_hypercall_page = proc_fill_hypercall_page,
	.l4_slot_reserved = proc_l4_slot_reserved,
	.l4_slot_entry = proc_l4_slot_entry,
	.vcpu_run = proc_vcpu_run,
	.vcpu_kick = proc_vcpu_kick,
	.pt_write = proc_pt_write,
	.set_baseptr = proc_set_baseptr,
	.flush_tlb = proc_flush_tlb,
	.vm_reset = proc_vm_reset,
	.dirty_start = proc_dirty_start,
	.dirty_collect = proc_dirty_collect,
	.dirty_stop = proc_dirty_stop,
	.lazy_begin = proc_lazy_begin,
	.lazy_end = proc_lazy_end,
};
