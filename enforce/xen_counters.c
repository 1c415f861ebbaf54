/*
 * xen_counters.c: vif counters from the tap (netfront.c), the netdevs (none.c) or libxenstat.
 * libxenstat: one xenstat_get_node(XENSTAT_NETWORK) a period (a hypercall for the domain list,
 * then each domain's vifs), copied out into a table sorted by (domid, devid) and freed at once;
 * a vif's reading is a lookup in it.
 */
#include "xen_counters.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstat.h>

#include "counter_chain.h"
#include "enforcer.h"
#include "log.h"
#include "measure_only.h"
#include "netfront.h"
#include "none.h"
#include "xen.h"

struct xst {
	xenstat_handle *h;
	/* By domid << 16 | devid. libxenstat reports dom0's side of each vif (its /proc/net/dev
	 * line on Linux): what dom0 received (rbytes) is what the guest sent. */
	struct counter_table vifs;
	bool failing; /* the last xenstat_get_node failed: said once until it works again */
};

/* A vif id of the xen platform to a key; false if it is not one. */
static bool vif_key(const char *id, uint32_t *key)
{
	unsigned domid, devid;

	if (!xen_vif_id_parse(id, &domid, &devid))
		return false;
	*key = (uint32_t)(domid << 16 | devid);
	return true;
}

static int xst_attach(struct enforcer *e, struct enf_vif *ev)
{
	uint32_t key;

	(void)e;
	return vif_key(ev->desc->id, &key) ? 0 : -EINVAL;
}

static int xst_sync(struct enforcer *e, uint64_t now_ns)
{
	struct xst *x = e->priv;
	xenstat_node *node = xenstat_get_node(x->h, XENSTAT_NETWORK);
	unsigned n_doms;
	int rc = 0;

	(void)now_ns;
	x->vifs.n = 0;
	if (!node) {
		if (!x->failing)
			log_warn("libxenstat: no statistics this period err=%s; vif rates read 0 "
				 "until it answers",
				 strerror(errno ? errno : EIO));
		x->failing = true;
		return -EIO;
	}
	if (x->failing)
		log_info("libxenstat answers again");
	x->failing = false;
	n_doms = xenstat_node_num_domains(node);
	for (unsigned i = 0; i < n_doms && !rc; i++) {
		xenstat_domain *dom = xenstat_node_domain_by_index(node, i);
		unsigned domid = dom ? xenstat_domain_id(dom) : 0;
		unsigned n_nets = dom ? xenstat_domain_num_networks(dom) : 0;

		if (domid == 0 || domid > 0xffff) /* dom0's own interfaces are not a guest's */
			continue;
		/* The netdevs' counts without the Ethernet header, which is added back. */
		for (unsigned j = 0; j < n_nets && !rc; j++) {
			xenstat_network *net = xenstat_domain_network(dom, j);
			unsigned devid = net ? xenstat_network_id(net) : 0x10000;

			if (devid <= 0xffff)
				rc = counter_table_add(&x->vifs, domid << 16 | devid,
						       xenstat_network_rbytes(net) +
							       xenstat_network_rpackets(net) *
								       XEN_NETDEV_L2_BYTES,
						       xenstat_network_rpackets(net));
		}
	}
	xenstat_free_node(node);
	counter_table_sort(&x->vifs);
	return rc;
}

static int xst_read_counters(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	struct xst *x = e->priv;
	uint32_t key;

	if (!vif_key(ev->desc->id, &key))
		return -EINVAL;
	return counter_table_read(&x->vifs, key, out); /* -EAGAIN: not in the hypervisor's list */
}

static void xst_close(struct enforcer *e)
{
	struct xst *x = e->priv;

	if (!x)
		return;
	xenstat_uninit(x->h);
	counter_table_free(&x->vifs);
	free(x);
	e->priv = NULL;
}

static const struct enforcer_ops xst_ops = {
	.name = "none", /* measures only: this is the none enforcer on a Xen host */
	.sees_offered = true,
	.attach = xst_attach,
	.detach = measure_only_detach,
	.sync = xst_sync,
	.read_counters = xst_read_counters,
	.apply = measure_only_apply,
	.close = xst_close,
};

/* xenstat_init, without the lines libxc writes to stderr when there is no hypervisor (the
 * agent says it in one log line of its own). Only the main thread logs, and this is it. */
static xenstat_handle *quiet_xenstat_init(int *err)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	xenstat_handle *h;

	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	errno = 0;
	h = xenstat_init();
	*err = errno ? errno : ENODEV;
	if (saved >= 0 && null >= 0)
		dup2(saved, STDERR_FILENO);
	if (saved >= 0)
		close(saved);
	if (null >= 0)
		close(null);
	return h;
}

static int open_tap(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len)
{
	return netfront_tap_open(e, sample_every, why, why_len);
}

static int open_netdev(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len)
{
	(void)sample_every;
	return none_open(e, XEN_NETDEV_L2_BYTES, why, why_len);
}

static int open_xenstat(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len)
{
	struct xst *x;
	int err;
	xenstat_handle *h;

	(void)sample_every;
	h = quiet_xenstat_init(&err);
	if (!h) {
		snprintf(why, why_len, "xenstat: no hypervisor (%s)", strerror(err));
		return -err;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		xenstat_uninit(h);
		snprintf(why, why_len, "xenstat: out of memory");
		return -ENOMEM;
	}
	x->h = h;
	e->ops = &xst_ops;
	e->priv = x;
	return 0;
}

int xen_counters_open(struct enforcer *e, enum xen_counters source, uint32_t sample_every,
		      char *why, size_t why_len)
{
	/* In the order they are tried, from the one asked for: the BPF tap, the netdevs (what
	 * libxenstat reads too, without a hypercall a period), libxenstat. libxenstat asked for
	 * on a host with no hypervisor falls back to the netdevs. */
	static const struct counter_source chain[] = {
		[XEN_COUNTERS_BPF] = { "bpf", "the BPF tap on each vif's tc ingress", open_tap },
		[XEN_COUNTERS_NETDEV] = { "netdev", "the vif netdevs", open_netdev },
		[XEN_COUNTERS_XENSTAT] = { "xenstat", "libxenstat", open_xenstat },
	};
	static const struct counter_source xenstat_first[] = {
		{ "xenstat", "libxenstat", open_xenstat },
		{ "netdev", "the vif netdevs", open_netdev },
	};
	bool xs = source == XEN_COUNTERS_XENSTAT;
	int rc = counter_chain_open(e, xs ? xenstat_first : &chain[source],
				    xs ? 2 : sizeof(chain) / sizeof(chain[0]) - (size_t)source,
				    sample_every, why, why_len);

	const struct counter_source *first;
	char sampled[48] = "";

	if (rc)
		return rc;
	first = counter_chain_first(e);
	if (e->sample_every)
		snprintf(sampled, sizeof(sampled), ", delay sampled 1 in %u", e->sample_every);
	log_info("vif counters from %s%s; a vif it cannot count from the next source of %s",
		 first->what, sampled, xs ? "xenstat, netdev" : "bpf, netdev, xenstat");
	return rc;
}
