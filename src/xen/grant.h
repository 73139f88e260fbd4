/*
 * Grant tables, versions 1 and 2 (Xen's public/grant_table.h).  The guest's
 * shared grant entries live in Xen-owned frames after shared_info
 * (vm->xen.gnttab_first_mfn, XEN_GNTTAB_MAX_FRAMES of them), v2's status
 * words in the XEN_GNTTAB_MAX_STATUS_FRAMES after those; the guest gets
 * them with GNTTABOP_setup_table / get_status_frames and maps them itself.
 * It maps its own grants with GNTTABOP_map_grant_ref (grant_map.c).
 *
 * pvisor's in-process backends (blkback, netback...) are domain 0 and reach
 * the guest's data only through gnttab_pin(): it checks the grant entry as
 * Xen's map/copy paths do (GTF_permit_access to domain 0, GTF_readonly for
 * writes, the frame is guest RAM and, for a write, no page table: a
 * page-type reference is held), sets GTF_reading/GTF_writing (in the entry
 * for v1, in its status word for v2) while the pin is held and clears them
 * when the last pin on the entry is released.
 */
#ifndef PVISOR_XEN_GRANT_H
#define PVISOR_XEN_GRANT_H

#include <stdbool.h>
#include <stdint.h>

#include <pvisor/xen.h>

struct vm;

/* v1 entries per grant frame. */
#define GNTTAB_ENTRIES_PER_FRAME (4096 / sizeof(struct grant_entry_v1))

/* A held grant: the frame it names and pvisor's pointer to it. */
struct gnttab_pin {
	grant_ref_t ref;
	bool write;
	uint64_t mfn;   /* guest RAM frame, validated */
	uint8_t *page;  /* pvisor's mapping of the whole frame */
	/* The bytes of the frame the grant covers: [off, off + len), not
	 * clipped to the page (Xen keeps a v2 sub-page grant's page_off in
	 * 15 bits and length as given); 0 and 4096 but for gnttab_pin_copy. */
	uint16_t off, len;
};

/* How a grant is used, as Xen tells its map paths (_set_status's mapflag:
 * no sub-page, no transitive grant) from its copy path
 * (acquire_grant_for_copy: both, within their window). */
enum gnttab_use { GNTTAB_USE_MAP, GNTTAB_USE_COPY };

/*
 * Pins grant `ref` of the guest for access by domain `domid` (pvisor's
 * backends: 0), for writing if `write`, with the rules of Xen's map path
 * (the backends map what they pin).  On success *pin is filled and the
 * entry's GTF_reading (and GTF_writing) flag is set.  Returns 0 or a
 * negative GNTST_* code: GNTST_bad_gntref (ref beyond the table),
 * GNTST_permission_denied (not granted to domid, readonly for a write, a
 * sub-page or transitive grant, or the frame is not guest RAM),
 * GNTST_general_error (no table yet).
 * Thread-safe; the pin must be released with gnttab_unpin().
 */
int gnttab_pin(struct vm *vm, domid_t domid, grant_ref_t ref, bool write,
	       struct gnttab_pin *pin) __attribute__((warn_unused_result));

/*
 * As gnttab_pin, for a backend that only copies to or from the grant (as
 * Linux's netback does with GNTTABOP_copy): v2 sub-page grants are taken
 * too, and pin->off/len is their window, which the caller must respect
 * (gnttab_pin_covers).  Transitive grants are resolved as Xen's copy path
 * does (docs/pv-abi.md: in pvisor none can succeed).  Same codes.
 */
int gnttab_pin_copy(struct vm *vm, domid_t domid, grant_ref_t ref, bool write,
		    struct gnttab_pin *pin) __attribute__((warn_unused_result));

/* Whether [off, off + len) lies within the page and the pin's window
 * (Xen's gnttab_copy_buf checks). */
bool gnttab_pin_covers(const struct gnttab_pin *pin, unsigned off,
		       unsigned len);

/* Releases a pin from gnttab_pin(); the in-use flags are cleared with the
 * last pin of the entry. */
void gnttab_unpin(struct vm *vm, const struct gnttab_pin *pin);

/* Grant frames the guest set up so far (0 before GNTTABOP_setup_table). */
unsigned gnttab_nr_frames(struct vm *vm);

/* A reboot's fresh domain: no frames, version 1, nothing active.  Only
 * once no backend holds a pin (gnttab_backend_pins). */
void gnttab_reset(struct vm *vm);

/* Entries pvisor's backends (domain 0) hold pinned now. */
unsigned gnttab_backend_pins(struct vm *vm);

/* Frees the grant-table state (vm_destroy). */
void gnttab_destroy(struct vm *vm);

#endif
