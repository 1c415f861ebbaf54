/*
 * delay.c: matches each sampled packet's two sightings (hook, uplink; or uplink, vif) by
 * signature in an open-addressed table, and keeps per-vif delay summaries (a log-scale histogram
 * per period and since the start), RFC 3550 jitter and path loss: what delay.h describes.
 */
#include "delay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const uint64_t delay_prom_bounds_ns[DELAY_N_PROM] = {
	10000,	 25000,	   50000,    100000,   250000,	  500000,    1000000,	2500000,
	5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
};

/* ---- histograms ---- */

static unsigned fine_index(uint64_t ns)
{
	unsigned e, i;

	if (ns < DELAY_SUB)
		return (unsigned)ns;		 /* 0..7 ns: one bucket each */
	e = 63u - (unsigned)__builtin_clzll(ns); /* ns in [2^e, 2^(e+1)), e >= 3 */
	i = e * DELAY_SUB + (unsigned)((ns >> (e - 3)) & (DELAY_SUB - 1));
	return i < DELAY_N_FINE ? i : DELAY_N_FINE - 1;
}

/* The middle of bucket i, in ns. */
static double fine_mid(unsigned i)
{
	unsigned e = i / DELAY_SUB, sub = i % DELAY_SUB;
	double lo, width;

	if (e < 3)
		return (double)i;
	width = ldexp(1.0, (int)e - 3);
	lo = ldexp(1.0, (int)e) + sub * width;
	return lo + width / 2;
}

static void hist_add(struct delay_hist *h, uint64_t ns)
{
	h->n++;
	h->sum_ns += ns;
	h->fine[fine_index(ns)]++;
}

static double quantile(const struct delay_hist *h, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)h->n), seen = 0;

	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < DELAY_N_FINE; i++) {
		seen += h->fine[i];
		if (seen >= want)
			return fine_mid(i);
	}
	return fine_mid(DELAY_N_FINE - 1);
}

void delay_summarize(const struct delay_hist *h, struct delay_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->n = h->n;
	if (!h->n)
		return;
	out->mean_ns = (double)h->sum_ns / (double)h->n;
	out->p50_ns = quantile(h, 0.50);
	out->p99_ns = quantile(h, 0.99);
}

void delay_hist_merge(struct delay_hist *a, const struct delay_hist *b)
{
	if (!b->n)
		return;
	a->n += b->n;
	a->sum_ns += b->sum_ns;
	for (unsigned i = 0; i < DELAY_N_FINE; i++)
		a->fine[i] += b->fine[i];
}

void delay_period_end(struct delay_stats *s)
{
	if (s->period.n)
		memset(&s->period, 0, sizeof(s->period));
	if (s->period_sampled || s->period_lost) /* a quiet vif's line stays clean */
		s->period_sampled = s->period_lost = 0;
}

static void record(struct delay_stats *s, uint64_t ns)
{
	unsigned b = 0;

	hist_add(&s->period, ns);
	hist_add(&s->total, ns);
	hist_add(&s->window, ns);
	while (b < DELAY_N_PROM && ns > delay_prom_bounds_ns[b])
		b++;
	s->prom[b]++;
	if (s->total.n > 1) { /* this sample is in total already: a difference needs two */
		double d = fabs((double)ns - (double)s->last_delay_ns);

		s->jitter_ns += (d - s->jitter_ns) / 16.0;
	}
	s->last_delay_ns = ns;
}

/* ---- the matcher ---- */

#define NIL UINT32_MAX

struct pending {
	uint64_t sig, ts_ns;
	struct delay_stats *s; /* NULL: matched or forgotten, the slot awaits its turn */
	uint32_t next;	       /* in its hash chain */
};

struct delay_matcher {
	/* The stats written since the last delay_matcher_period_end: only they need resetting. */
	struct delay_stats **dirty;
	size_t n_dirty, cap_dirty;
	struct pending *p; /* capacity entries, a ring in arrival order */
	uint32_t cap, head, count;
	uint32_t *bucket; /* nbucket chain heads */
	uint32_t nbucket;
	uint64_t timeout_ns, overflows;
	/* Whose the samples taken at an uplink's receive are until a vif's end names the VM:
	 * nobody's, never lost (delay_at_entry). */
	struct delay_stats entry;
};

struct delay_matcher *delay_matcher_new(size_t capacity, uint64_t timeout_ns)
{
	struct delay_matcher *m = calloc(1, sizeof(*m));
	uint32_t nb = 1;

	if (!m || capacity == 0 || capacity > (1u << 24)) {
		free(m);
		return NULL;
	}
	while (nb < 2 * capacity)
		nb <<= 1;
	m->cap = (uint32_t)capacity;
	m->nbucket = nb;
	m->timeout_ns = timeout_ns;
	m->p = calloc(capacity, sizeof(*m->p));
	m->bucket = malloc(nb * sizeof(*m->bucket));
	if (!m->p || !m->bucket) {
		delay_matcher_free(m);
		return NULL;
	}
	memset(m->bucket, 0xff, nb * sizeof(*m->bucket));
	return m;
}

void delay_matcher_free(struct delay_matcher *m)
{
	if (!m)
		return;
	free(m->p);
	free(m->bucket);
	free(m->dirty);
	free(m);
}

/* Notes that s changed this period. A full list (out of memory) just leaves s unreset. */
static void touch(struct delay_matcher *m, struct delay_stats *s)
{
	if (s->dirty)
		return;
	if (m->n_dirty == m->cap_dirty) {
		size_t cap = m->cap_dirty ? 2 * m->cap_dirty : 64;
		struct delay_stats **d = realloc(m->dirty, cap * sizeof(*d));

		if (!d)
			return;
		m->dirty = d;
		m->cap_dirty = cap;
	}
	m->dirty[m->n_dirty++] = s;
	s->dirty = true;
}

static uint32_t *chain(struct delay_matcher *m, uint64_t sig)
{
	return &m->bucket[(sig ^ (sig >> 32)) & (m->nbucket - 1)];
}

static void unlink_entry(struct delay_matcher *m, uint32_t i)
{
	for (uint32_t *at = chain(m, m->p[i].sig); *at != NIL; at = &m->p[*at].next)
		if (*at == i) {
			*at = m->p[i].next;
			return;
		}
}

/* Retires the oldest entry; a still awaited one is lost. */
static void pop(struct delay_matcher *m)
{
	struct pending *e = &m->p[m->head];

	if (e->s == &m->entry) {
		unlink_entry(m, m->head);
	} else if (e->s) {
		e->s->lost++;
		e->s->period_lost++;
		touch(m, e->s);
		e->s->pending--;
		unlink_entry(m, m->head);
	}
	m->head = (m->head + 1) % m->cap;
	m->count--;
}

/* Room for one more: the oldest entry retired if it is done with or nobody's yet (an ingress
 * packet's, from an uplink); false (counted) when every entry is still awaited. */
static bool room(struct delay_matcher *m)
{
	if (m->count < m->cap)
		return true;
	if (!m->p[m->head].s || m->p[m->head].s == &m->entry) {
		pop(m);
		return true;
	}
	m->overflows++;
	return false;
}

void delay_at_hook(struct delay_matcher *m, struct delay_stats *s, uint64_t sig, uint64_t ts_ns)
{
	uint32_t i, *c;

	if (!room(m))
		return;
	i = (m->head + m->count) % m->cap;
	c = chain(m, sig);
	m->p[i] = (struct pending){ sig, ts_ns, s, *c };
	*c = i;
	m->count++;
	s->sampled++;
	s->period_sampled++;
	s->pending++;
	touch(m, s);
}

/* The oldest awaited entry with this signature, taken at a vif's hook (!entry) or at an
 * uplink's receive (entry); NIL if none. */
static uint32_t oldest(struct delay_matcher *m, uint64_t sig, bool entry)
{
	uint32_t found = NIL;

	/* Chains are newest first: the last match is the oldest sample with this signature. */
	for (uint32_t i = *chain(m, sig); i != NIL; i = m->p[i].next)
		if (m->p[i].sig == sig && (m->p[i].s == &m->entry) == entry)
			found = i;
	return found;
}

void delay_at_uplink(struct delay_matcher *m, uint64_t sig, uint64_t ts_ns)
{
	uint32_t found = oldest(m, sig, false);

	if (found == NIL)
		return; /* not a vif's sample (or already counted lost) */
	unlink_entry(m, found);
	m->p[found].s->pending--;
	record(m->p[found].s, ts_ns > m->p[found].ts_ns ? ts_ns - m->p[found].ts_ns : 0);
	touch(m, m->p[found].s);
	m->p[found].s = NULL;
}

void delay_at_entry(struct delay_matcher *m, uint64_t sig, uint64_t ts_ns)
{
	uint32_t i, *c;

	if (!room(m))
		return;
	i = (m->head + m->count) % m->cap;
	c = chain(m, sig);
	m->p[i] = (struct pending){ sig, ts_ns, &m->entry, *c };
	*c = i;
	m->count++;
}

void delay_at_vif(struct delay_matcher *m, struct delay_stats *s, uint64_t sig, uint64_t ts_ns)
{
	uint32_t found = oldest(m, sig, true);

	if (found == NIL)
		return; /* it did not come in by an uplink (from a neighbour, or the host) */
	unlink_entry(m, found);
	s->sampled++;
	s->period_sampled++;
	record(s, ts_ns > m->p[found].ts_ns ? ts_ns - m->p[found].ts_ns : 0);
	touch(m, s);
	m->p[found].s = NULL;
}

void delay_expire(struct delay_matcher *m, uint64_t now_ns)
{
	while (m->count && (!m->p[m->head].s || m->p[m->head].ts_ns + m->timeout_ns <= now_ns))
		pop(m);
}

void delay_matcher_period_end(struct delay_matcher *m)
{
	for (size_t i = 0; i < m->n_dirty; i++) {
		delay_period_end(m->dirty[i]);
		m->dirty[i]->dirty = false;
	}
	m->n_dirty = 0;
}

void delay_forget(struct delay_matcher *m, const struct delay_stats *s)
{
	for (size_t i = 0; s->dirty && i < m->n_dirty; i++)
		if (m->dirty[i] == s) {
			m->dirty[i] = m->dirty[--m->n_dirty];
			break;
		}
	if (!s->pending)
		return;
	for (uint32_t k = 0; k < m->count; k++) {
		uint32_t i = (m->head + k) % m->cap;

		if (m->p[i].s == s) {
			unlink_entry(m, i);
			m->p[i].s = NULL;
		}
	}
}

uint64_t delay_overflows(const struct delay_matcher *m)
{
	return m->overflows;
}
