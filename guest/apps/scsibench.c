/*
 * scsibench: paravirtual SCSI throughput and data integrity through
 * scsifront (the vscsiif twin of blkbench).
 *   scsibench [lun=N] [mb=16] [qd=8] [ops=2000] [mode=rw|ro|stamp|cdrom]
 *             [control=1] [wait=SEC]
 * control=1 takes the toolstack's requests (suspend: saved mid-run, the
 * restored guest reconnects scsifront and verifies what it wrote).
 * wait:  the LUN may come later (ctl scsi-add, which creates the vscsi host
 *        on a guest without one): waits up to SEC seconds for it.
 * rw:    INQUIRY, READ CAPACITY, sequential WRITE(10) 64 KiB, SYNCHRONIZE
 *        CACHE, sequential READ(10) + verify, random 4 KiB writes, SYNCHRONIZE
 *        CACHE, random 4 KiB reads + verify; then VERIFY, WRITE SAME, UNMAP,
 *        WRITE SAME with UNMAP, SYNCHRONIZE CACHE(16), read back.
 * ro:    READ works, WRITE answers CHECK CONDITION with DATA PROTECT sense.
 * stamp: fills the first `mb` MiB with 0xA5 and syncs (the host checks it).
 * cdrom: INQUIRY type 5, READ CAPACITY 2048-byte blocks, READ TOC, and an
 *        FNV-1a digest of the first `mb` MiB read with READ(10).
 * N is the index of the LUN in the order the backend offers them.  Lines:
 * "scsibench seq_write MB/s=… IOPS=… req/notify=…", "scsibench verify=ok".
 */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/scsifront.h>
#include <kit/string.h>
#include <kit/time.h>

#define MAX_QD 16
#define SEQ_BS (64u * 1024)
#define RAND_BS 4096u
#define BS 512u

static struct scsifront *dev;
static struct scsifront_info info;
static struct scsifront_lun *lun;
static uint64_t region_blocks;   /* in 512-byte blocks */
static uint8_t *versions, *busy; /* per 4 KiB: seed of the last write */
static unsigned errors;
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t pattern(uint64_t block, unsigned word, unsigned seed)
{
	return (block * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)seed << 56) ^ word;
}

static void fill(void *buf, uint64_t block, size_t bytes, unsigned seed)
{
	uint64_t *w = buf;

	for (size_t s = 0; s < bytes / BS; s++)
		for (unsigned i = 0; i < BS / 8; i++)
			w[s * (BS / 8) + i] = pattern(block + s, i, seed);
}

static void check_data(const void *buf, uint64_t block, size_t bytes, unsigned seed)
{
	const uint64_t *w = buf;

	for (size_t s = 0; s < bytes / BS; s++)
		for (unsigned i = 0; i < BS / 8; i++)
			if (w[s * (BS / 8) + i] != pattern(block + s, i, seed)) {
				if (errors++ < 5)
					printf("scsibench MISMATCH block %lu word %u\n",
					       (unsigned long)(block + s), i);
				return;
			}
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void prep(struct scsifront_cmd *c, const uint8_t *cdb, uint8_t len,
		 uint8_t dir, void *buf, size_t bytes)
{
	memset(c, 0, sizeof(*c));
	c->channel = lun->channel;
	c->target = lun->target;
	c->lun = lun->lun;
	memcpy(c->cdb, cdb, len);
	c->cdb_len = len;
	c->dir = dir;
	c->buf = buf;
	c->len = bytes;
}

static void rw10(struct scsifront_cmd *c, bool write, uint32_t lba, uint16_t n,
		 uint32_t bs, void *buf)
{
	uint8_t cdb[10] = { write ? 0x2a : 0x28 };

	put_be32(cdb + 2, lba);
	cdb[7] = (uint8_t)(n >> 8);
	cdb[8] = (uint8_t)n;
	prep(c, cdb, 10, write ? SCSIFRONT_DIR_TO_DEVICE : SCSIFRONT_DIR_FROM_DEVICE,
	     buf, (size_t)n * bs);
}

/* Runs a command; the SCSI status, printing sense on CHECK CONDITION. */
static int run(struct scsifront_cmd *c, const char *what)
{
	int rc = scsifront_exec(dev, c);

	if (rc == 2 && c->sense_len >= 14)
		printf("scsibench %s: CHECK CONDITION sense=%x/%02x/%02x\n", what,
		       c->sense[2] & 0xf, c->sense[12], c->sense[13]);
	else if (rc)
		printf("scsibench %s: rc=%d rslt=%#x\n", what, rc, (unsigned)c->rslt);
	return rc;
}

static int sync_cache(void)
{
	static const uint8_t cdb[10] = { 0x35 };
	struct scsifront_cmd c;

	prep(&c, cdb, 10, SCSIFRONT_DIR_NONE, NULL, 0);
	return run(&c, "SYNCHRONIZE CACHE");
}

struct job {
	struct scsifront_cmd c;
	void *buf;
	uint64_t block;          /* in units of bs */
	unsigned seed;
	bool busy;
};

/* nops commands, up to qd in flight; elapsed ns. */
static uint64_t pipeline(unsigned nops, unsigned qd, bool write, bool random,
			 size_t bs, unsigned seed)
{
	static struct job jobs[MAX_QD];
	uint64_t blocks = region_blocks * BS / bs, next = 0;
	unsigned issued = 0, completed = 0;
	uint64_t t0 = monotonic_ns();

	for (unsigned i = 0; i < qd; i++) {
		if (!jobs[i].buf)
			jobs[i].buf = alloc_pages(SEQ_BS / PAGE_SIZE);
		jobs[i].busy = false;
	}
	while (completed < nops) {
		for (unsigned i = 0; i < qd && issued < nops; i++) {
			struct job *j = &jobs[i];
			uint64_t b;

			if (j->busy)
				continue;
			if (random) {
				do
					j->block = rnd() % blocks;
				while (busy[j->block * bs / RAND_BS]);
			} else {
				j->block = next++ % blocks;
			}
			b = j->block * bs / BS;
			j->seed = seed;
			if (write)
				fill(j->buf, b, bs, seed);
			rw10(&j->c, write, (uint32_t)b, (uint16_t)(bs / BS), BS, j->buf);
			if (scsifront_submit(dev, &j->c)) {
				/* ring full, or suspending: this block again later */
				if (!random)
					next--;
				break;
			}
			busy[b / 8] = 1;
			j->busy = true;
			issued++;
		}
		/* Completions are looked for even when this poll found none:
		 * kit_suspend's drain may have taken them (scsifront.c). */
		if (!scsifront_poll(dev))
			scsifront_wait(dev, monotonic_ns() + 100000000ull);
		for (unsigned i = 0; i < qd; i++) {
			struct job *j = &jobs[i];
			uint64_t b = j->block * bs / BS;

			if (!j->busy || !j->c.done)
				continue;
			j->busy = false;
			busy[b / 8] = 0;
			completed++;
			if (j->c.rslt) {
				if (errors++ < 5)
					printf("scsibench I/O error rslt=%#x at block %lu\n",
					       (unsigned)j->c.rslt, (unsigned long)b);
				continue;
			}
			for (uint64_t k = 0; k < bs / RAND_BS; k++) {
				if (write)
					versions[b / 8 + k] = (uint8_t)seed;
				else
					check_data((uint8_t *)j->buf + k * RAND_BS, b + k * 8,
						   RAND_BS, versions[b / 8 + k]);
			}
		}
	}
	return monotonic_ns() - t0;
}

static void report(const char *what, uint64_t ns, unsigned nops, size_t bs,
		   uint64_t notes)
{
	uint64_t us = ns / 1000 ? ns / 1000 : 1;
	uint64_t kbps = (uint64_t)nops * bs / 1024 * 1000000 / us;
	uint64_t rpn100 = notes ? (uint64_t)nops * 100 / notes : 0;

	printf("scsibench %s MB/s=%lu.%02lu IOPS=%lu ops=%u bs=%lu req/notify=%lu.%02lu\n",
	       what, (unsigned long)(kbps / 1024),
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

/* INQUIRY and READ CAPACITY(10): type, blocks, block size. */
static int identify(uint8_t *type, uint64_t *blocks, uint32_t *bs)
{
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	static const uint8_t cap[10] = { 0x25 };
	struct scsifront_cmd c;
	uint8_t *buf = alloc_page();
	char vendor[9], product[17];

	prep(&c, inq, 6, SCSIFRONT_DIR_FROM_DEVICE, buf, 96);
	if (run(&c, "INQUIRY"))
		return -1;
	*type = buf[0] & 0x1f;
	memcpy(vendor, buf + 8, 8);
	vendor[8] = 0;
	memcpy(product, buf + 16, 16);
	product[16] = 0;
	printf("scsibench inquiry type=%u vendor='%s' product='%s' residual=%u\n",
	       *type, vendor, product, c.residual);
	prep(&c, cap, 10, SCSIFRONT_DIR_FROM_DEVICE, buf, 8);
	if (run(&c, "READ CAPACITY"))
		return -1;
	*blocks = (uint64_t)be32(buf) + 1;
	*bs = be32(buf + 4);
	printf("scsibench capacity blocks=%lu block_size=%u\n", (unsigned long)*blocks, *bs);
	free_page(buf);
	return 0;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* VERIFY (match, miscompare), WRITE SAME, UNMAP, WRITE SAME with UNMAP and
 * SYNCHRONIZE CACHE(16), each checked by reading back.  Errors counted. */
static void extras(void)
{
	uint8_t *buf = alloc_pages(2), *blk = alloc_page();
	struct scsifront_cmd c;
	uint8_t cdb[16];
	unsigned before = errors;

	memset(buf, 0x5a, 4096);
	rw10(&c, true, 0, 8, BS, buf);
	if (run(&c, "WRITE(10)"))
		errors++;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x2f; /* VERIFY(10), BYTCHK 1 */
	cdb[1] = 0x02;
	cdb[8] = 8;
	prep(&c, cdb, 10, SCSIFRONT_DIR_TO_DEVICE, buf, 4096);
	if (run(&c, "VERIFY"))
		errors++;
	buf[1000] ^= 1;
	prep(&c, cdb, 10, SCSIFRONT_DIR_TO_DEVICE, buf, 4096);
	if (scsifront_exec(dev, &c) != 2 || (c.sense[2] & 0xf) != 0xe) {
		printf("scsibench VERIFY miscompare not reported\n");
		errors++;
	}
	/* WRITE SAME(16) of 0x77 over LBA 64..79 */
	memset(blk, 0x77, BS);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x93;
	cdb[9] = 64;
	cdb[13] = 16;
	prep(&c, cdb, 16, SCSIFRONT_DIR_TO_DEVICE, blk, BS);
	if (run(&c, "WRITE SAME(16)"))
		errors++;
	/* UNMAP 64..71 */
	memset(blk, 0, 24);
	blk[1] = 22;
	blk[3] = 16;
	blk[8 + 7] = 64;
	blk[8 + 11] = 8;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x42;
	cdb[8] = 24;
	prep(&c, cdb, 10, SCSIFRONT_DIR_TO_DEVICE, blk, 24);
	if (run(&c, "UNMAP"))
		errors++;
	rw10(&c, false, 64, 16, BS, buf);
	if (run(&c, "READ(10)") || !all_bytes(buf, 4096, 0) ||
	    !all_bytes(buf + 4096, 4096, 0x77)) {
		printf("scsibench WRITE SAME/UNMAP read back wrong\n");
		errors++;
	}
	/* WRITE SAME(16) UNMAP with a zero block: 72..79 read zero */
	memset(blk, 0, BS);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x93;
	cdb[1] = 0x08;
	cdb[9] = 72;
	cdb[13] = 8;
	prep(&c, cdb, 16, SCSIFRONT_DIR_TO_DEVICE, blk, BS);
	if (run(&c, "WRITE SAME(16) UNMAP"))
		errors++;
	rw10(&c, false, 72, 8, BS, buf);
	if (run(&c, "READ(10)") || !all_bytes(buf, 4096, 0)) {
		printf("scsibench WRITE SAME UNMAP read back wrong\n");
		errors++;
	}
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x91; /* SYNCHRONIZE CACHE(16) */
	prep(&c, cdb, 16, SCSIFRONT_DIR_NONE, NULL, 0);
	if (run(&c, "SYNCHRONIZE CACHE(16)"))
		errors++;
	printf("scsibench extras=%s\n", errors == before ? "ok" : "FAIL");
	free_pages(buf, 2);
	free_page(blk);
}

static int mode_cdrom(long mb, uint64_t blocks)
{
	static const uint8_t toc[10] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0 };
	uint8_t *buf = alloc_pages(SEQ_BS / PAGE_SIZE);
	uint64_t h = 0xcbf29ce484222325ull, n = (uint64_t)mb * 512;
	struct scsifront_cmd c;

	prep(&c, toc, 10, SCSIFRONT_DIR_FROM_DEVICE, buf, 100);
	if (run(&c, "READ TOC"))
		errors++;
	else
		printf("scsibench toc tracks=%u-%u leadout=%u\n", buf[2], buf[3],
		       be32(buf + 16));
	if (n > blocks)
		n = blocks;
	for (uint64_t b = 0; b < n; b += SEQ_BS / 2048) {
		uint16_t k = (uint16_t)(n - b < SEQ_BS / 2048 ? n - b : SEQ_BS / 2048);

		rw10(&c, false, (uint32_t)b, k, 2048, buf);
		if (run(&c, "READ(10)")) {
			errors++;
			break;
		}
		for (size_t i = 0; i < (size_t)k * 2048; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	}
	rw10(&c, true, 0, 1, 2048, buf);
	printf("scsibench cdrom blocks=%lu fnv=%016lx write=%s\n", (unsigned long)n,
	       (unsigned long)h,
	       scsifront_exec(dev, &c) == 2 && (c.sense[2] & 0xf) == 7 ? "refused" : "ACCEPTED");
	scsifront_shutdown(dev);
	return errors ? 1 : 0;
}

/* Connects scsifront; with wait=SEC, first waits for the host and then,
 * answering the backend's reconfigurations, for LUN idx. */
static struct scsifront *connect(long idx, long wait_sec)
{
	uint64_t deadline = monotonic_ns() + (uint64_t)wait_sec * 1000000000ull;
	struct scsifront *d;

	if (wait_sec > 0 && scsifront_wait_device(deadline) < 0)
		return NULL;
	d = scsifront_init(&info);
	while (d && (unsigned long)idx >= info.nr_luns && wait_sec > 0 &&
	       monotonic_ns() < deadline)
		scsifront_wait_reconfigure(d, &info, deadline);
	return d;
}

int app_main(const char *cmdline)
{
	char mode[16] = "rw";
	long mb = num_arg(cmdline, "mb", 16), qd = num_arg(cmdline, "qd", 8);
	long ops = num_arg(cmdline, "ops", 2000), idx = num_arg(cmdline, "lun", 0);
	uint64_t blocks, ns, n0;
	uint32_t bs;
	uint8_t type;
	unsigned seq_ops;

	arg(cmdline, "mode", mode, sizeof(mode));
	if (qd < 1 || qd > MAX_QD || mb < 1 || ops < 1 || idx < 0) {
		printf("scsibench: bad arguments\n");
		return 2;
	}
	if (num_arg(cmdline, "control", 0) && kit_control_start() < 0) {
		printf("scsibench: no control thread\n");
		return 1;
	}
	dev = connect(idx, num_arg(cmdline, "wait", 0));
	if (!dev || (unsigned long)idx >= info.nr_luns) {
		printf("scsibench FAIL no LUN %ld\n", idx);
		return 1;
	}
	lun = &info.luns[idx];
	printf("scsibench luns=%u lun=%u:%u:%u:%u max_segs=%u backend=%s\n", info.nr_luns,
	       lun->host, lun->channel, lun->target, lun->lun, info.max_segs,
	       kit_backend());
	if (identify(&type, &blocks, &bs))
		return 1;
	if (!strcmp(mode, "cdrom"))
		return type == 5 && bs == 2048 ? mode_cdrom(mb, blocks) : 1;
	if (bs != BS)
		return 1;
	region_blocks = (uint64_t)mb << 11;
	if (region_blocks > blocks)
		region_blocks = blocks & ~7ull;
	versions = kzalloc(region_blocks / 8 + 1);
	busy = kzalloc(region_blocks / 8 + 1);
	if (!versions || !busy)
		return 1;
	if (!strcmp(mode, "stamp")) {
		uint8_t *buf = alloc_pages(SEQ_BS / PAGE_SIZE);
		struct scsifront_cmd c;

		memset(buf, 0xA5, SEQ_BS);
		for (uint64_t b = 0; b < region_blocks; b += SEQ_BS / BS) {
			rw10(&c, true, (uint32_t)b, SEQ_BS / BS, BS, buf);
			if (run(&c, "WRITE(10)"))
				errors++;
		}
		if (sync_cache())
			errors++;
		printf("scsibench stamp %s\n", errors ? "FAIL" : "ok");
		return errors ? 1 : 0; /* no shutdown: the sync must suffice */
	}
	if (!strcmp(mode, "ro")) {
		uint8_t *buf = alloc_page();
		struct scsifront_cmd c;
		int r, w;

		rw10(&c, false, 0, 8, BS, buf);
		r = run(&c, "READ(10)");
		rw10(&c, true, 0, 8, BS, buf);
		w = scsifront_exec(dev, &c);
		printf("scsibench ro read=%s write=%s sense=%x/%02x/%02x\n", r ? "FAIL" : "ok",
		       w == 2 ? "refused" : "ACCEPTED", c.sense[2] & 0xf, c.sense[12],
		       c.sense[13]);
		scsifront_shutdown(dev);
		return !r && w == 2 && (c.sense[2] & 0xf) == 7 && c.sense[12] == 0x27 ? 0 : 1;
	}
	seq_ops = (unsigned)(region_blocks * BS / SEQ_BS);
	n0 = scsifront_notifications(dev);
	ns = pipeline(seq_ops, (unsigned)qd, true, false, SEQ_BS, 1);
	report("seq_write", ns, seq_ops, SEQ_BS, scsifront_notifications(dev) - n0);
	ns = monotonic_ns();
	if (sync_cache())
		errors++;
	printf("scsibench sync us=%lu\n", (unsigned long)((monotonic_ns() - ns) / 1000));
	n0 = scsifront_notifications(dev);
	ns = pipeline(seq_ops, (unsigned)qd, false, false, SEQ_BS, 0);
	report("seq_read", ns, seq_ops, SEQ_BS, scsifront_notifications(dev) - n0);
	n0 = scsifront_notifications(dev);
	ns = pipeline((unsigned)ops, (unsigned)qd, true, true, RAND_BS, 2);
	report("rand_write", ns, (unsigned)ops, RAND_BS, scsifront_notifications(dev) - n0);
	if (sync_cache())
		errors++;
	n0 = scsifront_notifications(dev);
	ns = pipeline((unsigned)ops, (unsigned)qd, false, true, RAND_BS, 0);
	report("rand_read", ns, (unsigned)ops, RAND_BS, scsifront_notifications(dev) - n0);
	extras();
	scsifront_shutdown(dev);
	printf("scsibench verify=%s errors=%u\n", errors ? "FAIL" : "ok", errors);
	return errors ? 1 : 0;
}
