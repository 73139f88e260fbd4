/*
 * pvisor's confinement of itself: the order of the layers (sandbox.h), the
 * thread roles, and the report of a forbidden call.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pvisor/abi.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/sandbox_landlock.h"
#include "core/seccomp_programs.h"

/* Names for the report, resolved before any filter exists: the SIGSYS
 * handler may not allocate. */

static enum sandbox_mode active_mode = SANDBOX_OFF;
static struct {
	bool on;
	uid_t uid;
	gid_t gid;
} identity;
static bool entered;
static void (*fatal_hook)(void);
static __thread char thread_label[32] = "pv-main (set-up)";

bool sandbox_plan_add(struct sandbox_plan *plan, const char *path,
		      bool write, bool dir, bool sockets)
{
	if (!path || !*path)
		return true;
	if (plan->nr_paths >= SANDBOX_MAX_PATHS)
		return false;
	plan->paths[plan->nr_paths++] = (struct sandbox_path){
		.path = path, .write = write, .dir = dir, .sockets = sockets,
	};
	return true;
}

int sandbox_mode_parse(const char *s)
{
	if (!strcmp(s, "on"))
		return SANDBOX_ON;
	if (!strcmp(s, "off"))
		return SANDBOX_OFF;
	if (!strcmp(s, "log"))
		return SANDBOX_LOG;
	return -1;
}

void sandbox_set_fatal_hook(void (*fn)(void))
{
	fatal_hook = fn;
}

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, unsigned long v)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof(digits));
	while (n > 0 && at + 1 < cap)
		buf[at++] = digits[--n];
	return at;
}

/* SIGSYS: the call was not made.  Report it and stop pvisor (the proc
 * backend's guest processes die with it: PDEATHSIG). */
static void on_forbidden_call(int sig, siginfo_t *si, void *uc)
{
	char line[256];
	size_t n = 0;
	unsigned nr = (unsigned)si->si_syscall;

	n = put(line, n, sizeof(line), "pvisor: sandbox: thread ");
	n = put(line, n, sizeof(line), thread_label);
	n = put(line, n, sizeof(line), " made a forbidden system call: ");
	n = put(line, n, sizeof(line),
		seccomp_call_name(nr) ? seccomp_call_name(nr) : "?");
	n = put(line, n, sizeof(line), " (");
	n = put_num(line, n, sizeof(line), nr);
	n = put(line, n, sizeof(line),
		"); stopping (docs/security.md; --sandbox=off to debug)\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing left to tell */
	}
	if (fatal_hook)
		fatal_hook();
	syscall(SYS_exit_group, PVISOR_EXIT_INTERNAL);
}

static int install_reporter(char *err, size_t err_len)
{
	struct sigaction sa = { .sa_sigaction = on_forbidden_call,
				.sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		snprintf(err, err_len, "sandbox: SIGSYS handler: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

#ifdef PVISOR_TEST_HOOKS
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>

/*
 * PVISOR_SANDBOX_TEST=WHERE:WHAT, in the sanitizer build only: right after
 * WHERE ("setup", or a role: "block", "vcpu", ...) is confined, pvisor
 * does WHAT as an exploited thread would — "execve", "socket" (AF_PACKET),
 * "ptrace", "open=PATH" (read) or "write=PATH" — and says what happened
 * when it is still alive (tests/e2e/t_sandbox.sh).
 */
static void test_hook(const char *where)
{
	const char *spec = getenv("PVISOR_SANDBOX_TEST");
	size_t n = strlen(where);
	const char *what;
	long rc;

	if (!spec || strncmp(spec, where, n) || spec[n] != ':')
		return;
	what = spec + n + 1;
	if (!strcmp(what, "execve")) {
		char *const argv[] = { "/bin/true", NULL };

		rc = execve(argv[0], argv, NULL);
	} else if (!strcmp(what, "socket")) {
		rc = socket(AF_PACKET, SOCK_RAW, 0);
	} else if (!strcmp(what, "ptrace")) {
		rc = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	} else if (!strncmp(what, "open=", 5)) {
		rc = open(what + 5, O_RDONLY | O_CLOEXEC);
	} else if (!strncmp(what, "write=", 6)) {
		rc = open(what + 6, O_WRONLY | O_CLOEXEC);
	} else {
		return;
	}
	fprintf(stderr, "sandbox test: %s %s: %s\n", where, what,
		rc < 0 ? strerror(errno) : "allowed");
}
#else
static void test_hook(const char *where)
{
}
#endif

/* Loads the build's filter for the set-up list (role < 0) or ROLE on the
 * calling thread, as libseccomp's seccomp_load would (no_new_privs, then
 * the program, no flags).  0 or -errno, with err set. */
static int load_filter(int role, bool log, char *err, size_t err_len)
{
	struct sock_filter prog[1024]; /* the largest is ~200 */
	const char *what = role < 0 ? "set-up" : sandbox_role_name(role);
	struct sock_fprog fprog;
	size_t len;
	int rc;

	rc = seccomp_program_sandbox(role, log, (uint32_t)getpid(), prog,
				     sizeof(prog) / sizeof(prog[0]), &len);
	if (rc) {
		snprintf(err, err_len, "sandbox: cannot build the %s filter: %s",
			 what, strerror(-rc));
		return rc;
	}
	fprog.len = (unsigned short)len;
	fprog.filter = prog;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) {
		rc = -errno;
		snprintf(err, err_len, "sandbox: loading the %s filter: %s",
			 what, strerror(-rc));
		return rc;
	}
	return 0;
}

int sandbox_enter(const struct sandbox_plan *plan, char *err, size_t err_len)
{
	int rc;

	if (plan->mode == SANDBOX_OFF)
		return 0;
	rc = install_reporter(err, err_len);
	if (rc)
		return rc;
	/* glibc opens /proc/sys/vm/overcommit_memory the first time it
	 * shrinks a thread's heap, from whichever thread frees: no role may
	 * open files, so heaps are not trimmed (their memory is reused, not
	 * given back; guest memory is a memfd, not the heap). */
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, err_len, "sandbox: no_new_privs: %s",
			 strerror(errno));
		return -errno;
	}
	rc = sandbox_landlock_apply(plan, err, err_len);
	if (rc)
		return rc;
	rc = load_filter(-1, plan->mode == SANDBOX_LOG, err, err_len);
	if (rc)
		return rc;
	active_mode = plan->mode;
	identity.on = plan->switch_user;
	identity.uid = plan->uid;
	identity.gid = plan->gid;
	entered = true;
	log_debug("sandbox: %s",
		  plan->mode == SANDBOX_LOG ? "logging forbidden calls" : "on");
	test_hook("setup");
	return 0;
}

/* Capabilities are per thread: each drops every one of its own as it
 * narrows (pvisor needs none once its devices are open: CAP_NET_ADMIN
 * only to attach a TAP during set-up). */
static void drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = { 0 };

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	syscall(SYS_capset, &hdr, none);
}

/*
 * --user, per thread: the raw calls change only the calling thread's
 * credentials (glibc's setuid() would signal every thread to follow, which
 * the role lists do not allow).  Group first: after setresuid the thread
 * could no longer change it.
 */
static void become_user(void)
{
	gid_t g = identity.gid;

	if (!identity.on)
		return;
	if (syscall(SYS_setgroups, 1, &g) || syscall(SYS_setresgid, g, g, g) ||
	    syscall(SYS_setresuid, identity.uid, identity.uid, identity.uid)) {
		static const char msg[] =
			"pvisor: sandbox: cannot switch to the --user identity\n";

		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
			/* nothing left to tell */
		}
		syscall(SYS_exit_group, PVISOR_EXIT_INTERNAL);
	}
}

void sandbox_child_drop(void)
{
	if (!entered)
		return;
	become_user();
	drop_capabilities();
}

/* Threads that block every signal must still take the report. */
static void unblock_sigsys(void)
{
	sigset_t sys;

	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
}

void sandbox_thread(enum sandbox_role role, const char *name)
{
	char err[256], comm[16];

	snprintf(comm, sizeof(comm), "pv-%s", name);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	snprintf(thread_label, sizeof(thread_label), "%s (%s)", comm,
		 sandbox_role_name(role));
	if (!entered)
		return;
	unblock_sigsys();
	become_user();
	drop_capabilities();
	if (load_filter((int)role, active_mode == SANDBOX_LOG, err,
			sizeof(err)) < 0) {
		/* The thread would run with the wider set-up list. */
		log_error("%s", err);
		if (fatal_hook)
			fatal_hook();
		syscall(SYS_exit_group, PVISOR_EXIT_INTERNAL);
	}
	test_hook(sandbox_role_name(role));
}
