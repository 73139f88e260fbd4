/*
 * The fid table of one 9P connection: bounded, keyed by the client's 32-bit
 * fid number (open addressing, linear probing, backward-shift deletion; the
 * table is twice the bound so that probes stay short).
 */
#ifndef PVISOR_P9_FID_H
#define PVISOR_P9_FID_H

#include <stdbool.h>
#include <stdint.h>

struct p9_xattr;

struct p9_fid {
	uint32_t id;
	bool used;
	int fd;         /* O_PATH descriptor of the file (or a dup of ofd) */
	int ofd;        /* opened by Tlopen/Tlcreate, else -1 */
	bool is_dir, is_link;
	uint32_t uid;   /* the user of its Tattach (mapped-xattr's owner of new files) */
	uint64_t dir_offset_u; /* 9P2000.u: the byte offset of the next directory read */
	struct p9_xattr *xa;   /* an xattr fid's buffer (Txattrwalk/Txattrcreate), else NULL */
};

struct p9_fid_table {
	struct p9_fid *slots;
	unsigned cap;   /* power of two, >= 2 * max */
	unsigned max, nr;
};

int p9_fid_table_init(struct p9_fid_table *t, unsigned max);
void p9_fid_table_destroy(struct p9_fid_table *t);

/* The fid, or NULL. */
struct p9_fid *p9_fid_get(struct p9_fid_table *t, uint32_t id);

/* A new fid with fd = ofd = -1; NULL if id is in use (*full false) or the
 * table holds max fids (*full true). */
struct p9_fid *p9_fid_add(struct p9_fid_table *t, uint32_t id, bool *full);

/* Removes a fid (its descriptors must be closed and its xa freed by the
 * caller). */
void p9_fid_remove(struct p9_fid_table *t, struct p9_fid *f);

#endif
