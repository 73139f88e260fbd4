/*
 * security_model=mapped-xattr: the guest's owner, group, mode and device
 * number of a file are kept in extended attributes of the host file
 * (user.pvisor.uid, .gid, .mode, .rdev), never applied to it.  The host
 * file stays pvisor's user's, 0600 (directories 0700); device nodes,
 * FIFOs, sockets and symlinks the guest makes are regular host files whose
 * mode attribute holds their type (a symlink's target is the file's
 * content).  A file without the attributes shows its host values.  Linux
 * allows user.* attributes on regular files and directories only, so host
 * symlinks and special files in the share always show their host values.
 * See docs/9pfs.md, "Security models".
 */
#ifndef PVISOR_P9_MAPPED_H
#define PVISOR_P9_MAPPED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define P9_MAPPED_FILE_MODE 0600 /* host mode of what the guest creates */
#define P9_MAPPED_DIR_MODE 0700

/* Which attributes a p9_mapped carries. */
enum {
	P9_MAPPED_UID = 1,
	P9_MAPPED_GID = 2,
	P9_MAPPED_MODE = 4,  /* type and permission bits */
	P9_MAPPED_RDEV = 8,
};

struct p9_mapped {
	unsigned has;        /* P9_MAPPED_* */
	uint32_t uid, gid, mode;
	uint64_t rdev;
};

/* 0 if the share's filesystem takes user.* attributes, else -EOPNOTSUPP
 * (or another -errno of the probe). */
int p9_mapped_probe(int root_fd);

/*
 * Reads the attributes of the file fd (any descriptor, O_PATH too) whose
 * host stat is host; none for a file that cannot carry them.  A value of
 * the wrong size is ignored, as if absent.
 */
void p9_mapped_read(int fd, const struct stat *host, struct p9_mapped *m);

/*
 * The guest's view: host with m applied.  The type comes from m only for a
 * host regular file, and only a type a mapped file can have (not a
 * directory); a directory keeps its type, with m's permission bits.
 */
void p9_mapped_apply(struct stat *st, const struct p9_mapped *m);

/* Writes the attributes m->has names to the file fd (a regular file or a
 * directory); -errno on failure. */
int p9_mapped_write(int fd, const struct p9_mapped *m);

/* Whether a guest may make a file of this type (S_IFMT bits) by mknod. */
bool p9_mapped_mknod_type_ok(uint32_t mode);

#endif
