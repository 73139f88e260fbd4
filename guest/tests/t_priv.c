/*
 * Executes `hlt`, a privileged instruction, with no trap table: pvisor must
 * stop the guest (non-zero exit and a report).  Nothing runs after it.
 */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/traps.h>

int app_main(const char *cmdline)
{
	traps_clear(); /* the verdict is pvisor's, not the kit's */
	printf("PRIV about to execute hlt\n");
	asm volatile("hlt");
	printf("FAIL priv hlt returned\n");
	return 1;
}
