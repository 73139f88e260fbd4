/* Landlock for sandbox_enter(): the plan's paths and nothing else. */
#ifndef PVISOR_SANDBOX_LANDLOCK_H
#define PVISOR_SANDBOX_LANDLOCK_H

#include <stddef.h>

#include "core/sandbox.h"

/* Restricts the calling thread and the threads it creates later.  A host
 * without Landlock: 0, and one line with -v. */
int sandbox_landlock_apply(const struct sandbox_plan *plan, char *err,
			   size_t err_len);

#endif
