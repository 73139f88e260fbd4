/*
 * pvisor-exit — report an exit status to pvisor and power the guest off.
 *
 *   pvisor-exit [-n] STATUS
 *
 * Writes the decimal STATUS (0..255) to the xenstore key
 * data/pvisor-exit-status (relative to the domain, so
 * /local/domain/<id>/data/pvisor-exit-status) through the kernel's xenbus
 * device, /dev/xen/xenbus, waits for xenstore's reply, and then powers off
 * with reboot(RB_POWER_OFF).  pvisor reads that key when the guest shuts
 * down and exits with the status.  With -n it only writes the key.
 *
 * Without xenbus (the same initramfs under QEMU, say) it prints the status
 * on the console as "pvisor-exit: status N (no xenstore: ...)" and powers
 * off anyway.  Exit status when it cannot power off: 1.
 *
 * Static, libc only: gcc -static -O2 -I/usr/include pvisor-exit.c
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#define XENBUS_DEV	"/dev/xen/xenbus"
#define EXIT_KEY	"data/pvisor-exit-status"
#define REPLY_TIMEOUT_MS 5000

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads one reply.  The xenbus device hands out whole messages: a header,
 * then its payload, possibly over several read() calls.
 */
static int read_reply(int fd, struct xsd_sockmsg *hdr, char *body, size_t cap)
{
	char buf[sizeof(*hdr) + XENSTORE_PAYLOAD_MAX];
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int rc = poll(&pfd, 1, REPLY_TIMEOUT_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc < 0 ? -errno : -ETIMEDOUT;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
		if (got < sizeof(*hdr))
			continue;
		memcpy(hdr, buf, sizeof(*hdr));
		if (hdr->len > XENSTORE_PAYLOAD_MAX)
			return -EPROTO;
		if (got < sizeof(*hdr) + hdr->len)
			continue;
		size_t keep = hdr->len < cap - 1 ? hdr->len : cap - 1;

		memcpy(body, buf + sizeof(*hdr), keep);
		body[keep] = '\0';
		return 0;
	}
}

/* 0 when xenstore acknowledged the write, -errno otherwise; *why explains. */
static int xs_write_status(unsigned int status, const char **why)
{
	char msg[sizeof(struct xsd_sockmsg) + 64], value[16], body[64];
	struct xsd_sockmsg req = { .type = XS_WRITE, .req_id = 1, .tx_id = 0 };
	struct xsd_sockmsg rep;
	int fd, rc, vlen;

	fd = open(XENBUS_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*why = "cannot open " XENBUS_DEV;
		return -errno;
	}
	/* XS_WRITE payload: path, NUL, value (no NUL). */
	vlen = snprintf(value, sizeof(value), "%u", status);
	req.len = (uint32_t)(sizeof(EXIT_KEY) + (size_t)vlen);
	memcpy(msg, &req, sizeof(req));
	memcpy(msg + sizeof(req), EXIT_KEY, sizeof(EXIT_KEY));
	memcpy(msg + sizeof(req) + sizeof(EXIT_KEY), value, (size_t)vlen);
	rc = write_all(fd, msg, sizeof(req) + req.len);
	if (rc) {
		*why = "write to " XENBUS_DEV " failed";
		goto out;
	}
	rc = read_reply(fd, &rep, body, sizeof(body));
	if (rc) {
		*why = rc == -ETIMEDOUT ? "xenstore did not answer" :
			"reading the xenstore reply failed";
		goto out;
	}
	if (rep.type == XS_ERROR) {
		*why = "xenstore refused the write";
		rc = -EACCES;
	} else if (rep.type != XS_WRITE || rep.req_id != req.req_id) {
		*why = "unexpected xenstore reply";
		rc = -EPROTO;
	}
out:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *why = NULL;
	int only_write = 0, rc;
	unsigned long status;
	char *end;

	if (argc > 1 && strcmp(argv[1], "-n") == 0) {
		only_write = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: pvisor-exit [-n] STATUS\n");
		return 2;
	}
	errno = 0;
	status = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || status > 255) {
		fprintf(stderr, "pvisor-exit: '%s' is not a status (0..255)\n",
			argv[1]);
		return 2;
	}
	rc = xs_write_status((unsigned int)status, &why);
	if (rc)
		printf("pvisor-exit: status %lu (no xenstore: %s: %s)\n", status,
		       why, strerror(-rc));
	fflush(stdout);
	if (only_write)
		return rc ? 1 : 0;
	sync();
	reboot(RB_POWER_OFF);
	perror("pvisor-exit: reboot(RB_POWER_OFF)");
	return 1;
}
