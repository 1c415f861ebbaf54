/*
 * netns: the Linux platform. VMs are named network namespaces (/run/netns/NAME); a vif is a
 * veth pair whose guest end is in the VM's namespace and whose host end, in the driver domain
 * (the root namespace), is a port of the same bridge as one of the configured uplinks.
 */
#ifndef DBAVM_NETNS_H
#define DBAVM_NETNS_H

#include <stddef.h>

#include "platform.h"

/* Where named network namespaces live, as iproute2 keeps them. */
#define NETNS_DIR "/run/netns"

/* Opens the platform over the given host (uplinks and packet budget; copied). Returns 0, or a
 * negative errno with why set. */
int netns_open(struct platform *p, const struct platform_host *host, char *why, size_t why_len);

#endif
