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
#include "measure_only.h"
#include "none.h"
#include "rtnl.h"

struct none {
	struct mnl_socket *nl;
	struct counter_table links; /* by ifindex: what each host end received, the guest sent */
	unsigned l2_bytes;	    /* left out of each frame by the statistics (none.h) */
};

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct none *nn = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*ifm)) {
		struct rtnl_link_stats64 st;

		if (mnl_attr_get_type(a) != IFLA_STATS64 ||
		    mnl_attr_get_payload_len(a) < sizeof(st))
			continue;
		memcpy(&st, mnl_attr_get_payload(a), sizeof(st));
		if (counter_table_add(&nn->links, (uint32_t)ifm->ifi_index,
				      st.rx_bytes + st.rx_packets * nn->l2_bytes, st.rx_packets))
			return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int none_attach(struct enforcer *e, struct enf_vif *ev)
{
	(void)e;
	return ev->desc->host_ifindex ? 0 : -EINVAL;
}

static void restart(void *data)
{
	((struct none *)data)->links.n = 0;
}

static int none_sync(struct enforcer *e, uint64_t now_ns)
{
	struct none *nn = e->priv;
	int rc;

	(void)now_ns;
	rc = rtnl_dump_links(nn->nl, on_link, restart, nn);
	if (rc)
		nn->links.n = 0;
	counter_table_sort(&nn->links);
	return rc;
}

static int none_read_counters(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	struct none *nn = e->priv;

	return counter_table_read(&nn->links, ev->desc->host_ifindex, out);
}

static void none_close(struct enforcer *e)
{
	struct none *nn = e->priv;

	if (!nn)
		return;
	if (nn->nl)
		mnl_socket_close(nn->nl);
	counter_table_free(&nn->links);
	free(nn);
	e->priv = NULL;
}

static const struct enforcer_ops none_ops = {
	.name = "none",
	.sees_offered = true, /* nothing is dropped: what was sent is what was offered */
	.attach = none_attach,
	.detach = measure_only_detach,
	.sync = none_sync,
	.read_counters = none_read_counters,
	.apply = measure_only_apply,
	.close = none_close,
};

int none_open(struct enforcer *e, unsigned l2_bytes, char *why, size_t why_len)
{
	struct none *nn = calloc(1, sizeof(*nn));

	if (!nn || !(nn->nl = rtnl_open(0))) {
		int rc = nn ? -errno : -ENOMEM;

		free(nn);
		snprintf(why, why_len, "none: rtnetlink: %s", strerror(-rc));
		return rc;
	}
	nn->l2_bytes = l2_bytes;
	e->ops = &none_ops;
	e->priv = nn;
	return 0;
}
