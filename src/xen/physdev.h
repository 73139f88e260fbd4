/* physdev_op, platform_op and the debug-register hypercalls of a PV domU. */
#ifndef PVISOR_XEN_PHYSDEV_H
#define PVISOR_XEN_PHYSDEV_H

struct vcpu;
struct hc_args;

long hc_physdev_op(struct vcpu *v, const struct hc_args *a);
long hc_platform_op(struct vcpu *v, const struct hc_args *a);
long hc_set_debugreg(struct vcpu *v, const struct hc_args *a);
long hc_get_debugreg(struct vcpu *v, const struct hc_args *a);

#endif
