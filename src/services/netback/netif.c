/* The netif ring protocol, backend side (see netif.h). */
#include "services/netback/netif.h"

#include <errno.h>
#include <string.h>

static void set_verdict(struct netif_tx_pkt *pkt, enum netif_tx_verdict v,
			const char *why)
{
	/* FATAL wins over DROP; the first reason is kept. */
	if (v > pkt->verdict) {
		pkt->verdict = v;
		pkt->why = why;
	}
}

/* Consumes extra-info slots from slots[*i]; returns false if the chain runs
 * past the published requests or grows fatally long. */
static bool parse_extras(const union netif_tx_slot *slots, unsigned avail,
			 unsigned features, unsigned *i,
			 struct netif_tx_pkt *pkt)
{
	unsigned seen = 0;
	bool more = true;

	while (more) {
		struct netif_extra_info e;

		if (*i >= avail || *i >= NETIF_TX_FATAL_SLOTS) {
			set_verdict(pkt, NETIF_TX_FATAL,
				    *i >= avail ? "extra info past the published requests"
						: "extra info chain too long");
			return false;
		}
		e = slots[*i].extra;
		pkt->slot[pkt->nr_slots].extra = true;
		pkt->slot[pkt->nr_slots].id = 0;
		pkt->nr_slots++;
		(*i)++;
		more = e.flags & XEN_NETIF_EXTRA_FLAG_MORE;
		if (e.type == XEN_NETIF_EXTRA_TYPE_NONE ||
		    e.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
			set_verdict(pkt, NETIF_TX_DROP, "bad extra info type");
			continue;
		}
		if (seen & (1u << e.type)) {
			set_verdict(pkt, NETIF_TX_DROP, "duplicate extra info");
			continue;
		}
		seen |= 1u << e.type;
		if (e.type != XEN_NETIF_EXTRA_TYPE_GSO)
			continue; /* multicast control, hash: ignored */
		if (e.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 &&
		    (features & NETIF_F_GSO_TCPV4)) {
		} else if (e.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6 &&
			   (features & NETIF_F_GSO_TCPV6)) {
		} else {
			set_verdict(pkt, NETIF_TX_DROP, "GSO type not negotiated");
			continue;
		}
		if (e.u.gso.size == 0) {
			set_verdict(pkt, NETIF_TX_DROP, "GSO size 0");
			continue;
		}
		pkt->gso_type = e.u.gso.type;
		pkt->gso_size = e.u.gso.size;
	}
	return true;
}

void netif_tx_parse(const union netif_tx_slot *slots, unsigned avail,
		    unsigned features, struct netif_tx_pkt *pkt)
{
	struct netif_tx_request first, r;
	unsigned i = 0, rest = 0;
	bool more;

	memset(pkt, 0, sizeof(*pkt));
	pkt->verdict = NETIF_TX_OK;
	if (avail == 0) {
		set_verdict(pkt, NETIF_TX_FATAL, "no request");
		return;
	}
	if (avail > NETIF_TX_FATAL_SLOTS)
		avail = NETIF_TX_FATAL_SLOTS;
	first = slots[i++].req; /* one copy; only the copy is used */
	pkt->slot[pkt->nr_slots++].id = first.id;
	pkt->flags = first.flags;
	pkt->len = first.size;
	if (first.flags & NETTXF_extra_info &&
	    !parse_extras(slots, avail, features, &i, pkt))
		return;
	more = first.flags & NETTXF_more_data;
	pkt->frag[0] = (struct netif_tx_frag){ .gref = first.gref,
					       .offset = first.offset };
	pkt->nr_frags = 1;
	while (more) {
		if (i >= avail) {
			set_verdict(pkt, NETIF_TX_FATAL,
				    i >= NETIF_TX_FATAL_SLOTS ? "too many slots in a packet"
							      : "packet runs past the published requests");
			return;
		}
		r = slots[i++].req;
		pkt->slot[pkt->nr_slots++].id = r.id;
		more = r.flags & NETTXF_more_data;
		if (pkt->nr_frags == NETIF_TX_MAX_SLOTS) {
			set_verdict(pkt, NETIF_TX_DROP, "too many slots in a packet");
			continue;
		}
		if ((unsigned)r.offset + r.size > NETIF_PAGE_SIZE) {
			set_verdict(pkt, NETIF_TX_DROP, "fragment crosses its page");
			continue;
		}
		rest += r.size;
		if (rest > first.size) {
			set_verdict(pkt, NETIF_TX_DROP,
				    "fragments larger than the packet size");
			continue;
		}
		pkt->frag[pkt->nr_frags++] = (struct netif_tx_frag){
			.gref = r.gref, .offset = r.offset, .size = r.size,
		};
	}
	if (pkt->verdict != NETIF_TX_OK)
		return;
	if (first.size < NETIF_ETH_HLEN) {
		set_verdict(pkt, NETIF_TX_DROP, "packet shorter than an Ethernet header");
		return;
	}
	/* The first slot holds what the others do not. */
	pkt->frag[0].size = (uint16_t)(first.size - rest);
	if ((unsigned)first.offset + pkt->frag[0].size > NETIF_PAGE_SIZE)
		set_verdict(pkt, NETIF_TX_DROP, "first fragment crosses its page");
}

/* One's-complement sum of [p, p+len) added to sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int netif_csum_fill(uint8_t *f, size_t len)
{
	size_t l3 = NETIF_ETH_HLEN, l4, l4len;
	uint16_t type, sum;
	uint32_t acc = 0;
	uint8_t proto;
	size_t off;

	if (len < l3 + 20)
		return -EINVAL;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == 0x0800) {
		size_t ihl = (size_t)(f[l3] & 0xf) * 4;
		size_t tot = (size_t)(f[l3 + 2] << 8 | f[l3 + 3]);

		if ((f[l3] >> 4) != 4 || ihl < 20 || tot < ihl || l3 + tot > len)
			return -EINVAL;
		if ((f[l3 + 6] & 0x3f) || f[l3 + 7]) /* a fragment */
			return -EINVAL;
		proto = f[l3 + 9];
		l4 = l3 + ihl;
		l4len = tot - ihl;
		acc = csum_add(acc, &f[l3 + 12], 8); /* source, destination */
	} else if (type == 0x86dd) {
		if (len < l3 + 40 || (f[l3] >> 4) != 6)
			return -EINVAL;
		l4len = (size_t)(f[l3 + 4] << 8 | f[l3 + 5]);
		proto = f[l3 + 6];
		l4 = l3 + 40;
		if (l4 + l4len > len)
			return -EINVAL;
		acc = csum_add(acc, &f[l3 + 8], 32);
		acc += (uint32_t)(l4len >> 16);
	} else {
		return -EINVAL;
	}
	if (proto == 6)
		off = 16;
	else if (proto == 17)
		off = 6;
	else
		return -EINVAL;
	if (l4len < off + 2 || (proto == 6 && l4len < 20) ||
	    (proto == 17 && l4len < 8))
		return -EINVAL;
	acc += proto;
	acc += (uint32_t)(l4len & 0xffff);
	f[l4 + off] = 0;
	f[l4 + off + 1] = 0;
	acc = csum_add(acc, &f[l4], l4len);
	sum = csum_fold(acc);
	if (proto == 17 && sum == 0)
		sum = 0xffff;
	f[l4 + off] = (uint8_t)(sum >> 8);
	f[l4 + off + 1] = (uint8_t)sum;
	return 0;
}

int netif_gso_segment(const uint8_t *f, size_t len, unsigned mss,
		      uint8_t *seg, netif_deliver_fn deliver, void *opaque)
{
	size_t l3 = NETIF_ETH_HLEN, ihl, thl, tot, hdr, payload, off;
	uint32_t seq0;
	uint16_t id0;
	unsigned n = 0;

	if (len < l3 + 40 || f[12] != 0x08 || f[13] != 0x00 || (f[l3] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(f[l3] & 0xf) * 4;
	tot = (size_t)(f[l3 + 2] << 8 | f[l3 + 3]);
	if (ihl < 20 || f[l3 + 9] != 6 || (f[l3 + 6] & 0x3f) || f[l3 + 7])
		return -EINVAL;
	/* Linux puts the whole length in tot_len; accept 0 as "to the end". */
	if (tot == 0)
		tot = len - l3;
	if (l3 + tot > len || tot < ihl + 20)
		return -EINVAL;
	thl = (size_t)(f[l3 + ihl + 12] >> 4) * 4;
	hdr = l3 + ihl + thl;
	if (thl < 20 || hdr > l3 + tot)
		return -EINVAL;
	payload = l3 + tot - hdr;
	if (mss == 0 || hdr + mss > NETIF_GSO_SEG_MAX ||
	    (payload + mss - 1) / mss > NETIF_GSO_MAX_SEGS)
		return -EINVAL;
	seq0 = (uint32_t)f[l3 + ihl + 4] << 24 | (uint32_t)f[l3 + ihl + 5] << 16 |
	       (uint32_t)f[l3 + ihl + 6] << 8 | f[l3 + ihl + 7];
	id0 = (uint16_t)(f[l3 + 4] << 8 | f[l3 + 5]);
	off = 0;
	do {
		size_t sl = payload - off < mss ? payload - off : mss;
		size_t iplen = ihl + thl + sl;
		uint32_t seq = seq0 + (uint32_t)off;
		uint16_t id = (uint16_t)(id0 + n);
		uint8_t *tcp = seg + l3 + ihl;
		uint32_t sum = 0;

		memcpy(seg, f, hdr);
		memcpy(seg + hdr, f + hdr + off, sl);
		seg[l3 + 2] = (uint8_t)(iplen >> 8);
		seg[l3 + 3] = (uint8_t)iplen;
		seg[l3 + 4] = (uint8_t)(id >> 8);
		seg[l3 + 5] = (uint8_t)id;
		seg[l3 + 10] = seg[l3 + 11] = 0;
		sum = csum_fold(csum_add(0, seg + l3, ihl));
		seg[l3 + 10] = (uint8_t)(sum >> 8);
		seg[l3 + 11] = (uint8_t)sum;
		tcp[4] = (uint8_t)(seq >> 24);
		tcp[5] = (uint8_t)(seq >> 16);
		tcp[6] = (uint8_t)(seq >> 8);
		tcp[7] = (uint8_t)seq;
		if (off + sl < payload)
			tcp[13] &= (uint8_t)~0x09; /* FIN, PSH: last segment only */
		if (n > 0)
			tcp[13] &= (uint8_t)~0x80; /* CWR: first segment only */
		netif_csum_fill(seg, hdr + sl);
		deliver(opaque, seg, hdr + sl);
		n++;
		off += sl;
	} while (off < payload);
	return (int)n;
}

void netif_queue_init(struct netif_queue *q, struct netif_tx_sring *tx,
		      struct netif_rx_sring *rx, unsigned features,
		      netif_copy_fn copy, void *copy_opaque)
{
	memset(&q->stats, 0, sizeof(q->stats));
	q->tx = tx;
	q->rx = rx;
	q->features = features;
	q->copy = copy;
	q->copy_opaque = copy_opaque;
	q->broken = false;
	q->broken_why = NULL;
	/* Attach where the frontend is (a fresh ring: all zero). */
	q->tx_rsp_prod = __atomic_load_n(&tx->rsp_prod, __ATOMIC_ACQUIRE);
	q->tx_req_cons = q->tx_rsp_prod;
	q->rx_rsp_prod = __atomic_load_n(&rx->rsp_prod, __ATOMIC_ACQUIRE);
	q->rx_req_cons = q->rx_rsp_prod;
}

static void set_broken(struct netif_queue *q, const char *why)
{
	if (!q->broken) {
		q->broken = true;
		q->broken_why = why;
		q->stats.fatal++;
	}
}

/* Publishes responses; *notify per Xen's RING_PUSH_RESPONSES_AND_CHECK_NOTIFY. */
static void push_responses(RING_IDX *shared_prod, RING_IDX *shared_event,
			   RING_IDX new_prod, bool *notify)
{
	RING_IDX old = __atomic_load_n(shared_prod, __ATOMIC_RELAXED);
	RING_IDX event;

	if (old == new_prod)
		return;
	__atomic_store_n(shared_prod, new_prod, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = __atomic_load_n(shared_event, __ATOMIC_ACQUIRE);
	if ((RING_IDX)(new_prod - event) < (RING_IDX)(new_prod - old))
		*notify = true;
}

static void tx_respond(struct netif_queue *q, uint16_t id, int16_t status)
{
	struct netif_tx_response *rsp =
		&q->tx->ring[q->tx_rsp_prod % NETIF_TX_RING_SIZE].rsp;

	rsp->id = id;
	rsp->status = status;
	q->tx_rsp_prod++;
}

/* Requests published and not consumed, or -1 if the index is insane. */
static int tx_pending(struct netif_queue *q)
{
	RING_IDX prod = __atomic_load_n(&q->tx->req_prod, __ATOMIC_ACQUIRE);
	RING_IDX n = prod - q->tx_req_cons;

	if (n > NETIF_TX_RING_SIZE) {
		set_broken(q, "tx producer index runs past the ring");
		return -1;
	}
	return (int)n;
}

/* Copies the packet's fragments into q->pkt; 0 or -errno (bad grant). */
static int tx_gather(struct netif_queue *q, const struct netif_tx_pkt *pkt)
{
	size_t at = 0;

	for (unsigned f = 0; f < pkt->nr_frags; f++) {
		const struct netif_tx_frag *fr = &pkt->frag[f];

		if (fr->size == 0)
			continue;
		if (at + fr->size > sizeof(q->pkt))
			return -EINVAL;
		if (q->copy(q->copy_opaque, fr->gref, fr->offset, q->pkt + at,
			    fr->size, false))
			return -EPERM;
		at += fr->size;
	}
	return at == pkt->len ? 0 : -EINVAL;
}

bool netif_tx_process(struct netif_queue *q, unsigned budget,
		      netif_deliver_fn deliver, void *opaque, bool *notify)
{
	union netif_tx_slot slots[NETIF_TX_FATAL_SLOTS];
	struct netif_tx_pkt pkt;
	int avail;

	while (!q->broken) {
		avail = tx_pending(q);
		if (avail < 0)
			break;
		if (avail == 0) {
			/* Xen's RING_FINAL_CHECK_FOR_REQUESTS: ask for an event
			 * for the next request, then look once more. */
			__atomic_store_n(&q->tx->req_event, q->tx_req_cons + 1,
					 __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			avail = tx_pending(q);
			if (avail <= 0)
				break;
		}
		if (budget-- == 0) {
			push_responses(&q->tx->rsp_prod, &q->tx->rsp_event,
				       q->tx_rsp_prod, notify);
			return true;
		}
		if (avail > NETIF_TX_FATAL_SLOTS)
			avail = NETIF_TX_FATAL_SLOTS;
		for (int i = 0; i < avail; i++)
			memcpy(&slots[i],
			       (const void *)&q->tx->ring[(q->tx_req_cons + (unsigned)i) %
							  NETIF_TX_RING_SIZE].req,
			       sizeof(slots[i]));
		netif_tx_parse(slots, (unsigned)avail, q->features, &pkt);
		if (pkt.verdict == NETIF_TX_FATAL) {
			set_broken(q, pkt.why);
			break;
		}
		q->tx_req_cons += pkt.nr_slots;
		if (pkt.verdict == NETIF_TX_OK && tx_gather(q, &pkt) == 0 &&
		    (pkt.gso_type == XEN_NETIF_GSO_TYPE_NONE ||
		     (pkt.gso_type == XEN_NETIF_GSO_TYPE_TCPV4 &&
		      netif_gso_segment(q->pkt, pkt.len, pkt.gso_size, q->seg,
					deliver, opaque) > 0))) {
			if (pkt.gso_type == XEN_NETIF_GSO_TYPE_NONE) {
				if (pkt.flags & NETTXF_csum_blank)
					netif_csum_fill(q->pkt, pkt.len);
				deliver(opaque, q->pkt, pkt.len);
			}
			q->stats.tx_packets++;
			q->stats.tx_bytes += pkt.len;
		} else {
			pkt.verdict = NETIF_TX_DROP;
			q->stats.tx_errors++;
		}
		for (unsigned s = 0; s < pkt.nr_slots; s++)
			tx_respond(q, pkt.slot[s].id,
				   pkt.slot[s].extra ? NETIF_RSP_NULL
				   : pkt.verdict == NETIF_TX_OK ? NETIF_RSP_OKAY
								 : NETIF_RSP_ERROR);
	}
	push_responses(&q->tx->rsp_prod, &q->tx->rsp_event, q->tx_rsp_prod,
		       notify);
	return false;
}

/* Posted rx requests not yet used, or -1 if the index is insane. */
static int rx_pending(struct netif_queue *q)
{
	RING_IDX prod = __atomic_load_n(&q->rx->req_prod, __ATOMIC_ACQUIRE);
	RING_IDX n = prod - q->rx_req_cons;

	if (n > NETIF_RX_RING_SIZE) {
		set_broken(q, "rx producer index runs past the ring");
		return -1;
	}
	return (int)n;
}

static unsigned rx_slots_needed(size_t len)
{
	return (unsigned)((len + NETIF_PAGE_SIZE - 1) / NETIF_PAGE_SIZE);
}

bool netif_rx_ready(struct netif_queue *q)
{
	int n;

	if (q->broken)
		return false;
	n = rx_pending(q);
	if (n > 0)
		return true;
	if (n == 0) {
		__atomic_store_n(&q->rx->req_event, q->rx_req_cons + 1,
				 __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		n = rx_pending(q);
	}
	return n > 0;
}

int netif_rx_put(struct netif_queue *q, const uint8_t *frame, size_t len,
		 bool *notify)
{
	unsigned need, done = 0;
	bool failed = false;
	int avail;

	if (q->broken)
		return -EPIPE;
	need = rx_slots_needed(len);
	if (len == 0 || len > NETIF_MAX_PKT ||
	    (need > 1 && !(q->features & NETIF_F_RX_SG))) {
		q->stats.rx_dropped++;
		return -EMSGSIZE;
	}
	avail = rx_pending(q);
	if (avail >= 0 && (unsigned)avail < need) {
		/* Ask for an event once enough buffers are posted, then look
		 * once more (the guest may have posted meanwhile). */
		__atomic_store_n(&q->rx->req_event, q->rx_req_cons + need,
				 __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = rx_pending(q);
		if (avail >= 0 && (unsigned)avail < need)
			return -EAGAIN;
	}
	if (avail < 0)
		return -EPIPE;
	for (unsigned s = 0; s < need; s++) {
		struct netif_rx_request req;
		struct netif_rx_response *rsp;
		unsigned chunk = (unsigned)(len - done);

		if (chunk > NETIF_PAGE_SIZE)
			chunk = NETIF_PAGE_SIZE;
		memcpy(&req,
		       (const void *)&q->rx->ring[q->rx_req_cons % NETIF_RX_RING_SIZE].req,
		       sizeof(req));
		q->rx_req_cons++;
		if (!failed && q->copy(q->copy_opaque, req.gref, 0,
				       (void *)(frame + done), chunk, true))
			failed = true;
		rsp = &q->rx->ring[q->rx_rsp_prod % NETIF_RX_RING_SIZE].rsp;
		rsp->id = req.id;
		rsp->offset = 0;
		rsp->flags = s + 1 < need ? NETRXF_more_data : 0;
		rsp->status = failed ? NETIF_RSP_ERROR : (int16_t)chunk;
		q->rx_rsp_prod++;
		done += chunk;
	}
	push_responses(&q->rx->rsp_prod, &q->rx->rsp_event, q->rx_rsp_prod,
		       notify);
	if (failed) {
		q->stats.rx_errors++;
		return 0;
	}
	q->stats.rx_packets++;
	q->stats.rx_bytes += len;
	return 0;
}
