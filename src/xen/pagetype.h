/*
 * Xen's page-type rules for a 64-bit PV guest with 4-level paging: the frame
 * table that keeps the guest's page tables honest (docs/page-types.md).
 *
 * Every frame of guest memory (RAM and the Xen-owned frames after it) has a
 * type (none, writable, L1..L4, seg_desc) held by a type count, a general
 * reference count, a validated bit and a pinned flag.  A frame is a page
 * table only while something holds a type reference on it (a pin, a base
 * pointer, or an entry of a validated higher-level table); it can become one
 * only if nothing maps it writable and every entry validates; it can be
 * mapped writable only while it is not a page table.  So a guest can change
 * its page tables only through the MMU hypercalls (src/xen/mmu.c), which
 * validate each new entry with pagetype_mod_entry().
 *
 * Errors are Xen's (-XEN_Exxx from <xen/errno.h>), as the hypercalls return
 * them.  All functions lock the table; they are safe from any vCPU thread.
 */
#ifndef PVISOR_XEN_PAGETYPE_H
#define PVISOR_XEN_PAGETYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

enum pagetype {
	PGT_NONE = 0,
	PGT_WRITABLE,
	PGT_L1,
	PGT_L2,
	PGT_L3,
	PGT_L4,
	PGT_SEG_DESC,
};

/* Page-table entry bits pvisor checks (x86-64). */
#define PTE_PRESENT (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_USER (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_ACCESSED (1ull << 5)
#define PTE_DIRTY (1ull << 6)
#define PTE_PSE (1ull << 7) /* PAT in an L1 entry */
#define PTE_GLOBAL (1ull << 8)
#define PTE_NX (1ull << 63)
#define PTE_MFN_MASK 0x000ffffffffff000ull
#define PTE_MFN(e) (((e) & PTE_MFN_MASK) >> 12)

/* A snapshot of one frame's state (tests, the fuzz invariant, debugging). */
struct pagetype_info {
	enum pagetype type; /* PGT_NONE whenever type_count is 0 */
	uint32_t type_count;
	uint32_t count;     /* general references */
	bool validated;
	bool pinned;
};

/*
 * Creates vm->xen.pagetypes over vm->mem.nr_frames frames, all untyped and
 * unreferenced, with the identity M2P.  Call after gmem_init.  0 or -ENOMEM.
 */
int pagetype_init(struct vm *vm) __attribute__((warn_unused_result));

/* Frees the table (no guest memory is touched).  Safe if init failed. */
void pagetype_destroy(struct vm *vm);

/*
 * Drops every reference the domain's vCPUs and pins hold: each vCPU's
 * kernel and user base pointer, then every pin.  Afterwards all counts are
 * zero unless some other subsystem still holds references.  For domain
 * teardown and tests; the vCPUs must not run.
 */
void pagetype_release_all(struct vm *vm);

/*
 * The domain builder's initial tables: validates the tree rooted at l4_mfn
 * as an L4 (entries are adjusted as Xen does, reserved L4 slots filled),
 * pins it, and makes it v's kernel base pointer (one more type reference;
 * v->xen.baseptr_mfn = l4_mfn).  The caller loads it into the vCPU (the
 * backend's initial CR3).  0 or -XEN_Exxx (nothing held on failure).
 */
int pagetype_pin_boot_tables(struct vcpu *v, uint64_t l4_mfn)
	__attribute__((warn_unused_result));

/*
 * Xen-owned frames (after RAM) that the guest may map from an L1 entry,
 * besides vm->xen.shared_info_mfn which is always allowed: e.g. grant-table
 * frames.  writable: whether the mapping may be RW.  0 or -XEN_EINVAL (not a
 * Xen-owned frame, or the set is full).
 */
int pagetype_allow_xen_frame(struct vm *vm, uint64_t mfn, bool writable)
	__attribute__((warn_unused_result));

/* True if mfn currently has an L1..L4 type (held by a type reference). */
bool pagetype_is_pagetable(struct vm *vm, uint64_t mfn);

/* Snapshot of one frame; -XEN_EINVAL if mfn is not a frame of the VM. */
int pagetype_get_info(struct vm *vm, uint64_t mfn, struct pagetype_info *out);

/*
 * References for other subsystems (grant copies, registered vcpu_info...):
 * a general reference on a domain frame, plus a writable type reference if
 * writable (which fails while the frame is a page table).  0, -XEN_EINVAL
 * (not the domain's frame) or -XEN_EBUSY (page table).  Every successful
 * get is paired with a put with the same arguments.
 */
int pagetype_get_page(struct vm *vm, uint64_t mfn, bool writable)
	__attribute__((warn_unused_result));
void pagetype_put_page(struct vm *vm, uint64_t mfn, bool writable);

/*
 * The guest-visible machine-to-phys entry of mfn (MMU_MACHPHYS_UPDATE keeps
 * it); ~0 for a frame outside RAM.
 */
uint64_t pagetype_m2p(struct vm *vm, uint64_t mfn);

/*
 * The primitives behind the MMU hypercalls (src/xen/mmu.c), each one
 * hypercall sub-operation with Xen's error codes.  v is the calling vCPU:
 * page-table stores go through its backend's pt_write.
 */

/* mmu_update MMU_NORMAL_PT_UPDATE / PRESERVE_AD: *gpa = val, validated for
 * the level of the table that contains gpa (8-byte aligned). */
int pagetype_mod_entry(struct vcpu *v, uint64_t gpa, uint64_t val,
		       bool preserve_ad) __attribute__((warn_unused_result));
/* mmu_update MMU_MACHPHYS_UPDATE. */
int pagetype_set_m2p(struct vm *vm, uint64_t mfn, uint64_t pfn)
	__attribute__((warn_unused_result));
/* MMUEXT_PIN_Ln_TABLE (level 1..4) and MMUEXT_UNPIN_TABLE. */
int pagetype_pin(struct vcpu *v, uint64_t mfn, unsigned level)
	__attribute__((warn_unused_result));
int pagetype_unpin(struct vcpu *v, uint64_t mfn)
	__attribute__((warn_unused_result));
/* MMUEXT_NEW_BASEPTR (user false) / NEW_USER_BASEPTR (user true, mfn 0
 * clears it): takes an L4 type reference on mfn and drops the old one. */
int pagetype_new_baseptr(struct vcpu *v, uint64_t mfn, bool user)
	__attribute__((warn_unused_result));
/* update_va_mapping: the L1 entry for va in v's kernel page tables. */
int pagetype_mod_va(struct vcpu *v, uint64_t va, uint64_t val)
	__attribute__((warn_unused_result));
/* MMUEXT_CLEAR_PAGE (src_mfn ignored) / MMUEXT_COPY_PAGE. */
int pagetype_clear_page(struct vcpu *v, uint64_t mfn)
	__attribute__((warn_unused_result));
int pagetype_copy_page(struct vcpu *v, uint64_t dst_mfn, uint64_t src_mfn)
	__attribute__((warn_unused_result));

/*
 * Grant mappings (GNTMAP_host_map, xen/grant_map.c).  The slot is an L1
 * entry of a validated L1 table: at machine address addr (contains_pte) or
 * the one mapping linear address addr in v's kernel page tables.
 * pagetype_grant_map stores pte (a present entry for a RAM frame whose
 * references the caller holds, as pagetype_get_page takes them) there with
 * the grant bit, and drops what the old entry held.  pagetype_grant_unmap
 * checks the slot still holds that grant (frame, P, RW), replaces it with 0
 * or, if new_addr (linear only), with new_addr's entry (which is cleared),
 * and flushes every TLB; the caller then drops the frame's references.
 * A grant entry replaced any other way stops the VM (Xen crashes the
 * domain).  0 or -XEN_EINVAL (GNTST_general_error for the caller).
 */
int pagetype_grant_map(struct vcpu *v, uint64_t addr, bool contains_pte,
		       uint64_t pte) __attribute__((warn_unused_result));
int pagetype_grant_unmap(struct vcpu *v, uint64_t addr, bool contains_pte,
			 uint64_t pte, uint64_t new_addr)
	__attribute__((warn_unused_result));

/*
 * Takes a Xen-owned frame back from pagetype_allow_xen_frame (grant status
 * frames when a guest returns to grant table v1): -XEN_EBUSY while the
 * guest still maps it, else 0.
 */
int pagetype_forbid_xen_frame(struct vm *vm, uint64_t mfn)
	__attribute__((warn_unused_result));

/*
 * Tells the table that the TLB of one vCPU (all_vcpus false) or of every
 * vCPU was flushed in full, so frames whose writable mappings were removed
 * before can become page tables without another flush.
 */
void pagetype_tlb_flushed(struct vm *vm, bool all_vcpus);

/*
 * Recomputes every count from the page tables in memory, the pins and the
 * base pointers, and checks them against the table; also that every typed
 * page table is validated, holds only valid entries, and that no page
 * table has a writable mapping.  Returns true if consistent, else false
 * with the first discrepancy in why.  O(frames * 512); for tests and fuzzing
 * (it assumes no other subsystem holds references).
 */
bool pagetype_check(struct vm *vm, char *why, size_t why_len);

#endif
