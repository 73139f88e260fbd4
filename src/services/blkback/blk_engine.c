/*
 * Picking a block I/O engine (see blk_engine.h): io_uring where the host
 * lets us set one up, the thread pool elsewhere, or what PVISOR_BLK_ENGINE
 * says.
 */
#include "services/blkback/blk_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Workers per disk: 8 reads that miss the page cache run at once, as
 * io_uring's workers would run them; idle ones cost nothing. */
#define BLK_THREADS 8

int blk_engine_kind_from_env(enum blk_engine_kind *kind, char *err,
			     size_t err_len)
{
	const char *v = getenv("PVISOR_BLK_ENGINE");

	if (!v || !*v || !strcmp(v, "auto"))
		*kind = BLK_ENGINE_AUTO;
	else if (!strcmp(v, "uring") || !strcmp(v, "io_uring"))
		*kind = BLK_ENGINE_URING;
	else if (!strcmp(v, "threads"))
		*kind = BLK_ENGINE_THREADS;
	else {
		snprintf(err, err_len,
			 "PVISOR_BLK_ENGINE=%.40s: expected auto, uring or threads",
			 v);
		return -EINVAL;
	}
	return 0;
}

int blk_engine_open(enum blk_engine_kind kind, int event_fd, unsigned depth,
		    struct blk_engine **out, char *err, size_t err_len)
{
	static bool said; /* the fallback is reported once per process */
	char why[160] = "";
	int rc;

	*out = NULL;
	if (kind != BLK_ENGINE_THREADS) {
		rc = blk_engine_uring_open(event_fd, depth, out, why, sizeof(why));
		if (rc == 0)
			return 0;
		if (kind == BLK_ENGINE_URING) {
			snprintf(err, err_len, "%s (PVISOR_BLK_ENGINE=uring)", why);
			return rc;
		}
	}
	rc = blk_engine_threads_open(event_fd, depth, BLK_THREADS, true, out, err,
				     err_len);
	if (rc == 0 && !__atomic_exchange_n(&said, true, __ATOMIC_RELAXED)) {
		if (kind == BLK_ENGINE_THREADS)
			log_debug("blkback: PVISOR_BLK_ENGINE=threads: block I/O "
				  "uses a pool of %u threads per disk", BLK_THREADS);
		else
			log_debug("blkback: %s; block I/O uses a pool of %u "
				  "threads per disk instead", why, BLK_THREADS);
	}
	return rc;
}
