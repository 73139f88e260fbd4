/* The host TSC rate, measured once per boot (see tsc_rate.h). */
#include "xen/tsc_rate.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <x86intrin.h>

#include "core/log.h"
#include "xen/time.h"

#define FULL_WINDOW_NS (20 * 1000 * 1000)
/* The check only has to tell another CPU model's rate (percents away)
 * from the cached one within 0.2 %; over 0.5 ms its error here was at most
 * 0.0022 % (200 tries on a nested host; 0.25 ms: 0.0045 %), and the start
 * has mostly spent that long before it asks (restore: ~1 ms). */
#define QUICK_WINDOW_NS (500 * 1000)
#define MIN_HZ 100000000ull    /* 100 MHz */
#define MAX_HZ 100000000000ull /* 100 GHz */

/* CLOCK_MONOTONIC and the TSC read as close together as we can: the
 * clock between two TSC reads, the tightest pair of a few. */
static void sample(int64_t *ns, uint64_t *tsc)
{
	uint64_t best = UINT64_MAX;

	*ns = 0;
	*tsc = 0;
	for (int i = 0; i < 5; i++) {
		uint64_t a = __rdtsc();
		int64_t t = time_monotonic_ns();
		uint64_t b = __rdtsc();

		if (b - a < best) {
			best = b - a;
			*ns = t;
			*tsc = a + (b - a) / 2;
		}
	}
}

/* The rate from the sample (t0, c0) to one at least window_ns later. */
static uint64_t measure_from(int64_t t0, uint64_t c0, int64_t window_ns)
{
	int64_t t1;
	uint64_t c1;

	do {
		sample(&t1, &c1);
	} while (t1 - t0 < window_ns);
	return (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
}

static uint64_t measure(int64_t window_ns)
{
	int64_t t0;
	uint64_t c0;

	sample(&t0, &c0);
	return measure_from(t0, c0, window_ns);
}

/* tsc_rate_start's sample: the quick check's window opens there. */
static struct {
	bool taken;
	int64_t ns;
	uint64_t tsc;
} early;

void tsc_rate_start(void)
{
	if (!early.taken) {
		sample(&early.ns, &early.tsc);
		early.taken = true;
	}
}

static bool invariant_tsc(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return false;
	__cpuid(0x80000007, a, b, c, d);
	return d & (1u << 8);
}

uint64_t tsc_rate_parse(const char *text, size_t len, const char *boot_id)
{
	size_t idlen = strlen(boot_id);
	unsigned long long hz;
	char buf[128], *end;

	if (!idlen || len >= sizeof(buf))
		return 0;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (strncmp(buf, boot_id, idlen) || buf[idlen] != ' ')
		return 0;
	if (buf[idlen + 1] < '0' || buf[idlen + 1] > '9')
		return 0;
	errno = 0;
	hz = strtoull(buf + idlen + 1, &end, 10);
	if (errno || strcmp(end, "\n") || hz < MIN_HZ || hz > MAX_HZ)
		return 0;
	return hz;
}

bool tsc_rate_agrees(uint64_t cached_hz, uint64_t quick_hz)
{
	uint64_t diff = cached_hz > quick_hz ? cached_hz - quick_hz : quick_hz - cached_hz;

	return cached_hz && diff * 500 <= cached_hz;
}

/* This boot's id (36 characters), or "" if the kernel has none. */
static void boot_id(char *id, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, id, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	id[n > 0 ? n : 0] = '\0';
	id[strcspn(id, "\n")] = '\0';
}

static void cache_path(char *path, size_t len, bool dir_only)
{
	const char *base = getenv("XDG_RUNTIME_DIR");

	if (!base || base[0] != '/')
		base = "/tmp";
	snprintf(path, len, "%s/pvisor-%u%s", base, (unsigned)geteuid(),
		 dir_only ? "" : "/tsc-rate");
}

static uint64_t cache_read(const char *id)
{
	char path[512], text[128];
	struct stat st;
	ssize_t n;
	int fd;

	cache_path(path, sizeof(path), false);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	/* Ours alone: another user's file could steer our guests' clocks. */
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022) ||
	    !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	return n > 0 ? tsc_rate_parse(text, (size_t)n, id) : 0;
}

/* Best effort: a cache that cannot be written costs the next start 20 ms. */
static void cache_write(const char *id, uint64_t hz)
{
	char dir[512], path[600], tmp[620], text[128];
	struct stat st;
	int fd, n;

	cache_path(dir, sizeof(dir), true);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077))
		return;
	snprintf(path, sizeof(path), "%s/tsc-rate", dir);
	snprintf(tmp, sizeof(tmp), "%s/.tsc-rate.%d", dir, (int)getpid());
	n = snprintf(text, sizeof(text), "%s %llu\n", id, (unsigned long long)hz);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, text, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

static uint64_t rate_hz;

static void find_rate(void)
{
	char id[64];
	uint64_t cached, quick;

	if (!invariant_tsc()) {
		rate_hz = 0; /* measured by every VM */
		return;
	}
	boot_id(id, sizeof(id));
	cached = id[0] ? cache_read(id) : 0;
	if (cached) {
		/* From the start's sample, the window has mostly passed
		 * (at least QUICK_WINDOW_NS all the same: longer is no
		 * less exact). */
		quick = early.taken ? measure_from(early.ns, early.tsc, QUICK_WINDOW_NS)
				    : measure(QUICK_WINDOW_NS);
		if (tsc_rate_agrees(cached, quick)) {
			rate_hz = cached;
			return;
		}
		log_debug("tsc: cached rate %llu Hz, measured %llu Hz: measuring again",
			  (unsigned long long)cached, (unsigned long long)quick);
	}
	rate_hz = measure(FULL_WINDOW_NS);
	if (id[0])
		cache_write(id, rate_hz);
}

uint64_t tsc_rate_hz(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, find_rate);
	return rate_hz ? rate_hz : measure(FULL_WINDOW_NS);
}
