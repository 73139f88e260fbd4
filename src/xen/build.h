/*
 * The domain builder: lays out a PV guest's start-of-day memory exactly as
 * Xen's libxc does for an x86-64 PV guest (tools/libs/guest/xg_dom_core.c,
 * xg_dom_x86.c) and fills in the Xen domain state.  See
 * docs/domain-builder.md for the layout and the rules behind it.
 */
#ifndef PVISOR_XEN_BUILD_H
#define PVISOR_XEN_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>

#include "xen/elf.h"

struct vm;

/*
 * The start-of-day layout, in guest pseudo-physical frame numbers (which
 * are machine frames too: pvisor's P2M is the identity).  Frame p is mapped
 * at virtual address virt_base + p * 4096.  Regions follow each other in
 * this order without gaps; the guest owns every frame from boot_stack_pfn+1
 * on (the first of them are mapped: see map_end).
 */
struct boot_layout {
	uint64_t virt_base;
	uint64_t kernel_pfn, nr_kernel_frames;    /* [v_start, v_end) rounded */
	uint64_t initrd_pfn, nr_initrd_frames;    /* 0 frames: no initrd */
	uint64_t p2m_pfn, nr_p2m_frames;          /* unsigned long per frame */
	uint64_t start_info_pfn;
	uint64_t store_pfn;
	uint64_t console_pfn;
	uint64_t pt_pfn, nr_pt_frames;            /* L4 first, then L3s, L2s,
						   * L1s */
	uint64_t nr_pt_by_level[5];               /* [1..4]: tables per level */
	uint64_t boot_stack_pfn;
	uint64_t nr_alloc_frames;                 /* boot_stack_pfn + 1 */
	uint64_t map_end;                         /* initial mapping covers
						   * [virt_base, map_end) */
	uint64_t nr_mapped_frames;                /* frames mapped: min(RAM,
						   * (map_end-virt_base)/4096) */
};

/* Where the boot vCPU starts (Xen x86-64 PV start-of-day registers). */
struct boot_state {
	uint64_t rip;          /* ENTRY */
	uint64_t rsp;          /* top of the boot stack */
	uint64_t rsi;          /* VA of start_info */
	uint64_t l4_mfn;       /* CR3: the boot L4 (= pt_first_pfn) */
	uint64_t pt_first_pfn;
	uint64_t nr_pt_frames;
	uint64_t v_start;      /* the kernel image [v_start, v_end) */
	uint64_t v_end;
	struct boot_layout layout;
};

/*
 * Computes the layout for img with nr_ram_frames of RAM and an initrd of
 * initrd_len bytes, without touching memory.  Returns 0, or -EINVAL/-ENOMEM
 * with a one-line reason in err: kernel start not page aligned, range not
 * canonical or in Xen's hypervisor hole, or (-ENOMEM) RAM too small ("--mem
 * 16M is too small: the kernel, initrd and boot tables need N MiB").
 */
int domain_build_layout(const struct xen_elf_image *img,
			uint64_t nr_ram_frames, size_t initrd_len,
			struct boot_layout *out, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/*
 * Builds the domain into vm->mem (created, RAM frames 0..nr_ram_frames-1,
 * the shared_info frame at nr_ram_frames) from a parsed image img whose
 * file is kernel[0..kernel_len): loads the kernel, the initrd (may be NULL
 * with initrd_len 0), the P2M list, start_info (cmdline may be NULL; it is
 * truncated to MAX_GUEST_CMDLINE-1 bytes), the zeroed xenstore and console
 * pages, the boot page tables (reserved L4 slots filled from
 * vm->backend->l4_slot_entry) and the boot stack; zeroes shared_info with
 * every vCPU's upcall masked; fills the hypercall page through the backend;
 * and sets vm->xen's shared_info_mfn, start_info_gva, console/store mfn and
 * port, hypercall_page_gva.  vm->backend must be set.  Returns 0 and *out,
 * or -errno with a one-line reason in err (guest memory is then undefined).
 */
int domain_build(struct vm *vm, const struct xen_elf_image *img,
		 const uint8_t *kernel, size_t kernel_len,
		 const uint8_t *initrd, size_t initrd_len, const char *cmdline,
		 evtchn_port_t console_port, evtchn_port_t store_port,
		 struct boot_state *out, char *err, size_t err_len)
	__attribute__((warn_unused_result));

#endif
