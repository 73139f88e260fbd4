/*
 * Hypercall wrappers.  pvisor (like Xen) fills the page `hypercall_page` at
 * boot; hypercall i is `call hypercall_page + i*32` with arguments in rdi,
 * rsi, rdx, r10, r8 and the result in rax (rcx and r11 are clobbered).  Every
 * call through these wrappers is counted per hypercall number (see `info`).
 */
#ifndef KIT_HYPERCALL_H
#define KIT_HYPERCALL_H

#include <pvisor/xen.h>

#define KIT_NR_HYPERCALLS 128 /* 4096-byte page / 32-byte entries */

extern char hypercall_page[4096];
extern unsigned long hypercall_counts[KIT_NR_HYPERCALLS];

/* Name of hypercall nr ("xen_version"), or NULL if it has none. */
const char *hypercall_name(unsigned nr);

/*
 * The one primitive: hypercall nr (0..127) with five arguments.  Any entry of
 * the page may be called, including unknown numbers (tests rely on that).
 */
static inline long hypercall5(unsigned nr, unsigned long a1, unsigned long a2,
			      unsigned long a3, unsigned long a4,
			      unsigned long a5)
{
	register unsigned long r10 asm("r10") = a4;
	register unsigned long r8 asm("r8") = a5;
	unsigned long entry = (unsigned long)hypercall_page +
			      (nr % KIT_NR_HYPERCALLS) * 32;
	long res;

	hypercall_counts[nr % KIT_NR_HYPERCALLS]++;
	asm volatile("call *%%rax"
		     : "=a"(res), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10),
		       "+r"(r8)
		     : "a"(entry)
		     : "memory", "rcx", "r11", "r9");
	return res;
}

#define HC(nr, a1, a2, a3, a4, a5)                                          \
	hypercall5((nr), (unsigned long)(a1), (unsigned long)(a2),          \
		   (unsigned long)(a3), (unsigned long)(a4),                \
		   (unsigned long)(a5))

static inline long HYPERVISOR_set_trap_table(const struct trap_info *table)
{
	return HC(__HYPERVISOR_set_trap_table, table, 0, 0, 0, 0);
}

static inline long HYPERVISOR_mmu_update(struct mmu_update *req,
					 unsigned count, unsigned *done,
					 domid_t dom)
{
	return HC(__HYPERVISOR_mmu_update, req, count, done, dom, 0);
}

static inline long HYPERVISOR_mmuext_op(struct mmuext_op *op, unsigned count,
					unsigned *done, domid_t dom)
{
	return HC(__HYPERVISOR_mmuext_op, op, count, done, dom, 0);
}

static inline long HYPERVISOR_update_va_mapping(unsigned long va,
						uint64_t val,
						unsigned long flags)
{
	return HC(__HYPERVISOR_update_va_mapping, va, val, flags, 0, 0);
}

static inline long HYPERVISOR_console_io(int cmd, int count, const char *str)
{
	return HC(__HYPERVISOR_console_io, cmd, count, str, 0, 0);
}

static inline long HYPERVISOR_xen_version(int cmd, void *arg)
{
	return HC(__HYPERVISOR_xen_version, cmd, arg, 0, 0, 0);
}

static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{
	return HC(__HYPERVISOR_sched_op, cmd, arg, 0, 0, 0);
}

static inline long HYPERVISOR_set_timer_op(uint64_t timeout_ns)
{
	return HC(__HYPERVISOR_set_timer_op, timeout_ns, 0, 0, 0, 0);
}

static inline long HYPERVISOR_event_channel_op(int cmd, void *op)
{
	return HC(__HYPERVISOR_event_channel_op, cmd, op, 0, 0, 0);
}

static inline long HYPERVISOR_vcpu_op(int cmd, unsigned vcpuid, void *extra)
{
	return HC(__HYPERVISOR_vcpu_op, cmd, vcpuid, extra, 0, 0);
}

static inline long HYPERVISOR_multicall(struct multicall_entry *calls,
					unsigned nr)
{
	return HC(__HYPERVISOR_multicall, calls, nr, 0, 0, 0);
}

static inline long HYPERVISOR_callback_op(int cmd, const void *arg)
{
	return HC(__HYPERVISOR_callback_op, cmd, arg, 0, 0, 0);
}

static inline long HYPERVISOR_set_callbacks(unsigned long event,
					    unsigned long failsafe,
					    unsigned long syscall)
{
	return HC(__HYPERVISOR_set_callbacks, event, failsafe, syscall, 0, 0);
}

static inline long HYPERVISOR_memory_op(unsigned cmd, void *arg)
{
	return HC(__HYPERVISOR_memory_op, cmd, arg, 0, 0, 0);
}

static inline long HYPERVISOR_vm_assist(unsigned cmd, unsigned type)
{
	return HC(__HYPERVISOR_vm_assist, cmd, type, 0, 0, 0);
}

#endif
