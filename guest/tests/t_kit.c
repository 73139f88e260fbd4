/*
 * The kit itself: threads (sleep order, yield, join), page allocator and
 * kmalloc, event masking (an event sent while masked is delivered on
 * unmask), the PV clock's monotonicity, and xenbus's queue of watch
 * events (a live one survives many watches made and removed).
 */
#include <kit/console.h>
#include <kit/events.h>
#include <kit/kit.h>
#include <kit/mm.h>
#include <kit/sched.h>
#include <kit/string.h>
#include <kit/test.h>
#include <kit/time.h>
#include <kit/xenbus.h>

static char order[8];
static unsigned order_len;
static unsigned pingpong;

static void sleeper(void *arg)
{
	unsigned long ms = (unsigned long)arg;

	sleep_ms(ms);
	order[order_len++] = (char)('0' + ms / 10);
}

static void yielder(void *arg)
{
	for (unsigned i = 0; i < 100; i++) {
		pingpong++;
		thread_yield();
	}
}

static void test_threads(void)
{
	struct thread *t[3];
	uint64_t t0 = monotonic_ns(), dt;

	t[0] = thread_create("s30", sleeper, (void *)30ul);
	t[1] = thread_create("s10", sleeper, (void *)10ul);
	t[2] = thread_create("s20", sleeper, (void *)20ul);
	for (unsigned i = 0; i < 3; i++)
		thread_join(t[i]);
	dt = monotonic_ns() - t0;
	order[order_len] = '\0';
	check(!strcmp(order, "123"), "threads_wake_in_deadline_order",
	      "order %s", order);
	check(dt >= 30000000 && dt < 1000000000ull, "threads_sleep_in_parallel",
	      "took %lu us", dt / 1000);

	t[0] = thread_create("y1", yielder, NULL);
	t[1] = thread_create("y2", yielder, NULL);
	thread_join(t[0]);
	thread_join(t[1]);
	check(pingpong == 200, "threads_yield", "count %u", pingpong);
}

static bool kmalloc_round(void)
{
	void *p[64];
	bool ok = true;

	for (unsigned i = 0; i < ARRAY_SIZE(p); i++) {
		size_t sz = 8u << (i % 12); /* 8 B .. 16 KiB */

		p[i] = kmalloc(sz);
		if (!p[i]) {
			ok = false;
			break;
		}
		memset(p[i], (int)i, sz);
	}
	for (unsigned i = 0; ok && i < ARRAY_SIZE(p); i++) {
		unsigned char *c = p[i];
		size_t sz = 8u << (i % 12);

		if (c[0] != (unsigned char)i || c[sz - 1] != (unsigned char)i)
			ok = false;
	}
	for (unsigned i = 0; i < ARRAY_SIZE(p); i++)
		kfree(p[i]);
	return ok;
}

static void test_memory(void)
{
	unsigned long before;

	/* The first round fills kmalloc's size-class caches. */
	check(kmalloc_round(), "kmalloc_blocks_distinct",
	      "overlap or allocation failure");
	before = mm_free_pages();
	check(kmalloc_round(), "kmalloc_blocks_distinct_again",
	      "overlap or allocation failure");
	check(mm_free_pages() == before, "kmalloc_reuses_freed_blocks",
	      "free %lu, before %lu", mm_free_pages(), before);

	void *big = alloc_pages(16);
	check(big != NULL, "alloc_pages_16", "no memory");
	if (big) {
		((char *)big)[16 * PAGE_SIZE - 1] = 1;
		free_pages(big, 16);
	}
	check(mm_free_pages() == before, "pages_returned",
	      "free %lu, before %lu", mm_free_pages(), before);
}

static volatile unsigned ipi_hits;

static void ipi_handler(evtchn_port_t port, void *data)
{
	ipi_hits++;
}

static void test_masking(void)
{
	long port = evtchn_bind_ipi(ipi_handler, NULL);
	unsigned long flags;

	if (!check(port > 0, "bind_ipi", "rc %ld", port))
		return;
	flags = local_irq_save();
	evtchn_send(port);
	check(ipi_hits == 0, "event_held_while_masked", "hits %u", ipi_hits);
	local_irq_restore(flags);
	check(ipi_hits == 1, "event_delivered_on_unmask", "hits %u", ipi_hits);

	evtchn_mask(port);
	evtchn_send(port);
	check(ipi_hits == 1, "port_mask_holds_event", "hits %u", ipi_hits);
	evtchn_unmask(port);
	check(ipi_hits == 2, "port_unmask_delivers", "hits %u", ipi_hits);

	evtchn_send(port);
	check(ipi_hits == 3, "event_delivered_unmasked", "hits %u", ipi_hits);
	check_rc(evtchn_close(port), 0, "close_ipi");
}

static void test_clock(void)
{
	uint64_t prev = monotonic_ns(), sec;
	uint32_t nsec;
	bool mono = true;

	for (unsigned i = 0; i < 100000; i++) {
		uint64_t now = monotonic_ns();

		if (now < prev)
			mono = false;
		prev = now;
	}
	check(mono, "clock_monotonic", "went backwards");
	wallclock(&sec, &nsec);
	check(sec > 1600000000ull && nsec < 1000000000u, "wallclock_sane",
	      "%lu.%09u", sec, nsec);
}

/* A watch event stays queued until it is taken, however many watches come
 * and go meanwhile: each fires once when made, and an unwatched token's
 * events go with it, so dead tokens cannot push the live one out of the
 * kit's 16-slot queue (a blkfront close lost its wake-up that way). */
static void test_xenbus_events(void)
{
	char tok[24];
	int rc;

	rc = xenbus_write(XBT_NIL, "data/kit-live", "0");
	rc = rc ? rc : xenbus_watch("data/kit-live", "kit-live");
	rc = rc ? rc : xenbus_write(XBT_NIL, "data/kit-live", "1");
	for (unsigned i = 0; i < 40 && !rc; i++) {
		snprintf(tok, sizeof(tok), "kit-dead-%u", i);
		rc = xenbus_watch("data/kit-dead", tok);
		rc = rc ? rc : xenbus_unwatch("data/kit-dead", tok);
	}
	check(rc == 0, "xenbus_watch_churn", "rc %d", rc);
	rc = xenbus_poll_watch("kit-live");
	check(rc == 0, "xenbus_live_event_kept", "rc %d", rc);
	xenbus_unwatch("data/kit-live", "kit-live");
}

/* A value three times the store's 1 KiB rings, written and read back:
 * the request waits for room in `req`, the reply fills `rsp` (the kit
 * notifies once a message, and on a read only where `rsp` was full). */
static void test_xenbus_large(void)
{
	static char val[3000], back[3100];
	long n;
	int rc;

	for (unsigned i = 0; i < sizeof(val) - 1; i++)
		val[i] = (char)('a' + (i * 7) % 26);
	val[sizeof(val) - 1] = '\0';
	for (unsigned round = 0; round < 3; round++) {
		val[0] = (char)('0' + round);
		rc = xenbus_write(XBT_NIL, "data/kit-large", val);
		n = rc ? rc : xenbus_read(XBT_NIL, "data/kit-large", back, sizeof(back));
		if (n != (long)strlen(val) || strcmp(back, val))
			break;
	}
	check(n == (long)strlen(val) && !strcmp(back, val),
	      "xenbus_large_value_round_trips", "value %c: rc %d, %ld bytes", val[0], rc, n);
}

int app_main(const char *cmdline)
{
	printf("t_kit on %s\n", kit_backend());
	test_threads();
	test_memory();
	test_masking();
	test_clock();
	test_xenbus_events();
	test_xenbus_large();
	test_finish();
}
