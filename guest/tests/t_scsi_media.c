/*
 * Removable media seen from the guest (tests/e2e/t_scsi_media.sh): polls
 * the CD/DVD LUN (the first LUN) with TEST UNIT READY every 20 ms, as a
 * drive's driver does, and prints each change of what it answers:
 *   MEDIA ready <the first 16 bytes of block 0>   (READ(10) of 2048 bytes)
 *   MEDIA absent                                  (NOT READY, MEDIUM NOT PRESENT)
 *   MEDIA attention                               (UNIT ATTENTION, 28h/29h)
 * and after each change the GET EVENT STATUS NOTIFICATION media event:
 *   MEDIA event N                                 (2 new media, 3 removal)
 * With the word "prevent" on its command line it first sends PREVENT
 * ALLOW MEDIUM REMOVAL (prevent), so that a host eject without force is
 * refused; with "control" in it, it takes the toolstack's requests
 * (suspend: a save and restore of the drive's state).
 * Ends after 60 s (the host test stops it before).
 */
#include <kit/console.h>
#include <kit/control.h>
#include <kit/kit.h>
#include <kit/scsifront.h>
#include <kit/string.h>
#include <kit/time.h>

enum state { ST_UNKNOWN, ST_READY, ST_ABSENT, ST_ATTENTION, ST_OTHER };

/* Is `word` one of the space-separated words of s? */
static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s; *p; p++)
		if ((p == s || p[-1] == ' ') && !strncmp(p, word, n) &&
		    (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static struct scsifront *dev;
static struct scsifront_lun cd;
static uint8_t block[2048];

static int run(uint8_t *cdb, uint8_t len, uint8_t dir, void *buf, size_t n,
	       struct scsifront_cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->channel = cd.channel;
	c->target = cd.target;
	c->lun = cd.lun;
	memcpy(c->cdb, cdb, len);
	c->cdb_len = len;
	c->dir = dir;
	c->buf = buf;
	c->len = n;
	return scsifront_exec(dev, c);
}

static enum state test_unit_ready(void)
{
	uint8_t tur[6] = { 0x00 };
	struct scsifront_cmd c;
	int st = run(tur, sizeof(tur), SCSIFRONT_DIR_NONE, NULL, 0, &c);
	uint8_t key = c.sense_len >= 13 ? c.sense[2] & 0xf : 0;
	uint8_t asc = c.sense_len >= 13 ? c.sense[12] : 0;

	if (st == 0)
		return ST_READY;
	if (st == 2 && key == 2 && asc == 0x3a)
		return ST_ABSENT;
	if (st == 2 && key == 6 && (asc == 0x28 || asc == 0x29))
		return ST_ATTENTION;
	return ST_OTHER;
}

static void print_ready(void)
{
	uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 }; /* READ(10) LBA 0, 1 block */
	struct scsifront_cmd c;
	char text[17];

	if (run(rd, sizeof(rd), SCSIFRONT_DIR_FROM_DEVICE, block, sizeof(block), &c) != 0) {
		printf("MEDIA ready (read failed: status %d)\n", (int)(c.rslt & 0xff));
		return;
	}
	for (unsigned i = 0; i < 16; i++)
		text[i] = block[i] >= 0x20 && block[i] < 0x7f ? (char)block[i] : '.';
	text[16] = '\0';
	printf("MEDIA ready %s\n", text);
}

/* GET EVENT STATUS NOTIFICATION, polled, media class: the event code. */
static void print_event(void)
{
	uint8_t gesn[10] = { 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0 };
	uint8_t ev[8] = { 0 };
	struct scsifront_cmd c;

	if (run(gesn, sizeof(gesn), SCSIFRONT_DIR_FROM_DEVICE, ev, sizeof(ev), &c) == 0 &&
	    (ev[2] & 7) == 4)
		printf("MEDIA event %u\n", ev[4] & 0xf);
}

int app_main(const char *cmdline)
{
	static struct scsifront_info info;
	uint64_t end = monotonic_ns() + 60000000000ull;
	enum state last = ST_UNKNOWN;

	if (has_word(cmdline, "control") && kit_control_start() < 0) {
		printf("MEDIA no control thread\n");
		return 1;
	}
	dev = scsifront_init(&info);
	if (!dev || !info.nr_luns) {
		printf("MEDIA no SCSI LUN\n");
		return 1;
	}
	cd = info.luns[0];
	if (has_word(cmdline, "prevent")) {
		uint8_t pa[6] = { 0x1e, 0, 0, 0, 1, 0 };
		struct scsifront_cmd c;

		printf("MEDIA prevent %d\n", run(pa, sizeof(pa), SCSIFRONT_DIR_NONE, NULL, 0, &c));
	}
	printf("MEDIA polling %u:%u:%u:%u\n", cd.host, cd.channel, cd.target, cd.lun);
	while (monotonic_ns() < end) {
		enum state now = test_unit_ready();

		if (now != last) {
			if (now == ST_READY)
				print_ready();
			else
				printf("MEDIA %s\n", now == ST_ABSENT	     ? "absent"
						     : now == ST_ATTENTION ? "attention"
									   : "other");
			if (now != ST_ATTENTION)
				print_event();
			last = now;
		}
		sleep_ms(20);
	}
	return 0;
}
