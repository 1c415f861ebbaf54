/*
 * placement: the agent's part in OpenStack's admission control (README, "OpenStack
 * Placement"). Under the compute node's resource provider, which Nova creates, it keeps
 *
 *   <host>:dbavm            NET_PACKET_RATE_KILOPACKET_PER_SEC  (the host's packet budget, which
 *                           serves both directions; or, with --placement-packet-rate E:I,
 *                           NET_PACKET_RATE_EGR_ and _IGR_KILOPACKET_PER_SEC, E and I)
 *   <host>:dbavm:<uplink>   NET_BW_EGR_KILOBIT_PER_SEC, and NET_BW_IGR_KILOBIT_PER_SEC where
 *                           the enforcer holds what VMs receive (one per uplink)
 *
 * with the configured reserved amounts, CUSTOM_VNIC_TYPE_NORMAL and the uplink's
 * CUSTOM_PHYSNET_<NAME>, their UUIDs uuid5 of their names; and it reads back what Nova
 * allocated against them, per consumer (a VM's UUID).
 *
 * Everything goes through client.h on the agent's loop, one request at a time: a sync walks
 * token -> compute node -> traits -> each provider (itself, inventory, traits, allocations) ->
 * stale children. It runs at start, when the host's uplinks or capacities change, every
 * --placement-resync seconds, and after a failure with exponential backoff and jitter; the
 * control loop never waits for it.
 */
#ifndef DBAVM_PLACEMENT_H
#define DBAVM_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "snapshot.h"

#define PLACEMENT_MICROVERSION "1.37"
#define PLACEMENT_UUID_NAMESPACE "a3b7f0e2-4c1d-4e8b-9f6a-0d2c5e7b1a93"

struct loop;
struct placement;

struct placement_alloc {
	char consumer[PLATFORM_UUID_LEN];
	uint64_t kbps, kpps;
};

/* One inventory of a provider: a resource class, its total and what is reserved of it. */
struct placement_inventory {
	const char *resource_class;
	uint64_t total, reserved; /* total 0: none (an unlimited capacity) */
};
#define PLACEMENT_MAX_INV 2
struct placement_provider {
	char name[320];
	char uuid[PLATFORM_UUID_LEN];
	struct placement_inventory inv[PLACEMENT_MAX_INV];
	size_t n_inv;
	char physnet_trait[96]; /* "" if the uplink has no physical network */
};

/* What the API shows; valid until the loop runs again. */
struct placement_status {
	uint64_t attempts, failures, conflicts, tokens;
	int64_t last_success_unix;	 /* 0: never */
	bool in_sync;			 /* the last sync succeeded and nothing changed since */
	const char *problem;		 /* why not, or NULL */
	char compute[PLATFORM_UUID_LEN]; /* the compute node's provider, "" until found */
	const struct placement_provider *providers;
	size_t n_providers;
	bool allocs_known; /* allocations have been read at least once */
	const struct placement_alloc *allocs;
	size_t n_allocs;
};

/* Reads --os-credentials and sets up; nothing is sent before placement_host. 0, or -EINVAL
 * with err saying what is wrong with the configuration, or another negative errno. */
int placement_open(struct placement **out, struct loop *loop, const struct config *cfg, char *err,
		   size_t err_len);
void placement_close(struct placement *p);

/* The host as the last snapshot has it (after each period): a sync starts when its uplinks or
 * capacities differ from what Placement was last given. */
void placement_host(struct placement *p, const struct snapshot *h);

const struct placement_status *placement_status(const struct placement *p);

/* What the orchestrator allocated to a VM beside its SLA's minimums. */
struct placement_vm {
	bool known;		       /* allocations were read and the VM has a UUID */
	uint64_t alloc_bps, alloc_pps; /* allocated (kbit/s, kpkt/s) in bit/s and packet/s */
	bool mismatch;		       /* differs from the SLA's min_bps or min_pps */
};
void placement_vm(const struct placement_status *s, const struct snap_vm *vm,
		  struct placement_vm *out);

/* uuid5 (RFC 4122) of name in namespace ns, both as text; out has PLATFORM_UUID_LEN. */
int placement_uuid5(const char *ns, const char *name, char *out);
/* CUSTOM_PHYSNET_<NAME>: name upper-cased, anything but A-Z, 0-9 and _ as _. */
void placement_physnet_trait(const char *physnet, char *out, size_t size);

#endif
