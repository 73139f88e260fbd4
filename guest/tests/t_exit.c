/* Exits with the status on the command line (default 42). */
#include <kit/console.h>
#include <kit/kit.h>
#include <kit/string.h>

int app_main(const char *cmdline)
{
	const char *end;
	long n = strtol(cmdline, &end, 10);

	if (end == cmdline)
		n = 42;
	printf("EXIT %ld\n", n);
	return (int)(n & 0xff);
}
