/* PASS/FAIL bookkeeping for test guests. */
#include <stdarg.h>

#include <kit/console.h>
#include <kit/kit.h>
#include <kit/test.h>

static unsigned nr_pass, nr_fail;

bool check(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		nr_pass++;
		printf("PASS %s\n", name);
		return true;
	}
	nr_fail++;
	printf("FAIL %s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return false;
}

bool check_rc(long rc, long want, const char *name)
{
	return check(rc == want, name, "got %ld, want %ld", rc, want);
}

void test_finish(void)
{
	printf("RESULT %u passed, %u failed\n", nr_pass, nr_fail);
	kit_exit(nr_fail ? 1 : 0);
}
