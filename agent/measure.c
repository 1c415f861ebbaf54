/*
 * measure: counter deltas to rates. Integer only; the 128-bit intermediate keeps bytes * 8e9
 * exact for any realistic period.
 */
#include "measure.h"

__extension__ typedef unsigned __int128 u128;

static uint64_t delta(uint64_t prev, uint64_t cur)
{
	return cur >= prev ? cur - prev : cur;
}

static uint64_t per_second(uint64_t count, uint64_t dt_ns)
{
	u128 r;

	if (dt_ns == 0)
		return 0;
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

void measure_delta(const struct vif_counters *p, const struct vif_counters *c,
		   struct vif_counters *d)
{
	d->offered_bytes = delta(p->offered_bytes, c->offered_bytes);
	d->offered_pkts = delta(p->offered_pkts, c->offered_pkts);
	d->passed_bytes = delta(p->passed_bytes, c->passed_bytes);
	d->passed_pkts = delta(p->passed_pkts, c->passed_pkts);
	d->dropped_bytes = delta(p->dropped_bytes, c->dropped_bytes);
	d->dropped_pkts = delta(p->dropped_pkts, c->dropped_pkts);
}

void measure_rates(const struct vif_counters *d, uint64_t dt_ns, struct vif_rates *out)
{
	out->offered = rate_of(d->offered_bytes, d->offered_pkts, dt_ns);
	out->passed = rate_of(d->passed_bytes, d->passed_pkts, dt_ns);
	out->dropped = rate_of(d->dropped_bytes, d->dropped_pkts, dt_ns);
}

void measure_add(struct vif_counters *t, const struct vif_counters *d)
{
	t->offered_bytes += d->offered_bytes;
	t->offered_pkts += d->offered_pkts;
	t->passed_bytes += d->passed_bytes;
	t->passed_pkts += d->passed_pkts;
	t->dropped_bytes += d->dropped_bytes;
	t->dropped_pkts += d->dropped_pkts;
}
