/* With no trap table, touches an unmapped address: pvisor must stop it. */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/traps.h>

int app_main(const char *cmdline)
{
	traps_clear();
	printf("UNHANDLED_PF about to touch 0x200000000000\n");
	(void)*(volatile unsigned long *)0x200000000000ul;
	printf("FAIL unhandled_pf access returned\n");
	return 1;
}
