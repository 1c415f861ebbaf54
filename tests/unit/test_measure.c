/*
 * Counters to rates: exact integer rates, and a counter reset never gives a negative rate or
 * a wrap-around spike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* A vif's netdev re-created while it carried traffic (same name, a domain restarted or its
 * vif hot-plugged again): its new packet count already passed the old one, its byte count did
 * not. All counters restarted together, so all are taken from the new reading. */
static void measure_partial_looking_reset_is_one_reset(void **state)
{
	struct vif_counters a = { .passed_bytes = 1000000,
				  .passed_pkts = 100,
				  .offered_bytes = 1000000,
				  .offered_pkts = 100 },
			    b = { .passed_bytes = 9000,
				  .passed_pkts = 150,
				  .offered_bytes = 9000,
				  .offered_pkts = 150 };
	struct vif_counters d;

	(void)state;
	assert_true(measure_delta(&a, &b, &d));
	assert_int_equal(d.passed_pkts, 150);
	assert_int_equal(d.passed_bytes, 9000);
	assert_int_equal(d.offered_pkts, 150);
	assert_false(measure_delta(&b, &b, &d));
	assert_int_equal(d.passed_pkts, 0);
}

/* A source at a steady 1,000 packets (1 MB) a second read every 100 ms; its counters restart
 * from zero at tick 7 (the domain restarted 40 ms into that period) and again at tick 12 (the
 * vif was re-created and carried nothing in that period). No rate is ever negative, none above the
 * source's, and every period without a reset reads the source exactly. */
static void measure_reset_sequence_has_no_spike(void **state)
{
	struct vif_counters prev = { 0 }, cur, d;
	struct vif_rates r;
	uint64_t since = 0; /* ms counted on the current counters */
	int resets = 0;

	(void)state;
	for (int tick = 1; tick <= 20; tick++) {
		if (tick == 7)
			since = 60; /* reset 40 ms into the period */
		else if (tick == 12)
			since = 0; /* down for the period */
		else
			since += 100;
		memset(&cur, 0, sizeof(cur));
		cur.passed_pkts = cur.offered_pkts = since;
		cur.passed_bytes = cur.offered_bytes = since * 1000;
		resets += measure_delta(&prev, &cur, &d);
		measure_rates(&d, 100000000, &r);
		assert_true(r.passed.pps <= 1000 && r.passed.bps <= 8000000);
		if (tick == 7)
			assert_int_equal(r.passed.pps, 600); /* what came after the reset */
		else if (tick == 12)
			assert_int_equal(r.passed.pps, 0);
		else
			assert_int_equal(r.passed.pps, 1000);
		prev = cur;
	}
	assert_int_equal(resets, 2);
}

/* A counter that goes back a little (a source rounding, per-CPU parts read as they move) is
 * no reset: it stands still for the period, and the others count on. Taking it as one once
 * turned a whole counter into one period's delta: 13.5 Gbit/s on a 1 Gbit/s uplink. */
static void measure_counter_back_a_little_is_not_a_reset(void **state)
{
	struct vif_counters a = { .offered_bytes = 5000000000000ull,
				  .offered_pkts = 4000000000ull,
				  .passed_bytes = 4000000000000ull,
				  .passed_pkts = 3000000000ull,
				  .dropped_bytes = 1000000000000ull,
				  .dropped_pkts = 1000000000ull },
			    b = a, d;

	(void)state;
	b.offered_bytes += 150000;
	b.offered_pkts += 100;
	b.passed_bytes += 150001;
	b.passed_pkts += 101;
	b.dropped_bytes -= 1; /* offered - passed, derived by the source */
	b.dropped_pkts -= 1;
	assert_false(measure_delta(&a, &b, &d));
	assert_int_equal(d.offered_bytes, 150000);
	assert_int_equal(d.passed_pkts, 101);
	assert_int_equal(d.dropped_bytes, 0);
	assert_int_equal(d.dropped_pkts, 0);
}

/* After readings failed for 400 ms, a 100 ms period keeps a quarter of what the reading
 * brought, exactly, even for counts near the top of the range. */
static void measure_scale_keeps_a_share(void **state)
{
	struct vif_counters d = { .passed_bytes = 2000000,
				  .passed_pkts = 2000,
				  .offered_bytes = UINT64_MAX,
				  .dropped_pkts = 3 };

	(void)state;
	measure_scale(&d, 100000000, 400000000);
	assert_int_equal(d.passed_bytes, 500000);
	assert_int_equal(d.passed_pkts, 500);
	assert_true(d.offered_bytes == UINT64_MAX / 4);
	assert_int_equal(d.dropped_pkts, 0); /* rounds down: never more than was counted */
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
		cmocka_unit_test(measure_partial_looking_reset_is_one_reset),
		cmocka_unit_test(measure_reset_sequence_has_no_spike),
		cmocka_unit_test(measure_counter_back_a_little_is_not_a_reset),
		cmocka_unit_test(measure_scale_keeps_a_share),
		cmocka_unit_test(measure_zero_interval_gives_zero),
		cmocka_unit_test(measure_huge_counts_saturate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
