/*
 * netif: the tx request parser (table-driven, including hostile chains),
 * the tx and rx ring paths over fake grants, checksum completion, and the
 * --net option parser.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "hostio/hostnet.h"
#include "services/netback/netif.h"

/* ---- netif_tx_parse ---- */

#define R(g, o, f, i, s) \
	{ .req = { .gref = (g), .offset = (o), .flags = (f), .id = (i), .size = (s) } }
#define X(t, fl, gs, gt) \
	{ .extra = { .type = (t), .flags = (fl), .u.gso = { .size = (gs), .type = (gt) } } }
#define MORE NETTXF_more_data
#define EXTRA NETTXF_extra_info

struct parse_case {
	const char *name;
	unsigned avail;
	unsigned features;
	union netif_tx_slot slots[8];
	enum netif_tx_verdict verdict;
	unsigned nr_slots;     /* checked for OK and DROP */
	unsigned nr_frags;     /* checked for OK */
	uint16_t len, first_size;
};

static const struct parse_case parse_cases[] = {
	{ "one slot", 1, 0, { R(1, 0, 0, 7, 60) }, NETIF_TX_OK, 1, 1, 60, 60 },
	{ "one slot at page end", 1, 0, { R(1, 4036, 0, 7, 60) }, NETIF_TX_OK, 1, 1, 60, 60 },
	{ "shorter than ethernet", 1, 0, { R(1, 0, 0, 7, 13) }, NETIF_TX_DROP, 1, 0, 0, 0 },
	{ "zero size", 1, 0, { R(1, 0, 0, 7, 0) }, NETIF_TX_DROP, 1, 0, 0, 0 },
	{ "crosses page", 1, 0, { R(1, 4000, 0, 7, 100) }, NETIF_TX_DROP, 1, 0, 0, 0 },
	{ "max size one slot crosses", 1, 0, { R(1, 0, 0, 7, 0xffff) }, NETIF_TX_DROP, 1, 0, 0, 0 },
	{ "two slots", 2, 0, { R(1, 0, MORE, 1, 3000), R(2, 0, 0, 2, 1000) },
	  NETIF_TX_OK, 2, 2, 3000, 2000 },
	{ "three slots", 3, 0,
	  { R(1, 0, MORE, 1, 9000), R(2, 0, MORE, 2, 4096), R(3, 0, 0, 3, 904) },
	  NETIF_TX_OK, 3, 3, 9000, 4000 },
	{ "frags exceed size", 2, 0, { R(1, 0, MORE, 1, 100), R(2, 0, 0, 2, 200) },
	  NETIF_TX_DROP, 2, 0, 0, 0 },
	{ "frag crosses page", 2, 0, { R(1, 0, MORE, 1, 3000), R(2, 4000, 0, 2, 200) },
	  NETIF_TX_DROP, 2, 0, 0, 0 },
	{ "first part crosses page", 2, 0, { R(1, 100, MORE, 1, 5000), R(2, 0, 0, 2, 100) },
	  NETIF_TX_DROP, 2, 0, 0, 0 },
	{ "chain past published", 2, 0, { R(1, 0, MORE, 1, 100), R(2, 0, MORE, 2, 10) },
	  NETIF_TX_FATAL, 0, 0, 0, 0 },
	{ "no slot", 0, 0, { R(1, 0, 0, 1, 100) }, NETIF_TX_FATAL, 0, 0, 0, 0 },
	{ "gso not negotiated", 2, 0,
	  { R(1, 0, EXTRA, 1, 60), X(XEN_NETIF_EXTRA_TYPE_GSO, 0, 1400, XEN_NETIF_GSO_TYPE_TCPV4) },
	  NETIF_TX_DROP, 2, 0, 0, 0 },
	{ "gso negotiated", 2, NETIF_F_GSO_TCPV4,
	  { R(1, 0, EXTRA, 1, 60), X(XEN_NETIF_EXTRA_TYPE_GSO, 0, 1400, XEN_NETIF_GSO_TYPE_TCPV4) },
	  NETIF_TX_OK, 2, 1, 60, 60 },
	{ "gso size 0", 2, NETIF_F_GSO_TCPV4,
	  { R(1, 0, EXTRA, 1, 60), X(XEN_NETIF_EXTRA_TYPE_GSO, 0, 0, XEN_NETIF_GSO_TYPE_TCPV4) },
	  NETIF_TX_DROP, 2, 0, 0, 0 },
	{ "extra type none", 2, 0, { R(1, 0, EXTRA, 1, 60), X(0, 0, 0, 0) },
	  NETIF_TX_DROP, 2, 0, 0, 0 },
	{ "extra type too big", 2, 0, { R(1, 0, EXTRA, 1, 60), X(9, 0, 0, 0) },
	  NETIF_TX_DROP, 2, 0, 0, 0 },
	{ "mcast extra ignored", 3, 0,
	  { R(1, 0, EXTRA | MORE, 1, 100), X(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0, 0),
	    R(2, 0, 0, 2, 40) },
	  NETIF_TX_OK, 3, 2, 100, 60 },
	{ "duplicate extra", 3, 0,
	  { R(1, 0, EXTRA, 1, 60),
	    X(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0),
	    X(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0, 0) },
	  NETIF_TX_DROP, 3, 0, 0, 0 },
	{ "extra chain past published", 2, 0,
	  { R(1, 0, EXTRA, 1, 60),
	    X(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0) },
	  NETIF_TX_FATAL, 0, 0, 0, 0 },
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct netif_tx_pkt pkt;

		netif_tx_parse(c->slots, c->avail, c->features, &pkt);
		if (pkt.verdict != c->verdict)
			fail_msg("%s: verdict %d, want %d (%s)", c->name, pkt.verdict,
				 c->verdict, pkt.why ? pkt.why : "");
		if (c->verdict == NETIF_TX_FATAL)
			continue;
		if (pkt.verdict != NETIF_TX_OK)
			assert_non_null(pkt.why);
		if (pkt.nr_slots != c->nr_slots)
			fail_msg("%s: %u slots, want %u", c->name, pkt.nr_slots, c->nr_slots);
		if (c->verdict != NETIF_TX_OK)
			continue;
		if (pkt.nr_frags != c->nr_frags || pkt.len != c->len ||
		    pkt.frag[0].size != c->first_size)
			fail_msg("%s: %u frags len %u first %u", c->name, pkt.nr_frags,
				 pkt.len, pkt.frag[0].size);
	}
}

/* Long chains: 18 data slots pass, 19 drop, 64 are fatal, and the ids are kept. */
static void test_parse_long_chains(void **state)
{
	union netif_tx_slot s[NETIF_TX_FATAL_SLOTS + 4];
	struct netif_tx_pkt pkt;

	for (unsigned i = 0; i < NETIF_TX_FATAL_SLOTS + 4; i++)
		s[i].req = (struct netif_tx_request){ .gref = i, .flags = MORE,
						      .id = (uint16_t)(100 + i), .size = 60 };
	s[0].req.size = 60 * 18;
	s[17].req.flags = 0;
	netif_tx_parse(s, 18, 0, &pkt);
	assert_int_equal(pkt.verdict, NETIF_TX_OK);
	assert_int_equal(pkt.nr_frags, 18);
	s[17].req.flags = MORE;
	s[18].req.flags = 0;
	s[0].req.size = 60 * 19;
	netif_tx_parse(s, 64, 0, &pkt);
	assert_int_equal(pkt.verdict, NETIF_TX_DROP);
	assert_int_equal(pkt.nr_slots, 19);
	for (unsigned i = 0; i < 19; i++)
		assert_int_equal(pkt.slot[i].id, 100 + i);
	s[18].req.flags = MORE;
	netif_tx_parse(s, NETIF_TX_FATAL_SLOTS + 4, 0, &pkt);
	assert_int_equal(pkt.verdict, NETIF_TX_FATAL);
}

/* ---- rings over fake grants: gref g < NR_PAGES is page g ---- */

#define NR_PAGES 8

struct fake {
	uint8_t pages[NR_PAGES][4096];
	struct netif_tx_sring *tx;
	struct netif_rx_sring *rx;
	struct netif_queue *q;
	unsigned delivered;
	size_t last_len;
	uint8_t last[2048];
	unsigned copies;
};

static int fake_copy(void *opaque, grant_ref_t gref, unsigned off, void *buf,
		     unsigned len, bool to_guest)
{
	struct fake *f = opaque;

	f->copies++;
	if (gref >= NR_PAGES || off + len > 4096)
		return -EPERM;
	if (to_guest)
		memcpy(f->pages[gref] + off, buf, len);
	else
		memcpy(buf, f->pages[gref] + off, len);
	return 0;
}

static void fake_deliver(void *opaque, const uint8_t *frame, size_t len)
{
	struct fake *f = opaque;

	f->delivered++;
	f->last_len = len;
	memcpy(f->last, frame, len < sizeof(f->last) ? len : sizeof(f->last));
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->tx = aligned_alloc(4096, 4096);
	f->rx = aligned_alloc(4096, 4096);
	f->q = calloc(1, sizeof(*f->q));
	SHARED_RING_INIT(f->tx);
	SHARED_RING_INIT(f->rx);
	netif_queue_init(f->q, f->tx, f->rx, 0, fake_copy, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	free(f->tx);
	free(f->rx);
	free(f->q);
	free(f);
	return 0;
}

static void tx_post(struct fake *f, struct netif_tx_request r)
{
	f->tx->ring[f->tx->req_prod % NETIF_TX_RING_SIZE].req = r;
	f->tx->req_prod++;
}

static void test_tx_ring(void **state)
{
	struct fake *f = *state;
	bool notify = false;

	memset(f->pages[1], 0xab, 4096);
	f->pages[1][100] = 0x11;
	tx_post(f, (struct netif_tx_request){ .gref = 1, .offset = 100, .id = 5, .size = 60 });
	tx_post(f, (struct netif_tx_request){ .gref = 99, .offset = 0, .id = 6, .size = 60 });
	tx_post(f, (struct netif_tx_request){ .gref = 1, .offset = 0, .id = 7, .size = 5 });
	f->tx->rsp_event = 1;
	assert_false(netif_tx_process(f->q, 64, fake_deliver, f, &notify));
	assert_true(notify);
	assert_int_equal(f->delivered, 1);
	assert_int_equal(f->last_len, 60);
	assert_int_equal(f->last[0], 0x11);
	assert_int_equal(f->tx->rsp_prod, 3);
	assert_int_equal(f->tx->ring[0].rsp.id, 5);
	assert_int_equal(f->tx->ring[0].rsp.status, NETIF_RSP_OKAY);
	assert_int_equal(f->tx->ring[1].rsp.id, 6); /* bad grant */
	assert_int_equal(f->tx->ring[1].rsp.status, NETIF_RSP_ERROR);
	assert_int_equal(f->tx->ring[2].rsp.id, 7); /* too short */
	assert_int_equal(f->tx->ring[2].rsp.status, NETIF_RSP_ERROR);
	assert_int_equal(f->q->stats.tx_errors, 2);
	/* The event is armed for the next request. */
	assert_int_equal(f->tx->req_event, 4);
	assert_false(f->q->broken);
}

static void test_tx_extra_responses(void **state)
{
	struct fake *f = *state;
	bool notify = false;
	union netif_tx_slot x = { .extra = { .type = XEN_NETIF_EXTRA_TYPE_MCAST_ADD } };

	tx_post(f, (struct netif_tx_request){ .gref = 2, .flags = EXTRA, .id = 9, .size = 60 });
	tx_post(f, x.req);
	netif_tx_process(f->q, 64, fake_deliver, f, &notify);
	assert_int_equal(f->delivered, 1);
	assert_int_equal(f->tx->rsp_prod, 2);
	assert_int_equal(f->tx->ring[0].rsp.status, NETIF_RSP_OKAY);
	assert_int_equal(f->tx->ring[1].rsp.status, NETIF_RSP_NULL);
}

static void test_tx_budget(void **state)
{
	struct fake *f = *state;
	bool notify = false;

	for (int i = 0; i < 10; i++)
		tx_post(f, (struct netif_tx_request){ .gref = 1, .id = (uint16_t)i, .size = 60 });
	assert_true(netif_tx_process(f->q, 4, fake_deliver, f, &notify));
	assert_int_equal(f->delivered, 4);
	assert_int_equal(f->tx->rsp_prod, 4);
	assert_false(netif_tx_process(f->q, 64, fake_deliver, f, &notify));
	assert_int_equal(f->delivered, 10);
}

/* Hostile indexes: a producer past the ring breaks the queue, no work. */
static void test_tx_producer_past_ring(void **state)
{
	struct fake *f = *state;
	bool notify = false;

	f->tx->req_prod = NETIF_TX_RING_SIZE + 1;
	assert_false(netif_tx_process(f->q, 64, fake_deliver, f, &notify));
	assert_true(f->q->broken);
	assert_int_equal(f->delivered, 0);
	assert_int_equal(f->copies, 0);
	assert_int_equal(f->tx->rsp_prod, 0);
	/* Broken stays broken. */
	f->tx->req_prod = 1;
	netif_tx_process(f->q, 64, fake_deliver, f, &notify);
	assert_int_equal(f->delivered, 0);
	assert_int_equal(netif_rx_put(f->q, f->last, 60, &notify), -EPIPE);
}

static void test_tx_partial_packet_fatal(void **state)
{
	struct fake *f = *state;
	bool notify = false;

	tx_post(f, (struct netif_tx_request){ .gref = 1, .flags = MORE, .id = 1, .size = 100 });
	netif_tx_process(f->q, 64, fake_deliver, f, &notify);
	assert_true(f->q->broken);
	assert_int_equal(f->delivered, 0);
}

static void rx_post(struct fake *f, uint16_t id, grant_ref_t gref)
{
	f->rx->ring[f->rx->req_prod % NETIF_RX_RING_SIZE].req =
		(struct netif_rx_request){ .id = id, .gref = gref };
	f->rx->req_prod++;
}

static void test_rx_ring(void **state)
{
	struct fake *f = *state;
	uint8_t frame[6000];
	bool notify = false;

	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	/* No buffers: -EAGAIN and the event armed for the next request. */
	assert_int_equal(netif_rx_put(f->q, frame, 60, &notify), -EAGAIN);
	assert_int_equal(f->rx->req_event, 1);
	assert_false(netif_rx_ready(f->q));
	rx_post(f, 33, 3);
	assert_true(netif_rx_ready(f->q));
	f->rx->rsp_event = 1;
	assert_int_equal(netif_rx_put(f->q, frame, 60, &notify), 0);
	assert_true(notify);
	assert_int_equal(f->rx->rsp_prod, 1);
	assert_int_equal(f->rx->ring[0].rsp.id, 33);
	assert_int_equal(f->rx->ring[0].rsp.status, 60);
	assert_int_equal(f->rx->ring[0].rsp.flags, 0);
	assert_memory_equal(f->pages[3], frame, 60);
	/* Larger than a page without feature-sg: dropped. */
	rx_post(f, 34, 4);
	rx_post(f, 35, 5);
	assert_int_equal(netif_rx_put(f->q, frame, sizeof(frame), &notify), -EMSGSIZE);
	/* With feature-sg: two slots, more_data on the first; with one
	 * buffer posted the event asks for the second. */
	f->q->features |= NETIF_F_RX_SG;
	f->rx->req_prod--;
	assert_int_equal(netif_rx_put(f->q, frame, sizeof(frame), &notify), -EAGAIN);
	assert_int_equal(f->rx->req_event, f->q->rx_req_cons + 2);
	f->rx->req_prod++;
	assert_int_equal(netif_rx_put(f->q, frame, sizeof(frame), &notify), 0);
	assert_int_equal(f->rx->ring[1].rsp.status, 4096);
	assert_int_equal(f->rx->ring[1].rsp.flags, NETRXF_more_data);
	assert_int_equal(f->rx->ring[2].rsp.status, (int)sizeof(frame) - 4096);
	assert_memory_equal(f->pages[5], frame + 4096, sizeof(frame) - 4096);
	/* A bad grant: an error response, no crash. */
	rx_post(f, 36, 1000);
	assert_int_equal(netif_rx_put(f->q, frame, 60, &notify), 0);
	assert_int_equal(f->rx->ring[3].rsp.status, NETIF_RSP_ERROR);
	assert_int_equal(f->q->stats.rx_errors, 1);
	/* A producer past the ring. */
	f->rx->req_prod += NETIF_RX_RING_SIZE + 5;
	assert_int_equal(netif_rx_put(f->q, frame, 60, &notify), -EPIPE);
	assert_true(f->q->broken);
}

/* ---- checksums ---- */

static uint16_t sum16(const uint8_t *p, size_t len, uint32_t acc)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static void test_csum_fill(void **state)
{
	uint8_t f[14 + 20 + 8 + 5] = { 0 };
	uint32_t ps;

	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 3] = 20 + 8 + 5;
	f[14 + 9] = 17;
	memcpy(&f[14 + 12], "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	f[34 + 5] = 13; /* UDP length */
	memcpy(&f[42], "hello", 5);
	f[34 + 6] = 0x12; /* garbage (a partial sum) in the field */
	assert_int_equal(netif_csum_fill(f, sizeof(f)), 0);
	ps = sum16(&f[14 + 12], 8, 0) + 17 + 13;
	assert_int_equal(sum16(&f[34], 13, ps), 0xffff);
	/* Not IP, truncated IP, IP options beyond the frame, ICMP: refused. */
	f[12] = 0x08, f[13] = 0x06;
	assert_int_equal(netif_csum_fill(f, sizeof(f)), -EINVAL);
	f[13] = 0;
	assert_int_equal(netif_csum_fill(f, 30), -EINVAL);
	f[14] = 0x4f;
	assert_int_equal(netif_csum_fill(f, sizeof(f)), -EINVAL);
	f[14] = 0x45;
	f[14 + 9] = 1;
	assert_int_equal(netif_csum_fill(f, sizeof(f)), -EINVAL);
	f[14 + 9] = 17;
	f[14 + 3] = 200; /* total length beyond the frame */
	assert_int_equal(netif_csum_fill(f, sizeof(f)), -EINVAL);
}

/* ---- GSO ---- */

struct segs {
	unsigned n;
	size_t len[8];
	uint8_t frame[8][1200];
};

static void seg_deliver(void *opaque, const uint8_t *frame, size_t len)
{
	struct segs *s = opaque;

	if (s->n < 8 && len <= sizeof(s->frame[0])) {
		s->len[s->n] = len;
		memcpy(s->frame[s->n], frame, len);
	}
	s->n++;
}

/* An Ethernet/IPv4/TCP frame with payload bytes i % 251, flags given. */
static size_t tcp_frame(uint8_t *f, size_t payload, uint8_t flags)
{
	size_t len = 14 + 20 + 20 + payload;

	memset(f, 0, len);
	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 2] = (uint8_t)((len - 14) >> 8);
	f[14 + 3] = (uint8_t)(len - 14);
	f[14 + 4] = 0x12, f[14 + 5] = 0x34; /* id */
	f[14 + 8] = 64;
	f[14 + 9] = 6;
	memcpy(&f[14 + 12], "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	f[34 + 4] = 0x10; /* seq 0x10000000 */
	f[34 + 12] = 5 << 4;
	f[34 + 13] = flags;
	for (size_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)(i % 251);
	return len;
}

static void test_gso_segment(void **state)
{
	static uint8_t f[4000], seg[NETIF_GSO_SEG_MAX];
	struct segs *s = calloc(1, sizeof(*s));
	size_t len = tcp_frame(f, 2500, 0x80 | 0x08 | 0x01 | 0x10); /* CWR PSH FIN ACK */

	assert_int_equal(netif_gso_segment(f, len, 1000, seg, seg_deliver, s), 3);
	assert_int_equal(s->n, 3);
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *g = s->frame[i];
		size_t pl = i < 2 ? 1000 : 500;
		uint32_t seq = (uint32_t)g[38] << 24 | (uint32_t)g[39] << 16 |
			       (uint32_t)g[40] << 8 | g[41];
		uint32_t ps;

		assert_int_equal(s->len[i], 54 + pl);
		assert_int_equal((g[16] << 8 | g[17]), 40 + pl);       /* IP length */
		assert_int_equal((g[18] << 8 | g[19]), 0x1234 + i);    /* IP id */
		assert_int_equal(sum16(&g[14], 20, 0), 0xffff);        /* IP checksum */
		assert_int_equal(seq, 0x10000000u + i * 1000);
		assert_int_equal(!!(g[47] & 0x80), i == 0);            /* CWR first */
		assert_int_equal(!!(g[47] & 0x09), i == 2);            /* PSH/FIN last */
		assert_true(g[47] & 0x10);                             /* ACK all */
		ps = sum16(&g[26], 8, 0) + 6 + (uint32_t)(20 + pl);
		assert_int_equal(sum16(&g[34], 20 + pl, ps), 0xffff);  /* TCP checksum */
		assert_memory_equal(&g[54], &f[54 + i * 1000], pl);
	}
	/* Refused: mss 0, too many segments, segment too big, not TCP,
	 * truncated header. */
	s->n = 0;
	assert_int_equal(netif_gso_segment(f, len, 0, seg, seg_deliver, s), -EINVAL);
	assert_int_equal(netif_gso_segment(f, len, 2, seg, seg_deliver, s), -EINVAL);
	assert_int_equal(netif_gso_segment(f, len, NETIF_GSO_SEG_MAX, seg, seg_deliver, s),
			 -EINVAL);
	f[14 + 9] = 17;
	assert_int_equal(netif_gso_segment(f, len, 1000, seg, seg_deliver, s), -EINVAL);
	f[14 + 9] = 6;
	assert_int_equal(netif_gso_segment(f, 50, 1000, seg, seg_deliver, s), -EINVAL);
	f[34 + 12] = 15 << 4; /* TCP header beyond the packet? no: 60 bytes fit */
	f[14 + 2] = 0, f[14 + 3] = 50;
	assert_int_equal(netif_gso_segment(f, len, 1000, seg, seg_deliver, s), -EINVAL);
	assert_int_equal(s->n, 0);
	free(s);
}

/* ---- --net ---- */

static const struct {
	const char *spec;
	int ok;
	enum hostnet_kind kind;
	unsigned nr_fwd;
} net_cases[] = {
	{ "user", 1, HOSTNET_USER, 0 },
	{ "user,hostfwd=tcp:127.0.0.1:8080-:80", 1, HOSTNET_USER, 1 },
	{ "user,hostfwd=udp::5555-10.0.2.15:7,hostfwd=tcp:127.0.0.1:1-:2", 1, HOSTNET_USER, 2 },
	{ "user,mac=52:54:00:12:34:56", 1, HOSTNET_USER, 0 },
	{ "tap,ifname=tap0", 1, HOSTNET_TAP, 0 },
	{ "", 0, 0, 0 },
	{ "bridge", 0, 0, 0 },
	{ "tap", 0, 0, 0 },
	{ "tap,ifname=../x", 0, 0, 0 },
	{ "tap,ifname=abcdefghijklmnopq", 0, 0, 0 },
	{ "tap,hostfwd=tcp::1-:2", 0, 0, 0 },
	{ "user,ifname=tap0", 0, 0, 0 },
	{ "user,hostfwd=sctp::1-:2", 0, 0, 0 },
	{ "user,hostfwd=tcp::0-:2", 0, 0, 0 },
	{ "user,hostfwd=tcp::65536-:2", 0, 0, 0 },
	{ "user,hostfwd=tcp::80:81", 0, 0, 0 },
	{ "user,hostfwd=tcp:1.2.3:80-:81", 0, 0, 0 },
	{ "user,hostfwd=tcp::80-:", 0, 0, 0 },
	{ "user,mac=01:00:00:00:00:01", 0, 0, 0 },
	{ "user,mac=52:54:00:12:34", 0, 0, 0 },
	{ "user,mac=52:54:00:12:34:zz", 0, 0, 0 },
	{ "user,", 0, 0, 0 },
	{ "user,unknown=1", 0, 0, 0 },
};

static void test_net_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
		struct hostnet_config cfg;
		char err[256] = "";
		int rc = hostnet_parse(net_cases[i].spec, &cfg, err, sizeof(err));

		if ((rc == 0) != net_cases[i].ok)
			fail_msg("'%s': rc %d (%s)", net_cases[i].spec, rc, err);
		if (rc) {
			assert_int_equal(rc, -EINVAL);
			assert_true(strlen(err) > 0);
			continue;
		}
		assert_int_equal(cfg.kind, net_cases[i].kind);
		assert_int_equal(cfg.nr_fwd, net_cases[i].nr_fwd);
	}
}

static void test_net_parse_fields(void **state)
{
	struct hostnet_config cfg;
	char err[256];

	assert_int_equal(hostnet_parse("user,hostfwd=udp:127.0.0.1:5555-10.0.2.15:7,mac=52:54:00:ab:cd:ef",
				       &cfg, err, sizeof(err)), 0);
	assert_true(cfg.fwd[0].udp);
	assert_int_equal(cfg.fwd[0].host_port, 5555);
	assert_int_equal(cfg.fwd[0].guest_port, 7);
	assert_int_equal(cfg.fwd[0].host_addr, htonl(0x7f000001));
	assert_int_equal(cfg.fwd[0].guest_addr, htonl(0x0a00020f));
	assert_true(cfg.mac_set);
	assert_int_equal(cfg.mac[5], 0xef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_long_chains),
		cmocka_unit_test_setup_teardown(test_tx_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_extra_responses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_producer_past_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_partial_packet_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_ring, setup, teardown),
		cmocka_unit_test(test_csum_fill),
		cmocka_unit_test(test_gso_segment),
		cmocka_unit_test(test_net_parse_table),
		cmocka_unit_test(test_net_parse_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
