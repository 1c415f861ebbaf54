// SPDX-License-Identifier: GPL-2.0
/*
 * netfront.bpf.c: the hook on tc egress (clsact) of a vif's guest end, inside the VM's
 * network namespace. It counts what the guest offers, holds the packet-rate budget (a packet
 * over it is dropped here, TC_ACT_SHOT, before it crosses into the driver domain) and samples
 * packets for delay. The bit rate is not held here but by the HTB the loader puts behind the
 * hook on the same device (netfront.c): a queue that makes the guest's sockets wait, which TCP
 * lives with, where a drop at the guest's own egress makes its TCP back off to a timer.
 *
 * Two GCRA buckets, one in packets and one in bytes, each keep a theoretical arrival time
 * (tat). A packet conforms when the packet tat is within its tolerance of now (deep: the
 * shaper holds the packet rate too, folded in by the mean frame, and the bucket only bounds
 * what a wrong mean lets through), and then moves both on by its cost, however large: a GSO
 * packet of 64 KiB always fits once the bucket has caught up. The byte bucket drops nothing:
 * it follows the shaper's clock, and a packet beyond the shaper's burst is counted as held.
 * Costs are precomputed by the agent (ns per byte in 16.16 fixed point, ns per packet), so
 * the per-packet path multiplies and never divides. The two tats change together under one
 * bpf_spin_lock, since a vif's packets come from every CPU.
 *
 * A GSO packet counts as its segments, each with its headers, in the counters and in both
 * budgets (wire.bpf.h): that is what leaves the host. Counters are per-CPU and lock-free; the agent
 * sums them.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netfront.h"
#include "wire.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETFRONT_MAX_VIFS);
	__type(key, struct netfront_key);
	__type(value, __u32);
} vif_slot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETFRONT_MAX_VIFS);
	__type(key, __u32);
	__type(value, struct netfront_limit);
} limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETFRONT_MAX_VIFS);
	__type(key, __u32);
	__type(value, struct netfront_bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETFRONT_PAGES);
	__type(key, __u32);
	__type(value, struct netfront_counter_page);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct netfront_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NETFRONT_SAMPLES_BYTES);
} samples SEC(".maps");

/* The few kernel fields the uplink program reads, relocated by libbpf from the kernel's BTF. */
struct net {
	__u64 net_cookie;
} __attribute__((preserve_access_index));
typedef struct {
	struct net *net;
} possible_net_t;
struct net_device {
	int ifindex;
	possible_net_t nd_net;
} __attribute__((preserve_access_index));
struct sk_buff {
	unsigned int len;
	unsigned char *data;
	struct net_device *dev;
} __attribute__((preserve_access_index));

static __always_inline void sample(__u64 sig, __u32 slot, __u32 where)
{
	struct netfront_sample s = { sig, bpf_ktime_get_ns(), slot, where };

	/* No wakeup: the agent collects the samples once a period. A full ring loses the
	 * sample, never the packet. */
	bpf_ringbuf_output(&samples, &s, sizeof(s), BPF_RB_NO_WAKEUP);
}

/* The packet's signature (netfront.h), read in place when the headers are in the linear part
 * (nearly always), else copied out. 0 if it cannot be read. */
static __always_inline __u64 hook_sig(struct __sk_buff *skb, __u32 *w, __u32 n)
{
	const __u8 *data = (const __u8 *)(long)skb->data, *end = (const __u8 *)(long)skb->data_end;
	const __u8 *l3 = data + NETFRONT_L2_BYTES;

	if (n == 64 && l3 + 64 <= end)
		return netfront_sig((const __u32 *)l3, 64, skb->len);
	if (n == 48 && l3 + 48 <= end)
		return netfront_sig((const __u32 *)l3, 48, skb->len);
	if (n == 28 && l3 + 28 <= end)
		return netfront_sig((const __u32 *)l3, 28, skb->len);
	if (bpf_skb_load_bytes(skb, NETFRONT_L2_BYTES, w, n == 64 ? 64 : n == 48 ? 48 : 28))
		return 0;
	return netfront_sig(w, n, skb->len);
}

/*
 * Whether the packet may pass. Every packet that passes goes on to the shaper, which holds both
 * rates for all of them together. A TCP packet is dropped here only when it runs the packet
 * bucket deeper than depth_pkts_ns (a wrong mean frame in the shaper). Any other packet (UDP,
 * ICMP) is policed here against the buckets of what is not TCP, within their bursts: a flood
 * is dropped before it costs the guest's queue anything, and before the copy, while TCP's own
 * queue in the shaper does not starve the VM's other traffic. *held says whether the shaper
 * will make the packet wait beyond its burst.
 */
static __always_inline int conforms(struct netfront_bucket *b, const struct netfront_limit *l,
				    __u64 now, __u64 len, __u64 segs, int tcp, int *held,
				    int *by_pkts)
{
	__u64 cost_b = (len * l->ns_per_byte_q16) >> 16, cost_p = segs * l->ns_per_pkt;
	__u64 tb, tp, ob = 0, op = 0;
	int ok;

	bpf_spin_lock(&b->lock);
	tb = b->tat_bytes > now ? b->tat_bytes : now;
	tp = b->tat_pkts > now ? b->tat_pkts : now;
	if (tcp) {
		ok = tp - now <= l->depth_pkts_ns;
		*by_pkts = 1;
	} else {
		ob = b->tat_bytes_other > now ? b->tat_bytes_other : now;
		op = b->tat_pkts_other > now ? b->tat_pkts_other : now;
		ok = op - now <= l->burst_pkts_ns && ob - now <= l->burst_bytes_ns;
		*by_pkts = op - now > l->burst_pkts_ns;
	}
	if (ok) {
		/* HTB sends a packet while it has any token left (the packet may overdraw it): the
		 * shaper queues one only past its burst and the packet's own cost. At the edge of
		 * the burst, a UDP flood's passing packets counted as held were 3.8 % of them. */
		*held = tb - now > l->burst_bytes_ns + cost_b;
		/* the shaper holds both rates: by packets when their bucket is past its burst */
		*by_pkts = tp - now > l->burst_pkts_ns;
		b->tat_bytes = tb + cost_b;
		b->tat_pkts = tp + cost_p;
		if (!tcp) {
			b->tat_bytes_other = ob + cost_b;
			b->tat_pkts_other = op + cost_p;
		}
	}
	bpf_spin_unlock(&b->lock);
	return ok;
}

/* The packet leaves with this DSCP, its ECN bits kept: IPv4's TOS byte (and the header's
 * checksum with it), IPv6's traffic class. Before the packet is sampled, so that the hook and
 * the uplink read the same header. */
static __always_inline void mark_dscp(struct __sk_buff *skb, __u32 dscp)
{
	__be16 old, new;

	if (bpf_skb_load_bytes(skb, WIRE_L2_BYTES, &old, 2))
		return;
	if (skb->protocol == bpf_htons(0x0800))
		new = (old & bpf_htons(0xff03)) | bpf_htons((__u16)(dscp << 2));
	else if (skb->protocol == bpf_htons(0x86DD))
		new = (old & bpf_htons(0xf03f)) | bpf_htons((__u16)(dscp << 6));
	else
		return;
	if (new == old)
		return;
	if (skb->protocol == bpf_htons(0x0800) &&
	    bpf_l3_csum_replace(skb, WIRE_L2_BYTES + 10, old, new, 2))
		return;
	bpf_skb_store_bytes(skb, WIRE_L2_BYTES, &new, 2, 0);
}

static __always_inline int hook(struct __sk_buff *skb, const struct netfront_key *key,
				int police_all)
{
	const struct netfront_limit *l;
	struct netfront_counter_page *page;
	struct netfront_counters *c;
	struct netfront_bucket *b;
	struct wire f; /* the frames it makes on the wire */
	__u32 *slot, page_no;
	int pass = 1, held = 0, by_pkts = 0;

	slot = bpf_map_lookup_elem(&vif_slot, key);
	if (!slot)
		return TC_ACT_OK; /* not a vif the agent manages (yet) */
	l = bpf_map_lookup_elem(&limits, slot);
	b = bpf_map_lookup_elem(&buckets, slot);
	page_no = *slot / NETFRONT_SLOTS_PER_PAGE;
	page = bpf_map_lookup_elem(&counters, &page_no);
	if (!l || !b || !page)
		return TC_ACT_OK;
	c = &page->slot[*slot & (NETFRONT_SLOTS_PER_PAGE - 1)];
	f = wire_of(skb);
	if (police_all) /* no shaper behind: TCP is policed like the rest */
		f.tcp = 0;
	/* A segment without payload goes to the shaper's ACK class, ahead of the data queued
	 * in the same direction (its own flow's, or another of the VM's): the ACKs of what the
	 * VM receives must not wait behind what it sends. Only when nobody chose a class. */
	else if (f.empty && !skb->priority)
		skb->priority = NETFRONT_SHAPER_HANDLE | NETFRONT_CLASS_ACK;
	if (l->ns_per_byte_q16 || l->ns_per_pkt)
		pass = conforms(b, l, bpf_ktime_get_ns(), f.bytes, f.segs, f.tcp, &held, &by_pkts);
	c->c[NETFRONT_OFFERED_BYTES] += f.bytes;
	c->c[NETFRONT_OFFERED_PKTS] += f.segs;
	if (pass) {
		__u32 zero = 0, n = netfront_sig_len(skb->len);
		struct netfront_config *cfg = bpf_map_lookup_elem(&config, &zero);
		__u32 w[NETFRONT_SIG_BYTES / 4];

		c->c[NETFRONT_PASSED_BYTES] += f.bytes;
		c->c[NETFRONT_PASSED_PKTS] += f.segs;
		if (l->dscp_set && !key->ingress)
			mark_dscp(skb, l->dscp);
		if (held) {
			c->c[NETFRONT_HELD_PKTS] += f.segs;
			c->c[by_pkts ? NETFRONT_LIMITED_PPS_PKTS : NETFRONT_LIMITED_BPS_PKTS] +=
				f.segs;
		}
		/* Delay is sampled on the way out (egress): an ingress packet's way ends here. */
		if (cfg && cfg->sample_on && n && !key->ingress) {
			__u64 sig = hook_sig(skb, w, n);

			if (sig && !(sig & cfg->sample_mask))
				sample(sig, *slot, NETFRONT_AT_HOOK);
		}
		return TC_ACT_OK;
	}
	c->c[NETFRONT_DROPPED_BYTES] += f.bytes;
	c->c[NETFRONT_DROPPED_PKTS] += f.segs;
	c->c[by_pkts ? NETFRONT_LIMITED_PPS_PKTS : NETFRONT_LIMITED_BPS_PKTS] += f.segs;
	return TC_ACT_SHOT;
}

SEC("tc")
int netfront_egress(struct __sk_buff *skb)
{
	struct netfront_key key = {
		.netns_cookie = bpf_get_netns_cookie(skb),
		.ifindex = skb->ifindex,
	};

	return hook(skb, &key, 0);
}

/* What a VM receives (netfront.c): tc egress of the host end of its vif, in the agent's own
 * namespace, before the copy into the guest (a veth's transmit hands the packet to the guest's
 * namespace; on Xen, netback's to the guest's ring). The ifindex alone names the device there,
 * and the key says it is the ingress direction. As the guest end's hook: what is not TCP is
 * policed, TCP goes on to the shaper on the same device. */
SEC("tc")
int netfront_host(struct __sk_buff *skb)
{
	struct netfront_key key = { .netns_cookie = 0, .ifindex = skb->ifindex, .ingress = 1 };

	return hook(skb, &key, 0);
}

/* The Xen tap (netfront.c): tc ingress of netback's vif in dom0, where every vif is in the
 * agent's own namespace, so the ifindex alone names it (cookie 0). It does not call
 * bpf_get_netns_cookie, which tc programs may call only from Linux 6.x kernels newer than a
 * Debian 12 dom0's: the loader loads one of the two programs, never both. As the counting tap
 * it has no limits; as vif-police (a drop in dom0, after netback's copy: the paper's baseline)
 * it polices every packet, TCP too, as tc's police action would: nothing queues behind it. */
SEC("tc")
int netfront_tap(struct __sk_buff *skb)
{
	struct netfront_key key = { .netns_cookie = 0, .ifindex = skb->ifindex };

	return hook(skb, &key, 1);
}

/* Whether dev is one of the uplinks the config lists (by ifindex, in the driver domain). */
static __always_inline int on_uplink(const struct netfront_config *cfg, struct net_device *dev)
{
	__u32 ifindex = (__u32)dev->ifindex;

	for (__u32 i = 0; i < NETFRONT_MAX_UPLINKS; i++) {
		if (i >= cfg->n_uplinks)
			break;
		if (cfg->uplink[i].ifindex == ifindex)
			return cfg->uplink[i].netns_cookie == dev->nd_net.net->net_cookie;
	}
	return 0;
}

/* Samples the packet whose network header is at l3 (kernel memory), of len bytes counted
 * from its Ethernet header as the hook counts them, if its signature says so. */
static __always_inline void sample_at(const struct netfront_config *cfg, const void *l3, __u32 len,
				      __u32 slot, __u32 where)
{
	__u32 n = netfront_sig_len(len);
	__u8 buf[NETFRONT_SIG_BYTES];
	__u64 sig;

	if (!n || bpf_probe_read_kernel(buf, n == 64 ? 64 : n == 48 ? 48 : 28, l3))
		return;
	sig = netfront_sig((const __u32 *)buf, n, len);
	if (!(sig & cfg->sample_mask))
		sample(sig, slot, where);
}

/* Every packet a driver is handed (after the qdisc, so queueing there counts as delay): on
 * an uplink, an egress packet's way ends; on a vif's host end whose ingress is held, an
 * ingress packet's (after that vif's shaper). Only those devices are looked at. */
SEC("tp_btf/net_dev_start_xmit")
int netfront_uplink(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	struct net_device *dev = (struct net_device *)ctx[1];
	struct netfront_key key = { .netns_cookie = 0, .ingress = 1 };
	__u32 zero = 0, *slot;
	struct netfront_config *cfg;

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || !cfg->sample_on)
		return 0;
	if (on_uplink(cfg, dev)) {
		sample_at(cfg, skb->data + NETFRONT_L2_BYTES, skb->len, 0, NETFRONT_AT_UPLINK);
		return 0;
	}
	if (!cfg->host_netns_cookie || dev->nd_net.net->net_cookie != cfg->host_netns_cookie)
		return 0;
	key.ifindex = (__u32)dev->ifindex;
	slot = bpf_map_lookup_elem(&vif_slot, &key);
	if (slot)
		sample_at(cfg, skb->data + NETFRONT_L2_BYTES, skb->len, *slot, NETFRONT_AT_VIF);
	return 0;
}

/* Every packet a device hands the stack: on an uplink, an ingress packet's way starts (where
 * the uplink's tc ingress is about to run). The Ethernet header is behind skb->data here. */
SEC("tp_btf/netif_receive_skb")
int netfront_uplink_in(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	struct netfront_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || !cfg->sample_on || !cfg->host_netns_cookie || !on_uplink(cfg, skb->dev))
		return 0;
	sample_at(cfg, skb->data, skb->len + NETFRONT_L2_BYTES, 0, NETFRONT_AT_UPLINK_IN);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
