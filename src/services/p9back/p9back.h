/*
 * The 9pfs backend: each --share is a Xen 9pfs device (xenstore device
 * type "9pfs", Xen's docs/misc/9pfs.pandoc and public/io/9pfs.h) whose
 * frontend sends 9P2000.L over flex rings; services/p9 serves the share.
 * One thread per share serves all its rings; the guest's event-channel
 * sends only write that thread's eventfd.  See docs/9pfs.md.
 */
#ifndef PVISOR_P9BACK_H
#define PVISOR_P9BACK_H

#include <stddef.h>

struct vm;

/*
 * Opens every share of vm->cfg (a missing directory or a file is an error
 * here: "share /x: No such file or directory"), writes the backend and
 * frontend xenstore entries, watches the frontends and starts the device
 * threads.  Call after xs_service_init().  -errno with err set on failure;
 * p9back_destroy() must still be called.
 */
int p9back_init(struct vm *vm, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Stops the device threads, releases the grants, closes the shares.  Call
 * before xs_service_destroy(). */
void p9back_destroy(struct vm *vm);

/* A reboot's new domain: each share's frontend directory written again
 * (device.h, reattach); the shared directories stay open. */
int p9back_reattach(struct vm *vm, char *err, size_t err_len);

#endif
