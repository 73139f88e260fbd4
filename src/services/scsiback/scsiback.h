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

#include "core/config.h"

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

/* A reboot's new domain: the LUNs offered again and the frontend's
 * directory written again (device.h, reattach); the images stay open. */
int scsiback_reattach(struct vm *vm, char *err, size_t err_len);

/*
 * The host's eject (fd -1) or insert (fd: the new image, taken: closed on
 * failure; path: its name, which the LUN's status and a snapshot show from
 * then on) for the CD/DVD LUN at addr ("H:C:T:L"), as a drive's tray: the
 * guest sees a UNIT ATTENTION (medium may have changed) and a GET EVENT
 * STATUS NOTIFICATION media event.  Applied by the LUN's thread once the
 * commands in flight are done (waits up to timeout_ms).  0, or -errno with
 * one line in err: -ENOENT no such LUN, -EINVAL not a CD/DVD or a bad
 * image, -EBUSY the guest prevents removal (force overrides), -EEXIST a
 * medium is in, -EAGAIN another change waits, -ETIMEDOUT.
 */
int scsiback_change_medium(struct vm *vm, const char *addr, int fd, const char *path,
			   bool force, unsigned timeout_ms, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/*
 * LUN hot-plug, from the control API's hot-plug thread (services/ctl/
 * ctl_hotplug.c) while the guest runs; never concurrently with each other
 * or with scsiback_change_medium.  The order is xen-scsiback's with
 * libxl's (docs/scsi.md, "Hot-plug").
 *
 * scsiback_lun_add: a LUN for cfg (path, ro, cdrom; its H:C:T:L when
 * `given`, else the next LUN number; cfg gets the address used) on fd (the
 * image, taken: closed on failure).  With no vscsi host yet, one is
 * created as disk-add creates a vbd.  The LUN is offered (dev-N state 1)
 * and the host set Reconfiguring; *taken is true once the frontend added
 * it (dev-N 4).  With no frontend connected it returns at once (*taken
 * false): the frontend gets it when it connects.  0 or -errno with one
 * line in err: -ENOSPC (VM_MAX_SCSI LUNs), -EEXIST (the address is
 * taken), -EXDEV (another host), -EINVAL (the image's size), -ETIMEDOUT
 * (the frontend did not take it in time: it stays offered), -ECANCELED
 * (the VM stops).
 *
 * scsiback_lun_remove: dev-N Closing and a round; once the frontend let
 * it go, the LUN leaves the target when nothing is in flight, its image is
 * closed (the lock with it), dev-N is Closed and removed (*closed true).
 * Forced, or with no frontend that has the LUN, at once (*closed false).
 * -ENOENT no such LUN, -ETIMEDOUT (it stays Closing), -ECANCELED.
 */
int scsiback_lun_add(struct vm *vm, struct vm_scsi *cfg, bool given, int fd,
		     unsigned timeout_ms, bool *taken, char *err, size_t err_len)
	__attribute__((warn_unused_result));
int scsiback_lun_remove(struct vm *vm, const char *addr, bool force, unsigned timeout_ms,
			bool *closed, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* One LUN as the control API's status shows it. */
struct scsiback_lun_info {
	struct vm_scsi cfg;      /* H:C:T:L, ro, cdrom; path: the image in the
				  * drive (a CD/DVD: the last one after an eject) */
	int state;               /* its vscsi-devs/dev-N/state */
	bool medium;             /* a medium is in (a disk: always) */
	bool prevent;            /* the guest prevents medium removal */
};

/* The LUNs the host has now, hot-plugged ones included, into out
 * (VM_MAX_SCSI) in slot order: how many.  Copied under scsiback's lock,
 * from any thread.  scsiback_luns: what a snapshot names
 * (core/snapshot_devices.h); scsiback_lun_info: that and their state. */
unsigned scsiback_luns(struct vm *vm, struct vm_scsi *out);
unsigned scsiback_lun_info(struct vm *vm, struct scsiback_lun_info *out);

#endif
