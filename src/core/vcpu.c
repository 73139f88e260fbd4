/*
 * The vCPU run loop: deliver pending events, run guest code on the backend,
 * handle the exit.  Backend-neutral: every backend reports the same exits.
 */
#include <string.h>

#include "core/log.h"
#include "core/reboot.h"
#include "core/vm.h"
#include "xen/emulate.h"
#include "xen/hypercall.h"
#include "xen/softint.h"
#include "xen/traps.h"
#include "xen/vcpu_op.h"

static void handle_exit(struct vcpu *v, struct vexit *ex)
{
	switch (ex->kind) {
	case VEXIT_HYPERCALL:
		v->regs.rax = (uint64_t)hypercall_dispatch(v, v->regs.rax);
		break;
	case VEXIT_EXCEPTION:
		/* Privileged instructions, forced CPUID and page-table
		 * stores are emulated as Xen does; the rest is the guest's. */
		if (xen_softint_exit(v, ex) || xen_emulate_fault(v, ex))
			break;
		if (log_verbosity >= 3) /* -v -v: one line per exception */
			log_debug("vcpu%u: exception %u error %#x at %#llx "
				  "cr2 %#llx (%s mode)", v->id, ex->vector,
				  ex->error_code,
				  (unsigned long long)v->regs.rip,
				  (unsigned long long)ex->cr2,
				  v->xen.kernel_mode ? "kernel" : "user");
		xen_bounce_exception(v, ex);
		break;
	case VEXIT_SYSCALL:
		/* Xen: `syscall` in guest kernel mode is a hypercall (it is
		 * what Xen's own hypercall page does); from guest user mode
		 * it is the guest's system call. */
		if (v->xen.kernel_mode)
			v->regs.rax = (uint64_t)hypercall_dispatch(v, v->regs.rax);
		else
			xen_bounce_syscall(v);
		break;
	case VEXIT_KICK:
		break;
	case VEXIT_FATAL:
		vm_stop_fault(v, ex, "the %s backend cannot continue",
			      v->vm->backend->name);
		break;
	}
}

/* Exit counts (-v): each exit costs tens of microseconds on kvm-pvm. */
static void log_vcpu_stats(const struct vcpu *v)
{
	uint64_t hc = 0;

	for (unsigned i = 0; i < XEN_NR_HYPERCALLS; i++)
		hc += v->xen.hypercalls[i];
	log_debug("vcpu%u: %llu exits: %llu hypercalls (mmu_update %llu, "
		 "mmuext_op %llu, multicall %llu, update_va_mapping %llu), "
		 "%llu exceptions bounced, %llu instructions emulated, %llu "
		 "page-table writes emulated; %llu upcalls", v->id,
		 (unsigned long long)v->xen.exits, (unsigned long long)hc,
		 (unsigned long long)v->xen.hypercalls[__HYPERVISOR_mmu_update],
		 (unsigned long long)v->xen.hypercalls[__HYPERVISOR_mmuext_op],
		 (unsigned long long)v->xen.hypercalls[__HYPERVISOR_multicall],
		 (unsigned long long)v->xen.hypercalls[__HYPERVISOR_update_va_mapping],
		 (unsigned long long)v->xen.exceptions,
		 (unsigned long long)v->xen.emulated,
		 (unsigned long long)v->xen.ptwr,
		 (unsigned long long)v->xen.upcalls);
}

/* A vCPU that is down (secondary before VCPUOP_up, or VCPUOP_down) or
 * paused (vm_pause) waits here.  False if the VM stopped or a reboot
 * waits for this thread (core/reboot.h). */
static bool wait_until_up(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool up, was_parked = false;

	pthread_mutex_lock(&vm->xen.lock);
	while (!(up = !v->xen.down && !vm->paused) && !vm_stopped(vm) &&
	       !vm_reboot_pending(vm)) {
		if (vm->paused && !v->parked) {
			v->parked = was_parked = true;
			pthread_mutex_unlock(&vm->xen.lock);
			/* Xen: a paused vCPU is offline (not runnable). */
			xen_runstate_set(v, RUNSTATE_offline);
			pthread_mutex_lock(&vm->xen.lock);
			pthread_cond_broadcast(&vm->xen.wake); /* vm_pause waits */
			continue;
		}
		pthread_cond_wait(&vm->xen.wake, &vm->xen.lock);
	}
	v->parked = false;
	up = up && !vm_reboot_pending(vm);
	pthread_mutex_unlock(&vm->xen.lock);
	if (was_parked)
		xen_runstate_set(v, RUNSTATE_running);
	return up && !vm_stopped(vm);
}

void vcpu_run_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct vexit ex;

	v->thread = pthread_self();
	__atomic_store_n(&v->running, true, __ATOMIC_SEQ_CST);
	while (!vm_stopped(vm)) {
		int rc;

		if (vm_reboot_pending(vm)) {
			vm_reboot_join(v); /* returns in the new domain */
			continue;
		}
		if (!wait_until_up(v))
			continue; /* stopped, or a reboot to join */

		xen_deliver_upcall(v);
		if (vm_stopped(vm))
			break;
		memset(&ex, 0, sizeof(ex));
		rc = vm->backend->vcpu_run(v, &ex);
		if (rc < 0) {
			vm_stop(vm, VM_STOP_INTERNAL, PVISOR_EXIT_INTERNAL,
				"vcpu%u: the %s backend failed (error %d)",
				v->id, vm->backend->name, rc);
			break;
		}
		v->xen.exits++;
		handle_exit(v, &ex);
	}
	__atomic_store_n(&v->running, false, __ATOMIC_SEQ_CST);
	log_vcpu_stats(v);
}
