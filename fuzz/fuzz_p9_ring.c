/*
 * libFuzzer harness for the 9pfs flex-ring reader and writer: the input is
 * a ring (64..4096 bytes, a power of two), the indexes a hostile frontend
 * would publish, and limits; every message taken must be whole and within
 * the limits, and the reader must never touch memory beyond the ring.
 */
// fuzz-sources: src/services/p9/p9_ring.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/p9/p9_ring.h"
#include "fuzz_sandbox.h"

static int fuzz_one(const uint8_t *data, size_t size)
{
	uint32_t cons, prod, max, ring_size, len;
	uint8_t *ring, *dst;
	int rc;

	if (size < 13)
		return 0;
	ring_size = 64u << (data[0] % 7);
	memcpy(&cons, data + 1, 4);
	memcpy(&prod, data + 5, 4);
	memcpy(&max, data + 9, 4);
	data += 13;
	size -= 13;
	ring = calloc(1, ring_size);
	dst = calloc(1, ring_size / 2); /* put sends it even if nothing was taken */
	if (!ring || !dst)
		abort();
	memcpy(ring, data, size < ring_size ? size : ring_size);
	/* Take everything the indexes claim, as the backend would. */
	for (int i = 0; i < 64; i++) {
		rc = p9_ring_take(ring, ring_size, cons, prod, max, dst, ring_size / 2, &len);
		if (rc <= 0)
			break;
		if (len < 7 || len > max || len > ring_size / 2 || len > prod - cons)
			abort();
		cons += len;
	}
	rc = p9_ring_put(ring, ring_size, prod, cons, dst, (uint32_t)(max % (ring_size / 2 + 1)));
	if (rc && rc != -EAGAIN && rc != -EPROTO)
		abort();
	free(ring);
	free(dst);
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_FS, fuzz_one)
