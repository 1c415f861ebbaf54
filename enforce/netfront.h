/*
 * netfront: what the BPF hook (netfront.bpf.c) and its loader (netfront.c) share.
 *
 * A vif's egress is found by the namespace cookie of the guest end's network namespace and the
 * guest end's ifindex (ifindexes repeat across namespaces); its ingress by the host end's
 * ifindex alone (in the agent's own namespace, cookie 0) and the direction. The key gives a
 * slot, and the slot indexes the limits, the bucket state and (by page) the counters.
 */
#ifndef DBAVM_NETFRONT_H
#define DBAVM_NETFRONT_H

#include <linux/bpf.h>

#define NETFRONT_MAX_VIFS 4096

struct netfront_key {
	__u64 netns_cookie;
	__u32 ifindex;
	__u32 ingress; /* 1: the host end's egress, what the VM receives */
};

/* The shaper: HTB db01: as the guest end's root qdisc (netback's, on the uplink, is db00:),
 * one class, db01:1, for all the guest sends, the same on the host end for all it receives;
 * under it a class for TCP segments without payload (ACKs, served first; the hook files them
 * there by skb->priority) and one for the rest (the default). */
#define NETFRONT_SHAPER_HANDLE 0xdb010000u
#define NETFRONT_CLASS_VIF 1u
#define NETFRONT_CLASS_ACK 2u
#define NETFRONT_CLASS_DATA 3u

/* Limits as costs in time: 0 means unlimited. The byte bucket drops nothing (the shaper holds
 * the bit rate): it follows the shaper's clock to tell which packets it will hold. */
struct netfront_limit {
	__u64 ns_per_byte_q16; /* nanoseconds a byte costs, 16.16 fixed point */
	__u64 ns_per_pkt;      /* nanoseconds a packet costs */
	__u64 burst_bytes_ns;  /* how far ahead of now the byte bucket may run */
	__u64 burst_pkts_ns;   /* likewise for packets */
	__u64 depth_pkts_ns;   /* ...for a TCP packet, which the shaper queues */
	__u32 dscp_set;	       /* rewrite what passes (egress only) to carry dscp */
	__u32 dscp;
};

/* The bucket state, BPF's alone (the agent only zeroes it for a new vif). The first pair
 * counts every packet; the second only what is not TCP, which the hook polices: TCP's queue
 * in the shaper runs the first pair ahead of now, and must not make the hook drop a VM's DNS
 * query or voice packet that the shaper would have sent in its turn. */
struct netfront_bucket {
	struct bpf_spin_lock lock;
	__u64 tat_bytes; /* theoretical arrival time of the next byte budget, ktime ns */
	__u64 tat_pkts;
	__u64 tat_bytes_other; /* the same for what is not TCP alone */
	__u64 tat_pkts_other;
};

enum netfront_counter {
	NETFRONT_OFFERED_BYTES,
	NETFRONT_OFFERED_PKTS,
	NETFRONT_PASSED_BYTES,
	NETFRONT_PASSED_PKTS,
	NETFRONT_DROPPED_BYTES,
	NETFRONT_DROPPED_PKTS,
	NETFRONT_HELD_PKTS, /* passed, but the shaper behind will queue them beyond its burst */
	/* dropped or held because the limit bound, by which bucket: allowance exceeded */
	NETFRONT_LIMITED_BPS_PKTS,
	NETFRONT_LIMITED_PPS_PKTS,
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

/* Delay sampling. A packet's signature is a hash of its length and of
 * up to NETFRONT_SIG_BYTES bytes from the start of its network header, the same at the hook
 * and at the uplink (the bridge does not change them). A packet is sampled when its
 * signature's low bits are 0 under the mask: both ends decide alike without talking. */
#define NETFRONT_SIG_BYTES 64
#define NETFRONT_L2_BYTES 14

#define NETFRONT_MAX_UPLINKS 8

/* An uplink's egress, for the uplink program: the device's ifindex and its namespace. */
struct netfront_uplink_key {
	__u64 netns_cookie;
	__u32 ifindex;
	__u32 pad;
};

struct netfront_config {
	__u64 sample_mask; /* sample_every - 1; sampling is off when sample_every is 0 */
	__u32 sample_on;
	__u32 n_uplinks;
	/* Scanned in the program, not a map lookup: every packet any device sends passes the
	 * uplink program, and nearly all are not on an uplink. */
	struct netfront_uplink_key uplink[NETFRONT_MAX_UPLINKS];
	/* The driver domain's namespace, where the host ends whose transmit ends an ingress
	 * packet's way are: 0 when the enforcer holds no vif's ingress. */
	__u64 host_netns_cookie;
};

enum netfront_where {
	NETFRONT_AT_HOOK,      /* passed a vif's egress hook (slot: the vif's) */
	NETFRONT_AT_UPLINK,    /* left by an uplink */
	NETFRONT_AT_UPLINK_IN, /* came in by an uplink */
	NETFRONT_AT_VIF, /* handed to a vif's host end, after its shaper (slot: its ingress) */
};

/* One sampled packet, at one of those places. */
struct netfront_sample {
	__u64 sig;
	__u64 ts_ns; /* bpf_ktime_get_ns: the same clock at both ends */
	__u32 slot;  /* the vif's, at the hook or the vif; unused at the uplink */
	__u32 where;
};

#define NETFRONT_SAMPLES_BYTES (1u << 20)

/* The signature of n bytes at b (n a multiple of 4, at most NETFRONT_SIG_BYTES) of a packet
 * of len bytes: FNV-1a over 32-bit words, then a 64-bit finaliser so every bit counts. */
static inline __u64 netfront_sig(const __u32 *w, __u32 n, __u32 len)
{
	__u64 h = 0xcbf29ce484222325ull ^ len;

#ifdef __clang__
#pragma unroll
#endif
	for (__u32 i = 0; i < NETFRONT_SIG_BYTES / 4; i++)
		if (i < n / 4)
			h = (h ^ w[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* How many bytes past the link header a packet of len bytes contributes to its signature. */
static inline __u32 netfront_sig_len(__u32 len)
{
	if (len >= NETFRONT_L2_BYTES + 64)
		return 64;
	if (len >= NETFRONT_L2_BYTES + 48)
		return 48;
	if (len >= NETFRONT_L2_BYTES + 28)
		return 28;
	return 0; /* too short to tell apart: not sampled */
}

#ifndef __bpf__
#include <stddef.h>
#include <stdint.h>

struct enforcer;
/* Loads the BPF object and makes e the netfront enforcer. Returns 0, or a negative errno with
 * why set (no BPF, no permission). */
/* sample_every: delay sampling, 1 passed packet in this many (a power of two), 0: off. */
int netfront_open(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len);
/* The same program as a Xen host's tap (netfront.c): on tc ingress of each vif's netback
 * netdev in dom0, counting what netback passed and sampling it for delay, limiting nothing. */
int netfront_tap_open(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len);
/* The tap with limits: vif-police, the paper's baseline on Xen, which drops in dom0 after
 * netback's copy (tc's police action on each vif, done by the same program). */
int netfront_police_open(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len);
#endif

#endif
