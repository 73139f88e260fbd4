/*
 * Xen's page-type rules for 64-bit PV guests (see pagetype.h and
 * docs/page-types.md).  Modelled on Xen's xen/arch/x86/mm.c: a frame takes a
 * page-table type only after every entry validated (recursively, taking
 * references on what the entries point to), and loses it, dropping those
 * references, when its last type reference goes.
 *
 * Locking: one mutex per domain; every public function takes it, every
 * static helper expects it held.
 */
#include "xen/pagetype.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/host_table.h"
#include "core/log.h"
#include "core/vm.h"

#define NR_ENTRIES 512
#define MAX_XEN_FRAMES 64

/* Xen's disallow masks for a PV domain without I/O resources, in PTE bit
 * positions: L1 refuses PWT, PCD, PAT and the grant-mapping bit (62);
 * L2-L4 refuse PWT, PCD, PSE (no superpages) and GLOBAL.  Everything else
 * (P, RW, US, A, D, G in L1, AVAIL 9-11 and 52-61, NX) is the guest's. */
#define PTE_GNTTAB (1ull << 62)
#define L1_DISALLOW (PTE_PWT | PTE_PCD | PTE_PSE | PTE_GNTTAB)
#define LN_DISALLOW (PTE_PWT | PTE_PCD | PTE_PSE | PTE_GLOBAL)

/* Xen's INVALID_MFN for 52-bit physical addresses: gets -EINVAL, not the
 * -EPERM of any other non-RAM frame. */
#define MFN_INVALID_ALL_ONES (PTE_MFN_MASK >> 12)

/* L4 slots Xen keeps for itself: [HYPERVISOR_VIRT_START, _END). */
#define XEN_L4_FIRST 256u
#define XEN_L4_LAST 271u

struct pt_frame {
	uint8_t type;       /* enum pagetype; PGT_NONE iff type_count == 0 */
	bool validated;
	bool pinned;
	uint32_t type_count;
	uint32_t count;
	/* tlb_epoch at the moment the last writable mapping went: if the
	 * domain has not flushed every TLB since, a stale writable
	 * translation may survive and must be flushed before the frame can
	 * become a page table. */
	uint32_t rw_epoch;
};

struct xen_frame_perm {
	uint64_t mfn;
	bool writable;
};

struct pagetype_table {
	pthread_mutex_t lock;
	uint64_t nr_frames;
	struct pt_frame *f;
	uint64_t *m2p; /* nr_ram_frames entries */
	size_t f_bytes, m2p_bytes; /* host tables (core/host_table.h) */
	uint32_t tlb_epoch;
	/* Base pointers held per vCPU: [id][0] kernel, [id][1] user. */
	bool base_held[VM_MAX_VCPUS][2];
	unsigned nr_xen_frames;
	struct xen_frame_perm xen_frames[MAX_XEN_FRAMES];
};

static int get_type(struct vcpu *v, struct pagetype_table *t, uint64_t mfn,
		    enum pagetype type);
static void put_type(struct vm *vm, uint64_t mfn);

static bool is_pt_type(enum pagetype type)
{
	return type >= PGT_L1 && type <= PGT_L4;
}

static unsigned type_level(enum pagetype type)
{
	return is_pt_type(type) ? (unsigned)(type - PGT_L1 + 1) : 0;
}

static enum pagetype level_type(unsigned level)
{
	return (enum pagetype)(PGT_L1 + level - 1);
}

/* Whether the guest's value in an L4 slot counts (Xen's is_guest_l4_slot,
 * plus the slots the backend reserves for pvisor). */
static bool guest_l4_slot(const struct vm *vm, unsigned slot)
{
	if (slot >= XEN_L4_FIRST && slot <= XEN_L4_LAST)
		return false;
	return !(vm->backend && vm->backend->l4_slot_reserved &&
		 vm->backend->l4_slot_reserved(vm, slot));
}

static uint64_t reserved_l4_entry(const struct vm *vm, unsigned slot)
{
	if (vm->backend && vm->backend->l4_slot_reserved &&
	    vm->backend->l4_slot_reserved(vm, slot) &&
	    vm->backend->l4_slot_entry)
		return vm->backend->l4_slot_entry(vm, slot);
	return 0;
}

/* Xen's adjust_guest_lNe for a 64-bit PV guest: its kernel runs in ring 3,
 * so every present entry gets the user bit. */
static uint64_t adjust_entry(uint64_t e)
{
	return (e & PTE_PRESENT) ? (e | PTE_USER) : e;
}

/* A Xen-owned frame (after RAM) the guest may map; *rw says if writably. */
static bool xen_frame_mappable(const struct vm *vm,
			       const struct pagetype_table *t, uint64_t mfn,
			       bool *rw)
{
	if (gmem_is_ram_frame(&vm->mem, mfn) || !gmem_is_frame(&vm->mem, mfn))
		return false;
	if (mfn == vm->xen.shared_info_mfn) {
		*rw = true;
		return true;
	}
	for (unsigned i = 0; i < t->nr_xen_frames; i++) {
		if (t->xen_frames[i].mfn == mfn) {
			*rw = t->xen_frames[i].writable;
			return true;
		}
	}
	return false;
}

/* Xen's get_page_from_mfn(): a general reference on a frame the domain
 * owns (its RAM, or a Xen frame shared with it). */
static bool get_page(struct vm *vm, struct pagetype_table *t, uint64_t mfn)
{
	bool rw;

	if (!gmem_is_ram_frame(&vm->mem, mfn) &&
	    !xen_frame_mappable(vm, t, mfn, &rw))
		return false;
	if (t->f[mfn].count == UINT32_MAX)
		return false;
	t->f[mfn].count++;
	return true;
}

static void put_page(struct pagetype_table *t, uint64_t mfn)
{
	if (t->f[mfn].count == 0) {
		log_error("pagetype: reference underflow on frame %#lx",
			  (unsigned long)mfn);
		return;
	}
	t->f[mfn].count--;
}

/* Every vCPU forgets every translation; this also retires all stale
 * writable translations (see rw_epoch). */
static void flush_all(struct vm *vm, struct pagetype_table *t)
{
	for (unsigned i = 0; i < vm->nr_vcpus && i < VM_MAX_VCPUS; i++) {
		if (vm->vcpus[i] && vm->backend && vm->backend->flush_tlb)
			(void)vm->backend->flush_tlb(vm->vcpus[i], 0, true);
	}
	t->tlb_epoch++;
}

static int store_entry(struct vcpu *v, uint64_t gpa, uint64_t val)
{
	struct vm *vm = v->vm;

	if (!vm->backend || !vm->backend->pt_write)
		return -XEN_EFAULT;
	return vm->backend->pt_write(v, gpa, val) < 0 ? -XEN_EFAULT : 0;
}

/* Reads a whole table once: validation acts on this copy. */
static int read_table(struct vm *vm, uint64_t mfn, uint64_t *ents)
{
	return gmem_read(&vm->mem, mfn << PAGE_SHIFT, ents,
			 NR_ENTRIES * sizeof(*ents)) < 0 ? -XEN_EFAULT : 0;
}

/*
 * Xen's get_page_from_lNe(): the references entry e (in slot `slot` of the
 * level-`level` table table_mfn) needs.  A not-present entry needs none.
 */
static int get_entry(struct vcpu *v, struct pagetype_table *t,
		     uint64_t table_mfn, unsigned level, uint64_t e)
{
	struct vm *vm = v->vm;
	uint64_t mfn = PTE_MFN(e);
	int rc;

	if (!(e & PTE_PRESENT))
		return 0;
	if (level == 1) {
		bool rw = e & PTE_RW, xen_rw;

		if (e & L1_DISALLOW)
			return -XEN_EINVAL;
		if (!gmem_is_frame(&vm->mem, mfn))
			/* Xen: MMIO space without iomem permission. */
			return mfn == MFN_INVALID_ALL_ONES ? -XEN_EINVAL
							   : -XEN_EPERM;
		if (!gmem_is_ram_frame(&vm->mem, mfn) &&
		    (!xen_frame_mappable(vm, t, mfn, &xen_rw) ||
		     (rw && !xen_rw)))
			return -XEN_EBUSY; /* Xen's could_not_pin */
		if (!get_page(vm, t, mfn))
			return -XEN_EBUSY;
		if (rw && get_type(v, t, mfn, PGT_WRITABLE) < 0) {
			/* A page table (or descriptor page) cannot be
			 * mapped writable. */
			put_page(t, mfn);
			return -XEN_EBUSY;
		}
		return 0;
	}
	if (e & LN_DISALLOW)
		return -XEN_EINVAL;
	if (mfn == table_mfn) {
		/* A linear (self) mapping: Xen allows it read-only and takes
		 * no reference.  Linear entries to other same-level tables
		 * are refused (see docs/page-types.md). */
		return (e & PTE_RW) ? -XEN_EINVAL : 0;
	}
	if (!gmem_is_ram_frame(&vm->mem, mfn) || !get_page(vm, t, mfn))
		return -XEN_EINVAL;
	rc = get_type(v, t, mfn, level_type(level - 1));
	if (rc < 0)
		put_page(t, mfn);
	return rc;
}

/* Xen's put_page_from_lNe(): drops what get_entry() took for e. */
static void put_entry(struct vm *vm, struct pagetype_table *t,
		      uint64_t table_mfn, unsigned level, uint64_t e)
{
	uint64_t mfn = PTE_MFN(e);

	if (!(e & PTE_PRESENT))
		return;
	if (level == 1 && (e & PTE_GNTTAB))
		/* Xen crashes a domain that drops a grant mapping other than
		 * through GNTTABOP_unmap_grant_ref; the references go. */
		vm_stop(vm, VM_STOP_FAULT, 1,
			"guest implicitly unmapped a granted PTE %#lx",
			(unsigned long)e);
	if (level == 1) {
		if (e & PTE_RW)
			put_type(vm, mfn);
		put_page(t, mfn);
		return;
	}
	if (mfn == table_mfn)
		return;
	put_type(vm, mfn);
	put_page(t, mfn);
}

/*
 * Validates frame mfn as a level-`level` table (Xen's promote_lN_table):
 * takes every entry's references, then stores the adjusted entries and, for
 * an L4, pvisor's reserved slots.  On failure nothing is held.
 */
static int promote(struct vcpu *v, struct pagetype_table *t, uint64_t mfn,
		   unsigned level)
{
	struct vm *vm = v->vm;
	uint64_t ents[NR_ENTRIES];
	unsigned i;
	int rc;

	rc = read_table(vm, mfn, ents);
	if (rc < 0)
		return rc;
	for (i = 0; i < NR_ENTRIES; i++) {
		if (level == 4 && !guest_l4_slot(vm, i))
			continue;
		rc = get_entry(v, t, mfn, level, ents[i]);
		if (rc < 0) {
			log_guest("pagetype: frame %#lx slot %u (%#lx) invalid "
				  "as L%u entry: %d",
				  (unsigned long)mfn, i,
				  (unsigned long)ents[i], level, rc);
			goto unwind;
		}
	}
	for (i = 0; i < NR_ENTRIES; i++) {
		uint64_t want;

		if (level == 4 && !guest_l4_slot(vm, i))
			want = reserved_l4_entry(vm, i);
		else
			want = adjust_entry(ents[i]);
		if (want == ents[i])
			continue;
		rc = store_entry(v, (mfn << PAGE_SHIFT) + i * 8, want);
		if (rc < 0) {
			i = NR_ENTRIES;
			goto unwind;
		}
	}
	return 0;

unwind:
	while (i-- > 0) {
		if (level == 4 && !guest_l4_slot(vm, i))
			continue;
		put_entry(vm, t, mfn, level, ents[i]);
	}
	return rc;
}

/* Xen's free_page_type(): the table's entries give up their references.
 * The entries stay in memory as they are. */
static void demote(struct vm *vm, struct pagetype_table *t, uint64_t mfn,
		   unsigned level)
{
	uint64_t ents[NR_ENTRIES];

	if (read_table(vm, mfn, ents) < 0)
		return;
	for (unsigned i = 0; i < NR_ENTRIES; i++) {
		if (level == 4 && !guest_l4_slot(vm, i))
			continue;
		put_entry(vm, t, mfn, level, ents[i]);
	}
}

/*
 * Xen's get_page_type(): a type reference.  The first one sets the type
 * (validating a page table); later ones must ask for the same type.
 * v may be NULL for PGT_WRITABLE (nothing is validated or stored).
 */
static int get_type(struct vcpu *v, struct pagetype_table *t, uint64_t mfn,
		    enum pagetype type)
{
	struct pt_frame *f = &t->f[mfn];
	int rc;

	if (f->type_count > 0) {
		/* A frame under validation is typed but not yet validated:
		 * refusing it keeps a table from (indirectly) containing
		 * itself. */
		if (f->type != type || !f->validated)
			return -XEN_EINVAL;
		if (f->type_count == UINT32_MAX)
			return -XEN_EBUSY;
		f->type_count++;
		return 0;
	}
	if (is_pt_type(type) && !gmem_is_ram_frame(&v->vm->mem, mfn))
		return -XEN_EINVAL; /* Xen-owned frames stay data pages */
	f->type = type;
	f->type_count = 1;
	f->validated = false;
	if (is_pt_type(type)) {
		if (f->rw_epoch == t->tlb_epoch)
			flush_all(v->vm, t);
		rc = promote(v, t, mfn, type_level(type));
		if (rc < 0) {
			f->type = PGT_NONE;
			f->type_count = 0;
			return rc;
		}
	}
	f->validated = true;
	return 0;
}

static void put_type(struct vm *vm, uint64_t mfn)
{
	struct pagetype_table *t = vm->xen.pagetypes;
	struct pt_frame *f = &t->f[mfn];
	enum pagetype old = f->type;
	bool was_valid = f->validated;

	if (f->type_count == 0) {
		log_error("pagetype: type underflow on frame %#lx",
			  (unsigned long)mfn);
		return;
	}
	if (--f->type_count > 0)
		return;
	f->type = PGT_NONE;
	f->validated = false;
	if (old == PGT_WRITABLE)
		f->rw_epoch = t->tlb_epoch;
	else if (is_pt_type(old) && was_valid)
		demote(vm, t, mfn, type_level(old));
}

/* ---- public API ---- */


int pagetype_init(struct vm *vm)
{
	struct pagetype_table *t;

	vm->xen.pagetypes = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->nr_frames = vm->mem.nr_frames;
	t->f_bytes = (size_t)t->nr_frames * sizeof(*t->f);
	t->m2p_bytes = (size_t)vm->mem.nr_ram_frames * sizeof(*t->m2p);
	t->f = host_table_alloc(t->f_bytes, true);
	t->m2p = host_table_alloc(t->m2p_bytes, true);
	if (!t->f || !t->m2p) {
		host_table_free(t->f, t->f_bytes);
		host_table_free(t->m2p, t->m2p_bytes);
		free(t);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < vm->mem.nr_ram_frames; i++)
		t->m2p[i] = i;
	/* rw_epoch 0 never matches: frames start with no stale mappings. */
	t->tlb_epoch = 1;
	pthread_mutex_init(&t->lock, NULL);
	vm->xen.pagetypes = t;
	return 0;
}

void pagetype_destroy(struct vm *vm)
{
	struct pagetype_table *t = vm->xen.pagetypes;

	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	host_table_free(t->f, t->f_bytes);
	host_table_free(t->m2p, t->m2p_bytes);
	free(t);
	vm->xen.pagetypes = NULL;
}

/* Drops the base pointer reference of v (kernel or user), if held. */
static void drop_base(struct vm *vm, struct pagetype_table *t, unsigned id,
		      bool user, uint64_t mfn)
{
	if (!t->base_held[id][user])
		return;
	t->base_held[id][user] = false;
	put_type(vm, mfn);
	put_page(t, mfn);
}

void pagetype_release_all(struct vm *vm)
{
	struct pagetype_table *t = vm->xen.pagetypes;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < vm->nr_vcpus && i < VM_MAX_VCPUS; i++) {
		struct vcpu *v = vm->vcpus[i];

		if (!v || v->id >= VM_MAX_VCPUS)
			continue;
		drop_base(vm, t, v->id, false, v->xen.kernel_baseptr_mfn);
		drop_base(vm, t, v->id, true, v->xen.user_baseptr_mfn);
		v->xen.user_baseptr_mfn = 0;
	}
	for (uint64_t mfn = 0; mfn < t->nr_frames; mfn++) {
		if (!t->f[mfn].pinned)
			continue;
		t->f[mfn].pinned = false;
		put_type(vm, mfn);
		put_page(t, mfn);
	}
	pthread_mutex_unlock(&t->lock);
}

static int pin_locked(struct vcpu *v, struct pagetype_table *t, uint64_t mfn,
		      unsigned level)
{
	int rc;

	/* Xen: get_page_from_gfn() fails for a frame not the domain's. */
	if (!gmem_is_frame(&v->vm->mem, mfn) || !get_page(v->vm, t, mfn))
		return -XEN_EINVAL;
	rc = get_type(v, t, mfn, level_type(level));
	if (rc < 0) {
		put_page(t, mfn);
		return rc;
	}
	if (t->f[mfn].pinned) {
		put_type(v->vm, mfn);
		put_page(t, mfn);
		return -XEN_EINVAL;
	}
	t->f[mfn].pinned = true;
	return 0;
}

int pagetype_pin(struct vcpu *v, uint64_t mfn, unsigned level)
{
	struct pagetype_table *t = v->vm->xen.pagetypes;
	int rc;

	if (level < 1 || level > 4)
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	rc = pin_locked(v, t, mfn, level);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pagetype_unpin(struct vcpu *v, uint64_t mfn)
{
	struct pagetype_table *t = v->vm->xen.pagetypes;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (!gmem_is_frame(&v->vm->mem, mfn) || !t->f[mfn].pinned) {
		rc = -XEN_EINVAL;
	} else {
		t->f[mfn].pinned = false;
		put_type(v->vm, mfn);
		put_page(t, mfn);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static int new_baseptr_locked(struct vcpu *v, struct pagetype_table *t,
			      uint64_t mfn, bool user)
{
	struct vm *vm = v->vm;
	/* The kernel pointer is the one kernel mode runs on; hypercalls come
	 * from kernel mode, so it is also the current one (baseptr_mfn). */
	uint64_t *cur = user ? &v->xen.user_baseptr_mfn
			     : &v->xen.kernel_baseptr_mfn;
	bool held = t->base_held[v->id][user];
	uint64_t old = *cur;
	int rc;

	if (held && old == mfn) {
		/* Reloading the same table still flushes the TLB. */
		if (!user && vm->backend && vm->backend->set_baseptr &&
		    vm->backend->set_baseptr(v, mfn) < 0)
			return -XEN_EFAULT;
		return 0;
	}
	if (user && mfn == 0) {
		/* NEW_USER_BASEPTR 0: no user page tables. */
		drop_base(vm, t, v->id, true, old);
		*cur = 0;
		return 0;
	}
	if (!gmem_is_ram_frame(&vm->mem, mfn) || !get_page(vm, t, mfn))
		return -XEN_EINVAL;
	rc = get_type(v, t, mfn, PGT_L4);
	if (rc < 0) {
		put_page(t, mfn);
		return rc;
	}
	if (!user && vm->backend && vm->backend->set_baseptr &&
	    vm->backend->set_baseptr(v, mfn) < 0) {
		put_type(vm, mfn);
		put_page(t, mfn);
		return -XEN_EFAULT;
	}
	drop_base(vm, t, v->id, user, old);
	*cur = mfn;
	if (!user)
		v->xen.baseptr_mfn = mfn;
	t->base_held[v->id][user] = true;
	/* A CR3 load flushes this vCPU's (non-global) translations. */
	if (!user && vm->nr_vcpus <= 1)
		t->tlb_epoch++;
	return 0;
}

int pagetype_new_baseptr(struct vcpu *v, uint64_t mfn, bool user)
{
	struct pagetype_table *t = v->vm->xen.pagetypes;
	int rc;

	if (v->id >= VM_MAX_VCPUS)
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	rc = new_baseptr_locked(v, t, mfn, user);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pagetype_pin_boot_tables(struct vcpu *v, uint64_t l4_mfn)
{
	struct pagetype_table *t = v->vm->xen.pagetypes;
	int rc;

	if (v->id >= VM_MAX_VCPUS)
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	rc = pin_locked(v, t, l4_mfn, 4);
	if (rc == 0) {
		/* The builder loads CR3 itself: take the reference only. */
		if (!get_page(v->vm, t, l4_mfn)) {
			rc = -XEN_EBUSY;
		} else {
			(void)get_type(v, t, l4_mfn, PGT_L4); /* validated */
			t->base_held[v->id][0] = true;
			v->xen.baseptr_mfn = l4_mfn;
			v->xen.kernel_baseptr_mfn = l4_mfn;
		}
		if (rc < 0) {
			t->f[l4_mfn].pinned = false;
			put_type(v->vm, l4_mfn);
			put_page(t, l4_mfn);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pagetype_allow_xen_frame(struct vm *vm, uint64_t mfn, bool writable)
{
	struct pagetype_table *t = vm->xen.pagetypes;
	int rc = 0;

	if (gmem_is_ram_frame(&vm->mem, mfn) || !gmem_is_frame(&vm->mem, mfn))
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->nr_xen_frames; i++) {
		if (t->xen_frames[i].mfn == mfn) {
			t->xen_frames[i].writable = writable;
			goto out;
		}
	}
	if (t->nr_xen_frames == MAX_XEN_FRAMES) {
		rc = -XEN_EINVAL;
		goto out;
	}
	t->xen_frames[t->nr_xen_frames].mfn = mfn;
	t->xen_frames[t->nr_xen_frames].writable = writable;
	t->nr_xen_frames++;
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pagetype_forbid_xen_frame(struct vm *vm, uint64_t mfn)
{
	struct pagetype_table *t = vm->xen.pagetypes;
	int rc = 0;

	if (gmem_is_ram_frame(&vm->mem, mfn) || !gmem_is_frame(&vm->mem, mfn))
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	if (t->f[mfn].count) {
		rc = -XEN_EBUSY;
		goto out;
	}
	for (unsigned i = 0; i < t->nr_xen_frames; i++) {
		if (t->xen_frames[i].mfn == mfn) {
			t->xen_frames[i] = t->xen_frames[--t->nr_xen_frames];
			break;
		}
	}
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

bool pagetype_is_pagetable(struct vm *vm, uint64_t mfn)
{
	struct pagetype_info info;

	return pagetype_get_info(vm, mfn, &info) == 0 && is_pt_type(info.type);
}

int pagetype_get_info(struct vm *vm, uint64_t mfn, struct pagetype_info *out)
{
	struct pagetype_table *t = vm->xen.pagetypes;
	const struct pt_frame *f;

	if (!t || mfn >= t->nr_frames)
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	f = &t->f[mfn];
	out->type = (enum pagetype)f->type;
	out->type_count = f->type_count;
	out->count = f->count;
	out->validated = f->validated;
	out->pinned = f->pinned;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int pagetype_get_page(struct vm *vm, uint64_t mfn, bool writable)
{
	struct pagetype_table *t = vm->xen.pagetypes;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (!gmem_is_frame(&vm->mem, mfn) || !get_page(vm, t, mfn)) {
		rc = -XEN_EINVAL;
	} else if (writable && get_type(NULL, t, mfn, PGT_WRITABLE) < 0) {
		put_page(t, mfn);
		rc = -XEN_EBUSY;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void pagetype_put_page(struct vm *vm, uint64_t mfn, bool writable)
{
	struct pagetype_table *t = vm->xen.pagetypes;

	if (!gmem_is_frame(&vm->mem, mfn))
		return;
	pthread_mutex_lock(&t->lock);
	if (writable)
		put_type(vm, mfn);
	put_page(t, mfn);
	pthread_mutex_unlock(&t->lock);
}

uint64_t pagetype_m2p(struct vm *vm, uint64_t mfn)
{
	struct pagetype_table *t = vm->xen.pagetypes;
	uint64_t pfn;

	if (!gmem_is_ram_frame(&vm->mem, mfn))
		return ~0ull;
	pthread_mutex_lock(&t->lock);
	pfn = t->m2p[mfn];
	pthread_mutex_unlock(&t->lock);
	return pfn;
}

int pagetype_set_m2p(struct vm *vm, uint64_t mfn, uint64_t pfn)
{
	struct pagetype_table *t = vm->xen.pagetypes;

	/* Xen: only for a frame the domain owns (get_page_from_mfn). */
	if (!gmem_is_ram_frame(&vm->mem, mfn))
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	t->m2p[mfn] = pfn;
	if (vm->backend && vm->backend->m2p_update)
		vm->backend->m2p_update(vm, mfn, pfn);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* Xen's mod_lN_entry(): replaces entry `slot` of validated table mfn. */
static int mod_pt_entry(struct vcpu *v, struct pagetype_table *t,
			uint64_t mfn, unsigned level, unsigned slot,
			uint64_t val, bool preserve_ad)
{
	struct vm *vm = v->vm;
	uint64_t gpa = (mfn << PAGE_SHIFT) + slot * 8, old, nval;
	int rc;

	if (level == 4 && !guest_l4_slot(vm, slot))
		return -XEN_EINVAL; /* Xen: "L4 update in Xen-private area" */
	if (gmem_read(&vm->mem, gpa, &old, sizeof(old)) < 0)
		return -XEN_EFAULT;
	if (preserve_ad)
		val |= old & (PTE_ACCESSED | PTE_DIRTY);
	/* New references first: the old entry may hold the only references
	 * that keep the new target's type. */
	rc = get_entry(v, t, mfn, level, val);
	if (rc < 0)
		return rc;
	nval = adjust_entry(val);
	rc = store_entry(v, gpa, nval);
	if (rc < 0) {
		put_entry(vm, t, mfn, level, nval);
		return level == 1 ? -XEN_EBUSY : -XEN_EFAULT;
	}
	put_entry(vm, t, mfn, level, old);
	return 0;
}

int pagetype_mod_entry(struct vcpu *v, uint64_t gpa, uint64_t val,
		       bool preserve_ad)
{
	struct vm *vm = v->vm;
	struct pagetype_table *t = vm->xen.pagetypes;
	uint64_t mfn = gpa >> PAGE_SHIFT;
	struct pt_frame *f;
	int rc;

	if (gpa & 7)
		return -XEN_EINVAL;
	/* Xen: "Could not get page for normal update". */
	if (!gmem_is_ram_frame(&vm->mem, mfn))
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	f = &t->f[mfn];
	if (f->type_count > 0 && is_pt_type(f->type) && f->validated) {
		rc = mod_pt_entry(v, t, mfn, type_level(f->type),
				  (unsigned)((gpa & (PAGE_SIZE - 1)) / 8), val,
				  preserve_ad);
	} else if (get_page(vm, t, mfn)) {
		/* Xen writes a frame that can be writable as plain data. */
		rc = get_type(v, t, mfn, PGT_WRITABLE);
		if (rc == 0) {
			rc = gmem_write(&vm->mem, gpa, &val, sizeof(val)) < 0
				     ? -XEN_EFAULT
				     : 0;
			put_type(vm, mfn);
		}
		put_page(t, mfn);
	} else {
		rc = -XEN_EINVAL;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static bool va_ok(uint64_t va)
{
	/* Xen's __addr_ok(): canonical and outside Xen's own range. */
	if ((uint64_t)((int64_t)(va << 16) >> 16) != va)
		return false;
	return va < HYPERVISOR_VIRT_START || va >= HYPERVISOR_VIRT_END;
}

/* The validated L1 table that maps va in v's kernel page tables (Xen's
 * map_guest_l1e); caller holds the lock.  False if there is none. */
static bool walk_to_l1(struct vcpu *v, struct pagetype_table *t, uint64_t va,
		       uint64_t *l1)
{
	struct vm *vm = v->vm;
	uint64_t table, e;

	if (!va_ok(va) || v->id >= VM_MAX_VCPUS || !t->base_held[v->id][0])
		return false;
	if (!guest_l4_slot(vm, (va >> 39) & 511))
		return false;
	table = v->xen.baseptr_mfn;
	/* The walk reads validated tables only: each entry was checked when
	 * it was stored, so it points into RAM. */
	for (unsigned level = 4; level > 1; level--) {
		unsigned idx = (va >> (12 + 9 * (level - 1))) & 511;

		if (gmem_read(&vm->mem, (table << PAGE_SHIFT) + idx * 8, &e,
			      sizeof(e)) < 0 ||
		    !(e & PTE_PRESENT) || (e & PTE_PSE))
			return false;
		table = PTE_MFN(e);
		if (!gmem_is_ram_frame(&vm->mem, table))
			return false;
	}
	/* A linear entry could lead the walk to a higher-level table. */
	if (t->f[table].type != PGT_L1 || !t->f[table].validated)
		return false;
	*l1 = table;
	return true;
}

int pagetype_mod_va(struct vcpu *v, uint64_t va, uint64_t val)
{
	struct pagetype_table *t = v->vm->xen.pagetypes;
	uint64_t table;
	int rc = -XEN_EINVAL;

	pthread_mutex_lock(&t->lock);
	if (walk_to_l1(v, t, va, &table))
		rc = mod_pt_entry(v, t, table, 1, (va >> 12) & 511, val,
				  false);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ---- grant mappings (xen/grant_map.c) ---- */

/*
 * The L1 slot a grant mapping names (Xen's create_grant_pv_mapping): the
 * machine address of the entry (contains_pte, 8-byte aligned) or a linear
 * address in v's kernel page tables.  The slot must be in a validated L1.
 */
static bool grant_slot(struct vcpu *v, struct pagetype_table *t,
		       uint64_t addr, bool contains_pte, uint64_t *gpa)
{
	uint64_t table;

	if (contains_pte) {
		table = addr >> PAGE_SHIFT;
		if ((addr & 7) || !gmem_is_ram_frame(&v->vm->mem, table) ||
		    t->f[table].type != PGT_L1 || !t->f[table].validated)
			return false;
		*gpa = addr;
		return true;
	}
	if (!walk_to_l1(v, t, addr, &table))
		return false;
	*gpa = (table << PAGE_SHIFT) + ((addr >> PAGE_SHIFT) & 511) * 8;
	return true;
}

int pagetype_grant_map(struct vcpu *v, uint64_t addr, bool contains_pte,
		       uint64_t pte)
{
	struct vm *vm = v->vm;
	struct pagetype_table *t = vm->xen.pagetypes;
	uint64_t gpa, old;
	int rc = -XEN_EINVAL;

	pthread_mutex_lock(&t->lock);
	if (!grant_slot(v, t, addr, contains_pte, &gpa) ||
	    gmem_read(&vm->mem, gpa, &old, sizeof(old)) < 0)
		goto out;
	rc = store_entry(v, gpa, adjust_entry(pte | PTE_GNTTAB));
	if (rc == 0)
		put_entry(vm, t, gpa >> PAGE_SHIFT, 1, old);
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pagetype_grant_unmap(struct vcpu *v, uint64_t addr, bool contains_pte,
			 uint64_t pte, uint64_t new_addr)
{
	struct vm *vm = v->vm;
	struct pagetype_table *t = vm->xen.pagetypes;
	uint64_t gpa, ngpa, old, nval = 0;
	int rc = -XEN_EINVAL;

	/* Xen: no replace by machine address. */
	if (contains_pte && new_addr)
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	if (!grant_slot(v, t, addr, contains_pte, &gpa) ||
	    gmem_read(&vm->mem, gpa, &old, sizeof(old)) < 0)
		goto out;
	/* The slot must still hold this grant (frame, P and RW). */
	if (!(old & PTE_GNTTAB) || PTE_MFN(old) != PTE_MFN(pte) ||
	    ((old ^ pte) & (PTE_PRESENT | PTE_RW)))
		goto out;
	if (new_addr) {
		/* unmap_and_replace: new_addr's entry moves into the slot,
		 * with the references it holds. */
		if (!grant_slot(v, t, new_addr, false, &ngpa) || ngpa == gpa ||
		    gmem_read(&vm->mem, ngpa, &nval, sizeof(nval)) < 0 ||
		    store_entry(v, ngpa, 0) < 0)
			goto out;
	}
	rc = store_entry(v, gpa, nval);
	/* No vCPU may keep the translation once the references go. */
	if (rc == 0)
		flush_all(vm, t);
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pagetype_clear_page(struct vcpu *v, uint64_t mfn)
{
	struct vm *vm = v->vm;
	struct pagetype_table *t = vm->xen.pagetypes;
	int rc = -XEN_EINVAL;

	if (!gmem_is_ram_frame(&vm->mem, mfn))
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	if (get_page(vm, t, mfn)) {
		if (get_type(v, t, mfn, PGT_WRITABLE) == 0) {
			memset(gmem_ptr(&vm->mem, mfn << PAGE_SHIFT, PAGE_SIZE),
			       0, PAGE_SIZE);
			put_type(vm, mfn);
			rc = 0;
		}
		put_page(t, mfn);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int pagetype_copy_page(struct vcpu *v, uint64_t dst_mfn, uint64_t src_mfn)
{
	struct vm *vm = v->vm;
	struct pagetype_table *t = vm->xen.pagetypes;
	int rc = -XEN_EINVAL;

	if (!gmem_is_ram_frame(&vm->mem, dst_mfn) ||
	    !gmem_is_ram_frame(&vm->mem, src_mfn))
		return -XEN_EINVAL;
	pthread_mutex_lock(&t->lock);
	if (!get_page(vm, t, src_mfn))
		goto out;
	if (get_page(vm, t, dst_mfn)) {
		if (get_type(v, t, dst_mfn, PGT_WRITABLE) == 0) {
			memmove(gmem_ptr(&vm->mem, dst_mfn << PAGE_SHIFT,
					 PAGE_SIZE),
				gmem_ptr(&vm->mem, src_mfn << PAGE_SHIFT,
					 PAGE_SIZE),
				PAGE_SIZE);
			put_type(vm, dst_mfn);
			rc = 0;
		}
		put_page(t, dst_mfn);
	}
	put_page(t, src_mfn);
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void pagetype_tlb_flushed(struct vm *vm, bool all_vcpus)
{
	struct pagetype_table *t = vm->xen.pagetypes;

	if (!t || (!all_vcpus && vm->nr_vcpus > 1))
		return;
	pthread_mutex_lock(&t->lock);
	t->tlb_epoch++;
	pthread_mutex_unlock(&t->lock);
}

/* ---- the invariant checker ---- */

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			snprintf(why, why_len, __VA_ARGS__);                   \
			ok = false;                                            \
			goto out;                                              \
		}                                                              \
	} while (0)

bool pagetype_check(struct vm *vm, char *why, size_t why_len)
{
	struct pagetype_table *t = vm->xen.pagetypes;
	uint32_t *cnt, *tcnt;
	uint64_t ents[NR_ENTRIES];
	bool ok = true;

	cnt = calloc(t->nr_frames ? t->nr_frames : 1, sizeof(*cnt));
	tcnt = calloc(t->nr_frames ? t->nr_frames : 1, sizeof(*tcnt));
	if (!cnt || !tcnt) {
		free(cnt);
		free(tcnt);
		snprintf(why, why_len, "out of memory");
		return false;
	}
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < vm->nr_vcpus && i < VM_MAX_VCPUS; i++) {
		const struct vcpu *v = vm->vcpus[i];

		if (!v || v->id >= VM_MAX_VCPUS)
			continue;
		for (int u = 0; u < 2; u++) {
			uint64_t b = u ? v->xen.user_baseptr_mfn
				       : v->xen.kernel_baseptr_mfn;

			if (!t->base_held[v->id][u])
				continue;
			CHECK(b < t->nr_frames && t->f[b].type == PGT_L4,
			      "vcpu %u base %d %#lx is not an L4", v->id, u,
			      (unsigned long)b);
			cnt[b]++;
			tcnt[b]++;
		}
	}
	for (uint64_t mfn = 0; mfn < t->nr_frames; mfn++) {
		const struct pt_frame *f = &t->f[mfn];
		unsigned level = type_level((enum pagetype)f->type);

		CHECK((f->type == PGT_NONE) == (f->type_count == 0),
		      "frame %#lx type %u with type count %u",
		      (unsigned long)mfn, f->type, f->type_count);
		CHECK(f->validated == (f->type_count > 0),
		      "frame %#lx validated %d type count %u",
		      (unsigned long)mfn, f->validated, f->type_count);
		if (f->pinned) {
			CHECK(level > 0, "frame %#lx pinned but type %u",
			      (unsigned long)mfn, f->type);
			cnt[mfn]++;
			tcnt[mfn]++;
		}
		if (!level)
			continue;
		CHECK(gmem_is_ram_frame(&vm->mem, mfn),
		      "page table %#lx outside RAM", (unsigned long)mfn);
		CHECK(read_table(vm, mfn, ents) == 0, "unreadable %#lx",
		      (unsigned long)mfn);
		for (unsigned i = 0; i < NR_ENTRIES; i++) {
			uint64_t e = ents[i], tgt = PTE_MFN(e);
			bool xrw;

			if (level == 4 && !guest_l4_slot(vm, i)) {
				CHECK(e == reserved_l4_entry(vm, i),
				      "L4 %#lx reserved slot %u holds %#lx",
				      (unsigned long)mfn, i, (unsigned long)e);
				continue;
			}
			if (!(e & PTE_PRESENT))
				continue;
			CHECK(e & PTE_USER, "L%u %#lx slot %u lacks U",
			      level, (unsigned long)mfn, i);
			CHECK(!(e & (level == 1 ? L1_DISALLOW & ~PTE_GNTTAB
						: LN_DISALLOW)),
			      "L%u %#lx slot %u bad flags %#lx", level,
			      (unsigned long)mfn, i, (unsigned long)e);
			if (level > 1 && tgt == mfn) {
				CHECK(!(e & PTE_RW), "RW linear map in %#lx",
				      (unsigned long)mfn);
				continue;
			}
			CHECK(tgt < t->nr_frames,
			      "L%u %#lx slot %u maps %#lx beyond memory",
			      level, (unsigned long)mfn, i,
			      (unsigned long)tgt);
			CHECK(gmem_is_ram_frame(&vm->mem, tgt) ||
				      (level == 1 &&
				       xen_frame_mappable(vm, t, tgt, &xrw) &&
				       (xrw || !(e & PTE_RW))),
			      "L%u %#lx slot %u maps foreign %#lx", level,
			      (unsigned long)mfn, i, (unsigned long)tgt);
			cnt[tgt]++;
			if (level == 1 && !(e & PTE_RW))
				continue;
			tcnt[tgt]++;
			CHECK(t->f[tgt].type == (level == 1
							 ? PGT_WRITABLE
							 : level_type(level - 1)),
			      "L%u %#lx slot %u (%#lx): target type %u",
			      level, (unsigned long)mfn, i, (unsigned long)e,
			      t->f[tgt].type);
		}
	}
	for (uint64_t mfn = 0; mfn < t->nr_frames; mfn++) {
		CHECK(cnt[mfn] == t->f[mfn].count &&
			      tcnt[mfn] == t->f[mfn].type_count,
		      "frame %#lx: count %u (expected %u), type count %u "
		      "(expected %u)",
		      (unsigned long)mfn, t->f[mfn].count, cnt[mfn],
		      t->f[mfn].type_count, tcnt[mfn]);
	}
out:
	pthread_mutex_unlock(&t->lock);
	free(cnt);
	free(tcnt);
	return ok;
}
