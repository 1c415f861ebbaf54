/*
 * enforcer: applies allocations to vifs and counts what they offer, pass and drop
 * (DESIGN.md section 4). On netns: netfront (BPF at the guest end, netfront.c), netback (HTB
 * on the uplink in the driver domain, netback.c) and none (interface statistics, none.c); the
 * sim platform brings a model of its own. On xen: xen-credit (netback's rate node,
 * xen_credit.c), none counting from libxenstat or the netdevs (xen_counters.c).
 */
#ifndef DBAVM_ENFORCER_H
#define DBAVM_ENFORCER_H

#include <stdbool.h>
#include <stdint.h>

#include "measure.h"

struct vif;
struct enforcer;
struct delay_matcher;

struct enforcer_ops {
	const char *name;
	bool sees_offered; /* counts load before its own drops: the allocator's demand is exact */
	int (*attach)(struct enforcer *e, struct vif *vif);
	void (*detach)(struct enforcer *e, struct vif *vif);
	/* Called once per period before read_counters, with the time the readings stand for. */
	int (*sync)(struct enforcer *e, uint64_t now_ns);
	int (*read_counters)(struct enforcer *e, struct vif *vif, struct vif_counters *out);
	/* limit_bps / limit_pps: UINT64_MAX means unlimited. */
	int (*apply)(struct enforcer *e, struct vif *vif, uint64_t limit_bps, uint64_t limit_pps);
	/* Optional: called every period for each vif whose limit did not change (apply was not
	 * called), for an enforcer whose setting also follows measured rates (xen-credit folds
	 * the packet limit in by the mean frame). */
	int (*retune)(struct enforcer *e, struct vif *vif);
	void (*close)(struct enforcer *e);
	/* Optional (NULL: no delay measurement): hands every sampled packet since the last call
	 * to the matcher (delay.h), then expires the samples it waited for too long. */
	void (*drain_samples)(struct enforcer *e, struct delay_matcher *m);
	/* Where its drops happen: in the guest, by policy (netfront), or on the path after the
	 * copy (netback's HTB: the guest's packets are lost in the driver domain). */
	bool drops_on_path;
};

struct enforcer {
	const struct enforcer_ops *ops;
	void *priv;
	uint32_t sample_every; /* delay sampling: 1 packet in this many; 0: none */
};

#endif
