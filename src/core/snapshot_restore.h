/*
 * Restoring a snapshot (docs/snapshot-format.md) into a new domain, as
 * Xen's restore does for a PV guest: memory, page tables (pinned again,
 * so validated again), vCPU contexts, shared_info with every event masked,
 * start_info's store and console fields rewritten for the new domain's
 * channels, the guest's own xenstore nodes written back.  The guest's
 * suspend call returns 0 there.
 */
#ifndef PVISOR_SNAPSHOT_RESTORE_H
#define PVISOR_SNAPSHOT_RESTORE_H

#include <stddef.h>

struct vm;
struct vm_config;
struct backend_ops;
struct snap_file;

/*
 * Creates vm for cfg (whose memory and vCPU count must be the snapshot's)
 * on backend from the parsed file f.  0 or -errno with one line in err;
 * vm_destroy() must be called either way.  The services are connected by
 * the caller, as after a boot.
 */
int snapshot_restore(struct vm *vm, const struct vm_config *cfg,
		     const struct backend_ops *backend,
		     const struct snap_file *f, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* The file, mapped read-only (the page cache backs it: nothing is
 * copied until the pages are loaded). */
struct snap_mapping {
	void *base;
	size_t len;
};

/* Maps path and checks it whole (snap_parse) into f.  0, or -1 with one
 * line in err and nothing left mapped. */
int snapshot_map(const char *path, struct snap_mapping *m, struct snap_file *f,
		 unsigned parse_flags, char *err, size_t err_len)
	__attribute__((warn_unused_result));
void snapshot_unmap(struct snap_mapping *m);

#endif
