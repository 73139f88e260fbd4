/*
 * The kvm backend's CPL0 trampoline routine.  This is not linked into
 * pvisor's own code path: kvm.c copies the bytes between kvm_tramp_start and
 * kvm_tramp_end into the trampoline code page of each VM.  It must be
 * position-independent and use only instructions kvm-pvm's emulator handles
 * (mov, test, add, dec, jcc, pop, cmp, invlpg, mov-to-cr3, out, iretq).
 *
 * Entry (set by pvisor): rsi = first batch entry, rcx = entry count, the
 * guest's rdi, rsi, rcx, rax pushed (in that order from rsp up) right below
 * an iretq frame that returns to the guest at CPL3.  Every other register
 * already holds the guest's value.  A batch entry is two quadwords
 * {op, value}: op low bits 0 = store value at op (a supervisor direct-map
 * address), 1 = invlpg op & ~7, 2 = load cr3 from value.
 *
 * Before iretq the routine checks the stop flag (first quadword of the
 * vCPU's stack page, KVM_STOP_DISP bytes from rsp once the frame is on top);
 * if pvisor set it, the routine exits with `out` to KVM_PORT_STOPPED instead,
 * leaving a precise CPL3 state (GPRs restored, frame at rsp).
 *
 * kvm_tramp_store1 is the same for a batch of exactly one store, entered
 * with rdi = address, rax = value and only the guest's rdi, rax pushed.
 */
#include "backend/kvm/kvm_layout.h"

	.section .rodata, "a"
	.globl kvm_tramp_start, kvm_tramp_end, kvm_tramp_routine, kvm_tramp_iretq
	.globl kvm_tramp_store1
	.p2align 4
kvm_tramp_start:
kvm_tramp_routine:
	test	%rcx, %rcx
	jz	3f
1:	mov	(%rsi), %rdi
	mov	8(%rsi), %rax
	test	$3, %edi
	jnz	4f
	mov	%rax, (%rdi)
2:	add	$16, %rsi
	dec	%rcx
	jnz	1b
3:	pop	%rdi
	pop	%rsi
	pop	%rcx
	pop	%rax
	cmpq	$0, KVM_STOP_DISP(%rsp)
	jne	5f
kvm_tramp_iretq:
	iretq
5:	out	%al, $KVM_PORT_STOPPED
	jmp	5b
	/* One store, the commonest batch (a single mmu_update or emulated
	 * page-table write): rdi = address, rax = value; the guest's rdi and
	 * rax pushed below the frame.  6 emulated instructions instead of 17. */
kvm_tramp_store1:
	mov	%rax, (%rdi)
	pop	%rdi
	pop	%rax
	cmpq	$0, KVM_STOP_DISP(%rsp)
	jne	5b
	iretq
4:	test	$1, %edi
	jz	6f
	and	$-8, %rdi
	invlpg	(%rdi)
	jmp	2b
6:	mov	%rax, %cr3
	jmp	2b
kvm_tramp_end:
	.section .note.GNU-stack, "", @progbits
