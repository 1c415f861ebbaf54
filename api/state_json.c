/*
 * state_json: encode the host model. Rates are over the last period; null means unlimited
 * or not available, never 0.
 */
#include "state_json.h"

#include <string.h>

static json_t *pair(uint64_t bps, uint64_t pps)
{
	return json_pack("{s:o, s:o}", "bps", sla_rate_json(bps), "pps", sla_rate_json(pps));
}

static json_t *rate_json(const struct rate *r)
{
	return pair(r->bps, r->pps);
}

static json_t *vif_json(const struct vif *vif)
{
	const struct alloc_vif_out *a = &vif->alloc;
	json_t *demand, *limit;

	if (vif->have_alloc) {
		demand = pair(a->demand[ALLOC_BPS], a->demand[ALLOC_PPS]);
		limit = pair(a->limit[ALLOC_BPS], a->limit[ALLOC_PPS]);
	} else {
		demand = pair(UINT64_MAX, UINT64_MAX);
		limit = pair(UINT64_MAX, UINT64_MAX);
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id", vif->desc.id, "uplink",
			 vif->desc.uplink, "offered", rate_json(&vif->rates.offered), "demand",
			 demand, "limit", limit, "passed", rate_json(&vif->rates.passed), "dropped",
			 rate_json(&vif->rates.dropped));
}

static void add(struct rate *sum, const struct rate *r)
{
	sum->bps += r->bps;
	sum->pps += r->pps;
}

static json_t *ratio_json(double num, double den)
{
	return den > 0 ? json_real(num / den) : json_null();
}

static json_t *seconds_json(double ns)
{
	return json_real(ns / 1e9);
}

static json_t *summary_json(const struct delay_hist *h)
{
	struct delay_summary s;

	delay_summarize(h, &s);
	if (!s.n)
		return json_pack("{s:i, s:n, s:n, s:n}", "samples", 0, "mean_s", "p50_s", "p99_s");
	return json_pack("{s:I, s:o, s:o, s:o}", "samples", (json_int_t)s.n, "mean_s",
			 seconds_json(s.mean_ns), "p50_s", seconds_json(s.p50_ns), "p99_s",
			 seconds_json(s.p99_ns));
}

/* Loss over the last period, as packets per second and as a share of what was offered, by
 * cause: policy (dropped at the hook by the SLA) and path (lost between the hook and the
 * uplink). What the enforcer cannot see is null. */
static json_t *loss_json(const struct control *ctl, const struct delay_stats *d, bool have_delay,
			 const struct rate *offered, const struct rate *passed,
			 const struct rate *dropped)
{
	bool on_path = ctl->enf->ops->drops_on_path;
	json_t *policy, *path;

	policy = on_path ? json_pack("{s:n, s:n}", "pps", "ratio")
			 : json_pack("{s:I, s:o}", "pps", (json_int_t)dropped->pps, "ratio",
				     ratio_json((double)dropped->pps, (double)offered->pps));
	if (on_path) {
		path = json_pack("{s:I, s:o}", "pps", (json_int_t)dropped->pps, "ratio",
				 ratio_json((double)dropped->pps, (double)offered->pps));
	} else if (have_delay && d->period_sampled && offered->pps) {
		/* The share of sampled packets lost, applied to what passed the hook. */
		double r = (double)d->period_lost / (double)d->period_sampled *
			   (double)passed->pps / (double)offered->pps;

		path = json_pack("{s:I, s:f}", "pps", (json_int_t)(r * (double)offered->pps + 0.5),
				 "ratio", r);
	} else {
		path = json_pack("{s:n, s:n}", "pps", "ratio");
	}
	return json_pack("{s:o, s:o}", "policy", policy, "path", path);
}

json_t *state_vm_json(const struct control *ctl, const struct vm *vm)
{
	struct rate offered = { 0, 0 }, passed = { 0, 0 }, dropped = { 0, 0 };
	json_t *vifs = json_array(), *obj;
	struct delay_stats d;
	bool have_delay = false;

	memset(&d, 0, sizeof(d));

	if (!vifs)
		return NULL;
	for (size_t i = 0; i < vm->n_vifs; i++) {
		add(&offered, &vm->vifs[i]->rates.offered);
		add(&passed, &vm->vifs[i]->rates.passed);
		add(&dropped, &vm->vifs[i]->rates.dropped);
		if (vm->vifs[i]->delay) {
			delay_stats_add(&d, vm->vifs[i]->delay);
			have_delay = true;
		}
		if (json_array_append_new(vifs, vif_json(vm->vifs[i]))) {
			json_decref(vifs);
			return NULL;
		}
	}
	obj = json_pack("{s:s, s:s, s:o, s:b, s:o, s:b, s:o, s:o, s:o, s:o}", "id", vm->id, "name",
			vm->id, "uuid", vm->uuid[0] ? json_string(vm->uuid) : json_null(),
			"present", vm->present, "sla", sla_to_json(vm_sla(vm)), "sla_set",
			vm->has_sla, "vifs", vifs, "offered", rate_json(&offered), "passed",
			rate_json(&passed), "dropped", rate_json(&dropped));
	if (obj && vm->domid >= 0)
		json_object_set_new(obj, "domid", json_integer(vm->domid));
	if (obj) {
		json_object_set_new(obj, "delay",
				    have_delay ? json_pack("{s:o, s:o}", "period",
							   summary_json(&d.period), "total",
							   summary_json(&d.total))
					       : json_null());
		json_object_set_new(obj, "jitter_s",
				    have_delay && d.have_last ? seconds_json(d.jitter_ns)
							      : json_null());
		json_object_set_new(obj, "loss",
				    loss_json(ctl, &d, have_delay, &offered, &passed, &dropped));
	}
	return obj;
}

json_t *state_report_json(const struct control *ctl)
{
	json_t *vms = json_array();

	if (!vms)
		return NULL;
	for (size_t m = 0; m < ctl->host.n_vms; m++) {
		if (json_array_append_new(vms, state_vm_json(ctl, ctl->host.vms[m]))) {
			json_decref(vms);
			return NULL;
		}
	}
	return json_pack("{s:I, s:I, s:o}", "tick", (json_int_t)ctl->tick, "t_ms",
			 (json_int_t)(ctl->now_ns / 1000000u), "vms", vms);
}
