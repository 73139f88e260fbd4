/* `pvisor run --rootfs`'s run file, cpio and command line (runspec.h). */
#include "core/runspec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pvisor/runspec.h>

struct out {
	char *buf;
	size_t cap, len;
	bool full;
};

/* Appends s and its NUL. */
static void put(struct out *o, const char *s)
{
	size_t n = strlen(s) + 1;

	if (o->full || n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_groups(struct out *o, const gid_t *groups, unsigned n)
{
	char field[PV_RUNSPEC_MAX_GROUPS * 11 + 8];
	size_t at = (size_t)snprintf(field, sizeof(field), "groups=");

	if (n > PV_RUNSPEC_MAX_GROUPS)
		n = PV_RUNSPEC_MAX_GROUPS; /* the rest are not the guest's */
	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(field + at, sizeof(field) - at, "%s%u",
				       i ? "," : "", (unsigned)groups[i]);
	put(o, field);
}

size_t runspec_encode(const struct runspec_in *in, char *buf, size_t cap,
		      const char **why)
{
	struct out o = { .buf = buf, .cap = cap };
	char field[32];
	unsigned n;

	if (!in->cwd || in->cwd[0] != '/') {
		*why = "the working directory is not absolute";
		return 0;
	}
	put(&o, PV_RUNSPEC_MAGIC);
	snprintf(field, sizeof(field), "uid=%u", (unsigned)in->uid);
	put(&o, field);
	snprintf(field, sizeof(field), "gid=%u", (unsigned)in->gid);
	put(&o, field);
	put_groups(&o, in->groups, in->nr_groups);
	if (o.full || strlen(in->cwd) + 5 > o.cap - o.len) {
		o.full = true;
	} else {
		memcpy(o.buf + o.len, "cwd=", 4);
		o.len += 4;
		put(&o, in->cwd);
	}
	put(&o, in->stdin_tty ? "stdin=tty" : "stdin=null");
	put(&o, in->stdout_tty ? "stdout=tty" : "stdout=pipe");
	put(&o, in->stderr_mode == PV_STDERR_TTY    ? "stderr=tty"
		: in->stderr_mode == PV_STDERR_PIPE ? "stderr=pipe" : "stderr=console");
	for (n = 0; in->env && in->env[n]; n++) {
		const char *eq = strchr(in->env[n], '=');
		size_t len = strlen(in->env[n]);

		if (!eq || eq == in->env[n] || n == PV_RUNSPEC_MAX_ENV) {
			*why = "a bad or one too many environment variable";
			return 0;
		}
		if (o.full || len + 5 > o.cap - o.len) {
			o.full = true;
			break;
		}
		memcpy(o.buf + o.len, "env=", 4);
		o.len += 4;
		put(&o, in->env[n]);
	}
	put(&o, "--");
	for (n = 0; in->argv && in->argv[n]; n++) {
		if (n == PV_RUNSPEC_MAX_ARGS) {
			*why = "more than 4096 arguments";
			return 0;
		}
		put(&o, in->argv[n]);
	}
	if (o.full || o.len > PV_RUNSPEC_MAX_BYTES) {
		*why = "the command and its arguments are larger than 1 MiB";
		return 0;
	}
	return o.len;
}

static size_t pad4(size_t n)
{
	return (4 - (n & 3)) & 3;
}

/* One newc header and its name (padded); the entry's length with data. */
static size_t cpio_entry(uint8_t *out, size_t cap, size_t at, const char *name,
			 unsigned mode, const void *data, size_t len)
{
	char hdr[111];
	size_t nlen = strlen(name) + 1, total;

	/* c_magic ino mode uid gid nlink mtime filesize devmajor devminor
	 * rdevmajor rdevminor namesize check: 8 hex digits each. */
	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 1u, mode, 0u, 0u, 1u, 0u, (unsigned)len, 0u, 0u, 0u, 0u,
		 (unsigned)nlen, 0u);
	total = 110 + nlen;
	total += pad4(total);
	total += len + pad4(len);
	if (out && at + total <= cap) {
		uint8_t *p = out + at;

		memset(p, 0, total);
		memcpy(p, hdr, 110);
		memcpy(p + 110, name, nlen);
		p += 110 + nlen + pad4(110 + nlen);
		if (len)
			memcpy(p, data, len);
	}
	return total;
}

size_t runspec_cpio(const char *name, const void *data, size_t len,
		    size_t prefix_len, uint8_t *out, size_t cap)
{
	size_t at = pad4(prefix_len);

	if (out && at <= cap)
		memset(out, 0, at);
	at += cpio_entry(out, cap, at, name, 0100400, data, len);
	at += cpio_entry(out, cap, at, "TRAILER!!!", 0, NULL, 0);
	return at;
}

int runspec_path_in(const char *root, const char *path, char *out, size_t cap)
{
	size_t n = strlen(root);
	const char *rest;

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		rest = path;
	else if (!strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0'))
		rest = path[n] ? path + n : "/";
	else
		return 0;
	return (size_t)snprintf(out, cap, "%s", rest) < cap ? 1 : -1;
}

bool runspec_guest_cwd(const char *root, const char *cwd, char *out, size_t cap)
{
	int in = runspec_path_in(root, cwd, out, cap);

	if (in == 0)
		return (size_t)snprintf(out, cap, "/") < cap;
	return in > 0;
}

const char *runspec_guest_path_bad(const char *path)
{
	const char *p = path;

	if (path[0] != '/')
		return "is not absolute";
	if (!strcmp(path, "/"))
		return "is the root itself (that is --rootfs DIR,rw)";
	while (*p == '/') {
		size_t n = strcspn(++p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return "has an empty, '.' or '..' part";
		p += n;
	}
	return NULL;
}

/* Bytes a command-line word carries as they are (the rest: %XX). */
static bool word_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("/._+-", c);
}

/* Appends s to out at *at, percent-encoded; false when it does not fit. */
static bool cmd_put_encoded(char *out, size_t cap, size_t *at, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int n = word_safe(c) ? snprintf(out + *at, cap - *at, "%c", c)
				     : snprintf(out + *at, cap - *at, "%%%02X", c);

		if (n < 0 || (size_t)n >= cap - *at)
			return false;
		*at += (size_t)n;
	}
	return true;
}

/* Appends the printf-formatted words to out at *at; false when too long. */
__attribute__((format(printf, 4, 5)))
static bool cmd_put(char *out, size_t cap, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *at, cap - *at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *at)
		return false;
	*at += (size_t)n;
	return true;
}

bool runspec_cmdline(const struct runspec_boot *b, char *out, size_t cap)
{
	size_t at = 0;

	if (!cap || !cmd_put(out, cap, &at, "console=hvc0%s pvisor.root=%s:%s",
			 b->verbose ? " pvisor.verbose=1" : " quiet loglevel=0",
			 b->tag, b->rw ? "rw" : "ro"))
		return false;
	for (unsigned i = 0; i < b->nr_rwdirs; i++)
		if (!cmd_put(out, cap, &at, " pvisor.rwdir=%s:", b->rwdir_tags[i]) ||
		    !cmd_put_encoded(out, cap, &at, b->rwdir_paths[i]))
			return false;
	if (b->net && !cmd_put(out, cap, &at, " pvisor.net=%s", b->net))
		return false;
	return !b->extra || !*b->extra || cmd_put(out, cap, &at, " %s", b->extra);
}
