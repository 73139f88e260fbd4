/*
 * Grant tables: GNTTABOP_setup_table, query_size, copy, set_version,
 * get_version, get_status_frames, swap_grant_ref, cache_flush, the v1 and
 * v2 entry layouts, and the pin API pvisor's backends use (grant.h).
 * Mappings are in grant_map.c.
 *
 * The shared entries (and v2's status words) are in Xen-owned frames; the
 * guest writes them at any time, so every entry is read with atomics, its
 * flags are updated as Xen's _set_status_v1()/_v2() do (v1: a
 * compare-and-swap of flags and domid; v2: the status word, then a re-check
 * of the header), and the frame number is read once, by the first pin.
 * Copies (GNTTABOP_copy, gnttab_pin_copy) follow Xen's
 * acquire_grant_for_copy: v2 sub-page grants limit them to their window,
 * transitive grants are checked and refused (no referent is reachable in
 * pvisor: docs/pv-abi.md).  Maps and the backends' gnttab_pin refuse
 * both, as Xen's map path does.
 */
#include "xen/grant.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/vm.h"
#include "xen/grant_state.h"
#include "xen/hypercall.h"
#include "xen/pagetype.h"

#define V1_PER_FRAME (4096 / sizeof(struct grant_entry_v1))
#define V2_PER_FRAME (4096 / sizeof(grant_entry_v2_t))
#define STATUS_PER_FRAME (4096 / sizeof(grant_status_t))
/* Xen retries a grant entry that keeps changing under it this often. */
#define GNTTAB_CAS_RETRIES 4

struct gnttab *gnttab_get(struct vm *vm, bool create)
{
	struct gnttab *gt = __atomic_load_n(&vm->xen.gnttab, __ATOMIC_ACQUIRE);
	struct gnttab *expected = NULL;

	if (gt || !create)
		return gt;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		return NULL;
	gt->version = 1;
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

void gnttab_reset(struct vm *vm)
{
	struct gnttab *gt = gnttab_get(vm, false);

	if (!gt)
		return;
	pthread_mutex_lock(&gt->lock);
	gt->nr_frames = 0;
	gt->version = 1;
	memset(gt->readers, 0, sizeof(gt->readers));
	memset(gt->writers, 0, sizeof(gt->writers));
	memset(gt->act_domid, 0, sizeof(gt->act_domid));
	memset(gt->act_mfn, 0, sizeof(gt->act_mfn));
	memset(gt->act_start, 0, sizeof(gt->act_start));
	memset(gt->act_len, 0, sizeof(gt->act_len));
	memset(gt->act_sub_page, 0, sizeof(gt->act_sub_page));
	memset(gt->maptrack, 0, sizeof(gt->maptrack));
	pthread_mutex_unlock(&gt->lock);
}

unsigned gnttab_backend_pins(struct vm *vm)
{
	struct gnttab *gt = gnttab_get(vm, false);
	unsigned n = 0;

	if (!gt)
		return 0;
	pthread_mutex_lock(&gt->lock);
	for (unsigned i = 0; i < GNTTAB_MAX_ENTRIES; i++)
		n += (gt->readers[i] || gt->writers[i]) && gt->act_domid[i] == 0;
	pthread_mutex_unlock(&gt->lock);
	return n;
}

static unsigned per_frame(const struct gnttab *gt)
{
	return gt->version == 2 ? V2_PER_FRAME : V1_PER_FRAME;
}

static unsigned nr_entries(const struct gnttab *gt)
{
	return gt->nr_frames * per_frame(gt);
}

/* v2 status frames for n grant frames (Xen's grant_to_status_frames). */
static unsigned status_frames_for(unsigned n)
{
	return (n * V2_PER_FRAME + STATUS_PER_FRAME - 1) / STATUS_PER_FRAME;
}

static unsigned nr_status_frames(const struct gnttab *gt)
{
	return gt->version == 2 ? status_frames_for(gt->nr_frames) : 0;
}

static uint64_t status_first_mfn(const struct vm *vm)
{
	return vm->xen.gnttab_first_mfn + XEN_GNTTAB_MAX_FRAMES;
}

/* The shared entry for ref (its header first in both versions); the
 * caller checked the range. */
static grant_entry_header_t *entry_hdr(struct vm *vm, const struct gnttab *gt,
				       grant_ref_t ref)
{
	size_t size = gt->version == 2 ? sizeof(grant_entry_v2_t)
				       : sizeof(struct grant_entry_v1);
	uint64_t mfn = vm->xen.gnttab_first_mfn + ref / per_frame(gt);

	_Static_assert(offsetof(struct grant_entry_v1, flags) == 0, "flags");
	_Static_assert(offsetof(struct grant_entry_v1, domid) == 2, "domid");
	return gmem_ptr(&vm->mem,
			(mfn << PAGE_SHIFT) + (ref % per_frame(gt)) * size,
			size);
}

/* Where GTF_reading/GTF_writing live: the entry's flags (v1) or its status
 * word (v2). */
static uint16_t *status_word(struct vm *vm, const struct gnttab *gt,
			     grant_ref_t ref, grant_entry_header_t *h)
{
	uint64_t mfn;

	if (gt->version != 2)
		return &h->flags;
	mfn = status_first_mfn(vm) + ref / STATUS_PER_FRAME;
	return gmem_ptr(&vm->mem,
			(mfn << PAGE_SHIFT) +
				(ref % STATUS_PER_FRAME) * sizeof(grant_status_t),
			sizeof(grant_status_t));
}

/* The frame of a v1 entry, or of a v2 full-page or sub-page one (the same
 * place in both). */
static uint64_t entry_frame(const struct gnttab *gt, grant_entry_header_t *h)
{
	_Static_assert(offsetof(grant_entry_v2_t, sub_page.frame) ==
			       offsetof(grant_entry_v2_t, full_page.frame),
		       "v2 frame");
	if (gt->version == 2)
		return __atomic_load_n(&((grant_entry_v2_t *)h)->full_page.frame,
				       __ATOMIC_ACQUIRE);
	return __atomic_load_n(&((struct grant_entry_v1 *)h)->frame,
			       __ATOMIC_ACQUIRE);
}

static void clear_flags(uint16_t *status, uint16_t bits)
{
	__atomic_fetch_and(status, (uint16_t)~bits, __ATOMIC_SEQ_CST);
}

/*
 * Xen's type check in _set_status_v1/_v2: GTF_permit_access, or in v2 for
 * a copy GTF_transitive; a map (Xen's mapflag) also refuses GTF_sub_page,
 * which v1 copies ignore.  The grant is to domid and, for a write, not
 * read-only.
 */
static bool header_allows(uint32_t combo, domid_t domid, bool write,
			  enum gnttab_use use, unsigned version)
{
	uint16_t flags = (uint16_t)combo, sdom = (uint16_t)(combo >> 16);
	uint16_t mask = GTF_type_mask |
			(use == GNTTAB_USE_MAP ? GTF_sub_page : 0);
	uint16_t type = flags & mask;

	if (type != GTF_permit_access &&
	    !(version == 2 && use == GNTTAB_USE_COPY && type == GTF_transitive))
		return false;
	if (sdom != domid)
		return false;
	return !(write && (flags & GTF_readonly));
}

/* What a pin asks of an entry. */
struct pin_req {
	domid_t domid;
	bool write;
	enum gnttab_use use;
	int bad_entry; /* the code for an entry that does not allow it */
};

/* The check of the first pin (whole header) or of a later writable one
 * (only GTF_readonly, as Xen). */
static bool req_allows(const struct pin_req *rq, uint32_t combo, bool check,
		       unsigned version)
{
	if (check)
		return header_allows(combo, rq->domid, rq->write, rq->use,
				     version);
	return !(rq->write && ((uint16_t)combo & GTF_readonly));
}

/* Xen's _set_status_v1: flags and domid checked and updated as one word. */
static int set_status_v1(grant_entry_header_t *h, const struct pin_req *rq,
			 bool check)
{
	uint32_t *combo = (uint32_t *)(void *)h, old, want;

	for (unsigned tries = 0;; tries++) {
		if (tries == GNTTAB_CAS_RETRIES)
			return GNTST_general_error; /* "unstable" entry */
		old = __atomic_load_n(combo, __ATOMIC_ACQUIRE);
		if (!req_allows(rq, old, check, 1))
			return rq->bad_entry;
		want = old | GTF_reading | (rq->write ? GTF_writing : 0);
		if (__atomic_compare_exchange_n(combo, &old, want, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_ACQUIRE))
			return GNTST_okay;
	}
}

/* Xen's _set_status_v2: the status word is set, then the header checked
 * again, so a guest that revokes meanwhile sees the flags or the error. */
static int set_status_v2(grant_entry_header_t *h, uint16_t *status,
			 const struct pin_req *rq, bool check)
{
	uint32_t *combo = (uint32_t *)(void *)h;
	uint16_t bits = GTF_reading | (rq->write ? GTF_writing : 0);

	if (!req_allows(rq, __atomic_load_n(combo, __ATOMIC_ACQUIRE), check, 2))
		return rq->bad_entry;
	__atomic_fetch_or(status, bits, __ATOMIC_SEQ_CST);
	if (!req_allows(rq, __atomic_load_n(combo, __ATOMIC_SEQ_CST), check, 2)) {
		clear_flags(status, check ? bits : GTF_writing);
		return rq->bad_entry;
	}
	return GNTST_okay;
}

static int set_status(const struct gnttab *gt, grant_entry_header_t *h,
		      uint16_t *status, const struct pin_req *rq, bool check)
{
	return gt->version == 2 ? set_status_v2(h, status, rq, check)
				: set_status_v1(h, rq, check);
}

/* Clears the in-use flags the entry's remaining pins do not need (Xen's
 * unlock_out_clear and fixup_status_for_copy_pin). */
static void clear_unpinned(const struct gnttab *gt, grant_ref_t ref,
			   uint16_t *status)
{
	uint16_t bits = (gt->writers[ref] ? 0 : GTF_writing) |
			(gt->readers[ref] ? 0 : GTF_reading);

	if (bits)
		clear_flags(status, bits);
}

/*
 * Xen's transitive branch of acquire_grant_for_copy, for a v2 entry of
 * type GTF_transitive: the entry's own checks and in-use flags, then the
 * referent, gref in trans_domid's table, acquired for the granting domain
 * with transitivity off (one level).  No referent can be reached here:
 * the granter's own table is Xen's "self-referential" refusal, DOMID_SELF
 * names no domain, and every other domid, 0 included, is a domain with no
 * grant table (pvisor's backends grant nothing; map and copy treat it as
 * absent too), Xen's "bad domain".  All are GNTST_general_error (the
 * caller's bad_entry), and the flags go back as when Xen's referent fails.
 */
static int acquire_transitive(struct gnttab *gt, grant_ref_t ref,
			      grant_entry_header_t *h, uint16_t *status,
			      const struct pin_req *rq, bool first)
{
	int rc;

	if (first || (rq->write && gt->writers[ref] == 0)) {
		rc = set_status_v2(h, status, rq, first);
		if (rc)
			return rc;
	}
	clear_unpinned(gt, ref, status);
	return rq->bad_entry;
}

/* What a first pin records: a v2 sub-page grant's window (copies only:
 * Xen's map path always takes the page), else the whole page. */
static void record_window(struct gnttab *gt, grant_ref_t ref,
			  grant_entry_header_t *h, enum gnttab_use use)
{
	grant_entry_v2_t *e = (grant_entry_v2_t *)h;
	bool sub = use == GNTTAB_USE_COPY && gt->version == 2 &&
		   (__atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & GTF_sub_page);

	gt->act_sub_page[ref] = sub;
	gt->act_start[ref] = 0;
	gt->act_len[ref] = PAGE_SIZE;
	if (sub) {
		/* Xen's act->start is a 15-bit field; the length is not
		 * checked against the page (the copy checks are). */
		gt->act_start[ref] = __atomic_load_n(&e->sub_page.page_off,
						     __ATOMIC_ACQUIRE) & 0x7fff;
		gt->act_len[ref] = __atomic_load_n(&e->sub_page.length,
						   __ATOMIC_ACQUIRE);
	}
}

static bool is_transitive(const struct gnttab *gt, grant_entry_header_t *h)
{
	return gt->version == 2 &&
	       (__atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & GTF_type_mask) ==
		       GTF_transitive;
}

int gnttab_acquire(struct vm *vm, struct gnttab *gt, grant_ref_t ref,
		   domid_t domid, bool write, enum gnttab_use use,
		   int bad_entry, struct gnttab_pin *pin)
{
	const struct pin_req rq = { domid, write, use, bad_entry };
	grant_entry_header_t *h;
	uint16_t *status;
	bool first;
	int rc;

	if (ref >= nr_entries(gt))
		return GNTST_bad_gntref;
	first = gt->readers[ref] == 0;
	h = entry_hdr(vm, gt, ref);
	status = h ? status_word(vm, gt, ref, h) : NULL;
	if (!status)
		return GNTST_general_error;
	/* Xen: an active entry serves one domain; counters must not wrap;
	 * a map cannot share an entry a copy holds as a sub-page grant. */
	if (!first && (gt->act_domid[ref] != domid ||
		       gt->readers[ref] >= GNTTAB_MAX_ENTRIES ||
		       (use == GNTTAB_USE_MAP && gt->act_sub_page[ref])))
		return GNTST_general_error;
	if (use == GNTTAB_USE_COPY && is_transitive(gt, h))
		return acquire_transitive(gt, ref, h, status, &rq, first);
	if (first || (write && gt->writers[ref] == 0)) {
		rc = set_status(gt, h, status, &rq, first);
		if (rc)
			return rc;
	}
	if (first) {
		uint64_t frame = entry_frame(gt, h);

		if (!gmem_is_ram_frame(&vm->mem, frame)) {
			clear_unpinned(gt, ref, status);
			return GNTST_bad_page; /* Xen's get_paged_frame */
		}
		gt->act_domid[ref] = domid;
		gt->act_mfn[ref] = frame;
		record_window(gt, ref, h, use);
	}
	gt->readers[ref]++;
	if (write)
		gt->writers[ref]++;
	pin->mfn = gt->act_mfn[ref];
	pin->off = gt->act_start[ref];
	pin->len = gt->act_len[ref];
	return GNTST_okay;
}

void gnttab_release(struct vm *vm, struct gnttab *gt, grant_ref_t ref,
		    bool write)
{
	grant_entry_header_t *h;
	uint16_t *status;

	if (ref >= nr_entries(gt) || !(h = entry_hdr(vm, gt, ref)) ||
	    !(status = status_word(vm, gt, ref, h)))
		return;
	if (write && gt->writers[ref] && --gt->writers[ref] == 0)
		clear_flags(status, GTF_writing);
	if (gt->readers[ref] && --gt->readers[ref] == 0)
		clear_flags(status, GTF_reading);
}

/*
 * One pin of a backend or a GNTTABOP_copy: the entry, and a reference on
 * the frame (a writable type for a write) as Xen's map and copy paths
 * take, so no page table is written this way.  Xen's codes.
 */
static int pin_entry(struct vm *vm, domid_t domid, grant_ref_t ref,
		     bool write, enum gnttab_use use, int bad_entry,
		     struct gnttab_pin *pin)
{
	struct gnttab *gt = gnttab_get(vm, false);
	int rc;

	if (!gt)
		return GNTST_general_error;
	pthread_mutex_lock(&gt->lock);
	rc = gnttab_acquire(vm, gt, ref, domid, write, use, bad_entry, pin);
	if (rc == GNTST_okay && pagetype_get_page(vm, pin->mfn, write) < 0) {
		gnttab_release(vm, gt, ref, write);
		rc = GNTST_general_error;
	}
	pthread_mutex_unlock(&gt->lock);
	if (rc)
		return rc;
	pin->ref = ref;
	pin->write = write;
	pin->page = gmem_ptr(&vm->mem, pin->mfn << PAGE_SHIFT, PAGE_SIZE);
	return GNTST_okay;
}

/* The backends' contract (grant.h): a refused entry or frame is
 * GNTST_permission_denied. */
static int backend_pin(struct vm *vm, domid_t domid, grant_ref_t ref,
		       bool write, enum gnttab_use use, struct gnttab_pin *pin)
{
	int rc = pin_entry(vm, domid, ref, write, use, GNTST_permission_denied,
			   pin);

	return rc == GNTST_bad_page ? GNTST_permission_denied : rc;
}

int gnttab_pin(struct vm *vm, domid_t domid, grant_ref_t ref, bool write,
	       struct gnttab_pin *pin)
{
	return backend_pin(vm, domid, ref, write, GNTTAB_USE_MAP, pin);
}

int gnttab_pin_copy(struct vm *vm, domid_t domid, grant_ref_t ref, bool write,
		    struct gnttab_pin *pin)
{
	return backend_pin(vm, domid, ref, write, GNTTAB_USE_COPY, pin);
}

bool gnttab_pin_covers(const struct gnttab_pin *pin, unsigned off,
		       unsigned len)
{
	return off <= PAGE_SIZE && len <= PAGE_SIZE - off && off >= pin->off &&
	       off + len <= (unsigned)pin->off + pin->len;
}

void gnttab_unpin(struct vm *vm, const struct gnttab_pin *pin)
{
	struct gnttab *gt = gnttab_get(vm, false);

	if (!gt)
		return;
	pthread_mutex_lock(&gt->lock);
	pagetype_put_page(vm, pin->mfn, pin->write);
	gnttab_release(vm, gt, pin->ref, pin->write);
	pthread_mutex_unlock(&gt->lock);
}

static bool is_self(domid_t dom)
{
	return dom == DOMID_SELF || dom == GNTTAB_GUEST_DOMID;
}

/* Lets the guest map status frames [from, to) (v2). */
static int allow_status_frames(struct vm *vm, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		if (pagetype_allow_xen_frame(vm, status_first_mfn(vm) + i,
					     true) < 0)
			return -1;
	}
	return 0;
}

/* Grows the table to n frames (setup_table); caller holds gt->lock. */
static int grow_locked(struct vm *vm, struct gnttab *gt, unsigned n)
{
	for (unsigned i = gt->nr_frames; i < n; i++) {
		if (pagetype_allow_xen_frame(vm, vm->xen.gnttab_first_mfn + i,
					     true) < 0)
			return GNTST_general_error;
	}
	if (gt->version == 2 &&
	    allow_status_frames(vm, nr_status_frames(gt),
				status_frames_for(n)) < 0)
		return GNTST_general_error;
	if (n > gt->nr_frames)
		gt->nr_frames = n;
	return GNTST_okay;
}

/* Writes frames first..first+n-1 to the guest's list: GNTST_okay or
 * GNTST_bad_virt_addr. */
static int16_t write_frame_list(struct vcpu *v, uint64_t list, uint64_t first,
				uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t mfn = first + i;

		if (hc_write(v, list + i * sizeof(mfn), &mfn, sizeof(mfn)))
			return GNTST_bad_virt_addr;
	}
	return GNTST_okay;
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
		pthread_mutex_lock(&gt->lock);
		op.status = grow_locked(vm, gt, op.nr_frames);
		pthread_mutex_unlock(&gt->lock);
		if (!op.status)
			op.status = write_frame_list(v, list,
						     vm->xen.gnttab_first_mfn,
						     op.nr_frames);
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

/* One side of a copy: a held grant or a referenced frame of the guest,
 * its window in pin (a frame: the whole page). */
struct copy_buf {
	struct gnttab_pin pin;
	bool pinned, referenced;
};

/*
 * Takes one side (Xen's gnttab_copy_claim_buf): a grant of the guest to
 * itself (GNTCOPY_*_gref) by Xen's copy rules, or a frame of the guest's
 * own, referenced (writable type for the destination), so a page table is
 * never written.
 */
static int copy_claim(struct vm *vm, const struct gnttab_copy_ptr *p,
		      bool is_gref, bool write, struct copy_buf *b)
{
	int rc;

	memset(b, 0, sizeof(*b));
	if (is_gref) {
		rc = pin_entry(vm, GNTTAB_GUEST_DOMID, p->u.ref, write,
			       GNTTAB_USE_COPY, GNTST_general_error, &b->pin);
		b->pinned = rc == GNTST_okay;
		return rc;
	}
	/* P2M is the identity: the gmfn is a machine frame. */
	if (!gmem_is_ram_frame(&vm->mem, p->u.gmfn))
		return GNTST_bad_page;
	if (pagetype_get_page(vm, p->u.gmfn, write) < 0)
		return GNTST_general_error;
	b->referenced = true;
	b->pin = (struct gnttab_pin){
		.write = write, .mfn = p->u.gmfn, .len = PAGE_SIZE,
		.page = gmem_ptr(&vm->mem, p->u.gmfn << PAGE_SHIFT, PAGE_SIZE),
	};
	return b->pin.page ? GNTST_okay : GNTST_bad_page;
}

static void copy_release(struct vm *vm, const struct copy_buf *b)
{
	if (b->pinned)
		gnttab_unpin(vm, &b->pin);
	if (b->referenced)
		pagetype_put_page(vm, b->pin.mfn, b->pin.write);
}

/* Xen's gnttab_copy_buf checks, once both sides are held: within the
 * page, then within what each side grants (a sub-page window). */
static int copy_bounds(const struct gnttab_copy *op, const struct copy_buf *src,
		       const struct copy_buf *dst)
{
	if ((unsigned)op->source.offset + op->len > PAGE_SIZE ||
	    (unsigned)op->dest.offset + op->len > PAGE_SIZE)
		return GNTST_bad_copy_arg;
	if (!gnttab_pin_covers(&src->pin, op->source.offset, op->len) ||
	    !gnttab_pin_covers(&dst->pin, op->dest.offset, op->len))
		return GNTST_general_error;
	return GNTST_okay;
}

/* Runs one copy on a validated local copy of the guest's op. */
static int16_t copy_one(struct vm *vm, const struct gnttab_copy *op)
{
	struct copy_buf src = { 0 }, dst = { 0 };
	int rc;

	/* Xen's gnttab_copy_lock_domains: both domains before either side is
	 * claimed (pvisor runs no other domain: domain 0 is its backends,
	 * which have no grant table).  Flags other than the two it reads are
	 * ignored, as there. */
	if (!is_self(op->source.domid) || !is_self(op->dest.domid))
		return GNTST_bad_domain;
	rc = copy_claim(vm, &op->source, op->flags & GNTCOPY_source_gref, false,
			&src);
	if (rc == GNTST_okay)
		rc = copy_claim(vm, &op->dest, op->flags & GNTCOPY_dest_gref,
				true, &dst);
	if (rc == GNTST_okay)
		rc = copy_bounds(op, &src, &dst);
	if (rc == GNTST_okay)
		memmove(dst.pin.page + op->dest.offset,
			src.pin.page + op->source.offset, op->len);
	copy_release(vm, &dst);
	copy_release(vm, &src);
	return (int16_t)rc;
}

static long op_copy(struct vcpu *v, uint64_t arg, uint32_t count)
{
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

/* Entries below GNTTAB_NR_RESERVED_ENTRIES survive a version change
 * (Xen keeps the toolstack's grants), in v1 form. */
struct reserved_entry {
	uint16_t flags, domid;
	uint64_t frame;
};

/* Checks that the table can change version (Xen's gnttab_set_version):
 * no entry beyond the reserved ones in use (-EBUSY), v2 reserved entries
 * representable in v1 (-ERANGE), status frames unmapped (-EBUSY). */
static long version_change_ok(struct vm *vm, struct gnttab *gt)
{
	for (unsigned r = GNTTAB_NR_RESERVED_ENTRIES; r < nr_entries(gt); r++) {
		if (gt->readers[r])
			return -XEN_EBUSY;
	}
	if (gt->version != 2)
		return 0;
	for (unsigned r = 0; r < GNTTAB_NR_RESERVED_ENTRIES && r < nr_entries(gt);
	     r++) {
		grant_entry_v2_t *e = (grant_entry_v2_t *)entry_hdr(vm, gt, r);

		if ((e->hdr.flags & GTF_type_mask) == GTF_transitive ||
		    ((e->hdr.flags & GTF_type_mask) == GTF_permit_access &&
		     (e->full_page.frame >> 32)))
			return -XEN_ERANGE;
	}
	for (unsigned i = 0; i < nr_status_frames(gt); i++) {
		struct pagetype_info info;

		if (pagetype_get_info(vm, status_first_mfn(vm) + i, &info) < 0 ||
		    info.count)
			return -XEN_EBUSY; /* the guest still maps it */
	}
	for (unsigned i = 0; i < nr_status_frames(gt); i++) {
		if (pagetype_forbid_xen_frame(vm, status_first_mfn(vm) + i) < 0)
			return -XEN_EBUSY;
	}
	return 0;
}

/* Rewrites the table in the new version: zeroed, reserved entries kept. */
static int convert_locked(struct vm *vm, struct gnttab *gt, unsigned version)
{
	struct reserved_entry keep[GNTTAB_NR_RESERVED_ENTRIES];
	unsigned n = 0, old_status = nr_status_frames(gt);
	uint8_t *frames = gmem_ptr(&vm->mem,
				   vm->xen.gnttab_first_mfn << PAGE_SHIFT,
				   (uint64_t)gt->nr_frames * PAGE_SIZE);

	for (; n < GNTTAB_NR_RESERVED_ENTRIES && n < nr_entries(gt); n++) {
		grant_entry_header_t *h = entry_hdr(vm, gt, n);

		keep[n].flags = h->flags | *status_word(vm, gt, n, h);
		keep[n].domid = h->domid;
		keep[n].frame = entry_frame(gt, h);
	}
	if (frames)
		memset(frames, 0, (size_t)gt->nr_frames * PAGE_SIZE);
	gt->version = version;
	if (version == 2) {
		uint8_t *st = gmem_ptr(&vm->mem,
				       status_first_mfn(vm) << PAGE_SHIFT,
				       XEN_GNTTAB_MAX_STATUS_FRAMES * PAGE_SIZE);

		if (st)
			memset(st, 0, XEN_GNTTAB_MAX_STATUS_FRAMES * PAGE_SIZE);
		if (allow_status_frames(vm, old_status,
					nr_status_frames(gt)) < 0)
			return -XEN_ENOMEM;
	}
	for (unsigned r = 0; r < n; r++) {
		grant_entry_header_t *h = entry_hdr(vm, gt, r);
		uint16_t inuse = keep[r].flags & (GTF_reading | GTF_writing);

		if (version == 2) {
			((grant_entry_v2_t *)h)->full_page.frame = keep[r].frame;
			*status_word(vm, gt, r, h) = inuse;
			h->flags = keep[r].flags & ~inuse;
		} else {
			((struct grant_entry_v1 *)h)->frame =
				(uint32_t)keep[r].frame;
			h->flags = keep[r].flags;
		}
		h->domid = keep[r].domid;
	}
	return 0;
}

static long op_set_version(struct vcpu *v, uint64_t arg, uint32_t count)
{
	struct gnttab_set_version op;
	struct gnttab *gt;
	long rc = 0;

	if (count != 1)
		return -XEN_EINVAL;
	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!(gt = gnttab_get(v->vm, true)))
		return -XEN_ENOMEM;
	pthread_mutex_lock(&gt->lock);
	if (op.version != 1 && op.version != 2)
		rc = -XEN_EINVAL;
	else if (op.version != gt->version &&
		 (rc = version_change_ok(v->vm, gt)) == 0)
		rc = convert_locked(v->vm, gt, op.version);
	op.version = gt->version; /* Xen reports the version in force */
	pthread_mutex_unlock(&gt->lock);
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return rc;
}

static unsigned version_of(struct vm *vm)
{
	struct gnttab *gt = gnttab_get(vm, false);
	unsigned ver;

	if (!gt)
		return 1;
	pthread_mutex_lock(&gt->lock);
	ver = gt->version;
	pthread_mutex_unlock(&gt->lock);
	return ver;
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
	op.version = version_of(v->vm);
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return 0;
}

static long op_get_status_frames(struct vcpu *v, uint64_t arg,
				 uint32_t count)
{
	struct gnttab_get_status_frames op;
	struct gnttab *gt;
	uint64_t list;
	unsigned have;

	if (count != 1)
		return -XEN_EINVAL;
	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	list = (uint64_t)(uintptr_t)op.frame_list.p;
	op.status = GNTST_okay;
	if (!is_self(op.dom)) {
		op.status = GNTST_bad_domain;
	} else {
		gt = gnttab_get(v->vm, false);
		if (gt) {
			pthread_mutex_lock(&gt->lock);
			have = nr_status_frames(gt);
			pthread_mutex_unlock(&gt->lock);
		} else {
			have = 0;
		}
		if (op.nr_frames > have)
			op.status = GNTST_general_error; /* none in v1 */
		if (!op.status)
			op.status = write_frame_list(v, list,
						     status_first_mfn(v->vm),
						     op.nr_frames);
	}
	/* Xen writes back the status field only. */
	if (hc_write(v, arg + offsetof(struct gnttab_get_status_frames, status),
		     &op.status, sizeof(op.status)))
		return -XEN_EFAULT;
	return 0;
}

/* Xen's GNTTABOP_swap_grant_ref: two entries (and v2 status words)
 * exchanged, refused while either is in use. */
static int swap_entries(struct vm *vm, grant_ref_t a, grant_ref_t b)
{
	struct gnttab *gt = gnttab_get(vm, false);
	grant_entry_header_t *ha, *hb;
	uint16_t *sa, *sb, st;
	size_t size;
	uint8_t tmp[sizeof(grant_entry_v2_t)];
	int rc = GNTST_okay;

	if (!gt)
		return GNTST_bad_gntref; /* no entries yet */
	pthread_mutex_lock(&gt->lock);
	size = gt->version == 2 ? sizeof(grant_entry_v2_t) : sizeof(struct grant_entry_v1);
	if (a >= nr_entries(gt) || b >= nr_entries(gt))
		rc = GNTST_bad_gntref;
	else if (a != b && (gt->readers[a] || gt->readers[b]))
		rc = GNTST_eagain; /* Xen: "ref busy" */
	else if (a != b) {
		ha = entry_hdr(vm, gt, a);
		hb = entry_hdr(vm, gt, b);
		sa = ha ? status_word(vm, gt, a, ha) : NULL;
		sb = hb ? status_word(vm, gt, b, hb) : NULL;
		if (!sa || !sb) {
			rc = GNTST_general_error;
		} else {
			memcpy(tmp, ha, size);
			memcpy(ha, hb, size);
			memcpy(hb, tmp, size);
			if (gt->version == 2) {
				st = *sa;
				*sa = *sb;
				*sb = st;
			}
		}
	}
	pthread_mutex_unlock(&gt->lock);
	return rc;
}

static long op_swap_grant_ref(struct vcpu *v, uint64_t arg, uint32_t count)
{
	struct gnttab_swap_grant_ref op;

	for (uint32_t i = 0; i < count; i++, arg += sizeof(op)) {
		if (hc_read(v, arg, &op, sizeof(op)))
			return -XEN_EFAULT;
		op.status = (int16_t)swap_entries(v->vm, op.ref_a, op.ref_b);
		if (hc_write(v, arg + offsetof(struct gnttab_swap_grant_ref, status),
			     &op.status, sizeof(op.status)))
			return -XEN_EFAULT;
	}
	return 0;
}

/*
 * Xen 4.17's GNTTABOP_cache_flush on x86, for a frame of the guest's own
 * (pvisor has no other domain to hold a grant from): the same checks and
 * codes; invalidating alone is -EOPNOTSUPP as there, and a clean (with or
 * without invalidate) does nothing to see, x86 caches being coherent.
 * pending is Xen's continuation argument (the command's bits 12 and up):
 * pvisor finishes every batch at once, so it is only ever the guest's.
 */
static long cache_flush_one(struct vm *vm, const struct gnttab_cache_flush *f,
			    uint32_t pending)
{
	if (f->offset >= PAGE_SIZE || f->length > PAGE_SIZE ||
	    f->offset + f->length > PAGE_SIZE ||
	    (f->op & ~(GNTTAB_CACHE_INVAL | GNTTAB_CACHE_CLEAN)))
		return -XEN_EINVAL;
	if (f->length == 0 || f->op == 0)
		return pending ? -XEN_EILSEQ : 0;
	if (!gmem_is_ram_frame(&vm->mem, f->a.dev_bus_addr >> PAGE_SHIFT))
		return -XEN_EINVAL;
	return f->op == GNTTAB_CACHE_INVAL ? -XEN_EOPNOTSUPP : 0;
}

static long op_cache_flush(struct vcpu *v, uint64_t arg, uint32_t count,
			   uint32_t pending)
{
	struct gnttab_cache_flush op;
	long rc;

	for (uint32_t i = 0; i < count; i++, arg += sizeof(op)) {
		if (hc_read(v, arg, &op, sizeof(op)))
			return -XEN_EFAULT;
		rc = cache_flush_one(v->vm, &op, pending);
		if (rc < 0)
			return rc;
		pending = 0;
	}
	return 0;
}

/* Xen's private split of the command word: the sub-op in bits 0-11, a
 * continuation argument above (only cache_flush may carry one). */
#define GNTTABOP_CMD_BITS 12
#define GNTTABOP_CMD_MASK ((1u << GNTTABOP_CMD_BITS) - 1)

long hc_grant_table_op(struct vcpu *v, const struct hc_args *a)
{
	uint64_t arg = a->a[1];
	uint32_t count = (uint32_t)a->a[2];
	uint32_t cmd = (uint32_t)a->a[0] & GNTTABOP_CMD_MASK;
	uint32_t pending = (uint32_t)a->a[0] >> GNTTABOP_CMD_BITS;

	if ((int32_t)count < 0)
		return -XEN_EINVAL; /* Xen, for every sub-op */
	if (pending && cmd != GNTTABOP_cache_flush)
		return -XEN_EINVAL;
	switch (cmd) {
	case GNTTABOP_map_grant_ref:
		return gnttab_op_map(v, arg, count);
	case GNTTABOP_unmap_grant_ref:
		return gnttab_op_unmap(v, arg, count);
	case GNTTABOP_unmap_and_replace:
		return gnttab_op_unmap_and_replace(v, arg, count);
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
	case GNTTABOP_get_status_frames:
		return op_get_status_frames(v, arg, count);
	case GNTTABOP_swap_grant_ref:
		return op_swap_grant_ref(v, arg, count);
	case GNTTABOP_cache_flush:
		return op_cache_flush(v, arg, count, pending);
	case GNTTABOP_transfer:
		/* As Xen booted with gnttab=no-transfer (docs/pv-abi.md):
		 * there is no other domain to give a page to, and frontends
		 * copy (netfront's feature-rx-copy) instead. */
		return -XEN_EOPNOTSUPP;
	default:
		/* dump_table: Xen 4.17 has no case for it either. */
		return -XEN_ENOSYS;
	}
}
