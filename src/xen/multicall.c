/*
 * multicall: a batch of hypercalls for one guest entry.  Each entry is read
 * once, run, and its result written back; nesting and iret are refused, as
 * in Xen.  Xen stops at the first entry whose result is a failure only for
 * its own internal reasons; guests read each entry's result.
 */
#include "core/vm.h"
#include "xen/hypercall.h"

#define MULTICALL_MAX 512

long hc_multicall(struct vcpu *v, const struct hc_args *a)
{
	uint64_t list = a->a[0], nr = a->a[1];

	if (nr > MULTICALL_MAX)
		return -XEN_EINVAL;
	for (uint64_t i = 0; i < nr; i++) {
		uint64_t gva = list + i * sizeof(struct multicall_entry);
		struct multicall_entry e;
		struct hc_args args;
		long rc;

		if (hc_read(v, gva, &e, sizeof(e)))
			return -XEN_EFAULT;
		for (int k = 0; k < 5; k++)
			args.a[k] = e.args[k];
		if (e.op == __HYPERVISOR_multicall || e.op == __HYPERVISOR_iret)
			rc = -XEN_EINVAL;
		else
			rc = hypercall_call(v, e.op, &args);
		e.result = (xen_ulong_t)rc;
		if (hc_write(v, gva + __builtin_offsetof(struct multicall_entry,
							 result),
			     &e.result, sizeof(e.result)))
			return -XEN_EFAULT;
		if (vm_stopped(v->vm))
			break;
	}
	return 0;
}
