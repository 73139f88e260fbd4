/* xenstored's unix socket for Xen's tools (see xs_socket.h). */
#include "services/xenstore/xs_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "hostio/unix_listen.h"
#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_msg.h"

#define HDR_SIZE sizeof(struct xsd_sockmsg)
/* Messages one client may have processed per wake-up before the others get
 * their turn (its socket stays readable, so poll comes back to it). */
#define BATCH 64

struct client {
	int fd;
	struct xs_conn *conn;
	bool closing;  /* stop reading; close once output has drained */
	size_t in_len; /* bytes of the message being received */
	char in[HDR_SIZE + XENSTORE_PAYLOAD_MAX];
	size_t out_off, out_len; /* chunk taken from the store, being sent */
	char out[HDR_SIZE + XENSTORE_PAYLOAD_MAX];
	/* The last words before closing (E2BIG for an oversized message). */
	size_t final_len;
	char final[HDR_SIZE + 16];
};

struct xs_socket {
	struct xenstore *xs;
	struct unix_listener listener; /* fd -1: none */
	int wake_fd;   /* eventfd: a store kick (output from another thread) */
	bool full_logged;
	unsigned nr_clients;
	struct client *clients[XS_SOCKET_MAX_CLIENTS];
};

/* The store queued output for one of our connections outside our own
 * request (a watch fired by the guest's write, on its vCPU thread). */
static void on_kick(void *opaque)
{
	struct xs_socket *s = opaque;
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already set; a wake-up is pending. */
	}
}

struct xs_socket *xs_socket_open(struct xenstore *xs, const char *path, char *err,
				 size_t err_len)
{
	struct xs_socket *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, err_len, "xenstore socket: out of memory");
		return NULL;
	}
	s->xs = xs;
	s->listener.fd = -1;
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		snprintf(err, err_len, "xenstore socket: eventfd: %s", strerror(errno));
		free(s);
		return NULL;
	}
	if (path && unix_listen(&s->listener, path, "--xenstore-socket", err, err_len) < 0) {
		close(s->wake_fd);
		free(s);
		return NULL;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Clients */

static void client_close(struct xs_socket *s, unsigned i)
{
	struct client *c = s->clients[i];

	if (!c)
		return;
	s->clients[i] = NULL;
	s->nr_clients--;
	xs_conn_free(c->conn); /* its watches and open transactions go too */
	close(c->fd);
	free(c);
}

int xs_socket_add_client(struct xs_socket *s, int fd)
{
	struct client *c;
	unsigned i;
	int flags;

	for (i = 0; i < XS_SOCKET_MAX_CLIENTS && s->clients[i]; i++)
		;
	if (i == XS_SOCKET_MAX_CLIENTS) {
		close(fd);
		return -EMFILE;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->conn = xs_conn_new_dom0(s->xs, on_kick, s);
	if (!c || !c->conn) {
		free(c);
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	s->clients[i] = c;
	s->nr_clients++;
	return 0;
}

unsigned xs_socket_nr_clients(const struct xs_socket *s)
{
	return s ? s->nr_clients : 0;
}

static void accept_clients(struct xs_socket *s)
{
	for (;;) {
		int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int rc;

		if (fd < 0)
			return; /* EAGAIN, or a client that already left */
		if (!unix_peer_allowed(fd)) {
			log_info("xenstore socket: refused a client of another user");
			close(fd);
			continue;
		}
		rc = xs_socket_add_client(s, fd);
		if (rc == -EMFILE) {
			if (!s->full_logged)
				log_info("xenstore socket: %u clients already; closing new ones",
					 XS_SOCKET_MAX_CLIENTS);
			s->full_logged = true;
		} else if (rc == 0) {
			s->full_logged = false;
		}
	}
}

/* Sends what is queued; false if the client is gone. */
static bool client_flush(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->out_off == c->out_len) {
			c->out_off = 0;
			c->out_len = xs_conn_output(c->conn, c->out, sizeof(c->out));
			if (!c->out_len && c->closing && c->final_len) {
				memcpy(c->out, c->final, c->final_len);
				c->out_len = c->final_len;
				c->final_len = 0;
			}
			if (!c->out_len)
				return !c->closing; /* drained: a closing one goes now */
		}
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		c->out_off += (size_t)n;
	}
}

/* Reads are allowed while the client takes its replies. */
static bool client_may_read(const struct client *c)
{
	struct xs_conn_stats st;

	if (c->closing)
		return false;
	xs_conn_stats(c->conn, &st);
	return st.out_bytes <= XS_OUT_SOFT;
}

/* A header announcing more than XENSTORE_PAYLOAD_MAX: the message cannot be
 * skipped reliably, so answer E2BIG (as the ring would break) and close. */
static void client_oversized(struct client *c, const struct xsd_sockmsg *hdr)
{
	struct xs_reply *r = malloc(sizeof(*r));

	log_guest("xenstore socket: a client sent a %u-byte message (max %u); closing it",
		  hdr->len, XENSTORE_PAYLOAD_MAX);
	c->closing = true;
	if (!r)
		return;
	xs_reply_error(r, hdr, E2BIG);
	if (xs_reply_size(r) <= sizeof(c->final)) {
		memcpy(c->final, r, xs_reply_size(r));
		c->final_len = xs_reply_size(r);
	}
	free(r);
}

/* Reads and processes what the client sent; false if it is gone. */
static bool client_read(struct client *c)
{
	unsigned done = 0;

	while (done < BATCH && client_may_read(c)) {
		struct xsd_sockmsg hdr;
		size_t want;
		ssize_t n;

		if (c->in_len < HDR_SIZE) {
			want = HDR_SIZE - c->in_len;
		} else {
			memcpy(&hdr, c->in, sizeof(hdr));
			want = HDR_SIZE + hdr.len - c->in_len;
		}
		n = want ? recv(c->fd, c->in + c->in_len, want, MSG_DONTWAIT) : 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		if (n == 0 && want)
			return false; /* EOF, perhaps mid-message: nothing to undo */
		c->in_len += (size_t)n;
		if (c->in_len < HDR_SIZE)
			continue;
		memcpy(&hdr, c->in, sizeof(hdr));
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			client_oversized(c, &hdr);
			return true;
		}
		if (c->in_len < HDR_SIZE + hdr.len)
			continue;
		/* A whole message: the store parses its own copy. */
		c->in_len = 0;
		done++;
		if (xs_conn_input(c->conn, c->in, HDR_SIZE + hdr.len) < 0)
			return false; /* cannot happen: framed above */
		if (!client_flush(c))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Polling */

unsigned xs_socket_pollfds(struct xs_socket *s, struct pollfd *fds, unsigned max)
{
	unsigned i, n = 0;

	if (!s || max < 2)
		return 0;
	fds[n++] = (struct pollfd){ .fd = s->listener.fd, .events = POLLIN };
	fds[n++] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
	for (i = 0; i < XS_SOCKET_MAX_CLIENTS && n < max; i++) {
		struct client *c = s->clients[i];
		short ev = 0;

		if (c) {
			if (client_may_read(c))
				ev |= POLLIN;
			if (c->out_off != c->out_len || c->final_len)
				ev |= POLLOUT;
		}
		fds[n++] = (struct pollfd){ .fd = c ? c->fd : -1, .events = ev };
	}
	return n;
}

void xs_socket_service(struct xs_socket *s, const struct pollfd *fds, unsigned n)
{
	unsigned i;

	if (!s || n < 2)
		return;
	if (fds[1].revents & POLLIN) {
		uint64_t cnt;

		if (read(s->wake_fd, &cnt, sizeof(cnt)) < 0) {
			/* EAGAIN: nothing pending */
		}
	}
	for (i = 0; i < XS_SOCKET_MAX_CLIENTS && i + 2 < n; i++) {
		struct client *c = s->clients[i];
		short rev = fds[i + 2].revents;
		bool alive = true;

		if (!c || fds[i + 2].fd != c->fd)
			continue;
		if (rev & POLLNVAL) {
			alive = false;
		} else if (rev & (POLLIN | POLLHUP | POLLERR)) {
			/* Read first: a client may send and hang up at once. */
			alive = client_read(c);
			if (alive && (rev & (POLLHUP | POLLERR)) && !(rev & POLLIN))
				alive = false;
		}
		/* Replies, and events queued by other threads (the kick). */
		if (alive)
			alive = client_flush(c);
		if (!alive)
			client_close(s, i);
	}
	if (s->listener.fd >= 0 && (fds[0].revents & POLLIN))
		accept_clients(s);
}

void xs_socket_close(struct xs_socket *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < XS_SOCKET_MAX_CLIENTS; i++)
		client_close(s, i);
	unix_listener_close(&s->listener);
	close(s->wake_fd);
	free(s);
}
