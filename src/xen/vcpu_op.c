/*
 * vcpu_op: vcpu_info placement, singleshot and periodic timers, runstate,
 * and the up/down queries.  (Bringing up secondary vCPUs comes with SMP.)
 */
#include <stdlib.h>
#include <string.h>

#include "core/evloop.h"
#include "core/vm.h"
#include "xen/descriptor.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"
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
	/* pvisor writes the area from the host side from now on: like Xen,
	 * hold a writable type reference for the domain's life, so it is not
	 * a page table now and cannot become one. */
	if (pagetype_get_page(v->vm, info.mfn, true))
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

static bool canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

/*
 * VCPUOP_initialise: a secondary vCPU's first context (Xen's
 * arch_set_info_guest for a 64-bit PV guest).  Everything is validated
 * before the vCPU changes; the page tables get their type references.
 */
static long vcpu_initialise(struct vcpu *v, struct vcpu *target, uint64_t arg)
{
	struct vcpu_guest_context *c;
	struct regs *r = &target->regs;
	uint64_t l4, ul4;
	long rc;

	if (target == v)
		return -XEN_EINVAL;
	pthread_mutex_lock(&v->vm->xen.lock);
	rc = target->xen.initialised ? -XEN_EEXIST : 0;
	pthread_mutex_unlock(&v->vm->xen.lock);
	if (rc)
		return rc;
	c = malloc(sizeof(*c));
	if (!c)
		return -XEN_ENOMEM;
	rc = -XEN_EFAULT;
	if (hc_read(v, arg, c, sizeof(*c)))
		goto out;
	rc = -XEN_EINVAL;
	if (!(c->flags & VGCF_in_kernel) || c->ldt_ents ||
	    !canonical(c->user_regs.rip) || !canonical(c->user_regs.rsp) ||
	    !canonical(c->kernel_sp) || !canonical(c->event_callback_eip) ||
	    !canonical(c->failsafe_callback_eip) ||
	    !canonical(c->syscall_callback_eip) || !canonical(c->fs_base) ||
	    !canonical(c->gs_base_kernel) || !canonical(c->gs_base_user))
		goto out;
	for (unsigned i = 0; i < 256; i++)
		if (!canonical(c->trap_ctxt[i].address))
			goto out;
	l4 = c->ctrlreg[3] >> PAGE_SHIFT;
	ul4 = c->ctrlreg[1] >> PAGE_SHIFT;
	rc = xen_set_gdt(target, c->gdt_frames, (unsigned)c->gdt_ents);
	if (rc)
		goto out;
	rc = pagetype_new_baseptr(target, l4, false);
	if (rc)
		goto out;
	if (ul4) {
		rc = pagetype_new_baseptr(target, ul4, true);
		if (rc)
			goto out;
	}
	memset(target->xen.traps, 0, sizeof(target->xen.traps));
	for (unsigned i = 0; i < 256; i++) {
		const struct trap_info *t = &c->trap_ctxt[i];

		if (t->address)
			target->xen.traps[t->vector] = *t;
	}
	memset(r, 0, sizeof(*r));
	r->rax = c->user_regs.rax; r->rbx = c->user_regs.rbx;
	r->rcx = c->user_regs.rcx; r->rdx = c->user_regs.rdx;
	r->rsi = c->user_regs.rsi; r->rdi = c->user_regs.rdi;
	r->rbp = c->user_regs.rbp; r->rsp = c->user_regs.rsp;
	r->r8 = c->user_regs.r8; r->r9 = c->user_regs.r9;
	r->r10 = c->user_regs.r10; r->r11 = c->user_regs.r11;
	r->r12 = c->user_regs.r12; r->r13 = c->user_regs.r13;
	r->r14 = c->user_regs.r14; r->r15 = c->user_regs.r15;
	r->rip = c->user_regs.rip;
	r->rflags = (c->user_regs.rflags & 0xcd5) | RFLAGS_IF | RFLAGS_RESERVED1;
	r->cs = FLAT_KERNEL_CS;
	r->ss = FLAT_KERNEL_SS;
	r->fs_base = c->fs_base;
	r->gs_base = c->gs_base_kernel;
	target->xen.gs_base_user = c->gs_base_user;
	target->xen.kernel_mode = true;
	target->xen.kernel_ss = c->kernel_ss | 3;
	target->xen.kernel_sp = c->kernel_sp;
	target->xen.event_callback = c->event_callback_eip;
	target->xen.failsafe_callback = c->failsafe_callback_eip;
	target->xen.syscall_callback = c->syscall_callback_eip;
	target->xen.syscall_masks_events =
		c->flags & VGCF_syscall_disables_events;
	target->xen.iopl = v->xen.iopl; /* Linux sets it again anyway */
	xen_time_update_vcpu(target);
	pthread_mutex_lock(&v->vm->xen.lock);
	target->xen.initialised = true;
	pthread_mutex_unlock(&v->vm->xen.lock);
	rc = 0;
out:
	free(c);
	return rc;
}

static long vcpu_set_up(struct vcpu *target, bool up)
{
	struct vm *vm = target->vm;
	long rc = 0;

	pthread_mutex_lock(&vm->xen.lock);
	if (up && !target->xen.initialised)
		rc = -XEN_EINVAL;
	else
		target->xen.down = !up;
	pthread_cond_broadcast(&vm->xen.wake);
	pthread_mutex_unlock(&vm->xen.lock);
	return rc;
}

static long vcpu_is_up(struct vcpu *target)
{
	struct vm *vm = target->vm;
	bool up;

	pthread_mutex_lock(&vm->xen.lock);
	up = !target->xen.down;
	pthread_mutex_unlock(&vm->xen.lock);
	return up;
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
		return vcpu_is_up(target);
	case VCPUOP_get_runstate_info:
		return get_runstate(v, target, arg);
	case VCPUOP_register_runstate_memory_area:
		return register_runstate(v, target, arg);
	case VCPUOP_get_physid:
		return -XEN_EINVAL;
	case VCPUOP_initialise:
		return vcpu_initialise(v, target, arg);
	case VCPUOP_up:
		return vcpu_set_up(target, true);
	case VCPUOP_down:
		/* The vCPU stops at its next exit (core/vcpu.c) until up. */
		return vcpu_set_up(target, false);
	default:
		return -XEN_ENOSYS;
	}
}
