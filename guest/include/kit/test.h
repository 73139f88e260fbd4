/*
 * Checks for hostile and behaviour test guests: each check prints
 * "PASS <name>" or "FAIL <name> <detail>"; test_finish() exits 0 only if
 * every check passed.
 */
#ifndef KIT_TEST_H
#define KIT_TEST_H

#include <stdbool.h>

/* Records one check; detail (printf format) is printed only on failure. */
bool check(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* check(rc == want) with a standard detail line. */
bool check_rc(long rc, long want, const char *name);
__attribute__((noreturn)) void test_finish(void);

#endif
