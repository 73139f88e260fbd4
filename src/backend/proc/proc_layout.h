/*
 * The proc backend's stub region, shared by the C side (pvisor) and the
 * assembly stub that runs inside the guest process.  One region per vCPU
 * process, at PROC_STUB_BASE in that process (anywhere in pvisor):
 *
 *   +0x00000  stub code (copied from proc_stub.S; read+exec in the guest)
 *   +0x02000  control page (doorbell, registers, exit information)
 *   +0x03000  seccomp BPF program (read once, by the stub at start)
 *   +0x10000  mirror operations (mmap/munmap/mprotect batch)
 *   +0x50000  stub stack (initial entry and the hypercall path)
 *   +0x60000  signal stack (sigaltstack)
 *
 * Everything but the code is writable by the guest: pvisor reads what the
 * guest process publishes once, validates the copy, and never trusts it
 * beyond "the guest can only hurt itself".
 */
#ifndef PVISOR_PROC_LAYOUT_H
#define PVISOR_PROC_LAYOUT_H

#define PROC_STUB_BASE 0x7f0000000000 /* == PVISOR_GUEST_VA_LIMIT */
#define PROC_CODE_OFF 0x0
#define PROC_CODE_SIZE 0x2000
#define PROC_CTL_OFF 0x2000
#define PROC_BPF_OFF 0x3000
#define PROC_BPF_SIZE 0xd000
#define PROC_OPS_OFF 0x10000
#define PROC_OPS_SIZE 0x40000
#define PROC_OP_SIZE 32
#define PROC_MAX_OPS (PROC_OPS_SIZE / PROC_OP_SIZE)
#define PROC_STACK_OFF 0x50000
#define PROC_STACK_SIZE 0x10000
#define PROC_ALTSTACK_OFF 0x60000
#define PROC_ALTSTACK_SIZE 0x10000
#define PROC_REGION_SIZE 0x70000

/* Top of the user address space (4-level paging). */
#define PROC_USER_TOP 0x7ffffffff000

/* Control page fields (byte offsets). */
#define CTL_TO_HOST 0x00       /* u32: exit sequence, bumped by the stub */
#define CTL_HOST_WAITING 0x04  /* u32: pvisor sleeps in futex(to_host) */
#define CTL_TO_GUEST 0x40      /* u32: command sequence, bumped by pvisor */
#define CTL_GUEST_WAITING 0x44 /* u32: the stub sleeps in futex(to_guest) */
#define CTL_EXIT 0x80          /* u32: PROC_EXIT_* */
#define CTL_CMD 0x84           /* u32: PROC_CMD_* */
#define CTL_SIG 0x88           /* u32: signal number (PROC_EXIT_SIGNAL) */
#define CTL_SPIN 0x8c          /* u32: pause iterations before futex wait */
#define CTL_NR_OPS 0x90        /* u64: ops in the batch (PROC_CMD_OPS) */
#define CTL_OP_ERR 0x98        /* u64: first failing op's -errno, or 0 */
#define CTL_TRAPNO 0xa0        /* u64: REG_TRAPNO */
#define CTL_ERR 0xa8           /* u64: REG_ERR */
#define CTL_CR2 0xb0           /* u64: REG_CR2 */
#define CTL_SYSNR 0xb8         /* u64: si_syscall (SIGSYS) */
#define CTL_SYSARCH 0xc0       /* u64: si_arch (SIGSYS) */
#define CTL_MEMFD 0xc8         /* u64: the memfd's number */
#define CTL_FPROG 0xd0         /* struct sock_fprog (16 bytes) */
#define CTL_KICK_LATCH 0xe0    /* u32: kick seen inside the stub */
#define CTL_FLAGS 0xe4         /* u32: CTL_F_* (how the stub works) */
#define CTL_FAULT_RIP 0xe8     /* u64: stub-relative rip of a stub fault */
#define CTL_LOADED_FS 0xf0     /* u64: fs base this process last loaded */
#define CTL_LOADED_GS 0xf8     /* u64: gs base this process last loaded */
#define CTL_REGS 0x100         /* struct regs, first 20 quadwords */
#define CTL_FSGS_LOADS 0x1a0   /* u64: arch_prctl calls made (statistics) */

/* ctl->flags */
#define CTL_F_FSGSBASE 1 /* the host enables rd/wr{fs,gs}base */

/*
 * ctl->loaded_fs/gs before the first load: not canonical, so it never
 * equals a base pvisor hands over (vcpu_run checks those are canonical).
 */
#define PROC_BASE_UNKNOWN 0x8000000000000000

/* Register slots in CTL_REGS, the order of struct regs (core/regs.h). */
#define R_RAX 0x00
#define R_RBX 0x08
#define R_RCX 0x10
#define R_RDX 0x18
#define R_RSI 0x20
#define R_RDI 0x28
#define R_RBP 0x30
#define R_RSP 0x38
#define R_R8 0x40
#define R_R9 0x48
#define R_R10 0x50
#define R_R11 0x58
#define R_R12 0x60
#define R_R13 0x68
#define R_R14 0x70
#define R_R15 0x78
#define R_RIP 0x80
#define R_RFLAGS 0x88
#define R_FS 0x90
#define R_GS 0x98

/* ctl->exit: why the stub rang the doorbell. */
#define PROC_EXIT_READY 1     /* set up, waiting for the first command */
#define PROC_EXIT_HYPERCALL 2 /* hypercall page entry */
#define PROC_EXIT_SIGNAL 3    /* fault, SIGSYS or kick in guest code */
#define PROC_EXIT_OPS_DONE 4  /* a PROC_CMD_OPS batch was executed */
#define PROC_EXIT_KICK 5      /* a kick latched inside the stub */
#define PROC_EXIT_STUB_FAULT 6 /* the stub itself faulted (then it exits) */

/* ctl->cmd: what pvisor asks for. */
#define PROC_CMD_RESUME 1 /* load ctl regs and run the guest */
#define PROC_CMD_OPS 2    /* execute the op batch, then ring again */
#define PROC_CMD_OPS_RESUME 3 /* the op batch, then resume: one round trip
				 (an op failed: PROC_EXIT_OPS_DONE instead) */

/* One mirror operation (PROC_OP_SIZE bytes). */
#define OP_KIND 0x00 /* u32 PROC_OP_* */
#define OP_PROT 0x04 /* u32 PROT_* */
#define OP_ADDR 0x08
#define OP_LEN 0x10
#define OP_OFF 0x18
#define PROC_OP_MMAP 1
#define PROC_OP_MUNMAP 2
#define PROC_OP_MPROTECT 3

/* Signals. SIGUSR1 kicks (it coalesces, unlike a real-time signal). */
#define PROC_KICK_SIG 10

/* Stub exit codes (the guest process's exit status). */
#define PROC_STUB_EXIT_SECCOMP 0x70
#define PROC_STUB_EXIT_FAULT 0x71
#define PROC_STUB_EXIT_SETUP 0x72
#define PROC_STUB_EXIT_FSGS 0x73 /* arch_prctl refused a base */

/*
 * Flags the direct resume path restores: CF PF AF ZF SF DF OF AC and the
 * always-one bit.  TF goes through the signal path only (a trap after
 * popfq would hit the stub): with TF set the resume faults on purpose
 * inside the resume window (.Ltf) and returns through sigreturn.
 */
#define PROC_RFLAGS_DIRECT 0x40cd7
#define PROC_RFLAGS_TF 0x100
#define SIGILL_ 4 /* for the stub (no <signal.h> in assembly) */

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* Offsets of the stub's entry points inside the copied code. */
extern const char proc_stub_start[], proc_stub_end[];
extern const char proc_stub_entry[], proc_stub_hypercall[];
extern const char proc_stub_signal[], proc_stub_restorer[];
extern const char proc_stub_resume[], proc_stub_resume_end[];

static inline uint64_t proc_stub_addr(const char *sym)
{
	return PROC_STUB_BASE + (uint64_t)(sym - proc_stub_start);
}

struct proc_op {
	uint32_t kind;
	uint32_t prot;
	uint64_t addr;
	uint64_t len;
	uint64_t off;
};
_Static_assert(sizeof(struct proc_op) == PROC_OP_SIZE, "op layout");
_Static_assert(offsetof(struct proc_op, off) == OP_OFF, "op layout");
#endif

#endif
