/*
 * The thread-pool block I/O engine (see blk_engine.h), for hosts without
 * io_uring.  A fixed number of workers take jobs from FIFOs (one mutex; a
 * condition variable per worker), make the host call — preadv/pwritev
 * (short transfers finished in the worker), fdatasync, fallocate — and
 * post the result to a completion FIFO.
 *
 * What io_uring does by itself, done here by hand (each measured with
 * bench/blk_engines.sh; without them 4 KiB writes ran at 0.57x io_uring):
 * - Reads and writes are first tried by the submitting thread with
 *   RWF_NOWAIT (try_now): a page-cache hit is copied without a thread
 *   switch; what would block goes to a worker.
 * - Writes run one at a time, in submission order (io_uring's workers hash
 *   writes to one file onto one worker): buffered writers to one file
 *   serialize on its inode lock anyway, and queueing there costs a sleep
 *   and a wakeup each.  The others run in parallel.
 * - A worker is signalled after the lock is dropped, at most one is called
 *   to become the writer, the idle worker woken is the one that went idle
 *   last, and the mutex spins a little before sleeping: context switches
 *   are what this costs on a host where every one is dear.
 * - The device thread sleeps in one blocking read of the caller's event fd
 *   — the same eventfd the guest's kicks go to — and only after finding
 *   the completion FIFO empty, under the lock; a worker that posts while
 *   it sleeps adds 1 to the fd, once per sleep, and a completion posted
 *   while it is busy costs no system call.  Kicks and completions are
 *   told apart by the FIFO; a wakeup for a completion is also reported as
 *   BLK_ENGINE_EVENT, which only makes the device thread look at its ring
 *   once more.
 * - A write queued when the device thread would otherwise sleep, with no
 *   worker writing, is done by the device thread (t_wait); one, then it
 *   looks at the ring again.  A write that takes longer than 1 ms sends
 *   the next ones to the workers for a second, so a slow disk or dirty
 *   page throttling does not keep the ring waiting.
 *
 * Bounded: `depth` job records, allocated up front; a job holds its record
 * from submission until its completion is delivered, so neither FIFO can
 * overflow and a worker never waits for the device thread.
 */
#include "services/blkback/blk_engine.h"
#include "core/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A write the device thread did itself that took longer than this sends
 * the next writes to the workers for WRITE_SLOW_BACKOFF_NS. */
#define WRITE_SLOW_NS 1000000ull           /* 1 ms */
#define WRITE_SLOW_BACKOFF_NS 1000000000ull /* 1 s */

uint64_t blk_engine_threads_slow_ns = WRITE_SLOW_NS;

enum job_op { JOB_READ, JOB_WRITE, JOB_FLUSH, JOB_DISCARD };

struct job {
	struct job *next;
	uint32_t idx;
	enum job_op op;
	int fd;
	unsigned n;
	const struct iovec *iov;
	off_t off, len;
	uint64_t done;             /* bytes moved already (read/write) */
	int32_t res;
};

struct fifo {
	struct job *head, **tail;
};

struct worker {
	struct thr_engine *t;
	pthread_t thread;
	pthread_cond_t wake;
	struct worker *next_idle;
	bool woken;                /* taken off the idle stack for a job */
};

struct thr_engine {
	struct blk_engine base;
	pthread_mutex_t lock;
	struct job *jobs;          /* depth records */
	struct job *free;          /* records not in use */
	struct fifo pending;       /* submitted reads, flushes, discards */
	struct fifo writes;        /* submitted writes: one worker at a time */
	bool writing;              /* a worker is the writer */
	bool writer_called;        /* a worker was woken to become it */
	struct fifo done;          /* completed, not delivered */
	/* The device thread's alone (no lock). */
	struct fifo local;         /* completed at submission, not delivered */
	bool try_read, try_write;  /* RWF_NOWAIT at submission works */
	bool inline_io;            /* may do writes itself (see t_wait) */
	uint64_t no_inline_until;  /* CLOCK_MONOTONIC ns */
	struct worker *idle;       /* the idle workers, last idle on top */
	bool sleeping;             /* the device thread is in (or going into)
				      its read of the event fd, `done` empty */
	bool signalled;            /* a worker wrote the fd since */
	bool stop;
	unsigned nr_threads;       /* started */
	struct worker *workers;
};

static struct thr_engine *te(struct blk_engine *e)
{
	return (struct thr_engine *)e;
}

static void fifo_init(struct fifo *f)
{
	f->head = NULL;
	f->tail = &f->head;
}

static void fifo_push(struct fifo *f, struct job *j)
{
	j->next = NULL;
	*f->tail = j;
	f->tail = &j->next;
}

static struct job *fifo_pop(struct fifo *f)
{
	struct job *j = f->head;

	if (j) {
		f->head = j->next;
		if (!f->head)
			f->tail = &f->head;
	}
	return j;
}

/* The iovecs of a job past its first `done` bytes, in rest[]. */
static const struct iovec *rest_of(const struct job *j, uint64_t done,
				   struct iovec *rest, unsigned *n)
{
	uint64_t skip = done;

	if (!done) {
		*n = j->n;
		return j->iov;
	}
	*n = 0;
	for (unsigned i = 0; i < j->n; i++) {
		if (skip >= j->iov[i].iov_len) {
			skip -= j->iov[i].iov_len;
			continue;
		}
		rest[*n].iov_base = (uint8_t *)j->iov[i].iov_base + skip;
		rest[*n].iov_len = j->iov[i].iov_len - skip;
		skip = 0;
		(*n)++;
	}
	return rest;
}

/*
 * preadv/pwritev until everything moved: a short transfer continues from
 * where it stopped (as blkback's finish_short does for io_uring), an error
 * is -errno, a transfer that moves nothing is -EIO.
 */
static int32_t do_rw(const struct job *j)
{
	struct iovec rest[BLK_ENGINE_MAX_IOV];
	unsigned n;
	uint64_t total = 0, done = j->done;
	const struct iovec *iov = rest_of(j, done, rest, &n);

	for (unsigned i = 0; i < j->n; i++)
		total += j->iov[i].iov_len;
	while (done < total) {
		ssize_t r = j->op == JOB_READ
				    ? preadv(j->fd, iov, (int)n, j->off + (off_t)done)
				    : pwritev(j->fd, iov, (int)n, j->off + (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (uint64_t)r;
		if (done >= total)
			break;
		iov = rest_of(j, done, rest, &n);
	}
	return total > INT32_MAX ? INT32_MAX : (int32_t)total;
}

static int32_t do_job(const struct job *j)
{
	int rc;

	switch (j->op) {
	case JOB_READ:
	case JOB_WRITE:
		return do_rw(j);
	case JOB_FLUSH:
		do
			rc = fdatasync(j->fd);
		while (rc < 0 && errno == EINTR);
		return rc < 0 ? -errno : 0;
	case JOB_DISCARD:
		do
			rc = fallocate(j->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       j->off, j->len);
		while (rc < 0 && errno == EINTR);
		return rc < 0 ? -errno : 0;
	}
	return -EINVAL;
}

/* Posts a finished job and wakes the device thread if it must (lock held;
 * dropped around the eventfd write). */
static void post(struct thr_engine *t, struct job *j)
{
	uint64_t one = 1;
	bool wake = t->sleeping && !t->signalled;

	fifo_push(&t->done, j);
	if (wake) {
		t->signalled = true;
		pthread_mutex_unlock(&t->lock);
		while (write(t->base.event_fd, &one, sizeof(one)) < 0 &&
		       errno == EINTR)
			;
		pthread_mutex_lock(&t->lock);
	}
}

/* Takes the worker that went idle last off the idle stack (lock held);
 * the caller signals it, after unlocking so that it does not wake up only
 * to wait for the lock.  NULL if none is idle. */
static struct worker *call_one(struct thr_engine *t)
{
	struct worker *w = t->idle;

	if (w) {
		t->idle = w->next_idle;
		w->woken = true;
	}
	return w;
}

static void signal_worker(struct worker *w)
{
	if (w)
		pthread_cond_signal(&w->wake);
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct thr_engine *t = w->t;

	sandbox_thread(SANDBOX_ROLE_BLOCK_IO, "blkio");
	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct job *j;

		while (!t->stop && !t->pending.head &&
		       (t->writing || !t->writes.head)) {
			/* Called to be the writer but the role is gone (the
			 * device thread ran the write inline, or another
			 * worker writes): the call is over.  Left set, it
			 * would keep the next queued write from calling
			 * anyone while inline writes are backed off, and the
			 * ring would wait forever. */
			t->writer_called = false;
			w->woken = false;
			w->next_idle = t->idle;
			t->idle = w;
			while (!w->woken)
				pthread_cond_wait(&w->wake, &t->lock);
		}
		if (t->stop)
			break; /* jobs not started are dropped */
		if (t->writing || !t->writes.head) {
			j = fifo_pop(&t->pending);
			pthread_mutex_unlock(&t->lock);
			j->res = do_job(j);
			pthread_mutex_lock(&t->lock);
			post(t, j);
			continue;
		}
		/* This worker is the writer until no write is queued: the role
		 * does not bounce between threads while writes keep coming. */
		t->writing = true;
		t->writer_called = false;
		while ((j = fifo_pop(&t->writes))) {
			pthread_mutex_unlock(&t->lock);
			j->res = do_job(j);
			pthread_mutex_lock(&t->lock);
			post(t, j);
			if (t->stop)
				break;
		}
		t->writing = false;
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/*
 * A read or write tried at once with RWF_NOWAIT, as io_uring tries it
 * before handing it to a worker: data in the page cache is copied by the
 * device thread without a thread switch, anything that would wait (a page
 * to read from the disk, a lock, a file system without non-blocking
 * buffered writes) is left to a worker.  True if the job is complete.
 */
static bool try_now(struct thr_engine *t, struct job *j)
{
	bool *works = j->op == JOB_READ ? &t->try_read : &t->try_write;
	uint64_t total = 0;
	ssize_t r;

	if (!*works)
		return false;
	for (unsigned i = 0; i < j->n; i++)
		total += j->iov[i].iov_len;
	r = j->op == JOB_READ ? preadv2(j->fd, j->iov, (int)j->n, j->off, RWF_NOWAIT)
			      : pwritev2(j->fd, j->iov, (int)j->n, j->off, RWF_NOWAIT);
	if (r < 0) {
		if (errno == EOPNOTSUPP)
			*works = false; /* this file's file system: never */
		return false;   /* EAGAIN, or an error the worker will see */
	}
	j->done = (uint64_t)r;
	if (j->done < total)
		return false;   /* short (or end of file): the worker goes on */
	j->res = total > INT32_MAX ? INT32_MAX : (int32_t)total;
	return true;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Whether the device thread does queued writes itself for now. */
static bool inline_writes(struct thr_engine *t)
{
	return t->inline_io && (!t->no_inline_until || now_ns() >= t->no_inline_until);
}

static int submit(struct thr_engine *t, struct job *proto)
{
	struct worker *w = NULL;
	struct job *j;

	if (proto->idx == BLK_ENGINE_EVENT)
		return -EINVAL;
	/* Records are taken and returned by the device thread only. */
	j = t->free;
	if (!j)
		return -EBUSY;
	t->free = j->next;
	*j = *proto;
	if ((j->op == JOB_READ || j->op == JOB_WRITE) && try_now(t, j)) {
		fifo_push(&t->local, j);
		return 0;
	}
	pthread_mutex_lock(&t->lock);
	if (j->op == JOB_WRITE) {
		fifo_push(&t->writes, j);
		/* The writer takes it, or one called already will, or this
		 * thread does when it has nothing else to do (t_wait). */
		if (!t->writing && !t->writer_called && !inline_writes(t)) {
			w = call_one(t);
			t->writer_called = w != NULL;
		}
	} else {
		fifo_push(&t->pending, j);
		w = call_one(t);
	}
	pthread_mutex_unlock(&t->lock);
	signal_worker(w);
	return 0;
}

static int t_submit_rw(struct blk_engine *e, uint32_t idx, int fd,
		       const struct iovec *iov, unsigned n, off_t off, bool write)
{
	struct job j = { .idx = idx, .op = write ? JOB_WRITE : JOB_READ,
			 .fd = fd, .iov = iov, .n = n, .off = off };

	if (n > BLK_ENGINE_MAX_IOV)
		return -EINVAL;
	return submit(te(e), &j);
}

static int t_submit_flush(struct blk_engine *e, uint32_t idx, int fd)
{
	struct job j = { .idx = idx, .op = JOB_FLUSH, .fd = fd };

	return submit(te(e), &j);
}

static int t_submit_discard(struct blk_engine *e, uint32_t idx, int fd,
			    off_t off, off_t len)
{
	struct job j = { .idx = idx, .op = JOB_DISCARD, .fd = fd, .off = off,
			 .len = len };

	return submit(te(e), &j);
}

static int t_commit(struct blk_engine *e)
{
	return 0; /* submit already handed the job to a worker */
}

/* Delivers up to max completions from f (lock held for `done`). */
static unsigned drain(struct thr_engine *t, struct fifo *f,
		      struct blk_completion *out, unsigned max)
{
	unsigned n = 0;
	struct job *j;

	while (n < max && (j = fifo_pop(f))) {
		out[n].idx = j->idx;
		out[n++].res = j->res;
		j->next = t->free;
		t->free = j;
	}
	return n;
}

static int t_wait(struct blk_engine *e, struct blk_completion *out, unsigned max)
{
	struct thr_engine *t = te(e);
	struct worker *w = NULL;
	uint64_t v;
	unsigned n;
	ssize_t r;

	if (max == 0)
		return -EINVAL;
	n = drain(t, &t->local, out, max);
	pthread_mutex_lock(&t->lock);
	n += drain(t, &t->done, out + n, max - n);
	/*
	 * A write queued while no worker writes: if nothing completed and this
	 * thread would sleep, it is done here and now (the caller runs it),
	 * which spares the worker's wakeup and the eventfd round trip (4 KiB
	 * writes: 0.8x of io_uring with them, 1.1x without).  The ring waits
	 * for one write at most; a write that took over WRITE_SLOW_NS (dirty
	 * page throttling, a slow disk) sends the next ones to the workers
	 * for a while, so a cached read is not kept behind them.  Busy with
	 * completions, this thread calls a worker instead.
	 */
	if (t->writes.head && !t->writing) {
		if (!n && inline_writes(t)) {
			struct job *j = fifo_pop(&t->writes);
			uint64_t t0 = now_ns(), took;

			t->writing = true;
			pthread_mutex_unlock(&t->lock);
			j->res = do_job(j);
			took = now_ns() - t0;
			if (took >= blk_engine_threads_slow_ns)
				t->no_inline_until = t0 + took + WRITE_SLOW_BACKOFF_NS;
			pthread_mutex_lock(&t->lock);
			t->writing = false;
			fifo_push(&t->local, j);
			w = t->writes.head && !t->writer_called && !inline_writes(t)
				    ? call_one(t) : NULL;
			t->writer_called |= w != NULL;
			pthread_mutex_unlock(&t->lock);
			signal_worker(w);
			return (int)drain(t, &t->local, out, max);
		}
		if (!t->writer_called) { /* this thread is busy: a worker */
			w = call_one(t);
			t->writer_called = w != NULL;
		}
	}
	if (n) {
		pthread_mutex_unlock(&t->lock);
		signal_worker(w);
		return (int)n; /* a pending kick keeps the fd readable */
	}
	/* From here a worker that posts wakes this thread (once). */
	t->sleeping = true;
	t->signalled = false;
	pthread_mutex_unlock(&t->lock);
	signal_worker(w);
	r = read(t->base.event_fd, &v, sizeof(v));
	pthread_mutex_lock(&t->lock);
	t->sleeping = false;
	n = drain(t, &t->done, out, max - 1);
	pthread_mutex_unlock(&t->lock);
	if (r < 0 && errno != EINTR && errno != EAGAIN && !n)
		return -errno;
	out[n].idx = BLK_ENGINE_EVENT;
	out[n++].res = 0;
	return (int)n;
}

static void t_close(struct blk_engine *e)
{
	struct thr_engine *t = te(e);

	pthread_mutex_lock(&t->lock);
	t->stop = true;
	while (t->idle)
		call_one(t);
	pthread_mutex_unlock(&t->lock);
	for (unsigned i = 0; i < t->nr_threads; i++)
		signal_worker(&t->workers[i]);
	/* A worker in a host call finishes it; none starts another. */
	for (unsigned i = 0; i < t->nr_threads; i++) {
		pthread_join(t->workers[i].thread, NULL);
		pthread_cond_destroy(&t->workers[i].wake);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->workers);
	free(t->jobs);
	free(t);
}

static const struct blk_engine_ops threads_ops = {
	.name = "threads",
	.submit_rw = t_submit_rw,
	.submit_flush = t_submit_flush,
	.submit_discard = t_submit_discard,
	.commit = t_commit,
	.wait = t_wait,
	.close = t_close,
};

int blk_engine_threads_open(int event_fd, unsigned depth, unsigned nr_threads,
			    bool try_nowait, struct blk_engine **out, char *err,
			    size_t err_len)
{
	struct thr_engine *t;
	pthread_mutexattr_t ma;
	sigset_t all, old;
	int rc = 0;

	*out = NULL;
	if (depth == 0 || nr_threads == 0) {
		snprintf(err, err_len, "thread pool: no depth or no threads");
		return -EINVAL;
	}
	if (nr_threads > depth)
		nr_threads = depth;
	t = calloc(1, sizeof(*t));
	if (t) {
		t->jobs = calloc(depth, sizeof(*t->jobs));
		t->workers = calloc(nr_threads, sizeof(*t->workers));
	}
	if (!t || !t->jobs || !t->workers) {
		if (t) {
			free(t->jobs);
			free(t->workers);
		}
		free(t);
		snprintf(err, err_len, "thread pool: out of memory");
		return -ENOMEM;
	}
	t->base.ops = &threads_ops;
	t->base.event_fd = event_fd;
	t->base.depth = depth;
	for (unsigned i = 0; i < depth; i++) {
		t->jobs[i].next = t->free;
		t->free = &t->jobs[i];
	}
	fifo_init(&t->pending);
	fifo_init(&t->writes);
	fifo_init(&t->done);
	fifo_init(&t->local);
	t->try_read = t->try_write = t->inline_io = try_nowait;
	/* Adaptive: the critical sections are a few list operations, worth a
	 * short spin rather than a sleep (a context switch is dear here). */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&t->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	/* Workers take no signals: those are for the threads that wait on
	 * them, and a worker's host call is never interrupted. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; t->nr_threads < nr_threads; t->nr_threads++) {
		struct worker *w = &t->workers[t->nr_threads];

		w->t = t;
		pthread_cond_init(&w->wake, NULL);
		rc = pthread_create(&w->thread, NULL, worker, w);
		if (rc) {
			pthread_cond_destroy(&w->wake);
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, err_len, "thread pool: %s", strerror(rc));
		t_close(&t->base);
		return -rc;
	}
	*out = &t->base;
	return 0;
}
