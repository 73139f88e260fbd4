/*
 * The host-feature report and the decisions taken from it (core/hostinfo.c):
 * each feature faked absent, on a host that otherwise has everything, and
 * the hosts of issue 9 (no /dev/kvm and no FSGSBASE; no /dev/kvm and no
 * seccomp).  Only the pure half is tested here; the probes run in
 * tests/e2e/t_hostcheck.sh against the real host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <pvisor/abi.h>

#include "core/hostinfo.h"

#define LINUX_BASE 0xffffffff81000000ull

static char report[16384];

/* A host with everything, every probe run. */
static void full_host(struct host_info *hi)
{
	hostinfo_init(hi);
	for (unsigned f = 0; f < HOST_NR_FEATURES; f++) {
		hi->feature[f].probed = true;
		hi->feature[f].present = true;
		snprintf(hi->feature[f].detail, sizeof(hi->feature[f].detail),
			 "fake: %s present", hostinfo_feature_name(f));
	}
	for (unsigned b = 0; b < HOST_NR_BACKENDS; b++) {
		hi->backend[b].probed = true;
		hi->backend[b].ok = true;
	}
}

/* Fakes feature f absent; the kvm feature is the kvm probe's answer. */
static void fake_absent(struct host_info *hi, enum host_feature f)
{
	hi->feature[f].present = false;
	snprintf(hi->feature[f].detail, sizeof(hi->feature[f].detail),
		 "fake: no %s", hostinfo_feature_name(f));
	if (f == HOST_KVM) {
		hi->backend[HOST_BE_KVM].ok = false;
		snprintf(hi->backend[HOST_BE_KVM].why,
			 sizeof(hi->backend[HOST_BE_KVM].why), "fake: no kvm");
	}
}

static const char *format(const struct host_info *hi)
{
	size_t n = hostinfo_format(hi, report, sizeof(report));

	assert_true(n < sizeof(report));
	assert_int_equal(strlen(report), n);
	return report;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not in:\n%s", needle, hay);
}

static int guest(const struct host_info *hi, enum host_guest g, char *msg,
		 size_t len)
{
	int b = hostinfo_guest_backend(hi, g, msg, len);

	assert_null(strchr(msg, '\n'));
	return b;
}

/* What each feature's absence changes, alone. */
struct absent_case {
	enum host_feature f;
	int lower, upper;       /* backend for each guest kind, -1 none */
	const char *in_report;  /* the cost, as printed */
	bool proc_usable;
};

static const struct absent_case absent_cases[] = {
	{ HOST_KVM, HOST_BE_PROC, -1, "no kvm backend: upper-half kernels", true },
	{ HOST_KVM_PVM, HOST_BE_KVM, HOST_BE_KVM, "pvisor keeps guest kernels at CPL3", true },
	{ HOST_FSGSBASE, HOST_BE_KVM, HOST_BE_KVM, "with arch_prctl, only when it changes", true },
	{ HOST_SECCOMP, HOST_BE_KVM, HOST_BE_KVM, "no proc backend: every guest needs /dev/kvm", false },
	{ HOST_IO_URING, HOST_BE_KVM, HOST_BE_KVM, "thread pool (preadv/pwritev/fdatasync/fallocate)", true },
	{ HOST_TAP, HOST_BE_KVM, HOST_BE_KVM, "--net user (libslirp) still works", true },
	{ HOST_MEMFD, -1, -1, "no guest can run", false },
	{ HOST_LANDLOCK, HOST_BE_KVM, HOST_BE_KVM, "keeps its seccomp lists", true },
};

static void test_everything_present(void **state)
{
	struct host_info hi;
	char msg[2048], line[128];

	full_host(&hi);
	format(&hi);
	for (unsigned f = 0; f < HOST_NR_FEATURES; f++) {
		snprintf(line, sizeof(line), "feature %s: yes — fake: %s present; without it: ",
			 hostinfo_feature_name(f), hostinfo_feature_name(f));
		assert_contains(report, line);
	}
	assert_contains(report, "backend kvm: available\n");
	assert_contains(report, "backend proc: available\n");
	assert_int_equal(guest(&hi, HOST_GUEST_LOWER, msg, sizeof(msg)), HOST_BE_KVM);
	assert_contains(msg, "--backend proc also works");
	assert_int_equal(guest(&hi, HOST_GUEST_UPPER, msg, sizeof(msg)), HOST_BE_KVM);
	assert_contains(report, "guest lower-half: kvm — ");
	assert_contains(report, "guest upper-half: kvm — ");
}

static void test_each_feature_absent(void **state)
{
	for (size_t i = 0; i < sizeof(absent_cases) / sizeof(absent_cases[0]); i++) {
		const struct absent_case *c = &absent_cases[i];
		const char *name = hostinfo_feature_name(c->f);
		struct host_info hi;
		char msg[2048], want[256], why[256];
		int got;

		full_host(&hi);
		fake_absent(&hi, c->f);
		format(&hi);
		snprintf(want, sizeof(want), "feature %s: no — fake: no %s; without it: %s",
			 name, name, hostinfo_feature_cost(c->f));
		assert_contains(report, want);
		assert_contains(report, c->in_report);
		got = guest(&hi, HOST_GUEST_LOWER, msg, sizeof(msg));
		if (got != c->lower)
			fail_msg("%s absent: lower-half on %d, want %d (%s)", name, got,
				 c->lower, msg);
		got = guest(&hi, HOST_GUEST_UPPER, msg, sizeof(msg));
		if (got != c->upper)
			fail_msg("%s absent: upper-half on %d, want %d (%s)", name, got,
				 c->upper, msg);
		assert_int_equal(hostinfo_backend_usable(&hi, HOST_BE_PROC, why, sizeof(why)),
				 c->proc_usable);
		/* The query says the same, exit status and all. */
		assert_int_equal(hostinfo_query(&hi, name, msg, sizeof(msg)), 0);
		snprintf(want, sizeof(want), "fake: no %s", name);
		assert_string_equal(msg, want);
		assert_int_equal(hostinfo_query(&hi, "guest:upper-half", msg, sizeof(msg)),
				 c->upper >= 0);
		assert_int_equal(hostinfo_query(&hi, "guest:lower-half", msg, sizeof(msg)),
				 c->lower >= 0);
		assert_int_equal(hostinfo_query(&hi, "backend:proc", msg, sizeof(msg)),
				 c->proc_usable);
		/* Every other feature still answers yes. */
		for (unsigned f = 0; f < HOST_NR_FEATURES; f++)
			if (f != c->f)
				assert_int_equal(hostinfo_query(&hi, hostinfo_feature_name(f),
								 msg, sizeof(msg)), 1);
	}
}

/* Issue 9's host: no /dev/kvm (kvm-pvm not binding), no FSGSBASE. */
static void test_no_kvm_no_fsgsbase(void **state)
{
	struct host_info hi;
	char msg[2048];

	full_host(&hi);
	fake_absent(&hi, HOST_KVM);
	fake_absent(&hi, HOST_KVM_PVM);
	fake_absent(&hi, HOST_FSGSBASE);
	format(&hi);
	assert_contains(report, "backend kvm: unavailable: fake: no kvm\n");
	assert_contains(report, "backend proc: available\n");
	assert_contains(report, "guest lower-half: proc — ");
	assert_contains(report, "guest upper-half: none — ");
	assert_int_equal(guest(&hi, HOST_GUEST_LOWER, msg, sizeof(msg)), HOST_BE_PROC);
	assert_contains(msg, "run on proc (kvm unavailable)");
	assert_int_equal(guest(&hi, HOST_GUEST_UPPER, msg, sizeof(msg)), -1);
	assert_contains(msg, "needs the kvm backend (/dev/kvm)");
	assert_contains(msg, "which can only use the lower half");
	assert_contains(msg, "this host has no usable /dev/kvm (fake: no kvm)");
}

/* No kvm and no seccomp: nothing runs, and the run error says both. */
static void test_no_backend(void **state)
{
	struct host_info hi;
	struct host_kernel k = { .path = "hello", .v_start = PVISOR_KIT_VIRT_BASE,
				 .v_end = PVISOR_KIT_VIRT_BASE + 0x10000 };
	char msg[2048];

	full_host(&hi);
	fake_absent(&hi, HOST_KVM);
	fake_absent(&hi, HOST_SECCOMP);
	assert_int_equal(hostinfo_choose(&hi, NULL, &k, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "no backend can run here: kvm: fake: no kvm; proc: seccomp: fake: no seccomp");
	assert_int_equal(hostinfo_choose(&hi, "proc", &k, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "--backend proc: not available here: seccomp: fake: no seccomp");
	format(&hi);
	assert_contains(report, "guest lower-half: none — no backend can run here");
}

static void test_choose(void **state)
{
	struct host_info hi;
	struct host_kernel kit = { .path = "guest/build/hello",
				   .v_start = PVISOR_KIT_VIRT_BASE,
				   .v_end = PVISOR_KIT_VIRT_BASE + 0x20000 };
	struct host_kernel bz = { .path = "vmlinuz", .bzimage = true,
				  .v_start = LINUX_BASE, .v_end = LINUX_BASE + (40 << 20) };
	struct host_kernel elf = { .path = "high.elf", .v_start = PVISOR_GUEST_VA_LIMIT,
				   .v_end = PVISOR_GUEST_VA_LIMIT + 0x1000 };
	char msg[2048];

	full_host(&hi);
	assert_int_equal(hostinfo_choose(&hi, NULL, &kit, msg, sizeof(msg)), HOST_BE_KVM);
	assert_string_equal(msg, "backend kvm (/dev/kvm works)");
	assert_int_equal(hostinfo_choose(&hi, "proc", &kit, msg, sizeof(msg)), HOST_BE_PROC);
	assert_int_equal(hostinfo_choose(&hi, NULL, &bz, msg, sizeof(msg)), HOST_BE_KVM);
	assert_int_equal(hostinfo_choose(&hi, "kvm", &bz, msg, sizeof(msg)), HOST_BE_KVM);
	/* --backend proc for Linux where kvm works: refused, pointing at kvm. */
	assert_int_equal(hostinfo_choose(&hi, "proc", &bz, msg, sizeof(msg)), -1);
	assert_contains(msg, "kernel vmlinuz (a Linux bzImage, its ELF loaded at 0xffffffff81000000) needs the kvm backend");
	assert_contains(msg, "run it with --backend kvm, which works here");
	assert_null(strchr(msg, '\n'));

	fake_absent(&hi, HOST_KVM);
	assert_int_equal(hostinfo_choose(&hi, NULL, &kit, msg, sizeof(msg)), HOST_BE_PROC);
	assert_string_equal(msg, "backend proc (kvm unavailable: fake: no kvm)");
	assert_int_equal(hostinfo_choose(&hi, "kvm", &kit, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "--backend kvm: not available here: fake: no kvm");
	/* Upper half, only proc: one line, with the kernel, why, what lacks. */
	for (int forced = 0; forced < 2; forced++) {
		assert_int_equal(hostinfo_choose(&hi, forced ? "proc" : NULL, &bz, msg,
						 sizeof(msg)), -1);
		assert_contains(msg, "kernel vmlinuz (a Linux bzImage");
		assert_contains(msg, "the proc backend runs a guest at its own virtual addresses in a host process");
		assert_contains(msg, "below 0x7f0000000000");
		assert_contains(msg, "this host has no usable /dev/kvm (fake: no kvm)");
		assert_null(strchr(msg, '\n'));
	}
	assert_int_equal(hostinfo_choose(&hi, "proc", &elf, msg, sizeof(msg)), -1);
	assert_contains(msg, "kernel high.elf (an ELF loaded at 0x7f0000000000) needs the kvm backend");
	/* Where proc is unavailable too, the upper-half reason still wins. */
	fake_absent(&hi, HOST_SECCOMP);
	assert_int_equal(hostinfo_choose(&hi, NULL, &bz, msg, sizeof(msg)), -1);
	assert_contains(msg, "needs the kvm backend");
	assert_int_equal(hostinfo_choose(&hi, "bogus", &kit, msg, sizeof(msg)), -1);
	assert_contains(msg, "unknown backend");
}

/* pvisor run probes only what the decision needs. */
static void test_choose_partly_probed(void **state)
{
	struct host_info hi;
	struct host_kernel kit = { .path = "k", .v_start = PVISOR_KIT_VIRT_BASE,
				   .v_end = PVISOR_KIT_VIRT_BASE + 0x1000 };
	char msg[1024];

	hostinfo_init(&hi);
	hi.backend[HOST_BE_PROC].probed = hi.backend[HOST_BE_PROC].ok = true;
	assert_int_equal(hostinfo_choose(&hi, "proc", &kit, msg, sizeof(msg)), HOST_BE_PROC);
	hostinfo_init(&hi);
	hi.backend[HOST_BE_KVM].probed = hi.backend[HOST_BE_KVM].ok = true;
	hi.feature[HOST_KVM].probed = hi.feature[HOST_KVM].present = true;
	assert_int_equal(hostinfo_choose(&hi, NULL, &kit, msg, sizeof(msg)), HOST_BE_KVM);
	assert_int_equal(hostinfo_choose(&hi, "kvm", &kit, msg, sizeof(msg)), HOST_BE_KVM);
	/* A probe that failed is the reason given, as pvisor run says it. */
	hostinfo_init(&hi);
	hi.backend[HOST_BE_KVM].probed = true;
	strcpy(hi.backend[HOST_BE_KVM].why, "/dev/kvm: No such file or directory");
	hi.backend[HOST_BE_PROC].probed = true;
	strcpy(hi.backend[HOST_BE_PROC].why, "memfd_create: Function not implemented");
	assert_int_equal(hostinfo_choose(&hi, NULL, &kit, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "no backend can run here: kvm: /dev/kvm: No such file or directory; "
			    "proc: memfd_create: Function not implemented");
}

static void test_upper_half_boundary(void **state)
{
	assert_false(hostinfo_kernel_is_upper(PVISOR_KIT_VIRT_BASE, PVISOR_KIT_VIRT_BASE + 4096));
	assert_false(hostinfo_kernel_is_upper(PVISOR_GUEST_VA_LIMIT - 4096, PVISOR_GUEST_VA_LIMIT));
	assert_true(hostinfo_kernel_is_upper(PVISOR_GUEST_VA_LIMIT - 4096, PVISOR_GUEST_VA_LIMIT + 1));
	assert_true(hostinfo_kernel_is_upper(PVISOR_GUEST_VA_LIMIT, PVISOR_GUEST_VA_LIMIT + 4096));
	assert_true(hostinfo_kernel_is_upper(LINUX_BASE, LINUX_BASE + 4096));
}

static void test_query_names(void **state)
{
	struct host_info hi;
	unsigned mask;
	char msg[1024];

	full_host(&hi);
	for (unsigned f = 0; f < HOST_NR_FEATURES; f++) {
		char prefixed[64];

		assert_int_equal(hostinfo_query_needs(hostinfo_feature_name(f), &mask), 0);
		assert_int_equal(mask, 1u << f);
		snprintf(prefixed, sizeof(prefixed), "feature:%s", hostinfo_feature_name(f));
		assert_int_equal(hostinfo_query(&hi, prefixed, msg, sizeof(msg)), 1);
	}
	assert_int_equal(hostinfo_query_needs("guest:upper-half", &mask), 0);
	assert_int_equal(hostinfo_query_needs("backend:kvm", &mask), 0);
	assert_int_equal(hostinfo_query(&hi, "guest:lower-half", msg, sizeof(msg)), 1);
	assert_string_equal(msg, "kvm");
	assert_int_equal(hostinfo_query(&hi, "backend:kvm", msg, sizeof(msg)), 1);
	assert_string_equal(msg, "available");
	for (const char *const *n = (const char *const[]){ "bogus", "guest:middle", "backend:xen",
							"feature:", "", "kvm ", NULL }; *n; n++) {
		assert_int_equal(hostinfo_query_needs(*n, &mask), -1);
		assert_int_equal(hostinfo_query(&hi, *n, msg, sizeof(msg)), -1);
	}
	/* Not probed is not "yes". */
	hostinfo_init(&hi);
	assert_int_equal(hostinfo_query(&hi, "tap", msg, sizeof(msg)), 0);
	assert_string_equal(msg, "not probed");
}

static void test_format_shape(void **state)
{
	struct host_info hi;
	char small[64];
	size_t n, lines = 0;

	full_host(&hi);
	fake_absent(&hi, HOST_TAP);
	n = hostinfo_format(&hi, report, sizeof(report));
	/* A short buffer gets a truncated, terminated report and the length
	 * the whole would need. */
	assert_int_equal(hostinfo_format(&hi, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	for (const char *p = report; *p; p = strchr(p, '\n') + 1) {
		assert_true(!strncmp(p, "feature ", 8) || !strncmp(p, "backend ", 8) ||
			    !strncmp(p, "guest ", 6));
		lines++;
	}
	assert_int_equal(lines, HOST_NR_FEATURES + HOST_NR_BACKENDS + HOST_NR_GUESTS);
	/* Nothing probed: "unknown", never "yes". */
	hostinfo_init(&hi);
	format(&hi);
	assert_contains(report, "feature fsgsbase: unknown — not probed");
	assert_null(strstr(report, ": yes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything_present),
		cmocka_unit_test(test_each_feature_absent),
		cmocka_unit_test(test_no_kvm_no_fsgsbase),
		cmocka_unit_test(test_no_backend),
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_choose_partly_probed),
		cmocka_unit_test(test_upper_half_boundary),
		cmocka_unit_test(test_query_names),
		cmocka_unit_test(test_format_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
