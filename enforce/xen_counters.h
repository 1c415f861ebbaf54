/*
 * xen_counters: the counters of the vifs on a Xen host. libxenstat's per-vif network statistics
 * when the hypervisor answers, the vif netdevs' own (none.c) otherwise. Either way a source
 * that measures only: the `none` enforcer on xen, and what xen-credit counts with.
 */
#ifndef DBAVM_XEN_COUNTERS_H
#define DBAVM_XEN_COUNTERS_H

#include <stddef.h>

struct enforcer;

/* Opens libxenstat, or the netdev statistics when it has no hypervisor (logged, with why).
 * Returns 0, or a negative errno with why set. */
int xen_counters_open(struct enforcer *e, char *why, size_t why_len);

#endif
