/*
 * The proc backend's stub: position-independent code that pvisor copies to
 * PROC_STUB_BASE in each guest process.  It is the only code of that
 * process besides the guest's own: it drops the mappings inherited from
 * pvisor, loads the seccomp filter, and then carries every transition
 * between the guest and pvisor through the control page (the doorbell).
 *
 * Everything here addresses the control page rip-relative, so the code
 * works wherever the region sits, as long as the layout of
 * proc_layout.h holds.  It uses no libc, no stack of the guest, and only
 * the system calls that the filter allows from this code.
 */
#include "backend/proc/proc_layout.h"

#define SYS_mmap 9
#define SYS_mprotect 10
#define SYS_munmap 11
#define SYS_rt_sigreturn 15
#define SYS_arch_prctl 158
#define SYS_futex 202
#define SYS_exit_group 231
#define SYS_seccomp 317
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define MAP_SHARED_FIXED 0x11
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002

#define C(off) (.Lbase + PROC_CTL_OFF + (off))(%rip)
#define R(reg) C(CTL_REGS + reg)

/* ucontext_t: uc_mcontext.gregs at 40, uc_sigmask at 296. */
#define UC_GREG(n) (40 + 8 * (n))(%rdx)
#define G_R8 0
#define G_R9 1
#define G_R10 2
#define G_R11 3
#define G_R12 4
#define G_R13 5
#define G_R14 6
#define G_R15 7
#define G_RDI 8
#define G_RSI 9
#define G_RBP 10
#define G_RBX 11
#define G_RDX 12
#define G_RAX 13
#define G_RCX 14
#define G_RSP 15
#define G_RIP 16
#define G_EFL 17
#define G_ERR 19
#define G_TRAPNO 20
#define G_CR2 22
#define UC_SIGMASK 296(%rdx)
/* siginfo_t._sigsys: _syscall at 24, _arch at 28. */
#define SI_SYSCALL 24
#define SI_ARCH 28

/*
 * fs/gs base.  Where the host enables FSGSBASE (CTL_F_FSGSBASE) the stub
 * reads and writes the bases with rd/wr{fs,gs}base.  Elsewhere it loads
 * them with arch_prctl(ARCH_SET_FS/GS), and only a base that differs from
 * what this process last loaded (ctl loaded_fs/gs), so exits that leave
 * the bases alone make no system call.  The guest cannot change a base
 * itself there (the instructions #UD) except by loading a selector into
 * %fs/%gs; a non-null one means the base is that host descriptor's, 0,
 * which save_fsgs notices from the selector.  (A null selector is what
 * Linux's own context switch assumes too: the base stays what was loaded.)
 */

/* One base from pvisor's copy: 0 if a non-null selector is loaded. */
.macro save_base_copy sreg, loaded, slot
	xor %eax, %eax
	mov \sreg, %ax
	test %eax, %eax
	jz 85f
	movq $0, C(\loaded)
85:	mov C(\loaded), %rax
	mov %rax, R(\slot)
.endm

/* Publishes the guest's bases to ctl regs.  Clobbers rax. */
.macro save_fsgs
	testl $CTL_F_FSGSBASE, C(CTL_FLAGS)
	jz 81f
	rdfsbase %rax
	mov %rax, R(R_FS)
	rdgsbase %rax
	mov %rax, R(R_GS)
	jmp 82f
81:	save_base_copy %fs, CTL_LOADED_FS, R_FS
	save_base_copy %gs, CTL_LOADED_GS, R_GS
82:
.endm

/*
 * One base with arch_prctl(code), if it differs from the loaded one; a
 * refusal ends the process (PROC_STUB_EXIT_FSGS).
 */
.macro load_base_prctl code, loaded, slot
	mov R(\slot), %rsi
	cmp C(\loaded), %rsi
	je 75f
	mov $\code, %edi
	mov $SYS_arch_prctl, %eax
	syscall
	incq C(CTL_FSGS_LOADS)
	test %rax, %rax
	jnz .Lfsgs_refused
	mov %rsi, C(\loaded)
75:
.endm

/* Loads ctl regs' bases.  Clobbers rax, rcx, rsi, rdi, r11. */
.macro load_fsgs
	testl $CTL_F_FSGSBASE, C(CTL_FLAGS)
	jz 71f
	mov R(R_FS), %rax
	wrfsbase %rax
	mov R(R_GS), %rax
	wrgsbase %rax
	jmp 72f
71:	load_base_prctl ARCH_SET_FS, CTL_LOADED_FS, R_FS
	load_base_prctl ARCH_SET_GS, CTL_LOADED_GS, R_GS
72:
.endm

	.section .rodata.proc_stub, "a"
	.p2align 12
	.globl proc_stub_start, proc_stub_end, proc_stub_entry
	.globl proc_stub_hypercall, proc_stub_signal, proc_stub_restorer
	.globl proc_stub_resume, proc_stub_resume_end
proc_stub_start:
.Lbase:

/*
 * First code of the guest process, on the stub stack, with the stub region
 * in place and the signal handlers installed.  Drops every other mapping,
 * locks the process down, and waits for the first command.
 */
proc_stub_entry:
	xor %edi, %edi
	lea .Lbase(%rip), %rsi
	mov $SYS_munmap, %eax
	syscall
	lea (.Lbase + PROC_REGION_SIZE)(%rip), %rdi
	movabs $PROC_USER_TOP, %rsi
	sub %rdi, %rsi
	mov $SYS_munmap, %eax
	syscall
	mov $SYS_seccomp, %eax
	mov $1, %edi			/* SECCOMP_SET_MODE_FILTER */
	xor %esi, %esi
	lea C(CTL_FPROG), %rdx
	syscall
	test %rax, %rax
	jnz 1f
	movl $PROC_EXIT_READY, C(CTL_EXIT)
	call doorbell
	jmp .Lresume
1:	mov $PROC_STUB_EXIT_SECCOMP, %edi
	mov $SYS_exit_group, %eax
	syscall
	ud2

/*
 * Rings pvisor (ctl->exit already says why) and waits for its command:
 * spin ctl->spin rounds, then sleep in futex.  PROC_CMD_OPS batches are
 * executed here and answered with PROC_EXIT_OPS_DONE; returns on
 * PROC_CMD_RESUME, and on PROC_CMD_OPS_RESUME once its batch is done
 * without error (a failed one is answered as PROC_CMD_OPS).  Clobbers every
 * register but rsp.
 */
doorbell:
	mov C(CTL_TO_GUEST), %r12d
.Lring:
	mov C(CTL_TO_HOST), %eax
	inc %eax
	xchg %eax, C(CTL_TO_HOST)	/* full barrier before the flag */
	cmpl $0, C(CTL_HOST_WAITING)
	je .Lspin
	lea C(CTL_TO_HOST), %rdi
	mov $FUTEX_WAKE, %esi
	mov $1, %edx
	mov $SYS_futex, %eax
	syscall
.Lspin:
	mov C(CTL_SPIN), %ecx
	test %ecx, %ecx
	jz .Lsleep
1:	cmp C(CTL_TO_GUEST), %r12d
	jne .Lgot
	pause
	dec %ecx
	jnz 1b
.Lsleep:
	mov $1, %eax
	xchg %eax, C(CTL_GUEST_WAITING)	/* full barrier before the check */
	cmp C(CTL_TO_GUEST), %r12d
	jne .Lgot
	lea C(CTL_TO_GUEST), %rdi
	mov $FUTEX_WAIT, %esi
	mov %r12d, %edx
	xor %r10d, %r10d
	mov $SYS_futex, %eax
	syscall
	jmp .Lsleep
.Lgot:
	movl $0, C(CTL_GUEST_WAITING)
	mov C(CTL_TO_GUEST), %r12d
	cmpl $PROC_CMD_OPS, C(CTL_CMD)
	je .Lops
	cmpl $PROC_CMD_OPS_RESUME, C(CTL_CMD)
	jne .Lreturn
	call run_ops
	cmpq $0, C(CTL_OP_ERR)
	je .Lreturn			/* the batch done: resume */
	jmp .Lops_done			/* failed: pvisor hears why */
.Lops:
	call run_ops
.Lops_done:
	movl $PROC_EXIT_OPS_DONE, C(CTL_EXIT)
	jmp .Lring
.Lreturn:
	ret

/* Executes the mirror batch; the first error goes to ctl->op_err. */
run_ops:
	lea (.Lbase + PROC_OPS_OFF)(%rip), %rbx
	mov C(CTL_NR_OPS), %r13
	cmp $PROC_MAX_OPS, %r13
	jbe 1f
	mov $PROC_MAX_OPS, %r13
1:	test %r13, %r13
	jz 9f
	mov OP_ADDR(%rbx), %rdi
	mov OP_LEN(%rbx), %rsi
	mov OP_PROT(%rbx), %edx
	mov OP_KIND(%rbx), %eax
	cmp $PROC_OP_MMAP, %eax
	jne 2f
	mov $MAP_SHARED_FIXED, %r10d
	mov C(CTL_MEMFD), %r8
	mov OP_OFF(%rbx), %r9
	mov $SYS_mmap, %eax
	jmp 5f
2:	cmp $PROC_OP_MPROTECT, %eax
	jne 3f
	mov $SYS_mprotect, %eax
	jmp 5f
3:	cmp $PROC_OP_MUNMAP, %eax
	jne 6f
	mov $SYS_munmap, %eax
5:	syscall
	cmp $-4095, %rax
	jb 6f
	cmpq $0, C(CTL_OP_ERR)
	jne 6f
	mov %rax, C(CTL_OP_ERR)
6:	add $PROC_OP_SIZE, %rbx
	dec %r13
	jmp 1b
9:	ret

/*
 * Hypercall page entries jump here with rax = hypercall number, rcx = the
 * guest rip to resume at, r11 = this address (Xen's ABI clobbers rcx and
 * r11).  The guest's stack is not touched.
 */
proc_stub_hypercall:
	mov %rax, R(R_RAX)
	mov %rbx, R(R_RBX)
	mov %rcx, R(R_RCX)
	mov %rdx, R(R_RDX)
	mov %rsi, R(R_RSI)
	mov %rdi, R(R_RDI)
	mov %rbp, R(R_RBP)
	mov %rsp, R(R_RSP)
	mov %r8, R(R_R8)
	mov %r9, R(R_R9)
	mov %r10, R(R_R10)
	mov %r11, R(R_R11)
	mov %r12, R(R_R12)
	mov %r13, R(R_R13)
	mov %r14, R(R_R14)
	mov %r15, R(R_R15)
	mov %rcx, R(R_RIP)
	lea (.Lbase + PROC_STACK_OFF + PROC_STACK_SIZE)(%rip), %rsp
	pushfq
	pop %rax
	mov %rax, R(R_RFLAGS)
	save_fsgs
	movl $PROC_EXIT_HYPERCALL, C(CTL_EXIT)
	call doorbell
	/* fall through */

/*
 * Loads ctl regs and jumps to the guest.  A kick that lands in
 * [proc_stub_resume, proc_stub_resume_end) is handled as if it had hit the
 * guest at ctl regs (see proc_stub_signal); one that landed earlier in the
 * stub was latched, and is reported here.
 */
proc_stub_resume:
.Lresume:
	cmpl $0, C(CTL_KICK_LATCH)
	jne .Llatched
	testl $PROC_RFLAGS_TF, R(R_RFLAGS)
	jnz .Ltf
	load_fsgs
	mov R(R_RFLAGS), %rax
	and $PROC_RFLAGS_DIRECT, %rax
	or $2, %rax
	push %rax
	popfq
	mov R(R_RAX), %rax
	mov R(R_RBX), %rbx
	mov R(R_RCX), %rcx
	mov R(R_RDX), %rdx
	mov R(R_RSI), %rsi
	mov R(R_RDI), %rdi
	mov R(R_RBP), %rbp
	mov R(R_R8), %r8
	mov R(R_R9), %r9
	mov R(R_R10), %r10
	mov R(R_R11), %r11
	mov R(R_R12), %r12
	mov R(R_R13), %r13
	mov R(R_R14), %r14
	mov R(R_R15), %r15
	mov R(R_RSP), %rsp
	jmp *R(R_RIP)
	/* TF cannot go through popfq (the trap would hit the stub): fault
	 * here, inside the resume window, and proc_stub_signal reports it as
	 * a kick at ctl regs, whose return (sigreturn) restores every flag. */
.Ltf:
	ud2
proc_stub_resume_end:
.Lresume_end:
.Llatched:
	movl $0, C(CTL_KICK_LATCH)
	lea (.Lbase + PROC_STACK_OFF + PROC_STACK_SIZE)(%rip), %rsp
	movl $PROC_EXIT_KICK, C(CTL_EXIT)
	call doorbell
	jmp .Lresume

.Lfsgs_refused:
	mov $PROC_STUB_EXIT_FSGS, %edi
	mov $SYS_exit_group, %eax
	syscall
	ud2

/*
 * The handler for every signal the guest can cause (SA_SIGINFO|SA_ONSTACK,
 * kicks blocked while it runs): edi = signal, rsi = siginfo, rdx =
 * ucontext.  Publishes the interrupted context, waits for pvisor, writes
 * ctl regs back into the ucontext and returns through sigreturn.
 */
proc_stub_signal:
	mov UC_GREG(G_RIP), %rax
	lea .Lbase(%rip), %rcx
	sub %rcx, %rax
	cmp $PROC_REGION_SIZE, %rax
	jae .Lguest
	mov UC_GREG(G_RIP), %rax
	lea .Ltf(%rip), %rcx
	cmp %rcx, %rax
	jne 1f
	cmp $SIGILL_, %edi
	jne 1f
	mov $PROC_KICK_SIG, %edi       /* the resume with TF (above) */
	push %rdx
	jmp .Lpublish
1:	cmp $PROC_KICK_SIG, %edi
	jne .Lstubfault
	/* A kick inside the stub.  In the resume window the guest state is
	 * exactly ctl regs; elsewhere an exit is under way or ahead, and the
	 * latch makes proc_stub_resume report it. */
	mov UC_GREG(G_RIP), %rax
	lea .Lresume(%rip), %rcx
	cmp %rcx, %rax
	jb .Llatch
	lea .Lresume_end(%rip), %rcx
	cmp %rcx, %rax
	jae .Llatch
	push %rdx
	jmp .Lpublish
.Llatch:
	movl $1, C(CTL_KICK_LATCH)
	ret
.Lstubfault:
	mov %rax, C(CTL_FAULT_RIP)
	mov UC_GREG(G_TRAPNO), %rax
	mov %rax, C(CTL_TRAPNO)
	mov UC_GREG(G_ERR), %rax
	mov %rax, C(CTL_ERR)
	mov UC_GREG(G_CR2), %rax
	mov %rax, C(CTL_CR2)
	mov %edi, C(CTL_SIG)
	movl $PROC_EXIT_STUB_FAULT, C(CTL_EXIT)
	mov $PROC_STUB_EXIT_FAULT, %edi
	mov $SYS_exit_group, %eax
	syscall
	ud2
.Lguest:
	push %rdx
	mov UC_GREG(G_RAX), %rax
	mov %rax, R(R_RAX)
	mov UC_GREG(G_RBX), %rax
	mov %rax, R(R_RBX)
	mov UC_GREG(G_RCX), %rax
	mov %rax, R(R_RCX)
	mov UC_GREG(G_RDX), %rax
	mov %rax, R(R_RDX)
	mov UC_GREG(G_RSI), %rax
	mov %rax, R(R_RSI)
	mov UC_GREG(G_RDI), %rax
	mov %rax, R(R_RDI)
	mov UC_GREG(G_RBP), %rax
	mov %rax, R(R_RBP)
	mov UC_GREG(G_RSP), %rax
	mov %rax, R(R_RSP)
	mov UC_GREG(G_R8), %rax
	mov %rax, R(R_R8)
	mov UC_GREG(G_R9), %rax
	mov %rax, R(R_R9)
	mov UC_GREG(G_R10), %rax
	mov %rax, R(R_R10)
	mov UC_GREG(G_R11), %rax
	mov %rax, R(R_R11)
	mov UC_GREG(G_R12), %rax
	mov %rax, R(R_R12)
	mov UC_GREG(G_R13), %rax
	mov %rax, R(R_R13)
	mov UC_GREG(G_R14), %rax
	mov %rax, R(R_R14)
	mov UC_GREG(G_R15), %rax
	mov %rax, R(R_R15)
	mov UC_GREG(G_RIP), %rax
	mov %rax, R(R_RIP)
	mov UC_GREG(G_EFL), %rax
	mov %rax, R(R_RFLAGS)
	save_fsgs
	mov UC_GREG(G_TRAPNO), %rax
	mov %rax, C(CTL_TRAPNO)
	mov UC_GREG(G_ERR), %rax
	mov %rax, C(CTL_ERR)
	mov UC_GREG(G_CR2), %rax
	mov %rax, C(CTL_CR2)
	movslq SI_SYSCALL(%rsi), %rax
	mov %rax, C(CTL_SYSNR)
	movl SI_ARCH(%rsi), %eax
	mov %rax, C(CTL_SYSARCH)
.Lpublish:
	mov %edi, C(CTL_SIG)
	movl $PROC_EXIT_SIGNAL, C(CTL_EXIT)
	call doorbell
	pop %rdx
	mov R(R_RAX), %rax
	mov %rax, UC_GREG(G_RAX)
	mov R(R_RBX), %rax
	mov %rax, UC_GREG(G_RBX)
	mov R(R_RCX), %rax
	mov %rax, UC_GREG(G_RCX)
	mov R(R_RDX), %rax
	mov %rax, UC_GREG(G_RDX)
	mov R(R_RSI), %rax
	mov %rax, UC_GREG(G_RSI)
	mov R(R_RDI), %rax
	mov %rax, UC_GREG(G_RDI)
	mov R(R_RBP), %rax
	mov %rax, UC_GREG(G_RBP)
	mov R(R_RSP), %rax
	mov %rax, UC_GREG(G_RSP)
	mov R(R_R8), %rax
	mov %rax, UC_GREG(G_R8)
	mov R(R_R9), %rax
	mov %rax, UC_GREG(G_R9)
	mov R(R_R10), %rax
	mov %rax, UC_GREG(G_R10)
	mov R(R_R11), %rax
	mov %rax, UC_GREG(G_R11)
	mov R(R_R12), %rax
	mov %rax, UC_GREG(G_R12)
	mov R(R_R13), %rax
	mov %rax, UC_GREG(G_R13)
	mov R(R_R14), %rax
	mov %rax, UC_GREG(G_R14)
	mov R(R_R15), %rax
	mov %rax, UC_GREG(G_R15)
	mov R(R_RIP), %rax
	mov %rax, UC_GREG(G_RIP)
	mov R(R_RFLAGS), %rax
	mov %rax, UC_GREG(G_EFL)
	load_fsgs
	movq $0, UC_SIGMASK		/* a forged frame cannot keep kicks blocked */
	ret

proc_stub_restorer:
	mov $SYS_rt_sigreturn, %eax
	syscall
	ud2

proc_stub_end:
	/* proc.c checks that the code fits PROC_CODE_SIZE. */

	.section .note.GNU-stack, "", @progbits
