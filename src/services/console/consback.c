/* The console ring backend and the terminal (see consback.h). */
#include "services/console/consback.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/log.h"
#include "core/vm.h"
#include "services/console/xencons_ring.h"
#include "xen/events.h"

#define TAIL_SIZE 4096
#define PENDING_IN_MAX 4096
#define CTRL_A 0x01

struct consback {
	struct vm *vm;
	pthread_mutex_t lock;
	char tail[TAIL_SIZE]; /* last output, for reports */
	size_t tail_len;
	char pending_in[PENDING_IN_MAX]; /* input the ring had no room for */
	size_t pending_len;
	bool escape;          /* previous input byte was Ctrl-A */
	unsigned long dropped_in;
};

static struct xencons_interface *ring(struct vm *vm)
{
	return gmem_ptr(&vm->mem, vm->xen.console_mfn << PAGE_SHIFT,
			sizeof(struct xencons_interface));
}

static void tail_append(struct consback *c, const char *buf, size_t len)
{
	if (len >= TAIL_SIZE) {
		memcpy(c->tail, buf + len - TAIL_SIZE, TAIL_SIZE);
		c->tail_len = TAIL_SIZE;
		return;
	}
	if (c->tail_len + len > TAIL_SIZE) {
		size_t drop = c->tail_len + len - TAIL_SIZE;

		memmove(c->tail, c->tail + drop, c->tail_len - drop);
		c->tail_len -= drop;
	}
	memcpy(c->tail + c->tail_len, buf, len);
	c->tail_len += len;
}

void consback_output(struct vm *vm, const char *buf, size_t len)
{
	struct consback *c = vm->console;

	xencons_write_all(STDOUT_FILENO, buf, len);
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	tail_append(c, buf, len);
	pthread_mutex_unlock(&c->lock);
}

/* Moves pending input into the ring; caller holds c->lock.  Returns true if
 * anything was added (the guest must be notified). */
static bool flush_input(struct consback *c)
{
	struct xencons_interface *r = ring(c->vm);
	XENCONS_RING_IDX cons, prod;
	size_t moved = 0;

	if (!r || !c->pending_len)
		return false;
	cons = __atomic_load_n(&r->in_cons, __ATOMIC_ACQUIRE);
	prod = r->in_prod; /* ours: only pvisor writes in_prod */
	/* A guest that moved in_cons past in_prod broke the ring: drop. */
	if ((XENCONS_RING_IDX)(prod - cons) > sizeof(r->in))
		return false;
	while (moved < c->pending_len &&
	       (XENCONS_RING_IDX)(prod - cons) < sizeof(r->in)) {
		r->in[MASK_XENCONS_IDX(prod, r->in)] = c->pending_in[moved++];
		prod++;
	}
	__atomic_store_n(&r->in_prod, prod, __ATOMIC_RELEASE);
	memmove(c->pending_in, c->pending_in + moved, c->pending_len - moved);
	c->pending_len -= moved;
	return moved > 0;
}

/* The guest notified the console port: drain its output ring. */
static void on_guest_send(void *opaque)
{
	struct consback *c = opaque;
	struct vm *vm = c->vm;
	struct xencons_interface *r = ring(vm);
	char buf[XENCONS_OUT_SIZE];
	struct xencons_skew skew;
	bool notify;
	size_t n;

	if (!r)
		return;
	n = xencons_take_output(r, buf, &skew);
	if (skew.broken)
		log_guest("console: out_prod %u runs past out_cons %u", skew.prod,
			  skew.cons);
	if (n)
		consback_output(vm, buf, n);
	pthread_mutex_lock(&c->lock);
	notify = flush_input(c);
	pthread_mutex_unlock(&c->lock);
	/* Consumed output frees ring space the guest may be waiting for. */
	if (n || notify)
		evtchn_notify_guest(vm, vm->xen.console_port);
}

int consback_init(struct vm *vm)
{
	struct consback *c = calloc(1, sizeof(*c));
	int port;

	if (!c)
		return -ENOMEM;
	c->vm = vm;
	pthread_mutex_init(&c->lock, NULL);
	port = evtchn_alloc_backend_port(vm, on_guest_send, c);
	if (port < 0) {
		free(c);
		return port;
	}
	vm->xen.console_port = (evtchn_port_t)port;
	vm->console = c;
	return 0;
}

void consback_destroy(struct vm *vm)
{
	struct consback *c = vm->console;

	if (!c)
		return;
	vm->console = NULL;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void consback_input(struct vm *vm, const char *buf, size_t len)
{
	struct consback *c = vm->console;
	bool added;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (c->escape) {
			c->escape = false;
			if (ch == 'x' || ch == 'X') {
				pthread_mutex_unlock(&c->lock);
				vm_stop(vm, VM_STOP_SIGNAL, 0,
					"terminated by the console escape (Ctrl-A x)");
				return;
			}
			if (ch != 'a' && ch != CTRL_A)
				continue; /* unknown escape: swallowed */
			ch = CTRL_A;
		} else if (ch == CTRL_A) {
			c->escape = true;
			continue;
		}
		if (c->pending_len < PENDING_IN_MAX)
			c->pending_in[c->pending_len++] = ch;
		else
			c->dropped_in++;
	}
	added = flush_input(c);
	pthread_mutex_unlock(&c->lock);
	if (added)
		evtchn_notify_guest(vm, vm->xen.console_port);
}

void consback_tail(struct vm *vm, char *buf, size_t len)
{
	struct consback *c = vm->console;
	size_t n;

	if (!len)
		return;
	buf[0] = '\0';
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	n = c->tail_len < len - 1 ? c->tail_len : len - 1;
	memcpy(buf, c->tail + c->tail_len - n, n);
	buf[n] = '\0';
	pthread_mutex_unlock(&c->lock);
}

static struct termios saved_termios;
static bool termios_saved;

void consback_terminal_restore(void)
{
	if (termios_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
		termios_saved = false;
	}
}

void consback_terminal_raw(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios))
		return;
	termios_saved = true;
	atexit(consback_terminal_restore);
	t = saved_termios;
	cfmakeraw(&t);
	/* Keep output post-processing so that "\n" still returns the
	 * carriage: guests write bare newlines. */
	t.c_oflag |= OPOST | ONLCR;
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}
