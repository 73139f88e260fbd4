/*
 * Rebooting a guest in place, as Xen's toolstack does for on_reboot=restart:
 * the old domain goes (vCPUs stopped, guest memory, page types, event
 * channels, grant table, the guest's xenstore directory; the backends see
 * their frontends vanish and let go of the rings), a fresh domain is built
 * from the same kernel, initrd and command line and started, and the
 * devices are offered to it again.  What lives on the host stays: the
 * backends' images, networks and shares, the console, the sockets.
 *
 * Which thread: a reboot is asked for from anywhere (SCHEDOP_shutdown on a
 * vCPU thread, the control API on the event thread); the vCPU threads then
 * meet in vm_reboot_join() and the first one there rebuilds the domain,
 * under its own (vcpu) sandbox role, while the others wait.
 */
#ifndef PVISOR_REBOOT_H
#define PVISOR_REBOOT_H

#include <stdbool.h>

struct vm;
struct vcpu;

/*
 * Asks for a reboot: with --on-reboot exit, or for a guest that has no
 * kernel to boot again (a restored one), the VM stops instead with
 * PVISOR_EXIT_REBOOT and a one-line report saying why.  Thread-safe; a
 * second request while one is pending changes nothing.
 */
void vm_reboot_request(struct vm *vm, const char *who);

/* A reboot is asked for and not done yet (the vCPUs leave guest code). */
bool vm_reboot_pending(struct vm *vm);

/* Reboots done so far. */
unsigned vm_reboot_count(struct vm *vm);

/*
 * A vCPU thread's part, called from its run loop while vm_reboot_pending:
 * returns once the new domain is built (or the VM stopped).  The first
 * thread to come waits for the others and rebuilds; a rebuild that fails
 * stops the VM with PVISOR_EXIT_INTERNAL and the reason.
 */
void vm_reboot_join(struct vcpu *v);

#endif
