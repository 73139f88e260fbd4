/*
 * The mapped-xattr attributes (see p9_mapped.h).  Values are little-endian
 * binary: 4 bytes for uid, gid and mode, 8 for rdev (the dev_t encoding
 * glibc's makedev() gives, which is also what Linux's 9p client decodes).
 * The server's descriptors are O_PATH, which the f*xattr calls refuse, so
 * the attributes are reached through /proc/self/fd/N: it names the inode
 * the descriptor holds, whatever became of the name (as chmod does in
 * p9_fs.c); only regular files and directories get here, so there is no
 * symlink at the end to follow.
 */
#include "services/p9/p9_mapped.h"

#include <errno.h>
#include <stdio.h>
#include <sys/xattr.h>

#define XATTR_UID "user.pvisor.uid"
#define XATTR_GID "user.pvisor.gid"
#define XATTR_MODE "user.pvisor.mode"
#define XATTR_RDEV "user.pvisor.rdev"

static void fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static bool can_carry(const struct stat *host)
{
	return S_ISREG(host->st_mode) || S_ISDIR(host->st_mode);
}

/* Reads a little-endian value of exactly size bytes; false if absent. */
static bool get_le(const char *path, const char *name, unsigned size, uint64_t *v)
{
	uint8_t b[8];
	ssize_t n = getxattr(path, name, b, sizeof(b));

	if (n != (ssize_t)size)
		return false;
	*v = 0;
	for (unsigned i = 0; i < size; i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return true;
}

static int set_le(const char *path, const char *name, unsigned size, uint64_t v)
{
	uint8_t b[8];

	for (unsigned i = 0; i < size; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return setxattr(path, name, b, size, 0) ? -errno : 0;
}

int p9_mapped_probe(int root_fd)
{
	char path[40];
	uint8_t b[8];

	fd_path(root_fd, path, sizeof(path));
	if (getxattr(path, XATTR_MODE, b, sizeof(b)) >= 0)
		return 0;
	/* ENODATA: attributes are supported, the root just has none. */
	return errno == ENODATA || errno == ERANGE ? 0 : -errno;
}

void p9_mapped_read(int fd, const struct stat *host, struct p9_mapped *m)
{
	char path[40];
	uint64_t v;

	*m = (struct p9_mapped){ 0 };
	if (!can_carry(host))
		return;
	fd_path(fd, path, sizeof(path));
	if (get_le(path, XATTR_UID, 4, &v)) {
		m->uid = (uint32_t)v;
		m->has |= P9_MAPPED_UID;
	}
	if (get_le(path, XATTR_GID, 4, &v)) {
		m->gid = (uint32_t)v;
		m->has |= P9_MAPPED_GID;
	}
	if (get_le(path, XATTR_MODE, 4, &v)) {
		m->mode = (uint32_t)v;
		m->has |= P9_MAPPED_MODE;
	}
	if (get_le(path, XATTR_RDEV, 8, &v)) {
		m->rdev = v;
		m->has |= P9_MAPPED_RDEV;
	}
}

/* The types a regular host file may stand for. */
static bool mapped_file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

void p9_mapped_apply(struct stat *st, const struct p9_mapped *m)
{
	if (m->has & P9_MAPPED_UID)
		st->st_uid = m->uid;
	if (m->has & P9_MAPPED_GID)
		st->st_gid = m->gid;
	if (m->has & P9_MAPPED_MODE) {
		uint32_t type = st->st_mode & S_IFMT;

		if (S_ISREG(st->st_mode) && mapped_file_type(m->mode))
			type = m->mode & S_IFMT;
		st->st_mode = type | (m->mode & 07777);
	}
	if ((m->has & P9_MAPPED_RDEV) && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)))
		st->st_rdev = m->rdev;
}

int p9_mapped_write(int fd, const struct p9_mapped *m)
{
	char path[40];
	int rc = 0;

	fd_path(fd, path, sizeof(path));
	if (m->has & P9_MAPPED_UID)
		rc = set_le(path, XATTR_UID, 4, m->uid);
	if (!rc && (m->has & P9_MAPPED_GID))
		rc = set_le(path, XATTR_GID, 4, m->gid);
	if (!rc && (m->has & P9_MAPPED_MODE))
		rc = set_le(path, XATTR_MODE, 4, m->mode);
	if (!rc && (m->has & P9_MAPPED_RDEV))
		rc = set_le(path, XATTR_RDEV, 8, m->rdev);
	return rc;
}

bool p9_mapped_mknod_type_ok(uint32_t mode)
{
	return (mode & S_IFMT) != S_IFLNK && mapped_file_type(mode);
}
