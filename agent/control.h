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
/* Periods in a row a vif's counters fail to read before it is a problem of the host's (GET
 * /readyz, a warning): fewer is a vif being attached, or a source being changed for it. */
#define CONTROL_UNREAD_PROBLEM 3u
extern const uint32_t control_lateness_bucket_us[CONTROL_N_LATENESS];

/* The control loop's state: opaque but to agent/'s core (control_impl.h). */
struct control;

/* floor: each resource's floor (ALLOC_BPS, ALLOC_PPS), 0 for none. A new control loop over
 * plat and enf, in *out; 0 or -ENOMEM. */
int control_new(struct control **out, enum alloc_mode mode, const uint64_t floor[ALLOC_NRES],
		struct platform *plat, struct enforcer *enf);
/* Detaches every vif and frees the model and ctl (NULL: nothing); the platform and enforcer
 * stay open. */
void control_free(struct control *ctl);

/* The changes to the model from outside a period (the API, a reload, the state loaded at
 * start): each is seen by the next period, and publishes (every reader sees it). */

/* vm id's SLA, its record made if the platform has not shown it yet. 0 or -ENOMEM. */
int control_set_sla(struct control *ctl, const char *id, const struct sla_spec *sla);
/* vm id's SLA gone (the default applies); an absent VM's record goes with it. */
void control_clear_sla(struct control *ctl, const char *id);
/* The same for an absent VM's SLA kept past --forget-absent-after, counted. */
void control_forget_sla(struct control *ctl, const char *id);
/* The same for the SLA of a port, kept under key (host.h's struct port): set, deleted,
 * forgotten, its absence noted. */
int control_set_port_sla(struct control *ctl, const char *key, const struct sla_spec *sla);
void control_clear_port_sla(struct control *ctl, const char *key);
void control_forget_port_sla(struct control *ctl, const char *key);
void control_note_port_absence(struct control *ctl, const char *key, int64_t stored, int64_t since);
/* What the store now holds of vm id's absence (stored: absent since then, 0: present), and,
 * if the VM is not on the host, since when it is absent. Nothing if no VM has that id. */
void control_note_absence(struct control *ctl, const char *id, int64_t stored, int64_t since);
/* A VM's absence the store must hear of (control_absences). */
struct control_absence {
	char id[PLATFORM_ID_MAX]; /* the VM's id, or the port's key */
	bool port;		  /* a port's SLA */
	struct sla_spec sla;
	int64_t absent_since; /* 0: present */
	bool forget;	      /* absent for --forget-absent-after or more: its SLA goes */
};

/* The VMs (and ports) with an SLA whose absence (or return) the store does not hold yet, or that
 * have been absent for forget_absent_after_s or more at now (seconds since the epoch), last known
 * first: a new array in *out (the caller frees it) and its length; 0 and NULL when there are none,
 * or no memory (the next call finds them again). */
size_t control_absences(const struct control *ctl, int64_t now, struct control_absence **out);
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
