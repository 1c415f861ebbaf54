/*
 * rtnl: the rtnetlink core the netns parts share (platform discovery, the enforcers, the --dev
 * testbed), over libmnl, and entering a network namespace. Traffic control is in tc.h.
 */
#ifndef DBAVM_RTNL_H
#define DBAVM_RTNL_H

#include <stdint.h>

#include <libmnl/libmnl.h>

/* A socket's network namespace cookie (Linux 5.14; older headers lack the name). */
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

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

#endif
