/*
 * The vCPU run loop: deliver pending events, run guest code on the backend,
 * handle the exit.  Backend-neutral: every backend reports the same exits.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/emulate.h"
#include "xen/hypercall.h"
#include "xen/traps.h"

static void handle_exit(struct vcpu *v, struct vexit *ex)
{
	switch (ex->kind) {
	case VEXIT_HYPERCALL:
		v->regs.rax = (uint64_t)hypercall_dispatch(v, v->regs.rax);
		break;
	case VEXIT_EXCEPTION:
		/* Privileged instructions, forced CPUID and page-table
		 * stores are emulated as Xen does; the rest is the guest's. */
		if (xen_emulate_fault(v, ex))
			break;
		log_debug("vcpu%u: exception %u error %#x at %#llx cr2 %#llx "
			  "(%s mode)", v->id, ex->vector, ex->error_code,
			  (unsigned long long)v->regs.rip,
			  (unsigned long long)ex->cr2,
			  v->xen.kernel_mode ? "kernel" : "user");
		if (getenv("PVISOR_HCTRACE")) {
			uint64_t e = 0;
			(void)!gmem_read(&v->vm->mem, (v->xen.baseptr_mfn << 12) + 256 * 8, &e, 8);
			log_debug("l4[256] = %#llx base %#llx", (unsigned long long)e, (unsigned long long)v->xen.baseptr_mfn);
		}
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
