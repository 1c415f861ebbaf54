/*
 * alloc: the allocator (its rules are in dbavmd(8), ALLOCATION). A pure function: SLAs,
 * measured demands, floors and capacities in, per-vif limits in bits/s and packets/s out. No
 * I/O, no clock, no floating point; the same inputs always give the same outputs.
 */
#ifndef DBAVM_ALLOC_H
#define DBAVM_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sla.h"

#define ALLOC_UNLIMITED UINT64_MAX

enum alloc_mode { ALLOC_WORK_CONSERVING, ALLOC_STRICT };
enum alloc_res { ALLOC_BPS, ALLOC_PPS, ALLOC_NRES };

/* Per-vif weights are the VM's weight split by traffic share, in 1/ALLOC_WEIGHT_ONE units. */
#define ALLOC_WEIGHT_ONE 65536u

struct alloc_vif_in {
	uint32_t vm;		       /* index into alloc_in.vms */
	uint32_t uplink;	       /* index into alloc_in.uplinks */
	uint64_t offered[ALLOC_NRES];  /* rate offered to the enforcer last period */
	uint64_t measured[ALLOC_NRES]; /* rate it let pass last period */
	uint64_t limit[ALLOC_NRES];    /* limit in force, ALLOC_UNLIMITED if none */
	/* The enforcer queued its packets beyond the burst lately (a shaper held its bit rate):
	 * it wants more than its limit, whatever the average it passed. */
	bool held;
	/* It passed 95 % or more of its limit lately, per resource: it probes upward (1.25 x
	 * the limit) through a period whose rate dipped. Set where what passed jitters with the
	 * enforcer's own window (xen-credit's 20 ms credit against the period). */
	bool at_limit_lately[ALLOC_NRES];
	/* Its enforcer makes its senders wait (a shaper) instead of dropping: its offered load is
	 * not seen, whatever alloc_in.sees_offered says (demand as for an enforcer that queues). */
	bool waits;
};

struct alloc_uplink_in {
	uint64_t capacity_bps; /* 0: unlimited */
	uint64_t capacity_pps; /* 0: the uplink draws on the host's packet budget */
};

struct alloc_in {
	enum alloc_mode mode;
	bool sees_offered;	    /* the enforcer counts load before its own drops */
	uint64_t host_capacity_pps; /* 0: unlimited */
	/* Every vif's guarantee is at least this (capped by its max), so a quiet vif can always
	 * send the packets that show its demand; 0: no floor. */
	uint64_t floor[ALLOC_NRES];
	const struct sla *vms;
	size_t n_vms;
	const struct alloc_uplink_in *uplinks;
	size_t n_uplinks;
	const struct alloc_vif_in *vifs; /* in creation order: the index breaks ties */
	size_t n_vifs;
};

struct alloc_vif_out {
	/* The VM's SLA split onto this vif; min is the effective minimum, min(max, max(split
	 * min, floor)). */
	uint64_t min[ALLOC_NRES], max[ALLOC_NRES];
	uint32_t weight;	     /* likewise, in 1/ALLOC_WEIGHT_ONE */
	uint64_t demand[ALLOC_NRES]; /* d_i */
	uint64_t alloc[ALLOC_NRES];  /* a_i after step 3 */
	uint64_t limit[ALLOC_NRES];  /* L_i, what the enforcer applies */
};

/*
 * A pool is what one capacity is shared in: for bps one per uplink; for pps one per uplink that
 * has its own packet capacity, and the host's (index n_uplinks) for all the others.
 */
struct alloc_pool_out {
	uint64_t capacity;  /* 0: unlimited */
	uint64_t committed; /* sum of the effective minimums of its vifs */
	uint64_t allocated; /* sum of a_i */
	bool overcommitted; /* step 1 had to scale the guarantees down */
	uint32_t n_vifs;
};

struct alloc_out {
	struct alloc_vif_out *vifs;		  /* n_vifs entries, caller-owned */
	struct alloc_pool_out *pools[ALLOC_NRES]; /* n_uplinks + 1 entries each, caller-owned */
};

/* Scratch memory reused from one period to the next, so a steady host does not allocate. */
struct alloc_ws;
struct alloc_ws *alloc_ws_new(void);
void alloc_ws_free(struct alloc_ws *ws);

/* Returns 0, -EINVAL if an index in the input is out of range, or -ENOMEM. */
int alloc_run(const struct alloc_in *in, struct alloc_out *out, struct alloc_ws *ws);

#endif
