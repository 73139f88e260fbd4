/*
 * MSR access by a PV guest kernel (rdmsr/wrmsr trap with #GP at CPL3 and are
 * emulated as Xen's pv/emul-priv-op.c does for a domU).
 */
#ifndef PVISOR_XEN_MSR_H
#define PVISOR_XEN_MSR_H

#include <stdint.h>

struct vcpu;

/* 0 with *val, or -EPERM: the guest gets #GP. */
int xen_msr_read(struct vcpu *v, uint32_t idx, uint64_t *val);
/* 0 (done or ignored, as Xen ignores it), or -EPERM: the guest gets #GP. */
int xen_msr_write(struct vcpu *v, uint32_t idx, uint64_t val);

#endif
