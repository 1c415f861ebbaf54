/*
 * snapshot.c: the readers' copy of the model (snapshot.h says who reads it and when it is
 * built). One allocation for the VMs, one for all their vifs.
 */
#include "snapshot.h"

#include "control_impl.h"

#include <stdlib.h>
#include <string.h>

/* The vif, its delay summaries from `same` (the vif in a snapshot of the same period) or,
 * with none, worked out here. */
static void copy_vif(struct snap_vif *o, const struct vif *v, const struct snap_vif *same)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->id, v->desc.id, sizeof(o->id));
	memcpy(o->mac, v->desc.mac, sizeof(o->mac));
	memcpy(o->port_id, v->desc.port_id, sizeof(o->port_id));
	memcpy(o->uplink, v->desc.uplink, sizeof(o->uplink));
	o->port = v->port ? (int32_t)v->port->index : -1;
	o->uplink_index = v->uplink;
	for (int d = 0; d < SLA_NDIR; d++) {
		const struct vif_side *sd = &v->side[d];

		o->side[d] = (struct snap_side){
			.attached = sd->attached,
			.have_cnt = sd->have_cnt,
			.cnt = sd->cnt,
			.total = sd->total,
			.rates = sd->rates,
			.have_alloc = sd->have_alloc,
			.alloc = sd->alloc,
			.limited_ns = { sd->limited_ns[0], sd->limited_ns[1] },
			.unread = sd->unread,
			.unread_err = sd->unread_err,
			.counted_by = sd->enf.counted_by,
		};
		if (sd->enf.count_note[0]) /* nearly always empty, as the literal left it */
			memcpy(o->side[d].count_note, sd->enf.count_note,
			       strnlen(sd->enf.count_note, sizeof(o->side[d].count_note) - 1));
	}
	for (int d = 0; d < SLA_NDIR; d++) {
		struct snap_delay *sd = &o->delay[d];
		const struct delay_stats *ds = v->delay ? &v->delay[d] : NULL;

		if (!ds || !v->side[d].attached) {
			continue;
		} else if (same) {
			*sd = same->delay[d];
		} else {
			sd->measured = true;
			delay_summarize(&ds->period, &sd->period);
			delay_summarize(&ds->total, &sd->total);
			sd->jitter_known = ds->total.n > 0;
			sd->jitter_ns = ds->jitter_ns;
		}
	}
}

/* The VM; its figures over the period from `same` (the VM in a snapshot of the same period:
 * only a period changes them) or, with none, worked out here. */
static void copy_vm(const struct control *ctl, struct snap_vm *o, const struct vm *vm,
		    struct snap_vif *vifs, const struct snap_vm *same)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->id, vm->id, sizeof(o->id));
	memcpy(o->uuid, vm->uuid, sizeof(o->uuid));
	o->domid = vm->domid;
	o->present = vm->present;
	o->has_sla = vm->has_sla;
	o->absent_since = vm->absent_since;
	o->absent_stored = vm->absent_stored;
	o->sla = vm->sla;
	o->sla_in_force = *vm_sla(vm);
	o->total = vm->total;
	if (same && same->n_vifs != vm->n_vifs)
		same = NULL;
	if (same) {
		o->period = same->period;
		memcpy(o->delay, same->delay, sizeof(o->delay));
		o->delay_in_period = same->delay_in_period;
	} else {
		report_vm_period(ctl, vm, &o->period);
		for (int d = 0; d < SLA_NDIR; d++)
			report_vm_delay(vm, d, DELAY_TOTAL, &o->delay[d]);
		report_vm_delay(vm, SLA_INGRESS, DELAY_PERIOD, &o->delay_in_period);
	}
	o->vifs = vifs;
	o->n_vifs = vm->n_vifs;
	for (size_t j = 0; j < vm->n_vifs; j++)
		copy_vif(&vifs[j], vm->vifs[j], same ? &same->vifs[j] : NULL);
	if (vm->hist) {
		vm->hist->refs++;
		o->hist = vm->hist;
	}
}

static int copy_control(struct snapshot *s, const struct control *ctl)
{
	const struct host *h = &ctl->host;
	const char *problem = ctl->plat->ops->problem ? ctl->plat->ops->problem(ctl->plat) : NULL;

	s->model_generation = h->generation;
	s->periods_run = ctl->periods_run;
	s->tick = ctl->tick;
	s->now_ns = ctl->now_ns;
	s->read_ns = ctl->read_ns;
	s->started = ctl->started;
	s->overruns = ctl->overruns;
	s->sync_failures = ctl->sync_failures;
	s->apply_failures = ctl->apply_failures;
	memcpy(s->lateness_count, ctl->lateness_count, sizeof(s->lateness_count));
	s->lateness_sum_ns = ctl->lateness_sum_ns;
	s->lateness_n = ctl->lateness_n;
	s->host_capacity_pps = h->host_capacity_pps;
	memcpy(s->floor, h->floor, sizeof(s->floor));
	s->host_pps_pool = h->host_pps_pool;
	s->forget_absent_after_s = h->forget_absent_after_s;
	s->slas_forgotten = h->slas_forgotten;
	s->passed_only = ctl->enf->ops->passed_only;
	s->drops_on_path = ctl->enf->ops->drops_on_path;
	s->holds_ingress = ctl->enf->ops->holds_ingress;
	s->marks_dscp = ctl->enf->ops->marks_dscp;
	s->sample_every = ctl->enf->sample_every;
	s->samples_delay = ctl->matcher != NULL;
	s->delay_overflows = ctl->matcher ? delay_overflows(ctl->matcher) : 0;
	s->n_uplinks = h->n_uplinks;
	s->uplinks = malloc((h->n_uplinks + 1) * sizeof(*s->uplinks));
	s->n_refused = ctl->n_refused;
	s->refused = malloc((ctl->n_refused + 1) * sizeof(*s->refused));
	s->platform_problem = problem ? strdup(problem) : NULL;
	if (!s->uplinks || !s->refused || (problem && !s->platform_problem))
		return -1;
	if (h->n_uplinks)
		memcpy(s->uplinks, h->uplinks, h->n_uplinks * sizeof(*s->uplinks));
	if (ctl->n_refused)
		memcpy(s->refused, ctl->refused, ctl->n_refused * sizeof(*s->refused));
	return 0;
}

struct snapshot *snapshot_build(const struct control *ctl)
{
	const struct host *h = &ctl->host;
	struct snapshot *s = calloc(1, sizeof(*s));
	struct snap_vif *vifs;
	size_t n_vifs = 0;

	if (!s)
		return NULL;
	for (size_t i = 0; i < h->n_vms; i++)
		n_vifs += h->vms[i]->n_vifs;
	s->vms = calloc(h->n_vms + 1, sizeof(*s->vms));
	s->vifs = vifs = malloc((n_vifs + 1) * sizeof(*vifs));
	s->n_vifs = n_vifs;
	s->ports = calloc(h->n_ports + 1, sizeof(*s->ports));
	s->n_ports = h->n_ports;
	if (!s->vms || !vifs || !s->ports || copy_control(s, ctl)) {
		snapshot_free(s);
		return NULL;
	}
	/* Between periods only the control functions change the model (SLAs, absent VMs'
	 * records), never what a VM got: the figures of the last snapshot, if it is of this
	 * period, are taken rather than worked out again. Its VMs are in the same order. */
	const struct snapshot *prev =
		ctl->snap && ctl->snap->periods_run == ctl->periods_run ? ctl->snap : NULL;
	size_t k = 0;

	for (size_t i = 0; i < h->n_vms; i++) {
		const struct snap_vm *same = NULL;

		while (prev && k < prev->n_vms && strcmp(prev->vms[k].id, h->vms[i]->id))
			k++;
		if (prev && k < prev->n_vms)
			same = &prev->vms[k++];
		else
			k = 0, prev = NULL; /* out of step: work the rest out */
		copy_vm(ctl, &s->vms[i], h->vms[i], vifs, same);
		for (size_t j = 0; j < h->vms[i]->n_vifs; j++) {
			vifs[j].vm = (uint32_t)i;
			for (int d = 0; d < SLA_NDIR; d++)
				s->n_noted_sides +=
					vifs[j].side[d].unread || vifs[j].side[d].count_note[0];
		}
		for (size_t j = 0; j < h->vms[i]->n_vifs; j++)
			if (h->vms[i]->vifs[j]->port)
				s->ports[h->vms[i]->vifs[j]->port->index].vif =
					(int64_t)(vifs - s->vifs) + (int64_t)j;
		vifs += h->vms[i]->n_vifs;
	}
	s->n_vms = h->n_vms;
	for (size_t p = 0; p < h->n_ports; p++) {
		struct snap_port *o = &s->ports[p];
		const struct port *port = h->ports[p];

		memcpy(o->key, port->key, sizeof(o->key));
		o->sla = port->sla;
		o->absent_since = port->absent_since;
		o->absent_stored = port->absent_stored;
		if (!port->vif)
			o->vif = -1;
	}
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_vms; i++)
		vm_history_release((struct vm_history *)s->vms[i].hist);
	free(s->vifs);
	free(s->ports);
	free(s->vms);
	free(s->uplinks);
	free(s->refused);
	free(s->platform_problem);
	free(s);
}

const struct snapshot *control_snapshot(struct control *ctl)
{
	if (!ctl->snap || ctl->snap->seq != ctl->seq) {
		struct snapshot *s = snapshot_build(ctl);

		if (!s)
			return NULL;
		s->seq = ctl->seq;
		snapshot_free(ctl->snap);
		ctl->snap = s;
	}
	return ctl->snap;
}

static struct vm_keys snap_keys(const void *set, size_t i)
{
	const struct snap_vm *vm = &((const struct snapshot *)set)->vms[i];

	return (struct vm_keys){ vm->id, vm->uuid, vm->domid };
}

const struct snap_vm *snapshot_lookup_vm(const struct snapshot *s, const char *key,
					 const struct snap_vm **other)
{
	size_t n = s->n_vms, o, i = vm_lookup(n, snap_keys, s, key, &o);

	if (other)
		*other = o < n ? &s->vms[o] : NULL;
	return i < n ? &s->vms[i] : NULL;
}

const struct snap_vm *snapshot_find_vm(const struct snapshot *s, const char *key)
{
	return snapshot_lookup_vm(s, key, NULL);
}

const struct vm_period *vm_history_at(const struct vm_history *h, uint32_t k)
{
	return &h->e[(h->head + k) % VM_HISTORY];
}

/* Whether two answers name the same port. */
static bool same_port(const struct port_ref *a, const struct port_ref *b)
{
	return a->vif ? a->vif == b->vif : a->sla == b->sla;
}

/* One more port key names: the first into out, the second into other. */
static int found(int n, const struct port_ref *r, struct port_ref *out, struct port_ref *other)
{
	if (n && same_port(out, r))
		return n;
	if (n == 0)
		*out = *r;
	else if (n == 1 && other)
		*other = *r;
	return n + 1;
}

int snapshot_lookup_port(const struct snapshot *s, const char *key, struct port_ref *out,
			 struct port_ref *other)
{
	char mac[PLATFORM_MAC_LEN], uuid[PLATFORM_UUID_LEN];
	bool is_mac = platform_mac_parse(key, mac), is_uuid = platform_uuid_parse(key, uuid);
	int n = 0;

	memset(out, 0, sizeof(*out));
	if (other)
		memset(other, 0, sizeof(*other));
	for (size_t i = 0; i < s->n_vifs; i++) {
		const struct snap_vif *v = &s->vifs[i];
		struct port_ref r = { &s->vms[v->vm], v, v->port >= 0 ? &s->ports[v->port] : NULL };

		if (!strcmp(v->id, key) || (is_mac && v->mac[0] && !strcmp(v->mac, mac)) ||
		    (v->port_id[0] &&
		     (!strcmp(v->port_id, key) || (is_uuid && !strcmp(v->port_id, uuid)))) ||
		    (is_uuid && r.sla && !strcmp(r.sla->sla.source.port_id, uuid)))
			n = found(n, &r, out, other);
	}
	for (size_t p = 0; p < s->n_ports; p++) {
		const struct snap_port *sp = &s->ports[p];
		struct port_ref r = { NULL, NULL, sp };

		if (sp->vif >= 0 ||
		    (strcmp(sp->key, key) && (!is_mac || strcmp(sp->key, mac)) &&
		     (!is_uuid || (strcmp(sp->key, uuid) && strcmp(sp->sla.source.port_id, uuid)))))
			continue;
		n = found(n, &r, out, other);
	}
	return n > 2 ? 2 : n;
}
