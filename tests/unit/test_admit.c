/*
 * Admission: a VM's guarantees must fit in what is free on its uplinks (bps) and on the packet
 * budget it draws on (pps), counting changes still on their way to disk; over the snapshot the
 * API gives it, of a host the dummy platform shows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admit.h"
#include "dummy.h"

static struct dummy_host x;

/* The snapshot admission reads, as the API gives it. */
static const struct snapshot *snap(void)
{
	const struct snapshot *s = control_snapshot(&x.ctl);

	assert_non_null(s);
	return s;
}

/* Two uplinks of 1000 bit/s (eth1 with its own packet budget of 100), host budget 500 pps;
 * the dummy platform (tests/support/dummy.h) shows a and b on eth0, c on eth1. */
static int setup(void **state)
{
	(void)state;
	dummy_uplink(&x, "eth0", 1000, 0);
	dummy_uplink(&x, "eth1", 1000, 100);
	x.dp.host_pps = 500;
	dummy_vm(&x, 0, "a", true);
	dummy_vm(&x, 1, "b", true);
	dummy_vm(&x, 2, "c", true)->uplinks[0] = "eth1";
	if (dummy_host_open(&x, ALLOC_WORK_CONSERVING, (const uint64_t[ALLOC_NRES]){ 0, 0 }) ||
	    control_set_sla(&x.ctl, "a",
			    &SLA_SPEC_EGRESS(1, 1, 600, SLA_UNLIMITED, 300, SLA_UNLIMITED)) ||
	    control_set_sla(&x.ctl, "c",
			    &SLA_SPEC_EGRESS(1, 1, 100, SLA_UNLIMITED, 60, SLA_UNLIMITED)) ||
	    control_set_sla(&x.ctl, "away",
			    &SLA_SPEC_EGRESS(1, 1, 900, SLA_UNLIMITED, 100, SLA_UNLIMITED)) ||
	    dummy_tick(&x))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dummy_host_close(&x);
	return 0;
}

static struct sla_spec mins(uint64_t bps, uint64_t pps)
{
	return SLA_SPEC_EGRESS(2, 1, bps, SLA_UNLIMITED, pps, SLA_UNLIMITED);
}

static void admit_fits_what_is_free_on_the_uplink(void **state)
{
	struct admit_refusal why;
	struct sla_spec s = mins(400, 0);

	(void)state;
	assert_int_equal(admit_sla(snap(), "b", &s, NULL, 0, &why), 0);
	s.dir[SLA_EGRESS].min_bps = 401;
	assert_int_equal(admit_sla(snap(), "b", &s, NULL, 0, &why), -EBUSY);
	assert_string_equal(why.field, "bandwidth.min_bps");
	assert_non_null(strstr(why.msg, "uplink eth0: 400 of 1000"));
	/* A VM's own guarantee does not count against it: a may go up to the whole uplink. */
	s.dir[SLA_EGRESS].min_bps = 1000;
	assert_int_equal(admit_sla(snap(), "a", &s, NULL, 0, &why), 0);
}

/* A port's SLA: its vif leaves its VM's split (the VM's guarantee there is freed for it), it
 * counts on its own uplink, others' ports count against a VM, and an absent port draws on the
 * host's packet budget. eth0 holds a (600) and b: 400 free. */
static void admit_port_slas(void **state)
{
	struct admit_refusal why;
	struct port_ref at;
	struct sla_spec s = mins(1000, 0);

	(void)state;
	assert_int_equal(snapshot_lookup_port(snap(), "a-vif", &at, NULL), 1);
	/* a's only vif on eth0: its 600 are freed when the port takes it, so 1000 fits... */
	assert_int_equal(admit_port_sla(snap(), "a-vif", &at, &s, NULL, 0, &why), 0);
	/* ... but not for b's vif, where a's 600 stay. */
	assert_int_equal(snapshot_lookup_port(snap(), "b-vif", &at, NULL), 1);
	assert_int_equal(admit_port_sla(snap(), "b-vif", &at, &s, NULL, 0, &why), -EBUSY);
	assert_non_null(strstr(why.msg, "uplink eth0: 400 of 1000"));
	s = mins(400, 0);
	assert_int_equal(admit_port_sla(snap(), "b-vif", &at, &s, NULL, 0, &why), 0);
	/* Set, it counts against a VM raising its own. */
	assert_int_equal(control_set_port_sla(&x.ctl, "b-vif", &s), 0);
	s = mins(601, 0);
	assert_int_equal(admit_sla(snap(), "a", &s, NULL, 0, &why), -EBUSY);
	/* An absent port (by MAC): only its packets, on the host's budget (500; a 300, c's on
	 * eth1's own, away 100: 100 free). */
	memset(&at, 0, sizeof(at));
	s = mins(0, 101);
	assert_int_equal(admit_port_sla(snap(), "02:00:00:00:00:01", &at, &s, NULL, 0, &why),
			 -EBUSY);
	assert_string_equal(why.field, "packet_rate.min_pps");
	s = mins(5000, 100);
	assert_int_equal(admit_port_sla(snap(), "02:00:00:00:00:01", &at, &s, NULL, 0, &why), 0);
	control_clear_port_sla(&x.ctl, "b-vif"); /* the next test's host as it was */
}

static void admit_counts_changes_in_flight(void **state)
{
	struct admit_refusal why;
	struct sla_spec s = mins(300, 0), pend = mins(200, 0);
	struct admit_change p[2] = { { "a", &pend, false }, { "b", NULL, false } };

	(void)state;
	/* a is going down to 200: 800 free for b. */
	assert_int_equal(admit_sla(snap(), "b",
				   &SLA_SPEC_EGRESS(2, 1, 800, SLA_UNLIMITED, 0, SLA_UNLIMITED), p,
				   1, &why),
			 0);
	/* a's SLA being deleted frees all 1000. */
	p[0].sla = NULL;
	assert_int_equal(admit_sla(snap(), "b",
				   &SLA_SPEC_EGRESS(2, 1, 1000, SLA_UNLIMITED, 0, SLA_UNLIMITED), p,
				   1, &why),
			 0);
	(void)s;
}

static void admit_packets_on_the_host_budget(void **state)
{
	struct admit_refusal why;
	struct sla_spec s = mins(0, 100);

	(void)state;
	/* On the host's 500: a 300 and the absent "away" 100 are taken; c draws on eth1's. */
	assert_int_equal(admit_sla(snap(), "b", &s, NULL, 0, &why), 0);
	s.dir[SLA_EGRESS].min_pps = 101;
	assert_int_equal(admit_sla(snap(), "b", &s, NULL, 0, &why), -EBUSY);
	assert_string_equal(why.field, "packet_rate.min_pps");
	assert_non_null(strstr(why.msg, "the host's packet budget: 100 of 500"));
	/* A VM not on the host draws on the host's budget too. */
	assert_int_equal(admit_sla(snap(), "new", &s, NULL, 0, &why), -EBUSY);
	s.dir[SLA_EGRESS].min_pps = 100;
	assert_int_equal(admit_sla(snap(), "new", &s, NULL, 0, &why), 0);
}

static void admit_packets_on_an_uplinks_own_budget(void **state)
{
	struct admit_refusal why;
	struct sla_spec s = mins(0, 100);

	(void)state;
	assert_int_equal(admit_sla(snap(), "c", &s, NULL, 0, &why), 0);
	s.dir[SLA_EGRESS].min_pps = 101;
	assert_int_equal(admit_sla(snap(), "c", &s, NULL, 0, &why), -EBUSY);
	assert_non_null(strstr(why.msg, "uplink eth1"));
}

static void admit_absent_vm_has_no_uplink_to_fill(void **state)
{
	struct admit_refusal why;
	struct sla_spec s = mins(5000, 0);

	(void)state;
	assert_int_equal(admit_sla(snap(), "elsewhere", &s, NULL, 0, &why), 0);
}

static void admit_counts_every_vifs_floor(void **state)
{
	struct admit_refusal why;
	struct sla_spec s = mins(300, 0);
	struct dummy_vm *d;

	(void)state;
	control_reconfigure(&x.ctl, ALLOC_WORK_CONSERVING, (const uint64_t[ALLOC_NRES]){ 100, 0 },
			    0);
	/* d, without an SLA, has two vifs on eth0: the default's floors, 200, are guaranteed. */
	d = dummy_vm(&x, 3, "d", true);
	d->uplinks[0] = d->uplinks[1] = "eth0";
	assert_int_equal(dummy_tick(&x), 0);
	assert_int_equal(snapshot_find_vm(snap(), "d")->n_vifs, 2);
	assert_int_equal(admit_sla(snap(), "b", &s, NULL, 0, &why), -EBUSY);
	assert_non_null(strstr(why.msg, "uplink eth0: 200 of 1000"));
	s.dir[SLA_EGRESS].min_bps = 200;
	assert_int_equal(admit_sla(snap(), "b", &s, NULL, 0, &why), 0);
	/* A minimum below the floor asks for the floor, which b holds already. */
	s.dir[SLA_EGRESS].min_bps = 50;
	assert_int_equal(admit_sla(snap(), "b", &s, NULL, 0, &why), 0);
	/* d's own: max(min, floor) + one more floor for its second vif, against 600 for a and
	 * b's floor. */
	s.dir[SLA_EGRESS].min_bps = 200;
	assert_int_equal(admit_sla(snap(), "d", &s, NULL, 0, &why), 0);
	s.dir[SLA_EGRESS].min_bps = 201;
	assert_int_equal(admit_sla(snap(), "d", &s, NULL, 0, &why), -EBUSY);
	assert_non_null(strstr(why.msg, "min_bps 301 exceeds what is free on uplink eth0: 300"));
	/* ...capped by its max. */
	s.dir[SLA_EGRESS].max_bps = 300;
	assert_int_equal(admit_sla(snap(), "d", &s, NULL, 0, &why), 0);
	d->present = false;
	x.dp.changed = true;
	assert_int_equal(dummy_tick(&x), 0);
	assert_null(snapshot_find_vm(snap(), "d"));
	control_reconfigure(&x.ctl, ALLOC_WORK_CONSERVING, (const uint64_t[ALLOC_NRES]){ 0, 0 }, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admit_fits_what_is_free_on_the_uplink),
		cmocka_unit_test(admit_counts_changes_in_flight),
		cmocka_unit_test(admit_packets_on_the_host_budget),
		cmocka_unit_test(admit_packets_on_an_uplinks_own_budget),
		cmocka_unit_test(admit_absent_vm_has_no_uplink_to_fill),
		cmocka_unit_test(admit_port_slas),
		cmocka_unit_test(admit_counts_every_vifs_floor),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
