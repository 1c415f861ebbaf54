/*
 * testbed.c: builds and removes the testbed of testbed.h over rtnetlink (rtnl.c, tc.c).
 */
#include "testbed.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include "log.h"
#include "netns.h"
#include "rtnl.h"
#include "tc.h"

#define PREFIX "dbavm-"

struct bed {
	struct mnl_socket *nl; /* in the driver domain */
	int home;	       /* the driver domain's namespace */
	const char *doing;     /* for the error message */
};

/* ---- links and addresses, over rtnetlink ---- */

static struct nlmsghdr *link_msg(char *buf, int type, unsigned flags, unsigned ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	return nlh;
}

/* Starts an RTM_NEWLINK for a new link of this kind; the caller adds IFLA_INFO_DATA if any
 * and closes the returned IFLA_LINKINFO nest. */
static struct nlmsghdr *new_link(char *buf, const char *name, const char *kind,
				 struct nlattr **info)
{
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	*info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	return nlh;
}

/* A bridge whose ports forward at once (forward delay 0: no link events seconds later). */
static int bridge_add(struct mnl_socket *nl, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlattr *info, *data;
	struct nlmsghdr *nlh = new_link(buf, name, "bridge", &info);

	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return rtnl_request(nl, nlh, NULL, NULL);
}

/* A veth pair whose peer is created in the namespace open at peer_ns_fd (-1: this one). */
static int veth_add(struct mnl_socket *nl, const char *name, const char *peer, int peer_ns_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg pm = { .ifi_family = AF_UNSPEC };
	struct nlattr *info, *data, *pe;
	struct nlmsghdr *nlh = new_link(buf, name, "veth", &info);

	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pe = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow an ifinfomsg of its own. */
	memcpy(mnl_nlmsg_get_payload_tail(nlh), &pm, sizeof(pm));
	nlh->nlmsg_len += MNL_ALIGN(sizeof(pm));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (peer_ns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_ns_fd);
	mnl_attr_nest_end(nlh, pe);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return rtnl_request(nl, nlh, NULL, NULL);
}

/* Sets the master (0: leave) and brings the link up. */
static int link_up(struct mnl_socket *nl, unsigned ifindex, unsigned master)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	return rtnl_request(nl, nlh, NULL, NULL);
}

static int link_del(struct mnl_socket *nl, unsigned ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return rtnl_request(nl, link_msg(buf, RTM_DELLINK, 0, ifindex), NULL, NULL);
}

/* Adds IPv4 address addr (network byte order)/prefix to ifindex. */
static int addr_add(struct mnl_socket *nl, unsigned ifindex, uint32_t addr, unsigned prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_index = ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
	return rtnl_request(nl, nlh, NULL, NULL);
}

/* Writes "1" to a sysctl; IPv6 may be absent from the kernel, which is as good. */
static void sysctl_one(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			log_debug("sysctl not set path=%s err=%s", path, strerror(errno));
		close(fd);
	}
}

static void ipv6_off_link(const char *ifname)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	sysctl_one(path);
}

static int ipv6_off_ns(void *arg)
{
	(void)arg;
	/* /proc/sys/net is the namespace of whoever opens it: this one. */
	sysctl_one("/proc/sys/net/ipv6/conf/all/disable_ipv6");
	sysctl_one("/proc/sys/net/ipv6/conf/default/disable_ipv6");
	return 0;
}

/* /run/netns as iproute2 keeps it: a shared mount point, so that namespaces mounted there are
 * seen from every mount namespace. */
static int netns_dir_ready(void)
{
	if (mkdir(NETNS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL || mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) < 0 ||
	    mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return -errno;
	return 0;
}

/* A new named namespace, as `ip netns add`: a fresh network namespace bind-mounted on
 * /run/netns/NAME. Returns an fd open on it, or a negative errno. */
static int netns_add(struct bed *b, const char *name)
{
	char path[128];
	int fd, rc = 0;

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	if (unshare(CLONE_NEWNET) < 0) {
		rc = -errno;
		unlink(path);
		return rc;
	}
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
		rc = -errno;
	if (setns(b->home, CLONE_NEWNET) < 0) {
		log_error("could not return to the driver domain's namespace err=%s",
			  strerror(errno));
		abort();
	}
	if (rc) {
		unlink(path);
		return rc;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

struct inside {
	uint32_t addr; /* network order */
	bool down;     /* leave eth0 down */
};

static int setup_inside(void *arg)
{
	const struct inside *in = arg;
	struct mnl_socket *nl = rtnl_open(0);
	unsigned lo = if_nametoindex("lo"), eth0 = if_nametoindex("eth0");
	int rc;

	if (!nl)
		return -errno;
	rc = lo && eth0 ? 0 : -ENODEV;
	if (!rc)
		rc = link_up(nl, lo, 0);
	if (!rc)
		rc = addr_add(nl, eth0, in->addr, 24);
	if (!rc && !in->down)
		rc = link_up(nl, eth0, 0);
	mnl_socket_close(nl);
	return rc;
}

/* Moves ifindex into the namespace open at ns_fd, named eth0 there. */
static int link_move(struct mnl_socket *nl, unsigned ifindex, int ns_fd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);

	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)ns_fd);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	return rtnl_request(nl, nlh, NULL, NULL);
}

/* Namespace ns with eth0 = addr/24, whose peer `host_end` is a port of the bridge. moved: the
 * veth made in the driver domain and plugged in, the guest end moved in last and left down (a
 * guest that has not brought its interface up yet; no event about the host end follows). */
static int add_guest(struct bed *b, const char *ns, const char *host_end, unsigned bridge,
		     const char *addr, bool moved)
{
	struct inside in = { .down = moved };
	char guest[IFNAMSIZ];
	unsigned ifindex;
	int fd, rc;

	b->doing = ns;
	fd = netns_add(b, ns);
	if (fd < 0)
		return fd;
	inet_pton(AF_INET, addr, &in.addr);
	snprintf(guest, sizeof(guest), PREFIX "g%s", host_end + strlen(PREFIX "vif"));
	rc = rtnl_in_netns(fd, b->home, ipv6_off_ns, NULL);
	if (!rc)
		rc = moved ? veth_add(b->nl, host_end, guest, -1)
			   : veth_add(b->nl, host_end, "eth0", fd);
	if (!rc) {
		ipv6_off_link(host_end);
		ifindex = if_nametoindex(host_end);
		rc = ifindex ? link_up(b->nl, ifindex, bridge) : -errno;
	}
	if (!rc && moved) {
		ifindex = if_nametoindex(guest);
		rc = ifindex ? link_move(b->nl, ifindex, fd) : -errno;
	}
	if (!rc)
		rc = rtnl_in_netns(fd, b->home, setup_inside, &in);
	close(fd);
	return rc;
}

/* VM i of the bed: namespace dbavm-vm<i>, host end dbavm-vif<i>, 198.18.0.<i>. */
static int add_vm(struct bed *b, unsigned i, bool moved)
{
	char ns[IFNAMSIZ + 8], vif[IFNAMSIZ], addr[32];
	unsigned br = if_nametoindex(PREFIX "br0");

	b->doing = PREFIX "br0";
	if (!br)
		return -errno;
	snprintf(ns, sizeof(ns), PREFIX "vm%u", i);
	snprintf(vif, sizeof(vif), PREFIX "vif%u", i);
	snprintf(addr, sizeof(addr), "198.18.0.%u", i);
	return add_guest(b, ns, vif, br, addr, moved);
}

static int build(struct bed *b, unsigned n_vms, uint64_t uplink_bps)
{
	unsigned br, up;
	int rc;

	b->doing = PREFIX "br0";
	rc = bridge_add(b->nl, PREFIX "br0");
	if (rc)
		return rc;
	ipv6_off_link(PREFIX "br0");
	br = if_nametoindex(PREFIX "br0");
	if (!br || (rc = link_up(b->nl, br, 0)))
		return br ? rc : -errno;
	rc = add_guest(b, PREFIX "sink", TESTBED_UPLINK, br, "198.18.0.254", false);
	if (rc)
		return rc;
	b->doing = TESTBED_UPLINK " shaping";
	up = if_nametoindex(TESTBED_UPLINK);
	if (!up)
		return -errno;
	rc = uplink_bps ? tc_htb_qdisc(b->nl, up, TC_H_MAKE(1u << 16, 0), 1) : 0;
	if (!rc && uplink_bps)
		rc = tc_htb_class_burst(b->nl, up, TC_H_MAKE(1u << 16, 1), TC_H_MAKE(1u << 16, 0),
					uplink_bps / 8, uplink_bps / 8, TESTBED_UPLINK_BURST);
	for (unsigned i = 1; i <= n_vms && !rc; i++)
		rc = add_vm(b, i, false);
	return rc;
}

static void bed_close(struct bed *b)
{
	if (b->nl)
		mnl_socket_close(b->nl);
	if (b->home >= 0)
		close(b->home);
}

static void failed(const struct bed *b, int rc, char *why, size_t why_len)
{
	snprintf(why, why_len, "building the testbed failed at %s: %s (it needs root)", b->doing,
		 strerror(-rc));
}

int testbed_add_vm(unsigned i, bool moved, char *why, size_t why_len)
{
	struct bed b = { .nl = rtnl_open(0), .doing = "the driver domain" };
	int rc;

	b.home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	rc = b.nl && b.home >= 0 ? add_vm(&b, i, moved) : -errno;
	if (rc)
		failed(&b, rc, why, why_len);
	bed_close(&b);
	return rc;
}

/* Unmounts and removes a named namespace, as `ip netns del`. */
static int netns_del(const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	umount2(path, MNT_DETACH);
	return unlink(path) < 0 ? -errno : 0;
}

int testbed_del_vm(unsigned i)
{
	char ns[IFNAMSIZ + 8];

	snprintf(ns, sizeof(ns), PREFIX "vm%u", i);
	return netns_del(ns);
}

int testbed_down(void)
{
	struct mnl_socket *nl = rtnl_open(0);
	struct if_nameindex *ifs = if_nameindex();
	struct dirent *de;
	DIR *dir;
	int n = 0;

	for (struct if_nameindex *i = ifs; nl && i && i->if_index; i++)
		if (!strncmp(i->if_name, PREFIX, strlen(PREFIX)) && link_del(nl, i->if_index) == 0)
			n++; /* a veth's peer goes with it: ENODEV for it is no error */
	if (ifs)
		if_freenameindex(ifs);
	if (nl)
		mnl_socket_close(nl);
	dir = opendir(NETNS_DIR);
	while (dir && (de = readdir(dir))) {
		if (!strncmp(de->d_name, PREFIX, strlen(PREFIX)) && netns_del(de->d_name) == 0)
			n++;
	}
	if (dir)
		closedir(dir);
	return n;
}

int testbed_up(unsigned n_vms, uint64_t uplink_bps, char *why, size_t why_len)
{
	struct bed b = { .nl = rtnl_open(0), .doing = NETNS_DIR };
	int stale, rc;

	b.home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	rc = b.nl && b.home >= 0 ? netns_dir_ready() : -errno;
	if (!rc) {
		stale = testbed_down();
		if (stale)
			log_warn("stale testbed removed items=%d", stale);
		rc = build(&b, n_vms, uplink_bps);
	}
	if (rc) {
		failed(&b, rc, why, why_len);
		testbed_down();
	} else {
		log_info("testbed up vms=%u uplink=" TESTBED_UPLINK " uplink_bps=%llu", n_vms,
			 (unsigned long long)uplink_bps);
	}
	bed_close(&b);
	return rc;
}
