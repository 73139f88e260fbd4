/*
 * vscsiif's LUN model (services/scsiback/vscsi_lun.c): H:C:T:L parsing,
 * where a new LUN goes (the next LUN number, a given address, the limit,
 * a taken address, another host), and the backend's per-LUN steps of a
 * reconfiguration, row by row against xen-scsiback's
 * scsiback_do_1lun_hotplug.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <xen/io/xenbus.h>

#include "services/scsiback/vscsi_lun.h"

static void test_hctl_parse(void **state)
{
	static const struct {
		const char *s;
		int rc;
		struct scsi_addr a;
	} rows[] = {
		{ "0:0:0:0", 0, { 0, 0, 0, 0 } },
		{ "1:2:3:4", 0, { 1, 2, 3, 4 } },
		{ "65535:65535:65535:65535", 0, { 65535, 65535, 65535, 65535 } },
		{ "007:0:0:1", 0, { 7, 0, 0, 1 } },
		{ "0:0:0:65536", -EINVAL, { 0 } },
		{ "0:0:0", -EINVAL, { 0 } },
		{ "0:0:0:0:0", -EINVAL, { 0 } },
		{ "0:0::0", -EINVAL, { 0 } },
		{ ":0:0:0", -EINVAL, { 0 } },
		{ "0:0:0:", -EINVAL, { 0 } },
		{ "0:0:0:1 ", -EINVAL, { 0 } },
		{ "-1:0:0:0", -EINVAL, { 0 } },
		{ "a:0:0:0", -EINVAL, { 0 } },
		{ "0.0.0.0", -EINVAL, { 0 } },
		{ "", -EINVAL, { 0 } },
		{ "99999999999999999999:0:0:0", -EINVAL, { 0 } },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct scsi_addr a = { 9, 9, 9, 9 };
		int rc = vscsi_hctl_parse(rows[i].s, strlen(rows[i].s), &a);

		assert_int_equal(rc, rows[i].rc);
		if (rc == 0)
			assert_memory_equal(&a, &rows[i].a, sizeof(a));
		else
			assert_int_equal(a.host, 9); /* untouched */
	}
	/* Only n bytes count: "1:2:3:45" cut to 7 is 1:2:3:4. */
	{
		struct scsi_addr a;

		assert_int_equal(vscsi_hctl_parse("1:2:3:45", 7, &a), 0);
		assert_int_equal(a.lun, 4);
	}
}

static void test_place(void **state)
{
	static const struct scsi_addr two[] = { { 0, 0, 0, 0 }, { 0, 0, 0, 1 } };
	static const struct scsi_addr other[] = { { 2, 1, 3, 5 }, { 2, 0, 0, 9 } };
	static const struct {
		const char *name;
		const struct scsi_addr *taken;
		unsigned nr;
		bool given;
		struct scsi_addr in, out;
		int rc;
	} rows[] = {
		{ "first, none taken", NULL, 0, false, { 0 }, { 0, 0, 0, 0 }, 0 },
		{ "given, none taken: any host", NULL, 0, true, { 3, 1, 2, 3 }, { 3, 1, 2, 3 }, 0 },
		{ "next after 0 and 1", two, 2, false, { 0 }, { 0, 0, 0, 2 }, 0 },
		{ "given, free", two, 2, true, { 0, 0, 1, 0 }, { 0, 0, 1, 0 }, 0 },
		{ "given, taken", two, 2, true, { 0, 0, 0, 1 }, { 0, 0, 0, 1 }, -EEXIST },
		{ "given, another host", two, 2, true, { 1, 0, 0, 7 }, { 1, 0, 0, 7 }, -EXDEV },
		{ "next on the first's C:T", other, 2, false, { 0 }, { 2, 1, 3, 6 }, 0 },
		{ "next ignores other targets", other + 1, 1, false, { 0 }, { 2, 0, 0, 10 }, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct scsi_addr a = rows[i].in;
		int rc = vscsi_lun_place(rows[i].taken, rows[i].nr, rows[i].given, &a);

		if (rc != rows[i].rc)
			fail_msg("%s: rc %d, want %d", rows[i].name, rc, rows[i].rc);
		assert_memory_equal(&a, &rows[i].out, sizeof(a));
	}
}

static void test_place_limit(void **state)
{
	struct scsi_addr taken[SCSI_MAX_LUNS], a = { 0 };

	for (unsigned i = 0; i < SCSI_MAX_LUNS; i++)
		taken[i] = (struct scsi_addr){ 0, 0, 0, (uint16_t)i };
	assert_int_equal(vscsi_lun_place(taken, SCSI_MAX_LUNS - 1, false, &a), 0);
	assert_int_equal(a.lun, SCSI_MAX_LUNS - 1);
	assert_int_equal(vscsi_lun_place(taken, SCSI_MAX_LUNS, false, &a), -ENOSPC);
	a = (struct scsi_addr){ 0, 0, 5, 0 };
	assert_int_equal(vscsi_lun_place(taken, SCSI_MAX_LUNS, true, &a), -ENOSPC);
	/* The last LUN number taken: the next wraps onto LUN 0 ... */
	taken[0].lun = 65535;
	a = (struct scsi_addr){ 0 };
	assert_int_equal(vscsi_lun_place(taken, 1, false, &a), 0);
	assert_int_equal(a.lun, 0);
	/* ... and past the LUNs after it. */
	taken[1] = (struct scsi_addr){ 0, 0, 0, 0 };
	assert_int_equal(vscsi_lun_place(taken, 2, false, &a), 0);
	assert_int_equal(a.lun, 1);
}

/* xen-scsiback: VSCSIBACK_OP_ADD_OR_DEL_LUN takes Initialising to
 * Initialised and Closing to Closed; VSCSIBACK_OP_UPDATEDEV_STATE takes
 * Initialised to Connected; everything else stays. */
static void test_steps(void **state)
{
	static const struct {
		enum vscsi_lun_pass pass;
		int from, to;
	} rows[] = {
		{ VSCSI_PASS_ADD_OR_DEL, XenbusStateInitialising, XenbusStateInitialised },
		{ VSCSI_PASS_ADD_OR_DEL, XenbusStateClosing, XenbusStateClosed },
		{ VSCSI_PASS_ADD_OR_DEL, XenbusStateInitialised, XenbusStateInitialised },
		{ VSCSI_PASS_ADD_OR_DEL, XenbusStateConnected, XenbusStateConnected },
		{ VSCSI_PASS_ADD_OR_DEL, XenbusStateClosed, XenbusStateClosed },
		{ VSCSI_PASS_UPDATE, XenbusStateInitialised, XenbusStateConnected },
		{ VSCSI_PASS_UPDATE, XenbusStateInitialising, XenbusStateInitialising },
		{ VSCSI_PASS_UPDATE, XenbusStateClosing, XenbusStateClosing },
		{ VSCSI_PASS_UPDATE, XenbusStateConnected, XenbusStateConnected },
		{ VSCSI_PASS_NONE, XenbusStateInitialising, XenbusStateInitialising },
		{ VSCSI_PASS_NONE, XenbusStateClosing, XenbusStateClosing },
		{ VSCSI_PASS_ADD_OR_DEL, 99, 99 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(vscsi_lun_step(rows[i].pass, rows[i].from), rows[i].to);
}

static void test_pending_and_target(void **state)
{
	for (int st = XenbusStateUnknown; st <= XenbusStateReconfigured; st++) {
		bool pending = st == XenbusStateInitialising || st == XenbusStateClosing;
		bool in = st == XenbusStateInitialised || st == XenbusStateConnected ||
			  st == XenbusStateClosing;

		assert_int_equal(vscsi_lun_pending(st), pending);
		assert_int_equal(vscsi_lun_in_target(st), in);
	}
	/* A whole add, then a removal, through the passes. */
	{
		int st = XenbusStateInitialising;

		assert_false(vscsi_lun_in_target(st));
		st = vscsi_lun_step(VSCSI_PASS_ADD_OR_DEL, st);
		assert_true(vscsi_lun_in_target(st) && !vscsi_lun_pending(st));
		st = vscsi_lun_step(VSCSI_PASS_UPDATE, st);
		assert_int_equal(st, XenbusStateConnected);
		st = XenbusStateClosing; /* the toolstack asks it away */
		assert_true(vscsi_lun_in_target(st) && vscsi_lun_pending(st));
		st = vscsi_lun_step(VSCSI_PASS_ADD_OR_DEL, st);
		assert_int_equal(st, XenbusStateClosed);
		assert_false(vscsi_lun_in_target(st) || vscsi_lun_pending(st));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hctl_parse),
		cmocka_unit_test(test_place),
		cmocka_unit_test(test_place_limit),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_pending_and_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
