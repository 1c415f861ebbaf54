/*
 * Counters to rates: exact integer rates, and a counter reset never gives a negative rate or
 * a wrap-around spike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "measure.h"

static void measure_rates_over_the_period(void **state)
{
	struct vif_counters a = { 0 }, b = {
		.offered_bytes = 1250000,
		.offered_pkts = 1000,
		.passed_bytes = 125000,
		.passed_pkts = 100,
		.dropped_bytes = 1125000,
		.dropped_pkts = 900,
	};
	struct vif_counters d;
	struct vif_rates r;

	(void)state;
	measure_delta(&a, &b, &d);
	measure_rates(&d, 100000000, &r); /* 100 ms */
	assert_int_equal(r.offered.bps, 100000000);
	assert_int_equal(r.offered.pps, 10000);
	assert_int_equal(r.passed.bps, 10000000);
	assert_int_equal(r.passed.pps, 1000);
	assert_int_equal(r.dropped.pps, 9000);
}

static void measure_counter_reset_is_not_a_spike(void **state)
{
	struct vif_counters a = { .passed_bytes = UINT64_MAX - 10, .passed_pkts = 5000000 },
			    b = { .passed_bytes = 1000, .passed_pkts = 10 };
	struct vif_counters d;
	struct vif_rates r;

	(void)state;
	measure_delta(&a, &b, &d);
	measure_rates(&d, 1000000000, &r);
	assert_int_equal(r.passed.bps, 8000); /* what was counted since the reset */
	assert_int_equal(r.passed.pps, 10);
}

static void measure_zero_interval_gives_zero(void **state)
{
	struct vif_counters a = { 0 }, b = { .passed_bytes = 100 };
	struct vif_counters d;
	struct vif_rates r;

	(void)state;
	measure_delta(&a, &b, &d);
	measure_rates(&d, 0, &r);
	assert_int_equal(r.passed.bps, 0);
}

static void measure_huge_counts_saturate(void **state)
{
	struct vif_counters a = { 0 }, b = { .passed_bytes = UINT64_MAX / 2 };
	struct vif_counters d;
	struct vif_rates r;

	(void)state;
	measure_delta(&a, &b, &d);
	measure_rates(&d, 1, &r);
	assert_true(r.passed.bps == UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(measure_rates_over_the_period),
		cmocka_unit_test(measure_counter_reset_is_not_a_spike),
		cmocka_unit_test(measure_zero_interval_gives_zero),
		cmocka_unit_test(measure_huge_counts_saturate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
