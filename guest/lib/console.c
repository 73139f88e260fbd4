/*
 * Console on the xencons_interface ring that the domain builder set up
 * (start_info.console.domU): output goes into out[] and the backend is
 * notified on the console event channel; input is read from in[].
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/sched.h>
#include <kit/time.h>

static struct xencons_interface *cons_ring;
static evtchn_port_t cons_port;
static struct thread *cons_reader; /* thread waiting in console_getc */

static void notify(evtchn_port_t port)
{
	struct evtchn_send send = { .port = port };

	HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
}

void console_init(void)
{
	cons_ring = mfn_to_virt(start_info.console.domU.mfn);
	cons_port = start_info.console.domU.evtchn;
}

/* Last resort before the ring exists: the hypervisor's debug console. */
static void console_write_early(const char *buf, size_t len)
{
	HYPERVISOR_console_io(CONSOLEIO_write, (int)len, buf);
}

void console_write(const char *buf, size_t len)
{
	if (!cons_ring)
		console_write_early(buf, len);
	else
		xencons_write(cons_ring, cons_port, buf, len);
}

void xencons_write(struct xencons_interface *r, evtchn_port_t port,
		   const char *buf, size_t len)
{
	size_t sent = 0;

	while (sent < len) {
		XENCONS_RING_IDX cons = READ_ONCE(r->out_cons);
		XENCONS_RING_IDX prod = r->out_prod;

		mb(); /* read out_cons before reusing the slots it freed */
		if ((XENCONS_RING_IDX)(prod - cons) >= sizeof(r->out)) {
			/* Full: let the backend drain it. */
			notify(port);
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
			continue;
		}
		while (sent < len &&
		       (XENCONS_RING_IDX)(prod - cons) < sizeof(r->out))
			r->out[MASK_XENCONS_IDX(prod++, r->out)] = buf[sent++];
		wmb(); /* data before the index */
		WRITE_ONCE(r->out_prod, prod);
		notify(port);
	}
}

int console_trygetc(void)
{
	struct xencons_interface *r = cons_ring;
	XENCONS_RING_IDX cons, prod;
	int c;

	if (!r)
		return -1;
	cons = r->in_cons;
	prod = READ_ONCE(r->in_prod);
	rmb();
	/* A backend that claims more than the ring holds is broken: resync. */
	if ((XENCONS_RING_IDX)(prod - cons) > sizeof(r->in)) {
		WRITE_ONCE(r->in_cons, prod);
		return -1;
	}
	if (cons == prod)
		return -1;
	c = (unsigned char)r->in[MASK_XENCONS_IDX(cons, r->in)];
	mb(); /* consume the byte before freeing its slot */
	WRITE_ONCE(r->in_cons, cons + 1);
	if (cons + 1 == prod)
		notify(cons_port);
	return c;
}

static void console_event(evtchn_port_t port, void *data)
{
	if (cons_reader)
		thread_wake(cons_reader);
}

static bool input_bound;

void console_init_input(void)
{
	evtchn_bind(cons_port, console_event, NULL);
	input_bound = true;
}

void console_resume(void)
{
	console_init();
	if (input_bound)
		console_init_input();
}

int console_getc(void)
{
	for (;;) {
		unsigned long flags = local_irq_save();
		int c = console_trygetc();

		if (c >= 0) {
			local_irq_restore(flags);
			return c;
		}
		/* The deadline is a safety net against a lost notification. */
		cons_reader = thread_current();
		thread_block(monotonic_ns() + 100000000ull);
		cons_reader = NULL;
		local_irq_restore(flags);
	}
}
