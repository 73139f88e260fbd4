/*
 * libFuzzer harness for the 9P2000.L message parser: the input is one
 * message as a hostile frontend would put it on the ring (its size field is
 * forced to the input's length half of the time, so that bodies get
 * explored), parsed and checked against the parser's promises.
 */
// fuzz-sources: src/services/p9/p9_msg.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/p9/p9_msg.h"
#include "fuzz_sandbox.h"

static void check_str(const char *s, size_t max)
{
	if (s && strnlen(s, max + 1) > max)
		abort();
}

static bool one_element(const char *name)
{
	return !name || (*name && strcmp(name, "..") && !strchr(name, '/'));
}

static int fuzz_one(const uint8_t *data, size_t size)
{
	static struct p9_req r;
	uint8_t *msg;
	uint8_t out[64];
	struct p9_out o = { out, sizeof(out), 0, false };

	if (size < 1 || size > 1u << 20)
		return 0;
	/* A copy of exactly the message's size, so ASan sees any overread. */
	msg = malloc(size - 1);
	if (!msg && size > 1)
		return 0;
	memcpy(msg, data + 1, size - 1);
	if ((data[0] & 1) && size - 1 >= 4) {
		uint32_t n = (uint32_t)(size - 1);

		memcpy(msg, &n, 4);
	}
	if (p9_parse(msg, size - 1, &r) == 0) {
		if (r.nwname > P9_MAXWELEM)
			abort();
		for (unsigned i = 0; i < r.nwname; i++) {
			check_str(r.wname[i], P9_NAME_MAX);
			if (strchr(r.wname[i], '/') || !strcmp(r.wname[i], "."))
				abort();
		}
		check_str(r.name, P9_NAME_MAX);
		check_str(r.name2, P9_NAME_MAX);
		/* A name (Trenameat's second one too) is one path element. */
		if (!one_element(r.name) || !one_element(r.name2))
			abort();
		check_str(r.str, P9_TARGET_MAX);
		check_str(r.str2, P9_STR_MAX);
		if (r.data && (r.data < msg || r.data + r.count > msg + size - 1))
			abort();
		if (r.strbuf_used > sizeof(r.strbuf))
			abort();
	}
	if (p9_rlerror(&o, r.tag, 22) != 11)
		abort();
	free(msg);
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_FS, fuzz_one)
