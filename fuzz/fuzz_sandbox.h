/*
 * A harness whose parser runs on one of pvisor's confined threads says so
 * with FUZZ_SANDBOXED(ROLE, fn).  With PVISOR_FUZZ_SANDBOX=1 in the
 * environment (tests/run.sh's second, short fuzz pass), every input runs
 * on a thread confined as pvisor confines that role's thread —
 * sandbox_enter() with no Landlock paths, then sandbox_thread(ROLE) — so
 * that a call the parser makes and the role's list lacks is a finding
 * (SIGSYS: the report line and exit 127) instead of a surprise in
 * production.  libFuzzer's own thread stays unconfined.  Without the
 * variable the input runs directly, as before.
 */
#ifndef PVISOR_FUZZ_SANDBOX_H
#define PVISOR_FUZZ_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/sandbox.h"

struct fuzz_sandbox {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int (*fn)(const uint8_t *, size_t);
	enum sandbox_role role;
	const uint8_t *data;
	size_t size;
	bool pending;
	int rc;
};

static struct fuzz_sandbox fuzz_sb = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void *fuzz_sandbox_worker(void *arg)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };
	char err[256];

	if (sandbox_enter(&plan, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	sandbox_thread(fuzz_sb.role, "fuzz");
	pthread_mutex_lock(&fuzz_sb.lock);
	for (;;) {
		while (!fuzz_sb.pending)
			pthread_cond_wait(&fuzz_sb.cond, &fuzz_sb.lock);
		fuzz_sb.rc = fuzz_sb.fn(fuzz_sb.data, fuzz_sb.size);
		fuzz_sb.pending = false;
		pthread_cond_broadcast(&fuzz_sb.cond);
	}
	return NULL;
}

static int fuzz_sandbox_run(enum sandbox_role role,
			    int (*fn)(const uint8_t *, size_t),
			    const uint8_t *data, size_t size)
{
	static bool started;
	pthread_t t;
	int rc;

	if (!getenv("PVISOR_FUZZ_SANDBOX"))
		return fn(data, size);
	pthread_mutex_lock(&fuzz_sb.lock);
	if (!started) {
		fuzz_sb.fn = fn;
		fuzz_sb.role = role;
		if (pthread_create(&t, NULL, fuzz_sandbox_worker, NULL))
			abort();
		started = true;
	}
	fuzz_sb.data = data;
	fuzz_sb.size = size;
	fuzz_sb.pending = true;
	pthread_cond_broadcast(&fuzz_sb.cond);
	while (fuzz_sb.pending)
		pthread_cond_wait(&fuzz_sb.cond, &fuzz_sb.lock);
	rc = fuzz_sb.rc;
	pthread_mutex_unlock(&fuzz_sb.lock);
	return rc;
}

#define FUZZ_SANDBOXED(role, fn)                                            \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);       \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)        \
	{                                                                   \
		return fuzz_sandbox_run(role, fn, data, size);              \
	}

#endif
