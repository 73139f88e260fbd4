/*
 * FIFO event channels (issue 15) against Xen's answers: the 2-level ABI
 * until EVTCHNOP_init_control succeeds (expand_array -EOPNOTSUPP,
 * set_priority -ENOSYS); init_control's checks (vCPU -ENOENT; offset past
 * the page or unaligned, a frame that is no RAM or a page table, a second
 * block for the vCPU: -EINVAL); an event bound before the switch still
 * arrives; 2000 IPI ports bound and sent, each delivered once; priorities
 * (highest first, FIFO within one); a masked event held and linked on
 * unmask; expand_array's limits; EVTCHNOP_reset back to 2-level.
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/test.h>
#include <kit/time.h>

#define NPORTS 2000

static uint16_t hits[KIT_NR_EVTCHN];
static evtchn_port_t order[16];
static unsigned norder;

static void count(evtchn_port_t port, void *data)
{
	hits[port]++;
}

static void record(evtchn_port_t port, void *data)
{
	if (norder < ARRAY_SIZE(order))
		order[norder++] = port;
}

static long init_control(uint64_t gfn, uint32_t offset, uint32_t vcpu)
{
	struct evtchn_init_control op = {
		.control_gfn = gfn, .offset = offset, .vcpu = vcpu,
	};

	return HYPERVISOR_event_channel_op(EVTCHNOP_init_control, &op);
}

static long expand(uint64_t gfn)
{
	struct evtchn_expand_array op = { .array_gfn = gfn };

	return HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, &op);
}

static long set_priority(evtchn_port_t port, uint32_t prio)
{
	struct evtchn_set_priority op = { .port = port, .priority = prio };

	return HYPERVISOR_event_channel_op(EVTCHNOP_set_priority, &op);
}

static long poll2(evtchn_port_t a, evtchn_port_t b)
{
	evtchn_port_t ports[2] = { a, b };
	struct sched_poll p = { .nr_ports = 2, .timeout = 1 };

	set_xen_guest_handle(p.ports, ports);
	return HYPERVISOR_sched_op(SCHEDOP_poll, &p);
}

/* SCHEDOP_poll as Xen's do_poll: port by port, a pending port returns 0
 * before a later port that does not exist is looked at. */
static void poll_order(evtchn_port_t port, const char *abi)
{
	char name[48];

	evtchn_port_t one[1] = { port };
	struct sched_poll wait = { .nr_ports = 1,
				   .timeout = monotonic_ns() + 1000000 };

	/* Nothing pending: the 1 ms timeout ends the wait. */
	set_xen_guest_handle(wait.ports, one);
	snprintf(name, sizeof(name), "%s_poll_times_out", abi);
	check_rc(HYPERVISOR_sched_op(SCHEDOP_poll, &wait), 0, name);
	hits[port] = 0;
	evtchn_mask(port);
	evtchn_send(port);
	snprintf(name, sizeof(name), "%s_poll_pending_then_bad_port", abi);
	check_rc(poll2(port, 0xffffff), 0, name);
	snprintf(name, sizeof(name), "%s_poll_bad_port_then_pending", abi);
	check_rc(poll2(0xffffff, port), -XEN_EINVAL, name);
	evtchn_unmask(port);
	snprintf(name, sizeof(name), "%s_poll_port_delivered_on_unmask", abi);
	check(hits[port] == 1, name, "hits %u", hits[port]);
}

static void two_level_answers(evtchn_port_t early)
{
	void *page = alloc_page();
	unsigned long mfn = virt_to_mfn(page);

	check_rc(expand(mfn), -XEN_EOPNOTSUPP, "2l_expand_array_eopnotsupp");
	check_rc(set_priority(early, 0), -XEN_ENOSYS, "2l_set_priority_enosys");
	check_rc(init_control(mfn, 0, 1), -XEN_ENOENT, "init_control_bad_vcpu");
	check_rc(init_control(mfn, PAGE_SIZE - 64, 0), -XEN_EINVAL,
		 "init_control_offset_past_page");
	check_rc(init_control(mfn, 4, 0), -XEN_EINVAL,
		 "init_control_offset_unaligned");
	check_rc(init_control(1ul << 40, 0, 0), -XEN_EINVAL,
		 "init_control_frame_not_ram");
	check_rc(init_control(virt_to_mfn(pt_root()), 0, 0), -XEN_EINVAL,
		 "init_control_frame_is_page_table");
	/* Still 2-level after the refusals. */
	check_rc(set_priority(early, 0), -XEN_ENOSYS, "2l_after_refusals");
	hits[early] = 0;
	evtchn_send(early);
	check(hits[early] == 1, "2l_event_delivered", "hits %u", hits[early]);
	poll_order(early, "2l");
	free_page(page);
}

static void switch_to_fifo(evtchn_port_t early)
{
	void *page = alloc_page();

	check_rc(evtchn_fifo_init(), 0, "init_control_ok");
	check(evtchn_fifo_link_bits() == EVTCHN_FIFO_LINK_BITS,
	      "init_control_link_bits", "link_bits %u", evtchn_fifo_link_bits());
	check_rc(init_control(virt_to_mfn(page), 0, 0), -XEN_EINVAL,
		 "init_control_twice_einval");
	hits[early] = 0;
	evtchn_send(early);
	check(hits[early] == 1, "fifo_early_port_delivered", "hits %u",
	      hits[early]);
	poll_order(early, "fifo");
	free_page(page);
}

static void many_ports(void)
{
	static evtchn_port_t ports[NPORTS];
	unsigned bound = 0, once = 0, total = 0;
	unsigned long flags;

	for (unsigned i = 0; i < NPORTS; i++) {
		long p = evtchn_bind_ipi(count, NULL);

		if (p <= 0)
			break;
		ports[bound++] = (evtchn_port_t)p;
	}
	check(bound == NPORTS, "fifo_bind_2000_ports", "bound %u (last rc?)",
	      bound);
	check(bound && ports[bound - 1] >= 1024, "fifo_ports_beyond_1024",
	      "highest %u", bound ? ports[bound - 1] : 0);
	flags = local_irq_save();
	for (unsigned i = 0; i < bound; i++) {
		hits[ports[i]] = 0;
		evtchn_send(ports[i]);
	}
	local_irq_restore(flags);
	for (unsigned i = 0; i < bound; i++) {
		once += hits[ports[i]] == 1;
		total += hits[ports[i]];
	}
	check(once == bound && total == bound, "fifo_2000_sends_each_once",
	      "%u of %u once, %u deliveries", once, bound, total);
	/* And again, without masking upcalls. */
	total = 0;
	for (unsigned i = 0; i < bound; i++) {
		evtchn_send(ports[i]);
		total += hits[ports[i]] == 2;
	}
	check(total == bound, "fifo_2000_sends_unmasked", "%u of %u", total,
	      bound);
	for (unsigned i = 0; i < bound; i++)
		evtchn_close(ports[i]);
}

static long bind_rec(void)
{
	return evtchn_bind_ipi(record, NULL);
}

static void priorities(void)
{
	evtchn_port_t a = (evtchn_port_t)bind_rec(), b = (evtchn_port_t)bind_rec();
	evtchn_port_t c = (evtchn_port_t)bind_rec();
	evtchn_port_t d[3] = { (evtchn_port_t)bind_rec(),
			       (evtchn_port_t)bind_rec(),
			       (evtchn_port_t)bind_rec() };
	unsigned long flags;
	event_word_t *w;

	check_rc(set_priority(a, EVTCHN_FIFO_PRIORITY_MIN), 0, "set_priority_min");
	check_rc(set_priority(b, EVTCHN_FIFO_PRIORITY_DEFAULT), 0,
		 "set_priority_default");
	check_rc(set_priority(c, EVTCHN_FIFO_PRIORITY_MAX), 0, "set_priority_max");
	check_rc(set_priority(a, 16), -XEN_EINVAL, "set_priority_16_einval");
	check_rc(set_priority(5000, 0), -XEN_EINVAL, "set_priority_bad_port");

	norder = 0;
	flags = local_irq_save();
	evtchn_send(a);
	evtchn_send(b);
	evtchn_send(c);
	local_irq_restore(flags);
	check(norder == 3 && order[0] == c && order[1] == b && order[2] == a,
	      "priority_order_high_first", "%u events: %u %u %u (want %u %u %u)",
	      norder, order[0], order[1], order[2], c, b, a);

	for (unsigned i = 0; i < 3; i++)
		set_priority(d[i], 3);
	norder = 0;
	flags = local_irq_save();
	evtchn_send(d[1]);
	evtchn_send(d[2]);
	evtchn_send(d[0]);
	local_irq_restore(flags);
	check(norder == 3 && order[0] == d[1] && order[1] == d[2] &&
		      order[2] == d[0],
	      "same_priority_fifo_order", "%u events: %u %u %u", norder,
	      order[0], order[1], order[2]);

	/* Masked: pending, not linked, until unmasked. */
	norder = 0;
	evtchn_mask(a);
	evtchn_send(a);
	w = evtchn_fifo_word(a);
	check(norder == 0 && w && (*w >> EVTCHN_FIFO_PENDING & 1) &&
		      !(*w >> EVTCHN_FIFO_LINKED & 1),
	      "masked_event_pending_unlinked", "delivered %u word %#x", norder,
	      w ? *w : 0);
	evtchn_unmask(a);
	check(norder == 1 && order[0] == a, "masked_event_on_unmask",
	      "delivered %u", norder);
}

static void array_limits(void)
{
	long rc;
	unsigned added = 0;

	check_rc(expand(1ul << 40), -XEN_EINVAL, "expand_array_not_ram");
	check_rc(expand(virt_to_mfn(pt_root())), -XEN_EINVAL,
		 "expand_array_page_table");
	/* Up to pvisor's 4096 ports (4 pages), then -ENOSPC. */
	do {
		rc = expand(virt_to_mfn(alloc_page()));
		added += rc == 0;
	} while (rc == 0 && added < 8);
	check(rc == -XEN_ENOSPC, "expand_array_enospc", "rc %ld after %u pages",
	      rc, added);
}

static void reset(evtchn_port_t early)
{
	struct evtchn_reset bad = { .dom = 5 }, self = { .dom = DOMID_SELF };
	struct evtchn_status st = { .dom = DOMID_SELF, .port = early };

	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &bad), -XEN_ESRCH,
		 "reset_other_domain_esrch");
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &self), 0,
		 "reset_self");
	check_rc(HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), 0,
		 "status_after_reset");
	check(st.status == EVTCHNSTAT_closed, "reset_closed_ports", "status %u",
	      st.status);
	check_rc(set_priority(early, 0), -XEN_ENOSYS, "reset_back_to_2l");
	check_rc(expand(0), -XEN_EOPNOTSUPP, "reset_no_event_array");
}

int app_main(const char *cmdline)
{
	long early;

	printf("t_evtchn_fifo on %s\n", kit_backend());
	early = evtchn_bind_ipi(count, NULL);
	check(early > 0, "bind_ipi_2l", "rc %ld", early);
	two_level_answers((evtchn_port_t)early);
	switch_to_fifo((evtchn_port_t)early);
	many_ports();
	priorities();
	array_limits();
	reset((evtchn_port_t)early);
	test_finish();
}
