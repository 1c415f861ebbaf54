/*
 * state_json: encode the host model. Rates are over the last period; null means unlimited
 * or not available, never 0.
 */
#include "state_json.h"

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

json_t *state_vm_json(const struct vm *vm)
{
	struct rate offered = { 0, 0 }, passed = { 0, 0 }, dropped = { 0, 0 };
	json_t *vifs = json_array(), *obj;

	if (!vifs)
		return NULL;
	for (size_t i = 0; i < vm->n_vifs; i++) {
		add(&offered, &vm->vifs[i]->rates.offered);
		add(&passed, &vm->vifs[i]->rates.passed);
		add(&dropped, &vm->vifs[i]->rates.dropped);
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
	return obj;
}

json_t *state_report_json(const struct control *ctl)
{
	json_t *vms = json_array();

	if (!vms)
		return NULL;
	for (size_t m = 0; m < ctl->host.n_vms; m++) {
		if (json_array_append_new(vms, state_vm_json(ctl->host.vms[m]))) {
			json_decref(vms);
			return NULL;
		}
	}
	return json_pack("{s:I, s:I, s:o}", "tick", (json_int_t)ctl->tick, "t_ms",
			 (json_int_t)(ctl->now_ns / 1000000u), "vms", vms);
}
