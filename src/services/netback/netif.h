/*
 * The netif ring protocol (Xen's public/io/netif.h), backend side, as pure
 * functions over the two shared rings: parsing of transmit requests
 * (netif_tx_parse), the transmit loop (guest -> host) and the receive path
 * (host -> guest).  Guest data is reached only through a copy callback
 * (netback binds it to the grant table: GNTTABOP_copy semantics), so that
 * this file has no VM and can be unit-tested and fuzzed on its own.
 *
 * Every ring index and request is read from shared memory once, into a
 * local copy that is then validated; a guest vCPU may change the ring at
 * any moment.
 */
#ifndef PVISOR_NETIF_H
#define PVISOR_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pvisor/xen.h>
#include <xen/io/netif.h>

#define NETIF_PAGE_SIZE 4096u
#define NETIF_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, NETIF_PAGE_SIZE)
#define NETIF_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, NETIF_PAGE_SIZE)
/* Data slots in one packet: more is dropped with errors (Xen's
 * max_skb_slots default); a chain of NETIF_TX_FATAL_SLOTS or one that runs
 * past the published requests is a broken frontend. */
#define NETIF_TX_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN
#define NETIF_TX_FATAL_SLOTS 64
#define NETIF_ETH_HLEN 14
#define NETIF_MAX_PKT XEN_NETIF_MAX_TX_SIZE

/* A tx ring slot holds a request or, after NETTXF_extra_info, extra info. */
union netif_tx_slot {
	struct netif_tx_request req;
	struct netif_extra_info extra;
};

/* Features the backend advertised and the frontend negotiated. */
#define NETIF_F_GSO_TCPV4 (1u << 0)
#define NETIF_F_GSO_TCPV6 (1u << 1)
#define NETIF_F_RX_SG     (1u << 2) /* frontend takes multi-slot rx */

enum netif_tx_verdict {
	NETIF_TX_OK,
	NETIF_TX_DROP,  /* answer every slot with NETIF_RSP_ERROR, go on */
	NETIF_TX_FATAL, /* broken frontend: stop serving the rings */
};

struct netif_tx_frag {
	grant_ref_t gref;
	uint16_t offset, size;
};

struct netif_tx_pkt {
	enum netif_tx_verdict verdict;
	const char *why;        /* the guest's mistake, for the log */
	unsigned nr_slots;      /* ring slots consumed = responses owed */
	struct {
		uint16_t id;
		bool extra;     /* extra-info slot: answered NETIF_RSP_NULL */
	} slot[NETIF_TX_FATAL_SLOTS];
	unsigned nr_frags;
	struct netif_tx_frag frag[NETIF_TX_MAX_SLOTS];
	uint16_t len;           /* whole packet */
	uint16_t flags;         /* NETTXF_* of the first request */
	uint8_t gso_type;       /* XEN_NETIF_GSO_TYPE_*, NONE if no GSO */
	uint16_t gso_size;
};

/*
 * Parses the packet starting at slots[0]; slots[0..avail) is the caller's
 * private copy of the published requests.  Always fills pkt: verdict OK
 * with the fragments, or DROP/FATAL with the reason; nr_slots says how many
 * slots to consume (and answer) — for FATAL the caller stops instead.
 * features: NETIF_F_* negotiated.  Pure.
 */
void netif_tx_parse(const union netif_tx_slot *slots, unsigned avail,
		    unsigned features, struct netif_tx_pkt *pkt);

/*
 * Completes the TCP/UDP checksum of an Ethernet frame carrying IPv4 or
 * IPv6 (no extension headers) whose checksum was left blank
 * (NETTXF_csum_blank).  0, or -EINVAL if the frame is not such a packet
 * (it is left unchanged).  Pure.
 */
int netif_csum_fill(uint8_t *frame, size_t len);

typedef void (*netif_deliver_fn)(void *opaque, const uint8_t *frame,
				 size_t len);

/* Largest segment netif_gso_segment builds, and most segments per packet. */
#define NETIF_GSO_SEG_MAX 9216
#define NETIF_GSO_MAX_SEGS 1024

/*
 * Software TCP segmentation (GSO) of an Ethernet/IPv4/TCP frame from a
 * frontend that used XEN_NETIF_GSO_TYPE_TCPV4: cuts the payload into mss
 * bytes per segment with IP length/id/checksum, TCP sequence, flags (FIN
 * and PSH on the last only, CWR on the first only) and checksum fixed, and
 * hands each to deliver().  seg is scratch of NETIF_GSO_SEG_MAX bytes.
 * Returns the segment count, or -EINVAL (nothing delivered) for a frame
 * that is not such a packet or an mss that does not fit the bounds.  Pure.
 */
int netif_gso_segment(const uint8_t *frame, size_t len, unsigned mss,
		      uint8_t *seg, netif_deliver_fn deliver, void *opaque);

/* Copies len bytes between buf and the guest page granted as gref, at
 * offset off (to_guest: buf -> page).  0 or -errno for a bad grant. */
typedef int (*netif_copy_fn)(void *opaque, grant_ref_t gref, unsigned off,
			     void *buf, unsigned len, bool to_guest);

struct netif_stats {
	uint64_t tx_packets, tx_bytes, tx_errors;
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
	uint64_t fatal;
};

/* One queue: a tx and an rx ring (pointers into guest memory). */
struct netif_queue {
	struct netif_tx_sring *tx;
	struct netif_rx_sring *rx;
	RING_IDX tx_req_cons, tx_rsp_prod;
	RING_IDX rx_req_cons, rx_rsp_prod;
	unsigned features;          /* NETIF_F_* */
	netif_copy_fn copy;
	void *copy_opaque;
	bool broken;                /* a fatal protocol error was seen */
	const char *broken_why;
	struct netif_stats stats;
	uint8_t pkt[NETIF_MAX_PKT + 1]; /* tx assembly buffer */
	uint8_t seg[NETIF_GSO_SEG_MAX];  /* GSO segment buffer */
};

/* Sets up q on two ring pages the frontend initialised (SHARED_RING_INIT):
 * our indexes start from the shared ones as Xen's BACK_RING_ATTACH. */
void netif_queue_init(struct netif_queue *q, struct netif_tx_sring *tx,
		      struct netif_rx_sring *rx, unsigned features,
		      netif_copy_fn copy, void *copy_opaque);

/*
 * Serves up to budget transmitted packets: good ones are handed to
 * deliver(), every slot is answered.  Returns true if requests are left
 * (call again); *notify is set if the guest must be notified (tx event).
 */
bool netif_tx_process(struct netif_queue *q, unsigned budget,
		      netif_deliver_fn deliver, void *opaque, bool *notify);

/*
 * Puts one frame into the guest's posted rx buffers.  0, -EAGAIN (no
 * buffers posted now: the rx event is armed so that the guest notifies
 * when it posts some), -EMSGSIZE (does not fit what the frontend takes:
 * dropped), -EPIPE (the rings are broken).  *notify as above.
 */
int netif_rx_put(struct netif_queue *q, const uint8_t *frame, size_t len,
		 bool *notify);

/* True if the frontend has posted rx buffers for at least one frame. */
bool netif_rx_ready(struct netif_queue *q);

#endif
