/*
 * The 9P2000.L file server (see p9_fs.h and docs/9pfs.md).
 *
 * Containment: a fid's descriptor names an inode, never a path.  Walks take
 * one component at a time with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW, so a symlink
 * is a file to read (Treadlink), never followed by the server; `..` is the
 * parent, and at the share's root the root itself (walk(5)).  Creating
 * calls (*at) name one checked component in a directory fid.  Operations
 * that have no *at form that takes an O_PATH descriptor (reopen for
 * Tlopen, chmod, truncate, utimens, link) go through /proc/self/fd/N,
 * which names the inode the fid holds: a name swapped for a symlink after
 * the walk changes nothing.
 *
 * security_model=mapped-xattr changes what the guest sees of a file, never
 * which file it reaches: fs_stat() is the one place attributes are read
 * (p9_mapped.h), and the creating calls store the guest's owner and mode
 * instead of applying them.
 *
 * Extended attributes (Txattrwalk, Txattrcreate) are served as QEMU serves
 * them to Linux's v9fs: an xattr fid holds a value (or the list of names)
 * in memory, read with Tread, or filled with Twrite and set at Tclunk.
 * Only user.* names; in mapped-xattr pvisor's own user.pvisor.* are
 * hidden.  The host calls take /proc/self/fd/N of the fid's O_PATH
 * descriptor (the f*xattr calls refuse O_PATH), which names that inode,
 * a symlink itself included.
 */
#include "services/p9/p9_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "services/p9/p9_fid.h"
#include "services/p9/p9_mapped.h"
#include "services/p9/p9_qid.h"

#define RESOLVE_SAFE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

struct p9_fs {
	struct p9_fs_config cfg;
	int root_fd;              /* O_PATH of the share */
	struct stat root_st;
	struct p9_qid_map qids;   /* qid.path numbers (p9_qid.h) */
	uint32_t msize;
	uint32_t limit;           /* msize limit now (<= cfg.max_msize) */
	bool versioned;           /* Tversion seen */
	bool dot_u;               /* the session speaks 9P2000.u, not .L */
	struct p9_fid_table fids;
	uint8_t *scratch;         /* getdents64 buffer, msize bytes */
	uint8_t *xbuf;            /* P9_XATTR_SIZE_MAX bytes: a value or list read */
	size_t xattr_bytes;       /* held by xattr fids (<= P9_FS_XATTR_BYTES) */
	/* Guards everything above once open: requests are served by several
	 * threads; only the data calls (pread, pwrite, fsync) run outside it,
	 * on a dup of the fid's open descriptor (a concurrent Tclunk closes
	 * the fid's, not the dup). */
	pthread_mutex_t lock;
};

static int sys_openat2(int dirfd, const char *name, uint64_t flags,
		       uint64_t mode, uint64_t resolve)
{
	struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* One component beneath dirfd, the file itself (never a symlink's target). */
static int lookup(int dirfd, const char *name, uint64_t flags)
{
	return sys_openat2(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC | flags, 0,
			   RESOLVE_SAFE);
}

static void proc_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static int neg(int rc)
{
	return rc < 0 ? -errno : rc;
}

/* The qid of a file (its path unique across the share's filesystems:
 * p9_qid.h); -ENFILE if the share met too many of them. */
static int qid_of(struct p9_fs *fs, const struct stat *st, struct p9_qid *q)
{
	*q = (struct p9_qid){ .type = S_ISDIR(st->st_mode)   ? P9_QTDIR
				      : S_ISLNK(st->st_mode) ? P9_QTSYMLINK
							     : P9_QTFILE };
	return p9_qid_path(&fs->qids, st->st_dev, st->st_ino, &q->path);
}

static bool mapped(const struct p9_fs *fs)
{
	return fs->cfg.sm == P9_SM_MAPPED_XATTR;
}

/* The file as the guest sees it: its host stat, with the mapped-xattr
 * attributes applied in that model. */
static int fs_stat(const struct p9_fs *fs, int fd, struct stat *st)
{
	struct p9_mapped m;

	if (fstat(fd, st))
		return -errno;
	if (mapped(fs)) {
		p9_mapped_read(fd, st, &m);
		p9_mapped_apply(st, &m);
	}
	return 0;
}

static int fd_qid(struct p9_fs *fs, int fd, struct p9_qid *q)
{
	struct stat st;
	int rc = fs_stat(fs, fd, &st);

	return rc ? rc : qid_of(fs, &st, q);
}

/*
 * An xattr fid's buffer.  Txattrwalk's (create false) holds the value or
 * the list of names, read with Tread; Txattrcreate's the value Twrite fills
 * (filled: the bytes written from 0 on), set on the fid's file at Tclunk.
 */
struct p9_xattr {
	bool create;
	int flags;            /* setxattr's XATTR_CREATE / XATTR_REPLACE */
	uint32_t size, filled;
	char name[P9_XATTR_NAME_MAX + 1];
	uint8_t value[];
};

static size_t xattr_cost(uint32_t size)
{
	return sizeof(struct p9_xattr) + size;
}

static void fid_close(struct p9_fs *fs, struct p9_fid *f)
{
	if (f->xa) {
		fs->xattr_bytes -= xattr_cost(f->xa->size);
		free(f->xa);
		f->xa = NULL;
	}
	if (f->ofd >= 0)
		close(f->ofd);
	if (f->fd >= 0)
		close(f->fd);
	p9_fid_remove(&fs->fids, f);
}

static void fids_clear(struct p9_fs *fs)
{
	for (unsigned i = 0; i < fs->fids.cap; i++) {
		struct p9_fid *f = &fs->fids.slots[i];

		/* Removal shifts entries back into slot i: look at it again. */
		while (f->used)
			fid_close(fs, f);
	}
}

/* Sets the fid's descriptor (taking ownership of fd) and its kind. */
static int fid_set_fd(const struct p9_fs *fs, struct p9_fid *f, int fd)
{
	struct stat st;
	int rc = fs_stat(fs, fd, &st);

	if (rc) {
		close(fd);
		return rc;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->is_dir = S_ISDIR(st.st_mode);
	f->is_link = S_ISLNK(st.st_mode);
	return 0;
}

static struct p9_fid *new_fid(struct p9_fs *fs, uint32_t id, int *rc)
{
	bool full;
	struct p9_fid *f = p9_fid_add(&fs->fids, id, &full);

	if (!f)
		*rc = full ? -ENFILE : -EBADF; /* table full / fid in use */
	return f;
}

/* A fid that names a file: NULL for an unknown fid and for an xattr fid
 * (Txattrwalk's or Txattrcreate's), which only Tread, Twrite and Tclunk
 * take. */
static struct p9_fid *file_fid(struct p9_fs *fs, uint32_t id)
{
	struct p9_fid *f = p9_fid_get(&fs->fids, id);

	return f && !f->xa ? f : NULL;
}

/* A fid naming a directory, for the *at calls. */
static struct p9_fid *dir_fid(struct p9_fs *fs, uint32_t id, int *rc)
{
	struct p9_fid *f = file_fid(fs, id);

	if (!f)
		*rc = -EBADF;
	else if (!f->is_dir) {
		*rc = -ENOTDIR;
		f = NULL;
	}
	return f;
}

/* --- session --- */

static bool is_dot_u(struct p9_fs *fs)
{
	return __atomic_load_n(&fs->dot_u, __ATOMIC_ACQUIRE);
}

static int op_version(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	bool dot_u = !strncmp(r->str, P9_VERSION_U, strlen(P9_VERSION_U));
	bool ok = dot_u || !strncmp(r->str, P9_VERSION_L, strlen(P9_VERSION_L));
	const char *version = dot_u ? P9_VERSION_U : P9_VERSION_L;

	if (r->msize < P9_FS_MIN_MSIZE)
		return -EINVAL;
	/* Tversion starts a new session: every fid goes (version(5)). */
	fids_clear(fs);
	__atomic_store_n(&fs->msize, r->msize < fs->limit ? r->msize : fs->limit,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&fs->dot_u, dot_u, __ATOMIC_RELEASE);
	__atomic_store_n(&fs->versioned, ok, __ATOMIC_RELEASE);
	p9_begin(o, P9_RVERSION, r->tag);
	p9_put_u32(o, fs->msize);
	if (ok)
		p9_put_str(o, version, strlen(version));
	else
		p9_put_str(o, "unknown", 7);
	return 0;
}

static int op_attach(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f;
	struct p9_qid q;
	int rc = 0, fd;

	/* afid: no authentication is offered.  Mini-OS's 9pfront sends 0
	 * where 9P wants NOFID; as QEMU, a .u session's afid is ignored. */
	if (r->newfid != P9_NOFID && !fs->dot_u)
		return -EINVAL;
	fd = fcntl(fs->root_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	f = new_fid(fs, r->fid, &rc);
	if (!f) {
		close(fd);
		return rc;
	}
	f->uid = r->n_uname;
	rc = fid_set_fd(fs, f, fd);
	if (!rc)
		rc = fd_qid(fs, f->fd, &q);
	if (rc) {
		fid_close(fs, f);
		return rc;
	}
	p9_begin(o, P9_RATTACH, r->tag);
	p9_put_qid(o, &q);
	return 0;
}

/* --- walk --- */

static bool is_root(struct p9_fs *fs, int fd)
{
	struct stat st;

	return !fstat(fd, &st) && st.st_dev == fs->root_st.st_dev &&
	       st.st_ino == fs->root_st.st_ino;
}

/* One walk step from cur: a component, or ".." (the root's is the root). */
static int walk_one(struct p9_fs *fs, int cur, const char *name)
{
	if (strcmp(name, ".."))
		return lookup(cur, name, 0);
	if (is_root(fs, cur))
		return neg(fcntl(cur, F_DUPFD_CLOEXEC, 0));
	/* cur lies beneath the root and is not it, so its parent does too;
	 * RESOLVE_BENEATH would refuse the ".." itself. */
	return sys_openat2(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
			   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
}

static int op_walk(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid), *nf;
	struct p9_qid qids[P9_MAXWELEM];
	unsigned n;
	int cur, rc = 0;

	if (!f)
		return -EBADF;
	if (r->newfid != r->fid && p9_fid_get(&fs->fids, r->newfid))
		return -EBADF;
	if (r->newfid == r->fid && f->ofd >= 0 && r->nwname)
		return -EBUSY; /* an open fid names its file for good */
	cur = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	for (n = 0; n < r->nwname; n++) {
		int next = walk_one(fs, cur, r->wname[n]);

		if (next < 0) {
			rc = next;
			break;
		}
		close(cur);
		cur = next;
		rc = fd_qid(fs, cur, &qids[n]);
		if (rc)
			break;
	}
	if (n == 0 && r->nwname) {
		close(cur);
		return rc; /* the first element failed: an error (walk(5)) */
	}
	if (n < r->nwname) {
		close(cur); /* partial walk: qids so far, newfid not made */
	} else {
		nf = r->newfid == r->fid ? f : new_fid(fs, r->newfid, &rc);
		if (!nf) {
			close(cur);
			return rc;
		}
		nf->uid = f->uid;
		rc = fid_set_fd(fs, nf, cur);
		if (rc) {
			if (nf != f)
				fid_close(fs, nf);
			return rc;
		}
	}
	p9_begin(o, P9_RWALK, r->tag);
	p9_put_u16(o, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		p9_put_qid(o, &qids[i]);
	return 0;
}

/* --- attributes --- */

static int op_getattr(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	struct stat st;
	struct p9_qid q;

	int rc;

	if (!f)
		return -EBADF;
	rc = fs_stat(fs, f->fd, &st);
	if (!rc)
		rc = qid_of(fs, &st, &q);
	if (rc)
		return rc;
	p9_begin(o, P9_RGETATTR, r->tag);
	p9_put_u64(o, P9_GETATTR_BASIC);
	p9_put_qid(o, &q);
	p9_put_u32(o, st.st_mode);
	p9_put_u32(o, st.st_uid);
	p9_put_u32(o, st.st_gid);
	p9_put_u64(o, st.st_nlink);
	p9_put_u64(o, st.st_rdev);
	p9_put_u64(o, (uint64_t)st.st_size);
	p9_put_u64(o, (uint64_t)st.st_blksize);
	p9_put_u64(o, (uint64_t)st.st_blocks);
	p9_put_u64(o, (uint64_t)st.st_atim.tv_sec);
	p9_put_u64(o, (uint64_t)st.st_atim.tv_nsec);
	p9_put_u64(o, (uint64_t)st.st_mtim.tv_sec);
	p9_put_u64(o, (uint64_t)st.st_mtim.tv_nsec);
	p9_put_u64(o, (uint64_t)st.st_ctim.tv_sec);
	p9_put_u64(o, (uint64_t)st.st_ctim.tv_nsec);
	for (int i = 0; i < 4; i++) /* btime, gen, data_version: not kept */
		p9_put_u64(o, 0);
	return 0;
}

static int set_times(int fd, const struct p9_req *r)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	char path[40];

	if (r->sa.valid & P9_SETATTR_ATIME)
		ts[0] = r->sa.valid & P9_SETATTR_ATIME_SET
				? (struct timespec){ (time_t)r->sa.atime_sec,
						     (long)r->sa.atime_nsec }
				: (struct timespec){ 0, UTIME_NOW };
	if (r->sa.valid & P9_SETATTR_MTIME)
		ts[1] = r->sa.valid & P9_SETATTR_MTIME_SET
				? (struct timespec){ (time_t)r->sa.mtime_sec,
						     (long)r->sa.mtime_nsec }
				: (struct timespec){ 0, UTIME_NOW };
	if ((r->sa.valid & P9_SETATTR_ATIME_SET && r->sa.atime_nsec >= 1000000000) ||
	    (r->sa.valid & P9_SETATTR_MTIME_SET && r->sa.mtime_nsec >= 1000000000))
		return -EINVAL;
	proc_path(fd, path, sizeof(path));
	return neg(utimensat(AT_FDCWD, path, ts, 0));
}

/* mapped-xattr's chmod and chown: the attributes change, the host file's
 * owner and mode do not.  A host symlink or special file can carry none. */
static int set_mapped_owner_mode(const struct p9_fs *fs, const struct p9_fid *f,
				 const struct p9_req *r)
{
	uint32_t v = r->sa.valid;
	struct p9_mapped m = { 0 };
	struct stat host, st;
	int rc;

	if (!(v & (P9_SETATTR_MODE | P9_SETATTR_UID | P9_SETATTR_GID)))
		return 0;
	if (fstat(f->fd, &host))
		return -errno;
	if (!S_ISREG(host.st_mode) && !S_ISDIR(host.st_mode))
		return -EOPNOTSUPP;
	rc = fs_stat(fs, f->fd, &st);
	if (rc)
		return rc;
	if (v & P9_SETATTR_MODE) {
		m.mode = (st.st_mode & S_IFMT) | (r->sa.mode & 07777);
		m.has |= P9_MAPPED_MODE;
	}
	if (v & P9_SETATTR_UID) {
		m.uid = r->sa.uid;
		m.has |= P9_MAPPED_UID;
	}
	if (v & P9_SETATTR_GID) {
		m.gid = r->sa.gid;
		m.has |= P9_MAPPED_GID;
	}
	return p9_mapped_write(f->fd, &m);
}

/* Tsetattr's changes (r->sa); replies type (Rsetattr, or .u's Rwstat). */
static int setattr_as(struct p9_fs *fs, const struct p9_req *r, uint8_t type,
		      struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	uint32_t v = r->sa.valid;
	char path[40];
	int rc = 0;

	if (!f)
		return -EBADF;
	if (fs->cfg.ro)
		return -EROFS;
	proc_path(f->fd, path, sizeof(path));
	/* A symlink's own mode, size and times have no safe call on an O_PATH
	 * descriptor (the /proc route would follow it). */
	if (f->is_link && (v & (P9_SETATTR_MODE | P9_SETATTR_SIZE |
				P9_SETATTR_ATIME | P9_SETATTR_MTIME)))
		return -EOPNOTSUPP;
	if (mapped(fs))
		rc = set_mapped_owner_mode(fs, f, r);
	else if (v & P9_SETATTR_MODE)
		rc = neg(chmod(path, r->sa.mode & 07777));
	if (!rc && !mapped(fs) && (v & (P9_SETATTR_UID | P9_SETATTR_GID)))
		rc = neg(fchownat(f->fd, "", v & P9_SETATTR_UID ? r->sa.uid : (uid_t)-1,
				  v & P9_SETATTR_GID ? r->sa.gid : (gid_t)-1,
				  AT_EMPTY_PATH));
	if (!rc && (v & P9_SETATTR_SIZE)) {
		if (r->sa.size > INT64_MAX)
			return -EFBIG;
		rc = f->is_dir ? -EISDIR : neg(truncate(path, (off_t)r->sa.size));
	}
	if (!rc && (v & (P9_SETATTR_ATIME | P9_SETATTR_MTIME)))
		rc = set_times(f->fd, r);
	if (rc)
		return rc;
	p9_begin(o, type, r->tag);
	return 0;
}

static int op_setattr(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	return setattr_as(fs, r, P9_RSETATTR, o);
}

static int op_statfs(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	struct statfs sf;

	if (!f)
		return -EBADF;
	if (fstatfs(f->fd, &sf))
		return -errno;
	p9_begin(o, P9_RSTATFS, r->tag);
	p9_put_u32(o, (uint32_t)sf.f_type);
	p9_put_u32(o, (uint32_t)sf.f_bsize);
	p9_put_u64(o, sf.f_blocks);
	p9_put_u64(o, sf.f_bfree);
	p9_put_u64(o, sf.f_bavail);
	p9_put_u64(o, sf.f_files);
	p9_put_u64(o, sf.f_ffree);
	p9_put_u64(o, (uint64_t)(uint32_t)sf.f_fsid.__val[0] |
			      (uint64_t)(uint32_t)sf.f_fsid.__val[1] << 32);
	p9_put_u32(o, (uint32_t)sf.f_namelen);
	return 0;
}

/* --- open, create --- */

/* The open(2) flags pvisor passes on: access mode and a few harmless ones. */
static int open_flags(uint32_t f)
{
	return (int)(f & (P9_O_ACCMODE | P9_O_TRUNC | P9_O_APPEND | O_DSYNC | O_SYNC |
			  O_NOATIME)) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
}

static bool wants_write(uint32_t f)
{
	return (f & P9_O_ACCMODE) != P9_O_RDONLY || (f & P9_O_TRUNC);
}

static int reply_open(struct p9_fs *fs, const struct p9_req *r,
		      struct p9_out *o, uint8_t type, int fd)
{
	struct p9_qid q;
	int rc = fd_qid(fs, fd, &q);

	if (rc)
		return rc;
	p9_begin(o, type, r->tag);
	p9_put_qid(o, &q);
	p9_put_u32(o, 0); /* iounit: the client uses msize - P9_IOHDR_SIZE */
	return 0;
}

/* Opens fid r->fid with .L flags; replies type (Rlopen, or .u's Ropen). */
static int open_fid_as(struct p9_fs *fs, const struct p9_req *r, uint32_t flags,
		       uint8_t type, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	struct stat st;
	char path[40];
	int fd, rc;

	if (!f)
		return -EBADF;
	if (f->ofd >= 0)
		return -EBUSY;
	rc = fs_stat(fs, f->fd, &st);
	if (rc)
		return rc;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	/* Devices, FIFOs and sockets stay closed: opening one would reach a
	 * host device as pvisor's user, or block the device thread. */
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -EPERM;
	if (wants_write(flags) && fs->cfg.ro)
		return -EROFS;
	if (S_ISDIR(st.st_mode) && wants_write(flags))
		return -EISDIR;
	proc_path(f->fd, path, sizeof(path));
	fd = open(path, S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY | O_CLOEXEC
					    : open_flags(flags));
	if (fd < 0)
		return -errno;
	f->ofd = fd;
	f->dir_offset_u = 0;
	return reply_open(fs, r, o, type, fd);
}

static int op_lopen(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	return open_fid_as(fs, r, r->flags, P9_RLOPEN, o);
}

/* Gives a new file the guest's mode, whatever pvisor's umask; in
 * mapped-xattr, its owner (the fid's user), group, mode with type, and
 * device number, as attributes. */
static int set_new_mode(const struct p9_fs *fs, int fd, uint32_t uid,
			uint32_t mode, uint32_t gid, uint64_t rdev)
{
	char path[40];
	struct p9_mapped m = {
		.has = P9_MAPPED_UID | P9_MAPPED_GID | P9_MAPPED_MODE |
		       (rdev ? P9_MAPPED_RDEV : 0),
		.uid = uid, .gid = gid, .mode = mode, .rdev = rdev,
	};

	if (mapped(fs))
		return p9_mapped_write(fd, &m);
	proc_path(fd, path, sizeof(path));
	return neg(chmod(path, mode & 07777));
}

/* Creates r->name in directory fid r->fid, opened with .L flags, the fid
 * then naming it; replies type (Rlcreate, or .u's Rcreate). */
static int create_as(struct p9_fs *fs, const struct p9_req *r, uint32_t flags,
		     uint32_t mode, uint32_t gid, uint8_t type, struct p9_out *o)
{
	int rc = 0, fd, pfd;
	struct p9_fid *f = dir_fid(fs, r->fid, &rc);

	if (!f)
		return rc;
	if (fs->cfg.ro)
		return -EROFS;
	if (f->ofd >= 0)
		return -EBUSY;
	fd = sys_openat2(f->fd, r->name,
			 (uint64_t)open_flags(flags) | O_CREAT | O_EXCL | O_NOFOLLOW,
			 mapped(fs) ? P9_MAPPED_FILE_MODE : mode & 07777, RESOLVE_SAFE);
	if (fd < 0)
		return fd;
	rc = set_new_mode(fs, fd, f->uid, S_IFREG | (mode & 07777), gid, 0);
	pfd = rc ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (pfd < 0) {
		rc = rc ? rc : -errno;
		close(fd);
		return rc;
	}
	/* The fid now names the new file, opened. */
	rc = fid_set_fd(fs, f, pfd);
	if (rc) {
		close(fd);
		return rc;
	}
	f->ofd = fd;
	return reply_open(fs, r, o, type, fd);
}

static int op_lcreate(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	return create_as(fs, r, r->flags, r->mode, r->gid, P9_RLCREATE, o);
}

/* Replies with the qid of name in dirfd (a new file). */
static int reply_new(struct p9_fs *fs, int dirfd, const char *name,
		     const struct p9_req *r, struct p9_out *o, uint8_t type)
{
	struct p9_qid q;
	int fd = lookup(dirfd, name, 0), rc;

	if (fd < 0)
		return fd;
	rc = fd_qid(fs, fd, &q);
	close(fd);
	if (rc)
		return rc;
	p9_begin(o, type, r->tag);
	p9_put_qid(o, &q);
	return 0;
}

/* A new directory name in d, with the guest's mode (and gid, mapped). */
static int make_dir(struct p9_fs *fs, struct p9_fid *d, const char *name,
		    uint32_t mode, uint32_t gid)
{
	int rc = 0, fd;

	if (fs->cfg.ro)
		return -EROFS;
	if (mkdirat(d->fd, name, mapped(fs) ? P9_MAPPED_DIR_MODE : mode & 07777))
		return -errno;
	fd = lookup(d->fd, name, O_DIRECTORY);
	if (fd >= 0) { /* a name swapped meanwhile is not chmod'ed */
		rc = set_new_mode(fs, fd, d->uid, S_IFDIR | (mode & 07777), gid, 0);
		close(fd);
	}
	return rc;
}

static int op_mkdir(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *d = dir_fid(fs, r->fid, &rc);

	if (!d)
		return rc;
	rc = make_dir(fs, d, r->name, r->mode, r->gid);
	return rc ? rc : reply_new(fs, d->fd, r->name, r, o, P9_RMKDIR);
}

/* Regular files on the host only: a device node would open a host device,
 * a FIFO would block the server (docs/9pfs.md).  In mapped-xattr every
 * type but a directory or symlink is a regular host file with the type in
 * its mode attribute; in passthrough, only a regular file is made. */
static int op_mknod(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	uint32_t mode = (r->mode & S_IFMT ? r->mode : S_IFREG | r->mode) & (S_IFMT | 07777);
	uint64_t rdev = S_ISCHR(mode) || S_ISBLK(mode) ? makedev(r->major, r->minor) : 0;
	int rc = 0, fd;
	struct p9_fid *d = dir_fid(fs, r->fid, &rc);

	if (!d)
		return rc;
	if (fs->cfg.ro)
		return -EROFS;
	if (mapped(fs) ? !p9_mapped_mknod_type_ok(mode) : !S_ISREG(mode))
		return -EPERM;
	fd = sys_openat2(d->fd, r->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					       O_CLOEXEC,
			 mapped(fs) ? P9_MAPPED_FILE_MODE : mode & 07777, RESOLVE_SAFE);
	if (fd < 0)
		return fd;
	rc = set_new_mode(fs, fd, d->uid, mode, r->gid, rdev);
	close(fd);
	return rc ? rc : reply_new(fs, d->fd, r->name, r, o, P9_RMKNOD);
}

/* mapped-xattr's symlink: a regular host file holding the target, mode
 * S_IFLNK | 0777 in its attribute (so the host never follows it either). */
static int mapped_symlink(const struct p9_fs *fs, const struct p9_fid *d,
			  const struct p9_req *r)
{
	size_t len = strlen(r->str);
	int fd = sys_openat2(d->fd, r->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
						     O_CLOEXEC,
			     P9_MAPPED_FILE_MODE, RESOLVE_SAFE);
	ssize_t n;
	int rc;

	if (fd < 0)
		return fd;
	n = write(fd, r->str, len);
	rc = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	if (!rc)
		rc = set_new_mode(fs, fd, d->uid, S_IFLNK | 0777, r->gid, 0);
	close(fd);
	if (rc)
		unlinkat(d->fd, r->name, 0);
	return rc;
}

static int op_symlink(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *d = dir_fid(fs, r->fid, &rc);

	if (!d)
		return rc;
	if (fs->cfg.ro)
		return -EROFS;
	/* The target is stored, never resolved by pvisor. */
	if (mapped(fs))
		rc = mapped_symlink(fs, d, r);
	else if (symlinkat(r->str, d->fd, r->name))
		rc = -errno;
	return rc ? rc : reply_new(fs, d->fd, r->name, r, o, P9_RSYMLINK);
}

/* A symlink's target: a host symlink's, or a mapped one's content. */
static ssize_t read_link(int fd, char *buf, size_t len)
{
	struct stat st;
	char path[40];
	ssize_t n;
	int ofd;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISLNK(st.st_mode))
		return neg((int)readlinkat(fd, "", buf, len));
	proc_path(fd, path, sizeof(path));
	ofd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (ofd < 0)
		return -errno;
	n = pread(ofd, buf, len, 0);
	if (n < 0)
		n = -errno;
	close(ofd);
	return n;
}

static int op_readlink(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	char buf[P9_TARGET_MAX + 1];
	ssize_t n;

	if (!f)
		return -EBADF;
	if (!f->is_link)
		return -EINVAL;
	n = read_link(f->fd, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if ((size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	p9_begin(o, P9_RREADLINK, r->tag);
	p9_put_str(o, buf, (size_t)n);
	return 0;
}

static int op_link(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *d = dir_fid(fs, r->newfid, &rc);
	struct p9_fid *f = file_fid(fs, r->fid);
	char path[40];

	if (!d)
		return rc;
	if (!f)
		return -EBADF;
	if (fs->cfg.ro)
		return -EROFS;
	if (f->is_dir)
		return -EPERM;
	/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link
	 * with AT_SYMLINK_FOLLOW links the inode the fid holds. */
	proc_path(f->fd, path, sizeof(path));
	if (linkat(AT_FDCWD, path, d->fd, r->name, AT_SYMLINK_FOLLOW))
		return -errno;
	p9_begin(o, P9_RLINK, r->tag);
	return 0;
}

static int op_renameat(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *od = dir_fid(fs, r->fid, &rc);
	struct p9_fid *nd = od ? dir_fid(fs, r->newfid, &rc) : NULL;

	if (!nd)
		return rc;
	if (fs->cfg.ro)
		return -EROFS;
	if (renameat(od->fd, r->name, nd->fd, r->name2))
		return -errno;
	p9_begin(o, P9_RRENAMEAT, r->tag);
	return 0;
}

static int op_unlinkat(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *d = dir_fid(fs, r->fid, &rc);

	if (!d)
		return rc;
	if (fs->cfg.ro)
		return -EROFS;
	if (r->flags & ~P9_AT_REMOVEDIR)
		return -EINVAL;
	if (unlinkat(d->fd, r->name, r->flags & P9_AT_REMOVEDIR ? AT_REMOVEDIR : 0))
		return -errno;
	p9_begin(o, P9_RUNLINKAT, r->tag);
	return 0;
}

/* --- extended attributes (docs/9pfs.md, "Extended attributes") --- */

#define XATTR_USER "user."
#define XATTR_PVISOR "user.pvisor." /* mapped-xattr's own (p9_mapped.c) */

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Whether the guest may see and set attribute name: user.* only, and in
 * mapped-xattr not pvisor's own (as QEMU hides its user.virtfs.*). */
static bool xattr_visible(const struct p9_fs *fs, const char *name)
{
	return has_prefix(name, XATTR_USER) && !(mapped(fs) && has_prefix(name, XATTR_PVISOR));
}

/* 0 if the guest may get (set false) or set/remove name, else its errno:
 * another namespace is not served (EOPNOTSUPP), a hidden name is absent to
 * read (ENODATA) and refused to write (EACCES), as QEMU answers. */
static int xattr_name_ok(const struct p9_fs *fs, const char *name, bool set)
{
	if (!has_prefix(name, XATTR_USER))
		return -EOPNOTSUPP;
	if (!xattr_visible(fs, name))
		return set ? -EACCES : -ENODATA;
	return 0;
}

/* Whether the file (as the guest sees it) may carry user.* attributes:
 * Linux allows them on regular files and directories only, so a guest's
 * symlink, device or FIFO (a regular host file in mapped-xattr) has none
 * and gets none; its host file is not touched. */
static int xattr_capable(const struct p9_fs *fs, const struct p9_fid *f, bool *capable)
{
	struct stat st;
	int rc = fs_stat(fs, f->fd, &st);

	*capable = !rc && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
	return rc;
}

/* Keeps the names of list[0..len) the guest may see, in place; the new
 * length. */
static size_t xattr_filter(const struct p9_fs *fs, char *list, size_t len)
{
	size_t out = 0;

	for (size_t at = 0; at < len;) {
		size_t n = strnlen(list + at, len - at);

		if (at + n < len && xattr_visible(fs, list + at)) {
			memmove(list + out, list + at, n + 1);
			out += n + 1;
		}
		at += n + 1;
	}
	return out;
}

/* The value of name, or the list of names (name ""), of f's file into
 * fs->xbuf; its size or -errno. */
static ssize_t xattr_fetch(struct p9_fs *fs, const struct p9_fid *f, const char *name)
{
	char path[40];
	bool capable;
	ssize_t n;
	int rc = xattr_capable(fs, f, &capable);

	if (rc)
		return rc;
	if (!capable)
		return name[0] ? -ENODATA : 0;
	proc_path(f->fd, path, sizeof(path));
	n = name[0] ? getxattr(path, name, fs->xbuf, P9_XATTR_SIZE_MAX)
		    : listxattr(path, (char *)fs->xbuf, P9_XATTR_SIZE_MAX);
	if (n < 0)
		return errno == ERANGE ? -E2BIG : -errno; /* larger than Linux allows */
	return name[0] ? n : (ssize_t)xattr_filter(fs, (char *)fs->xbuf, (size_t)n);
}

/* A new xattr buffer of size bytes, if the share's budget has room. */
static struct p9_xattr *xattr_new(struct p9_fs *fs, uint32_t size, int *rc)
{
	struct p9_xattr *x;

	if (fs->xattr_bytes + xattr_cost(size) > P9_FS_XATTR_BYTES) {
		*rc = -ENOMEM;
		return NULL;
	}
	x = calloc(1, xattr_cost(size));
	if (!x) {
		*rc = -ENOMEM;
		return NULL;
	}
	x->size = size;
	fs->xattr_bytes += xattr_cost(size);
	return x;
}

/* Txattrwalk fid newfid name: newfid holds the value of name (or, for "",
 * the list of names, NUL-terminated each), read with Tread. */
static int op_xattrwalk(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid), *nf;
	struct p9_xattr *x;
	ssize_t n;
	int rc = 0;

	if (!f || p9_fid_get(&fs->fids, r->newfid))
		return -EBADF; /* unknown (or an xattr fid); newfid in use */
	if (r->str[0] && (rc = xattr_name_ok(fs, r->str, false)))
		return rc;
	n = xattr_fetch(fs, f, r->str);
	if (n < 0)
		return (int)n;
	x = xattr_new(fs, (uint32_t)n, &rc);
	if (!x)
		return rc;
	memcpy(x->value, fs->xbuf, (size_t)n);
	nf = new_fid(fs, r->newfid, &rc);
	if (!nf) {
		fs->xattr_bytes -= xattr_cost(x->size);
		free(x);
		return rc;
	}
	nf->xa = x;
	p9_begin(o, P9_RXATTRWALK, r->tag);
	p9_put_u64(o, (uint64_t)n);
	return 0;
}

/* Txattrcreate fid name attr_size flags: fid becomes an xattr fid whose
 * value Twrite fills; Tclunk sets it (attr_size 0: removes name, as
 * Linux's v9fs removes an attribute). */
static int op_xattrcreate(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	struct p9_xattr *x;
	bool capable;
	int rc;

	if (!f)
		return -EBADF;
	if (fs->cfg.ro)
		return -EROFS;
	if (r->flags & ~(P9_XATTR_CREATE | P9_XATTR_REPLACE))
		return -EINVAL;
	if (r->attr_size > P9_XATTR_SIZE_MAX)
		return -E2BIG;
	rc = xattr_name_ok(fs, r->str, true);
	if (rc)
		return rc;
	if (f->ofd >= 0)
		return -EINVAL; /* an open fid (QEMU: the same); Linux sends a clone */
	rc = xattr_capable(fs, f, &capable);
	if (rc)
		return rc;
	if (!capable)
		return -EPERM; /* Linux's answer for user.* on a symlink or device */
	x = xattr_new(fs, (uint32_t)r->attr_size, &rc);
	if (!x)
		return rc;
	x->create = true;
	x->flags = (r->flags & P9_XATTR_CREATE ? XATTR_CREATE : 0) |
		   (r->flags & P9_XATTR_REPLACE ? XATTR_REPLACE : 0);
	snprintf(x->name, sizeof(x->name), "%s", r->str); /* <= P9_XATTR_NAME_MAX: p9_parse */
	f->xa = x;
	p9_begin(o, P9_RXATTRCREATE, r->tag);
	return 0;
}

/* Tread of Txattrwalk's fid, Twrite of Txattrcreate's (under the lock).
 * Writes fill the value from 0 on without a hole; one past attr_size is
 * ENOSPC (QEMU's answer past the end). */
static int xattr_io(struct p9_fs *fs, struct p9_fid *f, const struct p9_req *r,
		    struct p9_out *o)
{
	struct p9_xattr *x = f->xa;
	uint32_t n, max = fs->msize - P9_HDR_SIZE - 4;
	uint8_t *p;

	if (r->type == P9_TREAD) {
		if (x->create)
			return -EBADF;
		n = r->offset >= x->size ? 0 : x->size - (uint32_t)r->offset;
		n = n < r->count ? n : r->count;
		n = n < max ? n : max;
		p9_begin(o, P9_RREAD, r->tag);
		p9_put_u32(o, n);
		p = p9_put_space(o, n);
		if (p && n)
			memcpy(p, x->value + r->offset, n);
		return 0;
	}
	if (!x->create)
		return -EBADF;
	if (r->offset > x->filled)
		return -EINVAL; /* a hole in the value */
	if (r->count > x->size - (uint32_t)r->offset)
		return -ENOSPC;
	if (r->count)
		memcpy(x->value + r->offset, r->data, r->count);
	if ((uint32_t)r->offset + r->count > x->filled)
		x->filled = (uint32_t)r->offset + r->count;
	p9_begin(o, P9_RWRITE, r->tag);
	p9_put_u32(o, r->count);
	return 0;
}

/* Tclunk of Txattrcreate's fid: setxattr of the whole value, or
 * removexattr for attr_size 0.  A value not written to its end sets
 * nothing: EINVAL (as QEMU). */
static int xattr_commit(const struct p9_fid *f)
{
	const struct p9_xattr *x = f->xa;
	char path[40];

	if (x->filled != x->size)
		return -EINVAL;
	proc_path(f->fd, path, sizeof(path));
	if (!x->size)
		return neg(removexattr(path, x->name));
	return neg(setxattr(path, x->name, x->value, x->size, x->flags));
}

/* --- data --- */

static struct p9_fid *open_fid(struct p9_fs *fs, uint32_t id, int *rc)
{
	struct p9_fid *f = file_fid(fs, id);

	if (!f || f->ofd < 0) {
		*rc = -EBADF;
		return NULL;
	}
	return f;
}

/* A dup of the open descriptor of fid, taken under the lock, for a data
 * call made outside it; -errno if the fid is not open (or is a directory
 * and !dir_ok).  A Tread or Twrite (o set) of an xattr fid is answered
 * right here, under the lock: *done, and its result returned. */
static int io_fd(struct p9_fs *fs, const struct p9_req *r, bool dir_ok,
		 struct p9_out *o, bool *done)
{
	struct p9_fid *f;
	int fd;

	pthread_mutex_lock(&fs->lock);
	f = p9_fid_get(&fs->fids, r->fid);
	if (f && f->xa && o) {
		*done = true;
		fd = xattr_io(fs, f, r, o);
	} else if (!f || f->ofd < 0)
		fd = -EBADF;
	else if (f->is_dir && !dir_ok)
		fd = -EISDIR;
	else
		fd = neg(fcntl(f->ofd, F_DUPFD_CLOEXEC, 0));
	pthread_mutex_unlock(&fs->lock);
	return fd;
}

static int op_read(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	uint32_t count = r->count, max = p9_fs_msize(fs) - P9_HDR_SIZE - 4;
	bool done = false;
	int fd = io_fd(fs, r, false, o, &done);
	uint8_t *p;
	ssize_t n;

	if (fd < 0 || done)
		return fd;
	if (r->offset > INT64_MAX) {
		close(fd);
		return -EINVAL;
	}
	if (count > max)
		count = max;
	p9_begin(o, P9_RREAD, r->tag);
	p9_put_u32(o, 0);
	p = p9_put_space(o, count);
	/* Straight into the response, which the transport copies to its ring. */
	n = p ? pread(fd, p, count, (off_t)r->offset) : -1;
	if (n < 0) {
		int rc = p ? -errno : -EMSGSIZE;

		close(fd);
		return rc;
	}
	close(fd);
	o->len -= count - (uint32_t)n;
	o->buf[P9_HDR_SIZE] = (uint8_t)n; /* the count field */
	o->buf[P9_HDR_SIZE + 1] = (uint8_t)(n >> 8);
	o->buf[P9_HDR_SIZE + 2] = (uint8_t)(n >> 16);
	o->buf[P9_HDR_SIZE + 3] = (uint8_t)(n >> 24);
	return 0;
}

static int op_write(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	bool done = false;
	int fd = io_fd(fs, r, true, o, &done);
	ssize_t n;

	if (fd < 0 || done)
		return fd;
	if (fs->cfg.ro || r->offset > INT64_MAX) {
		close(fd);
		return fs->cfg.ro ? -EROFS : -EINVAL;
	}
	n = pwrite(fd, r->data, r->count, (off_t)r->offset);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	p9_begin(o, P9_RWRITE, r->tag);
	p9_put_u32(o, (uint32_t)n);
	return 0;
}

/* An entry's type as the guest sees it: in mapped-xattr a regular host file
 * may stand for a symlink or a device (one lookup and attribute read per
 * such entry; `find -type l` believes d_type). */
static uint8_t entry_type(const struct p9_fs *fs, int dirfd, const struct dirent64 *de)
{
	struct stat st;
	uint8_t type = de->d_type;
	int fd;

	if (!mapped(fs) || (type != DT_REG && type != DT_UNKNOWN) ||
	    !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
		return type;
	fd = lookup(dirfd, de->d_name, 0);
	if (fd < 0)
		return type;
	if (!fs_stat(fs, fd, &st))
		type = (uint8_t)((st.st_mode & S_IFMT) >> 12); /* IFTODT */
	close(fd);
	return type;
}

/* Readdir is stateless: offset is the d_off of the last entry returned. */
static int op_readdir(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *f = open_fid(fs, r->fid, &rc);
	uint32_t count = r->count, max = fs->msize - P9_HDR_SIZE - 4, used = 0;
	uint32_t count_at;
	struct stat dir_st;
	long n;

	if (!f)
		return rc;
	if (!f->is_dir)
		return -ENOTDIR;
	if (fstat(f->ofd, &dir_st))
		return -errno;
	if (count > max)
		count = max;
	if (r->offset > INT64_MAX || lseek(f->ofd, (off_t)r->offset, SEEK_SET) < 0)
		return r->offset > INT64_MAX ? -EINVAL : -errno;
	n = syscall(SYS_getdents64, f->ofd, fs->scratch, count);
	if (n < 0)
		return -errno;
	p9_begin(o, P9_RREADDIR, r->tag);
	count_at = o->len;
	p9_put_u32(o, 0);
	for (long pos = 0; pos < n;) {
		struct dirent64 *de = (struct dirent64 *)(void *)(fs->scratch + pos);
		size_t nlen = strlen(de->d_name);
		uint32_t need = P9_QID_SIZE + 8 + 1 + 2 + (uint32_t)nlen;
		struct p9_qid q;
		uint8_t dtype;

		if (used + need > count)
			break; /* the client asks again from the last offset */
		dtype = entry_type(fs, f->fd, de);
		q.type = dtype == DT_DIR ? P9_QTDIR : dtype == DT_LNK ? P9_QTSYMLINK : P9_QTFILE;
		/* An entry's d_ino is of the directory's filesystem (a mount
		 * point's too: the covered directory), as on the host. */
		rc = p9_qid_path(&fs->qids, dir_st.st_dev, de->d_ino, &q.path);
		if (rc)
			return rc;
		p9_put_qid(o, &q);
		p9_put_u64(o, (uint64_t)de->d_off);
		p9_put_u8(o, dtype);
		p9_put_str(o, de->d_name, nlen);
		used += need;
		pos += de->d_reclen;
	}
	for (int i = 0; i < 4; i++)
		o->buf[count_at + i] = (uint8_t)(used >> (8 * i));
	return 0;
}

static int op_fsync(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int fd = io_fd(fs, r, true, NULL, NULL), rc;

	if (fd < 0)
		return fd;
	rc = neg(r->datasync ? fdatasync(fd) : fsync(fd));
	close(fd);
	if (rc)
		return rc;
	p9_begin(o, P9_RFSYNC, r->tag);
	return 0;
}

static int lock_range(const struct p9_req *r, struct flock *fl)
{
	short type = r->lk.type == P9_LOCK_TYPE_RDLCK   ? F_RDLCK
		     : r->lk.type == P9_LOCK_TYPE_WRLCK ? F_WRLCK
		     : r->lk.type == P9_LOCK_TYPE_UNLCK ? F_UNLCK : -1;

	if (type < 0 || r->lk.start > INT64_MAX || r->lk.length > INT64_MAX ||
	    r->lk.start + r->lk.length > INT64_MAX)
		return -EINVAL;
	*fl = (struct flock){ .l_type = type, .l_whence = SEEK_SET,
			      .l_start = (off_t)r->lk.start,
			      .l_len = (off_t)r->lk.length };
	return 0;
}

/* Open-file-description locks, one description per fid; never blocks the
 * server: a conflicting blocking lock answers BLOCKED and the client
 * retries (as Linux's v9fs does). */
static int op_lock(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *f = open_fid(fs, r->fid, &rc);
	struct flock fl;
	uint8_t status = P9_LOCK_SUCCESS;

	if (!f)
		return rc;
	rc = lock_range(r, &fl);
	if (rc)
		return rc;
	if (fcntl(f->ofd, F_OFD_SETLK, &fl)) {
		if (errno != EAGAIN && errno != EACCES)
			return -errno;
		status = P9_LOCK_BLOCKED;
	}
	p9_begin(o, P9_RLOCK, r->tag);
	p9_put_u8(o, status);
	return 0;
}

static int op_getlock(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc = 0;
	struct p9_fid *f = open_fid(fs, r->fid, &rc);
	struct flock fl;
	uint8_t type;

	if (!f)
		return rc;
	rc = lock_range(r, &fl);
	if (rc)
		return rc;
	if (fcntl(f->ofd, F_OFD_GETLK, &fl))
		return -errno;
	type = fl.l_type == F_RDLCK   ? P9_LOCK_TYPE_RDLCK
	       : fl.l_type == F_WRLCK ? P9_LOCK_TYPE_WRLCK : P9_LOCK_TYPE_UNLCK;
	p9_begin(o, P9_RGETLOCK, r->tag);
	p9_put_u8(o, type);
	p9_put_u64(o, (uint64_t)fl.l_start);
	p9_put_u64(o, (uint64_t)fl.l_len);
	p9_put_u32(o, r->lk.proc_id);
	p9_put_str(o, r->str, strlen(r->str));
	return 0;
}

/* Tclunk; Txattrcreate's fid sets its attribute first, and is clunked
 * whatever that answers (clunk(5)). */
static int op_clunk(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = p9_fid_get(&fs->fids, r->fid);
	int rc;

	if (!f)
		return -EBADF;
	rc = f->xa && f->xa->create ? xattr_commit(f) : 0;
	fid_close(fs, f);
	if (rc)
		return rc;
	p9_begin(o, P9_RCLUNK, r->tag);
	return 0;
}

/*
 * The directory that holds fid f's file now, as an O_PATH descriptor, and
 * the file's name in it (Tremove and Trename name no directory).  The
 * server keeps no names (they go stale, descriptors do not): the kernel's
 * path of f's descriptor, which follows renames, finds them.  That path
 * only finds: the directory is opened with openat2 beneath the share
 * whatever the path says, and the name must still be f's file (device and
 * inode) when looked at.  -ENOENT if the file was unlinked or moved out of
 * the share, -EBUSY for the share's root.
 */
static int parent_of(struct p9_fs *fs, const struct p9_fid *f, char *name, size_t len)
{
	char link[40], root[PATH_MAX], file[PATH_MAX], *rel, *slash;
	struct stat fst, st;
	ssize_t rn, fn;
	size_t rl;
	int dfd;

	if (fstat(f->fd, &fst))
		return -errno;
	if (fst.st_dev == fs->root_st.st_dev && fst.st_ino == fs->root_st.st_ino)
		return -EBUSY;
	proc_path(fs->root_fd, link, sizeof(link));
	rn = readlinkat(AT_FDCWD, link, root, sizeof(root) - 1);
	proc_path(f->fd, link, sizeof(link));
	fn = readlinkat(AT_FDCWD, link, file, sizeof(file) - 1);
	if (rn <= 0 || fn <= 0)
		return -ENOENT;
	root[rn] = file[fn] = '\0';
	rl = strcmp(root, "/") ? (size_t)rn : 0;
	if (fst.st_nlink == 0 || strncmp(file, root, rl) || file[rl] != '/')
		return -ENOENT; /* unlinked, or outside the share now */
	rel = file + rl + 1;
	slash = strrchr(rel, '/');
	if (slash)
		*slash = '\0';
	dfd = sys_openat2(fs->root_fd, slash ? rel : ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0,
			  RESOLVE_SAFE);
	if (dfd < 0)
		return -ENOENT;
	rel = slash ? slash + 1 : rel;
	if (strlen(rel) >= len || fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) ||
	    st.st_dev != fst.st_dev || st.st_ino != fst.st_ino) {
		close(dfd);
		return -ENOENT;
	}
	memcpy(name, rel, strlen(rel) + 1);
	return dfd;
}

/* Tremove: the fid's file (an empty directory too) goes, and the fid is
 * clunked whatever the outcome (remove(5)). */
static int op_remove(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = p9_fid_get(&fs->fids, r->fid);
	char name[P9_NAME_MAX + 1];
	int rc = -EROFS, dfd;

	if (!f)
		return -EBADF;
	if (f->xa) {
		fid_close(fs, f); /* clunked (remove(5)), nothing set, no file removed */
		return -EINVAL;
	}
	if (!fs->cfg.ro) {
		dfd = parent_of(fs, f, name, sizeof(name));
		rc = dfd < 0 ? dfd : unlinkat(dfd, name, f->is_dir ? AT_REMOVEDIR : 0) ? -errno : 0;
		if (dfd >= 0)
			close(dfd);
	}
	fid_close(fs, f);
	if (!rc)
		p9_begin(o, P9_RREMOVE, r->tag);
	return rc;
}

/* Trename: the fid's file moves to name in directory fid newfid; the fid
 * goes on naming it. */
static int op_rename(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	char name[P9_NAME_MAX + 1];
	int rc = 0, dfd;
	struct p9_fid *d = f ? dir_fid(fs, r->newfid, &rc) : NULL;

	if (!f)
		return -EBADF;
	if (!d)
		return rc;
	if (fs->cfg.ro)
		return -EROFS;
	dfd = parent_of(fs, f, name, sizeof(name));
	if (dfd < 0)
		return dfd;
	rc = renameat(dfd, name, d->fd, r->name) ? -errno : 0;
	close(dfd);
	if (!rc)
		p9_begin(o, P9_RRENAME, r->tag);
	return rc;
}

/* --- 9P2000.u (docs/9pfs.md, "9P2000.u"): Mini-OS's 9pfront --- */

/* Topen/Tcreate's mode as .L open flags (OEXEC opens for reading). */
static uint32_t flags_of_u(uint32_t mode)
{
	static const uint32_t access[] = { P9_O_RDONLY, P9_O_WRONLY, P9_O_RDWR, P9_O_RDONLY };

	return access[mode & 3] | (mode & P9_OTRUNC ? P9_O_TRUNC : 0);
}

/* Tcreate's perm bits as a mode_t's. */
static uint32_t mode_of_u(uint32_t perm)
{
	return (perm & 0777) | (perm & P9_DMSETUID ? S_ISUID : 0) |
	       (perm & P9_DMSETGID ? S_ISGID : 0) | (perm & P9_DMSETVTX ? S_ISVTX : 0);
}

static int op_open_u(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	if (r->flags & P9_ORCLOSE)
		return -EOPNOTSUPP; /* remove on clunk: as Tremove, not served */
	return open_fid_as(fs, r, flags_of_u(r->flags), P9_ROPEN, o);
}

/* The fid moves to d's new entry name: opened (ofd >= 0) for a directory,
 * only named for a symlink; replies Rcreate. */
static int enter_new_u(struct p9_fs *fs, struct p9_fid *d, const struct p9_req *r,
		       bool dir, struct p9_out *o)
{
	int fd = lookup(d->fd, r->name, dir ? O_DIRECTORY : 0), rc;
	char path[40];

	if (fd < 0)
		return fd;
	rc = fid_set_fd(fs, d, fd);
	if (rc)
		return rc;
	if (dir) {
		proc_path(d->fd, path, sizeof(path));
		d->ofd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d->ofd < 0)
			return -errno;
		d->dir_offset_u = 0;
	}
	return reply_open(fs, r, o, P9_RCREATE, d->fd);
}

/* Tcreate: a regular file (opened), a directory (DMDIR: opened for
 * reading), or a symlink to the extension (DMSYMLINK); hard links, device
 * nodes, FIFOs and sockets are EPERM, as Tmknod's. */
static int op_create_u(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	uint32_t perm = r->mode, mode = mode_of_u(perm);
	int rc = 0;
	struct p9_fid *d = dir_fid(fs, r->fid, &rc);

	if (!d)
		return rc;
	if (perm & (P9_DMLINK | P9_DMDEVICE | P9_DMNAMEDPIPE | P9_DMSOCKET))
		return -EPERM;
	if (r->flags & P9_ORCLOSE)
		return -EOPNOTSUPP;
	if (!(perm & (P9_DMDIR | P9_DMSYMLINK)))
		return create_as(fs, r, flags_of_u(r->flags), mode, d->uid, P9_RCREATE, o);
	if (d->ofd >= 0)
		return -EBUSY;
	if (perm & P9_DMDIR)
		rc = make_dir(fs, d, r->name, mode, d->uid);
	else if (fs->cfg.ro)
		rc = -EROFS;
	else if (!r->str[0])
		rc = -ENOENT; /* a symlink needs its target */
	else if (mapped(fs))
		rc = mapped_symlink(fs, d, r);
	else if (symlinkat(r->str, d->fd, r->name))
		rc = -errno;
	return rc ? rc : enter_new_u(fs, d, r, perm & P9_DMDIR, o);
}

/* The file's name as 9P's stat gives it: its last component now (the
 * descriptor's path, so a rename since the walk shows), "/" for the root. */
static void name_of(const struct p9_fs *fs, int fd, const struct stat *st,
		    char *name, size_t len)
{
	char path[40], target[PATH_MAX];
	const char *slash;
	ssize_t n;

	proc_path(fd, path, sizeof(path));
	n = readlinkat(AT_FDCWD, path, target, sizeof(target) - 1); /* the fs role's call */
	if (n <= 0 || (st->st_dev == fs->root_st.st_dev && st->st_ino == fs->root_st.st_ino)) {
		snprintf(name, len, "/");
		return;
	}
	target[n] = '\0';
	slash = strrchr(target, '/');
	slash = slash ? slash + 1 : target;
	n = (ssize_t)strnlen(slash, len - 1);
	memcpy(name, slash, (size_t)n);
	name[n] = '\0';
}

/* 9P's mode word: the type bits above the permissions. */
static uint32_t dm_mode_of(const struct stat *st)
{
	uint32_t m = st->st_mode & 0777;

	m |= st->st_mode & S_ISUID ? P9_DMSETUID : 0;
	m |= st->st_mode & S_ISGID ? P9_DMSETGID : 0;
	m |= st->st_mode & S_ISVTX ? P9_DMSETVTX : 0;
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR: return m | P9_DMDIR;
	case S_IFLNK: return m | P9_DMSYMLINK;
	case S_IFCHR:
	case S_IFBLK: return m | P9_DMDEVICE;
	case S_IFIFO: return m | P9_DMNAMEDPIPE;
	case S_IFSOCK: return m | P9_DMSOCKET;
	default: return m;
	}
}

static void put_strz(struct p9_out *o, const char *s)
{
	p9_put_str(o, s, strlen(s));
}

/* One 9P2000.u stat structure of the file fd (O_PATH) named name. */
static int put_stat_u(struct p9_fs *fs, struct p9_out *o, int fd, const char *name)
{
	char ext[P9_TARGET_MAX + 1] = "", uid[12], gid[12];
	struct stat st;
	struct p9_qid q;
	uint32_t size;
	int rc = fs_stat(fs, fd, &st);
	ssize_t n;

	if (!rc)
		rc = qid_of(fs, &st, &q);
	if (rc)
		return rc;
	if (S_ISLNK(st.st_mode)) {
		n = read_link(fd, ext, sizeof(ext) - 1);
		ext[n > 0 ? n : 0] = '\0';
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		snprintf(ext, sizeof(ext), "%c %u %u", S_ISCHR(st.st_mode) ? 'c' : 'b',
			 major(st.st_rdev), minor(st.st_rdev));
	}
	snprintf(uid, sizeof(uid), "%u", (unsigned)st.st_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)st.st_gid);
	size = 2 + 4 + P9_QID_SIZE + 4 + 4 + 4 + 8 + 2 + (uint32_t)strlen(name) +
	       2 * (2 + (uint32_t)strlen(uid)) + 2 + (uint32_t)strlen(gid) +
	       2 + (uint32_t)strlen(ext) + 3 * 4;
	p9_put_u16(o, (uint16_t)size);
	p9_put_u16(o, 0); /* type, dev: for kernel devices in Plan 9 */
	p9_put_u32(o, 0);
	p9_put_qid(o, &q);
	p9_put_u32(o, dm_mode_of(&st));
	p9_put_u32(o, (uint32_t)st.st_atime);
	p9_put_u32(o, (uint32_t)st.st_mtime);
	p9_put_u64(o, (uint64_t)st.st_size);
	put_strz(o, name);
	put_strz(o, uid);
	put_strz(o, gid);
	put_strz(o, uid); /* muid: the last writer is not known: the owner */
	put_strz(o, ext);
	p9_put_u32(o, st.st_uid);
	p9_put_u32(o, st.st_gid);
	p9_put_u32(o, st.st_uid);
	return o->overflow ? -ENOBUFS : 0;
}

static int op_stat_u(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	char name[P9_NAME_MAX + 1];
	struct stat st;
	uint32_t at;
	int rc;

	if (!f)
		return -EBADF;
	rc = fs_stat(fs, f->fd, &st);
	if (rc)
		return rc;
	name_of(fs, f->fd, &st, name, sizeof(name));
	p9_begin(o, P9_RSTAT, r->tag);
	at = o->len;
	p9_put_u16(o, 0); /* stat[n]'s n, below */
	rc = put_stat_u(fs, o, f->fd, name);
	if (rc)
		return rc;
	o->buf[at] = (uint8_t)(o->len - at - 2);
	o->buf[at + 1] = (uint8_t)((o->len - at - 2) >> 8);
	return 0;
}

/* Twstat: a new name (in the same directory, as stat(5) allows; an
 * existing one is not replaced), then the attributes as Tsetattr sets
 * them.  The file's type cannot change (EINVAL). */
static int op_wstat_u(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	struct p9_fid *f = file_fid(fs, r->fid);
	char name[P9_NAME_MAX + 1];
	int dfd, rc = 0;

	if (!f)
		return -EBADF;
	if (fs->cfg.ro)
		return -EROFS;
	if (r->mode != ~0u && !(r->mode & P9_DMDIR) != !f->is_dir)
		return -EINVAL;
	if (r->name) {
		dfd = parent_of(fs, f, name, sizeof(name));
		if (dfd < 0)
			return dfd;
		if (strcmp(name, r->name) &&
		    renameat2(dfd, name, dfd, r->name, RENAME_NOREPLACE))
			rc = -errno;
		close(dfd);
		if (rc)
			return rc;
	}
	return setattr_as(fs, r, P9_RWSTAT, o);
}

/* Whether fid is an open directory (a .u Tread of it lists it). */
static bool open_dir_fid(struct p9_fs *fs, uint32_t id)
{
	struct p9_fid *f;
	bool dir;

	pthread_mutex_lock(&fs->lock);
	f = p9_fid_get(&fs->fids, id);
	dir = f && f->ofd >= 0 && f->is_dir;
	pthread_mutex_unlock(&fs->lock);
	return dir;
}

/* Appends the stat of each entry of the open directory f that fits in
 * count bytes; the directory's position stays after the last one sent.
 * The bytes sent, or -errno. */
static long put_dir_stats_u(struct p9_fs *fs, struct p9_fid *f, uint32_t count,
			    struct p9_out *o)
{
	off_t pos = lseek(f->ofd, 0, SEEK_CUR);
	uint32_t start = o->len;
	long n = 0;

	while (pos >= 0 && (n = syscall(SYS_getdents64, f->ofd, fs->scratch, fs->msize)) > 0) {
		for (long at = 0; at < n;) {
			struct dirent64 *de = (struct dirent64 *)(void *)(fs->scratch + at);
			uint32_t before = o->len;
			int fd, rc = 0;

			at += de->d_reclen;
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    (fd = lookup(f->fd, de->d_name, 0)) >= 0) { /* else gone meanwhile */
				rc = put_stat_u(fs, o, fd, de->d_name);
				close(fd);
			}
			if (rc || o->len - start > count) {
				o->len = before;
				o->overflow = false;
				lseek(f->ofd, pos, SEEK_SET); /* this entry comes next */
				return o->len - start ? (long)(o->len - start) : -ENOBUFS;
			}
			pos = de->d_off;
		}
	}
	return n < 0 ? -errno : (long)(o->len - start);
}

/* Tread of a directory in 9P2000.u: stat structures, read in sequence
 * (offset 0 starts over; any other must be where the last read ended). */
static int op_read_dir_u(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	uint32_t count = r->count, max = fs->msize - P9_HDR_SIZE - 4;
	int rc = 0;
	struct p9_fid *f = open_fid(fs, r->fid, &rc);
	long n;

	if (!f || !f->is_dir)
		return f ? -EBADF : rc;
	if (r->offset == 0 && lseek(f->ofd, 0, SEEK_SET) == 0)
		f->dir_offset_u = 0;
	else if (r->offset != f->dir_offset_u)
		return -EINVAL; /* 9P: no seeking in a directory */
	if (count > max)
		count = max;
	p9_begin(o, P9_RREAD, r->tag);
	p9_put_u32(o, 0);
	n = put_dir_stats_u(fs, f, count, o);
	if (n < 0)
		return (int)n;
	f->dir_offset_u += (uint64_t)n;
	o->buf[P9_HDR_SIZE] = (uint8_t)n;
	o->buf[P9_HDR_SIZE + 1] = (uint8_t)(n >> 8);
	o->buf[P9_HDR_SIZE + 2] = (uint8_t)(n >> 16);
	o->buf[P9_HDR_SIZE + 3] = (uint8_t)(n >> 24);
	return 0;
}

/* Everything but the data calls, under the lock. */
static int dispatch_locked(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	if (r->type == P9_TVERSION)
		return op_version(fs, r, o);
	if (!fs->versioned)
		return -EPROTO;
	switch (r->type) {
	case P9_TAUTH: return -EOPNOTSUPP; /* no authentication: attach directly */
	case P9_TATTACH: return op_attach(fs, r, o);
	case P9_TFLUSH:
		/* Nothing to abort here: the transport sends this answer only
		 * after the flushed request's, if that one is in flight
		 * (flush(5); p9back.c). */
		p9_begin(o, P9_RFLUSH, r->tag);
		return 0;
	case P9_TWALK: return op_walk(fs, r, o);
	case P9_TGETATTR: return op_getattr(fs, r, o);
	case P9_TSETATTR: return op_setattr(fs, r, o);
	case P9_TSTATFS: return op_statfs(fs, r, o);
	case P9_TLOPEN: return op_lopen(fs, r, o);
	case P9_TLCREATE: return op_lcreate(fs, r, o);
	case P9_TMKDIR: return op_mkdir(fs, r, o);
	case P9_TMKNOD: return op_mknod(fs, r, o);
	case P9_TSYMLINK: return op_symlink(fs, r, o);
	case P9_TREADLINK: return op_readlink(fs, r, o);
	case P9_TLINK: return op_link(fs, r, o);
	case P9_TRENAMEAT: return op_renameat(fs, r, o);
	case P9_TRENAME: return op_rename(fs, r, o);
	case P9_TUNLINKAT: return op_unlinkat(fs, r, o);
	case P9_TREMOVE: return op_remove(fs, r, o);
	case P9_TREADDIR: return op_readdir(fs, r, o);
	case P9_TLOCK: return op_lock(fs, r, o);
	case P9_TGETLOCK: return op_getlock(fs, r, o);
	case P9_TXATTRWALK: return op_xattrwalk(fs, r, o);
	case P9_TXATTRCREATE: return op_xattrcreate(fs, r, o);
	case P9_TCLUNK: return op_clunk(fs, r, o);
	case P9_TOPEN: return fs->dot_u ? op_open_u(fs, r, o) : -EOPNOTSUPP;
	case P9_TCREATE: return fs->dot_u ? op_create_u(fs, r, o) : -EOPNOTSUPP;
	case P9_TSTAT: return fs->dot_u ? op_stat_u(fs, r, o) : -EOPNOTSUPP;
	case P9_TWSTAT: return fs->dot_u ? op_wstat_u(fs, r, o) : -EOPNOTSUPP;
	case P9_TREAD: return op_read_dir_u(fs, r, o); /* .u, a directory */
	default: return -EOPNOTSUPP;
	}
}

static bool data_call(struct p9_fs *fs, uint8_t type)
{
	return __atomic_load_n(&fs->versioned, __ATOMIC_ACQUIRE) &&
	       (type == P9_TREAD || type == P9_TWRITE || type == P9_TFSYNC);
}

static int dispatch(struct p9_fs *fs, const struct p9_req *r, struct p9_out *o)
{
	int rc;

	switch (data_call(fs, r->type) ? r->type : 0) {
	case P9_TREAD:
		if (!is_dot_u(fs) || !open_dir_fid(fs, r->fid))
			return op_read(fs, r, o);
		break; /* a .u directory listing: under the lock */
	case P9_TWRITE: return op_write(fs, r, o);
	case P9_TFSYNC: return op_fsync(fs, r, o);
	default:
		break;
	}
	pthread_mutex_lock(&fs->lock);
	rc = dispatch_locked(fs, r, o);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

uint32_t p9_fs_request(struct p9_fs *fs, const uint8_t *msg, uint32_t len,
		       uint8_t *out, uint32_t cap)
{
	struct p9_req *r = calloc(1, sizeof(*r)); /* ~10 KiB of strings: not the stack */
	struct p9_out o = { out, cap, 0, false };
	int rc = r ? p9_parse(msg, len, r) : -ENOMEM;
	uint16_t tag = r ? r->tag : P9_NOTAG;
	int n;

	if (rc == 0)
		rc = dispatch(fs, r, &o);
	free(r);
	if (rc == 0) {
		if (o.len > p9_fs_msize(fs))
			o.overflow = true;
		n = p9_end(&o);
		if (n >= 0)
			return (uint32_t)n;
		rc = -ENOBUFS; /* an answer larger than msize (a long name) */
	}
	n = is_dot_u(fs) ? p9_rerror_u(&o, tag, (uint32_t)-rc)
			 : p9_rlerror(&o, tag, (uint32_t)-rc);
	return n < 0 ? 0 : (uint32_t)n;
}

void p9_fs_reset(struct p9_fs *fs, uint32_t max_msize)
{
	pthread_mutex_lock(&fs->lock);
	fids_clear(fs);
	__atomic_store_n(&fs->versioned, false, __ATOMIC_RELEASE);
	fs->limit = fs->cfg.max_msize;
	if (max_msize >= P9_FS_MIN_MSIZE && max_msize < fs->limit)
		fs->limit = max_msize;
	__atomic_store_n(&fs->msize, fs->limit, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fs->lock);
}

uint32_t p9_fs_msize(const struct p9_fs *fs)
{
	return __atomic_load_n(&fs->msize, __ATOMIC_ACQUIRE);
}

unsigned p9_fs_nr_fids(struct p9_fs *fs)
{
	unsigned n;

	pthread_mutex_lock(&fs->lock);
	n = fs->fids.nr;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

int p9_fs_open(const struct p9_fs_config *cfg, struct p9_fs **out, char *err,
	       size_t err_len)
{
	struct p9_fs *fs;
	int rc;

	*out = NULL;
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		snprintf(err, err_len, "share %s: out of memory", cfg->root);
		return -ENOMEM;
	}
	fs->cfg = *cfg;
	if (!fs->cfg.max_fids)
		fs->cfg.max_fids = P9_FS_MAX_FIDS;
	if (fs->cfg.max_msize < P9_FS_MIN_MSIZE)
		fs->cfg.max_msize = P9_FS_MIN_MSIZE;
	fs->msize = fs->limit = fs->cfg.max_msize;
	fs->root_fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root_fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "share %s: %s", cfg->root,
			 errno == ENOTDIR ? "not a directory" : strerror(errno));
		free(fs);
		return rc;
	}
	if (fstat(fs->root_fd, &fs->root_st)) {
		rc = -errno;
		snprintf(err, err_len, "share %s: %s", cfg->root, strerror(errno));
		goto fail;
	}
	p9_qid_map_init(&fs->qids, fs->root_st.st_dev);
	/* Containment rests on openat2 (Linux >= 5.6): no fallback. */
	rc = sys_openat2(fs->root_fd, ".", O_PATH | O_CLOEXEC, 0, RESOLVE_SAFE);
	if (rc < 0) {
		snprintf(err, err_len, "share %s: openat2: %s (pvisor needs Linux >= 5.6 "
			 "to serve a directory)", cfg->root, strerror(-rc));
		goto fail;
	}
	close(rc);
	if (mapped(fs) && (rc = p9_mapped_probe(fs->root_fd))) {
		snprintf(err, err_len, "share %s: security_model=mapped-xattr needs user "
			 "extended attributes, which this filesystem refuses (%s)",
			 cfg->root, strerror(-rc));
		goto fail;
	}
	fs->scratch = malloc(fs->cfg.max_msize);
	fs->xbuf = malloc(P9_XATTR_SIZE_MAX);
	rc = fs->scratch && fs->xbuf ? p9_fid_table_init(&fs->fids, fs->cfg.max_fids) : -ENOMEM;
	if (rc) {
		snprintf(err, err_len, "share %s: out of memory", cfg->root);
		goto fail;
	}
	pthread_mutex_init(&fs->lock, NULL);
	*out = fs;
	return 0;
fail:
	close(fs->root_fd);
	free(fs->scratch);
	free(fs->xbuf);
	free(fs);
	return rc;
}

void p9_fs_close(struct p9_fs *fs)
{
	if (!fs)
		return;
	fids_clear(fs);
	p9_fid_table_destroy(&fs->fids);
	close(fs->root_fd);
	free(fs->scratch);
	free(fs->xbuf);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}
