/*
 * User-mode networking through libslirp (the library QEMU uses): DHCP, DNS
 * forwarding and port forwards, with no privileges.  The guest network is
 * QEMU's default: 10.0.2.0/24, host 10.0.2.2, DNS 10.0.2.3, the guest gets
 * 10.0.2.15 by DHCP.  libslirp is not thread-safe: everything here runs on
 * the one thread that owns the attachment, timers included (libslirp's
 * timers are kept in a small list and fired from dispatch()).
 */
#include "hostio/hostnet.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLIRP_MAX_TIMERS 16
#define SLIRP_GUEST_ADDR "10.0.2.15"

struct slirp_timer {
	bool used, armed;
	int64_t expire_ms;
	SlirpTimerId id;
	void *cb_opaque;
};

struct hslirp {
	struct hostnet h;
	Slirp *slirp;
	struct slirp_timer timers[SLIRP_MAX_TIMERS];
	/* pollfd array being filled/dispatched (valid during fill/dispatch) */
	struct pollfd *fds;
	unsigned nfds, maxfds;
};

/*
 * libslirp is loaded on the first --net user rather than linked: binding
 * it and the glib and pcre2 it pulls in was ~1.5 ms of every start
 * (docs/benchmarks.md, "Cold start"), and most starts have no --net user.
 * The members have the header's own types, so the calls stay checked.
 */
#define SLIRP_FN(name) __typeof__(name) *name
static struct {
	SLIRP_FN(slirp_new);
	SLIRP_FN(slirp_cleanup);
	SLIRP_FN(slirp_input);
	SLIRP_FN(slirp_pollfds_fill);
	SLIRP_FN(slirp_pollfds_poll);
	SLIRP_FN(slirp_handle_timer);
	SLIRP_FN(slirp_add_hostfwd);
} lib;
static char lib_err[256];

#define SLIRP_SONAME "libslirp.so.0"
#define SLIRP_RESOLVE(h, name) \
	(*(void **)&lib.name = dlsym((h), #name)) != NULL

static void slirp_load_once(void)
{
	void *h = dlopen(SLIRP_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(lib_err, sizeof(lib_err), "%s", dlerror());
		return;
	}
	if (!(SLIRP_RESOLVE(h, slirp_new) && SLIRP_RESOLVE(h, slirp_cleanup) &&
	      SLIRP_RESOLVE(h, slirp_input) &&
	      SLIRP_RESOLVE(h, slirp_pollfds_fill) &&
	      SLIRP_RESOLVE(h, slirp_pollfds_poll) &&
	      SLIRP_RESOLVE(h, slirp_handle_timer) &&
	      SLIRP_RESOLVE(h, slirp_add_hostfwd))) {
		snprintf(lib_err, sizeof(lib_err), "%s: %s", SLIRP_SONAME,
			 dlerror());
		lib.slirp_new = NULL;
	}
	/* Never closed: it stays for every later attachment. */
}

int hostnet_slirp_load(char *err, size_t err_len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, slirp_load_once);
	if (lib.slirp_new)
		return 0;
	snprintf(err, err_len, "--net user: cannot load libslirp: %s", lib_err);
	return -ENOENT;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct hslirp *s = opaque;

	s->h.stats.rx_frames++;
	if (s->h.to_guest)
		s->h.to_guest(s->h.opaque, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	/* The guest's own mistake; libslirp drops the frame. */
	(void)msg;
	(void)opaque;
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque,
				 void *opaque)
{
	struct hslirp *s = opaque;

	for (int i = 0; i < SLIRP_MAX_TIMERS; i++) {
		if (!s->timers[i].used) {
			s->timers[i] = (struct slirp_timer){
				.used = true, .id = id, .cb_opaque = cb_opaque,
			};
			return &s->timers[i];
		}
	}
	return NULL; /* libslirp then runs without that timer (IPv6 RA only) */
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct slirp_timer *t = timer;

	if (t)
		*t = (struct slirp_timer){ 0 };
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	if (!t)
		return;
	t->expire_ms = expire_ms;
	t->armed = true;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
	/* Only called from our own thread's slirp calls: the next fill()
	 * picks up the change. */
}

static const SlirpCb slirp_cbs = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

static int poll_to_slirp(short ev)
{
	int r = 0;

	if (ev & POLLIN)
		r |= SLIRP_POLL_IN;
	if (ev & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (ev & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (ev & POLLERR)
		r |= SLIRP_POLL_ERR;
	if (ev & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct hslirp *s = opaque;
	short ev = 0;

	if (s->nfds >= s->maxfds)
		return -1; /* libslirp skips a socket it could not add */
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->fds[s->nfds] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->nfds++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct hslirp *s = opaque;

	if (idx < 0 || (unsigned)idx >= s->nfds)
		return 0;
	return poll_to_slirp(s->fds[idx].revents);
}

static void hslirp_send(struct hostnet *h, const uint8_t *frame, size_t len)
{
	struct hslirp *s = (struct hslirp *)h;

	if (len > (size_t)HOSTNET_MAX_FRAME) {
		h->stats.tx_dropped++;
		return;
	}
	h->stats.tx_frames++;
	lib.slirp_input(s->slirp, frame, (int)len);
}

static unsigned hslirp_fill(struct hostnet *h, struct pollfd *fds,
			    unsigned max, int *timeout_ms, bool can_rx)
{
	struct hslirp *s = (struct hslirp *)h;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	int64_t now = now_ns() / 1000000;

	/* libslirp hands frames to the guest from inside its poll; when the
	 * guest cannot take them they are dropped by netback's bounded queue,
	 * and TCP's retransmission paces the sender. */
	s->fds = fds;
	s->nfds = 0;
	s->maxfds = max;
	lib.slirp_pollfds_fill(s->slirp, &t, cb_add_poll, s);
	for (int i = 0; i < SLIRP_MAX_TIMERS; i++) {
		struct slirp_timer *tm = &s->timers[i];
		int64_t left;

		if (!tm->used || !tm->armed)
			continue;
		left = tm->expire_ms - now;
		if (left < 0)
			left = 0;
		if ((uint64_t)left < t)
			t = (uint32_t)left;
	}
	*timeout_ms = t == UINT32_MAX ? -1 : (int)(t > 60000 ? 60000 : t);
	return s->nfds;
}

static void hslirp_dispatch(struct hostnet *h, struct pollfd *fds, unsigned n)
{
	struct hslirp *s = (struct hslirp *)h;
	int64_t now = now_ns() / 1000000;

	s->fds = fds;
	s->nfds = n;
	lib.slirp_pollfds_poll(s->slirp, 0, cb_get_revents, s);
	for (int i = 0; i < SLIRP_MAX_TIMERS; i++) {
		struct slirp_timer *tm = &s->timers[i];

		if (tm->used && tm->armed && tm->expire_ms <= now) {
			tm->armed = false;
			lib.slirp_handle_timer(s->slirp, tm->id, tm->cb_opaque);
		}
	}
}

static void hslirp_free(struct hostnet *h)
{
	struct hslirp *s = (struct hslirp *)h;

	if (s->slirp)
		lib.slirp_cleanup(s->slirp);
	free(s);
}

static const struct hostnet_ops hslirp_ops = {
	.send = hslirp_send,
	.fill = hslirp_fill,
	.dispatch = hslirp_dispatch,
	.free = hslirp_free,
};

int hostnet_slirp_open(const struct hostnet_config *cfg, struct hostnet **out,
		       char *err, size_t err_len)
{
	SlirpConfig sc = { 0 };
	struct in_addr guest;
	struct hslirp *s;
	int rc = hostnet_slirp_load(err, err_len);

	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "--net user: out of memory");
		return -ENOMEM;
	}
	s->h.ops = &hslirp_ops;
	sc.version = 4;
	sc.restricted = 0;
	sc.in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &sc.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &sc.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &sc.vhost);
	inet_pton(AF_INET, SLIRP_GUEST_ADDR, &sc.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &sc.vnameserver);
	sc.in6_enabled = false;
	sc.vhostname = "pvisor";
	sc.if_mtu = 1500;
	sc.if_mru = 1500;
	s->slirp = lib.slirp_new(&sc, &slirp_cbs, s);
	if (!s->slirp) {
		free(s);
		snprintf(err, err_len, "--net user: libslirp failed to start");
		return -ENOMEM;
	}
	inet_pton(AF_INET, SLIRP_GUEST_ADDR, &guest);
	for (unsigned i = 0; i < cfg->nr_fwd; i++) {
		const struct hostnet_fwd *f = &cfg->fwd[i];
		struct in_addr ha = { .s_addr = f->host_addr };
		struct in_addr ga = { .s_addr = f->guest_addr ? f->guest_addr
							       : guest.s_addr };

		if (lib.slirp_add_hostfwd(s->slirp, f->udp, ha, f->host_port, ga,
				      f->guest_port) < 0) {
			char a[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &ha, a, sizeof(a));
			snprintf(err, err_len,
				 "--net user: cannot forward %s %s:%u (port in use?)",
				 f->udp ? "udp" : "tcp", a, f->host_port);
			hslirp_free(&s->h);
			return -EADDRINUSE;
		}
	}
	*out = &s->h;
	return 0;
}
