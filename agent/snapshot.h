/*
 * snapshot: the host as the readers see it. The API's routes, /metrics, admission, Placement's
 * inputs and --report read an immutable snapshot of the model, never the model itself (struct
 * host is the control loop's alone).
 *
 * Every period and every change through the control functions publishes: the sequence number
 * moves (control_publish). The snapshot itself is built when a reader first asks for it after
 * that (control_snapshot), so an agent nobody reads builds none. It holds copies of what the
 * readers show, and each VM's figures are worked out there, once a period: the period's rates,
 * loss, delay summaries and jitter of each VM and vif (a snapshot after a change between
 * periods, an SLA put, takes them from the last one). The VMs' histories are shared with
 * the model, not copied: the model writes a history that a snapshot holds into a copy of it.
 *
 * A snapshot stays valid until the next control_snapshot() that finds it out of date, the next
 * period (control_tick frees it) or control_close(); a reader takes it, reads, and lets go
 * within one callback of the loop.
 */
#ifndef DBAVM_SNAPSHOT_H
#define DBAVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "report.h"

/* One direction of a vif, as the readers see it (host.h's struct vif_side). */
struct snap_side {
	bool attached;		   /* held and counted; else every figure is null */
	bool have_cnt;		   /* cnt was read (ring_*: what the enforcer saw of the ring) */
	struct vif_counters cnt;   /* the last reading */
	struct vif_counters total; /* since the agent found the vif */
	struct vif_rates rates;	   /* over the last period */
	bool have_alloc;	   /* else unlimited */
	struct alloc_vif_out alloc;
	uint64_t limited_ns[MEASURE_NRES]; /* how long each limit bound (total.limited_pkts) */
	/* Not counted (its rates null) for that many periods in a row, the last error; what
	 * counts it, where the enforcer can count it more than one way, and why not the first */
	uint32_t unread;
	int unread_err;
	const char *counted_by; /* static; NULL: the enforcer itself */
	char count_note[sizeof(((struct enf_vif *)0)->count_note)];
};

/* One direction's delay on a vif. */
struct snap_delay {
	bool measured; /* the enforcer samples delay on it */
	struct delay_summary period, total;
	bool jitter_known; /* some sample since found */
	double jitter_ns;
};

struct snap_vif {
	char id[PLATFORM_ID_MAX];
	char mac[PLATFORM_MAC_LEN];    /* "": not known */
	char port_id[PLATFORM_ID_MAX]; /* the orchestrator's id for it; "": none known */
	char uplink[IFNAMSIZ];
	int32_t port;	       /* the port SLA governing it (index into snapshot.ports), or -1 */
	uint32_t vm;	       /* its VM (index into snapshot.vms) */
	uint32_t uplink_index; /* into snapshot.uplinks */
	struct snap_side side[SLA_NDIR];
	struct snap_delay delay[SLA_NDIR];
};

struct snap_vm {
	char id[PLATFORM_ID_MAX];
	char uuid[PLATFORM_UUID_LEN];
	int64_t domid;
	bool present, has_sla;
	int64_t absent_since, absent_stored;
	struct sla_spec sla;	      /* its own (has_sla) */
	struct sla_spec sla_in_force; /* its own or the default */
	struct vif_counters total;    /* over all its vifs since the agent started */
	struct vm_period period;      /* what it got over the last period */
	/* Its vifs' delay together, each direction, since found (DELAY_TOTAL); and what they
	 * received over the period (what they sent over the period is in `period`). */
	struct vm_delay delay[SLA_NDIR], delay_in_period;
	struct snap_vif *vifs;
	size_t n_vifs;
	const struct vm_history *hist; /* NULL: no entry yet */
};

/* A port SLA (host.h's struct port). */
struct snap_port {
	char key[PLATFORM_ID_MAX];
	struct sla_spec sla;
	int64_t absent_since, absent_stored;
	int64_t vif; /* the vif it governs (index into snapshot.vifs), or -1: not on the host */
};

/* What a {port} key names: a vif on the host (vif, and its VM), its port SLA if it has one
 * (sla), or a port SLA whose port is not on the host (sla alone). */
struct port_ref {
	const struct snap_vm *vm;
	const struct snap_vif *vif;
	const struct snap_port *sla;
};

struct snapshot {
	uint64_t seq;		   /* control_publish's count when it was built */
	uint64_t model_generation; /* host.generation: VMs, vifs or SLAs changed */
	uint64_t periods_run;	   /* control.periods_run: of which period it is */
	uint64_t tick, now_ns, read_ns;
	bool started;
	uint64_t overruns, sync_failures, apply_failures;
	uint64_t lateness_count[CONTROL_N_LATENESS + 1], lateness_sum_ns, lateness_n;
	struct snap_vm *vms; /* in the order they became known */
	size_t n_vms;
	struct snap_vif *vifs; /* all the VMs' vifs, in the VMs' order (each VM's points here) */
	size_t n_vifs;
	/* Sides not read last period, or counted by a fallback source: none, nearly always, and
	 * then GET /readyz and /metrics need not look at every vif to say so. */
	size_t n_noted_sides;
	struct snap_port *ports; /* port SLAs, in the order they were set */
	size_t n_ports;
	struct uplink *uplinks;
	size_t n_uplinks;
	uint64_t host_capacity_pps, floor[ALLOC_NRES];
	struct alloc_pool_out host_pps_pool;
	uint32_t forget_absent_after_s;
	uint64_t slas_forgotten;
	struct platform_refusal *refused;
	size_t n_refused;
	char *platform_problem; /* why the platform is not ready; NULL: it is */
	/* The enforcer: what it sees and how it samples, and whether it holds ingress. */
	bool passed_only, drops_on_path, samples_delay, holds_ingress, marks_dscp;
	uint32_t sample_every;
	uint64_t delay_overflows;
};

/* The snapshot of ctl's model as of its last publish: built now if it is out of date. NULL
 * only when out of memory. */
const struct snapshot *control_snapshot(struct control *ctl);

/* Builds one (snapshot.c; control_snapshot is the way to one) and frees it. */
struct snapshot *snapshot_build(const struct control *ctl);
void snapshot_free(struct snapshot *s);

/* As host_lookup_vm and host_find_vm, in the snapshot. */
const struct snap_vm *snapshot_lookup_vm(const struct snapshot *s, const char *key,
					 const struct snap_vm **other);
const struct snap_vm *snapshot_find_vm(const struct snapshot *s, const char *key);

/*
 * What key names among the ports (GET /ports/{port}): a vif by its id, its MAC address (any
 * case, colons or dashes) or its orchestrator's port id (the platform's, or the Neutron port
 * its SLA follows), a port SLA by its key. 1 with *out
 * filled; 0: nothing; 2: more than one port (a MAC two vifs carry), *out and *other the first
 * two.
 */
int snapshot_lookup_port(const struct snapshot *s, const char *key, struct port_ref *out,
			 struct port_ref *other);

/* A VM's history entry k, oldest first (k < hist->n). */
const struct vm_period *vm_history_at(const struct vm_history *h, uint32_t k);

#endif
