/*
 * Durability across a kill: writes the first 4 MiB of xvda with 0xA5 as
 * 64 KiB requests, 8 in flight, then — without waiting for them — a
 * FLUSH_DISKCACHE carrying 32 KiB of 0x5A right after them.  When every
 * response is OKAY it prints "DURABLE flushed" and spins: the host kills
 * pvisor with SIGKILL at that line and checks the image
 * (tests/e2e/t_block_threads.sh).  Any error: "DURABLE FAIL ..." and exit 1.
 */
#include <kit/blkfront.h>
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/time.h>

#define QD 8
#define BS (64u * 1024)
#define REGION (4u << 20)
#define TAIL (32u * 1024) /* the flush's own data: <= 11 segments */

static struct blkfront *dev;

/* Polls until `done` (a request's completion) or 10 s passed. */
static bool wait_for(const bool *done)
{
	uint64_t deadline = monotonic_ns() + 10000000000ull;

	while (!*done) {
		if (monotonic_ns() > deadline)
			return false;
		if (!blkfront_poll(dev))
			blkfront_wait(dev, monotonic_ns() + 100000000ull);
	}
	return true;
}

/* Submits, polling while the ring is full; false on a refusal or timeout. */
static bool submit(struct blkfront_aio *a)
{
	uint64_t deadline = monotonic_ns() + 10000000000ull;
	int rc;

	while ((rc = blkfront_aio_submit(dev, a)) == -XEN_EAGAIN) {
		if (monotonic_ns() > deadline)
			return false;
		if (!blkfront_poll(dev))
			blkfront_wait(dev, monotonic_ns() + 100000000ull);
	}
	return rc == 0;
}

int app_main(const char *cmdline)
{
	static struct blkfront_aio aio[QD], flush;
	struct blkfront_info info;
	uint8_t *buf, *tail;
	unsigned bad = 0;

	dev = blkfront_init(blkfront_vdev("xvda"), 2, &info);
	if (!dev) {
		printf("DURABLE FAIL no device\n");
		return 1;
	}
	if (!info.flush || info.sectors * 512 < REGION + TAIL) {
		printf("DURABLE FAIL no flush or disk too small\n");
		return 1;
	}
	buf = alloc_pages(BS / PAGE_SIZE);
	tail = alloc_pages(TAIL / PAGE_SIZE);
	memset(buf, 0xA5, BS);
	memset(tail, 0x5A, TAIL);
	for (unsigned i = 0; i < REGION / BS; i++) {
		struct blkfront_aio *a = &aio[i % QD];

		if (i >= QD) {
			/* Reuse a slot once its request completed. */
			if (!wait_for(&a->done))
				goto timeout;
			bad += a->status != BLKIF_RSP_OKAY;
		}
		memset(a, 0, sizeof(*a));
		a->buf = buf;
		a->sector = (uint64_t)i * (BS / 512);
		a->bytes = BS;
		a->op = BLKIF_OP_WRITE;
		if (!submit(a))
			goto timeout;
	}
	/* The flush goes in behind writes still in flight. */
	flush.buf = tail;
	flush.sector = REGION / 512;
	flush.bytes = TAIL;
	flush.op = BLKIF_OP_FLUSH_DISKCACHE;
	if (!submit(&flush) || !wait_for(&flush.done))
		goto timeout;
	/* Answered only after everything before it: all done already. */
	for (unsigned i = 0; i < QD; i++) {
		if (!aio[i].done) {
			printf("DURABLE FAIL flush answered before write %u\n", i);
			return 1;
		}
		bad += aio[i].status != BLKIF_RSP_OKAY;
	}
	if (bad || flush.status != BLKIF_RSP_OKAY) {
		printf("DURABLE FAIL %u write errors, flush status %d\n", bad,
		       flush.status);
		return 1;
	}
	printf("DURABLE flushed\n");
	for (;;)
		asm volatile("pause"); /* until the host kills pvisor */
timeout:
	printf("DURABLE FAIL timeout\n");
	return 1;
}
