/*
 * The guest kit core: boot information, address conversions, exit.  An
 * application provides app_main(); the kit's start code (lib/kernel.c)
 * initialises everything in a fixed order and then calls it on the main
 * thread.  See docs/guest-kit.md.
 */
#ifndef KIT_KIT_H
#define KIT_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/abi.h>
#include <pvisor/xen.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ul << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PFN_UP(x) (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VIRT_BASE PVISOR_KIT_VIRT_BASE

#define barrier() asm volatile("" ::: "memory")
#define mb() asm volatile("mfence" ::: "memory")
#define rmb() barrier() /* x86: loads are not reordered with loads */
#define wmb() barrier() /* x86: stores are not reordered with stores */
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* A copy of the start_info page Xen handed over (valid after boot). */
extern struct start_info start_info;
/* shared_info, mapped by the kit at a page it reserved. */
extern struct shared_info *HYPERVISOR_shared_info;
/* The P2M list (start_info.mfn_list). */
extern unsigned long *phys_to_machine_mapping;
/* RAM pages of the domain (start_info.nr_pages). */
extern unsigned long nr_ram_pages;

/* Pseudo-physical <-> machine, through the P2M like Mini-OS. */
static inline unsigned long pfn_to_mfn(unsigned long pfn)
{
	return phys_to_machine_mapping[pfn];
}
/* Reverse lookup; ~0ul if mfn is no RAM frame of this domain. */
unsigned long mfn_to_pfn(unsigned long mfn);

/* Pseudo-physical frame p is mapped at VIRT_BASE + p * PAGE_SIZE. */
static inline void *pfn_to_virt(unsigned long pfn)
{
	return (void *)(VIRT_BASE + (pfn << PAGE_SHIFT));
}
static inline unsigned long virt_to_pfn(const void *va)
{
	return ((unsigned long)va - VIRT_BASE) >> PAGE_SHIFT;
}
static inline unsigned long virt_to_mfn(const void *va)
{
	return pfn_to_mfn(virt_to_pfn(va));
}
static inline void *mfn_to_virt(unsigned long mfn)
{
	return pfn_to_virt(mfn_to_pfn(mfn));
}

/* Suspend support (kit/control.h): the start_info frame the toolstack
 * rewrites on restore, taking it again, mapping shared_info anew. */
unsigned long kit_start_info_mfn(void);
void kit_reload_start_info(void);
void kit_map_shared_info(void);

/* The guest command line (start_info.cmd_line, NUL-terminated). */
const char *kit_cmdline(void);

/* "kvm", "proc" or "unknown", from XENVER_commandline. */
const char *kit_backend(void);

/*
 * Ends the domain: pvisor exits with `status` (0..255) through
 * SCHEDOP_shutdown(PVISOR_SHUTDOWN_EXIT(status)).  Never returns.
 */
__attribute__((noreturn)) void kit_exit(int status);
/* SHUTDOWN_poweroff.  Never returns. */
__attribute__((noreturn)) void kit_poweroff(void);
/* SHUTDOWN_reboot: the domain is rebuilt from the same kernel (pvisor's
 * --on-reboot restart, xl's on_reboot).  Never returns. */
__attribute__((noreturn)) void kit_reboot(void);
/* Prints the message and crashes the domain (SHUTDOWN_crash). */
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt,
							    ...);

/* Provided by the application: runs on the main thread once the kit is up;
 * its return value is the exit status. */
int app_main(const char *cmdline);

#define BUG_ON(c)                                                           \
	do {                                                                \
		if (c)                                                      \
			panic("BUG at %s:%d: %s", __FILE__, __LINE__, #c); \
	} while (0)

#endif
