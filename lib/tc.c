/*
 * tc.c: the tc messages of tc.h. HTB with its rates given directly (TCA_HTB_RATE64 above 4
 * GB/s) and no rate tables: the kernel computes from the link layer, as iproute2 asks it to.
 */
#include "tc.h"

#include <string.h>
#include <sys/socket.h>

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "rtnl.h"

#define BURST_NS 5000000ull /* 5 ms of rate, at least two full frames */
#define MAX_FRAME_BYTES 1514ull
#define PSCHED_SHIFT 6 /* the kernel's tc tick: 64 ns */
/* A TBF rate that never binds: 8 Tbit/s, far above any HTB ceiling the agent sets but the
 * unlimited one, whose packets it passes at once anyway (its burst is refilled in a few ns). */
#define TBF_UNBOUND_BYTES 1000000000000ull

struct nlmsghdr *tc_msg(char *buf, int type, unsigned flags, unsigned ifindex, uint32_t handle,
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

uint64_t tc_htb_burst_bytes(uint64_t bytes_per_s)
{
	uint64_t burst = bytes_per_s / (1000000000ull / BURST_NS);

	return burst < 2 * MAX_FRAME_BYTES ? 2 * MAX_FRAME_BYTES : burst;
}

/* HTB's burst is a time, in ticks: how long the burst takes at the rate. */
static uint32_t burst_ticks(uint64_t burst, uint64_t bytes_per_s)
{
	uint64_t ns =
		(burst ? burst : tc_htb_burst_bytes(bytes_per_s)) * 1000000000ull / bytes_per_s;

	return (uint32_t)(ns >> PSCHED_SHIFT);
}

static int htb_class(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		     uint64_t rate, uint64_t ceil, uint64_t burst, uint32_t prio);

int tc_htb_class(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		 uint64_t rate, uint64_t ceil)
{
	return htb_class(nl, ifindex, classid, parent, rate, ceil, 0, 0);
}

int tc_htb_class_burst(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		       uint64_t rate, uint64_t ceil, uint64_t burst)
{
	return htb_class(nl, ifindex, classid, parent, rate, ceil, burst, 0);
}

int tc_htb_class_prio(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		      uint64_t rate, uint64_t ceil, uint64_t burst, uint32_t prio)
{
	return htb_class(nl, ifindex, classid, parent, rate, ceil, burst, prio);
}

static int htb_class(struct mnl_socket *nl, unsigned ifindex, uint32_t classid, uint32_t parent,
		     uint64_t rate, uint64_t ceil, uint64_t burst, uint32_t prio)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh =
		tc_msg(buf, RTM_NEWTCLASS, NLM_F_ACK | NLM_F_CREATE, ifindex, classid, parent);
	struct tc_htb_opt o;
	struct nlattr *nest;
	uint64_t quantum;

	rate = rate ? rate : 1;
	ceil = ceil < rate ? rate : ceil;
	memset(&o, 0, sizeof(o));
	o.rate.rate = rate > UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
	o.ceil.rate = ceil > UINT32_MAX ? UINT32_MAX : (uint32_t)ceil;
	o.rate.linklayer = o.ceil.linklayer = TC_LINKLAYER_ETHERNET; /* no rate tables */
	o.prio = prio;
	o.buffer = burst_ticks(burst, rate);
	o.cbuffer = burst_ticks(burst, ceil);
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

int tc_htb_qdisc(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t defcls)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tc_msg(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
				      ifindex, handle, TC_H_ROOT);
	struct tc_htb_glob g = { .version = 3, .rate2quantum = 10, .defcls = defcls };
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, TCA_KIND, "htb");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_HTB_INIT, sizeof(g), &g);
	mnl_attr_nest_end(nlh, nest);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int tc_bfifo(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t parent,
	     uint32_t limit_bytes)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tc_msg(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
				      ifindex, handle, parent);
	struct tc_fifo_qopt o = { .limit = limit_bytes };

	mnl_attr_put_strz(nlh, TCA_KIND, "bfifo");
	mnl_attr_put(nlh, TCA_OPTIONS, sizeof(o), &o);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int tc_segmenting_fifo(struct mnl_socket *nl, unsigned ifindex, uint32_t handle, uint32_t parent,
		       uint32_t limit_bytes, uint32_t segment_above)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tc_msg(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
				      ifindex, handle, parent);
	/* A TBF whose rate never binds (the HTB class above it sets the pace): what it adds is
	 * its enqueue, which cuts a GSO packet longer than its burst into the frames it carries,
	 * and its bfifo of limit bytes. */
	struct tc_tbf_qopt o;
	struct nlattr *nest;

	memset(&o, 0, sizeof(o));
	o.rate.rate = UINT32_MAX;
	o.rate.linklayer = TC_LINKLAYER_ETHERNET; /* no rate table */
	o.limit = limit_bytes;
	mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof(o), &o);
	mnl_attr_put_u64(nlh, TCA_TBF_RATE64, TBF_UNBOUND_BYTES);
	mnl_attr_put_u32(nlh, TCA_TBF_BURST, segment_above);
	mnl_attr_nest_end(nlh, nest);
	return rtnl_request(nl, nlh, NULL, NULL);
}

int tc_delete(struct mnl_socket *nl, int type, unsigned ifindex, uint32_t handle, uint32_t parent)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return rtnl_request(nl, tc_msg(buf, type, NLM_F_ACK, ifindex, handle, parent), NULL, NULL);
}
