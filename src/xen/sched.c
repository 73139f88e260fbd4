/*
 * Scheduling hypercalls: sched_op (yield, block, poll, shutdown) and
 * set_timer_op.  A blocked vCPU waits on vm->xen.wake until an event is
 * pending for it or the VM stops.
 */
#include <time.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/reboot.h"
#include "core/snapshot_save.h"
#include "core/vm.h"
#include "xen/events.h"
#include "xen/hypercall.h"
#include "xen/vcpu_op.h"
#include "xen/shared.h"
#include "xen/time.h"

#include <pvisor/abi.h>

#define POLL_MAX_PORTS 128

void xen_timer_set(struct vcpu *v, int64_t deadline_ns)
{
	pthread_mutex_lock(&v->vm->xen.lock);
	v->xen.timer_deadline_ns = deadline_ns;
	pthread_mutex_unlock(&v->vm->xen.lock);
	evloop_wake(v->vm);
}

/* Waits until pred(v, ctx) holds, the VM stops, or deadline_ns (system
 * time; 0 = none) passes.  Called with no locks held. */
static void block_until(struct vcpu *v, bool (*pred)(struct vcpu *, void *),
			void *ctx, int64_t deadline_ns)
{
	struct vm *vm = v->vm;

	xen_runstate_set(v, RUNSTATE_blocked);
	pthread_mutex_lock(&vm->xen.lock);
	v->xen.blocked = true;
	/* A reboot wants every vCPU thread back in its run loop. */
	while (!vm_stopped(vm) && !vm_reboot_pending(vm) && !pred(v, ctx)) {
		if (deadline_ns) {
			int64_t now = xen_system_time_ns(vm);
			/* Host time of the deadline, saturated: a guest may
			 * name the end of time. */
			int64_t abs_ns = deadline_ns > INT64_MAX - vm->xen.boot_ns
						 ? INT64_MAX
						 : vm->xen.boot_ns + deadline_ns;
			struct timespec ts = {
				.tv_sec = abs_ns / 1000000000,
				.tv_nsec = abs_ns % 1000000000,
			};

			if (now >= deadline_ns)
				break;
			pthread_cond_timedwait(&vm->xen.wake, &vm->xen.lock, &ts);
		} else {
			pthread_cond_wait(&vm->xen.wake, &vm->xen.lock);
		}
	}
	v->xen.blocked = false;
	pthread_mutex_unlock(&vm->xen.lock);
	xen_runstate_set(v, RUNSTATE_running);
}

static bool upcall_pending(struct vcpu *v, void *ctx)
{
	struct vcpu_info *vi = xen_vcpu_info(v);

	return !vi || __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_ACQUIRE);
}

static long sched_block(struct vcpu *v)
{
	struct vcpu_info *vi = xen_vcpu_info(v);

	/* Xen: blocking atomically re-enables event delivery. */
	if (vi)
		__atomic_store_n(&vi->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
	block_until(v, upcall_pending, NULL, 0);
	xen_time_update_vcpu(v);
	return 0;
}

struct poll_ctx {
	evtchn_port_t ports[POLL_MAX_PORTS];
	unsigned nr;
};

static bool any_port_pending(struct vcpu *v, void *opaque)
{
	struct poll_ctx *pc = opaque;

	for (unsigned i = 0; i < pc->nr; i++)
		if (evtchn_port_pending(v->vm, pc->ports[i]))
			return true;
	return false;
}

static long sched_poll(struct vcpu *v, uint64_t arg)
{
	struct sched_poll op;
	struct poll_ctx pc;
	uint64_t list;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.nr_ports > POLL_MAX_PORTS)
		return -XEN_EINVAL;
	list = (uint64_t)(uintptr_t)op.ports.p;
	pc.nr = op.nr_ports;
	if (pc.nr && hc_read(v, list, pc.ports, pc.nr * sizeof(pc.ports[0])))
		return -XEN_EFAULT;
	/* Xen's do_poll: port by port, a port that does not exist is
	 * -EINVAL, a pending one returns at once. */
	for (unsigned i = 0; i < pc.nr; i++) {
		if (!evtchn_port_valid(v->vm, pc.ports[i]))
			return -XEN_EINVAL;
		if (evtchn_port_pending(v->vm, pc.ports[i]))
			return 0;
	}
	block_until(v, any_port_pending, &pc, (int64_t)op.timeout);
	xen_time_update_vcpu(v);
	return 0;
}

static long sched_shutdown(struct vcpu *v, uint64_t arg, uint64_t arg3)
{
	struct sched_shutdown op;
	unsigned reason;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	reason = op.reason;
	if (reason == SHUTDOWN_poweroff)
		vm_stop(v->vm, VM_STOP_SHUTDOWN, 0, NULL);
	else if (reason >= PVISOR_SHUTDOWN_EXIT_BASE &&
		 reason <= PVISOR_SHUTDOWN_EXIT(255))
		vm_stop(v->vm, VM_STOP_SHUTDOWN,
			(int)(reason - PVISOR_SHUTDOWN_EXIT_BASE), NULL);
	else if (reason == SHUTDOWN_crash)
		vm_stop(v->vm, VM_STOP_SHUTDOWN, PVISOR_EXIT_GUEST_CRASH,
			"guest crashed (SCHEDOP_shutdown SHUTDOWN_crash)");
	else if (reason == SHUTDOWN_suspend)
		return snapshot_suspend(v, arg3); /* PV: start_info's frame */
	else if (reason == SHUTDOWN_reboot)
		vm_reboot_request(v->vm, "the guest"); /* xl's on_reboot */
	else
		vm_stop(v->vm, VM_STOP_SHUTDOWN, PVISOR_EXIT_GUEST_CRASH,
			"guest shut down with reason %u", reason);
	return 0;
}

long hc_sched_op(struct vcpu *v, const struct hc_args *a)
{
	switch (a->a[0]) {
	case SCHEDOP_yield:
		return 0;
	case SCHEDOP_block:
		return sched_block(v);
	case SCHEDOP_poll:
		return sched_poll(v, a->a[1]);
	case SCHEDOP_shutdown:
		return sched_shutdown(v, a->a[1], a->a[2]);
	case SCHEDOP_shutdown_code:
	case SCHEDOP_remote_shutdown:
	case SCHEDOP_watchdog:
	case SCHEDOP_pin_override:
	default:
		return -XEN_ENOSYS;
	}
}

/* set_timer_op(timeout): absolute system time in ns; 0 cancels. */
long hc_set_timer_op(struct vcpu *v, const struct hc_args *a)
{
	int64_t deadline = (int64_t)a->a[0];

	if (deadline < 0)
		return -XEN_EINVAL;
	xen_timer_set(v, deadline);
	return 0;
}
