/*
 * `pvisor run --rootfs DIR[,rw] -- CMD` (docs/rootfs.md): before the
 * sandbox, finds the kernel and the rootfs initramfs (building it once
 * with tools/mkinitramfs.sh --rootfs), writes the run file (who, where,
 * what: core/runspec.h) and the kernel command line.
 */
#ifndef PVISOR_CORE_ROOTFS_H
#define PVISOR_CORE_ROOTFS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct vm_config;

struct rootfs_boot {
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char cmdline[1024];
	char *spec;      /* the run file */
	size_t spec_len;
};

/*
 * Sets cfg's kernel, initrd and command line (user_cmdline: the --cmdline
 * words) for a --rootfs run of argv.  0, or PVISOR_EXIT_USAGE after one
 * line on stderr (no kernel, DIR not a directory, no initramfs).
 */
int rootfs_prepare(struct vm_config *cfg, const char *user_cmdline,
		   char *const *argv, struct rootfs_boot *rb);

/* Appends the run file, as a cpio archive, to the initramfs in memory
 * (*data, *len; realloc'd).  0 or -1 (out of memory, logged). */
int rootfs_extend_initrd(const struct rootfs_boot *rb, uint8_t **data,
			 size_t *len);

/* --dry-run=FILE: writes the whole initramfs to FILE and prints the kernel,
 * the command line and the shares on stdout.  0 or PVISOR_EXIT_USAGE. */
int rootfs_dry_run(const struct vm_config *cfg, const char *file,
		   const uint8_t *initrd, size_t len);

void rootfs_free(struct rootfs_boot *rb);

#endif
