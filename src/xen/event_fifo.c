/*
 * FIFO event channels (see event_fifo.h), after Xen's event_fifo.c.
 *
 * The event words, control blocks and queue heads are guest memory that
 * the guest changes concurrently: every access is atomic, and a word the
 * guest keeps changing under a link attempt is given up on (bounded
 * retries), as Xen gives up after its BUSY attempts — the guest only
 * loses its own event.
 */
#include "xen/event_fifo.h"

#include <stddef.h>
#include <string.h>

#include "core/log.h"
#include "core/vm.h"
#include "xen/events.h"
#include "xen/pagetype.h"
#include "xen/shared.h"

#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(event_word_t))
#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)
#define W_BUSY (1u << EVTCHN_FIFO_BUSY)
#define LINK_TRIES 8

_Static_assert(XEN_MAX_VCPUS == VM_MAX_VCPUS, "FIFO per-vCPU state");
_Static_assert(XEN_MAX_EVTCHN % WORDS_PER_PAGE == 0, "whole array pages");

static event_word_t *word_of(struct vm *vm, evtchn_port_t port)
{
	struct evtchn_fifo *f = &vm->xen.fifo;

	if (port >= f->nr_pages * WORDS_PER_PAGE)
		return NULL;
	return &f->array[port / WORDS_PER_PAGE][port % WORDS_PER_PAGE];
}

static bool word_test(const event_word_t *w, event_word_t bit)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE) & bit;
}

static bool word_test_and_set(event_word_t *w, event_word_t bit)
{
	return __atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST) & bit;
}

static void word_clear(event_word_t *w, event_word_t bit)
{
	__atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST);
}

/* Xen's map_guest_page: a RAM frame of the domain, taken as writable (so
 * it cannot become a page table while pvisor writes it). */
static void *map_frame(struct vm *vm, uint64_t mfn)
{
	void *p;

	if (mfn >= vm->mem.nr_ram_frames || pagetype_get_page(vm, mfn, true))
		return NULL;
	p = gmem_ptr(&vm->mem, mfn << PAGE_SHIFT, PAGE_SIZE);
	if (!p)
		pagetype_put_page(vm, mfn, true);
	return p;
}

void evtchn_fifo_destroy_locked(struct vm *vm)
{
	struct evtchn_fifo *f = &vm->xen.fifo;

	for (unsigned i = 0; i < f->nr_pages; i++)
		pagetype_put_page(vm, f->array_mfn[i], true);
	for (unsigned i = 0; i < XEN_MAX_VCPUS; i++)
		if (f->vcpu[i].control)
			pagetype_put_page(vm, f->vcpu[i].control_gpa >> PAGE_SHIFT,
					  true);
	*f = (struct evtchn_fifo){ .active = false };
}

/* Xen's setup_ports: bound ports keep their 2-level pending state (raised
 * once an event word covers them) and get the default priority. */
static void setup_ports_locked(struct vm *vm)
{
	struct shared_info *s = xen_shared_info(vm);

	for (evtchn_port_t p = 1; p < XEN_MAX_EVTCHN; p++) {
		struct evtchn *ch = &vm->xen.evtchn[p];

		ch->priority = ch->last_priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
		ch->last_vcpu = ch->vcpu;
		ch->fifo_pending = false;
		if (ch->state == EVTCHN_FREE || p >= XEN_NR_EVTCHN || !s)
			continue;
		if ((__atomic_load_n(&s->evtchn_pending[p / 64], __ATOMIC_ACQUIRE) >>
		     (p % 64)) & 1)
			ch->fifo_pending = true;
	}
}

long evtchn_fifo_init_control(struct vcpu *v, struct evtchn_init_control *op)
{
	struct vm *vm = v->vm;
	struct evtchn_fifo *f = &vm->xen.fifo;
	struct evtchn_fifo_vcpu *fv;
	uint64_t mfn = op->control_gfn; /* the P2M is the identity */
	uint8_t *page;
	long rc = 0;

	op->link_bits = EVTCHN_FIFO_LINK_BITS;
	if (op->vcpu >= vm->nr_vcpus || !vm->vcpus[op->vcpu])
		return -XEN_ENOENT;
	/* Within one page, 8-byte aligned. */
	if (op->offset > PAGE_SIZE - sizeof(struct evtchn_fifo_control_block) ||
	    (op->offset & 7))
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	fv = &f->vcpu[op->vcpu];
	if (fv->control) {
		rc = -XEN_EINVAL;
		goto out;
	}
	page = map_frame(vm, mfn);
	if (!page) {
		rc = -XEN_EINVAL;
		goto out;
	}
	if (!f->active) {
		/* The first control block switches the domain to FIFO, with
		 * an empty event array. */
		*f = (struct evtchn_fifo){ .active = true };
		setup_ports_locked(vm);
	}
	fv->control_gpa = (mfn << PAGE_SHIFT) + op->offset;
	fv->control = (struct evtchn_fifo_control_block *)(page + op->offset);
	memset(fv->tail, 0, sizeof(fv->tail));
out:
	pthread_mutex_unlock(&vm->xen.lock);
	return rc;
}

long evtchn_fifo_expand_array(struct vm *vm, uint64_t array_mfn)
{
	struct evtchn_fifo *f = &vm->xen.fifo;
	evtchn_port_t raise[WORDS_PER_PAGE];
	unsigned vcpus[WORDS_PER_PAGE], n = 0, slot;
	event_word_t *page;
	long rc = 0;

	pthread_mutex_lock(&vm->xen.lock);
	if (!f->active) {
		rc = -XEN_EOPNOTSUPP;
		goto out;
	}
	slot = f->nr_pages;
	if (slot >= XEN_FIFO_ARRAY_PAGES) {
		rc = -XEN_ENOSPC;
		goto out;
	}
	page = map_frame(vm, array_mfn);
	if (!page) {
		rc = -XEN_EINVAL;
		goto out;
	}
	f->array_mfn[slot] = array_mfn;
	__atomic_store_n(&f->array[slot], page, __ATOMIC_RELEASE);
	__atomic_store_n(&f->nr_pages, slot + 1, __ATOMIC_RELEASE);
	/* Events raised while this page was missing. */
	for (unsigned i = 0; i < WORDS_PER_PAGE; i++) {
		evtchn_port_t p = (evtchn_port_t)(slot * WORDS_PER_PAGE + i);
		struct evtchn *ch = &vm->xen.evtchn[p];

		if (ch->fifo_pending) {
			ch->fifo_pending = false;
			raise[n] = p;
			vcpus[n++] = ch->vcpu;
		}
	}
out:
	pthread_mutex_unlock(&vm->xen.lock);
	for (unsigned i = 0; i < n; i++) {
		bool was;

		if (evtchn_fifo_set_pending(vm, raise[i], vcpus[i], &was))
			vcpu_mark_events_pending(vm->vcpus[vcpus[i]]);
	}
	return rc;
}

long evtchn_fifo_set_priority(struct vm *vm, evtchn_port_t port,
			      uint32_t priority)
{
	long rc = 0;

	if (port >= XEN_MAX_EVTCHN)
		return -XEN_EINVAL;
	pthread_mutex_lock(&vm->xen.lock);
	if (!vm->xen.fifo.active)
		rc = -XEN_ENOSYS; /* the 2-level ABI has no priorities */
	else if (priority > EVTCHN_FIFO_PRIORITY_MIN)
		rc = -XEN_EINVAL;
	else
		/* Future events only: a linked one stays on its queue. */
		vm->xen.evtchn[port].priority = (uint8_t)priority;
	pthread_mutex_unlock(&vm->xen.lock);
	return rc;
}

/*
 * Xen's evtchn_fifo_set_link: makes the tail's word point at port, if the
 * tail is still linked (else the guest has consumed it and the queue is
 * empty).  True if linked (or given up on a word the guest keeps
 * changing).
 */
static bool set_link(event_word_t *tail, evtchn_port_t port)
{
	for (unsigned i = 0; i < LINK_TRIES; i++) {
		event_word_t w = __atomic_load_n(tail, __ATOMIC_ACQUIRE);
		event_word_t nw = (w & ~(W_BUSY | EVTCHN_FIFO_LINK_MASK)) | port;

		if (!(w & W_LINKED))
			return false;
		if (__atomic_compare_exchange_n(tail, &w, nw, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return true;
	}
	log_debug("FIFO event channels: port %u not linked (the guest keeps "
		  "changing the tail's word)", port);
	return true;
}

/* Links port at the tail of (vcpu_id, its priority); true if the queue
 * was empty, i.e. its head was set. */
static bool link_locked(struct vm *vm, evtchn_port_t port, unsigned vcpu_id,
			event_word_t *word)
{
	struct evtchn_fifo *f = &vm->xen.fifo;
	struct evtchn *ch = &vm->xen.evtchn[port];
	struct evtchn_fifo_vcpu *fv = &f->vcpu[vcpu_id];
	struct evtchn_fifo_vcpu *old = &f->vcpu[ch->last_vcpu % XEN_MAX_VCPUS];
	unsigned prio = ch->priority % EVTCHN_FIFO_MAX_QUEUES;
	unsigned old_prio = ch->last_priority % EVTCHN_FIFO_MAX_QUEUES;
	bool linked = false;
	uint32_t tail;

	if (word_test_and_set(word, W_LINKED))
		return false;
	/* The event was the old queue's tail: that queue is empty now. */
	if (old->tail[old_prio] == port)
		old->tail[old_prio] = 0;
	ch->last_vcpu = vcpu_id;
	ch->last_priority = (uint8_t)prio;
	tail = fv->tail[prio];
	if (tail) {
		event_word_t *tw = word_of(vm, tail);

		linked = tw && set_link(tw, port);
	}
	if (!linked)
		__atomic_store_n(&fv->control->head[prio], port, __ATOMIC_RELEASE);
	fv->tail[prio] = port;
	return !linked &&
	       !(__atomic_fetch_or(&fv->control->ready, 1u << prio,
				   __ATOMIC_SEQ_CST) & (1u << prio));
}

bool evtchn_fifo_set_pending(struct vm *vm, evtchn_port_t port,
			     unsigned vcpu_id, bool *was_pending)
{
	struct evtchn_fifo *f = &vm->xen.fifo;
	event_word_t *word;
	bool mark = false;

	*was_pending = true;
	if (port == 0 || port >= XEN_MAX_EVTCHN || vcpu_id >= vm->nr_vcpus ||
	    vcpu_id >= XEN_MAX_VCPUS)
		return false;
	pthread_mutex_lock(&vm->xen.lock);
	word = word_of(vm, port);
	if (!f->active) {
		/* Reset meanwhile. */
	} else if (!word) {
		/* No event word yet: raised when expand_array covers it. */
		vm->xen.evtchn[port].fifo_pending = true;
		*was_pending = false;
	} else {
		*was_pending = word_test_and_set(word, W_PENDING);
		/* Without a control block the guest must not have unmasked
		 * anything yet; the event stays pending, unlinked. */
		if (!word_test(word, W_MASKED) && !word_test(word, W_LINKED) &&
		    f->vcpu[vcpu_id].control)
			mark = link_locked(vm, port, vcpu_id, word);
	}
	pthread_mutex_unlock(&vm->xen.lock);
	return mark;
}

void evtchn_fifo_unmask(struct vm *vm, evtchn_port_t port)
{
	event_word_t *word;
	unsigned vcpu_id;
	bool was;

	if (port >= XEN_MAX_EVTCHN)
		return;
	pthread_mutex_lock(&vm->xen.lock);
	word = word_of(vm, port);
	vcpu_id = vm->xen.evtchn[port].vcpu;
	if (word)
		word_clear(word, W_MASKED);
	pthread_mutex_unlock(&vm->xen.lock);
	if (word && word_test(word, W_PENDING) &&
	    evtchn_fifo_set_pending(vm, port, vcpu_id, &was))
		vcpu_mark_events_pending(vm->vcpus[vcpu_id]);
}

/*
 * Without the lock: SCHEDOP_poll asks while holding it.  The array only
 * grows (page pointer stored before nr_pages) until a reset, and a stale
 * page pointer still points into guest RAM, so a racing answer is only
 * stale, never unsafe.
 */
bool evtchn_fifo_is_pending(struct vm *vm, evtchn_port_t port)
{
	struct evtchn_fifo *f = &vm->xen.fifo;
	unsigned pages = __atomic_load_n(&f->nr_pages, __ATOMIC_ACQUIRE);
	event_word_t *page;

	if (port >= XEN_MAX_EVTCHN)
		return false;
	if (port >= pages * WORDS_PER_PAGE ||
	    !(page = __atomic_load_n(&f->array[port / WORDS_PER_PAGE],
				     __ATOMIC_ACQUIRE)))
		return __atomic_load_n(&vm->xen.evtchn[port].fifo_pending,
				       __ATOMIC_ACQUIRE);
	return word_test(&page[port % WORDS_PER_PAGE], W_PENDING);
}

bool evtchn_fifo_is_busy_locked(struct vm *vm, evtchn_port_t port)
{
	event_word_t *word = word_of(vm, port);

	return word && word_test(word, W_LINKED);
}

void evtchn_fifo_port_init_locked(struct vm *vm, evtchn_port_t port)
{
	struct evtchn *ch = &vm->xen.evtchn[port];

	ch->priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
	ch->last_priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
	ch->last_vcpu = ch->vcpu;
	ch->fifo_pending = false;
}

/* Xen's evtchn_fifo_clear_pending: the guest unlinks the event itself. */
void evtchn_fifo_port_close_locked(struct vm *vm, evtchn_port_t port)
{
	event_word_t *word = word_of(vm, port);

	if (word)
		word_clear(word, W_PENDING);
	vm->xen.evtchn[port].fifo_pending = false;
}
