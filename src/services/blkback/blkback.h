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

#include <stddef.h>

struct vm;

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

/* The virtual-device number of "xvdN" (202 << 8 | N << 4), or -1. */
int blkback_vdev(const char *name);

#endif
