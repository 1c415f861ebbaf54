/*
 * rtnl.c: the rtnetlink core over libmnl (one request and its answer or dump, resynchronised
 * after a dump given up on), attribute parsing, entering a namespace, and the tc and link
 * builders of rtnl.h.
 */
#include "rtnl.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "log.h"

#define BURST_NS 5000000ull /* 5 ms of rate, at least two full frames */
#define MAX_FRAME_BYTES 1514ull
#define PSCHED_SHIFT 6 /* the kernel's tc tick: 64 ns */
#define RTNL_DUMP_ATTEMPTS 5

struct mnl_socket *rtnl_open(unsigned groups)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (nl && mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

/* Reads and drops whatever waits on the socket: the rest of an answer given up on (an error, an
 * interrupted dump), which would otherwise answer the next request with a sequence number it
 * does not expect ("Protocol error", on every request after). The kernel makes a dump's next
 * part as the last is read, so reading until there is nothing ends it. A stray message that
 * still turns up costs one request its answer, and this puts the socket right again. */
static void rtnl_flush(struct mnl_socket *nl)
{
	char buf[8192];

	while (recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int rtnl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static unsigned seq;
	char buf[32768]; /* a dump's datagrams are at most a page or two */
	unsigned portid = mnl_socket_get_portid(nl);
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
	ssize_t n;
	int rc;

	nlh->nlmsg_seq = ++seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* Every way out before the answer's end reads away what is left of it. */
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		errno = 0;
		rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
		if (rc == MNL_CB_ERROR) {
			/* libmnl says EINTR for a dump the kernel marked NLM_F_DUMP_INTR: what it
			 * dumped changed under it, and the caller starts again. */
			rc = errno ? -errno : -EIO;
			rtnl_flush(nl);
			return rc;
		}
		/* A dump ends with NLMSG_DONE; anything else with its one answer. */
		if (rc == MNL_CB_STOP || !dump)
			return 0;
	}
	rc = n < 0 ? -errno : 0;
	rtnl_flush(nl);
	return rc;
}

struct attr_table {
	const struct nlattr **tb;
	uint16_t max;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct attr_table *t = data;

	if (mnl_attr_get_type(a) <= t->max)
		t->tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

void rtnl_parse(const struct nlmsghdr *nlh, size_t offset, const struct nlattr **tb, uint16_t max)
{
	struct attr_table t = { tb, max };

	mnl_attr_parse(nlh, (unsigned)offset, attr_cb, &t);
}

void rtnl_parse_nested(const struct nlattr *attr, const struct nlattr **tb, uint16_t max)
{
	struct attr_table t = { tb, max };

	mnl_attr_parse_nested(attr, attr_cb, &t);
}

int rtnl_dump_links(struct mnl_socket *nl, mnl_cb_t cb, void (*restart)(void *data), void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int rc = -EINTR;

	/* Links come and go while the kernel dumps them: a dump it marks interrupted is taken
	 * again, from the start, a few times. */
	for (int attempt = 0; attempt < RTNL_DUMP_ATTEMPTS && rc == -EINTR; attempt++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct ifinfomsg *ifm;

		nlh->nlmsg_type = RTM_GETLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
		ifm->ifi_family = AF_UNSPEC;
		restart(data);
		rc = rtnl_request(nl, nlh, cb, data);
	}
	return rc;
}

int rtnl_in_netns(int ns_fd, int home_fd, int (*fn)(void *), void *arg)
{
	int rc;

	if (setns(ns_fd, CLONE_NEWNET) < 0)
		return -errno;
	rc = fn(arg);
	if (setns(home_fd, CLONE_NEWNET) < 0) {
		log_error("could not return to the driver domain's namespace err=%s",
			  strerror(errno));
		abort();
	}
	return rc;
}

/* ---- traffic control ---- */

struct nlmsghdr *rtnl_tc_msg(char *buf, int type, unsigned flags, unsigned ifindex, uint32_t handle,
			     uint32_t parent)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *t;

	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = (int)ifindex;
	t->tcm_handle = handle;
	t->tcm_parent = parent;
	return nlh;
}

uint64_t rtnl_htb_burst_bytes(uint64_t bytes_per_s)
{
	uint64_t burst = bytes_per_s / (1000000000ull / BURST_NS);

	return burst < 2 * MAX_FRAME_BYTES ? 2 * MAX_FRAME_BYTES : burst;
}

/* HTB's burst is a time, in ticks: how long the burst takes at the rate. */
static uint32_t burst_ticks(uint64_t bytes_per_s)
{
	uint64_t ns = rtnl_htb_burst_bytes(bytes_per_s) * 1000000000ull / bytes_per_s;

	return (uint32_t)(ns >> PSCHED_SHIFT);
}

int rtnl_htb_class(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		   uint64_t rate, uint64_t ceil)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh =
		rtnl_tc_msg(buf, RTM_NEWTCLASS, NLM_F_ACK | NLM_F_CREATE, ifindex, classid, parent);
	struct tc_htb_opt o;
	struct nlattr *nest;
	uint64_t quantum;

	rate = rate ? rate : 1;
	ceil = ceil < rate ? rate : ceil;
	memset(&o, 0, sizeof(o));
	o.rate.rate = rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
	o.ceil.rate = ceil > UINT32_MAX ? UINT32_MAX : (uint32_t)ceil;
	o.rate.linklayer = o.ceil.linklayer = TC_LINKLAYER_ETHERNET; /* no rate tables */
	o.buffer = burst_ticks(rate);
	o.cbuffer = burst_ticks(ceil);
	quantum = rate / 10; /* HTB's own rule (r2q 10), kept within its sane range */
	o.quantum = (uint32_t)(quantum < 2 * MAX_FRAME_BYTES ? 2 * MAX_FRAME_BYTES
			       : quantum > 200000	     ? 200000
							     : quantum);
	mnl_attr_put_strz(nlh, TCA_KIND, "htb");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_HTB_PARMS, sizeof(o), &o);
	if (rate > UINT32_MAX)
		mnl_attr_put_u64(nlh, TCA_HTB_RATE64, rate);
	if (ceil > UINT32_MAX)
		mnl_attr_put_u64(nlh, TCA_HTB_CEIL64, ceil);
	mnl_attr_nest_end(nlh, nest);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int rtnl_htb_qdisc(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t defcls)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh =
		rtnl_tc_msg(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, ifindex,
			    handle, TC_H_ROOT);
	struct tc_htb_glob g = { .version = 3, .rate2quantum = 10, .defcls = defcls };
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, TCA_KIND, "htb");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_HTB_INIT, sizeof(g), &g);
	mnl_attr_nest_end(nlh, nest);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int rtnl_tc_delete(struct mnl_socket *nl, int type, unsigned ifindex, uint32_t handle,
		   uint32_t parent)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return rtnl_request(nl, rtnl_tc_msg(buf, type, NLM_F_ACK, ifindex, handle, parent), NULL,
			    NULL);
}

/* ---- links and addresses ---- */

static struct nlmsghdr *link_msg(char *buf, int type, unsigned flags, unsigned ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	return nlh;
}

/* Starts an RTM_NEWLINK for a new link of this kind; the caller adds IFLA_INFO_DATA if any
 * and closes the returned IFLA_LINKINFO nest. */
static struct nlmsghdr *new_link(char *buf, const char *name, const char *kind,
				 struct nlattr **info)
{
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	*info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	return nlh;
}

int rtnl_bridge_add(struct mnl_socket *nl, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlattr *info, *data;
	struct nlmsghdr *nlh = new_link(buf, name, "bridge", &info);

	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int rtnl_veth_add(struct mnl_socket *nl, const char *name, const char *peer, int peer_ns_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg pm = { .ifi_family = AF_UNSPEC };
	struct nlattr *info, *data, *pe;
	struct nlmsghdr *nlh = new_link(buf, name, "veth", &info);

	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pe = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow an ifinfomsg of its own. */
	memcpy(mnl_nlmsg_get_payload_tail(nlh), &pm, sizeof(pm));
	nlh->nlmsg_len += MNL_ALIGN(sizeof(pm));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (peer_ns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_ns_fd);
	mnl_attr_nest_end(nlh, pe);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int rtnl_link_up(struct mnl_socket *nl, unsigned ifindex, unsigned master)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int rtnl_link_del(struct mnl_socket *nl, unsigned ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return rtnl_request(nl, link_msg(buf, RTM_DELLINK, 0, ifindex), NULL, NULL);
}

int rtnl_addr_add(struct mnl_socket *nl, unsigned ifindex, uint32_t addr, unsigned prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_index = ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
	return rtnl_request(nl, nlh, NULL, NULL);
}
