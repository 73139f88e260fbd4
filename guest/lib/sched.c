/*
 * Cooperative scheduler.  Threads switch only in schedule(); event handlers
 * may only mark threads runnable.  With nothing to run the vCPU arms its
 * one-shot timer for the earliest sleeper and blocks in SCHEDOP_block, which
 * re-enables event delivery atomically (no lost wakeup).
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/hypercall.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/time.h>

#define THREAD_STACK_PAGES 4

enum thread_state { T_RUNNABLE, T_BLOCKED, T_EXITED };

struct thread {
	char name[16];
	uint64_t rsp;            /* saved by sched_switch */
	void *stack;             /* NULL for main */
	enum thread_state state;
	uint64_t wake_ns;        /* T_BLOCKED: wake at this time (0 = none) */
	void (*fn)(void *);
	void *arg;
	struct thread *joiner;
	struct thread *next;     /* all threads */
};

static struct thread main_thread = { .name = "main" };
static struct thread *current = &main_thread;
static struct thread *threads = &main_thread;
static unsigned nr_threads = 1;

extern char thread_trampoline[];
void thread_start(struct thread *t);

void sched_init(void)
{
	main_thread.state = T_RUNNABLE;
}

struct thread *thread_current(void)
{
	return current;
}

const char *thread_name(const struct thread *t)
{
	return t->name;
}

static void schedule(void)
{
	unsigned long flags = local_irq_save();
	struct thread *prev = current, *next = NULL;

	for (;;) {
		uint64_t now = monotonic_ns(), earliest = ~0ull;
		struct thread *t = prev->next ? prev->next : threads;

		for (unsigned i = 0; i < nr_threads; i++) {
			if (t->state == T_BLOCKED && t->wake_ns &&
			    t->wake_ns <= now)
				t->state = T_RUNNABLE;
			if (t->state == T_RUNNABLE) {
				next = t;
				break;
			}
			if (t->state == T_BLOCKED && t->wake_ns &&
			    t->wake_ns < earliest)
				earliest = t->wake_ns;
			t = t->next ? t->next : threads;
		}
		if (next)
			break;
		/* Idle. */
		timer_set(earliest == ~0ull ? 0 : earliest);
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
		local_irq_disable();
		evtchn_poll(); /* anything the upcall did not consume */
	}
	if (next != prev) {
		current = next;
		sched_switch(&prev->rsp, next->rsp);
	}
	local_irq_restore(flags);
}

void thread_yield(void)
{
	schedule();
}

void thread_block(uint64_t deadline_ns)
{
	unsigned long flags = local_irq_save();

	current->wake_ns = deadline_ns;
	current->state = T_BLOCKED;
	schedule();
	local_irq_restore(flags);
}

void thread_wake(struct thread *t)
{
	if (t && t->state == T_BLOCKED)
		t->state = T_RUNNABLE;
}

void thread_start(struct thread *t)
{
	/* We arrive from sched_switch inside schedule() of another thread,
	 * with events masked. */
	local_irq_enable();
	t->fn(t->arg);
	thread_exit();
}

void thread_exit(void)
{
	local_irq_disable();
	BUG_ON(current == &main_thread);
	current->state = T_EXITED;
	thread_wake(current->joiner);
	schedule();
	panic("exited thread scheduled");
}

struct thread *thread_create(const char *name, void (*fn)(void *), void *arg)
{
	struct thread *t = kzalloc(sizeof(*t));
	uint64_t *sp;
	unsigned long flags;

	if (!t)
		return NULL;
	t->stack = alloc_pages(THREAD_STACK_PAGES);
	if (!t->stack) {
		kfree(t);
		return NULL;
	}
	strlcpy(t->name, name, sizeof(t->name));
	t->fn = fn;
	t->arg = arg;
	/* The frame sched_switch pops: r15 r14 r13 r12 rbx rbp, then the
	 * return address; rsp is 16-byte aligned after the ret. */
	sp = (uint64_t *)((char *)t->stack + THREAD_STACK_PAGES * PAGE_SIZE -
			  16);
	*--sp = (uint64_t)thread_trampoline;
	*--sp = 0;               /* rbp */
	*--sp = 0;               /* rbx */
	*--sp = (uint64_t)t;     /* r12 */
	*--sp = 0;               /* r13 */
	*--sp = 0;               /* r14 */
	*--sp = 0;               /* r15 */
	t->rsp = (uint64_t)sp;
	t->state = T_RUNNABLE;

	flags = local_irq_save();
	t->next = threads;
	threads = t;
	nr_threads++;
	local_irq_restore(flags);
	return t;
}

void thread_join(struct thread *t)
{
	unsigned long flags = local_irq_save();
	struct thread **pp;

	while (t->state != T_EXITED) {
		t->joiner = current;
		thread_block(0);
	}
	for (pp = &threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			nr_threads--;
			break;
		}
	}
	local_irq_restore(flags);
	free_pages(t->stack, THREAD_STACK_PAGES);
	kfree(t);
}
