/* memory_op (the queries a PV guest needs) and vm_assist. */
#include "core/vm.h"
#include "xen/hypercall.h"

/* The command is in the low bits of the first argument (memory.h defines
 * this only for Xen and the tools). */
#ifndef MEMOP_CMD_MASK
#define MEMOP_CMD_MASK ((1u << 6) - 1)
#endif

static long memory_map(struct vcpu *v, uint64_t arg)
{
	struct xen_memory_map map;
	struct {
		uint64_t addr, size;
		uint32_t type;
	} __attribute__((packed)) e820 = {
		.addr = 0,
		.size = v->vm->mem.nr_ram_frames << PAGE_SHIFT,
		.type = 1, /* E820_RAM */
	};

	if (hc_read(v, arg, &map, sizeof(map)))
		return -XEN_EFAULT;
	if (map.nr_entries < 1)
		return -XEN_EINVAL;
	if (hc_write(v, (uint64_t)(uintptr_t)map.buffer.p, &e820, sizeof(e820)))
		return -XEN_EFAULT;
	map.nr_entries = 1;
	if (hc_write(v, arg, &map, sizeof(map)))
		return -XEN_EFAULT;
	return 0;
}

static long reservation_query(struct vcpu *v, uint64_t arg)
{
	domid_t dom;

	if (hc_read(v, arg, &dom, sizeof(dom)))
		return -XEN_EFAULT;
	if (dom != DOMID_SELF)
		return -XEN_ESRCH;
	return (long)v->vm->mem.nr_ram_frames;
}

static long machphys_mapping(struct vcpu *v, uint64_t arg)
{
	struct xen_machphys_mapping m = {
		.v_start = MACH2PHYS_VIRT_START,
		.v_end = MACH2PHYS_VIRT_END,
		.max_mfn = v->vm->mem.nr_frames - 1,
	};

	/* The backend may map the table elsewhere in Xen's reserved range
	 * (kvm: slot 256 is unusable under kvm-pvm). */
	if (v->vm->backend->m2p_va) {
		m.v_start = v->vm->backend->m2p_va;
		m.v_end = m.v_start + (1ull << 39);
	}
	if (hc_write(v, arg, &m, sizeof(m)))
		return -XEN_EFAULT;
	return 0;
}

/* Xen's XENMEM_add_to_physmap for a PV domain: its P2M is the guest's own,
 * so Xen refuses (-EACCES) once the domain is known; grant and status
 * frames come from setup_table / get_status_frames instead. */
static long add_to_physmap(struct vcpu *v, uint64_t arg)
{
	struct xen_add_to_physmap x;

	if (hc_read(v, arg, &x, sizeof(x)))
		return -XEN_EFAULT;
	if (x.space == XENMAPSPACE_gmfn_foreign)
		return -XEN_ENOSYS; /* only through add_to_physmap_batch */
	if (x.domid != DOMID_SELF && x.domid != 1)
		return -XEN_ESRCH;
	return -XEN_EACCES;
}

long hc_memory_op(struct vcpu *v, const struct hc_args *a)
{
	unsigned cmd = (unsigned)(a->a[0] & MEMOP_CMD_MASK);

	switch (cmd) {
	case XENMEM_memory_map:
		return memory_map(v, a->a[1]);
	case XENMEM_maximum_ram_page:
		return (long)v->vm->mem.nr_ram_frames - 1;
	case XENMEM_current_reservation:
	case XENMEM_maximum_reservation:
		return reservation_query(v, a->a[1]);
	case XENMEM_maximum_gpfn:
		return reservation_query(v, a->a[1]) - 1;
	case XENMEM_machphys_mapping:
		return machphys_mapping(v, a->a[1]);
	case XENMEM_add_to_physmap:
		return add_to_physmap(v, a->a[1]);
	default:
		return -XEN_ENOSYS;
	}
}

/* The assists pvisor honours; writable_pagetables is emulated
 * (xen/emulate.c: a store to a page table is validated and applied). */
#define VMASST_SUPPORTED                                                   \
	((1ul << VMASST_TYPE_4gb_segments) |                               \
	 (1ul << VMASST_TYPE_writable_pagetables) |                        \
	 (1ul << VMASST_TYPE_4gb_segments_notify) |                        \
	 (1ul << VMASST_TYPE_pae_extended_cr3) |                           \
	 (1ul << VMASST_TYPE_m2p_strict) |                                 \
	 (1ul << VMASST_TYPE_runstate_update_flag))

long hc_vm_assist(struct vcpu *v, const struct hc_args *a)
{
	uint64_t cmd = a->a[0], type = a->a[1];

	if (type >= 8 * sizeof(unsigned long) ||
	    !(VMASST_SUPPORTED & (1ul << type)))
		return -XEN_EINVAL;
	switch (cmd) {
	case VMASST_CMD_enable:
		v->vm->xen.vm_assist |= 1ul << type;
		return 0;
	case VMASST_CMD_disable:
		v->vm->xen.vm_assist &= ~(1ul << type);
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}
