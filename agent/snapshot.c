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
	memcpy(o->uplink, v->desc.uplink, sizeof(o->uplink));
	o->uplink_index = v->uplink;
	for (int d = 0; d < SLA_NDIR; d++) {
		const struct vif_side *sd = &v->side[d];

		o->side[d] = (struct snap_side){
			sd->attached, sd->have_cnt,
			sd->cnt,      sd->total,
			sd->rates,    sd->have_alloc,
			sd->alloc,    { sd->limited_ns[0], sd->limited_ns[1] }
		};
	}
	if (v->delay && same) {
		o->delay_measured = true;
		o->delay_period = same->delay_period;
		o->delay_total = same->delay_total;
		o->jitter_known = same->jitter_known;
		o->jitter_ns = same->jitter_ns;
	} else if (v->delay) {
		o->delay_measured = true;
		delay_summarize(&v->delay->period, &o->delay_period);
		delay_summarize(&v->delay->total, &o->delay_total);
		o->jitter_known = v->delay->total.n > 0;
		o->jitter_ns = v->delay->jitter_ns;
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
		o->delay = same->delay;
	} else {
		report_vm_period(ctl, vm, &o->period);
		report_vm_delay(vm, DELAY_TOTAL, &o->delay);
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
	if (!s->vms || !vifs || copy_control(s, ctl)) {
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
		vifs += h->vms[i]->n_vifs;
	}
	s->n_vms = h->n_vms;
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_vms; i++)
		vm_history_release((struct vm_history *)s->vms[i].hist);
	free(s->vifs);
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
