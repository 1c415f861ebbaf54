/*
 * state_json: encode the host model. Rates are over the last period; null means unlimited
 * or not available, never 0.
 */
#include "state_json.h"

#include <stdlib.h>
#include <string.h>

#include "boottime.h"

static json_t *pair(uint64_t bps, uint64_t pps)
{
	return json_pack("{s:o, s:o}", "bps", sla_rate_json(bps), "pps", sla_rate_json(pps));
}

static json_t *rate_json(const struct rate *r)
{
	return pair(r->bps, r->pps);
}

/* Offered or dropped: both null where the enforcer does not see them (passed_only). */
static json_t *seen_json(const struct rate *r, bool seen)
{
	return seen ? rate_json(r) : json_pack("{s:n, s:n}", "bps", "pps");
}

/* A side's period rate: null while its counters are not read (snap_side.unread). */
static json_t *side_rate_json(const struct snap_side *sd, const struct rate *r, bool seen)
{
	return seen_json(r, seen && !sd->unread);
}

/* How a side is counted: whether its last reading worked, by what (null: the enforcer's own
 * counters), for how many periods it has not, the last error, and why it is not counted by
 * the first source or by none. */
static json_t *counters_json(const struct snap_side *sd)
{
	return json_pack("{s:b, s:o, s:I, s:o, s:o}", "counted", !sd->unread, "source",
			 sd->counted_by ? json_string(sd->counted_by) : json_null(),
			 "unread_periods", (json_int_t)sd->unread, "error",
			 sd->unread ? json_string(strerror(-sd->unread_err)) : json_null(), "note",
			 sd->count_note[0] ? json_string(sd->count_note) : json_null());
}

static json_t *summary_json(const struct delay_summary *s);
static json_t *seconds_json(double ns);
static json_t *limited_json(const struct snap_side *sd);
static void absence_json(const struct snapshot *s, json_t *obj, bool absent, int64_t since,
			 bool has_sla);

/* A vif's delay one way (over the period and since found) and jitter; null when not
 * measured. */
static void vif_delay_json(const struct snap_delay *d, json_t **delay, json_t **jitter)
{
	*delay = *jitter = NULL;
	if (!d->measured)
		return;
	*delay = json_pack("{s:o, s:o}", "period", summary_json(&d->period), "total",
			   summary_json(&d->total));
	if (d->jitter_known)
		*jitter = seconds_json(d->jitter_ns);
}

/* What the enforcer saw of the vif's ring at its last reading (xen-credit: netback's shared
 * ring, where what the credit holds waits); null where it cannot see one. */
static json_t *ring_json(const struct snap_side *sd)
{
	if (!sd->have_cnt || !sd->cnt.ring_known)
		return json_null();
	return json_pack("{s:I, s:b}", "backlog_slots", (json_int_t)sd->cnt.ring_backlog_slots,
			 "credit_waiting", sd->cnt.credit_waiting);
}

/* How often and how long each limit bound, since the vif was found: "allowance exceeded" (null
 * where the enforcer does not count it). */
static json_t *limited_json(const struct snap_side *sd)
{
	if (!sd->have_cnt || !sd->cnt.limited_known)
		return json_null();
	return json_pack("{s:{s:I, s:o}, s:{s:I, s:o}, s:b}", "bps", "packets",
			 (json_int_t)sd->total.limited_pkts[MEASURE_BPS], "seconds",
			 json_real((double)sd->limited_ns[MEASURE_BPS] / 1e9), "pps", "packets",
			 (json_int_t)sd->total.limited_pkts[MEASURE_PPS], "seconds",
			 json_real((double)sd->limited_ns[MEASURE_PPS] / 1e9), "estimated",
			 sd->cnt.limited_estimated);
}

/* One direction's demand and limit, from the allocator's last answer (unlimited before one). */
static void side_alloc_json(const struct snap_side *sd, json_t **demand, json_t **limit)
{
	const struct alloc_vif_out *a = &sd->alloc;

	if (sd->have_alloc) {
		*demand = pair(a->demand[ALLOC_BPS], a->demand[ALLOC_PPS]);
		*limit = pair(a->limit[ALLOC_BPS], a->limit[ALLOC_PPS]);
	} else {
		*demand = pair(UINT64_MAX, UINT64_MAX);
		*limit = pair(UINT64_MAX, UINT64_MAX);
	}
}

/* What the vif received (ingress), null where the enforcer does not hold that direction. The
 * enforcer that holds it counts before its own drops, so offered and dropped are seen. */
static json_t *ingress_json(const struct snap_vif *vif)
{
	const struct snap_side *sd = &vif->side[SLA_INGRESS];
	json_t *demand, *limit, *delay, *jitter;

	if (!sd->attached)
		return json_null();
	side_alloc_json(sd, &demand, &limit);
	vif_delay_json(&vif->delay[SLA_INGRESS], &delay, &jitter);
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "offered",
			 side_rate_json(sd, &sd->rates.offered, true), "demand", demand, "limit",
			 limit, "passed", side_rate_json(sd, &sd->rates.passed, true), "dropped",
			 side_rate_json(sd, &sd->rates.dropped, true), "limited", limited_json(sd),
			 "delay", delay ? delay : json_null(), "jitter_s",
			 jitter ? jitter : json_null(), "counters", counters_json(sd));
}

/* Where the SLA in force on a vif comes from: its port's own, its VM's, or the default. */
static const char *sla_from(const struct snapshot *s, const struct snap_vif *vif)
{
	return vif->port >= 0 ? "port" : s->vms[vif->vm].has_sla ? "vm" : "default";
}

static json_t *vif_json(const struct snapshot *s, const struct snap_vif *vif, bool seen)
{
	const struct snap_side *eg = &vif->side[SLA_EGRESS];
	json_t *demand, *limit, *delay, *jitter, *o;

	side_alloc_json(eg, &demand, &limit);
	vif_delay_json(&vif->delay[SLA_EGRESS], &delay, &jitter);
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", vif->id,
		      "uplink", vif->uplink, "offered",
		      side_rate_json(eg, &eg->rates.offered, seen), "demand", demand, "limit",
		      limit, "passed", side_rate_json(eg, &eg->rates.passed, true), "dropped",
		      side_rate_json(eg, &eg->rates.dropped, seen), "delay",
		      delay ? delay : json_null(), "jitter_s", jitter ? jitter : json_null(),
		      "ring", ring_json(eg), "limited", limited_json(eg), "ingress",
		      ingress_json(vif));
	if (o) {
		json_object_set_new(o, "mac", vif->mac[0] ? json_string(vif->mac) : json_null());
		json_object_set_new(o, "port_id",
				    vif->port_id[0] ? json_string(vif->port_id) : json_null());
		json_object_set_new(o, "sla_from", json_string(sla_from(s, vif)));
		json_object_set_new(o, "counters", counters_json(eg));
	}
	return o;
}

/* What the VM received over the last period, its vifs' ingress summed; null where no vif of
 * it has its ingress held. */
static json_t *vm_ingress_json(const struct snap_vm *vm)
{
	struct vif_rates sum;
	bool any = false, unread = false;

	memset(&sum, 0, sizeof(sum));
	for (size_t i = 0; i < vm->n_vifs; i++) {
		const struct snap_side *sd = &vm->vifs[i].side[SLA_INGRESS];

		if (!sd->attached)
			continue;
		any = true;
		unread |= sd->unread > 0;
		sum.offered.bps += sd->rates.offered.bps;
		sum.offered.pps += sd->rates.offered.pps;
		sum.passed.bps += sd->rates.passed.bps;
		sum.passed.pps += sd->rates.passed.pps;
		sum.dropped.bps += sd->rates.dropped.bps;
		sum.dropped.pps += sd->rates.dropped.pps;
	}
	if (!any)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "offered", seen_json(&sum.offered, !unread),
			 "passed", seen_json(&sum.passed, !unread), "dropped",
			 seen_json(&sum.dropped, !unread), "delay",
			 vm->delay[SLA_INGRESS].measured
				 ? json_pack("{s:o, s:o}", "period",
					     summary_json(&vm->delay_in_period.summary), "total",
					     summary_json(&vm->delay[SLA_INGRESS].summary))
				 : json_null(),
			 "jitter_s",
			 vm->delay[SLA_INGRESS].measured && !vm->delay[SLA_INGRESS].jitter_na
				 ? seconds_json(vm->delay[SLA_INGRESS].jitter_ns)
				 : json_null());
}

static json_t *seconds_json(double ns)
{
	return json_real(ns / 1e9);
}

static json_t *summary_json(const struct delay_summary *s)
{
	if (!s->n)
		return json_pack("{s:i, s:n, s:n, s:n}", "samples", 0, "mean_s", "p50_s", "p99_s");
	return json_pack("{s:I, s:o, s:o, s:o}", "samples", (json_int_t)s->n, "mean_s",
			 seconds_json(s->mean_ns), "p50_s", seconds_json(s->p50_ns), "p99_s",
			 seconds_json(s->p99_ns));
}

static json_t *cause_json(bool na, bool ratio_na, uint64_t pps, double ratio)
{
	if (na)
		return json_pack("{s:n, s:n}", "pps", "ratio");
	return json_pack("{s:I, s:o}", "pps", (json_int_t)pps, "ratio",
			 ratio_na ? json_null() : json_real(ratio));
}

/* Loss over the period by cause, as packets per second and as a share of what was offered:
 * policy (dropped at the hook by the SLA), path (lost between the guest and the uplink). */
static json_t *loss_json(const struct vm_period *p)
{
	return json_pack(
		"{s:o, s:o}", "policy",
		cause_json(p->policy_na, p->policy_ratio_na, p->policy_pps, p->policy_ratio),
		"path", cause_json(p->path_na, p->path_ratio_na, p->path_pps, p->path_ratio));
}

static json_t *jitter_json(const struct vm_period *p)
{
	return p->jitter_na ? json_null() : seconds_json(p->jitter_ns);
}

json_t *state_vm_json(const struct snapshot *s, const struct snap_vm *vm)
{
	const struct vm_period *p = &vm->period;
	json_t *vifs = json_array(), *obj, *delay = NULL;

	if (!vifs)
		return NULL;
	for (size_t i = 0; i < vm->n_vifs; i++) {
		if (json_array_append_new(vifs, vif_json(s, &vm->vifs[i], !p->offered_na))) {
			json_decref(vifs);
			return NULL;
		}
	}
	if (!p->delay_na)
		delay = json_pack("{s:o, s:o}", "period", summary_json(&p->delay), "total",
				  summary_json(&vm->delay[SLA_EGRESS].summary));
	obj = json_pack("{s:s, s:s, s:o, s:b, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
			vm->id, "name", vm->id, "uuid",
			vm->uuid[0] ? json_string(vm->uuid) : json_null(), "present", vm->present,
			"sla", sla_spec_to_json(&vm->sla_in_force), "sla_set", vm->has_sla, "vifs",
			vifs, "offered", seen_json(&p->offered, !p->offered_na && !p->passed_na),
			"passed", seen_json(&p->passed, !p->passed_na), "dropped",
			seen_json(&p->dropped, !p->offered_na && !p->passed_na), "loss",
			loss_json(p), "delay", delay ? delay : json_null(), "jitter_s",
			jitter_json(p));
	if (obj)
		json_object_set_new(obj, "ingress", vm_ingress_json(vm));
	if (obj && vm->domid >= 0)
		json_object_set_new(obj, "domid", json_integer(vm->domid));
	if (obj) /* an absent VM: since when, and when its SLA is forgotten (null: never) */
		absence_json(s, obj, !vm->present, vm->absent_since, vm->has_sla);
	return obj;
}

json_t *state_vm_stats_json(const struct snap_vm *vm, uint32_t period_ms)
{
	json_t *periods = json_array();
	uint32_t n = vm->hist ? vm->hist->n : 0;

	if (!periods)
		return NULL;
	for (uint32_t k = 0; k < n; k++) {
		const struct vm_period *p = vm_history_at(vm->hist, k);
		json_t *e = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "tick",
				      (json_int_t)p->tick, "t_ms", (json_int_t)p->t_ms, "offered",
				      seen_json(&p->offered, !p->offered_na && !p->passed_na),
				      "passed", seen_json(&p->passed, !p->passed_na), "dropped",
				      seen_json(&p->dropped, !p->offered_na && !p->passed_na),
				      "loss", loss_json(p), "delay",
				      p->delay_na ? json_null() : summary_json(&p->delay),
				      "jitter_s", jitter_json(p));

		if (json_array_append_new(periods, e)) {
			json_decref(periods);
			return NULL;
		}
	}
	return json_pack("{s:s, s:I, s:o}", "id", vm->id, "period_ms", (json_int_t)period_ms,
			 "periods", periods);
}

json_t *state_report_json(const struct snapshot *s)
{
	json_t *vms = json_array();

	if (!vms)
		return NULL;
	for (size_t m = 0; m < s->n_vms; m++) {
		if (json_array_append_new(vms, state_vm_json(s, &s->vms[m]))) {
			json_decref(vms);
			return NULL;
		}
	}
	return json_pack("{s:I, s:I, s:o}", "tick", (json_int_t)s->tick, "t_ms",
			 (json_int_t)(s->now_ns / 1000000u), "vms", vms);
}

/* The key a port is shown by: its SLA's, else its MAC, else its vif's id. */
static const char *port_key(const struct port_ref *r)
{
	return r->sla ? r->sla->key : r->vif->mac[0] ? r->vif->mac : r->vif->id;
}

/* An absent holder's "absent_since" and "forgotten_at" (both null while present): seconds
 * since the epoch by the wall clock as it reads now, for people; the agent counts absence on
 * the boot's clock (boottime.h), which no step of the wall clock moves. */
static void absence_json(const struct snapshot *s, json_t *obj, bool absent, int64_t since,
			 bool has_sla)
{
	uint32_t after = s->forget_absent_after_s;
	int64_t wall = since ? boot_stamp_to_wall(since) : 0;

	absent = absent && since;
	json_object_set_new(obj, "absent_since",
			    absent ? json_integer((json_int_t)wall) : json_null());
	json_object_set_new(obj, "forgotten_at",
			    absent && after && has_sla ? json_integer((json_int_t)(wall + after))
						       : json_null());
}

json_t *state_port_json(const struct snapshot *s, const struct port_ref *r)
{
	const struct snap_vm *vm = r->vm;
	const struct sla_spec *in_force = r->sla ? &r->sla->sla : &vm->sla_in_force;
	json_t *o =
		json_pack("{s:s, s:o, s:o, s:o, s:b, s:s, s:o}", "port", port_key(r), "vm",
			  vm ? json_string(vm->id) : json_null(), "vif",
			  r->vif ? vif_json(s, r->vif, !vm->period.offered_na) : json_null(), "mac",
			  r->vif && r->vif->mac[0] ? json_string(r->vif->mac) : json_null(),
			  "present", r->vif != NULL, "sla_from",
			  r->sla	? "port"
			  : vm->has_sla ? "vm"
					: "default",
			  "sla", sla_spec_to_json(in_force));

	if (o) {
		json_object_set_new(o, "port_id",
				    r->vif && r->vif->port_id[0] ? json_string(r->vif->port_id)
								 : json_null());
		absence_json(s, o, !r->vif, r->sla ? r->sla->absent_since : 0, r->sla != NULL);
	}
	return o;
}

json_t *state_ports_json(const struct snapshot *s)
{
	json_t *ports = json_array();

	for (size_t i = 0; ports && i < s->n_vifs; i++) {
		const struct snap_vif *v = &s->vifs[i];
		struct port_ref r = { &s->vms[v->vm], v, v->port >= 0 ? &s->ports[v->port] : NULL };

		if (json_array_append_new(ports, state_port_json(s, &r)))
			goto fail;
	}
	for (size_t p = 0; ports && p < s->n_ports; p++) {
		struct port_ref r = { NULL, NULL, &s->ports[p] };

		if (s->ports[p].vif < 0 && json_array_append_new(ports, state_port_json(s, &r)))
			goto fail;
	}
	return ports ? json_pack("{s:o}", "ports", ports) : NULL;
fail:
	json_decref(ports);
	return NULL;
}

/* One direction's counts since the vif was found. */
static json_t *totals_json(const struct snap_side *sd, bool seen)
{
	const struct vif_counters *t = &sd->total;

	if (!sd->attached)
		return json_null();
	return json_pack("{s:o, s:{s:I, s:I}, s:o, s:o}", "offered",
			 seen ? json_pack("{s:I, s:I}", "packets", (json_int_t)t->offered_pkts,
					  "bytes", (json_int_t)t->offered_bytes)
			      : json_null(),
			 "passed", "packets", (json_int_t)t->passed_pkts, "bytes",
			 (json_int_t)t->passed_bytes, "dropped",
			 seen ? json_pack("{s:I, s:I}", "packets", (json_int_t)t->dropped_pkts,
					  "bytes", (json_int_t)t->dropped_bytes)
			      : json_null(),
			 "limited", limited_json(sd));
}

json_t *state_port_stats_json(const struct snapshot *s, const struct port_ref *r)
{
	bool seen = !s->passed_only;

	return json_pack("{s:s, s:s, s:o, s:o}", "port", port_key(r), "vif", r->vif->id, "egress",
			 totals_json(&r->vif->side[SLA_EGRESS], seen), "ingress",
			 totals_json(&r->vif->side[SLA_INGRESS], true));
}
