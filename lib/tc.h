/*
 * tc: the traffic control the agent builds over rtnetlink (rtnl.h): the HTB shapers of the
 * netfront enforcer (at a guest end), the netback enforcer (on an uplink) and the testbed's
 * uplink, with one rule for the enforcers' bursts.
 */
#ifndef DBAVM_TC_H
#define DBAVM_TC_H

#include <stdint.h>

#include <libmnl/libmnl.h>

/* A tc message (RTM_*QDISC, RTM_*TCLASS, RTM_*TFILTER) in buf (MNL_SOCKET_BUFFER_SIZE). */
struct nlmsghdr *tc_msg(char *buf, int type, unsigned flags, unsigned ifindex, uint32_t handle,
			uint32_t parent);
/* Makes an HTB with this handle the root qdisc of ifindex, replacing any, with default class
 * minor defcls. */
int tc_htb_qdisc(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t defcls);
/* The burst an HTB class of this rate (bytes per second, > 0) gets: 5 ms of rate, at least two
 * full frames. */
uint64_t tc_htb_burst_bytes(uint64_t bytes_per_s);
/* Creates an HTB class, or changes it if it exists. Rates in bytes per second (0 counts as
 * 1); bursts as tc_htb_burst_bytes says. */
int tc_htb_class(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		 uint64_t rate, uint64_t ceil);
/* The same with bursts of burst bytes (0: the rule): a wire, which has none to speak of. */
int tc_htb_class_burst(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		       uint64_t rate, uint64_t ceil, uint64_t burst);
/* The same with a burst (0: the rule) and a priority among its siblings (0 first, 7 last) when
 * they borrow. */
int tc_htb_class_prio(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		      uint64_t rate, uint64_t ceil, uint64_t burst, uint32_t prio);
/* Makes a bfifo of limit bytes the qdisc at parent (an HTB class), with this handle, replacing
 * any: the class's queue bounded in bytes, whatever the size of its packets. */
int tc_bfifo(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t parent,
	     uint32_t limit_bytes);
/* The same, cutting every GSO packet longer than segment_above bytes into the frames it carries
 * as it is queued (a TBF that never limits): the queue can then be as short in time as its rate
 * wants, not three 64 KiB packets long. segment_above must take the device's largest frame. A
 * handle other than the bfifo's: a qdisc's kind cannot change under its handle. */
int tc_segmenting_fifo(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t parent,
		       uint32_t limit_bytes, uint32_t segment_above);
/* Deletes a qdisc (RTM_DELQDISC) or class (RTM_DELTCLASS). */
int tc_delete(struct mnl_socket *nl, int type, unsigned ifindex, uint32_t handle, uint32_t parent);

#endif
