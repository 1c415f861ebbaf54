/*
 * scenario: the sim platform's input file (the man page's SIMULATED HOST): uplinks, the host's
 * packet budget, and VMs with SLAs and piecewise-constant offered load per vif.
 */
#ifndef DBAVM_SCENARIO_H
#define DBAVM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "sla.h"

#define SCENARIO_FRAME_MIN 42u /* Ethernet + IPv4 + UDP headers, no payload */
#define SCENARIO_FRAME_MAX 65535u
#define SCENARIO_NEVER UINT64_MAX

struct scenario_step {
	uint64_t t_ms;	      /* from this simulated time on ... */
	uint64_t bps;	      /* ... the vif offers this many bits/s ... */
	uint32_t frame_bytes; /* ... in frames of this size */
};

struct scenario_vif {
	struct platform_vif desc;
	struct scenario_step *steps; /* t_ms strictly increasing, the first at 0 */
	size_t n_steps;
	/* A fault of its counters' source: they cannot be read in [from, to) ms (0, 0: never) */
	uint64_t unreadable_from_ms, unreadable_to_ms;
};

struct scenario_vm {
	char id[PLATFORM_ID_MAX];
	char uuid[PLATFORM_UUID_LEN]; /* "" if none */
	int64_t domid;		      /* -1 if none */
	bool has_sla;
	struct sla_spec sla;
	uint64_t start_ms, stop_ms; /* present in [start_ms, stop_ms) */
	struct scenario_vif *vifs;
	size_t n_vifs;
};

/* An uplink's capacity changing at a time (a link renegotiating its speed, say). */
struct scenario_capacity {
	uint64_t t_ms;
	uint32_t uplink; /* index into uplinks */
	uint64_t capacity_bps, capacity_pps;
};

struct scenario {
	struct platform_uplink *uplinks; /* as at time 0 */
	size_t n_uplinks;
	struct scenario_capacity *changes; /* by t_ms, then as written */
	size_t n_changes;
	uint64_t host_capacity_pps;
	struct scenario_vm *vms;
	size_t n_vms;
};

/* Returns 0, or -EINVAL/-ENOMEM with a message naming the file and the field in err. */
int scenario_load(const char *path, struct scenario *sc, char *err, size_t err_len);
/* The same from a scenario's text. */
int scenario_parse(const char *text, size_t len, struct scenario *sc, char *err, size_t err_len);
void scenario_free(struct scenario *sc);

/* The step in force at t_ms (the last one that started at or before it). */
const struct scenario_step *scenario_step_at(const struct scenario_vif *v, uint64_t t_ms);

#endif
