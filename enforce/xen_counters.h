/*
 * xen_counters: the counters of the vifs on a Xen host, a source that measures only: the
 * `none` enforcer on xen, and what xen-credit counts with. All count what the wire and
 * netback's credit count, whole frames.
 *   bpf      (the default) netfront.bpf.c's program as a tap on tc ingress of each vif in dom0,
 *            where netback hands packets to dom0's stack: whole frames, a GSO packet as its
 *            segments, and delay samples matched at the uplink's egress. Per-CPU map counters,
 *            one batched read a period.
 *   netdev   the vif netdevs' own statistics (none.c), one rtnetlink dump a period. netback
 *            counts skb->len after eth_type_trans() pulled the 14-byte Ethernet header (and a
 *            GSO packet once), while its credit charges the whole frame (txreq.size): the
 *            header is added back per packet. Read alone, a 64-byte frame counted as 50 bytes,
 *            and a packet limit folded into the credit by that mean passed 0.78 of itself.
 *   xenstat  libxenstat reads the same netdev counters (/proc/net/dev) after a hypercall for
 *            the domain list and xenstore reads for each domain's vifs; in a dom0 at a 100 ms
 *            period that cost a third of its vCPU, for nothing the netdevs do not say. It stays
 *            for comparison, and for a host where it is the tool operators trust.
 */
#ifndef DBAVM_XEN_COUNTERS_H
#define DBAVM_XEN_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct enforcer;

/* Where the vifs' counters come from on Xen (--xen-counters): the BPF tap on tc ingress of
 * each vif in dom0 (counts whole frames, samples delay), the vif netdevs' statistics, or
 * libxenstat (both with the Ethernet header added back, and no delay). */
enum xen_counters { XEN_COUNTERS_BPF, XEN_COUNTERS_NETDEV, XEN_COUNTERS_XENSTAT };

/* The Ethernet header netback's netdev statistics leave out of every frame. */
#define XEN_NETDEV_L2_BYTES 14u

/* Opens the source (libxenstat falls back to the netdevs when it has no hypervisor: logged,
 * with why); sample_every: the tap's delay sampling, as netfront's. Returns 0, or a negative
 * errno with why set. */
int xen_counters_open(struct enforcer *e, enum xen_counters source, uint32_t sample_every,
		      char *why, size_t why_len);

#endif
