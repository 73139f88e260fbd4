/* Grant tables v1 (see kit/gnttab.h). */
#include <kit/console.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>

#define GNTTAB_DEFAULT_FRAMES 4
#define GNTTAB_MAX_FRAMES_KIT 32
#define ENTRIES_PER_FRAME (PAGE_SIZE / sizeof(struct grant_entry_v1))

static struct grant_entry_v1 *gnt_table;
static unsigned gnt_nr_entries;
static grant_ref_t *gnt_free;  /* stack of free refs */
static unsigned gnt_nr_free;

static unsigned gnt_nr_frames;

/* The table's frames through setup_table, mapped at va. */
static int map_frames(uint8_t *va, unsigned nr_frames)
{
	xen_pfn_t frames[GNTTAB_MAX_FRAMES_KIT];
	struct gnttab_setup_table op = {
		.dom = DOMID_SELF,
		.nr_frames = nr_frames,
	};
	long rc;

	set_xen_guest_handle(op.frame_list, frames);
	rc = HC(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, &op, 1, 0, 0);
	if (rc < 0)
		return (int)rc;
	if (op.status != GNTST_okay)
		return -XEN_EINVAL;
	for (unsigned i = 0; i < nr_frames; i++) {
		rc = HYPERVISOR_update_va_mapping(
			(unsigned long)va + i * PAGE_SIZE,
			((uint64_t)frames[i] << PAGE_SHIFT) | L1_PROT, UVMF_INVLPG);
		if (rc < 0)
			return (int)rc;
	}
	return 0;
}

/* Before suspending: the frames are Xen's, not the guest's, and must not
 * be mapped when the domain is saved (Linux: gnttab_suspend). */
void gnttab_suspend(void)
{
	for (unsigned i = 0; gnt_table && i < gnt_nr_frames; i++)
		HYPERVISOR_update_va_mapping((unsigned long)gnt_table + i * PAGE_SIZE,
					     0, UVMF_INVLPG);
}

/* After: mapped again; in a new domain every grant is gone, so every ref
 * is free (the frontends grant again as they reconnect). */
void gnttab_resume(bool new_domain)
{
	if (!gnt_table)
		return;
	if (map_frames((uint8_t *)gnt_table, gnt_nr_frames) < 0)
		panic("resume: cannot map the grant table again");
	if (!new_domain)
		return;
	gnt_nr_free = 0;
	for (unsigned r = gnt_nr_entries; r-- > GNTTAB_NR_RESERVED_ENTRIES;)
		gnt_free[gnt_nr_free++] = r;
}

int gnttab_init(unsigned nr_frames)
{
	uint8_t *va;
	int rc;

	if (gnt_table)
		return 0;
	if (nr_frames == 0 || nr_frames > GNTTAB_MAX_FRAMES_KIT)
		return -XEN_EINVAL;
	va = alloc_pages(nr_frames);
	gnt_free = alloc_pages(PFN_UP(nr_frames * ENTRIES_PER_FRAME *
				      sizeof(grant_ref_t)));
	if (!va || !gnt_free)
		return -XEN_ENOMEM;
	/* The RAM pages behind va are given up: va now shows the table. */
	rc = map_frames(va, nr_frames);
	if (rc < 0)
		return rc;
	gnt_table = (struct grant_entry_v1 *)va;
	gnt_nr_frames = nr_frames;
	gnt_nr_entries = nr_frames * ENTRIES_PER_FRAME;
	/* Refs below GNTTAB_NR_RESERVED_ENTRIES belong to the toolstack. */
	for (unsigned r = gnt_nr_entries; r-- > GNTTAB_NR_RESERVED_ENTRIES;)
		gnt_free[gnt_nr_free++] = r;
	return 0;
}

long gnttab_grant_access(domid_t domid, unsigned long mfn, bool readonly)
{
	grant_ref_t ref;
	int rc;

	if (!gnt_table && (rc = gnttab_init(GNTTAB_DEFAULT_FRAMES)) < 0)
		return rc;
	if (!gnt_nr_free)
		return -XEN_ENOSPC;
	ref = gnt_free[--gnt_nr_free];
	gnt_table[ref].frame = (uint32_t)mfn;
	gnt_table[ref].domid = domid;
	wmb(); /* frame and domid before the flags make the grant valid */
	WRITE_ONCE(gnt_table[ref].flags,
		   GTF_permit_access | (readonly ? GTF_readonly : 0));
	return ref;
}

int gnttab_end_access(grant_ref_t ref)
{
	uint16_t flags;

	if (!gnt_table || ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= gnt_nr_entries)
		return -XEN_EINVAL;
	flags = READ_ONCE(gnt_table[ref].flags);
	do {
		if (flags & (GTF_reading | GTF_writing))
			return -XEN_EBUSY;
	} while (!__atomic_compare_exchange_n(&gnt_table[ref].flags, &flags, 0,
					      false, __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	gnt_free[gnt_nr_free++] = ref;
	return 0;
}

struct grant_entry_v1 *gnttab_table(unsigned *nr_entries)
{
	if (!gnt_table && gnttab_init(GNTTAB_DEFAULT_FRAMES) < 0)
		return NULL;
	*nr_entries = gnt_nr_entries;
	return gnt_table;
}
