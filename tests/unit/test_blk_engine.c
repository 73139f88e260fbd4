/*
 * Block I/O engines (blk_engine.h) on a temporary file: both engines where
 * io_uring works here (the thread pool always), the same contract for each —
 * data written is read back, a flush completes, errors are negative res,
 * every job completes exactly once, kicks are delivered, close with jobs in
 * flight returns — and the choice: PVISOR_BLK_ENGINE, and the fallback to
 * the pool when io_uring cannot be set up (failure injected).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "services/blkback/blk_engine.h"

#define DEPTH 512
#define BLK 4096
#define NBLK 1024 /* 4 MiB file */

struct fixture {
	enum blk_engine_kind kind;
	unsigned threads;
	bool nowait;
	char path[64];
	int fd, efd;
	struct blk_engine *e;
};

static int setup(void **state, enum blk_engine_kind kind, unsigned threads,
		 bool nowait)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char err[160];
	int rc;

	if (!f)
		return -1;
	f->kind = kind;
	f->threads = threads;
	f->nowait = nowait;
	snprintf(f->path, sizeof(f->path), "%s/blk_engine.XXXXXX", tmp ? tmp : "/tmp");
	f->fd = mkstemp(f->path);
	f->efd = eventfd(0, EFD_CLOEXEC);
	if (f->fd < 0 || f->efd < 0 || ftruncate(f->fd, (off_t)NBLK * BLK))
		return -1;
	if (kind == BLK_ENGINE_URING)
		rc = blk_engine_uring_open(f->efd, DEPTH, &f->e, err, sizeof(err));
	else
		rc = blk_engine_threads_open(f->efd, DEPTH, threads, f->nowait,
					     &f->e, err, sizeof(err));
	if (rc < 0 && kind == BLK_ENGINE_URING)
		fprintf(stderr, "# io_uring unavailable here: %s\n", err);
	*state = f;
	return 0;
}

/* As blkback opens it: 8 workers, RWF_NOWAIT tried first. */
static int setup_threads(void **state)
{
	return setup(state, BLK_ENGINE_THREADS, 8, true);
}

/* Every job through the workers. */
static int setup_pool(void **state)
{
	return setup(state, BLK_ENGINE_THREADS, 8, false);
}

static int setup_pool1(void **state)
{
	return setup(state, BLK_ENGINE_THREADS, 1, false);
}

static int setup_uring(void **state)
{
	return setup(state, BLK_ENGINE_URING, 0, false);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	blk_engine_close(f->e);
	close(f->efd);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

/* The fixture's engine, or a skip where io_uring cannot run. */
static struct blk_engine *engine(void **state)
{
	struct fixture *f = *state;

	if (!f->e)
		skip();
	return f->e;
}

/* Waits for `count` job completions: res[idx] gets each, seen[idx] counts
 * them; kicks are counted in *events if given. */
static void collect(struct blk_engine *e, unsigned count, int32_t *res,
		    unsigned *seen, unsigned nseen, unsigned *events)
{
	struct blk_completion c[64];

	while (count) {
		int n = blk_engine_wait(e, c, 64);

		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			if (c[i].idx == BLK_ENGINE_EVENT) {
				if (events)
					++*events;
				continue;
			}
			assert_true(c[i].idx < nseen);
			seen[c[i].idx]++;
			res[c[i].idx] = c[i].res;
			assert_true(count > 0);
			count--;
		}
	}
}

static void pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed * 131 + (i >> 9));
}

/* 64 writes of 16 KiB in two scattered iovecs, then 64 reads back. */
static void test_write_read(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	enum { N = 64, SZ = 16384 };
	static uint8_t wbuf[N][SZ], rbuf[N][SZ];
	static struct iovec wiov[N][2], riov[N][2];
	int32_t res[N];
	unsigned seen[N] = { 0 };

	for (unsigned i = 0; i < N; i++) {
		pattern(wbuf[i], SZ, i);
		wiov[i][0] = (struct iovec){ wbuf[i], 4096 };
		wiov[i][1] = (struct iovec){ wbuf[i] + 4096, SZ - 4096 };
		assert_int_equal(blk_engine_submit_rw(e, i, f->fd, wiov[i], 2,
						      (off_t)i * SZ, true), 0);
	}
	assert_int_equal(blk_engine_commit(e), 0);
	collect(e, N, res, seen, N, NULL);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(seen[i], 1);
		assert_int_equal(res[i], SZ);
	}
	/* On the file, seen by plain pread. */
	uint8_t check[SZ];
	assert_int_equal(pread(f->fd, check, SZ, 5 * SZ), SZ);
	assert_memory_equal(check, wbuf[5], SZ);

	memset(rbuf, 0, sizeof(rbuf));
	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < N; i++) {
		riov[i][0] = (struct iovec){ rbuf[i], SZ / 2 };
		riov[i][1] = (struct iovec){ rbuf[i] + SZ / 2, SZ / 2 };
		assert_int_equal(blk_engine_submit_rw(e, i, f->fd, riov[i], 2,
						      (off_t)i * SZ, false), 0);
	}
	assert_int_equal(blk_engine_commit(e), 0);
	collect(e, N, res, seen, N, NULL);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(seen[i], 1);
		assert_int_equal(res[i], SZ);
		assert_memory_equal(rbuf[i], wbuf[i], SZ);
	}
}

/* Write, then flush (after the write completed, as blkback orders it). */
static void test_flush(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	static uint8_t buf[BLK];
	struct iovec iov = { buf, BLK };
	int32_t res[2];
	unsigned seen[2] = { 0 };

	memset(buf, 0xA5, sizeof(buf));
	assert_int_equal(blk_engine_submit_rw(e, 0, f->fd, &iov, 1, 0, true), 0);
	blk_engine_commit(e);
	collect(e, 1, res, seen, 2, NULL);
	assert_int_equal(res[0], BLK);
	assert_int_equal(blk_engine_submit_flush(e, 1, f->fd), 0);
	blk_engine_commit(e);
	collect(e, 1, res, seen, 2, NULL);
	assert_int_equal(seen[1], 1);
	assert_int_equal(res[1], 0);
}

/* Discard punches a hole: the range reads back as zeros. */
static void test_discard(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	static uint8_t buf[4 * BLK], zero[2 * BLK];
	int32_t res[1];
	unsigned seen[1] = { 0 };

	memset(buf, 0x5A, sizeof(buf));
	assert_int_equal(pwrite(f->fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(blk_engine_submit_discard(e, 0, f->fd, BLK, 2 * BLK), 0);
	blk_engine_commit(e);
	collect(e, 1, res, seen, 1, NULL);
	if (res[0] == -EOPNOTSUPP)
		skip(); /* the file system of TMPDIR cannot punch holes */
	assert_int_equal(res[0], 0);
	assert_int_equal(pread(f->fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_memory_equal(buf + BLK, zero, 2 * BLK);
	assert_int_equal(buf[0], 0x5A);
	assert_int_equal(buf[3 * BLK], 0x5A);
}

/* Host errors come back as -errno in res, never as a failed submit. */
static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	static uint8_t buf[BLK];
	struct iovec iov = { buf, BLK };
	int pfd[2], wo;
	int32_t res[6];
	unsigned seen[6] = { 0 };

	assert_int_equal(pipe(pfd), 0);
	wo = open(f->path, O_WRONLY);
	assert_true(wo >= 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(blk_engine_submit_rw(e, 0, -1, &iov, 1, 0, false), 0);
	assert_int_equal(blk_engine_submit_rw(e, 1, f->fd, &iov, 1, -4096, true), 0);
	assert_int_equal(blk_engine_submit_rw(e, 2, wo, &iov, 1, 0, false), 0);
	assert_int_equal(blk_engine_submit_flush(e, 3, -1), 0);
	assert_int_equal(blk_engine_submit_discard(e, 4, pfd[0], 0, BLK), 0);
	assert_int_equal(blk_engine_submit_discard(e, 5, f->fd, -BLK, BLK), 0);
	blk_engine_commit(e);
	collect(e, 6, res, seen, 6, NULL);
	assert_int_equal(res[0], -EBADF);
	assert_int_equal(res[1], -EINVAL);
	assert_int_equal(res[2], -EBADF);
	assert_int_equal(res[3], -EBADF);
	assert_true(res[4] < 0);
	assert_int_equal(res[5], -EINVAL);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(seen[i], 1);
	close(wo);
	close(pfd[0]);
	close(pfd[1]);
}

/* Refused at submission: too many iovecs, the event's idx. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	static struct iovec iov[BLK_ENGINE_MAX_IOV + 1];

	assert_int_equal(blk_engine_submit_rw(e, 0, f->fd, iov,
					      BLK_ENGINE_MAX_IOV + 1, 0, false),
			 -EINVAL);
	assert_int_equal(blk_engine_submit_flush(e, BLK_ENGINE_EVENT, f->fd),
			 f->kind == BLK_ENGINE_URING ? -EBUSY : -EINVAL);
}

/* A read past the end: the pool finishes short transfers itself (here:
 * nothing more to read, -EIO); io_uring hands back the short count, which
 * blkback's finish_short turns into the same -EIO. */
static void test_short(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	static uint8_t buf[2 * BLK];
	struct iovec iov = { buf, sizeof(buf) };
	off_t end = (off_t)NBLK * BLK;
	int32_t res[1];
	unsigned seen[1] = { 0 };

	memset(buf, 0, sizeof(buf));
	assert_int_equal(blk_engine_submit_rw(e, 0, f->fd, &iov, 1, end - BLK, false), 0);
	blk_engine_commit(e);
	collect(e, 1, res, seen, 1, NULL);
	if (f->kind == BLK_ENGINE_URING)
		assert_int_equal(res[0], BLK);
	else
		assert_int_equal(res[0], -EIO);
}

/* A full queue of jobs, many rounds: each completes exactly once, one more
 * than `depth` is refused, and the engine keeps working after that. */
static void test_many(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	static uint8_t bufs[DEPTH][512];
	static struct iovec iov[DEPTH];
	static int32_t res[DEPTH];
	static unsigned seen[DEPTH];
	struct iovec extra = { bufs[0], 512 };

	for (unsigned round = 0; round < 20; round++) {
		memset(seen, 0, sizeof(seen));
		for (unsigned i = 0; i < DEPTH; i++) {
			memset(bufs[i], (int)(i + round), sizeof(bufs[i]));
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			assert_int_equal(blk_engine_submit_rw(e, i, f->fd, &iov[i], 1,
							      (off_t)i * 4096 + round * 512,
							      round % 2 == 0), 0);
		}
		if (round == 0)
			assert_int_equal(blk_engine_submit_rw(e, 0, f->fd, &extra, 1, 0,
							      false), -EBUSY);
		assert_int_equal(blk_engine_commit(e), 0);
		collect(e, DEPTH, res, seen, DEPTH, NULL);
		for (unsigned i = 0; i < DEPTH; i++) {
			assert_int_equal(seen[i], 1);
			assert_int_equal(res[i], 512);
		}
	}
}

/* A kick of the event fd wakes the wait; so does one during I/O. */
static void test_event(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	struct blk_completion c[4];
	uint64_t one = 1;
	static uint8_t buf[BLK];
	struct iovec iov = { buf, BLK };
	int32_t res[1];
	unsigned seen[1] = { 0 }, events = 0;
	int n;

	assert_int_equal(write(f->efd, &one, sizeof(one)), sizeof(one));
	n = blk_engine_wait(e, c, 4);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].idx, BLK_ENGINE_EVENT);

	/* A second kick after the first was taken is delivered too. */
	blk_engine_commit(e);
	assert_int_equal(write(f->efd, &one, sizeof(one)), sizeof(one));
	do {
		n = blk_engine_wait(e, c, 4);
		assert_int_equal(n, 1);
	} while (c[0].idx != BLK_ENGINE_EVENT);

	memset(buf, 0, sizeof(buf));
	assert_int_equal(blk_engine_submit_rw(e, 0, f->fd, &iov, 1, 0, false), 0);
	blk_engine_commit(e);
	assert_int_equal(write(f->efd, &one, sizeof(one)), sizeof(one));
	collect(e, 1, res, seen, 1, &events);
	assert_int_equal(res[0], BLK);
	/* The kick may come with the completion or right after it. */
	if (!events) {
		n = blk_engine_wait(e, c, 4);
		assert_int_equal(n, 1);
		assert_int_equal(c[0].idx, BLK_ENGINE_EVENT);
	}
}

/* Close with a full queue in flight: returns, frees everything (ASan and
 * valgrind check the leaks), and no worker touches the buffers after. */
static void test_close_in_flight(void **state)
{
	struct fixture *f = *state;
	struct blk_engine *e = engine(state);
	static uint8_t bufs[64][65536];
	static struct iovec iov[64];

	for (unsigned k = 0; k < DEPTH; k++) {
		unsigned i = k % 64;

		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		assert_int_equal(blk_engine_submit_rw(e, k, f->fd, &iov[i], 1,
						      (off_t)i * 65536, k % 3 == 0), 0);
	}
	blk_engine_commit(e);
	blk_engine_close(e);
	f->e = NULL;
	memset(bufs, 0xEE, sizeof(bufs)); /* a late worker write would show */
}

/* Every write the caller does itself counts as slow: the next ones go to
 * the workers; all still complete once, with their data on the file. */
static void test_slow_writes(void **state)
{
	uint64_t saved = blk_engine_threads_slow_ns;

	blk_engine_threads_slow_ns = 0;
	test_many(state);
	test_write_read(state);
	blk_engine_threads_slow_ns = saved;
}

/* PVISOR_BLK_ENGINE parsing. */
static void test_env(void **state)
{
	enum blk_engine_kind k;
	char err[128];

	unsetenv("PVISOR_BLK_ENGINE");
	assert_int_equal(blk_engine_kind_from_env(&k, err, sizeof(err)), 0);
	assert_int_equal(k, BLK_ENGINE_AUTO);
	setenv("PVISOR_BLK_ENGINE", "threads", 1);
	assert_int_equal(blk_engine_kind_from_env(&k, err, sizeof(err)), 0);
	assert_int_equal(k, BLK_ENGINE_THREADS);
	setenv("PVISOR_BLK_ENGINE", "uring", 1);
	assert_int_equal(blk_engine_kind_from_env(&k, err, sizeof(err)), 0);
	assert_int_equal(k, BLK_ENGINE_URING);
	setenv("PVISOR_BLK_ENGINE", "auto", 1);
	assert_int_equal(blk_engine_kind_from_env(&k, err, sizeof(err)), 0);
	assert_int_equal(k, BLK_ENGINE_AUTO);
	setenv("PVISOR_BLK_ENGINE", "aio", 1);
	assert_int_equal(blk_engine_kind_from_env(&k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "PVISOR_BLK_ENGINE=aio"));
	unsetenv("PVISOR_BLK_ENGINE");
}

/* io_uring setup failing (injected): auto falls back to the pool, which
 * works; uring is an error saying why; threads never tries io_uring. */
static void test_fallback(void **state)
{
	struct blk_engine *e;
	char err[200] = "";
	int efd = eventfd(0, EFD_CLOEXEC), fd;
	const char *tmp = getenv("TMPDIR");
	char path[64];
	static uint8_t buf[BLK];
	struct iovec iov = { buf, BLK };
	struct blk_completion c[4];
	int n;

	snprintf(path, sizeof(path), "%s/blk_engine_fb.XXXXXX", tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0 && efd >= 0);
	assert_int_equal(ftruncate(fd, BLK), 0);
	blk_engine_uring_fail = ENOSYS;

	assert_int_equal(blk_engine_open(BLK_ENGINE_URING, efd, 8, &e, err, sizeof(err)),
			 -ENOSYS);
	assert_null(e);
	assert_non_null(strstr(err, "io_uring"));
	assert_non_null(strstr(err, "PVISOR_BLK_ENGINE=uring"));

	assert_int_equal(blk_engine_open(BLK_ENGINE_AUTO, efd, 8, &e, err, sizeof(err)), 0);
	assert_string_equal(blk_engine_name(e), "threads");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(blk_engine_submit_rw(e, 3, fd, &iov, 1, 0, false), 0);
	blk_engine_commit(e);
	do {
		n = blk_engine_wait(e, c, 4);
		assert_true(n > 0);
	} while (c[0].idx == BLK_ENGINE_EVENT && n == 1);
	assert_int_equal(c[0].idx, 3);
	assert_int_equal(c[0].res, BLK);
	blk_engine_close(e);

	assert_int_equal(blk_engine_open(BLK_ENGINE_THREADS, efd, 8, &e, err, sizeof(err)), 0);
	assert_string_equal(blk_engine_name(e), "threads");
	blk_engine_close(e);
	blk_engine_uring_fail = 0;

	/* Without the injection, auto is io_uring where io_uring works. */
	struct blk_engine *u;
	bool uring_here = blk_engine_uring_open(efd, 8, &u, err, sizeof(err)) == 0;

	blk_engine_close(u);
	assert_int_equal(blk_engine_open(BLK_ENGINE_AUTO, efd, 8, &e, err, sizeof(err)), 0);
	assert_string_equal(blk_engine_name(e), uring_here ? "io_uring" : "threads");
	blk_engine_close(e);
	close(fd);
	close(efd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define ONE(t, kind) { #t "/" #kind, t, setup_##kind, teardown, NULL }
#define BOTH(t) ONE(t, threads), ONE(t, pool), ONE(t, uring)
		BOTH(test_write_read),
		BOTH(test_flush),
		BOTH(test_discard),
		BOTH(test_errors),
		BOTH(test_refused),
		BOTH(test_short),
		BOTH(test_many),
		BOTH(test_event),
		BOTH(test_close_in_flight),
		ONE(test_many, pool1),
		ONE(test_slow_writes, threads),
		ONE(test_close_in_flight, pool1),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_fallback),
#undef BOTH
#undef ONE
	};

	alarm(120); /* a hang is a failure, not a stuck suite */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
