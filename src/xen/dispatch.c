/*
 * Hypercall dispatch: the table from hypercall number to handler, the
 * guest-mode check, per-vCPU counts, and guest-virtual copies for handlers.
 */
#include "xen/hypercall.h"

#include "core/log.h"
#include "core/vm.h"
#include "xen/descriptor.h"
#include "xen/physdev.h"

static const hypercall_fn hypercall_table[XEN_NR_HYPERCALLS] = {
	[__HYPERVISOR_set_trap_table] = hc_set_trap_table,
	[__HYPERVISOR_mmu_update] = hc_mmu_update,
	[__HYPERVISOR_stack_switch] = hc_stack_switch,
	[__HYPERVISOR_set_callbacks] = hc_set_callbacks,
	[__HYPERVISOR_fpu_taskswitch] = hc_fpu_taskswitch,
	[__HYPERVISOR_memory_op] = hc_memory_op,
	[__HYPERVISOR_multicall] = hc_multicall,
	[__HYPERVISOR_update_va_mapping] = hc_update_va_mapping,
	[__HYPERVISOR_set_timer_op] = hc_set_timer_op,
	[__HYPERVISOR_xen_version] = hc_xen_version,
	[__HYPERVISOR_console_io] = hc_console_io,
	[__HYPERVISOR_vm_assist] = hc_vm_assist,
	[__HYPERVISOR_grant_table_op] = hc_grant_table_op,
	[__HYPERVISOR_iret] = hc_iret,
	[__HYPERVISOR_vcpu_op] = hc_vcpu_op,
	[__HYPERVISOR_set_segment_base] = hc_set_segment_base,
	[__HYPERVISOR_mmuext_op] = hc_mmuext_op,
	[__HYPERVISOR_sched_op] = hc_sched_op,
	[__HYPERVISOR_callback_op] = hc_callback_op,
	[__HYPERVISOR_event_channel_op] = hc_event_channel_op,
	[__HYPERVISOR_set_gdt] = hc_set_gdt,
	[__HYPERVISOR_update_descriptor] = hc_update_descriptor,
	[__HYPERVISOR_set_debugreg] = hc_set_debugreg,
	[__HYPERVISOR_get_debugreg] = hc_get_debugreg,
	[__HYPERVISOR_platform_op] = hc_platform_op,
	[__HYPERVISOR_physdev_op] = hc_physdev_op,
};

int hc_read(struct vcpu *v, uint64_t gva, void *dst, size_t len)
{
	return gva_read(&v->vm->mem, v->xen.baseptr_mfn, gva, dst, len) ?
		       -XEN_EFAULT : 0;
}

int hc_write(struct vcpu *v, uint64_t gva, const void *src, size_t len)
{
	return gva_write(&v->vm->mem, v->xen.baseptr_mfn, gva, src, len) ?
		       -XEN_EFAULT : 0;
}

hypercall_fn hypercall_lookup(uint64_t nr)
{
	return nr < XEN_NR_HYPERCALLS ? hypercall_table[nr] : NULL;
}

long hypercall_call(struct vcpu *v, uint64_t nr, const struct hc_args *args)
{
	hypercall_fn fn = hypercall_lookup(nr);

	if (!fn) {
		log_guest("vcpu%u: unknown hypercall %llu", v->id,
			  (unsigned long long)nr);
		return -XEN_ENOSYS;
	}
	v->xen.hypercalls[nr]++;
	return fn(v, args);
}

long hypercall_dispatch(struct vcpu *v, uint64_t nr)
{
	struct hc_args args = { { v->regs.rdi, v->regs.rsi, v->regs.rdx,
				  v->regs.r10, v->regs.r8 } };

	/* Xen's rule: guest user mode may not make hypercalls. */
	long rc;

	if (!v->xen.kernel_mode)
		return -XEN_EPERM;
	rc = hypercall_call(v, nr, &args);
	if (log_verbosity >= 3 && rc < 0 && nr != __HYPERVISOR_iret)
		log_debug("vcpu%u: hypercall %llu(%#llx, %#llx, %#llx) = %ld "
			  "at %#llx", v->id, (unsigned long long)nr,
			  (unsigned long long)args.a[0],
			  (unsigned long long)args.a[1],
			  (unsigned long long)args.a[2], rc,
			  (unsigned long long)v->regs.rip);
	return rc;
}
