/*
 * The guest's own xenstore nodes in a snapshot (docs/snapshot-format.md,
 * "The xenstore section").  Saved: every node below the guest's home
 * /local/domain/<id> that the guest owns, with its value and permissions,
 * except the device/ subtree (the frontend directories, which the
 * backends write afresh on restore and the frontends fill again as they
 * reconnect).  The nodes the toolstack owns (name, domid, memory, cpu,
 * console ...) are written by the new domain's setup, as libxl writes them
 * for a restored domain.  Watches and transactions are not saved: the
 * guest registers its watches again when it resumes (Linux: xs_resume;
 * the guest kit: xenbus_resume), as under Xen.
 */
#ifndef PVISOR_XS_SNAPSHOT_H
#define PVISOR_XS_SNAPSHOT_H

#include <stddef.h>

struct vm;
struct snap_writer;
struct snap_file;

/* Appends the xenstore section to w (the guest is paused).  0 or -errno. */
int xs_snapshot_save(struct vm *vm, struct snap_writer *w)
	__attribute__((warn_unused_result));

/*
 * Writes the nodes of f's xenstore section (checked by snap_parse) into
 * vm's store as the guest itself would, so that a node the guest could not
 * have written is refused.  Call after vm_create, before the guest runs.
 * A version-1 file has none: 0.  Else 0, or -errno with one line in err.
 */
int xs_snapshot_restore(struct vm *vm, const struct snap_file *f, char *err,
			size_t err_len) __attribute__((warn_unused_result));

#endif
