/* Grant tables v1 and v2, mappings: hypercalls and the backend pin API (table-driven). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testvm.h"
#include "xen/grant.h"
#include "xen/pagetype.h"

#define ARG_PFN 100   /* hypercall argument structs */
#define LIST_PFN 101  /* frame lists */
#define DATA_PFN 200  /* granted data pages */
#define FREE_PFN 600  /* RAM the test page tables do not map */

static struct grant_entry_v1 *entry(struct vm *vm, grant_ref_t ref)
{
	uint8_t *f = (uint8_t *)testvm_frame(vm, vm->xen.gnttab_first_mfn +
						 ref / GNTTAB_ENTRIES_PER_FRAME);
	return (struct grant_entry_v1 *)f + ref % GNTTAB_ENTRIES_PER_FRAME;
}

static long setup(struct vcpu *v, uint32_t nr, int16_t *status)
{
	struct gnttab_setup_table op = { .dom = DOMID_SELF, .nr_frames = nr };
	long rc;

	set_xen_guest_handle(op.frame_list, (xen_pfn_t *)testvm_va(LIST_PFN, 0));
	testvm_put(v->vm, ARG_PFN, &op, sizeof(op));
	rc = testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_setup_table,
		       testvm_va(ARG_PFN, 0), 1);
	memcpy(&op, testvm_frame(v->vm, ARG_PFN), sizeof(op));
	*status = op.status;
	return rc;
}

static void test_setup_table(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	xen_pfn_t *list = (xen_pfn_t *)testvm_frame(vm, LIST_PFN);
	struct gnttab_query_size q = { .dom = DOMID_SELF };
	int16_t st;

	assert_int_equal(gnttab_nr_frames(vm), 0);
	assert_int_equal(setup(v, 2, &st), 0);
	assert_int_equal(st, GNTST_okay);
	assert_int_equal(list[0], vm->xen.gnttab_first_mfn);
	assert_int_equal(list[1], vm->xen.gnttab_first_mfn + 1);
	assert_int_equal(gnttab_nr_frames(vm), 2);
	/* Too many frames: general error, the table keeps its size. */
	assert_int_equal(setup(v, XEN_GNTTAB_MAX_FRAMES + 1, &st), 0);
	assert_int_equal(st, GNTST_general_error);
	/* It never shrinks. */
	assert_int_equal(setup(v, 1, &st), 0);
	assert_int_equal(gnttab_nr_frames(vm), 2);
	/* count != 1 is -EINVAL, as in Xen. */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op,
				   GNTTABOP_setup_table, testvm_va(ARG_PFN, 0), 2),
			 -XEN_EINVAL);
	testvm_put(vm, ARG_PFN, &q, sizeof(q));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op,
				   GNTTABOP_query_size, testvm_va(ARG_PFN, 0), 1), 0);
	memcpy(&q, testvm_frame(vm, ARG_PFN), sizeof(q));
	assert_int_equal(q.nr_frames, 2);
	assert_int_equal(q.max_nr_frames, XEN_GNTTAB_MAX_FRAMES);
	testvm_free(vm);
}

/* Runs one grant op on obj (copied in and back) and returns its rc. */
static long gop(struct vcpu *v, unsigned cmd, void *obj, size_t len)
{
	long rc;

	testvm_put(v->vm, ARG_PFN, obj, len);
	rc = testvm_hc(v, __HYPERVISOR_grant_table_op, cmd,
		       testvm_va(ARG_PFN, 0), 1);
	memcpy(obj, testvm_frame(v->vm, ARG_PFN), len);
	return rc;
}

static uint16_t status_v2(struct vm *vm, grant_ref_t ref)
{
	uint16_t *st = (uint16_t *)testvm_frame(
		vm, vm->xen.gnttab_first_mfn + XEN_GNTTAB_MAX_FRAMES);

	return st[ref];
}

static void test_versions(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct gnttab_set_version s = { .version = 3 };
	struct gnttab_get_version g = { .dom = DOMID_SELF };
	struct gnttab_get_status_frames sf = { .dom = DOMID_SELF, .nr_frames = 1 };
	xen_pfn_t *list = (xen_pfn_t *)testvm_frame(vm, LIST_PFN);
	grant_entry_v2_t *e2;
	struct gnttab_pin pin;
	int16_t st;

	assert_int_equal(setup(v, 1, &st), 0);
	assert_int_equal(gop(v, GNTTABOP_set_version, &s, sizeof(s)), -XEN_EINVAL);
	assert_int_equal(s.version, 1);
	set_xen_guest_handle(sf.frame_list, (uint64_t *)testvm_va(LIST_PFN, 0));
	/* v1 has no status frames. */
	assert_int_equal(gop(v, GNTTABOP_get_status_frames, &sf, sizeof(sf)), 0);
	assert_int_equal(sf.status, GNTST_general_error);
	/* A toolstack entry (below 8) survives the switch. */
	*entry(vm, 1) = (struct grant_entry_v1){ GTF_permit_access, 0, 77 };
	s.version = 2;
	assert_int_equal(gop(v, GNTTABOP_set_version, &s, sizeof(s)), 0);
	assert_int_equal(s.version, 2);
	assert_int_equal(gop(v, GNTTABOP_get_version, &g, sizeof(g)), 0);
	assert_int_equal(g.version, 2);
	e2 = (grant_entry_v2_t *)testvm_frame(vm, vm->xen.gnttab_first_mfn);
	assert_int_equal(e2[1].hdr.flags, GTF_permit_access);
	assert_int_equal(e2[1].full_page.frame, 77);
	sf.nr_frames = 1;
	assert_int_equal(gop(v, GNTTABOP_get_status_frames, &sf, sizeof(sf)), 0);
	assert_int_equal(sf.status, GNTST_okay);
	assert_int_equal(list[0], vm->xen.gnttab_first_mfn + XEN_GNTTAB_MAX_FRAMES);
	sf.nr_frames = 2; /* 256 entries need one status frame */
	assert_int_equal(gop(v, GNTTABOP_get_status_frames, &sf, sizeof(sf)), 0);
	assert_int_equal(sf.status, GNTST_general_error);
	sf.nr_frames = 1;
	sf.dom = 7;
	assert_int_equal(gop(v, GNTTABOP_get_status_frames, &sf, sizeof(sf)), 0);
	assert_int_equal(sf.status, GNTST_bad_domain);
	/* v2 entries: 16 bytes, in-use flags in the status word. */
	e2[10].hdr.domid = 0;
	e2[10].full_page.frame = DATA_PFN;
	e2[10].hdr.flags = GTF_permit_access;
	assert_int_equal(gnttab_pin(vm, 0, 10, true, &pin), GNTST_okay);
	assert_int_equal(pin.mfn, DATA_PFN);
	assert_int_equal(status_v2(vm, 10), GTF_reading | GTF_writing);
	assert_int_equal(e2[10].hdr.flags, GTF_permit_access);
	e2[11] = e2[10];
	e2[11].hdr.flags |= GTF_readonly;
	{ struct gnttab_pin p2; assert_int_equal(gnttab_pin(vm, 0, 11, true, &p2),
			 GNTST_permission_denied); }
	assert_int_equal(status_v2(vm, 11), 0);
	/* Switching with a grant in use: -EBUSY, the version stays. */
	s.version = 1;
	assert_int_equal(gop(v, GNTTABOP_set_version, &s, sizeof(s)), -XEN_EBUSY);
	assert_int_equal(s.version, 2);
	gnttab_unpin(vm, &pin);
	assert_int_equal(status_v2(vm, 10), 0);
	s.version = 1;
	assert_int_equal(gop(v, GNTTABOP_set_version, &s, sizeof(s)), 0);
	assert_int_equal(s.version, 1);
	assert_int_equal(entry(vm, 1)->frame, 77);
	assert_int_equal(entry(vm, 10)->flags, 0); /* the rest is cleared */
	testvm_free(vm);
}

#define GNT_PTE_FLAGS (PTE_PRESENT | PTE_ACCESSED | PTE_DIRTY | PTE_NX | \
		       PTE_USER | (1ull << 62))

static long map(struct vcpu *v, uint64_t addr, uint32_t flags, grant_ref_t ref,
		domid_t dom, struct gnttab_map_grant_ref *out)
{
	struct gnttab_map_grant_ref op = { .host_addr = addr, .flags = flags,
					   .ref = ref, .dom = dom };
	long rc = gop(v, GNTTABOP_map_grant_ref, &op, sizeof(op));

	if (out)
		*out = op;
	return rc ? rc : op.status;
}

static long unmap(struct vcpu *v, uint64_t addr, grant_handle_t h)
{
	struct gnttab_unmap_grant_ref op = { .host_addr = addr, .handle = h };
	long rc = gop(v, GNTTABOP_unmap_grant_ref, &op, sizeof(op));

	return rc ? rc : op.status;
}

static void assert_pt_ok(struct vm *vm)
{
	char why[256];

	if (!pagetype_check(vm, why, sizeof(why)))
		fail_msg("pagetype: %s", why);
}

static void test_map_host(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	uint64_t *l1 = testvm_frame(vm, TESTVM_L1A);
	uint64_t pte_ma = (TESTVM_L1A << 12) + 301 * 8, old303;
	struct gnttab_map_grant_ref m;
	struct gnttab_unmap_and_replace r = { 0 };
	int16_t st;

	assert_int_equal(pagetype_pin_boot_tables(v, TESTVM_L4), 0);
	assert_int_equal(setup(v, 1, &st), 0);
	*entry(vm, 10) = (struct grant_entry_v1){ GTF_permit_access, 1, FREE_PFN };
	*entry(vm, 11) = (struct grant_entry_v1){ GTF_permit_access | GTF_readonly,
						  1, DATA_PFN + 1 };
	*entry(vm, 12) = (struct grant_entry_v1){ GTF_permit_access, 1, TESTVM_L1A };
	*entry(vm, 13) = (struct grant_entry_v1){ GTF_permit_access, 0, DATA_PFN };

	/* Writable host mapping by linear address. */
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map, 10, 1, &m), 0);
	assert_int_equal(m.handle, 0);
	assert_int_equal(m.dev_bus_addr, (uint64_t)FREE_PFN << 12);
	assert_int_equal(l1[300], ((uint64_t)FREE_PFN << 12) | GNT_PTE_FLAGS | PTE_RW);
	assert_int_equal(entry(vm, 10)->flags,
			 GTF_permit_access | GTF_reading | GTF_writing);
	/* The frame cannot become a page table under the mapping. */
	assert_int_equal(pagetype_pin(v, FREE_PFN, 1), -XEN_EINVAL);
	/* Read-only grant: no writable map; read-only by PTE address. */
	assert_int_equal(map(v, pte_ma, GNTMAP_host_map | GNTMAP_contains_pte,
			     11, 1, NULL), GNTST_general_error);
	assert_int_equal(entry(vm, 11)->flags, GTF_permit_access | GTF_readonly);
	assert_int_equal(map(v, pte_ma, GNTMAP_host_map | GNTMAP_contains_pte |
			     GNTMAP_readonly, 11, 1, &m), 0);
	assert_int_equal(m.handle, 1);
	assert_int_equal(l1[301], ((uint64_t)(DATA_PFN + 1) << 12) | GNT_PTE_FLAGS);
	assert_int_equal(entry(vm, 11)->flags & (GTF_reading | GTF_writing),
			 GTF_reading);
	/* Errors: Xen's codes, nothing left in use. */
	assert_int_equal(map(v, testvm_va(302, 0), 0, 10, 1, NULL), GNTST_bad_gntref);
	assert_int_equal(map(v, testvm_va(302, 0), GNTMAP_host_map, 9999, 1, NULL),
			 GNTST_bad_gntref);
	assert_int_equal(map(v, testvm_va(302, 0), GNTMAP_host_map, 10, DOMID_SELF,
			     NULL), GNTST_bad_domain);
	assert_int_equal(map(v, testvm_va(302, 0), GNTMAP_host_map, 10, 0, NULL),
			 GNTST_bad_domain);
	assert_int_equal(map(v, testvm_va(302, 0), GNTMAP_host_map, 13, 1, NULL),
			 GNTST_general_error); /* granted to domain 0 */
	assert_int_equal(map(v, 0x40000000, GNTMAP_host_map, 12, 1, NULL),
			 GNTST_general_error); /* no L1 there */
	assert_int_equal(map(v, pte_ma + 1, GNTMAP_host_map | GNTMAP_contains_pte,
			     10, 1, NULL), GNTST_general_error);
	/* A page table: not writably, but read-only as Xen allows. */
	assert_int_equal(map(v, testvm_va(302, 0), GNTMAP_host_map, 12, 1, NULL),
			 GNTST_general_error);
	assert_int_equal(entry(vm, 12)->flags, GTF_permit_access);
	assert_int_equal(map(v, testvm_va(302, 0), GNTMAP_host_map | GNTMAP_readonly,
			     12, 1, &m), 0);
	assert_int_equal(unmap(v, testvm_va(302, 0), m.handle), 0);
	assert_pt_ok(vm);
	/* No write into a page table through a backend pin or a copy. */
	{
		struct gnttab_pin pin;
		struct gnttab_copy c = { .len = 8, .flags = GNTCOPY_dest_gref };

		assert_int_equal(gnttab_pin(vm, 1, 12, true, &pin), GNTST_general_error);
		assert_int_equal(entry(vm, 12)->flags, GTF_permit_access);
		assert_int_equal(gnttab_pin(vm, 1, 12, false, &pin), GNTST_okay);
		gnttab_unpin(vm, &pin);
		c.source.u.gmfn = DATA_PFN;
		c.source.domid = c.dest.domid = DOMID_SELF;
		c.dest.u.ref = 12;
		assert_int_equal(gop(v, GNTTABOP_copy, &c, sizeof(c)), 0);
		assert_int_equal(c.status, GNTST_general_error);
		c.flags = 0;
		c.dest.u.gmfn = TESTVM_L1A;
		assert_int_equal(gop(v, GNTTABOP_copy, &c, sizeof(c)), 0);
		assert_int_equal(c.status, GNTST_general_error);
		assert_int_equal(l1[0] & ~0xfffull, 0);
		assert_pt_ok(vm);
	}

	/* Unmap: wrong address, then right; twice; bad handles. */
	assert_int_equal(unmap(v, testvm_va(303, 0), 0), GNTST_general_error);
	assert_int_equal(unmap(v, testvm_va(300, 0), 0), 0);
	assert_int_equal(l1[300], 0);
	assert_int_equal(entry(vm, 10)->flags, GTF_permit_access);
	/* Unmapped, the frame can be a page table again. */
	assert_int_equal(pagetype_pin(v, FREE_PFN, 1), 0);
	assert_int_equal(pagetype_unpin(v, FREE_PFN), 0);
	assert_int_equal(unmap(v, testvm_va(300, 0), 0), GNTST_bad_handle);
	assert_int_equal(unmap(v, testvm_va(300, 0), 5000), GNTST_bad_handle);
	assert_int_equal(unmap(v, pte_ma, 1), 0);
	assert_int_equal(entry(vm, 11)->flags, GTF_permit_access | GTF_readonly);
	assert_pt_ok(vm);

	/* unmap_and_replace moves new_addr's entry into the slot. */
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map, 10, 1, &m), 0);
	old303 = l1[303];
	r.host_addr = testvm_va(300, 0);
	r.new_addr = testvm_va(303, 0);
	r.handle = m.handle;
	assert_int_equal(gop(v, GNTTABOP_unmap_and_replace, &r, sizeof(r)), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(l1[300], old303);
	assert_int_equal(l1[303], 0);
	assert_pt_ok(vm);

	/* Dropping a grant PTE behind Xen's back: the domain is crashed. */
	assert_int_equal(map(v, testvm_va(304, 0), GNTMAP_host_map, 10, 1, &m), 0);
	assert_false(vm_stopped(vm));
	assert_int_equal(pagetype_mod_va(v, testvm_va(304, 0), 0), 0);
	assert_true(vm_stopped(vm));
	testvm_free(vm);
}

static void test_maptrack_limit(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct gnttab_map_grant_ref m;
	int16_t st;
	unsigned n;

	assert_int_equal(setup(v, 1, &st), 0);
	*entry(vm, 10) = (struct grant_entry_v1){ GTF_permit_access, 1, DATA_PFN };
	/* Device mappings need no page tables; the handles run out. */
	for (n = 0; map(v, 0, GNTMAP_device_map | GNTMAP_readonly, 10, 1, &m) == 0; n++)
		assert_int_equal(m.handle, n);
	assert_int_equal(n, 1024);
	assert_int_equal(m.status, GNTST_no_device_space);
	{
		struct gnttab_unmap_grant_ref u = { .dev_bus_addr = m.dev_bus_addr };

		for (unsigned h = 0; h < n; h++) {
			u.handle = (grant_handle_t)h;
			u.dev_bus_addr = (uint64_t)DATA_PFN << 12;
			assert_int_equal(gop(v, GNTTABOP_unmap_grant_ref, &u, sizeof(u)), 0);
			assert_int_equal(u.status, 0);
		}
	}
	assert_int_equal(entry(vm, 10)->flags, GTF_permit_access);
	testvm_free(vm);
}

struct pin_row {
	const char *what;
	uint16_t flags;
	domid_t domid;
	uint32_t frame;
	grant_ref_t ref;
	bool write;
	int want;
};

static void test_pin_table(void **state)
{
	static const struct pin_row rows[] = {
		{ "read of a grant to dom0", GTF_permit_access, 0, DATA_PFN, 10, false, GNTST_okay },
		{ "write of a grant to dom0", GTF_permit_access, 0, DATA_PFN, 11, true, GNTST_okay },
		{ "read of a read-only grant", GTF_permit_access | GTF_readonly, 0, DATA_PFN, 12, false, GNTST_okay },
		{ "write of a read-only grant", GTF_permit_access | GTF_readonly, 0, DATA_PFN, 13, true, GNTST_permission_denied },
		{ "not granted", GTF_invalid, 0, DATA_PFN, 14, false, GNTST_permission_denied },
		{ "granted to another domain", GTF_permit_access, 5, DATA_PFN, 15, false, GNTST_permission_denied },
		{ "accept_transfer type", GTF_accept_transfer, 0, DATA_PFN, 16, false, GNTST_permission_denied },
		{ "transitive type", GTF_transitive, 0, DATA_PFN, 17, false, GNTST_permission_denied },
		{ "frame beyond RAM", GTF_permit_access, 0, TESTVM_FRAMES, 18, false, GNTST_permission_denied },
		{ "frame = shared_info", GTF_permit_access, 0, TESTVM_FRAMES, 19, true, GNTST_permission_denied },
		{ "huge frame", GTF_permit_access, 0, 0xffffffffu, 20, false, GNTST_permission_denied },
		{ "ref beyond the table", GTF_permit_access, 0, DATA_PFN, 512, false, GNTST_bad_gntref },
		{ "ref ~0", GTF_permit_access, 0, DATA_PFN, 0xffffffffu, false, GNTST_bad_gntref },
	};
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct gnttab_pin pin;
	int16_t st;

	/* No table yet: nothing can be pinned. */
	assert_int_equal(gnttab_pin(vm, 0, 10, false, &pin), GNTST_general_error);
	assert_int_equal(setup(v, 1, &st), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct pin_row *r = &rows[i];
		struct grant_entry_v1 *e;
		int rc;

		if (r->ref < GNTTAB_ENTRIES_PER_FRAME) {
			e = entry(vm, r->ref);
			e->frame = r->frame;
			e->domid = r->domid;
			e->flags = r->flags;
		}
		rc = gnttab_pin(vm, 0, r->ref, r->write, &pin);
		if (rc != r->want)
			fail_msg("%s: got %d, want %d", r->what, rc, r->want);
		if (r->ref >= GNTTAB_ENTRIES_PER_FRAME)
			continue;
		e = entry(vm, r->ref);
		if (rc == GNTST_okay) {
			assert_true(e->flags & GTF_reading);
			assert_int_equal(!!(e->flags & GTF_writing), r->write);
			assert_ptr_equal(pin.page, testvm_frame(vm, r->frame));
			gnttab_unpin(vm, &pin);
		}
		/* Either way no in-use flag is left behind. */
		if (e->flags & (GTF_reading | GTF_writing))
			fail_msg("%s: in-use flags left: %#x", r->what, e->flags);
	}
	testvm_free(vm);
}

static void test_pin_counts(void **state)
{
	struct vm *vm = testvm_new();
	struct gnttab_pin a, b;
	struct grant_entry_v1 *e;
	int16_t st;

	assert_int_equal(setup(vm->vcpus[0], 1, &st), 0);
	e = entry(vm, 9);
	*e = (struct grant_entry_v1){ .flags = GTF_permit_access, .frame = DATA_PFN };
	assert_int_equal(gnttab_pin(vm, 0, 9, true, &a), 0);
	assert_int_equal(gnttab_pin(vm, 0, 9, false, &b), 0);
	/* The guest changes the frame while pinned: the pin keeps the copy. */
	e->frame = DATA_PFN + 1;
	assert_int_equal(a.mfn, DATA_PFN);
	assert_int_equal(gnttab_backend_pins(vm), 1); /* one entry, two pins */
	gnttab_unpin(vm, &a);
	assert_int_equal(e->flags, GTF_permit_access | GTF_reading);
	assert_int_equal(gnttab_backend_pins(vm), 1);
	gnttab_unpin(vm, &b);
	assert_int_equal(e->flags, GTF_permit_access);
	assert_int_equal(gnttab_backend_pins(vm), 0);
	testvm_free(vm);
}

/* A reboot's fresh table: no frames until the new guest sets them up. */
static void test_reset(void **state)
{
	struct vm *vm = testvm_new();
	struct gnttab_pin pin;
	int16_t st;

	gnttab_reset(vm); /* before any table: nothing to do */
	assert_int_equal(setup(vm->vcpus[0], 2, &st), 0);
	*entry(vm, 3) = (struct grant_entry_v1){ .flags = GTF_permit_access, .frame = DATA_PFN };
	assert_int_equal(gnttab_pin(vm, 0, 3, false, &pin), 0);
	gnttab_unpin(vm, &pin);
	gnttab_reset(vm);
	assert_int_equal(gnttab_nr_frames(vm), 0);
	assert_int_equal(gnttab_backend_pins(vm), 0);
	assert_int_equal(gnttab_pin(vm, 0, 3, false, &pin), GNTST_bad_gntref);
	assert_int_equal(setup(vm->vcpus[0], 1, &st), 0);
	assert_int_equal(gnttab_nr_frames(vm), 1);
	testvm_free(vm);
}

struct copy_row {
	const char *what;
	uint16_t flags;
	domid_t sdom, ddom;
	uint64_t src, dst;   /* gref or gmfn */
	uint16_t soff, doff, len;
	int16_t want;
};

static void test_copy_table(void **state)
{
	static const struct copy_row rows[] = {
		{ "gmfn to gmfn", 0, DOMID_SELF, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 0, 0, 64, GNTST_okay },
		{ "gref to gmfn", GNTCOPY_source_gref, DOMID_SELF, DOMID_SELF, 20, DATA_PFN + 1, 8, 16, 100, GNTST_okay },
		{ "gmfn to gref", GNTCOPY_dest_gref, DOMID_SELF, 1, DATA_PFN, 21, 0, 0, 4096, GNTST_okay },
		{ "to a read-only gref", GNTCOPY_dest_gref, DOMID_SELF, DOMID_SELF, DATA_PFN, 22, 0, 0, 8, GNTST_general_error },
		{ "from an ungranted ref", GNTCOPY_source_gref, DOMID_SELF, DOMID_SELF, 23, DATA_PFN, 0, 0, 8, GNTST_general_error },
		{ "a bad ref, and past the page", GNTCOPY_source_gref, DOMID_SELF, DOMID_SELF, 99999, DATA_PFN, 4000, 0, 97, GNTST_bad_gntref },
		{ "ref beyond the table", GNTCOPY_source_gref, DOMID_SELF, DOMID_SELF, 99999, DATA_PFN, 0, 0, 8, GNTST_bad_gntref },
		{ "offset + len past the page", 0, DOMID_SELF, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 4000, 0, 97, GNTST_bad_copy_arg },
		{ "dest offset + len past the page", 0, DOMID_SELF, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 0, 4095, 2, GNTST_bad_copy_arg },
		{ "unknown flags: ignored, as Xen", 0x80, DOMID_SELF, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 0, 0, 8, GNTST_okay },
		{ "foreign domain", 0, 7, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 0, 0, 8, GNTST_bad_domain },
		{ "foreign domain with a gref", GNTCOPY_source_gref, 7, DOMID_SELF, 20, DATA_PFN + 1, 0, 0, 8, GNTST_bad_domain },
		{ "domain 0 (no grant table)", GNTCOPY_dest_gref, DOMID_SELF, 0, DATA_PFN, 21, 0, 0, 8, GNTST_bad_domain },
		{ "bad source ref, foreign dest: domains first", GNTCOPY_source_gref, DOMID_SELF, 7, 99999, DATA_PFN, 0, 0, 8, GNTST_bad_domain },
		{ "own domid 1 by number", 0, 1, 1, DATA_PFN, DATA_PFN + 1, 0, 0, 8, GNTST_okay },
		{ "gmfn beyond RAM", 0, DOMID_SELF, DOMID_SELF, TESTVM_FRAMES, DATA_PFN, 0, 0, 8, GNTST_bad_page },
		{ "gmfn huge", 0, DOMID_SELF, DOMID_SELF, DATA_PFN, ~0ull, 0, 0, 8, GNTST_bad_page },
	};
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	int16_t st;

	assert_int_equal(setup(v, 1, &st), 0);
	/* 20: to self (domain 1) read-only source; 21: writable; 22: read-only. */
	*entry(vm, 20) = (struct grant_entry_v1){ .flags = GTF_permit_access | GTF_readonly, .domid = 1, .frame = DATA_PFN };
	*entry(vm, 21) = (struct grant_entry_v1){ .flags = GTF_permit_access, .domid = 1, .frame = DATA_PFN + 2 };
	*entry(vm, 22) = (struct grant_entry_v1){ .flags = GTF_permit_access | GTF_readonly, .domid = 1, .frame = DATA_PFN + 2 };
	for (unsigned i = 0; i < 4096; i++)
		((uint8_t *)testvm_frame(vm, DATA_PFN))[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct copy_row *r = &rows[i];
		struct gnttab_copy op = { .len = r->len, .flags = r->flags };

		if (r->flags & GNTCOPY_source_gref)
			op.source.u.ref = (grant_ref_t)r->src;
		else
			op.source.u.gmfn = r->src;
		if (r->flags & GNTCOPY_dest_gref)
			op.dest.u.ref = (grant_ref_t)r->dst;
		else
			op.dest.u.gmfn = r->dst;
		op.source.domid = r->sdom;
		op.dest.domid = r->ddom;
		op.source.offset = r->soff;
		op.dest.offset = r->doff;
		memset(testvm_frame(vm, DATA_PFN + 1), 0, 4096);
		testvm_put(vm, ARG_PFN, &op, sizeof(op));
		assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op,
					   GNTTABOP_copy, testvm_va(ARG_PFN, 0), 1), 0);
		memcpy(&op, testvm_frame(vm, ARG_PFN), sizeof(op));
		if (op.status != r->want)
			fail_msg("%s: status %d, want %d", r->what, op.status, r->want);
		if (r->want == GNTST_okay && !(r->flags & GNTCOPY_dest_gref))
			assert_memory_equal((uint8_t *)testvm_frame(vm, r->dst) + r->doff,
					    (uint8_t *)testvm_frame(vm, DATA_PFN) + r->soff,
					    r->len);
		/* No flags stay set after a copy. */
		for (grant_ref_t g = 20; g <= 22; g++)
			assert_false(entry(vm, g)->flags & (GTF_reading | GTF_writing));
	}
	assert_memory_equal(testvm_frame(vm, DATA_PFN + 2), testvm_frame(vm, DATA_PFN), 4096);
	/* Negative count, bad pointer. */
	assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
				   testvm_va(ARG_PFN, 0), 0x80000000u), -XEN_EINVAL);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
				   0x10, 1), -XEN_EFAULT);
	testvm_free(vm);
}

/* --- v2 sub-page and transitive grants (Xen's acquire_grant_for_copy) --- */

#define SUB_REF 30   /* the v2 entry under test */
#define AUX_REF 31   /* a second one (loops) */

static grant_entry_v2_t *entry2(struct vm *vm, grant_ref_t ref)
{
	return (grant_entry_v2_t *)testvm_frame(vm, vm->xen.gnttab_first_mfn) + ref;
}

/* A VM with a one-frame v2 table. */
static struct vm *v2_vm(void)
{
	struct vm *vm = testvm_new();
	struct gnttab_set_version s = { .version = 2 };
	int16_t st;

	assert_int_equal(setup(vm->vcpus[0], 1, &st), 0);
	assert_int_equal(gop(vm->vcpus[0], GNTTABOP_set_version, &s, sizeof(s)), 0);
	return vm;
}

static void put_sub_page(struct vm *vm, grant_ref_t ref, uint16_t flags,
			 domid_t dom, uint16_t off, uint16_t len)
{
	grant_entry_v2_t *e = entry2(vm, ref);

	e->sub_page.page_off = off;
	e->sub_page.length = len;
	e->sub_page.frame = DATA_PFN;
	e->hdr.domid = dom;
	e->hdr.flags = flags;
}

static void put_transitive(struct vm *vm, grant_ref_t ref, uint16_t flags,
			   domid_t dom, domid_t tdom, grant_ref_t tref)
{
	grant_entry_v2_t *e = entry2(vm, ref);

	memset(e, 0, sizeof(*e));
	e->transitive.trans_domid = tdom;
	e->transitive.gref = tref;
	e->hdr.domid = dom;
	e->hdr.flags = GTF_transitive | flags;
}

/* GNTTABOP_copy of len bytes between gref ref (at off) and frame
 * DATA_PFN + 1 (at the same offset); the status. */
static int16_t copy_gref(struct vcpu *v, grant_ref_t ref, bool to_gref,
			 uint16_t off, uint16_t len)
{
	struct gnttab_copy op = { .len = len };
	struct gnttab_copy_ptr *g = to_gref ? &op.dest : &op.source;
	struct gnttab_copy_ptr *f = to_gref ? &op.source : &op.dest;

	op.flags = to_gref ? GNTCOPY_dest_gref : GNTCOPY_source_gref;
	g->u.ref = ref;
	f->u.gmfn = DATA_PFN + 1;
	op.source.domid = op.dest.domid = DOMID_SELF;
	op.source.offset = op.dest.offset = off;
	testvm_put(v->vm, ARG_PFN, &op, sizeof(op));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
				   testvm_va(ARG_PFN, 0), 1), 0);
	memcpy(&op, testvm_frame(v->vm, ARG_PFN), sizeof(op));
	return op.status;
}

struct sub_row {
	const char *what;
	uint16_t flags;        /* besides GTF_permit_access | GTF_sub_page */
	uint16_t page_off, length;
	bool to_gref;          /* the copy writes the sub-page grant */
	uint16_t off, len;     /* the copy */
	int16_t want;
};

/* Copies honour the window [page_off, page_off + length), within the page:
 * outside it GNTST_general_error, past the page GNTST_bad_copy_arg; no byte
 * outside the copy changes and no in-use flag stays. */
static void test_sub_page_copy(void **state)
{
	static const struct sub_row rows[] = {
		{ "read, the whole window", 0, 100, 200, false, 100, 200, GNTST_okay },
		{ "write, the whole window", 0, 100, 200, true, 100, 200, GNTST_okay },
		{ "write inside", 0, 100, 200, true, 150, 10, GNTST_okay },
		{ "one byte before", 0, 100, 200, false, 99, 10, GNTST_general_error },
		{ "one byte past the end", 0, 100, 200, true, 250, 51, GNTST_general_error },
		{ "empty copy at the end", 0, 100, 200, false, 300, 0, GNTST_okay },
		{ "empty copy past the end", 0, 100, 200, false, 301, 0, GNTST_general_error },
		{ "window = page", 0, 0, 4096, true, 0, 4096, GNTST_okay },
		{ "last byte of the page", 0, 4095, 1, true, 4095, 1, GNTST_okay },
		{ "length 0, empty copy", 0, 8, 0, false, 8, 0, GNTST_okay },
		{ "length 0, one byte", 0, 8, 0, false, 8, 1, GNTST_general_error },
		{ "length 0, elsewhere", 0, 8, 0, true, 9, 0, GNTST_general_error },
		{ "window past the page, copy inside", 0, 4000, 200, true, 4000, 96, GNTST_okay },
		{ "window past the page, copy past", 0, 4000, 200, true, 4000, 97, GNTST_bad_copy_arg },
		{ "page_off 4096, empty copy", 0, 4096, 0, false, 4096, 0, GNTST_okay },
		{ "page_off 4096 length 8", 0, 4096, 8, false, 4096, 8, GNTST_bad_copy_arg },
		{ "page_off in Xen's 15 bits", 0, 0x8010, 16, true, 0x10, 16, GNTST_okay },
		{ "read-only, read", GTF_readonly, 0, 64, false, 0, 64, GNTST_okay },
		{ "read-only, write", GTF_readonly, 0, 64, true, 0, 64, GNTST_general_error },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct sub_row *r = &rows[i];
		struct vm *vm = v2_vm();
		uint8_t *g = (uint8_t *)testvm_frame(vm, DATA_PFN);
		uint8_t *f = (uint8_t *)testvm_frame(vm, DATA_PFN + 1);
		uint8_t want_g[4096], want_f[4096];
		int16_t rc;

		memset(g, 0x11, 4096);
		memset(f, 0x22, 4096);
		memcpy(want_g, g, 4096);
		memcpy(want_f, f, 4096);
		put_sub_page(vm, SUB_REF, GTF_permit_access | GTF_sub_page | r->flags,
			     1, r->page_off, r->length);
		rc = copy_gref(vm->vcpus[0], SUB_REF, r->to_gref, r->off, r->len);
		if (rc != r->want)
			fail_msg("%s: status %d, want %d", r->what, rc, r->want);
		if (rc == GNTST_okay)
			memset((r->to_gref ? want_g : want_f) + r->off,
			       r->to_gref ? 0x22 : 0x11, r->len);
		if (memcmp(g, want_g, 4096) || memcmp(f, want_f, 4096))
			fail_msg("%s: bytes outside the copy changed", r->what);
		if (status_v2(vm, SUB_REF))
			fail_msg("%s: in-use flags left: %#x", r->what,
				 status_v2(vm, SUB_REF));
		testvm_free(vm);
	}
}

/* Maps and the backends' pins refuse a sub-page grant as Xen's map path
 * does; a backend's copy pin gets the window; an entry held as sub-page
 * cannot be mapped; v1 has no sub-page grants (copies ignore the flag). */
static void test_sub_page_map(void **state)
{
	struct vm *vm = v2_vm();
	struct vcpu *v = vm->vcpus[0];
	struct gnttab_pin pin, p2;
	int16_t st;

	assert_int_equal(pagetype_pin_boot_tables(v, TESTVM_L4), 0);
	put_sub_page(vm, SUB_REF, GTF_permit_access | GTF_sub_page, 1, 16, 32);
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map, SUB_REF, 1,
			     NULL), GNTST_general_error);
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map | GNTMAP_readonly,
			     SUB_REF, 1, NULL), GNTST_general_error);
	assert_int_equal(gnttab_pin(vm, 1, SUB_REF, false, &pin),
			 GNTST_permission_denied);
	assert_int_equal(status_v2(vm, SUB_REF), 0);
	assert_int_equal(gnttab_pin_copy(vm, 1, SUB_REF, true, &pin), GNTST_okay);
	assert_int_equal(pin.off, 16);
	assert_int_equal(pin.len, 32);
	assert_true(gnttab_pin_covers(&pin, 16, 32));
	assert_true(gnttab_pin_covers(&pin, 47, 1));
	assert_false(gnttab_pin_covers(&pin, 15, 1));
	assert_false(gnttab_pin_covers(&pin, 40, 9));
	assert_int_equal(status_v2(vm, SUB_REF), GTF_reading | GTF_writing);
	/* Held as sub-page: even with the flag gone, no map (Xen's
	 * act->is_sub_page); a second copy pin shares the window. */
	entry2(vm, SUB_REF)->hdr.flags = GTF_permit_access;
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map, SUB_REF, 1,
			     NULL), GNTST_general_error);
	assert_int_equal(gnttab_pin_copy(vm, 1, SUB_REF, false, &p2), GNTST_okay);
	assert_int_equal(p2.off, 16);
	gnttab_unpin(vm, &p2);
	gnttab_unpin(vm, &pin);
	assert_int_equal(status_v2(vm, SUB_REF), 0);
	/* Released: the full-page entry maps again. */
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map, SUB_REF, 1,
			     NULL), GNTST_okay);
	assert_pt_ok(vm);
	testvm_free(vm);

	/* v1: GTF_sub_page makes a map fail, a copy takes the whole page. */
	vm = testvm_new();
	v = vm->vcpus[0];
	assert_int_equal(setup(v, 1, &st), 0);
	*entry(vm, SUB_REF) = (struct grant_entry_v1){ GTF_permit_access | GTF_sub_page, 1, DATA_PFN };
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map, SUB_REF, 1,
			     NULL), GNTST_general_error);
	assert_int_equal(gnttab_pin(vm, 1, SUB_REF, false, &pin),
			 GNTST_permission_denied);
	assert_int_equal(copy_gref(v, SUB_REF, true, 0, 4096), GNTST_okay);
	assert_int_equal(gnttab_pin_copy(vm, 1, SUB_REF, false, &pin), GNTST_okay);
	assert_int_equal(pin.off, 0);
	assert_int_equal(pin.len, 4096);
	gnttab_unpin(vm, &pin);
	/* v1 has no transitive type: an entry that grants nothing. */
	*entry(vm, AUX_REF) = (struct grant_entry_v1){ GTF_transitive, 1, DATA_PFN };
	assert_int_equal(copy_gref(v, AUX_REF, false, 0, 8), GNTST_general_error);
	assert_int_equal(entry(vm, SUB_REF)->flags, GTF_permit_access | GTF_sub_page);
	assert_int_equal(entry(vm, AUX_REF)->flags, GTF_transitive);
	testvm_free(vm);
}

struct trans_row {
	const char *what;
	uint16_t flags;      /* besides GTF_transitive */
	domid_t dom;         /* granted to */
	domid_t tdom;
	grant_ref_t tref;
	bool to_gref;
	int16_t want;
};

/* Transitive grants: Xen's one level, never to the granter's own table
 * (nor DOMID_SELF, which names no domain), and pvisor's domain 0 has no
 * grant table: GNTST_general_error every time.  Each refusal leaves the
 * status words clear. */
static void test_transitive_table(void **state)
{
	static const struct trans_row rows[] = {
		{ "to its own table", 0, 1, 1, SUB_REF + 1, false, GNTST_general_error },
		{ "to itself", 0, 1, 1, SUB_REF, true, GNTST_general_error },
		{ "to DOMID_SELF", 0, 1, DOMID_SELF, SUB_REF + 1, false, GNTST_general_error },
		{ "to dom0 (no grant table)", 0, 1, 0, 5, false, GNTST_general_error },
		{ "to dom0, written", 0, 1, 0, 5, true, GNTST_general_error },
		{ "to dom0, ref ~0", 0, 1, 0, 0xffffffffu, false, GNTST_general_error },
		{ "to a domain that does not exist", 0, 1, 7, 1, false, GNTST_general_error },
		{ "granted to another domain", 0, 5, 0, 1, false, GNTST_general_error },
		{ "read-only, written", GTF_readonly, 1, 0, 1, true, GNTST_general_error },
		{ "read-only, read", GTF_readonly, 1, 0, 1, false, GNTST_general_error },
		{ "with GTF_sub_page", GTF_sub_page, 1, 0, 1, false, GNTST_general_error },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct trans_row *r = &rows[i];
		struct vm *vm = v2_vm();
		int16_t rc;

		/* The referent in the guest's table would allow the copy. */
		put_sub_page(vm, SUB_REF + 1, GTF_permit_access, 1, 0, 0);
		put_transitive(vm, SUB_REF, r->flags, r->dom, r->tdom, r->tref);
		rc = copy_gref(vm->vcpus[0], SUB_REF, r->to_gref, 0, 8);
		if (rc != r->want)
			fail_msg("%s: status %d, want %d", r->what, rc, r->want);
		if (status_v2(vm, SUB_REF) || status_v2(vm, SUB_REF + 1))
			fail_msg("%s: in-use flags left: %#x %#x", r->what,
				 status_v2(vm, SUB_REF), status_v2(vm, SUB_REF + 1));
		testvm_free(vm);
	}
}

/* A loop of transitive grants is cut at the first hop; maps and backend
 * pins refuse transitive grants; a refused copy leaves the flags of an
 * entry that is held (here mapped, then made transitive) as they were. */
static void test_transitive_paths(void **state)
{
	struct vm *vm = v2_vm();
	struct vcpu *v = vm->vcpus[0];
	struct gnttab_map_grant_ref m;
	struct gnttab_pin pin;

	assert_int_equal(pagetype_pin_boot_tables(v, TESTVM_L4), 0);
	put_transitive(vm, SUB_REF, 0, 1, 1, AUX_REF);
	put_transitive(vm, AUX_REF, 0, 1, 1, SUB_REF);
	assert_int_equal(copy_gref(v, SUB_REF, false, 0, 8), GNTST_general_error);
	put_transitive(vm, SUB_REF, 0, 0, 0, AUX_REF);
	put_transitive(vm, AUX_REF, 0, 0, 1, SUB_REF);
	assert_int_equal(gnttab_pin_copy(vm, 0, SUB_REF, false, &pin),
			 GNTST_permission_denied);
	assert_int_equal(gnttab_pin_copy(vm, 0, AUX_REF, false, &pin),
			 GNTST_permission_denied);
	put_transitive(vm, SUB_REF, 0, 0, 0, 600);
	assert_int_equal(gnttab_pin_copy(vm, 0, SUB_REF, true, &pin),
			 GNTST_permission_denied);
	assert_int_equal(gnttab_pin_copy(vm, 0, 9999, true, &pin),
			 GNTST_bad_gntref);
	assert_int_equal(gnttab_pin(vm, 0, SUB_REF, false, &pin),
			 GNTST_permission_denied);
	put_transitive(vm, SUB_REF, 0, 1, 0, 600);
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map, SUB_REF, 1,
			     NULL), GNTST_general_error);
	assert_int_equal(status_v2(vm, SUB_REF), 0);
	assert_int_equal(status_v2(vm, AUX_REF), 0);

	/* Mapped read-only as a full page, then made transitive: the copy
	 * follows the header (Xen looks at the type first) and fails, the
	 * mapping's GTF_reading stays. */
	put_sub_page(vm, SUB_REF, GTF_permit_access, 1, 0, 0);
	assert_int_equal(map(v, testvm_va(300, 0), GNTMAP_host_map | GNTMAP_readonly,
			     SUB_REF, 1, &m), GNTST_okay);
	put_transitive(vm, SUB_REF, 0, 1, 0, 600);
	assert_int_equal(copy_gref(v, SUB_REF, false, 0, 8), GNTST_general_error);
	assert_int_equal(status_v2(vm, SUB_REF), GTF_reading);
	assert_int_equal(copy_gref(v, SUB_REF, true, 0, 8), GNTST_general_error);
	assert_int_equal(status_v2(vm, SUB_REF), GTF_reading);
	assert_int_equal(unmap(v, testvm_va(300, 0), m.handle), GNTST_okay);
	assert_int_equal(status_v2(vm, SUB_REF), 0);
	assert_pt_ok(vm);
	testvm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_table),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_map_host),
		cmocka_unit_test(test_maptrack_limit),
		cmocka_unit_test(test_pin_table),
		cmocka_unit_test(test_pin_counts),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_copy_table),
		cmocka_unit_test(test_sub_page_copy),
		cmocka_unit_test(test_sub_page_map),
		cmocka_unit_test(test_transitive_table),
		cmocka_unit_test(test_transitive_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
