/*
 * The 9P2000.L file server against a temporary directory: every operation
 * a guest uses, a read-only share, fid exhaustion, and escape attempts
 * (`..` past the root, absolute and relative symlinks out of the share, a
 * symlink swapped in between a walk and an open) — checked on the host;
 * and security_model=mapped-xattr (owners, modes, device nodes and
 * symlinks kept in user.pvisor.* attributes of plain host files).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "services/p9/p9_fs.h"

#define MSIZE 65536u

static char top[256];   /* holds share/ and outside/ */
static char root[300];  /* the share */
static char outside[300];
static struct p9_fs *fs;
static uint8_t msg[MSIZE + 64], rep[MSIZE];
static size_t mlen;
static uint32_t rlen;

/* --- a small 9P client --- */

static void put(const void *p, size_t n) { memcpy(msg + mlen, p, n); mlen += n; }
static void u8(uint8_t v) { put(&v, 1); }
static void u16(uint16_t v) { put(&v, 2); }
static void u32(uint32_t v) { put(&v, 4); }
static void u64(uint64_t v) { put(&v, 8); }
static void str(const char *s) { u16((uint16_t)strlen(s)); put(s, strlen(s)); }
static void begin(uint8_t type) { mlen = 0; u32(0); u8(type); u16(1); }

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Sends msg; 0 for the matching R-message, -ecode for Rlerror. */
static int send_msg(void)
{
	uint32_t n = (uint32_t)mlen;
	uint8_t type = msg[4];

	memcpy(msg, &n, 4);
	rlen = p9_fs_request(fs, msg, n, rep, sizeof(rep));
	assert_true(rlen >= P9_HDR_SIZE);
	assert_int_equal(le32(rep), rlen);
	assert_int_equal(rep[5] | rep[6] << 8, 1); /* the tag comes back */
	if (rep[4] == P9_RLERROR)
		return -(int)le32(rep + 7);
	if (rep[4] == P9_RERROR) /* 9P2000.u: ename[s] errno[4] */
		return -(int)le32(rep + 9 + (rep[7] | rep[8] << 8));
	assert_int_equal(rep[4], type + 1);
	return 0;
}

static int version(uint32_t msize)
{
	begin(P9_TVERSION);
	u32(msize);
	str("9P2000.L");
	return send_msg();
}

static int attach(uint32_t fid)
{
	begin(P9_TATTACH);
	u32(fid);
	u32(P9_NOFID);
	str("user");
	str("");
	u32(0);
	return send_msg();
}

/* Walks a '/'-separated relative path (the test's own convenience). */
static int walk(uint32_t fid, uint32_t newfid, const char *path)
{
	char buf[512], *save, *w;
	const char *names[20];
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (w = strtok_r(buf, "/", &save); w; w = strtok_r(NULL, "/", &save))
		names[n++] = w;
	begin(P9_TWALK);
	u32(fid);
	u32(newfid);
	u16((uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		str(names[i]);
	int rc = send_msg();

	if (rc == 0 && le32(rep) == P9_HDR_SIZE + 2 + n * P9_QID_SIZE)
		return 0;
	return rc ? rc : -1000 - (rep[7] | rep[8] << 8); /* partial walk */
}

static int fid_op(uint8_t type, uint32_t fid)
{
	begin(type);
	u32(fid);
	return send_msg();
}

static int clunk(uint32_t fid) { return fid_op(P9_TCLUNK, fid); }

static int lopen(uint32_t fid, uint32_t flags)
{
	begin(P9_TLOPEN);
	u32(fid);
	u32(flags);
	return send_msg();
}

static int lcreate(uint32_t fid, const char *name, uint32_t flags, uint32_t mode)
{
	begin(P9_TLCREATE);
	u32(fid);
	str(name);
	u32(flags);
	u32(mode);
	u32(0);
	return send_msg();
}

static int twrite(uint32_t fid, uint64_t off, const char *data)
{
	begin(P9_TWRITE);
	u32(fid);
	u64(off);
	u32((uint32_t)strlen(data));
	put(data, strlen(data));
	int rc = send_msg();

	return rc ? rc : (int)le32(rep + 7);
}

/* Reads into buf (NUL-terminated); the count or -ecode. */
static int tread(uint32_t fid, uint64_t off, uint32_t count, char *buf)
{
	begin(P9_TREAD);
	u32(fid);
	u64(off);
	u32(count);
	int rc = send_msg();

	if (rc)
		return rc;
	memcpy(buf, rep + 11, le32(rep + 7));
	buf[le32(rep + 7)] = '\0';
	return (int)le32(rep + 7);
}

static int mkdir_(uint32_t dfid, const char *name, uint32_t mode)
{
	begin(P9_TMKDIR);
	u32(dfid);
	str(name);
	u32(mode);
	u32(0);
	return send_msg();
}

static int unlinkat_(uint32_t dfid, const char *name, uint32_t flags)
{
	begin(P9_TUNLINKAT);
	u32(dfid);
	str(name);
	u32(flags);
	return send_msg();
}

static int renameat_(uint32_t od, const char *on, uint32_t nd, const char *nn)
{
	begin(P9_TRENAMEAT);
	u32(od);
	str(on);
	u32(nd);
	str(nn);
	return send_msg();
}

static int symlink_(uint32_t dfid, const char *name, const char *target)
{
	begin(P9_TSYMLINK);
	u32(dfid);
	str(name);
	str(target);
	u32(0);
	return send_msg();
}

static int setattr(uint32_t fid, uint32_t valid, uint32_t mode, uint64_t size)
{
	begin(P9_TSETATTR);
	u32(fid);
	u32(valid);
	u32(mode);
	u32(0);
	u32(0);
	u64(size);
	for (int i = 0; i < 4; i++)
		u64(0);
	return send_msg();
}

/* Getattr: mode and size of the reply. */
static int getattr(uint32_t fid, uint32_t *mode, uint64_t *size)
{
	begin(P9_TGETATTR);
	u32(fid);
	u64(P9_GETATTR_BASIC);
	int rc = send_msg();

	if (rc)
		return rc;
	*mode = le32(rep + 7 + 8 + 13);
	*size = le64(rep + 7 + 8 + 13 + 4 + 4 + 4 + 8 + 8);
	return 0;
}

/* Names of a directory fid (opened), joined with ' ', sorted by the host. */
static int readdir_(uint32_t fid, char *out, size_t outlen, uint32_t count)
{
	uint64_t off = 0;

	out[0] = '\0';
	for (;;) {
		begin(P9_TREADDIR);
		u32(fid);
		u64(off);
		u32(count);
		int rc = send_msg();

		if (rc)
			return rc;
		uint32_t n = le32(rep + 7);
		const uint8_t *p = rep + 11, *end = p + n;

		if (n == 0)
			return 0;
		while (p < end) {
			uint16_t l = (uint16_t)(p[22] | p[23] << 8);

			off = le64(p + 13);
			if (strcmp("", out))
				strncat(out, " ", outlen - strlen(out) - 1);
			strncat(out, (const char *)p + 24, l < outlen - strlen(out) - 1 ? l : 0);
			p += 24 + l;
		}
	}
}

static bool has_word(const char *list, const char *w)
{
	char buf[4096], *save;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (!strcmp(t, w))
			return true;
	return false;
}

/* --- host-side helpers --- */

static void host_write(const char *rel, const char *data)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
}

static char *host_read(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const char *in_root(const char *rel)
{
	static char p[4][600]; /* two may be in one call */
	static unsigned i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", root, rel);
	return p[i];
}

static int open_fs_model(bool ro, unsigned max_fids, enum p9_security_model sm)
{
	struct p9_fs_config cfg = { .root = root, .ro = ro, .max_msize = MSIZE,
				    .max_fids = max_fids, .sm = sm };
	char err[256];

	p9_fs_close(fs);
	fs = NULL;
	assert_int_equal(p9_fs_open(&cfg, &fs, err, sizeof(err)), 0);
	assert_int_equal(version(MSIZE), 0);
	return attach(0);
}

static int open_fs(bool ro, unsigned max_fids)
{
	return open_fs_model(ro, max_fids, P9_SM_PASSTHROUGH);
}

static int setup(void **state)
{
	char cmd[700];

	snprintf(top, sizeof(top), "%s/p9fs.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(top));
	snprintf(root, sizeof(root), "%s/share", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(cmd, sizeof(cmd), "%s/secret", outside);
	FILE *f = fopen(cmd, "w");

	assert_non_null(f);
	fputs("SECRET", f);
	fclose(f);
	return open_fs(false, 0);
}

static int teardown(void **state)
{
	char cmd[700];

	p9_fs_close(fs);
	fs = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- tests --- */

static void test_session(void **state)
{
	assert_int_equal(p9_fs_msize(fs), MSIZE);
	assert_int_equal(version(8192), 0);
	assert_int_equal(p9_fs_msize(fs), 8192);
	assert_int_equal(p9_fs_nr_fids(fs), 0); /* Tversion clunks all */
	assert_int_equal(version(100), -EINVAL);
	begin(P9_TVERSION);
	u32(8192);
	str("9P2000");
	assert_int_equal(send_msg(), 0);
	assert_memory_equal(rep + 13, "unknown", 7);
	assert_int_equal(attach(0), -EPROTO); /* not versioned */
	assert_int_equal(version(MSIZE * 4), 0);
	assert_int_equal(p9_fs_msize(fs), MSIZE);
	assert_int_equal(attach(0), 0);
	assert_int_equal(rep[7], P9_QTDIR);
	assert_int_equal(attach(0), -EBADF); /* fid in use */
	assert_int_equal(clunk(0), 0);
	assert_int_equal(clunk(0), -EBADF);
	assert_int_equal(attach(0), 0);
	begin(P9_TAUTH);
	u32(5);
	str("u");
	str("");
	u32(0);
	assert_int_equal(send_msg(), -EOPNOTSUPP);
	begin(P9_TFLUSH);
	u16(9);
	assert_int_equal(send_msg(), 0);
	/* A truncated message gets Rlerror(EPROTO) with its tag. */
	begin(P9_TWALK);
	u32(0);
	assert_int_equal(send_msg(), -EPROTO);
}

static void test_file_ops(void **state)
{
	char buf[4096];
	uint32_t mode;
	uint64_t size;
	struct stat st;

	assert_int_equal(mkdir_(0, "a", 0750), 0);
	assert_int_equal(mkdir_(0, "b", 0777), 0);
	assert_int_equal(stat(in_root("b"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0777); /* the guest's mode, not pvisor's umask */
	assert_int_equal(walk(0, 1, "a"), 0);
	assert_int_equal(lcreate(1, "f", P9_O_RDWR, 0640), 0);
	assert_int_equal(twrite(1, 0, "hello"), 5);
	assert_int_equal(twrite(1, 5, " world"), 6);
	assert_string_equal(host_read(in_root("a/f")), "hello world");
	assert_int_equal(stat(in_root("a/f"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(tread(1, 6, 100, buf), 5);
	assert_string_equal(buf, "world");
	assert_int_equal(tread(1, 100, 100, buf), 0);
	begin(P9_TFSYNC);
	u32(1);
	u32(1);
	assert_int_equal(send_msg(), 0);
	assert_int_equal(clunk(1), 0);

	/* append */
	assert_int_equal(walk(0, 2, "a/f"), 0);
	assert_int_equal(lopen(2, P9_O_WRONLY | P9_O_APPEND), 0);
	assert_int_equal(twrite(2, 0, "!"), 1);
	assert_string_equal(host_read(in_root("a/f")), "hello world!");
	assert_int_equal(lopen(2, P9_O_RDONLY), -EBUSY);
	assert_int_equal(clunk(2), 0);

	/* truncate, chmod, getattr */
	assert_int_equal(walk(0, 2, "a/f"), 0);
	assert_int_equal(setattr(2, P9_SETATTR_SIZE, 0, 5), 0);
	assert_int_equal(setattr(2, P9_SETATTR_MODE, 0604, 0), 0);
	assert_int_equal(getattr(2, &mode, &size), 0);
	assert_int_equal(mode, S_IFREG | 0604);
	assert_int_equal(size, 5);
	assert_string_equal(host_read(in_root("a/f")), "hello");
	assert_int_equal(setattr(2, P9_SETATTR_MTIME | P9_SETATTR_ATIME, 0, 0), 0);

	/* link, rename across directories, unlink of an open file */
	assert_int_equal(walk(0, 3, "b"), 0);
	begin(P9_TLINK);
	u32(3);
	u32(2);
	str("hard");
	assert_int_equal(send_msg(), 0);
	assert_int_equal(stat(in_root("b/hard"), &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(walk(0, 4, "a"), 0);
	assert_int_equal(renameat_(4, "f", 3, "g"), 0);
	assert_int_equal(access(in_root("a/f"), F_OK), -1);
	assert_string_equal(host_read(in_root("b/g")), "hello");
	assert_int_equal(lopen(2, P9_O_RDONLY), 0); /* fid 2 follows the inode */
	assert_int_equal(unlinkat_(3, "g", 0), 0);
	assert_int_equal(unlinkat_(3, "hard", 0), 0);
	assert_int_equal(tread(2, 0, 100, buf), 5);
	assert_string_equal(buf, "hello");
	assert_int_equal(clunk(2), 0);

	/* symlink, readlink */
	assert_int_equal(symlink_(3, "l", "../a/x"), 0);
	assert_int_equal(walk(3, 5, "l"), 0);
	assert_int_equal(rep[9], P9_QTSYMLINK);
	assert_int_equal(fid_op(P9_TREADLINK, 5), 0);
	assert_int_equal(rep[7], 6);
	assert_memory_equal(rep + 9, "../a/x", 6);
	assert_int_equal(fid_op(P9_TREADLINK, 3), -EINVAL);
	assert_int_equal(clunk(5), 0);

	/* mknod: regular files only */
	begin(P9_TMKNOD);
	u32(3);
	str("node");
	u32(S_IFREG | 0600);
	u32(0);
	u32(0);
	u32(0);
	assert_int_equal(send_msg(), 0);
	assert_int_equal(stat(in_root("b/node"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	begin(P9_TMKNOD);
	u32(3);
	str("fifo");
	u32(S_IFIFO | 0600);
	u32(0);
	u32(0);
	u32(0);
	assert_int_equal(send_msg(), -EPERM);
	begin(P9_TMKNOD);
	u32(3);
	str("dev");
	u32(S_IFCHR | 0600);
	u32(1);
	u32(3);
	u32(0);
	assert_int_equal(send_msg(), -EPERM);

	/* readdir (a small count forces several rounds) */
	for (int i = 0; i < 40; i++) {
		char n[32];

		snprintf(n, sizeof(n), "entry-%02d", i);
		host_write(n, "");
	}
	assert_int_equal(walk(0, 6, ""), 0);
	assert_int_equal(lopen(6, P9_O_RDONLY), 0);
	char *names = malloc(8192);

	assert_int_equal(readdir_(6, names, 8192, 200), 0);
	assert_true(has_word(names, "."));
	assert_true(has_word(names, ".."));
	assert_true(has_word(names, "a"));
	assert_true(has_word(names, "b"));
	assert_true(has_word(names, "entry-00"));
	assert_true(has_word(names, "entry-39"));
	free(names);
	assert_int_equal(tread(6, 0, 10, buf), -EISDIR);
	assert_int_equal(clunk(6), 0);

	/* rmdir, statfs, errors */
	assert_int_equal(unlinkat_(0, "a", 0), -EISDIR);
	assert_int_equal(unlinkat_(0, "a", P9_AT_REMOVEDIR), 0);
	assert_int_equal(unlinkat_(0, "b", P9_AT_REMOVEDIR), -ENOTEMPTY);
	assert_int_equal(fid_op(P9_TSTATFS, 0), 0);
	assert_int_equal(le32(rep + 7 + 8 + 8 * 6), 255); /* namelen */
	assert_int_equal(walk(0, 7, "nope"), -ENOENT);
	assert_int_equal(tread(3, 0, 1, buf), -EBADF); /* not opened */
	assert_int_equal(mkdir_(0, "b", 0755), -EEXIST);
	assert_int_equal(lcreate(3, "node", P9_O_RDWR, 0600), -EEXIST);
	assert_int_equal(fid_op(P9_TREMOVE, 3), -ENOTEMPTY); /* it holds node */
	assert_int_equal(clunk(3), -EBADF); /* Tremove clunked it all the same */
	assert_int_equal(clunk(4), 0);
}

static int rename_(uint32_t fid, uint32_t dfid, const char *name)
{
	begin(P9_TRENAME);
	u32(fid);
	u32(dfid);
	str(name);
	return send_msg();
}

static bool host_exists(const char *rel)
{
	struct stat st;

	return lstat(in_root(rel), &st) == 0;
}

/* Tremove and Trename name no directory: the fid's file is found where it
 * is now (renamed on the host since the walk too), never outside the share
 * (a file moved out is ENOENT, nothing outside changes), never the root. */
static void test_remove_rename(void **state)
{
	char moved[700];

	host_write("f", "x");
	assert_int_equal(mkdir_(0, "d", 0755), 0);
	assert_int_equal(walk(0, 1, "f"), 0);
	assert_int_equal(walk(0, 2, "d"), 0);
	assert_int_equal(rename_(1, 2, "g"), 0);
	assert_false(host_exists("f"));
	assert_true(host_exists("d/g"));
	assert_int_equal(rename_(1, 0, "h"), 0); /* the fid follows its file */
	assert_true(host_exists("h"));
	assert_int_equal(rename_(1, 1, "x"), -ENOTDIR);
	assert_int_equal(rename_(1, 0, ".."), -EINVAL);
	assert_int_equal(fid_op(P9_TREMOVE, 1), 0);
	assert_false(host_exists("h"));
	assert_int_equal(clunk(1), -EBADF);
	/* renamed on the host after the walk: removed under its new name */
	host_write("r1", "x");
	assert_int_equal(walk(0, 3, "r1"), 0);
	assert_int_equal(rename(in_root("r1"), in_root("d/r2")), 0);
	host_write("r1", "another file now");
	assert_int_equal(fid_op(P9_TREMOVE, 3), 0);
	assert_false(host_exists("d/r2"));
	assert_true(host_exists("r1"));
	/* moved out of the share: ENOENT, the file outside stays */
	assert_int_equal(walk(0, 4, "r1"), 0);
	snprintf(moved, sizeof(moved), "%s/moved", outside);
	assert_int_equal(rename(in_root("r1"), moved), 0);
	assert_int_equal(fid_op(P9_TREMOVE, 4), -ENOENT);
	assert_int_equal(access(moved, F_OK), 0);
	/* an empty directory goes; the root does not */
	assert_int_equal(fid_op(P9_TREMOVE, 2), 0);
	assert_false(host_exists("d"));
	assert_int_equal(walk(0, 5, ""), 0);
	assert_int_equal(fid_op(P9_TREMOVE, 5), -EBUSY);
	assert_int_equal(walk(0, 6, ""), 0);
	assert_int_equal(rename_(6, 0, "root2"), -EBUSY);
}

static void test_lock(void **state)
{
	host_write("lk", "data");
	assert_int_equal(walk(0, 1, "lk"), 0);
	assert_int_equal(lopen(1, P9_O_RDWR), 0);
	assert_int_equal(walk(0, 2, "lk"), 0);
	assert_int_equal(lopen(2, P9_O_RDWR), 0);
	begin(P9_TLOCK);
	u32(1);
	u8(P9_LOCK_TYPE_WRLCK);
	u32(0);
	u64(0);
	u64(0);
	u32(1);
	str("c");
	assert_int_equal(send_msg(), 0);
	assert_int_equal(rep[7], P9_LOCK_SUCCESS);
	msg[4 + 3 + 4] = P9_LOCK_TYPE_RDLCK; /* the same range from fid 2 */
	memcpy(msg + 7, &(uint32_t){ 2 }, 4);
	assert_int_equal(send_msg(), 0);
	assert_int_equal(rep[7], P9_LOCK_BLOCKED);
	begin(P9_TGETLOCK);
	u32(2);
	u8(P9_LOCK_TYPE_WRLCK);
	u64(0);
	u64(0);
	u32(1);
	str("c");
	assert_int_equal(send_msg(), 0);
	assert_int_equal(rep[7], P9_LOCK_TYPE_WRLCK);
	begin(P9_TLOCK);
	u32(1);
	u8(7); /* bad type */
	u32(0);
	u64(0);
	u64(0);
	u32(1);
	str("c");
	assert_int_equal(send_msg(), -EINVAL);
	assert_int_equal(clunk(1), 0);
	assert_int_equal(clunk(2), 0);
}

static void test_read_only(void **state)
{
	char buf[64];

	host_write("ro", "keep");
	assert_int_equal(mkdir(in_root("d"), 0755), 0);
	assert_int_equal(open_fs(true, 0), 0);
	assert_int_equal(walk(0, 1, "ro"), 0);
	assert_int_equal(lopen(1, P9_O_RDWR), -EROFS);
	assert_int_equal(lopen(1, P9_O_RDONLY | P9_O_TRUNC), -EROFS);
	assert_int_equal(setattr(1, P9_SETATTR_SIZE, 0, 0), -EROFS);
	assert_int_equal(setattr(1, P9_SETATTR_MODE, 0777, 0), -EROFS);
	assert_int_equal(lopen(1, P9_O_RDONLY), 0);
	assert_int_equal(tread(1, 0, 10, buf), 4);
	assert_int_equal(twrite(1, 0, "x"), -EROFS);
	assert_int_equal(lcreate(0, "new", P9_O_RDWR, 0644), -EROFS);
	assert_int_equal(mkdir_(0, "new", 0755), -EROFS);
	assert_int_equal(symlink_(0, "new", "x"), -EROFS);
	assert_int_equal(unlinkat_(0, "ro", 0), -EROFS);
	assert_int_equal(unlinkat_(0, "d", P9_AT_REMOVEDIR), -EROFS);
	assert_int_equal(renameat_(0, "ro", 0, "ro2"), -EROFS);
	begin(P9_TLINK);
	u32(0);
	u32(1);
	str("hard");
	assert_int_equal(send_msg(), -EROFS);
	begin(P9_TMKNOD);
	u32(0);
	str("n");
	u32(S_IFREG | 0600);
	u32(0);
	u32(0);
	u32(0);
	assert_int_equal(send_msg(), -EROFS);
	begin(P9_TXATTRCREATE);
	u32(1);
	str("user.x");
	u64(1);
	u32(0);
	assert_int_equal(send_msg(), -EROFS);
	assert_string_equal(host_read(in_root("ro")), "keep");
	assert_int_equal(access(in_root("new"), F_OK), -1);
	assert_int_equal(access(in_root("d"), F_OK), 0);
}

static void test_escapes(void **state)
{
	char buf[64], target[400];
	uint32_t mode;
	uint64_t size;

	/* ".." at the root is the root (walk(5)); beyond it nothing. */
	assert_int_equal(walk(0, 1, "../../.."), 0);
	assert_int_equal(lopen(1, P9_O_RDONLY), 0);
	char names[4096];

	assert_int_equal(readdir_(1, names, sizeof(names), 4096), 0);
	assert_false(has_word(names, "outside"));
	assert_false(has_word(names, "share"));
	assert_int_equal(clunk(1), 0);
	assert_int_equal(walk(0, 1, "../outside/secret"), -1001); /* ".." only */
	assert_int_equal(mkdir(in_root("sub"), 0755), 0);
	assert_int_equal(walk(0, 1, "sub/.."), 0); /* a real parent */
	assert_int_equal(walk(1, 2, "sub/../.."), 0);
	assert_int_equal(walk(2, 3, "../outside"), -1001); /* still the root */
	assert_int_equal(clunk(1), 0);
	assert_int_equal(clunk(2), 0);

	/* Symlinks planted on the host: absolute, relative, to a directory. */
	snprintf(target, sizeof(target), "%s/secret", outside);
	assert_int_equal(symlink(target, in_root("abs")), 0);
	assert_int_equal(symlink("../outside/secret", in_root("rel")), 0);
	assert_int_equal(symlink("../outside", in_root("reldir")), 0);
	assert_int_equal(symlink("/etc", in_root("etc")), 0);
	assert_int_equal(walk(0, 1, "abs"), 0); /* the link itself */
	assert_int_equal(lopen(1, P9_O_RDONLY), -ELOOP);
	assert_int_equal(getattr(1, &mode, &size), 0);
	assert_true(S_ISLNK(mode));
	assert_int_equal(setattr(1, P9_SETATTR_SIZE, 0, 0), -EOPNOTSUPP);
	assert_int_equal(clunk(1), 0);
	assert_int_equal(walk(0, 1, "rel"), 0);
	assert_int_equal(lopen(1, P9_O_WRONLY | P9_O_TRUNC), -ELOOP);
	assert_int_equal(clunk(1), 0);
	assert_int_equal(walk(0, 1, "reldir/secret"), -1001); /* stops at the link */
	assert_int_equal(walk(0, 1, "etc/passwd"), -1001);
	/* Creating through or over a symlink. */
	assert_int_equal(walk(0, 1, "reldir"), 0);
	assert_int_equal(lcreate(1, "x", P9_O_RDWR, 0644), -ENOTDIR);
	assert_int_equal(mkdir_(1, "x", 0755), -ENOTDIR);
	assert_int_equal(clunk(1), 0);
	assert_int_equal(lcreate(0, "rel", P9_O_RDWR, 0644), -EEXIST);
	begin(P9_TLINK);
	u32(0);
	u32(0);
	str("rootlink");
	assert_int_equal(send_msg(), -EPERM);
	assert_string_equal(host_read(target), "SECRET");

	/* A symlink swapped in between the walk and the open. */
	host_write("victim", "mine");
	assert_int_equal(walk(0, 1, "victim"), 0);
	assert_int_equal(rename(in_root("victim"), in_root("moved")), 0);
	assert_int_equal(symlink(target, in_root("victim")), 0);
	assert_int_equal(lopen(1, P9_O_RDWR | P9_O_TRUNC), 0);
	assert_int_equal(twrite(1, 0, "overwritten"), 11);
	assert_string_equal(host_read(target), "SECRET");
	assert_string_equal(host_read(in_root("moved")), "overwritten");
	assert_int_equal(tread(1, 0, 64, buf), 11);
	assert_int_equal(clunk(1), 0);
	/* The same for a directory fid: its children are the old ones. */
	assert_int_equal(mkdir(in_root("dir"), 0755), 0);
	assert_int_equal(walk(0, 1, "dir"), 0);
	assert_int_equal(rename(in_root("dir"), in_root("dir2")), 0);
	assert_int_equal(symlink(outside, in_root("dir")), 0);
	assert_int_equal(walk(1, 2, "secret"), -ENOENT);
	assert_int_equal(lcreate(1, "secret", P9_O_RDWR | P9_O_TRUNC, 0644), 0);
	assert_int_equal(access(in_root("dir2/secret"), F_OK), 0);
	assert_string_equal(host_read(target), "SECRET");
	assert_int_equal(clunk(1), 0);
	/* ".." from a directory swapped under a symlink stays inside. */
	assert_int_equal(walk(0, 1, "dir2"), 0);
	assert_int_equal(walk(1, 2, "../outside"), -1001);
	assert_int_equal(clunk(1), 0);
}

static void test_fid_limits(void **state)
{
	unsigned i;

	assert_int_equal(open_fs(false, 8), 0);
	for (i = 1; i < 8; i++)
		assert_int_equal(walk(0, i, ""), 0);
	assert_int_equal(walk(0, 100, ""), -ENFILE);
	assert_int_equal(attach(101), -ENFILE);
	assert_int_equal(p9_fs_nr_fids(fs), 8);
	assert_int_equal(walk(0, 3, ""), -EBADF); /* newfid in use */
	assert_int_equal(clunk(5), 0);
	assert_int_equal(walk(0, 100, ""), 0);
	/* Remove and re-add across the table to exercise the backward shift. */
	for (unsigned round = 0; round < 50; round++) {
		assert_int_equal(clunk(100 + round), 0);
		assert_int_equal(walk(0, 101 + round, ""), 0);
	}
	assert_int_equal(clunk(150), 0);
	for (i = 1; i < 8; i++)
		if (i != 5)
			assert_int_equal(clunk(i), 0);
	assert_int_equal(p9_fs_nr_fids(fs), 1);

	/* A deep walk: 16 elements, then a partial one. */
	char path[200] = "";

	assert_int_equal(open_fs(false, 0), 0);
	for (i = 0; i < 16; i++) {
		strcat(path, i ? "/d" : "d");
		assert_int_equal(mkdir(in_root(path), 0755), 0);
	}
	assert_int_equal(walk(0, 1, path), 0);
	assert_int_equal(walk(0, 2, "d/d/x/d"), -1002);
	/* An unknown fid, and a huge read clamped to msize. */
	assert_int_equal(walk(77, 78, "d"), -EBADF);
	host_write("big", "");
	assert_int_equal(truncate(in_root("big"), 1 << 20), 0);
	assert_int_equal(walk(0, 3, "big"), 0);
	assert_int_equal(lopen(3, P9_O_RDONLY), 0);
	begin(P9_TREAD);
	u32(3);
	u64(0);
	u32(UINT32_MAX);
	assert_int_equal(send_msg(), 0);
	assert_int_equal(le32(rep + 7), MSIZE - 11);
	assert_int_equal(rlen, MSIZE);
}

/* --- extended attributes --- */

/* Whether the share's filesystem takes user.* attributes (tmpfs before
 * Linux 6.6 does not); a test that needs them skips, saying why. */
static void need_user_xattrs(void)
{
	if (setxattr(root, "user.p9probe", "1", 1, 0) == 0) {
		removexattr(root, "user.p9probe");
		return;
	}
	print_message("# %s takes no user extended attributes (%s): skipped\n", root,
		      strerror(errno));
	skip();
}

static int xattrwalk(uint32_t fid, uint32_t newfid, const char *name, uint64_t *size)
{
	begin(P9_TXATTRWALK);
	u32(fid);
	u32(newfid);
	str(name);
	int rc = send_msg();

	if (rc == 0 && size) {
		assert_int_equal(rlen, P9_HDR_SIZE + 8);
		*size = le64(rep + 7);
	}
	return rc;
}

static int xattrcreate(uint32_t fid, const char *name, uint64_t size, uint32_t flags)
{
	begin(P9_TXATTRCREATE);
	u32(fid);
	str(name);
	u64(size);
	u32(flags);
	return send_msg();
}

/* getxattr (name) or listxattr (""), as Linux's v9fs does it: Txattrwalk
 * to fid 900, Tread, Tclunk.  The value into buf (NUL-terminated), its
 * size returned, or -errno. */
static int xget(uint32_t fid, const char *name, char *buf, size_t len)
{
	uint64_t size;
	int rc = xattrwalk(fid, 900, name, &size);

	if (rc)
		return rc;
	assert_true(size < len);
	rc = tread(900, 0, (uint32_t)size + 10, buf);
	assert_int_equal(rc, (int)size);
	assert_int_equal(clunk(900), 0);
	return rc;
}

/* setxattr (removexattr for value ""), as v9fs: a clone (fid 901) made an
 * xattr fid, the value written, then clunked: the clunk's answer. */
static int xset(uint32_t fid, const char *name, const char *value, uint32_t flags)
{
	size_t n = strlen(value);
	int rc;

	assert_int_equal(walk(fid, 901, ""), 0);
	rc = xattrcreate(901, name, n, flags);
	if (rc) {
		assert_int_equal(clunk(901), 0);
		return rc;
	}
	if (n)
		assert_int_equal(twrite(901, 0, value), (int)n);
	return clunk(901);
}

/* Whether a NUL-separated list of len bytes holds name. */
static bool list_has(const char *list, int len, const char *name)
{
	for (int at = 0; at < len; at += (int)strlen(list + at) + 1)
		if (!strcmp(list + at, name))
			return true;
	return false;
}

static ssize_t host_getxattr(const char *rel, const char *name, char *buf, size_t len)
{
	ssize_t n = lgetxattr(in_root(rel), name, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* --- mapped-xattr --- */

static int attach_as(uint32_t fid, uint32_t uid)
{
	begin(P9_TATTACH);
	u32(fid);
	u32(P9_NOFID);
	str("user");
	str("");
	u32(uid);
	return send_msg();
}

struct attr { uint32_t mode, uid, gid; uint64_t rdev, size; uint8_t qtype; };

static struct attr getattr_all(uint32_t fid)
{
	struct attr a;

	begin(P9_TGETATTR);
	u32(fid);
	u64(P9_GETATTR_BASIC);
	assert_int_equal(send_msg(), 0);
	a.qtype = rep[7 + 8];
	a.mode = le32(rep + 28);
	a.uid = le32(rep + 32);
	a.gid = le32(rep + 36);
	a.rdev = le64(rep + 48);
	a.size = le64(rep + 56);
	return a;
}

static int lcreate_g(uint32_t fid, const char *name, uint32_t mode, uint32_t gid)
{
	begin(P9_TLCREATE);
	u32(fid);
	str(name);
	u32(P9_O_RDWR);
	u32(mode);
	u32(gid);
	return send_msg();
}

static int mknod_(uint32_t dfid, const char *name, uint32_t mode, uint32_t major,
		  uint32_t minor, uint32_t gid)
{
	begin(P9_TMKNOD);
	u32(dfid);
	str(name);
	u32(mode);
	u32(major);
	u32(minor);
	u32(gid);
	return send_msg();
}

static int chown_(uint32_t fid, uint32_t valid, uint32_t uid, uint32_t gid)
{
	begin(P9_TSETATTR);
	u32(fid);
	u32(valid);
	u32(0);
	u32(uid);
	u32(gid);
	u64(0);
	for (int i = 0; i < 4; i++)
		u64(0);
	return send_msg();
}

static int readlink_(uint32_t fid, char *buf, size_t len)
{
	begin(P9_TREADLINK);
	u32(fid);
	int rc = send_msg();
	uint16_t n = (uint16_t)(rep[7] | rep[8] << 8);

	if (rc)
		return rc;
	snprintf(buf, len, "%.*s", (int)n, (const char *)rep + 9);
	return 0;
}

/* The d_type readdir gives name (the directory fid must be open). */
static int dtype_of(uint32_t fid, const char *name)
{
	begin(P9_TREADDIR);
	u32(fid);
	u64(0);
	u32(8192);
	assert_int_equal(send_msg(), 0);
	for (const uint8_t *p = rep + 11, *end = p + le32(rep + 7); p < end;) {
		uint16_t l = (uint16_t)(p[22] | p[23] << 8);

		if (l == strlen(name) && !memcmp(p + 24, name, l))
			return p[21];
		p += 24 + l;
	}
	return -1;
}

static mode_t host_mode(const char *rel)
{
	struct stat st;

	assert_int_equal(lstat(in_root(rel), &st), 0);
	return st.st_mode;
}

static void test_mapped_xattr(void **state)
{
	struct attr a;
	char buf[256];

	need_user_xattrs();
	assert_int_equal(open_fs_model(false, 0, P9_SM_MAPPED_XATTR), 0);
	assert_int_equal(attach_as(10, 1000), 0);

	/* A new file: the guest's owner, group and mode; the host's 0600. */
	assert_int_equal(walk(10, 11, ""), 0);
	assert_int_equal(lcreate_g(11, "f", 0640, 1234), 0);
	assert_int_equal(twrite(11, 0, "data"), 4);
	a = getattr_all(11);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 1234);
	assert_int_equal(host_mode("f"), S_IFREG | 0600);
	assert_int_equal(getxattr(in_root("f"), "user.pvisor.uid", buf, sizeof(buf)), 4);

	/* chmod and chown change the attributes, not the host file. */
	assert_int_equal(setattr(11, P9_SETATTR_MODE, 04711, 0), 0);
	assert_int_equal(chown_(11, P9_SETATTR_UID | P9_SETATTR_GID, 0, 0), 0);
	a = getattr_all(11);
	assert_int_equal(a.mode, S_IFREG | 04711);
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.gid, 0);
	assert_int_equal(host_mode("f"), S_IFREG | 0600);
	assert_int_equal(chown_(11, P9_SETATTR_GID, 0, 77), 0);
	assert_int_equal(getattr_all(11).gid, 77);
	assert_int_equal(getattr_all(11).uid, 0);

	/* A directory: 0700 on the host, the guest's mode and owner. */
	assert_int_equal(mkdir_(10, "d", 0755), 0);
	assert_int_equal(walk(10, 12, "d"), 0);
	a = getattr_all(12);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(host_mode("d"), S_IFDIR | 0700);

	/* Device nodes and FIFOs are plain host files that show their type. */
	assert_int_equal(mknod_(12, "null", S_IFCHR | 0666, 1, 3, 5), 0);
	assert_int_equal(mknod_(12, "fifo", S_IFIFO | 0620, 0, 0, 5), 0);
	assert_int_equal(walk(12, 13, "null"), 0);
	a = getattr_all(13);
	assert_int_equal(a.mode, S_IFCHR | 0666);
	assert_int_equal(a.rdev, makedev(1, 3));
	assert_int_equal(a.gid, 5);
	assert_int_equal(host_mode("d/null"), S_IFREG | 0600);
	assert_int_equal(lopen(13, P9_O_RDONLY), -EPERM); /* the guest's device, not the host's */
	assert_int_equal(walk(12, 14, "fifo"), 0);
	assert_int_equal(getattr_all(14).mode, S_IFIFO | 0620);
	assert_int_equal(mknod_(12, "dir", S_IFDIR | 0755, 0, 0, 0), -EPERM);

	/* A symlink is a file holding the target: never followed on the host. */
	assert_int_equal(symlink_(12, "ln", "../../../etc/passwd"), 0);
	assert_int_equal(host_mode("d/ln"), S_IFREG | 0600);
	assert_string_equal(host_read(in_root("d/ln")), "../../../etc/passwd");
	assert_int_equal(walk(12, 15, "ln"), 0);
	a = getattr_all(15);
	assert_int_equal(a.mode, S_IFLNK | 0777);
	assert_int_equal(a.qtype, P9_QTSYMLINK);
	assert_int_equal(readlink_(15, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "../../../etc/passwd");
	assert_int_equal(lopen(15, P9_O_RDONLY), -ELOOP);
	assert_int_equal(chown_(15, P9_SETATTR_UID, 33, 0), 0); /* lchown, as tar does */
	assert_int_equal(getattr_all(15).uid, 33);
	assert_int_equal(readlink_(13, buf, sizeof(buf)), -EINVAL);

	/* readdir tells the types apart as getattr does. */
	assert_int_equal(walk(12, 16, ""), 0);
	assert_int_equal(lopen(16, P9_O_RDONLY), 0);
	assert_int_equal(dtype_of(16, "ln"), DT_LNK);
	assert_int_equal(dtype_of(16, "null"), DT_CHR);
	assert_int_equal(dtype_of(16, "fifo"), DT_FIFO);

	/* A host file without attributes shows its host owner and mode. */
	host_write("plain", "x");
	assert_int_equal(chmod(in_root("plain"), 0604), 0);
	assert_int_equal(walk(10, 17, "plain"), 0);
	a = getattr_all(17);
	assert_int_equal(a.mode, S_IFREG | 0604);
	assert_int_equal(a.uid, getuid());
	/* Attributes of the wrong size are not believed. */
	assert_int_equal(setxattr(in_root("plain"), "user.pvisor.mode", "\1", 1, 0), 0);
	assert_int_equal(getattr_all(17).mode, S_IFREG | 0604);
	/* A mode attribute cannot turn a host file into a directory. */
	uint8_t dir_mode[4] = { 0xed, 0x41, 0, 0 }; /* S_IFDIR | 0755 */

	assert_int_equal(setxattr(in_root("plain"), "user.pvisor.mode", dir_mode, 4, 0), 0);
	assert_int_equal(getattr_all(17).mode, S_IFREG | 0755);
	/* The guest cannot read or forge the attributes through 9P (more in
	 * test_xattr_mapped). */
	begin(P9_TXATTRWALK);
	u32(17);
	u32(18);
	str("user.pvisor.uid");
	assert_int_equal(send_msg(), -ENODATA);
	begin(P9_TXATTRCREATE);
	u32(17);
	str("user.pvisor.mode");
	u64(4);
	u32(0);
	assert_int_equal(send_msg(), -EACCES);

	/* Host symlinks carry no attributes: chown is refused, not faked. */
	assert_int_equal(symlink("plain", in_root("hostln")), 0);
	assert_int_equal(walk(10, 19, "hostln"), 0);
	assert_int_equal(getattr_all(19).mode & S_IFMT, S_IFLNK);
	assert_int_equal(chown_(19, P9_SETATTR_UID, 5, 0), -EOPNOTSUPP);

	/* Read-only: the attributes are read, never written. */
	assert_int_equal(open_fs_model(true, 0, P9_SM_MAPPED_XATTR), 0);
	assert_int_equal(walk(0, 1, "d/null"), 0);
	assert_int_equal(getattr_all(1).mode, S_IFCHR | 0666);
	assert_int_equal(chown_(1, P9_SETATTR_UID, 5, 0), -EROFS);
}

/* mapped-xattr: the guest's user.* attributes beside pvisor's own, which
 * it can neither see, read, set nor remove (as QEMU hides user.virtfs.*). */
static void test_xattr_mapped(void **state)
{
	char buf[512];
	struct attr a;
	int n;

	need_user_xattrs();
	assert_int_equal(open_fs_model(false, 0, P9_SM_MAPPED_XATTR), 0);
	assert_int_equal(attach_as(10, 1000), 0);
	assert_int_equal(walk(10, 11, ""), 0);
	assert_int_equal(lcreate_g(11, "m", 0640, 1234), 0);
	assert_int_equal(clunk(11), 0);
	assert_int_equal(walk(10, 11, "m"), 0);
	assert_true(host_getxattr("m", "user.pvisor.mode", buf, sizeof(buf)) == 4);

	assert_int_equal(xset(11, "user.guest", "g", 0), 0);
	assert_int_equal(xget(11, "user.guest", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "g");
	n = xget(11, "", buf, sizeof(buf));
	assert_int_equal(n, (int)sizeof("user.guest"));
	assert_true(list_has(buf, n, "user.guest"));

	/* pvisor's own: absent to read, refused to write or remove */
	static const char *const own[] = { "user.pvisor.uid", "user.pvisor.gid",
					   "user.pvisor.mode", "user.pvisor.rdev",
					   "user.pvisor.other" };
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		assert_int_equal(xget(11, own[i], buf, sizeof(buf)), -ENODATA);
		assert_int_equal(xset(11, own[i], "\377\377\0\0", 0), -EACCES);
		assert_int_equal(xset(11, own[i], "", 0), -EACCES);
	}
	a = getattr_all(11);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 1234);
	assert_int_equal(host_getxattr("m", "user.pvisor.mode", buf, sizeof(buf)), 4);
	assert_int_equal(xset(11, "user.pvisorx", "ok", 0), 0); /* only the prefix is */
	assert_int_equal(xset(11, "user.guest", "", 0), 0);
	n = xget(11, "", buf, sizeof(buf));
	assert_int_equal(n, (int)sizeof("user.pvisorx"));

	/* the guest's symlinks and devices are plain host files here, but
	 * take no user.* attributes as the guest sees them */
	assert_int_equal(symlink_(10, "sl", "m"), 0);
	assert_int_equal(mknod_(10, "dev", S_IFCHR | 0600, 1, 3, 0), 0);
	assert_int_equal(walk(10, 12, "sl"), 0);
	assert_int_equal(walk(10, 13, "dev"), 0);
	for (uint32_t fid = 12; fid <= 13; fid++) {
		assert_int_equal(xget(fid, "", buf, sizeof(buf)), 0);
		assert_int_equal(xget(fid, "user.guest", buf, sizeof(buf)), -ENODATA);
		assert_int_equal(xset(fid, "user.guest", "v", 0), -EPERM);
	}
	assert_int_equal(host_getxattr("sl", "user.guest", buf, sizeof(buf)), -1);
	assert_int_equal(getattr_all(12).mode, S_IFLNK | 0777);
	/* a directory */
	assert_int_equal(xset(10, "user.top", "t", 0), 0);
	n = xget(10, "", buf, sizeof(buf));
	assert_int_equal(n, (int)sizeof("user.top"));
}

/* A filesystem without user attributes cannot be shared mapped-xattr. */
static void test_mapped_xattr_unsupported(void **state)
{
	struct p9_fs_config cfg = { .root = "/proc", .max_msize = MSIZE,
				    .sm = P9_SM_MAPPED_XATTR };
	struct p9_fs *pfs = NULL;
	char err[256];

	assert_int_equal(p9_fs_open(&cfg, &pfs, err, sizeof(err)), -EOPNOTSUPP);
	assert_null(pfs);
	assert_non_null(strstr(err, "needs user extended attributes"));
	cfg.sm = P9_SM_PASSTHROUGH;
	assert_int_equal(p9_fs_open(&cfg, &pfs, err, sizeof(err)), 0);
	p9_fs_close(pfs);
}

/* user.* attributes, passthrough: get, list, set with XATTR_CREATE and
 * XATTR_REPLACE, remove, and the other namespaces refused. */
static void test_xattr(void **state)
{
	char buf[512], big[P9_XATTR_NAME_MAX + 2];
	uint64_t size;
	int n;

	need_user_xattrs();
	host_write("f", "data");
	assert_int_equal(setxattr(in_root("f"), "user.host", "hv", 2, 0), 0);
	/* pvisor's own names mean nothing in passthrough: shown as they are */
	assert_int_equal(setxattr(in_root("f"), "user.pvisor.mode", "1234", 4, 0), 0);
	assert_int_equal(walk(0, 1, "f"), 0);

	/* get, and the size first (getxattr with no buffer) */
	assert_int_equal(xget(1, "user.host", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hv");
	assert_int_equal(xattrwalk(1, 2, "user.host", &size), 0);
	assert_int_equal(size, 2);
	assert_int_equal(tread(2, 1, 100, buf), 1); /* offset-based */
	assert_string_equal(buf, "v");
	assert_int_equal(tread(2, 2, 100, buf), 0);
	assert_int_equal(tread(2, 1000, 100, buf), 0);
	assert_int_equal(twrite(2, 0, "x"), -EBADF); /* a walk's fid is read only */
	assert_int_equal(clunk(2), 0);
	assert_int_equal(xget(1, "user.none", buf, sizeof(buf)), -ENODATA);

	/* set: a new one, XATTR_CREATE over it, XATTR_REPLACE of a missing one */
	assert_int_equal(xset(1, "user.new", "value", 0), 0);
	assert_int_equal(host_getxattr("f", "user.new", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "value");
	assert_int_equal(xset(1, "user.new", "other", P9_XATTR_CREATE), -EEXIST);
	assert_int_equal(xset(1, "user.nope", "v", P9_XATTR_REPLACE), -ENODATA);
	assert_int_equal(xset(1, "user.new", "v2", P9_XATTR_REPLACE), 0);
	assert_int_equal(xget(1, "user.new", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "v2");

	/* the list: NUL-terminated names */
	n = xget(1, "", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\0');
	assert_true(list_has(buf, n, "user.host"));
	assert_true(list_has(buf, n, "user.new"));
	assert_true(list_has(buf, n, "user.pvisor.mode"));
	for (int at = 0; at < n; at += (int)strlen(buf + at) + 1)
		assert_memory_equal(buf + at, "user.", 5); /* nothing else is shown */

	/* remove: attr_size 0 (Linux's v9fs removes this way) */
	assert_int_equal(xset(1, "user.new", "", P9_XATTR_REPLACE), 0);
	assert_int_equal(host_getxattr("f", "user.new", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(xset(1, "user.new", "", 0), -ENODATA);

	/* other namespaces are not served */
	static const char *const refused[] = {
		"trusted.overlay.opaque", "security.capability", "security.selinux",
		"system.posix_acl_access", "system.posix_acl_default", "os2.x", "user",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(xattrwalk(1, 2, refused[i], NULL), -EOPNOTSUPP);
		assert_int_equal(xset(1, refused[i], "v", 0), -EOPNOTSUPP);
	}
	assert_int_equal(p9_fs_nr_fids(fs), 2);

	/* names: the longest Linux allows, one longer (ERANGE), none */
	memset(big, 'a', sizeof(big));
	memcpy(big, "user.", 5);
	big[P9_XATTR_NAME_MAX + 1] = '\0';
	assert_int_equal(xattrwalk(1, 2, big, NULL), -ERANGE);
	assert_int_equal(xattrcreate(1, big, 1, 0), -ERANGE);
	big[P9_XATTR_NAME_MAX] = '\0';
	assert_int_equal(xget(1, big, buf, sizeof(buf)), -ENODATA);
	assert_int_equal(xattrcreate(1, "", 1, 0), -EINVAL);

	/* Txattrcreate's bounds: the size (XATTR_SIZE_MAX), the flags, an open fid */
	assert_int_equal(walk(0, 3, "f"), 0);
	assert_int_equal(xattrcreate(3, "user.big", P9_XATTR_SIZE_MAX + 1, 0), -E2BIG);
	assert_int_equal(xattrcreate(3, "user.big", UINT64_MAX, 0), -E2BIG);
	assert_int_equal(xattrcreate(3, "user.x", 1, 4), -EINVAL);
	assert_int_equal(lopen(3, P9_O_RDONLY), 0);
	assert_int_equal(xattrcreate(3, "user.x", 1, 0), -EINVAL);
	assert_int_equal(clunk(3), 0);

	/* writes fill the value from 0 on: past attr_size ENOSPC, a hole
	 * EINVAL, overwriting is fine; a value not filled sets nothing */
	assert_int_equal(walk(0, 3, "f"), 0);
	assert_int_equal(xattrcreate(3, "user.w", 3, 0), 0);
	assert_int_equal(twrite(3, 0, "abcd"), -ENOSPC);
	assert_int_equal(twrite(3, 2, "a"), -EINVAL);
	assert_int_equal(twrite(3, 0, "xb"), 2);
	assert_int_equal(twrite(3, 2, "cd"), -ENOSPC);
	assert_int_equal(twrite(3, 0, "a"), 1);
	assert_int_equal(twrite(3, 2, "c"), 1);
	assert_int_equal(twrite(3, 3, ""), 0);
	assert_int_equal(twrite(3, 3, "d"), -ENOSPC);
	assert_int_equal(tread(3, 0, 10, buf), -EBADF); /* a create's fid is write only */
	assert_int_equal(clunk(3), 0);
	assert_int_equal(host_getxattr("f", "user.w", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(walk(0, 3, "f"), 0);
	assert_int_equal(xattrcreate(3, "user.part", 4, 0), 0);
	assert_int_equal(twrite(3, 0, "ab"), 2);
	assert_int_equal(clunk(3), -EINVAL);
	assert_int_equal(host_getxattr("f", "user.part", buf, sizeof(buf)), -1);
	assert_int_equal(p9_fs_nr_fids(fs), 2); /* clunked all the same */

	/* an xattr fid names no file: every other call is EBADF */
	assert_int_equal(xattrwalk(1, 2, "user.host", &size), 0);
	assert_int_equal(walk(2, 3, ""), -EBADF);
	assert_int_equal(lopen(2, P9_O_RDONLY), -EBADF);
	begin(P9_TGETATTR);
	u32(2);
	u64(P9_GETATTR_BASIC);
	assert_int_equal(send_msg(), -EBADF);
	assert_int_equal(xattrwalk(2, 3, "user.host", NULL), -EBADF);
	assert_int_equal(xattrcreate(2, "user.host", 1, 0), -EBADF);
	assert_int_equal(fid_op(P9_TFSYNC, 2), -EBADF);
	assert_int_equal(fid_op(P9_TREADLINK, 2), -EBADF);
	assert_int_equal(xattrwalk(1, 2, "user.host", NULL), -EBADF); /* newfid in use */
	assert_int_equal(xattrwalk(1, 1, "user.host", NULL), -EBADF);
	assert_int_equal(xattrwalk(77, 3, "user.host", NULL), -EBADF);
	assert_int_equal(fid_op(P9_TREMOVE, 2), -EINVAL); /* clunked, the file stays */
	assert_int_equal(access(in_root("f"), F_OK), 0);
	assert_int_equal(p9_fs_nr_fids(fs), 2);
	assert_int_equal(walk(0, 3, "f"), 0);
	assert_int_equal(xattrcreate(3, "user.rm", 1, 0), 0);
	assert_int_equal(fid_op(P9_TREMOVE, 3), -EINVAL); /* nothing set either */
	assert_int_equal(host_getxattr("f", "user.rm", buf, sizeof(buf)), -1);
	assert_int_equal(access(in_root("f"), F_OK), 0);

	/* a directory carries them too */
	assert_int_equal(xset(0, "user.dir", "d", 0), 0);
	assert_int_equal(host_getxattr(".", "user.dir", buf, sizeof(buf)), 1);

	/* a symlink is not followed: it has none and takes none (Linux allows
	 * user.* on regular files and directories only) */
	assert_int_equal(symlink("f", in_root("ln")), 0);
	assert_int_equal(walk(0, 4, "ln"), 0);
	assert_int_equal(xget(4, "user.host", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(xget(4, "", buf, sizeof(buf)), 0);
	assert_int_equal(xset(4, "user.new", "v", 0), -EPERM);
	assert_int_equal(xset(4, "user.host", "", 0), -EPERM);
	assert_int_equal(host_getxattr("f", "user.host", buf, sizeof(buf)), 2);
	assert_int_equal(host_getxattr("f", "user.new", buf, sizeof(buf)), -1);
	/* nor is a symlink swapped in for the file after the walk: the fid
	 * holds the inode */
	assert_int_equal(walk(0, 5, "f"), 0);
	assert_int_equal(rename(in_root("f"), in_root("f.old")), 0);
	assert_int_equal(symlink("../outside/secret", in_root("f")), 0);
	assert_int_equal(xset(5, "user.swap", "s", 0), 0);
	assert_int_equal(host_getxattr("f.old", "user.swap", buf, sizeof(buf)), 1);
	assert_int_equal(lgetxattr(outside, "user.swap", buf, sizeof(buf)), -1);
	snprintf(buf, sizeof(buf), "%s/secret", outside);
	assert_int_equal(getxattr(buf, "user.swap", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(clunk(5), 0);

	/* a new session drops an xattr fid unset */
	assert_int_equal(walk(0, 6, ""), 0);
	assert_int_equal(xattrcreate(6, "user.lost", 1, 0), 0);
	assert_int_equal(twrite(6, 0, "l"), 1);
	assert_int_equal(version(MSIZE), 0);
	assert_int_equal(host_getxattr(".", "user.lost", buf, sizeof(buf)), -1);
	assert_int_equal(attach(0), 0);

	/* a read-only share: read, never written */
	assert_int_equal(open_fs(true, 0), 0);
	assert_int_equal(walk(0, 1, "f.old"), 0);
	assert_int_equal(xget(1, "user.host", buf, sizeof(buf)), 2);
	assert_int_equal(xattrcreate(1, "user.host", 0, 0), -EROFS);
	assert_int_equal(xattrcreate(1, "user.new", 1, 0), -EROFS);
	assert_int_equal(host_getxattr("f.old", "user.host", buf, sizeof(buf)), 2);
}

/* The memory of xattr fids is bounded per share (P9_FS_XATTR_BYTES), and
 * each is a fid of the share's table. */
static void test_xattr_limits(void **state)
{
	uint32_t fid, max = P9_FS_XATTR_BYTES / P9_XATTR_SIZE_MAX;

	need_user_xattrs();
	assert_int_equal(open_fs(false, 200), 0);
	for (fid = 1; fid < max; fid++) {
		assert_int_equal(walk(0, fid, ""), 0);
		assert_int_equal(xattrcreate(fid, "user.v", P9_XATTR_SIZE_MAX, 0), 0);
	}
	/* the struct around each value takes the rest: the next one is refused */
	assert_int_equal(walk(0, fid, ""), 0);
	assert_int_equal(xattrcreate(fid, "user.v", P9_XATTR_SIZE_MAX, 0), -ENOMEM);
	assert_int_equal(xattrcreate(fid, "user.v", 1000, 0), 0); /* a small one fits */
	assert_int_equal(walk(0, fid + 1, ""), 0);
	assert_int_equal(xattrcreate(fid + 1, "user.v", P9_XATTR_SIZE_MAX, 0), -ENOMEM);
	assert_int_equal(xattrwalk(0, fid + 2, "", NULL), 0); /* the list is empty */
	assert_int_equal(clunk(fid + 2), 0);
	/* clunks (unfilled: EINVAL, nothing set) give the memory back */
	assert_int_equal(clunk(1), -EINVAL);
	assert_int_equal(xattrcreate(fid + 1, "user.v", P9_XATTR_SIZE_MAX, 0), 0);
	for (uint32_t f = 2; f <= fid + 1; f++)
		assert_int_equal(clunk(f), -EINVAL);
	assert_int_equal(p9_fs_nr_fids(fs), 1);
	assert_int_equal(host_getxattr(".", "user.v", (char[8]){ 0 }, 8), -1);

	/* an xattr fid counts against the fid bound */
	assert_int_equal(open_fs(false, 2), 0);
	assert_int_equal(walk(0, 1, ""), 0);
	assert_int_equal(xattrwalk(0, 2, "", NULL), -ENFILE);
	assert_int_equal(clunk(1), 0);
	assert_int_equal(xattrwalk(0, 2, "", NULL), 0);
	assert_int_equal(walk(0, 3, ""), -ENFILE);
}

/* --- 9P2000.u, as Mini-OS's 9pfront speaks it --- */

static int version_u(void)
{
	begin(P9_TVERSION);
	u32(MSIZE);
	str("9P2000.u");
	int rc = send_msg();

	assert_int_equal(rc, 0);
	assert_int_equal(rep[11] | rep[12] << 8, 8);
	assert_memory_equal(rep + 13, "9P2000.u", 8);
	return rc;
}

static int attach_u(uint32_t fid)
{
	begin(P9_TATTACH);
	u32(fid);
	u32(0); /* afid 0, as Mini-OS sends it */
	str("root");
	str("root");
	u32(0);
	return send_msg();
}

static int open_u(uint32_t fid, uint8_t mode)
{
	begin(P9_TOPEN);
	u32(fid);
	u8(mode);
	return send_msg();
}

static int create_u(uint32_t fid, const char *name, uint32_t perm, uint8_t mode,
		    const char *ext)
{
	begin(P9_TCREATE);
	u32(fid);
	str(name);
	u32(perm);
	u8(mode);
	str(ext);
	return send_msg();
}

/* Twstat with mode, atime, mtime, length and name (~0 / "": untouched). */
static int wstat_u(uint32_t fid, uint32_t mode, uint32_t atime, uint32_t mtime,
		   uint64_t length, const char *name)
{
	uint16_t size = (uint16_t)(2 + 4 + 13 + 4 + 4 + 4 + 8 + 2 + strlen(name) + 4 * 2 + 12);

	begin(P9_TWSTAT);
	u32(fid);
	u16((uint16_t)(size + 2));
	u16(size);
	u16(0xffff);
	u32(~0u);
	for (int i = 0; i < 13; i++)
		u8(0xff);
	u32(mode);
	u32(atime);
	u32(mtime);
	u64(length);
	str(name);
	for (int i = 0; i < 4; i++)
		str("");
	u32(~0u);
	u32(~0u);
	u32(~0u);
	return send_msg();
}

struct stat_u {
	uint32_t mode, n_uid;
	uint64_t length, qid_path;
	char name[256], ext[256];
};

/* Decodes one stat structure at p; its size. */
static size_t decode_stat_u(const uint8_t *p, struct stat_u *st)
{
	size_t size = (size_t)(p[0] | p[1] << 8) + 2, at = 2 + 2 + 4;
	uint16_t l;

	st->qid_path = le64(p + at + 5);
	at += 13;
	st->mode = le32(p + at);
	at += 4 + 4 + 4;
	st->length = le64(p + at);
	at += 8;
	l = (uint16_t)(p[at] | p[at + 1] << 8);
	memcpy(st->name, p + at + 2, l);
	st->name[l] = '\0';
	at += 2 + l;
	for (int i = 0; i < 3; i++) /* uid, gid, muid */
		at += 2 + (size_t)(p[at] | p[at + 1] << 8);
	l = (uint16_t)(p[at] | p[at + 1] << 8);
	memcpy(st->ext, p + at + 2, l);
	st->ext[l] = '\0';
	at += 2 + l;
	st->n_uid = le32(p + at);
	assert_int_equal(at + 12, size);
	return size;
}

static struct stat_u stat_u(uint32_t fid)
{
	struct stat_u st;

	begin(P9_TSTAT);
	u32(fid);
	assert_int_equal(send_msg(), 0);
	assert_int_equal((size_t)(rep[7] | rep[8] << 8) + 9, rlen);
	decode_stat_u(rep + 9, &st);
	return st;
}

/* The names a .u directory read lists, from offset 0 in reads of count. */
static void list_u(uint32_t fid, uint32_t count, char *out, size_t len)
{
	uint64_t off = 0;

	out[0] = '\0';
	for (;;) {
		begin(P9_TREAD);
		u32(fid);
		u64(off);
		u32(count);
		assert_int_equal(send_msg(), 0);
		uint32_t n = le32(rep + 7);

		if (n == 0)
			return;
		for (size_t at = 0; at < n;) {
			struct stat_u st;

			at += decode_stat_u(rep + 11 + at, &st);
			strncat(out, st.name, len - strlen(out) - 2);
			strncat(out, " ", len - strlen(out) - 1);
		}
		off += n;
	}
}

/* Mini-OS's sequence (version, attach with afid 0, walk, create/open,
 * write, read, stat, clunk), the rest of Tcreate's kinds, directory
 * reads, errors as Rerror, and the .u messages refused in a .L session. */
static void test_dot_u(void **state)
{
	char buf[512], path[400];
	struct stat_u st;
	struct stat hst;

	assert_int_equal(version_u(), 0);
	assert_int_equal(attach_u(0), 0);
	assert_string_equal(stat_u(0).name, "/");
	assert_int_not_equal(stat_u(0).mode & P9_DMDIR, 0);
	/* open_9pfs: an empty walk, then Tcreate of the missing name */
	assert_int_equal(walk(0, 1, ""), 0);
	assert_int_equal(create_u(1, "log", 0640, P9_OWRITE, ""), 0);
	assert_int_equal(twrite(1, 0, "hello, u"), 8);
	assert_int_equal(clunk(1), 0);
	snprintf(path, sizeof(path), "%s/log", root);
	assert_int_equal(stat(path, &hst), 0);
	assert_int_equal(hst.st_mode & 07777, 0640);
	assert_string_equal(host_read(in_root("log")), "hello, u");
	/* and the existing file: walk, Topen, Tread, Tstat */
	assert_int_equal(walk(0, 2, "log"), 0);
	assert_int_equal(open_u(2, P9_OREAD), 0);
	assert_int_equal(tread(2, 0, 100, buf), 8);
	assert_string_equal(buf, "hello, u");
	st = stat_u(2);
	assert_string_equal(st.name, "log");
	assert_int_equal(st.length, 8);
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.n_uid, getuid());
	assert_int_equal(st.qid_path, hst.st_ino);
	assert_int_equal(open_u(2, P9_OREAD), -EBUSY);
	assert_int_equal(clunk(2), 0);
	/* OTRUNC */
	assert_int_equal(walk(0, 2, "log"), 0);
	assert_int_equal(open_u(2, P9_ORDWR | P9_OTRUNC), 0);
	assert_int_equal(twrite(2, 0, "new"), 3);
	assert_int_equal(clunk(2), 0);
	assert_string_equal(host_read(in_root("log")), "new");
	/* a directory (the fid opened for reading it), a symlink, refusals */
	assert_int_equal(walk(0, 3, ""), 0);
	assert_int_equal(create_u(3, "d", P9_DMDIR | 0750, P9_OREAD, ""), 0);
	snprintf(path, sizeof(path), "%s/d", root);
	assert_int_equal(stat(path, &hst), 0);
	assert_true(S_ISDIR(hst.st_mode));
	assert_int_equal(hst.st_mode & 07777, 0750);
	list_u(3, 4096, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(walk(0, 4, "d"), 0);
	assert_int_equal(create_u(4, "a", 0600, P9_OWRITE, ""), 0);
	assert_int_equal(clunk(4), 0);
	assert_int_equal(walk(0, 4, "d"), 0);
	assert_int_equal(create_u(4, "b", 0600, P9_OWRITE, ""), 0);
	assert_int_equal(clunk(4), 0);
	list_u(3, 4096, buf, sizeof(buf));
	assert_true(!strcmp(buf, "a b ") || !strcmp(buf, "b a "));
	list_u(3, 80, buf, sizeof(buf)); /* one entry a read (a stat is ~70 bytes) */
	assert_true(!strcmp(buf, "a b ") || !strcmp(buf, "b a "));
	begin(P9_TREAD); /* an offset that is not where the last read ended */
	u32(3);
	u64(5);
	u32(4096);
	assert_int_equal(send_msg(), -EINVAL);
	assert_int_equal(walk(0, 5, ""), 0);
	assert_int_equal(create_u(5, "ln", P9_DMSYMLINK | 0777, P9_OREAD, "log"), 0);
	snprintf(path, sizeof(path), "%s/ln", root);
	assert_int_equal(readlink(path, buf, sizeof(buf)), 3);
	st = stat_u(5);
	assert_int_not_equal(st.mode & P9_DMSYMLINK, 0);
	assert_string_equal(st.ext, "log");
	assert_int_equal(walk(0, 6, ""), 0);
	assert_int_equal(create_u(6, "nod", P9_DMDEVICE | 0600, P9_OREAD, "c 1 3"), -EPERM);
	assert_int_equal(create_u(6, "fifo", P9_DMNAMEDPIPE | 0600, P9_OREAD, ""), -EPERM);
	assert_int_equal(create_u(6, "ln2", P9_DMSYMLINK | 0777, P9_OREAD, ""), -ENOENT);
	assert_int_equal(create_u(6, "log", 0600, P9_OWRITE, ""), -EEXIST);
	assert_int_equal(create_u(6, "rc", 0600, P9_OWRITE | P9_ORCLOSE, ""), -EOPNOTSUPP);
	assert_int_equal(open_u(77, P9_OREAD), -EBADF);
	/* the renamed file's stat names it as it is now */
	assert_int_equal(walk(0, 7, "log"), 0);
	snprintf(path, sizeof(path), "%s/log", root);
	snprintf(buf, sizeof(buf), "%s/log2", root);
	assert_int_equal(rename(path, buf), 0);
	assert_string_equal(stat_u(7).name, "log2");

	/* Twstat: rename in place (never over an existing name), chmod,
	 * truncate, mtime; "don't touch" fields leave the rest; a type
	 * change is EINVAL */
	assert_int_equal(walk(0, 8, "log2"), 0);
	assert_int_equal(wstat_u(8, ~0u, ~0u, 1000000, 3, "renamed"), 0);
	assert_false(host_exists("log2"));
	snprintf(path, sizeof(path), "%s/renamed", root);
	assert_int_equal(stat(path, &hst), 0);
	assert_int_equal(hst.st_size, 3);
	assert_int_equal(hst.st_mtime, 1000000);
	assert_int_equal(hst.st_mode & 07777, 0640);
	assert_int_equal(wstat_u(8, 0600, ~0u, ~0u, ~0ull, ""), 0);
	assert_int_equal(stat(path, &hst), 0);
	assert_int_equal(hst.st_mode & 07777, 0600);
	assert_int_equal(hst.st_size, 3);
	assert_int_equal(wstat_u(8, ~0u, ~0u, ~0u, ~0ull, "ln"), -EEXIST);
	assert_int_equal(wstat_u(8, P9_DMDIR | 0755, ~0u, ~0u, ~0ull, ""), -EINVAL);
	assert_int_equal(wstat_u(8, ~0u, ~0u, ~0u, ~0ull, ".."), -EINVAL);
	assert_int_equal(wstat_u(0, ~0u, ~0u, ~0u, ~0ull, "root2"), -EBUSY);
	assert_int_equal(rename(in_root("renamed"), in_root("log2")), 0);

	/* A .L session does not take the .u messages. */
	assert_int_equal(version(MSIZE), 0);
	assert_int_equal(attach(0), 0);
	assert_int_equal(walk(0, 1, "log2"), 0);
	assert_int_equal(open_u(1, P9_OREAD), -EOPNOTSUPP);
	assert_int_equal(wstat_u(1, 0600, ~0u, ~0u, ~0ull, ""), -EOPNOTSUPP);
	begin(P9_TSTAT);
	u32(1);
	assert_int_equal(send_msg(), -EOPNOTSUPP);
	assert_int_equal(rep[4], P9_RLERROR);
}

/* qid.path of a walked fid, from Rgetattr. */
static uint64_t qid_path_of(uint32_t fid)
{
	begin(P9_TGETATTR);
	u32(fid);
	u64(P9_GETATTR_BASIC);
	assert_int_equal(send_msg(), 0);
	return le64(rep + 7 + 8 + 5);
}

/* A share over several filesystems (here "/", with /proc on procfs):
 * files of the share's own filesystem keep their inode numbers as
 * qid.path, another filesystem's get a prefix above bit 48, so an inode
 * number both have never gives one qid (Linux's v9fs takes qid.path as
 * the inode number: tar and cp would take them for hard links). */
static void test_qid_across_filesystems(void **state)
{
	struct p9_fs_config cfg = { .root = "/", .max_msize = MSIZE, .ro = true };
	struct p9_fs *saved = fs;
	struct stat root_st, etc_st, proc_st;
	uint64_t etc_q, proc_q;
	char err[256];

	assert_int_equal(stat("/", &root_st), 0);
	assert_int_equal(stat("/etc", &etc_st), 0);
	assert_int_equal(stat("/proc", &proc_st), 0);
	if (proc_st.st_dev == root_st.st_dev)
		skip(); /* no procfs mounted on /proc */

	fs = NULL;
	assert_int_equal(p9_fs_open(&cfg, &fs, err, sizeof(err)), 0);
	assert_int_equal(version(MSIZE), 0);
	assert_int_equal(attach(0), 0);
	assert_int_equal(walk(0, 1, "etc"), 0);
	assert_int_equal(walk(0, 2, "proc"), 0);
	etc_q = qid_path_of(1);
	proc_q = qid_path_of(2);
	if (etc_st.st_dev == root_st.st_dev)
		assert_int_equal(etc_q, etc_st.st_ino);
	assert_int_not_equal(proc_q >> 48, 0);
	assert_int_equal(proc_q & ((1ull << 48) - 1), proc_st.st_ino & ((1ull << 48) - 1));
	assert_int_equal(qid_path_of(2), proc_q); /* stable */
	p9_fs_close(fs);
	fs = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fid_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapped_xattr, setup, teardown),
		cmocka_unit_test(test_mapped_xattr_unsupported),
		cmocka_unit_test_setup_teardown(test_xattr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xattr_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xattr_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qid_across_filesystems, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dot_u, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
