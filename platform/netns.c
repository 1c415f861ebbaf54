/*
 * netns: discovery through rtnetlink (libmnl), never through command output.
 *
 * A scan dumps the driver domain's links. A veth whose peer is in another namespace carries
 * the peer's ifindex (IFLA_LINK) and that namespace's id as the driver domain numbers it
 * (IFLA_LINK_NETNSID). Each named namespace's id comes from RTM_GETNSID; inside each, a second
 * dump gives the guest end's name, and a socket made there gives the namespace cookie the
 * BPF hook keys on. Entering a namespace is a setns of the loop thread, undone at once.
 *
 * What a scan needs is kept between scans, so that one costs what changed, not what exists:
 *   - the driver domain's links, dumped once and then kept by the link events themselves (a
 *     dump of every link costs the kernel a walk of every namespace id for each veth: 1,000
 *     VMs made that a million steps a scan); dumped again only when events were lost;
 *   - what was learnt inside each named namespace, by the namespace file's inode, learnt
 *     again only for a namespace that is new, replaced or renamed (an inotify event on its
 *     name), or has a veth into the driver domain whose peer it did not have.
 * A rescan is then a readdir, and lookups by sorted keys.
 *
 * Two fds in the agent's loop say a rescan is due: the netlink socket subscribed to link
 * events and an inotify watch on /run/netns.
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

struct link {
	uint32_t ifindex;
	char name[IFNAMSIZ];
	char kind[16];
	uint32_t master;      /* 0: none */
	uint32_t peer;	      /* IFLA_LINK: the peer's ifindex (in its namespace) */
	int32_t peer_netnsid; /* -1: same namespace */
	unsigned char mac[6];
	bool has_mac; /* IFLA_ADDRESS was an Ethernet address */
};

struct links {
	struct link *l;
	size_t n, cap;
};

/* The events socket's receive buffer: room for the events of a few hundred VMs made at once
 * (more are lost, and the links dumped again). */
#define EVENTS_RCVBUF (4 << 20)

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
	struct links root;	/* the driver domain's links, by ifindex, kept by link events */
	bool root_stale;	/* events were lost (or none read yet): dump again before a scan */
	struct ns_known *known; /* by name */
	size_t n_known, cap_known;
};

/* ---- rtnetlink ---- */

/* A link message as a struct link; 0, or -1 when it names no link. */
static int parse_link(const struct nlmsghdr *nlh, struct link *l)
{
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 }, *info[IFLA_INFO_MAX + 1] = { 0 };

	rtnl_parse(nlh, sizeof(*ifm), tb, IFLA_MAX);
	if (!tb[IFLA_IFNAME])
		return -1;
	memset(l, 0, sizeof(*l));
	l->ifindex = (uint32_t)ifm->ifi_index;
	snprintf(l->name, sizeof(l->name), "%.*s", IFNAMSIZ - 1, mnl_attr_get_str(tb[IFLA_IFNAME]));
	l->master = tb[IFLA_MASTER] ? mnl_attr_get_u32(tb[IFLA_MASTER]) : 0;
	l->peer = tb[IFLA_LINK] ? mnl_attr_get_u32(tb[IFLA_LINK]) : 0;
	l->peer_netnsid =
		tb[IFLA_LINK_NETNSID] ? (int32_t)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID]) : -1;
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(l->mac)) {
		memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(l->mac));
		l->has_mac = true;
	}
	if (tb[IFLA_LINKINFO]) {
		rtnl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
		if (info[IFLA_INFO_KIND])
			snprintf(l->kind, sizeof(l->kind), "%s",
				 mnl_attr_get_str(info[IFLA_INFO_KIND]));
	}
	return 0;
}

static struct link *links_grow(struct links *ls)
{
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? 2 * ls->cap : 64;
		struct link *n = realloc(ls->l, cap * sizeof(*n));

		if (!n)
			return NULL;
		ls->l = n;
		ls->cap = cap;
	}
	return &ls->l[ls->n++];
}

/* A dump's answer: appended, in the kernel's order. */
static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct links *ls = data;
	struct link l, *at;

	if (parse_link(nlh, &l))
		return MNL_CB_OK;
	if (!(at = links_grow(ls)))
		return MNL_CB_ERROR;
	*at = l;
	return MNL_CB_OK;
}

static int cmp_ifindex(const void *a, const void *b)
{
	const struct link *x = a, *y = b;

	return x->ifindex < y->ifindex ? -1 : x->ifindex > y->ifindex;
}

/* Where ifindex is, or would go, in links sorted by ifindex. */
static size_t links_at(const struct links *ls, uint32_t ifindex)
{
	size_t lo = 0, hi = ls->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ls->l[mid].ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A link event on the sorted root: a new or changed link put in, a deleted one taken out. */
static int on_link_event(const struct nlmsghdr *nlh, void *data)
{
	struct netns *ns = data;
	struct links *ls = &ns->root;
	struct link l;
	size_t at;

	/* The bridge speaks of its ports in messages of its own family (AF_BRIDGE), with
	 * another set of attributes, and a port leaving the bridge is not a link deleted. */
	if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
	    ((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_family != AF_UNSPEC ||
	    parse_link(nlh, &l))
		return MNL_CB_OK;
	/* A link that leaves for another namespace is deleted here, but its veth peer that stays
	 * is not told (its IFLA_LINK_NETNSID changed): links are dumped again. */
	if (nlh->nlmsg_type == RTM_DELLINK)
		for (size_t i = 0; i < ls->n; i++)
			if (ls->l[i].peer == l.ifindex && ls->l[i].peer_netnsid < 0 &&
			    ls->l[i].ifindex != l.ifindex)
				ns->root_stale = true;
	at = links_at(ls, l.ifindex);
	if (at < ls->n && ls->l[at].ifindex == l.ifindex) {
		if (nlh->nlmsg_type == RTM_NEWLINK)
			ls->l[at] = l;
		else
			memmove(&ls->l[at], &ls->l[at + 1], (ls->n-- - at - 1) * sizeof(l));
	} else if (nlh->nlmsg_type == RTM_NEWLINK) {
		if (!links_grow(ls)) {
			ns->root_stale = true; /* dumped again, when memory allows */
			return MNL_CB_OK;
		}
		memmove(&ls->l[at + 1], &ls->l[at], (ls->n - 1 - at) * sizeof(l));
		ls->l[at] = l;
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

/* In a namespace's own few links (unsorted). */
static const struct link *find_link(const struct links *ls, uint32_t ifindex)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i].ifindex == ifindex)
			return &ls->l[i];
	return NULL;
}

/* What one scan looks things up in: the driver domain's veths into other namespaces, sorted
 * by that namespace's id (then ifindex), and the bridge each configured uplink is a port of. */
struct scan_ctx {
	const struct link **veths;
	size_t n_veths;
	uint32_t *uplink_master; /* per configured uplink; 0: not on a bridge, or absent */
};

static bool is_uplink(const struct netns *ns, const char *name)
{
	for (size_t u = 0; u < ns->host.n_uplinks; u++)
		if (!strcmp(ns->host.uplinks[u].name, name))
			return true;
	return false;
}

static int cmp_veth(const void *a, const void *b)
{
	const struct link *x = *(const struct link *const *)a, *y = *(const struct link *const *)b;

	if (x->peer_netnsid != y->peer_netnsid)
		return x->peer_netnsid < y->peer_netnsid ? -1 : 1;
	return x->ifindex < y->ifindex ? -1 : x->ifindex > y->ifindex;
}

static int ctx_build(const struct netns *ns, struct scan_ctx *c)
{
	const struct links *root = &ns->root;

	c->n_veths = 0;
	c->veths = malloc((root->n ? root->n : 1) * sizeof(*c->veths));
	c->uplink_master =
		calloc(ns->host.n_uplinks ? ns->host.n_uplinks : 1, sizeof(*c->uplink_master));
	if (!c->veths || !c->uplink_master)
		return -ENOMEM;
	for (size_t i = 0; i < root->n; i++) {
		const struct link *l = &root->l[i];

		for (size_t u = 0; u < ns->host.n_uplinks; u++)
			if (!strcmp(l->name, ns->host.uplinks[u].name))
				c->uplink_master[u] = l->master;
		if (l->peer_netnsid >= 0 && !strcmp(l->kind, "veth") && !is_uplink(ns, l->name))
			c->veths[c->n_veths++] = l;
	}
	qsort(c->veths, c->n_veths, sizeof(*c->veths), cmp_veth);
	return 0;
}

static void ctx_free(struct scan_ctx *c)
{
	free(c->veths);
	free(c->uplink_master);
}

/* The veths into namespace nsid: *n of them from the returned index. */
static size_t ctx_range(const struct scan_ctx *c, int32_t nsid, size_t *n)
{
	size_t lo = 0, hi = c->n_veths, first;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->veths[mid]->peer_netnsid < nsid)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	while (lo < c->n_veths && c->veths[lo]->peer_netnsid == nsid)
		lo++;
	*n = lo - first;
	return first;
}

/* Which configured uplink serves a host end: the one on the same bridge, or the only one. */
static const struct platform_uplink *uplink_for(const struct netns *ns, const struct scan_ctx *c,
						const struct link *host_end)
{
	for (size_t u = 0; u < ns->host.n_uplinks; u++)
		if (c->uplink_master[u] && c->uplink_master[u] == host_end->master)
			return &ns->host.uplinks[u];
	return ns->host.n_uplinks == 1 ? &ns->host.uplinks[0] : NULL;
}

/* Where name is, or would go, in the known namespaces (sorted by name). */
static size_t known_at(const struct netns *ns, const char *name)
{
	size_t lo = 0, hi = ns->n_known;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ns->known[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct ns_known *known_find(struct netns *ns, const char *name)
{
	size_t at = known_at(ns, name);

	return at < ns->n_known && !strcmp(ns->known[at].name, name) ? &ns->known[at] : NULL;
}

/* A new entry in its place (pointers into the table do not survive it). */
static struct ns_known *known_add(struct netns *ns, const char *name)
{
	size_t at = known_at(ns, name);
	struct ns_known *k;

	if (ns->n_known == ns->cap_known) {
		size_t cap = ns->cap_known ? 2 * ns->cap_known : 64;

		k = realloc(ns->known, cap * sizeof(*k));
		if (!k)
			return NULL;
		ns->known = k;
		ns->cap_known = cap;
	}
	memmove(&ns->known[at + 1], &ns->known[at], (ns->n_known - at) * sizeof(*k));
	ns->n_known++;
	k = &ns->known[at];
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

/* Whether every veth of the driver domain into the namespace has its peer among the links
 * last dumped inside it. */
static bool peers_known(const struct scan_ctx *c, const struct ns_known *k)
{
	size_t n, first = ctx_range(c, k->nsid, &n);

	for (size_t i = first; i < first + n; i++)
		if (!find_link(&k->links, c->veths[i]->peer))
			return false;
	return true;
}

/* What is known of namespace `name`, learnt again if it is new, replaced (another inode under
 * the name), or has a veth into the driver domain whose peer was not there last time. NULL if
 * it has no id in the driver domain (no veth to it yet: asked again next scan) or is gone. */
static struct ns_known *know(struct netns *ns, const struct scan_ctx *c, const char *name, int *err)
{
	char path[sizeof(NETNS_DIR) + NAME_MAX + 1];
	struct ns_known *k = known_find(ns, name);
	struct stat st;
	int fd;

	*err = 0;
	/* Known, and no inotify event on the name since: the same namespace (no stat). */
	if (k && k->ino && peers_known(c, k)) {
		k->seen = true;
		return k;
	}
	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	if (stat(path, &st) < 0) {
		*err = -errno;
		return NULL;
	}
	if (k && k->dev == st.st_dev && k->ino == st.st_ino && peers_known(c, k)) {
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
static int scan_one(struct netns *ns, const struct scan_ctx *c, const char *name,
		    struct platform_vm *vm)
{
	const struct ns_known *k;
	size_t n, first;
	int rc;

	if (!(k = know(ns, c, name, &rc)))
		return rc;
	snprintf(vm->id, sizeof(vm->id), "%.63s", name);
	vm->domid = -1;
	first = ctx_range(c, k->nsid, &n);
	for (size_t i = first; i < first + n; i++) {
		const struct link *h = c->veths[i];
		const struct link *g = find_link(&k->links, h->peer);
		const struct platform_uplink *up = uplink_for(ns, c, h);
		struct platform_vif *pv;

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
		if (g->has_mac)
			platform_mac_format(g->mac, pv->mac);
	}
	return 0;
}

/* The driver domain's links, dumped when events were lost (or before the first scan). */
static int root_refresh(struct netns *ns)
{
	int rc;

	if (!ns->root_stale)
		return 0;
	rc = dump_links(ns->rtnl, &ns->root);
	if (rc)
		return rc;
	if (ns->root.n)
		qsort(ns->root.l, ns->root.n, sizeof(*ns->root.l), cmp_ifindex);
	ns->root_stale = false;
	return 0;
}

static int netns_scan(struct platform *p, uint64_t now_ns, struct platform_scan *scan)
{
	struct netns *ns = p->priv;
	struct scan_ctx c = { 0 };
	struct dirent *de;
	DIR *dir;
	int rc;

	(void)now_ns;
	rc = platform_scan_start(scan, &ns->host);
	if (rc)
		return rc;
	if ((rc = root_refresh(ns)) || (rc = ctx_build(ns, &c))) {
		ctx_free(&c);
		platform_scan_free(scan);
		return rc;
	}
	dir = opendir(NETNS_DIR);
	while (dir && (de = readdir(dir))) {
		struct platform_vm vm = { 0 };
		const char *why;

		if (de->d_name[0] == '.')
			continue;
		rc = scan_one(ns, &c, de->d_name, &vm);
		if (rc) {
			log_debug("namespace skipped netns=%s err=%s", log_q(de->d_name),
				  strerror(-rc));
			free(vm.vifs);
			rc = 0;
			continue;
		}
		if (vm.n_vifs == 0)
			continue; /* not a VM: no vif of ours in it (the sink, say) */
		/* The whole name: the id holds 63 bytes of it */
		if ((why = platform_name_problem(de->d_name))) {
			free(vm.vifs);
			if ((rc = platform_scan_refuse(scan, de->d_name, why)))
				break;
			continue;
		}
		if ((rc = platform_scan_add_vm(scan, &vm)))
			break;
	}
	if (dir)
		closedir(dir);
	if (dir && !rc)
		known_sweep(ns);
	ctx_free(&c);
	if (rc)
		platform_scan_free(scan);
	return rc;
}

/* A link event or a namespace named or unnamed: read them all, a rescan is due. */
static void on_event(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct netns *ns = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];

	ssize_t n;

	(void)loop, (void)events;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			/* Unsolicited: no sequence number or port to check (0, 0). */
			if (mnl_cb_run(buf, (size_t)n, 0, 0, on_link_event, ns) == MNL_CB_ERROR)
				ns->root_stale = true;
		} else if (n < 0 && errno == ENOBUFS) {
			ns->root_stale = true; /* events lost to a full socket: dump again */
		} else {
			break;
		}
	}
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
	free(ns->root.l);
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
	ns->root_stale = true;
	p->ops = &netns_ops;
	p->priv = ns;
	if ((rc = platform_host_copy(&ns->host, host)))
		goto fail;
	ns->own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ns->rtnl = rtnl_open(0);
	ns->events = rtnl_open(RTMGRP_LINK);
	if (ns->events) { /* as large as root may make it; what does not fit is dumped again */
		int size = EVENTS_RCVBUF, fd = mnl_socket_get_fd(ns->events);

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
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
