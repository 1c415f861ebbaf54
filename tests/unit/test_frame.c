/*
 * The mean frame the shaping enforcers fold a packet limit in by: learnt only from periods
 * that used the limits, taken whole when the mix changes, and the fold itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frame.h"

#define U UINT64_MAX

static void frame_trickle_is_not_learnt(void **state)
{
	struct frame_mean f = { 0 };
	struct rate arp = { 10 * 64 * 8, 10 }; /* ten 64-byte frames a second */

	(void)state;
	/* 700 Mbit/s and 60 kpps in force: a trickle uses neither. */
	frame_learn(&f, &arp, 700000000, 60000);
	assert_int_equal(f.bits, 0);
	assert_int_equal(frame_fold(U, 60000, &f), 60000ull * 1514 * 8); /* a full frame */
}

static void frame_learnt_from_packets_held_by_the_packet_limit(void **state)
{
	struct frame_mean f = { 0 };
	struct rate small = { 20000 * 64 * 8, 20000 }; /* at its 20 kpps, 4 % of the bit rate */

	(void)state;
	frame_learn(&f, &small, 242000000, 20000);
	assert_int_equal(f.bits, 512);
	assert_int_equal(frame_fold(150000000, 20000, &f), 10240000);
}

static void frame_down_smoothed_up_at_once(void **state)
{
	struct frame_mean f = { 8000 };
	struct rate a = { 1000 * 6000, 1000 }, b = { 1000 * 512, 1000 }, c = { 1000 * 9000, 1000 };

	(void)state;
	frame_learn(&f, &a, 10000000, U); /* 6000 bits: within 2x, one eighth of the way */
	assert_int_equal(f.bits, 7750);
	frame_learn(&f, &b, 1000000, U); /* 512 bits: less than half, taken whole */
	assert_int_equal(f.bits, 512);
	frame_learn(&f, &c, 1000000, U); /* larger: at once */
	assert_int_equal(f.bits, 9000);
}

static void frame_fold_keeps_the_lower_limit(void **state)
{
	struct frame_mean f = { 12112 };

	(void)state;
	assert_true(frame_fold(U, U, &f) == U);
	assert_int_equal(frame_fold(5000000, U, &f), 5000000);
	assert_int_equal(frame_fold(U, 1000, &f), 12112000);
	assert_int_equal(frame_fold(100, 1000, &f), 100);
	assert_int_equal(frame_fold(0, 1000, &f), 0);
	assert_true(frame_fold(U, U / 2, &f) == U); /* overflows: the packet limit binds nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frame_trickle_is_not_learnt),
		cmocka_unit_test(frame_learnt_from_packets_held_by_the_packet_limit),
		cmocka_unit_test(frame_down_smoothed_up_at_once),
		cmocka_unit_test(frame_fold_keeps_the_lower_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
