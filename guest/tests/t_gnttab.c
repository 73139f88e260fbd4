/*
 * Grant mapping and grant table v2 (issue 15), as Xen answers a PV guest.
 * The guest grants pages to itself (its domid from xenstore) and maps them
 * with GNTTABOP_map_grant_ref: writable by linear address (data written
 * through the mapping reaches the page), read-only by PTE address (a write
 * faults), GTF_reading/GTF_writing while mapped; Xen's codes for bad flags,
 * refs, domains, read-only grants mapped writable, double unmaps and bad
 * handles; a frame mapped writable cannot become a page table, a page table
 * cannot be mapped writable nor copied into; unmap_and_replace.  Then v2: set_version,
 * get_status_frames, the status word of a mapped v2 entry, a switch back
 * refused (-EBUSY) while a grant is in use or a status frame is mapped;
 * GNTTABOP_copy under v2; XENMEM_add_to_physmap is -EACCES for PV as in Xen.
 * swap_grant_ref (entries exchanged, -eagain while one is mapped, bad refs),
 * cache_flush (Xen 4.17's x86 checks and codes), transfer (-EOPNOTSUPP, as
 * Xen with gnttab=no-transfer), dump_table (-ENOSYS, as Xen 4.17), and the
 * continuation bits of the command word.  v2 sub-page grants: copies stay
 * inside the window (GNTST_general_error outside it, GNTST_bad_copy_arg
 * past the page), maps are refused; transitive grants never complete here
 * (to the guest's own table, DOMID_SELF, domain 0 which has no grant
 * table, a missing domain: GNTST_general_error), nor map; in v1 both flags grant nothing to a map and
 * GTF_sub_page is ignored by a copy.  The status words stay clear.
 */
#include <kit/console.h>
#include <kit/gnttab.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/traps.h>
#include <kit/xenbus.h>

static domid_t self;
static unsigned pf_hits;
extern char ro_store[], ro_after[];

static long gnt(unsigned cmd, void *op)
{
	return HC(__HYPERVISOR_grant_table_op, cmd, op, 1, 0, 0);
}

/* Maps (self, ref) at addr; the status, *handle on success. */
static long map(uint64_t addr, uint32_t flags, grant_ref_t ref, domid_t dom,
		grant_handle_t *handle)
{
	struct gnttab_map_grant_ref op = { .host_addr = addr, .flags = flags,
					   .ref = ref, .dom = dom };
	long rc = gnt(GNTTABOP_map_grant_ref, &op);

	if (rc)
		return rc;
	if (handle)
		*handle = op.handle;
	return op.status;
}

static long unmap(uint64_t addr, grant_handle_t handle)
{
	struct gnttab_unmap_grant_ref op = { .host_addr = addr, .handle = handle };
	long rc = gnt(GNTTABOP_unmap_grant_ref, &op);

	return rc ? rc : op.status;
}

static long remap(void *va, unsigned long mfn, uint64_t prot)
{
	return HYPERVISOR_update_va_mapping((unsigned long)va,
					    ((uint64_t)mfn << PAGE_SHIFT) | prot,
					    UVMF_INVLPG);
}

static long mmuext(unsigned cmd, unsigned long mfn)
{
	struct mmuext_op op = { .cmd = cmd, .arg1.mfn = mfn };

	return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

static bool pf_hook(struct trap_frame *f, uint64_t cr2)
{
	if (f->rip != (uint64_t)ro_store)
		return false;
	pf_hits++;
	f->rip = (uint64_t)ro_after;
	return true;
}

static __attribute__((noinline)) void store_byte(volatile uint8_t *p)
{
	asm volatile("ro_store: movb $0x33, (%0)\nro_after:" ::"r"(p) : "memory");
}

static uint16_t inuse(grant_ref_t ref)
{
	unsigned n;

	return READ_ONCE(gnttab_table(&n)[ref].flags) & (GTF_reading | GTF_writing);
}

static void map_rw_ro(uint8_t *data, uint8_t *win)
{
	unsigned long win_mfn = virt_to_mfn(win);
	grant_ref_t rw = gnttab_grant_access(self, virt_to_mfn(data), false);
	grant_ref_t ro = gnttab_grant_access(self, virt_to_mfn(data), true);
	grant_handle_t h, h2;
	uint64_t pte_ma;

	memset(data, 0x11, PAGE_SIZE);
	check_rc(map((uint64_t)win, GNTMAP_host_map, rw, self, &h), GNTST_okay,
		 "map_writable_linear");
	check(inuse(rw) == (GTF_reading | GTF_writing), "map_sets_reading_writing",
	      "flags %#x", inuse(rw));
	check(win[100] == 0x11, "read_through_mapping", "%#x", win[100]);
	win[200] = 0x22;
	check(data[200] == 0x22, "write_through_mapping", "%#x", data[200]);
	check_rc(map((uint64_t)win, GNTMAP_host_map, ro, self, NULL),
		 GNTST_general_error, "map_readonly_grant_writable");
	check_rc(unmap((uint64_t)win, h), GNTST_okay, "unmap");
	check(inuse(rw) == 0, "unmap_clears_flags", "flags %#x", inuse(rw));
	check_rc(unmap((uint64_t)win, h), GNTST_bad_handle, "double_unmap");
	check_rc(unmap((uint64_t)win, 0xffff), GNTST_bad_handle, "unmap_bad_handle");
	check(pt_lookup((unsigned long)win, &pte_ma) && *pt_lookup((unsigned long)win, &pte_ma) == 0,
	      "unmap_clears_pte", "pte %#lx", *pt_lookup((unsigned long)win, &pte_ma));

	/* Read-only, by the PTE's machine address: reads work, writes fault. */
	check_rc(map(pte_ma, GNTMAP_host_map | GNTMAP_contains_pte |
		     GNTMAP_readonly, ro, self, &h2), GNTST_okay,
		 "map_readonly_contains_pte");
	check(inuse(ro) == GTF_reading, "readonly_map_sets_reading", "flags %#x",
	      inuse(ro));
	check(win[200] == 0x22, "read_readonly_mapping", "%#x", win[200]);
	store_byte(win + 300);
	check(pf_hits == 1 && data[300] == 0x11, "write_readonly_mapping_faults",
	      "faults %u byte %#x", pf_hits, data[300]);
	check_rc(unmap(pte_ma + 8, h2), GNTST_general_error, "unmap_wrong_pte");
	check_rc(unmap(pte_ma, h2), GNTST_okay, "unmap_contains_pte");
	check(inuse(ro) == 0, "readonly_unmap_clears_flags", "%#x", inuse(ro));
	check_rc(remap(win, win_mfn, L1_PROT), 0, "window_restored");

	/* Xen's codes for what cannot be mapped. */
	check_rc(map((uint64_t)win, 0, rw, self, NULL), GNTST_bad_gntref,
		 "map_no_host_or_device_flag");
	check_rc(map((uint64_t)win, GNTMAP_host_map, 60000, self, NULL),
		 GNTST_bad_gntref, "map_ref_beyond_table");
	check_rc(map((uint64_t)win, GNTMAP_host_map, rw, DOMID_SELF, NULL),
		 GNTST_bad_domain, "map_domid_self");
	check_rc(map((uint64_t)win, GNTMAP_host_map, rw, 7, NULL),
		 GNTST_bad_domain, "map_foreign_domain");
	check_rc(map(0x7000000000ul, GNTMAP_host_map, rw, self, NULL),
		 GNTST_general_error, "map_no_page_table");
	check(inuse(rw) == 0 && win[0] == 0, "failed_maps_leave_nothing",
	      "flags %#x", inuse(rw));
	check_rc(map((uint64_t)win, GNTMAP_host_map | GNTMAP_application_map,
		     rw, self, &h), GNTST_okay, "map_application_map");
	check_rc(unmap((uint64_t)win, h), GNTST_okay, "unmap_application_map");
	check_rc(remap(win, win_mfn, L1_PROT), 0, "window_restored_again");
	gnttab_end_access(rw);
	gnttab_end_access(ro);
}

/* A frame mapped writable through a grant cannot be typed a page table;
 * a page table cannot be mapped writable (read-only it can, as in Xen). */
static void retype(uint8_t *win)
{
	uint8_t *pg = alloc_page();
	unsigned long mfn = virt_to_mfn(pg), win_mfn = virt_to_mfn(win);
	grant_ref_t ref = gnttab_grant_access(self, mfn, false);
	grant_handle_t h;

	check_rc(remap(pg, mfn, L1_PROT_RO), 0, "page_remapped_readonly");
	check_rc(map((uint64_t)win, GNTMAP_host_map, ref, self, &h), GNTST_okay,
		 "map_for_retype");
	check(mmuext(MMUEXT_PIN_L1_TABLE, mfn) < 0, "pin_under_writable_map_refused",
	      "pinned");
	check_rc(unmap((uint64_t)win, h), GNTST_okay, "unmap_for_retype");
	check_rc(mmuext(MMUEXT_PIN_L1_TABLE, mfn), 0, "pin_after_unmap");
	/* Nor can a copy write into the page table (Xen's writable type). */
	{
		struct gnttab_copy cp = {
			.source.u.gmfn = win_mfn, .source.domid = DOMID_SELF,
			.dest.u.ref = ref, .dest.domid = DOMID_SELF,
			.len = 8, .flags = GNTCOPY_dest_gref,
		};

		check_rc(HC(__HYPERVISOR_grant_table_op, GNTTABOP_copy, &cp, 1,
			    0, 0), 0, "copy_to_page_table_rc");
		check_rc(cp.status, GNTST_general_error,
			 "copy_into_page_table_refused");
	}
	check_rc(map((uint64_t)win, GNTMAP_host_map, ref, self, NULL),
		 GNTST_general_error, "page_table_not_mapped_writable");
	check(inuse(ref) == 0, "refused_map_leaves_no_flags", "%#x", inuse(ref));
	check_rc(map((uint64_t)win, GNTMAP_host_map | GNTMAP_readonly, ref, self,
		     &h), GNTST_okay, "page_table_mapped_readonly");
	check_rc(unmap((uint64_t)win, h), GNTST_okay, "unmap_page_table");
	check_rc(mmuext(MMUEXT_UNPIN_TABLE, mfn), 0, "unpin");
	check_rc(remap(pg, mfn, L1_PROT), 0, "page_writable_again");
	check_rc(remap(win, win_mfn, L1_PROT), 0, "window_back");
	gnttab_end_access(ref);
	free_page(pg);
}

static void replace(uint8_t *data, uint8_t *win, uint8_t *other)
{
	grant_ref_t ref = gnttab_grant_access(self, virt_to_mfn(data), false);
	struct gnttab_unmap_and_replace op = { .host_addr = (uint64_t)win,
					       .new_addr = (uint64_t)other };
	unsigned long win_mfn = virt_to_mfn(win), other_mfn = virt_to_mfn(other);
	uint64_t ma;

	memset(other, 0x44, PAGE_SIZE);
	check_rc(map((uint64_t)win, GNTMAP_host_map, ref, self, &op.handle),
		 GNTST_okay, "map_for_replace");
	check_rc(gnt(GNTTABOP_unmap_and_replace, &op), 0, "unmap_and_replace_rc");
	check_rc(op.status, GNTST_okay, "unmap_and_replace");
	check(win[5] == 0x44, "replace_moves_new_addr_entry", "%#x", win[5]);
	check(*pt_lookup((unsigned long)other, &ma) == 0, "replace_clears_new_addr",
	      "pte %#lx", *pt_lookup((unsigned long)other, &ma));
	check(inuse(ref) == 0, "replace_clears_flags", "%#x", inuse(ref));
	check_rc(remap(other, other_mfn, L1_PROT), 0, "other_restored");
	check_rc(remap(win, win_mfn, L1_PROT), 0, "window_restored_after_replace");
	gnttab_end_access(ref);
}

/* GNTTABOP_copy of len bytes at off from frame src into grant ref (at the
 * same offset); the status, or the hypercall's error. */
static long copy_to_ref(grant_ref_t ref, uint16_t off, uint16_t len, void *src)
{
	struct gnttab_copy cp = { .len = len, .flags = GNTCOPY_dest_gref };
	long rc;

	cp.source.u.gmfn = virt_to_mfn(src);
	cp.source.domid = DOMID_SELF;
	cp.source.offset = off;
	cp.dest.u.ref = ref;
	cp.dest.domid = DOMID_SELF;
	cp.dest.offset = off;
	rc = HC(__HYPERVISOR_grant_table_op, GNTTABOP_copy, &cp, 1, 0, 0);
	return rc ? rc : cp.status;
}

#define SUB_REF 40
#define TRANS_REF 41

/* A v2 sub-page grant of data to self: copies stay inside the window. */
static void v2_sub_page(grant_entry_v2_t *e, volatile grant_status_t *status,
			uint8_t *data, uint8_t *win)
{
	e[SUB_REF].sub_page.frame = virt_to_mfn(data);
	e[SUB_REF].sub_page.page_off = 100;
	e[SUB_REF].sub_page.length = 200;
	e[SUB_REF].hdr.domid = self;
	wmb();
	e[SUB_REF].hdr.flags = GTF_permit_access | GTF_sub_page;
	memset(data, 0, PAGE_SIZE);
	memset(win, 0x77, PAGE_SIZE);
	check_rc(copy_to_ref(SUB_REF, 100, 200, win), GNTST_okay, "subpage_copy_window");
	check(data[99] == 0 && data[100] == 0x77 && data[299] == 0x77 &&
	      data[300] == 0, "subpage_copy_bytes", "%#x %#x %#x %#x",
	      data[99], data[100], data[299], data[300]);
	check_rc(copy_to_ref(SUB_REF, 99, 2, win), GNTST_general_error,
		 "subpage_copy_before_window");
	check_rc(copy_to_ref(SUB_REF, 299, 2, win), GNTST_general_error,
		 "subpage_copy_past_window");
	check_rc(copy_to_ref(SUB_REF, 300, 0, win), GNTST_okay,
		 "subpage_empty_copy_at_end");
	check(data[99] == 0 && data[300] == 0, "subpage_refusals_wrote_nothing",
	      "%#x %#x", data[99], data[300]);
	check_rc(map((uint64_t)win, GNTMAP_host_map | GNTMAP_readonly, SUB_REF,
		     self, NULL), GNTST_general_error, "subpage_map_refused");
	e[SUB_REF].sub_page.page_off = 4000; /* the window runs past the page */
	check_rc(copy_to_ref(SUB_REF, 4000, 96, win), GNTST_okay,
		 "subpage_past_page_copy_inside");
	check_rc(copy_to_ref(SUB_REF, 4000, 97, win), GNTST_bad_copy_arg,
		 "subpage_copy_past_page");
	e[SUB_REF].sub_page.page_off = 8;
	e[SUB_REF].sub_page.length = 0;
	check_rc(copy_to_ref(SUB_REF, 8, 1, win), GNTST_general_error,
		 "subpage_length_0");
	e[SUB_REF].sub_page.length = 64;
	e[SUB_REF].hdr.flags |= GTF_readonly;
	check_rc(copy_to_ref(SUB_REF, 8, 8, win), GNTST_general_error,
		 "subpage_readonly_not_written");
	check(status[SUB_REF] == 0, "subpage_status_clear", "%#x", status[SUB_REF]);
}

/* Points TRANS_REF transitively at (tdom, tref). */
static void put_transitive(grant_entry_v2_t *e, domid_t tdom, grant_ref_t tref)
{
	e[TRANS_REF].hdr.flags = 0;
	wmb();
	e[TRANS_REF].transitive.trans_domid = tdom;
	e[TRANS_REF].transitive.gref = tref;
	e[TRANS_REF].hdr.domid = self;
	wmb();
	e[TRANS_REF].hdr.flags = GTF_transitive;
}

/* Transitive grants: Xen allows one level, never into the granter's own
 * table; pvisor's domain 0 has no grant table. */
static void v2_transitive(grant_entry_v2_t *e, volatile grant_status_t *status,
			  uint8_t *data, uint8_t *win)
{
	/* The referent would allow the copy. */
	e[SUB_REF].full_page.frame = virt_to_mfn(data);
	e[SUB_REF].hdr.flags = GTF_permit_access;
	put_transitive(e, self, SUB_REF);
	check_rc(copy_to_ref(TRANS_REF, 0, 8, win), GNTST_general_error,
		 "transitive_self_referential");
	put_transitive(e, self, TRANS_REF);
	check_rc(copy_to_ref(TRANS_REF, 0, 8, win), GNTST_general_error,
		 "transitive_loop_cut");
	put_transitive(e, DOMID_SELF, SUB_REF);
	check_rc(copy_to_ref(TRANS_REF, 0, 8, win), GNTST_general_error,
		 "transitive_domid_self");
	put_transitive(e, 7, 1);
	check_rc(copy_to_ref(TRANS_REF, 0, 8, win), GNTST_general_error,
		 "transitive_no_such_domain");
	put_transitive(e, 0, 5);
	check_rc(copy_to_ref(TRANS_REF, 0, 8, win), GNTST_general_error,
		 "transitive_dom0_has_no_table");
	e[TRANS_REF].hdr.flags |= GTF_readonly;
	check_rc(copy_to_ref(TRANS_REF, 0, 8, win), GNTST_general_error,
		 "transitive_readonly_written");
	check_rc(copy_to_ref(9999, 0, 8, win), GNTST_bad_gntref,
		 "copy_bad_ref");
	check_rc(map((uint64_t)win, GNTMAP_host_map | GNTMAP_readonly, TRANS_REF,
		     self, NULL), GNTST_general_error, "transitive_map_refused");
	check(status[TRANS_REF] == 0 && status[SUB_REF] == 0,
	      "transitive_status_clear", "%#x %#x", status[TRANS_REF],
	      status[SUB_REF]);
	e[TRANS_REF].hdr.flags = 0;
	e[SUB_REF].hdr.flags = 0;
}

/* v1 has neither: GTF_sub_page fails a map and is ignored by a copy, the
 * transitive type grants nothing. */
static void v1_sub_transitive(uint8_t *data, uint8_t *win)
{
	unsigned n;
	struct grant_entry_v1 *e = gnttab_table(&n);

	e[SUB_REF].frame = (uint32_t)virt_to_mfn(data);
	e[SUB_REF].domid = self;
	wmb();
	e[SUB_REF].flags = GTF_permit_access | GTF_sub_page;
	check_rc(map((uint64_t)win, GNTMAP_host_map | GNTMAP_readonly, SUB_REF,
		     self, NULL), GNTST_general_error, "v1_sub_page_map_refused");
	memset(win, 0x44, PAGE_SIZE);
	check_rc(copy_to_ref(SUB_REF, 0, PAGE_SIZE, win), GNTST_okay,
		 "v1_sub_page_copy_whole_page");
	check(data[0] == 0x44 && data[4095] == 0x44, "v1_sub_page_copied",
	      "%#x %#x", data[0], data[4095]);
	e[SUB_REF].flags = GTF_transitive;
	check_rc(copy_to_ref(SUB_REF, 0, 8, win), GNTST_general_error,
		 "v1_transitive_refused");
	check(e[SUB_REF].flags == GTF_transitive, "v1_flags_clear", "%#x",
	      e[SUB_REF].flags);
	e[SUB_REF].flags = 0;
}

static void version2(uint8_t *data, uint8_t *win, uint8_t *stwin)
{
	struct gnttab_set_version sv = { .version = 2 };
	struct gnttab_get_version gv = { .dom = DOMID_SELF };
	struct gnttab_get_status_frames sf = { .nr_frames = 1, .dom = DOMID_SELF };
	struct xen_add_to_physmap xatp = {
		.domid = DOMID_SELF, .space = XENMAPSPACE_grant_table,
		.idx = 0 | XENMAPIDX_grant_table_status, .gpfn = 0x1000,
	};
	unsigned long win_mfn = virt_to_mfn(win), st_mfn = virt_to_mfn(stwin);
	uint64_t status_mfn = 0;
	unsigned n;
	grant_entry_v2_t *e = (grant_entry_v2_t *)gnttab_table(&n);
	volatile grant_status_t *status = (volatile grant_status_t *)stwin;
	struct gnttab_copy cp = { 0 };
	grant_handle_t h;
	grant_ref_t ref = 20;

	set_xen_guest_handle(sf.frame_list, &status_mfn);
	check_rc(gnt(GNTTABOP_get_status_frames, &sf), 0, "status_frames_v1_rc");
	check_rc(sf.status, GNTST_general_error, "no_status_frames_in_v1");
	check_rc(gnt(GNTTABOP_set_version, &sv), 0, "set_version_2");
	check(sv.version == 2, "set_version_reports_2", "%u", sv.version);
	check_rc(gnt(GNTTABOP_get_version, &gv), 0, "get_version_rc");
	check(gv.version == 2, "get_version_2", "%u", gv.version);
	check_rc(gnt(GNTTABOP_get_status_frames, &sf), 0, "status_frames_rc");
	check_rc(sf.status, GNTST_okay, "get_status_frames");
	check_rc(remap(stwin, status_mfn, L1_PROT_RO), 0, "map_status_frame");
	check_rc(HC(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &xatp, 0, 0, 0),
		 -XEN_EACCES, "add_to_physmap_status_pv_eacces");

	/* A v2 entry: 16 bytes, in-use flags in the status word. */
	e[ref].full_page.frame = virt_to_mfn(data);
	e[ref].hdr.domid = self;
	wmb();
	e[ref].hdr.flags = GTF_permit_access;
	memset(data, 0x55, PAGE_SIZE);
	check_rc(map((uint64_t)win, GNTMAP_host_map, ref, self, &h), GNTST_okay,
		 "v2_map");
	check(win[9] == 0x55, "v2_read_through_mapping", "%#x", win[9]);
	check(status[ref] == (GTF_reading | GTF_writing), "v2_status_word",
	      "%#x", status[ref]);
	check(e[ref].hdr.flags == GTF_permit_access, "v2_header_untouched",
	      "%#x", e[ref].hdr.flags);
	sv.version = 1;
	check_rc(gnt(GNTTABOP_set_version, &sv), -XEN_EBUSY,
		 "switch_refused_while_mapped");
	check(sv.version == 2, "still_version_2", "%u", sv.version);
	check_rc(unmap((uint64_t)win, h), GNTST_okay, "v2_unmap");
	check(status[ref] == 0, "v2_unmap_clears_status", "%#x", status[ref]);
	check_rc(remap(win, win_mfn, L1_PROT), 0, "v2_window_restored");

	/* A copy into a v2 grant: the path pvisor's backends use. */
	cp.source.u.gmfn = virt_to_mfn(win);
	cp.source.domid = DOMID_SELF;
	cp.dest.u.ref = ref;
	cp.dest.domid = DOMID_SELF;
	cp.len = 64;
	cp.flags = GNTCOPY_dest_gref;
	memset(win, 0x66, 64);
	check_rc(HC(__HYPERVISOR_grant_table_op, GNTTABOP_copy, &cp, 1, 0, 0), 0,
		 "v2_copy_rc");
	check(cp.status == GNTST_okay && data[63] == 0x66, "v2_copy",
	      "status %d byte %#x", cp.status, data[63]);
	/* Xen ignores flag bits other than the two gref ones, and checks
	 * both domains before claiming either side. */
	cp.flags = GNTCOPY_dest_gref | 0x80;
	memset(win, 0x67, 64);
	check_rc(HC(__HYPERVISOR_grant_table_op, GNTTABOP_copy, &cp, 1, 0, 0), 0,
		 "copy_unknown_flag_rc");
	check(cp.status == GNTST_okay && data[63] == 0x67, "copy_unknown_flag_ignored",
	      "status %d byte %#x", cp.status, data[63]);
	cp.flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	cp.source.u.ref = 0xfffffff0u;
	cp.dest.domid = 7;
	HC(__HYPERVISOR_grant_table_op, GNTTABOP_copy, &cp, 1, 0, 0);
	check_rc(cp.status, GNTST_bad_domain, "copy_domains_before_refs");
	cp.dest.domid = DOMID_SELF;
	v2_sub_page(e, status, data, win);
	v2_transitive(e, status, data, win);

	sv.version = 1;
	check_rc(gnt(GNTTABOP_set_version, &sv), -XEN_EBUSY,
		 "switch_refused_status_frame_mapped");
	check_rc(remap(stwin, st_mfn, L1_PROT), 0, "unmap_status_frame");
	sv.version = 1;
	check_rc(gnt(GNTTABOP_set_version, &sv), 0, "back_to_version_1");
	check(sv.version == 1, "version_1_again", "%u", sv.version);
	sf.status = 0;
	check_rc(gnt(GNTTABOP_get_status_frames, &sf), 0, "status_frames_v1_again_rc");
	check_rc(sf.status, GNTST_general_error, "no_status_frames_after_switch");
}

static int16_t swap(grant_ref_t a, grant_ref_t b)
{
	struct gnttab_swap_grant_ref op = { .ref_a = a, .ref_b = b, .status = 99 };
	long rc = gnt(GNTTABOP_swap_grant_ref, &op);

	return rc ? (int16_t)rc : op.status;
}

static void swap_refs(uint8_t *data, uint8_t *win)
{
	unsigned n;
	struct grant_entry_v1 *e = gnttab_table(&n);
	unsigned long win_mfn = virt_to_mfn(win);
	grant_ref_t a = gnttab_grant_access(self, virt_to_mfn(data), false);
	grant_ref_t b = gnttab_grant_access(self, win_mfn, true);
	struct gnttab_swap_grant_ref two[2] = {
		{ .ref_a = a, .ref_b = b }, { .ref_a = a, .ref_b = n * 8 },
	};
	grant_handle_t h;

	check_rc(swap(a, b), GNTST_okay, "swap_okay");
	check(e[a].frame == win_mfn && (e[a].flags & GTF_readonly) &&
	      e[b].frame == virt_to_mfn(data) && !(e[b].flags & GTF_readonly),
	      "swap_exchanges_entries", "a %#x/%#x b %#x/%#x", e[a].frame,
	      e[a].flags, e[b].frame, e[b].flags);
	check_rc(swap(a, a), GNTST_okay, "swap_self_noop");
	check(e[a].frame == win_mfn, "swap_self_unchanged", "%#x", e[a].frame);
	check_rc(swap(a, n * 8), GNTST_bad_gntref, "swap_bad_ref_b");
	check_rc(swap(0xffffffff, a), GNTST_bad_gntref, "swap_bad_ref_a");
	check_rc(map((uint64_t)win, GNTMAP_host_map, b, self, &h), GNTST_okay,
		 "map_for_swap");
	check_rc(swap(a, b), GNTST_eagain, "swap_busy_eagain");
	check(e[b].frame == virt_to_mfn(data), "busy_swap_changes_nothing", "%#x",
	      e[b].frame);
	check_rc(unmap((uint64_t)win, h), GNTST_okay, "unmap_after_swap");
	check_rc(remap(win, win_mfn, L1_PROT), 0, "window_restored_after_swap");
	check_rc(HC(__HYPERVISOR_grant_table_op, GNTTABOP_swap_grant_ref, two, 2, 0, 0), 0,
		 "swap_batch_rc");
	check(two[0].status == GNTST_okay && two[1].status == GNTST_bad_gntref,
	      "swap_batch_statuses", "%d %d", two[0].status, two[1].status);
	gnttab_end_access(a);
	gnttab_end_access(b);
}

static long flush(uint64_t maddr, uint16_t off, uint16_t len, uint32_t op, uint32_t cmd_hi)
{
	struct gnttab_cache_flush f = { .a.dev_bus_addr = maddr, .offset = off,
					.length = len, .op = op };

	return HC(__HYPERVISOR_grant_table_op, GNTTABOP_cache_flush | cmd_hi, &f, 1, 0, 0);
}

static void other_ops(uint8_t *data)
{
	uint64_t ma = (uint64_t)virt_to_mfn(data) << PAGE_SHIFT;
	struct gnttab_transfer t = { .mfn = virt_to_mfn(data), .domid = 0 };
	struct gnttab_dump_table d = { .dom = DOMID_SELF };
	struct gnttab_query_size q = { .dom = DOMID_SELF };

	check_rc(flush(ma, 0, PAGE_SIZE, GNTTAB_CACHE_CLEAN, 0), 0, "flush_clean");
	check_rc(flush(ma, 16, 32, GNTTAB_CACHE_CLEAN | GNTTAB_CACHE_INVAL, 0), 0,
		 "flush_clean_invalidate");
	check_rc(flush(ma, 0, 64, GNTTAB_CACHE_INVAL, 0), -XEN_EOPNOTSUPP,
		 "flush_invalidate_only_eopnotsupp");
	check_rc(flush(ma, PAGE_SIZE, 0, GNTTAB_CACHE_CLEAN, 0), -XEN_EINVAL, "flush_offset_einval");
	check_rc(flush(ma, 0, PAGE_SIZE + 1, GNTTAB_CACHE_CLEAN, 0), -XEN_EINVAL,
		 "flush_length_einval");
	check_rc(flush(ma, 100, 4000, GNTTAB_CACHE_CLEAN, 0), -XEN_EINVAL, "flush_past_page_einval");
	check_rc(flush(ma, 0, 64, GNTTAB_CACHE_SOURCE_GREF, 0), -XEN_EINVAL,
		 "flush_source_gref_einval");
	check_rc(flush(ma, 0, 0, GNTTAB_CACHE_CLEAN, 0), 0, "flush_empty_okay");
	check_rc(flush(ma, 0, 64, 0, 0), 0, "flush_no_op_okay");
	check_rc(flush(1ull << 50, 0, 64, GNTTAB_CACHE_CLEAN, 0), -XEN_EINVAL, "flush_bad_frame_einval");
	check_rc(flush(ma, 0, 0, 0, 1u << 12), -XEN_EILSEQ, "flush_stray_continuation_eilseq");
	check_rc(HC(__HYPERVISOR_grant_table_op, GNTTABOP_query_size | (1u << 12), &q, 1, 0, 0),
		 -XEN_EINVAL, "continuation_bits_on_other_ops_einval");
	check_rc(gnt(GNTTABOP_transfer, &t), -XEN_EOPNOTSUPP, "transfer_eopnotsupp");
	check_rc(gnt(GNTTABOP_dump_table, &d), -XEN_ENOSYS, "dump_table_enosys");
}

int app_main(const char *cmdline)
{
	uint8_t *data = alloc_page(), *win = alloc_page(), *other = alloc_page();
	uint8_t *stwin = alloc_page();
	unsigned long id = 0;

	printf("t_gnttab on %s\n", kit_backend());
	trap_set_hook(14, pf_hook);
	check(xenbus_init() == 0 && xenbus_read_ulong(XBT_NIL, "domid", &id) == 0,
	      "own_domid", "from xenstore");
	self = (domid_t)id;
	check(gnttab_init(4) == 0, "gnttab_init", "setup_table failed");
	map_rw_ro(data, win);
	retype(win);
	replace(data, win, other);
	swap_refs(data, win);
	other_ops(data);
	version2(data, win, stwin);
	v1_sub_transitive(data, win);
	test_finish();
}
