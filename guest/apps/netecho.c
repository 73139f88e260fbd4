/*
 * netecho: a network application on the kit's netfront.  Brings vif0 up
 * with DHCP (or a static address from the command line), answers ARP and
 * ICMP echo, and serves echo on UDP port 7 and TCP port 7 (a tiny TCP:
 * a few connections, in-order data, no retransmission of its own).  A
 * datagram or a TCP line "quit" ends it with status 0 after "bye".
 *
 *   netecho [ip=A.B.C.D] [port=N] [timeout=SEC] [stall=SEC] [control=1]
 *
 * stall=SEC: after "ready", read nothing for SEC seconds (a guest that stops
 * reading: pvisor must stay bounded), then serve.
 *
 * Prints "netecho: ip A.B.C.D" and "netecho: ready" when it serves.
 */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/kit.h>
#include <kit/netfront.h>
#include <kit/string.h>
#include <kit/time.h>

#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define IP_ICMP 1
#define IP_TCP 6
#define IP_UDP 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define MAX_CONNS 8

static inline uint16_t htons(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t htonl(uint32_t v) { return __builtin_bswap32(v); }
#define ntohs htons
#define ntohl htonl

struct eth_hdr {
	uint8_t dst[6], src[6];
	uint16_t type;
} __attribute__((packed));

struct arp_pkt {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
} __attribute__((packed));

struct ip_hdr {
	uint8_t vihl, tos;
	uint16_t len, id, frag;
	uint8_t ttl, proto;
	uint16_t csum;
	uint32_t src, dst;
} __attribute__((packed));

struct udp_hdr {
	uint16_t sport, dport, len, csum;
} __attribute__((packed));

struct tcp_hdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off, flags;
	uint16_t win, csum, urg;
} __attribute__((packed));

struct icmp_hdr {
	uint8_t type, code;
	uint16_t csum;
} __attribute__((packed));

struct dhcp_pkt {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	uint8_t sname[64], file[128];
	uint32_t cookie;
	uint8_t options[312];
} __attribute__((packed));

struct tcp_conn {
	bool used;
	uint32_t rip;
	uint16_t rport, lport;
	uint32_t snd_nxt, rcv_nxt;
	bool fin_sent;
	uint8_t rmac[6];
};

static struct netfront *nf;
static uint8_t my_mac[6];
static uint32_t my_ip;     /* network order; 0 = none yet */
static uint16_t echo_port = 7;
static uint16_t ip_id;
static bool quit;
static struct tcp_conn conns[MAX_CONNS];
static uint8_t txbuf[NETFRONT_MTU_FRAME];
static unsigned long udp_echoes, tcp_echoes, icmp_echoes, arp_replies;

/* DHCP client state */
static uint32_t dhcp_xid, dhcp_offer, dhcp_server;
static int dhcp_state; /* 0 idle, 1 offer seen, 2 ack seen */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

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
	return htons((uint16_t)~sum);
}

static uint16_t l4_csum(uint32_t src, uint32_t dst, uint8_t proto,
			const void *l4, size_t len)
{
	uint32_t sum = 0;

	sum = csum_add(sum, &src, 4);
	sum = csum_add(sum, &dst, 4);
	sum += proto;
	sum += (uint32_t)len;
	return csum_fold(csum_add(sum, l4, len));
}

static void ip_str(uint32_t ip, char *buf, size_t len)
{
	const uint8_t *b = (const uint8_t *)&ip;

	snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

static int parse_ip(const char *s, uint32_t *ip)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++) {
		const char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 0 || v > 255 || (i < 3 && *end != '.'))
			return -1;
		b[i] = (uint8_t)v;
		s = end + 1;
	}
	memcpy(ip, b, 4);
	return 0;
}

static void send_frame(size_t len)
{
	for (int tries = 0; tries < 100; tries++) {
		if (netfront_xmit(nf, txbuf, len) != -XEN_EAGAIN)
			return;
		netfront_wait(nf, monotonic_ns() + 1000000);
	}
}

/* Builds Ethernet + IP headers in txbuf; returns the L4 pointer. */
static uint8_t *ip_start(const uint8_t *dmac, uint32_t src, uint32_t dst,
			 uint8_t proto)
{
	struct eth_hdr *e = (struct eth_hdr *)txbuf;
	struct ip_hdr *ip = (struct ip_hdr *)(e + 1);

	memcpy(e->dst, dmac, 6);
	memcpy(e->src, my_mac, 6);
	e->type = htons(ETH_IP);
	memset(ip, 0, sizeof(*ip));
	ip->vihl = 0x45;
	ip->ttl = 64;
	ip->proto = proto;
	ip->src = src;
	ip->dst = dst;
	ip->id = htons(ip_id++);
	return (uint8_t *)(ip + 1);
}

static void ip_send(size_t l4len)
{
	struct ip_hdr *ip = (struct ip_hdr *)(txbuf + sizeof(struct eth_hdr));

	ip->len = htons((uint16_t)(sizeof(*ip) + l4len));
	ip->csum = 0;
	ip->csum = csum_fold(csum_add(0, ip, sizeof(*ip)));
	send_frame(sizeof(struct eth_hdr) + sizeof(*ip) + l4len);
}

static void udp_send(const uint8_t *dmac, uint32_t src, uint32_t dst,
		     uint16_t sport, uint16_t dport, const void *data,
		     size_t len)
{
	struct udp_hdr *u = (struct udp_hdr *)ip_start(dmac, src, dst, IP_UDP);
	size_t max = sizeof(txbuf) - sizeof(struct eth_hdr) -
		     sizeof(struct ip_hdr) - sizeof(*u);

	if (len > max)
		len = max;
	u->sport = htons(sport);
	u->dport = htons(dport);
	u->len = htons((uint16_t)(sizeof(*u) + len));
	u->csum = 0;
	memcpy(u + 1, data, len);
	u->csum = l4_csum(src, dst, IP_UDP, u, sizeof(*u) + len);
	if (u->csum == 0)
		u->csum = 0xffff;
	ip_send(sizeof(*u) + len);
}

static void tcp_send(struct tcp_conn *c, uint8_t flags, const void *data,
		     size_t len)
{
	struct tcp_hdr *t = (struct tcp_hdr *)ip_start(c->rmac, my_ip, c->rip,
						       IP_TCP);

	memset(t, 0, sizeof(*t));
	t->sport = htons(c->lport);
	t->dport = htons(c->rport);
	t->seq = htonl(c->snd_nxt);
	t->ack = htonl(c->rcv_nxt);
	t->off = (sizeof(*t) / 4) << 4;
	t->flags = flags;
	t->win = htons(8192);
	memcpy(t + 1, data, len);
	t->csum = l4_csum(my_ip, c->rip, IP_TCP, t, sizeof(*t) + len);
	ip_send(sizeof(*t) + len);
}

static bool is_quit(const uint8_t *p, size_t len)
{
	return len >= 4 && !memcmp(p, "quit", 4);
}

static void handle_arp(const struct eth_hdr *e, const uint8_t *p, size_t len)
{
	struct arp_pkt a, *r;
	struct eth_hdr *re = (struct eth_hdr *)txbuf;

	if (len < sizeof(a) || !my_ip)
		return;
	memcpy(&a, p, sizeof(a));
	if (ntohs(a.op) != 1 || a.tpa != my_ip || ntohs(a.ptype) != ETH_IP)
		return;
	memcpy(re->dst, a.sha, 6);
	memcpy(re->src, my_mac, 6);
	re->type = htons(ETH_ARP);
	r = (struct arp_pkt *)(re + 1);
	*r = a;
	r->op = htons(2);
	memcpy(r->sha, my_mac, 6);
	r->spa = my_ip;
	memcpy(r->tha, a.sha, 6);
	r->tpa = a.spa;
	arp_replies++;
	send_frame(sizeof(*re) + sizeof(*r));
}

static void handle_icmp(const struct eth_hdr *e, const struct ip_hdr *ip,
			const uint8_t *p, size_t len)
{
	struct icmp_hdr *ic;
	uint8_t *out;

	if (len < sizeof(*ic) || p[0] != 8 || len > 1400)
		return;
	out = ip_start(e->src, my_ip, ip->src, IP_ICMP);
	memcpy(out, p, len);
	ic = (struct icmp_hdr *)out;
	ic->type = 0;
	ic->csum = 0;
	ic->csum = csum_fold(csum_add(0, out, len));
	icmp_echoes++;
	ip_send(len);
}

static void handle_dhcp(const uint8_t *p, size_t len)
{
	const struct dhcp_pkt *d = (const void *)p;
	size_t optlen;
	int type = 0;
	uint32_t server = 0;

	if (len < sizeof(*d) - sizeof(d->options) || d->op != 2 ||
	    d->xid != dhcp_xid || d->cookie != htonl(0x63825363))
		return;
	optlen = len - (sizeof(*d) - sizeof(d->options));
	for (size_t i = 0; i < optlen;) {
		uint8_t code = d->options[i], l;

		if (code == 255)
			break;
		if (code == 0) {
			i++;
			continue;
		}
		if (i + 2 > optlen || i + 2 + (l = d->options[i + 1]) > optlen)
			break;
		if (code == 53 && l == 1)
			type = d->options[i + 2];
		if (code == 54 && l == 4)
			memcpy(&server, &d->options[i + 2], 4);
		i += 2u + l;
	}
	if (type == 2 && dhcp_state == 0) {
		dhcp_offer = d->yiaddr;
		dhcp_server = server;
		dhcp_state = 1;
	} else if (type == 5 && dhcp_state == 1 && d->yiaddr == dhcp_offer) {
		dhcp_state = 2;
	}
}

static struct tcp_conn *tcp_find(uint32_t rip, uint16_t rport, uint16_t lport)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].used && conns[i].rip == rip &&
		    conns[i].rport == rport && conns[i].lport == lport)
			return &conns[i];
	return NULL;
}

static void handle_tcp(const struct eth_hdr *e, const struct ip_hdr *ip,
		       const uint8_t *p, size_t len)
{
	const struct tcp_hdr *t = (const void *)p;
	struct tcp_conn *c, tmp;
	size_t hlen, dlen;
	uint32_t seq;

	if (len < sizeof(*t))
		return;
	hlen = (size_t)(t->off >> 4) * 4;
	if (hlen < sizeof(*t) || hlen > len)
		return;
	if (l4_csum(ip->src, ip->dst, IP_TCP, p, len) != 0)
		return; /* bad checksum */
	dlen = len - hlen;
	seq = ntohl(t->seq);
	c = tcp_find(ip->src, ntohs(t->sport), ntohs(t->dport));
	if (t->flags & TCP_RST) {
		if (c)
			c->used = false;
		return;
	}
	if (!c) {
		if (!(t->flags & TCP_SYN) || ntohs(t->dport) != echo_port) {
			/* Nobody here: RST, as a closed port answers. */
			tmp = (struct tcp_conn){ .rip = ip->src, .rport = ntohs(t->sport),
						 .lport = ntohs(t->dport),
						 .snd_nxt = (t->flags & TCP_ACK) ? ntohl(t->ack) : 0,
						 .rcv_nxt = seq + (uint32_t)dlen +
							    ((t->flags & (TCP_SYN | TCP_FIN)) ? 1 : 0) };
			memcpy(tmp.rmac, e->src, 6);
			tcp_send(&tmp, TCP_RST | TCP_ACK, NULL, 0);
			return;
		}
		for (int i = 0; i < MAX_CONNS && !c; i++)
			if (!conns[i].used)
				c = &conns[i];
		if (!c)
			return; /* full: the peer retries */
		*c = (struct tcp_conn){ .used = true, .rip = ip->src,
					.rport = ntohs(t->sport), .lport = ntohs(t->dport),
					.snd_nxt = (uint32_t)monotonic_ns(),
					.rcv_nxt = seq + 1 };
		memcpy(c->rmac, e->src, 6);
		tcp_send(c, TCP_SYN | TCP_ACK, NULL, 0);
		c->snd_nxt++;
		return;
	}
	if (t->flags & TCP_SYN) {
		c->snd_nxt--; /* our SYN|ACK was lost: send it again */
		tcp_send(c, TCP_SYN | TCP_ACK, NULL, 0);
		c->snd_nxt++;
		return;
	}
	if (seq != c->rcv_nxt) {
		tcp_send(c, TCP_ACK, NULL, 0); /* out of order: re-ACK */
		return;
	}
	if (dlen) {
		const uint8_t *data = p + hlen;

		c->rcv_nxt += (uint32_t)dlen;
		if (dlen > 1200)
			dlen = 1200;
		if (is_quit(data, dlen)) {
			tcp_send(c, TCP_ACK | TCP_PSH, "bye\n", 4);
			c->snd_nxt += 4;
			quit = true;
		} else {
			tcp_send(c, TCP_ACK | TCP_PSH, data, dlen);
			c->snd_nxt += (uint32_t)dlen;
			tcp_echoes++;
		}
	}
	if (t->flags & TCP_FIN) {
		c->rcv_nxt++;
		if (!c->fin_sent) {
			tcp_send(c, TCP_FIN | TCP_ACK, NULL, 0);
			c->snd_nxt++;
			c->fin_sent = true;
		} else {
			tcp_send(c, TCP_ACK, NULL, 0);
		}
		return;
	}
	if (c->fin_sent && (t->flags & TCP_ACK) && ntohl(t->ack) == c->snd_nxt)
		c->used = false; /* our FIN is acknowledged */
}

static void handle_frame(const uint8_t *f, size_t len)
{
	const struct eth_hdr *e = (const void *)f;
	struct ip_hdr ip;
	const uint8_t *p;
	size_t hlen, tot;

	if (len < sizeof(*e))
		return;
	if (ntohs(e->type) == ETH_ARP) {
		handle_arp(e, f + sizeof(*e), len - sizeof(*e));
		return;
	}
	if (ntohs(e->type) != ETH_IP || len < sizeof(*e) + sizeof(ip))
		return;
	memcpy(&ip, f + sizeof(*e), sizeof(ip));
	hlen = (size_t)(ip.vihl & 0xf) * 4;
	tot = ntohs(ip.len);
	if ((ip.vihl >> 4) != 4 || hlen < sizeof(ip) || tot < hlen ||
	    sizeof(*e) + tot > len || (ntohs(ip.frag) & 0x3fff))
		return;
	if (csum_fold(csum_add(0, f + sizeof(*e), hlen)) != 0)
		return;
	p = f + sizeof(*e) + hlen;
	tot -= hlen;
	if (ip.proto == IP_UDP && tot >= sizeof(struct udp_hdr)) {
		const struct udp_hdr *u = (const void *)p;
		size_t ulen = ntohs(u->len);

		if (ulen < sizeof(*u) || ulen > tot)
			return;
		if (ntohs(u->dport) == 68) {
			handle_dhcp(p + sizeof(*u), ulen - sizeof(*u));
			return;
		}
		if (!my_ip || ip.dst != my_ip || ntohs(u->dport) != echo_port)
			return;
		if (is_quit(p + sizeof(*u), ulen - sizeof(*u))) {
			udp_send(e->src, my_ip, ip.src, echo_port, ntohs(u->sport),
				 "bye\n", 4);
			quit = true;
			return;
		}
		udp_echoes++;
		udp_send(e->src, my_ip, ip.src, echo_port, ntohs(u->sport),
			 p + sizeof(*u), ulen - sizeof(*u));
		return;
	}
	if (!my_ip || ip.dst != my_ip)
		return;
	if (ip.proto == IP_ICMP)
		handle_icmp(e, &ip, p, tot);
	else if (ip.proto == IP_TCP)
		handle_tcp(e, &ip, p, tot);
}

/* Receives and handles frames until deadline or cond (if not NULL) holds. */
static void serve_until(uint64_t deadline, bool (*cond)(void))
{
	static uint8_t buf[2048];

	while (!quit && (!cond || !cond()) &&
	       (!deadline || monotonic_ns() < deadline)) {
		long n = netfront_recv(nf, buf, sizeof(buf));

		if (n > 0)
			handle_frame(buf, (size_t)n);
		else if (n == 0)
			netfront_wait(nf, deadline ? deadline
						   : monotonic_ns() + 1000000000ull);
	}
}

static void dhcp_send(int type)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct dhcp_pkt d;
	size_t o = 0;

	memset(&d, 0, sizeof(d));
	d.op = 1;
	d.htype = 1;
	d.hlen = 6;
	d.xid = dhcp_xid;
	d.flags = htons(0x8000);
	memcpy(d.chaddr, my_mac, 6);
	d.cookie = htonl(0x63825363);
	d.options[o++] = 53;
	d.options[o++] = 1;
	d.options[o++] = (uint8_t)type;
	if (type == 3) {
		d.options[o++] = 50;
		d.options[o++] = 4;
		memcpy(&d.options[o], &dhcp_offer, 4);
		o += 4;
		d.options[o++] = 54;
		d.options[o++] = 4;
		memcpy(&d.options[o], &dhcp_server, 4);
		o += 4;
	}
	d.options[o++] = 55;
	d.options[o++] = 2;
	d.options[o++] = 1;
	d.options[o++] = 3;
	d.options[o++] = 255;
	udp_send(bcast, 0, 0xffffffffu, 68, 67, &d,
		 sizeof(d) - sizeof(d.options) + o);
}

static bool dhcp_offered(void) { return dhcp_state >= 1; }
static bool dhcp_acked(void) { return dhcp_state >= 2; }

static int dhcp(void)
{
	dhcp_xid = htonl((uint32_t)monotonic_ns() ^ 0x5a5a1234u);
	for (int tries = 0; tries < 5; tries++) {
		dhcp_state = 0;
		dhcp_send(1);
		serve_until(monotonic_ns() + 2000000000ull, dhcp_offered);
		if (dhcp_state < 1)
			continue;
		dhcp_send(3);
		serve_until(monotonic_ns() + 2000000000ull, dhcp_acked);
		if (dhcp_state == 2) {
			my_ip = dhcp_offer;
			return 0;
		}
	}
	return -1;
}

int app_main(const char *cmdline)
{
	struct netfront_stats st;
	uint64_t deadline = 0, stall_s = 0;
	char ipbuf[16];
	const char *s = cmdline;

	while (s && *s) {
		const char *end = strchr(s, ' ');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char word[64];

		if (len >= sizeof(word))
			len = sizeof(word) - 1;
		memcpy(word, s, len);
		word[len] = '\0';
		if (!strncmp(word, "ip=", 3)) {
			if (parse_ip(word + 3, &my_ip)) {
				printf("netecho: bad address '%s'\n", word + 3);
				return 2;
			}
		} else if (!strncmp(word, "port=", 5)) {
			echo_port = (uint16_t)strtol(word + 5, NULL, 10);
		} else if (!strncmp(word, "stall=", 6)) {
			stall_s = (uint64_t)strtol(word + 6, NULL, 10);
		} else if (!strcmp(word, "control=1")) {
			/* the toolstack's requests (suspend: save and restore) */
			if (kit_control_start() < 0) {
				printf("netecho: no control thread\n");
				return 1;
			}
		} else if (!strncmp(word, "timeout=", 8)) {
			deadline = monotonic_ns() +
				   (uint64_t)strtol(word + 8, NULL, 10) * 1000000000ull;
		} else if (len) {
			printf("netecho: unknown argument '%s'\n", word);
			return 2;
		}
		s = end ? end + 1 : NULL;
	}
	nf = netfront_init(0, my_mac);
	if (!nf) {
		printf("netecho: no network device\n");
		return 1;
	}
	printf("netecho: vif0 mac %02x:%02x:%02x:%02x:%02x:%02x\n", my_mac[0],
	       my_mac[1], my_mac[2], my_mac[3], my_mac[4], my_mac[5]);
	if (!my_ip && dhcp()) {
		printf("netecho: DHCP failed\n");
		return 1;
	}
	ip_str(my_ip, ipbuf, sizeof(ipbuf));
	printf("netecho: ip %s\n", ipbuf);
	printf("netecho: ready (udp and tcp port %u)\n", echo_port);
	if (stall_s) {
		sleep_ms(stall_s * 1000);
		printf("netecho: reading again\n");
	}
	serve_until(deadline, NULL);
	netfront_get_stats(nf, &st);
	printf("netecho: %s: udp %lu tcp %lu icmp %lu arp %lu echoes; tx %lu (%lu errors) rx %lu (%lu errors)\n",
	       quit ? "quit" : "timeout", udp_echoes, tcp_echoes, icmp_echoes,
	       arp_replies, st.tx_packets, st.tx_errors, st.rx_packets,
	       st.rx_errors);
	/* Let the last replies go out before the device closes. */
	sleep_ms(50);
	netfront_shutdown(nf);
	return quit ? 0 : 3;
}
