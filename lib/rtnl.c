/*
 * rtnl.c: the rtnetlink core over libmnl (one request and its answer or dump, resynchronised
 * after an answer given up on), attribute parsing, and entering a namespace.
 */
#include "rtnl.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "log.h"

#define RTNL_DUMP_ATTEMPTS 5

struct mnl_socket *rtnl_open(unsigned groups)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (nl && mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

/* Reads and drops whatever waits on the socket: the rest of an answer given up on (an error, an
 * interrupted dump), which would otherwise answer the next request with a sequence number it
 * does not expect ("Protocol error", on every request after). The kernel makes a dump's next
 * part as the last is read, so reading until there is nothing ends it. A stray message that
 * still turns up costs one request its answer, and this puts the socket right again. */
static void rtnl_flush(struct mnl_socket *nl)
{
	char buf[8192];

	while (recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int rtnl_request(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static unsigned seq;
	char buf[32768]; /* a dump's datagrams are at most a page or two */
	unsigned portid = mnl_socket_get_portid(nl);
	bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
	ssize_t n;
	int rc;

	nlh->nlmsg_seq = ++seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* Every way out before the answer's end reads away what is left of it. */
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		errno = 0;
		rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
		if (rc == MNL_CB_ERROR) {
			/* libmnl says EINTR for a dump the kernel marked NLM_F_DUMP_INTR: what it
			 * dumped changed under it, and the caller starts again. */
			rc = errno ? -errno : -EIO;
			rtnl_flush(nl);
			return rc;
		}
		/* A dump ends with NLMSG_DONE; anything else with its one answer. */
		if (rc == MNL_CB_STOP || !dump)
			return 0;
	}
	rc = n < 0 ? -errno : 0;
	rtnl_flush(nl);
	return rc;
}

struct attr_table {
	const struct nlattr **tb;
	uint16_t max;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct attr_table *t = data;

	if (mnl_attr_get_type(a) <= t->max)
		t->tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

void rtnl_parse(const struct nlmsghdr *nlh, size_t offset, const struct nlattr **tb, uint16_t max)
{
	struct attr_table t = { tb, max };

	mnl_attr_parse(nlh, (unsigned)offset, attr_cb, &t);
}

void rtnl_parse_nested(const struct nlattr *attr, const struct nlattr **tb, uint16_t max)
{
	struct attr_table t = { tb, max };

	mnl_attr_parse_nested(attr, attr_cb, &t);
}

int rtnl_dump_links(struct mnl_socket *nl, mnl_cb_t cb, void (*restart)(void *data), void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int rc = -EINTR;

	/* Links come and go while the kernel dumps them: a dump it marks interrupted is taken
	 * again, from the start, a few times. */
	for (int attempt = 0; attempt < RTNL_DUMP_ATTEMPTS && rc == -EINTR; attempt++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct ifinfomsg *ifm;

		nlh->nlmsg_type = RTM_GETLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
		ifm->ifi_family = AF_UNSPEC;
		restart(data);
		rc = rtnl_request(nl, nlh, cb, data);
	}
	return rc;
}

int rtnl_in_netns(int ns_fd, int home_fd, int (*fn)(void *), void *arg)
{
	int rc;

	if (setns(ns_fd, CLONE_NEWNET) < 0)
		return -errno;
	rc = fn(arg);
	if (setns(home_fd, CLONE_NEWNET) < 0) {
		log_error("could not return to the driver domain's namespace err=%s",
			  strerror(errno));
		abort();
	}
	return rc;
}
