/*
 * Time: Xen system time from vcpu_time_info (rdtsc scaled by
 * tsc_to_system_mul/tsc_shift, read under the version seqlock), wallclock
 * from shared_info, and the one-shot timer (VIRQ_TIMER).
 */
#ifndef KIT_TIME_H
#define KIT_TIME_H

#include <stdint.h>

/* After a restore into a new domain: VIRQ_TIMER bound again. */
void time_resume(void);
/* Binds VIRQ_TIMER (after events_init). */
void time_init(void);

/* Nanoseconds of Xen system time (since the domain booted). */
uint64_t monotonic_ns(void);
/* Wallclock: seconds and nanoseconds since the epoch. */
void wallclock(uint64_t *sec, uint32_t *nsec);

/* Arms the vCPU's one-shot timer at absolute system time `deadline_ns`
 * (0 = cancel); VIRQ_TIMER fires then. */
void timer_set(uint64_t deadline_ns);

/* Blocks the calling thread for at least ms milliseconds. */
void sleep_ms(uint64_t ms);
void sleep_until(uint64_t deadline_ns);

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

#endif
