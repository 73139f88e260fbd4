/*
 * Timing samples: sorting and the one-line report scripts parse
 * ("TOOL NAME median_ns=... p99_ns=... min_ns=... n=...EXTRA").
 */
#ifndef KIT_SAMPLES_H
#define KIT_SAMPLES_H

#include <stdint.h>

/* Sorts ascending, in place (no recursion; fine for 10^4 samples). */
void samples_sort(uint64_t *s, unsigned n);
/* Sorts s and prints its median, p99 and min; extra is appended as is. */
void samples_report(const char *tool, const char *name, uint64_t *s,
		    unsigned n, const char *extra);

#endif
