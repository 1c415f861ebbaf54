/*
 * measure_only: what the enforcers that only measure share (none on netns: the host ends'
 * interface statistics; none on xen: libxenstat). Once a period they fill a table of every
 * vif's cumulative bytes and packets, keyed by a number of their own (an ifindex, a
 * domid/devid pair), and read each vif from it; they detach nothing and apply nothing.
 */
#ifndef DBAVM_MEASURE_ONLY_H
#define DBAVM_MEASURE_ONLY_H

#include <stddef.h>
#include <stdint.h>

#include "measure.h"

struct enforcer;
struct enf_vif;
struct enf_limit;

struct counter_rec {
	uint32_t key;
	uint64_t bytes, pkts; /* what the guest sent */
};

struct counter_table {
	struct counter_rec *r; /* sorted by key once filled */
	size_t n, cap;
};

/* Appends a record; 0 or -ENOMEM. */
int counter_table_add(struct counter_table *t, uint32_t key, uint64_t bytes, uint64_t pkts);
/* Sorts what was added since it was emptied (t->n = 0), for counter_table_read. */
void counter_table_sort(struct counter_table *t);
/* A vif's counters (offered = passed: nothing is dropped by measuring); -EAGAIN if the key is
 * not in the table. */
int counter_table_read(const struct counter_table *t, uint32_t key, struct vif_counters *out);
void counter_table_free(struct counter_table *t);

/* The enforcer ops of a source that limits nothing. */
void measure_only_detach(struct enforcer *e, struct enf_vif *ev);
int measure_only_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l);

#endif
