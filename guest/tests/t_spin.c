/* Spins forever with events on (for pvisor's --timeout). */
#include <kit/console.h>
#include <kit/kit.h>

int app_main(const char *cmdline)
{
	printf("SPIN start\n");
	for (;;)
		asm volatile("pause");
}
