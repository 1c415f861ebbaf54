/*
 * netns: discovery through rtnetlink (libmnl), never through command output.
 *
 * A scan dumps the driver domain's links. A veth whose peer is in another namespace carries
 * the peer's ifindex (IFLA_LINK) and that namespace's id as the driver domain numbers it
 * (IFLA_LINK_NETNSID). Each named namespace's id comes from RTM_GETNSID; inside each, a second
 * dump gives the guest end's name, and a socket made there gives the namespace cookie the
 * BPF hook keys on. Entering a namespace is a setns of the loop thread, undone at once.
 *
 * What is learnt inside a namespace is kept, by the namespace file's inode, and learnt again
 * only for a namespace that is new or replaced, or whose veths into the driver domain are not
 * all known: a rescan costs one dump of the driver domain's links, a readdir and a stat per
 * namespace, whatever the number of VMs, plus the work for what changed.
 *
 * Two fds in the agent's loop say a rescan is due: a netlink socket subscribed to link events
 * and an inotify watch on /run/netns.
 */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h> /* EPOLLIN, for the loop */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "loop.h"
#include "rtnl.h"

#define NETNS_DIR "/run/netns"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

struct link {
	uint32_t ifindex;
	char name[IFNAMSIZ];
	char kind[16];
	uint32_t master;      /* 0: none */
	uint32_t peer;	      /* IFLA_LINK: the peer's ifindex (in its namespace) */
	int32_t peer_netnsid; /* -1: same namespace */
};

struct links {
	struct link *l;
	size_t n, cap;
};

/* What was learnt inside one named namespace, kept while its file is the same inode. */
struct ns_known {
	char name[NAME_MAX + 1];
	dev_t dev;
	ino_t ino;
	int32_t nsid;	    /* as the driver domain numbers it */
	uint64_t cookie;    /* SO_NETNS_COOKIE */
	struct links links; /* inside it, as last dumped */
	bool seen;	    /* in this scan's readdir */
};

struct netns {
	struct platform_host host;
	int own_netns;
	struct mnl_socket *rtnl;   /* requests in the driver domain */
	struct mnl_socket *events; /* link events in the driver domain, never asked anything */
	int inotify_fd;
	struct loop *loop; /* while watched: the two fds above are in it */
	platform_notify_fn *notify;
	void *notify_arg;
	struct ns_known *known;
	size_t n_known, cap_known;
	uint64_t looked_inside; /* namespaces entered, since the start (for the tests' logs) */
};

/* ---- rtnetlink ---- */

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct links *ls = data;
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 }, *info[IFLA_INFO_MAX + 1] = { 0 };
	struct link *l;

	rtnl_parse(nlh, sizeof(*ifm), tb, IFLA_MAX);
	if (!tb[IFLA_IFNAME])
		return MNL_CB_OK;
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? 2 * ls->cap : 64;
		struct link *n = realloc(ls->l, cap * sizeof(*n));

		if (!n)
			return MNL_CB_ERROR;
		ls->l = n;
		ls->cap = cap;
	}
	l = &ls->l[ls->n++];
	memset(l, 0, sizeof(*l));
	l->ifindex = (uint32_t)ifm->ifi_index;
	snprintf(l->name, sizeof(l->name), "%.*s", IFNAMSIZ - 1, mnl_attr_get_str(tb[IFLA_IFNAME]));
	l->master = tb[IFLA_MASTER] ? mnl_attr_get_u32(tb[IFLA_MASTER]) : 0;
	l->peer = tb[IFLA_LINK] ? mnl_attr_get_u32(tb[IFLA_LINK]) : 0;
	l->peer_netnsid =
		tb[IFLA_LINK_NETNSID] ? (int32_t)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID]) : -1;
	if (tb[IFLA_LINKINFO]) {
		rtnl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
		if (info[IFLA_INFO_KIND])
			snprintf(l->kind, sizeof(l->kind), "%s",
				 mnl_attr_get_str(info[IFLA_INFO_KIND]));
	}
	return MNL_CB_OK;
}

static void links_restart(void *data)
{
	((struct links *)data)->n = 0;
}

static int dump_links(struct mnl_socket *nl, struct links *out)
{
	return rtnl_dump_links(nl, on_link, links_restart, out);
}

static int on_nsid(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg))
		if (mnl_attr_get_type(a) == NETNSA_NSID)
			*(int32_t *)data = (int32_t)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

/* The id the driver domain gives the namespace open at fd; -1 if it has none yet. */
static int32_t nsid_of(struct mnl_socket *nl, int fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	int32_t id = -1;

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)fd);
	if (rtnl_request(nl, nlh, on_nsid, &id))
		return -1;
	return id;
}

/* ---- one namespace ---- */

/* Enters the namespace at fd, dumps its links and takes its cookie, comes back. */
static int look_inside(struct netns *ns, int fd, struct ns_known *k)
{
	struct mnl_socket *nl = NULL;
	socklen_t len = sizeof(k->cookie);
	int s = -1, rc = 0;

	if (setns(fd, CLONE_NEWNET) < 0)
		return -errno;
	nl = rtnl_open(0);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (setns(ns->own_netns, CLONE_NEWNET) < 0) {
		log_error("netns could not return to the driver domain err=%s", strerror(errno));
		abort(); /* every later socket would be in the VM */
	}
	ns->looked_inside++;
	if (!nl || s < 0 || getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &k->cookie, &len) < 0)
		rc = -errno;
	if (!rc)
		rc = dump_links(nl, &k->links);
	if (nl)
		mnl_socket_close(nl);
	if (s >= 0)
		close(s);
	return rc;
}

static const struct link *find_link(const struct links *ls, uint32_t ifindex)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i].ifindex == ifindex)
			return &ls->l[i];
	return NULL;
}

/* Which configured uplink serves a host end: the one on the same bridge, or the only one. */
static const struct platform_uplink *uplink_for(const struct netns *ns, const struct links *root,
						const struct link *host_end)
{
	for (size_t u = 0; u < ns->host.n_uplinks; u++) {
		for (size_t i = 0; i < root->n; i++) {
			const struct link *l = &root->l[i];

			if (!strcmp(l->name, ns->host.uplinks[u].name) && l->master &&
			    l->master == host_end->master)
				return &ns->host.uplinks[u];
		}
	}
	return ns->host.n_uplinks == 1 ? &ns->host.uplinks[0] : NULL;
}

static bool is_uplink(const struct netns *ns, const char *name)
{
	for (size_t u = 0; u < ns->host.n_uplinks; u++)
		if (!strcmp(ns->host.uplinks[u].name, name))
			return true;
	return false;
}

static struct ns_known *known_find(struct netns *ns, const char *name)
{
	for (size_t i = 0; i < ns->n_known; i++)
		if (!strcmp(ns->known[i].name, name))
			return &ns->known[i];
	return NULL;
}

static struct ns_known *known_add(struct netns *ns, const char *name)
{
	struct ns_known *k;

	if (ns->n_known == ns->cap_known) {
		size_t cap = ns->cap_known ? 2 * ns->cap_known : 64;

		k = realloc(ns->known, cap * sizeof(*k));
		if (!k)
			return NULL;
		ns->known = k;
		ns->cap_known = cap;
	}
	k = &ns->known[ns->n_known++];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	return k;
}

/* Forgets the namespaces this scan's readdir did not see (gone), and clears the marks. */
static void known_sweep(struct netns *ns)
{
	size_t j = 0;

	for (size_t i = 0; i < ns->n_known; i++) {
		if (!ns->known[i].seen) {
			free(ns->known[i].links.l);
			continue;
		}
		ns->known[i].seen = false;
		ns->known[j++] = ns->known[i];
	}
	ns->n_known = j;
}

/* Whether every veth of the driver domain into namespace nsid has its peer among the links
 * last dumped inside it. */
static bool peers_known(const struct links *root, const struct ns_known *k)
{
	for (size_t i = 0; i < root->n; i++)
		if (root->l[i].peer_netnsid == k->nsid && !find_link(&k->links, root->l[i].peer))
			return false;
	return true;
}

/* What is known of namespace `name`, learnt again if it is new, replaced (another inode under
 * the name), or has a veth into the driver domain whose peer was not there last time. NULL if
 * it has no id in the driver domain (no veth to it yet: asked again next scan) or is gone. */
static struct ns_known *know(struct netns *ns, const struct links *root, const char *name, int *err)
{
	char path[sizeof(NETNS_DIR) + NAME_MAX + 1];
	struct ns_known *k = known_find(ns, name);
	struct stat st;
	int fd;

	*err = 0;
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	if (stat(path, &st) < 0) {
		*err = -errno;
		return NULL;
	}
	if (k && k->dev == st.st_dev && k->ino == st.st_ino && peers_known(root, k)) {
		k->seen = true;
		return k;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (!k && !(k = known_add(ns, name))) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->links.n = 0;
	k->seen = true;
	k->nsid = nsid_of(ns->rtnl, fd);
	*err = k->nsid < 0 ? 0 : look_inside(ns, fd, k);
	close(fd);
	if (*err || k->nsid < 0) {
		k->ino = 0; /* not learnt: asked again next scan */
		return NULL;
	}
	return k;
}

/* The VM in namespace `name`: its vifs are the driver domain's veths whose peer is there. */
static int scan_one(struct netns *ns, const struct links *root, const char *name,
		    struct platform_vm *vm)
{
	const struct ns_known *k;
	int rc;

	if (!(k = know(ns, root, name, &rc)))
		return rc;
	snprintf(vm->id, sizeof(vm->id), "%.63s", name);
	vm->domid = -1;
	for (size_t i = 0; i < root->n; i++) {
		const struct link *h = &root->l[i];
		const struct link *g;
		const struct platform_uplink *up;
		struct platform_vif *pv;

		if (h->peer_netnsid != k->nsid || strcmp(h->kind, "veth") || is_uplink(ns, h->name))
			continue;
		g = find_link(&k->links, h->peer);
		up = uplink_for(ns, root, h);
		if (!g || !up)
			continue;
		pv = platform_vm_add_vif(vm);
		if (!pv)
			return -ENOMEM;
		snprintf(pv->id, sizeof(pv->id), "%s", h->name);
		memcpy(pv->host_ifname, h->name, IFNAMSIZ);
		memcpy(pv->guest_ifname, g->name, IFNAMSIZ);
		memcpy(pv->uplink, up->name, IFNAMSIZ);
		snprintf(pv->guest_netns, sizeof(pv->guest_netns), NETNS_DIR "/%.63s", name);
		pv->netns_cookie = k->cookie;
		pv->guest_ifindex = g->ifindex;
		pv->host_ifindex = h->ifindex;
	}
	return 0;
}

static int netns_scan(struct platform *p, uint64_t now_ns, struct platform_scan *scan)
{
	struct netns *ns = p->priv;
	struct links root = { 0 };
	struct dirent *de;
	DIR *dir;
	int rc;

	(void)now_ns;
	rc = platform_scan_start(scan, &ns->host);
	if (rc)
		return rc;
	rc = dump_links(ns->rtnl, &root);
	if (rc) {
		free(root.l);
		platform_scan_free(scan);
		return rc;
	}
	dir = opendir(NETNS_DIR);
	while (dir && (de = readdir(dir))) {
		struct platform_vm vm = { 0 };

		if (de->d_name[0] == '.')
			continue;
		rc = scan_one(ns, &root, de->d_name, &vm);
		if (rc) {
			log_debug("namespace skipped netns=%s err=%s", de->d_name, strerror(-rc));
			free(vm.vifs);
			rc = 0;
			continue;
		}
		if (vm.n_vifs == 0)
			continue; /* not a VM: no vif of ours in it (the sink, say) */
		if ((rc = platform_scan_add_vm(scan, &vm)))
			break;
	}
	if (dir)
		closedir(dir);
	else
		rc = 0; /* no namespace directory: no VM */
	if (dir && !rc)
		known_sweep(ns);
	free(root.l);
	if (rc)
		platform_scan_free(scan);
	return rc;
}

/* A link event or a namespace named or unnamed: read them all, a rescan is due. */
static void on_event(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct netns *ns = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];

	(void)loop, (void)events;
	/* ENOBUFS (events lost to a full socket) says the same: something changed. */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
	ns->notify(ns->notify_arg, PLATFORM_RESCAN);
}

/* A name made or removed under /run/netns: what was learnt under it is learnt again (a
 * namespace deleted and made again may have the same inode, id and ifindexes, but not the
 * same cookie). */
static void on_names(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct netns *ns = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)loop, (void)events;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct ns_known *k = ev->len ? known_find(ns, ev->name) : NULL;

			if (k)
				k->ino = 0;
			if (ev->mask & IN_Q_OVERFLOW)
				for (size_t i = 0; i < ns->n_known; i++)
					ns->known[i].ino = 0;
			p += sizeof(*ev) + ev->len;
		}
	}
	ns->notify(ns->notify_arg, PLATFORM_RESCAN);
}

static void netns_unwatch(struct platform *p)
{
	struct netns *ns = p->priv;

	if (!ns->loop)
		return;
	loop_del_fd(ns->loop, mnl_socket_get_fd(ns->events));
	loop_del_fd(ns->loop, ns->inotify_fd);
	ns->loop = NULL;
}

static int netns_watch(struct platform *p, struct loop *loop, platform_notify_fn *notify, void *arg)
{
	struct netns *ns = p->priv;
	int rc;

	ns->notify = notify;
	ns->notify_arg = arg;
	rc = loop_add_fd(loop, mnl_socket_get_fd(ns->events), EPOLLIN, on_event, ns);
	if (rc)
		return rc;
	rc = loop_add_fd(loop, ns->inotify_fd, EPOLLIN, on_names, ns);
	if (rc) {
		loop_del_fd(loop, mnl_socket_get_fd(ns->events));
		return rc;
	}
	ns->loop = loop;
	return 0;
}

static void netns_close(struct platform *p)
{
	struct netns *ns = p->priv;

	if (!ns)
		return;
	if (ns->rtnl)
		mnl_socket_close(ns->rtnl);
	if (ns->events)
		mnl_socket_close(ns->events);
	netns_unwatch(p);
	if (ns->inotify_fd >= 0)
		close(ns->inotify_fd);
	for (size_t i = 0; i < ns->n_known; i++)
		free(ns->known[i].links.l);
	free(ns->known);
	if (ns->own_netns >= 0)
		close(ns->own_netns);
	platform_host_free(&ns->host);
	free(ns);
	p->priv = NULL;
}

static const struct platform_ops netns_ops = {
	.name = "netns",
	.scan = netns_scan,
	.watch = netns_watch,
	.unwatch = netns_unwatch,
	.close = netns_close,
};

int netns_open(struct platform *p, const struct platform_host *host, char *why, size_t why_len)
{
	struct netns *ns = calloc(1, sizeof(*ns));
	int rc;

	if (!ns)
		return -ENOMEM;
	ns->inotify_fd = ns->own_netns = -1;
	p->ops = &netns_ops;
	p->priv = ns;
	if ((rc = platform_host_copy(&ns->host, host)))
		goto fail;
	ns->own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ns->rtnl = rtnl_open(0);
	ns->events = rtnl_open(RTMGRP_LINK);
	mkdir(NETNS_DIR, 0755); /* as iproute2 does: the place named namespaces live */
	ns->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ns->own_netns < 0 || !ns->rtnl || !ns->events || ns->inotify_fd < 0 ||
	    inotify_add_watch(ns->inotify_fd, NETNS_DIR,
			      IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) < 0) {
		rc = -errno;
		snprintf(why, why_len, "netns: cannot watch links and " NETNS_DIR ": %s",
			 strerror(errno));
		goto fail;
	}
	return 0;
fail:
	netns_close(p);
	return rc;
}
