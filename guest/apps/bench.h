/* The hypercall benchmark suite (hcbench; pvsh `bench`). */
#ifndef APPS_BENCH_H
#define APPS_BENCH_H

/* Runs every benchmark, printing one machine-parsable line each:
 * "hcbench <name> key=value ...".  Returns 0 or the number of failures. */
int bench_run_all(void);

#endif
