/*
 * set_gdt and update_descriptor (Xen's arch/x86/pv/descriptor-tables.c).
 *
 * The guest's GDT frames are validated and copied into the backend's GDT
 * (entries below 0xe000); the backend's own entries stay above.  Deviation
 * from Xen: the frames are not given the seg_desc page type, so a direct
 * guest store to one is not seen until the guest calls set_gdt or
 * update_descriptor again (Linux only uses those).
 */
#include "xen/descriptor.h"

#include <string.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

#define DESC_P (1ull << 47)
#define DESC_S (1ull << 44)
#define DESC_DPL (3ull << 45)

bool desc_check(uint64_t desc, uint64_t *out)
{
	if (!(desc & DESC_P)) {
		*out = desc;
		return true;
	}
	if (!(desc & DESC_S))
		return false; /* gates, TSS, LDT */
	*out = desc | DESC_DPL;
	return true;
}

static int install(struct vcpu *v, unsigned index, uint64_t desc)
{
	const struct backend_ops *be = v->vm->backend;

	if (!be->set_gdt_entry)
		return 0;
	return be->set_gdt_entry(v, index, desc);
}

int xen_set_gdt(struct vcpu *v, const uint64_t *frames, unsigned ents)
{
	struct gmem *m = &v->vm->mem;
	unsigned nr;

	if (ents > XEN_FIRST_RESERVED_GDT_ENTRY)
		return -XEN_EINVAL;
	nr = (ents + 511) / 512;
	/* Validate everything before changing anything. */
	for (unsigned i = 0; i < nr; i++) {
		const uint64_t *d;

		if (!gmem_is_ram_frame(m, frames[i]))
			return -XEN_EINVAL;
		d = gmem_ptr(m, frames[i] << PAGE_SHIFT, PAGE_SIZE);
		for (unsigned j = 0; j < 512 && i * 512 + j < ents; j++) {
			uint64_t x, ok;

			memcpy(&x, &d[j], sizeof(x));
			if (!desc_check(x, &ok))
				return -XEN_EINVAL;
		}
	}
	for (unsigned e = 0; e < XEN_FIRST_RESERVED_GDT_ENTRY; e++) {
		uint64_t x = 0, ok = 0;

		if (e < ents) {
			const uint64_t *d = gmem_ptr(m, frames[e / 512] << PAGE_SHIFT,
						     PAGE_SIZE);

			memcpy(&x, &d[e % 512], sizeof(x));
			/* Re-checked: the guest may have changed it since. */
			if (!desc_check(x, &ok))
				ok = 0;
		} else if (e >= v->xen.gdt_ents) {
			break;
		}
		if (install(v, e, ok))
			return -XEN_EINVAL;
	}
	memset(v->xen.gdt_frames, 0, sizeof(v->xen.gdt_frames));
	memcpy(v->xen.gdt_frames, frames, nr * sizeof(frames[0]));
	v->xen.gdt_ents = ents;
	return 0;
}

long hc_set_gdt(struct vcpu *v, const struct hc_args *a)
{
	uint64_t frames[16];
	unsigned nr;

	if (a->a[1] > XEN_FIRST_RESERVED_GDT_ENTRY)
		return -XEN_EINVAL;
	nr = ((unsigned)a->a[1] + 511) / 512;
	if (nr && hc_read(v, a->a[0], frames, nr * sizeof(frames[0])))
		return -XEN_EFAULT;
	return xen_set_gdt(v, frames, (unsigned)a->a[1]);
}

long hc_update_descriptor(struct vcpu *v, const struct hc_args *a)
{
	uint64_t maddr = a->a[0], desc = a->a[1], ok;
	struct vm *vm = v->vm;

	if ((maddr & 7) || !gmem_is_ram_frame(&vm->mem, maddr >> PAGE_SHIFT))
		return -XEN_EINVAL;
	if (!desc_check(desc, &ok))
		return -XEN_EINVAL;
	if (pagetype_is_pagetable(vm, maddr >> PAGE_SHIFT))
		return -XEN_EINVAL;
	if (gmem_write(&vm->mem, maddr, &desc, sizeof(desc)))
		return -XEN_EFAULT;
	/* Refresh every vCPU whose GDT holds this frame. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *w = vm->vcpus[i];
		unsigned nr = (w->xen.gdt_ents + 511) / 512;

		for (unsigned f = 0; f < nr; f++) {
			unsigned e = f * 512 + (unsigned)((maddr & 4095) / 8);

			if (w->xen.gdt_frames[f] == maddr >> PAGE_SHIFT &&
			    e < w->xen.gdt_ents && install(w, e, ok))
				return -XEN_EINVAL;
		}
	}
	return 0;
}
