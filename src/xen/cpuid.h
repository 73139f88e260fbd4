/*
 * CPUID as Xen shows it to a PV guest: the host's leaves with the features a
 * guest kernel in ring 3 cannot use (or pvisor does not virtualize) masked,
 * and Xen's hypervisor leaves at 0x40000000.
 */
#ifndef PVISOR_XEN_CPUID_H
#define PVISOR_XEN_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#define XEN_CPUID_BASE 0x40000000u
#define XEN_CPUID_MSR_HYPERCALL 0x40000000u /* hypercall-page MSR (leaf 2 ebx) */

/*
 * Applies the PV policy to r[] = {eax, ebx, ecx, edx}, the host's values for
 * (leaf, subleaf), in place.  vcpu_id goes into the APIC ID fields.  Pure.
 */
void cpuid_pv_policy(uint32_t leaf, uint32_t subleaf, unsigned vcpu_id,
		     uint32_t r[4]);

/* The host's CPUID for (leaf, subleaf) with the PV policy applied. */
void cpuid_pv(uint32_t leaf, uint32_t subleaf, unsigned vcpu_id, uint32_t r[4]);

#endif
