/*
 * report.c: what each VM got, from what the period left in the host model: the period's
 * figures (rates, delay, jitter, loss by cause), and the history of each VM, an entry a
 * second, that GET /vms/{id}/stats reads. report.h says what each function gives.
 */
#include "report.h"

#include "control_impl.h"

#include <stdlib.h>
#include <string.h>

static const struct delay_hist *span_of(const struct delay_stats *s, enum delay_span span)
{
	switch (span) {
	case DELAY_PERIOD:
		return &s->period;
	case DELAY_WINDOW:
		return &s->window;
	case DELAY_TOTAL:
		return &s->total;
	default:
		return NULL;
	}
}

void report_vm_delay(const struct vm *vm, enum sla_dir dir, enum delay_span span,
		     struct vm_delay *out)
{
	const struct delay_hist *only = NULL; /* the one vif's histogram with samples, if one */
	struct delay_hist *merged = NULL;
	double jitter = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < vm->n_vifs; i++) {
		const struct vif *v = vm->vifs[i];
		const struct delay_stats *s = v->delay ? &v->delay[dir] : NULL;
		const struct delay_hist *h;

		if (!s || !v->side[dir].attached)
			continue;
		out->measured = true;
		out->sampled += s->sampled;
		out->lost += s->lost;
		out->period_sampled += s->period_sampled;
		out->period_lost += s->period_lost;
		out->total_n += s->total.n;
		out->total_sum_ns += s->total.sum_ns;
		for (unsigned b = 0; b <= DELAY_N_PROM; b++)
			out->prom[b] += s->prom[b];
		jitter += s->jitter_ns * (double)s->total.n;
		h = span_of(s, span);
		if (!h || !h->n)
			continue;
		/* Most VMs have one vif: its histogram is summarised in place, copied for none. */
		if (!only) {
			only = h;
		} else {
			if (!merged && (merged = calloc(1, sizeof(*merged))))
				delay_hist_merge(merged, only);
			if (merged)
				delay_hist_merge(merged, h);
		}
	}
	if (only)
		delay_summarize(merged ? merged : only, &out->summary);
	free(merged);
	out->jitter_na = out->total_n == 0;
	out->jitter_ns = out->total_n ? jitter / (double)out->total_n : 0;
}

/* Loss by cause from packet counts over dt_s: policy (the hook's drops) or path (netback's
 * drops, or the share of samples lost applied to what passed). */
static void loss_of(struct vm_period *p, const struct enforcer_ops *enf, bool have_delay,
		    uint64_t offered, uint64_t passed, uint64_t dropped, uint64_t sampled,
		    uint64_t lost, double dt_s)
{
	bool on_path = enf->drops_on_path;

	/* What the enforcer holds back in the guest is not seen: no offered load, no policy loss,
	 * and the path's share is of what passed. */
	p->offered_na = enf->passed_only;
	if (p->offered_na)
		offered = passed;
	p->policy_na = on_path || p->offered_na;
	p->policy_pps = on_path ? 0 : (uint64_t)((double)dropped / dt_s + 0.5);
	p->policy_ratio_na = on_path || !offered;
	if (!p->policy_ratio_na)
		p->policy_ratio = (double)dropped / (double)offered;
	p->path_na = !on_path && !have_delay;
	if (on_path) {
		p->path_pps = (uint64_t)((double)dropped / dt_s + 0.5);
		p->path_ratio_na = !offered;
		if (!p->path_ratio_na)
			p->path_ratio = (double)dropped / (double)offered;
	} else if (!p->path_na) {
		p->path_ratio_na = !sampled || !offered;
		if (!p->path_ratio_na) {
			p->path_ratio =
				(double)lost / (double)sampled * (double)passed / (double)offered;
			p->path_pps = (uint64_t)(p->path_ratio * (double)offered / dt_s + 0.5);
		}
	}
}

static void delay_into(struct vm_period *p, const struct vm_delay *d)
{
	p->delay_na = !d->measured;
	p->delay = d->summary;
	p->jitter_na = d->jitter_na;
	p->jitter_ns = d->jitter_ns;
}

void report_vm_period(const struct control *ctl, const struct vm *vm, struct vm_period *out)
{
	struct vm_delay d;

	memset(out, 0, sizeof(*out));
	out->tick = ctl->tick;
	out->t_ms = ctl->now_ns / 1000000u;
	for (size_t i = 0; i < vm->n_vifs; i++) {
		const struct vif_side *sd = &vm->vifs[i]->side[SLA_EGRESS];
		const struct vif_rates *r = &sd->rates;

		out->passed_na |= sd->attached && sd->unread;
		out->offered.bps += r->offered.bps;
		out->offered.pps += r->offered.pps;
		out->passed.bps += r->passed.bps;
		out->passed.pps += r->passed.pps;
		out->dropped.bps += r->dropped.bps;
		out->dropped.pps += r->dropped.pps;
	}
	report_vm_delay(vm, SLA_EGRESS, DELAY_PERIOD, &d);
	delay_into(out, &d);
	loss_of(out, ctl->enf->ops, d.measured, out->offered.pps, out->passed.pps, out->dropped.pps,
		d.period_sampled, d.period_lost, 1.0);
	if (out->passed_na) /* a sum without a vif's share is no VM's figure */
		out->policy_na = out->path_na = true;
}

static uint64_t rate_over(uint64_t delta, double dt_s, uint64_t scale)
{
	return (uint64_t)((double)delta * (double)scale / dt_s + 0.5);
}

/* One history entry for a VM: what it got since its last entry. */
static void history_entry(struct control *ctl, struct vm *vm, struct vm_period *e)
{
	struct vif_counters d;
	struct vm_delay dl;
	/* Over the time its counters cover: from reading to reading (read_ns), not from period
	 * to period; a period whose readings came late (a rescan first: 66 ms after a reboot on
	 * Xen) held their bytes, and over the period's time vm1 read 4.41 Mbit/s at a limit of 4 */
	double dt_s = (double)(ctl->read_ns - vm->hist_ns) / 1e9;

	memset(e, 0, sizeof(*e));
	e->tick = ctl->tick;
	e->t_ms = ctl->now_ns / 1000000u;
	measure_delta(&vm->hist_total, &vm->timed, &d);
	e->offered = (struct rate){ rate_over(d.offered_bytes, dt_s, 8),
				    rate_over(d.offered_pkts, dt_s, 1) };
	e->passed = (struct rate){ rate_over(d.passed_bytes, dt_s, 8),
				   rate_over(d.passed_pkts, dt_s, 1) };
	e->dropped = (struct rate){ rate_over(d.dropped_bytes, dt_s, 8),
				    rate_over(d.dropped_pkts, dt_s, 1) };
	report_vm_delay(vm, SLA_EGRESS, DELAY_WINDOW, &dl);
	delay_into(e, &dl);
	for (size_t i = 0; i < vm->n_vifs; i++) /* the history's is egress: the window restarts */
		if (vm->vifs[i]->delay && vm->vifs[i]->delay[SLA_EGRESS].window.n)
			memset(&vm->vifs[i]->delay[SLA_EGRESS].window, 0,
			       sizeof(vm->vifs[i]->delay[SLA_EGRESS].window));
	/* Samples and losses are the vifs' counts since found; a vif that went took its own. */
	loss_of(e, ctl->enf->ops, dl.measured, d.offered_pkts, d.passed_pkts, d.dropped_pkts,
		dl.sampled > vm->hist_sampled ? dl.sampled - vm->hist_sampled : 0,
		dl.lost > vm->hist_lost ? dl.lost - vm->hist_lost : 0, dt_s);
	e->passed_na = vm->hist_unread;
	if (e->passed_na)
		e->policy_na = e->path_na = true;
	vm->hist_unread = false;
	vm->hist_sampled = dl.sampled;
	vm->hist_lost = dl.lost;
}

/* The end of a period: every second (or every period, if longer), a history entry for each
 * present VM; a period of a few milliseconds costs nothing here. Entries are due on a
 * one-second grid from the VM's first period, not a second after the last one: periods that
 * end a little late (a loaded host) would otherwise stretch every entry by their lateness,
 * and a minute of history would hold 55 entries. Each entry's rates are over the time it
 * really covers. */
/* The VM's history, its own to write: a copy if a snapshot holds the one it has. */
static struct vm_history *own_history(struct vm *vm)
{
	struct vm_history *h = vm->hist;

	if (h->refs > 1) {
		struct vm_history *copy = malloc(sizeof(*copy));

		if (!copy)
			return NULL;
		*copy = *h;
		copy->refs = 1;
		vm_history_release(h);
		vm->hist = h = copy;
	}
	return h;
}

void report_publish(struct control *ctl)
{
	for (size_t m = 0; m < ctl->host.n_vms; m++) {
		struct vm *vm = ctl->host.vms[m];
		struct vm_history *h;

		if (!vm->present)
			continue;
		if (!vm->hist) { /* entries start from here */
			vm->hist = calloc(1, sizeof(*vm->hist));
			if (vm->hist)
				vm->hist->refs = 1;
			vm->hist_total = vm->timed;
			vm->hist_ns = ctl->read_ns;
			vm->hist_due_ns = ctl->now_ns + VM_HISTORY_NS;
			continue;
		}
		if (ctl->now_ns + VM_HISTORY_NS / 20 < vm->hist_due_ns) /* the period nearest it */
			continue;
		h = own_history(vm);
		if (!h)
			continue; /* out of memory: the entry comes a period later */
		history_entry(ctl, vm, &h->e[(h->head + h->n) % VM_HISTORY]);
		vm->hist_total = vm->timed;
		vm->hist_ns = ctl->read_ns;
		vm->hist_due_ns += VM_HISTORY_NS;
		if (vm->hist_due_ns <=
		    ctl->now_ns) /* a stall, or periods over a second: no catching up */
			vm->hist_due_ns = ctl->now_ns + VM_HISTORY_NS;
		if (h->n < VM_HISTORY)
			h->n++;
		else
			h->head = (h->head + 1) % VM_HISTORY;
	}
}
