/*
 * FIFO event channels (issue 15) on the Xen layer (test VM, fake backend):
 * init_control's checks and answers, the 2-level answers before it, event
 * words, queue links, heads and the ready bitmap as Xen's event_fifo.c
 * leaves them, masking, events raised before the array covers a port,
 * priorities, expand_array's limits, and EVTCHNOP_reset back to 2-level.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testvm.h"

#define ARG_PFN 10
#define CB_PFN 11
#define ARRAY_PFN 12 /* 12..15: event array pages */

#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)

static long evtchn_op(struct vcpu *v, unsigned cmd, void *op, size_t len)
{
	uint64_t va = testvm_put(v->vm, ARG_PFN, op, len);
	long rc = testvm_hc(v, __HYPERVISOR_event_channel_op, cmd, va, 0);

	memcpy(op, testvm_frame(v->vm, ARG_PFN), len);
	return rc;
}

static long init_control(struct vcpu *v, uint64_t gfn, uint32_t off,
			 uint32_t vcpu, uint8_t *link_bits)
{
	struct evtchn_init_control op = { .control_gfn = gfn, .offset = off,
					  .vcpu = vcpu };
	long rc = evtchn_op(v, EVTCHNOP_init_control, &op, sizeof(op));

	if (link_bits)
		*link_bits = op.link_bits;
	return rc;
}

static long expand(struct vcpu *v, uint64_t gfn)
{
	struct evtchn_expand_array op = { .array_gfn = gfn };

	return evtchn_op(v, EVTCHNOP_expand_array, &op, sizeof(op));
}

static long set_prio(struct vcpu *v, evtchn_port_t port, uint32_t prio)
{
	struct evtchn_set_priority op = { .port = port, .priority = prio };

	return evtchn_op(v, EVTCHNOP_set_priority, &op, sizeof(op));
}

static evtchn_port_t bind_ipi(struct vcpu *v)
{
	struct evtchn_bind_ipi op = { .vcpu = 0 };

	assert_int_equal(evtchn_op(v, EVTCHNOP_bind_ipi, &op, sizeof(op)), 0);
	return op.port;
}

static void send(struct vcpu *v, evtchn_port_t port)
{
	struct evtchn_send op = { .port = port };

	assert_int_equal(evtchn_op(v, EVTCHNOP_send, &op, sizeof(op)), 0);
}

static event_word_t *word(struct vm *vm, evtchn_port_t port)
{
	return (event_word_t *)testvm_frame(vm, ARRAY_PFN + port / 1024) +
	       port % 1024;
}

static struct evtchn_fifo_control_block *cb(struct vm *vm)
{
	return (struct evtchn_fifo_control_block *)testvm_frame(vm, CB_PFN);
}

/* A VM switched to FIFO with one array page. */
static struct vm *fifo_vm(void)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	uint8_t bits = 0;

	assert_int_equal(init_control(v, CB_PFN, 0, 0, &bits), 0);
	assert_int_equal(bits, EVTCHN_FIFO_LINK_BITS);
	assert_int_equal(expand(v, ARRAY_PFN), 0);
	return vm;
}

static void test_two_level_answers(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	evtchn_port_t p = bind_ipi(v);

	(void)state;
	assert_int_equal(expand(v, ARRAY_PFN), -XEN_EOPNOTSUPP);
	assert_int_equal(set_prio(v, p, 0), -XEN_ENOSYS);
	assert_int_equal(set_prio(v, XEN_NR_EVTCHN, 0), -XEN_EINVAL);
	testvm_free(vm);
}

static void test_init_control_checks(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	const uint32_t last = PAGE_SIZE - sizeof(struct evtchn_fifo_control_block);

	(void)state;
	assert_int_equal(init_control(v, CB_PFN, 0, 1, NULL), -XEN_ENOENT);
	assert_int_equal(init_control(v, CB_PFN, 0, 1u << 31, NULL), -XEN_ENOENT);
	assert_int_equal(init_control(v, CB_PFN, last + 8, 0, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(v, CB_PFN, 4, 0, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(v, CB_PFN, UINT32_MAX, 0, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(v, TESTVM_FRAMES, 0, 0, NULL), -XEN_EINVAL);
	assert_int_equal(init_control(v, vm->xen.shared_info_mfn, 0, 0, NULL),
			 -XEN_EINVAL);
	assert_int_equal(init_control(v, ~0ull, 0, 0, NULL), -XEN_EINVAL);
	assert_false(vm->xen.fifo.active);
	/* The last offset that fits, then a second block: -EINVAL. */
	assert_int_equal(init_control(v, CB_PFN, last, 0, NULL), 0);
	assert_true(vm->xen.fifo.active);
	assert_int_equal(init_control(v, CB_PFN + 1, 0, 0, NULL), -XEN_EINVAL);
	/* The control block's frame is held writable: no page table. */
	assert_int_equal(pagetype_get_page(vm, CB_PFN, true), 0);
	pagetype_put_page(vm, CB_PFN, true);
	testvm_free(vm);
}

static void test_link_and_ready(void **state)
{
	struct vm *vm = fifo_vm();
	struct vcpu *v = vm->vcpus[0];
	struct vcpu_info *vi = xen_vcpu_info(v);
	evtchn_port_t a = bind_ipi(v), b = bind_ipi(v), c = bind_ipi(v);

	(void)state;
	send(v, a);
	assert_int_equal(*word(vm, a), W_PENDING | W_LINKED);
	assert_int_equal(cb(vm)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], a);
	assert_int_equal(cb(vm)->ready, 1u << EVTCHN_FIFO_PRIORITY_DEFAULT);
	assert_int_equal(vi->evtchn_upcall_pending, 1);
	assert_true(evtchn_port_pending(vm, a));
	/* b is linked after a; the head stays. */
	vi->evtchn_upcall_pending = 0;
	send(v, b);
	assert_int_equal(*word(vm, a), W_PENDING | W_LINKED | b);
	assert_int_equal(*word(vm, b), W_PENDING | W_LINKED);
	assert_int_equal(cb(vm)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], a);
	assert_int_equal(vi->evtchn_upcall_pending, 0); /* ready already set */
	/* A second send on a pending port changes nothing. */
	send(v, a);
	assert_int_equal(*word(vm, a), W_PENDING | W_LINKED | b);
	/* The guest consumes both (clears LINKED and PENDING, and ready). */
	*word(vm, a) = 0;
	*word(vm, b) = 0;
	cb(vm)->ready = 0;
	/* The tail (b) is unlinked: c starts a new queue at the head. */
	send(v, c);
	assert_int_equal(*word(vm, b), 0);
	assert_int_equal(cb(vm)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], c);
	assert_int_equal(cb(vm)->ready, 1u << EVTCHN_FIFO_PRIORITY_DEFAULT);
	assert_int_equal(vi->evtchn_upcall_pending, 1);
	testvm_free(vm);
}

static void test_priorities(void **state)
{
	struct vm *vm = fifo_vm();
	struct vcpu *v = vm->vcpus[0];
	evtchn_port_t a = bind_ipi(v), b = bind_ipi(v);

	(void)state;
	assert_int_equal(set_prio(v, a, EVTCHN_FIFO_PRIORITY_MAX), 0);
	assert_int_equal(set_prio(v, b, EVTCHN_FIFO_PRIORITY_MIN), 0);
	assert_int_equal(set_prio(v, b, EVTCHN_FIFO_PRIORITY_MIN + 1), -XEN_EINVAL);
	assert_int_equal(set_prio(v, XEN_MAX_EVTCHN, 0), -XEN_EINVAL);
	send(v, b);
	send(v, a);
	assert_int_equal(cb(vm)->head[0], a);
	assert_int_equal(cb(vm)->head[15], b);
	assert_int_equal(cb(vm)->ready, 1u | (1u << 15));
	/* A freshly allocated port gets the default priority back. */
	assert_int_equal(vm->xen.evtchn[bind_ipi(v)].priority,
			 EVTCHN_FIFO_PRIORITY_DEFAULT);
	testvm_free(vm);
}

static void test_masked_and_unmask(void **state)
{
	struct vm *vm = fifo_vm();
	struct vcpu *v = vm->vcpus[0];
	struct vcpu_info *vi = xen_vcpu_info(v);
	evtchn_port_t a = bind_ipi(v);
	struct evtchn_unmask um = { .port = a };

	(void)state;
	*word(vm, a) = W_MASKED;
	send(v, a);
	assert_int_equal(*word(vm, a), W_MASKED | W_PENDING);
	assert_int_equal(cb(vm)->ready, 0);
	assert_int_equal(vi->evtchn_upcall_pending, 0);
	assert_true(evtchn_port_pending(vm, a)); /* SCHEDOP_poll sees it */
	assert_int_equal(evtchn_op(v, EVTCHNOP_unmask, &um, sizeof(um)), 0);
	assert_int_equal(*word(vm, a), W_PENDING | W_LINKED);
	assert_int_equal(cb(vm)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], a);
	assert_int_equal(vi->evtchn_upcall_pending, 1);
	testvm_free(vm);
}

/* Ports beyond the array: pending kept, raised when expand_array adds
 * their page; a pending 2-level port survives the switch. */
static void test_pending_before_array(void **state)
{
	struct vm *vm = testvm_new();
	struct vcpu *v = vm->vcpus[0];
	evtchn_port_t early = bind_ipi(v), late;

	(void)state;
	send(v, early); /* 2-level pending */
	assert_int_equal(init_control(v, CB_PFN, 0, 0, NULL), 0);
	assert_true(evtchn_port_pending(vm, early));
	assert_int_equal(cb(vm)->ready, 0);
	assert_int_equal(expand(v, ARRAY_PFN), 0);
	assert_int_equal(*word(vm, early), W_PENDING | W_LINKED);
	assert_int_equal(cb(vm)->head[EVTCHN_FIFO_PRIORITY_DEFAULT], early);
	/* Fill page 0, then a port on page 1 before its page exists. */
	do {
		late = bind_ipi(v);
	} while (late < 1024);
	send(v, late);
	assert_true(evtchn_port_pending(vm, late));
	assert_int_equal(expand(v, ARRAY_PFN + 1), 0);
	assert_int_equal(*word(vm, late), W_PENDING | W_LINKED);
	assert_int_equal(*word(vm, early), W_PENDING | W_LINKED | late);
	testvm_free(vm);
}

/* SCHEDOP_poll under FIFO: reads PENDING (a past timeout returns at
 * once; the wait checks the ports under the domain lock). */
static void test_poll(void **state)
{
	struct vm *vm = fifo_vm();
	struct vcpu *v = vm->vcpus[0];
	evtchn_port_t a = bind_ipi(v);
	evtchn_port_t ports[2] = { a, 0xffffff };
	struct sched_poll op = { .nr_ports = 1, .timeout = 1 };
	uint64_t va;

	(void)state;
	va = testvm_put(vm, ARG_PFN + 1, ports, sizeof(ports));
	set_xen_guest_handle(op.ports, (evtchn_port_t *)(uintptr_t)va);
	va = testvm_put(vm, ARG_PFN, &op, sizeof(op));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_sched_op, SCHEDOP_poll, va, 0), 0);
	assert_false(v->xen.blocked);
	/* a pending port first: 0 before the bad one is looked at */
	*word(vm, a) = W_PENDING | W_MASKED;
	op.nr_ports = 2;
	va = testvm_put(vm, ARG_PFN, &op, sizeof(op));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_sched_op, SCHEDOP_poll, va, 0), 0);
	ports[0] = 0xffffff;
	ports[1] = a;
	testvm_put(vm, ARG_PFN + 1, ports, sizeof(ports));
	assert_int_equal(testvm_hc(v, __HYPERVISOR_sched_op, SCHEDOP_poll, va, 0),
			 -XEN_EINVAL);
	testvm_free(vm);
}

static void test_expand_limits(void **state)
{
	struct vm *vm = fifo_vm();
	struct vcpu *v = vm->vcpus[0];

	(void)state;
	assert_int_equal(expand(v, TESTVM_FRAMES + 5), -XEN_EINVAL);
	for (unsigned i = 1; i < XEN_FIFO_ARRAY_PAGES; i++)
		assert_int_equal(expand(v, ARRAY_PFN + i), 0);
	assert_int_equal(expand(v, ARRAY_PFN + XEN_FIFO_ARRAY_PAGES), -XEN_ENOSPC);
	testvm_free(vm);
}

static void test_close_and_busy(void **state)
{
	struct vm *vm = fifo_vm();
	struct vcpu *v = vm->vcpus[0];
	evtchn_port_t a = bind_ipi(v), b;
	struct evtchn_close cl = { .port = a };

	(void)state;
	send(v, a);
	assert_int_equal(evtchn_op(v, EVTCHNOP_close, &cl, sizeof(cl)), 0);
	/* Pending cleared; still linked until the guest unlinks it, so the
	 * port is not handed out again (Xen's evtchn_port_is_busy). */
	assert_int_equal(*word(vm, a), W_LINKED);
	b = bind_ipi(v);
	assert_int_not_equal(b, a);
	*word(vm, a) = 0;
	assert_int_equal(bind_ipi(v), a);
	testvm_free(vm);
}

static void test_reset(void **state)
{
	struct vm *vm = fifo_vm();
	struct vcpu *v = vm->vcpus[0];
	struct evtchn_reset bad = { .dom = 3 }, self = { .dom = DOMID_SELF };
	evtchn_port_t a = bind_ipi(v);
	struct evtchn_status st = { .dom = DOMID_SELF, .port = a };

	(void)state;
	vm->xen.console_port = bind_ipi(v);
	vm->xen.evtchn[vm->xen.console_port].state = EVTCHN_INTERDOMAIN;
	assert_int_equal(evtchn_op(v, EVTCHNOP_reset, &bad, sizeof(bad)),
			 -XEN_ESRCH);
	assert_int_equal(evtchn_op(v, EVTCHNOP_reset, &self, sizeof(self)), 0);
	assert_false(vm->xen.fifo.active);
	assert_int_equal(evtchn_op(v, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	/* pvisor's console channel stays bound. */
	assert_int_equal(vm->xen.evtchn[vm->xen.console_port].state,
			 EVTCHN_INTERDOMAIN);
	assert_int_equal(set_prio(v, 1, 0), -XEN_ENOSYS);
	/* The frames are released: they may become page tables again, and
	 * FIFO can be asked for afresh. */
	assert_int_equal(pagetype_pin(v, ARRAY_PFN, 1), 0);
	assert_int_equal(init_control(v, CB_PFN, 0, 0, NULL), 0);
	testvm_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_level_answers),
		cmocka_unit_test(test_init_control_checks),
		cmocka_unit_test(test_link_and_ready),
		cmocka_unit_test(test_priorities),
		cmocka_unit_test(test_masked_and_unmask),
		cmocka_unit_test(test_pending_before_array),
		cmocka_unit_test(test_poll),
		cmocka_unit_test(test_expand_limits),
		cmocka_unit_test(test_close_and_busy),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
