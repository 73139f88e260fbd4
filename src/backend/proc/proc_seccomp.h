/* The guest process's seccomp filter (see docs/proc-backend.md). */
#ifndef PVISOR_PROC_SECCOMP_H
#define PVISOR_PROC_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Compiles, with libseccomp, the filter for a guest process whose memory
 * is fd `memfd`: system calls issued from outside the stub code, and every
 * call the transport does not need, return SECCOMP_RET_TRAP (SIGSYS); the
 * rest are allowed with argument checks (futex on the doorbell words only;
 * mmap, mprotect, munmap below PVISOR_GUEST_VA_LIMIT, mmap only
 * MAP_SHARED|MAP_FIXED of the memfd; rt_sigreturn; exit_group; with
 * `set_fsgs`, arch_prctl with ARCH_SET_FS or ARCH_SET_GS and no other
 * code).  Writes at most `max` instructions to prog and their count to
 * *len.  0 or -errno.  pvisor runs the build's compilation of it
 * (core/seccomp_programs.h); this one is the generator's and the tests'.
 */
int proc_seccomp_compile(int memfd, bool set_fsgs, struct sock_filter *prog,
			 size_t max, size_t *len)
	__attribute__((warn_unused_result));

#endif
