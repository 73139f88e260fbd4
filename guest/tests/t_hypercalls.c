/*
 * Hostile hypercall arguments: unknown numbers, pointers outside guest
 * memory or into unmapped VAs, bad ports and commands, and a multicall with
 * bad entries.  Expected values are what Xen returns.
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/test.h>

/* Guest addresses no hypercall may touch. */
static unsigned long unmapped_va(void)
{
	/* Far above all RAM (mapped from VIRT_BASE) but canonical. */
	return 0x200000000000ul;
}

#define NONCANONICAL 0x8000000000000000ul
#define WRAPPING 0xfffffffffffff000ul

static void test_unknown(void)
{
	check_rc(HC(60, 0, 0, 0, 0, 0), -XEN_ENOSYS, "unknown_hypercall_60");
	check_rc(HC(127, 0, 0, 0, 0, 0), -XEN_ENOSYS, "unknown_hypercall_127");
	check_rc(HC(__HYPERVISOR_xen_version, XENVER_version, 0, 0, 0, 0) > 0,
		 1, "xen_version_ok");
}

static void test_console_io(void)
{
	static const struct {
		const char *name;
		unsigned long ptr, len;
	} rows[] = {
		{ "console_io_unmapped", 0, 16 },
		{ "console_io_noncanonical", NONCANONICAL, 16 },
		{ "console_io_wrapping", WRAPPING, 0x2000 },
		{ "console_io_null", 0, 16 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(rows); i++) {
		unsigned long ptr = rows[i].ptr;

		if (i == 0)
			ptr = unmapped_va();
		check_rc(HYPERVISOR_console_io(CONSOLEIO_write, (int)rows[i].len,
					       (const char *)ptr),
			 -XEN_EFAULT, rows[i].name);
	}
	check_rc(HYPERVISOR_console_io(CONSOLEIO_write, 3, "ok\n"), 0,
		 "console_io_write_ok");
	check_rc(HYPERVISOR_console_io(99, 1, "x"), -XEN_ENOSYS,
		 "console_io_bad_cmd");
}

static void test_xen_version(void)
{
	check_rc(HYPERVISOR_xen_version(XENVER_extraversion,
					(void *)unmapped_va()),
		 -XEN_EFAULT, "xen_version_extraversion_unmapped");
	check_rc(HYPERVISOR_xen_version(XENVER_commandline,
					(void *)NONCANONICAL),
		 -XEN_EFAULT, "xen_version_commandline_noncanonical");
	/* A buffer that wraps past the top of the address space. */
	check_rc(HYPERVISOR_xen_version(XENVER_capabilities,
					(void *)(WRAPPING + 0xf00)),
		 -XEN_EFAULT, "xen_version_capabilities_wrapping");
}

static void test_events(void)
{
	struct evtchn_send send;
	struct evtchn_close cl;
	struct evtchn_bind_virq bv;
	struct evtchn_unmask um;

	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_send,
					     (void *)unmapped_va()),
		 -XEN_EFAULT, "evtchn_send_unmapped_arg");
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_send,
					     (void *)NONCANONICAL),
		 -XEN_EFAULT, "evtchn_send_noncanonical_arg");

	send.port = 100000;
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_send, &send),
		 -XEN_EINVAL, "evtchn_send_port_out_of_range");
	send.port = 1000; /* in range, never bound */
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_send, &send),
		 -XEN_EINVAL, "evtchn_send_port_unbound");
	cl.port = 100000;
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl),
		 -XEN_EINVAL, "evtchn_close_port_out_of_range");
	um.port = 100000;
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &um),
		 -XEN_EINVAL, "evtchn_unmask_port_out_of_range");
	bv.virq = NR_VIRQS + 5;
	bv.vcpu = 0;
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &bv),
		 -XEN_EINVAL, "evtchn_bind_virq_bad_virq");
	bv.virq = VIRQ_TIMER; /* already bound by the kit */
	bv.vcpu = 0;
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &bv),
		 -XEN_EEXIST, "evtchn_bind_virq_twice");
	check_rc(HYPERVISOR_event_channel_op(9999, &send), -XEN_ENOSYS,
		 "evtchn_bad_cmd");
}

static void test_sched_vcpu(void)
{
	check_rc(HYPERVISOR_sched_op(99, NULL), -XEN_ENOSYS, "sched_op_bad_cmd");
	check_rc(HYPERVISOR_sched_op(SCHEDOP_shutdown, (void *)unmapped_va()),
		 -XEN_EFAULT, "sched_op_shutdown_unmapped_arg");
	check_rc(HYPERVISOR_vcpu_op(99, 0, NULL), -XEN_ENOSYS,
		 "vcpu_op_bad_cmd");
	check_rc(HYPERVISOR_vcpu_op(VCPUOP_is_up, 4096, NULL), -XEN_ENOENT,
		 "vcpu_op_bad_vcpu");
	check_rc(HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0,
				    (void *)unmapped_va()),
		 -XEN_EFAULT, "vcpu_op_timer_unmapped_arg");
}

static void test_multicall(void)
{
	static struct multicall_entry mc[5];
	long rc;

	for (unsigned i = 0; i < ARRAY_SIZE(mc); i++) {
		mc[i].op = __HYPERVISOR_xen_version;
		mc[i].args[0] = XENVER_version;
		mc[i].args[1] = 0;
		mc[i].result = 0x5a5a;
	}
	mc[1].op = 60;                               /* unknown */
	mc[2].op = __HYPERVISOR_console_io;           /* bad pointer */
	mc[2].args[0] = CONSOLEIO_write;
	mc[2].args[1] = 16;
	mc[2].args[2] = unmapped_va();
	mc[3].op = __HYPERVISOR_sched_op;             /* bad command */
	mc[3].args[0] = 99;

	rc = HYPERVISOR_multicall(mc, ARRAY_SIZE(mc));
	check_rc(rc, 0, "multicall_returns_0");
	check((long)mc[0].result > 0, "multicall_entry0_ok", "result %ld",
	      (long)mc[0].result);
	check_rc((long)mc[1].result, -XEN_ENOSYS, "multicall_entry1_enosys");
	check_rc((long)mc[2].result, -XEN_EFAULT, "multicall_entry2_efault");
	check_rc((long)mc[3].result, -XEN_ENOSYS, "multicall_entry3_enosys");
	check((long)mc[4].result > 0, "multicall_entry4_ok", "result %ld",
	      (long)mc[4].result);
	check_rc(HYPERVISOR_multicall((void *)unmapped_va(), 4), -XEN_EFAULT,
		 "multicall_unmapped_list");
}

int app_main(const char *cmdline)
{
	printf("t_hypercalls on %s\n", kit_backend());
	test_unknown();
	test_console_io();
	test_xen_version();
	test_events();
	test_sched_vcpu();
	test_multicall();
	test_finish();
}
