/*
 * Segment descriptors of a PV guest: set_gdt, update_descriptor and the
 * validation Xen applies to every descriptor a guest installs.
 */
#ifndef PVISOR_XEN_DESCRIPTOR_H
#define PVISOR_XEN_DESCRIPTOR_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct hc_args;

/* First GDT entry Xen reserves (selectors 0xe000 up). */
#define XEN_FIRST_RESERVED_GDT_ENTRY 7168u

/*
 * Xen's check_descriptor for a 64-bit PV guest: not-present descriptors
 * and code/data segments are accepted (DPL raised to 3, the guest kernel's
 * ring); system descriptors (gates, TSS, LDT) are refused.  Returns true
 * and the descriptor to install in *out, or false.  Pure.
 */
bool desc_check(uint64_t desc, uint64_t *out);

/* Loads v's GDT from ents descriptors in frames (validated, as set_gdt;
 * also VCPUOP_initialise).  0 or -XEN_EINVAL. */
int xen_set_gdt(struct vcpu *v, const uint64_t *frames, unsigned ents);

long hc_set_gdt(struct vcpu *v, const struct hc_args *a);
long hc_update_descriptor(struct vcpu *v, const struct hc_args *a);

#endif
