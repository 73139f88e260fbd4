/*
 * 9pfs from the guest kit: real file operations on share 0 (read-write),
 * whose results tests/e2e/t_9pfs.sh checks on the host; a read-only share 1
 * refusing every change with EROFS; then hostile messages (17-element
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
	read_only(p9front_init(1, 2));
	in_flight(fe);
	hostile(fe);
	test_finish();
}
