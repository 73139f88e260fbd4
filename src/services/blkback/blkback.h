/*
 * The block backend: each --disk is a Xen virtual block device (vbd) that
 * the guest's blkfront drives over a blkif ring.  The device model in
 * xenstore is what Xen's toolstack and Linux's blkback write; the
 * XenbusState handshake follows the frontend's state node.  I/O runs on one
 * thread per device through io_uring; the guest's event-channel send only
 * writes that thread's eventfd.  See docs/block.md.
 */
#ifndef PVISOR_BLKBACK_H
#define PVISOR_BLKBACK_H

#include <stdbool.h>
#include <stddef.h>

struct vm;
struct vm_disk;

/*
 * Opens and locks every disk of vm->cfg, writes the backend and frontend
 * xenstore entries, watches the frontends and starts the device threads.
 * Call after xs_service_init().  On failure err holds one line for the user
 * ("disk x.img: No such file or directory") and -errno is returned;
 * blkback_destroy() must still be called.
 */
int blkback_init(struct vm *vm, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Stops the device threads (in-flight I/O completes first), releases the
 * grants and closes the images.  Call before xs_service_destroy(). */
void blkback_destroy(struct vm *vm);

/* A reboot's new domain: each disk's frontend directory written again
 * (device.h, reattach); the images stay open. */
int blkback_reattach(struct vm *vm, char *err, size_t err_len);

/*
 * Hot-plug, from the control API's hot-plug thread (services/ctl/
 * ctl_hotplug.c) while the guest runs; never concurrently with each other.
 *
 * blkback_add: a new vbd for cfg (cfg->name, "xvdN", free) on fd (the
 * image, taken: closed on failure), as libxl's device add writes it.  0 or
 * -errno with one line in err (-ENOSPC: VM_MAX_DISKS attached).
 *
 * Removal is libxl's: blkback_remove_begin writes online = 0 and backend
 * state Closing (5); once the frontend has closed the backend is Closed
 * (6), which blkback_remove_state answers; blkback_remove_finish then (or
 * at once, forced) stops the device and removes its frontend and backend
 * directories.  -ENOENT for a name that is not attached.
 */
int blkback_add(struct vm *vm, const struct vm_disk *cfg, int fd, char *err,
		size_t err_len) __attribute__((warn_unused_result));
int blkback_remove_begin(struct vm *vm, const char *name);
int blkback_remove_state(struct vm *vm, const char *name);
int blkback_remove_finish(struct vm *vm, const char *name);
/* The first xvdN not attached, into name: 0 or -ENOSPC. */
int blkback_free_name(struct vm *vm, char name[8]);
unsigned blkback_nr_disks(struct vm *vm);
/* The disks attached now, hot-plugged ones included and those being
 * removed left out, into out (VM_MAX_DISKS) by name: how many.  What a
 * snapshot names (core/snapshot_devices.h). */
unsigned blkback_disks(struct vm *vm, struct vm_disk *out);

/* The virtual-device number of "xvdN" (202 << 8 | N << 4), or -1. */
int blkback_vdev(const char *name);

#endif
