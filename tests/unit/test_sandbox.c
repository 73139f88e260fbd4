/*
 * pvisor's confinement of itself (core/sandbox*.c), each case in a forked
 * child so that the test process stays free: the real filters and the real
 * Landlock ruleset, asked what an exploited thread would try.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <pvisor/abi.h>

#include "core/sandbox.h"
#include "core/sandbox_policy.h"

/* Runs fn in a child; its exit status, or 1000 + signal. */
static int in_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		/* The report goes to stderr; keep the TAP output clean. */
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

static void enter_or_die(const struct sandbox_plan *plan)
{
	char err[256];

	if (sandbox_enter(plan, err, sizeof(err)) < 0)
		_exit(90);
}

static void block_thread_opens(void *path)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };

	enter_or_die(&plan);
	sandbox_thread(SANDBOX_ROLE_BLOCK, "test");
	/* Never returns: openat is not a block thread's call. */
	open(path, O_RDONLY);
	_exit(0);
}

static void test_forbidden_call_stops_with_internal_status(void **state)
{
	assert_int_equal(in_child(block_thread_opens, "/etc/hostname"),
			 PVISOR_EXIT_INTERNAL);
}

static void block_thread_does_io(void *arg)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };
	char buf[16] = "pvisor";
	FILE *f = tmpfile();
	int fd = f ? fileno(f) : -1;

	if (fd < 0)
		_exit(91);
	enter_or_die(&plan);
	sandbox_thread(SANDBOX_ROLE_BLOCK, "test");
	if (pwrite(fd, buf, 6, 4096) != 6 || fdatasync(fd) ||
	    pread(fd, buf, 6, 4096) != 6 || memcmp(buf, "pvisor", 6))
		_exit(92);
	_exit(0);
}

static void test_role_keeps_its_own_calls(void **state)
{
	assert_int_equal(in_child(block_thread_does_io, NULL), 0);
}

static void net_thread_socket(void *family)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };
	int fd;

	enter_or_die(&plan);
	sandbox_thread(SANDBOX_ROLE_NET, "test");
	fd = socket(*(int *)family, SOCK_DGRAM, 0);
	_exit(fd >= 0 ? 0 : 93);
}

static void test_socket_families(void **state)
{
	int inet = AF_INET, packet = AF_PACKET, netlink = AF_NETLINK;

	assert_int_equal(in_child(net_thread_socket, &inet), 0);
	assert_int_equal(in_child(net_thread_socket, &packet),
			 PVISOR_EXIT_INTERNAL);
	assert_int_equal(in_child(net_thread_socket, &netlink),
			 PVISOR_EXIT_INTERNAL);
}

static void vcpu_makes_code(void *arg)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };

	enter_or_die(&plan);
	sandbox_thread(SANDBOX_ROLE_VCPU, "test");
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	     -1, 0);
	_exit(0);
}

static void vcpu_maps_data(void *arg)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };
	void *p;

	enter_or_die(&plan);
	sandbox_thread(SANDBOX_ROLE_VCPU, "test");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	_exit(p != MAP_FAILED ? 0 : 94);
}

static void test_no_new_code(void **state)
{
	assert_int_equal(in_child(vcpu_maps_data, NULL), 0);
	assert_int_equal(in_child(vcpu_makes_code, NULL), PVISOR_EXIT_INTERNAL);
}

static void events_forks(void *arg)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };

	enter_or_die(&plan);
	sandbox_thread(SANDBOX_ROLE_EVENTS, "test");
	if (fork() == 0)
		_exit(0);
	_exit(0);
}

static void test_threads_but_no_processes(void **state)
{
	assert_int_equal(in_child(events_forks, NULL), PVISOR_EXIT_INTERNAL);
}

static void privileges_stay(void *arg)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };

	enter_or_die(&plan);
	_exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 95);
}

static void test_no_new_privs(void **state)
{
	assert_int_equal(in_child(privileges_stay, NULL), 0);
}

struct files {
	char dir[64], allowed[96], other[96];
};

/* Set-up may open files, but only the plan's: a read-only image cannot
 * be opened for writing, a file beside it not at all. */
static void setup_opens(void *arg)
{
	struct files *f = arg;
	struct sandbox_plan plan = { .mode = SANDBOX_ON };
	int fd;

	sandbox_plan_add(&plan, f->allowed, false, false, false);
	enter_or_die(&plan);
	fd = open(f->allowed, O_RDONLY);
	if (fd < 0)
		_exit(96);
	close(fd);
	if (open(f->allowed, O_WRONLY) >= 0 || errno != EACCES)
		_exit(97);
	if (open(f->other, O_RDONLY) >= 0 || errno != EACCES)
		_exit(98);
	_exit(0);
}

static void test_landlock_limits_files(void **state)
{
	struct files f;
	FILE *fp;

	if (sandbox_landlock_abi() < 1) {
		skip(); /* cmocka says SKIPPED: this host has no Landlock */
	}
	snprintf(f.dir, sizeof(f.dir), "/tmp/pvisor-sandbox-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.allowed, sizeof(f.allowed), "%s/disk.img", f.dir);
	snprintf(f.other, sizeof(f.other), "%s/secret", f.dir);
	assert_non_null(fp = fopen(f.allowed, "w"));
	fclose(fp);
	assert_non_null(fp = fopen(f.other, "w"));
	fclose(fp);
	assert_int_equal(in_child(setup_opens, &f), 0);
	unlink(f.allowed);
	unlink(f.other);
	rmdir(f.dir);
}

static void off_changes_nothing(void *arg)
{
	struct sandbox_plan plan = { .mode = SANDBOX_OFF };
	int fd;

	enter_or_die(&plan);
	sandbox_thread(SANDBOX_ROLE_BLOCK, "test");
	fd = open("/dev/null", O_RDONLY);
	_exit(fd >= 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0 ? 0 : 99);
}

static void test_off(void **state)
{
	assert_int_equal(in_child(off_changes_nothing, NULL), 0);
}

static void test_mode_and_plan(void **state)
{
	struct sandbox_plan plan = { 0 };

	assert_int_equal(sandbox_mode_parse("on"), SANDBOX_ON);
	assert_int_equal(sandbox_mode_parse("off"), SANDBOX_OFF);
	assert_int_equal(sandbox_mode_parse("log"), SANDBOX_LOG);
	assert_int_equal(sandbox_mode_parse("yes"), -1);
	assert_int_equal(sandbox_mode_parse(""), -1);
	for (unsigned i = 0; i < SANDBOX_MAX_PATHS; i++)
		assert_true(sandbox_plan_add(&plan, "/x", false, false, false));
	assert_false(sandbox_plan_add(&plan, "/y", false, false, false));
	assert_true(sandbox_plan_add(&plan, "", false, false, false));
	for (unsigned r = 0; r < SANDBOX_NR_ROLES; r++)
		assert_non_null(sandbox_policy_role(r));
	assert_string_equal(sandbox_role_name(SANDBOX_ROLE_BLOCK_IO),
			    "block-io");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_call_stops_with_internal_status),
		cmocka_unit_test(test_role_keeps_its_own_calls),
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_no_new_code),
		cmocka_unit_test(test_threads_but_no_processes),
		cmocka_unit_test(test_no_new_privs),
		cmocka_unit_test(test_landlock_limits_files),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_mode_and_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
