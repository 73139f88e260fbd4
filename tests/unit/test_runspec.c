/* `pvisor run --rootfs`'s run file, its cpio archive, the guest's cwd and
 * command line: what pvisor writes, read back with the guest's parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pvisor/runspec.h>

#include "core/runspec.h"

static struct pv_runspec parsed;
static uint8_t *arch; /* parsed points into it */

/* newc: a field of 8 hex digits at off in the header at h. */
static unsigned long hexfield(const uint8_t *h, unsigned off)
{
	char f[9];

	memcpy(f, h + off, 8);
	f[8] = '\0';
	return strtoul(f, NULL, 16);
}

/*
 * Reads the archive as the kernel's unpacker does: zeros skipped up to a
 * 4-aligned header, then entries until TRAILER!!!.  Returns the data of
 * the entry named want (and its length), NULL if absent or malformed.
 */
static const uint8_t *cpio_find(const uint8_t *a, size_t len, size_t start,
				const char *want, size_t *dlen, unsigned *mode)
{
	size_t at = start;
	const uint8_t *found = NULL;

	while (at < len && a[at] == 0)
		at++;
	assert_int_equal(at & 3, 0);
	for (;;) {
		unsigned long nsize, fsize;
		const char *name;

		if (at + 110 > len || memcmp(a + at, "070701", 6))
			return NULL;
		fsize = hexfield(a + at, 6 + 6 * 8);
		nsize = hexfield(a + at, 6 + 11 * 8);
		name = (const char *)a + at + 110;
		if (at + 110 + nsize > len || name[nsize - 1])
			return NULL;
		if (!strcmp(name, "TRAILER!!!"))
			return found;
		at += 110 + nsize;
		at = (at + 3) & ~(size_t)3;
		if (at + fsize > len)
			return NULL;
		if (!strcmp(name, want)) {
			found = a + at;
			*dlen = fsize;
			*mode = (unsigned)hexfield(a + at - ((110 + nsize + 3) & ~3u), 6 + 8);
		}
		at += fsize;
		at = (at + 3) & ~(size_t)3;
	}
}

static void roundtrip(const struct runspec_in *in, size_t prefix)
{
	static char spec[PV_RUNSPEC_MAX_BYTES];
	const char *why = NULL;
	size_t n = runspec_encode(in, spec, sizeof(spec), &why), size, dlen = 0;
	const uint8_t *data;
	unsigned mode = 0;

	assert_true(n > 0);
	size = runspec_cpio("pvisor-run", spec, n, prefix, NULL, 0);
	free(arch);
	arch = calloc(1, prefix + size);
	assert_non_null(arch);
	memset(arch, 0xaa, prefix); /* the archive it follows */
	assert_int_equal(runspec_cpio("pvisor-run", spec, n, prefix, arch + prefix,
				      size), size);
	assert_int_equal((prefix + size) & 3, 0);
	data = cpio_find(arch, prefix + size, prefix, "pvisor-run", &dlen, &mode);
	assert_non_null(data);
	assert_int_equal(dlen, n);
	assert_int_equal(mode, 0100400);
	assert_int_equal(pv_runspec_parse((const char *)data, dlen, &parsed, &why), 0);
}

static void test_argv_roundtrip(void **state)
{
	static char *const argv[] = {
		"sh", "-c", "printf '%s\\n' \"$@\"; exit 7", "a b", "it's \"q\"",
		"line1\nline2", "", "--", "x=y", "\t\\$HOME`id`", NULL,
	};
	static char *const env[] = { "PATH=/usr/bin:/bin", "HOME=/home/u v", NULL };
	const gid_t groups[] = { 100, 27, 1000 };
	struct runspec_in in = { .uid = 1000, .gid = 1001, .groups = groups,
				 .nr_groups = 3, .cwd = "/home/u v/src",
				 .stdin_tty = true, .stderr_mode = PV_STDERR_PIPE,
				 .env = env, .argv = argv };
	unsigned i;

	(void)state;
	for (size_t prefix = 0; prefix < 8; prefix++) {
		roundtrip(&in, prefix);
		assert_int_equal(parsed.uid, 1000);
		assert_int_equal(parsed.gid, 1001);
		assert_int_equal(parsed.nr_groups, 3);
		assert_int_equal(parsed.groups[1], 27);
		assert_string_equal(parsed.cwd, "/home/u v/src");
		assert_true(parsed.stdin_tty);
		assert_false(parsed.stdout_tty);
		assert_int_equal(parsed.stderr_mode, PV_STDERR_PIPE);
		assert_int_equal(parsed.nr_env, 2);
		assert_string_equal(parsed.env[1], "HOME=/home/u v");
		assert_null(parsed.env[2]);
		for (i = 0; argv[i]; i++)
			assert_string_equal(parsed.argv[i], argv[i]);
		assert_int_equal(parsed.argc, i);
		assert_null(parsed.argv[i]);
	}
}

static void test_no_command(void **state)
{
	static char *const none[] = { NULL };
	struct runspec_in in = { .cwd = "/", .argv = none, .stdout_tty = true,
				 .stderr_mode = PV_STDERR_TTY };

	(void)state;
	roundtrip(&in, 3);
	assert_int_equal(parsed.argc, 0);
	assert_int_equal(parsed.nr_groups, 0);
	assert_int_equal(parsed.nr_env, 0);
	assert_false(parsed.stdin_tty);
	assert_true(parsed.stdout_tty);
	assert_int_equal(parsed.stderr_mode, PV_STDERR_TTY);
	/* Without the field (the default of the encoder's zero value too),
	 * stderr stays on the console. */
	in.stderr_mode = PV_STDERR_CONSOLE;
	roundtrip(&in, 0);
	assert_int_equal(parsed.stderr_mode, PV_STDERR_CONSOLE);
}

static void test_encode_limits(void **state)
{
	static char *const argv[] = { "true", NULL };
	static char *const bad_env[] = { "NOEQUALS", NULL };
	struct runspec_in in = { .cwd = "/", .argv = argv };
	char small[16], buf[256];
	const char *why = NULL;

	(void)state;
	assert_int_equal(runspec_encode(&in, small, sizeof(small), &why), 0);
	assert_non_null(why);
	in.cwd = "relative";
	assert_int_equal(runspec_encode(&in, buf, sizeof(buf), &why), 0);
	in.cwd = "/";
	in.env = bad_env;
	assert_int_equal(runspec_encode(&in, buf, sizeof(buf), &why), 0);
}

/* A literal's bytes, without the NUL C adds. */
#define B(s) s, sizeof(s) - 1

static void test_parse_rejects(void **state)
{
	static const struct { const char *what; const char *buf; size_t len; } bad[] = {
		{ "no magic", B("PVRUN2\0--\0") },
		{ "no --", B("PVRUN1\0uid=1\0") },
		{ "unknown field", B("PVRUN1\0shell=1\0--\0") },
		{ "uid not a number", B("PVRUN1\0uid=1x\0--\0") },
		{ "uid too large", B("PVRUN1\0uid=4294967296\0--\0") },
		{ "relative cwd", B("PVRUN1\0cwd=tmp\0--\0") },
		{ "env without =", B("PVRUN1\0env=X\0--\0") },
		{ "bad groups", B("PVRUN1\0groups=1,,2\0--\0") },
		{ "not NUL-terminated", B("PVRUN1\0--\0true") },
		{ "short", B("PVRU") },
	};
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (pv_runspec_parse(bad[i].buf, bad[i].len, &parsed, &why) == 0)
			fail_msg("%s: accepted", bad[i].what);
		assert_non_null(why);
	}
	assert_int_equal(pv_runspec_parse(B("PVRUN1\0uid=4294967295\0--\0"),
					  &parsed, &why), 0);
	assert_int_equal(parsed.uid, 4294967295ul);
}

static void test_guest_cwd(void **state)
{
	static const struct { const char *root, *cwd, *want; } cases[] = {
		{ "/", "/home/u/src", "/home/u/src" },
		{ "/", "/", "/" },
		{ "/srv/root", "/srv/root/a/b", "/a/b" },
		{ "/srv/root/", "/srv/root/a", "/a" },
		{ "/srv/root", "/srv/root", "/" },
		{ "/srv/root", "/srv/rootless/a", "/" },
		{ "/srv/root", "/tmp", "/" },
	};
	char out[64], tiny[3];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(runspec_guest_cwd(cases[i].root, cases[i].cwd, out,
					      sizeof(out)));
		assert_string_equal(out, cases[i].want);
	}
	assert_false(runspec_guest_cwd("/", "/home", tiny, sizeof(tiny)));
}

/* path's place under a root; not under it: 0, out untouched. */
static void test_path_in(void **state)
{
	char out[64] = "x", tiny[4];

	(void)state;
	assert_int_equal(runspec_path_in("/srv/r", "/srv/rx", out, sizeof(out)), 0);
	assert_string_equal(out, "x");
	assert_int_equal(runspec_path_in("/srv/r/", "/srv/r/a b", out, sizeof(out)), 1);
	assert_string_equal(out, "/a b");
	assert_int_equal(runspec_path_in("/srv/r", "/srv/r", out, sizeof(out)), 1);
	assert_string_equal(out, "/");
	assert_int_equal(runspec_path_in("/", "/home/u", out, sizeof(out)), 1);
	assert_string_equal(out, "/home/u");
	assert_int_equal(runspec_path_in("/", "/home/u", tiny, sizeof(tiny)), -1);
}

static void test_guest_path(void **state)
{
	const char *good[] = { "/a", "/home/u/out", "/a b/c", "/.hidden/..x" };
	const char *bad[] = { "", "a/b", "/", "/a//b", "/a/", "/a/./b", "/a/..",
			      "/../etc", "/." };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (runspec_guest_path_bad(good[i]))
			fail_msg("'%s' refused: %s", good[i], runspec_guest_path_bad(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!runspec_guest_path_bad(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
}

static void test_cmdline(void **state)
{
	const char *tags[] = { "rwdir0", "rwdir1" };
	const char *paths[] = { "/home/u/out", "/a b/it's%\n" };
	struct runspec_boot b = { .tag = "rootfs" };
	char out[256], tiny[16];

	(void)state;
	assert_true(runspec_cmdline(&b, out, sizeof(out)));
	assert_string_equal(out, "console=hvc0 quiet loglevel=0 pvisor.root=rootfs:ro");
	b.rw = b.verbose = true;
	b.extra = "nokaslr";
	assert_true(runspec_cmdline(&b, out, sizeof(out)));
	assert_string_equal(out, "console=hvc0 pvisor.verbose=1 pvisor.root=rootfs:rw nokaslr");
	/* Guest paths percent-encoded past the safe bytes; the network's kind. */
	b = (struct runspec_boot){ .tag = "rootfs", .nr_rwdirs = 2, .rwdir_tags = tags,
				   .rwdir_paths = paths, .net = "user", .extra = "x=1" };
	assert_true(runspec_cmdline(&b, out, sizeof(out)));
	assert_string_equal(out, "console=hvc0 quiet loglevel=0 pvisor.root=rootfs:ro "
			    "pvisor.rwdir=rwdir0:/home/u/out "
			    "pvisor.rwdir=rwdir1:/a%20b/it%27s%25%0A pvisor.net=user x=1");
	/* Too long anywhere: false. */
	for (size_t cap = 1; cap <= strlen(out); cap++)
		assert_false(runspec_cmdline(&b, out, cap));
	b = (struct runspec_boot){ .tag = "rootfs" };
	assert_false(runspec_cmdline(&b, tiny, sizeof(tiny)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_roundtrip),
		cmocka_unit_test(test_no_command),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_guest_cwd),
		cmocka_unit_test(test_path_in),
		cmocka_unit_test(test_guest_path),
		cmocka_unit_test(test_cmdline),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	free(arch);
	return rc;
}
