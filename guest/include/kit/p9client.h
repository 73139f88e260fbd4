/*
 * A 9P2000.L client over kit/p9front.h: one synchronous request at a time,
 * the messages Linux's v9fs uses.  Every call returns 0 (or a count) or a
 * negative Linux errno from Rlerror (the same numbers as XEN_E*), or a
 * transport error from p9front_rpc.
 */
#ifndef KIT_P9CLIENT_H
#define KIT_P9CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <pvisor/p9.h>

struct p9front;

/* What a fid names, kept to open it again after a restore (the new
 * backend's session has no fid): the path walked from the attach fid and
 * the Tlopen flags (-1: not open).  A fid beyond the table, or whose path
 * is longer, is not kept (it answers an error after a restore). */
#define P9C_MAX_FIDS 16
#define P9C_PATH_MAX 192
struct p9c_fidrec {
	bool used;
	uint32_t fid;
	int32_t flags;
	char path[P9C_PATH_MAX];
};

struct p9c {
	struct p9front *fe;
	uint32_t msize;
	uint16_t tag;
	uint8_t *tx, *rx;    /* msize bytes each */
	uint32_t rlen;       /* the last response's length */
	bool attached;
	uint32_t root_fid;
	struct p9c_fidrec fids[P9C_MAX_FIDS];
};

struct p9c_stat {
	uint8_t qid_type;
	uint64_t ino;
	uint32_t mode, uid, gid;
	uint64_t nlink, size;
};

/* Tversion with msize (capped by the ring); 0 or -errno.  Also registers
 * with p9front so that after a restore the session is opened again: the
 * same msize, the attach, every kept fid walked and opened again (without
 * O_CREAT, O_EXCL, O_TRUNC), as Plan 9's recover(4) does. */
int p9c_init(struct p9c *c, struct p9front *fe, uint32_t msize);
int p9c_attach(struct p9c *c, uint32_t fid);
/* Walks a '/'-separated path (up to P9_MAXWELEM names; "" clones).  A
 * partial walk is -XEN_ENOENT. */
int p9c_walk(struct p9c *c, uint32_t fid, uint32_t newfid, const char *path);
int p9c_clunk(struct p9c *c, uint32_t fid);
int p9c_lopen(struct p9c *c, uint32_t fid, uint32_t flags);
int p9c_lcreate(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags,
		uint32_t mode);
long p9c_read(struct p9c *c, uint32_t fid, uint64_t off, void *buf, uint32_t len);
long p9c_write(struct p9c *c, uint32_t fid, uint64_t off, const void *buf,
	       uint32_t len);
int p9c_mkdir(struct p9c *c, uint32_t dfid, const char *name, uint32_t mode);
int p9c_unlinkat(struct p9c *c, uint32_t dfid, const char *name, uint32_t flags);
int p9c_renameat(struct p9c *c, uint32_t odfid, const char *oname, uint32_t ndfid,
		 const char *nname);
int p9c_symlink(struct p9c *c, uint32_t dfid, const char *name, const char *target);
/* The target, NUL-terminated, into buf. */
int p9c_readlink(struct p9c *c, uint32_t fid, char *buf, uint32_t len);
int p9c_link(struct p9c *c, uint32_t dfid, uint32_t fid, const char *name);
int p9c_getattr(struct p9c *c, uint32_t fid, struct p9c_stat *st);
/* Tsetattr with valid (P9_SETATTR_*), mode and size. */
int p9c_setattr(struct p9c *c, uint32_t fid, uint32_t valid, uint32_t mode,
		uint64_t size);
int p9c_fsync(struct p9c *c, uint32_t fid);
int p9c_statfs(struct p9c *c, uint32_t fid, uint32_t *bsize, uint64_t *blocks);
/* Raw Treaddir: the entries' bytes (qid, offset, type, name) into buf;
 * returns the byte count. */
long p9c_readdir(struct p9c *c, uint32_t fid, uint64_t off, void *buf, uint32_t len);
/* Txattrwalk: newfid holds the value of name ("": the list of names);
 * its size in *size. */
int p9c_xattrwalk(struct p9c *c, uint32_t fid, uint32_t newfid, const char *name,
		  uint64_t *size);
/* Txattrcreate: fid becomes an xattr fid of size bytes that p9c_write
 * fills and p9c_clunk sets (size 0: removes name).  flags: P9_XATTR_*.
 * The fid is not kept for a restore (it names no file any more). */
int p9c_xattrcreate(struct p9c *c, uint32_t fid, const char *name, uint64_t size,
		    uint32_t flags);
/* Sends a hand-made message (its size field is set from len unless
 * keep_size) and returns the response type, or -errno for Rlerror. */
int p9c_raw(struct p9c *c, const void *msg, uint32_t len, int keep_size);

#endif
