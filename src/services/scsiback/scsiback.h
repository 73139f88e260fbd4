/*
 * The paravirtual SCSI backend: the guest's --scsi LUNs behind one vscsiif
 * host (Xen's public/io/vscsiif.h, as Linux's xen-scsiback serves it to
 * xen-scsifront).  Commands are interpreted by services/scsi; image I/O
 * runs through blkback's I/O engine (io_uring or its thread pool) on the
 * host's own thread.  See docs/scsi.md.
 */
#ifndef PVISOR_SCSIBACK_H
#define PVISOR_SCSIBACK_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/*
 * Opens and locks every LUN's image (vm->cfg->scsi), writes the vscsi
 * backend/frontend xenstore entries, watches the frontend and starts the
 * host's thread.  Call after xs_service_init().  On failure err holds one
 * line ("scsi x.img: No such file or directory") and -errno is returned;
 * scsiback_destroy() must still be called.
 */
int scsiback_init(struct vm *vm, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Stops the thread (in-flight I/O completes first), releases grants and
 * closes the images.  Call before xs_service_destroy(). */
void scsiback_destroy(struct vm *vm);

/*
 * The host's eject (fd -1) or insert (fd: the new image, taken: closed on
 * failure) for the CD/DVD LUN at addr ("H:C:T:L"), as a drive's tray: the
 * guest sees a UNIT ATTENTION (medium may have changed) and a GET EVENT
 * STATUS NOTIFICATION media event.  Applied by the LUN's thread once the
 * commands in flight are done (waits up to timeout_ms).  0, or -errno with
 * one line in err: -ENOENT no such LUN, -EINVAL not a CD/DVD or a bad
 * image, -EBUSY the guest prevents removal (force overrides), -EEXIST a
 * medium is in, -EAGAIN another change waits, -ETIMEDOUT.
 */
int scsiback_change_medium(struct vm *vm, const char *addr, int fd, bool force,
			   unsigned timeout_ms, char *err, size_t err_len)
	__attribute__((warn_unused_result));

#endif
