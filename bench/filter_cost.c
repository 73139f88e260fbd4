/*
 * bench/filter_cost: what pvisor's seccomp filters add to one system call
 * (docs/benchmarks.md, "Sandbox").  A cheap call (poll on no descriptor)
 * timed a million times with no filter, under the set-up filter, and under
 * the set-up and the net role's filters stacked, as a network thread runs.
 *
 *   make -C bench build/filter_cost && bench/build/filter_cost
 */
#include <poll.h>
#include <stdio.h>
#include <time.h>

#include "core/sandbox.h"

#define CALLS 1000000

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double ns_per_call(void)
{
	struct pollfd none = { .fd = -1 };
	double start = now_ns();

	for (int i = 0; i < CALLS; i++)
		poll(&none, 1, 0);
	return (now_ns() - start) / CALLS;
}

int main(void)
{
	struct sandbox_plan plan = { .mode = SANDBOX_ON };
	char err[256];
	double bare = ns_per_call(), setup, role;

	if (sandbox_enter(&plan, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	setup = ns_per_call();
	sandbox_thread(SANDBOX_ROLE_NET, "bench");
	role = ns_per_call();
	printf("filter_cost poll_ns none=%.0f setup=%.0f setup+net=%.0f\n", bare,
	       setup, role);
	return 0;
}
