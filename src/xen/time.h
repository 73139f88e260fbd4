/*
 * Xen time for a PV guest: system time is nanoseconds since the domain was
 * built (CLOCK_MONOTONIC based); each vCPU's vcpu_time_info lets the guest
 * extrapolate it from its TSC without a hypercall; shared_info carries the
 * wallclock at system time 0.
 */
#ifndef PVISOR_XEN_TIME_H
#define PVISOR_XEN_TIME_H

#include <stdint.h>

struct vm;
struct vcpu;

/* Host CLOCK_MONOTONIC in ns. */
int64_t time_monotonic_ns(void);

/* Takes the host TSC rate (xen/tsc_rate.h) and sets boot time and the TSC scale in
 * vm->xen.  Call once before the guest runs. */
void xen_time_init(struct vm *vm);

/* Guest system time now, in ns. */
int64_t xen_system_time_ns(const struct vm *vm);

/* Publishes a fresh vcpu_time_info for v (version protocol: odd while
 * updating) and, the first time, the wallclock. */
void xen_time_update_vcpu(struct vcpu *v);
void xen_time_update_wallclock(struct vm *vm);

/* The scale Xen uses: ns = ((tsc_delta << shift) * mul) >> 32 (shift < 0
 * shifts right).  Pure; exposed for tests. */
void xen_time_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift);

#endif
