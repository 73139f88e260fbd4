/*
 * Event channels: the 2-level ABI (shared_info evtchn_pending/evtchn_mask,
 * vcpu_info evtchn_pending_sel/evtchn_upcall_pending), the switch to the
 * FIFO ABI (xen/event_fifo.c) and EVTCHNOP_*.
 * The port table is protected by vm->xen.lock; the bits in shared memory are
 * changed with atomics because the guest changes them concurrently.
 */
#include "xen/events.h"

#include <errno.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/event_fifo.h"
#include "xen/hypercall.h"
#include "xen/shared.h"

#define BITS_PER_WORD 64

static bool bit_test(const xen_ulong_t *words, unsigned bit)
{
	return (__atomic_load_n(&words[bit / BITS_PER_WORD], __ATOMIC_ACQUIRE) >>
		(bit % BITS_PER_WORD)) & 1;
}

static bool bit_test_and_set(xen_ulong_t *words, unsigned bit)
{
	xen_ulong_t mask = 1ul << (bit % BITS_PER_WORD);

	return __atomic_fetch_or(&words[bit / BITS_PER_WORD], mask,
				 __ATOMIC_SEQ_CST) & mask;
}

static void bit_clear(xen_ulong_t *words, unsigned bit)
{
	__atomic_fetch_and(&words[bit / BITS_PER_WORD],
			   ~(1ul << (bit % BITS_PER_WORD)), __ATOMIC_SEQ_CST);
}

void evtchn_init(struct vm *vm)
{
	/* All zeros is EVTCHN_FREE: the pages of ports never used are never
	 * touched (the table is 224 KiB). */
	vm->xen.evtchn[0].state = EVTCHN_RESERVED;
}

void evtchn_reset(struct vm *vm)
{
	pthread_mutex_lock(&vm->xen.lock);
	evtchn_fifo_destroy_locked(vm);
	pthread_mutex_unlock(&vm->xen.lock);
	for (unsigned p = 0; p < XEN_MAX_EVTCHN; p++)
		vm->xen.evtchn[p] = (struct evtchn){ .state = EVTCHN_FREE };
	evtchn_init(vm);
}

void vcpu_wake(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->xen.lock);
	if (v->xen.blocked)
		pthread_cond_broadcast(&vm->xen.wake);
	pthread_mutex_unlock(&vm->xen.lock);
	/* Not blocked: it may be in guest code, so make it look at its
	 * vcpu_info before it continues.  Its own thread looks anyway before
	 * it re-enters the guest. */
	if (vm->backend && v->backend_state && v->running &&
	    !pthread_equal(v->thread, pthread_self()))
		vm->backend->vcpu_kick(v);
}

void vcpu_mark_events_pending(struct vcpu *v)
{
	struct vcpu_info *vi = xen_vcpu_info(v);

	if (!vi)
		return;
	if (__atomic_exchange_n(&vi->evtchn_upcall_pending, 1,
				__ATOMIC_SEQ_CST) == 0)
		vcpu_wake(v);
}

/* The FIFO ABI is in use (read without the lock: it changes only in
 * init_control and reset, and either answer is safe for a racing event). */
static bool fifo_active(struct vm *vm)
{
	return __atomic_load_n(&vm->xen.fifo.active, __ATOMIC_ACQUIRE);
}

/* Ports of the ABI in use: 1..limit-1. */
static evtchn_port_t port_limit(struct vm *vm)
{
	return fifo_active(vm) ? XEN_MAX_EVTCHN : XEN_NR_EVTCHN;
}

/* Xen's evtchn_port_set_pending: the FIFO or the 2-level way. */
static void set_pending(struct vm *vm, evtchn_port_t port, unsigned vcpu_id)
{
	struct shared_info *s = xen_shared_info(vm);
	struct vcpu *v;
	struct vcpu_info *vi;

	if (!s || vcpu_id >= vm->nr_vcpus || !(v = vm->vcpus[vcpu_id]))
		return;
	if (fifo_active(vm)) {
		bool was_pending;

		if (evtchn_fifo_set_pending(vm, port, vcpu_id, &was_pending))
			vcpu_mark_events_pending(v);
		else if (!was_pending && v->xen.blocked)
			vcpu_wake(v); /* SCHEDOP_poll waits for masked ports */
		return;
	}
	if (port >= XEN_NR_EVTCHN)
		return;
	if (bit_test_and_set(s->evtchn_pending, port))
		return;
	vi = xen_vcpu_info(v);
	if (!vi)
		return;
	if (!bit_test(s->evtchn_mask, port) &&
	    !bit_test_and_set(&vi->evtchn_pending_sel, port / BITS_PER_WORD))
		vcpu_mark_events_pending(v);
	else if (v->xen.blocked)
		vcpu_wake(v); /* SCHEDOP_poll waits for masked ports too */
}

void evtchn_notify_guest(struct vm *vm, evtchn_port_t port)
{
	unsigned vcpu_id;
	bool bound;

	if (port == 0 || port >= XEN_MAX_EVTCHN)
		return;
	pthread_mutex_lock(&vm->xen.lock);
	vcpu_id = vm->xen.evtchn[port].vcpu;
	/* A port the guest closed (or reset) takes no more events. */
	bound = vm->xen.evtchn[port].state == EVTCHN_INTERDOMAIN;
	pthread_mutex_unlock(&vm->xen.lock);
	if (bound)
		set_pending(vm, port, vcpu_id);
}

void evtchn_send_virq(struct vcpu *v, unsigned virq)
{
	int port;

	if (virq >= NR_VIRQS)
		return;
	pthread_mutex_lock(&v->vm->xen.lock);
	port = v->xen.virq_port[virq];
	pthread_mutex_unlock(&v->vm->xen.lock);
	if (port > 0)
		set_pending(v->vm, (evtchn_port_t)port, v->id);
}

bool evtchn_upcall_deliverable(struct vcpu *v)
{
	struct vcpu_info *vi = xen_vcpu_info(v);

	return vi &&
	       __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_ACQUIRE);
}

bool evtchn_port_pending(struct vm *vm, evtchn_port_t port)
{
	struct shared_info *s = xen_shared_info(vm);

	if (fifo_active(vm))
		return evtchn_fifo_is_pending(vm, port);
	return s && port < XEN_NR_EVTCHN && bit_test(s->evtchn_pending, port);
}

bool evtchn_port_valid(struct vm *vm, evtchn_port_t port)
{
	return port < port_limit(vm);
}

/* Finds a free port (under FIFO, not one the guest has yet to unlink, as
 * Xen's evtchn_port_is_busy) and gives it the default priority; caller
 * holds the lock.  Returns 0 if none. */
static evtchn_port_t get_free_port(struct vm *vm)
{
	bool fifo = vm->xen.fifo.active;
	evtchn_port_t lim = fifo ? XEN_MAX_EVTCHN : XEN_NR_EVTCHN;

	for (evtchn_port_t p = 1; p < lim; p++) {
		if (vm->xen.evtchn[p].state != EVTCHN_FREE ||
		    (fifo && evtchn_fifo_is_busy_locked(vm, p)))
			continue;
		evtchn_fifo_port_init_locked(vm, p);
		return p;
	}
	return 0;
}

/* Takes a free port and gives it state *init; 0 if none is free. */
static evtchn_port_t claim_port(struct vm *vm, const struct evtchn *init)
{
	evtchn_port_t p;

	pthread_mutex_lock(&vm->xen.lock);
	p = get_free_port(vm);
	if (p) {
		struct evtchn *ch = &vm->xen.evtchn[p];

		ch->state = init->state;
		ch->vcpu = init->vcpu;
		ch->virq = init->virq;
		ch->remote_dom = init->remote_dom;
		ch->remote_port = init->remote_port;
		ch->on_send = init->on_send;
		ch->opaque = init->opaque;
		ch->last_vcpu = init->vcpu;
	}
	pthread_mutex_unlock(&vm->xen.lock);
	return p;
}

int evtchn_alloc_backend_port(struct vm *vm, void (*on_send)(void *),
			      void *opaque)
{
	evtchn_port_t p = claim_port(vm, &(struct evtchn){
		.state = EVTCHN_INTERDOMAIN,
		.remote_dom = 0,
		.on_send = on_send,
		.opaque = opaque,
	});

	return p ? (int)p : -ENOSPC;
}

/* Completes an allocating op: stores the new port p (0: none was free) in
 * the guest's copy of the request and writes it back. */
static long reply_port(struct vcpu *v, uint64_t arg, void *op, size_t len,
		       evtchn_port_t *field, evtchn_port_t p)
{
	if (!p)
		return -XEN_ENOSPC;
	*field = p;
	return hc_write(v, arg, op, len) ? -XEN_EFAULT : 0;
}

static bool port_valid(evtchn_port_t port)
{
	return port > 0 && port < XEN_MAX_EVTCHN;
}

int evtchn_bind_backend(struct vm *vm, evtchn_port_t port,
			void (*on_send)(void *), void *opaque)
{
	struct evtchn *ch;
	int rc = 0;

	if (!port_valid(port))
		return -EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	ch = &vm->xen.evtchn[port];
	if (ch->state != EVTCHN_UNBOUND || ch->remote_dom != 0) {
		rc = -EINVAL;
	} else {
		ch->state = EVTCHN_INTERDOMAIN;
		ch->remote_port = 0;
		ch->on_send = on_send;
		ch->opaque = opaque;
	}
	pthread_mutex_unlock(&vm->xen.lock);
	return rc;
}

void evtchn_unbind_backend(struct vm *vm, evtchn_port_t port,
			   void (*on_send)(void *), void *opaque)
{
	struct evtchn *ch;

	if (!port_valid(port))
		return;
	pthread_mutex_lock(&vm->xen.lock);
	ch = &vm->xen.evtchn[port];
	if (ch->state == EVTCHN_INTERDOMAIN && ch->remote_dom == 0 &&
	    ch->on_send == on_send && ch->opaque == opaque) {
		ch->state = EVTCHN_UNBOUND;
		ch->on_send = NULL;
		ch->opaque = NULL;
	}
	pthread_mutex_unlock(&vm->xen.lock);
}

static long op_alloc_unbound(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_alloc_unbound op;
	evtchn_port_t p;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.dom != DOMID_SELF)
		return -XEN_ESRCH; /* pvisor runs one domain */
	if (op.remote_dom != DOMID_SELF && op.remote_dom != 0)
		return -XEN_ESRCH;
	p = claim_port(vm, &(struct evtchn){
		.state = EVTCHN_UNBOUND,
		.remote_dom = op.remote_dom,
	});
	return reply_port(v, arg, &op, sizeof(op), &op.port, p);
}

static long op_bind_virq(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_bind_virq op;
	struct vcpu *target;
	evtchn_port_t p;
	long rc = 0;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.virq >= NR_VIRQS)
		return -XEN_EINVAL;
	if (op.vcpu >= vm->nr_vcpus || !(target = vm->vcpus[op.vcpu]))
		return -XEN_ENOENT;
	/* Global VIRQs are bound on vCPU 0 only, as in Xen. */
	if (op.virq != VIRQ_TIMER && op.virq != VIRQ_DEBUG && op.vcpu != 0)
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	if (target->xen.virq_port[op.virq]) {
		rc = -XEN_EEXIST;
	} else if (!(p = get_free_port(vm))) {
		rc = -XEN_ENOSPC;
	} else {
		vm->xen.evtchn[p] = (struct evtchn){
			.state = EVTCHN_VIRQ,
			.vcpu = op.vcpu,
			.virq = op.virq,
		};
		evtchn_fifo_port_init_locked(vm, p);
		target->xen.virq_port[op.virq] = (int)p;
		op.port = p;
	}
	pthread_mutex_unlock(&vm->xen.lock);
	if (rc)
		return rc;
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return 0;
}

static long op_bind_ipi(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_bind_ipi op;
	evtchn_port_t p;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.vcpu >= vm->nr_vcpus || !vm->vcpus[op.vcpu])
		return -XEN_ENOENT;
	p = claim_port(vm, &(struct evtchn){
		.state = EVTCHN_IPI,
		.vcpu = op.vcpu,
	});
	return reply_port(v, arg, &op, sizeof(op), &op.port, p);
}

/* Loopback interdomain binding: the guest binds to its own unbound port
 * (remote_dom DOMID_SELF), which Xen allows. */
static long op_bind_interdomain(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_bind_interdomain op;
	evtchn_port_t p, r;
	long rc = 0;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.remote_dom != DOMID_SELF)
		return -XEN_ESRCH;
	r = op.remote_port;
	if (!port_valid(r))
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	if (vm->xen.evtchn[r].state != EVTCHN_UNBOUND ||
	    vm->xen.evtchn[r].remote_dom != DOMID_SELF) {
		rc = -XEN_EINVAL;
	} else if (!(p = get_free_port(vm))) {
		rc = -XEN_ENOSPC;
	} else {
		vm->xen.evtchn[p] = (struct evtchn){
			.state = EVTCHN_INTERDOMAIN,
			.remote_dom = DOMID_SELF,
			.remote_port = r,
		};
		evtchn_fifo_port_init_locked(vm, p);
		vm->xen.evtchn[r].state = EVTCHN_INTERDOMAIN;
		vm->xen.evtchn[r].remote_port = p;
		op.local_port = p;
	}
	pthread_mutex_unlock(&vm->xen.lock);
	if (rc)
		return rc;
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return 0;
}

static long op_send(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_send op;
	struct evtchn ch;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!port_valid(op.port))
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	ch = vm->xen.evtchn[op.port];
	pthread_mutex_unlock(&vm->xen.lock);
	switch (ch.state) {
	case EVTCHN_INTERDOMAIN:
		if (ch.remote_dom == DOMID_SELF)
			set_pending(vm, ch.remote_port,
				    vm->xen.evtchn[ch.remote_port].vcpu);
		else if (ch.on_send)
			ch.on_send(ch.opaque);
		return 0;
	case EVTCHN_IPI:
		set_pending(vm, op.port, ch.vcpu);
		return 0;
	case EVTCHN_UNBOUND:
		return 0; /* Xen drops sends on unbound ports */
	case EVTCHN_VIRQ:
	default:
		return -XEN_EINVAL;
	}
}

static long op_close(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_close op;
	struct evtchn *ch;
	long rc = 0;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!port_valid(op.port))
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	ch = &vm->xen.evtchn[op.port];
	switch (ch->state) {
	case EVTCHN_FREE:
		rc = -XEN_EINVAL;
		break;
	case EVTCHN_VIRQ:
		if (ch->vcpu < vm->nr_vcpus && vm->vcpus[ch->vcpu])
			vm->vcpus[ch->vcpu]->xen.virq_port[ch->virq] = 0;
		break;
	case EVTCHN_INTERDOMAIN:
		if (ch->remote_dom == DOMID_SELF) {
			struct evtchn *peer = &vm->xen.evtchn[ch->remote_port];

			peer->state = EVTCHN_UNBOUND;
			peer->remote_port = 0;
		}
		break;
	default:
		break;
	}
	if (!rc) {
		if (vm->xen.fifo.active)
			evtchn_fifo_port_close_locked(vm, op.port);
		*ch = (struct evtchn){ .state = EVTCHN_FREE };
	}
	pthread_mutex_unlock(&vm->xen.lock);
	return rc;
}

static long op_status(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_status op;
	struct evtchn ch;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.dom != DOMID_SELF)
		return -XEN_ESRCH;
	if (!evtchn_port_valid(vm, op.port))
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	ch = vm->xen.evtchn[op.port];
	pthread_mutex_unlock(&vm->xen.lock);
	op.vcpu = ch.vcpu;
	switch (ch.state) {
	case EVTCHN_FREE:
		op.status = EVTCHNSTAT_closed;
		break;
	case EVTCHN_RESERVED:
		op.status = EVTCHNSTAT_closed;
		break;
	case EVTCHN_UNBOUND:
		op.status = EVTCHNSTAT_unbound;
		op.u.unbound.dom = ch.remote_dom;
		break;
	case EVTCHN_INTERDOMAIN:
		op.status = EVTCHNSTAT_interdomain;
		op.u.interdomain.dom = ch.remote_dom == DOMID_SELF ? 0 : ch.remote_dom;
		op.u.interdomain.port = ch.remote_port;
		break;
	case EVTCHN_VIRQ:
		op.status = EVTCHNSTAT_virq;
		op.u.virq = ch.virq;
		break;
	case EVTCHN_IPI:
		op.status = EVTCHNSTAT_ipi;
		break;
	}
	if (hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return 0;
}

/* Xen's evtchn_2l_unmask: an unmasked pending port raises the upcall. */
static long op_unmask(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct shared_info *s = xen_shared_info(vm);
	struct evtchn_unmask op;
	struct vcpu *target;
	struct vcpu_info *vi;
	unsigned vcpu_id;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!evtchn_port_valid(vm, op.port) || !s)
		return -XEN_EINVAL;
	if (fifo_active(vm)) {
		evtchn_fifo_unmask(vm, op.port);
		return 0;
	}
	pthread_mutex_lock(&vm->xen.lock);
	vcpu_id = vm->xen.evtchn[op.port].vcpu;
	pthread_mutex_unlock(&vm->xen.lock);
	if (vcpu_id >= vm->nr_vcpus || !(target = vm->vcpus[vcpu_id]))
		return -XEN_EINVAL;
	bit_clear(s->evtchn_mask, op.port);
	vi = xen_vcpu_info(target);
	if (vi && bit_test(s->evtchn_pending, op.port) &&
	    !bit_test_and_set(&vi->evtchn_pending_sel, op.port / BITS_PER_WORD))
		vcpu_mark_events_pending(target);
	return 0;
}

static long op_bind_vcpu(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_bind_vcpu op;
	long rc = 0;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!port_valid(op.port))
		return -XEN_EINVAL;
	if (op.vcpu >= vm->nr_vcpus || !vm->vcpus[op.vcpu])
		return -XEN_ENOENT;
	pthread_mutex_lock(&vm->xen.lock);
	switch (vm->xen.evtchn[op.port].state) {
	case EVTCHN_UNBOUND:
	case EVTCHN_INTERDOMAIN:
		vm->xen.evtchn[op.port].vcpu = op.vcpu;
		break;
	case EVTCHN_VIRQ:
		/* Per-vCPU VIRQs cannot move (Xen: -EINVAL). */
		rc = vm->xen.evtchn[op.port].virq == VIRQ_TIMER ? -XEN_EINVAL : 0;
		if (!rc)
			vm->xen.evtchn[op.port].vcpu = op.vcpu;
		break;
	default:
		rc = -XEN_EINVAL;
	}
	pthread_mutex_unlock(&vm->xen.lock);
	return rc;
}

static long op_init_control(struct vcpu *v, uint64_t arg)
{
	struct evtchn_init_control op;
	long rc;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	rc = evtchn_fifo_init_control(v, &op);
	if (!rc && hc_write(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return rc;
}

static long op_expand_array(struct vcpu *v, uint64_t arg)
{
	struct evtchn_expand_array op;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	return evtchn_fifo_expand_array(v->vm, op.array_gfn);
}

static long op_set_priority(struct vcpu *v, uint64_t arg)
{
	struct evtchn_set_priority op;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (!evtchn_port_valid(v->vm, op.port))
		return -XEN_EINVAL;
	return evtchn_fifo_set_priority(v->vm, op.port, op.priority);
}

/* Closes every port but the console's and xenstore's toolstack ports;
 * fresh: every kept port is as new (vCPU 0, default priority). */
static void reset_ports_locked(struct vm *vm, bool fresh)
{
	for (evtchn_port_t p = 1; p < XEN_MAX_EVTCHN; p++) {
		struct evtchn *ch = &vm->xen.evtchn[p];

		if (ch->state == EVTCHN_FREE)
			continue;
		if ((p == vm->xen.console_port || p == vm->xen.store_port) &&
		    ch->state == EVTCHN_INTERDOMAIN && ch->remote_dom == 0) {
			if (fresh) {
				ch->vcpu = 0;
				evtchn_fifo_port_init_locked(vm, p);
			}
			continue;
		}
		if (ch->state == EVTCHN_VIRQ && ch->vcpu < vm->nr_vcpus &&
		    vm->vcpus[ch->vcpu])
			vm->vcpus[ch->vcpu]->xen.virq_port[ch->virq] = 0;
		*ch = (struct evtchn){ .state = EVTCHN_FREE };
	}
	evtchn_fifo_destroy_locked(vm);
}

void evtchn_reset_domain(struct vm *vm)
{
	pthread_mutex_lock(&vm->xen.lock);
	reset_ports_locked(vm, true);
	pthread_mutex_unlock(&vm->xen.lock);
}

/*
 * Xen's evtchn_reset on the domain itself: every port closed, then back to
 * the 2-level ABI.  The console and xenstore channels of start_info stay
 * bound: under Xen the toolstack re-creates them after a soft reset, and
 * pvisor is that toolstack (docs/pv-abi.md).
 */
static long op_reset(struct vcpu *v, uint64_t arg)
{
	struct vm *vm = v->vm;
	struct evtchn_reset op;

	if (hc_read(v, arg, &op, sizeof(op)))
		return -XEN_EFAULT;
	if (op.dom != DOMID_SELF)
		return -XEN_ESRCH; /* pvisor runs one domain */
	pthread_mutex_lock(&vm->xen.lock);
	reset_ports_locked(vm, false);
	pthread_mutex_unlock(&vm->xen.lock);
	return 0;
}

long hc_event_channel_op(struct vcpu *v, const struct hc_args *a)
{
	uint64_t arg = a->a[1];

	switch (a->a[0]) {
	case EVTCHNOP_alloc_unbound:
		return op_alloc_unbound(v, arg);
	case EVTCHNOP_bind_interdomain:
		return op_bind_interdomain(v, arg);
	case EVTCHNOP_bind_virq:
		return op_bind_virq(v, arg);
	case EVTCHNOP_bind_ipi:
		return op_bind_ipi(v, arg);
	case EVTCHNOP_send:
		return op_send(v, arg);
	case EVTCHNOP_close:
		return op_close(v, arg);
	case EVTCHNOP_status:
		return op_status(v, arg);
	case EVTCHNOP_unmask:
		return op_unmask(v, arg);
	case EVTCHNOP_bind_vcpu:
		return op_bind_vcpu(v, arg);
	case EVTCHNOP_init_control:
		return op_init_control(v, arg);
	case EVTCHNOP_expand_array:
		return op_expand_array(v, arg);
	case EVTCHNOP_set_priority:
		return op_set_priority(v, arg);
	case EVTCHNOP_reset:
		return op_reset(v, arg);
	case EVTCHNOP_bind_pirq:
	default:
		return -XEN_ENOSYS;
	}
}
