/*
 * Exception, event and failsafe entry points, and the thread switch.
 *
 * Xen x86-64 PV bounces an exception onto the guest kernel stack as
 *   rcx, r11, [error code,] rip, cs, rflags, rsp, ss      (rcx at (%rsp))
 * and an event upcall the same way without an error code.  The entry code
 * restores rcx/r11 from the frame, pushes a vector and (if the CPU had none)
 * a zero error code, saves all registers as a struct trap_frame and calls the
 * C handler.  It returns through HYPERVISOR_iret: with rax, r11, rcx loaded,
 * the stack holding flags, rip, cs, rflags, rsp, ss, it jumps to the iret
 * entry of the hypercall page, which pushes rcx, r11, rax to complete a
 * struct iret_context (Xen's contract).  iret restores evtchn_upcall_mask
 * from rflags.IF, so events masked on entry are re-enabled by the return.
 */
#include <xen/xen.h>

#define HC_IRET_ENTRY (hypercall_page + __HYPERVISOR_iret * 32)

.macro SAVE_ALL
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
.endm

.macro RESTORE_ALL
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
.endm

/* Exception without an error code from the CPU. */
.macro TRAP_NOEC vec
	.globl trap_entry_\vec
trap_entry_\vec:
	movq (%rsp), %rcx
	movq 8(%rsp), %r11
	addq $16, %rsp
	pushq $0
	pushq $\vec
	jmp trap_common
.endm

/* Exception with an error code (Xen passes it on). */
.macro TRAP_EC vec
	.globl trap_entry_\vec
trap_entry_\vec:
	movq (%rsp), %rcx
	movq 8(%rsp), %r11
	addq $16, %rsp
	pushq $\vec
	jmp trap_common
.endm

	.text
TRAP_NOEC 0
TRAP_NOEC 1
TRAP_NOEC 2
TRAP_NOEC 3
TRAP_NOEC 4
TRAP_NOEC 5
TRAP_NOEC 6
TRAP_NOEC 7
TRAP_EC 8
TRAP_NOEC 9
TRAP_EC 10
TRAP_EC 11
TRAP_EC 12
TRAP_EC 13
TRAP_EC 14
TRAP_NOEC 15
TRAP_NOEC 16
TRAP_EC 17
TRAP_NOEC 18
TRAP_NOEC 19
TRAP_NOEC 20
TRAP_EC 21

/* Calls \fn(frame) on a 16-byte aligned stack, then returns via iret. */
.macro CALL_AND_IRET fn
	SAVE_ALL
	movq %rsp, %rdi
	movq %rsp, %rbx
	andq $-16, %rsp
	call \fn
	movq %rbx, %rsp
	RESTORE_ALL
	addq $16, %rsp          /* vector, error code */
	pushq $0                /* iret_context.flags: not in syscall */
	incq hypercall_counts + __HYPERVISOR_iret * 8(%rip)
	jmp HC_IRET_ENTRY
.endm

	.globl trap_common
trap_common:           /* also KIT_TRAP_ENTRY's (kit/traps.h) */
	CALL_AND_IRET trap_dispatch

	.globl hypervisor_callback
hypervisor_callback:
	movq (%rsp), %rcx
	movq 8(%rsp), %r11
	addq $16, %rsp
	pushq $0
	pushq $-1
	CALL_AND_IRET evtchn_do_upcall

/*
 * Failsafe callback: Xen could not load a segment register on return.  The
 * frame has ds, es, fs, gs below rcx/r11; nothing sensible to retry, so
 * report and crash.
 */
	.globl failsafe_callback
failsafe_callback:
	pushq $0
	pushq $-2
	SAVE_ALL
	movq %rsp, %rdi
	andq $-16, %rsp
	call failsafe_dispatch
	ud2

/* void sched_switch(uint64_t *prev_rsp, uint64_t next_rsp) */
	.globl sched_switch
sched_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

/* First code of a new thread: r12 = struct thread *. */
	.globl thread_trampoline
thread_trampoline:
	movq %r12, %rdi
	call thread_start
	ud2

	.section .note.GNU-stack, "", @progbits
