/* Grant tables: not yet implemented. */
#include "xen/hypercall.h"

long hc_grant_table_op(struct vcpu *v, const struct hc_args *a)
{
	return -XEN_ENOSYS;
}
