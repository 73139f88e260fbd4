/*
 * Pointers into the pages pvisor shares with the guest: shared_info (a
 * Xen-owned frame) and each vCPU's vcpu_info (inside shared_info until the
 * guest registers its own with VCPUOP_register_vcpu_info).  The guest writes
 * these concurrently: use atomics for the event bits, never trust a value
 * read from them.
 */
#ifndef PVISOR_XEN_SHARED_H
#define PVISOR_XEN_SHARED_H

#include "core/vm.h"

static inline struct shared_info *xen_shared_info(struct vm *vm)
{
	return gmem_ptr(&vm->mem, vm->xen.shared_info_mfn << PAGE_SHIFT,
			PAGE_SIZE);
}

static inline struct vcpu_info *xen_vcpu_info(struct vcpu *v)
{
	return gmem_ptr(&v->vm->mem, v->xen.vcpu_info_gpa,
			sizeof(struct vcpu_info));
}

#endif
