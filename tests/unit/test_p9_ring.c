/* The 9pfs flex ring reader/writer (pure): whole messages, wrap-around,
 * partial messages, and the protocol violations that disconnect a device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "services/p9/p9_ring.h"

#define SZ 64u

static uint8_t ring[SZ], dst[SZ];

static void put_msg(uint32_t at, uint32_t len, uint8_t fill)
{
	uint8_t m[SZ];

	memset(m, fill, len);
	memcpy(m, &len, 4);
	assert_int_equal(p9_ring_put(ring, SZ, at, at, m, len), 0);
}

static void test_take_whole(void **state)
{
	uint32_t len = 0;

	put_msg(0, 20, 0xaa);
	assert_int_equal(p9_ring_take(ring, SZ, 0, 20, SZ, dst, SZ, &len), 1);
	assert_int_equal(len, 20);
	assert_int_equal(dst[19], 0xaa);
	/* Not all there yet: header only, part of the body, nothing. */
	assert_int_equal(p9_ring_take(ring, SZ, 0, 7, SZ, dst, SZ, &len), 0);
	assert_int_equal(p9_ring_take(ring, SZ, 0, 19, SZ, dst, SZ, &len), 0);
	assert_int_equal(p9_ring_take(ring, SZ, 0, 3, SZ, dst, SZ, &len), 0);
	assert_int_equal(p9_ring_take(ring, SZ, 5, 5, SZ, dst, SZ, &len), 0);
}

static void test_wrap(void **state)
{
	uint32_t len = 0, at = UINT32_MAX - 10; /* indexes wrap as well */

	put_msg(at, 30, 0x55);
	assert_int_equal(p9_ring_take(ring, SZ, at, at + 30, SZ, dst, SZ, &len), 1);
	assert_int_equal(len, 30);
	assert_int_equal(dst[29], 0x55);
	assert_int_equal(dst[4], 0x55);
	uint32_t n;

	memcpy(&n, dst, 4);
	assert_int_equal(n, 30);
}

static void test_violations(void **state)
{
	uint32_t len;

	/* prod more than a ring ahead */
	assert_int_equal(p9_ring_take(ring, SZ, 0, SZ + 1, SZ, dst, SZ, &len), -EPROTO);
	assert_int_equal(p9_ring_take(ring, SZ, 10, 5, SZ, dst, SZ, &len), -EPROTO);
	/* size fields below the header, past max, past the ring */
	for (uint32_t bad = 0; bad < 7; bad++) {
		memcpy(ring, &bad, 4);
		assert_int_equal(p9_ring_take(ring, SZ, 0, 8, SZ, dst, SZ, &len), -EMSGSIZE);
	}
	uint32_t big = 40;

	memcpy(ring, &big, 4);
	assert_int_equal(p9_ring_take(ring, SZ, 0, 8, 32, dst, SZ, &len), -EMSGSIZE);
	assert_int_equal(p9_ring_take(ring, SZ, 0, 8, SZ, dst, 32, &len), -EMSGSIZE);
	big = SZ + 1;
	memcpy(ring, &big, 4);
	assert_int_equal(p9_ring_take(ring, SZ, 0, 8, 1u << 20, dst, SZ * 2, &len), -EMSGSIZE);
	big = UINT32_MAX;
	memcpy(ring, &big, 4);
	assert_int_equal(p9_ring_take(ring, SZ, 0, 8, UINT32_MAX, dst, SZ, &len), -EMSGSIZE);
}

static void test_put_space(void **state)
{
	uint8_t m[SZ] = { 0 };

	assert_int_equal(p9_ring_put(ring, SZ, 10, 0, m, SZ - 10), 0);
	assert_int_equal(p9_ring_put(ring, SZ, 10, 0, m, SZ - 9), -EAGAIN);
	assert_int_equal(p9_ring_put(ring, SZ, SZ, 0, m, 1), -EAGAIN);
	assert_int_equal(p9_ring_put(ring, SZ, 0, 1, m, 1), -EPROTO); /* cons past prod */
	assert_int_equal(p9_ring_put(ring, SZ, SZ + 1, 0, m, 1), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_whole),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_violations),
		cmocka_unit_test(test_put_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
