/*
 * report: each VM's history, an entry a second, as GET /vms/{id}/stats reads it from the
 * snapshot; over the dummy platform and enforcer (tests/support/dummy.h). An entry counts a
 * long period whole and a gap of failed readings by its share, entries keep to a one-second
 * grid when periods jitter, and a snapshot's history stays as it was while the model writes on
 * (the model writes into a copy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dummy.h"
#include "snapshot.h"

static int setup(void **state)
{
	struct dummy_host *x = dummy_host_new(1000000000ull);

	assert_non_null(x);
	dummy_vm(x, 0, "a", true);
	assert_int_equal(
		dummy_host_open(x, ALLOC_WORK_CONSERVING, (const uint64_t[ALLOC_NRES]){ 0, 0 }), 0);
	*state = x;
	return 0;
}

static void tick(struct dummy_host *x)
{
	assert_int_equal(dummy_tick(x), 0);
}

/* VM a's history as a reader sees it, in the snapshot (NULL: no entry yet). */
static const struct vm_history *history(struct dummy_host *x)
{
	const struct snapshot *s = control_snapshot(&x->ctl);
	const struct snap_vm *vm = s ? snapshot_find_vm(s, "a") : NULL;

	assert_non_null(vm);
	return vm->hist;
}

/* How many entries it has. */
static uint32_t entries(struct dummy_host *x)
{
	return history(x) ? history(x)->n : 0;
}

/* Passed packets a second of its newest entry. */
static uint64_t last_entry_pps(struct dummy_host *x)
{
	const struct vm_history *h = history(x);

	assert_true(h && h->n > 0);
	return vm_history_at(h, h->n - 1)->passed.pps;
}

/* A steady 10,000 packet/s: an entry with a 300 ms period in it (a long rescan) says 10,000,
 * not less; readings that fail across an entry's start give the entry after it its share, not
 * the gap's whole count. */
static void history_counts_a_long_period_whole_and_splits_a_gap(void **state)
{
	struct dummy_host *x = *state;
	struct dummy_vif *v;
	uint32_t n;

	tick(x);
	tick(x);
	v = dummy_find(&x->de, "a-vif");
	for (int i = 0; i < 12; i++) { /* past the first entry */
		dummy_traffic(x, "a-vif", 80000000);
		tick(x);
	}
	n = entries(x);
	for (int i = 0; i < 12 && entries(x) == n; i++) {
		dummy_traffic(x, "a-vif", 80000000);
		if (i == 3) { /* three periods' worth, read once, 300 ms after the last */
			dummy_traffic(x, "a-vif", 80000000);
			dummy_traffic(x, "a-vif", 80000000);
			x->t += 2 * x->period_ns;
		}
		tick(x);
	}
	assert_int_equal(entries(x), n + 1);
	assert_in_range(last_entry_pps(x), 9900, 10100);
	/* Readings fail from 3 periods before the next entry begins to 3 after. */
	n = entries(x);
	for (int i = 0; entries(x) == n; i++) {
		dummy_traffic(x, "a-vif", 80000000);
		tick(x);
		assert_true(i < 20);
	}
	n = entries(x);
	for (int i = 0; i < 13; i++) { /* unread from the 8th period to the 13th: across the
					* next entry's start, 10 periods on */
		dummy_traffic(x, "a-vif", 80000000);
		v->unreadable = i >= 7;
		tick(x);
	}
	assert_int_equal(entries(x), n + 1); /* it began, and closed short of 3 periods */
	v->unreadable = false;
	n = entries(x);
	for (int i = 0; entries(x) == n; i++) {
		dummy_traffic(x, "a-vif", 80000000);
		tick(x);
		assert_true(i < 20);
	}
	assert_in_range(last_entry_pps(x), 9900, 10100); /* its share of the gap, no more */
}

/* Periods whose ends jitter by a microsecond either side of the 100 ms grid (a real timer):
 * an entry a second, 32 in 32 s, each over the time it covers. Entries due a second after the
 * last one slipped a whole period whenever ten periods came to a microsecond short of it: 30
 * entries, the demo's timeline 29 points in 32 s. */
static void history_keeps_a_second_an_entry_when_periods_jitter(void **state)
{
	struct dummy_host *x = *state;
	uint64_t base;
	uint32_t n;

	tick(x);
	tick(x);
	n = entries(x);
	base = x->t;
	for (int k = 0; k <= 320; k++) {
		dummy_traffic(x, "a-vif", 8000000);
		x->t = base + (uint64_t)k * x->period_ns - (k % 3 == 1 ? 1000 : 0);
		assert_int_equal(control_tick(&x->ctl, x->t), 0);
	}
	assert_int_equal(entries(x) - n, 32);
	assert_in_range(last_entry_pps(x), 990, 1010);
	x->t = base + 321 * x->period_ns;
}

/* A snapshot taken before a second's entry keeps the entries it had, and its figures, while
 * the model goes on and writes the entry into a copy; the next snapshot has it. */
static void a_snapshot_s_history_stays_as_it_was(void **state)
{
	struct dummy_host *x = *state;
	const struct snapshot *before, *after;
	const struct vm_history *h;
	uint32_t n;

	for (int i = 0; i < 25; i++) {
		dummy_traffic(x, "a-vif", 8000000);
		tick(x);
	}
	before = control_snapshot(&x->ctl);
	h = snapshot_find_vm(before, "a")->hist;
	assert_non_null(h);
	n = h->n;
	assert_true(n >= 1);
	assert_int_equal(h->refs, 2); /* the model's and this snapshot's */
	x->ctl.snap = NULL;	      /* held here, as a reader would, while the model goes on */
	for (int i = 0; i < 10; i++) {
		dummy_traffic(x, "a-vif", 16000000);
		tick(x);
	}
	assert_int_equal(h->n, n); /* as it was */
	assert_int_equal(vm_history_at(h, n - 1)->passed.pps, 1000);
	assert_int_equal(h->refs, 1); /* the model writes its own copy */
	after = control_snapshot(&x->ctl);
	assert_ptr_not_equal(after, before);
	assert_int_equal(snapshot_find_vm(after, "a")->hist->n, n + 1);
	/* the second from 2.0 s to 3.0 s: 8 Mbit/s until 2.4 s, 16 after */
	assert_int_equal(vm_history_at(snapshot_find_vm(after, "a")->hist, n)->passed.pps, 1600);
	snapshot_free((struct snapshot *)before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(history_counts_a_long_period_whole_and_splits_a_gap,
						setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(history_keeps_a_second_an_entry_when_periods_jitter,
						setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(a_snapshot_s_history_stays_as_it_was, setup,
						dummy_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
