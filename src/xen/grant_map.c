/*
 * GNTTABOP_map_grant_ref, unmap_grant_ref and unmap_and_replace: a PV
 * guest maps grants into its own page tables (Xen's map_grant_ref,
 * unmap_common and unmap_common_complete in xen/common/grant_table.c, with
 * create/replace_grant_pv_mapping from xen/arch/x86/pv/grant_table.c).
 *
 * pvisor runs one domain, so the only grants a guest can map are its own:
 * dom must be the guest's domid (1).  DOMID_SELF names no domain here, as
 * in Xen (rcu_lock_domain_by_id), and neither does any other domid: both
 * get GNTST_bad_domain.
 *
 * A mapping holds, per kind (host, device), one pin on the entry
 * (grant_state.h), one general reference on the frame and, unless
 * read-only, a writable type reference, so the frame cannot become a page
 * table while it is mapped writable.  A host mapping is an L1 entry with
 * Xen's grant bit, stored by pagetype_grant_map through the backend's
 * pt_write, so proc and kvm see it as any validated page-table write.
 */
#include <string.h>

#include "core/vm.h"
#include "xen/grant.h"
#include "xen/grant_state.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

#define MAP_KINDS (GNTMAP_host_map | GNTMAP_device_map)

/* Xen's grant_to_pte_flags(): the L1 entry of a host mapping. */
static uint64_t grant_pte(uint64_t mfn, uint32_t flags)
{
	uint64_t pte = (mfn << PAGE_SHIFT) | PTE_PRESENT | PTE_ACCESSED |
		       PTE_DIRTY | PTE_NX;

	if (flags & GNTMAP_application_map)
		pte |= PTE_USER;
	if (!(flags & GNTMAP_readonly))
		pte |= PTE_RW;
	/* GNTMAP_guest_avail bits go to the PTE's available bits 9-11. */
	return pte | (uint64_t)((flags >> _GNTMAP_guest_avail0) & 7) << 9;
}

/* The lowest free maptrack handle, or -1 (Xen: GNTST_no_device_space). */
static int alloc_handle(const struct gnttab *gt)
{
	for (int h = 0; h < GNTTAB_MAPTRACK_MAX; h++) {
		if (!gt->maptrack[h].flags)
			return h;
	}
	return -1;
}

/* Takes what one kind of mapping holds: a pin and the frame references. */
static int hold_kind(struct vm *vm, struct gnttab *gt, grant_ref_t ref,
		     bool ro, uint64_t *mfn)
{
	struct gnttab_pin pin;
	int rc = gnttab_acquire(vm, gt, ref, GNTTAB_GUEST_DOMID, !ro,
				GNTTAB_USE_MAP, GNTST_general_error, &pin);

	if (rc)
		return rc;
	*mfn = pin.mfn;
	if (pagetype_get_page(vm, *mfn, !ro) < 0) {
		/* Xen's could_not_pin: e.g. a page table mapped writable. */
		gnttab_release(vm, gt, ref, !ro);
		return GNTST_general_error;
	}
	return GNTST_okay;
}

static void drop_kind(struct vm *vm, struct gnttab *gt, grant_ref_t ref,
		      bool ro, uint64_t mfn)
{
	pagetype_put_page(vm, mfn, !ro);
	gnttab_release(vm, gt, ref, !ro);
}

static int16_t map_one(struct vcpu *v, struct gnttab *gt,
		       struct gnttab_map_grant_ref *op)
{
	struct vm *vm = v->vm;
	bool ro = op->flags & GNTMAP_readonly;
	bool host = op->flags & GNTMAP_host_map;
	bool dev = op->flags & GNTMAP_device_map;
	uint64_t mfn = 0;
	int h, rc;

	if (!host && !dev)
		return GNTST_bad_gntref; /* Xen: "Bad flags in grant map op" */
	if (op->dom != GNTTAB_GUEST_DOMID)
		return GNTST_bad_domain;
	h = alloc_handle(gt);
	if (h < 0)
		return GNTST_no_device_space;
	if (dev && (rc = hold_kind(vm, gt, op->ref, ro, &mfn)))
		return (int16_t)rc;
	if (host) {
		rc = hold_kind(vm, gt, op->ref, ro, &mfn);
		if (!rc && pagetype_grant_map(v, op->host_addr,
					      op->flags & GNTMAP_contains_pte,
					      grant_pte(mfn, op->flags)) < 0) {
			drop_kind(vm, gt, op->ref, ro, mfn);
			rc = GNTST_general_error;
		}
		if (rc) {
			if (dev)
				drop_kind(vm, gt, op->ref, ro, mfn);
			return (int16_t)rc;
		}
	}
	gt->maptrack[h] = (struct gnttab_map){
		.flags = op->flags, .domid = op->dom, .ref = op->ref,
	};
	op->handle = (grant_handle_t)h;
	op->dev_bus_addr = mfn << PAGE_SHIFT;
	return GNTST_okay;
}

long gnttab_op_map(struct vcpu *v, uint64_t arg, uint32_t count)
{
	struct gnttab *gt = gnttab_get(v->vm, true);

	if (!gt)
		return -XEN_ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t at = arg + (uint64_t)i * sizeof(struct gnttab_map_grant_ref);
		struct gnttab_map_grant_ref op;

		if (hc_read(v, at, &op, sizeof(op)))
			return -XEN_EFAULT;
		pthread_mutex_lock(&gt->lock);
		op.status = map_one(v, gt, &op);
		pthread_mutex_unlock(&gt->lock);
		if (hc_write(v, at, &op, sizeof(op)))
			return -XEN_EFAULT;
	}
	return 0;
}

/* What an unmap asks: Xen's struct gnttab_unmap_common. */
struct unmap_req {
	uint64_t host_addr, dev_bus_addr, new_addr;
	grant_handle_t handle;
};

/* Xen's unmap_common + unmap_common_complete. */
static int16_t unmap_one(struct vcpu *v, struct gnttab *gt,
			 const struct unmap_req *req)
{
	struct vm *vm = v->vm;
	struct gnttab_map *m;
	bool ro, host = false, dev = false;
	uint64_t mfn;

	if (req->handle >= GNTTAB_MAPTRACK_MAX)
		return GNTST_bad_handle;
	m = &gt->maptrack[req->handle];
	if (!m->flags)
		return GNTST_bad_handle; /* never mapped, or unmapped */
	ro = m->flags & GNTMAP_readonly;
	mfn = gt->act_mfn[m->ref];
	if (req->dev_bus_addr && req->dev_bus_addr != mfn << PAGE_SHIFT)
		return GNTST_general_error;
	if (req->host_addr && (m->flags & GNTMAP_host_map)) {
		if (pagetype_grant_unmap(v, req->host_addr,
					 m->flags & GNTMAP_contains_pte,
					 grant_pte(mfn, m->flags),
					 req->new_addr) < 0)
			return GNTST_general_error;
		m->flags &= ~(uint32_t)GNTMAP_host_map;
		host = true;
	}
	if (req->dev_bus_addr && (m->flags & GNTMAP_device_map)) {
		m->flags &= ~(uint32_t)GNTMAP_device_map;
		dev = true;
	}
	if (host)
		drop_kind(vm, gt, m->ref, ro, mfn);
	if (dev)
		drop_kind(vm, gt, m->ref, ro, mfn);
	if (!(m->flags & MAP_KINDS))
		memset(m, 0, sizeof(*m)); /* the handle is free again */
	return GNTST_okay;
}

static int16_t unmap_locked(struct vcpu *v, const struct unmap_req *req)
{
	struct gnttab *gt = gnttab_get(v->vm, false);
	int16_t rc;

	if (!gt)
		return GNTST_bad_handle;
	pthread_mutex_lock(&gt->lock);
	rc = unmap_one(v, gt, req);
	pthread_mutex_unlock(&gt->lock);
	return rc;
}

/* A batch of unmap_grant_ref (replace false) or unmap_and_replace ops;
 * Xen writes back the status field only. */
static long unmap_batch(struct vcpu *v, uint64_t arg, uint32_t count,
			bool replace)
{
	size_t size = replace ? sizeof(struct gnttab_unmap_and_replace)
			      : sizeof(struct gnttab_unmap_grant_ref);
	size_t status_at =
		replace ? offsetof(struct gnttab_unmap_and_replace, status)
			: offsetof(struct gnttab_unmap_grant_ref, status);

	for (uint32_t i = 0; i < count; i++) {
		uint64_t at = arg + (uint64_t)i * size;
		union {
			struct gnttab_unmap_grant_ref u;
			struct gnttab_unmap_and_replace r;
		} op;
		struct unmap_req req;
		int16_t status;

		if (hc_read(v, at, &op, size))
			return -XEN_EFAULT;
		if (replace)
			req = (struct unmap_req){ .host_addr = op.r.host_addr,
						  .new_addr = op.r.new_addr,
						  .handle = op.r.handle };
		else
			req = (struct unmap_req){ .host_addr = op.u.host_addr,
						  .dev_bus_addr = op.u.dev_bus_addr,
						  .handle = op.u.handle };
		status = unmap_locked(v, &req);
		if (hc_write(v, at + status_at, &status, sizeof(status)))
			return -XEN_EFAULT;
	}
	return 0;
}

long gnttab_op_unmap(struct vcpu *v, uint64_t arg, uint32_t count)
{
	return unmap_batch(v, arg, count, false);
}

long gnttab_op_unmap_and_replace(struct vcpu *v, uint64_t arg, uint32_t count)
{
	return unmap_batch(v, arg, count, true);
}
