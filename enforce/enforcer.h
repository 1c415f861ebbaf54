/*
 * enforcer: applies allocations to vifs and counts what they offer, pass and drop. An
 * enforcer sees a vif through struct enf_vif and its limit through struct enf_limit, never the
 * agent's model. On netns: netfront (BPF at the guest end, netfront.c), netback (HTB
 * on the uplink in the driver domain, netback.c) and none (interface statistics, none.c); the
 * sim platform brings a model of its own. On xen: xen-credit (netback's rate node,
 * xen_credit.c), none counting from libxenstat or the netdevs (xen_counters.c).
 */
#ifndef DBAVM_ENFORCER_H
#define DBAVM_ENFORCER_H

#include <stdbool.h>
#include <stdint.h>

#include "measure.h"
#include "platform.h"
#include "sla.h"

/* The enforcers there are, by the name --enforcer takes (config.c's table). */
enum enforcer_kind {
	ENFORCER_NETFRONT,
	ENFORCER_NETBACK,
	ENFORCER_XEN_CREDIT,
	ENFORCER_NONE,
	ENFORCER_VIF_POLICE,
};

struct enforcer;
struct delay_matcher;

/* What an enforcer knows of one direction of a vif: the platform's description of it, its VM's
 * id (for log lines), the direction, and a place for the enforcer's own state. Nothing of the
 * agent's model beyond. An enforcer is given the ingress direction of a vif only if it says it
 * holds ingress (holds_ingress); each direction is attached, read and limited on its own. */
struct enf_vif {
	const struct platform_vif *desc;
	const char *vm;
	struct delay_stats *delay; /* where its delay samples go; NULL: not measured */
	void *state;		   /* the enforcer's own; NULL while not attached */
	enum sla_dir dir;	   /* SLA_EGRESS: what the VM sends; SLA_INGRESS: receives */
	/* Set by an enforcer that can count a vif more than one way (on Xen: counter_chain.h):
	 * the source counting it ("bpf", "netdev", "xenstat"; NULL: the enforcer's only way),
	 * and why it is not the first one, or why no source counts it ("": neither). */
	const char *counted_by;
	char count_note[192];
};

/* How a limit is held beyond its rates, from the SLA: what the buckets may let through at once
 * (0: the enforcer's own rule), and the DSCP mark what the VM sends leaves with (-1: none). */
struct enf_shape {
	uint64_t burst_bits, burst_pkts;
	int dscp;
};

/* A limit to hold, and what an enforcer may need beside it. */
struct enf_limit {
	uint64_t bps, pps; /* UINT64_MAX: unlimited */
	uint64_t min_bps;  /* the vif's guarantee (netback's HTB rate) */
	uint64_t min_pps;
	bool own_sla; /* its VM has an SLA of its own, not the default */
	struct enf_shape shape;
	/* What passed last period: an enforcer that folds the packet limit into a bit rate
	 * learns the mean frame from it (frame.h). */
	struct rate passed;
};

struct enforcer_ops {
	const char *name;
	bool sees_offered; /* counts load before its own drops: the allocator's demand is exact */
	/* It holds what a VM receives too: attach is called for each vif's ingress direction,
	 * which it holds on the driver domain's side of the vif, before the copy into the guest.
	 * Without it, ingress is neither limited nor counted (its figures are null). */
	bool holds_ingress;
	/* What a VM receives waits in a shaper, whatever sees_offered says of what it sends:
	 * there the load is counted as it passes, not as it was offered (vif-police drops what
	 * a VM sends, and holds what it receives as netfront does). */
	bool ingress_waits;
	/* It writes an SLA's DSCP mark into what the VM sends (enf_shape.dscp); without it an
	 * SLA with a mark is refused. */
	bool marks_dscp;
	int (*attach)(struct enforcer *e, struct enf_vif *v);
	void (*detach)(struct enforcer *e, struct enf_vif *v);
	/* Called once per period before read_counters, with the period's time. */
	int (*sync)(struct enforcer *e, uint64_t now_ns);
	int (*read_counters)(struct enforcer *e, struct enf_vif *v, struct vif_counters *out);
	/* Optional: true when v's counters surely stand where the last sync's read_counters found
	 * them (nothing counted since): the agent then passes a quiet vif by without reading it.
	 * False when in doubt. */
	bool (*unchanged)(struct enforcer *e, struct enf_vif *v);
	int (*apply)(struct enforcer *e, struct enf_vif *v, const struct enf_limit *l);
	/* Optional: called every period for each vif whose limit did not change (apply was not
	 * called; l is the limit in force), for an enforcer whose setting also follows measured
	 * rates (netfront and xen-credit fold the packet limit in by the mean frame). */
	int (*retune)(struct enforcer *e, struct enf_vif *v, const struct enf_limit *l);
	void (*close)(struct enforcer *e);
	/* Optional (NULL: no delay measurement): hands every sampled packet since the last call
	 * to the matcher (delay.h), then expires the samples it waited for too long. */
	void (*drain_samples)(struct enforcer *e, struct delay_matcher *m);
	/* Where its drops happen: in the guest, by policy (netfront), or on the path after the
	 * copy (netback's HTB: the guest's packets are lost in the driver domain). */
	bool drops_on_path;
	/* Of what a VM sends, it counts only what passed its hold: what the guest wanted to send
	 * beyond it, and what the guest dropped for want of room, stay in the guest, unseen
	 * (xen-credit: netback's credit leaves requests on the shared ring). Offered load and
	 * policy loss are then not known, and reported as null, never as passed and 0. What a VM
	 * receives, where held, is counted before the drops (holds_ingress). */
	bool passed_only;
	/* Its readings stand for the time sync was given (a simulation, or a test's script);
	 * else, as for every real enforcer, for the moment they are read, which a period's scan
	 * of the platform can put a few hundred ms after the period's start. */
	bool simulated_time;
};

struct enforcer {
	const struct enforcer_ops *ops;
	void *priv;
	uint32_t sample_every; /* delay sampling: 1 packet in this many; 0: none */
};

#endif
