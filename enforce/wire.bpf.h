/*
 * wire.bpf.h: what a packet seen at tc costs on the wire, for the BPF programs of both
 * enforcers. A GSO packet (up to 64 KiB, one set of headers) leaves the host as gso_segs
 * frames, each with its own Ethernet, IP and TCP (or UDP) headers: it counts as that many
 * packets and bytes, as the kernel's qdiscs count it (qdisc_pkt_len_init) and as the uplink's
 * counters will. Without the headers, a TCP flow of full frames read 4.4 % below the wire
 * (66 of 1514 bytes a frame).
 */
#ifndef DBAVM_WIRE_BPF_H
#define DBAVM_WIRE_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define WIRE_L2_BYTES 14 /* Ethernet, no VLAN tag (tc sees the tag as skb metadata) */

struct wire {
	__u64 bytes, segs;
	int tcp;   /* IPv4, or IPv6 without extension headers before it */
	int empty; /* a TCP segment without payload: an ACK (or SYN, FIN, RST) alone */
};

static __always_inline struct wire wire_of(struct __sk_buff *skb)
{
	struct wire w = { skb->len, skb->gso_segs > 1 ? skb->gso_segs : 1, 0, 0 };
	__u8 ip[10], l4h = 0;
	__u32 l4, hdr;

	if (skb->protocol == bpf_htons(0x0800)) {
		if (bpf_skb_load_bytes(skb, WIRE_L2_BYTES, ip, 10))
			return w;
		l4 = WIRE_L2_BYTES + (ip[0] & 0xf) * 4;
		ip[0] = ip[9];
	} else if (skb->protocol == bpf_htons(0x86DD)) {
		if (bpf_skb_load_bytes(skb, WIRE_L2_BYTES + 6, ip, 1))
			return w;
		l4 = WIRE_L2_BYTES + 40;
	} else {
		return w;
	}
	w.tcp = ip[0] == 6;
	if (w.segs == 1) {
		/* its headers are all of it (no padding at tc egress) */
		if (w.tcp && !bpf_skb_load_bytes(skb, l4 + 12, &l4h, 1))
			w.empty = skb->len <= l4 + (l4h >> 4) * 4u;
		return w;
	}
	if (w.tcp) {
		if (bpf_skb_load_bytes(skb, l4 + 12, &l4h, 1))
			return w;
		hdr = l4 + (l4h >> 4) * 4;
	} else if (ip[0] == 17) {
		hdr = l4 + 8;
	} else {
		return w;
	}
	w.bytes += (w.segs - 1) * hdr;
	return w;
}

#endif
