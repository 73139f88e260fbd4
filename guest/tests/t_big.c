/* A kernel with an 8 MiB image (bss), for pvisor's "--mem too small"
 * check; it touches both ends of the array and exits 0 when it fits. */
#include <kit/console.h>
#include <kit/kit.h>

static volatile char big[8 << 20];

int app_main(const char *cmdline)
{
	big[0] = 1;
	big[sizeof(big) - 1] = 2;
	printf("BIG ok %d\n", big[0] + big[sizeof(big) - 1]);
	return 0;
}
