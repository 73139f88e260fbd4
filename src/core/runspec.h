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
 * path's place under root (both absolute and canonical), e.g. root
 * /home/u, path /home/u/src → /src; root / → path itself.  1 when path
 * lies under root (or is it: "/"), 0 when not (out untouched), -1 when out
 * is too small.
 */
int runspec_path_in(const char *root, const char *path, char *out, size_t cap);

/* The guest's working directory: runspec_path_in(root, cwd), "/" when cwd
 * is not under root.  false if out is too small. */
bool runspec_guest_cwd(const char *root, const char *cwd, char *out, size_t cap);

/*
 * A --rwdir's guest path: absolute, not the root itself, no empty, "." or
 * ".." part (a trailing '/' is an empty part: cli.c drops it first).  NULL
 * when usable, else why not.
 */
const char *runspec_guest_path_bad(const char *path);

/* What the kernel command line of a --rootfs guest says. */
struct runspec_boot {
	const char *tag;         /* the root share's */
	bool rw, verbose;
	unsigned nr_rwdirs;      /* --rwdir: share tags[i] on guest paths[i] */
	const char *const *rwdir_tags;
	const char *const *rwdir_paths;
	const char *net;         /* the first --net's kind ("user", "tap"), or NULL */
	const char *extra;       /* the user's --cmdline words; may be NULL */
};

/*
 * The kernel command line of a --rootfs guest, for
 * tools/guest-init/rootfs-init: the console, the root share, loglevel=0
 * unless verbose, pvisor.rwdir=TAG:PATH per rwdir (PATH's bytes other than
 * letters, digits and "/._+-" as %XX: the kernel splits words on spaces
 * and quotes), pvisor.net=KIND, then extra.  false if it does not fit.
 */
bool runspec_cmdline(const struct runspec_boot *b, char *out, size_t cap);

#endif
