/*
 * xenstored's socket (services/xenstore/xs_socket.c): Xen's wire protocol
 * from a dom0 client over a socketpair and over a real unix socket: read,
 * write, directory, permissions, watch events pushed asynchronously (also
 * when the guest's own write fires them), transactions, privileged requests,
 * malformed and oversized headers, byte-at-a-time writes, clients that go
 * away mid-message or with open transactions, the client limit,
 * backpressure, and the socket file's rules (mode 0600, stale sockets
 * replaced, anything else refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_msg.h"
#include "services/xenstore/xs_socket.h"

#define GUEST 1
#define HDR sizeof(struct xsd_sockmsg)

struct msg {
	struct xsd_sockmsg hdr;
	char body[XENSTORE_PAYLOAD_MAX + 1];
};

struct fx {
	struct xenstore *xs;
	struct xs_conn *guest; /* domain 1, through the message transport */
	struct xs_socket *srv;
	int fd;                /* the tool's end */
	char dir[64];
};

static int setup(void **state)
{
	const struct xs_domain_info info = { .name = "guest", .target_kb = 65536, .vcpus = 1 };
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	int sv[2];

	assert_non_null(f);
	f->xs = xs_new();
	assert_non_null(f->xs);
	assert_int_equal(xs_domain_setup(f->xs, GUEST, &info), 0);
	f->guest = xs_conn_new(f->xs, GUEST, NULL, NULL);
	assert_non_null(f->guest);
	f->srv = xs_socket_open(f->xs, NULL, err, sizeof(err));
	assert_non_null(f->srv);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(xs_socket_add_client(f->srv, sv[0]), 0);
	f->fd = sv[1];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->fd >= 0)
		close(f->fd);
	xs_socket_close(f->srv);
	xs_conn_free(f->guest);
	xs_free(f->xs);
	free(f);
	return 0;
}

/* One round of the server's event loop, waiting at most ms. */
static void pump(struct fx *f, int ms)
{
	struct pollfd fds[XS_SOCKET_POLLFDS];
	unsigned n = xs_socket_pollfds(f->srv, fds, XS_SOCKET_POLLFDS);

	assert_true(n <= XS_SOCKET_POLLFDS);
	if (poll(fds, n, ms) < 0)
		fail();
	xs_socket_service(f->srv, fds, n);
}

static void pump_idle(struct fx *f)
{
	for (int i = 0; i < 8; i++)
		pump(f, 0);
}

static void send_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static size_t unbar(const char *s, char *out)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		out[i] = s[i] == '|' ? '\0' : s[i];
	return n;
}

static void send_msg(struct fx *f, uint32_t type, uint32_t req_id, uint32_t tx,
		     const void *payload, size_t len)
{
	char buf[HDR + XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx,
				 .len = (uint32_t)len };

	assert_true(len <= XENSTORE_PAYLOAD_MAX);
	memcpy(buf, &h, HDR);
	memcpy(buf + HDR, payload, len);
	send_all(f->fd, buf, HDR + len);
}

/* Reads exactly len bytes from the tool's end, running the server meanwhile;
 * false on EOF. */
static bool recv_all(struct fx *f, void *buf, size_t len)
{
	size_t got = 0;

	for (int spins = 0; got < len; spins++) {
		ssize_t n = recv(f->fd, (char *)buf + got, len - got, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return false; /* closed (with our bytes unread: a reset) */
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		assert_true(errno == EAGAIN);
		assert_true(spins < 2000);
		pump(f, 1);
	}
	return true;
}

static bool recv_msg(struct fx *f, struct msg *m)
{
	if (!recv_all(f, &m->hdr, HDR))
		return false;
	assert_true(m->hdr.len <= XENSTORE_PAYLOAD_MAX);
	assert_true(recv_all(f, m->body, m->hdr.len));
	m->body[m->hdr.len] = '\0';
	return true;
}

/* Nothing more arrives (after the server had its chances). */
static void assert_quiet(struct fx *f)
{
	char c;

	pump_idle(f);
	assert_int_equal(recv(f->fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* Request with a '|'-separated payload; the reply, skipping watch events. */
static void rpc(struct fx *f, uint32_t type, uint32_t tx, const char *payload, struct msg *m)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t len = unbar(payload, buf);

	send_msg(f, type, 7, tx, buf, len);
	do {
		assert_true(recv_msg(f, m));
	} while (m->hdr.type == XS_WATCH_EVENT);
	assert_int_equal(m->hdr.req_id, 7);
	assert_int_equal(m->hdr.tx_id, tx);
}

static void expect_ok(struct fx *f, uint32_t type, uint32_t tx, const char *payload)
{
	struct msg m;

	rpc(f, type, tx, payload, &m);
	assert_int_equal(m.hdr.type, type);
	assert_string_equal(m.body, "OK");
}

static void expect_error(struct fx *f, uint32_t type, uint32_t tx, const char *payload,
			 const char *err)
{
	struct msg m;

	rpc(f, type, tx, payload, &m);
	assert_int_equal(m.hdr.type, XS_ERROR);
	assert_string_equal(m.body, err);
}

static void expect_read(struct fx *f, uint32_t tx, const char *path, const char *value)
{
	char p[XENSTORE_ABS_PATH_MAX + 2];
	struct msg m;

	snprintf(p, sizeof(p), "%s|", path);
	rpc(f, XS_READ, tx, p, &m);
	assert_int_equal(m.hdr.type, XS_READ);
	assert_int_equal(m.hdr.len, strlen(value));
	assert_memory_equal(m.body, value, strlen(value));
}

/* The guest (domain 1) makes a request through its own transport. */
static void guest_rpc(struct fx *f, uint32_t type, const char *payload, const char *reply)
{
	char buf[HDR + XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg h = { .type = type, .req_id = 1 };
	struct msg m;
	size_t n;

	h.len = (uint32_t)unbar(payload, buf + HDR);
	memcpy(buf, &h, HDR);
	assert_int_equal(xs_conn_input(f->guest, buf, HDR + h.len), 0);
	for (;;) {
		n = xs_conn_output(f->guest, &m.hdr, HDR);
		assert_int_equal(n, HDR);
		assert_int_equal(xs_conn_output(f->guest, m.body, m.hdr.len), m.hdr.len);
		m.body[m.hdr.len] = '\0';
		if (m.hdr.type != XS_WATCH_EVENT)
			break;
	}
	assert_string_equal(m.body, reply);
}

static void expect_event(struct fx *f, const char *path, const char *token)
{
	struct msg m;

	assert_true(recv_msg(f, &m));
	assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
	assert_string_equal(m.body, path);
	assert_string_equal(m.body + strlen(path) + 1, token);
}

/* ------------------------------------------------------------------ */

static void test_read_write_directory(void **state)
{
	struct fx *f = *state;
	struct msg m;
	char *v;
	size_t len;

	expect_read(f, 0, "/local/domain/1/name", "guest");
	expect_ok(f, XS_WRITE, 0, "/local/domain/1/data/k|hello");
	expect_read(f, 0, "/local/domain/1/data/k", "hello");
	/* A value may carry NULs; the length is the header's. */
	send_msg(f, XS_WRITE, 7, 0, "/local/domain/1/data/bin\0a\0b", 28);
	assert_true(recv_msg(f, &m));
	assert_string_equal(m.body, "OK");
	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/data/bin", &v, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "a\0b", 3);
	free(v);
	/* The guest sees dom0's write. */
	guest_rpc(f, XS_READ, "data/k|", "hello");

	rpc(f, XS_DIRECTORY, 0, "/local/domain/1/data|", &m);
	assert_int_equal(m.hdr.type, XS_DIRECTORY);
	assert_int_equal(m.hdr.len, strlen("k") + 1 + strlen("bin") + 1);
	assert_string_equal(m.body, "k");
	assert_string_equal(m.body + 2, "bin");

	expect_ok(f, XS_MKDIR, 0, "/local/domain/1/data/d|");
	expect_read(f, 0, "/local/domain/1/data/d", "");
	expect_ok(f, XS_RM, 0, "/local/domain/1/data/d|");
	expect_error(f, XS_READ, 0, "/local/domain/1/data/d|", "ENOENT");
	/* Relative paths are dom0's home. */
	expect_ok(f, XS_WRITE, 0, "x|y");
	expect_read(f, 0, "/local/domain/0/x", "y");
	expect_error(f, XS_READ, 0, "/bad//path|", "EINVAL");

	rpc(f, XS_GET_DOMAIN_PATH, 0, "1|", &m);
	assert_string_equal(m.body, "/local/domain/1");
	rpc(f, XS_IS_DOMAIN_INTRODUCED, 0, "1|", &m);
	assert_string_equal(m.body, "T");
	rpc(f, XS_IS_DOMAIN_INTRODUCED, 0, "5|", &m);
	assert_string_equal(m.body, "F");
	assert_quiet(f);
}

static void test_dom0_permissions(void **state)
{
	struct fx *f = *state;
	struct msg m;

	/* The guest's private node: dom0 still reads and writes it. */
	guest_rpc(f, XS_WRITE, "data/secret|s3", "OK");
	guest_rpc(f, XS_SET_PERMS, "data/secret|n1|", "OK");
	expect_read(f, 0, "/local/domain/1/data/secret", "s3");
	rpc(f, XS_GET_PERMS, 0, "/local/domain/1/data/secret|", &m);
	assert_int_equal(m.hdr.type, XS_GET_PERMS);
	assert_string_equal(m.body, "n1");
	/* dom0 takes the node away: the guest can no longer read it. */
	expect_ok(f, XS_SET_PERMS, 0, "/local/domain/1/data/secret|n0|");
	guest_rpc(f, XS_READ, "data/secret|", "EACCES");
	expect_ok(f, XS_SET_PERMS, 0, "/local/domain/1/data/secret|n0|r1|");
	guest_rpc(f, XS_READ, "data/secret|", "s3");
	guest_rpc(f, XS_WRITE, "data/secret|no", "EACCES");
	/* Only a toolstack could introduce domains: pvisor does that itself. */
	expect_error(f, XS_INTRODUCE, 0, "2|1234|5|", "ENOSYS");
	expect_error(f, XS_RELEASE, 0, "1|", "ENOSYS");
	expect_error(f, XS_RESUME, 0, "1|", "ENOSYS");
	expect_error(f, XS_SET_TARGET, 0, "1|0|", "ENOSYS");
	expect_error(f, XS_CONTROL, 0, "log|on|", "ENOSYS");
	/* The connection is still fine. */
	expect_read(f, 0, "/local/domain/1/domid", "1");
	assert_quiet(f);
}

static void test_watch_events(void **state)
{
	struct fx *f = *state;

	expect_ok(f, XS_WATCH, 0, "/local/domain/1/data|tok|");
	/* A new watch fires once at once. */
	expect_event(f, "/local/domain/1/data", "tok");
	/* The guest's write: the event is pushed without a request. */
	guest_rpc(f, XS_WRITE, "data/x|1", "OK");
	expect_event(f, "/local/domain/1/data/x", "tok");
	/* dom0's own write through the API too. */
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/1/data/y", "2", 1), 0);
	expect_event(f, "/local/domain/1/data/y", "tok");
	assert_quiet(f);
	/* Outside the watched subtree: nothing. */
	guest_rpc(f, XS_WRITE, "device/z|1", "OK");
	assert_quiet(f);
	/* The client's own write: its event may come before the reply. */
	expect_ok(f, XS_WRITE, 0, "/local/domain/1/data/w|3");
	expect_error(f, XS_WATCH, 0, "/local/domain/1/data|tok|", "EEXIST");
	expect_ok(f, XS_UNWATCH, 0, "/local/domain/1/data|tok|");
	expect_error(f, XS_UNWATCH, 0, "/local/domain/1/data|tok|", "ENOENT");
	assert_quiet(f);
	guest_rpc(f, XS_WRITE, "data/x|2", "OK");
	assert_quiet(f);
	/* @releaseDomain / @introduceDomain watches are dom0's to make. */
	expect_ok(f, XS_WATCH, 0, "@releaseDomain|rel|");
	expect_event(f, "@releaseDomain", "rel");
	xs_conn_free(f->guest);
	f->guest = NULL;
	expect_event(f, "@releaseDomain", "rel");
	assert_quiet(f);
}

static void test_transaction(void **state)
{
	struct fx *f = *state;
	struct msg m;
	uint32_t tx, tx2;

	rpc(f, XS_TRANSACTION_START, 0, "", &m);
	assert_int_equal(m.hdr.type, XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(m.body, NULL, 10);
	assert_true(tx != 0);
	expect_ok(f, XS_WRITE, tx, "/local/domain/1/data/t|in-tx");
	expect_read(f, tx, "/local/domain/1/data/t", "in-tx");
	/* Not visible outside until committed. */
	expect_error(f, XS_READ, 0, "/local/domain/1/data/t|", "ENOENT");
	guest_rpc(f, XS_READ, "data/t|", "ENOENT");
	expect_ok(f, XS_TRANSACTION_END, tx, "T|");
	expect_read(f, 0, "/local/domain/1/data/t", "in-tx");
	expect_error(f, XS_READ, tx, "/local/domain/1/data/t|", "ENOENT"); /* ended */

	/* Aborted: nothing changes. */
	rpc(f, XS_TRANSACTION_START, 0, "", &m);
	tx = (uint32_t)strtoul(m.body, NULL, 10);
	expect_ok(f, XS_WRITE, tx, "/local/domain/1/data/t|aborted");
	expect_ok(f, XS_TRANSACTION_END, tx, "F|");
	expect_read(f, 0, "/local/domain/1/data/t", "in-tx");

	/* A conflicting change meanwhile: EAGAIN, as xenstored says. */
	rpc(f, XS_TRANSACTION_START, 0, "", &m);
	tx = (uint32_t)strtoul(m.body, NULL, 10);
	rpc(f, XS_TRANSACTION_START, 0, "", &m);
	tx2 = (uint32_t)strtoul(m.body, NULL, 10);
	assert_true(tx2 != tx);
	expect_read(f, tx, "/local/domain/1/data/t", "in-tx");
	expect_ok(f, XS_WRITE, tx, "/local/domain/1/data/t|mine");
	guest_rpc(f, XS_WRITE, "data/t|guest", "OK");
	expect_error(f, XS_TRANSACTION_END, tx, "T|", "EAGAIN");
	expect_read(f, 0, "/local/domain/1/data/t", "guest");
	/* The other is left open: the disconnect in teardown drops it. */
	expect_ok(f, XS_WRITE, tx2, "/local/domain/1/data/u|open");
	expect_error(f, XS_READ, 9999, "/local/domain/1/data/t|", "ENOENT");
}

static void test_malformed(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 3, .len = 0 };
	struct msg m;

	/* Unknown and reply-only types: an error, the connection lives on. */
	send_msg(f, 999, 5, 0, "x", 2);
	assert_true(recv_msg(f, &m));
	assert_int_equal(m.hdr.type, XS_ERROR);
	assert_int_equal(m.hdr.req_id, 5);
	assert_string_equal(m.body, "EINVAL");
	expect_error(f, XS_WATCH_EVENT, 0, "a|b|", "EINVAL");
	expect_error(f, XS_ERROR, 0, "a|", "EINVAL");
	/* Missing NUL, wrong argument count, empty payload. */
	send_msg(f, XS_READ, 7, 0, "/local", 6);
	assert_true(recv_msg(f, &m));
	assert_string_equal(m.body, "EINVAL");
	expect_error(f, XS_WATCH, 0, "/local|", "EINVAL");
	send_all(f->fd, &h, HDR);
	assert_true(recv_msg(f, &m));
	assert_int_equal(m.hdr.req_id, 3);
	assert_string_equal(m.body, "EINVAL");
	expect_read(f, 0, "/local/domain/1/name", "guest");

	/* A header announcing more than XENSTORE_PAYLOAD_MAX: E2BIG, closed. */
	h.len = XENSTORE_PAYLOAD_MAX + 1;
	h.req_id = 11;
	send_all(f->fd, &h, HDR);
	assert_true(recv_msg(f, &m));
	assert_int_equal(m.hdr.type, XS_ERROR);
	assert_int_equal(m.hdr.req_id, 11);
	assert_string_equal(m.body, "E2BIG");
	assert_false(recv_msg(f, &m)); /* EOF */
	assert_int_equal(xs_socket_nr_clients(f->srv), 0);
}

static void test_huge_len_closes(void **state)
{
	struct fx *f = *state;
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 1, .len = 0xffffffffu };
	char junk[4096];
	struct msg m;

	memset(junk, 'A', sizeof(junk));
	send_all(f->fd, &h, HDR);
	/* The "payload" keeps coming: nothing of it is taken as a request. */
	if (send(f->fd, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the server may already have closed */
	}
	assert_true(recv_msg(f, &m));
	assert_string_equal(m.body, "E2BIG");
	assert_false(recv_msg(f, &m));
	assert_int_equal(xs_socket_nr_clients(f->srv), 0);
}

static void test_partial_writes(void **state)
{
	struct fx *f = *state;
	char buf[HDR + 64];
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 77 };
	size_t len, i;
	struct msg m;

	h.len = (uint32_t)unbar("/local/domain/1/data/p|slow", buf + HDR);
	memcpy(buf, &h, HDR);
	len = HDR + h.len;
	/* One byte at a time, the server running between the bytes. */
	for (i = 0; i < len; i++) {
		send_all(f->fd, buf + i, 1);
		pump_idle(f);
		if (i + 1 < len)
			assert_int_equal(recv(f->fd, &m, 1, MSG_DONTWAIT), -1);
	}
	assert_true(recv_msg(f, &m));
	assert_int_equal(m.hdr.req_id, 77);
	assert_string_equal(m.body, "OK");
	expect_read(f, 0, "/local/domain/1/data/p", "slow");

	/* Several requests in one write, and one split across two. */
	{
		char many[3 * (HDR + 32)];
		size_t off = 0;

		for (i = 0; i < 3; i++) {
			struct xsd_sockmsg r = { .type = XS_READ, .req_id = (uint32_t)(100 + i) };

			r.len = (uint32_t)unbar("/local/domain/1/data/p|", many + off + HDR);
			memcpy(many + off, &r, HDR);
			off += HDR + r.len;
		}
		send_all(f->fd, many, off - 5);
		pump_idle(f);
		send_all(f->fd, many + off - 5, 5);
		for (i = 0; i < 3; i++) {
			assert_true(recv_msg(f, &m));
			assert_int_equal(m.hdr.req_id, 100 + i);
			assert_string_equal(m.body, "slow");
		}
	}
	assert_quiet(f);
}

static void test_disconnect_mid_message(void **state)
{
	struct fx *f = *state;
	char buf[HDR + 64];
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 1 };
	struct msg m;
	char *v;
	size_t len;

	/* An open transaction and a watch, then half a write, then gone. */
	rpc(f, XS_TRANSACTION_START, 0, "", &m);
	expect_ok(f, XS_WATCH, 0, "/local/domain/1|w|");
	h.len = (uint32_t)unbar("/local/domain/1/data/half|value", buf + HDR);
	memcpy(buf, &h, HDR);
	send_all(f->fd, buf, HDR + 10);
	pump_idle(f);
	close(f->fd);
	f->fd = -1;
	pump_idle(f);
	assert_int_equal(xs_socket_nr_clients(f->srv), 0);
	assert_int_equal(xs_dom0_read(f->xs, "/local/domain/1/data/half", &v, &len), -ENOENT);
	/* The store goes on: the guest's writes fire nobody's watch. */
	guest_rpc(f, XS_WRITE, "data/after|1", "OK");

	/* Half a header, then gone, on a fresh client. */
	{
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(xs_socket_add_client(f->srv, sv[0]), 0);
		send_all(sv[1], buf, 7);
		pump_idle(f);
		close(sv[1]);
		pump_idle(f);
		assert_int_equal(xs_socket_nr_clients(f->srv), 0);
	}
}

static void test_client_limit(void **state)
{
	struct fx *f = *state;
	int ends[XS_SOCKET_MAX_CLIENTS];
	unsigned i;
	int sv[2];

	for (i = 1; i < XS_SOCKET_MAX_CLIENTS; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(xs_socket_add_client(f->srv, sv[0]), 0);
		ends[i] = sv[1];
	}
	assert_int_equal(xs_socket_nr_clients(f->srv), XS_SOCKET_MAX_CLIENTS);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(xs_socket_add_client(f->srv, sv[0]), -EMFILE);
	close(sv[1]);
	/* Everyone still works. */
	expect_read(f, 0, "/local/domain/1/name", "guest");
	for (i = 1; i < XS_SOCKET_MAX_CLIENTS; i++)
		close(ends[i]);
	pump_idle(f);
	assert_int_equal(xs_socket_nr_clients(f->srv), 1);
}

static void test_backpressure(void **state)
{
	struct fx *f = *state;
	char value[4000];
	char req[HDR + 64];
	struct xsd_sockmsg h = { .type = XS_READ };
	unsigned i;
	struct msg m;
	int unread = 0;
	char *reqs;

	memset(value, 'v', sizeof(value));
	assert_int_equal(xs_dom0_write(f->xs, "/local/domain/1/data/big", value, sizeof(value)), 0);
	h.len = (uint32_t)unbar("/local/domain/1/data/big|", req + HDR);
	/* 400 reads (16 KB, one send) asking for 1.6 MB of replies, none
	 * taken yet. */
	reqs = malloc(400 * (HDR + h.len));
	assert_non_null(reqs);
	for (i = 0; i < 400; i++) {
		h.req_id = i;
		memcpy(reqs + i * (HDR + h.len), &h, HDR);
		memcpy(reqs + i * (HDR + h.len) + HDR, req + HDR, h.len);
	}
	send_all(f->fd, reqs, 400 * (HDR + h.len));
	free(reqs);
	for (i = 0; i < 4; i++)
		pump_idle(f);
	/* The server stopped reading requests rather than queue replies
	 * without bound: some are still in the socket. */
	assert_int_equal(ioctl(f->fd, SIOCOUTQ, &unread), 0);
	assert_true(unread > 0);
	/* Taking the replies lets it go on: every one arrives, whole, in order. */
	for (i = 0; i < 400; i++) {
		assert_true(recv_msg(f, &m));
		assert_int_equal(m.hdr.type, XS_READ);
		assert_int_equal(m.hdr.req_id, i);
		assert_int_equal(m.hdr.len, sizeof(value));
		assert_memory_equal(m.body, value, sizeof(value));
	}
	assert_quiet(f);
}

/* ------------------------------------------------------------------ */
/* A real unix socket */

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_unix_socket(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/pvisor-xs-XXXXXX";
	char path[128], err[256];
	struct xs_socket *srv;
	struct stat st;
	struct msg m;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/xs.sock", dir);

	/* A regular file there is not replaced. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_null(xs_socket_open(f->xs, path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(path);

	/* A path too long for sun_path. */
	{
		char longp[200];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		assert_null(xs_socket_open(f->xs, longp, err, sizeof(err)));
		assert_non_null(strstr(err, "too long"));
	}

	srv = xs_socket_open(f->xs, path, err, sizeof(err));
	assert_non_null(srv);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Someone listens there: a second server is refused. */
	assert_null(xs_socket_open(f->xs, path, err, sizeof(err)));
	assert_non_null(strstr(err, "listening"));

	/* Swap the fixture's server for this one and talk through the file. */
	close(f->fd);
	xs_socket_close(f->srv);
	f->srv = srv;
	f->fd = connect_to(path);
	assert_true(f->fd >= 0);
	pump(f, 100); /* accept (also the refused server's probe, which left) */
	pump_idle(f);
	assert_int_equal(xs_socket_nr_clients(srv), 1);
	expect_read(f, 0, "/local/domain/1/name", "guest");
	expect_ok(f, XS_WATCH, 0, "/local/domain/1/data|t|");
	expect_event(f, "/local/domain/1/data", "t");
	guest_rpc(f, XS_WRITE, "data/g|x", "OK");
	expect_event(f, "/local/domain/1/data/g", "t");
	rpc(f, XS_DIRECTORY, 0, "/local/domain/1/data|", &m);
	assert_string_equal(m.body, "g");

	/* Closing removes the file; a stale socket left behind is replaced. */
	close(f->fd);
	f->fd = -1;
	xs_socket_close(srv);
	f->srv = NULL;
	assert_int_equal(lstat(path, &st), -1);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		strcpy(sa.sun_path, path);
		assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(s); /* bound, never listened: stale */
	}
	f->srv = xs_socket_open(f->xs, path, err, sizeof(err));
	assert_non_null(f->srv);
	f->fd = connect_to(path);
	assert_true(f->fd >= 0);
	pump(f, 100);
	expect_read(f, 0, "/local/domain/1/domid", "1");
	close(f->fd);
	f->fd = -1;
	xs_socket_close(f->srv);
	f->srv = NULL;
	assert_int_equal(lstat(path, &st), -1);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dom0_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_len_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_mid_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
