/*
 * The build's seccomp programs (core/seccomp_programs.c): each one, with
 * its run-time values filled in, must be the very program libseccomp
 * compiles from the rules now, for every role, both modes, and the proc
 * guest process's filter with and without FSGSBASE; the sentinel filling
 * itself; the system-call names of the SIGSYS report.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/proc/proc_seccomp.h"
#include "core/bpf_prog.h"
#include "core/sandbox.h"
#include "core/sandbox_policy.h"
#include "core/seccomp_programs.h"

#define MAX 2048

static struct sock_filter built[MAX], compiled[MAX];

static void assert_same(const struct sock_filter *a, size_t a_len,
			const struct sock_filter *b, size_t b_len)
{
	assert_int_equal(a_len, b_len);
	assert_memory_equal(a, b, a_len * sizeof(*a));
}

static void test_sandbox_programs_match_libseccomp(void **state)
{
	const uint32_t pids[] = { (uint32_t)getpid(), 1, 4194303 };

	(void)state;
	for (int role = -1; role < SANDBOX_NR_ROLES; role++)
		for (int log = 0; log < 2; log++)
			for (size_t p = 0; p < sizeof(pids) / sizeof(pids[0]); p++) {
				size_t blen, clen;

				assert_int_equal(seccomp_program_sandbox(
							 role, log, pids[p], built,
							 MAX, &blen), 0);
				assert_int_equal(sandbox_seccomp_compile(
							 role, log, pids[p],
							 compiled, MAX, &clen), 0);
				assert_same(built, blen, compiled, clen);
			}
}

static void test_proc_programs_match_libseccomp(void **state)
{
	const uint32_t fds[] = { 0, 3, 1023, 65535 };

	(void)state;
	for (int fsgs = 0; fsgs < 2; fsgs++)
		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
			size_t blen, clen;

			assert_int_equal(seccomp_program_proc(fsgs, fds[i], built,
							      MAX, &blen), 0);
			assert_int_equal(proc_seccomp_compile((int)fds[i], fsgs,
							      compiled, MAX,
							      &clen), 0);
			assert_same(built, blen, compiled, clen);
		}
}

/* The programs differ by role: a mix-up of the table would pass the
 * tests above only if two roles compiled alike. */
static void test_roles_differ(void **state)
{
	size_t a, b;

	(void)state;
	assert_int_equal(seccomp_program_sandbox(SANDBOX_ROLE_VCPU, false, 1,
						 built, MAX, &a), 0);
	assert_int_equal(seccomp_program_sandbox(SANDBOX_ROLE_NET, false, 1,
						 compiled, MAX, &b), 0);
	assert_true(a != b || memcmp(built, compiled, a * sizeof(*built)));
}

static void test_bad_arguments(void **state)
{
	size_t len;

	(void)state;
	assert_int_equal(seccomp_program_sandbox(-2, false, 1, built, MAX, &len),
			 -EINVAL);
	assert_int_equal(seccomp_program_sandbox(SANDBOX_NR_ROLES, false, 1,
						 built, MAX, &len), -EINVAL);
	/* Too small a buffer: refused, never a truncated filter. */
	assert_int_equal(seccomp_program_sandbox(-1, false, 1, built, 8, &len),
			 -E2BIG);
	assert_int_equal(seccomp_program_proc(false, 3, built, 4, &len), -E2BIG);
}

static void test_patch_jeq(void **state)
{
	struct sock_filter p[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x1234, 0, 1),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 0x1234, 0, 1), /* not JEQ */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0x1234),        /* not a jump */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x1234, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x1235, 1, 0),
	};

	(void)state;
	assert_int_equal(bpf_patch_jeq(p, 5, 0x1234, 77), 2);
	assert_int_equal(p[0].k, 77);
	assert_int_equal(p[1].k, 0x1234);
	assert_int_equal(p[2].k, 0x1234);
	assert_int_equal(p[3].k, 77);
	assert_int_equal(p[4].k, 0x1235);
	assert_int_equal(bpf_patch_jeq(p, 5, 0x1234, 77), 0);
}

static void test_call_names(void **state)
{
	(void)state;
	assert_string_equal(seccomp_call_name(0), "read");
	assert_string_equal(seccomp_call_name(59), "execve");
	assert_string_equal(seccomp_call_name(435), "clone3");
	assert_null(seccomp_call_name(512));
	assert_null(seccomp_call_name(~0u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox_programs_match_libseccomp),
		cmocka_unit_test(test_proc_programs_match_libseccomp),
		cmocka_unit_test(test_roles_differ),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_patch_jeq),
		cmocka_unit_test(test_call_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
