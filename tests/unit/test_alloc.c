/*
 * The allocator against its rules (dbavmd(8), ALLOCATION): one hand-worked case per rule, the
 * paper's two scenarios, and a seeded randomised check of every listed invariant in both modes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"

#define U ALLOC_UNLIMITED
#define MAXV 256
#define MAXU 4

__extension__ typedef unsigned __int128 u128;

/* A small host the tests fill in, and the allocator's answer. */
struct host {
	struct sla vms[MAXV];
	struct alloc_uplink_in up[MAXU];
	struct alloc_vif_in vifs[MAXV];
	struct alloc_in in;
	struct alloc_vif_out vo[MAXV];
	struct alloc_pool_out po[ALLOC_NRES][MAXU + 1];
	struct alloc_out out;
};

static void host_init(struct host *h, enum alloc_mode mode, uint64_t cap_bps, uint64_t cap_pps)
{
	memset(h, 0, sizeof(*h));
	h->in.mode = mode;
	h->in.sees_offered = true;
	h->in.host_capacity_pps = cap_pps;
	h->in.vms = h->vms;
	h->in.uplinks = h->up;
	h->in.vifs = h->vifs;
	h->up[0].capacity_bps = cap_bps;
	h->in.n_uplinks = 1;
	h->out.vifs = h->vo;
	h->out.pools[ALLOC_BPS] = h->po[ALLOC_BPS];
	h->out.pools[ALLOC_PPS] = h->po[ALLOC_PPS];
}

/* A VM with one vif on uplink 0, bps SLA only; returns the vif index. */
static size_t add_vm(struct host *h, uint32_t prio, uint32_t weight, uint64_t min_bps,
		     uint64_t max_bps, uint64_t demand_bps)
{
	size_t m = h->in.n_vms++, i = h->in.n_vifs++;

	h->vms[m] = (struct sla){ prio, weight, min_bps, max_bps, 0, U };
	h->vifs[i] = (struct alloc_vif_in){ .vm = (uint32_t)m, .uplink = 0 };
	h->vifs[i].offered[ALLOC_BPS] = demand_bps;
	h->vifs[i].limit[ALLOC_BPS] = U;
	h->vifs[i].limit[ALLOC_PPS] = U;
	return i;
}

static void run(struct host *h)
{
	struct alloc_ws *ws = alloc_ws_new();

	assert_non_null(ws);
	assert_int_equal(alloc_run(&h->in, &h->out, ws), 0);
	alloc_ws_free(ws);
}

#define A(h, i) ((h)->vo[i].alloc[ALLOC_BPS])
#define L(h, i) ((h)->vo[i].limit[ALLOC_BPS])

static void alloc_demand_under_capacity_is_met_and_headroom_given(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t a = add_vm(&h, 0, 1, 0, U, 300);
	run(&h);
	/* Step 2 meets the demand, step 3 hands the rest on as headroom. */
	assert_int_equal(A(&h, a), 1000);
	assert_int_equal(L(&h, a), 1000);
	assert_int_equal(h.vo[a].demand[ALLOC_BPS], 300);
}

static void alloc_guarantee_first_then_fair_share(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t a = add_vm(&h, 3, 1, 600, U, 1000);
	size_t b = add_vm(&h, 3, 1, 0, U, 1000);
	run(&h);
	/* g = 600/0, R = 400 shared equally above the guarantees. */
	assert_int_equal(A(&h, a), 800);
	assert_int_equal(A(&h, b), 200);
}

static void alloc_lower_class_waits_for_higher(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t lo = add_vm(&h, 1, 1, 100, U, 500);
	size_t hi = add_vm(&h, 0, 1, 0, U, 2000);
	run(&h);
	assert_int_equal(A(&h, lo), 100); /* its guarantee, nothing above */
	assert_int_equal(A(&h, hi), 900);
}

static void alloc_lower_class_gets_what_higher_leaves(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t hi = add_vm(&h, 0, 1, 0, U, 800);
	size_t lo = add_vm(&h, 5, 1, 0, 150, 800);
	run(&h);
	assert_int_equal(A(&h, hi), 850); /* 800 wanted + 50 headroom: lo is at its max */
	assert_int_equal(A(&h, lo), 150);
}

static void alloc_weights_share_a_class(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 400, 0);
	size_t a = add_vm(&h, 2, 1, 0, U, 1000);
	size_t b = add_vm(&h, 2, 3, 0, U, 1000);
	run(&h);
	assert_int_equal(A(&h, a), 100);
	assert_int_equal(A(&h, b), 300);
}

static void alloc_saturated_vif_leaves_rest_to_others(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 1000, 0);
	size_t a = add_vm(&h, 0, 1, 0, U, 100);
	size_t b = add_vm(&h, 0, 1, 0, U, 5000);
	size_t c = add_vm(&h, 0, 1, 0, U, 5000);
	run(&h);
	assert_int_equal(A(&h, a), 100);
	assert_int_equal(A(&h, b), 450);
	assert_int_equal(A(&h, c), 450);
}

static void alloc_max_caps_want_and_headroom(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t a = add_vm(&h, 0, 1, 0, U, 100);
	size_t b = add_vm(&h, 0, 1, 0, 300, 100);
	size_t c = add_vm(&h, 0, 1, 0, 200, 5000);
	run(&h);
	/* Step 2: 100, 100, 200 (c capped at max). Step 3: 600 left, b may rise 200 to its max,
	 * a (unlimited) takes the remaining 400; c is at max. */
	assert_int_equal(A(&h, c), 200);
	assert_int_equal(A(&h, b), 300);
	assert_int_equal(A(&h, a), 500);
	assert_int_equal(L(&h, c), 200);
}

static void alloc_strict_keeps_unused_guarantee_reserved(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 1000, 0);
	size_t a = add_vm(&h, 0, 1, 600, U, 0);
	size_t b = add_vm(&h, 1, 1, 0, U, 1000);
	run(&h);
	assert_int_equal(A(&h, a), 600);
	assert_int_equal(A(&h, b), 400);
	assert_int_equal(L(&h, a) + L(&h, b), 1000); /* the sum of limits never exceeds C */
}

static void alloc_work_conserving_lends_unused_guarantee(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t a = add_vm(&h, 0, 1, 600, U, 0);
	size_t b = add_vm(&h, 1, 1, 0, U, 1000);
	run(&h);
	assert_int_equal(A(&h, b), 1000);
	assert_int_equal(A(&h, a), 0);
	/* Step 4: the quiet vif keeps its guarantee as its limit, to reach it at once. */
	assert_int_equal(L(&h, a), 600);
	assert_int_equal(L(&h, b), 1000);
}

static void alloc_overcommit_scales_guarantees(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t a = add_vm(&h, 0, 1, 800, U, 800);
	size_t b = add_vm(&h, 0, 1, 600, U, 600);
	run(&h);
	/* 800 and 600 scaled by 1000/1400: 571.4 and 428.6; the lost unit goes to a. */
	assert_int_equal(A(&h, a), 572);
	assert_int_equal(A(&h, b), 428);
	assert_true(h.po[ALLOC_BPS][0].overcommitted);
	assert_int_equal(h.po[ALLOC_BPS][0].committed, 1400);
	assert_int_equal(L(&h, a), 800);
}

static void alloc_remainder_goes_to_first_created(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 1000, 0);
	size_t a = add_vm(&h, 4, 1, 0, U, 1000);
	size_t b = add_vm(&h, 4, 1, 0, U, 1000);
	size_t c = add_vm(&h, 4, 1, 0, U, 1000);
	run(&h);
	assert_int_equal(A(&h, a), 334);
	assert_int_equal(A(&h, b), 333);
	assert_int_equal(A(&h, c), 333);
}

static void alloc_unlimited_capacity_gives_every_max(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 0, 0);
	size_t a = add_vm(&h, 0, 1, 10, 500, 100);
	size_t b = add_vm(&h, 7, 1, 0, U, 100);
	run(&h);
	assert_int_equal(L(&h, a), 500);
	assert_true(L(&h, b) == U);
	assert_true(h.vo[b].limit[ALLOC_PPS] == U);
}

static void alloc_probes_upward_without_offered_load(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 325, 0); /* the wants exactly: no headroom to hide them */
	h.in.sees_offered = false;
	size_t a = add_vm(&h, 0, 1, 0, U, 0);
	size_t b = add_vm(&h, 0, 1, 0, U, 0);
	size_t c = add_vm(&h, 0, 1, 0, 110, 0);
	h.vifs[a].measured[ALLOC_BPS] = 96, h.vifs[a].limit[ALLOC_BPS] = 100;
	h.vifs[b].measured[ALLOC_BPS] = 90, h.vifs[b].limit[ALLOC_BPS] = 100;
	h.vifs[c].measured[ALLOC_BPS] = 100, h.vifs[c].limit[ALLOC_BPS] = 100;
	run(&h);
	assert_int_equal(h.vo[a].demand[ALLOC_BPS], 125); /* at >= 95 %: 1.25 x limit */
	assert_int_equal(h.vo[b].demand[ALLOC_BPS], 90);  /* below: what it sent */
	assert_int_equal(h.vo[c].demand[ALLOC_BPS], 110); /* capped at max */
	assert_int_equal(A(&h, a), 125);
	/* At its limit lately (a passed-only enforcer's window), a dip below 95 % keeps the
	 * probe, in each resource on its own. */
	h.vifs[b].at_limit_lately[ALLOC_BPS] = true;
	h.vifs[b].measured[ALLOC_PPS] = 80, h.vifs[b].limit[ALLOC_PPS] = 100;
	run(&h);
	assert_int_equal(h.vo[b].demand[ALLOC_BPS], 125);
	assert_int_equal(h.vo[b].demand[ALLOC_PPS], 80);
	h.vifs[b].at_limit_lately[ALLOC_PPS] = true;
	run(&h);
	assert_int_equal(h.vo[b].demand[ALLOC_PPS], 125);
}

/* A unit whose senders wait in a shaper (vif-police's ingress) is judged by what passed even
 * where the enforcer sees the rest's offered load: a TCP flow that offered less for a period
 * keeps asking for 1.25 x its limit, and one held back lately for its max; a unit beside it
 * that does not wait keeps its offered load. */
static void alloc_waiting_unit_probes_where_others_are_seen(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 6000, 0);
	size_t tcp = add_vm(&h, 7, 1, 0, 3000, 1000);
	size_t flood = add_vm(&h, 7, 1, 0, U, 5000);
	size_t idle = add_vm(&h, 7, 1, 0, U, 0);
	h.vifs[tcp].waits = true;
	h.vifs[tcp].measured[ALLOC_BPS] = 2900, h.vifs[tcp].limit[ALLOC_BPS] = 3000;
	run(&h);
	assert_int_equal(h.vo[tcp].demand[ALLOC_BPS], 3000); /* 1.25 x 3000, capped at its max */
	assert_int_equal(h.vo[flood].demand[ALLOC_BPS], 5000);
	assert_int_equal(L(&h, tcp), 3000);
	assert_int_equal(L(&h, tcp) + L(&h, flood) + L(&h, idle), 6000);
	/* Seen as offered, the same period's dip would have cost it its limit: */
	h.vifs[tcp].waits = false;
	run(&h);
	assert_int_equal(h.vo[tcp].demand[ALLOC_BPS], 1000);
	assert_true(L(&h, tcp) < 3000);
	/* Held back by its shaper lately: its max, whatever passed. */
	h.vifs[tcp].waits = true;
	h.vifs[tcp].measured[ALLOC_BPS] = 500;
	h.vifs[tcp].held = true;
	run(&h);
	assert_int_equal(h.vo[tcp].demand[ALLOC_BPS], 3000);
}

static void alloc_splits_vm_sla_by_traffic_share(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 100000, 0);
	h.vms[0] = (struct sla){ 0, 2, 300, 900, 40, 101 };
	h.in.n_vms = 1;
	h.vifs[0] = (struct alloc_vif_in){ .vm = 0, .uplink = 0 };
	h.vifs[1] = (struct alloc_vif_in){ .vm = 0, .uplink = 0 };
	h.vifs[0].offered[ALLOC_BPS] = 100;
	h.vifs[1].offered[ALLOC_BPS] = 300;
	h.in.n_vifs = 2;
	run(&h);
	assert_int_equal(h.vo[0].min[ALLOC_BPS], 75);
	assert_int_equal(h.vo[1].min[ALLOC_BPS], 225);
	assert_int_equal(h.vo[0].max[ALLOC_BPS], 225);
	assert_int_equal(h.vo[1].max[ALLOC_BPS], 675);
	/* pps goes by the bps share too: 10/30, 25.25/75.75 -> the unit left goes to vif 0. */
	assert_int_equal(h.vo[0].min[ALLOC_PPS], 10);
	assert_int_equal(h.vo[1].min[ALLOC_PPS], 30);
	assert_int_equal(h.vo[0].max[ALLOC_PPS], 26);
	assert_int_equal(h.vo[1].max[ALLOC_PPS], 75);
	assert_int_equal(h.vo[0].weight + h.vo[1].weight, 2 * ALLOC_WEIGHT_ONE);
	assert_int_equal(h.vo[1].weight, 3 * h.vo[0].weight);
}

static void alloc_splits_silent_vm_equally(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 100000, 0);
	h.vms[0] = (struct sla){ 0, 1, 301, U, 0, U };
	h.in.n_vms = 1;
	h.vifs[0] = (struct alloc_vif_in){ .vm = 0, .uplink = 0 };
	h.vifs[1] = (struct alloc_vif_in){ .vm = 0, .uplink = 0 };
	h.in.n_vifs = 2;
	run(&h);
	assert_int_equal(h.vo[0].min[ALLOC_BPS], 151);
	assert_int_equal(h.vo[1].min[ALLOC_BPS], 150);
	assert_true(h.vo[1].max[ALLOC_BPS] == U);
}

static void alloc_host_packet_budget_spans_uplinks(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 1000000, 300);
	h.up[1].capacity_bps = 1000000;
	h.up[2] = (struct alloc_uplink_in){ 1000000, 50 }; /* its own packet budget */
	h.in.n_uplinks = 3;
	for (uint32_t i = 0; i < 3; i++) {
		add_vm(&h, 0, 1, 0, U, 1000);
		h.vifs[i].uplink = i;
		h.vifs[i].offered[ALLOC_PPS] = 1000;
	}
	run(&h);
	assert_int_equal(h.vo[0].alloc[ALLOC_PPS], 150);
	assert_int_equal(h.vo[1].alloc[ALLOC_PPS], 150);
	assert_int_equal(h.vo[2].alloc[ALLOC_PPS], 50);
	assert_int_equal(h.po[ALLOC_PPS][3].capacity, 300);
	assert_int_equal(h.po[ALLOC_PPS][3].n_vifs, 2);
}

static void alloc_rejects_bad_indices(void **state)
{
	struct host h;
	struct alloc_ws *ws = alloc_ws_new();

	(void)state;
	host_init(&h, ALLOC_STRICT, 1000, 0);
	add_vm(&h, 0, 1, 0, U, 1);
	h.vifs[0].uplink = 5;
	assert_int_equal(alloc_run(&h.in, &h.out, ws), -EINVAL);
	alloc_ws_free(ws);
}

static void alloc_headroom_shared_across_classes(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	size_t gold = add_vm(&h, 0, 1, 100, U, 0); /* a guarantee and no max, quiet */
	size_t capped = add_vm(&h, 1, 1, 0, 50, 0);
	size_t plain = add_vm(&h, 7, 1, 0, U, 0); /* no SLA: the default */
	run(&h);
	/* Nobody asked: all of C is headroom, water-filled over every class at once. */
	assert_int_equal(A(&h, capped), 50);
	assert_int_equal(A(&h, gold), 475);
	assert_int_equal(A(&h, plain), 475);
	assert_int_equal(L(&h, gold), 475);
}

static void alloc_headroom_in_strict_mode_too(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 1000, 0);
	size_t a = add_vm(&h, 0, 1, 600, U, 0);
	size_t b = add_vm(&h, 1, 1, 0, U, 100);
	run(&h);
	/* 600 reserved, 100 wanted, 300 left: shared equally, classes ignored. */
	assert_int_equal(A(&h, a), 750);
	assert_int_equal(A(&h, b), 250);
	assert_int_equal(L(&h, a) + L(&h, b), 1000);
}

static void alloc_floor_is_every_vifs_least_limit(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	h.in.floor[ALLOC_BPS] = 10;
	h.in.floor[ALLOC_PPS] = 3;
	size_t hog = add_vm(&h, 0, 1, 100, U, 5000);
	size_t capped = add_vm(&h, 1, 1, 0, 40, 0);
	size_t plain = add_vm(&h, 7, 1, 0, U, 0);
	run(&h);
	/* The class-0 VM wants everything, but the quiet ones keep the floor as their limit:
	 * enough for the packets that show they want more. */
	assert_int_equal(h.vo[capped].min[ALLOC_BPS], 10);
	assert_int_equal(L(&h, capped), 10);
	assert_int_equal(L(&h, plain), 10);
	assert_int_equal(A(&h, hog), 1000);
	/* pps: no capacity, every limit its max; the floor is still the effective minimum. */
	assert_int_equal(h.vo[plain].min[ALLOC_PPS], 3);
	/* Once the quiet VM shows demand, the floor is its guarantee. */
	h.vifs[plain].offered[ALLOC_BPS] = 500;
	run(&h);
	assert_int_equal(A(&h, plain), 10);
	assert_int_equal(A(&h, hog), 990);
}

static void alloc_floor_capped_by_max_and_zero_only_at_max_zero(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_WORK_CONSERVING, 1000, 0);
	h.in.floor[ALLOC_BPS] = 10;
	size_t hog = add_vm(&h, 0, 1, 0, U, 5000);
	size_t tiny = add_vm(&h, 1, 1, 0, 4, 0);
	size_t shut = add_vm(&h, 1, 1, 0, 0, 0);
	run(&h);
	assert_int_equal(h.vo[tiny].min[ALLOC_BPS], 4);
	assert_int_equal(L(&h, tiny), 4);
	assert_int_equal(L(&h, shut), 0);
	/* Quiet, they lend their guarantees (work-conserving): the hog may use all of C. */
	assert_int_equal(A(&h, hog), 1000);
	assert_int_equal(h.po[ALLOC_BPS][0].committed, 14);
}

static void alloc_floors_count_as_guarantees_when_overcommitted(void **state)
{
	struct host h;

	(void)state;
	host_init(&h, ALLOC_STRICT, 100, 0);
	h.in.floor[ALLOC_BPS] = 40;
	size_t a = add_vm(&h, 0, 1, 0, U, 0);
	size_t b = add_vm(&h, 0, 1, 0, U, 0);
	size_t c = add_vm(&h, 0, 1, 0, U, 0);
	run(&h);
	assert_true(h.po[ALLOC_BPS][0].overcommitted);
	assert_int_equal(h.po[ALLOC_BPS][0].committed, 120);
	assert_int_equal(A(&h, a) + A(&h, b) + A(&h, c), 100);
	assert_int_equal(A(&h, a), 34);
}

/*
 * The paper's testbed: 1 Gbit/s uplink, 190 kpps host budget, three VMs offering 1 Gbit/s.
 * SLAs 150 Mbit/s & 20 kpps, 700 Mbit/s & 60 kpps, 150 Mbit/s & 60 kpps (min = max for bps).
 */
static void paper_host(struct host *h, const uint32_t frame_bytes[3])
{
	static const uint64_t bps[3] = { 150000000, 700000000, 150000000 };
	static const uint64_t pps[3] = { 20000, 60000, 60000 };

	host_init(h, ALLOC_WORK_CONSERVING, 1000000000, 190000);
	for (int i = 0; i < 3; i++) {
		add_vm(h, 1, 1, bps[i], bps[i], 1000000000);
		h->vms[i].max_pps = pps[i];
		h->vifs[i].offered[ALLOC_PPS] = 1000000000ull / (8 * frame_bytes[i]);
	}
}

/* What a vif can send under both limits, in bits/s. */
static uint64_t effective_bps(const struct host *h, int i, uint32_t frame_bytes)
{
	uint64_t by_pps = h->vo[i].limit[ALLOC_PPS] * 8 * frame_bytes;

	return by_pps < h->vo[i].limit[ALLOC_BPS] ? by_pps : h->vo[i].limit[ALLOC_BPS];
}

static void alloc_paper_scenario1_large_frames(void **state)
{
	static const uint32_t f[3] = { 1500, 1500, 1500 };
	struct host h;

	(void)state;
	paper_host(&h, f);
	run(&h);
	assert_int_equal(effective_bps(&h, 0, 1500), 150000000);
	assert_int_equal(effective_bps(&h, 1, 1500), 700000000);
	assert_int_equal(effective_bps(&h, 2, 1500), 150000000);
}

static void alloc_paper_scenario2_small_frames(void **state)
{
	static const uint32_t f[3] = { 64, 1500, 64 };
	struct host h;

	(void)state;
	paper_host(&h, f);
	run(&h);
	assert_int_equal(h.vo[0].limit[ALLOC_PPS], 20000);
	assert_int_equal(h.vo[2].limit[ALLOC_PPS], 60000);
	assert_int_equal(effective_bps(&h, 0, 64), 10240000);
	assert_int_equal(effective_bps(&h, 1, 1500), 700000000);
	assert_int_equal(effective_bps(&h, 2, 64), 30720000);
}

/* ---- randomised invariants ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: seeded, so a failure names a host that can be rebuilt. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void random_host(struct host *h, enum alloc_mode mode)
{
	size_t n = 1 + rnd_below(200), n_vms;

	host_init(h, mode, 0, 0);
	h->in.n_uplinks = 1 + rnd_below(3);
	h->in.host_capacity_pps = rnd_below(8) == 0 ? 0 : 1 + rnd_below(2000000);
	for (size_t u = 0; u < h->in.n_uplinks; u++) {
		h->up[u].capacity_bps = rnd_below(10) == 0 ? 0 : 1 + rnd_below(10000000000ull);
		h->up[u].capacity_pps = rnd_below(4) == 0 ? 1 + rnd_below(1000000) : 0;
	}
	h->in.sees_offered = rnd_below(2);
	h->in.floor[ALLOC_BPS] = rnd_below(3) == 0 ? 0
				 : rnd_below(3)	   ? 100000
						   : rnd_below(50000000);
	h->in.floor[ALLOC_PPS] = rnd_below(3) == 0 ? 0 : rnd_below(3) ? 10 : rnd_below(20000);
	n_vms = 1 + rnd_below(n);
	for (size_t m = 0; m < n_vms; m++) {
		struct sla *s = &h->vms[m];
		/* Mostly admissible guarantees, now and then over-committed ones. */
		uint64_t gb = rnd_below(4) == 0 ? 1000000000 : 20000000;
		uint64_t gp = rnd_below(4) == 0 ? 200000 : 4000;

		s->priority = (uint32_t)rnd_below(8);
		s->weight = 1 + (uint32_t)rnd_below(rnd_below(2) ? 4 : SLA_WEIGHT_MAX);
		s->min_bps = rnd_below(3) == 0 ? 0 : rnd_below(gb);
		s->max_bps = rnd_below(3) == 0 ? U : s->min_bps + rnd_below(2000000000);
		s->min_pps = rnd_below(3) == 0 ? 0 : rnd_below(gp);
		s->max_pps = rnd_below(3) == 0 ? U : s->min_pps + rnd_below(300000);
	}
	h->in.n_vms = n_vms;
	for (size_t i = 0; i < n; i++) {
		struct alloc_vif_in *v = &h->vifs[i];

		v->vm = i < n_vms ? (uint32_t)i : (uint32_t)rnd_below(n_vms);
		v->uplink = (uint32_t)rnd_below(h->in.n_uplinks);
		v->waits = h->in.sees_offered && rnd_below(3) == 0;
		v->held = rnd_below(8) == 0;
		for (int r = 0; r < ALLOC_NRES; r++) {
			uint64_t scale = r == ALLOC_BPS ? 3000000000ull : 3000000;

			v->offered[r] = rnd_below(4) == 0 ? 0 : rnd_below(scale);
			v->limit[r] = rnd_below(4) == 0 ? U : 1 + rnd_below(scale);
			v->measured[r] = rnd_below(v->limit[r] == U ? scale : v->limit[r] + 1);
		}
	}
	h->in.n_vifs = n;
}

static uint32_t pool_of(const struct host *h, size_t i, int r)
{
	uint32_t u = h->vifs[i].uplink;

	return r == ALLOC_BPS || h->up[u].capacity_pps ? u : (uint32_t)h->in.n_uplinks;
}

static uint64_t want_of(const struct alloc_vif_out *o, int r)
{
	return o->demand[r] < o->max[r] ? o->demand[r] : o->max[r];
}

static uint64_t guarantee_of(const struct host *h, const struct alloc_vif_out *o, int r)
{
	uint64_t w = want_of(o, r);

	if (h->in.mode == ALLOC_STRICT)
		return o->min[r];
	return w < o->min[r] ? w : o->min[r];
}

/* How often the random hosts reach each case, so a weak generator shows. */
static struct {
	unsigned long pools, overcommitted, unlimited, unmet_class, fair_pairs;
} seen;

static void check_invariants(const struct host *h, unsigned long seed)
{
	for (int r = 0; r < ALLOC_NRES; r++) {
		for (uint32_t p = 0; p <= h->in.n_uplinks; p++) {
			const struct alloc_pool_out *po = &h->po[r][p];
			u128 sum = 0, sum_lim = 0;
			int unmet_class = 8; /* highest class with unmet want */

			for (size_t i = 0; i < h->in.n_vifs; i++) {
				const struct alloc_vif_out *o = &h->vo[i];
				uint64_t lim_expect;

				if (pool_of(h, i, r) != p)
					continue;
				sum += o->alloc[r];
				sum_lim += o->limit[r];
				{
					uint64_t fl = h->in.floor[r], mx = o->max[r];

					if (o->min[r] < (fl < mx ? fl : mx))
						fail_msg("seed %lu vif %zu: below the floor", seed,
							 i);
					if (fl && o->limit[r] == 0 && o->max[r] != 0)
						fail_msg("seed %lu vif %zu: limit 0, max not", seed,
							 i);
				}
				if (po->capacity == 0) {
					if (o->limit[r] != o->max[r])
						fail_msg("seed %lu: unlimited pool, limit != max",
							 seed);
					continue;
				}
				if (o->alloc[r] > o->max[r])
					fail_msg("seed %lu vif %zu: a > max", seed, i);
				if (!po->overcommitted &&
				    o->alloc[r] <
					    (o->demand[r] < o->min[r] ? o->demand[r] : o->min[r]))
					fail_msg("seed %lu vif %zu: a < min(d, min)", seed, i);
				lim_expect = o->alloc[r] > o->min[r] ? o->alloc[r] : o->min[r];
				if (lim_expect > o->max[r])
					lim_expect = o->max[r];
				if (o->limit[r] != lim_expect)
					fail_msg("seed %lu vif %zu: limit rule", seed, i);
				if (o->alloc[r] < want_of(o, r)) {
					int c = (int)h->vms[h->vifs[i].vm].priority;

					if (c < unmet_class)
						unmet_class = c;
				}
			}
			if (po->n_vifs == 0)
				continue;
			seen.pools++;
			seen.unlimited += po->capacity == 0;
			seen.overcommitted += po->overcommitted;
			seen.unmet_class += unmet_class < 8;
			if (po->capacity == 0)
				continue;
			if (sum > po->capacity)
				fail_msg("seed %lu: sum a > C", seed);
			if (po->overcommitted && sum != po->capacity)
				fail_msg("seed %lu: over-committed pool not filled", seed);
			if (sum < po->capacity && unmet_class < 8)
				fail_msg("seed %lu: sum a < C with unmet want", seed);
			/* Step 3: capacity is left over only when every vif is at its max. */
			for (size_t i = 0; sum < po->capacity && i < h->in.n_vifs; i++)
				if (pool_of(h, i, r) == p && h->vo[i].alloc[r] != h->vo[i].max[r])
					fail_msg("seed %lu vif %zu: headroom left, vif below max",
						 seed, i);
			if (h->in.mode == ALLOC_STRICT && !po->overcommitted)
				for (size_t i = 0; i < h->in.n_vifs; i++)
					if (pool_of(h, i, r) == p &&
					    h->vo[i].alloc[r] < h->vo[i].min[r])
						fail_msg("seed %lu vif %zu: strict, a < m", seed,
							 i);
			if (h->in.mode == ALLOC_STRICT && !po->overcommitted &&
			    sum_lim > po->capacity)
				fail_msg("seed %lu: strict limits exceed C", seed);
			/* Classes below the highest unmet one get nothing above their guarantee;
			 * within that class, increments are weighted max-min fair. */
			for (size_t i = 0; i < h->in.n_vifs; i++) {
				const struct alloc_vif_out *oi = &h->vo[i];
				int ci = (int)h->vms[h->vifs[i].vm].priority;

				if (pool_of(h, i, r) != p || po->overcommitted)
					continue;
				if (ci > unmet_class && oi->alloc[r] > guarantee_of(h, oi, r))
					fail_msg("seed %lu vif %zu: lower class above guarantee",
						 seed, i);
				if (ci != unmet_class || oi->alloc[r] >= want_of(oi, r))
					continue;
				for (size_t j = 0; j < h->in.n_vifs; j++) {
					const struct alloc_vif_out *oj = &h->vo[j];
					uint64_t inc_i = oi->alloc[r] - guarantee_of(h, oi, r);
					uint64_t gj = guarantee_of(h, oj, r), inc_j;

					if (pool_of(h, j, r) != p ||
					    (int)h->vms[h->vifs[j].vm].priority != ci ||
					    oj->alloc[r] <= gj)
						continue;
					inc_j = oj->alloc[r] - gj;
					seen.fair_pairs += i != j;
					if ((u128)inc_j * oi->weight >
					    (u128)inc_i * oj->weight + oi->weight + oj->weight)
						fail_msg("seed %lu: class %d not max-min fair (%zu "
							 "vs %zu)",
							 seed, ci, i, j);
				}
			}
		}
	}
}

static int same_vif_out(const struct alloc_vif_out *a, const struct alloc_vif_out *b)
{
	int same = a->weight == b->weight;

	for (int r = 0; r < ALLOC_NRES; r++)
		same &= a->min[r] == b->min[r] && a->max[r] == b->max[r] &&
			a->demand[r] == b->demand[r] && a->alloc[r] == b->alloc[r] &&
			a->limit[r] == b->limit[r];
	return same;
}

static void alloc_random_hosts_hold_every_invariant(void **state)
{
	static struct host h, again;
	struct alloc_ws *ws = alloc_ws_new();
	unsigned long seeds = 10000;
	const char *env = getenv("DBAVM_ALLOC_SEEDS");

	(void)state;
	if (env)
		seeds = strtoul(env, NULL, 10);
	for (unsigned long seed = 1; seed <= seeds; seed++) {
		for (int mode = 0; mode < 2; mode++) {
			rng_state = seed * 0x9E3779B97F4A7C15ull + (uint64_t)mode;
			random_host(&h, (enum alloc_mode)mode);
			assert_int_equal(alloc_run(&h.in, &h.out, ws), 0);
			check_invariants(&h, seed);
			/* Identical inputs, identical outputs, even through a fresh workspace. */
			memcpy(&again, &h, sizeof(h));
			again.in.vms = again.vms, again.in.uplinks = again.up;
			again.in.vifs = again.vifs, again.out.vifs = again.vo;
			again.out.pools[0] = again.po[0], again.out.pools[1] = again.po[1];
			memset(again.vo, 0xAB, sizeof(again.vo));
			struct alloc_ws *fresh = alloc_ws_new();
			assert_int_equal(alloc_run(&again.in, &again.out, fresh), 0);
			alloc_ws_free(fresh);
			for (size_t i = 0; i < h.in.n_vifs; i++)
				if (!same_vif_out(&h.vo[i], &again.vo[i]))
					fail_msg("seed %lu vif %zu: not deterministic", seed, i);
		}
	}
	alloc_ws_free(ws);
	print_message("pools %lu: over-committed %lu, unlimited %lu, with unmet want %lu; "
		      "fairness pairs %lu\n",
		      seen.pools, seen.overcommitted, seen.unlimited, seen.unmet_class,
		      seen.fair_pairs);
	if (seeds >= 1000)
		assert_true(seen.overcommitted > seeds / 20 && seen.unlimited > seeds / 20 &&
			    seen.unmet_class > seeds / 5 && seen.fair_pairs > seeds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alloc_demand_under_capacity_is_met_and_headroom_given),
		cmocka_unit_test(alloc_guarantee_first_then_fair_share),
		cmocka_unit_test(alloc_lower_class_waits_for_higher),
		cmocka_unit_test(alloc_lower_class_gets_what_higher_leaves),
		cmocka_unit_test(alloc_weights_share_a_class),
		cmocka_unit_test(alloc_saturated_vif_leaves_rest_to_others),
		cmocka_unit_test(alloc_max_caps_want_and_headroom),
		cmocka_unit_test(alloc_strict_keeps_unused_guarantee_reserved),
		cmocka_unit_test(alloc_work_conserving_lends_unused_guarantee),
		cmocka_unit_test(alloc_overcommit_scales_guarantees),
		cmocka_unit_test(alloc_remainder_goes_to_first_created),
		cmocka_unit_test(alloc_unlimited_capacity_gives_every_max),
		cmocka_unit_test(alloc_probes_upward_without_offered_load),
		cmocka_unit_test(alloc_waiting_unit_probes_where_others_are_seen),
		cmocka_unit_test(alloc_splits_vm_sla_by_traffic_share),
		cmocka_unit_test(alloc_splits_silent_vm_equally),
		cmocka_unit_test(alloc_host_packet_budget_spans_uplinks),
		cmocka_unit_test(alloc_rejects_bad_indices),
		cmocka_unit_test(alloc_headroom_shared_across_classes),
		cmocka_unit_test(alloc_headroom_in_strict_mode_too),
		cmocka_unit_test(alloc_floor_is_every_vifs_least_limit),
		cmocka_unit_test(alloc_floor_capped_by_max_and_zero_only_at_max_zero),
		cmocka_unit_test(alloc_floors_count_as_guarantees_when_overcommitted),
		cmocka_unit_test(alloc_paper_scenario1_large_frames),
		cmocka_unit_test(alloc_paper_scenario2_small_frames),
		cmocka_unit_test(alloc_random_hosts_hold_every_invariant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
