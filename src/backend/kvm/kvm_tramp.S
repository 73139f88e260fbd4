/*
 * The kvm backend's fixed CPL0 code.  This is not linked into pvisor's own
 * code path: kvm.c copies the bytes between kvm_tramp_start and
 * kvm_tramp_end into the trampoline code page of each VM.  It must be
 * position-independent and use only instructions kvm-pvm's emulator handles
 * (mov, pop, jmp, out, iretq, invlpg, mov to CR3).
 *
 * Queued page-table work does not run here: kvm.c writes it as straight-line
 * code into the vCPU's batch page (two emulated instructions per store,
 * invlpg or CR3 load, see kvm_queue), ending in a tail that pops the guest's
 * rax and irets, or jumps to kvm_tramp_stopped when pvisor wants the vCPU
 * back (a full batch drained, or a kick: then pvisor rewrites the iretq into
 * the same `out`).
 *
 * kvm_tramp_stopped: exit with `out` to KVM_PORT_STOPPED instead of iretq,
 * leaving a precise CPL3 state (GPRs restored, iretq frame at rsp).
 */
#include "backend/kvm/kvm_layout.h"

	.section .rodata, "a"
	.globl kvm_tramp_start, kvm_tramp_end, kvm_tramp_stopped
	.p2align 4
kvm_tramp_start:
kvm_tramp_stopped:
	out	%al, $KVM_PORT_STOPPED
	jmp	kvm_tramp_stopped
kvm_tramp_end:
	.section .note.GNU-stack, "", @progbits
