/*
 * Guest user mode, the Xen x86-64 PV way: the same page tables serve as
 * the user ones (MMUEXT_NEW_USER_BASEPTR), exceptions and events from
 * user mode are bounced onto a kernel stack given with stack_switch, and
 * user code comes back with a `syscall` (bounced to the syscall callback).
 *
 * user_run(fn, arg) calls fn(arg) in guest user mode on a user stack of
 * its own; fn returns (or calls user_exit) with a value that user_run
 * returns in kernel mode.  Trap hooks (kit/traps.h) see user-mode faults
 * with (f->cs & 3) == 3 and may resume user code by returning true.
 */
#ifndef KIT_USER_H
#define KIT_USER_H

#include <stdint.h>

typedef long (*user_fn)(long arg);

/* Sets up user mode once (user page tables, kernel stack, syscall
 * callback); 0 or a negative Xen error. */
long user_init(void);
long user_run(user_fn fn, long arg);
/* From user mode only: back to user_run's caller with val. */
__attribute__((noreturn)) void user_exit(long val);

#endif
