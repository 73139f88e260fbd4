/*
 * A host network attachment for one guest NIC: where the guest's Ethernet
 * frames go and where frames for the guest come from.  Two kinds: user-mode
 * networking through libslirp (hostio/slirp.c) and a TAP device
 * (hostio/tap.c).  An attachment is driven by exactly one thread (the
 * netback thread of its NIC), which calls fill() before poll(2) and
 * dispatch() after it; frames for the guest are handed to the to_guest
 * callback on that thread.  Nothing here is thread-safe.
 */
#ifndef PVISOR_HOSTNET_H
#define PVISOR_HOSTNET_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTNET_MAX_FWD 16
#define HOSTNET_MAX_FRAME 65536 /* largest frame either side handles */

enum hostnet_kind {
	HOSTNET_USER = 1,  /* libslirp */
	HOSTNET_TAP,
};

/* One hostfwd=PROTO:HOSTADDR:HOSTPORT-[GUESTADDR]:GUESTPORT rule. */
struct hostnet_fwd {
	bool udp;
	uint32_t host_addr;  /* network byte order; 0 = any */
	uint16_t host_port;
	uint32_t guest_addr; /* network byte order; 0 = the DHCP address */
	uint16_t guest_port;
};

/* What the user asked for with --net (no runtime objects). */
struct hostnet_config {
	enum hostnet_kind kind;
	char ifname[16];               /* tap: interface name (IFNAMSIZ) */
	uint8_t mac[6];                /* guest MAC */
	bool mac_set;
	unsigned nr_fwd;
	struct hostnet_fwd fwd[HOSTNET_MAX_FWD];
};

/*
 * Parses a --net value: "user[,hostfwd=tcp:127.0.0.1:8080-:80]..." or
 * "tap,ifname=NAME", both with an optional ",mac=52:54:00:12:34:56".
 * Pure.  0, or -EINVAL with one line for the user in err.
 */
int hostnet_parse(const char *spec, struct hostnet_config *cfg, char *err,
		  size_t err_len) __attribute__((warn_unused_result));

typedef void (*hostnet_rx_fn)(void *opaque, const uint8_t *frame, size_t len);

struct hostnet;

struct hostnet_ops {
	/* A frame from the guest (a complete Ethernet frame). */
	void (*send)(struct hostnet *h, const uint8_t *frame, size_t len);
	/*
	 * Adds the descriptors to wait on to fds[0..max) and returns how many;
	 * lowers *timeout_ms to the attachment's next timer.  can_rx false:
	 * the guest cannot take frames now, so do not read more from the host
	 * (the host side's own queues then apply back-pressure or drop).
	 */
	unsigned (*fill)(struct hostnet *h, struct pollfd *fds, unsigned max,
			 int *timeout_ms, bool can_rx);
	/* After poll(2) on what fill() returned (n entries, revents set). */
	void (*dispatch)(struct hostnet *h, struct pollfd *fds, unsigned n);
	void (*free)(struct hostnet *h);
};

struct hostnet_stats {
	uint64_t tx_frames, tx_dropped; /* guest -> host */
	uint64_t rx_frames;             /* host -> guest */
};

struct hostnet {
	const struct hostnet_ops *ops;
	hostnet_rx_fn to_guest;
	void *opaque;
	struct hostnet_stats stats;
};

/*
 * Opens the attachment cfg describes.  0 with *out set, or -errno with one
 * line for the user in err (e.g. no /dev/net/tun, no permission).
 */
int hostnet_open(const struct hostnet_config *cfg, hostnet_rx_fn to_guest,
		 void *opaque, struct hostnet **out, char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Loads libslirp (dlopen, once per process; hostnet_slirp_open does it
 * too): pvisor calls it before its sandbox closes the library paths.
 * 0, or -ENOENT with one line in err. */
int hostnet_slirp_load(char *err, size_t err_len)
	__attribute__((warn_unused_result));

/* Constructors per kind (hostio/slirp.c, hostio/tap.c); same contract. */
int hostnet_slirp_open(const struct hostnet_config *cfg, struct hostnet **out,
		       char *err, size_t err_len);
int hostnet_tap_open(const struct hostnet_config *cfg, struct hostnet **out,
		     char *err, size_t err_len);

#endif
