/*
 * The io_uring block I/O engine (see blk_engine.h).  A read of the event
 * fd is always queued next to the disk I/O, so one wait in the ring covers
 * both the guest's kicks and the completions.
 */
#include "services/blkback/blk_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_EVENT UINT64_MAX /* user_data of the event fd read */

int blk_engine_uring_fail;

struct uring_engine {
	struct blk_engine base;
	struct io_uring ring;
	uint64_t efd_buf;
	unsigned inflight;
};

static struct uring_engine *ue(struct blk_engine *e)
{
	return (struct uring_engine *)e;
}

static struct io_uring_sqe *get_sqe(struct uring_engine *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/* A job's sqe: NULL if `depth` jobs are in flight (or the ring is full). */
static struct io_uring_sqe *job_sqe(struct uring_engine *u, uint32_t idx)
{
	struct io_uring_sqe *sqe;

	if (idx == BLK_ENGINE_EVENT || u->inflight >= u->base.depth)
		return NULL;
	sqe = get_sqe(u);
	if (sqe) {
		io_uring_sqe_set_data64(sqe, idx);
		u->inflight++;
	}
	return sqe;
}

static int arm_event(struct uring_engine *u)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, u->base.event_fd, &u->efd_buf,
			   sizeof(u->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, TAG_EVENT);
	return 0;
}

static int u_submit_rw(struct blk_engine *e, uint32_t idx, int fd,
		       const struct iovec *iov, unsigned n, off_t off, bool write)
{
	struct uring_engine *u = ue(e);
	struct io_uring_sqe *sqe;

	if (n > BLK_ENGINE_MAX_IOV)
		return -EINVAL;
	sqe = job_sqe(u, idx);
	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_writev(sqe, fd, iov, n, off);
	else
		io_uring_prep_readv(sqe, fd, iov, n, off);
	io_uring_sqe_set_data64(sqe, idx); /* prep_* clears user_data */
	return 0;
}

static int u_submit_flush(struct blk_engine *e, uint32_t idx, int fd)
{
	struct io_uring_sqe *sqe = job_sqe(ue(e), idx);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, idx);
	return 0;
}

static int u_submit_discard(struct blk_engine *e, uint32_t idx, int fd,
			    off_t off, off_t len)
{
	struct io_uring_sqe *sqe = job_sqe(ue(e), idx);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				off, len);
	io_uring_sqe_set_data64(sqe, idx);
	return 0;
}

static int u_commit(struct blk_engine *e)
{
	int rc = io_uring_submit(&ue(e)->ring);

	return rc < 0 ? rc : 0;
}

static int u_wait(struct blk_engine *e, struct blk_completion *out, unsigned max)
{
	struct uring_engine *u = ue(e);
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	bool event = false;
	int rc;

	if (io_uring_sq_ready(&u->ring))
		io_uring_submit(&u->ring);
	do
		rc = io_uring_wait_cqe(&u->ring, &cqe);
	while (rc == -EINTR);
	if (rc < 0)
		return rc;
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		if (n == max)
			break;
		if (cqe->user_data == TAG_EVENT) {
			out[n].idx = BLK_ENGINE_EVENT;
			event = true;
		} else {
			out[n].idx = (uint32_t)cqe->user_data;
			u->inflight--;
		}
		out[n++].res = cqe->res;
	}
	io_uring_cq_advance(&u->ring, n);
	if (event && arm_event(u) < 0)
		return -EBUSY; /* cannot happen: the ring has room for depth + 1 */
	return (int)n;
}

static void u_close(struct blk_engine *e)
{
	struct uring_engine *u = ue(e);

	/* The ring's teardown in the kernel is asynchronous: wait for the
	 * jobs still in flight, so none writes into a buffer after this. */
	if (u->inflight && io_uring_sq_ready(&u->ring))
		io_uring_submit(&u->ring);
	while (u->inflight) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int rc = io_uring_wait_cqe(&u->ring, &cqe);

		if (rc == -EINTR)
			continue;
		if (rc < 0)
			break;
		io_uring_for_each_cqe(&u->ring, head, cqe) {
			n++;
			if (cqe->user_data != TAG_EVENT)
				u->inflight--;
		}
		io_uring_cq_advance(&u->ring, n);
	}
	io_uring_queue_exit(&u->ring);
	free(u);
}

static const struct blk_engine_ops uring_ops = {
	.name = "io_uring",
	.submit_rw = u_submit_rw,
	.submit_flush = u_submit_flush,
	.submit_discard = u_submit_discard,
	.commit = u_commit,
	.wait = u_wait,
	.close = u_close,
};

/* Whether the kernel has every operation used here (IORING_OP_READ and
 * FALLOCATE came with 5.6, as did the probe itself). */
static bool has_ops(struct io_uring *ring)
{
	static const int ops[] = { IORING_OP_READV, IORING_OP_WRITEV,
				   IORING_OP_FSYNC, IORING_OP_FALLOCATE,
				   IORING_OP_READ };
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p != NULL;

	for (size_t i = 0; ok && i < sizeof(ops) / sizeof(ops[0]); i++)
		ok = io_uring_opcode_supported(p, ops[i]);
	if (p)
		io_uring_free_probe(p);
	return ok;
}

/* A ring of `entries` with every operation this engine uses, or -errno
 * with the reason in err. */
static int ring_setup(struct io_uring *ring, unsigned entries, char *err,
		      size_t err_len)
{
	int rc = io_uring_queue_init(entries, ring, 0);

	if (rc < 0) {
		snprintf(err, err_len, "io_uring: %s", strerror(-rc));
		return rc;
	}
	if (!has_ops(ring)) {
		snprintf(err, err_len, "io_uring: the kernel lacks the operations "
			 "used (readv, writev, fsync, fallocate, read)");
		io_uring_queue_exit(ring);
		return -EOPNOTSUPP;
	}
	return 0;
}

int blk_engine_uring_usable(char *err, size_t err_len)
{
	struct io_uring ring;
	int rc = ring_setup(&ring, 2, err, err_len);

	if (rc == 0)
		io_uring_queue_exit(&ring);
	return rc;
}

int blk_engine_uring_open(int event_fd, unsigned depth, struct blk_engine **out,
			  char *err, size_t err_len)
{
	struct uring_engine *u;
	int rc;

	*out = NULL;
	if (blk_engine_uring_fail) {
		snprintf(err, err_len, "io_uring: %s (test)",
			 strerror(blk_engine_uring_fail));
		return -blk_engine_uring_fail;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, err_len, "io_uring: out of memory");
		return -ENOMEM;
	}
	u->base.ops = &uring_ops;
	u->base.event_fd = event_fd;
	u->base.depth = depth;
	/* Room for every job and the event fd read, twice over. */
	rc = ring_setup(&u->ring, 2 * depth, err, err_len);
	if (rc < 0) {
		free(u);
		return rc;
	}
	rc = arm_event(u);
	if (rc == 0)
		rc = u_commit(&u->base);
	if (rc < 0) {
		snprintf(err, err_len, "io_uring: %s", strerror(-rc));
		io_uring_queue_exit(&u->ring);
		free(u);
		return rc;
	}
	*out = &u->base;
	return 0;
}
