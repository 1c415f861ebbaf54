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

static struct rate rate_of(uint64_t pb, uint64_t cb, uint64_t pp, uint64_t cp, uint64_t dt_ns)
{
	return (struct rate){
		.bps = per_second(delta(pb, cb) * 8, dt_ns),
		.pps = per_second(delta(pp, cp), dt_ns),
	};
}

void measure_rates(const struct vif_counters *p, const struct vif_counters *c, uint64_t dt_ns,
		   struct vif_rates *out)
{
	out->offered = rate_of(p->offered_bytes, c->offered_bytes, p->offered_pkts, c->offered_pkts,
			       dt_ns);
	out->passed =
		rate_of(p->passed_bytes, c->passed_bytes, p->passed_pkts, c->passed_pkts, dt_ns);
	out->dropped = rate_of(p->dropped_bytes, c->dropped_bytes, p->dropped_pkts, c->dropped_pkts,
			       dt_ns);
}

void measure_accumulate(const struct vif_counters *p, const struct vif_counters *c,
			struct vif_counters *t)
{
	t->offered_bytes += delta(p->offered_bytes, c->offered_bytes);
	t->offered_pkts += delta(p->offered_pkts, c->offered_pkts);
	t->passed_bytes += delta(p->passed_bytes, c->passed_bytes);
	t->passed_pkts += delta(p->passed_pkts, c->passed_pkts);
	t->dropped_bytes += delta(p->dropped_bytes, c->dropped_bytes);
	t->dropped_pkts += delta(p->dropped_pkts, c->dropped_pkts);
}
