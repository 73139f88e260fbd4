/* The smallest guest: a greeting, the backend's name, exit status 0. */
#include <kit/console.h>
#include <kit/kit.h>

int app_main(const char *cmdline)
{
	printf("Hello from the pvisor guest kit!\n");
	printf("backend=%s\n", kit_backend());
	return 0;
}
