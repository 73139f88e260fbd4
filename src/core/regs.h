/* The vCPU register file as pvisor sees it, independent of the backend. */
#ifndef PVISOR_REGS_H
#define PVISOR_REGS_H

#include <stdint.h>

struct regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t fs_base;
	uint64_t gs_base; /* the GS base active now */
	uint16_t cs, ss;  /* Xen's flat ring-3 selectors for a PV guest */
};

#define RFLAGS_IF (1ul << 9)
#define RFLAGS_RESERVED1 (1ul << 1)

#endif
