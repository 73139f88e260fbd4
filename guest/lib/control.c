/* The toolstack's shutdown and sysrq requests (see kit/control.h). */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define TOKEN_SHUTDOWN "kit-control-shutdown"
#define TOKEN_SYSRQ "kit-control-sysrq"

static void do_shutdown(void)
{
	char req[32];
	long n = xenbus_read(XBT_NIL, "control/shutdown", req, sizeof(req));

	if (n <= 0)
		return; /* absent, empty (cleared), or too long to be ours */
	/* Acknowledge, as Linux does: the toolstack sees it was taken. */
	xenbus_write(XBT_NIL, "control/shutdown", "");
	if (!strcmp(req, "poweroff") || !strcmp(req, "halt")) {
		printf("kit: control/shutdown: %s\n", req);
		kit_poweroff();
	}
	if (!strcmp(req, "suspend")) {
		long rc = kit_suspend();

		printf("kit: control/shutdown: suspend: %s\n",
		       rc == 0 ? "resumed in a new domain" :
		       rc == 1 ? "cancelled, resumed" : "failed");
		return;
	}
	if (!strcmp(req, "reboot")) {
		printf("kit: control/shutdown: reboot\n");
		kit_reboot();
	}
	printf("kit: control/shutdown: '%s' is not supported; ignored\n", req);
}

static void do_sysrq(void)
{
	char key[8];
	long n = xenbus_read(XBT_NIL, "control/sysrq", key, sizeof(key));

	if (n <= 0 || key[0] == '\0')
		return;
	xenbus_write(XBT_NIL, "control/sysrq", "");
	printf("kit: sysrq '%c'\n", key[0]);
	if (key[0] == 'o')
		kit_poweroff();
	if (key[0] == 'b')
		kit_reboot();
	if (key[0] == 'c')
		panic("sysrq 'c'");
}

/* Runs forever: acts on events, sleeps until the store notifies (a 1 s
 * backstop covers a notification taken by another thread's wait). */
static void control_thread(void *arg)
{
	for (;;) {
		unsigned long flags;
		int a = xenbus_poll_watch(TOKEN_SHUTDOWN), b;

		if (a == 0)
			do_shutdown();
		b = xenbus_poll_watch(TOKEN_SYSRQ);
		if (b == 0)
			do_sysrq();
		flags = local_irq_save();
		if (a == -XEN_EBUSY || b == -XEN_EBUSY)
			thread_block(monotonic_ns() + 1000000ull); /* its turn first */
		else if (!xenbus_input_pending())
			thread_block(monotonic_ns() + 1000000000ull);
		local_irq_restore(flags);
	}
}

int kit_control_start(void)
{
	struct thread *t;
	int rc = xenbus_init();

	if (rc == 0)
		rc = xenbus_write(XBT_NIL, "control/feature-poweroff", "1");
	if (rc == 0)
		rc = xenbus_write(XBT_NIL, "control/feature-reboot", "1");
	if (rc == 0)
		rc = xenbus_write(XBT_NIL, "control/feature-suspend", "1");
	if (rc == 0)
		rc = xenbus_watch("control/shutdown", TOKEN_SHUTDOWN);
	if (rc == 0)
		rc = xenbus_watch("control/sysrq", TOKEN_SYSRQ);
	if (rc < 0)
		return rc;
	t = thread_create("control", control_thread, NULL);
	if (!t)
		return -XEN_ENOMEM;
	xenbus_wake_on_event(t);
	return 0;
}
