/*
 * 2-level event channels.  pvisor (like Xen) sets a port's bit in
 * shared_info.evtchn_pending, its word's bit in vcpu_info.evtchn_pending_sel
 * and vcpu_info.evtchn_upcall_pending, then enters hypervisor_callback with
 * events masked.  The guest clears pending state in the reverse order.
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/string.h>
#include <kit/traps.h>

#define BITS_PER_LONG 64

struct evtchn_slot {
	evtchn_handler_fn fn;
	void *data;
};

static struct evtchn_slot handlers[KIT_NR_EVTCHN];
unsigned long evtchn_upcalls;
extern char hypervisor_callback[], failsafe_callback[];

static inline struct vcpu_info *vcpu0(void)
{
	return &HYPERVISOR_shared_info->vcpu_info[0];
}

static inline void sync_set_bit(unsigned long nr, unsigned long *addr)
{
	asm volatile("lock btsq %1, %0" : "+m"(*addr) : "r"(nr) : "memory");
}

static inline void sync_clear_bit(unsigned long nr, unsigned long *addr)
{
	asm volatile("lock btrq %1, %0" : "+m"(*addr) : "r"(nr) : "memory");
}

static inline bool sync_test_and_set_bit(unsigned long nr,
					 unsigned long *addr)
{
	unsigned char old;

	asm volatile("lock btsq %2, %1\n\tsetc %0"
		     : "=q"(old), "+m"(*addr)
		     : "r"(nr)
		     : "memory");
	return old;
}

static inline unsigned long xchg_ulong(unsigned long *p, unsigned long v)
{
	asm volatile("xchgq %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}

bool irqs_disabled(void)
{
	return READ_ONCE(vcpu0()->evtchn_upcall_mask) != 0;
}

void local_irq_disable(void)
{
	WRITE_ONCE(vcpu0()->evtchn_upcall_mask, 1);
	barrier();
}

unsigned long local_irq_save(void)
{
	unsigned long flags = READ_ONCE(vcpu0()->evtchn_upcall_mask);

	local_irq_disable();
	return flags;
}

/*
 * Unmasks and, as Xen requires of a guest, re-checks evtchn_upcall_pending:
 * an event that arrived while masked was not delivered, so handle it here
 * (with events masked again) before returning.
 */
void local_irq_enable(void)
{
	struct vcpu_info *vi = vcpu0();

	for (;;) {
		barrier();
		WRITE_ONCE(vi->evtchn_upcall_mask, 0);
		mb(); /* unmask before looking at pending */
		if (!READ_ONCE(vi->evtchn_upcall_pending))
			return;
		WRITE_ONCE(vi->evtchn_upcall_mask, 1);
		barrier();
		evtchn_poll();
	}
}

void local_irq_restore(unsigned long flags)
{
	if (flags)
		local_irq_disable();
	else
		local_irq_enable();
}

bool evtchn_has_handler(evtchn_port_t port)
{
	return port < KIT_NR_EVTCHN && handlers[port].fn;
}

void evtchn_dispatch(evtchn_port_t port)
{
	if (port < KIT_NR_EVTCHN && handlers[port].fn)
		handlers[port].fn(port, handlers[port].data);
}

void evtchn_poll(void)
{
	struct shared_info *sh = HYPERVISOR_shared_info;
	struct vcpu_info *vi = vcpu0();

	if (evtchn_fifo_active()) {
		evtchn_fifo_poll();
		return;
	}
	while (READ_ONCE(vi->evtchn_upcall_pending)) {
		unsigned long sel;

		WRITE_ONCE(vi->evtchn_upcall_pending, 0);
		mb();
		sel = xchg_ulong(&vi->evtchn_pending_sel, 0);
		while (sel) {
			unsigned w = __builtin_ctzl(sel);
			unsigned long pend;

			sel &= sel - 1;
			while ((pend = READ_ONCE(sh->evtchn_pending[w]) &
				       ~READ_ONCE(sh->evtchn_mask[w]))) {
				unsigned b = __builtin_ctzl(pend);
				evtchn_port_t port = w * BITS_PER_LONG + b;

				sync_clear_bit(b, &sh->evtchn_pending[w]);
				evtchn_dispatch(port);
			}
		}
	}
}

void evtchn_do_upcall(struct trap_frame *f)
{
	evtchn_upcalls++;
	/* Xen masked events on entry; iret restores the mask from the frame. */
	evtchn_poll();
}

void evtchn_mask(evtchn_port_t port)
{
	if (evtchn_fifo_active()) {
		evtchn_fifo_mask(port);
		return;
	}
	sync_set_bit(port % BITS_PER_LONG,
		     &HYPERVISOR_shared_info->evtchn_mask[port / BITS_PER_LONG]);
}

void evtchn_unmask(evtchn_port_t port)
{
	struct shared_info *sh = HYPERVISOR_shared_info;
	struct vcpu_info *vi = vcpu0();
	unsigned w = port / BITS_PER_LONG, b = port % BITS_PER_LONG;
	unsigned long flags;

	if (evtchn_fifo_active()) {
		evtchn_fifo_unmask(port);
		return;
	}
	flags = local_irq_save();

	sync_clear_bit(b, &sh->evtchn_mask[w]);
	mb();
	/* An event that became pending while masked raised no upcall. */
	if ((READ_ONCE(sh->evtchn_pending[w]) >> b) & 1) {
		if (!sync_test_and_set_bit(w, &vi->evtchn_pending_sel))
			WRITE_ONCE(vi->evtchn_upcall_pending, 1);
	}
	local_irq_restore(flags);
}

int evtchn_bind(evtchn_port_t port, evtchn_handler_fn fn, void *data)
{
	if (port == 0 || port >= KIT_NR_EVTCHN)
		return -XEN_EINVAL;
	if (evtchn_fifo_active() && evtchn_fifo_cover(port) < 0)
		return -XEN_ENOMEM;
	evtchn_mask(port);
	handlers[port].data = data;
	handlers[port].fn = fn;
	evtchn_unmask(port);
	return 0;
}

void evtchn_unbind(evtchn_port_t port)
{
	if (port == 0 || port >= KIT_NR_EVTCHN)
		return;
	evtchn_mask(port);
	handlers[port].fn = NULL;
	handlers[port].data = NULL;
}

long evtchn_bind_virq(unsigned virq, evtchn_handler_fn fn, void *data)
{
	struct evtchn_bind_virq op = { .virq = virq, .vcpu = 0 };
	long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);

	if (rc < 0)
		return rc;
	rc = evtchn_bind(op.port, fn, data);
	return rc < 0 ? rc : (long)op.port;
}

long evtchn_bind_ipi(evtchn_handler_fn fn, void *data)
{
	struct evtchn_bind_ipi op = { .vcpu = 0 };
	long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &op);

	if (rc < 0)
		return rc;
	rc = evtchn_bind(op.port, fn, data);
	return rc < 0 ? rc : (long)op.port;
}

long evtchn_send(evtchn_port_t port)
{
	struct evtchn_send op = { .port = port };

	return HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

long evtchn_close(evtchn_port_t port)
{
	struct evtchn_close op = { .port = port };

	evtchn_unbind(port);
	return HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
}

/* A new domain (after a restore) has no channels: forget the bindings,
 * mask every port of its fresh shared_info. */
void events_resume(void)
{
	memset(handlers, 0, sizeof(handlers));
	for (unsigned w = 0; w < KIT_NR_EVTCHN / BITS_PER_LONG; w++)
		HYPERVISOR_shared_info->evtchn_mask[w] = ~0ul;
	evtchn_fifo_resume();
}

void events_init(void)
{
	struct callback_register event = {
		.type = CALLBACKTYPE_event,
		.flags = CALLBACKF_mask_events,
		.address = (unsigned long)hypervisor_callback,
	};
	struct callback_register failsafe = {
		.type = CALLBACKTYPE_failsafe,
		.flags = CALLBACKF_mask_events,
		.address = (unsigned long)failsafe_callback,
	};

	/* Mask every port until a handler is bound. */
	for (unsigned w = 0; w < KIT_NR_EVTCHN / BITS_PER_LONG; w++)
		HYPERVISOR_shared_info->evtchn_mask[w] = ~0ul;

	if (HYPERVISOR_callback_op(CALLBACKOP_register, &event) < 0 ||
	    HYPERVISOR_callback_op(CALLBACKOP_register, &failsafe) < 0) {
		/* Older interface, same effect. */
		if (HYPERVISOR_set_callbacks((unsigned long)hypervisor_callback,
					     (unsigned long)failsafe_callback,
					     0) < 0)
			panic("cannot register the event callback");
	}
}
