/*
 * counter_chain: a measuring enforcer made of several ways to count the same vifs, tried in
 * order, per vif: each vif is counted by the first source that attaches it, and moves on to the
 * next one when its readings fail CHAIN_FAILS periods in a row while that source works for the
 * others (a source out as a whole, its sync failing, is waited for: it comes back, and the
 * vifs are not counted meanwhile, which the agent shows). On Xen the sources are the BPF
 * tap, the vif netdevs and libxenstat (xen_counters.h): a dom0 whose kernel has no clsact
 * cannot take the tap, and its vifs are counted from their netdevs instead of reading 0.
 *
 * The counters a vif shows go on across a move: the new source's first reading continues from
 * the last one the old source gave, so the agent sees no reset and no spike. What the vif is
 * counted by, and why not by the first source, is in its enf_vif (counted_by, count_note) and
 * in one log line per move. A later source is opened when a vif first needs it; a source that
 * does not open is skipped, with why.
 */
#ifndef DBAVM_COUNTER_CHAIN_H
#define DBAVM_COUNTER_CHAIN_H

#include <stddef.h>
#include <stdint.h>

struct enforcer;

#define CHAIN_MAX 4
#define CHAIN_FAILS 3 /* readings failed in a row, its source up, before a vif moves on */

/* One way of counting: its name (a --xen-counters value) and how it opens, as an enforcer
 * that measures only (0, or a negative errno with why set). */
struct counter_source {
	const char *name; /* in the API and the log: "bpf", "netdev", "xenstat" */
	const char *what; /* for a person: "the vif netdevs" */
	int (*open)(struct enforcer *e, uint32_t sample_every, char *why, size_t why_len);
};

/* The chain over src[0..n) (n <= CHAIN_MAX), which are tried in that order. Opens the first
 * source that opens; 0, or a negative errno with why set when none does. The chain's ops are
 * those of a measuring enforcer named `none`; it samples delay when the first source does. */
int counter_chain_open(struct enforcer *e, const struct counter_source *src, size_t n,
		       uint32_t sample_every, char *why, size_t why_len);

/* The source the chain opened first (what counts a vif that any source takes). */
const struct counter_source *counter_chain_first(const struct enforcer *e);

#endif
