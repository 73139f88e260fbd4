/*
 * Block I/O engines: how blkback's device thread hands disk I/O to the host
 * and learns that it completed (see docs/block.md, "I/O engines").
 *
 *   uring    io_uring (blk_engine_uring.c): the device thread sleeps in the
 *            ring, where a read of the guest's kick eventfd is kept queued.
 *   threads  a bounded pool of worker threads doing preadv/pwritev/
 *            fdatasync/fallocate (blk_engine_threads.c), for hosts where
 *            io_uring_setup fails (kernel.io_uring_disabled, a container's
 *            seccomp profile, an old kernel).  The device thread sleeps in
 *            poll(2) on the kick eventfd and the pool's completion eventfd.
 *
 * blk_engine_open() picks one: PVISOR_BLK_ENGINE=uring|threads forces it,
 * unset (or "auto") tries io_uring and falls back to the pool, saying so
 * once with -v.
 *
 * Contract, the same for both (blkback's request state machine relies on
 * it and on nothing else):
 * - Every submitted job completes exactly once, with its idx and res:
 *   bytes transferred (>= 0; fewer than asked is possible, the caller
 *   finishes short transfers) or -errno.  Flush is fdatasync (res 0 once it
 *   returned), discard is fallocate(PUNCH_HOLE | KEEP_SIZE).
 * - Jobs in flight together run in any order; the caller orders them (it
 *   submits a flush only when nothing else is in flight).
 * - The iovec array and the buffers stay the caller's and must stay valid
 *   until the job's completion was delivered.
 * - At most `depth` jobs are in flight (submitted, completion not yet
 *   delivered); one more is refused with -EBUSY.
 * - Submissions may be held back until blk_engine_commit() or the next
 *   blk_engine_wait() (which may run a held-back job itself).
 * - blk_engine_wait() blocks until at least one completion or a kick of
 *   the event fd, and delivers kicks as a completion with idx
 *   BLK_ENGINE_EVENT (the eventfd's counter is consumed; the pool may
 *   also report a wakeup that was for a completion as one).
 * - One thread (the device thread) calls everything but open/close.
 *   blk_engine_close() with jobs in flight waits for the running host
 *   calls to return (nothing is left that touches the buffers), drops the
 *   rest and frees everything.
 */
#ifndef PVISOR_BLK_ENGINE_H
#define PVISOR_BLK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define BLK_ENGINE_EVENT UINT32_MAX /* idx of "the event fd was kicked" */
#define BLK_ENGINE_MAX_IOV 1024     /* IOV_MAX: most iovecs per job */

enum blk_engine_kind { BLK_ENGINE_AUTO, BLK_ENGINE_URING, BLK_ENGINE_THREADS };

struct blk_completion {
	uint32_t idx;
	int32_t res;
};

struct blk_engine;

struct blk_engine_ops {
	const char *name;
	int (*submit_rw)(struct blk_engine *e, uint32_t idx, int fd,
			 const struct iovec *iov, unsigned n, off_t off, bool write);
	int (*submit_flush)(struct blk_engine *e, uint32_t idx, int fd);
	int (*submit_discard)(struct blk_engine *e, uint32_t idx, int fd,
			      off_t off, off_t len);
	int (*commit)(struct blk_engine *e);
	int (*wait)(struct blk_engine *e, struct blk_completion *out, unsigned max);
	void (*close)(struct blk_engine *e);
};

/* Every engine starts with this. */
struct blk_engine {
	const struct blk_engine_ops *ops;
	int event_fd;
	unsigned depth;
};

/*
 * Opens an engine of `kind` (BLK_ENGINE_AUTO: io_uring, else the pool) for
 * up to `depth` jobs in flight, watching `event_fd` (an eventfd the caller
 * owns and keeps open until blk_engine_close).  0 or -errno with a message
 * in err.
 */
int blk_engine_open(enum blk_engine_kind kind, int event_fd, unsigned depth,
		    struct blk_engine **out, char *err, size_t err_len);

/* The kind PVISOR_BLK_ENGINE asks for: 0, or -EINVAL with a message. */
int blk_engine_kind_from_env(enum blk_engine_kind *kind, char *err,
			     size_t err_len);

/* Could blk_engine_uring_open work here?  0, or -errno with the reason in
 * err (what pvisor host reports). */
int blk_engine_uring_usable(char *err, size_t err_len);

/* The two engines (open: 0 or -errno, message in err). */
int blk_engine_uring_open(int event_fd, unsigned depth, struct blk_engine **out,
			  char *err, size_t err_len);
/* try_nowait: reads/writes are first tried at submission with RWF_NOWAIT
 * (false: every job goes to a worker). */
int blk_engine_threads_open(int event_fd, unsigned depth, unsigned nr_threads,
			    bool try_nowait, struct blk_engine **out, char *err,
			    size_t err_len);

/* Test hooks: makes io_uring's setup fail with -err (0: really try); a
 * write the pool's caller did itself that took this long (ns) sends the
 * next ones to the workers for a second (default 1 ms). */
extern int blk_engine_uring_fail;
extern uint64_t blk_engine_threads_slow_ns;

static inline int blk_engine_submit_rw(struct blk_engine *e, uint32_t idx, int fd,
				       const struct iovec *iov, unsigned n,
				       off_t off, bool write)
{
	return e->ops->submit_rw(e, idx, fd, iov, n, off, write);
}

static inline int blk_engine_submit_flush(struct blk_engine *e, uint32_t idx,
					  int fd)
{
	return e->ops->submit_flush(e, idx, fd);
}

static inline int blk_engine_submit_discard(struct blk_engine *e, uint32_t idx,
					    int fd, off_t off, off_t len)
{
	return e->ops->submit_discard(e, idx, fd, off, len);
}

/* Hands held-back submissions to the host (io_uring_submit). */
static inline int blk_engine_commit(struct blk_engine *e)
{
	return e->ops->commit(e);
}

/* Up to max completions into out; returns how many (>= 1) or -errno. */
static inline int blk_engine_wait(struct blk_engine *e, struct blk_completion *out,
				  unsigned max)
{
	return e->ops->wait(e, out, max);
}

static inline const char *blk_engine_name(const struct blk_engine *e)
{
	return e->ops->name;
}

static inline void blk_engine_close(struct blk_engine *e)
{
	if (e)
		e->ops->close(e);
}

#endif
