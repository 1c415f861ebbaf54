/*
 * control: one period of the agent (README, "How it works"):
 *
 *   platform.scan (when due) -> enforcer.read_counters -> measure -> alloc -> enforcer.apply
 *     -> report_publish (report.h: each VM's history entry, once a second) -> control_publish
 *
 * The host model it keeps is its own: the API, /metrics, admission, Placement and --report
 * read the snapshot (snapshot.h) that each period and each change through the functions below
 * publishes, and change the model only through these functions.
 */
#ifndef DBAVM_CONTROL_H
#define DBAVM_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "delay.h"
#include "enforcer.h"
#include "host.h"
#include "platform.h"

#define CONTROL_N_LATENESS 12
extern const uint32_t control_lateness_bucket_us[CONTROL_N_LATENESS];

struct control {
	enum alloc_mode mode;
	struct platform *plat;
	struct enforcer *enf;
	struct host host;
	/* VMs the platform shows that the last scan left out (platform_name_problem), and why */
	struct platform_refusal *refused;
	size_t n_refused;
	bool rescan;  /* the platform said the host changed */
	bool reapply; /* ...or came back from an outage: every limit is applied again */
	bool started;
	bool sync_failing;	 /* the enforcer's last sync failed (logged when it began) */
	uint64_t sync_failures;	 /* periods whose enforcer sync failed */
	uint64_t apply_failures; /* limits the enforcer failed to apply */
	uint64_t tick;		 /* periods completed */
	uint64_t periods_run;	 /* control_tick calls (the first, period 0, included) */
	uint64_t now_ns;	 /* time of the last tick */
	uint64_t read_ns;	 /* ... and of its counters' readings (see enforcer_ops) */
	uint64_t overruns;	 /* periods the loop fell behind */
	/* How late each period started, as a histogram (CONTROL_LATENESS_BUCKETS_US upper bounds,
	 * the last bucket unbounded), with the count and sum. */
	uint64_t lateness_count[CONTROL_N_LATENESS + 1];
	uint64_t lateness_sum_ns, lateness_n;

	/* Per-period working arrays, in vif creation order; rebuilt when vifs come or go. */
	bool topology_changed;
	struct vif **flat;
	size_t n_flat;
	uint64_t vms_generation; /* host.vms_generation when flat was built */
	struct sla *slas;
	struct alloc_vif_in *ain;
	struct alloc_vif_out *aout;
	struct alloc_uplink_in *aup;
	struct alloc_pool_out *apool[ALLOC_NRES];
	struct alloc_ws *ws;
	/* aout holds the allocator's answer to exactly what ain, slas and aup hold now (and
	 * to alloc_host_pps): a period whose inputs did not change skips the allocator. */
	bool alloc_valid;
	uint64_t alloc_host_pps, alloc_floor[ALLOC_NRES];
	struct delay_matcher *matcher; /* when the enforcer samples delay */
	uint64_t seq;		       /* publishes: periods and changes (control_publish) */
	struct snapshot *snap;	       /* the readers' copy, built on demand (snapshot.h) */
};

/* floor: each resource's floor (ALLOC_BPS, ALLOC_PPS), 0 for none. */
int control_init(struct control *ctl, enum alloc_mode mode, const uint64_t floor[ALLOC_NRES],
		 struct platform *plat, struct enforcer *enf);
/* Detaches every vif and frees the model; the platform and enforcer stay open. */
void control_close(struct control *ctl);

/* The changes to the model from outside a period (the API, a reload, the state loaded at
 * start): each is seen by the next period, and publishes (every reader sees it). */

/* vm id's SLA, its record made if the platform has not shown it yet. 0 or -ENOMEM. */
int control_set_sla(struct control *ctl, const char *id, const struct sla *sla);
/* vm id's SLA gone (the default applies); an absent VM's record goes with it. */
void control_clear_sla(struct control *ctl, const char *id);
/* The same for an absent VM's SLA kept past --forget-absent-after, counted. */
void control_forget_sla(struct control *ctl, const char *id);
/* What the store now holds of vm id's absence (stored: absent since then, 0: present), and,
 * if the VM is not on the host, since when it is absent. Nothing if no VM has that id. */
void control_note_absence(struct control *ctl, const char *id, int64_t stored, int64_t since);
/* The allocation mode, the floors and how long an absent VM's SLA lives (SIGHUP). */
void control_reconfigure(struct control *ctl, enum alloc_mode mode,
			 const uint64_t floor[ALLOC_NRES], uint32_t forget_absent_after_s);

/* Records that a period started late_ns after it was due, and that the loop missed `missed`
 * periods before it (overruns). Seen at the period's publish. */
void control_note_start(struct control *ctl, uint64_t late_ns, uint64_t missed);

/* What the platform said (0, PLATFORM_RESCAN, PLATFORM_RESYNC): acted on at the next period
 * (which the agent's loop starts early for it). */
void control_platform_event(struct control *ctl, int what);

/* One period, standing for the time now_ns, then a publish. Returns 0 or a negative errno
 * (logged). */
int control_tick(struct control *ctl, uint64_t now_ns);

/* The model changed: readers see it from now (the snapshot is built again when asked for). */
void control_publish(struct control *ctl);

#endif
