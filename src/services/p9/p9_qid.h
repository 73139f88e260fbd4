/*
 * qid.path numbers for one share.  Linux's v9fs takes a file's qid.path as
 * its inode number, so two host files must never share one; but a share
 * may span several filesystems (a mount point beneath it; `--rootfs /`),
 * whose inode numbers overlap.  As QEMU's `multidevs=remap`: qid.path is
 * the low 48 bits of the inode number under a 16-bit prefix that stands
 * for the pair (device, inode bits 48-63).  The share's own filesystem
 * with small inode numbers has prefix 0, so there qid.path is the inode
 * number itself.  Pure: no system call.
 */
#ifndef PVISOR_P9_QID_H
#define PVISOR_P9_QID_H

#include <stdint.h>
#include <sys/types.h>

#define P9_QID_INO_BITS 48
/* Pairs one share may use before a qid is refused (ENFILE, as QEMU);
 * looked up linearly: a share holds a handful of filesystems. */
#define P9_QID_MAX_PREFIXES 1024

struct p9_qid_map {
	struct p9_qid_prefix {
		dev_t dev;
		uint16_t ino_high;
	} prefixes[P9_QID_MAX_PREFIXES];
	unsigned nr;
};

/* Starts the map with the share root's device as prefix 0. */
void p9_qid_map_init(struct p9_qid_map *m, dev_t root_dev);

/* The qid.path of (dev, ino): 0 with *path set, or -ENFILE when the map is
 * full and the pair is new. */
int p9_qid_path(struct p9_qid_map *m, dev_t dev, uint64_t ino, uint64_t *path);

#endif
