/*
 * netfront: what the BPF hook (netfront.bpf.c) and its loader (netfront.c) share.
 *
 * A vif is found by the namespace cookie of the guest end's network namespace and the guest
 * end's ifindex (ifindexes repeat across namespaces); the key gives a slot, and the slot
 * indexes the limits, the bucket state and (by page) the counters.
 */
#ifndef DBAVM_NETFRONT_H
#define DBAVM_NETFRONT_H

#include <linux/bpf.h>

#define NETFRONT_MAX_VIFS 4096

struct netfront_key {
	__u64 netns_cookie;
	__u32 ifindex;
	__u32 pad;
};

/* Limits as costs in time: 0 means unlimited. */
struct netfront_limit {
	__u64 ns_per_byte_q16; /* nanoseconds a byte costs, 16.16 fixed point */
	__u64 ns_per_pkt;      /* nanoseconds a packet costs */
	__u64 burst_bytes_ns;  /* how far ahead of now the byte bucket may run */
	__u64 burst_pkts_ns;   /* likewise for packets */
};

/* The bucket state, BPF's alone (the agent only zeroes it for a new vif). */
struct netfront_bucket {
	struct bpf_spin_lock lock;
	__u64 tat_bytes; /* theoretical arrival time of the next byte budget, ktime ns */
	__u64 tat_pkts;
};

enum netfront_counter {
	NETFRONT_OFFERED_BYTES,
	NETFRONT_OFFERED_PKTS,
	NETFRONT_PASSED_BYTES,
	NETFRONT_PASSED_PKTS,
	NETFRONT_DROPPED_BYTES,
	NETFRONT_DROPPED_PKTS,
	NETFRONT_N_COUNTERS,
};

struct netfront_counters {
	__u64 c[NETFRONT_N_COUNTERS];
};

/* Counters live in pages of NETFRONT_SLOTS_PER_PAGE slots, one per-CPU array element per
 * page, so the agent reads a hundred vifs with two element copies instead of a hundred. */
#define NETFRONT_SLOTS_PER_PAGE 64
#define NETFRONT_PAGES (NETFRONT_MAX_VIFS / NETFRONT_SLOTS_PER_PAGE)

struct netfront_counter_page {
	struct netfront_counters slot[NETFRONT_SLOTS_PER_PAGE];
};

#ifndef __bpf__
#include <stddef.h>

struct enforcer;
/* Loads the BPF object and makes e the netfront enforcer. Returns 0, or a negative errno with
 * why set (no BPF, no permission). */
int netfront_open(struct enforcer *e, char *why, size_t why_len);
#endif

#endif
