/*
 * Grant tables v1, the guest side: GNTTABOP_setup_table, the frames mapped
 * into the kit's address space, and grant/end access with Xen's rules
 * (entry filled before GTF_permit_access is set; ending access is a
 * compare-and-swap that fails while the backend has the page in use).
 */
#ifndef KIT_GNTTAB_H
#define KIT_GNTTAB_H

#include <stdbool.h>
#include <stdint.h>

#include <pvisor/xen.h>

/* Sets up and maps nr_frames grant frames (called by the first grant with
 * 4 frames = 2048 entries if not called before).  0 or -errno. */
int gnttab_init(unsigned nr_frames);
/* Suspend (kit/control.h): unmaps the table's frames; resume maps them
 * again and, in a new domain, frees every ref. */
void gnttab_suspend(void);
void gnttab_resume(bool new_domain);

/* Grants domid access to machine frame mfn; returns the ref (> 0) or
 * -XEN_ENOSPC when the table is full. */
long gnttab_grant_access(domid_t domid, unsigned long mfn, bool readonly);

/* Ends a grant; -XEN_EBUSY while the backend still uses it (then the ref
 * stays granted). */
int gnttab_end_access(grant_ref_t ref);

/* Raw entry access for hostile tests: the shared table and its size. */
struct grant_entry_v1 *gnttab_table(unsigned *nr_entries);

#endif
