/*
 * blkbench: block device throughput and data integrity through blkfront.
 *   blkbench [dev=xvda] [mb=16] [qd=8] [ops=2000] [mode=rw|ro|stamp] [control=1]
 *            [wait=SEC]
 * wait:  the disk may come later (ctl disk-add): waits up to SEC seconds.
 * rw:    sequential write (64 KiB), flush, sequential read + verify,
 *        random 4 KiB writes, flush, random 4 KiB reads + verify.
 * ro:    reads must work, a write must be refused.
 * stamp: fills the first `mb` MiB with 0xA5 and flushes (host checks it).
 * reboot: counts boots on the disk (sector 0, "PVREBOOT N" and a pattern
 *        over sectors 1..63), checks what the boot before wrote, writes,
 *        flushes and reboots, until boot `count` (default 2): then waits
 *        for the toolstack (control=1: ctl shutdown) or exits 0.
 * Lines: "blkbench NAME seq_write MB/s=…", "… rand_read IOPS=…", and
 * "blkbench NAME verify=ok"; exit 0 only if everything verified.
 */
#include <kit/blkfront.h>
#include <kit/console.h>
#include <kit/control.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define MAX_QD 32
#define SEQ_BS (64u * 1024)
#define RAND_BS 4096u
#define SECT 512u

static struct blkfront *dev;
static struct blkfront_info info;
static uint64_t region_sectors;
static uint8_t *versions; /* per 4 KiB block: seed of its last write */
static uint8_t *busy;
static unsigned errors;
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t pattern(uint64_t sector, unsigned word, unsigned seed)
{
	return (sector * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)seed << 56) ^ word;
}

static void fill(void *buf, uint64_t sector, size_t bytes, unsigned seed)
{
	uint64_t *w = buf;

	for (size_t s = 0; s < bytes / SECT; s++)
		for (unsigned i = 0; i < SECT / 8; i++)
			w[s * (SECT / 8) + i] = pattern(sector + s, i, seed);
}

static bool check(const void *buf, uint64_t sector, size_t bytes, unsigned seed)
{
	const uint64_t *w = buf;

	for (size_t s = 0; s < bytes / SECT; s++)
		for (unsigned i = 0; i < SECT / 8; i++)
			if (w[s * (SECT / 8) + i] != pattern(sector + s, i, seed)) {
				if (errors++ < 5)
					printf("blkbench %s MISMATCH sector %lu word %u\n",
					       info.name, (unsigned long)(sector + s), i);
				return false;
			}
	return true;
}

struct job {
	struct blkfront_aio aio;
	uint64_t block;
	unsigned seed;
};

/* Runs nops requests with up to qd in flight; returns elapsed ns. */
static uint64_t pipeline(unsigned nops, unsigned qd, uint8_t op, bool random,
			 size_t bs, unsigned seed)
{
	static struct job jobs[MAX_QD];
	uint64_t blocks = (region_sectors * SECT) / bs, next = 0;
	unsigned issued = 0, completed = 0;
	uint64_t t0 = monotonic_ns();

	for (unsigned i = 0; i < qd; i++) {
		if (!jobs[i].aio.buf || jobs[i].aio.bytes != 0) {
			if (!jobs[i].aio.buf)
				jobs[i].aio.buf = alloc_pages(SEQ_BS / PAGE_SIZE);
		}
		jobs[i].aio.done = true;
	}
	while (completed < nops) {
		/* Completions first: blkfront_poll may have run elsewhere (the
		 * suspend path drains the ring from the control thread). */
		for (unsigned i = 0; i < qd; i++) {
			struct job *j = &jobs[i];

			if (!j->aio.done || !busy[j->block] || !j->aio.bytes)
				continue;
			busy[j->block] = 0;
			completed++;
			if (j->aio.status != BLKIF_RSP_OKAY) {
				if (errors++ < 5)
					printf("blkbench %s I/O error %d at sector %lu\n",
					       info.name, j->aio.status,
					       (unsigned long)j->aio.sector);
				continue;
			}
			if (op == BLKIF_OP_WRITE) {
				for (uint64_t b = 0; b < bs / RAND_BS; b++)
					versions[j->aio.sector / 8 + b] = (uint8_t)j->seed;
			} else {
				for (uint64_t b = 0; b < bs / RAND_BS; b++)
					check((uint8_t *)j->aio.buf + b * RAND_BS,
					      j->aio.sector + b * 8, RAND_BS,
					      versions[j->aio.sector / 8 + b]);
			}
			j->aio.bytes = 0; /* accounted */
		}
		if (completed >= nops)
			break;
		for (unsigned i = 0; i < qd && issued < nops; i++) {
			struct job *j = &jobs[i];

			if (!j->aio.done)
				continue;
			if (random) {
				do
					j->block = rnd() % blocks;
				while (busy[j->block]);
			} else {
				j->block = next++ % blocks;
			}
			j->aio.sector = j->block * (bs / SECT);
			j->aio.bytes = bs;
			j->aio.op = op;
			if (op == BLKIF_OP_WRITE) {
				j->seed = random ? seed : seed;
				fill(j->aio.buf, j->aio.sector, bs, j->seed);
			}
			busy[j->block] = 1;
			if (blkfront_aio_submit(dev, &j->aio)) {
				/* ring full, or suspending: this block again later */
				busy[j->block] = 0;
				j->aio.done = true;
				if (!random)
					next--;
				break;
			}
			issued++;
		}
		if (!blkfront_poll(dev))
			blkfront_wait(dev, monotonic_ns() + 100000000ull);
	}
	return monotonic_ns() - t0;
}

static uint64_t notes0; /* blkfront_notifications() when a phase began */

static void report(const char *what, uint64_t ns, unsigned nops, size_t bs)
{
	uint64_t us = ns / 1000 ? ns / 1000 : 1;
	uint64_t kbps = (uint64_t)nops * bs / 1024 * 1000000 / us;
	uint64_t notes = blkfront_notifications(dev) - notes0;
	uint64_t rpn100 = notes ? (uint64_t)nops * 100 / notes : 0;

	printf("blkbench %s %s MB/s=%lu.%02lu IOPS=%lu ops=%u bs=%lu req/notify=%lu.%02lu\n",
	       info.name, what, (unsigned long)(kbps / 1024),
	       (unsigned long)(kbps % 1024 * 100 / 1024),
	       (unsigned long)((uint64_t)nops * 1000000 / us), nops,
	       (unsigned long)bs, (unsigned long)(rpn100 / 100),
	       (unsigned long)(rpn100 % 100));
}

static const char *arg(const char *cmdline, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = cmdline; p && *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = 0;

			p += klen + 1;
			while (p[n] && p[n] != ' ' && n + 1 < len)
				n++;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return buf;
		}
		p = strchr(p, ' ');
	}
	return NULL;
}

static long num_arg(const char *cmdline, const char *key, long dflt)
{
	char buf[32];
	const char *end;

	return arg(cmdline, key, buf, sizeof(buf)) ? strtol(buf, &end, 10) : dflt;
}

#define REBOOT_MAGIC "PVREBOOT "
#define REBOOT_SECTORS 64

/* mode=reboot: the disk carries the boot count across SHUTDOWN_reboot;
 * what one boot wrote and flushed, the next reads back. */
static int reboot_mode(long count, bool control)
{
	uint8_t *buf = alloc_pages(REBOOT_SECTORS * SECT / PAGE_SIZE);
	long boot = 1;

	if (!buf || blkfront_io(dev, BLKIF_OP_READ, 0, buf, REBOOT_SECTORS * SECT)) {
		printf("blkbench %s reboot FAIL cannot read\n", info.name);
		return 1;
	}
	if (!memcmp(buf, REBOOT_MAGIC, strlen(REBOOT_MAGIC))) {
		const char *end;
		long prev = strtol((const char *)buf + strlen(REBOOT_MAGIC), &end, 10);

		boot = prev + 1;
		if (!check(buf + SECT, 1, (REBOOT_SECTORS - 1) * SECT, (unsigned)prev & 0xff)) {
			printf("blkbench %s reboot FAIL boot %ld: boot %ld's data is not on the disk\n",
			       info.name, boot, prev);
			return 1;
		}
		printf("blkbench %s reboot boot %ld: read back boot %ld's data\n", info.name,
		       boot, prev);
	} else {
		printf("blkbench %s reboot boot 1: a fresh disk\n", info.name);
	}
	if (boot >= count) {
		printf("blkbench %s reboot done after %ld boots\n", info.name, boot);
		if (!control)
			return 0;
		for (;;)
			sleep_ms(1000); /* the control thread powers off */
	}
	memset(buf, 0, SECT);
	snprintf((char *)buf, SECT, REBOOT_MAGIC "%ld", boot);
	fill(buf + SECT, 1, (REBOOT_SECTORS - 1) * SECT, (unsigned)boot & 0xff);
	if (blkfront_io(dev, BLKIF_OP_WRITE, 0, buf, REBOOT_SECTORS * SECT) ||
	    blkfront_flush(dev)) {
		printf("blkbench %s reboot FAIL cannot write\n", info.name);
		return 1;
	}
	printf("blkbench %s reboot boot %ld: rebooting\n", info.name, boot);
	kit_reboot();
}

/* Waits until device/vbd/<vdev> has its backend (the toolstack writes the
 * directory in one transaction): 0, or -1 after sec seconds. */
static int wait_for_vbd(unsigned vdev, long sec)
{
	uint64_t deadline = monotonic_ns() + (uint64_t)sec * 1000000000ull;
	char path[48], buf[128];
	int rc = 0;

	snprintf(path, sizeof(path), "device/vbd/%u/backend", vdev);
	if (xenbus_watch("device/vbd", "blkbench-wait") < 0)
		return -1;
	while (rc == 0 && xenbus_read(XBT_NIL, path, buf, sizeof(buf)) < 0)
		rc = xenbus_wait_watch("blkbench-wait", deadline);
	xenbus_unwatch("device/vbd", "blkbench-wait");
	return rc ? -1 : 0;
}

int app_main(const char *cmdline)
{
	char name[16] = "xvda", mode[16] = "rw";
	long mb = num_arg(cmdline, "mb", 16), qd = num_arg(cmdline, "qd", 8);
	long ops = num_arg(cmdline, "ops", 2000);
	unsigned seq_ops;
	size_t seq_bs = SEQ_BS;
	uint64_t ns;

	arg(cmdline, "dev", name, sizeof(name));
	arg(cmdline, "mode", mode, sizeof(mode));
	if (qd < 1 || qd > MAX_QD || mb < 1 || ops < 1) {
		printf("blkbench: bad arguments\n");
		return 2;
	}
	/* control=1: takes the toolstack's requests (suspend: save mid-run) */
	if (num_arg(cmdline, "control", 0) && kit_control_start() < 0) {
		printf("blkbench: no control thread\n");
		return 1;
	}
	if (num_arg(cmdline, "wait", 0) > 0 &&
	    wait_for_vbd(blkfront_vdev(name), num_arg(cmdline, "wait", 0)) < 0) {
		printf("blkbench %s FAIL no device within wait=%ld s\n", name,
		       num_arg(cmdline, "wait", 0));
		return 1;
	}
	dev = blkfront_init(blkfront_vdev(name), 2, &info);
	if (!dev) {
		printf("blkbench %s FAIL no device\n", name);
		return 1;
	}
	printf("blkbench %s sectors=%lu ro=%d ring_pages=%u max_segs=%u flush=%d backend=%s\n",
	       info.name, (unsigned long)info.sectors, info.ro, info.ring_pages,
	       info.max_segs, info.flush, kit_backend());
	region_sectors = (uint64_t)mb << 11;
	if (region_sectors > info.sectors)
		region_sectors = info.sectors & ~7ull;
	if (seq_bs / PAGE_SIZE > info.max_segs)
		seq_bs = info.max_segs * PAGE_SIZE & ~(RAND_BS - 1);
	versions = kzalloc(region_sectors / 8 + 1);
	busy = kzalloc(region_sectors / 8 + 1);
	if (!versions || !busy) {
		printf("blkbench: out of memory\n");
		return 1;
	}
	if (!strcmp(mode, "reboot"))
		return reboot_mode(num_arg(cmdline, "count", 2),
				   num_arg(cmdline, "control", 0) != 0);
	if (!strcmp(mode, "stamp")) {
		uint8_t *buf = alloc_pages(SEQ_BS / PAGE_SIZE);

		memset(buf, 0xA5, SEQ_BS);
		for (uint64_t s = 0; s < region_sectors; s += SEQ_BS / SECT)
			if (blkfront_io(dev, BLKIF_OP_WRITE, s, buf, SEQ_BS))
				errors++;
		if (blkfront_flush(dev))
			errors++;
		printf("blkbench %s stamp %s\n", info.name, errors ? "FAIL" : "ok");
		return errors ? 1 : 0; /* no shutdown: the flush must suffice */
	}
	if (!strcmp(mode, "ro")) {
		uint8_t *buf = alloc_pages(1);
		int r = blkfront_io(dev, BLKIF_OP_READ, 0, buf, PAGE_SIZE);
		int w = blkfront_io(dev, BLKIF_OP_WRITE, 0, buf, PAGE_SIZE);

		printf("blkbench %s ro read=%s write=%s\n", info.name,
		       r ? "FAIL" : "ok", w ? "refused" : "ACCEPTED");
		blkfront_shutdown(dev);
		return !r && w ? 0 : 1;
	}
	seq_ops = (unsigned)(region_sectors * SECT / seq_bs);
	notes0 = blkfront_notifications(dev);
	ns = pipeline(seq_ops, (unsigned)qd, BLKIF_OP_WRITE, false, seq_bs, 1);
	report("seq_write", ns, seq_ops, seq_bs);
	ns = monotonic_ns();
	if (blkfront_flush(dev))
		errors++;
	printf("blkbench %s flush us=%lu\n", info.name,
	       (unsigned long)((monotonic_ns() - ns) / 1000));
	notes0 = blkfront_notifications(dev);
	ns = pipeline(seq_ops, (unsigned)qd, BLKIF_OP_READ, false, seq_bs, 0);
	report("seq_read", ns, seq_ops, seq_bs);
	notes0 = blkfront_notifications(dev);
	ns = pipeline((unsigned)ops, (unsigned)qd, BLKIF_OP_WRITE, true, RAND_BS, 2);
	report("rand_write", ns, (unsigned)ops, RAND_BS);
	if (blkfront_flush(dev))
		errors++;
	notes0 = blkfront_notifications(dev);
	ns = pipeline((unsigned)ops, (unsigned)qd, BLKIF_OP_READ, true, RAND_BS, 0);
	report("rand_read", ns, (unsigned)ops, RAND_BS);
	blkfront_shutdown(dev);
	printf("blkbench %s verify=%s errors=%u\n", info.name,
	       errors ? "FAIL" : "ok", errors);
	return errors ? 1 : 0;
}
