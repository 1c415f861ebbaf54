/*
 * metrics: the Prometheus text exposition (format 0.0.4) of the snapshot of the host model
 * (snapshot.h): per VM and per vif counters and gauges, uplinks, the loop, the build.
 *
 * The text is rendered at most once per snapshot (a new period, or a change such as an SLA)
 * and shared by every scrape until then, so a storm of scrapes costs the loop one render per
 * period, not one per request.
 */
#ifndef DBAVM_METRICS_H
#define DBAVM_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

struct metrics_info {
	const char *platform, *enforcer, *mode;
	unsigned period_ms;
};

struct metrics;
struct metrics_text; /* reference-counted */

struct metrics *metrics_new(const struct metrics_info *info);
void metrics_free(struct metrics *m);

struct placement_status;
struct neutron_status;
struct http_counts;

/* The store's writes: how many failed, and whether it is failing now. */
struct state_status {
	uint64_t write_failures;
	bool failing;
	bool lost;	       /* SLAs lost (all or some) at a start, not yet acknowledged */
	uint64_t changes_lost; /* changes the last start could not read back */
};

/* The exposition of snapshot s (and of the Placement syncs, pst, the HTTP server's counts, hc,
 * and the store's, ss, when not NULL), with a reference the caller must release; NULL on
 * allocation failure. */
struct metrics_text *metrics_get(struct metrics *m, const struct snapshot *s,
				 const struct placement_status *pst,
				 const struct neutron_status *nst, const struct http_counts *hc,
				 const struct state_status *ss, bool ready);
const char *metrics_text_data(const struct metrics_text *t, size_t *len);
/* Drops a reference (void * so it can serve as a free callback). */
void metrics_text_release(void *t);

#endif
