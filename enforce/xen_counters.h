/*
 * xen_counters: the counters of the vifs on a Xen host. libxenstat's per-vif network statistics
 * when the hypervisor answers, the vif netdevs' own (none.c) otherwise. Either way a source
 * that measures only: the `none` enforcer on xen, and what xen-credit counts with.
 */
#ifndef DBAVM_XEN_COUNTERS_H
#define DBAVM_XEN_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "measure.h"

struct enforcer;

/* Opens libxenstat, or the netdev statistics when it has no hypervisor (logged, with why).
 * Returns 0, or a negative errno with why set. */
int xen_counters_open(struct enforcer *e, char *why, size_t why_len);

/* A vif's counters from its libxenstat record. libxenstat reports dom0's side of the vif
 * (its /proc/net/dev line on Linux), so what dom0 received is what the guest sent. */
void xenstat_vif_counters(uint64_t rbytes, uint64_t rpackets, struct vif_counters *out);

#endif
