/*
 * The Xen 9pfs flex ring (public/io/9pfs.h, DEFINE_XEN_FLEX_RING), backend
 * side, as pure functions over one ring's two byte streams: `out` carries
 * the frontend's requests, `in` the backend's responses; each is a circular
 * buffer of XEN_FLEX_RING_SIZE(order) bytes with free-running 32-bit
 * indexes.  The caller reads the indexes from the shared page once and
 * passes the copies; nothing here reads them again.  Unit-tested
 * (tests/unit/test_p9_ring.c) and fuzzed (fuzz/fuzz_p9_ring.c).
 */
#ifndef PVISOR_P9_RING_H
#define PVISOR_P9_RING_H

#include <stdint.h>

/*
 * Takes one whole 9P message off `out` (size bytes, a power of two) between
 * cons and prod into dst[0..dst_cap).  Returns 1 with *len set (the caller
 * advances cons by *len), 0 if the message is not all there yet, or a
 * protocol violation: -EPROTO (prod more than a ring ahead of cons),
 * -EMSGSIZE (a size field below the 9P header, above max_msg or above the
 * ring or dst: it could never be read).
 */
int p9_ring_take(const uint8_t *out, uint32_t size, uint32_t cons, uint32_t prod,
		 uint32_t max_msg, uint8_t *dst, uint32_t dst_cap, uint32_t *len);

/*
 * Puts msg[0..len) on `in` at prod, given the frontend's cons.  Returns 0
 * (the caller advances prod by len), -EAGAIN if it does not fit yet, or
 * -EPROTO if cons is not within a ring behind prod.
 */
int p9_ring_put(uint8_t *in, uint32_t size, uint32_t prod, uint32_t cons,
		const uint8_t *msg, uint32_t len);

#endif
