/*
 * netback.c: the paper's "TC" baseline on netns. On each uplink that carries a vif, an HTB
 * qdisc replaces the root qdisc in the driver domain:
 *
 *     db00:   htb, default class db00:2
 *     db00:1  the uplink: rate = ceil = its capacity (--uplinks)
 *     db00:2  traffic of no vif (ARP from the bridge, ...): small rate, ceil = capacity
 *     db00:N  one leaf per vif, N = 0x10 + slot: rate = the VM's minimum split onto the vif,
 *             ceil = the allocation
 *
 * netback.bpf.c classifies by the port a packet entered the driver domain on and counts what
 * each vif offers; the class statistics (one RTM_GETTCLASS dump per uplink per period) say
 * what passed and what HTB dropped. Everything is programmed over rtnetlink (libmnl), and the
 * qdisc, with its classes and filter, is deleted on close.
 */
#include "netback.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <linux/gen_stats.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "bpf_log.h"
#include "enforcer.h"
#include "log.h"
#include "netback.skel.h"
#include "rtnl.h"
#include "tc.h"
#include "slots.h"

_Static_assert(NETBACK_MAX_VIFS == SLOTS_MAX, "one slot per map entry");

#define HTB_MAJOR 0xdbu
#define HTB_HANDLE TC_H_MAKE(HTB_MAJOR << 16, 0)
#define ROOT_MINOR 1u
#define DEFAULT_MINOR 2u
#define FIRST_VIF_MINOR 0x10u
#define UNLIMITED_BYTES_PER_S 12500000000ull /* 100 Gbit/s, for an uplink of no capacity */

struct class_stats {
	uint64_t bytes, pkts, drops, backlog_bytes;
};

struct nb_uplink {
	struct platform_uplink cfg;
	unsigned ifindex;
	bool installed; /* our HTB is its root qdisc */
};

struct netback {
	struct netback_bpf *skel;
	struct mnl_socket *nl;
	struct nb_uplink *uplinks;
	size_t n_uplinks;
	int n_cpus;
	struct netback_counters *percpu; /* scratch, n_cpus entries */
	struct slots slots;		 /* the vifs' indices into the maps */
	struct netback_counters *snap;	 /* n_cpus per slot, slots [0, n_read) */
	__u32 *snap_keys;
	__u32 n_read;
	struct class_stats *cls; /* per slot, from the last dump */
	bool *cls_seen;
};

struct nb_vif {
	__u32 host_ifindex;
	__u32 slot;
	size_t uplink;
	uint64_t dropped_bytes; /* never goes back */
};

/* ---- HTB over rtnetlink ---- */

static uint64_t capacity_bytes(const struct nb_uplink *u)
{
	return u->cfg.capacity_bps ? u->cfg.capacity_bps / 8 : UNLIMITED_BYTES_PER_S;
}

/* The classifier, in direct-action mode. The program sets only a class's minor (the
 * kernel's tc_classid is 16 bits); TCA_BPF_CLASSID gives the major. */
static int htb_filter(struct netback *nb, unsigned ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tc_msg(buf, RTM_NEWTFILTER, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
				      ifindex, 1, HTB_HANDLE);
	struct tcmsg *t = mnl_nlmsg_get_payload(nlh);
	struct nlattr *nest;

	t->tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL)); /* priority 1, every protocol */
	mnl_attr_put_strz(nlh, TCA_KIND, "bpf");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u32(nlh, TCA_BPF_FD,
			 (uint32_t)bpf_program__fd(nb->skel->progs.netback_classify));
	mnl_attr_put_strz(nlh, TCA_BPF_NAME, "dbavm-netback");
	mnl_attr_put_u32(nlh, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
	mnl_attr_put_u32(nlh, TCA_BPF_CLASSID, HTB_HANDLE);
	mnl_attr_nest_end(nlh, nest);
	return rtnl_request(nb->nl, nlh, NULL, NULL);
}

/* Puts our HTB, its two fixed classes and the classifier on the uplink, once. */
static int uplink_install(struct netback *nb, struct nb_uplink *u)
{
	uint64_t cap = capacity_bytes(u);
	int rc;

	if (u->installed)
		return 0;
	u->ifindex = if_nametoindex(u->cfg.name);
	if (!u->ifindex)
		return -errno;
	rc = tc_htb_qdisc(nb->nl, u->ifindex, HTB_HANDLE, DEFAULT_MINOR);
	if (rc)
		return rc;
	u->installed = true; /* from here on, close removes it */
	rc = tc_htb_class(nb->nl, u->ifindex, TC_H_MAKE(HTB_HANDLE, ROOT_MINOR), HTB_HANDLE, cap,
			  cap);
	if (!rc)
		rc = tc_htb_class(nb->nl, u->ifindex, TC_H_MAKE(HTB_HANDLE, DEFAULT_MINOR),
				  TC_H_MAKE(HTB_HANDLE, ROOT_MINOR), cap / 100, cap);
	if (!rc)
		rc = htb_filter(nb, u->ifindex);
	if (rc) {
		tc_delete(nb->nl, RTM_DELQDISC, u->ifindex, HTB_HANDLE, TC_H_ROOT);
		u->installed = false;
		return rc;
	}
	log_info("netback qdisc installed uplink=%s handle=db00: capacity_bps=%" PRIu64,
		 log_q(u->cfg.name), u->cfg.capacity_bps);
	return 0;
}

/* ---- class statistics ---- */

/* Copies an attribute's payload into dst, at most size bytes (older kernels send less). */
static void attr_copy(void *dst, size_t size, const struct nlattr *a)
{
	size_t len = mnl_attr_get_payload_len(a);

	memcpy(dst, mnl_attr_get_payload(a), len < size ? len : size);
}

static int on_class(const struct nlmsghdr *nlh, void *data)
{
	struct netback *nb = data;
	const struct tcmsg *t = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[TCA_MAX + 1] = { 0 }, *st[TCA_STATS_MAX + 1] = { 0 };
	__u32 minor = TC_H_MIN(t->tcm_handle), slot;
	struct class_stats *c;

	if (TC_H_MAJ(t->tcm_handle) != HTB_HANDLE || minor < FIRST_VIF_MINOR)
		return MNL_CB_OK;
	slot = minor - FIRST_VIF_MINOR;
	if (slot >= NETBACK_MAX_VIFS)
		return MNL_CB_OK;
	rtnl_parse(nlh, sizeof(*t), tb, TCA_MAX);
	if (!tb[TCA_STATS2])
		return MNL_CB_OK;
	rtnl_parse_nested(tb[TCA_STATS2], st, TCA_STATS_MAX);
	c = &nb->cls[slot];
	memset(c, 0, sizeof(*c));
	if (st[TCA_STATS_BASIC]) {
		struct gnet_stats_basic b = { 0 };

		attr_copy(&b, sizeof(b), st[TCA_STATS_BASIC]);
		c->bytes = b.bytes;
		c->pkts = b.packets;
	}
	if (st[TCA_STATS_PKT64]) /* the 32-bit packet count wraps; newer kernels add this */
		c->pkts = mnl_attr_get_u64(st[TCA_STATS_PKT64]);
	if (st[TCA_STATS_QUEUE]) {
		struct gnet_stats_queue q = { 0 };

		attr_copy(&q, sizeof(q), st[TCA_STATS_QUEUE]);
		c->drops = q.drops;
		c->backlog_bytes = q.backlog;
	}
	nb->cls_seen[slot] = true;
	return MNL_CB_OK;
}

/* ---- the enforcer ---- */

static int nb_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l);

static int nb_attach(struct enforcer *e, struct enf_vif *ev)
{
	static const struct enf_limit unlimited = { .bps = UINT64_MAX,
						    .pps = UINT64_MAX,
						    .shape = { .dscp = -1 } };
	struct netback *nb = e->priv;
	struct netback_class c;
	struct nb_vif *v;
	size_t u;
	__u32 slot;
	int rc;

	for (u = 0; u < nb->n_uplinks && strcmp(nb->uplinks[u].cfg.name, ev->desc->uplink); u++)
		;
	if (u == nb->n_uplinks || !ev->desc->host_ifindex)
		return -EINVAL;
	rc = uplink_install(nb, &nb->uplinks[u]);
	if (rc)
		return rc;
	if (slots_free(&nb->slots) < 0)
		return -ENOSPC;
	slot = (__u32)slots_free(&nb->slots);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->host_ifindex = ev->desc->host_ifindex;
	v->slot = slot;
	v->uplink = u;
	memset(nb->percpu, 0, (size_t)nb->n_cpus * sizeof(*nb->percpu));
	rc = bpf_map_update_elem(bpf_map__fd(nb->skel->maps.offered), &slot, nb->percpu, BPF_ANY)
		     ? -errno
		     : 0;
	ev->state = v;
	if (!rc)
		rc = nb_apply(e, ev, &unlimited); /* creates the leaf */
	c = (struct netback_class){ TC_H_MAKE(HTB_HANDLE, FIRST_VIF_MINOR + slot), slot };
	if (!rc && bpf_map_update_elem(bpf_map__fd(nb->skel->maps.vif_class), &v->host_ifindex, &c,
				       BPF_NOEXIST))
		rc = -errno;
	if (rc) {
		tc_delete(nb->nl, RTM_DELTCLASS, nb->uplinks[u].ifindex, c.classid, 0);
		ev->state = NULL;
		free(v);
		return rc;
	}
	slots_take(&nb->slots, slot);
	nb->cls_seen[slot] = false;
	return 0;
}

static void nb_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct netback *nb = e->priv;
	struct nb_vif *v = ev->state;
	int rc;

	if (!v)
		return;
	/* Unclassify first: no packet may be sent to a class that is going. */
	bpf_map_delete_elem(bpf_map__fd(nb->skel->maps.vif_class), &v->host_ifindex);
	rc = tc_delete(nb->nl, RTM_DELTCLASS, nb->uplinks[v->uplink].ifindex,
		       TC_H_MAKE(HTB_HANDLE, FIRST_VIF_MINOR + v->slot), 0);
	if (rc && rc != -ENOENT && rc != -ENODEV)
		log_warn("netback class not removed vm=%s vif=%s err=%s", log_q(ev->vm),
			 log_q(ev->desc->id), strerror(-rc));
	slots_put(&nb->slots, v->slot);
	free(v);
	ev->state = NULL;
}

static int nb_sync(struct enforcer *e, uint64_t now_ns)
{
	struct netback *nb = e->priv;
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = nb->slots.top, out;
	int rc = 0;

	(void)now_ns;
	nb->n_read = 0;
	if (count == 0)
		return 0;
	if (bpf_map_lookup_batch(bpf_map__fd(nb->skel->maps.offered), NULL, &out, nb->snap_keys,
				 nb->snap, &count, &opts) &&
	    errno != ENOENT)
		return -errno;
	nb->n_read = count;
	memset(nb->cls_seen, 0, nb->slots.top * sizeof(*nb->cls_seen)); /* the slots in use */
	for (size_t u = 0; u < nb->n_uplinks && !rc; u++) {
		char buf[MNL_SOCKET_BUFFER_SIZE];

		if (nb->uplinks[u].installed)
			rc = rtnl_request(nb->nl,
					  tc_msg(buf, RTM_GETTCLASS, NLM_F_DUMP,
						 nb->uplinks[u].ifindex, 0, 0),
					  on_class, nb);
	}
	return rc;
}

static int nb_read_counters(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	struct netback *nb = e->priv;
	struct nb_vif *v = ev->state;
	const struct class_stats *c;
	uint64_t ob = 0, op = 0, dropped;

	if (!v)
		return -ENOENT;
	if (v->slot >= nb->n_read || !nb->cls_seen[v->slot])
		return -EAGAIN;
	for (int cpu = 0; cpu < nb->n_cpus; cpu++) {
		ob += nb->snap[(size_t)v->slot * (size_t)nb->n_cpus + (size_t)cpu].bytes;
		op += nb->snap[(size_t)v->slot * (size_t)nb->n_cpus + (size_t)cpu].pkts;
	}
	c = &nb->cls[v->slot];
	/* HTB counts dropped packets, not bytes: the bytes are what was offered and neither
	 * sent nor still queued. */
	dropped = ob > c->bytes + c->backlog_bytes ? ob - c->bytes - c->backlog_bytes : 0;
	if (dropped > v->dropped_bytes)
		v->dropped_bytes = dropped;
	*out = (struct vif_counters){ .offered_bytes = ob,
				      .offered_pkts = op,
				      .passed_bytes = c->bytes,
				      .passed_pkts = c->pkts,
				      .dropped_bytes = v->dropped_bytes,
				      .dropped_pkts = c->drops };
	return 0;
}

static int nb_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct netback *nb = e->priv;
	struct nb_vif *v = ev->state;
	const struct nb_uplink *u;
	uint64_t cap, ceil, rate;

	/* HTB shapes bytes: the baseline has no packet rate limit (l->pps). */
	if (!v)
		return -ENOENT;
	u = &nb->uplinks[v->uplink];
	cap = capacity_bytes(u);
	ceil = l->bps == UINT64_MAX ? cap : l->bps / 8;
	rate = l->min_bps / 8;
	if (rate > ceil)
		rate = ceil;
	return tc_htb_class(nb->nl, u->ifindex, TC_H_MAKE(HTB_HANDLE, FIRST_VIF_MINOR + v->slot),
			    TC_H_MAKE(HTB_HANDLE, ROOT_MINOR), rate, ceil);
}

static void nb_free(struct netback *nb)
{
	netback_bpf__destroy(nb->skel);
	if (nb->nl)
		mnl_socket_close(nb->nl);
	free(nb->uplinks);
	free(nb->percpu);
	free(nb->snap);
	free(nb->snap_keys);
	free(nb->cls);
	free(nb->cls_seen);
	free(nb);
}

static void nb_close(struct enforcer *e)
{
	struct netback *nb = e->priv;

	if (!nb)
		return;
	for (size_t u = 0; u < nb->n_uplinks; u++) {
		int rc;

		if (!nb->uplinks[u].installed)
			continue;
		rc = tc_delete(nb->nl, RTM_DELQDISC, nb->uplinks[u].ifindex, HTB_HANDLE, TC_H_ROOT);
		if (rc && rc != -ENODEV && rc != -ENOENT)
			log_warn("netback qdisc not removed uplink=%s err=%s",
				 log_q(nb->uplinks[u].cfg.name), strerror(-rc));
		else
			log_info("netback qdisc removed uplink=%s", log_q(nb->uplinks[u].cfg.name));
	}
	nb_free(nb);
	e->priv = NULL;
}

static const struct enforcer_ops netback_ops = {
	.name = "netback",
	.sees_offered = true, /* the classifier counts before HTB drops */
	.attach = nb_attach,
	.detach = nb_detach,
	.sync = nb_sync,
	.read_counters = nb_read_counters,
	.apply = nb_apply,
	.close = nb_close,
	.drops_on_path = true, /* HTB drops what the guest already sent */
};

int netback_open(struct enforcer *e, const struct platform_uplink *uplinks, size_t n_uplinks,
		 char *why, size_t why_len)
{
	struct netback *nb = calloc(1, sizeof(*nb));
	int rc;

	if (!nb)
		return -ENOMEM;
	nb->n_cpus = libbpf_num_possible_cpus();
	nb->uplinks = calloc(n_uplinks ? n_uplinks : 1, sizeof(*nb->uplinks));
	nb->n_uplinks = n_uplinks;
	nb->nl = rtnl_open(0);
	if (nb->n_cpus <= 0 || !nb->uplinks || !nb->nl) {
		rc = nb->n_cpus <= 0 ? nb->n_cpus : -errno;
		snprintf(why, why_len, "netback: %s", strerror(-rc));
		nb_free(nb);
		return rc;
	}
	for (size_t u = 0; u < n_uplinks; u++)
		nb->uplinks[u].cfg = uplinks[u];
	nb->percpu = calloc((size_t)nb->n_cpus, sizeof(*nb->percpu));
	nb->snap = calloc((size_t)NETBACK_MAX_VIFS * (size_t)nb->n_cpus, sizeof(*nb->snap));
	nb->snap_keys = calloc(NETBACK_MAX_VIFS, sizeof(*nb->snap_keys));
	nb->cls = calloc(NETBACK_MAX_VIFS, sizeof(*nb->cls));
	nb->cls_seen = calloc(NETBACK_MAX_VIFS, sizeof(*nb->cls_seen));
	bpf_log_route();
	nb->skel = netback_bpf__open_and_load();
	if (!nb->percpu || !nb->snap || !nb->snap_keys || !nb->cls || !nb->cls_seen || !nb->skel) {
		rc = errno ? -errno : -ENOMEM;
		snprintf(why, why_len,
			 "netback: the BPF classifier did not load (%s); it needs root (CAP_BPF "
			 "and CAP_NET_ADMIN) and a kernel with BPF and sch_htb",
			 strerror(-rc));
		nb_free(nb);
		return rc;
	}
	e->ops = &netback_ops;
	e->priv = nb;
	return 0;
}
