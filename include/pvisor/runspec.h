/*
 * The run file of `pvisor run --rootfs DIR -- CMD` (docs/rootfs.md): what
 * the guest runs, as whom and where.  pvisor writes it (src/core/runspec.c)
 * into a cpio archive appended to the initramfs, as /pvisor-run; the
 * guest's tools/guest-init/pvisor-exec.c reads it.  A file, not the kernel
 * command line, because CMD's arguments may hold any byte but NUL (spaces,
 * quotes, newlines, '=', "--") and any length, where the command line is
 * split on spaces by the kernel and limited to 1024 bytes by Xen.
 *
 * Layout: the magic "PVRUN1" and then fields, every one ending in a NUL:
 *   uid=N  gid=N  groups=N,N,...  cwd=/PATH  stdin=tty|null
 *   stdout=tty|pipe  (what pvisor's stdout is: a pipe gets no \r before \n)
 *   stderr=console|tty|pipe  (console: CMD's stderr shares the console with
 *                    stdout; tty or pipe: it goes to the second Xen console,
 *                    /dev/hvc1, which pvisor's --console2 puts on its stderr,
 *                    and says what pvisor's stderr is; absent: console)
 *   env=NAME=VALUE (repeatable)
 *   --     (the end of the fields)
 *   ARG0 ARG1 ...  (CMD's argv, up to the end of the file; none: a shell)
 * Unknown field names are an error (the two sides come from one tree).
 *
 * The parser is here, header-only, so that the guest's static helper and
 * pvisor's unit tests use the same one.
 */
#ifndef PVISOR_RUNSPEC_H
#define PVISOR_RUNSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PV_RUNSPEC_MAGIC "PVRUN1"
#define PV_RUNSPEC_MAX_ARGS 4096
#define PV_RUNSPEC_MAX_ENV 64
#define PV_RUNSPEC_MAX_GROUPS 64
#define PV_RUNSPEC_MAX_BYTES (1u << 20)

enum { PV_STDERR_CONSOLE, PV_STDERR_TTY, PV_STDERR_PIPE };

struct pv_runspec {
	unsigned long uid, gid;
	unsigned long groups[PV_RUNSPEC_MAX_GROUPS];
	unsigned nr_groups;
	const char *cwd;
	bool stdin_tty;
	bool stdout_tty;
	int stderr_mode;    /* PV_STDERR_* */
	const char *env[PV_RUNSPEC_MAX_ENV + 1];  /* NULL-terminated */
	unsigned nr_env;
	const char *argv[PV_RUNSPEC_MAX_ARGS + 1]; /* NULL-terminated */
	unsigned argc;
};

/* A decimal number that fills s up to the end or up to stop; the end in *end. */
static inline int pv_runspec_number(const char *s, char stop, unsigned long *v,
				    const char **end)
{
	const char *p = s;

	*v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (*v > 0xffffffffUL / 10)
			return -1;
		*v = *v * 10 + (unsigned long)(*p - '0');
		p++;
	}
	if (*v > 0xffffffffUL || (*p != '\0' && *p != stop))
		return -1;
	*end = p;
	return 0;
}

static inline int pv_runspec_field(struct pv_runspec *r, const char *f)
{
	const char *end;

	if (!strncmp(f, "uid=", 4))
		return pv_runspec_number(f + 4, 0, &r->uid, &end);
	if (!strncmp(f, "gid=", 4))
		return pv_runspec_number(f + 4, 0, &r->gid, &end);
	if (!strncmp(f, "groups=", 7)) {
		const char *p = f + 7;

		r->nr_groups = 0;
		while (*p) {
			if (r->nr_groups == PV_RUNSPEC_MAX_GROUPS ||
			    pv_runspec_number(p, ',', &r->groups[r->nr_groups], &end))
				return -1;
			r->nr_groups++;
			p = *end ? end + 1 : end;
		}
		return 0;
	}
	if (!strncmp(f, "cwd=", 4)) {
		if (f[4] != '/')
			return -1;
		r->cwd = f + 4;
		return 0;
	}
	if (!strcmp(f, "stdin=tty") || !strcmp(f, "stdin=null")) {
		r->stdin_tty = f[6] == 't';
		return 0;
	}
	if (!strcmp(f, "stdout=tty") || !strcmp(f, "stdout=pipe")) {
		r->stdout_tty = f[7] == 't';
		return 0;
	}
	if (!strcmp(f, "stderr=console") || !strcmp(f, "stderr=tty") ||
	    !strcmp(f, "stderr=pipe")) {
		r->stderr_mode = f[7] == 'c' ? PV_STDERR_CONSOLE
				 : f[7] == 't' ? PV_STDERR_TTY : PV_STDERR_PIPE;
		return 0;
	}
	if (!strncmp(f, "env=", 4)) {
		const char *eq = strchr(f + 4, '=');

		if (!eq || eq == f + 4 || r->nr_env == PV_RUNSPEC_MAX_ENV)
			return -1;
		r->env[r->nr_env++] = f + 4;
		r->env[r->nr_env] = NULL;
		return 0;
	}
	return -1;
}

/*
 * Parses buf[0..len) (which must end in a NUL: every string points into
 * it).  0, or -1 with *why saying what is wrong.
 */
static inline int pv_runspec_parse(const char *buf, size_t len,
				   struct pv_runspec *r, const char **why)
{
	size_t at = sizeof(PV_RUNSPEC_MAGIC);
	bool fields = true;

	memset(r, 0, sizeof(*r));
	r->cwd = "/";
	*why = "no run file magic";
	if (len < sizeof(PV_RUNSPEC_MAGIC) || len > PV_RUNSPEC_MAX_BYTES ||
	    memcmp(buf, PV_RUNSPEC_MAGIC, sizeof(PV_RUNSPEC_MAGIC)))
		return -1;
	*why = "the run file does not end in a NUL";
	if (buf[len - 1] != '\0')
		return -1;
	while (at < len) {
		const char *s = buf + at;

		at += strlen(s) + 1;
		if (fields) {
			if (!strcmp(s, "--")) {
				fields = false;
			} else if (pv_runspec_field(r, s)) {
				*why = "a bad field in the run file";
				return -1;
			}
			continue;
		}
		if (r->argc == PV_RUNSPEC_MAX_ARGS) {
			*why = "too many arguments in the run file";
			return -1;
		}
		r->argv[r->argc++] = s;
	}
	*why = "the run file has no \"--\"";
	if (fields)
		return -1;
	r->argv[r->argc] = NULL;
	return 0;
}

#endif
