// SPDX-License-Identifier: GPL-2.0
/*
 * netback.bpf.c: the classifier of the netback enforcer's HTB on the uplink (cls_bpf, direct
 * action). The vif a packet came from is the port it entered the driver domain on
 * (ingress_ifindex): its class, and its offered counters. Anything else falls through to the
 * HTB's default class.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "netback.h"
#include "wire.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETBACK_MAX_VIFS);
	__type(key, __u32); /* the host end's ifindex */
	__type(value, struct netback_class);
} vif_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETBACK_MAX_VIFS);
	__type(key, __u32);
	__type(value, struct netback_counters);
} offered SEC(".maps");

SEC("tc")
int netback_classify(struct __sk_buff *skb)
{
	__u32 key = skb->ingress_ifindex;
	struct netback_class *c = bpf_map_lookup_elem(&vif_class, &key);
	struct netback_counters *n;

	if (!c)
		return TC_ACT_UNSPEC;
	n = bpf_map_lookup_elem(&offered, &c->slot);
	if (n) {
		struct wire w = wire_of(skb);

		n->bytes += w.bytes; /* a GSO packet as the frames the uplink sends */
		n->pkts += w.segs;
	}
	skb->tc_classid = c->classid & 0xffff; /* the minor; the filter holds the major */
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
