/* The per-role system-call lists (sandbox_policy.c) and the filters built
 * from them (sandbox_seccomp.c). */
#ifndef PVISOR_SANDBOX_POLICY_H
#define PVISOR_SANDBOX_POLICY_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sandbox.h"

/* NULL-terminated lists of system-call names. */
const char *const *sandbox_policy_common(void);
const char *const *sandbox_policy_setup(void);
const char *const *sandbox_policy_role(enum sandbox_role role);

/* Compiles, with libseccomp, the filter of the set-up list (role < 0) or
 * of ROLE, for process `pid` (its threads may signal each other):
 * forbidden calls trap (SIGSYS) or, with log, run and are logged.  At most
 * `max` instructions to prog, their count to *len; 0 or -errno.  pvisor
 * loads the build's compilation of it (core/seccomp_programs.h); this one
 * is the generator's and the tests'. */
int sandbox_seccomp_compile(int role, bool log, uint32_t pid,
			    struct sock_filter *prog, size_t max, size_t *len)
	__attribute__((warn_unused_result));

#endif
