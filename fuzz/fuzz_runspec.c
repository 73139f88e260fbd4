/*
 * libFuzzer harness for the run file of `pvisor run --rootfs`
 * (include/pvisor/runspec.h): any bytes into the guest helper's parser;
 * what it accepts must point inside the input, and encoding it again with
 * pvisor's encoder (core/runspec.c) and parsing that must give the same
 * fields back.  The parser runs in the guest (tools/guest-init/pvisor-exec.c),
 * not on one of pvisor's threads, so no sandbox role.
 */
// fuzz-sources: src/core/runspec.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <pvisor/runspec.h>

#include "core/runspec.h"

static struct pv_runspec a, b;
static char again[PV_RUNSPEC_MAX_BYTES];

static void inside(const char *s, const char *buf, size_t len)
{
	if (s < buf || s >= buf + len || !memchr(s, '\0', (size_t)(buf + len - s)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *why;
	gid_t groups[PV_RUNSPEC_MAX_GROUPS];
	struct runspec_in in;
	size_t n;

	/* Encoding adds the fields an input may leave out: leave it room. */
	if (size > PV_RUNSPEC_MAX_BYTES - 4096 || pv_runspec_parse(buf, size, &a, &why) < 0)
		return 0;
	if (strcmp(a.cwd, "/"))
		inside(a.cwd, buf, size); /* else it may be the parser's default */
	for (unsigned i = 0; i < a.argc; i++)
		inside(a.argv[i], buf, size);
	for (unsigned i = 0; i < a.nr_env; i++)
		inside(a.env[i], buf, size);
	if (a.argv[a.argc] || a.env[a.nr_env] || a.nr_groups > PV_RUNSPEC_MAX_GROUPS)
		abort();
	for (unsigned i = 0; i < a.nr_groups; i++)
		groups[i] = (gid_t)a.groups[i];
	in = (struct runspec_in){ .uid = (uid_t)a.uid, .gid = (gid_t)a.gid,
				  .groups = groups, .nr_groups = a.nr_groups,
				  .cwd = a.cwd, .stdin_tty = a.stdin_tty,
				  .stdout_tty = a.stdout_tty,
				  .env = (char *const *)a.env,
				  .argv = (char *const *)a.argv };
	n = runspec_encode(&in, again, sizeof(again), &why);
	if (!n || pv_runspec_parse(again, n, &b, &why) < 0)
		abort();
	if (b.uid != a.uid || b.gid != a.gid || b.nr_groups != a.nr_groups ||
	    strcmp(b.cwd, a.cwd) || b.stdin_tty != a.stdin_tty ||
	    b.stdout_tty != a.stdout_tty || b.argc != a.argc || b.nr_env != a.nr_env)
		abort();
	for (unsigned i = 0; i < a.argc; i++)
		if (strcmp(a.argv[i], b.argv[i]))
			abort();
	for (unsigned i = 0; i < a.nr_env; i++)
		if (strcmp(a.env[i], b.env[i]))
			abort();
	return 0;
}
