/*
 * libFuzzer harness: xenstored's socket (xs_socket.c) — its framing of a
 * byte stream into messages (partial headers and payloads, oversized
 * lengths, several messages per read), backpressure and disconnects —
 * over real socketpairs, with the store behind it.  fuzz_xenstore.c covers
 * the parser and the operations; this one covers the stream in front.
 *
 * Input: records of [op:1][len:1][len bytes].  op & 3: 0 send the bytes to
 * the current client, 1 send them and then take every reply, 2 hang the
 * current client up and connect a new one, 3 let the guest (domain 1) write
 * a key its watchers see.  The server runs after every record.
 */
// fuzz-sources: src/services/xenstore/xs_socket.c src/hostio/unix_listen.c src/services/xenstore/xenstore.c src/services/xenstore/xs_msg.c src/services/xenstore/xs_tree.c src/core/log.c
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_socket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pump(struct xs_socket *s)
{
	for (int i = 0; i < 4; i++) {
		struct pollfd fds[XS_SOCKET_POLLFDS];
		unsigned n = xs_socket_pollfds(s, fds, XS_SOCKET_POLLFDS);

		/* libFuzzer's timeout timer (SIGALRM) can interrupt it. */
		if (poll(fds, n, 0) < 0 && errno != EINTR)
			abort();
		xs_socket_service(s, fds, n);
	}
}

static void drain(int fd)
{
	char buf[8192];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int new_client(struct xs_socket *s)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (xs_socket_add_client(s, sv[0]) < 0) {
		close(sv[1]);
		return -1;
	}
	return sv[1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct xs_domain_info info = { .name = "fuzz", .target_kb = 1024, .vcpus = 1 };
	struct xenstore *xs = xs_new();
	struct xs_conn *guest;
	struct xs_socket *s;
	char err[256];
	size_t off = 0;
	unsigned clients = 1;
	int fd;

	if (!xs || xs_domain_setup(xs, 1, &info))
		abort();
	guest = xs_conn_new(xs, 1, NULL, NULL);
	s = xs_socket_open(xs, NULL, err, sizeof(err));
	if (!guest || !s)
		abort();
	fd = new_client(s);
	while (off + 2 <= size && fd >= 0) {
		uint8_t op = data[off], len = data[off + 1];
		const uint8_t *p = data + off + 2;

		if (len > size - off - 2)
			len = (uint8_t)(size - off - 2);
		off += 2 + (size_t)len;
		switch (op & 3) {
		case 0:
		case 1:
			if (send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
			    errno != EAGAIN && errno != EPIPE && errno != ECONNRESET &&
			    errno != EINTR)
				abort();
			pump(s);
			if (op & 1)
				drain(fd);
			break;
		case 2:
			close(fd);
			pump(s);
			if (++clients > 64)
				goto out; /* enough */
			fd = new_client(s);
			break;
		case 3: {
			char v[16];

			memcpy(v, p, len < sizeof(v) ? len : sizeof(v));
			(void)!xs_dom0_write(xs, "/local/domain/1/data/f", v,
					     len < sizeof(v) ? len : sizeof(v));
			pump(s);
			drain(fd);
			break;
		}
		}
	}
out:
	if (fd >= 0)
		close(fd);
	pump(s);
	xs_socket_close(s);
	xs_conn_free(guest);
	xs_free(xs);
	return 0;
}
