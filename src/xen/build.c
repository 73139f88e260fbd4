/*
 * The domain builder (see build.h and docs/domain-builder.md).
 *
 * The layout is libxc's for an x86-64 PV guest (xc_dom_build_image): the
 * kernel at its linked address, then each region allocated at the next free
 * virtual page in the order kernel, initrd, P2M list, start_info, xenstore
 * page, console page, boot page tables, boot stack.  Pseudo-physical frame p
 * is mapped at virt_base + p * 4096, and the initial mapping covers
 * [virt_base, end of the boot stack + 512 KiB) rounded up to 4 MiB — guests
 * (Linux, Mini-OS) allocate their first page-table frames from that padding
 * and expect it mapped.
 */
#include "xen/build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/vm.h"
#include "core/log.h"

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_USER (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)

/*
 * Every entry is USER: the PV kernel runs in ring 3 (Xen's 64-bit PV
 * adjust_guest_l*e() sets it too).  A and D are preset so that the CPU
 * never has to write them back into a table the guest sees read-only.
 */
#define PT_TABLE_PROT (PTE_P | PTE_RW | PTE_USER | PTE_A | PTE_D)
#define PT_DATA_PROT (PTE_P | PTE_RW | PTE_USER | PTE_A | PTE_D)
#define PT_RO_PROT (PTE_P | PTE_USER | PTE_A | PTE_D)

#define BUILD_PAD_FRAMES ((512ull * 1024) / PAGE_SIZE) /* libxc's slack */
#define BUILD_MAP_ALIGN_MASK ((1ull << 22) - 1)        /* 4 MiB */

/* Features a PV guest on pvisor cannot have, whatever it asks. */
#define BUILD_XENFEAT_UNAVAILABLE                                              \
	((1u << XENFEAT_auto_translated_physmap) |                            \
	 (1u << XENFEAT_supervisor_mode_kernel) |                             \
	 (1u << XENFEAT_hvm_callback_vector) | (1u << XENFEAT_dom0))

static bool canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

static uint64_t pages_for(uint64_t bytes)
{
	return bytes / PAGE_SIZE + (bytes % PAGE_SIZE != 0);
}

/* Shift of the virtual span one table at `level` (1..4) covers. */
static unsigned level_span_shift(unsigned level)
{
	return PAGE_SHIFT + 9 * level;
}

/* libxc's count_pgtables() for one mapping [from, to_incl]: at each level,
 * one table per aligned span the range touches. */
static uint64_t count_pgtables(uint64_t from, uint64_t to_incl,
			       uint64_t per_level[5])
{
	uint64_t total = 0;

	for (unsigned l = 4; l >= 1; l--) {
		unsigned s = level_span_shift(l);
		uint64_t n;

		/* The whole 48-bit space is one L4; shifting by 48 on the
		 * sign-extended address would see two halves. */
		n = l == 4 ? 1 : (to_incl >> s) - (from >> s) + 1;
		per_level[l] = n;
		total += n;
	}
	return total;
}

static void format_mem(char *buf, size_t len, uint64_t frames)
{
	uint64_t bytes = frames * PAGE_SIZE;

	if (bytes % (1ull << 20) == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, len, "%lluK", (unsigned long long)(bytes >> 10));
}

int domain_build_layout(const struct xen_elf_image *img,
			uint64_t nr_ram_frames, size_t initrd_len,
			struct boot_layout *out, char *err, size_t err_len)
{
	struct boot_layout l = { .virt_base = img->virt_base };
	uint64_t vb = img->virt_base, alloc, pages, try_end, need, map_pages;
	uint64_t p2m_bytes;

	if (img->v_start & (PAGE_SIZE - 1)) {
		errbuf_printf(err, err_len,
		       "kernel start %#llx is not page aligned",
		       (unsigned long long)img->v_start);
		return -EINVAL;
	}
	/* xen_elf_parse() guarantees virt_base <= v_start <= v_end. */
	if (img->v_start < vb || img->v_end < img->v_start ||
	    !canonical(vb) || !canonical(img->v_start)) {
		errbuf_printf(err, err_len,
		       "kernel range [%#llx, %#llx) is not a canonical address range",
		       (unsigned long long)img->v_start,
		       (unsigned long long)img->v_end);
		return -EINVAL;
	}
	l.kernel_pfn = (img->v_start - vb) >> PAGE_SHIFT;
	l.nr_kernel_frames = pages_for(img->v_end - img->v_start);
	alloc = l.kernel_pfn + l.nr_kernel_frames;

	l.initrd_pfn = alloc;
	l.nr_initrd_frames = pages_for(initrd_len);
	alloc += l.nr_initrd_frames;

	if (__builtin_mul_overflow(nr_ram_frames, sizeof(uint64_t), &p2m_bytes))
		goto too_big;
	l.p2m_pfn = alloc;
	l.nr_p2m_frames = pages_for(p2m_bytes);
	alloc += l.nr_p2m_frames;

	l.start_info_pfn = alloc++;
	l.store_pfn = alloc++;
	l.console_pfn = alloc++;
	l.pt_pfn = alloc;

	/*
	 * libxc's alloc_pgtables_pv(): the tables must map themselves, the
	 * stack and the padding, so guess, count the tables that range needs,
	 * and grow until the allocation fits under the 4 MiB-rounded end.
	 * Sizes here are bounded by RAM (checked below) only after the loop,
	 * so every step checks for overflow.
	 */
	pages = 1 + BUILD_PAD_FRAMES;
	for (unsigned iter = 0;; iter++) {
		uint64_t end_va, alloc_end;

		if (iter > 64 ||
		    __builtin_add_overflow(alloc, pages, &alloc_end) ||
		    alloc_end > (UINT64_MAX >> PAGE_SHIFT) ||
		    __builtin_add_overflow(vb, alloc_end << PAGE_SHIFT, &end_va))
			goto too_big;
		try_end = end_va | BUILD_MAP_ALIGN_MASK;
		l.nr_pt_frames = count_pgtables(vb, try_end, l.nr_pt_by_level);
		pages = l.nr_pt_frames + 1 + BUILD_PAD_FRAMES;
		if (__builtin_add_overflow(alloc, pages, &alloc_end) ||
		    alloc_end > (UINT64_MAX >> PAGE_SHIFT) ||
		    __builtin_add_overflow(vb, alloc_end << PAGE_SHIFT, &end_va))
			goto too_big;
		if (end_va - 1 <= try_end)
			break;
	}
	alloc += l.nr_pt_frames;
	l.boot_stack_pfn = alloc++;
	l.nr_alloc_frames = alloc;

	if (try_end == UINT64_MAX || !canonical(try_end) ||
	    (vb >> 47) != (try_end >> 47))
		goto not_canonical;
	l.map_end = try_end + 1;
	/* Xen keeps [HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END) for itself. */
	if (vb < HYPERVISOR_VIRT_END && l.map_end > HYPERVISOR_VIRT_START) {
		errbuf_printf(err, err_len,
		       "kernel mapping [%#llx, %#llx) overlaps Xen's reserved range [%#llx, %#llx)",
		       (unsigned long long)vb, (unsigned long long)l.map_end,
		       (unsigned long long)HYPERVISOR_VIRT_START,
		       (unsigned long long)HYPERVISOR_VIRT_END);
		return -EINVAL;
	}

	need = alloc + BUILD_PAD_FRAMES;
	if (need > nr_ram_frames) {
		char mem[32];

		format_mem(mem, sizeof(mem), nr_ram_frames);
		errbuf_printf(err, err_len,
		       "--mem %s is too small: the kernel, initrd and boot tables need %llu MiB",
		       mem,
		       (unsigned long long)((need * PAGE_SIZE + (1ull << 20) - 1) >>
					    20));
		return -ENOMEM;
	}
	map_pages = (l.map_end - vb) >> PAGE_SHIFT;
	l.nr_mapped_frames = map_pages < nr_ram_frames ? map_pages
						       : nr_ram_frames;
	*out = l;
	return 0;

too_big:
	errbuf_printf(err, err_len,
	       "kernel layout from VIRT_BASE %#llx does not fit the address space",
	       (unsigned long long)vb);
	return -EINVAL;
not_canonical:
	errbuf_printf(err, err_len,
	       "kernel mapping from VIRT_BASE %#llx crosses the non-canonical hole or the top of the address space",
	       (unsigned long long)vb);
	return -EINVAL;
}

/* Frame index of the table at `level` covering va. */
static uint64_t table_pfn(const struct boot_layout *l, unsigned level,
			  uint64_t va)
{
	uint64_t pfn = l->pt_pfn;

	for (unsigned k = 4; k > level; k--)
		pfn += l->nr_pt_by_level[k];
	if (level == 4)
		return pfn;
	return pfn + (va >> level_span_shift(level)) -
	       (l->virt_base >> level_span_shift(level));
}

static int pte_set(struct gmem *m, uint64_t table, uint64_t va,
		   unsigned level, uint64_t pte)
{
	uint64_t idx = (va >> (PAGE_SHIFT + 9 * (level - 1))) & 511;

	return gmem_write(m, (table << PAGE_SHIFT) + idx * 8, &pte,
			  sizeof(pte));
}

/* Builds the boot page tables: every table of the layout linked to its
 * parent, frames [0, nr_mapped_frames) mapped, the backend's L4 slots. */
static int build_pagetables(struct vm *vm, const struct boot_layout *l,
			    char *err, size_t err_len)
{
	struct gmem *m = &vm->mem;
	uint64_t vb = l->virt_base, last = l->map_end - 1;
	uint64_t l4 = table_pfn(l, 4, vb);

	for (unsigned slot = 0; slot < 512; slot++) {
		uint64_t slot_va = (uint64_t)slot << 39;

		if (slot >= 256)
			slot_va |= 0xffff000000000000ull;
		if (!vm->backend->l4_slot_reserved(vm, slot))
			continue;
		if (slot_va <= last && slot_va + (1ull << 39) - 1 >= vb) {
			errbuf_printf(err, err_len,
			       "kernel mapping [%#llx, %#llx) overlaps L4 slot %u, reserved by the %s backend",
			       (unsigned long long)vb,
			       (unsigned long long)l->map_end, slot,
			       vm->backend->name);
			return -EINVAL;
		}
		if (pte_set(m, l4, slot_va, 4, vm->backend->l4_slot_entry(vm, slot)))
			return -EFAULT;
	}

	/* Link each table below the L4 into its parent. */
	for (unsigned level = 3; level >= 1; level--) {
		unsigned s = level_span_shift(level);

		for (uint64_t i = 0; i < l->nr_pt_by_level[level]; i++) {
			/* Any address in the span; vb's high bits carry the
			 * sign extension for upper-half kernels. */
			uint64_t va = ((vb >> s) + i) << s;
			uint64_t child = table_pfn(l, level, va);

			if (pte_set(m, table_pfn(l, level + 1, va), va,
				    level + 1, (child << PAGE_SHIFT) | PT_TABLE_PROT))
				return -EFAULT;
		}
	}

	for (uint64_t pfn = 0; pfn < l->nr_mapped_frames; pfn++) {
		uint64_t va = vb + (pfn << PAGE_SHIFT);
		bool is_pt = pfn >= l->pt_pfn && pfn < l->pt_pfn + l->nr_pt_frames;

		/* Xen requires page-table frames to be mapped read-only. */
		if (pte_set(m, table_pfn(l, 1, va), va, 1,
			    (pfn << PAGE_SHIFT) |
				    (is_pt ? PT_RO_PROT : PT_DATA_PROT)))
			return -EFAULT;
	}
	return 0;
}

/* gmem_write of a range the build just cleared: its pages allocated in
 * one call first (gmem_prefault), not faulted in one by one. */
static int write_fresh(struct gmem *m, uint64_t gpa, const void *src, size_t len)
{
	gmem_prefault(m, gpa, len);
	return gmem_write(m, gpa, src, len);
}

static int zero_frames(struct gmem *m, uint64_t pfn, uint64_t n)
{
	return gmem_zero(m, pfn << PAGE_SHIFT, n << PAGE_SHIFT) ? -EFAULT : 0;
}

static int fill_start_info(struct vm *vm, const struct boot_layout *l,
			   const char *cmdline, size_t initrd_len,
			   evtchn_port_t console_port, evtchn_port_t store_port)
{
	struct start_info *si;
	uint64_t vb = l->virt_base;

	si = gmem_ptr(&vm->mem, l->start_info_pfn << PAGE_SHIFT, PAGE_SIZE);
	if (!si)
		return -EFAULT;
	memset(si, 0, PAGE_SIZE);
	snprintf(si->magic, sizeof(si->magic), "xen-3.0-x86_64");
	si->nr_pages = vm->mem.nr_ram_frames;
	si->shared_info = vm->mem.nr_ram_frames << PAGE_SHIFT;
	si->flags = 0;
	si->store_mfn = l->store_pfn;
	si->store_evtchn = store_port;
	si->console.domU.mfn = l->console_pfn;
	si->console.domU.evtchn = console_port;
	si->pt_base = vb + (l->pt_pfn << PAGE_SHIFT);
	si->nr_pt_frames = l->nr_pt_frames;
	si->mfn_list = vb + (l->p2m_pfn << PAGE_SHIFT);
	if (initrd_len) {
		si->mod_start = vb + (l->initrd_pfn << PAGE_SHIFT);
		si->mod_len = initrd_len;
	}
	if (cmdline) {
		size_t n = strnlen(cmdline, MAX_GUEST_CMDLINE - 1);

		memcpy(si->cmd_line, cmdline, n);
		si->cmd_line[n] = '\0';
	}
	si->first_p2m_pfn = l->p2m_pfn;
	si->nr_p2m_frames = l->nr_p2m_frames;
	return 0;
}

int domain_build(struct vm *vm, const struct xen_elf_image *img,
		 const uint8_t *kernel, size_t kernel_len,
		 const uint8_t *initrd, size_t initrd_len, const char *cmdline,
		 evtchn_port_t console_port, evtchn_port_t store_port,
		 struct boot_state *out, char *err, size_t err_len)
{
	struct gmem *m = &vm->mem;
	struct boot_layout l;
	uint64_t vb = img->virt_base, *p2m;
	uint32_t bad = img->f_required[0] & BUILD_XENFEAT_UNAVAILABLE;
	struct shared_info *shi;
	int rc;

	if (err && err_len)
		err[0] = '\0';
	if (bad) {
		unsigned bit = (unsigned)__builtin_ctz(bad);

		errbuf_printf(err, err_len,
		       "kernel requires Xen feature %s, which pvisor does not provide",
		       xen_elf_feature_name(bit) ? xen_elf_feature_name(bit)
						 : "?");
		return -EINVAL;
	}
	if (m->nr_frames <= m->nr_ram_frames) {
		errbuf_printf(err, err_len, "guest memory has no shared_info frame");
		return -EINVAL;
	}
	rc = domain_build_layout(img, m->nr_ram_frames, initrd_len, &l, err,
				 err_len);
	if (rc < 0)
		return rc;

	/* libxc clears each segment as it allocates it. */
	if (zero_frames(m, l.kernel_pfn, l.nr_alloc_frames - l.kernel_pfn))
		goto efault;

	/* The kernel: segment bounds against the file were checked by
	 * xen_elf_parse(); check them again here since img is the caller's. */
	for (unsigned i = 0; i < img->nr_segs && i < XEN_ELF_MAX_SEGS; i++) {
		const struct xen_elf_seg *s = &img->segs[i];

		if (s->offset > kernel_len || s->filesz > kernel_len - s->offset ||
		    s->filesz > s->memsz || s->vaddr < img->v_start ||
		    s->vaddr > img->v_end || s->memsz > img->v_end - s->vaddr) {
			errbuf_printf(err, err_len,
			       "kernel segment %u does not match the image", i);
			return -EINVAL;
		}
		if (write_fresh(m, s->vaddr - vb, kernel + s->offset, s->filesz))
			goto efault;
	}

	if (initrd_len &&
	    write_fresh(m, l.initrd_pfn << PAGE_SHIFT, initrd, initrd_len))
		goto efault;

	/* The P2M list: pfn i is mfn i. */
	p2m = gmem_ptr(m, l.p2m_pfn << PAGE_SHIFT, l.nr_p2m_frames * PAGE_SIZE);
	if (!p2m)
		goto efault;
	gmem_prefault(m, l.p2m_pfn << PAGE_SHIFT, l.nr_p2m_frames * PAGE_SIZE);
	for (uint64_t i = 0; i < m->nr_ram_frames; i++)
		p2m[i] = i;

	rc = fill_start_info(vm, &l, cmdline, initrd_len, console_port,
			     store_port);
	if (rc < 0)
		goto efault;

	gmem_prefault(m, l.pt_pfn << PAGE_SHIFT, l.nr_pt_frames * PAGE_SIZE);
	rc = build_pagetables(vm, &l, err, err_len);
	if (rc == -EFAULT)
		goto efault;
	if (rc < 0)
		return rc;

	if (img->has_hypercall_page) {
		/* Inside the image: checked by xen_elf_parse(), and again
		 * here since img is the caller's (RAM only, never the
		 * Xen-owned frames after it). */
		uint64_t gva = img->hypercall_page & PAGE_MASK;
		uint8_t *page;

		if (gva < img->v_start || gva >= img->v_end)
			goto efault;
		page = gmem_ptr(m, gva - vb, PAGE_SIZE);
		if (!page)
			goto efault;
		vm->backend->fill_hypercall_page(vm, page);
		vm->xen.hypercall_page_gva = gva;
	} else {
		vm->xen.hypercall_page_gva = 0;
	}

	/* shared_info starts zeroed with every vCPU's events masked, as Xen's
	 * PV builder leaves it. */
	shi = gmem_ptr(m, m->nr_ram_frames << PAGE_SHIFT, PAGE_SIZE);
	if (!shi)
		goto efault;
	memset(shi, 0, PAGE_SIZE);
	for (unsigned i = 0; i < XEN_LEGACY_MAX_VCPUS; i++)
		shi->vcpu_info[i].evtchn_upcall_mask = 1;

	vm->xen.shared_info_mfn = m->nr_ram_frames;
	vm->xen.start_info_gva = vb + (l.start_info_pfn << PAGE_SHIFT);
	vm->xen.console_mfn = l.console_pfn;
	vm->xen.store_mfn = l.store_pfn;
	vm->xen.console_port = console_port;
	vm->xen.store_port = store_port;

	*out = (struct boot_state){
		.rip = img->entry,
		.rsp = vb + ((l.boot_stack_pfn + 1) << PAGE_SHIFT),
		.rsi = vm->xen.start_info_gva,
		.l4_mfn = l.pt_pfn,
		.pt_first_pfn = l.pt_pfn,
		.nr_pt_frames = l.nr_pt_frames,
		.v_start = img->v_start,
		.v_end = img->v_end,
		.layout = l,
	};
	return 0;

efault:
	errbuf_printf(err, err_len, "domain builder: guest memory access out of range");
	return -EFAULT;
}
