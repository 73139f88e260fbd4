/*
 * Exceptions.  traps_init() registers a handler for every vector with
 * HYPERVISOR_set_trap_table.  Xen bounces an exception onto the guest stack
 * as rcx, r11, [error code,] rip, cs, rflags, rsp, ss; the entry code
 * (lib/entry.S) saves every register into a struct trap_frame, calls
 * trap_dispatch(), and returns with HYPERVISOR_iret from the (possibly
 * modified) frame.  Unhandled exceptions print a report and crash the domain.
 */
#ifndef KIT_TRAPS_H
#define KIT_TRAPS_H

#include <stdbool.h>
#include <stdint.h>

/* Register state at an exception or event upcall; layout fixed by entry.S. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

/*
 * A per-vector fixup hook: return true if the fault was handled (the hook
 * may change the frame, e.g. advance rip, or fix the cause and return so the
 * instruction is retried).  cr2 is vcpu_info->arch.cr2 for #PF, else 0.
 */
typedef bool (*trap_hook_fn)(struct trap_frame *f, uint64_t cr2);

void traps_init(void);
/* Installs (or, with NULL, removes) the hook for vector (0..31). */
void trap_set_hook(unsigned vector, trap_hook_fn fn);
/* Tells Xen to forget the whole trap table (set_trap_table(NULL)): later
 * exceptions are pvisor's to handle (hostile tests). */
void traps_clear(void);
/* Number of exceptions taken per vector since boot. */
extern unsigned long trap_counts[32];

/* Called from entry.S. */
void trap_dispatch(struct trap_frame *f);
void failsafe_dispatch(struct trap_frame *f);

#endif
