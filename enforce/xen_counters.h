/*
 * xen_counters: the counters of the vifs on a Xen host, a source that measures only: the
 * `none` enforcer on xen, and what xen-credit counts with. By default the vif netdevs' own
 * statistics (none.c): one rtnetlink dump a period reads them all. libxenstat, on request,
 * reads the same netdev counters (/proc/net/dev) after a hypercall for the domain list and
 * xenstore reads for each domain's vifs; in a dom0 at a 100 ms period that cost a third of
 * its vCPU, for nothing the netdevs do not say. It stays for comparison, and for a host where
 * it is the tool operators trust.
 */
#ifndef DBAVM_XEN_COUNTERS_H
#define DBAVM_XEN_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>

struct enforcer;

/* Opens the netdev statistics, or with xenstat libxenstat (the netdevs' when it has no
 * hypervisor: logged, with why). Returns 0, or a negative errno with why set. */
int xen_counters_open(struct enforcer *e, bool xenstat, char *why, size_t why_len);

#endif
