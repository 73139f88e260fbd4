/* The control API server (see ctl_server.h). */
#include "services/ctl/ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/dirty_log.h"
#include "core/snapshot_live.h"
#include "core/log.h"
#include "core/vm.h"
#include "hostio/unix_listen.h"
#include "services/ctl/ctl_commands.h"
#include "services/ctl/ctl_hotplug.h"
#include "services/ctl/ctl_reboot.h"
#include "services/ctl/ctl_request.h"
#include "services/ctl/ctl_save.h"
#include "xen/time.h"

/* Requests one client may have run per wake-up before the others' turn. */
#define BATCH 16
#define IN_CHUNK 4096

struct client {
	int fd;
	bool discarding; /* skipping the rest of an overlong line */
	bool closing;    /* no more input; close once the output is sent */
	bool waiting;    /* a reply waits: for the VM to stop, or for job */
	bool wait_save;  /* ... or for a save's outcome (ctl_save.c) */
	bool wait_reboot; /* ... or for a reboot's (ctl_reboot.c) */
	json_t *wait_id; /* that request's id */
	struct ctl_hotplug_job *job; /* a hot-plug request being done */
	unsigned nr_fds; /* descriptors received, oldest first */
	int fds[CTL_MAX_FDS];
	size_t in_len, in_cap;
	char *in;
	size_t out_off, out_len, out_cap;
	char *out;
};

struct ctl_server {
	struct vm *vm;
	struct unix_listener listener; /* fd -1: none */
	struct ctl_hotplug *hotplug;   /* NULL: no hot-plug (no socket) */
	int64_t hard_stop_at_ns;       /* 0: none */
	double hard_stop_after_s;
	bool full_logged;
	unsigned nr_clients;
	struct client *clients[CTL_MAX_CLIENTS];
};

struct ctl_server *ctl_server_open(struct vm *vm, const char *path, char *err,
				   size_t err_len)
{
	struct ctl_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, err_len, "--api: out of memory");
		return NULL;
	}
	s->vm = vm;
	s->listener.fd = -1;
	/* jansson seeds its hash tables from /dev/urandom on first use: now,
	 * on the main thread, not later on the sandboxed event thread. */
	json_object_seed(0);
	if (path && unix_listen(&s->listener, path, "--api", err, err_len) < 0) {
		free(s);
		return NULL;
	}
	if (path) { /* save --live */
		dirty_log_prepare(vm);
		snapshot_live_prepare(vm);
	}
	/* Its thread starts now: set-up may still start threads. */
	if (path && !(s->hotplug = ctl_hotplug_start(vm, err, err_len))) {
		unix_listener_close(&s->listener);
		free(s);
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Clients */

static void client_free(struct client *c)
{
	if (c->job)
		ctl_hotplug_abandon(c->job); /* it completes all the same */
	for (unsigned i = 0; i < c->nr_fds; i++)
		close(c->fds[i]);
	close(c->fd);
	json_decref(c->wait_id);
	free(c->in);
	free(c->out);
	free(c);
}

static void client_close(struct ctl_server *s, unsigned i)
{
	if (!s->clients[i])
		return;
	client_free(s->clients[i]);
	s->clients[i] = NULL;
	s->nr_clients--;
}

static int set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int ctl_server_add_client(struct ctl_server *s, int fd)
{
	struct client *c;
	unsigned i;
	int rc;

	for (i = 0; i < CTL_MAX_CLIENTS && s->clients[i]; i++)
		;
	if (i == CTL_MAX_CLIENTS) {
		close(fd);
		return -EMFILE;
	}
	rc = set_nonblock(fd);
	c = rc ? NULL : calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return rc ? rc : -ENOMEM;
	}
	c->fd = fd;
	s->clients[i] = c;
	s->nr_clients++;
	return 0;
}

unsigned ctl_server_nr_clients(const struct ctl_server *s)
{
	return s ? s->nr_clients : 0;
}

/* Queues bytes for the client; false when out of memory (the client is
 * then closed: its replies would be out of step). */
static bool queue_out(struct client *c, const char *data, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return true;
}

/* Queues a reply object (consumed). */
static bool queue_reply(struct client *c, json_t *reply)
{
	size_t len;
	char *line = reply ? ctl_reply_dump(reply, &len) : NULL;
	bool ok = line && queue_out(c, line, len);

	json_decref(reply);
	free(line);
	return ok;
}

static bool queue_error(struct client *c, json_t *id, const struct ctl_error *err)
{
	return queue_reply(c, ctl_reply_error(id, err->code, err->message));
}

/* Sends what is queued; false if the client is gone. */
static bool client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		c->out_off += (size_t)n;
	}
	return !(c->closing && !c->waiting);
}

static bool client_may_read(const struct client *c)
{
	return !c->closing && !c->waiting && c->out_len - c->out_off <= CTL_OUT_SOFT;
}

/* The oldest descriptor the client sent, or -1. */
static int take_fd(struct client *c)
{
	int fd;

	if (!c->nr_fds)
		return -1;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, --c->nr_fds * sizeof(c->fds[0]));
	return fd;
}

/* Hands a hot-plug request to its thread; the reply comes when it is done
 * (ctl_server_service).  False if the client must go. */
static bool run_hotplug(struct ctl_server *s, struct client *c, struct ctl_request *req)
{
	struct ctl_error err;
	int fd = req->fd;

	req->fd = -1; /* ours now: closed or handed to the job */
	if (ctl_command_takes_fd(req->command)) {
		if (fd < 0) {
			err.code = "invalid-argument";
			snprintf(err.message, sizeof(err.message),
				 "%s needs a file descriptor sent with the request (SCM_RIGHTS)",
				 ctl_command_name(req->command));
			return queue_error(c, req->id, &err);
		}
	}
	if (vm_stopped(s->vm)) {
		if (fd >= 0)
			close(fd);
		err.code = "stopped";
		snprintf(err.message, sizeof(err.message), "the VM is stopping");
		return queue_error(c, req->id, &err);
	}
	c->job = ctl_hotplug_submit(s->hotplug, req, fd, &err);
	if (!c->job)
		return queue_error(c, req->id, &err);
	c->waiting = true;
	c->wait_id = json_incref(req->id);
	return true;
}

/* A hot-plug job done: its reply, and the client reads again. */
static bool finish_job(struct client *c)
{
	struct ctl_error err;
	json_t *result = NULL;
	bool ok;

	if (!c->job || !ctl_hotplug_take(c->job, &result, &err))
		return true;
	c->job = NULL;
	c->waiting = false;
	ok = queue_reply(c, result ? ctl_reply_ok(c->wait_id, result)
				   : ctl_reply_error(c->wait_id, err.code, err.message));
	json_decref(c->wait_id);
	c->wait_id = NULL;
	return ok;
}

/* Descriptors that came with the bytes (SCM_RIGHTS), queued in order;
 * past CTL_MAX_FDS waiting they are closed. */
static void take_rights(struct client *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;
		int *fds = (int *)CMSG_DATA(cm);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, fds + i, sizeof(fd));
			if (c->nr_fds < CTL_MAX_FDS)
				c->fds[c->nr_fds++] = fd;
			else
				close(fd);
		}
	}
}

/* recv with the descriptors that come along. */
static ssize_t recv_with_fds(struct client *c, void *buf, size_t len)
{
	union {
		char buf[CMSG_SPACE(CTL_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			     .msg_controllen = sizeof(ctrl.buf) };
	ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n >= 0)
		take_rights(c, &mh); /* with MSG_CTRUNC, the kernel closed the rest */
	return n;
}

/* Runs one request line; false if the client must go. */
static bool run_line(struct ctl_server *s, struct client *c, const char *line, size_t len)
{
	struct ctl_request req;
	struct ctl_error err;
	json_t *result = NULL;
	int64_t stop_at = 0;
	bool ok = true;

	if (ctl_request_parse(line, len, &req, &err) < 0) {
		ok = queue_error(c, req.id, &err);
		ctl_request_clear(&req);
		return ok;
	}
	/* A command that takes a descriptor takes the oldest one the client
	 * sent (pipelined requests get theirs in order); others leave them. */
	req.fd = ctl_command_takes_fd(req.command) ? take_fd(c) : -1;
	if (ctl_hotplug_handles(&req)) {
		ok = run_hotplug(s, c, &req);
		ctl_request_clear(&req);
		return ok;
	}
	switch (ctl_command_run(s->vm, &req, &result, &err, &stop_at)) {
	case CTL_DONE:
		ok = queue_reply(c, ctl_reply_ok(req.id, result));
		break;
	case CTL_FAILED:
		ok = queue_error(c, req.id, &err);
		break;
	case CTL_DEFERRED:
		c->waiting = true;
		c->wait_save = req.command == CTL_SAVE;
		c->wait_reboot = req.command == CTL_REBOOT;
		c->wait_id = json_incref(req.id);
		if (stop_at && (!s->hard_stop_at_ns || stop_at < s->hard_stop_at_ns)) {
			s->hard_stop_at_ns = stop_at;
			s->hard_stop_after_s = req.timeout_s;
		}
		log_info("control API: %s", ctl_command_name(req.command));
		break;
	}
	if (req.fd >= 0)
		close(req.fd);
	ctl_request_clear(&req);
	return ok;
}

static bool ensure_in(struct client *c)
{
	size_t cap;
	char *p;

	if (c->in_len < c->in_cap)
		return true;
	if (c->in_cap >= CTL_LINE_MAX)
		return true; /* full: the caller sees in_len == CTL_LINE_MAX */
	cap = c->in_cap ? c->in_cap * 2 : IN_CHUNK;
	if (cap > CTL_LINE_MAX)
		cap = CTL_LINE_MAX;
	p = realloc(c->in, cap);
	if (!p)
		return false;
	c->in = p;
	c->in_cap = cap;
	return true;
}

/* Takes the complete lines buffered; false if the client must go. */
static bool take_lines(struct ctl_server *s, struct client *c, unsigned *done)
{
	size_t start = 0;
	char *nl;

	while (*done < BATCH && !c->waiting &&
	       (nl = memchr(c->in + start, '\n', c->in_len - start))) {
		size_t len = (size_t)(nl - (c->in + start));

		if (c->discarding) {
			c->discarding = false; /* the overlong line ends here */
		} else {
			if (len && c->in[start + len - 1] == '\r')
				len--;
			if (len && !run_line(s, c, c->in + start, len))
				return false;
			(*done)++;
		}
		start = (size_t)(nl - c->in) + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == CTL_LINE_MAX) {
		/* A line that does not fit: answer once, drop it to its end. */
		struct ctl_error err = { "line-too-long", "" };

		snprintf(err.message, sizeof(err.message),
			 "request line longer than %u bytes; skipped", CTL_LINE_MAX - 1);
		c->in_len = 0;
		if (!c->discarding && !queue_error(c, NULL, &err))
			return false;
		c->discarding = true;
	} else if (c->discarding) {
		c->in_len = 0;
	}
	return true;
}

/* Reads and runs what the client sent; false if it is gone. */
static bool client_read(struct ctl_server *s, struct client *c)
{
	unsigned done = 0;

	/* Lines that came while a request waited go first. */
	if (c->in_len && !c->discarding && !take_lines(s, c, &done))
		return false;
	while (done < BATCH && client_may_read(c)) {
		ssize_t n;

		if (!ensure_in(c))
			return false;
		n = recv_with_fds(c, c->in + c->in_len, c->in_cap - c->in_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		if (n == 0) {
			/* EOF: a last line without its newline still counts
			 * (`echo -n`); then the replies go and so does it. */
			if (c->in_len && !c->discarding && !c->waiting &&
			    !run_line(s, c, c->in, c->in_len))
				return false;
			c->in_len = 0;
			c->closing = true;
			return client_flush(c);
		}
		c->in_len += (size_t)n;
		if (!take_lines(s, c, &done))
			return false;
		if (!client_flush(c))
			return false;
	}
	return true;
}

static void accept_clients(struct ctl_server *s)
{
	for (;;) {
		int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		static const char busy[] =
			"{\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":\"too many clients\"}}\n";

		if (fd < 0)
			return; /* EAGAIN, or a client that already left */
		if (!unix_peer_allowed(fd)) {
			log_info("control API: refused a client of another user");
			close(fd);
			continue;
		}
		if (s->nr_clients == CTL_MAX_CLIENTS) {
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* it gets the close alone */
			}
			close(fd);
			if (!s->full_logged)
				log_info("control API: %u clients already; refusing new ones",
					 CTL_MAX_CLIENTS);
			s->full_logged = true;
			continue;
		}
		s->full_logged = false;
		ctl_server_add_client(s, fd);
	}
}

/* ------------------------------------------------------------------ */
/* Polling */

unsigned ctl_server_pollfds(struct ctl_server *s, struct pollfd *fds, unsigned max)
{
	unsigned n = 0;

	if (!s || max < 1)
		return 0;
	fds[n++] = (struct pollfd){ .fd = s->listener.fd, .events = POLLIN };
	for (unsigned i = 0; i < CTL_MAX_CLIENTS && n < max; i++) {
		struct client *c = s->clients[i];
		short ev = 0;

		if (c) {
			/* A waiting client is not read (its next request
			 * waits its turn); POLLHUP, always reported, says
			 * it left. */
			if (client_may_read(c))
				ev |= POLLIN;
			if (c->out_off < c->out_len)
				ev |= POLLOUT;
		}
		fds[n++] = (struct pollfd){ .fd = c ? c->fd : -1, .events = ev };
	}
	return n;
}

/* A waiting client that closed its socket: only its reply is lost.  (One
 * that only shut down its sending side still gets the reply.) */
static bool waiting_client_alive(short rev)
{
	return !(rev & (POLLHUP | POLLERR));
}

static void check_hard_stop(struct ctl_server *s)
{
	if (!s->hard_stop_at_ns || time_monotonic_ns() < s->hard_stop_at_ns)
		return;
	s->hard_stop_at_ns = 0;
	vm_stop(s->vm, VM_STOP_API, VM_EXIT_API_STOP,
		"stopped through the control API: the guest did not shut down within %g s",
		s->hard_stop_after_s);
}

/* A save that failed or timed out: its client gets the error now. */
static void check_save(struct ctl_server *s)
{
	struct ctl_error err;

	if (!ctl_save_poll(s->vm, &err))
		return;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct client *c = s->clients[i];

		if (!c || !c->wait_save)
			continue;
		queue_error(c, c->wait_id, &err);
		json_decref(c->wait_id);
		c->wait_id = NULL;
		c->waiting = c->wait_save = false;
		if (!client_flush(c))
			client_close(s, i);
	}
}

/* A reboot done or not taken in time: its client's reply. */
static void check_reboot(struct ctl_server *s)
{
	struct ctl_error err;
	json_t *result = NULL;
	enum ctl_outcome o = ctl_reboot_poll(s->vm, &result, &err);

	if (o == CTL_DEFERRED)
		return;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct client *c = s->clients[i];

		if (!c || !c->wait_reboot)
			continue;
		queue_reply(c, o == CTL_DONE ? ctl_reply_ok(c->wait_id, json_incref(result))
					     : ctl_reply_error(c->wait_id, err.code, err.message));
		json_decref(c->wait_id);
		c->wait_id = NULL;
		c->waiting = c->wait_reboot = false;
		if (!client_flush(c))
			client_close(s, i);
	}
	json_decref(result);
}

void ctl_server_service(struct ctl_server *s, const struct pollfd *fds, unsigned n)
{
	if (!s || n < 1)
		return;
	check_hard_stop(s);
	check_save(s);
	check_reboot(s);
	for (unsigned i = 0; i < CTL_MAX_CLIENTS && i + 1 < n; i++) {
		struct client *c = s->clients[i];
		short rev = fds[i + 1].revents;
		bool alive = true;

		if (!c || fds[i + 1].fd != c->fd)
			continue;
		if (!finish_job(c))
			rev |= POLLNVAL; /* out of memory: it goes */
		else if (!c->waiting && (rev & POLLIN) == 0 && client_may_read(c))
			rev |= POLLIN; /* requests it sent while the job ran */
		if (rev & POLLNVAL)
			alive = false;
		else if (c->waiting)
			alive = waiting_client_alive(rev);
		else if (rev & (POLLIN | POLLHUP | POLLERR))
			alive = client_read(s, c); /* reads to EOF before a hang-up */
		if (alive && ((rev & POLLOUT) || c->closing))
			alive = client_flush(c); /* false once a closing one is done */
		if (!alive)
			client_close(s, i);
	}
	if (s->listener.fd >= 0 && (fds[0].revents & POLLIN))
		accept_clients(s);
}

int64_t ctl_server_deadline(const struct ctl_server *s)
{
	int64_t save, reboot, at;

	if (!s)
		return 0;
	at = s->hard_stop_at_ns;
	reboot = ctl_reboot_deadline(s->vm);
	save = ctl_save_deadline(s->vm);
	if (save && (!at || save < at))
		at = save;
	if (reboot && (!at || reboot < at))
		at = reboot;
	return at;
}

/* How long a VM that stopped waits for a hot-plug job still running: its
 * removal loop sees the stop within REMOVE_POLL_NS, an add is a few
 * xenstore writes. */
#define STOP_JOB_WAIT_NS 2000000000LL

/*
 * A job done, or done within the wait, answers what it did (a disk the
 * guest closed just before it stopped was removed: saying "stopped" would
 * lose that); one still running after it is abandoned: "stopped".
 */
static void finish_job_at_stop(struct client *c)
{
	int64_t until = time_monotonic_ns() + STOP_JOB_WAIT_NS;

	while (c->job && time_monotonic_ns() < until) {
		if (!finish_job(c))
			return;
		if (c->job)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	if (c->job) {
		ctl_hotplug_abandon(c->job);
		c->job = NULL;
		queue_reply(c, ctl_reply_error(c->wait_id, "stopped", "the VM stopped"));
	}
}

void ctl_server_vm_stopped(struct ctl_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct client *c = s->clients[i];

		if (!c || !c->waiting)
			continue;
		if (c->job) {
			finish_job_at_stop(c);
		} else {
			queue_reply(c, ctl_reply_ok(c->wait_id, ctl_stopped_result(s->vm)));
		}
		c->waiting = false;
		c->closing = true;
		if (!client_flush(c))
			client_close(s, i); /* all sent: done with it */
	}
}

void ctl_server_close(struct ctl_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < CTL_MAX_CLIENTS; i++)
		client_close(s, i);
	ctl_hotplug_stop(s->hotplug);
	dirty_log_release(s->vm);
	snapshot_live_release(s->vm);
	unix_listener_close(&s->listener);
	free(s);
}
