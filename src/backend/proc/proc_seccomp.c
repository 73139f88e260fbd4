/*
 * The guest process's seccomp filter.  libseccomp generates the rules with
 * their argument checks; in front of them goes a short hand-written fence
 * that libseccomp cannot express: the system call must come from the stub's
 * code (seccomp_data.instruction_pointer), so guest code never reaches even
 * an allowed call with its own instruction.
 */
#include "backend/proc/proc_seccomp.h"

#include <errno.h>
#include <asm/prctl.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pvisor/abi.h>

#include "backend/proc/proc_layout.h"
#include "core/bpf_prog.h"

#define CTL_ADDR(off) ((uint64_t)PROC_STUB_BASE + PROC_CTL_OFF + (off))

static int add_rules(scmp_filter_ctx ctx, int memfd, bool set_fsgs)
{
	const uint64_t lim = PVISOR_GUEST_VA_LIMIT;
	int r = 0;

	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigreturn), 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(futex), 2,
			      SCMP_A0(SCMP_CMP_EQ, CTL_ADDR(CTL_TO_GUEST)),
			      SCMP_A1(SCMP_CMP_EQ, FUTEX_WAIT));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(futex), 2,
			      SCMP_A0(SCMP_CMP_EQ, CTL_ADDR(CTL_TO_HOST)),
			      SCMP_A1(SCMP_CMP_EQ, FUTEX_WAKE));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 5,
			      SCMP_A0(SCMP_CMP_LT, lim),
			      SCMP_A1(SCMP_CMP_LE, lim),
			      SCMP_A2(SCMP_CMP_MASKED_EQ, ~7ull, 0),
			      SCMP_A3(SCMP_CMP_EQ, MAP_SHARED | MAP_FIXED),
			      SCMP_A4(SCMP_CMP_EQ, (uint64_t)memfd));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 3,
			      SCMP_A0(SCMP_CMP_LT, lim),
			      SCMP_A1(SCMP_CMP_LE, lim),
			      SCMP_A2(SCMP_CMP_MASKED_EQ, ~7ull, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(munmap), 2,
			      SCMP_A0(SCMP_CMP_LT, lim),
			      SCMP_A1(SCMP_CMP_LE, lim));
	/* Hosts without FSGSBASE: the stub loads fs/gs base this way. */
	if (set_fsgs) {
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl),
				      1, SCMP_A0(SCMP_CMP_EQ, ARCH_SET_FS));
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl),
				      1, SCMP_A0(SCMP_CMP_EQ, ARCH_SET_GS));
	}
	return r ? -EINVAL : 0;
}

/* Traps unless seccomp_data.instruction_pointer is in the stub code. */
static const struct sock_filter ip_fence[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		 offsetof(struct seccomp_data, instruction_pointer) + 4),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(PROC_STUB_BASE >> 32), 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		 offsetof(struct seccomp_data, instruction_pointer)),
	/* ip is the address after the syscall instruction. */
	BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K,
		 (uint32_t)PROC_STUB_BASE + PROC_CODE_SIZE, 1, 0),
	BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
};

int proc_seccomp_compile(int memfd, bool set_fsgs, struct sock_filter *prog,
			 size_t max, size_t *len)
{
	const size_t nfence = sizeof(ip_fence) / sizeof(ip_fence[0]);
	scmp_filter_ctx ctx;
	int err;

	if (memfd < 0 || max < nfence)
		return -EINVAL;
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	/* int $0x80 and x32 calls trap too, instead of killing. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	if (!err)
		err = add_rules(ctx, memfd, set_fsgs);
	if (!err) {
		memcpy(prog, ip_fence, sizeof(ip_fence));
		err = bpf_export(ctx, prog, nfence, max, len);
	}
	seccomp_release(ctx);
	return err;
}
