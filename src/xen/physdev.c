/*
 * physdev_op for a domU without devices: the virtual IOPL (Linux sets it to
 * 1 so that its port accesses are emulated, not faulted: reads give all
 * ones, writes are dropped — xen/emulate.c); everything about physical
 * IRQs fails as it does for a Xen domU with no device assigned.
 * platform_op is dom0's.  Debug registers are recorded, never armed.
 */
#include "xen/physdev.h"

#include "core/vm.h"
#include "xen/debugreg.h"
#include "xen/hypercall.h"

long hc_physdev_op(struct vcpu *v, const struct hc_args *a)
{
	switch (a->a[0]) {
	case PHYSDEVOP_set_iopl: {
		struct physdev_set_iopl s;

		if (hc_read(v, a->a[1], &s, sizeof(s)))
			return -XEN_EFAULT;
		if (s.iopl > 3)
			return -XEN_EINVAL;
		v->xen.iopl = s.iopl;
		return 0;
	}
	case PHYSDEVOP_eoi:
	case PHYSDEVOP_irq_status_query:
	case PHYSDEVOP_pirq_eoi_gmfn_v1:
	case PHYSDEVOP_pirq_eoi_gmfn_v2:
	case PHYSDEVOP_map_pirq:
	case PHYSDEVOP_unmap_pirq:
	case PHYSDEVOP_get_free_pirq:
	case PHYSDEVOP_alloc_irq_vector:
	case PHYSDEVOP_apic_read:
	case PHYSDEVOP_apic_write:
	case PHYSDEVOP_set_iobitmap:
		return -XEN_EPERM;
	default:
		return -XEN_ENOSYS;
	}
}

long hc_platform_op(struct vcpu *v, const struct hc_args *a)
{
	(void)v;
	(void)a;
	return -XEN_EPERM;
}

long hc_set_debugreg(struct vcpu *v, const struct hc_args *a)
{
	if (a->a[0] > 7)
		return -XEN_ENODEV;
	return xen_debugreg_set(&v->xen, (unsigned)a->a[0], a->a[1]);
}

long hc_get_debugreg(struct vcpu *v, const struct hc_args *a)
{
	if (a->a[0] > 7)
		return -XEN_EINVAL;
	return xen_debugreg_get(&v->xen, (unsigned)a->a[0]);
}
