/*
 * pvtest — exercises a Linux guest kernel's paravirtual paths under load.
 *
 *   pvtest [-n FORKS]
 *
 * Runs processes (fork/exec, FORKS times, default 1000), threads, signals
 * (to self, to a child, SIGSEGV recovery), mmap/munmap/mprotect (anonymous
 * and file-backed), demand faults over 64 MiB and file I/O on /tmp.  Each
 * check prints one line, "PASS name: detail" or "FAIL name: detail"; the
 * timings print machine-parsable lines "pvtest NAME VALUE UNIT".  The last
 * line is "pvtest: N passed, M failed"; the exit status is 0 only if every
 * check passed.  Static: gcc -static -O2 -pthread pvtest.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define FAULT_BYTES	(64UL << 20)
#define IO_BYTES	(8UL << 20)
#define NR_THREADS	8
#define THREAD_INCS	100000

static int passed, failed;

static void result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s: ", ok ? "PASS" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static void metric(const char *name, double value, const char *unit)
{
	printf("pvtest %s %.3f %s\n", name, value, unit);
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A small PRNG so that data patterns are not all zeros or all equal. */
static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* fork + exec /bin/true, n times; every child must exit 0. */
static void test_fork_exec(int n)
{
	int i, bad = 0;
	double t0 = now_s();

	for (i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();

		if (pid < 0) {
			result(0, "fork_exec", "fork #%d: %s", i, strerror(errno));
			return;
		}
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
	}
	double t = now_s() - t0;

	result(bad == 0, "fork_exec", "%d processes, %d failed, %.1f us each",
	       n, bad, t * 1e6 / n);
	metric("fork_exec_us", t * 1e6 / n, "us");
}

static void test_fork_exit(void)
{
	int i, n = 200, bad = 0;
	double t0 = now_s();

	for (i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();

		if (pid == 0)
			_exit(i & 0x7f);
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != (i & 0x7f))
			bad++;
	}
	double t = now_s() - t0;

	result(bad == 0, "fork_exit", "%d children exited with their status, %d wrong",
	       n, bad);
	metric("fork_exit_us", t * 1e6 / n, "us");
}

static atomic_long counter;

static void *thread_fn(void *arg)
{
	int i;

	for (i = 0; i < THREAD_INCS; i++)
		atomic_fetch_add(&counter, 1);
	return arg;
}

static void test_threads(void)
{
	pthread_t th[NR_THREADS];
	int i, started = 0;
	double t0 = now_s();

	atomic_store(&counter, 0);
	for (i = 0; i < NR_THREADS; i++)
		if (pthread_create(&th[i], NULL, thread_fn, NULL) == 0)
			started++;
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	long want = (long)NR_THREADS * THREAD_INCS, got = atomic_load(&counter);

	result(started == NR_THREADS && got == want, "threads",
	       "%d/%d threads, counter %ld (want %ld), %.1f ms", started,
	       NR_THREADS, got, want, (now_s() - t0) * 1e3);
}

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static void on_usr1_exit(int sig)
{
	(void)sig;
	_exit(42);
}

static void test_signals(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	int st, pfd[2];
	pid_t pid;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	usr1_seen = 0;
	raise(SIGUSR1);
	kill(getpid(), SIGUSR1);
	result(usr1_seen == 2, "signal_self", "handler ran %d times (want 2)",
	       (int)usr1_seen);

	/*
	 * The child installs a handler that exits 42, tells the parent through
	 * a pipe, then waits; the parent's SIGUSR1 must reach it.
	 */
	if (pipe(pfd)) {
		result(0, "signal_child", "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct sigaction ca = { .sa_handler = on_usr1_exit };
		sigset_t none;

		sigemptyset(&ca.sa_mask);
		sigaction(SIGUSR1, &ca, NULL);
		close(pfd[0]);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		sigemptyset(&none);
		for (;;)
			sigsuspend(&none);
	}
	close(pfd[1]);
	char c;
	int ready = pid > 0 && read(pfd[0], &c, 1) == 1;

	close(pfd[0]);
	if (pid > 0)
		kill(pid, SIGUSR1);
	st = 0;
	if (pid > 0)
		waitpid(pid, &st, 0);
	result(ready && WIFEXITED(st) && WEXITSTATUS(st) == 42, "signal_child",
	       "child ready %d, exit status %d (want 42)", ready,
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static sigjmp_buf segv_env;
static void *volatile segv_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	segv_addr = si->si_addr;
	siglongjmp(segv_env, 1);
}

/* 1 if writing (or reading) *p faults, 0 if not; the fault is recovered. */
static int faults(volatile char *p, int write)
{
	segv_addr = NULL;
	if (sigsetjmp(segv_env, 1))
		return segv_addr == (void *)p;
	if (write)
		*p = 1;
	else
		(void)*p;
	return 0;
}

static void test_segv_and_mprotect(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	size_t len = 16 * PAGE, i;
	char *p;
	int ok;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	ok = faults((volatile char *)8, 0);
	ok &= faults((volatile char *)8, 0);	/* and again: the mask was restored */
	result(ok, "sigsegv_recovery", "NULL-page read caught twice with si_addr");

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		result(0, "mmap_anon", "mmap: %s", strerror(errno));
		return;
	}
	for (i = 0; i < len; i++)
		p[i] = (char)(i * 7);
	ok = 1;
	for (i = 0; i < len; i++)
		ok &= p[i] == (char)(i * 7);
	result(ok, "mmap_anon", "16 pages written and read back");

	ok = mprotect(p, len, PROT_READ) == 0;
	ok = ok && faults(p + 5 * PAGE + 3, 1) && p[5 * PAGE + 3] == (char)((5 * PAGE + 3) * 7);
	ok = ok && mprotect(p + 5 * PAGE, PAGE, PROT_READ | PROT_WRITE) == 0 &&
	     !faults(p + 5 * PAGE + 3, 1) && faults(p + 6 * PAGE, 1);
	ok = ok && mprotect(p, PAGE, PROT_NONE) == 0 && faults(p, 0);
	result(ok, "mprotect", "read-only write faults, re-enabled page writes, PROT_NONE read faults");

	ok = munmap(p + 4 * PAGE, 4 * PAGE) == 0 && faults(p + 6 * PAGE, 0) &&
	     !faults(p + 9 * PAGE, 0) && munmap(p, len) == 0 && faults(p + 9 * PAGE, 0);
	result(ok, "munmap", "unmapped pages fault, the rest stay mapped");
}

static void test_mmap_file(void)
{
	const char *path = "/tmp/pvtest.map";
	size_t len = 64 * PAGE, i;
	char *p, *buf;
	int fd, ok = 1;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	buf = malloc(len);
	if (fd < 0 || !buf || ftruncate(fd, (off_t)len)) {
		result(0, "mmap_file", "setup: %s", strerror(errno));
		goto out;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		result(0, "mmap_file", "mmap: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < len; i++)
		p[i] = (char)(i ^ (i >> 9));
	ok = msync(p, len, MS_SYNC) == 0;
	ok = ok && pread(fd, buf, len, 0) == (ssize_t)len && memcmp(buf, p, len) == 0;
	/* And the other way: write() is seen through the mapping. */
	memset(buf, 0x5a, PAGE);
	ok = ok && pwrite(fd, buf, PAGE, 3 * PAGE) == (ssize_t)PAGE &&
	     p[3 * PAGE] == 0x5a && p[4 * PAGE - 1] == 0x5a;
	munmap(p, len);
	/* A private mapping does not write through. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p != MAP_FAILED) {
		p[0] = (char)~p[0];
		ok = ok && pread(fd, buf, 1, 0) == 1 && buf[0] != p[0];
		munmap(p, len);
	} else {
		ok = 0;
	}
	result(ok, "mmap_file", "shared mapping <-> read/write agree, private is copy-on-write");
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static void test_demand_faults(void)
{
	size_t pages = FAULT_BYTES / PAGE, i;
	uint64_t sum = 0, want = 0;
	char *p;

	p = mmap(NULL, FAULT_BYTES, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		result(0, "demand_faults", "mmap 64 MiB: %s", strerror(errno));
		return;
	}
	double t0 = now_s();

	for (i = 0; i < pages; i++)
		*(uint64_t *)(p + i * PAGE) = i * 2654435761u;
	double t = now_s() - t0;

	for (i = 0; i < pages; i++) {
		sum += *(uint64_t *)(p + i * PAGE);
		want += i * 2654435761u;
	}
	munmap(p, FAULT_BYTES);
	result(sum == want, "demand_faults", "%zu pages (64 MiB) faulted in, %.1f ms",
	       pages, t * 1e3);
	metric("pagefault_ns", t * 1e9 / (double)pages, "ns");
}

static void test_file_io(void)
{
	const char *path = "/tmp/pvtest.io";
	uint64_t seed = 0x9e3779b97f4a7c15ull, c1 = 0, c2 = 0;
	uint64_t *buf = malloc(IO_BYTES);
	size_t i, n = IO_BYTES / sizeof(*buf);
	int fd, ok = 0;

	if (!buf) {
		result(0, "file_io", "malloc failed");
		return;
	}
	for (i = 0; i < n; i++) {
		buf[i] = xorshift(&seed);
		c1 = c1 * 31 + buf[i];
	}
	double t0 = now_s();

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		size_t off = 0;

		/* In 64 KiB writes, like a program would. */
		while (off < IO_BYTES) {
			ssize_t w = write(fd, (char *)buf + off, 65536);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		ok = off == IO_BYTES && fsync(fd) == 0;
		close(fd);
	}
	double tw = now_s() - t0;

	memset(buf, 0, IO_BYTES);
	fd = open(path, O_RDONLY);
	if (ok && fd >= 0) {
		size_t off = 0;
		ssize_t r;

		while (off < IO_BYTES && (r = read(fd, (char *)buf + off, IO_BYTES - off)) > 0)
			off += (size_t)r;
		ok = off == IO_BYTES;
		for (i = 0; i < n; i++)
			c2 = c2 * 31 + buf[i];
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(buf);
	result(ok && c1 == c2, "file_io", "8 MiB written, fsynced, read back, checksum %s",
	       c1 == c2 ? "matches" : "differs");
	metric("tmpfs_write_MBps", tw > 0 ? 8.0 / tw : 0, "MB/s");
}

static void test_syscall_cost(void)
{
	int i, n = 200000;
	pid_t pp = getppid(), bad = 0;
	double t0 = now_s();

	for (i = 0; i < n; i++)
		bad |= getppid() != pp;
	double t = now_s() - t0;

	result(!bad, "syscall", "%d getppid calls", n);
	metric("syscall_ns", t * 1e9 / n, "ns");
}

int main(int argc, char **argv)
{
	int forks = 1000;

	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		forks = atoi(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: pvtest [-n FORKS]\n");
		return 2;
	}
	if (forks < 1)
		forks = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	double t0 = now_s();

	test_syscall_cost();
	test_fork_exit();
	test_fork_exec(forks);
	test_threads();
	test_signals();
	test_segv_and_mprotect();
	test_mmap_file();
	test_demand_faults();
	test_file_io();
	metric("total_s", now_s() - t0, "s");
	printf("pvtest: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
