/*
 * host: the agent's model of this host. VMs (present on the host, or only known by an SLA
 * PUT ahead of them), their vifs, the uplinks and what the allocator last said. One owner: the
 * control loop writes it each period, the API reads it between periods on the same thread.
 */
#ifndef DBAVM_HOST_H
#define DBAVM_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "delay.h"
#include "enforcer.h"
#include "measure.h"
#include "platform.h"
#include "sla.h"

struct vm;
struct port;

/* One direction of a vif (sla.h's enum sla_dir): what its enforcer counts and holds there.
 * Egress is what the VM sends, held at the guest end; ingress what it receives, held on the
 * driver domain's side, and attached only where the enforcer holds ingress (holds_ingress). */
struct vif_side {
	bool attached;		   /* the enforcer holds and counts this direction */
	struct vif_counters cnt;   /* last reading */
	struct vif_counters total; /* since the agent found the vif; never goes back */
	uint64_t cnt_ns;	   /* when it was taken */
	bool have_cnt;
	/* Periods in a row its counters could not be read (0: read at the last period), and the
	 * last error. While it is not counted its figures are null, and the allocator goes on
	 * from the rates of its last reading. */
	uint32_t unread;
	int unread_err;
	struct vif_rates rates; /* over the last period it was read */
	uint64_t held_until;	/* tick until which it counts as held back (control.c) */
	uint64_t at_limit_until[ALLOC_NRES]; /* ... and as at its limit (passed_only enforcers) */
	/* How long each limit bound (periods in which it dropped or held a packet), ns */
	uint64_t limited_ns[MEASURE_NRES];
	struct alloc_vif_out alloc; /* the allocator's last answer */
	bool have_alloc;
	uint64_t applied_bps, applied_pps; /* what the enforcer holds */
	struct enf_shape applied_shape;
	bool applied;
	/* What lets a quiet period pass a unit by (control.c): its last reading moved nothing
	 * (rates all 0); the allocator's input built for it then is what a quiet unit's stays;
	 * the enforcer's last apply or retune of it succeeded with nothing passed (the same call
	 * again does nothing). */
	bool quiet, ain_quiet, settled;
	struct enf_vif enf; /* what the enforcer sees of it, and its state */
};

struct vif {
	struct platform_vif desc; /* as the platform described it: id, ifnames, uplink */
	uint32_t uplink;	  /* index into host.uplinks */
	uint64_t seq;		  /* creation order: the allocator's tie-breaker */
	struct vm *vm;
	struct port *port; /* its own SLA (PUT /ports/{port}/sla); NULL: its VM's governs it */
	struct vif_side side[SLA_NDIR];
	/* Delay, SLA_NDIR of them (egress: from the hook to the uplink; ingress: from the uplink
	 * to the vif's transmit, after its shaper); NULL: the enforcer does not measure delay */
	struct delay_stats *delay;
};

/* What a VM got over one period, as GET /vms/{id} and its history report it. A figure the
 * enforcer cannot see is marked not available (…_na), never given as 0. */
struct vm_period {
	uint64_t tick, t_ms;
	struct rate offered, passed, dropped;
	bool offered_na;		     /* offered and dropped not seen (passed_only) */
	bool passed_na;			     /* a vif of it not counted: no rate or loss known */
	bool delay_na;			     /* the enforcer does not measure delay */
	struct delay_summary delay;	     /* over the period; delay.n == 0: no sample in it */
	bool jitter_na;			     /* not measured, or no two samples yet */
	double jitter_ns;		     /* RFC 3550, since the first sample */
	bool policy_na, path_na;	     /* loss of that cause not measurable here */
	bool policy_ratio_na, path_ratio_na; /* nothing offered, or no sample in the period */
	uint64_t policy_pps, path_pps;
	double policy_ratio, path_ratio; /* shares of what was offered */
};

#define VM_HISTORY 60		    /* entries kept for GET /vms/{id}/stats */
#define VM_HISTORY_NS 1000000000ull /* one a second, or a period if longer */

/* A VM's history: a ring of VM_HISTORY entries, shared by the model and the snapshots that
 * hold it (refs); the model writes into its own copy when a snapshot holds it (report.c). */
struct vm_history {
	uint32_t refs;
	uint32_t head, n;
	struct vm_period e[VM_HISTORY];
};

/* Lets go of h (NULL: nothing); the last one frees it. */
void vm_history_release(struct vm_history *h);

struct vm {
	char id[PLATFORM_ID_MAX];
	char uuid[PLATFORM_UUID_LEN];
	int64_t domid;
	bool present;
	/* When it was last seen leaving, or its SLA put while it was away (seconds since the
	 * epoch; 0 while present); what the store holds of it; control and API keep them. */
	int64_t absent_since, absent_stored;
	bool has_sla;		   /* else the default SLA applies */
	struct vif_counters total; /* over all its vifs since the agent started; never goes back */
	/* The same, but what a reading brings after a gap (readings that failed) across the start
	 * of the history's entry under way counts only by its share of the time after that
	 * start: what the history is made from, so no second shows more, or less, than it got. */
	struct vif_counters timed;
	struct sla_spec sla;
	struct vif **vifs;
	size_t n_vifs;
	uint32_t index;		 /* position in host.vms, as of the control loop's last rebuild */
	struct vm_history *hist; /* NULL until the VM is present */
	/* Where the last entry left off: timed totals, samples, losses and the time. */
	struct vif_counters hist_total;
	uint64_t hist_sampled, hist_lost, hist_ns;
	bool hist_unread;     /* a vif's counters failed in the entry's time: its rates unknown */
	uint64_t hist_due_ns; /* when the next history entry is due (a one-second grid) */
};

/*
 * A port's own SLA (PUT /ports/{port}/sla). It governs one vif, which the allocator then takes
 * as a unit of its own, apart from its VM's SLA (that goes on covering the VM's other vifs).
 * Kept under the port's key: its MAC address, the name that outlives a restart or a migration,
 * or its vif id where the platform reports no MAC.
 */
struct port {
	char key[PLATFORM_ID_MAX];
	struct sla_spec sla;
	/* As a VM's: when its vif was last seen leaving (seconds since the epoch; 0 while it is
	 * on the host), and what the store holds of that. */
	int64_t absent_since, absent_stored;
	struct vif *vif; /* the vif it governs; NULL: not on the host */
	uint32_t index;	 /* position in host.ports */
};

/* An uplink and its pools, per direction: what it sends (its transmit capacity) and what it
 * receives (its receive capacity, the same as the transmit one: a full-duplex link); packets of
 * both directions draw on the same budget (the host's, or the uplink's own for egress). */
struct uplink {
	struct platform_uplink cfg;
	struct alloc_pool_out pool[SLA_NDIR][ALLOC_NRES];
};

struct host {
	struct vm **vms; /* in the order they became known */
	size_t n_vms;
	struct port **ports; /* port SLAs, in the order they were set */
	size_t n_ports;
	struct uplink *uplinks;
	size_t n_uplinks;
	uint64_t host_capacity_pps;
	uint64_t floor[ALLOC_NRES]; /* every vif's least guarantee (--floor-bps, --floor-pps) */
	struct alloc_pool_out host_pps_pool;
	uint64_t next_vif_seq;
	uint64_t vms_generation; /* bumped whenever a VM or port record is added or removed */
	uint64_t generation;	 /* bumped on every change: VMs, vifs, SLAs */
	uint32_t forget_absent_after_s; /* an absent VM's SLA is dropped after this; 0: never */
	uint64_t slas_forgotten;	/* SLAs dropped so */
};

void host_init(struct host *host);
void host_free(struct host *host);

/* What names a VM: its id (name), UUID ("" if none) and (Xen) domid (-1 if none). */
struct vm_keys {
	const char *id, *uuid;
	int64_t domid;
};

/* Among n VMs (keys(set, i) says what names VM i), the one key names, or n if none: a VM of
 * that name before one with that UUID or domid. In *other (NULL: not asked) a second VM the key
 * names (a name equal to another VM's domid or UUID), or n. */
size_t vm_lookup(size_t n, struct vm_keys (*keys)(const void *set, size_t i), const void *set,
		 const char *key, size_t *other);

/* By name, UUID or (Xen) domid; a VM of that name before one with that UUID or domid. NULL if
 * unknown. */
struct vm *host_find_vm(const struct host *host, const char *key);
/* host_find_vm, and in *other a second VM the key also names (a name equal to another VM's
 * domid or UUID), or NULL: the key is ambiguous then, and no caller should guess. */
struct vm *host_lookup_vm(const struct host *host, const char *key, struct vm **other);
/* A new, absent VM record without an SLA; NULL on allocation failure. */
struct vm *host_add_vm(struct host *host, const char *id);
/* Drops the record; the VM must have no vifs. */
void host_remove_vm(struct host *host, struct vm *vm);

struct vif *vm_add_vif(struct host *host, struct vm *vm, const struct platform_vif *desc);
/* Removes and frees vm->vifs[i]. */
void vm_remove_vif(struct host *host, struct vm *vm, size_t i);
struct vif *vm_find_vif(const struct vm *vm, const char *id);

/* Sets a VM's SLA, creating an absent VM record if none has that id; -ENOMEM on failure. */
int host_set_sla(struct host *host, const char *id, const struct sla_spec *sla);
/* Drops a VM's SLA (the default applies); forgets the VM if it is not on the host. */
void host_clear_sla(struct host *host, struct vm *vm);

/* The SLA that governs the VM: its own, or the default. */
const struct sla_spec *vm_sla(const struct vm *vm);
/* The SLA that governs the vif: its port's, its VM's, or the default. */
const struct sla_spec *vif_sla(const struct vif *vif);
/* Whether the vif is under an SLA someone set (its port's or its VM's), not the default. */
bool vif_has_sla(const struct vif *vif);

/* The port SLA kept under key (exactly: a MAC already canonical), or NULL. */
struct port *host_find_port(const struct host *host, const char *key);
/* Sets the SLA kept under key, making the record if there is none; -ENOMEM. */
int host_set_port_sla(struct host *host, const char *key, const struct sla_spec *sla);
/* Drops a port SLA: its vif goes back under its VM's SLA. */
void host_clear_port_sla(struct host *host, struct port *port);
/* Whether the port record names the vif: by the vif's port id, its MAC or its id. */
bool port_names_vif(const struct port *port, const struct vif *vif);
/* Binds each port SLA to the vif it names (the first that does, in the VMs' order), and each
 * vif to at most one port SLA: the one naming it by its orchestrator's port id, else by its
 * MAC, else by its vif id (the first set among equals); a port whose vif left is absent from
 * now, one whose vif came is present. */
void host_bind_ports(struct host *host);

#endif
