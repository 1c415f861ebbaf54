/*
 * The period pipeline (control.c) with a scripted platform and enforcer, no root needed: a VM
 * appearing is attached and limited, an SLA change reaches the enforcer, a VM vanishing is
 * released, counters become rates, a counter reset is not read as traffic, and what the API
 * shows of it (state_json.c, metrics.c) says the same.
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
#include "metrics.h"
#include "state_json.h"

#define PERIOD_NS 100000000ull /* 100 ms */
#define UPLINK_BPS 1000000000ull
#define MAX_FAKE 8

/* ---- a platform that shows what the test says is there ---- */

struct fake_vm {
	const char *id;
	bool present;
	int64_t domid; /* 0: none (-1 to the platform) */
	const char *uuid;
};

struct fake_platform {
	struct platform_uplink up;
	struct fake_vm vms[MAX_FAKE];
	bool changed; /* due() says so once */
	int scans;
};

static int fp_scan(struct platform *p, uint64_t now_ns, struct platform_scan *scan)
{
	struct fake_platform *f = p->priv;
	struct platform_host h = { &f->up, 1, 0 };
	int rc = platform_scan_start(scan, &h);

	(void)now_ns;
	f->scans++;
	for (size_t i = 0; !rc && i < MAX_FAKE; i++) {
		struct platform_vm vm = { .domid = f->vms[i].domid ? f->vms[i].domid : -1 };
		struct platform_vif *v;

		if (!f->vms[i].id || !f->vms[i].present)
			continue;
		if (platform_name_problem(f->vms[i].id)) { /* as netns does: the whole name */
			rc = platform_scan_refuse(scan, f->vms[i].id,
						  platform_name_problem(f->vms[i].id));
			continue;
		}
		snprintf(vm.id, sizeof(vm.id), "%s", f->vms[i].id);
		snprintf(vm.uuid, sizeof(vm.uuid), "%s", f->vms[i].uuid ? f->vms[i].uuid : "");
		if (!(v = platform_vm_add_vif(&vm)))
			return -ENOMEM;
		snprintf(v->id, sizeof(v->id), "%s-vif", f->vms[i].id);
		snprintf(v->uplink, sizeof(v->uplink), "up0");
		rc = platform_scan_add_vm(scan, &vm);
	}
	return rc;
}

static int fp_due(struct platform *p, uint64_t now_ns)
{
	struct fake_platform *f = p->priv;
	int due = f->changed ? PLATFORM_RESCAN : 0;

	(void)now_ns;
	f->changed = false;
	return due;
}

static void fp_close(struct platform *p)
{
	p->priv = NULL;
}

static const struct platform_ops fake_platform_ops = {
	.name = "fake", .scan = fp_scan, .due = fp_due, .close = fp_close
};

/* ---- an enforcer that counts what it is told, and reads counters the test sets ---- */

struct fake_vif {
	char id[PLATFORM_ID_MAX];
	bool attached;
	struct vif_counters cnt;
	struct enf_limit last; /* the last limit applied */
	int applies;
	bool unreadable; /* reads fail (-EIO) while set */
};

struct fake_enforcer {
	struct fake_vif vifs[MAX_FAKE];
	int attaches, detaches;
};

static struct fake_vif *fe_find(struct fake_enforcer *f, const char *id)
{
	for (size_t i = 0; i < MAX_FAKE; i++)
		if (!strcmp(f->vifs[i].id, id))
			return &f->vifs[i];
	return NULL;
}

static int fe_attach(struct enforcer *e, struct enf_vif *ev)
{
	struct fake_enforcer *f = e->priv;
	struct fake_vif *v = fe_find(f, ev->desc->id);

	if (!v)
		v = fe_find(f, ""); /* a free entry */
	if (!v)
		return -ENOSPC;
	snprintf(v->id, sizeof(v->id), "%s", ev->desc->id);
	v->attached = true;
	ev->state = v;
	f->attaches++;
	return 0;
}

static void fe_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct fake_enforcer *f = e->priv;
	struct fake_vif *v = ev->state;

	v->attached = false;
	ev->state = NULL;
	f->detaches++;
}

static int fe_sync(struct enforcer *e, uint64_t now_ns)
{
	(void)e, (void)now_ns;
	return 0;
}

static int fe_read(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	(void)e;
	if (((struct fake_vif *)ev->state)->unreadable)
		return -EIO;
	*out = ((struct fake_vif *)ev->state)->cnt;
	return 0;
}

static int fe_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct fake_vif *v = ev->state;

	(void)e;
	v->last = *l;
	v->applies++;
	return 0;
}

static void fe_close(struct enforcer *e)
{
	e->priv = NULL;
}

static const struct enforcer_ops fake_enforcer_ops = {
	.name = "fake",
	.sees_offered = true,
	.attach = fe_attach,
	.detach = fe_detach,
	.sync = fe_sync,
	.read_counters = fe_read,
	.apply = fe_apply,
	.close = fe_close,
	.simulated_time = true, /* its counters are the script's at the period's time */
};

/* ---- the fixture ---- */

struct fixture {
	struct fake_platform fp;
	struct fake_enforcer fe;
	struct platform plat;
	struct enforcer enf;
	struct control ctl;
	uint64_t t;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	x->fp.up = (struct platform_uplink){ "up0", UPLINK_BPS, 0 };
	x->fp.vms[0] = (struct fake_vm){ "a", true, 0, NULL };
	x->fp.vms[1] = (struct fake_vm){ "b", false, 0, NULL };
	x->fp.changed = true;
	x->plat = (struct platform){ &fake_platform_ops, &x->fp };
	x->enf = (struct enforcer){ &fake_enforcer_ops, &x->fe, 0 };
	assert_int_equal(control_init(&x->ctl, ALLOC_WORK_CONSERVING,
				      (const uint64_t[ALLOC_NRES]){ 100000, 10 }, &x->plat,
				      &x->enf),
			 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	control_close(&x->ctl);
	free(x);
	return 0;
}

static void tick(struct fixture *x)
{
	assert_int_equal(control_tick(&x->ctl, x->t), 0);
	x->t += PERIOD_NS;
}

/* The vif's counters move on by one period of bps bits/s in 1000-byte packets. */
static void traffic(struct fixture *x, const char *vif, uint64_t bps)
{
	struct fake_vif *v = fe_find(&x->fe, vif);
	uint64_t bytes = bps / 8 / 10, pkts = bytes / 1000;

	assert_non_null(v);
	v->cnt.offered_bytes += bytes;
	v->cnt.offered_pkts += pkts;
	v->cnt.passed_bytes += bytes;
	v->cnt.passed_pkts += pkts;
}

/* ---- the tests ---- */

#define UUID_A "0b5c8f7e-3d0a-4b8e-9a51-2f6c1d9e7a10"

/* A VM named after another's domid, one named after another's UUID: three VMs, none taken for
 * another, no vif released; a lookup by the ambiguous key names both. */
static void names_equal_to_another_vms_keys_are_other_vms(void **state)
{
	struct fixture *x = *state;
	struct vm *other = NULL, *vm;
	static const char *const vifs[] = { "alpha-vif", "7-vif", UUID_A "-vif" };

	x->fp.vms[0] = (struct fake_vm){ "alpha", true, 7, UUID_A };
	tick(x);
	x->fp.vms[1] = (struct fake_vm){ "7", true, 9, NULL };
	x->fp.vms[2] = (struct fake_vm){ UUID_A, true, 11, NULL };
	x->fp.changed = true;
	tick(x);
	tick(x);
	assert_int_equal(x->ctl.host.n_vms, 3);
	assert_int_equal(x->fe.detaches, 0);
	assert_int_equal(x->fe.attaches, 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(fe_find(&x->fe, vifs[i]) && fe_find(&x->fe, vifs[i])->attached);
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
	struct fixture *x = *state;
	char long1[80], long2[80];

	memset(long1, 'n', 70);
	long1[70] = '\0';
	memcpy(long2, long1, sizeof(long1));
	long1[69] = '1', long2[69] = '2'; /* alike for 69 bytes: cut to 63, one VM */
	x->fp.vms[0] = (struct fake_vm){ "a", true, 0, NULL };
	x->fp.vms[1] = (struct fake_vm){ "h2-nl\nlevel=error msg=FORGED", true, 0, NULL };
	x->fp.vms[2] = (struct fake_vm){ "bad\xff", true, 0, NULL };
	x->fp.vms[3] = (struct fake_vm){ long1, true, 0, NULL };
	x->fp.vms[4] = (struct fake_vm){ long2, true, 0, NULL };
	x->fp.vms[5] = (struct fake_vm){ "esc\x1b]0;PWNED\x07", true, 0, NULL };
	tick(x);
	assert_int_equal(x->ctl.host.n_vms, 1);
	assert_int_equal(x->fe.attaches, 1);
	assert_int_equal(x->ctl.n_refused, 5);
	assert_string_equal(x->ctl.refused[0].name, "h2-nl\\x0alevel=error msg=FORGED");
	assert_string_equal(x->ctl.refused[0].why, "a name with a control character");
	assert_string_equal(x->ctl.refused[1].name, "bad\\xff");
	assert_string_equal(x->ctl.refused[1].why, "a name that is not UTF-8");
	assert_string_equal(x->ctl.refused[2].why, "a name longer than 63 bytes");
	assert_string_equal(x->ctl.refused[2].name, long1); /* whole, not cut */
	assert_string_equal(x->ctl.refused[4].name, "esc\\x1b]0;PWNED\\x07");
	/* Gone: no longer counted. */
	x->fp.vms[1].present = false;
	x->fp.changed = true;
	tick(x);
	assert_int_equal(x->ctl.n_refused, 4);
}

static void a_vm_appearing_is_attached_and_limited(void **state)
{
	struct fixture *x = *state;
	struct fake_vif *v;
	const struct vm *vm;

	tick(x);
	vm = host_find_vm(&x->ctl.host, "a");
	assert_non_null(vm);
	assert_true(vm->present);
	assert_int_equal(vm->n_vifs, 1);
	assert_int_equal(x->fe.attaches, 1);
	v = fe_find(&x->fe, "a-vif");
	assert_non_null(v);
	assert_int_equal(v->applies, 1);
	/* Alone and without an SLA: its floor at least, the uplink at most. */
	assert_true(v->last.bps >= 100000 && v->last.bps <= UPLINK_BPS);
	assert_false(v->last.own_sla);
	assert_null(host_find_vm(&x->ctl.host, "b")); /* not there, no SLA: not known */
}

static void an_sla_reaches_the_enforcer(void **state)
{
	struct fixture *x = *state;
	struct sla s;
	struct fake_vif *v;

	tick(x);
	sla_default(&s);
	s.priority = 1;
	s.max_bps = 10000000;
	assert_int_equal(host_set_sla(&x->ctl.host, "a", &s), 0);
	tick(x);
	v = fe_find(&x->fe, "a-vif");
	assert_int_equal(v->last.bps, 10000000);
	assert_true(v->last.own_sla);
	/* An SLA for a VM not there yet waits for it, and holds it the period it appears. */
	s.max_bps = 20000000;
	assert_int_equal(host_set_sla(&x->ctl.host, "b", &s), 0);
	x->fp.vms[1].present = true;
	x->fp.changed = true;
	tick(x);
	v = fe_find(&x->fe, "b-vif");
	assert_non_null(v);
	assert_int_equal(v->last.bps, 20000000);
}

static void a_vm_vanishing_is_released(void **state)
{
	struct fixture *x = *state;
	struct sla s;

	x->fp.vms[1].present = true;
	tick(x);
	sla_default(&s);
	assert_int_equal(host_set_sla(&x->ctl.host, "b", &s), 0);
	x->fp.vms[0].present = false;
	x->fp.vms[1].present = false;
	x->fp.changed = true;
	tick(x);
	assert_int_equal(x->fe.detaches, 2);
	assert_null(host_find_vm(&x->ctl.host, "a")); /* no SLA: forgotten */
	assert_non_null(host_find_vm(&x->ctl.host, "b"));
	assert_false(host_find_vm(&x->ctl.host, "b")->present); /* its SLA kept */
	assert_int_equal(host_find_vm(&x->ctl.host, "b")->n_vifs, 0);
	/* No rescan without a word from the platform. */
	int scans = x->fp.scans;
	tick(x);
	assert_int_equal(x->fp.scans, scans);
}

static void counters_become_rates_and_a_reset_is_not_traffic(void **state)
{
	struct fixture *x = *state;
	const struct vm *vm;

	tick(x);
	tick(x); /* the first reading */
	traffic(x, "a-vif", 80000000);
	tick(x);
	vm = host_find_vm(&x->ctl.host, "a");
	assert_int_equal(vm->vifs[0]->rates.passed.bps, 80000000);
	assert_int_equal(vm->vifs[0]->rates.passed.pps, 10000);
	/* The counters start again from zero (a vif re-made under the same name): that period
	 * counts nothing, and the next counts from zero. */
	memset(&fe_find(&x->fe, "a-vif")->cnt, 0, sizeof(struct vif_counters));
	tick(x);
	assert_int_equal(vm->vifs[0]->rates.passed.bps, 0);
	traffic(x, "a-vif", 40000000);
	tick(x);
	assert_int_equal(vm->vifs[0]->rates.passed.bps, 40000000);
	/* What the API shows is the same period. */
	json_t *doc = state_vm_json(&x->ctl, vm);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "passed"), "bps")),
			 40000000);
	assert_true(json_is_true(json_object_get(doc, "present")));
	json_decref(doc);
}

static void metrics_show_the_model(void **state)
{
	struct fixture *x = *state;
	struct metrics_info info = { "fake", "fake", "work_conserving", 100 };
	struct metrics *m = metrics_new(&info);
	struct metrics_text *t;
	const char *text;
	size_t len;
	char want[128];

	tick(x);
	tick(x);
	traffic(x, "a-vif", 8000000);
	tick(x);
	t = metrics_get(m, &x->ctl, NULL, NULL, true);
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
	struct fixture *x = *state;
	struct metrics_info info = { "fake", "fake-held", "work_conserving", 100 };
	struct metrics *m;
	struct metrics_text *t;
	const struct vm *vm;
	const char *text;
	json_t *doc, *vif;
	size_t len;

	static struct enforcer_ops held; /* the fake, counting only what passed its hold */

	held = fake_enforcer_ops;
	held.name = "fake-held";
	held.sees_offered = false;
	held.passed_only = true;
	x->enf.ops = &held;
	tick(x);
	tick(x);
	traffic(x, "a-vif", 8000000);
	tick(x);
	vm = host_find_vm(&x->ctl.host, "a");
	doc = state_vm_json(&x->ctl, vm);
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
	t = metrics_get(m, &x->ctl, NULL, NULL, true);
	assert_non_null(t);
	text = metrics_text_data(t, &len);
	assert_true(has(text, len, "\ndbavm_vm_passed_packets_total{vm=\"a\"} "));
	assert_false(has(text, len, "\ndbavm_vm_offered_packets_total{"));
	assert_false(has(text, len, "\ndbavm_vif_dropped_bytes_total{"));
	assert_false(has(text, len, "cause=\"policy\""));
	metrics_text_release(t);
	metrics_free(m);
}

/* Passed packets a second of vm's newest history entry. */
static uint64_t last_entry_pps(const struct vm *vm)
{
	assert_true(vm->hist_n > 0);
	return vm->hist[(vm->hist_head + vm->hist_n - 1) % VM_HISTORY].passed.pps;
}

/* A steady 10,000 packet/s: an entry with a 300 ms period in it (a long rescan) says 10,000,
 * not less; readings that fail across an entry's start give the entry after it its share, not
 * the gap's whole count. */
static void history_counts_a_long_period_whole_and_splits_a_gap(void **state)
{
	struct fixture *x = *state;
	struct fake_vif *v;
	const struct vm *vm;
	uint32_t n;

	tick(x);
	tick(x);
	vm = host_find_vm(&x->ctl.host, "a");
	v = fe_find(&x->fe, "a-vif");
	for (int i = 0; i < 12; i++) { /* past the first entry */
		traffic(x, "a-vif", 80000000);
		tick(x);
	}
	n = vm->hist_n;
	for (int i = 0; i < 12 && vm->hist_n == n; i++) {
		traffic(x, "a-vif", 80000000);
		if (i == 3) { /* three periods' worth, read once, 300 ms after the last */
			traffic(x, "a-vif", 80000000);
			traffic(x, "a-vif", 80000000);
			x->t += 2 * PERIOD_NS;
		}
		tick(x);
	}
	assert_int_equal(vm->hist_n, n + 1);
	assert_in_range(last_entry_pps(vm), 9900, 10100);
	/* Readings fail from 3 periods before the next entry begins to 3 after. */
	n = vm->hist_n;
	for (int i = 0; vm->hist_n == n; i++) {
		traffic(x, "a-vif", 80000000);
		tick(x);
		assert_true(i < 20);
	}
	n = vm->hist_n;
	for (int i = 0; i < 13; i++) { /* unread from the 8th period to the 13th: across the
					* next entry's start, 10 periods on */
		traffic(x, "a-vif", 80000000);
		v->unreadable = i >= 7;
		tick(x);
	}
	assert_int_equal(vm->hist_n, n + 1); /* it began, and closed short of 3 periods */
	v->unreadable = false;
	n = vm->hist_n;
	for (int i = 0; vm->hist_n == n; i++) {
		traffic(x, "a-vif", 80000000);
		tick(x);
		assert_true(i < 20);
	}
	assert_in_range(last_entry_pps(vm), 9900, 10100); /* its share of the gap, no more */
}

/* Periods whose ends jitter by a microsecond either side of the 100 ms grid (a real timer):
 * an entry a second, 32 in 32 s, each over the time it covers. Entries due a second after the
 * last one slipped a whole period whenever ten periods came to a microsecond short of it: 30
 * entries, the demo's timeline 29 points in 32 s. */
static void history_keeps_a_second_an_entry_when_periods_jitter(void **state)
{
	struct fixture *x = *state;
	const struct vm *vm;
	uint64_t base;
	uint32_t n;

	tick(x);
	tick(x);
	vm = host_find_vm(&x->ctl.host, "a");
	assert_non_null(vm);
	n = vm->hist_n;
	base = x->t;
	for (int k = 0; k <= 320; k++) {
		traffic(x, "a-vif", 8000000);
		x->t = base + (uint64_t)k * PERIOD_NS - (k % 3 == 1 ? 1000 : 0);
		assert_int_equal(control_tick(&x->ctl, x->t), 0);
	}
	assert_int_equal(vm->hist_n - n, 32);
	assert_in_range(last_entry_pps(vm), 990, 1010);
	x->t = base + 321 * PERIOD_NS;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_vm_appearing_is_attached_and_limited, setup,
						teardown),
		cmocka_unit_test_setup_teardown(names_equal_to_another_vms_keys_are_other_vms,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bad_names_are_refused_not_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(an_sla_reaches_the_enforcer, setup, teardown),
		cmocka_unit_test_setup_teardown(a_vm_vanishing_is_released, setup, teardown),
		cmocka_unit_test_setup_teardown(counters_become_rates_and_a_reset_is_not_traffic,
						setup, teardown),
		cmocka_unit_test_setup_teardown(metrics_show_the_model, setup, teardown),
		cmocka_unit_test_setup_teardown(history_counts_a_long_period_whole_and_splits_a_gap,
						setup, teardown),
		cmocka_unit_test_setup_teardown(what_a_hold_in_the_guest_hides_is_null, setup,
						teardown),
		cmocka_unit_test_setup_teardown(history_keeps_a_second_an_entry_when_periods_jitter,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
