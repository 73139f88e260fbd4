/*
 * A second console (--console2): the xenbus `console` device 1, which
 * Linux's hvc_xen frontend drives as /dev/hvc1 and xl offers as a
 * `channel`/secondary console.  Its output goes to pvisor's stderr, so a
 * guest can keep two streams apart over the one start_info console (what
 * `pvisor run --rootfs` does with CMD's stderr).  Output only: nothing is
 * put in its `in` ring.  See docs/pv-abi.md, "Secondary console".
 */
#ifndef PVISOR_VCONSOLE_H
#define PVISOR_VCONSOLE_H

#include <stddef.h>

struct vm;

/* The device's xenstore nodes and watch, if --console2 (device_ops). */
int vconsole_init(struct vm *vm, char *err, size_t err_len);
void vconsole_destroy(struct vm *vm);
/* A reboot's new domain: the frontend's directory written again. */
int vconsole_reattach(struct vm *vm, char *err, size_t err_len);

/* Does the XenbusState work the frontend's watch asked for; the event
 * thread calls it on every wake-up. */
void vconsole_poll(struct vm *vm);

#endif
