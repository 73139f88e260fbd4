/* qid.path numbering across a share's filesystems (services/p9/p9_qid.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "services/p9/p9_qid.h"

#define HIGH(p) ((p) >> P9_QID_INO_BITS)
#define LOW(p) ((p) & ((1ull << P9_QID_INO_BITS) - 1))

static uint64_t path_of(struct p9_qid_map *m, dev_t dev, uint64_t ino)
{
	uint64_t p = ~0ull;

	assert_int_equal(p9_qid_path(m, dev, ino, &p), 0);
	return p;
}

/* The share's own filesystem keeps its inode numbers. */
static void test_root_device_is_identity(void **state)
{
	struct p9_qid_map *m = calloc(1, sizeof(*m));

	p9_qid_map_init(m, 0x801);
	assert_int_equal(path_of(m, 0x801, 2), 2);
	assert_int_equal(path_of(m, 0x801, 123456789), 123456789);
	assert_int_equal(path_of(m, 0x801, (1ull << P9_QID_INO_BITS) - 1),
			 (1ull << P9_QID_INO_BITS) - 1);
	free(m);
}

/* The same inode number on two filesystems: two qids, each stable. */
static void test_devices_get_prefixes(void **state)
{
	struct p9_qid_map *m = calloc(1, sizeof(*m));
	uint64_t proc1, dev1;

	p9_qid_map_init(m, 0x801);
	proc1 = path_of(m, 0x16, 1);
	dev1 = path_of(m, 0x5, 1);
	assert_int_not_equal(proc1, 1);
	assert_int_not_equal(proc1, dev1);
	assert_int_equal(LOW(proc1), 1);
	assert_int_equal(LOW(dev1), 1);
	assert_int_equal(HIGH(proc1), 1);
	assert_int_equal(HIGH(dev1), 2);
	assert_int_equal(path_of(m, 0x16, 1), proc1);
	assert_int_equal(path_of(m, 0x16, 77), 1ull << P9_QID_INO_BITS | 77);
	assert_int_equal(path_of(m, 0x801, 1), 1);
	free(m);
}

/* Inode numbers past 48 bits (64-bit inode filesystems): their high bits
 * are part of the pair, so they never fold onto small ones. */
static void test_large_inodes(void **state)
{
	struct p9_qid_map *m = calloc(1, sizeof(*m));
	uint64_t big = 0xabcd000000000005ull, p;

	p9_qid_map_init(m, 0x801);
	p = path_of(m, 0x801, big);
	assert_int_not_equal(p, 5);
	assert_int_equal(LOW(p), 5);
	assert_int_not_equal(path_of(m, 0x801, 0x1234000000000005ull), p);
	assert_int_equal(path_of(m, 0x801, big), p);
	assert_int_equal(path_of(m, 0x801, 5), 5);
	free(m);
}

/* A full map refuses a new pair, keeps answering the known ones. */
static void test_full_map(void **state)
{
	struct p9_qid_map *m = calloc(1, sizeof(*m));
	uint64_t p = 42;

	p9_qid_map_init(m, 0);
	for (dev_t d = 1; d < P9_QID_MAX_PREFIXES; d++)
		assert_int_equal(HIGH(path_of(m, d, 9)), d);
	assert_int_equal(p9_qid_path(m, P9_QID_MAX_PREFIXES, 9, &p), -ENFILE);
	assert_int_equal(p, 42);
	assert_int_equal(HIGH(path_of(m, P9_QID_MAX_PREFIXES - 1, 10)), P9_QID_MAX_PREFIXES - 1);
	assert_int_equal(path_of(m, 0, 10), 10);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_device_is_identity),
		cmocka_unit_test(test_devices_get_prefixes),
		cmocka_unit_test(test_large_inodes),
		cmocka_unit_test(test_full_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
