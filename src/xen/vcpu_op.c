/*
 * vcpu_op: vcpu_info placement, singleshot and periodic timers, runstate,
 * and the up/down queries.  (Bringing up secondary vCPUs comes with SMP.)
 */
#include <string.h>

#include "core/evloop.h"
#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/shared.h"
#include "xen/time.h"
#include "xen/vcpu_op.h"

static long register_vcpu_info(struct vcpu *v, struct vcpu *target, uint64_t arg)
{
	struct vcpu_register_vcpu_info info;
	struct vcpu_info *old, *new;
	uint64_t gpa;

	if (hc_read(v, arg, &info, sizeof(info)))
		return -XEN_EFAULT;
	/* Xen: the area must fit in one page of the guest's own RAM, and can
	 * be registered once. */
	if (info.offset > PAGE_SIZE - sizeof(struct vcpu_info) ||
	    info.offset % 8 != 0)
		return -XEN_EINVAL;
	if (!gmem_is_ram_frame(&v->vm->mem, info.mfn))
		return -XEN_EINVAL;
	if (target->xen.vcpu_info_registered)
		return -XEN_EINVAL;
	gpa = (info.mfn << PAGE_SHIFT) + info.offset;
	old = xen_vcpu_info(target);
	new = gmem_ptr(&v->vm->mem, gpa, sizeof(*new));
	if (!new)
		return -XEN_EINVAL;
	if (old)
		memcpy(new, old, sizeof(*new));
	/* Xen sets every selector bit so that nothing pending is lost. */
	__atomic_store_n(&new->evtchn_pending_sel, ~0ul, __ATOMIC_SEQ_CST);
	__atomic_store_n(&new->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
	target->xen.vcpu_info_gpa = gpa;
	target->xen.vcpu_info_registered = true;
	xen_time_update_vcpu(target);
	return 0;
}

static long set_singleshot(struct vcpu *v, struct vcpu *target, uint64_t arg)
{
	struct vcpu_set_singleshot_timer t;

	if (hc_read(v, arg, &t, sizeof(t)))
		return -XEN_EFAULT;
	if ((t.flags & VCPU_SSHOTTMR_future) &&
	    (int64_t)t.timeout_abs_ns < xen_system_time_ns(v->vm))
		return -XEN_ETIME;
	/* A deadline of 0 would mean "off": fire as soon as possible. */
	xen_timer_set(target, t.timeout_abs_ns ? (int64_t)t.timeout_abs_ns : 1);
	return 0;
}

/* The runstate as of now (time in the current state accounted). */
static void runstate_now(struct vcpu *v, struct vcpu_runstate_info *rs)
{
	uint64_t now = (uint64_t)xen_system_time_ns(v->vm);

	*rs = v->xen.runstate;
	if (rs->state_entry_time == 0 && rs->state == RUNSTATE_running &&
	    rs->time[RUNSTATE_running] == 0) {
		/* Never switched: running since system time 0. */
		rs->time[RUNSTATE_running] = now;
		rs->state_entry_time = now;
		return;
	}
	if (now > rs->state_entry_time && rs->state < 4)
		rs->time[rs->state] += now - rs->state_entry_time;
	rs->state_entry_time = now;
}

/* Xen writes the area through the guest kernel's page tables; a failure
 * (area unmapped) is ignored, as in Xen. */
static void runstate_publish(struct vcpu *v)
{
	struct vcpu_runstate_info rs;

	if (!v->xen.runstate_gva)
		return;
	runstate_now(v, &rs);
	(void)!gva_write(&v->vm->mem, v->xen.kernel_baseptr_mfn,
			 v->xen.runstate_gva, &rs, sizeof(rs));
}

void xen_runstate_set(struct vcpu *v, int state)
{
	struct vcpu_runstate_info rs;

	runstate_now(v, &rs);
	rs.state = state;
	v->xen.runstate = rs;
	runstate_publish(v);
}

static long get_runstate(struct vcpu *v, struct vcpu *target, uint64_t arg)
{
	struct vcpu_runstate_info rs;

	runstate_now(target, &rs);
	if (hc_write(v, arg, &rs, sizeof(rs)))
		return -XEN_EFAULT;
	return 0;
}

static long register_runstate(struct vcpu *v, struct vcpu *target,
			      uint64_t arg)
{
	struct vcpu_register_runstate_memory_area area;
	uint64_t gva;

	if (hc_read(v, arg, &area, sizeof(area)))
		return -XEN_EFAULT;
	gva = (uint64_t)(uintptr_t)area.addr.v;
	/* Xen: a guest-virtual address, checked for access when written. */
	if (gva && ((uint64_t)((int64_t)(gva << 16) >> 16) != gva))
		return -XEN_EINVAL;
	target->xen.runstate_gva = gva;
	runstate_publish(target);
	return 0;
}

long hc_vcpu_op(struct vcpu *v, const struct hc_args *a)
{
	struct vm *vm = v->vm;
	uint64_t id = a->a[1], arg = a->a[2];
	struct vcpu *target;

	if (id >= vm->nr_vcpus || !(target = vm->vcpus[id]))
		return -XEN_ENOENT;
	switch (a->a[0]) {
	case VCPUOP_register_vcpu_info:
		return register_vcpu_info(v, target, arg);
	case VCPUOP_set_singleshot_timer:
		if (target != v)
			return -XEN_EINVAL;
		return set_singleshot(v, target, arg);
	case VCPUOP_stop_singleshot_timer:
		if (target != v)
			return -XEN_EINVAL;
		xen_timer_set(target, 0);
		return 0;
	case VCPUOP_stop_periodic_timer:
		return 0; /* pvisor never starts a periodic timer */
	case VCPUOP_set_periodic_timer:
		return -XEN_ENOSYS;
	case VCPUOP_is_up:
		return 1;
	case VCPUOP_get_runstate_info:
		return get_runstate(v, target, arg);
	case VCPUOP_register_runstate_memory_area:
		return register_runstate(v, target, arg);
	case VCPUOP_get_physid:
		return -XEN_EINVAL;
	case VCPUOP_initialise:
	case VCPUOP_up:
	case VCPUOP_down:
		return target == v ? -XEN_EINVAL : -XEN_ENOSYS;
	default:
		return -XEN_ENOSYS;
	}
}
