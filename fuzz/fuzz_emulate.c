/*
 * The privileged-instruction decoder and page-table store semantics
 * (src/xen/decode.c): arbitrary bytes must decode within the buffer, give a
 * length of at most 15, and applying the store to any entry must keep the
 * bytes outside the access unchanged.
 */
// fuzz-sources: src/xen/decode.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/regs.h"
#include "xen/emulate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct emul_insn in;
	struct regs r;
	uint64_t old = 0, new = 0;
	unsigned low;
	int rc;

	if (size < 9)
		return 0;
	memcpy(&old, data, 8);
	low = data[8] & 7;
	data += 9;
	size -= 9;
	rc = emul_decode(data, size, &in);
	if (rc)
		return 0;
	if (in.len == 0 || in.len > EMUL_MAX_LEN || in.len > size)
		abort();
	memset(&r, 0x5a, sizeof(r));
	rc = emul_store_value(&in, &r, low, old, &new);
	if (rc == 0 && in.opsize < 8) {
		uint64_t mask = ((1ull << (8 * in.opsize)) - 1) << (8 * low);

		if ((old & ~mask) != (new & ~mask))
			abort();
	}
	return 0;
}
