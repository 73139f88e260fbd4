/*
 * The grant table's state, shared by grant.c (the table, its versions and
 * the pins of pvisor's backends) and grant_map.c (the guest's own
 * GNTTABOP_map_grant_ref mappings and their maptrack handles).  Private to
 * those two files; everything is plain values under gt->lock so that the
 * whole state can be saved.
 */
#ifndef PVISOR_XEN_GRANT_STATE_H
#define PVISOR_XEN_GRANT_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <pvisor/xen.h>

#include "xen/domain.h"
#include "xen/grant.h"

/* v1 has the most entries per frame (8 bytes each; v2: 16). */
#define GNTTAB_MAX_ENTRIES (XEN_GNTTAB_MAX_FRAMES * (4096 / 8))
/* Maptrack handles a guest may hold at once (Xen: max_maptrack_frames). */
#define GNTTAB_MAPTRACK_MAX 1024
#define GNTTAB_GUEST_DOMID 1 /* pvisor runs one guest, domain 1 */

/* One GNTTABOP_map_grant_ref mapping (Xen's struct grant_mapping). */
struct gnttab_map {
	uint32_t flags;     /* GNTMAP_* still mapped; 0 = handle free */
	domid_t domid;      /* granting domain */
	grant_ref_t ref;
};

struct gnttab {
	pthread_mutex_t lock;   /* everything below */
	unsigned nr_frames;     /* set up by the guest, only grows */
	unsigned version;       /* 1 or 2 (GNTTABOP_set_version) */
	/* Xen's active entries: pins per entry (a backend's gnttab_pin, a
	 * host or a device mapping each count one), the writable ones, and
	 * what the first pin found, kept while any pin is held. */
	uint32_t readers[GNTTAB_MAX_ENTRIES];
	uint32_t writers[GNTTAB_MAX_ENTRIES];
	domid_t act_domid[GNTTAB_MAX_ENTRIES];
	uint64_t act_mfn[GNTTAB_MAX_ENTRIES];
	/* The bytes the active entry grants (Xen's act->start, length,
	 * is_sub_page): the whole page unless a copy pinned a v2 sub-page
	 * grant first; a sub-page active entry cannot be mapped. */
	uint16_t act_start[GNTTAB_MAX_ENTRIES];
	uint16_t act_len[GNTTAB_MAX_ENTRIES];
	bool act_sub_page[GNTTAB_MAX_ENTRIES];
	struct gnttab_map maptrack[GNTTAB_MAPTRACK_MAX];
};

struct gnttab *gnttab_get(struct vm *vm, bool create);

/*
 * Takes one pin on entry ref for domain domid (Xen's _set_status and
 * get_paged_frame, or acquire_grant_for_copy for GNTTAB_USE_COPY): the
 * first pin, and the first writable one, check the entry (granted to
 * domid, GTF_permit_access, not GTF_readonly for a write) and set
 * GTF_reading/GTF_writing; later pins use what the first one found.
 * GNTTAB_USE_MAP refuses sub-page entries, active or not, and transitive
 * ones; GNTTAB_USE_COPY takes v2 sub-page grants (pin->off/len is the
 * window) and resolves transitive ones.  bad_entry is the code for an
 * entry that does not allow it (Xen: GNTST_general_error).  pin->ref,
 * write and page are left to the caller.  Caller holds gt->lock.  GNTST_*.
 */
int gnttab_acquire(struct vm *vm, struct gnttab *gt, grant_ref_t ref,
		   domid_t domid, bool write, enum gnttab_use use,
		   int bad_entry, struct gnttab_pin *pin);
/* Drops one pin from gnttab_acquire; the in-use flags go with the last. */
void gnttab_release(struct vm *vm, struct gnttab *gt, grant_ref_t ref,
		    bool write);

/* The GNTTABOP_map_grant_ref / unmap_grant_ref / unmap_and_replace
 * batches (grant_map.c). */
long gnttab_op_map(struct vcpu *v, uint64_t arg, uint32_t count);
long gnttab_op_unmap(struct vcpu *v, uint64_t arg, uint32_t count);
long gnttab_op_unmap_and_replace(struct vcpu *v, uint64_t arg,
				 uint32_t count);

#endif
