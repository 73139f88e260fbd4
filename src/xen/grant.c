/*
 * Grant tables v1: GNTTABOP_setup_table, query_size, copy, set_version,
 * get_version, and the pin API pvisor's backends use (grant.h).
 *
 * The shared entries are in Xen-owned frames; the guest writes them at any
 * time, so every entry is read with atomics, its flags/domid word is updated
 * with a compare-and-swap exactly as Xen's _set_status_v1() does, and the
 * frame number is copied once after the in-use flags are set.
 */
#include "xen/grant.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/vm.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

#define GNTTAB_MAX_ENTRIES (XEN_GNTTAB_MAX_FRAMES * GNTTAB_ENTRIES_PER_FRAME)
#define GUEST_DOMID 1 /* pvisor runs one guest, domain 1 */
/* Xen retries a grant entry that keeps changing under it this often. */
#define GNTTAB_CAS_RETRIES 4

struct gnttab {
	pthread_mutex_t lock;   /* nr_frames and the pin counts */
	unsigned nr_frames;     /* set up by the guest, only grows */
	uint32_t readers[GNTTAB_MAX_ENTRIES]; /* pins per entry */
	uint32_t writers[GNTTAB_MAX_ENTRIES]; /* writable pins per entry */
};

static struct gnttab *gnttab_get(struct vm *vm, bool create)
{
	struct gnttab *gt = __atomic_load_n(&vm->xen.gnttab, __ATOMIC_ACQUIRE);
	struct gnttab *expected = NULL;

	if (gt || !create)
		return gt;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		return NULL;
	pthread_mutex_init(&gt->lock, NULL);
	if (!__atomic_compare_exchange_n(&vm->xen.gnttab, &expected, gt, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		pthread_mutex_destroy(&gt->lock);
		free(gt);
		return expected;
	}
	return gt;
}

void gnttab_destroy(struct vm *vm)
{
	struct gnttab *gt = vm->xen.gnttab;

	if (!gt)
		return;
	vm->xen.gnttab = NULL;
	pthread_mutex_destroy(&gt->lock);
	free(gt);
}

unsigned gnttab_nr_frames(struct vm *vm)
{
	struct gnttab *gt = gnttab_get(vm, false);
	unsigned n;

	if (!gt)
		return 0;
	pthread_mutex_lock(&gt->lock);
	n = gt->nr_frames;
	pthread_mutex_unlock(&gt->lock);
	return n;
}

/* The shared entry for ref; caller holds gt->lock and checked the range. */
static struct grant_entry_v1 *entry_ptr(struct vm *vm, grant_ref_t ref)
{
	uint64_t mfn = vm->xen.gnttab_first_mfn + ref / GNTTAB_ENTRIES_PER_FRAME;

	return gmem_ptr(&vm->mem,
			(mfn << PAGE_SHIFT) +
				(ref % GNTTAB_ENTRIES_PER_FRAME) *
					sizeof(struct grant_entry_v1),
			sizeof(struct grant_entry_v1));
}

/* flags (low half) and domid (high half) as one word, as Xen swaps them. */
static uint32_t *entry_combo(struct grant_entry_v1 *e)
{
	_Static_assert(offsetof(struct grant_entry_v1, flags) == 0, "flags");
	_Static_assert(offsetof(struct grant_entry_v1, domid) == 2, "domid");
	return (uint32_t *)(void *)e;
}

static void clear_flags(struct grant_entry_v1 *e, uint16_t bits)
{
	__atomic_fetch_and(&e->flags, (uint16_t)~bits, __ATOMIC_SEQ_CST);
}

/* Drops one pin's counts; clears the in-use flags with the last one. */
static void unpin_locked(struct gnttab *gt, struct grant_entry_v1 *e,
			 grant_ref_t ref, bool write)
{
	if (write && gt->writers[ref] && --gt->writers[ref] == 0)
		clear_flags(e, GTF_writing);
	if (gt->readers[ref] && --gt->readers[ref] == 0)
		clear_flags(e, GTF_reading);
}

static int pin_locked(struct vm *vm, struct gnttab *gt, domid_t domid,
		      grant_ref_t ref, bool write, struct gnttab_pin *pin)
{
	struct grant_entry_v1 *e;
	uint32_t *combo, old, want;
	uint64_t frame;
	unsigned tries;

	if (ref >= gt->nr_frames * GNTTAB_ENTRIES_PER_FRAME)
		return GNTST_bad_gntref;
	e = entry_ptr(vm, ref);
	if (!e)
		return GNTST_general_error;
	if (gt->readers[ref] == UINT32_MAX)
		return GNTST_no_device_space;
	combo = entry_combo(e);
	for (tries = 0;; tries++) {
		uint16_t flags, sdom;

		if (tries == GNTTAB_CAS_RETRIES)
			return GNTST_general_error; /* "unstable" entry */
		old = __atomic_load_n(combo, __ATOMIC_ACQUIRE);
		flags = (uint16_t)old;
		sdom = (uint16_t)(old >> 16);
		if ((flags & GTF_type_mask) != GTF_permit_access || sdom != domid)
			return GNTST_permission_denied;
		if (write && (flags & GTF_readonly))
			return GNTST_permission_denied;
		want = old | GTF_reading | (write ? GTF_writing : 0);
		if (__atomic_compare_exchange_n(combo, &old, want, false,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
			break;
	}
	/* The frame is read once, after the entry is marked in use. */
	frame = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
	gt->readers[ref]++;
	if (write)
		gt->writers[ref]++;
	if (!gmem_is_ram_frame(&vm->mem, frame)) {
		unpin_locked(gt, e, ref, write);
		return GNTST_permission_denied;
	}
	pin->ref = ref;
	pin->write = write;
	pin->mfn = frame;
	pin->page = gmem_ptr(&vm->mem, frame << PAGE_SHIFT, PAGE_SIZE);
	return GNTST_okay;
}

int gnttab_pin(struct vm *vm, domid_t domid, grant_ref_t ref, bool write,
	       struct gnttab_pin *pin)
{
	struct gnttab *gt = gnttab_get(vm, false);
	int rc;

	if (!gt)
		return GNTST_general_error;
	pthread_mutex_lock(&gt->lock);
	rc = pin_locked(vm, gt, domid, ref, write, pin);
	pthread_mutex_unlock(&gt->lock);
	return rc;
}

void gnttab_unpin(struct vm *vm, const struct gnttab_pin *pin)
{
	struct gnttab *gt = gnttab_get(vm, false);
	struct grant_entry_v1 *e;

	if (!gt)
		return;
	pthread_mutex_lock(&gt->lock);
	if (pin->ref < gt->nr_frames * GNTTAB_ENTRIES_PER_FRAME &&
	    (e = entry_ptr(vm, pin->ref)))
		unpin_locked(gt, e, pin->ref, pin->write);
	pthread_mutex_unlock(&gt->lock);
}

static bool is_self(domid_t dom)
{
	return dom == DOMID_SELF || dom == GUEST_DOMID;
}

static long op_setup_table(struct vcpu *v, uint64_t arg, uint32_t count)
{
	struct vm *vm = v->vm;
	struct gnttab_setup_table op;
	struct gnttab *gt;
	uint64_t list;

	if (count != 1)
		return -XEN_EINVAL;
	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	list = (uint64_t)(uintptr_t)op.frame_list.p;
	op.status = GNTST_okay;
	if (!is_self(op.dom)) {
		op.status = GNTST_bad_domain;
	} else if (op.nr_frames > XEN_GNTTAB_MAX_FRAMES) {
		op.status = GNTST_general_error;
	} else if (!(gt = gnttab_get(vm, true))) {
		return -XEN_ENOMEM;
	} else {
		for (uint32_t i = 0; i < op.nr_frames; i++) {
			xen_pfn_t mfn = vm->xen.gnttab_first_mfn + i;

			if (pagetype_allow_xen_frame(vm, mfn, true) < 0) {
				op.status = GNTST_general_error;
				break;
			}
			if (hc_write(v, list + i * sizeof(mfn), &mfn,
				     sizeof(mfn))) {
				op.status = GNTST_bad_virt_addr;
				break;
			}
		}
		if (op.status == GNTST_okay) {
			pthread_mutex_lock(&gt->lock);
			if (op.nr_frames > gt->nr_frames)
				gt->nr_frames = op.nr_frames;
			pthread_mutex_unlock(&gt->lock);
		}
	}
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return 0;
}

static long op_query_size(struct vcpu *v, uint64_t arg, uint32_t count)
{
	struct gnttab_query_size op;

	if (count != 1)
		return -XEN_EINVAL;
	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!is_self(op.dom)) {
		op.status = GNTST_bad_domain;
	} else {
		op.nr_frames = gnttab_nr_frames(v->vm);
		op.max_nr_frames = XEN_GNTTAB_MAX_FRAMES;
		op.status = GNTST_okay;
	}
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return 0;
}

/*
 * One side of a copy: a grant of the guest to itself (GNTCOPY_*_gref) or a
 * frame of the guest's own.  Pins grants; *page is pvisor's pointer.
 */
static int copy_side(struct vm *vm, const struct gnttab_copy_ptr *p,
		     bool is_gref, bool write, struct gnttab_pin *pin,
		     bool *pinned, uint8_t **page)
{
	int rc;

	*pinned = false;
	if (!is_self(p->domid))
		return GNTST_bad_domain; /* pvisor runs no other domain */
	if (is_gref) {
		rc = gnttab_pin(vm, GUEST_DOMID, p->u.ref, write, pin);
		if (rc)
			return rc;
		*pinned = true;
		*page = pin->page;
		return GNTST_okay;
	}
	/* P2M is the identity: the gmfn is a machine frame. */
	if (!gmem_is_ram_frame(&vm->mem, p->u.gmfn))
		return GNTST_bad_page;
	*page = gmem_ptr(&vm->mem, p->u.gmfn << PAGE_SHIFT, PAGE_SIZE);
	return *page ? GNTST_okay : GNTST_bad_page;
}

/* Runs one copy on a validated local copy of the guest's op. */
static int16_t copy_one(struct vm *vm, const struct gnttab_copy *op)
{
	struct gnttab_pin spin, dpin;
	bool spinned = false, dpinned = false;
	uint8_t *src = NULL, *dst = NULL;
	int rc;

	if (op->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref))
		return GNTST_bad_copy_arg;
	if ((unsigned)op->source.offset + op->len > PAGE_SIZE ||
	    (unsigned)op->dest.offset + op->len > PAGE_SIZE)
		return GNTST_bad_copy_arg;
	rc = copy_side(vm, &op->source, op->flags & GNTCOPY_source_gref, false,
		       &spin, &spinned, &src);
	if (rc)
		goto out;
	rc = copy_side(vm, &op->dest, op->flags & GNTCOPY_dest_gref, true,
		       &dpin, &dpinned, &dst);
	if (rc)
		goto out;
	memmove(dst + op->dest.offset, src + op->source.offset, op->len);
out:
	if (dpinned)
		gnttab_unpin(vm, &dpin);
	if (spinned)
		gnttab_unpin(vm, &spin);
	return (int16_t)rc;
}

static long op_copy(struct vcpu *v, uint64_t arg, uint32_t count)
{
	if ((int32_t)count < 0)
		return -XEN_EINVAL;
	if (!gnttab_get(v->vm, false) && count)
		(void)gnttab_get(v->vm, true); /* copies of own frames work too */
	for (uint32_t i = 0; i < count; i++) {
		uint64_t at = arg + (uint64_t)i * sizeof(struct gnttab_copy);
		struct gnttab_copy op;

		if (hc_read(v, at, &op, sizeof(op)))
			return -XEN_EFAULT;
		op.status = copy_one(v->vm, &op);
		if (hc_write(v, at + offsetof(struct gnttab_copy, status),
			     &op.status, sizeof(op.status)))
			return -XEN_EFAULT;
	}
	return 0;
}

static long op_set_version(struct vcpu *v, uint64_t arg, uint32_t count)
{
	struct gnttab_set_version op;
	long rc = 0;

	if (count != 1)
		return -XEN_EINVAL;
	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.version == 2)
		rc = -XEN_ENOSYS; /* v2 is not offered */
	else if (op.version != 1)
		rc = -XEN_EINVAL;
	op.version = 1; /* Xen reports the version in force */
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return rc;
}

static long op_get_version(struct vcpu *v, uint64_t arg, uint32_t count)
{
	struct gnttab_get_version op;

	if (count != 1)
		return -XEN_EINVAL;
	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!is_self(op.dom))
		return -XEN_ESRCH;
	op.version = 1;
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return 0;
}

long hc_grant_table_op(struct vcpu *v, const struct hc_args *a)
{
	uint64_t arg = a->a[1];
	uint32_t count = (uint32_t)a->a[2];

	switch (a->a[0]) {
	case GNTTABOP_setup_table:
		return op_setup_table(v, arg, count);
	case GNTTABOP_query_size:
		return op_query_size(v, arg, count);
	case GNTTABOP_copy:
		return op_copy(v, arg, count);
	case GNTTABOP_set_version:
		return op_set_version(v, arg, count);
	case GNTTABOP_get_version:
		return op_get_version(v, arg, count);
	default:
		/* map/unmap_grant_ref, transfer, v2 status frames: pvisor's
		 * backends are in-process and need no mappings. */
		return -XEN_ENOSYS;
	}
}
