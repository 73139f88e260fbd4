/*
 * libFuzzer harness for the 9P2000.L/.u file server on a real directory: each
 * input is a sequence of messages (len[2] then that many bytes; the size
 * field is set to the length) sent after Tversion and Tattach(fid 0) on a
 * share that holds files, a directory and symlinks pointing out of it.
 * After every input the directory beside the share must be exactly as it
 * was, with no user.* attribute set on it or in it (Txattrcreate's
 * setxattr and removexattr): a hostile guest never reaches outside.  The share itself is emptied
 * and refilled every 512 inputs so that it stays small.  Every input goes
 * to two servers of that share: passthrough, and mapped-xattr (where the
 * share's filesystem takes user xattrs: tmpfs from Linux 6.6, ext4).
 */
// fuzz-sources: src/services/p9/p9_fs.c src/services/p9/p9_fid.c src/services/p9/p9_msg.c src/services/p9/p9_mapped.c src/services/p9/p9_qid.c
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "services/p9/p9_fs.h"

#define MSIZE 8192u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[256], share[300], outside[300];
static struct p9_fs *servers[2]; /* passthrough, mapped-xattr (or NULL) */
static struct p9_fs *fs;         /* the one being fed */
static uint8_t msg[MSIZE], rsp[MSIZE];

static void put_file(const char *dir, const char *name, const char *text)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void fill_share(void)
{
	char cmd[700], p[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", share, share);
	if (system(cmd))
		abort();
	put_file(share, "file", "contents");
	snprintf(p, sizeof(p), "%s/dir", share);
	mkdir(p, 0755);
	put_file(p, "inner", "x");
	snprintf(p, sizeof(p), "%s/up", share);
	symlink("../outside", p);
	snprintf(p, sizeof(p), "%s/abs", share);
	symlink(outside, p);
	snprintf(p, sizeof(p), "%s/etc", share);
	symlink("/etc", p);
}

/* path has no user.* attribute (the guest may set only those). */
static void check_no_user_xattrs(const char *path)
{
	char list[4096];
	ssize_t n = llistxattr(path, list, sizeof(list));

	for (ssize_t at = 0; at < n; at += (ssize_t)strlen(list + at) + 1)
		if (!strncmp(list + at, "user.", 5))
			abort();
}

/* The directory beside the share: exactly "share" and "outside", and
 * outside holds only "secret" with its text; none has a user.* attribute. */
static void check_outside(void)
{
	char p[600], buf[16] = "";
	struct dirent *de;
	int n = 0, fd;
	DIR *d = opendir(top);

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "share") && strcmp(de->d_name, "outside"))
			abort();
	closedir(d);
	d = opendir(outside);
	if (!d)
		abort();
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	snprintf(p, sizeof(p), "%s/secret", outside);
	fd = open(p, O_RDONLY);
	if (n != 1 || fd < 0 || read(fd, buf, sizeof(buf)) != 6 || memcmp(buf, "SECRET", 6))
		abort();
	close(fd);
	check_no_user_xattrs(top);
	check_no_user_xattrs(outside);
	check_no_user_xattrs(p);
}

static void cleanup(void)
{
	char cmd[300];

	p9_fs_close(servers[0]);
	p9_fs_close(servers[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		return;
}

static void init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct p9_fs_config cfg = { .root = share, .max_msize = MSIZE, .max_fids = 64 };
	struct p9_fs_config mapped = cfg;
	char err[256];

	snprintf(top, sizeof(top), "%s/fuzz_p9_fs.XXXXXX", base);
	if (!mkdtemp(top))
		abort();
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	mkdir(outside, 0755);
	put_file(outside, "secret", "SECRET");
	fill_share();
	if (p9_fs_open(&cfg, &servers[0], err, sizeof(err)))
		abort();
	mapped.sm = P9_SM_MAPPED_XATTR;
	if (p9_fs_open(&mapped, &servers[1], err, sizeof(err)))
		fprintf(stderr, "fuzz_p9_fs: no mapped-xattr server: %s\n", err);
	atexit(cleanup);
}

static void send(uint32_t len)
{
	memcpy(msg, &len, 4);
	if (p9_fs_request(fs, msg, len, rsp, sizeof(rsp)) < P9_HDR_SIZE)
		abort();
}

/* Tversion for 9P2000.L, or for 9P2000.u (dot_u), then Tattach. */
static void session(bool dot_u)
{
	uint8_t version[] = { 0, 0, 0, 0, P9_TVERSION, 0xff, 0xff,
			      0, 0x20, 0, 0, 8, 0, '9', 'P', '2', '0',
			      '0', '0', '.', dot_u ? 'u' : 'L' };
	static const uint8_t attach[] = { 0, 0, 0, 0, P9_TATTACH, 1, 0, 0, 0, 0, 0,
					  0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };

	memcpy(msg, version, sizeof(version));
	send(sizeof(version));
	memcpy(msg, attach, sizeof(attach));
	send(sizeof(attach));
}

/* One input's messages, after a fresh session, to fs: a 9P2000.u one
 * when the input's length is odd (its last byte is no message's). */
static void serve(const uint8_t *data, size_t size)
{
	session(size & 1);
	while (size >= 2) {
		uint32_t len = (uint32_t)(data[0] | data[1] << 8);

		data += 2;
		size -= 2;
		if (len > size)
			len = (uint32_t)size;
		if (len > MSIZE)
			len = MSIZE;
		if (len >= P9_HDR_SIZE) {
			memcpy(msg, data, len);
			send(len);
		}
		data += len;
		size -= len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;

	if (!servers[0])
		init();
	if (++runs % 512 == 0)
		fill_share();
	for (int i = 0; i < 2; i++) {
		fs = servers[i];
		if (fs)
			serve(data, size);
	}
	check_outside();
	return 0;
}
