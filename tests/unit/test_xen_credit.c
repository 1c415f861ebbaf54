/*
 * The xen-credit rate node: bps and pps to "<bytes>,<usec>", rounding, 0 (which netback reads
 * as unlimited) never written, the pps limit folded in by the frame size, the largest values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "xen_credit.h"

static const char *rate(uint64_t bps, uint64_t pps, uint64_t frame_bytes)
{
	static char buf[64];

	return xen_credit_rate(bps, pps, frame_bytes * 8, buf, sizeof(buf)) ? buf : "unlimited";
}

static void bytes_per_20_ms(void **state)
{
	(void)state;
	assert_string_equal(rate(150000000, UINT64_MAX, 0), "375000,20000");
	assert_string_equal(rate(1000000000, UINT64_MAX, 0), "2500000,20000");
	assert_string_equal(rate(UINT64_MAX, UINT64_MAX, 1500), "unlimited");
}

static void rounding_and_never_zero(void **state)
{
	(void)state;
	assert_string_equal(rate(600, UINT64_MAX, 0), "2,20000");  /* 1.5 bytes: to nearest */
	assert_string_equal(rate(500, UINT64_MAX, 0), "1,20000");  /* 1.25 */
	assert_string_equal(rate(1, UINT64_MAX, 0), "1,20000");	   /* 0.0025: at least 1 */
	assert_string_equal(rate(0, UINT64_MAX, 0), "1,20000");	   /* 0 would be unlimited */
	assert_string_equal(rate(UINT64_MAX, 0, 1500), "1,20000"); /* no packets: likewise */
}

static void packets_fold_in_by_the_frame_size(void **state)
{
	char buf[64];

	(void)state;
	/* The paper's VM2: 700 Mbit/s and 60 kpps; with 1500-byte frames the bytes bind... */
	assert_string_equal(rate(700000000, 60000, 1500), "1750000,20000");
	/* ...with 64-byte frames the packets do: 60 kpps x 64 B = 30.72 Mbit/s. */
	assert_string_equal(rate(700000000, 60000, 64), "76800,20000");
	/* Before a frame size is measured: a full frame, the least restrictive. */
	assert_string_equal(rate(UINT64_MAX, 20000, 0), "605600,20000");
	/* A measured mean of 64.5 bytes (516 bits) is not taken as 64: 20 kpps x 516 bits. */
	assert_true(xen_credit_rate(UINT64_MAX, 20000, 516, buf, sizeof(buf)));
	assert_string_equal(buf, "25800,20000");
}

static void the_largest_values(void **state)
{
	(void)state;
	/* (2^64 - 2) / 8 x 0.02 s, to nearest: exact in 128 bits. */
	assert_string_equal(rate(UINT64_MAX - 1, UINT64_MAX, 0), "46116860184273879,20000");
	/* A packet limit too large to matter saturates, not wraps. */
	assert_string_equal(rate(UINT64_MAX, UINT64_MAX - 1, 1514), "unlimited");
	assert_string_equal(rate(UINT64_MAX, 1ull << 62, 1514), "unlimited");
	assert_string_equal(rate(1000000000, UINT64_MAX - 1, 1514), "2500000,20000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_per_20_ms),
		cmocka_unit_test(rounding_and_never_zero),
		cmocka_unit_test(packets_fold_in_by_the_frame_size),
		cmocka_unit_test(the_largest_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
