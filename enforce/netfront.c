/*
 * netfront.c: loads netfront.bpf.c (through its skeleton, generated at build time) once, and
 * for each vif attaches it to tc egress (clsact) of the guest end, inside the VM's namespace,
 * with an HTB as the guest end's root qdisc behind it: the hook counts, samples, and polices
 * what is not TCP (dropped over budget); the HTB holds the bit rate and packet rate of all
 * that passes, the latter folded in by the mean frame.
 * Limits and counters live in maps this process owns (a change is one map update, never a
 * reload), and the HTB's rate changes with one RTM_NEWTCLASS on a netlink socket opened in
 * the VM's namespace when the vif was attached.
 *
 * Why a shaper and not the hook's own byte bucket: a drop at the guest's own egress is
 * reported to its TCP at once (NET_XMIT_DROP), which then waits for a timer with nothing in
 * flight; measured, one flow got 2.5 of 50 Mbit/s. A queue in the guest makes the sender's
 * socket wait instead (TCP small queues, a UDP socket's send buffer), and every flow gets
 * its limit (tests/bench/README.md, bench_tcp.sh). The queue is in the guest: nothing over the
 * limit is copied into the driver domain. HTB, not TBF: TBF refills its bucket on every
 * change, and limits change from period to period. A UDP flood is dropped at the hook, not
 * queued, because the queue costs CPU: with every packet queued, the host spent 1.64x
 * netback's CPU per packet on the paper's UDP floods; with the floods cut at the hook to the
 * limit, 0.58x (bench_enforcers.sh).
 *
 * What a VM receives (its ingress) is held the same way one hop earlier: the program (as
 * netfront_host) on tc egress of the vif's host end, in the driver domain, with an HTB as that
 * end's root qdisc behind it. There a packet is still on the driver domain's side: a UDP flood
 * over the limit is dropped before the copy into the guest, and TCP waits in the shaper's
 * queue, which its sender sees as a bottleneck's (its window, its losses when the queue is
 * full), as it would on any router.
 *
 * Attaching needs a netlink socket in the VM's namespace; libbpf opens one per call, so the
 * loop thread enters the namespace (setns) for the call and returns to its own at once. The
 * host end is in the agent's own namespace: attached from where the thread is.
 *
 * The same program is the Xen host's tap (netfront_tap_open): on a Xen host the guest end is
 * in the domU, out of dom0's reach, so it is attached to tc ingress of netback's vif<D>.<N> in
 * dom0, where netback hands each packet to dom0's stack, with no limit and no shaper. There it
 * counts what netback passed as the wire will carry it (whole frames, a GSO packet as its
 * segments), and samples for delay through the driver domain to the uplink. At tc ingress the
 * program sees the frame from its Ethernet header, as at egress, so the signature is the same
 * as at the uplink. Every vif is in the agent's own namespace there, so the ifindex alone
 * names it (netfront_tap in netfront.bpf.c). As vif-police the tap holds the limits too, and
 * drops what is over them there, after netback's copy: the paper's baseline. vif-police holds
 * what a VM receives as netfront does on netns, with netfront_host and its shaper on the
 * vif's tc egress in dom0: ahead of netback's receive copy into the guest.
 */
#include "netfront.h"
#include "bpf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "delay.h"
#include "enforcer.h"
#include "frame.h"
#include "log.h"
#include "loop.h"
#include "measure_only.h"
#include "netfront.skel.h"
#include "rtnl.h"
#include "tc.h"
#include "slots.h"

_Static_assert(NETFRONT_MAX_VIFS == SLOTS_MAX, "one slot per map entry");

/* How far the packet bucket lets senders run ahead of the packet rate before the hook drops:
 * 1 s. The shaper holds the packet rate too (folded in by the mean frame, frame.h) and queues
 * what TCP pushes, a couple of GSO packets a flow (TCP small queues) however low the rate; a
 * drop here would send the flow to a timer. So the hook only bounds what a wrong mean frame
 * lets through before it is learnt again (a period or a few). Measured, 4 TCP flows at
 * max_pps 2000 after other traffic: a 5 ms depth gave 6.8 Mbit/s of goodput, 100 ms 19.2-20.1
 * (the queue reached 140 ms), 1 s 22.0 (2,000 full frames a second carry 23.2). */
#define PKT_DEPTH_NS 1000000000ull
/* What is not TCP is policed at the hook (netfront.bpf.c): the packet bucket's burst is 5 ms of
 * rate, at least two packets; the byte bucket's is the shaper's. */
#define BURST_NS 5000000ull

/* The shaper: HTB db01: as the guest end's root qdisc (netback's, on the uplink, is db00:),
 * one class, db01:1, at the vif's rate for everything the guest sends, and under it the ACK
 * class (served first when both borrow) and the data class (the default), which share it: the
 * ACK class is sure of 1/ACK_SHARE of the rate, the data class of the rest, and either may
 * take all of it. Without it, iperf3 --bidir under 20 Mbit/s out and 30 in got 30 % less in,
 * and 25 out and 15 in got 17.4 and 13.9: each way's ACKs queued behind the other way's data
 * (test_ingress.sh, (c) and (d)). Unlimited is a rate no vif reaches. */
#define SHAPER_HANDLE NETFRONT_SHAPER_HANDLE
#define SHAPER_CLASS (SHAPER_HANDLE | NETFRONT_CLASS_VIF)
#define SHAPER_ACK (SHAPER_HANDLE | NETFRONT_CLASS_ACK)
#define SHAPER_DATA (SHAPER_HANDLE | NETFRONT_CLASS_DATA)
#define ACK_SHARE 16u
#define SHAPER_UNLIMITED_BYTES 1000000000000ull

/* The ingress shaper's queue, under its data class, holds QUEUE_NS of its rate, at most
 * QUEUE_MAX_BYTES. Its sender is not in the guest, where TCP small queues keep a flow's queue to
 * a couple of packets: a forwarded flow fills whatever queue there is, and the default (1,000
 * packets) held 800 ms at 15 Mbit/s, behind which the VM's own flow the other way waited for its
 * ACKs: iperf3 --bidir under 25 Mbit/s out and 15 in got 16-17 and 13.9 (test_ingress.sh, (d)).
 * A forwarded GSO packet (up to 64 KiB: GRO on the uplink, or a sender's TSO through a veth) is
 * queued whole, so the queue must hold three of them, QUEUE_WHOLE_BYTES: 786 ms at 2 Mbit/s,
 * all of it the round trip of a TCP flow into a VM under that limit. Where QUEUE_NS of the rate
 * is less than that, the queue cuts GSO packets longer than QUEUE_SEGMENT_ABOVE into their
 * frames as it takes them (tc_segmenting_fifo) and holds at least QUEUE_MIN_BYTES, two of the
 * longest packets left whole (a 9,216-byte jumbo frame and its headers): 74 ms at 2 Mbit/s.
 * Only there: cutting costs dom0 a packet for each frame, and netback copies a GSO packet into a
 * guest that takes them as one. The sampled delay of a packet so cut is not seen (its frames do
 * not bear the signature taken at the uplink). */
#define QUEUE_HANDLE 0xdb020000u
#define QUEUE_SEG_HANDLE 0xdb030000u
#define QUEUE_NS 50000000ull
#define QUEUE_WHOLE_BYTES (3u * 65536u)
#define QUEUE_SEGMENT_ABOVE 9234u
#define QUEUE_MIN_BYTES (2u * QUEUE_SEGMENT_ABOVE)
#define QUEUE_MAX_BYTES (16u << 20)

struct netfront {
	struct netfront_bpf *skel;
	int own_netns; /* the driver domain, to come back to */
	int n_cpus;
	struct slots slots; /* the vifs' indices into the maps */
	/* The counter pages in use, as read by the last sync: one batched lookup a period
	 * instead of a syscall per vif. n_cpus entries per page, pages [0, n_read). The sync
	 * before's are kept (prev, n_prev): a page whose every copy is the same in both (not
	 * moved) is one where none of its vifs counted anything. */
	struct netfront_counter_page *snap, *prev;
	__u32 *snap_keys;
	__u32 n_read, n_prev;
	bool *moved; /* NETFRONT_PAGES */
	/* Delay sampling: the vif of each slot, the ring the samples come by, the program on the
	 * uplinks' egress, and the driver domain's namespace cookie (uplinks live there). */
	struct enf_vif *by_slot[NETFRONT_MAX_VIFS];
	struct ring_buffer *rb;
	struct bpf_link *uplink_prog, *uplink_in_prog;
	struct delay_matcher *matcher; /* during drain only */
	struct netfront_config cfg;    /* what the config map holds */
	__u64 own_cookie;
	bool tap;    /* at tc ingress of the host end in dom0: the Xen tap, or vif-police */
	bool police; /* vif-police: the tap holds the limits, and ingress as netfront does */
};

struct nf_vif {
	struct netfront_key key;
	__u32 slot;
	bool ingress;		/* on the host end's egress: what the VM receives */
	bool hooked;		/* our filter is attached */
	bool uses_clsact;	/* counted in clsacts: the qdisc was made by this process */
	struct mnl_socket *nl;	/* in the VM's namespace, while the shaper is there */
	uint64_t shaper_bytes;	/* the shaper's rate, bytes/s */
	uint64_t shaper_burst;	/* ... and its burst, bytes (0: tc.h's rule) */
	uint32_t queue_bytes;	/* the ingress shaper's queue (0: none yet) ... */
	bool queue_cut;		/* ... cutting GSO packets into frames */
	struct enf_shape shape; /* the SLA's burst and mark in force */
	uint64_t pps;		/* the packet limit in force, UINT64_MAX: none */
	/* The packet limit is folded into the shaper's rate by it. */
	struct frame_mean frame;
};

/* Runs fn in the namespace at path, then returns to the driver domain. */
static int in_netns(struct netfront *nf, const char *path, int (*fn)(void *), void *arg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = rtnl_in_netns(fd, nf->own_netns, fn, arg);
	close(fd);
	return rc;
}

struct hook_op {
	struct netfront *nf;
	struct nf_vif *v;
	bool attach;
};

/* The ingress shaper's queue for a rate of bytes_per_s (QUEUE_NS), in bytes; cut: whether it
 * cuts GSO packets into frames (below QUEUE_WHOLE_BYTES). */
static uint32_t queue_bytes(uint64_t bytes_per_s, bool *cut)
{
	uint64_t q = bytes_per_s / (1000000000ull / QUEUE_NS);

	*cut = q < QUEUE_WHOLE_BYTES;
	return q < QUEUE_MIN_BYTES   ? QUEUE_MIN_BYTES
	       : q > QUEUE_MAX_BYTES ? QUEUE_MAX_BYTES
				     : (uint32_t)q;
}

/* The ingress shaper's queue for the data class's rate, changed when its size or kind does. */
static int shaper_queue(struct nf_vif *v, uint64_t bytes)
{
	bool cut;
	uint32_t q = queue_bytes(bytes, &cut);
	int rc;

	if (v->queue_bytes == q && v->queue_cut == cut)
		return 0;
	rc = cut ? tc_segmenting_fifo(v->nl, v->key.ifindex, QUEUE_SEG_HANDLE, SHAPER_DATA, q,
				      QUEUE_SEGMENT_ABOVE)
		 : tc_bfifo(v->nl, v->key.ifindex, QUEUE_HANDLE, SHAPER_DATA, q);
	if (!rc) {
		v->queue_bytes = q;
		v->queue_cut = cut;
	}
	return rc;
}

/* The shaper's classes at a rate of bytes per second and a burst of burst bytes (0: the rule)
 * (made, or changed), and on the host end its data queue's length for that rate (when it
 * moves). The burst is the vif class's and its data class's: what the SLA lets through at once
 * is data. */
static int shaper_rate(struct nf_vif *v, uint64_t bytes, uint64_t burst)
{
	uint64_t ack = bytes / ACK_SHARE ? bytes / ACK_SHARE : 1;
	unsigned ifx = v->key.ifindex;
	int rc;

	rc = tc_htb_class_burst(v->nl, ifx, SHAPER_CLASS, SHAPER_HANDLE, bytes, bytes, burst);
	if (!rc)
		rc = tc_htb_class_prio(v->nl, ifx, SHAPER_ACK, SHAPER_CLASS, ack, bytes, 0, 0);
	if (!rc)
		rc = tc_htb_class_prio(v->nl, ifx, SHAPER_DATA, SHAPER_CLASS, bytes - ack, bytes,
				       burst, 1);
	if (!rc && v->ingress)
		rc = shaper_queue(v, bytes);
	if (!rc) {
		v->shaper_bytes = bytes;
		v->shaper_burst = burst;
	}
	return rc;
}

/* The shaper in place (in the VM's namespace, or on the host end for ingress), unlimited until
 * the first limit. */
static int shaper_start(struct nf_vif *v)
{
	int rc;

	v->nl = rtnl_open(0);
	if (!v->nl)
		return -errno;
	v->shaper_bytes = 0;
	v->queue_bytes = 0;
	rc = tc_htb_qdisc(v->nl, v->key.ifindex, SHAPER_HANDLE, NETFRONT_CLASS_DATA);
	if (!rc)
		rc = shaper_rate(v, SHAPER_UNLIMITED_BYTES, 0);
	if (rc) {
		tc_delete(v->nl, RTM_DELQDISC, v->key.ifindex, SHAPER_HANDLE, TC_H_ROOT);
		mnl_socket_close(v->nl);
		v->nl = NULL;
		return rc;
	}
	return 0;
}

/* The guest end back to its default qdisc. A device already gone took the qdisc with it. */
static int shaper_stop(struct nf_vif *v)
{
	int rc;

	if (!v->nl)
		return 0;
	rc = tc_delete(v->nl, RTM_DELQDISC, v->key.ifindex, SHAPER_HANDLE, TC_H_ROOT);
	mnl_socket_close(v->nl);
	v->nl = NULL;
	return rc == -ENODEV || rc == -ENOENT || rc == -EINVAL ? 0 : rc;
}

/*
 * The clsact qdiscs this process made, and how many of its filters each holds. A vif's two
 * directions may be held by two enforcers (xen-credit: its counting tap on tc ingress of the
 * vif in dom0, vif-police's hook for what the VM receives on tc egress), and removing the qdisc
 * takes both attach points with it: it goes with the last of our filters, and only if it was
 * made here (one made by someone else stays). Keyed by namespace cookie (0: the agent's own)
 * and ifindex. The loop's thread alone calls these.
 */
struct clsact_use {
	__u64 cookie;
	__u32 ifindex;
	unsigned users;
};
static struct clsact_use *clsacts;
static size_t n_clsacts;

static struct clsact_use *clsact_find(const struct nf_vif *v)
{
	for (size_t i = 0; i < n_clsacts; i++)
		if (clsacts[i].cookie == v->key.netns_cookie &&
		    clsacts[i].ifindex == v->key.ifindex)
			return &clsacts[i];
	return NULL;
}

/* v's filter goes on the qdisc, which bpf_tc_hook_create just made (created) or found. */
static int clsact_take(struct nf_vif *v, bool created)
{
	struct clsact_use *u = clsact_find(v), *grown;

	if (!u && !created)
		return 0; /* not ours: left as found */
	if (!u) {
		grown = realloc(clsacts, (n_clsacts + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		clsacts = grown;
		u = &clsacts[n_clsacts++];
		*u = (struct clsact_use){ v->key.netns_cookie, v->key.ifindex, 0 };
	}
	u->users++;
	v->uses_clsact = true;
	return 0;
}

/* v's filter is off the qdisc: true when the qdisc is ours and no filter of ours is left. */
static bool clsact_give(struct nf_vif *v)
{
	struct clsact_use *u = v->uses_clsact ? clsact_find(v) : NULL;

	v->uses_clsact = false;
	if (!u || --u->users)
		return false;
	*u = clsacts[--n_clsacts];
	if (!n_clsacts) {
		free(clsacts);
		clsacts = NULL;
	}
	return true;
}

/* The clsact qdisc on v's device, for a filter of v's at attach_point. */
static int clsact_open(struct nf_vif *v, struct bpf_tc_hook *hook)
{
	int rc = bpf_tc_hook_create(hook);

	if (rc && rc != -EEXIST)
		return rc;
	return clsact_take(v, rc == 0);
}

/* v's filter off: the qdisc removed with the last of ours. Only both attach points together
 * name the clsact qdisc itself; one alone would just flush its filters. */
static int clsact_close(struct nf_vif *v, struct bpf_tc_hook *hook)
{
	if (!clsact_give(v))
		return 0;
	hook->attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	return bpf_tc_hook_destroy(hook);
}

/* The hook and its shaper on the device's egress, from inside the namespace it is in: the
 * guest end's (entered by in_netns), or the host end's (the agent's own, for ingress). */
static int hook_in_ns(void *arg)
{
	struct hook_op *op = arg;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)op->v->key.ifindex,
			    .attach_point = BPF_TC_EGRESS);
	struct bpf_program *prog = op->v->ingress ? op->nf->skel->progs.netfront_host
						  : op->nf->skel->progs.netfront_egress;
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	int rc;

	if (!op->attach) {
		rc = shaper_stop(op->v);
		if (op->v->hooked) {
			int rc2;

			opts.flags = opts.prog_fd = opts.prog_id = 0;
			rc2 = bpf_tc_detach(&hook, &opts);
			rc = rc ? rc : rc2;
		}
		op->v->hooked = false;
		if (!rc)
			rc = clsact_close(op->v, &hook);
		else
			clsact_give(op->v);
		return rc;
	}
	rc = clsact_open(op->v, &hook);
	if (rc)
		return rc;
	opts.prog_fd = bpf_program__fd(prog);
	opts.flags = BPF_TC_F_REPLACE;
	rc = bpf_tc_attach(&hook, &opts);
	if (!rc)
		rc = shaper_start(op->v);
	if (rc) {
		opts.flags = opts.prog_fd = opts.prog_id = 0;
		bpf_tc_detach(&hook, &opts);
		clsact_close(op->v, &hook);
		return rc;
	}
	op->v->hooked = true;
	return 0;
}

/* The tap on Xen: the program on tc ingress of the host end, in the agent's own namespace. */
static int tap_hook(struct netfront *nf, struct nf_vif *v, bool attach)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)v->key.ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	int rc;

	if (attach) {
		rc = clsact_open(v, &hook);
		if (rc)
			return rc;
		opts.prog_fd = bpf_program__fd(nf->skel->progs.netfront_tap);
		opts.flags = BPF_TC_F_REPLACE;
		rc = bpf_tc_attach(&hook, &opts);
		v->hooked = rc == 0;
		if (!rc)
			return 0;
	} else {
		rc = v->hooked ? bpf_tc_detach(&hook, &opts) : 0;
	}
	clsact_close(v, &hook);
	v->hooked = false;
	return rc == -ENODEV || rc == -ENOENT ? 0 : rc;
}

static int map_fd(struct netfront *nf, int which)
{
	struct bpf_map *m[] = { nf->skel->maps.vif_slot, nf->skel->maps.limits,
				nf->skel->maps.buckets, nf->skel->maps.counters };

	return bpf_map__fd(m[which]);
}

enum { M_SLOT, M_LIMITS, M_BUCKETS, M_COUNTERS };

static int nf_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l);

/* Adds the uplink (a driver-domain device) to those the uplink program watches, once. */
static int watch_uplink(struct netfront *nf, const char *name)
{
	struct netfront_uplink_key k = { nf->own_cookie, if_nametoindex(name), 0 };
	__u32 zero = 0, i;

	if (!k.ifindex)
		return -errno;
	for (i = 0; i < nf->cfg.n_uplinks; i++)
		if (nf->cfg.uplink[i].ifindex == k.ifindex)
			return 0;
	if (i == NETFRONT_MAX_UPLINKS)
		return -ENOSPC;
	nf->cfg.uplink[i] = k;
	nf->cfg.n_uplinks++;
	return bpf_map_update_elem(bpf_map__fd(nf->skel->maps.config), &zero, &nf->cfg, BPF_ANY)
		       ? -errno
		       : 0;
}

static int nf_attach(struct enforcer *e, struct enf_vif *ev)
{
	static const struct enf_limit unlimited = { .bps = UINT64_MAX,
						    .pps = UINT64_MAX,
						    .shape = { .dscp = -1 } };
	const struct platform_vif *d = ev->desc;
	struct netfront *nf = e->priv;
	struct nf_vif *v;
	struct netfront_bucket zero;
	struct hook_op op;
	__u32 slot;
	int rc;

	bool ingress = ev->dir == SLA_INGRESS;

	if (ingress && nf->tap && !nf->police)
		return -EOPNOTSUPP; /* the measuring tap does not hold ingress */
	if (nf->tap || ingress ? !d->host_ifindex
			       : !d->guest_netns[0] || !d->netns_cookie || !d->guest_ifindex)
		return -EINVAL; /* the platform did not say where the end to hook is */
	if (slots_free(&nf->slots) < 0)
		return -ENOSPC;
	slot = (__u32)slots_free(&nf->slots);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->ingress = ingress;
	v->key.netns_cookie = nf->tap || ingress ? 0 : d->netns_cookie;
	v->key.ifindex = nf->tap || ingress ? d->host_ifindex : d->guest_ifindex;
	v->key.ingress = ingress;
	v->pps = UINT64_MAX;
	v->shape.dscp = -1;
	v->slot = slot;
	/* Fresh bucket state for the slot before the key leads packets to it. Its counters
	 * are not zeroed (their page is shared with other vifs and written by the hook on every
	 * CPU): a reused slot's counts go on from the last vif's, and the agent measures from
	 * its first reading (measure.c), as for any counter it did not start. */
	memset(&zero, 0, sizeof(zero));
	rc = bpf_map_update_elem(map_fd(nf, M_BUCKETS), &slot, &zero, BPF_ANY) ? -errno : 0;
	ev->state = v;
	if (!rc)
		rc = nf_apply(e, ev, &unlimited);
	if (!rc)
		rc = bpf_map_update_elem(map_fd(nf, M_SLOT), &v->key, &slot, BPF_NOEXIST);
	if (!rc) {
		uint64_t t0 = loop_now_ns();

		op = (struct hook_op){ nf, v, true };
		rc = ingress   ? hook_in_ns(&op)
		     : nf->tap ? tap_hook(nf, v, true)
			       : in_netns(nf, d->guest_netns, hook_in_ns, &op);
		log_debug("hook attached vm=%s vif=%s direction=%s rc=%d us=%" PRIu64,
			  log_q(ev->vm), log_q(d->id), sla_dir_name[ev->dir], rc,
			  (loop_now_ns() - t0) / 1000);
		if (rc)
			bpf_map_delete_elem(map_fd(nf, M_SLOT), &v->key);
	}
	if (rc) {
		ev->state = NULL;
		free(v);
		return rc < 0 ? rc : -EIO;
	}
	slots_take(&nf->slots, slot);
	nf->by_slot[slot] = ev;
	if (nf->rb && !ingress && watch_uplink(nf, d->uplink))
		log_warn("netfront uplink not watched, no delay vm=%s uplink=%s", log_q(ev->vm),
			 log_q(d->uplink));
	return 0;
}

static void nf_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v = ev->state;
	struct hook_op op = { nf, v, false };
	int rc;

	if (!v)
		return;
	rc = v->ingress ? hook_in_ns(&op)
	     : nf->tap	? tap_hook(nf, v, false)
			: in_netns(nf, ev->desc->guest_netns, hook_in_ns, &op);
	/* A device already gone took its hook and shaper with it. */
	if (rc && rc != -ENOENT && rc != -ENODEV)
		log_warn("netfront hook not removed vm=%s vif=%s direction=%s err=%s",
			 log_q(ev->vm), log_q(ev->desc->id), sla_dir_name[ev->dir], strerror(-rc));
	if (v->nl) { /* the namespace is gone, and the shaper with its device */
		mnl_socket_close(v->nl);
		v->nl = NULL;
	}
	bpf_map_delete_elem(map_fd(nf, M_SLOT), &v->key);
	slots_put(&nf->slots, v->slot);
	nf->by_slot[v->slot] = NULL;
	free(v);
	ev->state = NULL;
}

/* Reads the counter pages of slots 0 .. the highest in use in one BPF_MAP_LOOKUP_BATCH. Slots
 * are handed out lowest first, so that range stays as short as the number of vifs allows. */
static int nf_sync(struct enforcer *e, uint64_t now_ns)
{
	struct netfront *nf = e->priv;
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = (nf->slots.top + NETFRONT_SLOTS_PER_PAGE - 1) / NETFRONT_SLOTS_PER_PAGE, out;
	int rc;

	struct netfront_counter_page *t = nf->prev;
	size_t copies = (size_t)nf->n_cpus;

	(void)now_ns;
	nf->prev = nf->snap;
	nf->snap = t;
	nf->n_prev = nf->n_read;
	nf->n_read = 0;
	if (count == 0)
		return 0;
	rc = bpf_map_lookup_batch(map_fd(nf, M_COUNTERS), NULL, &out, nf->snap_keys, nf->snap,
				  &count, &opts);
	if (rc && errno != ENOENT) /* ENOENT: the end of the map came first, count is right */
		return -errno;
	nf->n_read = count;
	/* A few hundred KB compared at memory speed, against 2 x 9 sums a vif (a third of an
	 * idle agent's time at 1,000 vifs). */
	for (__u32 p = 0; p < count; p++)
		nf->moved[p] =
			p >= nf->n_prev || memcmp(&nf->snap[p * copies], &nf->prev[p * copies],
						  copies * sizeof(*nf->snap));
	return 0;
}

static bool nf_unchanged(struct enforcer *e, struct enf_vif *ev)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v = ev->state;
	size_t page;

	if (!v)
		return false;
	page = v->slot / NETFRONT_SLOTS_PER_PAGE;
	return page < nf->n_read && !nf->moved[page];
}

static int nf_read_counters(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v = ev->state;
	__u64 sum[NETFRONT_N_COUNTERS] = { 0 };
	size_t page, idx;

	if (!v)
		return -ENOENT;
	page = v->slot / NETFRONT_SLOTS_PER_PAGE;
	idx = v->slot % NETFRONT_SLOTS_PER_PAGE;
	if (page >= nf->n_read) /* attached since the last sync */
		return -EAGAIN;
	for (size_t cpu = 0; cpu < (size_t)nf->n_cpus; cpu++)
		for (int k = 0; k < NETFRONT_N_COUNTERS; k++)
			sum[k] += nf->snap[page * (size_t)nf->n_cpus + cpu].slot[idx].c[k];
	*out = (struct vif_counters){ .offered_bytes = sum[NETFRONT_OFFERED_BYTES],
				      .offered_pkts = sum[NETFRONT_OFFERED_PKTS],
				      .passed_bytes = sum[NETFRONT_PASSED_BYTES],
				      .passed_pkts = sum[NETFRONT_PASSED_PKTS],
				      .dropped_bytes = sum[NETFRONT_DROPPED_BYTES],
				      .dropped_pkts = sum[NETFRONT_DROPPED_PKTS],
				      .held_pkts = sum[NETFRONT_HELD_PKTS],
				      .limited_pkts = { sum[NETFRONT_LIMITED_BPS_PKTS],
							sum[NETFRONT_LIMITED_PPS_PKTS] },
				      .limited_known = true };
	return 0;
}

/* The bytes a burst of bits lets through at once, never less than two full frames: 0 for none. */
static uint64_t burst_bytes_of(uint64_t bits)
{
	return !bits ? 0 : bits / 8 < 2 * 1514 ? 2 * 1514 : bits / 8;
}

/* A limit as the hook's costs in time: the packet rate it holds, and the bit rate the shaper
 * holds, which its byte bucket follows to count what the shaper will make wait. 0 passes
 * nothing: a packet cost so large that the first packet spends more than any burst (a bit
 * rate of 0 too, at the hook, where nothing is queued for a rate that never comes). The SLA's
 * bursts (sh), where it gives them, are the buckets' depths; its mark, the DSCP to write. */
static struct netfront_limit limit_of(uint64_t bps, uint64_t pps, const struct enf_shape *sh)
{
	struct netfront_limit l = {
		0, 0, 0, BURST_NS, PKT_DEPTH_NS, sh->dscp >= 0, sh->dscp >= 0 ? (__u32)sh->dscp : 0
	};

	if (bps == 0)
		pps = 0;
	if (bps != UINT64_MAX && bps) {
		l.ns_per_byte_q16 = (8000000000ull << 16) / bps;
		if (l.ns_per_byte_q16 == 0)
			l.ns_per_byte_q16 = 1; /* faster than 1 byte per 2^16 ns: never 0 */
		/* The shaper's own burst, so the bucket calls held what the shaper holds. */
		l.burst_bytes_ns = (sh->burst_bits ? burst_bytes_of(sh->burst_bits)
						   : tc_htb_burst_bytes(bps / 8 ? bps / 8 : 1)) *
					   l.ns_per_byte_q16 >>
				   16;
	}
	if (pps != UINT64_MAX) {
		l.ns_per_pkt = pps ? 1000000000ull / pps : (1ull << 62);
		if (l.ns_per_pkt == 0)
			l.ns_per_pkt = 1;
		if (2 * l.ns_per_pkt > BURST_NS && pps)
			l.burst_pkts_ns = 2 * l.ns_per_pkt;
		if (2 * l.ns_per_pkt > PKT_DEPTH_NS && pps)
			l.depth_pkts_ns = 2 * l.ns_per_pkt;
		if (sh->burst_pkts && pps)
			l.burst_pkts_ns = (sh->burst_pkts < 2 ? 2 : sh->burst_pkts) * l.ns_per_pkt;
	}
	if (pps == 0)
		l.burst_pkts_ns = l.depth_pkts_ns = 0;
	return l;
}

/* The hook's limits and the shaper's rate for a limit of bps and pps: the shaper holds both,
 * the packet rate folded in by the mean frame (frame.h), so a flow held by packets waits in
 * the guest as one held by bits does; the hook's packet bucket stays the exact bound, and its
 * byte bucket follows the shaper. */
static int nf_set(struct netfront *nf, struct nf_vif *v, uint64_t bps, uint64_t pps,
		  const struct enf_shape *sh)
{
	uint64_t bits = frame_fold(bps, pps, &v->frame);
	uint64_t bytes = bits == UINT64_MAX ? SHAPER_UNLIMITED_BYTES : bits / 8;
	uint64_t burst = burst_bytes_of(sh->burst_bits);
	struct netfront_limit l = limit_of(bits, pps, sh);

	if (bpf_map_update_elem(map_fd(nf, M_LIMITS), &v->slot, &l, BPF_ANY))
		return -errno;
	v->pps = pps;
	v->shape = *sh;
	if (!v->nl || (bytes == v->shaper_bytes && burst == v->shaper_burst))
		return 0;
	return shaper_rate(v, bytes, burst);
}

static bool shape_equal(const struct enf_shape *a, const struct enf_shape *b)
{
	return a->burst_bits == b->burst_bits && a->burst_pkts == b->burst_pkts &&
	       a->dscp == b->dscp;
}

/* The mean frame, from what passed under the packet limit last in force. */
static void nf_learn(struct nf_vif *v, const struct enf_limit *l)
{
	frame_learn(&v->frame, &l->passed, v->shaper_bytes * 8, v->pps);
}

/*
 * Whether a vif far from its limit may keep the one it has: on a host of a thousand VMs,
 * one VM coming or going moves every other's share of the headroom a little, and setting a
 * thousand shapers (a netlink round trip each, in each VM's namespace) took 13 ms of a 10 ms
 * period. A vif that passed less than half its shaper's rate last period does not feel the
 * rate; it keeps it while the new limit is higher (what it is allowed only grows: it gets the
 * new one as soon as it is busy, at the next period) and the old one is at least its
 * guarantee, or while the new one is lower by at most 1/64; the same for packets. Anything
 * else is set at once: a guarantee is never held back, and in strict mode a limit is never
 * more than 1/64 above its allocation, on an idle vif only.
 */
static bool may_keep(uint64_t now, uint64_t want, uint64_t passed, uint64_t guarantee)
{
	if (passed >= now / 2)
		return false;
	if (want >= now)
		return now >= guarantee;
	return now - want <= now / 64;
}

static bool may_wait(const struct nf_vif *v, uint64_t bits, const struct enf_limit *l)
{
	return v->shaper_bytes && may_keep(v->shaper_bytes * 8, bits, l->passed.bps, l->min_bps) &&
	       may_keep(v->pps, l->pps, l->passed.pps, l->min_pps);
}

/* Sets the limit, unless it is a jitter of the frame below 1 % (tolerant) or may wait. */
static int nf_update(struct netfront *nf, struct nf_vif *v, const struct enf_limit *l,
		     bool tolerant)
{
	uint64_t bits = frame_fold(l->bps, l->pps, &v->frame);
	uint64_t want = bits == UINT64_MAX ? SHAPER_UNLIMITED_BYTES : bits / 8;
	uint64_t now_bits = v->shaper_bytes * 8;

	if (!shape_equal(&l->shape, &v->shape)) /* the SLA's burst or mark: at once */
		return nf_set(nf, v, l->bps, l->pps, &l->shape);
	if (want == v->shaper_bytes && l->pps == v->pps)
		return 0;
	if (tolerant && l->pps == v->pps && bits != UINT64_MAX &&
	    (bits > now_bits ? bits - now_bits : now_bits - bits) * 100 <= now_bits)
		return 0;
	if (may_wait(v, bits, l))
		return 0;
	return nf_set(nf, v, l->bps, l->pps, &l->shape);
}

static int nf_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct nf_vif *v = ev->state;

	if (!v)
		return -ENOENT;
	nf_learn(v, l);
	return nf_update(e->priv, v, l, false);
}

/* The limit stands, but the frame it folds the packet rate in by moves (set again when that
 * moves the shaper's rate by more than 1 %), or the vif has become busy under a limit that
 * waited. */
static int nf_retune(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct nf_vif *v = ev->state;

	if (!v)
		return -ENOENT;
	nf_learn(v, l);
	return nf_update(e->priv, v, l, true);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct netfront *nf = ctx;
	const struct netfront_sample *s = data;

	if (size < sizeof(*s))
		return 0;
	if (s->where == NETFRONT_AT_UPLINK) {
		delay_at_uplink(nf->matcher, s->sig, s->ts_ns);
	} else if (s->where == NETFRONT_AT_UPLINK_IN) {
		delay_at_entry(nf->matcher, s->sig, s->ts_ns);
	} else if (s->slot < NETFRONT_MAX_VIFS && nf->by_slot[s->slot] &&
		   nf->by_slot[s->slot]->delay) {
		if (s->where == NETFRONT_AT_VIF)
			delay_at_vif(nf->matcher, nf->by_slot[s->slot]->delay, s->sig, s->ts_ns);
		else
			delay_at_hook(nf->matcher, nf->by_slot[s->slot]->delay, s->sig, s->ts_ns);
	}
	return 0;
}

/* The ring is read in place (mapped): no system call unless it holds samples. */
static void nf_drain_samples(struct enforcer *e, struct delay_matcher *m)
{
	struct netfront *nf = e->priv;

	if (!nf->rb)
		return;
	nf->matcher = m;
	ring_buffer__consume(nf->rb);
	nf->matcher = NULL;
	delay_expire(m, loop_now_ns()); /* bpf_ktime_get_ns's clock */
}

static void nf_close(struct enforcer *e)
{
	struct netfront *nf = e->priv;

	if (!nf)
		return;
	ring_buffer__free(nf->rb);
	bpf_link__destroy(nf->uplink_prog);
	bpf_link__destroy(nf->uplink_in_prog);
	netfront_bpf__destroy(nf->skel);
	if (nf->own_netns >= 0)
		close(nf->own_netns);
	free(nf->snap);
	free(nf->prev);
	free(nf->moved);
	free(nf->snap_keys);
	free(nf);
	e->priv = NULL;
}

static const struct enforcer_ops netfront_ops = {
	.name = "netfront",
	/* Its shaper makes senders wait: the hook sees what they could send, not what they
	 * wanted to (the allocator probes upward instead). */
	.sees_offered = false,
	.holds_ingress = true,
	.marks_dscp = true,
	.attach = nf_attach,
	.detach = nf_detach,
	.sync = nf_sync,
	.read_counters = nf_read_counters,
	.unchanged = nf_unchanged,
	.apply = nf_apply,
	.retune = nf_retune,
	.close = nf_close,
	.drain_samples = nf_drain_samples,
};

/* vif-police's burst: netback hands dom0 a guest's packets a NAPI poll at a time, up to 64
 * back to back, so a policer's burst must take that many, or 20 ms of rate (netback's credit
 * window), whichever is more. With the hook's 5 ms, a flood of 64-byte frames at 3x a limit
 * of 1,250 a second passed 397 a second, a third of its limit (a real Xen under QEMU). */
#define POLICE_BATCH 64ull
#define POLICE_BURST_NS 20000000ull

static uint64_t police_burst_ns(uint64_t ns_per_unit, uint64_t units)
{
	uint64_t b = ns_per_unit * units;

	return b > POLICE_BURST_NS ? b : POLICE_BURST_NS;
}

/* vif-police: the limits as the hook's buckets, bit and packet rates each held on its own
 * (no frame to fold by: nothing queues), every packet over a burst dropped in dom0. */
static int police_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v = ev->state;
	struct netfront_limit lim;

	if (!v)
		return -ENOENT;
	if (v->ingress) /* ahead of netback's copy into the guest: as netfront holds it */
		return nf_apply(e, ev, l);
	lim = limit_of(l->bps, l->pps, &l->shape);
	if (lim.ns_per_pkt && l->pps && !l->shape.burst_pkts)
		lim.burst_pkts_ns = police_burst_ns(lim.ns_per_pkt, POLICE_BATCH);
	if (lim.ns_per_byte_q16 && l->bps && !l->shape.burst_bits)
		lim.burst_bytes_ns =
			police_burst_ns(lim.ns_per_byte_q16 >> 16, POLICE_BATCH * 1514);
	if (bpf_map_update_elem(map_fd(nf, M_LIMITS), &v->slot, &lim, BPF_ANY))
		return -errno;
	v->pps = l->pps;
	return 0;
}

/* vif-police's retune: only what it receives is shaped (its egress drops, nothing waits). */
static int police_retune(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct nf_vif *v = ev->state;

	return v && v->ingress ? nf_retune(e, ev, l) : 0;
}

static const struct enforcer_ops police_ops = {
	.name = "vif-police",
	.sees_offered = true, /* counts before its own drops */
	.marks_dscp = true,   /* at the hook in dom0, after netback's copy */
	/* On the vif's tc egress in dom0, before netback's receive copy into the guest, with
	 * netfront's program (netfront_host) and shaper. */
	.holds_ingress = true,
	.ingress_waits = true, /* TCP waits in the shaper: seen as it passes, as netfront */
	.attach = nf_attach,
	.detach = nf_detach,
	.sync = nf_sync,
	.read_counters = nf_read_counters,
	.unchanged = nf_unchanged,
	.apply = police_apply,
	.retune = police_retune,
	.close = nf_close,
	.drain_samples = nf_drain_samples,
};

static const struct enforcer_ops tap_ops = {
	.name = "none", /* measures only: the none enforcer on a Xen host */
	.sees_offered = true,
	.attach = nf_attach,
	.detach = nf_detach,
	.sync = nf_sync,
	.read_counters = nf_read_counters,
	.unchanged = nf_unchanged,
	.apply = measure_only_apply, /* it limits nothing: offered and passed alike */
	.close = nf_close,
	.drain_samples = nf_drain_samples,
};

/* The driver domain's namespace cookie: the uplinks', and on Xen the vifs'. */
static int own_cookie(struct netfront *nf)
{
	socklen_t len = sizeof(nf->own_cookie);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0 || getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &nf->own_cookie, &len) < 0)
		rc = -errno;
	if (s >= 0)
		close(s);
	return rc;
}

/* Whether it holds what vifs receive: netfront, and vif-police; the Xen tap does not. */
static bool holds_ingress(const struct netfront *nf)
{
	return !nf->tap || nf->police;
}

/* Sampling on: the uplink program attached, the ring opened, the mask in the config map. */
static int sampling_start(struct netfront *nf, uint32_t every)
{
	__u32 zero = 0;

	nf->uplink_prog = bpf_program__attach(nf->skel->progs.netfront_uplink);
	if (!nf->uplink_prog)
		return -errno;
	if (holds_ingress(nf)) {
		nf->uplink_in_prog = bpf_program__attach(nf->skel->progs.netfront_uplink_in);
		if (!nf->uplink_in_prog)
			return -errno;
		nf->cfg.host_netns_cookie = nf->own_cookie;
	}
	nf->rb = ring_buffer__new(bpf_map__fd(nf->skel->maps.samples), on_sample, nf, NULL);
	if (!nf->rb)
		return -errno;
	nf->cfg.sample_mask = every - 1;
	nf->cfg.sample_on = 1;
	return bpf_map_update_elem(bpf_map__fd(nf->skel->maps.config), &zero, &nf->cfg, BPF_ANY)
		       ? -errno
		       : 0;
}

static int open_as(struct enforcer *e, const struct enforcer_ops *ops, uint32_t sample_every,
		   char *why, size_t why_len)
{
	struct netfront *nf = calloc(1, sizeof(*nf));
	bool tap = ops != &netfront_ops;
	const char *name = ops == &tap_ops ? "xen tap" : ops->name;
	int rc;

	if (!nf)
		return -ENOMEM;
	bpf_log_route();
	nf->tap = tap;
	nf->police = ops == &police_ops;
	nf->own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	nf->n_cpus = libbpf_num_possible_cpus();
	rc = nf->own_netns < 0 ? -errno : nf->n_cpus <= 0 ? nf->n_cpus : own_cookie(nf);
	if (rc) {
		snprintf(why, why_len, "%s: %s", name, strerror(-rc));
		goto fail;
	}
	nf->snap = calloc((size_t)NETFRONT_PAGES * (size_t)nf->n_cpus, sizeof(*nf->snap));
	nf->prev = calloc((size_t)NETFRONT_PAGES * (size_t)nf->n_cpus, sizeof(*nf->prev));
	nf->moved = calloc(NETFRONT_PAGES, sizeof(*nf->moved));
	nf->snap_keys = calloc(NETFRONT_PAGES, sizeof(*nf->snap_keys));
	nf->skel = netfront_bpf__open();
	/* Without sampling the uplink program is not even loaded (it needs the kernel's BTF);
	 * of the two hooks, only the one used. */
	if (nf->skel && !sample_every)
		bpf_program__set_autoload(nf->skel->progs.netfront_uplink, false);
	if (nf->skel && (!sample_every || !holds_ingress(nf)))
		bpf_program__set_autoload(nf->skel->progs.netfront_uplink_in, false);
	if (nf->skel) {
		bpf_program__set_autoload(tap ? nf->skel->progs.netfront_egress
					      : nf->skel->progs.netfront_tap,
					  false);
		if (tap && ops != &police_ops) /* vif-police holds ingress with it */
			bpf_program__set_autoload(nf->skel->progs.netfront_host, false);
	}
	if (nf->skel && netfront_bpf__load(nf->skel)) {
		netfront_bpf__destroy(nf->skel);
		nf->skel = NULL;
	}
	if (!nf->snap || !nf->prev || !nf->moved || !nf->snap_keys || !nf->skel) {
		rc = errno ? -errno : -ENOMEM;
		snprintf(why, why_len,
			 "%s: the BPF program did not load (%s); it needs root (CAP_BPF and "
			 "CAP_NET_ADMIN) and a kernel with BPF and clsact",
			 name, strerror(-rc));
		goto fail;
	}
	if (sample_every && (rc = sampling_start(nf, sample_every))) {
		snprintf(why, why_len,
			 "%s: delay sampling could not start (%s); --sample-every 0 turns it "
			 "off",
			 name, strerror(-rc));
		goto fail;
	}
	e->ops = ops;
	e->priv = nf;
	e->sample_every = sample_every;
	return 0;
fail:
	if (nf->own_netns >= 0)
		close(nf->own_netns);
	ring_buffer__free(nf->rb);
	bpf_link__destroy(nf->uplink_prog);
	bpf_link__destroy(nf->uplink_in_prog);
	netfront_bpf__destroy(nf->skel);
	free(nf->snap);
	free(nf->prev);
	free(nf->moved);
	free(nf->snap_keys);
	free(nf);
	return rc;
}

int netfront_open(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len)
{
	return open_as(e, &netfront_ops, sample_every, why, why_len);
}

int netfront_tap_open(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len)
{
	return open_as(e, &tap_ops, sample_every, why, why_len);
}

int netfront_police_open(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len)
{
	return open_as(e, &police_ops, sample_every, why, why_len);
}
