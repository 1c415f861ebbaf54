/*
 * none.c: the measure-only enforcer ("native" in the paper). Limits nothing; counts each vif
 * from its host end's interface statistics (what the driver domain received from the guest),
 * read for every vif at once by one RTM_GETLINK dump per period.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "enforcer.h"
#include "host.h"
#include "none.h"
#include "rtnl.h"

struct link_stats {
	uint32_t ifindex;
	uint64_t bytes, pkts; /* received by the host end: sent by the guest */
};

struct none {
	struct mnl_socket *nl;
	struct link_stats *s; /* sorted by ifindex */
	size_t n, cap;
};

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct none *nn = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*ifm))
	{
		struct rtnl_link_stats64 st;

		if (mnl_attr_get_type(a) != IFLA_STATS64 ||
		    mnl_attr_get_payload_len(a) < sizeof(st))
			continue;
		memcpy(&st, mnl_attr_get_payload(a), sizeof(st));
		if (nn->n == nn->cap) {
			size_t cap = nn->cap ? 2 * nn->cap : 64;
			struct link_stats *grown = realloc(nn->s, cap * sizeof(*grown));

			if (!grown)
				return MNL_CB_ERROR;
			nn->s = grown;
			nn->cap = cap;
		}
		nn->s[nn->n++] =
			(struct link_stats){ (uint32_t)ifm->ifi_index, st.rx_bytes, st.rx_packets };
	}
	return MNL_CB_OK;
}

static int by_ifindex(const void *a, const void *b)
{
	uint32_t x = ((const struct link_stats *)a)->ifindex;
	uint32_t y = ((const struct link_stats *)b)->ifindex;

	return (x > y) - (x < y);
}

static int none_attach(struct enforcer *e, struct vif *vif)
{
	(void)e;
	return vif->desc.host_ifindex ? 0 : -EINVAL;
}

static void none_detach(struct enforcer *e, struct vif *vif)
{
	(void)e;
	(void)vif;
}

static int none_sync(struct enforcer *e, uint64_t now_ns)
{
	struct none *nn = e->priv;
	int rc;

	(void)now_ns;
	nn->n = 0;
	rc = rtnl_dump_links(nn->nl, on_link, nn);
	if (rc)
		nn->n = 0;
	qsort(nn->s, nn->n, sizeof(*nn->s), by_ifindex);
	return rc;
}

static int none_read_counters(struct enforcer *e, struct vif *vif, struct vif_counters *out)
{
	struct none *nn = e->priv;
	struct link_stats key = { .ifindex = vif->desc.host_ifindex };
	const struct link_stats *s = bsearch(&key, nn->s, nn->n, sizeof(*nn->s), by_ifindex);

	if (!s)
		return -EAGAIN;
	*out = (struct vif_counters){ s->bytes, s->pkts, s->bytes, s->pkts, 0, 0 };
	return 0;
}

static int none_apply(struct enforcer *e, struct vif *vif, uint64_t bps, uint64_t pps)
{
	(void)e;
	(void)vif;
	(void)bps;
	(void)pps;
	return 0; /* measures only */
}

static void none_close(struct enforcer *e)
{
	struct none *nn = e->priv;

	if (!nn)
		return;
	if (nn->nl)
		mnl_socket_close(nn->nl);
	free(nn->s);
	free(nn);
	e->priv = NULL;
}

static const struct enforcer_ops none_ops = {
	.name = "none",
	.sees_offered = true, /* nothing is dropped: what was sent is what was offered */
	.attach = none_attach,
	.detach = none_detach,
	.sync = none_sync,
	.read_counters = none_read_counters,
	.apply = none_apply,
	.close = none_close,
};

int none_open(struct enforcer *e, char *why, size_t why_len)
{
	struct none *nn = calloc(1, sizeof(*nn));

	if (!nn || !(nn->nl = rtnl_open(0))) {
		int rc = nn ? -errno : -ENOMEM;

		free(nn);
		snprintf(why, why_len, "none: rtnetlink: %s", strerror(-rc));
		return rc;
	}
	e->ops = &none_ops;
	e->priv = nn;
	return 0;
}
