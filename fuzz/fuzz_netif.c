/*
 * Fuzzes the netif backend: the tx request parser, software GSO, the tx
 * loop and the rx path over rings whose contents (indexes included) come
 * from the input, and checksum completion on the delivered frames.
 *
 * Input: [0] features, [1] budget, [2..5] tx req_prod, [6..9] rx req_prod,
 * then tx ring slots (12 bytes each), then rx ring slots and the frame
 * lengths to receive.
 */
// fuzz-sources: src/services/netback/netif.c src/core/sandbox.c src/core/seccomp_programs.c src/core/bpf_prog.c src/core/sandbox_policy.c src/core/sandbox_landlock.c src/core/log.c
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/netback/netif.h"
#include "fuzz_sandbox.h"

#define NR_PAGES 4

static uint8_t pages[NR_PAGES][4096];

static int fz_copy(void *opaque, grant_ref_t gref, unsigned off, void *buf,
		   unsigned len, bool to_guest)
{
	if (gref >= NR_PAGES || off > 4096 || len > 4096 - off)
		return -1;
	if (to_guest)
		memcpy(pages[gref] + off, buf, len);
	else
		memcpy(buf, pages[gref] + off, len);
	return 0;
}

static void fz_deliver(void *opaque, const uint8_t *frame, size_t len)
{
	uint8_t copy[NETIF_MAX_PKT];

	memcpy(copy, frame, len);
	netif_csum_fill(copy, len);
}


static int fuzz_one(const uint8_t *data, size_t size)
{
	static struct netif_queue q;
	static struct netif_tx_sring *tx;
	static struct netif_rx_sring *rx;
	union netif_tx_slot slots[NETIF_TX_FATAL_SLOTS];
	struct netif_tx_pkt pkt;
	uint32_t txp, rxp;
	unsigned features, budget;
	size_t n, take;
	bool notify = false;
	static uint8_t frame[9000];

	if (size < 10)
		return 0;
	if (!tx) {
		tx = aligned_alloc(4096, 4096);
		rx = aligned_alloc(4096, 4096);
	}
	features = data[0];
	budget = data[1];
	memcpy(&txp, data + 2, 4);
	memcpy(&rxp, data + 6, 4);
	data += 10;
	size -= 10;

	/* The parser on its own, straight from the input. */
	n = size / sizeof(union netif_tx_slot);
	if (n > NETIF_TX_FATAL_SLOTS)
		n = NETIF_TX_FATAL_SLOTS;
	memcpy(slots, data, n * sizeof(union netif_tx_slot));
	netif_tx_parse(slots, (unsigned)n, features, &pkt);
	{
		static uint8_t seg[NETIF_GSO_SEG_MAX];

		netif_gso_segment(data, size, budget * 16 + 1, seg, fz_deliver, NULL);
	}

	/* The rings. */
	memset(tx, 0, 4096);
	memset(rx, 0, 4096);
	take = size < 4096 - 64 ? size : 4096 - 64;
	memcpy(tx->ring, data, take);
	memcpy(rx->ring, data + size - take, take);
	netif_queue_init(&q, tx, rx, features, fz_copy, NULL);
	tx->req_prod = txp % 512;
	rx->req_prod = rxp % 512;
	for (int i = 0; i < NR_PAGES; i++)
		memset(pages[i], (size ? data[0] : 0) ^ i, 64);
	while (netif_tx_process(&q, 1 + budget % 8, fz_deliver, NULL, &notify))
		;
	for (size_t i = 0; i + 1 < take && i < 64; i += 2) {
		size_t len = ((size_t)data[i] << 8 | data[i + 1]) % sizeof(frame);

		if (netif_rx_put(&q, frame, len, &notify) == -EPIPE)
			break;
	}
	return 0;
}

FUZZ_SANDBOXED(SANDBOX_ROLE_NET, fuzz_one)
