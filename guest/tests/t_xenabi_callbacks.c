/*
 * Xen ABI conformance, callbacks (issue 14 item 2): a Xen-targeted 64-bit
 * PV kernel registers every callback type at boot, syscall32, sysenter and
 * NMI included, and Xen accepts them all.  Checks Xen's return codes for
 * CALLBACKOP_register / CALLBACKOP_unregister (pv/callback.c) and for the
 * old set_callbacks, and that events still arrive afterwards.
 */
#include <kit/console.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/test.h>
#include <kit/time.h>

extern char hypervisor_callback[], failsafe_callback[];

/* Never entered: pvisor runs no compat-mode code and raises no NMI. */
static void entry_stub(void)
{
	panic("a compat/NMI callback was entered");
}

static long reg(unsigned type, unsigned long addr, unsigned flags)
{
	struct callback_register cb = {
		.type = (uint16_t)type,
		.flags = (uint16_t)flags,
		.address = addr,
	};

	return HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
}

static long unreg(unsigned type)
{
	struct callback_unregister cb = { .type = (uint16_t)type };

	return HYPERVISOR_callback_op(CALLBACKOP_unregister, &cb);
}

int app_main(const char *cmdline)
{
	unsigned long stub = (unsigned long)entry_stub;
	uint64_t t0, dt;

	printf("t_xenabi_callbacks on %s\n", kit_backend());

	/* What a Xen-targeted kernel registers at boot (Linux's
	 * xen_enable_sysenter/xen_enable_syscall, Mini-OS, NetBSD). */
	check_rc(reg(CALLBACKTYPE_syscall32, stub, 0), 0, "register_syscall32");
	check_rc(reg(CALLBACKTYPE_sysenter, stub, CALLBACKF_mask_events), 0,
		 "register_sysenter");
	check_rc(reg(CALLBACKTYPE_nmi, stub, 0), 0, "register_nmi");
	check_rc(reg(CALLBACKTYPE_syscall32, stub, CALLBACKF_mask_events), 0,
		 "register_syscall32_again");
	check_rc(reg(CALLBACKTYPE_sysenter, 0, 0), 0, "register_sysenter_zero");

	/* Xen's validation. */
	check_rc(reg(CALLBACKTYPE_syscall32, 0x0000800000000000ul, 0),
		 -XEN_EINVAL, "register_noncanonical_syscall32");
	check_rc(reg(CALLBACKTYPE_nmi, 0xffff700000000000ul, 0), -XEN_EINVAL,
		 "register_noncanonical_nmi");
	check_rc(reg(CALLBACKTYPE_event, 0x8000000000000000ul, 0), -XEN_EINVAL,
		 "register_noncanonical_event");
	check_rc(reg(99, stub, 0), -XEN_ENOSYS, "register_unknown_type");

	/* Unregistering: only the NMI callback can go. */
	check_rc(unreg(CALLBACKTYPE_nmi), 0, "unregister_nmi");
	check_rc(unreg(CALLBACKTYPE_nmi), 0, "unregister_nmi_twice");
	check_rc(unreg(CALLBACKTYPE_event), -XEN_EINVAL, "unregister_event");
	check_rc(unreg(CALLBACKTYPE_failsafe), -XEN_EINVAL, "unregister_failsafe");
	check_rc(unreg(CALLBACKTYPE_syscall), -XEN_EINVAL, "unregister_syscall");
	check_rc(unreg(CALLBACKTYPE_syscall32), -XEN_EINVAL,
		 "unregister_syscall32");
	check_rc(unreg(CALLBACKTYPE_sysenter), -XEN_EINVAL, "unregister_sysenter");
	check_rc(unreg(99), -XEN_ENOSYS, "unregister_unknown_type");
	check_rc(HYPERVISOR_callback_op(7, NULL), -XEN_ENOSYS, "unknown_cmd");
	check_rc(reg(CALLBACKTYPE_nmi, stub, 0), 0, "register_nmi_again");

	/* The old interface: errors are ignored, the result is always 0. */
	check_rc(HYPERVISOR_set_callbacks((unsigned long)hypervisor_callback,
					  (unsigned long)failsafe_callback, 0),
		 0, "set_callbacks");
	check_rc(HYPERVISOR_set_callbacks(0x0000800000000000ul,
					  (unsigned long)failsafe_callback, 0),
		 0, "set_callbacks_noncanonical_ignored");

	/* The event callback survived all of it: a timer upcall arrives. */
	t0 = monotonic_ns();
	sleep_ms(5);
	dt = monotonic_ns() - t0;
	check(dt >= 1000000 && dt < 1000000000ull, "events_still_delivered",
	      "slept %lu us", (unsigned long)(dt / 1000));
	test_finish();
}
