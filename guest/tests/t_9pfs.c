/*
 * 9pfs from the guest kit: real file operations on share 0 (read-write),
 * whose results tests/e2e/t_9pfs.sh checks on the host; a read-only share 1
 * refusing every change with EROFS; extended attributes as Linux's v9fs
 * sets, gets, lists and removes them (user.* only; in mapped-xattr
 * pvisor's own user.pvisor.* hidden); a 9P2000.u session as Mini-OS's
 * 9pfront opens one (create, write, open, read, stat, a directory read);
 * then hostile messages (17-element
 * walks, a string running past its message, `..` escapes, fid exhaustion)
 * that must get error replies, and last a size field past the ring that
 * must disconnect the device.  pvisor survives: the guest exits 0.
 */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/p9client.h>
#include <kit/p9front.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>

/* Linux errnos Xen's errno.h lacks (the server answers Linux's numbers). */
#define LINUX_ELOOP 40
#define LINUX_EPROTO 71

#define ROOT 0u
#define MSIZE (64u << 10)

static struct p9c c;

static bool read_is(uint32_t fid, const char *want)
{
	char buf[128];
	long n = p9c_read(&c, fid, 0, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = '\0';
	return !strcmp(buf, want);
}

static bool dir_has(uint32_t dfid, const char *name)
{
	static uint8_t buf[8192];
	uint64_t off = 0;
	long n;

	while ((n = p9c_readdir(&c, dfid, off, buf, sizeof(buf))) > 0) {
		for (long p = 0; p + 24 <= n;) {
			uint16_t l = (uint16_t)(buf[p + 22] | buf[p + 23] << 8);

			memcpy(&off, buf + p + 13, 8);
			if (l == strlen(name) && !memcmp(buf + p + 24, name, l))
				return true;
			p += 24 + l;
		}
	}
	return false;
}

static void file_ops(void)
{
	struct p9c_stat st;
	char buf[64];
	uint32_t bsize;
	uint64_t blocks;

	check_rc(p9c_attach(&c, ROOT), 0, "attach");
	check_rc(p9c_mkdir(&c, ROOT, "d1", 0755), 0, "mkdir d1");
	check_rc(p9c_mkdir(&c, ROOT, "d2", 0755), 0, "mkdir d2");
	check_rc(p9c_walk(&c, ROOT, 1, "d1"), 0, "walk d1");
	check_rc(p9c_lcreate(&c, 1, "f", P9_O_RDWR, 0644), 0, "create d1/f");
	check_rc(p9c_write(&c, 1, 0, "hello world", 11), 11, "write");
	check(read_is(1, "hello world"), "read back", "content differs");
	check_rc(p9c_fsync(&c, 1), 0, "fsync");
	check_rc(p9c_clunk(&c, 1), 0, "clunk");
	check_rc(p9c_walk(&c, ROOT, 2, "d1/f"), 0, "walk d1/f");
	check_rc(p9c_lopen(&c, 2, P9_O_WRONLY | P9_O_APPEND), 0, "open append");
	check_rc(p9c_write(&c, 2, 0, "!", 1), 1, "append");
	check_rc(p9c_clunk(&c, 2), 0, "clunk appended");
	check_rc(p9c_walk(&c, ROOT, 2, "d1/f"), 0, "walk again");
	check_rc(p9c_lopen(&c, 2, P9_O_RDONLY), 0, "open read");
	check(read_is(2, "hello world!"), "appended content", "differs");
	check_rc(p9c_setattr(&c, 2, P9_SETATTR_SIZE, 0, 5), 0, "truncate to 5");
	check(read_is(2, "hello"), "truncated content", "differs");
	/* rename across directories; the open fid still reads it */
	check_rc(p9c_walk(&c, ROOT, 3, "d2"), 0, "walk d2");
	check_rc(p9c_renameat(&c, ROOT, "d1", 3, "moved"), 0, "rename d1 -> d2/moved");
	check_rc(p9c_walk(&c, 3, 4, "moved"), 0, "walk d2/moved");
	check_rc(p9c_renameat(&c, 4, "f", 3, "g"), 0, "rename moved/f -> d2/g");
	check_rc(p9c_unlinkat(&c, 3, "g", 0), 0, "unlink the open file");
	check(read_is(2, "hello"), "an unlinked open file reads", "differs");
	check_rc(p9c_clunk(&c, 2), 0, "clunk unlinked");
	check_rc(p9c_unlinkat(&c, 3, "moved", P9_AT_REMOVEDIR), 0, "rmdir");
	check_rc(p9c_clunk(&c, 4), 0, "clunk removed dir");
	/* the files the host checks */
	check_rc(p9c_walk(&c, ROOT, 5, ""), 0, "clone root");
	check_rc(p9c_lcreate(&c, 5, "final.txt", P9_O_WRONLY, 0640), 0, "create final.txt");
	check_rc(p9c_write(&c, 5, 0, "from the guest\n", 15), 15, "write final.txt");
	check_rc(p9c_fsync(&c, 5), 0, "fsync final.txt");
	check_rc(p9c_link(&c, 3, 5, "hard"), 0, "link d2/hard");
	check_rc(p9c_setattr(&c, 5, P9_SETATTR_MODE, 0600, 0), 0, "chmod 0600");
	check_rc(p9c_getattr(&c, 5, &st), 0, "getattr");
	check(st.mode == (0100000 | 0600) && st.nlink == 2 && st.size == 15,
	      "getattr values", "mode %o nlink %lu size %lu", st.mode,
	      (unsigned long)st.nlink, (unsigned long)st.size);
	check_rc(p9c_clunk(&c, 5), 0, "clunk final");
	check_rc(p9c_symlink(&c, ROOT, "link", "d2/hard"), 0, "symlink");
	check_rc(p9c_walk(&c, ROOT, 6, "link"), 0, "walk the symlink");
	check_rc(p9c_readlink(&c, 6, buf, sizeof(buf)), 0, "readlink");
	check(!strcmp(buf, "d2/hard"), "readlink target", "'%s'", buf);
	check_rc(p9c_lopen(&c, 6, P9_O_RDONLY), -LINUX_ELOOP, "open a symlink: ELOOP");
	check_rc(p9c_clunk(&c, 6), 0, "clunk link");
	check_rc(p9c_walk(&c, ROOT, 7, ""), 0, "clone for readdir");
	check_rc(p9c_lopen(&c, 7, P9_O_RDONLY), 0, "open root dir");
	check(dir_has(7, "final.txt") && dir_has(7, "d2") && dir_has(7, "link") &&
	      !dir_has(7, "d1"), "readdir", "entries differ");
	check_rc(p9c_clunk(&c, 7), 0, "clunk dir");
	check_rc(p9c_statfs(&c, ROOT, &bsize, &blocks), 0, "statfs");
	check(bsize > 0 && blocks > 0, "statfs values", "bsize %u", bsize);
	check_rc(p9c_clunk(&c, 3), 0, "clunk d2");
}

/* getxattr as v9fs: Txattrwalk to fid 82, Tread, Tclunk.  The value
 * (NUL-terminated) into buf, its size, or -errno. */
static long xget(uint32_t fid, const char *name, char *buf, uint32_t len)
{
	uint64_t size;
	long rc = p9c_xattrwalk(&c, fid, 82, name, &size), n;

	if (rc)
		return rc;
	n = size < len ? p9c_read(&c, 82, 0, buf, len - 1) : -XEN_ERANGE;
	p9c_clunk(&c, 82);
	if (n >= 0)
		buf[n] = '\0';
	return n < 0 || (uint64_t)n == size ? n : -XEN_EIO;
}

/* setxattr as v9fs: a clone (fid 81) made an xattr fid, the value written,
 * then clunked; the clunk's answer.  value "" removes name. */
static long xset(uint32_t fid, const char *name, const char *value, uint32_t flags)
{
	uint32_t n = (uint32_t)strlen(value);
	long rc = p9c_walk(&c, fid, 81, "");

	if (rc)
		return rc;
	rc = p9c_xattrcreate(&c, 81, name, n, flags);
	if (rc == 0 && n)
		rc = p9c_write(&c, 81, 0, value, n) == n ? 0 : -XEN_EIO;
	return rc ? (p9c_clunk(&c, 81), rc) : p9c_clunk(&c, 81);
}

static bool list_has(const char *list, long len, const char *prefix, bool whole)
{
	for (long at = 0; at < len; at += (long)strlen(list + at) + 1)
		if (whole ? !strcmp(list + at, prefix) : !strncmp(list + at, prefix, strlen(prefix)))
			return true;
	return false;
}

/* Extended attributes on xattr.txt (t_9pfs.sh checks user.color on the
 * host, and user.gone gone). */
static void xattrs(struct p9front *fe)
{
	bool mapped = !strcmp(p9front_security_model(fe), "mapped-xattr");
	char buf[512];
	uint64_t size;
	long n;

	check_rc(p9c_walk(&c, ROOT, 80, ""), 0, "xattr: clone root");
	check_rc(p9c_lcreate(&c, 80, "xattr.txt", P9_O_RDWR, 0644), 0, "xattr: create xattr.txt");
	check_rc(p9c_clunk(&c, 80), 0, "xattr: clunk the created file");
	check_rc(p9c_walk(&c, ROOT, 80, "xattr.txt"), 0, "xattr: walk xattr.txt");
	n = xset(80, "user.color", "blue", P9_XATTR_CREATE);
	if (n == -XEN_EOPNOTSUPP && !mapped) {
		printf("xattr: the share's filesystem takes no user xattrs: skipped\n");
		p9c_clunk(&c, 80);
		return;
	}
	check_rc(n, 0, "xattr: set user.color (XATTR_CREATE)");
	check_rc(xset(80, "user.color", "red", P9_XATTR_CREATE), -XEN_EEXIST,
		 "xattr: XATTR_CREATE of an existing one: EEXIST");
	check_rc(xget(80, "user.color", buf, sizeof(buf)), 4, "xattr: get user.color");
	check(!strcmp(buf, "blue"), "xattr: user.color's value", "'%s'", buf);
	check_rc(p9c_xattrwalk(&c, 80, 82, "user.color", &size), 0, "xattr: size query");
	check(size == 4, "xattr: the size is the value's", "%lu", (unsigned long)size);
	check_rc(p9c_read(&c, 82, 2, buf, sizeof(buf)), 2, "xattr: read at an offset");
	check_rc(p9c_clunk(&c, 82), 0, "xattr: clunk the size query");
	check_rc(xset(80, "user.gone", "soon", 0), 0, "xattr: set user.gone");
	n = xget(80, "", buf, sizeof(buf));
	check(n > 0 && list_has(buf, n, "user.color", true) && list_has(buf, n, "user.gone", true),
	      "xattr: the list names both", "%ld bytes", n);
	check(n > 0 && !list_has(buf, n, "user.pvisor.", false) && !list_has(buf, n, "security.", false),
	      "xattr: the list names no pvisor or security attribute", "%ld bytes", n);
	check_rc(xset(80, "user.gone", "", P9_XATTR_REPLACE), 0, "xattr: remove user.gone (size 0)");
	check_rc(xget(80, "user.gone", buf, sizeof(buf)), -XEN_ENODATA, "xattr: removed: ENODATA");
	check_rc(xset(80, "user.gone", "", P9_XATTR_REPLACE), -XEN_ENODATA,
		 "xattr: remove a missing one: ENODATA");
	check_rc(xset(80, "security.capability", "x", 0), -XEN_EOPNOTSUPP,
		 "xattr: security.* not served: EOPNOTSUPP");
	check_rc(xget(80, "trusted.x", buf, sizeof(buf)), -XEN_EOPNOTSUPP,
		 "xattr: trusted.* not served: EOPNOTSUPP");
	check_rc(p9c_walk(&c, ROOT, 81, ""), 0, "xattr: clone for a big one");
	check_rc(p9c_xattrcreate(&c, 81, "user.big", P9_XATTR_SIZE_MAX + 1, 0), -XEN_E2BIG,
		 "xattr: attr_size past 64 KiB: E2BIG");
	check_rc(p9c_xattrcreate(&c, 81, "user.short", 2, 0), 0, "xattr: create user.short");
	check_rc(p9c_write(&c, 81, 0, "abc", 3), -XEN_ENOSPC, "xattr: a write past attr_size: ENOSPC");
	check_rc(p9c_clunk(&c, 81), -XEN_EINVAL, "xattr: a value not written: EINVAL at clunk");
	check_rc(xget(80, "user.short", buf, sizeof(buf)), -XEN_ENODATA, "xattr: ... and not set");
	if (mapped) {
		check_rc(xget(80, "user.pvisor.mode", buf, sizeof(buf)), -XEN_ENODATA,
			 "xattr: mapped: user.pvisor.mode hidden (ENODATA)");
		check_rc(xset(80, "user.pvisor.mode", "\377\377\377\377", 0), -XEN_EACCES,
			 "xattr: mapped: user.pvisor.mode not settable (EACCES)");
		check_rc(xset(80, "user.pvisor.uid", "", 0), -XEN_EACCES,
			 "xattr: mapped: user.pvisor.uid not removable (EACCES)");
	}
	check_rc(p9c_clunk(&c, 80), 0, "xattr: clunk xattr.txt");
}

static void read_only(struct p9front *fe)
{
	struct p9c r;

	if (!check(fe != NULL, "ro share connects", "no device 1"))
		return;
	check_rc(p9c_init(&r, fe, MSIZE), 0, "ro version");
	check_rc(p9c_attach(&r, 0), 0, "ro attach");
	check_rc(p9c_walk(&r, 0, 1, "keep"), 0, "ro walk keep");
	check_rc(p9c_lopen(&r, 1, P9_O_RDWR), -XEN_EROFS, "ro open rw: EROFS");
	check_rc(p9c_setattr(&r, 1, P9_SETATTR_SIZE, 0, 0), -XEN_EROFS, "ro truncate: EROFS");
	check_rc(p9c_lopen(&r, 1, P9_O_RDONLY), 0, "ro open read");
	check_rc(p9c_write(&r, 1, 0, "x", 1), -XEN_EROFS, "ro write: EROFS");
	check_rc(p9c_lcreate(&r, 0, "new", P9_O_RDWR, 0644), -XEN_EROFS, "ro create: EROFS");
	check_rc(p9c_mkdir(&r, 0, "new", 0755), -XEN_EROFS, "ro mkdir: EROFS");
	check_rc(p9c_unlinkat(&r, 0, "keep", 0), -XEN_EROFS, "ro unlink: EROFS");
	check_rc(p9c_renameat(&r, 0, "keep", 0, "k2"), -XEN_EROFS, "ro rename: EROFS");
	check_rc(p9c_symlink(&r, 0, "s", "keep"), -XEN_EROFS, "ro symlink: EROFS");
	check_rc(p9c_link(&r, 0, 1, "h"), -XEN_EROFS, "ro link: EROFS");
	check_rc(p9c_walk(&r, 0, 2, "keep"), 0, "ro walk for an xattr");
	check_rc(p9c_xattrcreate(&r, 2, "user.x", 1, 0), -XEN_EROFS, "ro xattrcreate: EROFS");
}

/* A Tread of 8 bytes at 0 of fid 70, tagged. */
static uint32_t tread(uint8_t *m, uint16_t tag)
{
	m[4] = P9_TREAD;
	memcpy(m + 5, &tag, 2);
	memcpy(m + 7, &(uint32_t){ 70 }, 4);
	memcpy(m + 11, &(uint64_t){ 0 }, 8);
	memcpy(m + 19, &(uint32_t){ 8 }, 4);
	memcpy(m, &(uint32_t){ 23 }, 4);
	return 23;
}

/* Several requests in flight on one ring: each answered once, by tag, in
 * any order; a Tflush is answered after the request it names. */
static void in_flight(struct p9front *fe)
{
	static uint8_t m[64], rsp[256];
	unsigned seen = 0, ok = 0;
	bool flush_after = true;

	check_rc(p9c_walk(&c, ROOT, 70, ""), 0, "walk for in-flight");
	check_rc(p9c_lcreate(&c, 70, "inflight", P9_O_RDWR, 0644), 0, "lcreate inflight");
	check(p9c_write(&c, 70, 0, "12345678", 8) == 8, "write inflight", "short");
	for (uint16_t i = 0; i < 12; i++)
		p9front_send(fe, m, tread(m, (uint16_t)(0x7000 + i)));
	for (int i = 0; i < 12; i++) {
		long n = p9front_recv(fe, rsp, sizeof(rsp));
		uint16_t tag = (uint16_t)(rsp[5] | rsp[6] << 8);

		if (n == 19 && rsp[4] == P9_RREAD && tag >= 0x7000 && tag < 0x700c &&
		    !(seen & (1u << (tag - 0x7000))) && !memcmp(rsp + 11, "12345678", 8))
			ok++;
		if (n > 0 && tag >= 0x7000 && tag < 0x700c)
			seen |= 1u << (tag - 0x7000);
	}
	check(ok == 12 && seen == 0xfff, "12 reads in flight: each answered once",
	      "%u good, tags seen %#x", ok, seen);
	for (uint16_t i = 0; i < 8; i++) {
		uint16_t tag = (uint16_t)(0x7100 + 2 * i), ftag = (uint16_t)(tag + 1);

		p9front_send(fe, m, tread(m, tag));
		memset(m, 0, 11);
		memcpy(m, &(uint32_t){ 9 }, 4);
		m[4] = P9_TFLUSH;
		memcpy(m + 5, &ftag, 2);
		memcpy(m + 7, &tag, 2);
		p9front_send(fe, m, 9);
		/* The read's answer (it is not aborted) comes before Rflush. */
		p9front_recv(fe, rsp, sizeof(rsp));
		flush_after &= rsp[4] == P9_RREAD && (rsp[5] | rsp[6] << 8) == tag;
		p9front_recv(fe, rsp, sizeof(rsp));
		flush_after &= rsp[4] == P9_RFLUSH && (rsp[5] | rsp[6] << 8) == ftag;
	}
	check(flush_after, "Tflush: answered after the request it flushes",
	      "order broken");
	check_rc(p9c_clunk(&c, 70), 0, "clunk inflight");
	check_rc(p9c_unlinkat(&c, ROOT, "inflight", 0), 0, "unlink inflight");
}

/* --- 9P2000.u, as Mini-OS's 9pfront speaks it (its messages byte for
 * byte: afid 0 in Tattach, Tcreate with an empty extension) --- */

struct umsg {
	uint8_t b[512];
	uint32_t n;
};

static void u_begin(struct umsg *m, uint8_t type)
{
	memset(m->b, 0, 7);
	m->b[4] = type;
	m->b[5] = 3; /* tag 3 */
	m->n = 7;
}

static void u_put(struct umsg *m, const void *p, uint32_t len)
{
	memcpy(m->b + m->n, p, len);
	m->n += len;
}

static void u_32(struct umsg *m, uint32_t v) { u_put(m, &v, 4); }
static void u_16(struct umsg *m, uint16_t v) { u_put(m, &v, 2); }
static void u_8(struct umsg *m, uint8_t v) { u_put(m, &v, 1); }
static void u_str(struct umsg *m, const char *s)
{
	u_16(m, (uint16_t)strlen(s));
	u_put(m, s, (uint32_t)strlen(s));
}

static uint8_t ursp[MSIZE];

static uint32_t u_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Sends m; the reply's type (0 if none), its length in *len. */
static uint8_t u_rpc(struct p9front *fe, struct umsg *m, long *len)
{
	memcpy(m->b, &m->n, 4);
	*len = p9front_rpc(fe, m->b, m->n, ursp, sizeof(ursp));
	return *len >= 7 ? ursp[4] : 0;
}

/* A whole call that must succeed (the reply's type is type + 1). */
static bool u_ok(struct p9front *fe, struct umsg *m, const char *what)
{
	uint8_t want = (uint8_t)(m->b[4] + 1);
	long len;
	uint8_t got = u_rpc(fe, m, &len);

	return check(got == want, what, "reply type %u (len %ld), want %u", got, len, want);
}

/* Twalk of fid to newfid through name ("": a clone). */
static bool u_walk(struct p9front *fe, uint32_t fid, uint32_t newfid, const char *name,
		   const char *what)
{
	struct umsg m;

	u_begin(&m, P9_TWALK);
	u_32(&m, fid);
	u_32(&m, newfid);
	u_16(&m, name[0] ? 1 : 0);
	if (name[0])
		u_str(&m, name);
	return u_ok(fe, &m, what);
}

static bool u_open(struct p9front *fe, uint32_t fid, uint8_t mode, const char *what)
{
	struct umsg m;

	u_begin(&m, P9_TOPEN);
	u_32(&m, fid);
	u_8(&m, mode);
	return u_ok(fe, &m, what);
}

static bool u_read(struct p9front *fe, uint32_t fid, uint32_t count, const char *what)
{
	struct umsg m;

	u_begin(&m, P9_TREAD);
	u_32(&m, fid);
	u_32(&m, 0); /* offset 0 */
	u_32(&m, 0);
	u_32(&m, count);
	return u_ok(fe, &m, what);
}

/* The name in a stat structure at p (its length in *nlen). */
static const char *stat_name(const uint8_t *p, uint16_t *nlen)
{
	const uint8_t *q = p + 2 + 2 + 4 + 13 + 4 + 4 + 4 + 8;

	*nlen = (uint16_t)(q[0] | q[1] << 8);
	return (const char *)q + 2;
}

static void dot_u(struct p9front *fe)
{
	struct umsg m;
	uint16_t nlen;
	const char *name;
	long len;

	u_begin(&m, P9_TVERSION);
	u_32(&m, MSIZE);
	u_str(&m, "9P2000.u");
	if (u_ok(fe, &m, ".u version"))
		check(!memcmp(ursp + 13, "9P2000.u", 8), ".u version echoed", "%.8s", ursp + 13);
	u_begin(&m, P9_TATTACH);
	u_32(&m, 0);
	u_32(&m, 0); /* afid 0, as Mini-OS */
	u_str(&m, "root");
	u_str(&m, "root");
	u_32(&m, 0);
	u_ok(fe, &m, ".u attach with afid 0");
	u_walk(fe, 0, 1, "", ".u clone walk"); /* open_9pfs: then Tcreate */
	u_begin(&m, P9_TCREATE);
	u_32(&m, 1);
	u_str(&m, "minios.txt");
	u_32(&m, 0644);
	u_8(&m, P9_OWRITE);
	u_str(&m, "");
	u_ok(fe, &m, ".u Tcreate");
	u_begin(&m, P9_TWRITE);
	u_32(&m, 1);
	u_32(&m, 0);
	u_32(&m, 0);
	u_32(&m, 12);
	u_put(&m, "from mini-os", 12);
	if (u_ok(fe, &m, ".u Twrite"))
		check(u_le32(ursp + 7) == 12, ".u wrote 12 bytes", "%u", u_le32(ursp + 7));
	u_begin(&m, P9_TCLUNK);
	u_32(&m, 1);
	u_ok(fe, &m, ".u clunk");
	u_walk(fe, 0, 2, "minios.txt", ".u walk to the file");
	u_open(fe, 2, P9_OREAD, ".u Topen");
	if (u_read(fe, 2, 100, ".u Tread"))
		check(u_le32(ursp + 7) == 12 && !memcmp(ursp + 11, "from mini-os", 12),
		      ".u read back", "%u bytes", u_le32(ursp + 7));
	u_begin(&m, P9_TSTAT);
	u_32(&m, 2);
	if (u_ok(fe, &m, ".u Tstat")) {
		name = stat_name(ursp + 9, &nlen);
		check(nlen == 10 && !memcmp(name, "minios.txt", 10), ".u stat name",
		      "%.*s", nlen, name);
		check(ursp[9 + 2 + 2 + 4 + 13 + 12] == 12, ".u stat length", "%u",
		      ursp[9 + 2 + 2 + 4 + 13 + 12]);
	}
	/* the root directory read as 9P2000 does: stat structures */
	u_walk(fe, 0, 3, "", ".u clone for the listing");
	u_open(fe, 3, P9_OREAD, ".u open the root");
	if (u_read(fe, 3, 8192, ".u read the root")) {
		uint32_t n = u_le32(ursp + 7), at = 0;
		bool seen = false;

		while (at + 2 <= n) {
			name = stat_name(ursp + 11 + at, &nlen);
			seen |= nlen == 10 && !memcmp(name, "minios.txt", 10);
			at += 2u + (uint32_t)(ursp[11 + at] | ursp[12 + at] << 8);
		}
		check(seen && at == n, ".u listing holds the file", "%u of %u bytes", at, n);
	}
	/* Tremove, the only delete 9P2000.u has */
	u_walk(fe, 0, 5, "", ".u clone for a file to remove");
	u_begin(&m, P9_TCREATE);
	u_32(&m, 5);
	u_str(&m, "gone.txt");
	u_32(&m, 0600);
	u_8(&m, P9_OWRITE);
	u_str(&m, "");
	u_ok(fe, &m, ".u Tcreate gone.txt");
	u_begin(&m, P9_TREMOVE);
	u_32(&m, 5);
	u_ok(fe, &m, ".u Tremove");
	u_begin(&m, P9_TWALK);
	u_32(&m, 0);
	u_32(&m, 6);
	u_16(&m, 1);
	u_str(&m, "gone.txt");
	check(u_rpc(fe, &m, &len) == P9_RERROR, ".u the removed file is gone", "type %u",
	      ursp[4]);
	/* errors come as Rerror: ename[s] errno[4] */
	u_begin(&m, P9_TWALK);
	u_32(&m, 0);
	u_32(&m, 4);
	u_16(&m, 1);
	u_str(&m, "no-such-file");
	if (check(u_rpc(fe, &m, &len) == P9_RERROR, ".u error is Rerror", "type %u", ursp[4])) {
		uint16_t el = (uint16_t)(ursp[7] | ursp[8] << 8);

		check(u_le32(ursp + 9 + el) == XEN_ENOENT, ".u Rerror errno ENOENT", "%u",
		      u_le32(ursp + 9 + el));
	}
}

static void hostile(struct p9front *fe)
{
	static uint8_t m[512];
	uint32_t n = 0, fid;
	int rc;

	/* 17 walk elements */
	memset(m, 0, sizeof(m));
	m[4] = P9_TWALK;
	m[5] = 9;
	n = 7 + 4 + 4;
	memcpy(m + 7, &(uint32_t){ ROOT }, 4);
	memcpy(m + 11, &(uint32_t){ 50 }, 4);
	memcpy(m + n, &(uint16_t){ 17 }, 2);
	n += 2;
	for (int i = 0; i < 17; i++) {
		memcpy(m + n, &(uint16_t){ 1 }, 2);
		m[n + 2] = 'a';
		n += 3;
	}
	check_rc(p9c_raw(&c, m, n, 0), -XEN_EINVAL, "17-element walk: EINVAL");
	/* a string whose length runs past the message */
	n = 7 + 4 + 4 + 2;
	memcpy(m + 15, &(uint16_t){ 1 }, 2);
	memcpy(m + n, &(uint16_t){ 300 }, 2);
	memcpy(m + n + 2, "abc", 3);
	check_rc(p9c_raw(&c, m, n + 5, 0), -LINUX_EPROTO, "unterminated string: EPROTO");
	/* `..` out of the share: the parent of the root is the root */
	check_rc(p9c_walk(&c, ROOT, 51, "../../../.."), 0, "walk ../../../..");
	check_rc(p9c_walk(&c, 51, 52, "outside-marker"), -XEN_ENOENT, "the share's parent is out of reach");
	check_rc(p9c_walk(&c, ROOT, 52, "escape/marker"), -XEN_ENOENT, "a symlink out is not followed");
	check_rc(p9c_walk(&c, ROOT, 52, "escape"), 0, "walk the symlink itself");
	check_rc(p9c_lopen(&c, 52, P9_O_RDONLY), -LINUX_ELOOP, "opening it: ELOOP");
	check_rc(p9c_clunk(&c, 52), 0, "clunk escape");
	check_rc(p9c_clunk(&c, 51), 0, "clunk ..");
	/* an unknown fid, a legacy 9P2000 message */
	check_rc(p9c_clunk(&c, 999999), -XEN_EBADF, "clunk unknown fid: EBADF");
	memset(m, 0, 16);
	m[4] = P9_TOPEN;
	check_rc(p9c_raw(&c, m, 12, 0), -XEN_EOPNOTSUPP, "Topen (9P2000): EOPNOTSUPP");
	/* fid exhaustion: the bound answers ENFILE, clunks free them again */
	for (fid = 1000, rc = 0; fid < 1000 + 9000; fid++) {
		rc = p9c_walk(&c, ROOT, fid, "");
		if (rc)
			break;
	}
	check_rc(rc, -XEN_ENFILE, "fid exhaustion: ENFILE");
	check(fid - 1000 >= 8000, "fids up to the bound", "only %u", fid - 1000);
	for (uint32_t f = 1000; f < fid; f++)
		p9c_clunk(&c, f);
	check_rc(p9c_walk(&c, ROOT, 1000, ""), 0, "fids free again");
	/* last: a size field past the ring disconnects the device */
	memset(m, 0, 16);
	memcpy(m, &(uint32_t){ 1u << 30 }, 4);
	m[4] = P9_TCLUNK;
	p9front_send_raw(fe, m, 11);
	long st = -1;

	for (int i = 0; i < 200 && st != 5 /* Closing */; i++) {
		st = p9front_backend_state(fe);
		if (st != 5)
			sleep_ms(10);
	}
	check(st == 5, "size past the ring: device disconnected", "state %ld", st);
}

int app_main(const char *cmdline)
{
	struct p9front *fe = p9front_init(0, 4);

	if (!check(fe != NULL, "share 0 connects", "no device 0"))
		test_finish();
	check(!strcmp(p9front_tag(fe), "work"), "tag", "'%s'", p9front_tag(fe));
	check_rc(p9c_init(&c, fe, MSIZE), 0, "version");
	file_ops();
	xattrs(fe);
	read_only(p9front_init(1, 2));
	in_flight(fe);
	dot_u(fe);
	/* back to a 9P2000.L session (a Tversion drops every fid) */
	check_rc(p9c_init(&c, fe, MSIZE), 0, "version .L again");
	check_rc(p9c_attach(&c, ROOT), 0, "attach again");
	hostile(fe);
	test_finish();
}
