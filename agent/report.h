/*
 * report: what each VM got, read from the host model as the last period left it. The period's
 * figures are what GET /vms/{id} and /metrics show; report_publish, the last step of every
 * period, adds each VM's history entry (one a second, VM_HISTORY kept) for GET
 * /vms/{id}/stats. A figure the enforcer cannot see is marked not available, never 0.
 */
#ifndef DBAVM_REPORT_H
#define DBAVM_REPORT_H

#include "control.h"

/* Which of each vif's delay histograms a VM's summary is taken over (none: counts only). */
enum delay_span { DELAY_NONE, DELAY_PERIOD, DELAY_WINDOW, DELAY_TOTAL };

/* A VM's delay figures: its vifs' together. */
struct vm_delay {
	bool measured;		      /* some vif of it measures delay */
	struct delay_summary summary; /* over the chosen span, all vifs' samples */
	bool jitter_na;		      /* no sample yet */
	double jitter_ns;	      /* the vifs', weighted by their samples */
	uint64_t sampled, lost;	      /* since found */
	uint64_t period_sampled, period_lost;
	uint64_t total_n, total_sum_ns, prom[DELAY_N_PROM + 1]; /* since found */
};

/* One direction's: ingress is measured on the vifs whose ingress is held. */
void report_vm_delay(const struct vm *vm, enum sla_dir dir, enum delay_span span,
		     struct vm_delay *out);

/* What the VM got over the last period (host.h). */
void report_vm_period(const struct control *ctl, const struct vm *vm, struct vm_period *out);

/* The last step of a period (control_tick): the history entries due. */
void report_publish(struct control *ctl);

#endif
