#include "rtnl.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>

struct mnl_socket *rtnl_open(unsigned groups)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (nl && mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
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
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		errno = 0;
		rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
		if (rc == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		/* A dump ends with NLMSG_DONE; anything else with its one answer. */
		if (rc == MNL_CB_STOP || !dump)
			return 0;
	}
	return n < 0 ? -errno : 0;
}
