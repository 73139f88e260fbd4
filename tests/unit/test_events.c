/* Event channels: the port state machine, the 2-level pending/mask bits and
 * Xen's upcall rules, and the errors a guest gets for bad requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testvm.h"

#define ARG_PFN 10 /* where hypercall argument structs go */

static long evtchn_op(struct vcpu *v, unsigned cmd, void *op, size_t len)
{
	uint64_t va = testvm_put(v->vm, ARG_PFN, op, len);
	long rc = testvm_hc(v, __HYPERVISOR_event_channel_op, cmd, va, 0);

	memcpy(op, testvm_frame(v->vm, ARG_PFN), len);
	return rc;
}

static bool pending(struct vm *vm, unsigned port)
{
	return evtchn_port_pending(vm, port);
}

static void test_bind_virq_and_fire(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };

	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
	assert_true(bv.port > 0);
	/* Binding the same VIRQ twice is -EEXIST. */
	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_virq, &bv, sizeof(bv)),
			 -XEN_EEXIST);
	evtchn_send_virq(v, VIRQ_TIMER);
	assert_true(pending(vm, bv.port));
	assert_int_equal(vi->evtchn_upcall_pending, 1);
	assert_true(vi->evtchn_pending_sel & (1ul << (bv.port / 64)));
	/* Masked by the boot state: pending but not deliverable. */
	assert_false(evtchn_upcall_deliverable(v));
	vi->evtchn_upcall_mask = 0;
	assert_true(evtchn_upcall_deliverable(v));
	testvm_free(vm);
}

static void test_masked_port_does_not_raise_upcall(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct shared_info *s = xen_shared_info(vm);
	struct evtchn_bind_ipi bi = { .vcpu = 0 };
	struct evtchn_send snd;
	struct evtchn_unmask um;

	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_ipi, &bi, sizeof(bi)), 0);
	s->evtchn_mask[0] |= 1ul << bi.port;
	snd.port = bi.port;
	assert_int_equal(evtchn_op(v, EVTCHNOP_send, &snd, sizeof(snd)), 0);
	assert_true(pending(vm, bi.port));
	assert_int_equal(vi->evtchn_upcall_pending, 0);
	/* Unmasking a pending port raises the upcall (Xen's evtchn_unmask). */
	um.port = bi.port;
	assert_int_equal(evtchn_op(v, EVTCHNOP_unmask, &um, sizeof(um)), 0);
	assert_int_equal(vi->evtchn_upcall_pending, 1);
	assert_false(s->evtchn_mask[0] & (1ul << bi.port));
	testvm_free(vm);
}

static void test_loopback_interdomain(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
	struct evtchn_bind_interdomain bi;
	struct evtchn_send snd;
	struct evtchn_status st;

	assert_int_equal(evtchn_op(v, EVTCHNOP_alloc_unbound, &au, sizeof(au)), 0);
	st = (struct evtchn_status){ .dom = DOMID_SELF, .port = au.port };
	assert_int_equal(evtchn_op(v, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	bi = (struct evtchn_bind_interdomain){ .remote_dom = DOMID_SELF,
					       .remote_port = au.port };
	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_interdomain, &bi, sizeof(bi)), 0);
	snd.port = bi.local_port;
	assert_int_equal(evtchn_op(v, EVTCHNOP_send, &snd, sizeof(snd)), 0);
	assert_true(pending(vm, au.port));
	assert_false(pending(vm, bi.local_port));
	st = (struct evtchn_status){ .dom = DOMID_SELF, .port = au.port };
	assert_int_equal(evtchn_op(v, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
	assert_int_equal(st.u.interdomain.port, bi.local_port);
	testvm_free(vm);
}

static void test_close_frees_port(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
	struct evtchn_close cl;
	struct evtchn_status st;

	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
	cl.port = bv.port;
	assert_int_equal(evtchn_op(v, EVTCHNOP_close, &cl, sizeof(cl)), 0);
	st = (struct evtchn_status){ .dom = DOMID_SELF, .port = bv.port };
	assert_int_equal(evtchn_op(v, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	/* Closing again fails; the VIRQ can be bound again. */
	assert_int_equal(evtchn_op(v, EVTCHNOP_close, &cl, sizeof(cl)), -XEN_EINVAL);
	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
	testvm_free(vm);
}

static void test_backend_port_calls_service(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct evtchn_send snd = { .port = vm->xen.console_port };
	struct xencons_interface *r = gmem_ptr(&vm->mem, 0, 4096);

	/* The console service drains its ring when the guest notifies. */
	vm->xen.console_mfn = 0;
	memcpy(r->out, "hi\n", 3);
	r->out_prod = 3;
	assert_int_equal(evtchn_op(v, EVTCHNOP_send, &snd, sizeof(snd)), 0);
	assert_int_equal(r->out_cons, 3);
	testvm_free(vm);
}

/* A reboot's fresh domain: the guest's ports go, the console's and
 * xenstore's stay bound to their services, and FIFO is off again. */
static void test_reset_domain(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
	struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = 0 };
	struct evtchn_status st;
	void (*console_send)(void *) = vm->xen.evtchn[vm->xen.console_port].on_send;

	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
	assert_int_equal(evtchn_op(v, EVTCHNOP_alloc_unbound, &au, sizeof(au)), 0);
	evtchn_reset_domain(vm);
	st = (struct evtchn_status){ .dom = DOMID_SELF, .port = bv.port };
	assert_int_equal(evtchn_op(v, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	st = (struct evtchn_status){ .dom = DOMID_SELF, .port = au.port };
	assert_int_equal(evtchn_op(v, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	assert_int_equal(v->xen.virq_port[VIRQ_TIMER], 0);
	assert_int_equal(vm->xen.evtchn[vm->xen.console_port].state, EVTCHN_INTERDOMAIN);
	assert_ptr_equal(vm->xen.evtchn[vm->xen.console_port].on_send, console_send);
	assert_int_equal(vm->xen.evtchn[vm->xen.store_port].state, EVTCHN_INTERDOMAIN);
	assert_false(vm->xen.fifo.active);
	/* The timer VIRQ binds again in the new domain. */
	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
	testvm_free(vm);
}

/* Requests a guest gets errors for: one row each. */
struct bad_request {
	const char *name;
	unsigned cmd;
	uint32_t words[6];
	long expect;
};

static const struct bad_request bad_requests[] = {
	{ "send to port 0", EVTCHNOP_send, { 0 }, -XEN_EINVAL },
	{ "send to port past the table", EVTCHNOP_send, { XEN_NR_EVTCHN }, -XEN_EINVAL },
	{ "send to a huge port", EVTCHNOP_send, { 0xffffffff }, -XEN_EINVAL },
	{ "unmask past the table", EVTCHNOP_unmask, { 100000 }, -XEN_EINVAL },
	{ "close a free port", EVTCHNOP_close, { 77 }, -XEN_EINVAL },
	{ "bind virq out of range", EVTCHNOP_bind_virq, { NR_VIRQS, 0 }, -XEN_EINVAL },
	{ "bind virq to a missing vcpu", EVTCHNOP_bind_virq, { VIRQ_TIMER, 5 }, -XEN_ENOENT },
	{ "bind global virq to vcpu 1", EVTCHNOP_bind_virq, { VIRQ_CONSOLE, 1 }, -XEN_ENOENT },
	{ "bind ipi to a missing vcpu", EVTCHNOP_bind_ipi, { 9 }, -XEN_ENOENT },
	{ "alloc unbound for another domain", EVTCHNOP_alloc_unbound, { 5 | (DOMID_SELF << 16) }, -XEN_ESRCH },
	{ "bind interdomain to another domain", EVTCHNOP_bind_interdomain, { 3, 1 }, -XEN_ESRCH },
	{ "status of another domain", EVTCHNOP_status, { 4 }, -XEN_ESRCH },
	{ "unknown command", 99, { 0 }, -XEN_ENOSYS },
	{ "FIFO control block not RAM", EVTCHNOP_init_control, { TESTVM_FRAMES, 0, 0, 0 }, -XEN_EINVAL },
	{ "FIFO control block on a missing vcpu", EVTCHNOP_init_control, { 1, 0, 0, 3 }, -XEN_ENOENT },
	{ "expand_array under 2-level", EVTCHNOP_expand_array, { 1, 0 }, -XEN_EOPNOTSUPP },
	{ "set_priority under 2-level", EVTCHNOP_set_priority, { 1, 0 }, -XEN_ENOSYS },
	{ "reset another domain", EVTCHNOP_reset, { 4 }, -XEN_ESRCH },
};

static void test_bad_requests(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];

	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad_request *b = &bad_requests[i];
		uint32_t words[6];
		long rc;

		memcpy(words, b->words, sizeof(words));
		rc = evtchn_op(v, b->cmd, words, sizeof(words));
		if (rc != b->expect)
			fail_msg("%s: got %ld, want %ld", b->name, rc, b->expect);
	}
	testvm_free(vm);
}

static void test_bad_pointers(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	/* Unmapped, non-canonical, and Xen's own range. */
	const uint64_t bad[] = { 0x1000, 0x800000000000ul, 0xffff800000000000ul,
				 TESTVM_VA + 4096ul * 600 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(testvm_hc(v, __HYPERVISOR_event_channel_op,
					   EVTCHNOP_send, bad[i], 0),
				 -XEN_EFAULT);
		assert_int_equal(testvm_hc(v, __HYPERVISOR_event_channel_op,
					   EVTCHNOP_alloc_unbound, bad[i], 0),
				 -XEN_EFAULT);
	}
	testvm_free(vm);
}

static void test_port_exhaustion(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	struct evtchn_alloc_unbound au;
	long rc = 0;
	unsigned n = 0;

	while (n < XEN_NR_EVTCHN + 10) {
		au = (struct evtchn_alloc_unbound){ .dom = DOMID_SELF, .remote_dom = 0 };
		rc = evtchn_op(v, EVTCHNOP_alloc_unbound, &au, sizeof(au));
		if (rc)
			break;
		n++;
	}
	assert_int_equal(rc, -XEN_ENOSPC);
	assert_true(n < XEN_NR_EVTCHN);
	testvm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_virq_and_fire),
		cmocka_unit_test(test_masked_port_does_not_raise_upcall),
		cmocka_unit_test(test_loopback_interdomain),
		cmocka_unit_test(test_close_frees_port),
		cmocka_unit_test(test_backend_port_calls_service),
		cmocka_unit_test(test_reset_domain),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_bad_pointers),
		cmocka_unit_test(test_port_exhaustion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
