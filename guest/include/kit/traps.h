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
/* Installs (or, with NULL, removes) the hook for vector (0..255). */
void trap_set_hook(unsigned vector, trap_hook_fn fn);

/*
 * An entry point for a vector without an error code beyond the kit's
 * exception vectors (software interrupts): KIT_TRAP_ENTRY(name, vec) at
 * file scope defines `name`, which enters trap_dispatch like the others.
 */
#define KIT_TRAP_ENTRY(name, vec)                                           \
	asm(".text\n.globl " #name "\n" #name ":\n\t"                     \
	    "movq (%rsp), %rcx\n\tmovq 8(%rsp), %r11\n\t"                 \
	    "addq $16, %rsp\n\tpushq $0\n\tpushq $" #vec "\n\t"          \
	    "jmp trap_common\n")
/* Adds vector's entry to the trap table: DPL dpl (who may `int $n` it),
 * events masked on entry.  The HYPERVISOR_set_trap_table result. */
long trap_register(unsigned vector, unsigned dpl, const void *entry);
/* Tells Xen to forget the whole trap table (set_trap_table(NULL)): later
 * exceptions are pvisor's to handle (hostile tests). */
void traps_clear(void);
/* Number of exceptions taken per vector since boot. */
extern unsigned long trap_counts[32];

/* Called from entry.S. */
void trap_dispatch(struct trap_frame *f);
void failsafe_dispatch(struct trap_frame *f);

#endif
