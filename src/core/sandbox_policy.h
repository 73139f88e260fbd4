/* The per-role system-call lists (sandbox_policy.c) and the filters built
 * from them (sandbox_seccomp.c). */
#ifndef PVISOR_SANDBOX_POLICY_H
#define PVISOR_SANDBOX_POLICY_H

#include <stdbool.h>

#include "core/sandbox.h"

/* NULL-terminated lists of system-call names. */
const char *const *sandbox_policy_common(void);
const char *const *sandbox_policy_setup(void);
const char *const *sandbox_policy_role(enum sandbox_role role);

/* Loads a filter on the calling thread: the set-up list (role < 0) or
 * ROLE's.  Forbidden calls trap (SIGSYS) or, with log, run and are logged.
 * Returns 0 or -errno. */
int sandbox_seccomp_load(int role, bool log, char *err, size_t err_len);

#endif
