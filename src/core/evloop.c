/*
 * The VM's event thread (see evloop.h).  One poll() loop over the terminal,
 * a signalfd for SIGINT/SIGTERM/SIGHUP and an eventfd that other threads
 * write when timers change or the VM stops; its timeout is the nearest vCPU
 * timer deadline or the --timeout limit.
 */
#include "core/evloop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/vm.h"
#include "services/console/consback.h"
#include "services/console/vconsole.h"
#include "services/ctl/ctl_server.h"
#include "services/xenstore/xs_service.h"
#include "services/xenstore/xs_socket.h"
#include "xen/events.h"
#include "xen/time.h"

#include <pvisor/abi.h>

struct evloop {
	struct vm *vm;
	pthread_t thread;
	int wake_fd;
	int signal_fd;
	bool stdin_open;
	int64_t timeout_at_ns; /* CLOCK_MONOTONIC, 0 = none */
};

static void wake(struct evloop *ev)
{
	uint64_t one = 1;

	if (write(ev->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow in practice; nothing to do. */
	}
}

void evloop_wake(struct vm *vm)
{
	if (vm->evloop)
		wake(vm->evloop);
}

/* Fires expired vCPU timers; returns the nearest future deadline in host
 * monotonic ns, or 0 if none. */
static int64_t run_timers(struct vm *vm)
{
	int64_t now = xen_system_time_ns(vm), next = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->vcpus[i];
		int64_t deadline;
		bool fire = false;

		if (!v)
			continue;
		pthread_mutex_lock(&vm->xen.lock);
		deadline = v->xen.timer_deadline_ns;
		if (deadline && deadline <= now) {
			v->xen.timer_deadline_ns = 0;
			fire = true;
		}
		pthread_mutex_unlock(&vm->xen.lock);
		if (fire) {
			xen_time_update_vcpu(v);
			evtchn_send_virq(v, VIRQ_TIMER);
		} else if (deadline && (!next || deadline < next)) {
			next = deadline;
		}
	}
	if (!next)
		return 0;
	/* Host time, saturated: a guest may set its timer at the end of time. */
	return next > INT64_MAX - vm->xen.boot_ns ? INT64_MAX
						  : next + vm->xen.boot_ns;
}

/* The time left until deadline_ns for ppoll(), or NULL to wait forever. */
static struct timespec *poll_timeout(int64_t deadline_ns, struct timespec *ts)
{
	int64_t delta;

	if (!deadline_ns)
		return NULL;
	delta = deadline_ns - time_monotonic_ns();
	if (delta < 0)
		delta = 0;
	ts->tv_sec = delta / 1000000000;
	ts->tv_nsec = delta % 1000000000;
	return ts;
}

static void handle_signal(struct evloop *ev)
{
	struct signalfd_siginfo si;

	if (read(ev->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vm_stop(ev->vm, VM_STOP_SIGNAL, 128 + (int)si.ssi_signo,
		"stopped by signal %s", strsignal((int)si.ssi_signo));
}

static void handle_stdin(struct evloop *ev)
{
	char buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		ev->stdin_open = false; /* EOF: the guest keeps running */
		return;
	}
	consback_input(ev->vm, buf, (size_t)n);
}

static void *evloop_main(void *opaque)
{
	struct evloop *ev = opaque;
	struct vm *vm = ev->vm;

	sandbox_thread(SANDBOX_ROLE_EVENTS, "events");
	/* Guest timers want microseconds, not the default 50 us of slack. */
	prctl(PR_SET_TIMERSLACK, 1ul);
	while (!vm_stopped(vm)) {
		struct pollfd fds[3 + XS_SOCKET_POLLFDS + CTL_SERVER_POLLFDS] = {
			{ .fd = ev->wake_fd, .events = POLLIN },
			{ .fd = ev->signal_fd, .events = POLLIN },
			{ .fd = ev->stdin_open ? STDIN_FILENO : -1,
			  .events = POLLIN },
		};
		/* --xenstore-socket: its listener and clients after ours. */
		struct xs_socket *xsock = xs_service_socket(vm);
		unsigned nxs = xs_socket_pollfds(xsock, fds + 3, XS_SOCKET_POLLFDS);
		/* --api: the control socket's after those. */
		unsigned nctl = ctl_server_pollfds(vm->ctl, fds + 3 + nxs, CTL_SERVER_POLLFDS);
		int64_t deadline = run_timers(vm), ctl_deadline = ctl_server_deadline(vm->ctl);
		struct timespec ts;

		if (ev->timeout_at_ns &&
		    (!deadline || ev->timeout_at_ns < deadline))
			deadline = ev->timeout_at_ns;
		if (ctl_deadline && (!deadline || ctl_deadline < deadline))
			deadline = ctl_deadline;
		if (ppoll(fds, 3 + nxs + nctl, poll_timeout(deadline, &ts), NULL) < 0 &&
		    errno != EINTR)
			break;
		if (fds[0].revents & POLLIN) {
			uint64_t cnt;

			if (read(ev->wake_fd, &cnt, sizeof(cnt)) < 0) {
				/* spurious: nothing to drain */
			}
		}
		if (fds[1].revents & POLLIN)
			handle_signal(ev);
		xs_service_poll(vm);
		vconsole_poll(vm);
		xs_socket_service(xsock, fds + 3, nxs);
		ctl_server_service(vm->ctl, fds + 3 + nxs, nctl);
		if (fds[2].revents & (POLLIN | POLLHUP))
			handle_stdin(ev);
		if (ev->timeout_at_ns && time_monotonic_ns() >= ev->timeout_at_ns)
			vm_stop(vm, VM_STOP_TIMEOUT, PVISOR_EXIT_TIMEOUT,
				"guest still running after --timeout %g s",
				vm->cfg->timeout_sec);
	}
	/* Requests that waited for the end (shutdown) get their replies. */
	ctl_server_vm_stopped(vm->ctl);
	return NULL;
}

int evloop_start(struct vm *vm)
{
	struct evloop *ev = calloc(1, sizeof(*ev));
	sigset_t set;
	int rc;

	if (!ev)
		return -ENOMEM;
	ev->vm = vm;
	ev->stdin_open = true;
	if (vm->cfg->timeout_sec > 0)
		ev->timeout_at_ns = time_monotonic_ns() +
				    (int64_t)(vm->cfg->timeout_sec * 1e9);
	ev->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	ev->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ev->wake_fd < 0 || ev->signal_fd < 0) {
		rc = -errno;
		goto fail;
	}
	vm->evloop = ev;
	rc = -pthread_create(&ev->thread, NULL, evloop_main, ev);
	if (rc) {
		vm->evloop = NULL;
		goto fail;
	}
	return 0;
fail:
	if (ev->wake_fd >= 0)
		close(ev->wake_fd);
	if (ev->signal_fd >= 0)
		close(ev->signal_fd);
	free(ev);
	return rc;
}

void evloop_stop(struct vm *vm)
{
	struct evloop *ev = vm->evloop;

	if (!ev)
		return;
	wake(ev);
	pthread_join(ev->thread, NULL);
	vm->evloop = NULL;
	close(ev->wake_fd);
	close(ev->signal_fd);
	free(ev);
}
