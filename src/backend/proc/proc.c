/* The proc backend: the guest runs in a seccomp-locked host process. */
#include "backend/backend.h"

#include <errno.h>
#include <stdio.h>

static int proc_probe(char *why, size_t why_len)
{
	snprintf(why, why_len, "proc backend not built yet");
	return -ENOSYS;
}

const struct backend_ops backend_proc = {
	.name = "proc",
	.probe = proc_probe,
};
