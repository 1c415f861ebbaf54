/*
 * The allocator in both directions, through the period pipeline (control.c's units: a vif
 * once per direction held) over the dummy platform and an enforcer that holds ingress: each
 * direction has pools of its own (an uplink's transmit and receive capacities), a VM's side
 * of one direction neither gives to nor takes from the other, both directions' packets share
 * the host's budget, a VM SLA's side is split across its vifs by that direction's traffic, and
 * admission checks each pool. Without an enforcer that holds ingress, nothing of it shows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admit.h"
#include "control.h"
#include "dummy.h"
#include "snapshot.h"

#define MBIT 1000000ull
#define UPLINK_BPS (100 * MBIT)

static int setup(void **state)
{
	struct dummy_host *x = dummy_host_new(UPLINK_BPS);

	assert_non_null(x);
	x->ingress = true;
	dummy_vm(x, 0, "a", true);
	dummy_vm(x, 1, "b", true);
	assert_int_equal(dummy_host_open(x, ALLOC_WORK_CONSERVING,
					 (const uint64_t[ALLOC_NRES]){ 100000, 10 }),
			 0);
	assert_int_equal(dummy_tick(x), 0);
	*state = x;
	return 0;
}

static void set(struct dummy_host *x, const char *vm, struct sla_spec s)
{
	assert_int_equal(control_set_sla(&x->ctl, vm, &s), 0);
}

/* n periods, each with every listed vif record offering bps (1000-byte frames) */
static void run(struct dummy_host *x, int n, const char *const *ids, const uint64_t *bps)
{
	for (int k = 0; k < n; k++) {
		for (size_t i = 0; ids[i]; i++)
			dummy_traffic(x, ids[i], bps[i]);
		assert_int_equal(dummy_tick(x), 0);
	}
}

static uint64_t limit_bps(struct dummy_host *x, const char *id)
{
	struct dummy_vif *v = dummy_find(&x->de, id);

	assert_non_null(v);
	return v->last.bps;
}

static struct sla side(uint32_t prio, uint64_t min_bps, uint64_t max_bps)
{
	return (struct sla){ prio, 1, min_bps, max_bps, 0, SLA_UNLIMITED };
}

/* a sends at its egress max while b's ingress guarantee takes what b receives: neither
 * direction's pool sees the other's. */
static void directions_have_pools_of_their_own(void **state)
{
	struct dummy_host *x = *state;
	const char *ids[] = { "a-vif", "a-vif/in", "b-vif", "b-vif/in", NULL };
	const uint64_t bps[] = { 100 * MBIT, 100 * MBIT, 100 * MBIT, 100 * MBIT };
	struct sla_spec a, b;
	const struct snapshot *s;

	sla_spec_default(&a);
	sla_spec_default(&b);
	a.dir[SLA_EGRESS] = side(0, 80 * MBIT, 80 * MBIT);
	b.dir[SLA_INGRESS] = side(0, 70 * MBIT, SLA_UNLIMITED);
	set(x, "a", a);
	set(x, "b", b);
	run(x, 5, ids, bps);
	/* egress: a's class 0 at its max, b (class 7) what is left */
	assert_int_equal(limit_bps(x, "a-vif"), 80 * MBIT);
	assert_int_equal(limit_bps(x, "b-vif"), 20 * MBIT);
	/* ingress: b's class 0 takes all it wants (no max) above a's floor; a's egress SLA says
	 * nothing of what a receives */
	assert_true(limit_bps(x, "b-vif/in") >= 70 * MBIT);
	assert_int_equal(limit_bps(x, "b-vif/in") + limit_bps(x, "a-vif/in"), UPLINK_BPS);
	assert_int_equal(limit_bps(x, "a-vif/in"), 100000); /* the floor */
	s = control_snapshot(&x->ctl);
	assert_non_null(s);
	assert_true(s->holds_ingress);
	assert_int_equal(s->uplinks[0].pool[SLA_EGRESS][ALLOC_BPS].committed, 80 * MBIT + 100000);
	assert_int_equal(s->uplinks[0].pool[SLA_INGRESS][ALLOC_BPS].committed, 70 * MBIT + 100000);
	assert_int_equal(s->uplinks[0].pool[SLA_INGRESS][ALLOC_BPS].allocated, UPLINK_BPS);
}

/* The host's packet budget is one for both directions: a's egress guarantee and b's ingress
 * guarantee are served from it together, and the rest shared; admission counts them together
 * too. */
static void both_directions_share_the_packet_budget(void **state)
{
	struct dummy_host *x = *state;
	const char *ids[] = { "a-vif", "b-vif/in", NULL };
	const uint64_t bps[] = { 8 * MBIT, 8 * MBIT }; /* 1,000 packets a second each */
	struct sla_spec a, b, c;
	struct admit_refusal why;
	const struct snapshot *s;
	struct dummy_vif *va, *vb;

	x->dp.host_pps = 1000;
	x->dp.changed = true;
	sla_spec_default(&a);
	sla_spec_default(&b);
	a.dir[SLA_EGRESS].priority = 0;
	a.dir[SLA_EGRESS].min_pps = 600;
	b.dir[SLA_INGRESS].priority = 0;
	b.dir[SLA_INGRESS].min_pps = 300;
	set(x, "a", a);
	set(x, "b", b);
	run(x, 5, ids, bps);
	va = dummy_find(&x->de, "a-vif");
	vb = dummy_find(&x->de, "b-vif/in");
	assert_true(va->last.pps >= 600);
	assert_true(vb->last.pps >= 300);
	s = control_snapshot(&x->ctl);
	assert_non_null(s);
	/* four units on the host's budget: a's and b's each way, floors of 10 for the rest */
	assert_int_equal(s->host_pps_pool.n_vifs, 4);
	assert_int_equal(s->host_pps_pool.committed, 600 + 300 + 10 + 10);
	assert_true(s->host_pps_pool.allocated <= 1000);
	/* b's ingress guarantee cannot grow past what a's egress and the floors leave */
	c = b;
	c.dir[SLA_INGRESS].min_pps = 381;
	assert_int_equal(admit_sla(s, "b", &c, NULL, 0, &why), -EBUSY);
	assert_string_equal(why.field, "ingress.packet_rate.min_pps");
	c.dir[SLA_INGRESS].min_pps = 380;
	assert_int_equal(admit_sla(s, "b", &c, NULL, 0, &why), 0);
	/* nor the receive pool's bit rate past its capacity */
	c.dir[SLA_INGRESS].min_bps = UPLINK_BPS;
	assert_int_equal(admit_sla(s, "b", &c, NULL, 0, &why), -EBUSY);
	assert_string_equal(why.field, "ingress.bandwidth.min_bps");
}

/* A VM SLA's side is split across the VM's vifs by what each carries in that direction. */
static void a_side_is_split_by_its_own_direction(void **state)
{
	struct dummy_host *x = *state;
	const char *ids[] = { "c-vif", "c-vif1", "c-vif/in", "c-vif1/in", NULL };
	/* sends evenly, receives 3:1 */
	const uint64_t bps[] = { 10 * MBIT, 10 * MBIT, 30 * MBIT, 10 * MBIT };
	struct dummy_vm *c = dummy_vm(x, 2, "c", true);
	struct sla_spec s;

	c->uplinks[0] = "up0";
	c->uplinks[1] = "up0";
	sla_spec_default(&s);
	s.dir[SLA_EGRESS] = side(1, 0, 8 * MBIT);
	s.dir[SLA_INGRESS] = side(1, 0, 8 * MBIT);
	set(x, "c", s);
	run(x, 6, ids, bps);
	assert_int_equal(limit_bps(x, "c-vif"), 4 * MBIT);
	assert_int_equal(limit_bps(x, "c-vif1"), 4 * MBIT);
	assert_int_equal(limit_bps(x, "c-vif/in"), 6 * MBIT);
	assert_int_equal(limit_bps(x, "c-vif1/in"), 2 * MBIT);
}

/* An enforcer that does not hold ingress is never given a vif's ingress, and the snapshot
 * says it holds none. */
static void without_ingress_nothing_is_attached_for_it(void **state)
{
	struct dummy_host *x = dummy_host_new(UPLINK_BPS);
	const struct snapshot *s;

	(void)state;
	assert_non_null(x);
	dummy_vm(x, 0, "a", true);
	assert_int_equal(dummy_host_open(x, ALLOC_WORK_CONSERVING,
					 (const uint64_t[ALLOC_NRES]){ 100000, 10 }),
			 0);
	assert_int_equal(dummy_tick(x), 0);
	assert_non_null(dummy_find(&x->de, "a-vif"));
	assert_null(dummy_find(&x->de, "a-vif/in"));
	assert_int_equal(x->de.attaches, 1);
	s = control_snapshot(&x->ctl);
	assert_non_null(s);
	assert_false(s->holds_ingress);
	assert_false(s->vms[0].vifs[0].side[SLA_INGRESS].attached);
	assert_int_equal(s->uplinks[0].pool[SLA_INGRESS][ALLOC_BPS].n_vifs, 0);
	dummy_teardown((void **)&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(directions_have_pools_of_their_own, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(both_directions_share_the_packet_budget, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(a_side_is_split_by_its_own_direction, setup,
						dummy_teardown),
		cmocka_unit_test(without_ingress_nothing_is_attached_for_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
