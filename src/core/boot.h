/*
 * Booting a kernel into a domain: the domain builder's layout, the boot
 * page tables pinned, vCPU 0 at the kernel's entry.  The same for the first
 * boot (core/main.c) and every reboot (core/reboot.c), which is why the
 * image stays loaded for as long as the VM runs.
 */
#ifndef PVISOR_BOOT_H
#define PVISOR_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "xen/elf.h"

struct vm;

/* What `run` loaded: the kernel's ELF (a bzImage's payload), its parsed
 * notes, the initrd (NULL, 0: none) and the command line.  Owned by the
 * caller; must outlive the VM. */
struct boot_image {
	struct xen_elf_image img;
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;
	size_t initrd_len;
	const char *cmdline;
};

/*
 * Builds b's start-of-day domain in vm, whose memory is all zeros and
 * whose vCPUs exist and are out of guest code: vCPU 0 initialised at the
 * entry with the boot page tables pinned and loaded, the others down
 * (waiting for VCPUOP_initialise/up), system time and wallclock published.
 * 0, or -errno with one line in err.
 */
int boot_load(struct vm *vm, const struct boot_image *b, char *err, size_t err_len)
	__attribute__((warn_unused_result));

#endif
