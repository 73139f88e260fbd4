/*
 * pvsh's file commands on 9pfs share 0 (see share.h): connected on first
 * use; fid 0 is the share's root, fids 1 and 2 are per command.
 */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/p9client.h>
#include <kit/p9front.h>
#include <kit/string.h>

#include "share.h"

#define MSIZE (64u << 10)

static struct p9c c;
static int state; /* 0 not tried, 1 connected, -1 failed */

static bool connect(void)
{
	struct p9front *fe;

	if (state == 0) {
		fe = p9front_init(0, 4);
		state = fe && !p9c_init(&c, fe, MSIZE) && !p9c_attach(&c, 0) ? 1 : -1;
	}
	if (state < 0)
		printf("no 9pfs share (pvisor run --share DIR,tag=NAME)\n");
	return state > 0;
}

static int fail(const char *what, const char *path, int rc)
{
	printf("%s %s: error %d\n", what, path, -rc);
	return 1;
}

/* Splits path into the fid of its directory (fid 1) and its last name. */
static int walk_parent(const char *path, const char **name)
{
	char dir[256];
	const char *slash = NULL;

	for (const char *p = path; *p; p++)
		if (*p == '/')
			slash = p;
	if (!slash) {
		*name = path;
		return p9c_walk(&c, 0, 1, "");
	}
	if ((size_t)(slash - path) >= sizeof(dir))
		return -XEN_ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*name = slash + 1;
	return p9c_walk(&c, 0, 1, dir);
}

int share_ls(const char *dir)
{
	static uint8_t buf[8192];
	uint64_t off = 0;
	long n;
	int rc;

	if (!connect())
		return 1;
	rc = p9c_walk(&c, 0, 1, dir);
	if (!rc)
		rc = p9c_lopen(&c, 1, P9_O_RDONLY);
	while (!rc && (n = p9c_readdir(&c, 1, off, buf, sizeof(buf))) > 0) {
		for (long p = 0; p + 24 <= n;) {
			uint16_t l = (uint16_t)(buf[p + 22] | buf[p + 23] << 8);
			const char *nm = (const char *)buf + p + 24;

			memcpy(&off, buf + p + 13, 8);
			if (!(l == 1 && nm[0] == '.') && !(l == 2 && nm[0] == '.' && nm[1] == '.'))
				printf("%.*s%s\n", (int)l, nm, buf[p] & P9_QTDIR ? "/" : "");
			p += 24 + l;
		}
	}
	p9c_clunk(&c, 1);
	return rc ? fail("ls", dir, rc) : 0;
}

int share_cat(const char *path)
{
	static char buf[4096];
	uint64_t off = 0;
	long n = 0;
	int rc;

	if (!connect())
		return 1;
	rc = p9c_walk(&c, 0, 1, path);
	if (!rc)
		rc = p9c_lopen(&c, 1, P9_O_RDONLY);
	while (!rc && (n = p9c_read(&c, 1, off, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		printf("%s", buf);
		off += (uint64_t)n;
	}
	p9c_clunk(&c, 1);
	if (!rc && n < 0)
		rc = (int)n;
	return rc ? fail("cat", path, rc) : 0;
}

int share_write(const char *path, int nwords, char **words)
{
	const char *name;
	uint64_t off = 0;
	int rc;

	if (!connect())
		return 1;
	rc = walk_parent(path, &name);
	if (!rc) {
		rc = p9c_lcreate(&c, 1, name, P9_O_WRONLY | P9_O_TRUNC, 0644);
		if (rc == -XEN_EEXIST) { /* an existing file: open it, truncated */
			p9c_clunk(&c, 1);
			rc = p9c_walk(&c, 0, 1, path);
			if (!rc)
				rc = p9c_lopen(&c, 1, P9_O_WRONLY | P9_O_TRUNC);
		}
	}
	for (int i = 0; !rc && i <= nwords; i++) {
		const char *s = i < nwords ? words[i] : "\n";
		long n = p9c_write(&c, 1, off, s, (uint32_t)strlen(s));

		if (n < 0)
			rc = (int)n;
		off += (uint64_t)(n > 0 ? n : 0);
		if (!rc && i + 1 < nwords) {
			n = p9c_write(&c, 1, off++, " ", 1);
			rc = n < 0 ? (int)n : 0;
		}
	}
	p9c_clunk(&c, 1);
	return rc ? fail("write", path, rc) : 0;
}

int share_rm(const char *path)
{
	const char *name;
	int rc;

	if (!connect())
		return 1;
	rc = walk_parent(path, &name);
	if (!rc) {
		rc = p9c_unlinkat(&c, 1, name, 0);
		if (rc == -XEN_EISDIR)
			rc = p9c_unlinkat(&c, 1, name, P9_AT_REMOVEDIR);
	}
	p9c_clunk(&c, 1);
	return rc ? fail("rm", path, rc) : 0;
}
