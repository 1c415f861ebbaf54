/*
 * netfront.c: loads netfront.bpf.c (through its skeleton, generated at build time) once, and
 * for each vif attaches it to tc egress (clsact) of the guest end, inside the VM's namespace.
 * Limits and counters live in maps this process owns: changing a limit is one map update,
 * never a reload.
 *
 * Attaching needs a netlink socket in the VM's namespace; libbpf opens one per call, so the
 * loop thread enters the namespace (setns) for the call and returns to its own at once.
 */
#include "netfront.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "enforcer.h"
#include "host.h"
#include "log.h"
#include "netfront.skel.h"
#include "rtnl.h"

/* The default burst (DESIGN.md section 6): 5 ms of rate, and at least two full frames. */
#define BURST_NS 5000000ull
#define MAX_FRAME_BYTES 1514ull

struct netfront {
	struct netfront_bpf *skel;
	int own_netns; /* the driver domain, to come back to */
	int n_cpus;
	unsigned char used[NETFRONT_MAX_VIFS];
	/* The counter pages in use, as read by the last sync: one batched lookup a period
	 * instead of a syscall per vif. n_cpus entries per page, pages [0, n_read). */
	struct netfront_counter_page *snap;
	__u32 *snap_keys;
	__u32 n_read;
	__u32 top; /* 1 + the highest slot in use */
};

struct nf_vif {
	struct netfront_key key;
	__u32 slot;
	bool hooked;	   /* our filter is attached */
	bool created_hook; /* the clsact qdisc is ours to remove */
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

static int hook_in_ns(void *arg)
{
	struct hook_op *op = arg;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)op->v->key.ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	int rc;

	if (!op->attach) {
		rc = 0;
		if (op->v->hooked) {
			opts.flags = opts.prog_fd = opts.prog_id = 0;
			rc = bpf_tc_detach(&hook, &opts);
		}
		/* Only both attach points together name the clsact qdisc itself; one alone
		 * would just flush its filters. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		if (op->v->created_hook && !rc)
			rc = bpf_tc_hook_destroy(&hook);
		op->v->hooked = op->v->created_hook = false;
		return rc;
	}
	rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST)
		return rc;
	op->v->created_hook = rc == 0;
	opts.prog_fd = bpf_program__fd(op->nf->skel->progs.netfront_egress);
	opts.flags = BPF_TC_F_REPLACE;
	rc = bpf_tc_attach(&hook, &opts);
	if (rc) {
		if (op->v->created_hook)
			bpf_tc_hook_destroy(&hook);
		op->v->created_hook = false;
		return rc;
	}
	op->v->hooked = true;
	return 0;
}

static int map_fd(struct netfront *nf, int which)
{
	struct bpf_map *m[] = { nf->skel->maps.vif_slot, nf->skel->maps.limits,
				nf->skel->maps.buckets, nf->skel->maps.counters };

	return bpf_map__fd(m[which]);
}

enum { M_SLOT, M_LIMITS, M_BUCKETS, M_COUNTERS };

static int nf_apply(struct enforcer *e, struct vif *vif, uint64_t bps, uint64_t pps);

static int nf_attach(struct enforcer *e, struct vif *vif)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v;
	struct netfront_bucket zero;
	struct hook_op op;
	__u32 slot;
	int rc;

	if (!vif->desc.guest_netns[0] || !vif->desc.netns_cookie || !vif->desc.guest_ifindex)
		return -EINVAL; /* the platform did not say where the guest end is */
	for (slot = 0; slot < NETFRONT_MAX_VIFS && nf->used[slot]; slot++)
		;
	if (slot == NETFRONT_MAX_VIFS)
		return -ENOSPC;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->key.netns_cookie = vif->desc.netns_cookie;
	v->key.ifindex = vif->desc.guest_ifindex;
	v->slot = slot;
	/* Fresh bucket state for the slot before the key leads packets to it. Its counters
	 * are not zeroed (their page is shared with other vifs and written by the hook on every
	 * CPU): a reused slot's counts go on from the last vif's, and the agent measures from
	 * its first reading (measure.c), as for any counter it did not start. */
	memset(&zero, 0, sizeof(zero));
	rc = bpf_map_update_elem(map_fd(nf, M_BUCKETS), &slot, &zero, BPF_ANY) ? -errno : 0;
	vif->enf = v;
	if (!rc)
		rc = nf_apply(e, vif, UINT64_MAX, UINT64_MAX);
	if (!rc)
		rc = bpf_map_update_elem(map_fd(nf, M_SLOT), &v->key, &slot, BPF_NOEXIST);
	if (!rc) {
		op = (struct hook_op){ nf, v, true };
		rc = in_netns(nf, vif->desc.guest_netns, hook_in_ns, &op);
		if (rc)
			bpf_map_delete_elem(map_fd(nf, M_SLOT), &v->key);
	}
	if (rc) {
		vif->enf = NULL;
		free(v);
		return rc < 0 ? rc : -EIO;
	}
	nf->used[slot] = 1;
	if (slot + 1 > nf->top)
		nf->top = slot + 1;
	return 0;
}

static void nf_detach(struct enforcer *e, struct vif *vif)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v = vif->enf;
	struct hook_op op = { nf, v, false };
	int rc;

	if (!v)
		return;
	rc = in_netns(nf, vif->desc.guest_netns, hook_in_ns, &op);
	if (rc && rc != -ENOENT)
		log_warn("netfront hook not removed vm=%s vif=%s err=%s", vif->vm->id, vif->desc.id,
			 strerror(-rc));
	bpf_map_delete_elem(map_fd(nf, M_SLOT), &v->key);
	nf->used[v->slot] = 0;
	while (nf->top > 0 && !nf->used[nf->top - 1])
		nf->top--;
	free(v);
	vif->enf = NULL;
}

/* Reads the counter pages of slots 0 .. the highest in use in one BPF_MAP_LOOKUP_BATCH. Slots
 * are handed out lowest first, so that range stays as short as the number of vifs allows. */
static int nf_sync(struct enforcer *e, uint64_t now_ns)
{
	struct netfront *nf = e->priv;
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = (nf->top + NETFRONT_SLOTS_PER_PAGE - 1) / NETFRONT_SLOTS_PER_PAGE, out;
	int rc;

	(void)now_ns;
	nf->n_read = 0;
	if (count == 0)
		return 0;
	rc = bpf_map_lookup_batch(map_fd(nf, M_COUNTERS), NULL, &out, nf->snap_keys, nf->snap,
				  &count, &opts);
	if (rc && errno != ENOENT) /* ENOENT: the end of the map came first, count is right */
		return -errno;
	nf->n_read = count;
	return 0;
}

static int nf_read_counters(struct enforcer *e, struct vif *vif, struct vif_counters *out)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v = vif->enf;
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
	*out = (struct vif_counters){ sum[NETFRONT_OFFERED_BYTES], sum[NETFRONT_OFFERED_PKTS],
				      sum[NETFRONT_PASSED_BYTES],  sum[NETFRONT_PASSED_PKTS],
				      sum[NETFRONT_DROPPED_BYTES], sum[NETFRONT_DROPPED_PKTS] };
	return 0;
}

/* bps/pps to costs in time. 0 passes nothing: a cost so large that the first packet spends
 * more than any burst. */
static struct netfront_limit limit_of(uint64_t bps, uint64_t pps)
{
	struct netfront_limit l = { 0, 0, BURST_NS, BURST_NS };

	if (bps != UINT64_MAX) {
		l.ns_per_byte_q16 = bps ? ((8000000000ull << 16) / bps) : (1ull << 47);
		if (l.ns_per_byte_q16 == 0)
			l.ns_per_byte_q16 = 1; /* faster than 1 byte per 2^16 ns: never 0 */
		if (2 * MAX_FRAME_BYTES * l.ns_per_byte_q16 >> 16 > BURST_NS)
			l.burst_bytes_ns = 2 * MAX_FRAME_BYTES * l.ns_per_byte_q16 >> 16;
	}
	if (pps != UINT64_MAX) {
		l.ns_per_pkt = pps ? 1000000000ull / pps : (1ull << 62);
		if (l.ns_per_pkt == 0)
			l.ns_per_pkt = 1;
		if (2 * l.ns_per_pkt > BURST_NS && pps)
			l.burst_pkts_ns = 2 * l.ns_per_pkt;
	}
	if (bps == 0 || pps == 0)
		l.burst_bytes_ns = l.burst_pkts_ns = 0;
	return l;
}

static int nf_apply(struct enforcer *e, struct vif *vif, uint64_t bps, uint64_t pps)
{
	struct netfront *nf = e->priv;
	struct nf_vif *v = vif->enf;
	struct netfront_limit l = limit_of(bps, pps);

	if (!v)
		return -ENOENT;
	return bpf_map_update_elem(map_fd(nf, M_LIMITS), &v->slot, &l, BPF_ANY) ? -errno : 0;
}

static void nf_close(struct enforcer *e)
{
	struct netfront *nf = e->priv;

	if (!nf)
		return;
	netfront_bpf__destroy(nf->skel);
	if (nf->own_netns >= 0)
		close(nf->own_netns);
	free(nf->snap);
	free(nf->snap_keys);
	free(nf);
	e->priv = NULL;
}

static const struct enforcer_ops netfront_ops = {
	.name = "netfront",
	.sees_offered = true,
	.attach = nf_attach,
	.detach = nf_detach,
	.sync = nf_sync,
	.read_counters = nf_read_counters,
	.apply = nf_apply,
	.close = nf_close,
};

int netfront_open(struct enforcer *e, char *why, size_t why_len)
{
	struct netfront *nf = calloc(1, sizeof(*nf));
	int rc;

	if (!nf)
		return -ENOMEM;
	nf->own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	nf->n_cpus = libbpf_num_possible_cpus();
	if (nf->own_netns < 0 || nf->n_cpus <= 0) {
		rc = nf->own_netns < 0 ? -errno : nf->n_cpus;
		snprintf(why, why_len, "netfront: %s", strerror(-rc));
		goto fail;
	}
	nf->snap = calloc((size_t)NETFRONT_PAGES * (size_t)nf->n_cpus, sizeof(*nf->snap));
	nf->snap_keys = calloc(NETFRONT_PAGES, sizeof(*nf->snap_keys));
	nf->skel = netfront_bpf__open_and_load();
	if (!nf->snap || !nf->snap_keys || !nf->skel) {
		rc = errno ? -errno : -ENOMEM;
		snprintf(why, why_len,
			 "netfront: the BPF program did not load (%s); it needs root (CAP_BPF and "
			 "CAP_NET_ADMIN) and a kernel with BPF and clsact",
			 strerror(-rc));
		goto fail;
	}
	e->ops = &netfront_ops;
	e->priv = nf;
	return 0;
fail:
	if (nf->own_netns >= 0)
		close(nf->own_netns);
	netfront_bpf__destroy(nf->skel);
	free(nf->snap);
	free(nf->snap_keys);
	free(nf);
	return rc;
}
