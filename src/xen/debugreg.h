/*
 * Debug registers of a PV vCPU as Xen keeps them (arch/x86/pv/misc-
 * hypercalls.c set_debugreg / do_get_debugreg): HYPERVISOR_set_debugreg
 * and get_debugreg, and `mov` to/from %drN emulated on the #GP path use
 * the same rules.  The values are recorded and read back; pvisor does not
 * arm them on the host (docs/pv-abi.md).
 */
#ifndef PVISOR_XEN_DEBUGREG_H
#define PVISOR_XEN_DEBUGREG_H

#include <stdint.h>

struct xen_vcpu;

#define XEN_DR6_DEFAULT 0xffff0ff0ull
#define XEN_DR7_DEFAULT 0x400ull

/* Xen's set_debugreg: 0, -XEN_EPERM (DR0-3 outside guest addresses, DR7
 * GD or an I/O breakpoint without CR4.DE) or -XEN_ENODEV (DR4/5 with
 * CR4.DE, reg > 7).  Reserved bits of DR6/DR7 are forced as Xen does. */
long xen_debugreg_set(struct xen_vcpu *x, unsigned reg, uint64_t val);

/* Xen's do_get_debugreg: the value, or -XEN_EINVAL (as a value). */
long xen_debugreg_get(const struct xen_vcpu *x, unsigned reg);

#endif
