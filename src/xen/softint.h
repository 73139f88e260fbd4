/*
 * Software interrupts from PV guest code, as Xen handles them
 * (arch/x86/traps.c do_general_protection, x86_64/entry.S int80 paths).
 *
 * Xen's IDT gives every vector DPL 0 except #BP and #OF, so `int $n` from
 * a PV guest is a #GP whose error code names the IDT entry ((n << 3) | 2).
 * Xen delivers vector n through the guest's trap table if the trap_info's
 * DPL allows the guest's ring (guest kernel mode counts as ring 1, guest
 * user mode as ring 3), with rip past the 2-byte instruction and no error
 * code; otherwise the #GP goes to the guest as it is.  int3 (#BP) and
 * `int $4` (#OF) are traps through DPL-3 host entries and are delivered
 * without a DPL check, as on Xen; `into` is #UD in 64-bit mode.
 *
 * How the host reports `int $n`:
 *   proc: a #GP with the IDT error code, except `int $0x80`, which the
 *         host kernel takes as a 32-bit system call (its IDT[0x80] is DPL
 *         3) and seccomp turns into vector 0x80 with rip past it;
 *   kvm:  a #GP with the IDT error code, or (kvm-pvm) a #UD at the
 *         instruction, decoded here.
 */
#ifndef PVISOR_XEN_SOFTINT_H
#define PVISOR_XEN_SOFTINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vcpu;
struct vexit;

#define SOFTINT_GP_IDT 2u  /* #GP error code: the selector is an IDT entry */
#define SOFTINT_GP_EXT 1u  /* ... raised by an external event */

/* Xen's permit_softint: whether `int $n` reaches a trap_info with these
 * flags (bits 0-1 DPL) from guest kernel (ring 1) or user (ring 3) mode. */
bool softint_permitted(unsigned ti_flags, bool kernel_mode);

enum softint_kind {
	SOFTINT_NONE = 0,
	SOFTINT_INTN,  /* cd ib */
	SOFTINT_INT3,  /* cc */
	SOFTINT_INT1,  /* f1 (icebp) */
};

struct softint {
	enum softint_kind kind;
	unsigned vector;  /* INTN: ib; INT3: 3; INT1: 1 */
	unsigned len;     /* instruction bytes */
};

/* Decodes a software-interrupt instruction at buf[0..n) (no prefixes, as
 * Xen's rip += 2).  `into` (ce) is not one: it is #UD in 64-bit mode.
 * Returns the kind (SOFTINT_NONE if it is none).  Pure. */
enum softint_kind softint_decode(const uint8_t *buf, size_t n,
				 struct softint *out);

/*
 * Handles an exception exit that is a software interrupt: a #GP with an
 * IDT error code, the proc host's vector 0x80, or a #UD at int n / int3 /
 * icebp.  Returns true if it was delivered (or the VM stopped); false if
 * the caller bounces *ex (possibly rewritten to the #GP Xen gives).
 */
bool xen_softint_exit(struct vcpu *v, struct vexit *ex);

#endif
