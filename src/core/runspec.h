/*
 * `pvisor run --rootfs`'s pure pieces (docs/rootfs.md): the run file
 * (include/pvisor/runspec.h) written from what pvisor knows, the cpio
 * archive that carries it on the initramfs, the guest's cwd and the kernel
 * command line.  No I/O: src/core/rootfs.c gathers the inputs.
 */
#ifndef PVISOR_CORE_RUNSPEC_H
#define PVISOR_CORE_RUNSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct runspec_in {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	unsigned nr_groups;
	const char *cwd;         /* the guest's, absolute */
	bool stdin_tty, stdout_tty;
	int stderr_mode;         /* PV_STDERR_* (include/pvisor/runspec.h) */
	char *const *env;        /* NAME=VALUE, NULL-terminated; may be NULL */
	char *const *argv;       /* CMD, NULL-terminated; may be empty */
};

/* The run file into buf (cap bytes); its length, or 0 when it does not fit
 * or an argument is unusable (*why says which). */
size_t runspec_encode(const struct runspec_in *in, char *buf, size_t cap,
		      const char **why);

/*
 * A cpio "newc" archive holding one regular file NAME (mode 0400, owner
 * root) with data[0..len), and the trailer, preceded by the zero bytes that
 * align it to 4 when it follows prefix_len bytes of another archive (the
 * kernel's initramfs unpacker reads concatenated archives and skips zeros
 * between them).  Returns its length (written to out when it fits in cap;
 * call with out NULL to size it).
 */
size_t runspec_cpio(const char *name, const void *data, size_t len,
		    size_t prefix_len, uint8_t *out, size_t cap);

/*
 * The guest's working directory: cwd's place under root (both absolute
 * and canonical), e.g. root /home/u, cwd /home/u/src → /src; root / →
 * cwd itself.  "/" when cwd is not under root.  false if out is too small.
 */
bool runspec_guest_cwd(const char *root, const char *cwd, char *out, size_t cap);

/*
 * The kernel command line of a --rootfs guest: the console and the root
 * share for tools/guest-init/rootfs-init, loglevel=0 unless verbose, then
 * extra (the user's --cmdline words).  false if it does not fit.
 */
bool runspec_cmdline(const char *tag, bool rw, bool verbose, const char *extra,
		     char *out, size_t cap);

#endif
