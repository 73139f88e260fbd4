/*
 * TAP attachment: /dev/net/tun with IFF_TAP | IFF_NO_PI, non-blocking.  One
 * read(2) is one frame; a frame the kernel cannot take now (EAGAIN) is
 * dropped and counted, as a NIC drops on a full queue.
 */
#include "hostio/hostnet.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TAP_RX_BUDGET 64 /* frames read per dispatch: other work gets a turn */

struct tap {
	struct hostnet h;
	int fd;
	uint8_t buf[HOSTNET_MAX_FRAME];
};

static void tap_send(struct hostnet *h, const uint8_t *frame, size_t len)
{
	struct tap *t = (struct tap *)h;

	if (write(t->fd, frame, len) == (ssize_t)len)
		h->stats.tx_frames++;
	else
		h->stats.tx_dropped++;
}

static unsigned tap_fill(struct hostnet *h, struct pollfd *fds, unsigned max,
			 int *timeout_ms, bool can_rx)
{
	struct tap *t = (struct tap *)h;

	if (!can_rx || max == 0)
		return 0;
	fds[0] = (struct pollfd){ .fd = t->fd, .events = POLLIN };
	return 1;
}

static void tap_dispatch(struct hostnet *h, struct pollfd *fds, unsigned n)
{
	struct tap *t = (struct tap *)h;

	if (n == 0 || !(fds[0].revents & POLLIN))
		return;
	for (int i = 0; i < TAP_RX_BUDGET; i++) {
		ssize_t r = read(t->fd, t->buf, sizeof(t->buf));

		if (r <= 0)
			break;
		h->stats.rx_frames++;
		h->to_guest(h->opaque, t->buf, (size_t)r);
	}
}

static void tap_free(struct hostnet *h)
{
	struct tap *t = (struct tap *)h;

	close(t->fd);
	free(t);
}

static const struct hostnet_ops tap_ops = {
	.send = tap_send,
	.fill = tap_fill,
	.dispatch = tap_dispatch,
	.free = tap_free,
};

int hostnet_tap_open(const struct hostnet_config *cfg, struct hostnet **out,
		     char *err, size_t err_len)
{
	struct ifreq ifr;
	struct tap *t;
	int fd, rc;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "--net tap: cannot open /dev/net/tun: %s%s",
			 strerror(errno),
			 errno == ENOENT ? " (no TUN/TAP support on this host)" : "");
		return rc;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		snprintf(err, err_len, "--net tap: cannot attach to '%s': %s%s",
			 cfg->ifname, strerror(errno),
			 errno == EPERM ? " (needs CAP_NET_ADMIN or a tap owned by you)" : "");
		close(fd);
		return rc;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		snprintf(err, err_len, "--net tap: out of memory");
		return -ENOMEM;
	}
	t->h.ops = &tap_ops;
	t->fd = fd;
	*out = &t->h;
	return 0;
}
