/*
 * Trap table, callbacks, exception/event bounce frames, iret, stack_switch,
 * fpu_taskswitch and set_segment_base (see traps.h).
 */
#include "xen/traps.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/debugreg.h"
#include "xen/events.h"
#include "xen/hypercall.h"
#include "xen/shared.h"

#define TBF_EXCEPTION_ERRCODE 1u
#define TBF_INTERRUPT 2u

#define RFLAGS_TF (1ul << 8)
#define RFLAGS_NT (1ul << 14)
#define RFLAGS_RF (1ul << 16)
#define RFLAGS_VM (1ul << 17)
#define RFLAGS_IOPL (3ul << 12)

#define PFEC_USER (1u << 2)
#define DR6_BS (1ull << 14)

/* trap_info.flags: bits 0-1 DPL, bit 2 "clear event enable" (TI_SET_IF). */
#define TI_FLAG_MASK_EVENTS 4u

static bool is_canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

static bool has_error_code(unsigned vector)
{
	switch (vector) {
	case 8: case 10: case 11: case 12: case 13: case 14: case 17:
	case 21:
		return true;
	default:
		return false;
	}
}

int xen_toggle_guest_mode(struct vcpu *v)
{
	const struct backend_ops *be = v->vm->backend;
	uint64_t gs = v->regs.gs_base;
	uint64_t root;

	v->xen.kernel_mode = !v->xen.kernel_mode;
	v->regs.gs_base = v->xen.gs_base_user;
	v->xen.gs_base_user = gs;
	root = v->xen.kernel_mode ? v->xen.kernel_baseptr_mfn
				  : v->xen.user_baseptr_mfn;
	v->xen.baseptr_mfn = root;
	return be->set_baseptr(v, root);
}

/*
 * Builds the bounce frame and points the vCPU at handler.  From guest user
 * mode the frame goes on the kernel stack registered with stack_switch.
 */
static int bounce(struct vcpu *v, uint64_t handler, unsigned flags,
		  uint32_t error_code)
{
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct regs *r = &v->regs;
	uint64_t frame[8], sp, cs = r->cs, ss, saved_mask;
	bool kernel_before = v->xen.kernel_mode;
	unsigned n = 0;

	if (!vi)
		return -1;
	if (!v->xen.kernel_mode) {
		if (xen_toggle_guest_mode(v) < 0)
			return -1;
		sp = v->xen.kernel_sp;
	} else {
		sp = r->rsp;
		cs &= ~3ul; /* tells the guest it was in kernel context */
	}
	if (!kernel_before)
		cs = v->xen.user_cs ? v->xen.user_cs : r->cs;
	ss = !kernel_before && v->xen.user_ss ? v->xen.user_ss : r->ss;
	sp &= ~0xful;
	saved_mask = __atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_ACQUIRE);
	if (flags & TBF_INTERRUPT)
		__atomic_store_n(&vi->evtchn_upcall_mask, 1, __ATOMIC_RELEASE);

	frame[n++] = r->rcx;
	frame[n++] = r->r11;
	if (flags & TBF_EXCEPTION_ERRCODE)
		frame[n++] = error_code;
	frame[n++] = r->rip;
	frame[n++] = cs | (saved_mask << 32);
	frame[n++] = (r->rflags & ~(RFLAGS_IF | RFLAGS_IOPL)) |
		     (saved_mask ? 0 : RFLAGS_IF);
	frame[n++] = r->rsp;
	frame[n++] = ss;
	sp -= n * 8;
	if (hc_write(v, sp, frame, n * 8))
		return -1;
	r->rsp = sp;
	r->rip = handler;
	r->cs = FLAT_KERNEL_CS;
	r->ss = FLAT_KERNEL_SS;
	r->rflags = (r->rflags & ~(RFLAGS_TF | RFLAGS_VM | RFLAGS_RF |
				   RFLAGS_NT | RFLAGS_IOPL)) |
		    RFLAGS_IF | RFLAGS_RESERVED1;
	return 0;
}

int xen_bounce_exception(struct vcpu *v, const struct vexit *ex)
{
	const struct trap_info *ti;
	unsigned flags = 0;
	uint32_t ec = ex->error_code;

	if (ex->vector >= 32) {
		vm_stop_fault(v, ex, "exception vector %u out of range",
			      ex->vector);
		return -1;
	}
	ti = &v->xen.traps[ex->vector];
	if (!ti->address) {
		vm_stop_fault(v, ex, "unhandled exception %u in guest %s mode",
			      ex->vector, v->xen.kernel_mode ? "kernel" : "user");
		return -1;
	}
	if (ex->vector == 14) {
		struct vcpu_info *vi = xen_vcpu_info(v);

		if (vi)
			vi->arch.cr2 = ex->cr2;
		/* The vCPU runs at CPL3 either way; tell the guest which
		 * mode it was really in, as Xen does. */
		ec &= ~PFEC_USER;
		if (!v->xen.kernel_mode)
			ec |= PFEC_USER;
	}
	if (ex->vector == 1 && (v->regs.rflags & RFLAGS_TF)) {
		/* A single-step trap: the guest reads DR6.BS, as Xen copies
		 * the hardware's DR6 (an icebp sets no status bit). */
		long dr6 = xen_debugreg_get(&v->xen, 6);

		(void)xen_debugreg_set(&v->xen, 6, (uint64_t)dr6 | DR6_BS);
	}
	if (has_error_code(ex->vector))
		flags |= TBF_EXCEPTION_ERRCODE;
	if (ti->flags & TI_FLAG_MASK_EVENTS)
		flags |= TBF_INTERRUPT;
	v->xen.exceptions++;
	if (bounce(v, ti->address, flags, ec) < 0) {
		vm_stop_fault(v, ex,
			      "cannot deliver exception %u: guest kernel stack "
			      "not writable", ex->vector);
		return -1;
	}
	return 0;
}

int xen_bounce_softint(struct vcpu *v, unsigned vector)
{
	const struct trap_info *ti = &v->xen.traps[vector & 0xff];

	if (!ti->address) {
		vm_stop_fault(v, NULL, "software interrupt %u with no handler",
			      vector);
		return -1;
	}
	v->xen.exceptions++;
	if (bounce(v, ti->address,
		   ti->flags & TI_FLAG_MASK_EVENTS ? TBF_INTERRUPT : 0, 0) < 0) {
		vm_stop_fault(v, NULL, "cannot deliver software interrupt %u: "
				       "guest kernel stack not writable", vector);
		return -1;
	}
	return 0;
}

bool xen_deliver_upcall(struct vcpu *v)
{
	if (!v->xen.event_callback || !evtchn_upcall_deliverable(v))
		return false;
	if (bounce(v, v->xen.event_callback, TBF_INTERRUPT, 0) < 0) {
		vm_stop_fault(v, NULL, "cannot deliver event upcall: guest "
				       "kernel stack not writable");
		return false;
	}
	v->xen.upcalls++;
	return true;
}

int xen_bounce_syscall(struct vcpu *v)
{
	if (!v->xen.syscall_callback) {
		vm_stop_fault(v, NULL, "syscall from guest user mode with no "
				       "syscall callback");
		return -1;
	}
	return bounce(v, v->xen.syscall_callback,
		      v->xen.syscall_masks_events ? TBF_INTERRUPT : 0, 0);
}

long hc_set_trap_table(struct vcpu *v, const struct hc_args *a)
{
	uint64_t gva = a->a[0];
	struct trap_info t;

	if (!gva) {
		memset(v->xen.traps, 0, sizeof(v->xen.traps));
		return 0;
	}
	/* The table ends at an entry with address 0; at most one entry per
	 * vector is meaningful, so bound the walk. */
	for (unsigned i = 0; i < 256; i++, gva += sizeof(t)) {
		if (hc_read(v, gva, &t, sizeof(t)))
			return -XEN_EFAULT;
		if (!t.address)
			return 0;
		if (!is_canonical(t.address))
			return -XEN_EINVAL;
		v->xen.traps[t.vector] = t;
	}
	return 0;
}

/*
 * Xen's register_guest_callback (pv/callback.c): the address must be
 * canonical; flags matter only for CALLBACKF_mask_events on failsafe,
 * syscall, syscall32 and sysenter.  syscall32 and sysenter are recorded
 * but never delivered (pvisor runs no compat-mode code); NMI goes into
 * the trap table's vector 2, as Xen's register_guest_nmi_callback does
 * (pvisor has no NMI source).  Unknown types: -ENOSYS.
 */
static long register_callback(struct vcpu *v, unsigned type, uint64_t address,
			      unsigned flags)
{
	bool mask = flags & CALLBACKF_mask_events;

	if (!is_canonical(address))
		return -XEN_EINVAL;
	switch (type) {
	case CALLBACKTYPE_event:
		v->xen.event_callback = address;
		return 0;
	case CALLBACKTYPE_failsafe:
		v->xen.failsafe_callback = address;
		v->xen.failsafe_masks_events = mask;
		return 0;
	case CALLBACKTYPE_syscall:
		v->xen.syscall_callback = address;
		v->xen.syscall_masks_events = mask;
		return 0;
	case CALLBACKTYPE_syscall32:
		v->xen.syscall32_callback = address;
		v->xen.syscall32_masks_events = mask;
		return 0;
	case CALLBACKTYPE_sysenter:
		v->xen.sysenter_callback = address;
		v->xen.sysenter_masks_events = mask;
		return 0;
	case CALLBACKTYPE_nmi: {
		struct trap_info *t = &v->xen.traps[2];

		t->vector = 2;
		t->flags = TI_FLAG_MASK_EVENTS; /* TI_SET_IF(t, 1) */
		t->cs = FLAT_KERNEL_CS;
		t->address = address;
		return 0;
	}
	default:
		return -XEN_ENOSYS;
	}
}

/* Xen's unregister_guest_callback: only the NMI callback can go. */
static long unregister_callback(struct vcpu *v, unsigned type)
{
	switch (type) {
	case CALLBACKTYPE_event:
	case CALLBACKTYPE_failsafe:
	case CALLBACKTYPE_syscall:
	case CALLBACKTYPE_syscall32:
	case CALLBACKTYPE_sysenter:
		return -XEN_EINVAL;
	case CALLBACKTYPE_nmi:
		memset(&v->xen.traps[2], 0, sizeof(v->xen.traps[2]));
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}

/* Xen's do_set_callbacks: three registrations with flags 0, errors
 * ignored, always 0. */
long hc_set_callbacks(struct vcpu *v, const struct hc_args *a)
{
	register_callback(v, CALLBACKTYPE_event, a->a[0], 0);
	register_callback(v, CALLBACKTYPE_failsafe, a->a[1], 0);
	register_callback(v, CALLBACKTYPE_syscall, a->a[2], 0);
	return 0;
}

long hc_callback_op(struct vcpu *v, const struct hc_args *a)
{
	switch (a->a[0]) {
	case CALLBACKOP_register: {
		struct callback_register cb;

		if (hc_read(v, a->a[1], &cb, sizeof(cb)))
			return -XEN_EFAULT;
		return register_callback(v, cb.type, cb.address, cb.flags);
	}
	case CALLBACKOP_unregister: {
		struct callback_unregister cb;

		if (hc_read(v, a->a[1], &cb, sizeof(cb)))
			return -XEN_EFAULT;
		return unregister_callback(v, cb.type);
	}
	default:
		return -XEN_ENOSYS;
	}
}

/* The guest's descriptor for selector sel from its GDT (set_gdt), or 0. */
static uint64_t guest_desc(struct vcpu *v, uint64_t sel)
{
	unsigned idx = (unsigned)(sel >> 3);
	uint64_t d = 0;

	if (sel & 4 || idx >= v->xen.gdt_ents)
		return 0;
	if (gmem_read(&v->vm->mem, (v->xen.gdt_frames[idx / 512] << PAGE_SHIFT) +
				   (idx % 512) * 8, &d, sizeof(d)))
		return 0;
	return d;
}

/*
 * The vCPU runs on Xen's flat selectors (the backends know no others); a
 * guest that returns to its own GDT's selectors (Linux: __USER_CS 0x33,
 * __USER_DS 0x2b) runs on the flat equivalent, and its frames show the
 * selectors it chose.  Only 64-bit code is supported.
 */
static int iret_selectors(struct vcpu *v, uint64_t cs, uint64_t ss)
{
	struct regs *r = &v->regs;
	uint64_t d;

	if (cs == FLAT_RING3_CS64) {
		v->xen.user_cs = 0;
	} else {
		d = guest_desc(v, cs);
		/* present, code, L (64-bit) */
		if (!(d & (1ull << 47)) || !(d & (1ull << 44)) ||
		    !(d & (1ull << 43)) || !(d & (1ull << 53)))
			return -1;
		v->xen.user_cs = (uint16_t)cs;
	}
	if (ss == FLAT_RING3_SS64 || ss == 3) {
		v->xen.user_ss = ss == 3 ? 3 : 0;
	} else {
		d = guest_desc(v, ss);
		/* present, data, writable */
		if (!(d & (1ull << 47)) || !(d & (1ull << 44)) ||
		    (d & (1ull << 43)) || !(d & (1ull << 41)))
			return -1;
		v->xen.user_ss = (uint16_t)ss;
	}
	r->cs = FLAT_RING3_CS64;
	r->ss = FLAT_RING3_SS64;
	return 0;
}

/* Xen's do_iret for 64-bit PV guests. */
long hc_iret(struct vcpu *v, const struct hc_args *a)
{
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct iret_context ctx;
	struct regs *r = &v->regs;

	if (hc_read(v, r->rsp, &ctx, sizeof(ctx))) {
		vm_stop_fault(v, NULL, "iret: frame at %#llx not readable",
			      (unsigned long long)r->rsp);
		return -XEN_EFAULT;
	}
	if ((ctx.cs & 3) == 3 && v->xen.kernel_mode) {
		if (!v->xen.user_baseptr_mfn) {
			vm_stop_fault(v, NULL, "iret to user mode with no user "
					       "page tables");
			return -XEN_EFAULT;
		}
		if (xen_toggle_guest_mode(v) < 0)
			return -XEN_EFAULT;
	}
	if (!is_canonical(ctx.rip) || !is_canonical(ctx.rsp)) {
		vm_stop_fault(v, NULL, "iret to non-canonical rip %#llx",
			      (unsigned long long)ctx.rip);
		return -XEN_EINVAL;
	}
	if (iret_selectors(v, (uint16_t)ctx.cs | 3, (uint16_t)ctx.ss | 3) < 0) {
		vm_stop_fault(v, NULL, "iret to unsupported selectors cs %#llx "
			      "ss %#llx", (unsigned long long)ctx.cs,
			      (unsigned long long)ctx.ss);
		return -XEN_EINVAL;
	}
	r->rip = ctx.rip;
	r->rflags = (ctx.rflags & ~(RFLAGS_IOPL | RFLAGS_VM)) | RFLAGS_IF |
		    RFLAGS_RESERVED1;
	r->rsp = ctx.rsp;
	if (!(ctx.flags & VGCF_in_syscall)) {
		r->r11 = ctx.r11;
		r->rcx = ctx.rcx;
	}
	/* The upcall mask follows the returned-to EFLAGS.IF. */
	if (vi)
		__atomic_store_n(&vi->evtchn_upcall_mask,
				 !(ctx.rflags & RFLAGS_IF), __ATOMIC_RELEASE);
	return (long)ctx.rax;
}

long hc_stack_switch(struct vcpu *v, const struct hc_args *a)
{
	if (!is_canonical(a->a[1]))
		return -XEN_EINVAL;
	v->xen.kernel_ss = a->a[0] | 3;
	v->xen.kernel_sp = a->a[1];
	return 0;
}

long hc_fpu_taskswitch(struct vcpu *v, const struct hc_args *a)
{
	/* Recorded only: pvisor keeps FPU state eagerly, so a guest that
	 * sets TS does not get #NM (documented in docs/pv-abi.md). */
	v->xen.fpu_ts = a->a[0] != 0;
	return 0;
}

long hc_set_segment_base(struct vcpu *v, const struct hc_args *a)
{
	uint64_t base = a->a[1];

	switch (a->a[0]) {
	case SEGBASE_FS:
		if (!is_canonical(base))
			return -XEN_EINVAL;
		v->regs.fs_base = base;
		return 0;
	case SEGBASE_GS_USER:
		if (!is_canonical(base))
			return -XEN_EINVAL;
		v->xen.gs_base_user = base;
		return 0;
	case SEGBASE_GS_KERNEL:
		if (!is_canonical(base))
			return -XEN_EINVAL;
		v->regs.gs_base = base;
		return 0;
	case SEGBASE_GS_USER_SEL:
		/* Loading a null or flat selector leaves the base at 0. */
		v->xen.gs_base_user = 0;
		return 0;
	default:
		return -XEN_EINVAL;
	}
}
