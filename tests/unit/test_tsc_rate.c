/*
 * The per-boot TSC rate cache (xen/tsc_rate.c): the cache line is taken
 * only for this boot and a plausible rate, a quick measurement must agree
 * with it, and the rate found matches a fresh measurement.
 */
#include <cpuid.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <x86intrin.h>

#include <cmocka.h>

#include "xen/time.h"
#include "xen/tsc_rate.h"

#define ID "0b6d1c4e-1f7a-4a63-9d55-3c1e2f7a9b10"

static uint64_t parse(const char *s)
{
	return tsc_rate_parse(s, strlen(s), ID);
}

static void test_parse(void **state)
{
	assert_int_equal(parse(ID " 2096004377\n"), 2096004377ull);
	assert_int_equal(parse(ID " 2096004377"), 0);       /* no newline: cut short */
	assert_int_equal(parse(ID " 2096004377\nx"), 0);
	assert_int_equal(parse(ID "  2096004377\n"), 0);
	assert_int_equal(parse(ID " -2096004377\n"), 0);
	assert_int_equal(parse(ID " 99999999\n"), 0);        /* below 100 MHz */
	assert_int_equal(parse(ID " 100000000001\n"), 0);    /* above 100 GHz */
	assert_int_equal(parse(ID " 99999999999999999999999\n"), 0);
	assert_int_equal(parse(ID " 2e9\n"), 0);
	assert_int_equal(parse("1b6d1c4e-1f7a-4a63-9d55-3c1e2f7a9b10 2096004377\n"), 0);
	assert_int_equal(parse(ID "x 2096004377\n"), 0);
	assert_int_equal(parse(""), 0);
	assert_int_equal(tsc_rate_parse(ID " 2096004377\n", strlen(ID " 2096004377\n"), ""), 0);
}

static void test_agrees(void **state)
{
	assert_true(tsc_rate_agrees(2000000000ull, 2000000000ull));
	assert_true(tsc_rate_agrees(2000000000ull, 2003000000ull));
	assert_true(tsc_rate_agrees(2000000000ull, 1997000000ull));
	assert_false(tsc_rate_agrees(2000000000ull, 2005000000ull));
	assert_false(tsc_rate_agrees(2000000000ull, 1990000000ull));
	assert_false(tsc_rate_agrees(0, 0));
}

/* TSC ticks per CLOCK_MONOTONIC second over 100 ms, each end read between
 * two TSC reads (a preemption there would skew it; see the retries). */
static double measure_once(void)
{
	uint64_t a0 = __rdtsc(), b0, a1, b1;
	int64_t t0 = time_monotonic_ns(), t1;

	b0 = __rdtsc();
	do {
		a1 = __rdtsc();
		t1 = time_monotonic_ns();
		b1 = __rdtsc();
	} while (t1 - t0 < 100 * 1000 * 1000);
	return (double)((a1 + b1) / 2 - (a0 + b0) / 2) * 1e9 / (double)(t1 - t0);
}

static void test_rate_is_right(void **state)
{
	/* Whatever path it took (cache or measurement), the rate agrees with
	 * a measurement of our own within 0.5 %; a loaded host (valgrind, the
	 * whole suite on two CPUs) may preempt one try, not all five. */
	uint64_t hz = tsc_rate_hz();
	bool agreed = false;
	double m = 0;

	assert_true(hz > 100000000ull);
	assert_int_equal(tsc_rate_hz(), hz); /* the same for every later VM */
	for (int i = 0; i < 5 && !agreed; i++) {
		m = measure_once();
		agreed = m > hz * 0.995 && m < hz * 1.005;
	}
	if (!agreed)
		fail_msg("rate %llu Hz, measured %.0f Hz", (unsigned long long)hz, m);
}

static char runtime_dir[] = "/tmp/test_tsc_rate.XXXXXX";

static bool invariant_tsc(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return false;
	__cpuid(0x80000007, a, b, c, d);
	return d & (1u << 8);
}

static void test_cache_file(void **state)
{
	/* After test_rate_is_right: this boot's rate is in the cache file,
	 * owner-only, in the form tsc_rate_parse takes back. */
	char path[256], text[128], id[64] = "";
	ssize_t n;
	int fd;

	if (!invariant_tsc())
		skip();
	snprintf(path, sizeof(path), "%s/pvisor-%u/tsc-rate", runtime_dir, (unsigned)geteuid());
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, id, 36), 36);
	close(fd);
	assert_int_equal(tsc_rate_parse(text, (size_t)n, id), tsc_rate_hz());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_agrees),
		cmocka_unit_test(test_rate_is_right),
		cmocka_unit_test(test_cache_file),
	};
	char cmd[300];
	int rc;

	/* The cache goes to a directory of the test's own. */
	if (!mkdtemp(runtime_dir))
		return 1;
	setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", runtime_dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
