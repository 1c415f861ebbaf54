/*
 * netback: what the classifier (netback.bpf.c) and its loader (netback.c) share.
 *
 * The netback enforcer is the paper's "TC" baseline: an HTB qdisc on the uplink in the driver
 * domain, one leaf class per vif (rate = the VM's minimum share, ceil = the allocation), so
 * excess traffic is dropped only after it crossed into the driver domain. The classifier
 * picks a packet's class by the driver-domain port it came in on (the vif's host end), which
 * a guest cannot forge, and counts what each vif offers to the uplink.
 */
#ifndef DBAVM_NETBACK_H
#define DBAVM_NETBACK_H

#include <linux/bpf.h>

#define NETBACK_MAX_VIFS 4096

struct netback_class {
	__u32 classid; /* the HTB leaf, major:minor */
	__u32 slot;    /* index of the vif's counters */
};

struct netback_counters {
	__u64 bytes, pkts; /* offered to the uplink's qdisc */
};

#ifndef __bpf__
#include <stddef.h>

#include "platform.h"

struct enforcer;
/* Loads the classifier and makes e the netback enforcer for these uplinks (names and
 * capacities: the root class's rate). The uplinks' root qdiscs are replaced as vifs on them
 * are attached, and removed on close. Returns 0, or a negative errno with why set. */
int netback_open(struct enforcer *e, const struct platform_uplink *uplinks, size_t n_uplinks,
		 char *why, size_t why_len);
#endif

#endif
