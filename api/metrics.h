/*
 * metrics: the Prometheus text exposition (format 0.0.4) of the host model: per VM and per
 * vif counters and gauges, uplinks, the loop, the build.
 */
#ifndef DBAVM_METRICS_H
#define DBAVM_METRICS_H

#include <stddef.h>

#include "control.h"

struct metrics_info {
	const char *platform, *enforcer, *mode;
	unsigned period_ms;
};

/* Returns a malloc'd text and its length in *len, or NULL on allocation failure. */
char *metrics_render(const struct control *ctl, const struct metrics_info *info, size_t *len);

#endif
