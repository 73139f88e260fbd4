/*
 * iob — one small static program that measures the same I/O on the host and
 * inside a Linux guest (bench/linux/io.sh, docs/linux-io.md).
 *
 *   iob seqwrite FILE MIB BS     O_DIRECT sequential write, then fdatasync
 *   iob seqread FILE MIB BS      O_DIRECT sequential read
 *   iob randread FILE MIB OPS    O_DIRECT 4 KiB reads at random offsets
 *                                within the first MIB MiB, queue depth 1
 *   iob send HOST PORT MIB       connect, send MIB MiB, close
 *   iob recv HOST PORT           connect, read until EOF
 *   iob serve-send PORT MIB      listen on 0.0.0.0:PORT, send MIB MiB to
 *                                the first client
 *   iob serve-recv PORT          listen, read the first client until EOF
 * Each prints one line "iob MODE MB/s=X [IOPS=Y] bytes=N s=T", the time
 * taken with CLOCK_MONOTONIC around the transfer only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "iob: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void report(const char *mode, uint64_t bytes, double s, uint64_t ops)
{
	printf("iob %s MB/s=%.1f", mode, bytes / s / 1e6);
	if (ops)
		printf(" IOPS=%.0f", ops / s);
	printf(" bytes=%llu s=%.3f\n", (unsigned long long)bytes, s);
	fflush(stdout);
}

static void *buffer(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		die("posix_memalign");
	memset(p, 0x5a, len);
	return p;
}

static void disk(const char *mode, const char *path, uint64_t mib, uint64_t arg)
{
	int wr = !strcmp(mode, "seqwrite"), fd;
	uint64_t total = mib << 20, done = 0, ops = 0;
	size_t bs = strcmp(mode, "randread") ? arg : 4096;
	char *buf;
	double t0;

	if (!bs || bs % 4096 || bs > (64u << 20))
		errno = EINVAL, die("block size");
	buf = buffer(bs);
	fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		die(path);
	t0 = now();
	if (!strcmp(mode, "randread")) {
		uint64_t blocks = total / 4096, x = 88172645463325252ull;

		for (ops = 0; ops < arg; ops++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (pread(fd, buf, 4096, (x % blocks) * 4096) != 4096)
				die("pread");
		}
		done = ops * 4096;
	} else {
		for (; done < total; done += bs) {
			ssize_t n = wr ? pwrite(fd, buf, bs, done) : pread(fd, buf, bs, done);

			if (n != (ssize_t)bs)
				die(wr ? "pwrite" : "pread");
		}
		if (wr && fdatasync(fd))
			die("fdatasync");
		ops = 0;
	}
	report(mode, done, now() - t0, ops);
	close(fd);
}

static int tcp_connect(const char *host, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	return fd;
}

static int tcp_accept(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), fd;

	if (l < 0)
		die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1))
		die("bind");
	printf("iob listening %d\n", port);
	fflush(stdout);
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(l);
	return fd;
}

static void net_send(const char *mode, int fd, uint64_t mib)
{
	size_t bs = 256 * 1024;
	char *buf = buffer(bs);
	uint64_t total = mib << 20, done = 0;
	double t0 = now();

	while (done < total) {
		ssize_t n = write(fd, buf, total - done < bs ? total - done : bs);

		if (n <= 0)
			die("write");
		done += n;
	}
	shutdown(fd, SHUT_WR);
	/* Wait for the peer's close so that the time covers delivery. */
	while (read(fd, buf, bs) > 0)
		;
	report(mode, done, now() - t0, 0);
	close(fd);
}

static void net_recv(const char *mode, int fd)
{
	size_t bs = 256 * 1024;
	char *buf = buffer(bs);
	uint64_t done = 0;
	double t0 = 0;
	ssize_t n;

	while ((n = read(fd, buf, bs)) > 0) {
		if (!done)
			t0 = now();	/* from the first byte: excludes the connect */
		done += n;
	}
	if (n < 0)
		die("read");
	report(mode, done, now() - t0, 0);
	close(fd);
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	if (argc == 5 && (!strcmp(m, "seqwrite") || !strcmp(m, "seqread") || !strcmp(m, "randread")))
		disk(m, argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0));
	else if (argc == 5 && !strcmp(m, "send"))
		net_send(m, tcp_connect(argv[2], atoi(argv[3])), strtoull(argv[4], NULL, 0));
	else if (argc == 4 && !strcmp(m, "recv"))
		net_recv(m, tcp_connect(argv[2], atoi(argv[3])));
	else if (argc == 4 && !strcmp(m, "serve-send"))
		net_send(m, tcp_accept(atoi(argv[2])), strtoull(argv[3], NULL, 0));
	else if (argc == 3 && !strcmp(m, "serve-recv"))
		net_recv(m, tcp_accept(atoi(argv[2])));
	else {
		fprintf(stderr, "usage: see the comment at the top of iob.c\n");
		return 2;
	}
	return 0;
}
