/*
 * Delay, jitter and path loss from sampled packets: matching by signature, RFC 3550 jitter,
 * loss on timeout, quantiles within the histogram's resolution, the Prometheus buckets, and
 * the signature the two BPF programs share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "delay.h"
#include "netfront.h"

#define MS 1000000ull

static void a_sample_matched_gives_its_delay_and_jitter(void **state)
{
	struct delay_matcher *m = delay_matcher_new(16, 1000 * MS);
	struct delay_stats s;

	(void)state;
	memset(&s, 0, sizeof(s));
	delay_at_hook(m, &s, 0xabc, 1000);
	delay_at_uplink(m, 0xabc, 1250);
	assert_int_equal(s.total.n, 1);
	assert_int_equal(s.total.sum_ns, 250);
	assert_true(s.jitter_ns == 0.0); /* one transit time: no difference yet */
	delay_at_hook(m, &s, 0xdef, 2000);
	delay_at_uplink(m, 0xdef, 2450); /* 450: D = 200, J = 200 / 16 */
	assert_true(s.jitter_ns == 12.5);
	delay_at_hook(m, &s, 0x123, 3000);
	delay_at_uplink(m, 0x123, 3450); /* D = 0: J decays by 1/16 */
	assert_true(s.jitter_ns == 12.5 - 12.5 / 16);
	assert_int_equal(s.sampled, 3);
	assert_int_equal(s.lost, 0);
	assert_int_equal(s.pending, 0);
	delay_matcher_free(m);
}

static void an_unseen_sample_is_lost_at_the_timeout_not_before(void **state)
{
	struct delay_matcher *m = delay_matcher_new(16, 100 * MS);
	struct delay_stats s;

	(void)state;
	memset(&s, 0, sizeof(s));
	delay_at_hook(m, &s, 7, 5 * MS);
	delay_expire(m, 105 * MS - 1);
	assert_int_equal(s.lost, 0);
	delay_expire(m, 105 * MS);
	assert_int_equal(s.lost, 1);
	assert_int_equal(s.period_lost, 1);
	assert_int_equal(s.pending, 0);
	delay_at_uplink(m, 7, 200 * MS); /* too late: already lost, not a delay */
	assert_int_equal(s.total.n, 0);
	delay_period_end(&s);
	assert_int_equal(s.period_lost, 0);
	assert_int_equal(s.lost, 1);
	delay_matcher_free(m);
}

static void equal_signatures_match_oldest_first(void **state)
{
	struct delay_matcher *m = delay_matcher_new(16, 1000 * MS);
	struct delay_stats s;

	(void)state;
	memset(&s, 0, sizeof(s));
	delay_at_hook(m, &s, 42, 0);
	delay_at_hook(m, &s, 42, 10);
	delay_at_uplink(m, 42, 100);
	assert_int_equal(s.total.sum_ns, 100);
	delay_at_uplink(m, 42, 200);
	assert_int_equal(s.total.sum_ns, 100 + 190);
	delay_at_uplink(m, 99, 300); /* nobody's sample */
	assert_int_equal(s.total.n, 2);
	delay_matcher_free(m);
}

static void a_forgotten_vif_loses_nothing_and_overflow_is_counted(void **state)
{
	struct delay_matcher *m = delay_matcher_new(2, 10);
	struct delay_stats a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	delay_at_hook(m, &a, 1, 0);
	delay_at_hook(m, &b, 2, 0);
	delay_at_hook(m, &b, 3, 0); /* full: both still awaited */
	assert_int_equal(delay_overflows(m), 1);
	assert_int_equal(b.sampled, 1);
	delay_forget(m, &a);
	delay_expire(m, 100);
	assert_int_equal(a.lost, 0);
	assert_int_equal(b.lost, 1);
	delay_matcher_free(m);
}

static void a_period_ends_for_what_was_written_and_a_forgotten_vif_is_not_touched(void **state)
{
	struct delay_matcher *m = delay_matcher_new(16, 1000 * MS);
	struct delay_stats *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

	(void)state;
	delay_at_hook(m, a, 1, 0);
	delay_at_uplink(m, 1, 500);
	delay_at_hook(m, b, 2, 0);
	assert_int_equal(a->period.n, 1);
	assert_int_equal(a->period_sampled, 1);
	delay_matcher_period_end(m);
	assert_int_equal(a->period.n, 0);
	assert_int_equal(a->period_sampled, 0);
	assert_int_equal(a->total.n, 1); /* totals stay */
	assert_int_equal(b->period_sampled, 0);
	delay_at_hook(m, b, 3, 10);
	delay_forget(m, b);
	free(b); /* gone: the next period end must not touch it (ASan and valgrind watch) */
	delay_matcher_period_end(m);
	delay_expire(m, 2000 * MS);
	assert_int_equal(a->lost, 0);
	free(a);
	delay_matcher_free(m);
}

/* What a VM receives: seen at the uplink first, its vif named at the end. Never counted lost
 * (it may have been for the driver domain), first to go when the matcher is full, and not
 * taken for an egress sample with the same signature. */
static void ingress_is_matched_uplink_first_and_never_lost(void **state)
{
	struct delay_matcher *m = delay_matcher_new(2, 10 * MS);
	struct delay_stats in, out;

	(void)state;
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	delay_at_entry(m, 5, 1000);
	delay_at_vif(m, &in, 5, 4000);
	assert_int_equal(in.total.n, 1);
	assert_int_equal(in.total.sum_ns, 3000);
	assert_int_equal(in.sampled, 1);
	delay_at_vif(m, &in, 5, 5000); /* not seen at the uplink (a neighbour's): nothing */
	assert_int_equal(in.total.n, 1);
	/* An egress sample and an ingress one with the same signature: each ends its own way. */
	delay_at_hook(m, &out, 6, 100);
	delay_at_entry(m, 6, 200);
	delay_at_vif(m, &in, 6, 700);
	assert_int_equal(in.total.sum_ns, 3000 + 500);
	delay_at_uplink(m, 6, 1100);
	assert_int_equal(out.total.sum_ns, 1000);
	/* Full of ingress samples for nobody: an egress sample takes the oldest's room. */
	delay_at_entry(m, 7, 2000);
	delay_at_entry(m, 8, 2000);
	delay_at_hook(m, &out, 9, 2000);
	assert_int_equal(delay_overflows(m), 0);
	assert_int_equal(out.sampled, 2);
	delay_expire(m, 1000 * MS);
	assert_int_equal(out.lost, 1);
	assert_int_equal(in.lost, 0);
	delay_at_vif(m, &in, 8, 1000 * MS); /* expired: no delay */
	assert_int_equal(in.total.n, 2);
	delay_matcher_free(m);
}

static void quantiles_are_within_the_bucket_resolution(void **state)
{
	struct delay_matcher *m = delay_matcher_new(4096, 1000 * MS);
	struct delay_stats s;
	struct delay_summary sum;

	(void)state;
	memset(&s, 0, sizeof(s));
	for (uint64_t i = 1; i <= 1000; i++) { /* 1 .. 1000 us */
		delay_at_hook(m, &s, i, i * MS);
		delay_at_uplink(m, i, i * MS + i * 1000);
	}
	delay_summarize(&s.period, &sum);
	assert_int_equal(sum.n, 1000);
	assert_true(sum.mean_ns == 500500.0);
	assert_true(sum.p50_ns > 500000 * 0.9375 && sum.p50_ns < 500000 * 1.0625);
	assert_true(sum.p99_ns > 990000 * 0.9375 && sum.p99_ns < 990000 * 1.0625);
	delay_period_end(&s);
	assert_int_equal(s.period.n, 0);
	assert_int_equal(s.total.n, 1000);
	/* Prometheus buckets: <= 10 us holds exactly 1..10 us. */
	assert_int_equal(s.prom[0], 10);
	assert_int_equal(s.prom[1], 15); /* (10, 25] us */
	delay_matcher_free(m);
}

static void the_signature_sees_every_word_and_the_length(void **state)
{
	uint32_t w[NETFRONT_SIG_BYTES / 4];
	uint64_t base;

	(void)state;
	memset(w, 0, sizeof(w));
	base = netfront_sig(w, 64, 100);
	assert_true(netfront_sig(w, 64, 101) != base);
	for (int i = 0; i < 16; i++) {
		w[i] = 1;
		assert_true(netfront_sig(w, 64, 100) != base);
		w[i] = 0;
	}
	w[12] = 1; /* beyond 48 bytes: not part of a 48-byte signature */
	assert_true(netfront_sig(w, 48, 100) ==
		    (memset(w, 0, sizeof(w)), netfront_sig(w, 48, 100)));
	assert_int_equal(netfront_sig_len(14 + 64), 64);
	assert_int_equal(netfront_sig_len(64), 48); /* a 64-byte frame */
	assert_int_equal(netfront_sig_len(14 + 28), 28);
	assert_int_equal(netfront_sig_len(41), 0);
}

static void one_sample_in_2_to_the_k_is_taken(void **state)
{
	uint32_t w[NETFRONT_SIG_BYTES / 4];
	unsigned taken = 0;

	(void)state;
	memset(w, 0, sizeof(w));
	for (uint32_t i = 0; i < 64000; i++) { /* consecutive sequence numbers, as iperf3's */
		w[7] = i;
		taken += !(netfront_sig(w, 64, 1500) & 63);
	}
	assert_in_range(taken, 900, 1100); /* 1000 expected */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_sample_matched_gives_its_delay_and_jitter),
		cmocka_unit_test(an_unseen_sample_is_lost_at_the_timeout_not_before),
		cmocka_unit_test(equal_signatures_match_oldest_first),
		cmocka_unit_test(a_forgotten_vif_loses_nothing_and_overflow_is_counted),
		cmocka_unit_test(
			a_period_ends_for_what_was_written_and_a_forgotten_vif_is_not_touched),
		cmocka_unit_test(ingress_is_matched_uplink_first_and_never_lost),
		cmocka_unit_test(quantiles_are_within_the_bucket_resolution),
		cmocka_unit_test(the_signature_sees_every_word_and_the_length),
		cmocka_unit_test(one_sample_in_2_to_the_k_is_taken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
