/*
 * xen.c: the Xen platform of xen.h, over libxenstore: a scan walks the backend tree; a watch on
 * it and a liveness probe, both in the agent's loop, say when to scan again and when xenstored
 * has gone or come back.
 */
#include "xen.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h> /* EPOLLIN, for the loop */
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <xenstore.h>

#include "log.h"
#include "loop.h"
#include "rtnl.h"

#define BACKEND XEN_VIF_BACKEND
#define WATCH_TOKEN "dbavm"
#define MAX_ID 0x7fef /* DOMID_FIRST_RESERVED - 1 */

#define WARNED_MAX 256
#define MAX_FOUND 16 /* bridges, and uplinks found on them, in a scan */

/* A connected vif as the store describes it. */
struct dom_vif {
	char id[IFNAMSIZ];	    /* vif<domid>.<devid> */
	char host[IFNAMSIZ];	    /* its netdev in dom0 */
	char bridge[IFNAMSIZ];	    /* "" when the store names none */
	char mac[PLATFORM_MAC_LEN]; /* the backend's mac node, canonical; "": none, or not one */
};

/* A domain as the store described it at its last reading. */
struct dom {
	long domid;
	bool named; /* it has a name: a VM (otherwise skipped, and said once) */
	bool stale; /* a watch named it since: read it again */
	char name[PLATFORM_ID_MAX];
	char uuid[PLATFORM_UUID_LEN];
	struct dom_vif *vifs;
	size_t n_vifs;
};

struct xen {
	struct platform_host host;
	struct xs_handle *xs; /* NULL while xenstore is unreachable */
	/* A 1 s timer: libxenstore says nothing when xenstored goes, so a round trip each
	 * second tells; while unreachable, a reconnection each second. */
	int probe_fd;
	struct loop *loop; /* while watched: the probe and the connection's fd are in it */
	int xs_fd;	   /* the connection's fd as registered, -1: not registered */
	platform_notify_fn *notify;
	void *notify_arg;
	char problem[96]; /* why it cannot be trusted now, for /readyz */
	/* What was already said about the store's contents: every rescan would repeat it. */
	uint64_t warned[WARNED_MAX];
	size_t n_warned;
	/* The uplinks the last scan found (no --uplinks), to log what changes. */
	struct platform_uplink found[MAX_FOUND];
	size_t n_found;
	/* Each domain as the store last said, read again only when a watch names it: a change
	 * costs the reads of the domain it touches, not of every domain. */
	struct dom *doms;
	size_t n_doms;
	bool all_stale; /* read every domain again (start, reconnection, a change above them) */
	char ovs_said[IFNAMSIZ]; /* the Open vSwitch bridge whose uplink was last logged */
};

/* A warning about the store's contents, logged the first time only (then at debug). */
__attribute__((format(printf, 2, 3))) static void warn_once(struct xen *x, const char *fmt, ...)
{
	char msg[256];
	uint64_t h = 0xcbf29ce484222325ull;
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (const char *c = msg; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
	for (i = 0; i < x->n_warned && x->warned[i] != h; i++)
		;
	if (i < x->n_warned) {
		log_debug("%s", msg);
		return;
	}
	if (x->n_warned < WARNED_MAX)
		x->warned[x->n_warned++] = h;
	log_warn("%s", msg);
}

void xen_vif_id(char out[XEN_VIF_ID_MAX], unsigned domid, unsigned devid)
{
	snprintf(out, XEN_VIF_ID_MAX, "vif%u.%u", domid & 0xffff, devid & 0xffff);
}

bool xen_vif_id_parse(const char *id, unsigned *domid, unsigned *devid)
{
	char *end;
	unsigned long d, n;

	if (strncmp(id, "vif", 3) || id[3] < '0' || id[3] > '9')
		return false;
	d = strtoul(id + 3, &end, 10);
	if (*end != '.' || d > MAX_ID || end[1] < '0' || end[1] > '9')
		return false;
	n = strtoul(end + 1, &end, 10);
	if (*end || n > MAX_ID)
		return false;
	*domid = (unsigned)d;
	*devid = (unsigned)n;
	return true;
}

bool xen_uuid_of_vm_path(const char *vmpath, char uuid[PLATFORM_UUID_LEN])
{
	const char *slash = strrchr(vmpath, '/');

	if (!slash || strlen(slash + 1) != PLATFORM_UUID_LEN - 1)
		return false;
	memcpy(uuid, slash + 1, PLATFORM_UUID_LEN);
	return true;
}

long xen_watch_domid(const char *path)
{
	size_t len = strlen(BACKEND "/");
	char id[16];

	if (strncmp(path, BACKEND "/", len) || sscanf(path + len, "%15[^/]", id) != 1)
		return -1;
	return xen_parse_id(id);
}

bool xen_available(void)
{
	struct xs_handle *h = xs_open(0);

	if (h)
		xs_close(h);
	return h != NULL;
}

long xen_parse_id(const char *s)
{
	char *end;
	long v;

	if (!*s || strlen(s) > 5)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < 0 || v > MAX_ID ? -1 : v;
}

/* Reads path into buf (at most size - 1 bytes, NUL-terminated). 0, or -1 if missing/too long. */
static int read_str(struct xs_handle *xs, const char *path, char *buf, size_t size)
{
	unsigned len = 0;
	char *v = xs_read(xs, XBT_NULL, path, &len);

	if (!v)
		return -1;
	if (len >= size || memchr(v, '\0', len)) {
		free(v);
		return -1;
	}
	memcpy(buf, v, len);
	buf[len] = '\0';
	free(v);
	return 0;
}

/* One scan's uplinks as found (no --uplinks): what each bridge's vifs leave by. */
struct scan_ctx {
	struct platform_scan *scan;
	struct {
		char bridge[IFNAMSIZ];
		int uplink; /* the scan's index, or a negative errno: why there is none */
		char port[IFNAMSIZ];
	} found[MAX_FOUND];
	size_t n_found;
};

/* Whether a bridge port is a guest's: netback's vif (its device is the backend's
 * vif-<domid>-<devid>, whatever a hotplug script renamed it to) or a device model's tap
 * (vif<domid>.<devid>-emu). */
static bool port_is_vif(const char *port)
{
	char path[IFNAMSIZ + 32], target[160];
	unsigned domid, devid;
	const char *base;
	ssize_t n;

	if (sscanf(port, "vif%u.%u", &domid, &devid) == 2)
		return true;
	snprintf(path, sizeof(path), "/sys/class/net/%s/device", port);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/');
	return !strncmp(base ? base + 1 : target, "vif-", 4);
}

/* A device model's tap for an HVM guest's emulated NIC (vif<domid>.<devid>-emu): the guest's
 * traffic before its PV drivers take over, which netback never sees; said once, not taken for
 * an uplink, not counted, not limited. */
static void note_emulated(struct xen *x, const char *bridge, const char *port)
{
	unsigned domid, devid;
	char rest[8];

	if (sscanf(port, "vif%u.%u%7s", &domid, &devid, rest) == 3 && !strcmp(rest, "-emu"))
		warn_once(x,
			  "emulated vif ignored: an HVM guest's device model tap, not counted or "
			  "limited (only its PV vif is) domid=%u devid=%u port=%s bridge=%s",
			  domid, devid, log_q(port), log_q(bridge));
}

/* ---- Open vSwitch: a bridge that is an internal port of the kernel's datapath ---- */

#define OVS_MAX_LINKS 1024

struct ovs_link {
	unsigned ifindex, master;
	bool ovs_kind; /* an OVS internal device: the datapath itself or a bridge's own port */
	char name[IFNAMSIZ];
};

struct ovs_links {
	struct ovs_link l[OVS_MAX_LINKS];
	size_t n;
};

static int on_ovs_link(const struct nlmsghdr *nlh, void *data)
{
	struct ovs_links *ls = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 }, *info[IFLA_INFO_MAX + 1] = { 0 };
	struct ovs_link *l;

	if (ls->n == OVS_MAX_LINKS)
		return MNL_CB_OK;
	rtnl_parse(nlh, sizeof(*ifm), tb, IFLA_MAX);
	if (!tb[IFLA_IFNAME] || mnl_attr_get_payload_len(tb[IFLA_IFNAME]) > IFNAMSIZ)
		return MNL_CB_OK;
	l = &ls->l[ls->n++];
	memset(l, 0, sizeof(*l));
	l->ifindex = (unsigned)ifm->ifi_index;
	snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MASTER])
		l->master = mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINKINFO]) {
		rtnl_parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
		l->ovs_kind = info[IFLA_INFO_KIND] &&
			      !strcmp(mnl_attr_get_str(info[IFLA_INFO_KIND]), "openvswitch");
	}
	return MNL_CB_OK;
}

static void ovs_restart(void *data)
{
	((struct ovs_links *)data)->n = 0;
}

/* An Open vSwitch bridge (xl's vif-openvswitch puts vifs on one): its name is an internal port
 * of the kernel's datapath, ovs-system (a device of kind openvswitch, with no master), and the
 * datapath's other ports are every bridge's, read with one rtnetlink dump (each such port's
 * master is the datapath). The uplink is the datapath's one port that is neither internal nor a
 * vif: with several OVS bridges, and so several such ports, it is ambiguous and must be named.
 * Returns as bridge_uplink does, port filled on 0 and -EEXIST; -ENOENT if the bridge is not
 * an OVS one. */
static int ovs_uplink(const char *bridge, char port[IFNAMSIZ])
{
	struct mnl_socket *nl = rtnl_open(0);
	struct ovs_links *ls = calloc(1, sizeof(*ls));
	unsigned dp = 0;
	bool br_ovs = false;
	int rc, n = 0;

	if (!nl || !ls) {
		rc = -ENOMEM;
		goto out;
	}
	rc = rtnl_dump_links(nl, on_ovs_link, ovs_restart, ls);
	if (rc)
		goto out;
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->l[i].ovs_kind && !strcmp(ls->l[i].name, "ovs-system"))
			dp = ls->l[i].ifindex;
		if (!strcmp(ls->l[i].name, bridge))
			br_ovs = ls->l[i].ovs_kind;
	}
	rc = -ENOENT;
	if (!dp || !br_ovs)
		goto out;
	for (size_t i = 0; i < ls->n; i++)
		if (ls->l[i].master == dp && !ls->l[i].ovs_kind && !port_is_vif(ls->l[i].name) &&
		    n++ == 0)
			memcpy(port, ls->l[i].name, IFNAMSIZ);
	rc = n == 1 ? 0 : n ? -EEXIST : -ENOENT;
out:
	if (nl)
		mnl_socket_close(nl);
	free(ls);
	return rc;
}

/* A port's link speed (sysfs, in Mbit/s) in bit/s; -ENODATA when it has none (down, or a
 * device without one). */
static int port_speed(const char *port, uint64_t *bps)
{
	char path[IFNAMSIZ + 32];
	long mbit = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", port);
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "%ld", &mbit) != 1)
			mbit = -1;
		fclose(f);
	}
	if (mbit <= 0)
		return -ENODATA;
	*bps = (uint64_t)mbit * 1000000u;
	return 0;
}

/* The bridge's one port that is not a vif, in port, and its speed (sysfs, in Mbit/s) in bit/s:
 * a Linux bridge's (sysfs) or an Open vSwitch bridge's (ovs_uplink).
 * 0, or -ENOENT (no such port, or no bridge), -EEXIST (several: port is the first),
 * -ENODATA (its speed is unknown: down, or a device that has none). */
static int bridge_uplink(struct xen *x, const char *bridge, char port[IFNAMSIZ], uint64_t *bps)
{
	char path[IFNAMSIZ + 32];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	/* An interface name: no path out of sysfs's directory of them. */
	if (!bridge[0] || bridge[0] == '.' || strchr(bridge, '/') || strlen(bridge) >= IFNAMSIZ)
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/class/net/%s/brif", bridge);
	dir = opendir(path);
	if (!dir) {
		int rc = ovs_uplink(bridge, port);

		if (rc == 0 && strcmp(x->ovs_said, bridge)) /* once, not every scan */
			log_info("bridge is Open vSwitch's, its uplink the datapath's one port "
				 "that is neither internal nor a vif bridge=%s uplink=%s",
				 log_q(bridge), log_q(port));
		if (rc == 0)
			memcpy(x->ovs_said, bridge, strlen(bridge) + 1);
		return rc ? rc : port_speed(port, bps);
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= IFNAMSIZ)
			continue;
		note_emulated(x, bridge, de->d_name);
		if (!port_is_vif(de->d_name) && n++ == 0)
			memcpy(port, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(dir);
	if (n != 1)
		return n ? -EEXIST : -ENOENT;
	return port_speed(port, bps);
}

/* The uplink a vif on this bridge leaves by, into name; false (logged once) if none.
 * Configured uplinks: the one that is a port of the same bridge, or the only one. Else the
 * bridge's port that is not a vif, at its link speed. */
static bool uplink_for(struct xen *x, struct scan_ctx *c, const char *bridge, const char *vm,
		       const char *vif, char name[IFNAMSIZ])
{
	size_t i;
	int rc;

	for (size_t u = 0; bridge[0] && u < x->host.n_uplinks; u++) {
		char path[128];

		snprintf(path, sizeof(path), "/sys/class/net/%s/brif/%s", bridge,
			 x->host.uplinks[u].name);
		if (access(path, F_OK) == 0) {
			memcpy(name, x->host.uplinks[u].name, IFNAMSIZ);
			return true;
		}
	}
	if (x->host.n_uplinks) {
		if (x->host.n_uplinks == 1)
			memcpy(name, x->host.uplinks[0].name, IFNAMSIZ);
		else
			warn_once(x, "vif skipped, no uplink for its bridge vm=%s vif=%s bridge=%s",
				  log_q(vm), log_q(vif), log_q(bridge));
		return x->host.n_uplinks == 1;
	}
	for (i = 0; i < c->n_found && strcmp(c->found[i].bridge, bridge); i++)
		;
	if (i == c->n_found) { /* a bridge not seen yet in this scan */
		uint64_t bps = 0;

		if (i == MAX_FOUND) {
			warn_once(x,
				  "vif skipped, more than %d bridges: name the uplinks with "
				  "--uplinks vm=%s vif=%s bridge=%s",
				  MAX_FOUND, log_q(vm), log_q(vif), log_q(bridge));
			return false;
		}
		memcpy(c->found[i].bridge, bridge, IFNAMSIZ);
		rc = bridge_uplink(x, bridge, c->found[i].port, &bps);
		c->found[i].uplink = rc ? rc : platform_scan_uplink(c->scan, c->found[i].port, bps);
		c->n_found++;
	}
	switch ((rc = c->found[i].uplink)) {
	case -ENOENT:
		warn_once(x,
			  "vif skipped, its bridge has no uplink (a port that is not a vif); "
			  "name one with --uplinks vm=%s vif=%s bridge=%s",
			  log_q(vm), log_q(vif), log_q(bridge));
		return false;
	case -EEXIST:
		warn_once(x,
			  "vif skipped, its bridge has several ports that are not vifs; name the "
			  "uplink with --uplinks vm=%s vif=%s bridge=%s first=%s",
			  log_q(vm), log_q(vif), log_q(bridge), log_q(c->found[i].port));
		return false;
	case -ENODATA:
		warn_once(x,
			  "vif skipped, its uplink's speed is unknown (down, or a device without "
			  "one); give it with --uplinks vm=%s vif=%s bridge=%s uplink=%s",
			  log_q(vm), log_q(vif), log_q(bridge), log_q(c->found[i].port));
		return false;
	default:
		if (rc < 0)
			return false;
		memcpy(name, c->scan->uplinks[rc].name, IFNAMSIZ);
		return true;
	}
}

/* Reads domain domid's name, UUID and connected vifs from the store into d; the name and UUID
 * of a domain known by them (old) are not read again (they are set when it is made, and a
 * domain going down must be let go with as few reads as may be). 0, or -ENOMEM. */
static int read_domain(struct xen *x, long domid, const struct dom *old, struct dom *d)
{
	char path[160], vmpath[128];
	char **devs;
	unsigned n = 0;

	memset(d, 0, sizeof(*d));
	d->domid = domid;
	if (old && old->named) {
		memcpy(d->name, old->name, sizeof(d->name));
		memcpy(d->uuid, old->uuid, sizeof(d->uuid));
		d->named = true;
		goto vifs;
	}
	snprintf(path, sizeof(path), "/local/domain/%ld/name", domid);
	if (read_str(x->xs, path, d->name, sizeof(d->name)) || !d->name[0]) {
		warn_once(x,
			  "domain skipped, no name in xenstore or one longer than 63 bytes "
			  "domid=%ld",
			  domid);
		return 0;
	}
	d->named = true;
	snprintf(path, sizeof(path), "/local/domain/%ld/vm", domid);
	if (!read_str(x->xs, path, vmpath, sizeof(vmpath)))
		xen_uuid_of_vm_path(vmpath, d->uuid);
vifs:
	snprintf(path, sizeof(path), BACKEND "/%ld", domid);
	devs = xs_directory(x->xs, XBT_NULL, path, &n);
	d->vifs = calloc(n ? n : 1, sizeof(*d->vifs));
	if (!d->vifs) {
		free(devs);
		return -ENOMEM;
	}
	for (unsigned i = 0; devs && i < n; i++) {
		long devid = xen_parse_id(devs[i]);
		struct dom_vif *v = &d->vifs[d->n_vifs];
		char state[8], mac[32];

		if (devid < 0) {
			warn_once(x, "vif skipped, bad devid in xenstore domid=%ld devid=%s", domid,
				  log_q(devs[i]));
			continue;
		}
		snprintf(path, sizeof(path), BACKEND "/%ld/%ld/state", domid, devid);
		if (read_str(x->xs, path, state, sizeof(state)) || strcmp(state, "4"))
			continue; /* not connected (XenbusStateConnected is 4) */
		snprintf(path, sizeof(path), BACKEND "/%ld/%ld/bridge", domid, devid);
		if (read_str(x->xs, path, v->bridge, sizeof(v->bridge)))
			v->bridge[0] = '\0';
		xen_vif_id(v->id, (unsigned)domid, (unsigned)devid); /* both <= MAX_ID */
		snprintf(path, sizeof(path), BACKEND "/%ld/%ld/mac", domid, devid);
		if (read_str(x->xs, path, mac, sizeof(mac)) || !platform_mac_parse(mac, v->mac))
			v->mac[0] = '\0'; /* the port is then known by its vif id only */
		/* Its netdev: netback's vif<domid>.<devid>, or what xl's vifname= made of it. */
		snprintf(path, sizeof(path), BACKEND "/%ld/%ld/vifname", domid, devid);
		if (read_str(x->xs, path, v->host, sizeof(v->host)) || !v->host[0])
			memcpy(v->host, v->id, sizeof(v->id));
		d->n_vifs++;
	}
	free(devs);
	return 0;
}

/* The VM a domain is, with the vifs whose uplink is known; vm->n_vifs == 0 if none. 0 or
 * -ENOMEM. */
static int vm_of(struct xen *x, struct scan_ctx *c, const struct dom *d, struct platform_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	if (!d->named)
		return 0;
	memcpy(vm->id, d->name, sizeof(vm->id));
	memcpy(vm->uuid, d->uuid, sizeof(vm->uuid));
	vm->domid = d->domid;
	for (size_t i = 0; i < d->n_vifs; i++) {
		const struct dom_vif *v = &d->vifs[i];
		char up[IFNAMSIZ] = "";
		struct platform_vif *pv;

		if (!uplink_for(x, c, v->bridge, d->name, v->id, up))
			continue;
		pv = platform_vm_add_vif(vm);
		if (!pv)
			return -ENOMEM;
		memcpy(pv->id, v->id, sizeof(v->id));
		memcpy(pv->host_ifname, v->host, sizeof(v->host));
		memcpy(pv->uplink, up, sizeof(up));
		pv->host_ifindex = if_nametoindex(v->host);
		memcpy(pv->mac, v->mac, sizeof(pv->mac));
	}
	return 0;
}

static void doms_free(struct dom *doms, size_t n)
{
	for (size_t i = 0; doms && i < n; i++)
		free(doms[i].vifs);
	free(doms);
}

static struct dom *dom_find(struct xen *x, long domid)
{
	for (size_t i = 0; i < x->n_doms; i++)
		if (x->doms[i].domid == domid)
			return &x->doms[i];
	return NULL;
}

/* The domains under the backend tree now: each taken from the last reading unless a watch
 * named it since, else read. The new list replaces x->doms. 0 or a negative errno. */
static int refresh_doms(struct xen *x, char **ids, unsigned n)
{
	struct dom *doms = calloc(n ? n : 1, sizeof(*doms));
	size_t k = 0;
	int rc = 0;

	if (!doms)
		return -ENOMEM;
	for (unsigned i = 0; i < n && !rc; i++) {
		long domid = xen_parse_id(ids[i]);
		struct dom *old;

		if (domid <= 0) { /* dom0's own vifs are not a guest's */
			if (domid < 0)
				warn_once(x, "domain skipped, bad domid in xenstore domid=%s",
					  log_q(ids[i]));
			continue;
		}
		old = x->all_stale ? NULL : dom_find(x, domid);
		if (old && !old->stale) {
			doms[k++] = *old;
			old->vifs = NULL; /* moved */
			continue;
		}
		if (!(rc = read_domain(x, domid, old, &doms[k])))
			k++;
	}
	if (rc) {
		doms_free(doms, k);
		return rc;
	}
	doms_free(x->doms, x->n_doms);
	x->doms = doms;
	x->n_doms = k;
	x->all_stale = false;
	return 0;
}

static void on_watch(struct loop *loop, int fd, uint32_t events, void *arg);

/* The connection's fd in the loop, once connected and watched. */
static int xs_register(struct xen *x)
{
	int fd = xs_fileno(x->xs), rc;

	if (!x->loop || x->xs_fd >= 0)
		return 0;
	if (fd < 0)
		return -EBADF;
	if ((rc = loop_add_fd(x->loop, fd, EPOLLIN, on_watch, x)))
		return rc;
	x->xs_fd = fd;
	return 0;
}

/* Connects and watches the backend tree. */
static int xs_connect(struct xen *x)
{
	int rc;

	x->xs = xs_open(0);
	if (!x->xs)
		return errno ? -errno : -EIO;
	if (!xs_watch(x->xs, BACKEND, WATCH_TOKEN))
		rc = errno ? -errno : -EIO;
	else
		rc = xs_register(x);
	if (rc) {
		xs_close(x->xs);
		x->xs = NULL;
	}
	return rc;
}

static void xs_lost(struct xen *x, int err)
{
	if (!x->xs)
		return;
	if (x->xs_fd >= 0)
		loop_del_fd(x->loop, x->xs_fd);
	x->xs_fd = -1;
	xs_close(x->xs);
	x->xs = NULL;
	snprintf(x->problem, sizeof(x->problem), "xenstore unreachable (%s); reconnecting",
		 strerror(err));
	log_warn("xenstore connection lost err=%s; the last model is kept, limits stay as set",
		 strerror(err));
}

bool xen_connection_error(int err)
{
	return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == EBADF || err == EIO ||
	       err == ECONNREFUSED;
}

/* Logs the uplinks a scan found that the last did not, or at another speed, and those gone. */
static void log_found(struct xen *x, const struct platform_scan *scan)
{
	size_t n = scan->n_uplinks < MAX_FOUND ? scan->n_uplinks : MAX_FOUND;

	for (size_t i = 0; i < n; i++) {
		const struct platform_uplink *u = &scan->uplinks[i];
		size_t k;

		for (k = 0; k < x->n_found && strcmp(x->found[k].name, u->name); k++)
			;
		if (k == x->n_found || x->found[k].capacity_bps != u->capacity_bps)
			log_info("uplink found uplink=%s capacity_bps=%llu (its link speed)",
				 log_q(u->name), (unsigned long long)u->capacity_bps);
	}
	for (size_t k = 0; k < x->n_found; k++) {
		size_t i;

		for (i = 0; i < n && strcmp(x->found[k].name, scan->uplinks[i].name); i++)
			;
		if (i == n)
			log_info("uplink gone uplink=%s (no vif on its bridge now)",
				 log_q(x->found[k].name));
	}
	memcpy(x->found, scan->uplinks, n * sizeof(*x->found));
	x->n_found = n;
}

static int xen_scan(struct platform *p, uint64_t now_ns, struct platform_scan *scan)
{
	struct xen *x = p->priv;
	struct scan_ctx c = { .scan = scan };
	char **doms;
	unsigned n = 0;
	int rc = 0;

	(void)now_ns;
	memset(scan, 0, sizeof(*scan));
	if (!x->xs)
		return -ENOTCONN;
	if ((rc = platform_scan_start(scan, &x->host)))
		return rc;
	doms = xs_directory(x->xs, XBT_NULL, BACKEND, &n);
	if (!doms && errno != ENOENT) {
		rc = errno ? -errno : -EIO;
		if (xen_connection_error(-rc))
			xs_lost(x, -rc);
		platform_scan_free(scan);
		return rc;
	}
	rc = refresh_doms(x, doms, doms ? n : 0);
	for (size_t i = 0; i < x->n_doms && !rc; i++) {
		struct platform_vm vm;

		rc = vm_of(x, &c, &x->doms[i], &vm);
		if (rc || !vm.n_vifs)
			free(vm.vifs);
		else
			rc = platform_scan_add_vm(scan, &vm);
	}
	free(doms);
	if (rc)
		platform_scan_free(scan);
	else if (!x->host.n_uplinks)
		log_found(x, scan);
	return rc;
}

/* A watch fired for path: the domain under the backend tree it names is read again at the
 * next scan; every domain, if it names none (the tree itself: its watch's first event). */
static void mark_stale(struct xen *x, const char *path)
{
	long domid = xen_watch_domid(path);
	struct dom *d;

	if (domid < 0) {
		x->all_stale = true;
		return;
	}
	if ((d = dom_find(x, domid)))
		d->stale = true;
}

/* The watch fired: a rescan is due. */
static void on_watch(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct xen *x = arg;
	char **ev;
	int due = 0;

	(void)loop, (void)fd, (void)events;
	errno = 0;
	while (x->xs && (ev = xs_check_watch(x->xs))) {
		const char *path = ev[XS_WATCH_PATH];
		size_t n = strlen(path);

		/* A vif's rate node is the enforcer's own writing: nothing a scan reads. */
		if (n < 5 || strcmp(path + n - 5, "/rate")) {
			mark_stale(x, path);
			due = PLATFORM_RESCAN;
		}
		free(ev);
	}
	if (errno && errno != EAGAIN && xen_connection_error(errno))
		xs_lost(x, errno);
	if (due)
		x->notify(x->notify_arg, due);
}

/* Each second: is xenstored still there (a round trip), or back? */
static void on_probe(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct xen *x = arg;
	uint64_t ticks;
	char *path;

	(void)loop, (void)events;
	if (read(fd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
		return;
	if (!x->xs) {
		if (xs_connect(x))
			return; /* again in a second */
		x->problem[0] = '\0';
		x->all_stale = true;
		log_info("xenstore reconnected: rescanning, watching and applying every limit "
			 "again");
		x->notify(x->notify_arg, PLATFORM_RESYNC);
		return;
	}
	path = xs_get_domain_path(x->xs, 0);
	if (!path && xen_connection_error(errno ? errno : EIO))
		xs_lost(x, errno ? errno : EIO);
	free(path);
}

static void xen_unwatch(struct platform *p)
{
	struct xen *x = p->priv;

	if (!x->loop)
		return;
	loop_del_fd(x->loop, x->probe_fd);
	if (x->xs_fd >= 0)
		loop_del_fd(x->loop, x->xs_fd);
	x->xs_fd = -1;
	x->loop = NULL;
}

static int xen_watch(struct platform *p, struct loop *loop, platform_notify_fn *notify, void *arg)
{
	struct xen *x = p->priv;
	int rc;

	x->notify = notify;
	x->notify_arg = arg;
	if ((rc = loop_add_fd(loop, x->probe_fd, EPOLLIN, on_probe, x)))
		return rc;
	x->loop = loop;
	if (x->xs && (rc = xs_register(x)))
		xen_unwatch(p);
	return rc;
}

static void xen_close(struct platform *p)
{
	struct xen *x = p->priv;

	if (!x)
		return;
	xen_unwatch(p);
	if (x->xs)
		xs_close(x->xs);
	if (x->probe_fd >= 0)
		close(x->probe_fd);
	platform_host_free(&x->host);
	doms_free(x->doms, x->n_doms);
	free(x);
	p->priv = NULL;
}

static const char *xen_problem(struct platform *p)
{
	struct xen *x = p->priv;

	return x->problem[0] ? x->problem : NULL;
}

static const struct platform_ops xen_ops = {
	.name = "xen",
	.scan = xen_scan,
	.watch = xen_watch,
	.unwatch = xen_unwatch,
	.close = xen_close,
	.problem = xen_problem,
};

int xen_open(struct platform *p, const struct platform_host *host, char *why, size_t why_len)
{
	struct xen *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->probe_fd = x->xs_fd = -1;
	p->ops = &xen_ops;
	p->priv = x;
	if (platform_host_copy(&x->host, host)) {
		xen_close(p);
		return -ENOMEM;
	}
	x->probe_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	errno = 0;
	if (x->probe_fd < 0 ||
	    timerfd_settime(x->probe_fd, 0, &(struct itimerspec){ { 1, 0 }, { 1, 0 } }, NULL) < 0 ||
	    (errno = -xs_connect(x))) {
		int rc = errno ? -errno : -EIO;

		snprintf(why, why_len,
			 "xen: no xenstore (%s); dom0 runs xenstored, or XENSTORED_PATH names its "
			 "socket",
			 strerror(-rc));
		xen_close(p);
		return rc;
	}
	return 0;
}
