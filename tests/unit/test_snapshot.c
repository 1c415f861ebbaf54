/*
 * snapshot: what the readers read (agent/snapshot.h), over the dummy platform and enforcer
 * (tests/support/dummy.h). Nothing is built until a reader asks; one snapshot serves every
 * reader until the next publish (a period, or a change through a control function); it says
 * what the model says; lookups by name, UUID and domid find what the model's do; /metrics
 * renders once per snapshot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dummy.h"
#include "metrics.h"
#include "snapshot.h"

#define UUID_A "0b5c8f7e-3d0a-4b8e-9a51-2f6c1d9e7a10"

static int setup(void **state)
{
	struct dummy_host *x = dummy_host_new(1000000000ull);

	assert_non_null(x);
	dummy_vm(x, 0, "a", true);
	dummy_vm(x, 1, "b", true);
	assert_int_equal(dummy_host_open(x, ALLOC_WORK_CONSERVING,
					 (const uint64_t[ALLOC_NRES]){ 100000, 10 }),
			 0);
	*state = x;
	return 0;
}

static void built_when_asked_and_once_per_publish(void **state)
{
	struct dummy_host *x = *state;
	const struct snapshot *s1, *s2;
	struct vm_period period_b;
	uint64_t seq;

	for (int i = 0; i < 5; i++) {
		dummy_traffic(x, "b-vif", 8000000);
		assert_int_equal(dummy_tick(x), 0);
	}
	assert_null(x->ctl.snap); /* nobody asked: none built */
	s1 = control_snapshot(&x->ctl);
	assert_non_null(s1);
	assert_ptr_equal(control_snapshot(&x->ctl), s1); /* nothing published since */
	seq = s1->seq;
	period_b = snapshot_find_vm(s1, "b")->period;
	assert_int_equal(period_b.passed.pps, 1000);
	assert_int_equal(
		control_set_sla(&x->ctl, "a",
				&SLA_SPEC_EGRESS(0, 1, 5000000, SLA_UNLIMITED, 100, SLA_UNLIMITED)),
		0);
	s2 = control_snapshot(&x->ctl);
	assert_true(s2->seq > seq);
	/* between periods, what the VMs got is the same: taken from the last snapshot */
	assert_int_equal(s2->periods_run, x->ctl.periods_run);
	assert_memory_equal(&snapshot_find_vm(s2, "b")->period, &period_b, sizeof(period_b));
	assert_true(snapshot_find_vm(s2, "a")->has_sla);
	assert_int_equal(snapshot_find_vm(s2, "a")->sla.dir[SLA_EGRESS].min_bps, 5000000);
	seq = s2->seq;
	assert_int_equal(dummy_tick(x), 0);
	assert_true(control_snapshot(&x->ctl)->seq > seq);
	assert_int_equal(control_snapshot(&x->ctl)->tick, x->ctl.tick);
}

static void it_says_what_the_model_says(void **state)
{
	struct dummy_host *x = *state;
	const struct snapshot *s;
	const struct snap_vm *vm;
	const struct vm *live;

	dummy_vm(x, 2, "bad\xff", true); /* not UTF-8: refused by the platform's rule for names */
	for (int i = 0; i < 3; i++) {
		dummy_traffic(x, "a-vif", 8000000);
		assert_int_equal(dummy_tick(x), 0);
	}
	s = control_snapshot(&x->ctl);
	live = host_find_vm(&x->ctl.host, "a");
	vm = snapshot_find_vm(s, "a");
	assert_non_null(vm);
	assert_int_equal(s->n_vms, 2);
	assert_int_equal(vm->n_vifs, 1);
	assert_string_equal(vm->vifs[0].id, "a-vif");
	assert_string_equal(vm->vifs[0].uplink, "up0");
	assert_int_equal(vm->period.passed.pps, 1000);
	assert_int_equal(vm->vifs[0].side[SLA_EGRESS].rates.passed.bps,
			 live->vifs[0]->side[SLA_EGRESS].rates.passed.bps);
	assert_true(vm->vifs[0].side[SLA_EGRESS].have_alloc);
	assert_memory_equal(&vm->vifs[0].side[SLA_EGRESS].alloc,
			    &live->vifs[0]->side[SLA_EGRESS].alloc,
			    sizeof(vm->vifs[0].side[SLA_EGRESS].alloc));
	assert_int_equal(vm->total.passed_pkts, live->total.passed_pkts);
	assert_false(vm->has_sla);
	assert_memory_equal(&vm->sla_in_force, vm_sla(live), sizeof(vm->sla_in_force));
	assert_int_equal(s->n_uplinks, 1);
	assert_string_equal(s->uplinks[0].cfg.name, "up0");
	assert_int_equal(s->floor[ALLOC_BPS], 100000);
	assert_int_equal(s->n_refused, 1);
	assert_string_equal(s->refused[0].name, "bad\\xff"); /* escaped */
	assert_null(s->platform_problem);
	assert_true(s->started);
	assert_false(vm->vifs[0].delay[SLA_EGRESS].measured); /* the dummy samples no delay */
	assert_false(vm->vifs[0].delay[SLA_INGRESS].measured);
	assert_int_equal(s->n_vifs, 2);
}

static void lookups_find_what_the_model_finds(void **state)
{
	struct dummy_host *x = *state;
	const struct snap_vm *vm, *other = NULL;
	const struct snapshot *s;
	struct dummy_vm *d;

	d = dummy_vm(x, 0, "alpha", true);
	d->domid = 7;
	d->uuid = UUID_A;
	dummy_vm(x, 1, "7", true)->domid = 9;
	assert_int_equal(dummy_tick(x), 0);
	s = control_snapshot(&x->ctl);
	vm = snapshot_lookup_vm(s, "7", &other); /* a name, and another's domid */
	assert_string_equal(vm->id, "7");
	assert_non_null(other);
	assert_string_equal(other->id, "alpha");
	assert_string_equal(snapshot_find_vm(s, UUID_A)->id, "alpha");
	vm = snapshot_lookup_vm(s, "9", &other); /* one VM's domid only */
	assert_string_equal(vm->id, "7");
	assert_null(other);
	assert_null(snapshot_find_vm(s, "nobody"));
}

static void metrics_render_once_per_snapshot(void **state)
{
	struct dummy_host *x = *state;
	struct metrics_info info = { "dummy", "dummy", "work_conserving", 100 };
	struct metrics *m = metrics_new(&info);
	struct metrics_text *t1, *t2, *t3;

	assert_int_equal(dummy_tick(x), 0);
	t1 = metrics_get(m, control_snapshot(&x->ctl), NULL, NULL, NULL, NULL, true);
	t2 = metrics_get(m, control_snapshot(&x->ctl), NULL, NULL, NULL, NULL, true);
	assert_ptr_equal(t1, t2);	 /* the same text, shared */
	control_clear_sla(&x->ctl, "b"); /* a change: published, rendered again */
	t3 = metrics_get(m, control_snapshot(&x->ctl), NULL, NULL, NULL, NULL, true);
	assert_ptr_not_equal(t3, t1);
	metrics_text_release(t1);
	metrics_text_release(t2);
	metrics_text_release(t3);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(built_when_asked_and_once_per_publish, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(it_says_what_the_model_says, setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(lookups_find_what_the_model_finds, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(metrics_render_once_per_snapshot, setup,
						dummy_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
