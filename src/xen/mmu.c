/* Placeholder until the page-type work lands: every MMU hypercall fails. */
#include "xen/hypercall.h"

long hc_mmu_update(struct vcpu *v, const struct hc_args *a) { return -XEN_ENOSYS; }
long hc_update_va_mapping(struct vcpu *v, const struct hc_args *a) { return -XEN_ENOSYS; }
long hc_mmuext_op(struct vcpu *v, const struct hc_args *a) { return -XEN_ENOSYS; }
