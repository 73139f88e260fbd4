/*
 * The vCPU run loop: deliver pending events, run guest code on the backend,
 * handle the exit.  Backend-neutral: every backend reports the same exits.
 */
#include <string.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/traps.h"

static void handle_exit(struct vcpu *v, const struct vexit *ex)
{
	switch (ex->kind) {
	case VEXIT_HYPERCALL:
		v->regs.rax = (uint64_t)hypercall_dispatch(v, v->regs.rax);
		break;
	case VEXIT_EXCEPTION:
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

void vcpu_run_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct vexit ex;

	v->thread = pthread_self();
	__atomic_store_n(&v->running, true, __ATOMIC_SEQ_CST);
	while (!vm_stopped(vm)) {
		int rc;

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
		handle_exit(v, &ex);
	}
	__atomic_store_n(&v->running, false, __ATOMIC_SEQ_CST);
}
