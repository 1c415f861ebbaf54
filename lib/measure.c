/*
 * measure: counter deltas to rates. Integer only; the 128-bit intermediate keeps bytes * 8e9
 * exact for any realistic period.
 */
#include "measure.h"
#include "arith.h"

#include <stdbool.h>

static uint64_t per_second(uint64_t count, uint64_t dt_ns)
{
	u128 r;

	if (dt_ns == 0 || count == 0)
		return 0;
	if (count <= UINT64_MAX / 1000000000u) /* a period's count, always: no 128-bit divide */
		return count * 1000000000u / dt_ns;
	r = (u128)count * 1000000000u / dt_ns;
	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

static struct rate rate_of(uint64_t bytes, uint64_t pkts, uint64_t dt_ns)
{
	return (struct rate){
		.bps = per_second(bytes * 8, dt_ns),
		.pps = per_second(pkts, dt_ns),
	};
}

/* A counter restarted from zero: it fell to less than half of what it was. A counter that went
 * back less (two sources that round differently, a sum of per-CPU parts read while they move)
 * has not restarted: it counts as standing still, so it can never become a giant delta. */
static bool restarted(uint64_t prev, uint64_t cur)
{
	return cur < prev && cur < prev - cur; /* 2 cur < prev, without overflow */
}

static uint64_t grown(uint64_t prev, uint64_t cur)
{
	return cur > prev ? cur - prev : 0;
}

bool measure_delta(const struct vif_counters *p, const struct vif_counters *c,
		   struct vif_counters *d)
{
	/* One counter restarted means all were reset together (they belong to one netdev or
	 * one xenstat record): the others may have counted past their old values already, so
	 * subtracting those would lose what came after the reset. */
	if (restarted(p->offered_bytes, c->offered_bytes) ||
	    restarted(p->offered_pkts, c->offered_pkts) ||
	    restarted(p->passed_bytes, c->passed_bytes) ||
	    restarted(p->passed_pkts, c->passed_pkts) ||
	    restarted(p->dropped_bytes, c->dropped_bytes) ||
	    restarted(p->dropped_pkts, c->dropped_pkts)) {
		*d = *c;
		return true;
	}
	d->offered_bytes = grown(p->offered_bytes, c->offered_bytes);
	d->offered_pkts = grown(p->offered_pkts, c->offered_pkts);
	d->passed_bytes = grown(p->passed_bytes, c->passed_bytes);
	d->passed_pkts = grown(p->passed_pkts, c->passed_pkts);
	d->dropped_bytes = grown(p->dropped_bytes, c->dropped_bytes);
	d->dropped_pkts = grown(p->dropped_pkts, c->dropped_pkts);
	d->held_pkts = grown(p->held_pkts, c->held_pkts);
	for (int r = 0; r < MEASURE_NRES; r++)
		d->limited_pkts[r] = grown(p->limited_pkts[r], c->limited_pkts[r]);
	d->limited_known = c->limited_known;
	return false;
}

void measure_rates(const struct vif_counters *d, uint64_t dt_ns, struct vif_rates *out)
{
	out->offered = rate_of(d->offered_bytes, d->offered_pkts, dt_ns);
	out->passed = rate_of(d->passed_bytes, d->passed_pkts, dt_ns);
	out->dropped = rate_of(d->dropped_bytes, d->dropped_pkts, dt_ns);
	out->held_pps = per_second(d->held_pkts, dt_ns);
}

static uint64_t scaled(uint64_t v, uint64_t num, uint64_t den)
{
	u128 r = (u128)v * num / den;

	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

void measure_scale(struct vif_counters *d, uint64_t num, uint64_t den)
{
	d->offered_bytes = scaled(d->offered_bytes, num, den);
	d->offered_pkts = scaled(d->offered_pkts, num, den);
	d->passed_bytes = scaled(d->passed_bytes, num, den);
	d->passed_pkts = scaled(d->passed_pkts, num, den);
	d->dropped_bytes = scaled(d->dropped_bytes, num, den);
	d->dropped_pkts = scaled(d->dropped_pkts, num, den);
	d->held_pkts = scaled(d->held_pkts, num, den);
	for (int r = 0; r < MEASURE_NRES; r++)
		d->limited_pkts[r] = scaled(d->limited_pkts[r], num, den);
}

void measure_add(struct vif_counters *t, const struct vif_counters *d)
{
	t->offered_bytes += d->offered_bytes;
	t->offered_pkts += d->offered_pkts;
	t->passed_bytes += d->passed_bytes;
	t->passed_pkts += d->passed_pkts;
	t->dropped_bytes += d->dropped_bytes;
	t->dropped_pkts += d->dropped_pkts;
	t->held_pkts += d->held_pkts;
	for (int r = 0; r < MEASURE_NRES; r++)
		t->limited_pkts[r] += d->limited_pkts[r];
	t->limited_known |= d->limited_known;
}
