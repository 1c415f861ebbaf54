/*
 * measure: a vif's cumulative counters, read each period, turned into rates over the period.
 */
#ifndef DBAVM_MEASURE_H
#define DBAVM_MEASURE_H

#include <stdbool.h>
#include <stdint.h>

/* The resources, in alloc.h's order (ALLOC_BPS, ALLOC_PPS). */
enum { MEASURE_BPS, MEASURE_PPS, MEASURE_NRES };

/* Cumulative since the enforcer attached. Enforcers that only see what passed leave offered
 * equal to passed and dropped at 0. */
struct vif_counters {
	uint64_t offered_bytes, offered_pkts;
	uint64_t passed_bytes, passed_pkts;
	uint64_t dropped_bytes, dropped_pkts;
	/* Packets a shaping enforcer let pass but made wait beyond its burst: the vif wanted more
	 * than its limit. 0 where the enforcer does not queue. */
	uint64_t held_pkts;
	/* Packets dropped or held because the limit bound ("allowance exceeded"), by which: the
	 * bit rate ([MEASURE_BPS]) or the packet rate ([MEASURE_PPS]); where limited_known. */
	uint64_t limited_pkts[MEASURE_NRES];
	bool limited_known;
	bool limited_estimated; /* not counted where it happens but estimated (xen-credit) */
	/* Not counters but the state at the reading, where the enforcer can see it (xen-credit:
	 * netback's shared ring): requests the guest queued that the driver domain has not
	 * taken, and whether it waits for credit to take them. */
	bool ring_known, credit_waiting;
	uint32_t ring_backlog_slots;
};

struct rate {
	uint64_t bps, pps;
};

struct vif_rates {
	struct rate offered, passed, dropped;
	uint64_t held_pps;
};

/*
 * What was counted between two readings. A counter that fell to less than half its last
 * value means the counters were reset (a domain restarted, its vif netdev was re-created, a
 * migration): the delta is then the whole new reading. A counter that went back less counts
 * as standing still. Never a negative number or a wrap-around spike. Returns whether it was a
 * reset.
 */
bool measure_delta(const struct vif_counters *prev, const struct vif_counters *cur,
		   struct vif_counters *delta);

/* Rates from a delta counted over dt_ns. */
void measure_rates(const struct vif_counters *delta, uint64_t dt_ns, struct vif_rates *out);

/* Scales a delta by num / den (den > 0): its share of a shorter time. */
void measure_scale(struct vif_counters *d, uint64_t num, uint64_t den);

/* Adds a delta to running totals. */
void measure_add(struct vif_counters *total, const struct vif_counters *delta);

#endif
