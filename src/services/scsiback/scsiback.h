/*
 * The paravirtual SCSI backend: the guest's --scsi LUNs behind one vscsiif
 * host (Xen's public/io/vscsiif.h, as Linux's xen-scsiback serves it to
 * xen-scsifront).  Commands are interpreted by services/scsi; image I/O
 * runs through blkback's I/O engine (io_uring or its thread pool) on the
 * host's own thread.  See docs/scsi.md.
 */
#ifndef PVISOR_SCSIBACK_H
#define PVISOR_SCSIBACK_H

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

#endif
