/* hcbench: runs the hypercall benchmark suite and exits (0 if all ran). */
#include <kit/kit.h>

#include "bench.h"

int app_main(const char *cmdline)
{
	return bench_run_all() ? 1 : 0;
}
