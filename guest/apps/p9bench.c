/*
 * p9bench: sequential write (then fsync) and read of one file through a
 * 9pfs share (device 0), in msize-sized requests, `depth` of them in
 * flight (as Linux's 9pnet_xen keeps several; depth=1 waits for each
 * answer).  Prints
 *   p9bench write MB/s=W read MB/s=R mb=N msize=M depth=D
 * and exits 0, or 1 on any error.  bench/p9_share.sh runs it beside the
 * host's own dd on the same directory (docs/benchmarks.md).
 *
 * Every byte read back is checked (the file is all 0xa5): a mismatch
 * prints "p9bench: read: data differs" and exits 1.  control=1 takes the
 * toolstack's requests (suspend: saved mid-run, the restored guest
 * reconnects p9front, opens the session and its fids again, goes on).
 *
 * keep=1 leaves p9bench.dat in the share (the host checks it).
 *
 *   p9bench [mb=64] [msize=524288] [order=9] [depth=2] [control=1] [keep=1]
 */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/p9client.h>
#include <kit/p9front.h>
#include <kit/string.h>
#include <kit/time.h>

static long num_arg(const char *cmdline, const char *key, long dflt)
{
	size_t klen = strlen(key);
	const char *end;

	for (const char *p = cmdline; p && *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return strtol(p + klen + 1, &end, 10);
		p = strchr(p, ' ');
	}
	return dflt;
}

static unsigned long mbps(uint64_t bytes, uint64_t ns)
{
	return ns ? (unsigned long)(bytes * 1000 / ns) : 0; /* bytes/us = MB/s */
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Twrite (data already at msg + 23) or Tread of chunk bytes at off, fid 1. */
static uint32_t io_msg(uint8_t *msg, uint8_t type, uint16_t tag, uint64_t off,
		       uint32_t chunk)
{
	uint32_t len = type == P9_TWRITE ? P9_IOHDR_SIZE - 1 + chunk : 23;

	put32(msg, len);
	msg[4] = type;
	memcpy(msg + 5, &tag, 2);
	put32(msg + 7, 1);
	put64(msg + 11, off);
	put32(msg + 19, chunk);
	return len;
}

/* An Rread's data (size[4] type[1] tag[2] count[4] data) is all 0xa5. */
static bool all_a5(const uint8_t *rx, long n)
{
	uint32_t count;

	memcpy(&count, rx + 7, 4);
	if (count + 11 > (uint64_t)n)
		return false;
	for (uint32_t i = 0; i < count; i++)
		if (rx[11 + i] != 0xa5)
			return false;
	return true;
}

/* total bytes of fid 1 read or written with depth requests in flight;
 * rx receives each answer (the read data lands there: one copy from the
 * ring, where p9c_read makes two). */
static int stream(struct p9front *fe, uint8_t type, uint8_t *tx, uint8_t *rx,
		  uint32_t cap, uint64_t total, uint32_t chunk, unsigned depth)
{
	uint64_t sent = 0;
	unsigned inflight = 0;
	uint16_t tag = 0;

	while (sent < total || inflight) {
		long n;

		while (inflight < depth && sent < total) {
			uint32_t len = total - sent < chunk ? (uint32_t)(total - sent) : chunk;

			if (p9front_send(fe, tx, io_msg(tx, type, tag++, sent, len))) {
				printf("p9bench: cannot send\n");
				return -1;
			}
			sent += len;
			inflight++;
		}
		n = p9front_recv(fe, rx, cap);
		if (n < 11 || rx[4] != type + 1 || rx[7] + (rx[8] << 8) + (rx[9] << 16) == 0) {
			printf("p9bench: %s: answer %ld type %u\n",
			       type == P9_TREAD ? "read" : "write", n, n > 4 ? rx[4] : 0);
			return -1;
		}
		inflight--;
		if (type == P9_TREAD && !all_a5(rx, n)) {
			printf("p9bench: read: data differs\n");
			return -1;
		}
	}
	return 0;
}

int app_main(const char *cmdline)
{
	long mb = num_arg(cmdline, "mb", 64), msize = num_arg(cmdline, "msize", 512 << 10);
	unsigned depth = (unsigned)num_arg(cmdline, "depth", 2);
	struct p9front *fe;
	static struct p9c c;
	uint64_t total = (uint64_t)mb << 20, t0, tw, tr;
	uint8_t *tx, *rx;
	uint32_t chunk;

	if (num_arg(cmdline, "control", 0) && kit_control_start() < 0) {
		printf("p9bench: no control thread\n");
		return 1;
	}
	fe = p9front_init(0, (unsigned)num_arg(cmdline, "order", 9));
	if (!fe || p9c_init(&c, fe, (uint32_t)msize) || p9c_attach(&c, 0) ||
	    p9c_walk(&c, 0, 1, "") ||
	    p9c_lcreate(&c, 1, "p9bench.dat", P9_O_RDWR | P9_O_TRUNC, 0644)) {
		printf("p9bench: cannot set up the share\n");
		return 1;
	}
	if (depth < 1)
		depth = 1;
	chunk = c.msize - P9_IOHDR_SIZE;
	tx = alloc_pages(PFN_UP(c.msize));
	rx = alloc_pages(PFN_UP(c.msize));
	if (!tx || !rx)
		return 1;
	memset(tx + P9_IOHDR_SIZE - 1, 0xa5, chunk);
	t0 = monotonic_ns();
	if (stream(fe, P9_TWRITE, tx, rx, c.msize, total, chunk, depth) ||
	    p9c_fsync(&c, 1))
		return 1;
	tw = monotonic_ns() - t0;
	t0 = monotonic_ns();
	if (stream(fe, P9_TREAD, tx, rx, c.msize, total, chunk, depth))
		return 1;
	tr = monotonic_ns() - t0;
	p9c_clunk(&c, 1);
	if (!num_arg(cmdline, "keep", 0))
		p9c_unlinkat(&c, 0, "p9bench.dat", 0);
	printf("p9bench write MB/s=%lu read MB/s=%lu mb=%ld msize=%u depth=%u\n",
	       mbps(total, tw), mbps(total, tr), mb, c.msize, depth);
	return 0;
}
