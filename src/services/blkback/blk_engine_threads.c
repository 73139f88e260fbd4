/*
 * The thread-pool block I/O engine (see blk_engine.h), for hosts without
 * io_uring.  A fixed number of workers take jobs from a FIFO (mutex +
 * condition variable), make the host call — preadv/pwritev (short
 * transfers finished in the worker), fdatasync, fallocate — and post the
 * result to a completion FIFO.
 *
 * Waking the device thread: a worker that posts to an empty, unsignalled
 * completion FIFO adds 1 to the caller's event fd — the same eventfd the
 * guest's kicks go to — so the device thread sleeps in one blocking read
 * of that fd, and a burst of completions costs one eventfd write.  Kicks
 * and completions are told apart by the FIFO, not by the fd; a wakeup for
 * a completion is also reported as BLK_ENGINE_EVENT, which only makes the
 * device thread look at its ring once more.
 *
 * Bounded: `depth` job records, allocated up front; a job holds its record
 * from submission until its completion is delivered, so neither FIFO can
 * overflow and a worker never waits for the device thread.
 */
#include "services/blkback/blk_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum job_op { JOB_READ, JOB_WRITE, JOB_FLUSH, JOB_DISCARD };

struct job {
	struct job *next;
	uint32_t idx;
	enum job_op op;
	int fd;
	unsigned n;
	const struct iovec *iov;
	off_t off, len;
	int32_t res;
};

struct fifo {
	struct job *head, **tail;
};

struct thr_engine {
	struct blk_engine base;
	pthread_mutex_t lock;
	pthread_cond_t work;       /* a job was queued, or stop */
	struct job *jobs;          /* depth records */
	struct job *free;          /* records not in use */
	struct fifo pending;       /* submitted, not taken by a worker */
	struct fifo done;          /* completed, not delivered */
	unsigned idle;             /* workers waiting on `work` */
	bool signalled;            /* event fd written for `done`, not read */
	bool stop;
	unsigned nr_threads;
	pthread_t *threads;
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

/*
 * preadv/pwritev until everything moved: a short transfer continues from
 * where it stopped (as blkback's finish_short does for io_uring), an error
 * is -errno, a transfer that moves nothing is -EIO.
 */
static int32_t do_rw(const struct job *j)
{
	struct iovec rest[BLK_ENGINE_MAX_IOV];
	const struct iovec *iov = j->iov;
	unsigned n = j->n;
	uint64_t total = 0, done = 0;

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
		/* The iovecs past `done`. */
		uint64_t skip = done;

		n = 0;
		for (unsigned i = 0; i < j->n; i++) {
			if (skip >= j->iov[i].iov_len) {
				skip -= j->iov[i].iov_len;
				continue;
			}
			rest[n].iov_base = (uint8_t *)j->iov[i].iov_base + skip;
			rest[n].iov_len = j->iov[i].iov_len - skip;
			skip = 0;
			n++;
		}
		iov = rest;
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

static void *worker(void *arg)
{
	struct thr_engine *t = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct job *j;
		bool wake;

		while (!t->pending.head && !t->stop) {
			t->idle++;
			pthread_cond_wait(&t->work, &t->lock);
			t->idle--;
		}
		if (t->stop)
			break; /* jobs not started are dropped */
		j = fifo_pop(&t->pending);
		pthread_mutex_unlock(&t->lock);

		j->res = do_job(j);

		pthread_mutex_lock(&t->lock);
		fifo_push(&t->done, j);
		wake = !t->signalled;
		t->signalled = true;
		if (wake) {
			pthread_mutex_unlock(&t->lock);
			while (write(t->base.event_fd, &one, sizeof(one)) < 0 &&
			       errno == EINTR)
				;
			pthread_mutex_lock(&t->lock);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int submit(struct thr_engine *t, struct job *proto)
{
	struct job *j;

	if (proto->idx == BLK_ENGINE_EVENT)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	j = t->free;
	if (!j) {
		pthread_mutex_unlock(&t->lock);
		return -EBUSY;
	}
	t->free = j->next;
	*j = *proto;
	fifo_push(&t->pending, j);
	if (t->idle)
		pthread_cond_signal(&t->work);
	pthread_mutex_unlock(&t->lock);
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

/* Delivers up to max completions (lock held). */
static unsigned drain(struct thr_engine *t, struct blk_completion *out,
		      unsigned max)
{
	unsigned n = 0;
	struct job *j;

	while (n < max && (j = fifo_pop(&t->done))) {
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
	uint64_t v;
	unsigned n;
	ssize_t r;

	if (max == 0)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	n = drain(t, out, max);
	pthread_mutex_unlock(&t->lock);
	if (n)
		return (int)n; /* a pending kick keeps the fd readable */
	r = read(t->base.event_fd, &v, sizeof(v));
	if (r < 0 && errno != EINTR && errno != EAGAIN)
		return -errno;
	pthread_mutex_lock(&t->lock);
	/* The read consumed any worker's write: the next one must write. */
	if (r == sizeof(v))
		t->signalled = false;
	n = drain(t, out, max - 1);
	pthread_mutex_unlock(&t->lock);
	out[n].idx = BLK_ENGINE_EVENT;
	out[n++].res = 0;
	return (int)n;
}

static void t_close(struct blk_engine *e)
{
	struct thr_engine *t = te(e);

	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	/* A worker in a host call finishes it; none starts another. */
	for (unsigned i = 0; i < t->nr_threads; i++)
		pthread_join(t->threads[i], NULL);
	pthread_cond_destroy(&t->work);
	pthread_mutex_destroy(&t->lock);
	free(t->threads);
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
			    struct blk_engine **out, char *err, size_t err_len)
{
	struct thr_engine *t;
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
		t->threads = calloc(nr_threads, sizeof(*t->threads));
	}
	if (!t || !t->jobs || !t->threads) {
		if (t) {
			free(t->jobs);
			free(t->threads);
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
	fifo_init(&t->done);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->work, NULL);
	/* Workers take no signals: those are for the threads that wait on
	 * them, and a worker's host call is never interrupted. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; t->nr_threads < nr_threads; t->nr_threads++) {
		rc = pthread_create(&t->threads[t->nr_threads], NULL, worker, t);
		if (rc)
			break;
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
