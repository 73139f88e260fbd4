/* Grant tables v1: hypercalls and the backend pin API (table-driven). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testvm.h"
#include "xen/grant.h"

#define ARG_PFN 100   /* hypercall argument structs */
#define LIST_PFN 101  /* frame lists */
#define DATA_PFN 200  /* granted data pages */

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

static void test_versions(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	static const struct { uint32_t version; long rc; } rows[] = {
		{ 1, 0 }, { 2, -XEN_ENOSYS }, { 0, -XEN_EINVAL }, { 3, -XEN_EINVAL },
	};
	struct gnttab_get_version g = { .dom = DOMID_SELF };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct gnttab_set_version s = { .version = rows[i].version };

		testvm_put(vm, ARG_PFN, &s, sizeof(s));
		assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op,
					   GNTTABOP_set_version,
					   testvm_va(ARG_PFN, 0), 1), rows[i].rc);
	}
	testvm_put(vm, ARG_PFN, &g, sizeof(g));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op,
				   GNTTABOP_get_version, testvm_va(ARG_PFN, 0), 1), 0);
	memcpy(&g, testvm_frame(vm, ARG_PFN), sizeof(g));
	assert_int_equal(g.version, 1);
	assert_int_equal(testvm_hc(v, __HYPERVISOR_grant_table_op,
				   GNTTABOP_map_grant_ref, testvm_va(ARG_PFN, 0), 1),
			 -XEN_ENOSYS);
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
	gnttab_unpin(vm, &a);
	assert_int_equal(e->flags, GTF_permit_access | GTF_reading);
	gnttab_unpin(vm, &b);
	assert_int_equal(e->flags, GTF_permit_access);
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
		{ "to a read-only gref", GNTCOPY_dest_gref, DOMID_SELF, DOMID_SELF, DATA_PFN, 22, 0, 0, 8, GNTST_permission_denied },
		{ "from an ungranted ref", GNTCOPY_source_gref, DOMID_SELF, DOMID_SELF, 23, DATA_PFN, 0, 0, 8, GNTST_permission_denied },
		{ "ref beyond the table", GNTCOPY_source_gref, DOMID_SELF, DOMID_SELF, 99999, DATA_PFN, 0, 0, 8, GNTST_bad_gntref },
		{ "offset + len past the page", 0, DOMID_SELF, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 4000, 0, 97, GNTST_bad_copy_arg },
		{ "dest offset + len past the page", 0, DOMID_SELF, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 0, 4095, 2, GNTST_bad_copy_arg },
		{ "unknown flags", 0x80, DOMID_SELF, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 0, 0, 8, GNTST_bad_copy_arg },
		{ "foreign domain", 0, 7, DOMID_SELF, DATA_PFN, DATA_PFN + 1, 0, 0, 8, GNTST_bad_domain },
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_table),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_pin_table),
		cmocka_unit_test(test_pin_counts),
		cmocka_unit_test(test_copy_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
