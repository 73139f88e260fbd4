/*
 * The console through xenstore: pvisor describes the primary console the
 * way Xen's toolstack does (console/ring-ref, console/port), and it must be
 * the same ring and channel start_info gives; a line written through it
 * reaches the terminal like any other.
 */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/xenbus.h>

int app_main(const char *cmdline)
{
	unsigned long ref = ~0ul, port = ~0ul;
	char type[32];

	check(xenbus_init() == 0, "xenbus_init", "xenstore ring did not answer");
	check(xenbus_read_ulong(XBT_NIL, "console/ring-ref", &ref) == 0 &&
		      ref == start_info.console.domU.mfn,
	      "console/ring-ref is start_info's console frame",
	      "ring-ref %lu, start_info %lu", ref,
	      (unsigned long)start_info.console.domU.mfn);
	check(xenbus_read_ulong(XBT_NIL, "console/port", &port) == 0 &&
		      port == start_info.console.domU.evtchn,
	      "console/port is start_info's console channel",
	      "port %lu, start_info %u", port, start_info.console.domU.evtchn);
	check(xenbus_read(XBT_NIL, "console/type", type, sizeof(type)) > 0 &&
		      strcmp(type, "xenconsoled") == 0,
	      "console/type", "got '%s'", type);
	/* The guest may not rewrite the toolstack's entries. */
	check(xenbus_write(XBT_NIL, "console/ring-ref", "0") < 0,
	      "console/ring-ref is read-only for the guest", "write succeeded");
	printf("XSCONSOLE line through the xenstore-described ring\n");
	test_finish();
}
