/*
 * libFuzzer harness: the xenstore wire parser and the operation processor,
 * fed a sequence of messages from one guest, through the message-level
 * transport and through the shared ring (with guest-corrupted indexes).
 *
 * Input: records of [flags:1][len:2 LE][len bytes].  flags bit 0: fix the
 * header's len field to the record's payload length (so most records are
 * well framed); bit 1: deliver through the ring instead of xs_conn_input;
 * bit 2: then scribble the ring indexes with the record's first bytes;
 * bit 3: request a reconnect; bit 4: let dom0 write the record's path.
 */
// fuzz-sources: src/services/xenstore/xenstore.c src/services/xenstore/xs_msg.c src/services/xenstore/xs_tree.c src/core/log.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/xenstore/xenstore.h"
#include "services/xenstore/xs_msg.h"
#include "fuzz_sandbox.h"

static void ring_put(struct xenstore_domain_interface *r, const uint8_t *p, size_t len)
{
	uint32_t prod = r->req_prod, cons = r->req_cons;
	uint32_t used = prod - cons, i;

	if (used > XENSTORE_RING_SIZE)
		return;
	if (len > XENSTORE_RING_SIZE - used)
		len = XENSTORE_RING_SIZE - used;
	for (i = 0; i < len; i++)
		r->req[MASK_XENSTORE_IDX(prod + i)] = (char)p[i];
	r->req_prod = prod + (uint32_t)len;
}

static void ring_drain(struct xenstore_domain_interface *r)
{
	/* The guest takes every reply (content unchecked here). */
	r->rsp_cons = r->rsp_prod;
}

static int fuzz_one(const uint8_t *data, size_t size)
{
	static struct xs_req req;
	static char out[8192];
	static uint8_t msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 64];
	const struct xs_domain_info info = { .name = "fuzz", .target_kb = 1024, .vcpus = 2 };
	struct xenstore_domain_interface *ring = calloc(1, sizeof(*ring));
	struct xenstore *xs = xs_new();
	struct xs_conn *c;

	if (!xs || !ring || xs_domain_setup(xs, 1, &info) ||
	    xs_dom0_write(xs, "/local/domain/0/backend/vbd/1/0/state", "1", 1))
		abort();
	c = xs_conn_new(xs, 1, NULL, NULL);
	if (!c)
		abort();
	xs_ring_init(ring);

	while (size >= 3) {
		uint8_t flags = data[0];
		size_t len = (size_t)data[1] | ((size_t)data[2] << 8);

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(msg))
			len = sizeof(msg);
		memcpy(msg, data, len);
		data += len;
		size -= len;

		if ((flags & 1) && len >= sizeof(struct xsd_sockmsg)) {
			uint32_t plen = (uint32_t)(len - sizeof(struct xsd_sockmsg));

			memcpy(msg + offsetof(struct xsd_sockmsg, len), &plen, sizeof(plen));
		}
		/* The parser on its own. */
		(void)xs_msg_parse(msg, len, &req);

		if (flags & 8)
			ring->connection = XENSTORE_RECONNECT;
		if (flags & 2) {
			ring_put(ring, msg, len);
			(void)xs_ring_process(xs, c, ring);
			if (flags & 4 && len >= 8) {
				memcpy(&ring->req_cons, msg, 4);
				memcpy(&ring->rsp_cons, msg + 4, 4);
				(void)xs_ring_process(xs, c, ring);
			}
			ring_drain(ring);
			(void)xs_ring_process(xs, c, ring);
		} else if (len >= sizeof(struct xsd_sockmsg)) {
			(void)xs_conn_input(c, msg, len);
			while (xs_conn_output(c, out, sizeof(out)))
				;
		}
		if (flags & 16 && len > sizeof(struct xsd_sockmsg)) {
			char path[64];
			size_t n = len - sizeof(struct xsd_sockmsg);

			if (n > sizeof(path) - 1)
				n = sizeof(path) - 1;
			memcpy(path, msg + sizeof(struct xsd_sockmsg), n);
			path[n] = '\0';
			(void)xs_dom0_write(xs, path, "x", 1);
			(void)xs_dom0_rm(xs, path);
		}
	}
	xs_conn_free(c);
	xs_free(xs);
	free(ring);
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_EVENTS, fuzz_one)
