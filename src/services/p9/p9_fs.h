/*
 * The 9P2000.L file server behind a 9pfs device: one host directory (the
 * share), a bounded table of fids, each holding an O_PATH descriptor of the
 * file it names.  Every lookup is one path component resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * relative to a fid's descriptor; no path string is ever built from what the
 * guest sends, so `..`, absolute names and symlinks (planted or raced in)
 * cannot lead outside the share.  Transport-independent: one request in,
 * one response out; several threads may serve requests of one share at
 * once (the fid table is locked; reads, writes and fsyncs run outside the
 * lock, so they overlap).  Extended attributes: user.* only (user.pvisor.*
 * hidden in mapped-xattr).  See docs/9pfs.md.
 */
#ifndef PVISOR_P9_FS_H
#define PVISOR_P9_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "services/p9/p9_msg.h"

#define P9_FS_MAX_FIDS 8192u   /* per share (each fid holds 1-2 host fds) */
#define P9_FS_MIN_MSIZE 4096u  /* a smaller Tversion msize is refused */
/* The memory all xattr fids of a share may hold (each at most
 * P9_XATTR_SIZE_MAX of value); beyond it Txattrwalk/Txattrcreate answer
 * ENOMEM. */
#define P9_FS_XATTR_BYTES (4u << 20)

enum p9_security_model {
	P9_SM_PASSTHROUGH, /* files are pvisor's user's; modes as the guest sets */
	P9_SM_MAPPED_XATTR, /* the guest's uid/gid/mode in xattrs (p9_mapped.h) */
};

struct p9_fs_config {
	const char *root;     /* the shared host directory */
	bool ro;              /* every change answers EROFS */
	enum p9_security_model sm;
	uint32_t max_msize;   /* largest message (the transport's limit) */
	unsigned max_fids;    /* 0: P9_FS_MAX_FIDS */
};

struct p9_fs;

/*
 * Opens the share.  On failure err holds one line for the user ("share
 * /x: No such file or directory", "... is not a directory") and -errno is
 * returned.
 */
int p9_fs_open(const struct p9_fs_config *cfg, struct p9_fs **out, char *err,
	       size_t err_len) __attribute__((warn_unused_result));

/* Closes every fid and the share. */
void p9_fs_close(struct p9_fs *fs);

/*
 * Serves one T-message msg[0..len) (its size field must be len) and writes
 * the R-message (Rlerror on any error) into out[0..cap).  cap must be at
 * least the negotiated msize, and at least P9_HDR_SIZE + 4.  Returns the
 * response's length.
 */
uint32_t p9_fs_request(struct p9_fs *fs, const uint8_t *msg, uint32_t len,
		       uint8_t *out, uint32_t cap);

/* Ends the session (a frontend reconnects): every fid is clunked and the
 * next message must be Tversion.  max_msize, if not 0, becomes the new
 * limit (the rings' size). */
void p9_fs_reset(struct p9_fs *fs, uint32_t max_msize);

/* The msize agreed with Tversion (the configured maximum before it). */
uint32_t p9_fs_msize(const struct p9_fs *fs);

/* Fids in use (tests). */
unsigned p9_fs_nr_fids(struct p9_fs *fs);

#endif
