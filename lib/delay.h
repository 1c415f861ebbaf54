/*
 * delay: one-way delay, jitter and path loss of each vif, from sampled packets. The enforcer
 * reports each sampled packet twice: when it passes the hook (with the vif) and when it leaves by
 * an uplink; the matcher pairs the two by signature. The difference of the timestamps is that
 * packet's delay through the driver domain; a sample not seen at the uplink within the timeout was
 * lost on the path. What a VM receives is matched the other way round: seen when it comes in by
 * an uplink, then when it is handed to the vif (after the vif's shaper); its delay is recorded
 * on the vif's ingress stats. Its path loss cannot be told (a packet that came in by an uplink
 * and reached no vif may have been for the driver domain), so it is not counted.
 *
 * Pure: no I/O, no clock of its own; times are the enforcer's (ns).
 */
#ifndef DBAVM_DELAY_H
#define DBAVM_DELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Log-linear buckets: 8 per power of two (12.5 % wide at most), from 1 ns to 2^40 ns. */
#define DELAY_SUB 8
#define DELAY_N_FINE (41 * DELAY_SUB)

/* The Prometheus histogram's bucket bounds, in ns (the last, +Inf, is implied). */
#define DELAY_N_PROM 16
extern const uint64_t delay_prom_bounds_ns[DELAY_N_PROM];

struct delay_hist {
	uint64_t n, sum_ns;
	uint32_t fine[DELAY_N_FINE];
};

struct delay_stats {
	/* What every period touches first, together: counts, jitter, then the histograms. */
	uint64_t period_sampled, period_lost;
	uint64_t sampled, lost;	  /* samples taken at the hook, and never seen at the uplink */
	uint64_t pending;	  /* samples of this vif still awaited at the uplink */
	double jitter_ns;	  /* RFC 3550: J += (|D| - J) / 16 */
	uint64_t last_delay_ns;	  /* meaningful once total.n > 0 */
	bool dirty;		  /* written this period: on the matcher's list to reset */
	struct delay_hist period; /* since the last delay_period_end */
	struct delay_hist total;  /* since the vif was found */
	struct delay_hist window; /* since the history last took it (control.c) */
	uint64_t prom[DELAY_N_PROM + 1]; /* since found, per Prometheus bucket (not cumulative) */
};

/* What a histogram says. n == 0: no sample, the rest is meaningless. */
struct delay_summary {
	uint64_t n;
	double mean_ns, p50_ns, p99_ns;
};

void delay_summarize(const struct delay_hist *h, struct delay_summary *out);
/* Adds b's samples to a (to sum a VM's vifs). */
void delay_hist_merge(struct delay_hist *a, const struct delay_hist *b);
/* Ends a period: the period histogram and loss counts start again. */
void delay_period_end(struct delay_stats *s);

struct delay_matcher;

/* A matcher holding at most `capacity` samples in flight; a sample older than timeout_ns is
 * lost. NULL on allocation failure. */
struct delay_matcher *delay_matcher_new(size_t capacity, uint64_t timeout_ns);
void delay_matcher_free(struct delay_matcher *m);

/* A sampled packet passed the hook of the vif whose stats these are. */
void delay_at_hook(struct delay_matcher *m, struct delay_stats *s, uint64_t sig, uint64_t ts_ns);
/* A sampled packet left by an uplink: if it was awaited, its delay is recorded. */
void delay_at_uplink(struct delay_matcher *m, uint64_t sig, uint64_t ts_ns);
/* The other way, what a VM receives: a sampled packet came in by an uplink, its vif not known
 * yet (it may be for the driver domain itself: never counted lost, and the first to make room
 * when the matcher is full) ... */
void delay_at_entry(struct delay_matcher *m, uint64_t sig, uint64_t ts_ns);
/* ... and one was handed to the vif whose (ingress) stats these are: if it came in by an
 * uplink, its delay is recorded. */
void delay_at_vif(struct delay_matcher *m, struct delay_stats *s, uint64_t sig, uint64_t ts_ns);
/* Counts as lost every sample awaited since before now_ns - timeout. */
void delay_expire(struct delay_matcher *m, uint64_t now_ns);
/* Ends a period for every stats the matcher wrote during it (the others have nothing to
 * reset): cheaper than delay_period_end on every vif. */
void delay_matcher_period_end(struct delay_matcher *m);
/* The vif is going: its samples are no longer awaited (and not counted lost). */
void delay_forget(struct delay_matcher *m, const struct delay_stats *s);

/* Samples dropped because too many were in flight, since the matcher was made. */
uint64_t delay_overflows(const struct delay_matcher *m);

#endif
