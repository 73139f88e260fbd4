/*
 * FIFO event channels, the guest side (see kit/events.h), after Linux's
 * drivers/xen/events/events_fifo.c: one control block (vCPU 0), event
 * array pages added as ports need them.
 */
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>

#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(event_word_t))
#define MAX_PAGES (KIT_NR_EVTCHN / WORDS_PER_PAGE)

static struct evtchn_fifo_control_block *control;
static event_word_t *array[MAX_PAGES];
static unsigned nr_pages;
static uint32_t head[EVTCHN_FIFO_MAX_QUEUES]; /* local copy, 0 = re-read */
static bool active;
static unsigned link_bits;

unsigned evtchn_fifo_link_bits(void)
{
	return link_bits;
}

bool evtchn_fifo_active(void)
{
	return active;
}

struct evtchn_fifo_control_block *evtchn_fifo_control(void)
{
	return control;
}

event_word_t *evtchn_fifo_word(evtchn_port_t port)
{
	if (port >= nr_pages * WORDS_PER_PAGE)
		return NULL;
	return &array[port / WORDS_PER_PAGE][port % WORDS_PER_PAGE];
}

static bool test_and_set(event_word_t *w, unsigned bit)
{
	return __atomic_fetch_or(w, 1u << bit, __ATOMIC_SEQ_CST) & (1u << bit);
}

static void clear(event_word_t *w, unsigned bit)
{
	__atomic_fetch_and(w, ~(1u << bit), __ATOMIC_SEQ_CST);
}

static bool test(const event_word_t *w, unsigned bit)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE) & (1u << bit);
}

int evtchn_fifo_cover(evtchn_port_t port)
{
	while (port >= nr_pages * WORDS_PER_PAGE) {
		struct evtchn_expand_array op;
		event_word_t *page;

		if (nr_pages >= MAX_PAGES || !(page = alloc_page()))
			return -1;
		/* New ports start masked until bound (Linux does the same). */
		for (unsigned i = 0; i < WORDS_PER_PAGE; i++)
			page[i] = 1u << EVTCHN_FIFO_MASKED;
		op.array_gfn = virt_to_mfn(page);
		if (HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, &op)) {
			free_page(page);
			return -1;
		}
		array[nr_pages++] = page;
	}
	return 0;
}

/* A new domain starts with the 2-level ABI: set FIFO up again if it was
 * in use (before any port is bound). */
void evtchn_fifo_resume(void)
{
	if (!active)
		return;
	active = false;
	control = NULL; /* the old control block's page stays allocated */
	if (evtchn_fifo_init() < 0)
		panic("resume: cannot set up FIFO event channels again");
}

long evtchn_fifo_init(void)
{
	struct evtchn_init_control op = { .offset = 0, .vcpu = 0 };
	struct evtchn_fifo_control_block *cb;
	long rc;

	if (active)
		return 0;
	cb = alloc_page();
	if (!cb)
		return -XEN_ENOMEM;
	op.control_gfn = virt_to_mfn(cb);
	rc = HYPERVISOR_event_channel_op(EVTCHNOP_init_control, &op);
	if (rc) {
		free_page(cb);
		return rc;
	}
	control = cb;
	link_bits = op.link_bits;
	active = true;
	if (evtchn_fifo_cover(1) < 0)
		return -XEN_ENOMEM;
	/* Ports bound before the switch: their words start unmasked (zero
	 * on Xen: the kit's pages are masked, so unmask bound ones). */
	for (evtchn_port_t p = 1; p < WORDS_PER_PAGE; p++)
		if (evtchn_has_handler(p))
			evtchn_fifo_unmask(p);
	return 0;
}

void evtchn_fifo_mask(evtchn_port_t port)
{
	event_word_t *w = evtchn_fifo_word(port);

	if (w)
		test_and_set(w, EVTCHN_FIFO_MASKED);
}

/* Clear MASKED; if the event is pending, Xen must link it. */
void evtchn_fifo_unmask(evtchn_port_t port)
{
	event_word_t *w = evtchn_fifo_word(port);
	struct evtchn_unmask op = { .port = port };

	if (!w)
		return;
	clear(w, EVTCHN_FIFO_MASKED);
	if (test(w, EVTCHN_FIFO_PENDING))
		HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

/* Clears LINKED and the link; returns the link (next port, 0 = none). */
static uint32_t clear_linked(event_word_t *w)
{
	event_word_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE), nw;

	do {
		nw = old & ~((1u << EVTCHN_FIFO_LINKED) | EVTCHN_FIFO_LINK_MASK);
	} while (!__atomic_compare_exchange_n(w, &old, nw, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	return old & EVTCHN_FIFO_LINK_MASK;
}

static void consume_one(unsigned q, uint32_t *ready)
{
	uint32_t port = head[q];
	event_word_t *w;

	/* Reached the tail last time: the new head is in the block. */
	if (port == 0)
		port = __atomic_load_n(&control->head[q], __ATOMIC_ACQUIRE);
	w = evtchn_fifo_word(port);
	if (!w) {
		*ready &= ~(1u << q);
		head[q] = 0;
		return;
	}
	head[q] = clear_linked(w);
	if (head[q] == 0)
		*ready &= ~(1u << q);
	if (test(w, EVTCHN_FIFO_PENDING) && !test(w, EVTCHN_FIFO_MASKED)) {
		clear(w, EVTCHN_FIFO_PENDING);
		evtchn_dispatch(port);
	}
}

void evtchn_fifo_poll(void)
{
	struct vcpu_info *vi = &HYPERVISOR_shared_info->vcpu_info[0];

	while (READ_ONCE(vi->evtchn_upcall_pending)) {
		uint32_t ready;

		WRITE_ONCE(vi->evtchn_upcall_pending, 0);
		mb();
		ready = __atomic_exchange_n(&control->ready, 0, __ATOMIC_SEQ_CST);
		while (ready) {
			/* Lowest number = highest priority. */
			consume_one(__builtin_ctz(ready), &ready);
			ready |= __atomic_exchange_n(&control->ready, 0,
						     __ATOMIC_SEQ_CST);
		}
	}
}
