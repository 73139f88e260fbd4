/*
 * Guest user mode entry and exit (see kit/user.h).
 *
 * long user_enter(rip, rsp, fn, arg): saves the callee-saved registers and
 * the kernel stack pointer, then HYPERVISOR_iret to rip in user mode
 * (FLAT_USER_CS/SS, IF set) with rdi = fn, rsi = arg.  The user side
 * (user_trampoline) calls fn(arg) and makes a `syscall` with the result in
 * rax; Xen bounces that to the syscall callback (user_syscall_entry) in
 * kernel mode, which drops the bounce frame, restores the saved stack and
 * registers and returns rax from user_enter.
 */
#include <xen/xen.h>

#define HC_IRET_ENTRY (hypercall_page + __HYPERVISOR_iret * 32)

	.data
	.balign 8
user_kernel_rsp:
	.quad 0

	.text
	.globl user_enter
user_enter:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, user_kernel_rsp(%rip)
	andq $-16, %rsi
	/* iret_context without rax, r11, rcx (the iret entry pushes them). */
	pushq $FLAT_USER_SS
	pushq %rsi
	pushq $0x202            /* rflags: IF */
	pushq $FLAT_USER_CS
	pushq %rdi
	pushq $0                /* flags: not in syscall */
	movq %rdx, %rdi
	movq %rcx, %rsi
	jmp HC_IRET_ENTRY

	.globl user_trampoline
user_trampoline:               /* user mode: rdi = fn, rsi = arg */
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	movq %rax, %rdi
	/* fall through */
	.globl user_exit
user_exit:                     /* user mode: rdi = value */
	movq %rdi, %rax
	syscall
	ud2

	.globl user_syscall_entry
user_syscall_entry:            /* kernel mode, rax = the user's value */
	movq user_kernel_rsp(%rip), %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
