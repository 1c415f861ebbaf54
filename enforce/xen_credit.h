/*
 * xen_credit: the Xen enforcer. Each vif's allocation goes to netback's
 * credit scheduler as the backend's `rate` node, "<bytes>,<usec>": netback then takes no more
 * than <bytes> from the guest's ring per <usec>, so excess waits or drops in the guest, before
 * any grant copy. Counters come from xen_counters.h's source, by default the tap on each vif
 * in dom0, which also samples delay (what passed; netback sees nothing of what waits in the
 * guest, so the allocator estimates demand, and offered load and policy loss are reported as
 * unknown). A VM whose SLA is deleted (or was
 * never set) gets its rate node removed: netback's default, unlimited. What a VM receives is
 * held as vif-police holds it (netfront.h: the hook and an HTB on the vif's tc egress in dom0,
 * ahead of netback's copy into the guest), where BPF loads; else not held.
 */
#ifndef DBAVM_XEN_CREDIT_H
#define DBAVM_XEN_CREDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen_counters.h"

/* The credit window: 20 ms. Netback counts it in jiffies, rounding up (msecs_to_jiffies), so a
 * window that is not a whole number of jiffies is longer than asked and every limit lower:
 * xl's 50 ms is 13 jiffies, 52 ms, at Debian's HZ=250 (measured on a real Xen 4.17 dom0: a
 * 10 Mbit/s limit gave 9.66, and TCP lost more as rates grew). 20 ms is whole jiffies at
 * HZ=100, 250, 300 and 1000 (2, 5, 6, 20), short enough for TCP to see a steady rate, and at
 * 10 kbit/s still 25 bytes a window (netback lets a packet through on any credit left). */
#define XEN_CREDIT_USEC 20000u

/*
 * The rate node's value for a limit of bps and pps (UINT64_MAX: unlimited) with frames of
 * mean_frame_bits (0: not measured yet; bits, not bytes, so that a mean of 64.4 bytes is not
 * taken as 64). The packet limit is folded into the byte credit.
 * Returns false when nothing limits: the node is removed (netback's default is unlimited).
 * A limit of 0 is written as 1 byte a window: netback reads 0 as unlimited.
 */
bool xen_credit_rate(uint64_t bps, uint64_t pps, uint64_t mean_frame_bits, char *buf, size_t len);

/* netback's debugfs, where each vif's io_ring_q<N> shows its shared rings and credit. */
#define XEN_NETBACK_DEBUGFS "/sys/kernel/debug/xen-netback"

/* From an io_ring_q<N> text: requests on the transmit ring netback has not taken (req_prod -
 * req_cons) and whether its credit timer is pending. 0, or -EINVAL if the text is not one. */
int xen_credit_ring_parse(const char *text, uint32_t *backlog_slots, bool *credit_waiting);

struct enforcer;
/* The enforcer, with its own xenstore connection; clear_on_exit: remove the rate nodes it
 * wrote when it closes; counters and sample_every: where it counts (xen_counters.h). Returns 0,
 * or a negative errno with why set. */
int xen_credit_open(struct enforcer *e, bool clear_on_exit, enum xen_counters counters,
		    uint32_t sample_every, char *why, size_t why_len);

#endif
