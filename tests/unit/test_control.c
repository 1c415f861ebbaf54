/*
 * The period pipeline (control.c) with a scripted platform and enforcer, no root needed: a VM
 * appearing is attached and limited, an SLA change reaches the enforcer, a VM vanishing is
 * released, counters become rates, a counter reset is not read as traffic, and what the API
 * shows of it (state_json.c, metrics.c, from the snapshot) says the same. The platform and
 * enforcer are the dummies of tests/support/dummy.h.
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

#include "control.h"
#include "dummy.h"
#include "metrics.h"
#include "snapshot.h"
#include "state_json.h"

#define UPLINK_BPS 1000000000ull

/* ---- the fixture: the dummy platform and enforcer (tests/support/dummy.h) ---- */

static int setup(void **state)
{
	struct dummy_host *x = dummy_host_new(UPLINK_BPS);

	assert_non_null(x);
	dummy_vm(x, 0, "a", true);
	dummy_vm(x, 1, "b", false);
	assert_int_equal(dummy_host_open(x, ALLOC_WORK_CONSERVING,
					 (const uint64_t[ALLOC_NRES]){ 100000, 10 }),
			 0);
	*state = x;
	return 0;
}

static void tick(struct dummy_host *x)
{
	assert_int_equal(dummy_tick(x), 0);
}

/* ---- the tests ---- */

#define UUID_A "0b5c8f7e-3d0a-4b8e-9a51-2f6c1d9e7a10"

/* A VM named after another's domid, one named after another's UUID: three VMs, none taken for
 * another, no vif released; a lookup by the ambiguous key names both. */
static void names_equal_to_another_vms_keys_are_other_vms(void **state)
{
	struct dummy_host *x = *state;
	struct vm *other = NULL, *vm;
	static const char *const vifs[] = { "alpha-vif", "7-vif", UUID_A "-vif" };

	x->dp.vms[0] =
		(struct dummy_vm){ .id = "alpha", .present = true, .domid = 7, .uuid = UUID_A };
	tick(x);
	x->dp.vms[1] = (struct dummy_vm){ .id = "7", .present = true, .domid = 9, .uuid = NULL };
	x->dp.vms[2] =
		(struct dummy_vm){ .id = UUID_A, .present = true, .domid = 11, .uuid = NULL };
	x->dp.changed = true;
	tick(x);
	tick(x);
	assert_int_equal(x->ctl.host.n_vms, 3);
	assert_int_equal(x->de.detaches, 0);
	assert_int_equal(x->de.attaches, 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(dummy_find(&x->de, vifs[i]) && dummy_find(&x->de, vifs[i])->attached);
	vm = host_lookup_vm(&x->ctl.host, "7", &other);
	assert_string_equal(vm->id, "7"); /* the name first */
	assert_non_null(other);
	assert_string_equal(other->id, "alpha"); /* and alpha's domid: ambiguous */
	vm = host_lookup_vm(&x->ctl.host, UUID_A, &other);
	assert_string_equal(vm->id, UUID_A);
	assert_string_equal(other->id, "alpha");
	assert_string_equal(host_find_vm(&x->ctl.host, "alpha")->uuid, UUID_A);
	vm = host_lookup_vm(&x->ctl.host, "9", &other); /* one VM's domid only: not ambiguous */
	assert_string_equal(vm->id, "7");
	assert_null(other);
}

/* Names that cannot be ids are left out, counted, and none is cut into another's. */
static void bad_names_are_refused_not_merged(void **state)
{
	struct dummy_host *x = *state;
	char long1[80], long2[80];

	memset(long1, 'n', 70);
	long1[70] = '\0';
	memcpy(long2, long1, sizeof(long1));
	long1[69] = '1', long2[69] = '2'; /* alike for 69 bytes: cut to 63, one VM */
	x->dp.vms[0] = (struct dummy_vm){ .id = "a", .present = true, .domid = 0, .uuid = NULL };
	x->dp.vms[1] = (struct dummy_vm){
		.id = "h2-nl\nlevel=error msg=FORGED", .present = true, .domid = 0, .uuid = NULL
	};
	x->dp.vms[2] =
		(struct dummy_vm){ .id = "bad\xff", .present = true, .domid = 0, .uuid = NULL };
	x->dp.vms[3] = (struct dummy_vm){ .id = long1, .present = true, .domid = 0, .uuid = NULL };
	x->dp.vms[4] = (struct dummy_vm){ .id = long2, .present = true, .domid = 0, .uuid = NULL };
	x->dp.vms[5] = (struct dummy_vm){ .id = "esc\x1b]0;PWNED\x07", .present = true };
	tick(x);
	assert_int_equal(x->ctl.host.n_vms, 1);
	assert_int_equal(x->de.attaches, 1);
	assert_int_equal(x->ctl.n_refused, 5);
	assert_string_equal(x->ctl.refused[0].name, "h2-nl\\x0alevel=error msg=FORGED");
	assert_string_equal(x->ctl.refused[0].why, "a name with a control character");
	assert_string_equal(x->ctl.refused[1].name, "bad\\xff");
	assert_string_equal(x->ctl.refused[1].why, "a name that is not UTF-8");
	assert_string_equal(x->ctl.refused[2].why, "a name longer than 63 bytes");
	assert_string_equal(x->ctl.refused[2].name, long1); /* whole, not cut */
	assert_string_equal(x->ctl.refused[4].name, "esc\\x1b]0;PWNED\\x07");
	/* Gone: no longer counted. */
	x->dp.vms[1].present = false;
	x->dp.changed = true;
	tick(x);
	assert_int_equal(x->ctl.n_refused, 4);
}

static void a_vm_appearing_is_attached_and_limited(void **state)
{
	struct dummy_host *x = *state;
	struct dummy_vif *v;
	const struct vm *vm;

	tick(x);
	vm = host_find_vm(&x->ctl.host, "a");
	assert_non_null(vm);
	assert_true(vm->present);
	assert_int_equal(vm->n_vifs, 1);
	assert_int_equal(x->de.attaches, 1);
	v = dummy_find(&x->de, "a-vif");
	assert_non_null(v);
	assert_int_equal(v->applies, 1);
	/* Alone and without an SLA: its floor at least, the uplink at most. */
	assert_true(v->last.bps >= 100000 && v->last.bps <= UPLINK_BPS);
	assert_false(v->last.own_sla);
	assert_null(host_find_vm(&x->ctl.host, "b")); /* not there, no SLA: not known */
}

static void an_sla_reaches_the_enforcer(void **state)
{
	struct dummy_host *x = *state;
	struct sla_spec s;
	struct dummy_vif *v;

	tick(x);
	sla_spec_default(&s);
	s.dir[SLA_EGRESS].priority = 1;
	s.dir[SLA_EGRESS].max_bps = 10000000;
	assert_int_equal(host_set_sla(&x->ctl.host, "a", &s), 0);
	tick(x);
	v = dummy_find(&x->de, "a-vif");
	assert_int_equal(v->last.bps, 10000000);
	assert_true(v->last.own_sla);
	/* An SLA for a VM not there yet waits for it, and holds it the period it appears. */
	s.dir[SLA_EGRESS].max_bps = 20000000;
	assert_int_equal(host_set_sla(&x->ctl.host, "b", &s), 0);
	x->dp.vms[1].present = true;
	x->dp.changed = true;
	tick(x);
	v = dummy_find(&x->de, "b-vif");
	assert_non_null(v);
	assert_int_equal(v->last.bps, 20000000);
}

/* A port's own SLA: its vif becomes a unit of its own (its max, its class), its VM's SLA covers
 * the VM's other vif alone; the port leaving makes it absent, due to be forgotten after
 * --forget-absent-after; coming back, it is held again; deleted, the VM's SLA covers it. */
static void a_port_sla_is_a_unit_of_its_own(void **state)
{
	struct dummy_host *x = *state;
	struct sla_spec vm, port;
	struct control_absence *due = NULL;
	size_t n;

	x->dp.vms[0].uplinks[0] = "up0";
	x->dp.vms[0].uplinks[1] = "up0";
	x->dp.changed = true;
	tick(x);
	sla_spec_default(&vm);
	vm.dir[SLA_EGRESS].priority = 1;
	vm.dir[SLA_EGRESS].max_bps = 30000000;
	port = vm;
	port.dir[SLA_EGRESS].priority = 0;
	port.dir[SLA_EGRESS].max_bps = 5000000;
	assert_int_equal(host_set_sla(&x->ctl.host, "a", &vm), 0);
	assert_int_equal(control_set_port_sla(&x->ctl, "a-vif1", &port), 0);
	tick(x);
	assert_int_equal(dummy_find(&x->de, "a-vif1")->last.bps, 5000000);
	assert_true(dummy_find(&x->de, "a-vif1")->last.own_sla);
	assert_int_equal(dummy_find(&x->de, "a-vif")->last.bps, 30000000); /* all the VM's */
	assert_ptr_equal(host_find_port(&x->ctl.host, "a-vif1")->vif->vm,
			 host_find_vm(&x->ctl.host, "a"));
	/* Nothing due while it is there. */
	assert_int_equal(control_absences(&x->ctl, 100, &due), 0);
	x->ctl.host.forget_absent_after_s = 60;
	x->dp.vms[0].present = false;
	x->dp.changed = true;
	tick(x);
	assert_null(host_find_port(&x->ctl.host, "a-vif1")->vif);
	int64_t since = host_find_port(&x->ctl.host, "a-vif1")->absent_since;

	assert_true(since > 0);
	n = control_absences(&x->ctl, since + 60, &due);
	assert_int_equal(n, 2); /* the VM's SLA and the port's */
	for (size_t i = 0; i < n; i++)
		if (due[i].port) {
			assert_string_equal(due[i].id, "a-vif1");
			assert_true(due[i].forget);
		}
	free(due);
	x->dp.vms[0].present = true;
	x->dp.changed = true;
	tick(x);
	assert_int_equal(host_find_port(&x->ctl.host, "a-vif1")->absent_since, 0);
	assert_int_equal(dummy_find(&x->de, "a-vif1")->last.bps, 5000000);
	control_clear_port_sla(&x->ctl, "a-vif1");
	tick(x);
	assert_null(host_find_port(&x->ctl.host, "a-vif1"));
	assert_int_equal(dummy_find(&x->de, "a-vif1")->last.bps, 15000000); /* half the VM's */
}

/* A VM SLA's split never takes a port SLA's guarantee: the VM's minimum goes whole to its
 * other vif, the port keeps its own, and both directions split alike. */
static void a_vm_split_leaves_a_port_its_guarantee(void **state)
{
	struct dummy_host *x = *state;
	struct sla_spec vm, port;
	const struct vif *v0, *v1;

	x->dp.vms[0].uplinks[0] = "up0";
	x->dp.vms[0].uplinks[1] = "up0";
	x->dp.changed = true;
	tick(x);
	sla_spec_default(&vm);
	vm.dir[SLA_EGRESS] = (struct sla){ 1, 1, 300000000, SLA_UNLIMITED, 0, SLA_UNLIMITED };
	port = vm;
	port.dir[SLA_EGRESS].min_bps = 200000000;
	assert_int_equal(host_set_sla(&x->ctl.host, "a", &vm), 0);
	assert_int_equal(control_set_port_sla(&x->ctl, "a-vif1", &port), 0);
	for (int k = 0; k < 3; k++) {
		dummy_traffic(x, "a-vif", 600000000);
		dummy_traffic(x, "a-vif1", 600000000);
		tick(x);
	}
	v0 = host_find_vm(&x->ctl.host, "a")->vifs[0];
	v1 = host_find_vm(&x->ctl.host, "a")->vifs[1];
	assert_string_equal(v1->desc.id, "a-vif1");
	assert_int_equal(v0->side[SLA_EGRESS].alloc.min[ALLOC_BPS], 300000000);
	assert_int_equal(v1->side[SLA_EGRESS].alloc.min[ALLOC_BPS], 200000000);
	/* Both guaranteed, on a 1 Gbit/s uplink both offer 600 to: each gets at least its own. */
	assert_true(v0->side[SLA_EGRESS].alloc.limit[ALLOC_BPS] >= 300000000);
	assert_true(v1->side[SLA_EGRESS].alloc.limit[ALLOC_BPS] >= 200000000);
}

static void a_vm_vanishing_is_released(void **state)
{
	struct dummy_host *x = *state;
	struct sla_spec s;

	x->dp.vms[1].present = true;
	tick(x);
	sla_spec_default(&s);
	assert_int_equal(host_set_sla(&x->ctl.host, "b", &s), 0);
	x->dp.vms[0].present = false;
	x->dp.vms[1].present = false;
	x->dp.changed = true;
	tick(x);
	assert_int_equal(x->de.detaches, 2);
	assert_null(host_find_vm(&x->ctl.host, "a")); /* no SLA: forgotten */
	assert_non_null(host_find_vm(&x->ctl.host, "b"));
	assert_false(host_find_vm(&x->ctl.host, "b")->present); /* its SLA kept */
	assert_int_equal(host_find_vm(&x->ctl.host, "b")->n_vifs, 0);
	/* No rescan without a word from the platform. */
	int scans = x->dp.scans;
	tick(x);
	assert_int_equal(x->dp.scans, scans);
}

static void counters_become_rates_and_a_reset_is_not_traffic(void **state)
{
	struct dummy_host *x = *state;
	const struct vm *vm;

	tick(x);
	tick(x); /* the first reading */
	dummy_traffic(x, "a-vif", 80000000);
	tick(x);
	vm = host_find_vm(&x->ctl.host, "a");
	assert_int_equal(vm->vifs[0]->side[SLA_EGRESS].rates.passed.bps, 80000000);
	assert_int_equal(vm->vifs[0]->side[SLA_EGRESS].rates.passed.pps, 10000);
	/* The counters start again from zero (a vif re-made under the same name): that period
	 * counts nothing, and the next counts from zero. */
	memset(&dummy_find(&x->de, "a-vif")->cnt, 0, sizeof(struct vif_counters));
	tick(x);
	assert_int_equal(vm->vifs[0]->side[SLA_EGRESS].rates.passed.bps, 0);
	dummy_traffic(x, "a-vif", 40000000);
	tick(x);
	assert_int_equal(vm->vifs[0]->side[SLA_EGRESS].rates.passed.bps, 40000000);
	/* What the API shows is the same period. */
	const struct snapshot *snap = control_snapshot(&x->ctl);
	json_t *doc = state_vm_json(snap, snapshot_find_vm(snap, "a"));
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "passed"), "bps")),
			 40000000);
	assert_true(json_is_true(json_object_get(doc, "present")));
	json_decref(doc);
}

static void metrics_show_the_model(void **state)
{
	struct dummy_host *x = *state;
	struct metrics_info info = { "fake", "fake", "work_conserving", 100 };
	struct metrics *m = metrics_new(&info);
	struct metrics_text *t;
	const char *text;
	size_t len;
	char want[128];

	tick(x);
	tick(x);
	dummy_traffic(x, "a-vif", 8000000);
	tick(x);
	t = metrics_get(m, control_snapshot(&x->ctl), NULL, NULL, NULL, NULL, true);
	assert_non_null(t);
	text = metrics_text_data(t, &len);
	assert_true(len > 0 && text[len - 1] == '\n');
	/* 8 Mbit/s for 100 ms: 100,000 bytes passed since the first reading. */
	snprintf(want, sizeof(want), "\ndbavm_vm_passed_bytes_total{vm=\"a\"} 100000\n");
	assert_non_null(strstr(text, want));
	assert_non_null(
		strstr(text, "\ndbavm_vif_floor_bytes_per_second 12500\n")); /* 100 kbit/s */
	metrics_text_release(t);
	metrics_free(m);
}

/* An enforcer that holds packets in the guest sees only what passed: offered, dropped and
 * policy loss are null in the API and have no series in /metrics, never passed and 0. */
/* Whether the metrics text (not NUL-terminated) holds needle. */
static bool has(const char *text, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(text + i, needle, n))
			return true;
	return false;
}

static void what_a_hold_in_the_guest_hides_is_null(void **state)
{
	struct dummy_host *x = *state;
	struct metrics_info info = { "fake", "fake-held", "work_conserving", 100 };
	struct metrics *m;
	struct metrics_text *t;
	const struct snapshot *snap;
	const char *text;
	json_t *doc, *vif;
	size_t len;

	static struct enforcer_ops held; /* the fake, counting only what passed its hold */

	held = dummy_enforcer_ops;
	held.name = "fake-held";
	held.sees_offered = false;
	held.passed_only = true;
	x->enf.ops = &held;
	tick(x);
	tick(x);
	dummy_traffic(x, "a-vif", 8000000);
	tick(x);
	snap = control_snapshot(&x->ctl);
	doc = state_vm_json(snap, snapshot_find_vm(snap, "a"));
	assert_non_null(doc);
	vif = json_array_get(json_object_get(doc, "vifs"), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "passed"), "pps")),
			 1000);
	assert_true(json_is_null(json_object_get(json_object_get(doc, "offered"), "pps")));
	assert_true(json_is_null(json_object_get(json_object_get(doc, "offered"), "bps")));
	assert_true(json_is_null(json_object_get(json_object_get(doc, "dropped"), "pps")));
	assert_true(json_is_null(json_object_get(json_object_get(vif, "offered"), "bps")));
	assert_true(json_is_null(json_object_get(json_object_get(vif, "dropped"), "bps")));
	assert_true(json_is_null(
		json_object_get(json_object_get(json_object_get(doc, "loss"), "policy"), "pps")));
	json_decref(doc);
	m = metrics_new(&info);
	t = metrics_get(m, control_snapshot(&x->ctl), NULL, NULL, NULL, NULL, true);
	assert_non_null(t);
	text = metrics_text_data(t, &len);
	assert_true(has(text, len, "\ndbavm_vm_passed_packets_total{vm=\"a\"} "));
	assert_false(has(text, len, "\ndbavm_vm_offered_packets_total{"));
	assert_false(has(text, len, "\ndbavm_vif_dropped_bytes_total{"));
	assert_false(has(text, len, "cause=\"policy\""));
	metrics_text_release(t);
	metrics_free(m);
}

/* ---- quiet periods (control.c: incremental): the same as a full pass ---- */

/* A retune that the enforcer's record shows: the limit and what passed, as apply's. */
static int retune_recorded(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	(void)e;
	((struct dummy_vif *)ev->state)->last = *l;
	return 0;
}

/* Nothing counted since the last read (enforcer_ops.unchanged). */
static bool unchanged_since_read(struct enforcer *e, struct enf_vif *ev)
{
	const struct dummy_vif *v = ev->state;

	(void)e;
	return !v->unreadable && !memcmp(&v->cnt, &v->given, sizeof(v->cnt));
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Six VMs, both directions, a 20 Mbit/s uplink they contend for, each unit quiet or at a
 * steady rate for stretches of ten periods, SLAs set and cleared, a shaper holding packets back, a
 * vif's counters or its enforcer failing now and then: every period, a host that passes quiet units
 * by gives the enforcer exactly what one that visits every unit (its generation moved each period,
 * which forces a full pass) does, and the allocator sees the same input. Under each enforcer kind:
 * one that sees offered load, one that sees only what passed (windows at the limit), one whose
 * ingress waits in a shaper. */
static void quiet_periods_give_what_full_ones_would(void **state)
{
	static const char *const ids[] = { "a", "b", "c", "d", "e", "f" };
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int kind = 0; kind < 3; kind++) {
		struct dummy_host *h[2];
		struct sla_spec s;
		int passed_by = 0; /* periods whose apply pass could pass quiet units by */
		uint64_t level[12];

		for (int k = 0; k < 2; k++) {
			h[k] = dummy_host_new(20000000);
			assert_non_null(h[k]);
			h[k]->ingress = true;
			for (int i = 0; i < 6; i++)
				dummy_vm(h[k], i, ids[i], true);
			assert_int_equal(
				dummy_host_open(h[k], ALLOC_WORK_CONSERVING,
						(const uint64_t[ALLOC_NRES]){ 100000, 10 }),
				0);
			h[k]->ops.retune = retune_recorded;
			h[k]->ops.sees_offered = kind != 1;
			h[k]->ops.passed_only = kind == 1;
			h[k]->ops.ingress_waits = kind == 2;
		}
		h[0]->ops.unchanged = unchanged_since_read; /* the quiet host skips reads too */
		for (int t = 0; t < 400; t++) {
			uint64_t r = next_rand(&seed);

			if (t % 50 == 10 || t % 50 == 30) { /* an SLA set, or cleared */
				sla_spec_default(&s);
				s.dir[SLA_EGRESS].priority = s.dir[SLA_INGRESS].priority = 1;
				s.dir[SLA_EGRESS].min_bps = 2000000 + r % 3000000;
				s.dir[SLA_INGRESS].max_bps = 1000000 + r % 4000000;
				for (int k = 0; k < 2; k++)
					if (t % 50 == 10)
						assert_int_equal(
							control_set_sla(&h[k]->ctl, ids[r % 6], &s),
							0);
					else
						control_clear_sla(&h[k]->ctl, ids[r % 6]);
			}
			if (t % 10 == 0) /* a new stretch: each unit quiet or at a steady rate */
				for (int i = 0; i < 12; i++) {
					uint64_t u = next_rand(&seed);

					level[i] = u % 100 < 60 ? 0 : (u >> 8) % 8000000;
				}
			for (int i = 0; i < 6; i++)
				for (int d = 0; d < 2; d++) {
					char id[16];
					uint64_t u = next_rand(&seed), bps = level[2 * i + d];

					snprintf(id, sizeof(id), "%s-vif%s", ids[i],
						 d ? "/in" : "");
					for (int k = 0; k < 2; k++) {
						struct dummy_vif *dv = dummy_find(&h[k]->de, id);

						dummy_traffic(h[k], id, bps);
						if (!dv) /* attached from the first period on */
							continue;
						dv->unreadable = u % 97 == 0;
						dv->refuses = (u >> 16) % 5 == 0;
						/* a shaper holding some of it back */
						dv->cnt.held_pkts += bps && (u >> 24) % 4 == 0;
					}
				}
			h[1]->ctl.host.generation++; /* the full pass */
			for (int k = 0; k < 2; k++)
				tick(h[k]);
			passed_by += h[0]->ctl.incremental && !h[0]->ctl.alloc_ran;
			assert_false(h[1]->ctl.incremental);
			assert_int_equal(h[0]->ctl.n_flat, h[1]->ctl.n_flat);
			assert_memory_equal(h[0]->ctl.ain, h[1]->ctl.ain,
					    h[0]->ctl.n_flat * 2 * sizeof(*h[0]->ctl.ain));
			for (size_t v = 0; v < DUMMY_MAX_VMS * DUMMY_MAX_VIFS; v++) {
				const struct dummy_vif *p = &h[0]->de.vifs[v],
						       *q = &h[1]->de.vifs[v];

				assert_string_equal(p->id, q->id);
				assert_int_equal(p->applies, q->applies);
				assert_int_equal(p->last.bps, q->last.bps);
				assert_int_equal(p->last.pps, q->last.pps);
				assert_int_equal(p->last.min_bps, q->last.min_bps);
				assert_int_equal(p->last.min_pps, q->last.min_pps);
				assert_int_equal(p->last.own_sla, q->last.own_sla);
				assert_int_equal(p->last.passed.bps, q->last.passed.bps);
				assert_int_equal(p->last.passed.pps, q->last.passed.pps);
			}
		}
		/* ... and the quiet path was taken often enough to have been tried */
		print_message("enforcer kind %d: %d of 400 periods passed quiet units by\n", kind,
			      passed_by);
		assert_true(passed_by >= 20);
		for (int k = 0; k < 2; k++) {
			dummy_host_close(h[k]);
			free(h[k]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_vm_appearing_is_attached_and_limited, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(names_equal_to_another_vms_keys_are_other_vms,
						setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(bad_names_are_refused_not_merged, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(an_sla_reaches_the_enforcer, setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(a_vm_vanishing_is_released, setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(a_port_sla_is_a_unit_of_its_own, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(a_vm_split_leaves_a_port_its_guarantee, setup,
						dummy_teardown),
		cmocka_unit_test_setup_teardown(counters_become_rates_and_a_reset_is_not_traffic,
						setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(metrics_show_the_model, setup, dummy_teardown),
		cmocka_unit_test_setup_teardown(what_a_hold_in_the_guest_hides_is_null, setup,
						dummy_teardown),
		cmocka_unit_test(quiet_periods_give_what_full_ones_would),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
