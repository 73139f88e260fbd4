/*
 * seccomp filters from the lists of sandbox_policy.c, plus the calls whose
 * arguments are checked: which ioctls, which socket families, threads but
 * no processes, which signals, no new executable memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/userfaultfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "backend/kvm/kvm_layout.h"
#include "backend/proc/proc_layout.h"
#include "core/bpf_prog.h"
#include "core/sandbox_policy.h"

/* linux/fs.h's PAGEMAP_SCAN (Linux 6.7; newer than Debian 12's headers):
 * _IOWR('f', 16, struct pm_scan_arg), a 96-byte struct. */
#define PAGEMAP_SCAN_ 0xc0606610ul

/* What a vCPU asks of its KVM vCPU descriptor while the guest runs (the VM
 * is built during set-up). */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS,
	KVM_GET_VCPU_EVENTS, KVM_SET_MSRS, KVM_SET_XCRS,
};

/* The terminal, put back from raw mode at exit by the main thread. */
static const unsigned long tty_ioctls[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, FIONBIO,
};

/* libslirp: bytes waiting on a UDP socket, non-blocking mode. */
static const unsigned long socket_ioctls[] = { FIONREAD, FIONBIO };
/* save --live's dirty tracking (core/dirty_log.c, backend/proc/
 * proc_dirty.c): on the control API's worker, its tracker thread and the
 * vCPU that takes the final look. */
static const unsigned long dirty_ioctls[] = {
	UFFDIO_REGISTER, UFFDIO_UNREGISTER, UFFDIO_WRITEPROTECT, UFFDIO_WAKE,
	PAGEMAP_SCAN_,
};
/* The userfaultfd page servers: restore --lazy's missing pages copied in
 * from the snapshot, save --live's write faults lifted. */
static const unsigned long memory_ioctls[] = {
	UFFDIO_COPY, UFFDIO_WAKE, UFFDIO_UNREGISTER, UFFDIO_WRITEPROTECT,
};
/* A hot-plugged disk on a block device: its size. */
static const unsigned long blockdev_ioctls[] = { BLKGETSIZE64 };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int allow_names(scmp_filter_ctx ctx, const char *const *names)
{
	for (; *names; names++) {
		int nr = seccomp_syscall_resolve_name(*names);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not a call on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -EINVAL;
	}
	return 0;
}

static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *cmds,
			size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, cmds[i])) < 0)
			return -EINVAL;
	return 0;
}

/* mmap and mprotect without PROT_EXEC: no thread makes new code. */
static int allow_no_exec_memory(scmp_filter_ctx ctx)
{
	int r = 0;

	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return r ? -EINVAL : 0;
}

/* Threads of this process, never a new process (clone3 says ENOSYS, so
 * that glibc falls back to clone, whose flags a filter can read). */
static int allow_threads(scmp_filter_ctx ctx)
{
	int r = 0;

	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				      CLONE_THREAD));
	return r ? -EINVAL : 0;
}

/* What sandbox_thread() does in a thread this one starts: its name, no
 * ambient capabilities, no new privileges, then its filter (seccomp). */
static int allow_narrowing(scmp_filter_ctx ctx)
{
	static const int opts[] = { PR_SET_NAME, PR_CAP_AMBIENT, PR_SET_NO_NEW_PRIVS,
				    PR_GET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_GET_SECCOMP };
	int r = 0;

	for (size_t i = 0; i < NELEM(opts); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, (uint64_t)opts[i]));
	return r ? -EINVAL : 0;
}

/* Kicks, from every thread that notifies the guest: the proc backend's
 * signal to a guest process, kvm's to a vCPU thread of ours. */
static int allow_kicks(scmp_filter_ctx ctx, uint32_t pid)
{
	int r = 0;

	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
			      SCMP_A1(SCMP_CMP_EQ, PROC_KICK_SIG));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
			      SCMP_A0(SCMP_CMP_EQ, (uint64_t)pid),
			      SCMP_A2(SCMP_CMP_EQ, (uint64_t)KVM_SIG_KICK));
	/* abort() on an assertion: its report beats a SIGSYS. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
			      SCMP_A0(SCMP_CMP_EQ, (uint64_t)pid),
			      SCMP_A2(SCMP_CMP_EQ, SIGABRT));
	return r ? -EINVAL : 0;
}

/* Tearing a proc guest process down. */
static int allow_kill_guest(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				SCMP_A1(SCMP_CMP_EQ, SIGKILL)) < 0 ? -EINVAL : 0;
}

/* libslirp's sockets: IP only (no netlink, no packet sockets). */
static int allow_ip_sockets(scmp_filter_ctx ctx)
{
	int r = 0;

	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_INET));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	return r ? -EINVAL : 0;
}

/* fcntl for status and descriptor flags only (O_NONBLOCK, FD_CLOEXEC). */
static int allow_fd_flags(scmp_filter_ctx ctx)
{
	static const int cmds[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD };
	int r = 0;

	for (size_t i = 0; i < NELEM(cmds); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, (uint64_t)cmds[i]));
	return r ? -EINVAL : 0;
}

/* 9P's lock and getlock: POSIX record locks, and a descriptor duplicate. */
static int allow_file_locks(scmp_filter_ctx ctx)
{
	static const int cmds[] = { F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK,
				    F_OFD_SETLK, F_OFD_SETLKW, F_DUPFD_CLOEXEC };
	int r = 0;

	for (size_t i = 0; i < NELEM(cmds); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, (uint64_t)cmds[i]));
	return r ? -EINVAL : 0;
}

static int add_role_rules(scmp_filter_ctx ctx, enum sandbox_role role,
			  uint32_t pid)
{
	int r = allow_no_exec_memory(ctx);

	r |= allow_fd_flags(ctx);
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			      SCMP_A0(SCMP_CMP_EQ, PR_SET_TIMERSLACK));
	if (role != SANDBOX_ROLE_BLOCK_IO)
		r |= allow_kicks(ctx, pid);
	switch (role) {
	case SANDBOX_ROLE_VCPU:
		r |= allow_ioctls(ctx, vcpu_ioctls, NELEM(vcpu_ioctls));
		r |= allow_ioctls(ctx, tty_ioctls, NELEM(tty_ioctls));
		r |= allow_ioctls(ctx, dirty_ioctls, NELEM(dirty_ioctls));
		r |= allow_kill_guest(ctx);
		break;
	case SANDBOX_ROLE_EVENTS:
		r |= allow_ioctls(ctx, tty_ioctls, NELEM(tty_ioctls));
		r |= allow_kill_guest(ctx);
		r |= allow_threads(ctx);
		break;
	case SANDBOX_ROLE_NET:
		r |= allow_ip_sockets(ctx);
		r |= allow_ioctls(ctx, socket_ioctls, NELEM(socket_ioctls));
		break;
	case SANDBOX_ROLE_FS:
		r |= allow_file_locks(ctx);
		break;
	case SANDBOX_ROLE_HOTPLUG:
		r |= allow_threads(ctx);
		r |= allow_narrowing(ctx);
		r |= allow_file_locks(ctx); /* the image's OFD lock */
		r |= allow_ioctls(ctx, blockdev_ioctls, NELEM(blockdev_ioctls));
		r |= allow_ioctls(ctx, dirty_ioctls, NELEM(dirty_ioctls));
		break;
	case SANDBOX_ROLE_MEMORY:
		r |= allow_ioctls(ctx, memory_ioctls, NELEM(memory_ioctls));
		break;
	case SANDBOX_ROLE_BLOCK:
	case SANDBOX_ROLE_BLOCK_IO:
	case SANDBOX_NR_ROLES:
		break;
	}
	return r ? -EINVAL : 0;
}

/* Set-up: the union of the roles, and what building the domain needs,
 * without argument checks (no guest code has run yet). */
static int add_setup_rules(scmp_filter_ctx ctx)
{
	static const char *const checked[] = {
		"ioctl", "socket", "clone", "kill", "tgkill", "fcntl", "prctl",
		"mmap", "mprotect", NULL,
	};
	int r = allow_names(ctx, sandbox_policy_setup());

	for (unsigned i = 0; i < SANDBOX_NR_ROLES; i++)
		r |= allow_names(ctx, sandbox_policy_role(i));
	r |= allow_names(ctx, checked);
	return r ? -EINVAL : 0;
}

int sandbox_seccomp_compile(int role, bool log, uint32_t pid,
			    struct sock_filter *prog, size_t max, size_t *len)
{
	scmp_filter_ctx ctx = seccomp_init(log ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	int rc;

	if (!ctx)
		return -ENOMEM;
	/* Binary search over the allowed calls: every guest exit of the proc
	 * backend passes this filter. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	rc = allow_names(ctx, sandbox_policy_common());
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				      SCMP_SYS(clone3), 0) < 0 ? -EINVAL : 0;
	if (!rc)
		rc = role < 0 ? add_setup_rules(ctx)
			      : allow_names(ctx, sandbox_policy_role(role));
	if (!rc && role >= 0)
		rc = add_role_rules(ctx, (enum sandbox_role)role, pid);
	if (!rc)
		rc = bpf_export(ctx, prog, 0, max, len);
	seccomp_release(ctx);
	return rc;
}
