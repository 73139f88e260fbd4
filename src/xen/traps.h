/*
 * Exception and event delivery to a PV guest, the Xen x86-64 way: pvisor
 * builds a bounce frame { RCX, R11, [ERRCODE,] RIP, CS, RFLAGS, RSP, SS } on
 * the guest kernel stack and continues at the registered handler; the guest
 * returns with HYPERVISOR_iret.
 */
#ifndef PVISOR_XEN_TRAPS_H
#define PVISOR_XEN_TRAPS_H

#include <stdbool.h>

struct vcpu;
struct vexit;

/* Bounces a CPU exception into the guest's handler from set_trap_table, or
 * stops the VM with a report if it has none.  Returns 0 if bounced. */
int xen_bounce_exception(struct vcpu *v, const struct vexit *ex);

/* Delivers software interrupt `vector` (int $n, already permitted and
 * rip past the instruction) through the trap table, without an error
 * code; stops the VM if the entry has no handler (Xen crashes the
 * domain).  Returns 0 if bounced. */
int xen_bounce_softint(struct vcpu *v, unsigned vector);

/* Delivers the event upcall if one is pending and unmasked and the guest
 * registered a callback.  Returns true if the registers now point at it. */
bool xen_deliver_upcall(struct vcpu *v);

/* A `syscall` from guest user mode: bounce to the syscall callback. */
int xen_bounce_syscall(struct vcpu *v);

/* Switches between guest kernel and guest user mode (page tables, GS). */
int xen_toggle_guest_mode(struct vcpu *v);

#endif
