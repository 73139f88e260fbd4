/*
 * netfront: the guest side of Xen's netif protocol (<xen/io/netif.h>), in
 * Mini-OS style: an opaque device and a few verbs.  Transmit and receive
 * buffers are whole pages granted to the backend once, at init, and reused
 * (no grant per packet); receive is rx-copy, one slot per frame (no
 * feature-sg), frames up to NETFRONT_MTU_FRAME bytes.
 */
#ifndef KIT_NETFRONT_H
#define KIT_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#define NETFRONT_MTU_FRAME 1514
#define NETFRONT_TX_BUFS 64
#define NETFRONT_RX_BUFS 64

struct netfront;

struct netfront_stats {
	unsigned long tx_packets, tx_errors, tx_busy;
	unsigned long rx_packets, rx_errors;
};

/*
 * Connects vif devid (device/vif/<devid>): waits for the backend, grants
 * rings and buffers, publishes them, waits for Connected.  mac (6 bytes,
 * may be NULL) gets the NIC's address.  NULL on failure (printed).
 */
struct netfront *netfront_init(unsigned devid, uint8_t *mac);

/* Sends one Ethernet frame (14..NETFRONT_MTU_FRAME bytes).  0, -XEN_EAGAIN
 * when every tx buffer is in flight, -XEN_EINVAL for a bad length. */
int netfront_xmit(struct netfront *nf, const void *frame, size_t len);

/* Takes the next received frame into buf: its length, 0 if none, or
 * -XEN_EIO for a slot the backend answered with an error (skipped). */
long netfront_recv(struct netfront *nf, void *buf, size_t len);

/* Blocks until the backend notifies (or deadline_ns, monotonic; 0 none). */
void netfront_wait(struct netfront *nf, uint64_t deadline_ns);

/* Closing -> Closed handshake with the backend. */
void netfront_shutdown(struct netfront *nf);

void netfront_get_stats(struct netfront *nf, struct netfront_stats *st);

/* For hostile tests: the raw tx ring, a granted page usable as a tx buffer
 * (its gref), and the kick. */
struct netif_tx_front_ring *netfront_tx_ring(struct netfront *nf);
grant_ref_t netfront_tx_gref(struct netfront *nf, unsigned i);
void netfront_notify(struct netfront *nf);
int netfront_backend_state(struct netfront *nf);

#endif
