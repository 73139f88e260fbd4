/*
 * p9bench: sequential write (then fsync) and read of one file through a
 * 9pfs share (device 0), in msize-sized requests, one at a time.  Prints
 *   p9bench write MB/s=W read MB/s=R mb=N msize=M
 * and exits 0, or 1 on any error.  bench/p9_share.sh runs it beside the
 * host's own dd on the same directory (docs/benchmarks.md).
 *
 *   p9bench [mb=64] [msize=524288] [order=9]
 */
#include <kit/console.h>
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

int app_main(const char *cmdline)
{
	long mb = num_arg(cmdline, "mb", 64), msize = num_arg(cmdline, "msize", 512 << 10);
	struct p9front *fe = p9front_init(0, (unsigned)num_arg(cmdline, "order", 9));
	static struct p9c c;
	uint64_t total = (uint64_t)mb << 20, done, t0, tw, tr;
	uint8_t *buf;
	uint32_t chunk;

	if (!fe || p9c_init(&c, fe, (uint32_t)msize) || p9c_attach(&c, 0) ||
	    p9c_walk(&c, 0, 1, "") ||
	    p9c_lcreate(&c, 1, "p9bench.dat", P9_O_RDWR | P9_O_TRUNC, 0644)) {
		printf("p9bench: cannot set up the share\n");
		return 1;
	}
	chunk = c.msize - P9_IOHDR_SIZE;
	buf = alloc_pages(PFN_UP(chunk));
	if (!buf)
		return 1;
	memset(buf, 0xa5, chunk);
	t0 = monotonic_ns();
	for (done = 0; done < total;) {
		long n = p9c_write(&c, 1, done, buf, chunk);

		if (n <= 0) {
			printf("p9bench: write: %ld\n", n);
			return 1;
		}
		done += (uint64_t)n;
	}
	if (p9c_fsync(&c, 1))
		return 1;
	tw = monotonic_ns() - t0;
	t0 = monotonic_ns();
	for (done = 0; done < total;) {
		long n = p9c_read(&c, 1, done, buf, chunk);

		if (n <= 0) {
			printf("p9bench: read: %ld\n", n);
			return 1;
		}
		done += (uint64_t)n;
	}
	tr = monotonic_ns() - t0;
	p9c_clunk(&c, 1);
	p9c_unlinkat(&c, 0, "p9bench.dat", 0);
	printf("p9bench write MB/s=%lu read MB/s=%lu mb=%ld msize=%u\n", mbps(done, tw),
	       mbps(done, tr), mb, c.msize);
	return 0;
}
