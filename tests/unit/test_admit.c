/*
 * Admission: a VM's guarantees must fit in what is free on its uplinks (bps) and on the packet
 * budget it draws on (pps), counting changes still on their way to disk.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admit.h"

static struct host h;

/* Two uplinks of 1000 bit/s (eth1 with its own packet budget of 100), host budget 500 pps. */
static int setup(void **state)
{
	static struct platform_vif v1 = { .id = "vif1.0", .uplink = "eth0" },
				   v2 = { .id = "vif2.0", .uplink = "eth0" },
				   v3 = { .id = "vif3.0", .uplink = "eth1" };
	struct vm *vm;

	(void)state;
	host_init(&h);
	h.uplinks = calloc(2, sizeof(*h.uplinks));
	h.uplinks[0].cfg = (struct platform_uplink){ "eth0", 1000, 0 };
	h.uplinks[1].cfg = (struct platform_uplink){ "eth1", 1000, 100 };
	h.n_uplinks = 2;
	h.host_capacity_pps = 500;
	vm = host_add_vm(&h, "a");
	vm->present = true;
	vm_add_vif(&h, vm, &v1)->uplink = 0;
	host_set_sla(&h, "a", &(struct sla){ 1, 1, 600, SLA_UNLIMITED, 300, SLA_UNLIMITED });
	vm = host_add_vm(&h, "b");
	vm->present = true;
	vm_add_vif(&h, vm, &v2)->uplink = 0;
	vm = host_add_vm(&h, "c");
	vm->present = true;
	vm_add_vif(&h, vm, &v3)->uplink = 1;
	host_set_sla(&h, "c", &(struct sla){ 1, 1, 100, SLA_UNLIMITED, 60, SLA_UNLIMITED });
	host_set_sla(&h, "away", &(struct sla){ 1, 1, 900, SLA_UNLIMITED, 100, SLA_UNLIMITED });
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	host_free(&h);
	return 0;
}

static struct sla mins(uint64_t bps, uint64_t pps)
{
	return (struct sla){ 2, 1, bps, SLA_UNLIMITED, pps, SLA_UNLIMITED };
}

static void admit_fits_what_is_free_on_the_uplink(void **state)
{
	struct admit_refusal why;
	struct sla s = mins(400, 0);

	(void)state;
	assert_int_equal(admit_sla(&h, "b", &s, NULL, 0, &why), 0);
	s.min_bps = 401;
	assert_int_equal(admit_sla(&h, "b", &s, NULL, 0, &why), -EBUSY);
	assert_string_equal(why.field, "bandwidth.min_bps");
	assert_non_null(strstr(why.msg, "uplink eth0: 400 of 1000"));
	/* A VM's own guarantee does not count against it: a may go up to the whole uplink. */
	s.min_bps = 1000;
	assert_int_equal(admit_sla(&h, "a", &s, NULL, 0, &why), 0);
}

static void admit_counts_changes_in_flight(void **state)
{
	struct admit_refusal why;
	struct sla s = mins(300, 0), pend = mins(200, 0);
	struct admit_change p[2] = { { "a", &pend }, { "b", NULL } };

	(void)state;
	/* a is going down to 200: 800 free for b. */
	assert_int_equal(admit_sla(&h, "b",
				   &(struct sla){ 2, 1, 800, SLA_UNLIMITED, 0, SLA_UNLIMITED }, p,
				   1, &why),
			 0);
	/* a's SLA being deleted frees all 1000. */
	p[0].sla = NULL;
	assert_int_equal(admit_sla(&h, "b",
				   &(struct sla){ 2, 1, 1000, SLA_UNLIMITED, 0, SLA_UNLIMITED }, p,
				   1, &why),
			 0);
	(void)s;
}

static void admit_packets_on_the_host_budget(void **state)
{
	struct admit_refusal why;
	struct sla s = mins(0, 100);

	(void)state;
	/* On the host's 500: a 300 and the absent "away" 100 are taken; c draws on eth1's. */
	assert_int_equal(admit_sla(&h, "b", &s, NULL, 0, &why), 0);
	s.min_pps = 101;
	assert_int_equal(admit_sla(&h, "b", &s, NULL, 0, &why), -EBUSY);
	assert_string_equal(why.field, "packet_rate.min_pps");
	assert_non_null(strstr(why.msg, "the host's packet budget: 100 of 500"));
	/* A VM not on the host draws on the host's budget too. */
	assert_int_equal(admit_sla(&h, "new", &s, NULL, 0, &why), -EBUSY);
	s.min_pps = 100;
	assert_int_equal(admit_sla(&h, "new", &s, NULL, 0, &why), 0);
}

static void admit_packets_on_an_uplinks_own_budget(void **state)
{
	struct admit_refusal why;
	struct sla s = mins(0, 100);

	(void)state;
	assert_int_equal(admit_sla(&h, "c", &s, NULL, 0, &why), 0);
	s.min_pps = 101;
	assert_int_equal(admit_sla(&h, "c", &s, NULL, 0, &why), -EBUSY);
	assert_non_null(strstr(why.msg, "uplink eth1"));
}

static void admit_absent_vm_has_no_uplink_to_fill(void **state)
{
	struct admit_refusal why;
	struct sla s = mins(5000, 0);

	(void)state;
	assert_int_equal(admit_sla(&h, "elsewhere", &s, NULL, 0, &why), 0);
}

static void admit_counts_every_vifs_floor(void **state)
{
	static struct platform_vif v4 = { .id = "vif4.0", .uplink = "eth0" },
				   v5 = { .id = "vif4.1", .uplink = "eth0" };
	struct admit_refusal why;
	struct sla s = mins(300, 0);
	struct vm *d;

	(void)state;
	h.floor[ALLOC_BPS] = 100;
	/* d, without an SLA, has two vifs on eth0: the default's floors, 200, are guaranteed. */
	d = host_add_vm(&h, "d");
	d->present = true;
	vm_add_vif(&h, d, &v4)->uplink = 0;
	vm_add_vif(&h, d, &v5)->uplink = 0;
	assert_int_equal(admit_sla(&h, "b", &s, NULL, 0, &why), -EBUSY);
	assert_non_null(strstr(why.msg, "uplink eth0: 200 of 1000"));
	s.min_bps = 200;
	assert_int_equal(admit_sla(&h, "b", &s, NULL, 0, &why), 0);
	/* A minimum below the floor asks for the floor, which b holds already. */
	s.min_bps = 50;
	assert_int_equal(admit_sla(&h, "b", &s, NULL, 0, &why), 0);
	/* d's own: max(min, floor) + one more floor for its second vif, against 600 for a and
	 * b's floor. */
	s.min_bps = 200;
	assert_int_equal(admit_sla(&h, "d", &s, NULL, 0, &why), 0);
	s.min_bps = 201;
	assert_int_equal(admit_sla(&h, "d", &s, NULL, 0, &why), -EBUSY);
	assert_non_null(strstr(why.msg, "min_bps 301 exceeds what is free on uplink eth0: 300"));
	/* ...capped by its max. */
	s.max_bps = 300;
	assert_int_equal(admit_sla(&h, "d", &s, NULL, 0, &why), 0);
	while (d->n_vifs)
		vm_remove_vif(&h, d, d->n_vifs - 1);
	host_remove_vm(&h, d);
	h.floor[ALLOC_BPS] = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(admit_fits_what_is_free_on_the_uplink),
		cmocka_unit_test(admit_counts_changes_in_flight),
		cmocka_unit_test(admit_packets_on_the_host_budget),
		cmocka_unit_test(admit_packets_on_an_uplinks_own_budget),
		cmocka_unit_test(admit_absent_vm_has_no_uplink_to_fill),
		cmocka_unit_test(admit_counts_every_vifs_floor),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
