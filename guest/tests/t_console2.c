/*
 * The secondary console (pvisor run --console2; tests/e2e/t_console2.sh).
 *
 *   (no argument)  connects device/console/1 and writes its lines there
 *                  ("E<n> ..." x 2000, 80 KiB, far more than the 2 KiB
 *                  ring: the writer waits for the backend), interleaved
 *                  with "O<n>" lines on the start_info console, then a
 *                  few bytes without a newline; the host checks that
 *                  pvisor's stderr holds exactly the E lines and its stdout
 *                  only the O lines
 *   absent         run without --console2: there is no device/console/1
 *   hostile        publishes a ring-ref that grants nothing and a port that
 *                  is not unbound: the backend goes Closing, the guest and
 *                  pvisor go on
 */
#include <kit/console.h>
#include <kit/gnttab.h>
#include <kit/kit.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/vconsole.h>
#include <kit/xenbus.h>

#include <xen/io/xenbus.h>

#define LINES 2000
#define SEC 1000000000ull

static void two_streams(void)
{
	if (!check_rc(vconsole_open(1), 0, "vconsole_open(1)"))
		test_finish();
	for (unsigned i = 0; i < LINES; i++) {
		vconsole_printf("E%u the quick brown fox jumps over the lazy dog %08x\n",
				i, i * 2654435761u);
		if (i % 100 == 0)
			printf("O%u\n", i);
	}
	vconsole_write("tail-without-newline", 20);
	check(true, "lines_written", "-");
}

static void hostile(void)
{
	long rc;

	check_rc(xenbus_printf(XBT_NIL, "device/console/1/ring-ref", "%u", 999), 0,
		 "publish_bad_ref");
	check_rc(xenbus_printf(XBT_NIL, "device/console/1/port", "%u", 7), 0,
		 "publish_bad_port");
	check_rc(xenbus_printf(XBT_NIL, "device/console/1/state", "%u",
			       XenbusStateInitialised), 0, "initialised");
	rc = xenbus_wait_state("/local/domain/0/backend/console/1/1/state",
			       XenbusStateClosing, XenbusStateClosed, monotonic_ns() + 10 * SEC);
	check(rc == XenbusStateClosing, "backend_refuses_closing", "state %ld", rc);
	xenbus_printf(XBT_NIL, "device/console/1/state", "%u", XenbusStateClosed);
	rc = xenbus_wait_state("/local/domain/0/backend/console/1/1/state",
			       XenbusStateClosed, XenbusStateClosed, monotonic_ns() + 10 * SEC);
	check(rc == XenbusStateClosed, "backend_closed", "state %ld", rc);
	/* A new start: Initialising again, the backend waits for a ring. */
	xenbus_printf(XBT_NIL, "device/console/1/state", "%u", XenbusStateInitialising);
	rc = xenbus_wait_state("/local/domain/0/backend/console/1/1/state",
			       XenbusStateInitWait, XenbusStateInitWait, monotonic_ns() + 10 * SEC);
	check(rc == XenbusStateInitWait, "backend_initwait_again", "state %ld", rc);
	check_rc(vconsole_open(1), 0, "good_ring_after_bad");
	vconsole_printf("after-hostile\n");
}

int app_main(const char *cmdline)
{
	char buf[64];

	check(xenbus_init() == 0, "xenbus_init", "xenstore ring did not answer");
	check(gnttab_init(1) == 0, "gnttab_init", "setup_table failed");
	if (!strcmp(cmdline, "absent")) {
		check(xenbus_read(XBT_NIL, "device/console/1/backend", buf, sizeof(buf)) < 0,
		      "no_console_1_without_option", "device/console/1 exists");
		check(vconsole_open(1) < 0, "open_fails_cleanly", "-");
	} else if (!strcmp(cmdline, "hostile")) {
		hostile();
	} else {
		two_streams();
	}
	test_finish();
}
