/*
 * Seccomp programs compiled when pvisor is built: tools/gen_seccomp.c runs
 * libseccomp over the rules of core/sandbox_seccomp.c and
 * backend/proc/proc_seccomp.c once, at build time.  A start copies the
 * program it needs, puts in the values only known at run time (pvisor's
 * process id, the guest memory's descriptor) where the generator left a
 * sentinel, and loads it: before, libseccomp compiled every thread's
 * filter at every start, ~3 ms and ~120 page faults of a ~20 ms start on
 * the nested hosts pvisor runs on (docs/benchmarks.md, "Cold start").
 * tests/unit/test_seccomp_programs.c checks that each program, filled in,
 * is the very one libseccomp compiles at run time.
 */
#ifndef PVISOR_CORE_SECCOMP_PROGRAMS_H
#define PVISOR_CORE_SECCOMP_PROGRAMS_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Above any process id (pid_max is at most 2^22) and any descriptor. */
#define SECCOMP_SENTINEL_PID   0x7e57b1d5u
#define SECCOMP_SENTINEL_MEMFD 0x7e57fd0du

/* A generated program and how many sentinels it holds. */
struct seccomp_prebuilt {
	const struct sock_filter *insns;
	size_t len;
	unsigned nr_sentinels;
};

/* The filter of the set-up list (role < 0) or of ROLE (enum sandbox_role)
 * for process `pid`, as sandbox_seccomp_compile() makes it.  At most `max`
 * instructions to prog, their count to *len; 0 or -errno. */
int seccomp_program_sandbox(int role, bool log, uint32_t pid,
			    struct sock_filter *prog, size_t max, size_t *len)
	__attribute__((warn_unused_result));

/* The proc guest process's filter for guest memory fd `memfd`, as
 * proc_seccomp_compile() makes it. */
int seccomp_program_proc(bool set_fsgs, uint32_t memfd,
			 struct sock_filter *prog, size_t max, size_t *len)
	__attribute__((warn_unused_result));

/* The name of system call `nr` on this architecture (libseccomp's, taken
 * at build time), or NULL; async-signal-safe (the SIGSYS report). */
const char *seccomp_call_name(unsigned nr);

#endif
