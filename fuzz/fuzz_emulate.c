/*
 * The privileged-instruction decoder and page-table store semantics
 * (src/xen/decode.c): arbitrary bytes must decode within the buffer, give a
 * length of at most 15, and applying the store to any entry must keep the
 * bytes outside the access unchanged; a load (the M2P-read path) must
 * describe a sane operand and change only its destination register; a
 * segment load (Xen's flat selectors) must name a loadable register.
 */
// fuzz-sources: src/xen/decode.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/regs.h"
#include "xen/emulate.h"
#include "fuzz_sandbox.h"

static int fuzz_one(const uint8_t *data, size_t size)
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
	/* The load and segment paths (M2P reads, Xen's flat selectors):
	 * a consistent operand description, and applying a load changes
	 * only the destination register. */
	if (in.op == EOP_LOAD && in.mem) { /* register forms: not loads */
		struct regs before;
		unsigned n = in.opsize == 1 && !in.rex && in.reg >= 4 &&
			     in.reg < 8 ? in.reg - 4 : in.reg;

		if (in.srcsize > in.opsize || in.scale == 0 ||
		    in.scale > 8 || (in.scale & (in.scale - 1)) ||
		    in.base > 15 || in.index > 15)
			abort();
		(void)emul_ea(&in, &r);
		memcpy(&before, &r, sizeof(r));
		if (emul_load_apply(&in, &r, old))
			abort();
		*emul_gpr(&before, n) = *emul_gpr(&r, n);
		if (memcmp(&before, &r, sizeof(r)))
			abort();
	}
	if (in.op == EOP_MOV_SREG || in.op == EOP_POP_SREG) {
		if (in.reg == EMUL_CS || in.reg > EMUL_GS)
			abort();
		if (in.mem)
			(void)emul_ea(&in, &r);
		(void)emul_xen_flat_selector(in.reg, (uint16_t)old);
	}
	rc = emul_store_value(&in, &r, low, old, &new);
	if (rc == 0 && in.opsize < 8) {
		uint64_t mask = ((1ull << (8 * in.opsize)) - 1) << (8 * low);

		if ((old & ~mask) != (new & ~mask))
			abort();
	}
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_VCPU, fuzz_one)
