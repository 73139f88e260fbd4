/*
 * Boot entry, Xen ELF notes and the hypercall page.  Xen starts a PV guest
 * at ENTRY with rsi = start_info; the kit switches to its own boot stack
 * and calls start_kernel(start_info).
 */
#include <xen/elfnote.h>
#include <xen/xen.h>
#include <pvisor/abi.h>

#define ELFNOTE(type, desctype, descdata)	\
	.pushsection .note.xen, "a", @note;	\
	.p2align 2;				\
	.long 2f - 1f;				\
	.long 4f - 3f;				\
	.long type;				\
1:	.asciz "Xen";				\
2:	.p2align 2;				\
3:	desctype descdata;			\
4:	.p2align 2;				\
	.popsection

ELFNOTE(XEN_ELFNOTE_GUEST_OS, .asciz, "pvisor-kit")
ELFNOTE(XEN_ELFNOTE_GUEST_VERSION, .asciz, "1")
ELFNOTE(XEN_ELFNOTE_XEN_VERSION, .asciz, "xen-3.0")
ELFNOTE(XEN_ELFNOTE_LOADER, .asciz, "generic")
ELFNOTE(XEN_ELFNOTE_VIRT_BASE, .quad, PVISOR_KIT_VIRT_BASE)
ELFNOTE(XEN_ELFNOTE_PADDR_OFFSET, .quad, PVISOR_KIT_VIRT_BASE)
ELFNOTE(XEN_ELFNOTE_ENTRY, .quad, _start)
ELFNOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad, hypercall_page)
ELFNOTE(XEN_ELFNOTE_FEATURES, .asciz, "")

#define BOOT_STACK_SIZE 65536

	.section .text.head, "ax"
	.globl _start
_start:
	cld
	movq %rsi, %rdi                 /* start_info */
	movq %rsp, %rsi                 /* top of Xen's boot stack */
	leaq boot_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	call start_kernel
	/* start_kernel does not return; stop hard if it does. */
	ud2

	/* Filled by pvisor at boot (Xen's HYPERCALL_PAGE note).  int3 until
	 * then, so a guest run without it stops at once. */
	.section .text.hypercall_page, "ax"
	.p2align 12
	.globl hypercall_page
hypercall_page:
	.fill 4096, 1, 0xcc

	.section .bss
	.p2align 12
	.globl boot_stack
boot_stack:
	.skip BOOT_STACK_SIZE
	.globl boot_stack_top
boot_stack_top:

	/* A page-aligned VA for shared_info: start_kernel maps the machine
	 * frame from start_info.shared_info here (its RAM frame stays unused). */
	.p2align 12
	.globl shared_info_page
shared_info_page:
	.skip 4096

	.section .note.GNU-stack, "", @progbits
