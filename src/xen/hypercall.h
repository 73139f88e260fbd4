/*
 * Hypercall dispatch.  Each hypercall family lives in its own file and
 * registers its handlers in the table in dispatch.c.  A handler gets the
 * guest's arguments (Xen x86-64 ABI: rdi, rsi, rdx, r10, r8) and returns the
 * value for rax: >= 0 on success, -XEN_Exxx on error.  Guest pointers are
 * guest-virtual and are read with gva_read()/gva_write() through
 * hc_read()/hc_write(), never dereferenced.
 */
#ifndef PVISOR_XEN_HYPERCALL_H
#define PVISOR_XEN_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>

struct vcpu;

struct hc_args {
	uint64_t a[5];
};

typedef long (*hypercall_fn)(struct vcpu *v, const struct hc_args *args);

/* Runs hypercall `nr` for v with the args in v->regs; returns rax. */
long hypercall_dispatch(struct vcpu *v, uint64_t nr);

/* Runs one hypercall with explicit args (multicall); -XEN_ENOSYS for
 * unknown numbers.  hypercall_lookup gives NULL for those. */
long hypercall_call(struct vcpu *v, uint64_t nr, const struct hc_args *args);
hypercall_fn hypercall_lookup(uint64_t nr);

/* Guest-virtual copies through the vCPU's current page tables; 0 or
 * -XEN_EFAULT. */
int hc_read(struct vcpu *v, uint64_t gva, void *dst, size_t len)
	__attribute__((warn_unused_result));
int hc_write(struct vcpu *v, uint64_t gva, const void *src, size_t len)
	__attribute__((warn_unused_result));

/* Handlers, by family (one file each). */
long hc_console_io(struct vcpu *v, const struct hc_args *a);      /* console.c */
long hc_xen_version(struct vcpu *v, const struct hc_args *a);     /* version.c */
long hc_sched_op(struct vcpu *v, const struct hc_args *a);        /* sched.c */
long hc_set_timer_op(struct vcpu *v, const struct hc_args *a);    /* sched.c */
long hc_vcpu_op(struct vcpu *v, const struct hc_args *a);         /* vcpu.c */
long hc_event_channel_op(struct vcpu *v, const struct hc_args *a);/* events.c */
long hc_memory_op(struct vcpu *v, const struct hc_args *a);       /* memory.c */
long hc_mmu_update(struct vcpu *v, const struct hc_args *a);      /* mmu.c */
long hc_update_va_mapping(struct vcpu *v, const struct hc_args *a);/* mmu.c */
long hc_mmuext_op(struct vcpu *v, const struct hc_args *a);       /* mmu.c */
long hc_multicall(struct vcpu *v, const struct hc_args *a);       /* multicall.c */
long hc_set_callbacks(struct vcpu *v, const struct hc_args *a);   /* traps.c */
long hc_callback_op(struct vcpu *v, const struct hc_args *a);     /* traps.c */
long hc_set_trap_table(struct vcpu *v, const struct hc_args *a);  /* traps.c */
long hc_iret(struct vcpu *v, const struct hc_args *a);            /* traps.c */
long hc_stack_switch(struct vcpu *v, const struct hc_args *a);    /* traps.c */
long hc_fpu_taskswitch(struct vcpu *v, const struct hc_args *a);  /* traps.c */
long hc_set_segment_base(struct vcpu *v, const struct hc_args *a);/* traps.c */
long hc_vm_assist(struct vcpu *v, const struct hc_args *a);       /* memory.c */
long hc_grant_table_op(struct vcpu *v, const struct hc_args *a);  /* grant.c */

#endif
