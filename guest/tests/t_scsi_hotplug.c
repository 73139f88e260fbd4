/*
 * SCSI LUN hot-plug as a guest sees it (tests/e2e/t_scsi_hotplug.sh drives
 * the host side with `pvisor ctl scsi-add / scsi-remove`).  Waits (on a
 * watch) for the vscsi host (device/vscsi/0: it may only come with the
 * first scsi-add),
 * connects, then waits in scsifront_wait_reconfigure() for the backend's
 * Reconfiguring (its state watch, no polling), answers as xen-scsifront
 * does and prints each change:
 *   LUN up H:C:T:L                       a LUN the frontend added
 *   LUN H:C:T:L inquiry TYPE VENDOR/PRODUCT   its standard INQUIRY
 *   LUN H:C:T:L read TEXT                READ(10) of block 0, 16 bytes shown
 *   LUN H:C:T:L wrote                    a disk: "GUEST WROTE H:C:T:L" to
 *                                        block 1 (WRITE(10), SYNCHRONIZE CACHE)
 *   LUN gone H:C:T:L                     a LUN the backend asked away
 * With "ignore" as its command line it never answers a reconfiguration
 * (a guest that does not cooperate).  Ends after 120 s.
 */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/scsifront.h>
#include <kit/string.h>
#include <kit/time.h>

static struct scsifront *dev;
static uint8_t block[2048];

static int run(const struct scsifront_lun *l, const uint8_t *cdb, uint8_t len, uint8_t dir,
	       void *buf, size_t n)
{
	struct scsifront_cmd c;

	memset(&c, 0, sizeof(c));
	c.channel = l->channel;
	c.target = l->target;
	c.lun = l->lun;
	memcpy(c.cdb, cdb, len);
	c.cdb_len = len;
	c.dir = dir;
	c.buf = buf;
	c.len = n;
	return scsifront_exec(dev, &c);
}

static void text16(const uint8_t *p, char out[17])
{
	for (unsigned i = 0; i < 16; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	out[16] = '\0';
}

/* INQUIRY, READ(10) of block 0 and, on a writable disk, a write. */
static void probe(const struct scsifront_lun *l)
{
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t sync[10] = { 0x35 };
	uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t wr[10] = { 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
	uint8_t id[36] = { 0 };
	char vendor[9], product[17], text[17];
	bool cdrom;
	int st;

	st = run(l, inq, sizeof(inq), SCSIFRONT_DIR_FROM_DEVICE, id, sizeof(id));
	memcpy(vendor, id + 8, 8);
	vendor[8] = '\0';
	memcpy(product, id + 16, 16);
	product[16] = '\0';
	cdrom = (id[0] & 0x1f) == 5;
	printf("LUN %u:%u:%u:%u inquiry %s %s/%s (status %d)\n", l->host, l->channel,
	       l->target, l->lun, cdrom ? "cdrom" : "disk", vendor, product, st);
	memset(block, 0, sizeof(block));
	st = run(l, rd, sizeof(rd), SCSIFRONT_DIR_FROM_DEVICE, block, cdrom ? 2048 : 512);
	text16(block, text);
	printf("LUN %u:%u:%u:%u read %s (status %d)\n", l->host, l->channel, l->target,
	       l->lun, text, st);
	if (cdrom)
		return;
	memset(block, 0, 512);
	snprintf((char *)block, 512, "GUEST WROTE %u:%u:%u:%u", l->host, l->channel, l->target,
		 l->lun);
	st = run(l, wr, sizeof(wr), SCSIFRONT_DIR_TO_DEVICE, block, 512);
	if (st == 0)
		st = run(l, sync, sizeof(sync), SCSIFRONT_DIR_NONE, NULL, 0);
	printf("LUN %u:%u:%u:%u %s (status %d)\n", l->host, l->channel, l->target, l->lun,
	       st == 0 ? "wrote" : "write failed", st);
}

static bool has(const struct scsifront_info *info, const struct scsifront_lun *l)
{
	for (unsigned i = 0; i < info->nr_luns; i++)
		if (info->luns[i].dev == l->dev)
			return true;
	return false;
}

/* Prints what went and what came (and probes what came). */
static void report(const struct scsifront_info *old, const struct scsifront_info *now)
{
	for (unsigned i = 0; i < old->nr_luns; i++) {
		const struct scsifront_lun *l = &old->luns[i];

		if (!has(now, l))
			printf("LUN gone %u:%u:%u:%u\n", l->host, l->channel, l->target, l->lun);
	}
	for (unsigned i = 0; i < now->nr_luns; i++) {
		const struct scsifront_lun *l = &now->luns[i];

		if (!has(old, l)) {
			printf("LUN up %u:%u:%u:%u\n", l->host, l->channel, l->target, l->lun);
			probe(l);
		}
	}
}

int app_main(const char *cmdline)
{
	static struct scsifront_info info, old;
	uint64_t end = monotonic_ns() + 120000000000ull;
	bool ignore = !strncmp(cmdline, "ignore", 6);

	printf("SCSIPLUG waiting%s\n", ignore ? " (ignoring reconfiguration)" : "");
	if (scsifront_wait_device(end) < 0)
		return 1;
	dev = scsifront_init(&info);
	if (!dev) {
		printf("SCSIPLUG FAIL connect\n");
		return 1;
	}
	printf("SCSIPLUG connected\n");
	report(&old, &info);
	while (ignore && monotonic_ns() < end)
		sleep_ms(100);
	while (monotonic_ns() < end) {
		int rc;

		old = info;
		rc = scsifront_wait_reconfigure(dev, &info, end);
		if (rc < 0)
			printf("SCSIPLUG reconfigure failed (%d)\n", rc);
		else if (rc > 0)
			report(&old, &info);
	}
	return 0;
}
