/*
 * pvisor's additions to the Xen PV ABI.  Everything else a guest sees is
 * plain Xen (see pvisor/xen.h and docs/pv-abi.md).  Shared by pvisor and the
 * guest kit; freestanding.
 */
#ifndef PVISOR_ABI_H
#define PVISOR_ABI_H

/*
 * Exit status.  SCHEDOP_shutdown with reason PVISOR_SHUTDOWN_EXIT(n), n in
 * 0..255, powers the guest off and makes pvisor exit with status n.
 * SHUTDOWN_poweroff is status 0; SHUTDOWN_crash exits with
 * PVISOR_EXIT_GUEST_CRASH; any other reason exits with PVISOR_EXIT_GUEST_CRASH
 * too, with a report.
 */
#define PVISOR_SHUTDOWN_EXIT_BASE 0x100u
#define PVISOR_SHUTDOWN_EXIT(n) (PVISOR_SHUTDOWN_EXIT_BASE + ((n) & 0xffu))

/* pvisor's own exit statuses (beyond a guest-chosen status). */
#define PVISOR_EXIT_OK 0
#define PVISOR_EXIT_USAGE 2          /* bad command line, bad kernel image */
#define PVISOR_EXIT_REBOOT 123       /* SHUTDOWN_reboot with --on-reboot exit, or
				      * no kernel to boot again (a restore) */
#define PVISOR_EXIT_TIMEOUT 124      /* --timeout expired (as timeout(1)) */
#define PVISOR_EXIT_GUEST_CRASH 125  /* SHUTDOWN_crash or unknown reason */
#define PVISOR_EXIT_GUEST_FAULT 126  /* guest stopped by pvisor: fault, timeout */
#define PVISOR_EXIT_INTERNAL 127     /* pvisor could not run the guest */

/*
 * Which backend runs the guest: HYPERVISOR_xen_version(XENVER_extraversion)
 * returns "-pvisor" and XENVER_commandline returns "backend=kvm" or
 * "backend=proc" (the hypervisor's own command line, as under Xen).
 */
#define PVISOR_EXTRAVERSION "-pvisor"

/*
 * The guest kit links at this address: pseudo-physical frame 0 is mapped at
 * PVISOR_KIT_VIRT_BASE.  It is low enough for a host process's address space
 * (the proc backend maps guest virtual addresses 1:1 into its guest process)
 * and avoids page zero.
 */
#define PVISOR_KIT_VIRT_BASE 0x400000ul

/*
 * Guest virtual addresses a guest may use on every backend: the canonical
 * lower half below PVISOR_GUEST_VA_LIMIT.  Above it the proc backend keeps
 * its own code; the kvm backend also allows the upper half except Xen's
 * reserved range [HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END).
 */
#define PVISOR_GUEST_VA_LIMIT 0x7f0000000000ul

#endif
