/*
 * enforcer: applies allocations to vifs and counts what they offer, pass and drop
 * (DESIGN.md section 4). On netns: netfront (BPF at the guest end, netfront.c), netback (HTB
 * on the uplink in the driver domain, netback.c) and none (interface statistics, none.c); the
 * sim platform brings a model of its own. To come: xen-credit (netback's credit scheduler).
 */
#ifndef DBAVM_ENFORCER_H
#define DBAVM_ENFORCER_H

#include <stdbool.h>
#include <stdint.h>

#include "measure.h"

struct vif;
struct enforcer;

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
	void (*close)(struct enforcer *e);
};

struct enforcer {
	const struct enforcer_ops *ops;
	void *priv;
};

#endif
