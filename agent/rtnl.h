/*
 * rtnl: the rtnetlink calls the netns parts share (platform discovery, the netback and none
 * enforcers, the --dev testbed), over libmnl, and entering a network namespace.
 */
#ifndef DBAVM_RTNL_H
#define DBAVM_RTNL_H

#include <stdint.h>

#include <libmnl/libmnl.h>

/* A NETLINK_ROUTE socket in the calling thread's namespace, bound to groups (0: none). */
struct mnl_socket *rtnl_open(unsigned groups);

/* Sends one request and runs cb (may be NULL) over the answer: a dump up to NLMSG_DONE, or
 * the single answer or acknowledgement of anything else (set NLM_F_ACK on changes). Returns 0
 * or a negative errno, the kernel's own for a refused request. */
int rtnl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/* Fills tb (max + 1 entries, zeroed by the caller) with the attributes after offset bytes of
 * the message's payload, or nested in attr, by type; types above max are skipped. */
void rtnl_parse(const struct nlmsghdr *nlh, size_t offset, const struct nlattr **tb, uint16_t max);
void rtnl_parse_nested(const struct nlattr *attr, const struct nlattr **tb, uint16_t max);

/* Dumps every link of the socket's namespace (RTM_GETLINK), cb run on each; restart(data) is
 * called before each attempt (a dump interrupted by a change is taken again). */
int rtnl_dump_links(struct mnl_socket *nl, mnl_cb_t cb, void (*restart)(void *data), void *data);

/* Runs fn(arg) with the calling thread in the network namespace open at ns_fd, then returns
 * it to the one open at home_fd (aborting if it cannot: every later socket would be in the
 * wrong place). Returns fn's result, or a negative errno if the namespace cannot be entered. */
int rtnl_in_netns(int ns_fd, int home_fd, int (*fn)(void *), void *arg);

/* ---- traffic control ---- */

/* A tc message (RTM_*QDISC, RTM_*TCLASS, RTM_*TFILTER) in buf (MNL_SOCKET_BUFFER_SIZE). */
struct nlmsghdr *rtnl_tc_msg(char *buf, int type, unsigned flags, unsigned ifindex, uint32_t handle,
			     uint32_t parent);
/* Makes an HTB with this handle the root qdisc of ifindex, replacing any, with default class
 * minor defcls. */
int rtnl_htb_qdisc(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t defcls);
/* The burst an HTB class of this rate (bytes per second, > 0) gets: 5 ms of rate, at least two
 * full frames. */
uint64_t rtnl_htb_burst_bytes(uint64_t bytes_per_s);
/* Creates an HTB class, or changes it if it exists. Rates in bytes per second (0 counts as
 * 1); bursts as rtnl_htb_burst_bytes says. */
int rtnl_htb_class(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		   uint64_t rate, uint64_t ceil);
/* Deletes a qdisc (RTM_DELQDISC) or class (RTM_DELTCLASS). */
int rtnl_tc_delete(struct mnl_socket *nl, int type, unsigned ifindex, uint32_t handle,
		   uint32_t parent);

/* ---- links and addresses ---- */

/* A bridge whose ports forward at once (forward delay 0: no link events seconds later). */
int rtnl_bridge_add(struct mnl_socket *nl, const char *name);
/* A veth pair whose peer is created in the namespace open at peer_ns_fd (-1: this one). */
int rtnl_veth_add(struct mnl_socket *nl, const char *name, const char *peer, int peer_ns_fd);
/* Sets the master (0: leave) and brings the link up. */
int rtnl_link_up(struct mnl_socket *nl, unsigned ifindex, unsigned master);
int rtnl_link_del(struct mnl_socket *nl, unsigned ifindex);
/* Adds IPv4 address addr (network byte order)/prefix to ifindex. */
int rtnl_addr_add(struct mnl_socket *nl, unsigned ifindex, uint32_t addr, unsigned prefix);

#endif
