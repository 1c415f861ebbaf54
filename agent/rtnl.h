/*
 * rtnl: the few rtnetlink calls every netns part shares (platform discovery, the netback and
 * none enforcers, the --dev testbed), over libmnl.
 */
#ifndef DBAVM_RTNL_H
#define DBAVM_RTNL_H

#include <libmnl/libmnl.h>

/* A NETLINK_ROUTE socket in the calling thread's namespace, bound to groups (0: none). */
struct mnl_socket *rtnl_open(unsigned groups);

/* Sends one request and runs cb (may be NULL) over the answer: a dump up to NLMSG_DONE, or
 * the single answer or acknowledgement of anything else (set NLM_F_ACK on changes). Returns 0
 * or a negative errno, the kernel's own for a refused request. */
int rtnl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

#endif
