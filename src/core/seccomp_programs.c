/* The build's seccomp programs: see seccomp_programs.h. */
#include "core/seccomp_programs.h"

#include <errno.h>
#include <string.h>

#include "core/bpf_prog.h"
#include "core/sandbox.h"

/* sandbox_programs[role + 1][log], proc_programs[set_fsgs], call_names:
 * written by tools/gen_seccomp.c into the build directory. */
#include "seccomp_programs_gen.h"

_Static_assert(sizeof(sandbox_programs) / sizeof(sandbox_programs[0]) ==
		       SANDBOX_NR_ROLES + 1,
	       "generated for another list of roles: rebuild");

static int fill(const struct seccomp_prebuilt *p, uint32_t sentinel,
		uint32_t value, struct sock_filter *prog, size_t max,
		size_t *len)
{
	if (p->len > max)
		return -E2BIG;
	memcpy(prog, p->insns, p->len * sizeof(*prog));
	if (bpf_patch_jeq(prog, p->len, sentinel, value) != p->nr_sentinels)
		return -EPROTO; /* a sentinel the generator did not count */
	*len = p->len;
	return 0;
}

int seccomp_program_sandbox(int role, bool log, uint32_t pid,
			    struct sock_filter *prog, size_t max, size_t *len)
{
	if (role < -1 || role >= SANDBOX_NR_ROLES)
		return -EINVAL;
	return fill(&sandbox_programs[role + 1][log], SECCOMP_SENTINEL_PID,
		    pid, prog, max, len);
}

int seccomp_program_proc(bool set_fsgs, uint32_t memfd,
			 struct sock_filter *prog, size_t max, size_t *len)
{
	return fill(&proc_programs[set_fsgs], SECCOMP_SENTINEL_MEMFD, memfd,
		    prog, max, len);
}

const char *seccomp_call_name(unsigned nr)
{
	return nr < sizeof(call_names) / sizeof(call_names[0]) ? call_names[nr]
							       : NULL;
}
