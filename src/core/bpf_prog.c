/* BPF programs in arrays: see bpf_prog.h. */
#include "core/bpf_prog.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

int bpf_export(scmp_filter_ctx ctx, struct sock_filter *prog, size_t at,
	       size_t max, size_t *len)
{
	size_t room = (max - at) * sizeof(*prog);
	int fd, err;
	ssize_t n;

	if (at >= max)
		return -E2BIG;
	fd = memfd_create("pvisor-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = seccomp_export_bpf(ctx, fd);
	if (!err) {
		n = pread(fd, prog + at, room, 0);
		if (n < 0)
			err = -errno;
		/* A full buffer may mean a truncated program. */
		else if (n == 0 || n % sizeof(*prog) || (size_t)n == room)
			err = -E2BIG;
		else
			*len = at + (size_t)n / sizeof(*prog);
	}
	close(fd);
	return err;
}

unsigned bpf_patch_jeq(struct sock_filter *prog, size_t len,
		       uint32_t sentinel, uint32_t value)
{
	unsigned n = 0;

	for (size_t i = 0; i < len; i++)
		if (prog[i].code == (BPF_JMP | BPF_JEQ | BPF_K) &&
		    prog[i].k == sentinel) {
			prog[i].k = value;
			n++;
		}
	return n;
}
