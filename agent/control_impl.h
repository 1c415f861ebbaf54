/*
 * control_impl: the control loop's state (control.h's struct control), for agent/'s core
 * (control.c, report.c, snapshot.c) and the unit tests only: everything else holds a pointer
 * and goes through control.h's functions (tests/contract/layers.py holds this).
 */
#ifndef DBAVM_CONTROL_IMPL_H
#define DBAVM_CONTROL_IMPL_H

#include "control.h"

struct control {
	enum alloc_mode mode;
	struct platform *plat;
	struct enforcer *enf;
	struct host host;
	/* VMs the platform shows that the last scan left out (platform_name_problem), and why */
	struct platform_refusal *refused;
	size_t n_refused;
	bool rescan;  /* the platform said the host changed */
	bool reapply; /* ...or came back from an outage: every limit is applied again */
	bool started;
	bool sync_failing;	 /* the enforcer's last sync failed (logged when it began) */
	uint64_t sync_failures;	 /* periods whose enforcer sync failed */
	uint64_t apply_failures; /* limits the enforcer failed to apply */
	uint64_t tick;		 /* periods completed */
	uint64_t periods_run;	 /* control_tick calls (the first, period 0, included) */
	uint64_t now_ns;	 /* time of the last tick */
	uint64_t read_ns;	 /* ... and of its counters' readings (see enforcer_ops) */
	uint64_t last_read_ns;	 /* ... and the period's before */
	uint64_t overruns;	 /* periods the loop fell behind */
	/* How late each period started, as a histogram (CONTROL_LATENESS_BUCKETS_US upper bounds,
	 * the last bucket unbounded), with the count and sum. */
	uint64_t lateness_count[CONTROL_N_LATENESS + 1];
	uint64_t lateness_sum_ns, lateness_n;

	/* Per-period working arrays, in vif creation order; rebuilt when vifs come or go. The
	 * allocator's (slas, ain, aout, aup, apool) hold a unit per vif and direction held
	 * (control.c, allocate). */
	bool topology_changed;
	struct vif **flat;
	size_t n_flat;
	uint64_t vms_generation; /* host.vms_generation when flat was built */
	struct sla *slas;
	struct alloc_vif_in *ain;
	struct alloc_vif_out *aout;
	struct alloc_uplink_in *aup;
	struct alloc_pool_out *apool[ALLOC_NRES];
	struct alloc_ws *ws;
	/* aout holds the allocator's answer to exactly what ain, slas and aup hold now (and
	 * to alloc_host_pps): a period whose inputs did not change skips the allocator. */
	bool alloc_valid;
	uint64_t alloc_host_pps, alloc_floor[ALLOC_NRES];
	/* A period is incremental when nothing but counters moved since the last one (the host's
	 * generation the same, the allocator's answer standing, no reapply): quiet units are passed
	 * by (vif_side.quiet). alloc_ran: this period's allocator ran (its answer may be new). */
	uint64_t passes_generation;
	bool incremental, alloc_ran;
	struct delay_matcher *matcher; /* when the enforcer samples delay */
	uint64_t seq;		       /* publishes: periods and changes (control_publish) */
	struct snapshot *snap;	       /* the readers' copy, built on demand (snapshot.h) */
};

/* The directions the allocator runs for: egress, and ingress where the enforcer holds it
 * (enforcer_ops.holds_ingress); the per-period arrays hold that many units a vif. */
size_t control_n_dirs(const struct control *ctl);

/* The same as control_new and control_free, for a struct control the caller holds. */
int control_init(struct control *ctl, enum alloc_mode mode, const uint64_t floor[ALLOC_NRES],
		 struct platform *plat, struct enforcer *enf);
void control_close(struct control *ctl);

#endif
