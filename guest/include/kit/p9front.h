/*
 * 9pfs frontend (Xen's docs/misc/9pfs.pandoc): the xenbus handshake for
 * device/9pfs/<devid>, one flex ring (an interface page and 1 << order data
 * pages, `out` for requests, `in` for responses) and a request/response
 * exchange, synchronous or split in two.  kit/p9client.h speaks 9P2000.L over it.
 */
#ifndef KIT_P9FRONT_H
#define KIT_P9FRONT_H

#include <stdint.h>

struct p9front;

/* Connects device devid with a ring of 1 << order data pages (capped by
 * the backend's max-ring-page-order); NULL on failure (printed). */
struct p9front *p9front_init(unsigned devid, unsigned order);

/* The bytes each way of the ring. */
uint32_t p9front_ring_size(const struct p9front *dev);

/* The share's tag (from xenstore). */
const char *p9front_tag(const struct p9front *dev);

/* The backend's security_model ("passthrough", "mapped-xattr"; "" if it
 * wrote none). */
const char *p9front_security_model(const struct p9front *dev);

/*
 * Sends msg[0..len) (any bytes: hostile tests send broken ones) and waits
 * for one whole response into rsp[0..cap).  Returns its length, or
 * -XEN_ETIMEDOUT (none within 5 s), -XEN_E2BIG (larger than cap: it is
 * consumed and dropped).
 */
long p9front_rpc(struct p9front *dev, const void *msg, uint32_t len, void *rsp,
		 uint32_t cap);

/* The two halves of p9front_rpc, for several requests in flight (the
 * backend answers in completion order): send waits for room on `out`
 * (0 or -XEN_ETIMEDOUT); recv waits for the next whole response. */
int p9front_send(struct p9front *dev, const void *msg, uint32_t len);
long p9front_recv(struct p9front *dev, void *rsp, uint32_t cap);

/* Puts raw bytes on the ring and notifies, waiting for no answer. */
void p9front_send_raw(struct p9front *dev, const void *msg, uint32_t len);

/*
 * After a restore into a new domain the ring reconnects by itself, but the
 * backend's 9P session is new: fn(opaque) runs then, on the thread that
 * resumes, to open the session again (Tversion, Tattach, its fids) with
 * p9front_rpc while other threads' sends and receives wait.  0 or -errno.
 */
void p9front_on_reconnect(struct p9front *dev, int (*fn)(void *), void *opaque);

/* The backend's XenbusState now. */
long p9front_backend_state(struct p9front *dev);

#endif
