/* The 9pfs flex ring, backend side (see p9_ring.h). */
#include "services/p9/p9_ring.h"

#include <errno.h>
#include <string.h>

#include <pvisor/p9.h>

static void copy_from(const uint8_t *ring, uint32_t size, uint32_t idx,
		      uint8_t *dst, uint32_t n)
{
	uint32_t off = idx & (size - 1), first = size - off < n ? size - off : n;

	memcpy(dst, ring + off, first);
	memcpy(dst + first, ring, n - first);
}

int p9_ring_take(const uint8_t *out, uint32_t size, uint32_t cons, uint32_t prod,
		 uint32_t max_msg, uint8_t *dst, uint32_t dst_cap, uint32_t *len)
{
	uint32_t queued = prod - cons, msg;
	uint8_t hdr[4];

	if (queued > size)
		return -EPROTO;
	if (queued < P9_HDR_SIZE)
		return 0;
	copy_from(out, size, cons, hdr, 4);
	msg = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
	      (uint32_t)hdr[3] << 24;
	if (msg < P9_HDR_SIZE || msg > max_msg || msg > size || msg > dst_cap)
		return -EMSGSIZE;
	if (queued < msg)
		return 0;
	copy_from(out, size, cons, dst, msg);
	*len = msg;
	return 1;
}

int p9_ring_put(uint8_t *in, uint32_t size, uint32_t prod, uint32_t cons,
		const uint8_t *msg, uint32_t len)
{
	uint32_t used = prod - cons, off, first;

	if (used > size)
		return -EPROTO;
	if (len > size - used)
		return -EAGAIN;
	off = prod & (size - 1);
	first = size - off < len ? size - off : len;
	memcpy(in + off, msg, first);
	memcpy(in, msg + first, len - first);
	return 0;
}
