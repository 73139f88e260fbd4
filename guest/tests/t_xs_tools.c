/*
 * Xen's tools on pvisor's xenstore (tests/e2e/t_xenstore_tools.sh): the
 * guest's end of a conversation with xenstore-utils on the host, through
 * pvisor run --xenstore-socket.
 *
 *   1. writes data/guest-hello = "hello-from-guest" (xenstore-read reads it)
 *      and says "XSTOOLS ready"
 *   2. waits (watch on data/host) for data/host, written by xenstore-write,
 *      and echoes its value to data/echo and the console
 *   3. checks dom0's permissions: data/hostonly, which the host made dom0's
 *      alone (xenstore-chmod n0), is unreadable here
 *   4. writes data/tick = 1..N every 100 ms (xenstore-watch sees them) until
 *      data/stop appears, then powers off with the checks' verdict.
 * Everything has a deadline: a host side that never answers fails the test
 * instead of hanging it.
 */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define SEC 1000000000ull

int app_main(const char *cmdline)
{
	uint64_t deadline = monotonic_ns() + 60 * SEC;
	char value[128], buf[128];
	long n = -1;
	unsigned tick;

	check(xenbus_init() == 0, "xenbus_init", "xenstore ring did not answer");
	check_rc(xenbus_write(XBT_NIL, "data/guest-hello", "hello-from-guest"), 0,
		 "write data/guest-hello");
	check_rc(xenbus_watch("data/host", "host"), 0, "watch data/host");
	printf("XSTOOLS ready\n");

	/* The watch fires once at once, then on each change. */
	while (monotonic_ns() < deadline) {
		if (xenbus_wait_watch("host", deadline) < 0)
			break;
		n = xenbus_read(XBT_NIL, "data/host", value, sizeof(value));
		if (n > 0)
			break;
	}
	if (!check(n > 0, "data/host from xenstore-write", "read %ld", n))
		test_finish();
	printf("XSTOOLS got %s\n", value);
	check_rc(xenbus_write(XBT_NIL, "data/echo", value), 0, "write data/echo");

	n = xenbus_read(XBT_NIL, "data/hostonly", buf, sizeof(buf));
	check(n == -XEN_EACCES, "data/hostonly (n0) is not readable by the guest",
	      "read gave %ld", n);
	check(xenbus_write(XBT_NIL, "data/hostonly", "mine") == -XEN_EACCES,
	      "data/hostonly (n0) is not writable by the guest", "write succeeded");

	for (tick = 1; monotonic_ns() < deadline; tick++) {
		if (xenbus_read(XBT_NIL, "data/stop", buf, sizeof(buf)) >= 0)
			break;
		xenbus_printf(XBT_NIL, "data/tick", "%u", tick);
		sleep_ms(100);
	}
	check(monotonic_ns() < deadline, "data/stop from the host", "never came");
	printf("XSTOOLS done after %u ticks\n", tick);
	test_finish();
}
