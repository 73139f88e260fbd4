/*
 * The system calls each of pvisor's threads may make (docs/security.md has
 * the same lists with the reason for each).  Names, not numbers, so that
 * the lists read as the audit asks: "why may the block thread call this?".
 * Calls whose arguments matter (ioctl, socket, clone, kill, fcntl, prctl)
 * are not here but in sandbox_seccomp.c, with their argument checks.
 */
#include <stddef.h>

#include "core/sandbox_policy.h"

/* What any thread of a C program does: memory, locks, time, exit, and the
 * reads and writes on descriptors it already holds (mmap and mprotect are
 * in sandbox_seccomp.c: without PROT_EXEC). */
static const char *const common_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"futex", "munmap", "madvise", "brk", "mremap",
	"rt_sigreturn", "rt_sigprocmask", "exit", "exit_group",
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettid", "getpid",
	"sched_yield", "sched_getaffinity", "restart_syscall", "getrandom",
	"poll", "ppoll", "fstat", "newfstatat", "lseek", "rseq",
	"set_robust_list", "sigaltstack", "getuid", "geteuid", "getgid",
	"getegid",
	NULL,
};

/* A vCPU: the backend's run call (kvm ioctls, sandbox_seccomp.c; proc's
 * doorbell is a futex), waiting for events, kicking the guest process.
 * vCPU 0 is the main thread, which tears the VM down at the end: it
 * removes pvisor's sockets (Landlock allows that in their directories
 * only). */
static const char *const vcpu_calls[] = {
	"wait4", "waitid", "eventfd2", "unlink",
	/* the vCPU that suspends writes the snapshot (core/snapshot_save.c) */
	"ftruncate", "fsync",
	NULL,
};

/* The event loop: timers, the terminal, signals, the xenstore and control
 * sockets (accept only: they were bound during set-up). */
static const char *const events_calls[] = {
	"accept4", "accept", "recvfrom", "sendto", "recvmsg", "sendmsg",
	"getsockopt", "shutdown", "rt_sigtimedwait", "wait4", "waitid",
	"timerfd_settime", "timerfd_gettime", "eventfd2",
	NULL,
};

/* A disk's ring thread: io_uring submissions and completions, flushes
 * and hole punches when the engine runs them inline. */
static const char *const block_calls[] = {
	"io_uring_enter", "preadv", "pwritev", "preadv2", "pwritev2",
	"fdatasync", "fsync", "fallocate", "eventfd2",
	NULL,
};

/* A thread-pool worker: the image I/O itself. */
static const char *const block_io_calls[] = {
	"preadv", "pwritev", "preadv2", "pwritev2", "fdatasync", "fsync",
	"fallocate",
	NULL,
};

/* A NIC: libslirp's sockets to the outside world (families checked in
 * sandbox_seccomp.c) or the TAP descriptor opened during set-up. */
static const char *const net_calls[] = {
	"connect", "bind", "listen", "accept4", "accept", "recvfrom", "sendto",
	"recvmsg", "sendmsg", "getsockopt", "setsockopt", "getsockname",
	"getpeername", "shutdown", "eventfd2", "openat", "epoll_wait",
	NULL,
};

/* A host-folder (9pfs) server: every path call is relative to a
 * descriptor it holds for the share (openat2 RESOLVE_BENEATH), and
 * Landlock keeps even a bypassed check inside the shared directories.
 * chmod and truncate take /proc/self/fd/N (an O_PATH descriptor has no
 * fchmod or ftruncate); Landlock does not cover chmod, so a subverted
 * server could change the mode of a file its user owns elsewhere — the
 * one call here the other layers do not bound (docs/security.md); the same
 * holds for the user.* attributes setxattr and removexattr change. */
static const char *const fs_calls[] = {
	"chmod", "truncate",
	"openat2", "openat", "newfstatat", "statx", "fstatfs", "getdents64",
	"mkdirat", "mknodat", "unlinkat", "renameat", "renameat2", "linkat",
	"symlinkat", "readlinkat", "fchmodat", "fchmod", "fchownat", "fchown",
	"utimensat", "ftruncate", "fallocate", "fsync", "fdatasync",
	"fgetxattr", "fsetxattr", "flistxattr", "fremovexattr", "flock",
	/* through /proc/self/fd/N (f*xattr refuse O_PATH): mapped-xattr's
	 * attributes, and the guest's user.* (Txattrwalk, Txattrcreate) */
	"getxattr", "setxattr", "listxattr", "removexattr",
	"dup", "eventfd2", "preadv", "pwritev",
	NULL,
};

/* Device hot-plug (services/ctl/ctl_hotplug.c): sets up a disk on a
 * descriptor a control client sent (its I/O engine: io_uring_setup and
 * _register) and starts its threads, which inherit this filter before
 * narrowing theirs: so everything block and block-io may do is here too,
 * and what a new thread's sandbox_thread() does to narrow (a filter of its
 * own, capabilities and identity dropped: none can widen what this thread
 * may do).  Never an open: the image came as a descriptor. */
static const char *const hotplug_calls[] = {
	"seccomp", "capset", "capget", "setgroups", "setresuid", "setresgid",
	"io_uring_setup", "io_uring_register", "io_uring_enter", "eventfd2",
	"preadv", "pwritev", "preadv2", "pwritev2", "fdatasync", "fsync",
	"fallocate",
	"ftruncate", /* save --live writes the snapshot here */
	NULL,
};

/* The userfaultfd page servers (core/snapshot_lazy.c,
 * backend/proc/proc_uffd.c: restore --lazy's and save --live's): the
 * userfaultfd ioctls (sandbox_seccomp.c), and an eventfd they are
 * stopped by. */
static const char *const memory_calls[] = {
	"eventfd2",
	NULL,
};

/*
 * Set-up, before any thread narrows its list: loading, building the
 * domain, opening images and sockets, forking the proc backend's guest
 * processes (whose stub calls are allowed here so that the guest's own,
 * stricter filter decides), starting threads.  The union of the roles is
 * added to this.
 */
static const char *const setup_calls[] = {
	"openat", "open", "stat", "lstat", "statx", "access", "faccessat",
	"readlink", "getdents64", "memfd_create", "ftruncate", "fcntl",
	"socket", "bind", "listen", "unlink", "unlinkat", "chmod", "fchmod",
	"umask", "getuid", "geteuid", "getgid", "getegid", "getppid",
	"setpgid", "getpgid", "uname", "sysinfo", "prlimit64", "getrlimit",
	"io_uring_setup", "io_uring_register", "timerfd_create",
	"signalfd4", "pipe2", "dup", "dup2", "dup3", "close_range",
	"rt_sigaction", "seccomp", "arch_prctl", "set_tid_address",
	"sched_setaffinity", "flock", "mlock", "munlock", "membarrier",
	"getcwd", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"rt_sigtimedwait", "kill", "tgkill", "wait4", "waitid",
	"capset", "capget", "setresuid", "setresgid", "setgroups", "lchown",
	"fchownat",
	/* the proc backend's guest processes hand pvisor a userfaultfd
	 * each (backend/proc/proc_dirty.h), and pvisor has its own */
	"socketpair", "userfaultfd",
	NULL,
};

static const char *const *const role_calls[SANDBOX_NR_ROLES] = {
	[SANDBOX_ROLE_VCPU] = vcpu_calls,
	[SANDBOX_ROLE_EVENTS] = events_calls,
	[SANDBOX_ROLE_BLOCK] = block_calls,
	[SANDBOX_ROLE_BLOCK_IO] = block_io_calls,
	[SANDBOX_ROLE_NET] = net_calls,
	[SANDBOX_ROLE_FS] = fs_calls,
	[SANDBOX_ROLE_HOTPLUG] = hotplug_calls,
	[SANDBOX_ROLE_MEMORY] = memory_calls,
};

static const char *const role_names[SANDBOX_NR_ROLES] = {
	[SANDBOX_ROLE_VCPU] = "vcpu",
	[SANDBOX_ROLE_EVENTS] = "events",
	[SANDBOX_ROLE_BLOCK] = "block",
	[SANDBOX_ROLE_BLOCK_IO] = "block-io",
	[SANDBOX_ROLE_NET] = "net",
	[SANDBOX_ROLE_FS] = "fs",
	[SANDBOX_ROLE_HOTPLUG] = "hotplug",
	[SANDBOX_ROLE_MEMORY] = "memory",
};

const char *const *sandbox_policy_common(void)
{
	return common_calls;
}

const char *const *sandbox_policy_setup(void)
{
	return setup_calls;
}

const char *const *sandbox_policy_role(enum sandbox_role role)
{
	return (unsigned)role < SANDBOX_NR_ROLES ? role_calls[role] : NULL;
}

const char *sandbox_role_name(enum sandbox_role role)
{
	return (unsigned)role < SANDBOX_NR_ROLES ? role_names[role] : "?";
}
