/*
 * The host TSC's rate, which every vcpu_time_info carries (xen/time.c).
 * Measuring it well takes a 20 ms window against CLOCK_MONOTONIC, which
 * was most of a guest-kit cold start.  With an invariant TSC
 * (CPUID.80000007H:EDX[8]) the rate cannot change within one boot of the
 * host, so the measurement is kept per boot: in the process (every later VM
 * of it) and in a file, ${XDG_RUNTIME_DIR:-/tmp}/pvisor-UID/tsc-rate
 * ("BOOT_ID HZ"), that the next pvisor checks against a measurement over
 * at least 0.5 ms before it trusts it (a host migrated to another CPU keeps its boot id).
 * Without an invariant TSC every VM measures.
 */
#ifndef PVISOR_TSC_RATE_H
#define PVISOR_TSC_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rate in Hz (measured, or the checked cached value). */
uint64_t tsc_rate_hz(void);
/* Optional, first thing at start-up, before any thread: the quick check's
 * window opens here, so the work until the first tsc_rate_hz() (loading
 * the kernel, the sandbox plan) overlaps it instead of a busy wait. */
void tsc_rate_start(void);

/* Pure helpers, unit-tested: */
/* The cache file's HZ if text is "BOOT_ID HZ\n" for this boot_id and a
 * plausible rate (100 MHz .. 100 GHz); 0 otherwise. */
uint64_t tsc_rate_parse(const char *text, size_t len, const char *boot_id);
/* A quick measurement agrees with the cached rate (within 0.2 %). */
bool tsc_rate_agrees(uint64_t cached_hz, uint64_t quick_hz);

#endif
