/*
 * Disk hot-plug as a guest sees it (tests/e2e/t_hotplug.sh drives the
 * host side with `pvisor ctl disk-add / disk-remove`).  For each of N
 * devices (the command line, default 1): waits for a new vbd under
 * device/vbd (a watch, as Linux's xenbus probe does), connects, reads
 * sector 0 (the host wrote a label there) and prints it, writes
 * "GUEST <name> <i>" to sector 1 and flushes, then waits for the
 * toolstack's Closing, closes (Closing, Closed) and waits until the
 * device's directory is gone.  Lines: "HOTPLUG add ...", "HOTPLUG io ...",
 * "HOTPLUG closed ...", "HOTPLUG gone ..."; "HOTPLUG FAIL ..." and exit 1
 * on any error.  Exit 0 after the last device.
 */
#include <kit/blkfront.h>
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/string.h>
#include <kit/time.h>
#include <kit/xenbus.h>

#define WAIT_NS (60ull * 1000000000ull)
#define MAX_SEEN 64

__attribute__((noreturn)) static void fail(const char *what, long rc)
{
	printf("HOTPLUG FAIL %s (%ld)\n", what, rc);
	kit_exit(1);
}

/* A vbd in device/vbd whose directory is not in seen[]: its vdev, or 0. */
static unsigned new_vbd(const unsigned *seen, unsigned nr_seen)
{
	static char list[1024];
	long len = xenbus_directory(XBT_NIL, "device/vbd", list, sizeof(list));

	for (long off = 0; len > 0 && off < len; off += (long)strlen(list + off) + 1) {
		const char *end;
		unsigned long v = (unsigned long)strtol(list + off, &end, 10);
		bool known = false;

		for (unsigned i = 0; i < nr_seen; i++)
			known |= seen[i] == v;
		if (!known && v)
			return (unsigned)v;
	}
	return 0;
}

static unsigned wait_new_vbd(const unsigned *seen, unsigned nr_seen)
{
	uint64_t deadline = monotonic_ns() + WAIT_NS;
	unsigned vdev;
	int rc;

	while (!(vdev = new_vbd(seen, nr_seen))) {
		rc = xenbus_wait_watch("vbd", deadline);
		if (rc < 0)
			fail("no new vbd", rc);
	}
	return vdev;
}

/* Until device/vbd/<vdev> is gone (the toolstack removed it) or is a new
 * device of the same number (no longer the Closed one we left: the host
 * may add one again as soon as the removal is done). */
static void wait_gone(unsigned vdev)
{
	uint64_t deadline = monotonic_ns() + WAIT_NS;
	char path[64];
	unsigned long st;

	snprintf(path, sizeof(path), "device/vbd/%u/state", vdev);
	while (xenbus_read_ulong(XBT_NIL, path, &st) == 0 && st == XenbusStateClosed) {
		int rc = xenbus_wait_watch("vbd", deadline);

		if (rc < 0)
			fail("the vbd's nodes stayed", rc);
	}
}

/* A connect that failed because the toolstack is already removing the
 * device (backend Closing: a remove right after the add) is no error, as
 * for Linux's blkfront: close our end and wait for its nodes to go. */
static bool blkfront_removed(unsigned vdev)
{
	char path[64], be[96];
	unsigned long st;

	snprintf(path, sizeof(path), "device/vbd/%u/backend", vdev);
	if (xenbus_read(XBT_NIL, path, be, sizeof(be)) < 0)
		return true; /* gone already */
	snprintf(path, sizeof(path), "%s/state", be);
	if (xenbus_read_ulong(XBT_NIL, path, &st) == 0 && st < XenbusStateClosing)
		return false;
	snprintf(path, sizeof(path), "device/vbd/%u/state", vdev);
	xenbus_printf(XBT_NIL, path, "%u", XenbusStateClosed);
	printf("HOTPLUG removed while connecting %u\n", vdev);
	wait_gone(vdev);
	return true;
}

static void use_disk(struct blkfront *dev, const struct blkfront_info *info, unsigned i)
{
	uint8_t *buf = alloc_pages(1);
	char label[64];
	int rc;

	if (!buf)
		fail("out of memory", 0);
	rc = blkfront_io(dev, BLKIF_OP_READ, 0, buf, 512);
	if (rc)
		fail("read", rc);
	memcpy(label, buf, sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	for (char *p = label; *p; p++)
		if (*p == '\n' || (unsigned char)*p < 0x20)
			*p = '\0';
	memset(buf, 0, 512);
	snprintf((char *)buf, 64, "GUEST %s %u\n", info->name, i);
	rc = info->ro ? 0 : blkfront_io(dev, BLKIF_OP_WRITE, 1, buf, 512);
	if (!rc && !info->ro)
		rc = blkfront_flush(dev);
	if (rc)
		fail("write", rc);
	printf("HOTPLUG io %s read '%s' %s\n", info->name, label,
	       info->ro ? "read-only" : "wrote sector 1");
	free_pages(buf, 1);
}

int app_main(const char *cmdline)
{
	static unsigned seen[MAX_SEEN];
	unsigned nr_seen = 0, n = 1;
	const char *end;
	long rc;

	if (*cmdline)
		n = (unsigned)strtol(cmdline, &end, 10);
	rc = xenbus_watch("device/vbd", "vbd");
	if (rc < 0)
		fail("watch device/vbd", rc);
	/* Disks there from the start are not hot-plugged ones. */
	for (unsigned v; nr_seen < MAX_SEEN && (v = new_vbd(seen, nr_seen));)
		seen[nr_seen++] = v;
	printf("HOTPLUG ready for %u\n", n);
	for (unsigned i = 0; i < n; i++) {
		struct blkfront_info info;
		unsigned vdev = wait_new_vbd(seen, nr_seen);
		struct blkfront *dev;

		printf("HOTPLUG add %u\n", vdev);
		dev = blkfront_init(vdev, 0, &info);
		if (!dev && blkfront_removed(vdev)) {
			i--; /* taken away while connecting: not one of the N */
			continue;
		}
		if (!dev)
			fail("connect", vdev);
		printf("HOTPLUG connected %s %lu sectors%s\n", info.name,
		       (unsigned long)info.sectors, info.ro ? " ro" : "");
		use_disk(dev, &info, i);
		rc = blkfront_wait_closing(dev, monotonic_ns() + WAIT_NS);
		if (rc < 0)
			fail("no Closing", rc);
		blkfront_shutdown(dev);
		printf("HOTPLUG closed %s\n", info.name);
		wait_gone(vdev);
		printf("HOTPLUG gone %s\n", info.name);
	}
	printf("HOTPLUG done\n");
	return 0;
}
