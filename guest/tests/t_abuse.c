/*
 * Abuse of pvisor's limits and shared pages: oversized trap tables and
 * multicalls, sched_op poll at and past its port limit, timer deadlines at
 * the end of time, garbage indexes in the console ring, event floods at
 * pvisor's own ports, xenstore quotas and a flooded and then corrupted
 * store ring, and vcpu_info registered where it must not be.  Each abuse
 * must get an error, a disconnect or a clean result, and pvisor must stay
 * responsive: the guest finishes and exits 0.
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define NONCANONICAL 0x8000000000000000ul
#define TIME_END 0x7fffffffffffffffl /* the largest system time */

static void dummy_handler(void)
{
}

/* set_trap_table with more entries than vectors: bounded, no crash. */
static void test_trap_table(void)
{
	static struct trap_info table[301];
	long rc;

	for (unsigned i = 0; i < 300; i++) {
		table[i].vector = (uint8_t)(200 + (i % 50)); /* unused vectors */
		table[i].flags = 0;
		table[i].cs = 0;
		table[i].address = (unsigned long)dummy_handler;
	}
	table[300].address = 0;
	rc = HYPERVISOR_set_trap_table(table);
	check(rc == 0 || rc == -XEN_EINVAL, "trap_table_300_entries", "rc %ld",
	      rc);
	table[0].address = NONCANONICAL;
	check_rc(HYPERVISOR_set_trap_table(table), -XEN_EINVAL,
		 "trap_table_noncanonical");
	/* An unterminated table running into unmapped memory. */
	check_rc(HYPERVISOR_set_trap_table((void *)0x200000000000ul),
		 -XEN_EFAULT, "trap_table_unmapped");
}

/* 512 entries of iret (refused one by one), 513 refused as a whole. */
static void test_multicall(void)
{
	static struct multicall_entry mc[513];
	bool all = true;
	long rc;

	for (unsigned i = 0; i < ARRAY_SIZE(mc); i++) {
		memset(&mc[i], 0, sizeof(mc[i]));
		mc[i].op = __HYPERVISOR_iret;
		mc[i].result = 0x5a5a;
	}
	rc = HYPERVISOR_multicall(mc, 512);
	check_rc(rc, 0, "multicall_512_iret");
	for (unsigned i = 0; i < 512; i++)
		if ((long)mc[i].result != -XEN_EINVAL)
			all = false;
	check(all, "multicall_512_iret_each_einval", "some entry ran");
	check_rc(HYPERVISOR_multicall(mc, 513), -XEN_EINVAL,
		 "multicall_513_entries");
	check_rc(HYPERVISOR_multicall(mc, 0xffffffffu), -XEN_EINVAL,
		 "multicall_huge_count");
	for (unsigned i = 0; i < 512; i++) {
		mc[i].op = __HYPERVISOR_multicall; /* nesting */
		mc[i].args[0] = (unsigned long)mc;
		mc[i].args[1] = 512;
	}
	rc = HYPERVISOR_multicall(mc, 512);
	check(rc == 0 && (long)mc[511].result == -XEN_EINVAL,
	      "multicall_512_nested", "rc %ld result %ld", rc,
	      (long)mc[511].result);
}

/* Clears every pending bit, so that a poll really has to wait. */
static void clear_all_pending(void)
{
	struct shared_info *s = HYPERVISOR_shared_info;

	for (unsigned i = 0; i < ARRAY_SIZE(s->evtchn_pending); i++)
		__atomic_store_n(&s->evtchn_pending[i], 0, __ATOMIC_SEQ_CST);
}

static long poll(evtchn_port_t *ports, unsigned nr, uint64_t timeout)
{
	struct sched_poll p = { .nr_ports = nr, .timeout = timeout };

	set_xen_guest_handle(p.ports, ports);
	return HYPERVISOR_sched_op(SCHEDOP_poll, &p);
}

static void test_poll(void)
{
	static evtchn_port_t ports[129];
	unsigned long flags;
	uint64_t t0, took;
	long rc;

	for (unsigned i = 0; i < ARRAY_SIZE(ports); i++)
		ports[i] = i;
	flags = local_irq_save();
	/* 128 ports (the limit), a timeout 5 ms ahead: times out. */
	clear_all_pending();
	t0 = monotonic_ns();
	rc = poll(ports, 128, t0 + 5000000);
	took = monotonic_ns() - t0;
	check(rc == 0 && took < 2000000000ull, "poll_128_ports", "rc %ld %lu ns",
	      rc, (unsigned long)took);
	check_rc(poll(ports, 129, 1), -XEN_EINVAL, "poll_129_ports");
	check_rc(poll(ports, 0xffffffffu, 1), -XEN_EINVAL, "poll_huge_count");
	check_rc(poll((void *)0x200000000000ul, 4, 1), -XEN_EFAULT,
		 "poll_unmapped_ports");
	/* First in the list: Xen looks at the ports in order and returns 0
	 * at a pending one before it reaches a bad one. */
	ports[0] = 0xffffffu;
	check_rc(poll(ports, 8, 1), -XEN_EINVAL, "poll_port_out_of_range");
	ports[0] = 0;
	/* The end of time as the timeout; the timer (among ports 0..127)
	 * ends the wait 20 ms later. */
	clear_all_pending();
	t0 = monotonic_ns();
	HYPERVISOR_set_timer_op(t0 + 20000000);
	rc = poll(ports, 128, TIME_END);
	took = monotonic_ns() - t0;
	check(rc == 0 && took < 5000000000ull, "poll_timeout_end_of_time",
	      "rc %ld after %lu ns", rc, (unsigned long)took);
	/* A timeout in the past returns at once. */
	rc = poll(ports, 1, 1);
	check_rc(rc, 0, "poll_timeout_past");
	local_irq_restore(flags);
}

/* Timer deadlines at the end of time: accepted or refused, never an
 * overflow in pvisor's event loop; timers work afterwards. */
static void test_timers(void)
{
	struct vcpu_set_singleshot_timer st = { .timeout_abs_ns = TIME_END };
	uint64_t t0;
	long rc;

	rc = HYPERVISOR_set_timer_op(TIME_END);
	check(rc == 0 || rc == -XEN_EINVAL, "set_timer_end_of_time", "rc %ld",
	      rc);
	sleep_ms(2); /* the event loop computes its next wake-up */
	rc = HYPERVISOR_set_timer_op(TIME_END - 1000);
	check(rc == 0 || rc == -XEN_EINVAL, "set_timer_near_end_of_time",
	      "rc %ld", rc);
	sleep_ms(2);
	check_rc(HYPERVISOR_set_timer_op(~0ul), -XEN_EINVAL,
		 "set_timer_negative");
	rc = HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &st);
	check(rc == 0 || rc == -XEN_EINVAL, "singleshot_end_of_time", "rc %ld",
	      rc);
	sleep_ms(2);
	t0 = monotonic_ns();
	sleep_ms(10);
	check(monotonic_ns() - t0 >= 10000000ull, "timers_still_work",
	      "slept %lu ns", (unsigned long)(monotonic_ns() - t0));
}

static void cons_send(void)
{
	struct evtchn_send s = { .port = start_info.console.domU.evtchn };

	HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
}

/* Garbage indexes in the console ring: pvisor resynchronises. */
static void test_console_ring(void)
{
	struct xencons_interface *r = mfn_to_virt(start_info.console.domU.mfn);
	XENCONS_RING_IDX prod = READ_ONCE(r->out_prod);
	static char line[128];
	unsigned long flags = local_irq_save();

	/* Producer far past the consumer. */
	WRITE_ONCE(r->out_prod, prod + 100000);
	cons_send();
	check(READ_ONCE(r->out_cons) == READ_ONCE(r->out_prod),
	      "console_out_prod_garbage_resync", "cons %u prod %u",
	      READ_ONCE(r->out_cons), READ_ONCE(r->out_prod));
	/* Consumer (pvisor's index) moved ahead of the producer. */
	prod = READ_ONCE(r->out_prod);
	WRITE_ONCE(r->out_cons, prod + 7);
	cons_send();
	check(READ_ONCE(r->out_cons) == prod, "console_out_cons_garbage_resync",
	      "cons %u prod %u", READ_ONCE(r->out_cons), prod);
	/* Input indexes are pvisor's to produce: garbage there is ignored. */
	WRITE_ONCE(r->in_cons, READ_ONCE(r->in_prod) + 5000);
	cons_send();
	WRITE_ONCE(r->in_cons, READ_ONCE(r->in_prod));
	local_irq_restore(flags);
	/* A flood: 256 KiB through the ring. */
	memset(line, '.', sizeof(line) - 1);
	line[sizeof(line) - 2] = '\n';
	for (unsigned i = 0; i < 2048; i++)
		console_write(line, sizeof(line) - 1);
	check(true, "console_flood_256k", "-");
	/* 16 KiB console_io (the limit) and one byte more. */
	check_rc(HYPERVISOR_console_io(CONSOLEIO_write, 16385, line),
		 -XEN_EINVAL, "console_io_over_limit");
}

/* Tight send loops at the ports pvisor serves itself. */
static void test_event_flood(void)
{
	evtchn_port_t ports[] = { start_info.console.domU.evtchn,
				  start_info.store_evtchn };
	uint64_t t0 = monotonic_ns();
	bool all_ok = true;

	for (unsigned p = 0; p < ARRAY_SIZE(ports); p++) {
		struct evtchn_send s = { .port = ports[p] };

		for (unsigned i = 0; i < 20000; i++)
			if (HYPERVISOR_event_channel_op(EVTCHNOP_send, &s))
				all_ok = false;
	}
	check(all_ok, "event_flood_40000_sends", "a send failed");
	printf("event flood took %lu ms\n",
	       (unsigned long)((monotonic_ns() - t0) / 1000000));
	/* The store still answers. */
	{
		char buf[64];

		check(xenbus_read(XBT_NIL, "domid", buf, sizeof(buf)) > 0,
		      "xenstore_after_event_flood", "no answer");
	}
}

/* Quotas of the store: nodes, watches, transactions. */
static void test_xenstore_quotas(void)
{
	xenbus_transaction_t t[16];
	char path[64];
	unsigned i, ntx = 0;
	int rc = 0;

	for (i = 0; i < 1200; i++) {
		snprintf(path, sizeof(path), "data/abuse/n%u", i);
		rc = xenbus_write(XBT_NIL, path, "x");
		if (rc)
			break;
	}
	check(rc == -XEN_ENOSPC && i <= 1000, "xenstore_node_quota",
	      "rc %d after %u nodes", rc, i);
	check_rc(xenbus_rm(XBT_NIL, "data/abuse"), 0, "xenstore_rm_flood");
	check_rc(xenbus_write(XBT_NIL, "data/abuse-after", "1"), 0,
		 "xenstore_write_after_quota");

	for (i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "data/w%u", i);
		rc = xenbus_watch(path, path);
		if (rc)
			break;
	}
	check(rc < 0 && i <= 128, "xenstore_watch_quota", "rc %d after %u",
	      rc, i);
	for (unsigned k = 0; k < i; k++) {
		snprintf(path, sizeof(path), "data/w%u", k);
		xenbus_unwatch(path, path);
	}

	for (ntx = 0; ntx < ARRAY_SIZE(t); ntx++) {
		rc = xenbus_transaction_start(&t[ntx]);
		if (rc)
			break;
	}
	check(rc < 0 && ntx <= 10, "xenstore_transaction_quota",
	      "rc %d after %u", rc, ntx);
	for (unsigned k = 0; k < ntx; k++)
		xenbus_transaction_end(t[k], true);
	check_rc(xenbus_transaction_start(&t[0]), 0,
		 "xenstore_transaction_after_quota");
	xenbus_transaction_end(t[0], true);
}

/* Appends one request (header + payload) to the store ring if it fits. */
static bool xs_push(struct xenstore_domain_interface *r, uint32_t type,
		    const char *payload, uint32_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = 0x4242, .len = len };
	XENSTORE_RING_IDX prod = r->req_prod;
	const char *parts[2] = { (const char *)&h, payload };
	uint32_t sizes[2] = { sizeof(h), len };

	if (XENSTORE_RING_SIZE - (prod - READ_ONCE(r->req_cons)) <
	    sizeof(h) + len)
		return false;
	for (int p = 0; p < 2; p++)
		for (uint32_t i = 0; i < sizes[p]; i++)
			r->req[MASK_XENSTORE_IDX(prod++)] = parts[p][i];
	wmb();
	WRITE_ONCE(r->req_prod, prod);
	return true;
}

static void xs_kick(void)
{
	struct evtchn_send s = { .port = start_info.store_evtchn };

	HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
}

/* A raw flood of requests whose replies are never read, then garbage. */
static void test_xenstore_ring(void)
{
	struct xenstore_domain_interface *r = mfn_to_virt(start_info.store_mfn);
	unsigned long flags = local_irq_save();
	unsigned pushed = 0;
	uint64_t deadline;

	/* Discard what is there, then push until pvisor stops taking more
	 * (it must stop: replies are not read). */
	WRITE_ONCE(r->rsp_cons, READ_ONCE(r->rsp_prod));
	for (unsigned round = 0; round < 200; round++) {
		while (xs_push(r, XS_DIRECTORY, "/", 2))
			pushed++;
		xs_kick();
	}
	check(READ_ONCE(r->req_prod) != READ_ONCE(r->req_cons) && pushed < 20000,
	      "xenstore_flood_backpressure", "pushed %u, ring drained",
	      pushed);
	/* Reading the replies lets the rest through. */
	deadline = monotonic_ns() + 2000000000ull;
	while (READ_ONCE(r->req_prod) != READ_ONCE(r->req_cons) &&
	       monotonic_ns() < deadline) {
		WRITE_ONCE(r->rsp_cons, READ_ONCE(r->rsp_prod));
		xs_kick();
	}
	check(READ_ONCE(r->req_prod) == READ_ONCE(r->req_cons),
	      "xenstore_flood_drains", "req %u/%u", READ_ONCE(r->req_cons),
	      READ_ONCE(r->req_prod));
	WRITE_ONCE(r->rsp_cons, READ_ONCE(r->rsp_prod));
	/* A header announcing a giant payload: the store must disconnect
	 * with an error in the ring, not wait or read past it. */
	{
		struct xsd_sockmsg h = { .type = XS_WRITE, .len = 0xffff0000u };
		XENSTORE_RING_IDX prod = r->req_prod;

		for (unsigned i = 0; i < sizeof(h); i++)
			r->req[MASK_XENSTORE_IDX(prod++)] = ((char *)&h)[i];
		wmb();
		WRITE_ONCE(r->req_prod, prod);
		xs_kick();
	}
	check(READ_ONCE(r->error) != 0, "xenstore_giant_message_disconnects",
	      "error %u", READ_ONCE(r->error));
	/* Garbage indexes after that change nothing. */
	WRITE_ONCE(r->req_prod, READ_ONCE(r->req_cons) + 0x100000);
	WRITE_ONCE(r->rsp_cons, 0xdeadbeef);
	xs_kick();
	check(true, "xenstore_garbage_indexes", "-");
	local_irq_restore(flags);
}

static long reg_vcpu_info(unsigned long mfn, unsigned offset)
{
	struct vcpu_register_vcpu_info info = { .mfn = mfn, .offset = offset };

	return HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &info);
}

/* vcpu_info may live only in a writable RAM page of the guest. */
static void test_vcpu_info_bad(void)
{
	unsigned long l1_pfn = pt_alloc_table(1);
	unsigned long shinfo_mfn = start_info.shared_info >> PAGE_SHIFT;
	void *page = alloc_page();

	check_rc(reg_vcpu_info(shinfo_mfn, 0), -XEN_EINVAL,
		 "vcpu_info_on_shared_info");
	check_rc(reg_vcpu_info(nr_ram_pages + 4096, 0), -XEN_EINVAL,
		 "vcpu_info_beyond_memory");
	check_rc(reg_vcpu_info(~0ul, 0), -XEN_EINVAL, "vcpu_info_mfn_huge");
	check_rc(reg_vcpu_info(virt_to_mfn(page), PAGE_SIZE - 8), -XEN_EINVAL,
		 "vcpu_info_crosses_page");
	check_rc(reg_vcpu_info(virt_to_mfn(page), 4), -XEN_EINVAL,
		 "vcpu_info_misaligned");
	if (check(l1_pfn != 0, "vcpu_info_pt_alloc", "no page table"))
		check_rc(reg_vcpu_info(pfn_to_mfn(l1_pfn), 0), -XEN_EINVAL,
			 "vcpu_info_on_l1_table");
}

/*
 * Last (it moves this vCPU's vcpu_info): a good registration holds the
 * page writable, so it can no longer become a page table.
 */
static void test_vcpu_info_then_pin(void)
{
	void *page = alloc_page();
	unsigned long mfn = virt_to_mfn(page);
	struct mmuext_op op = { .cmd = MMUEXT_PIN_L1_TABLE };
	long rc;

	local_irq_disable(); /* the mask is copied: no upcalls from now on */
	check_rc(reg_vcpu_info(mfn, 0), 0, "vcpu_info_register_ok");
	check_rc(reg_vcpu_info(mfn, 64), -XEN_EINVAL, "vcpu_info_register_twice");
	/* Drop our own writable mapping; the registration's stays. */
	rc = HYPERVISOR_update_va_mapping((unsigned long)page,
					  (mfn << PAGE_SHIFT) | L1_PROT_RO,
					  UVMF_INVLPG);
	check_rc(rc, 0, "vcpu_info_page_remap_ro");
	op.arg1.mfn = mfn;
	rc = HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
	check(rc < 0, "vcpu_info_page_cannot_be_pinned", "rc %ld", rc);
}

int app_main(const char *cmdline)
{
	printf("t_abuse on %s\n", kit_backend());
	test_trap_table();
	test_multicall();
	test_poll();
	test_timers();
	test_console_ring();
	test_event_flood();
	test_xenstore_quotas();
	test_xenstore_ring();
	test_vcpu_info_bad();
	test_vcpu_info_then_pin();
	test_finish();
}
