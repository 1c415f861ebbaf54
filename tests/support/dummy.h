/*
 * dummy: a platform and an enforcer that hold what the test says, for any unit test that needs
 * the period pipeline (control.c) and what it publishes, without root or a kernel (after Open
 * vSwitch's netdev-dummy). The platform shows the VMs and uplinks the test puts in it; the
 * enforcer records each attach, detach and limit, and reads the counters the test sets.
 *
 *   struct dummy_host x = { 0 };
 *   dummy_uplink(&x, "up0", 1000000000, 0);
 *   dummy_vm(&x, 0, "a", true);            one vif, "a-vif", on the first uplink
 *   dummy_host_open(&x, ALLOC_WORK_CONSERVING, floors);
 *   dummy_tick(&x);                        a period (x.period_ns, 100 ms unless set)
 *   dummy_traffic(&x, "a-vif", 8000000);   one period of 8 Mbit/s in 1000-byte frames
 *
 * With x.ingress set before dummy_host_open, the enforcer holds ingress too: each vif's
 * ingress direction is a record of its own, "<vif id>/in" ("a-vif/in").
 *   control_snapshot(&x.ctl) ...
 *   dummy_host_close(&x);
 */
#ifndef DBAVM_TEST_DUMMY_H
#define DBAVM_TEST_DUMMY_H

#include <stdbool.h>
#include <stdint.h>

#include "control_impl.h"

#define DUMMY_MAX_VMS 8
#define DUMMY_MAX_VIFS 4
#define DUMMY_MAX_UPLINKS 4

struct dummy_vm {
	const char *id; /* NULL: an empty slot */
	bool present;
	int64_t domid;	  /* 0: none (-1 to the platform) */
	const char *uuid; /* NULL: none */
	/* Its vifs' uplinks by name, "<id>-vif", "<id>-vif1", ...; none: one on the first. */
	const char *uplinks[DUMMY_MAX_VIFS];
};

struct dummy_platform {
	struct platform_uplink up[DUMMY_MAX_UPLINKS];
	size_t n_up;
	uint64_t host_pps; /* 0: unlimited */
	struct dummy_vm vms[DUMMY_MAX_VMS];
	bool changed; /* due() says so once */
	int scans;
};

struct dummy_vif {
	char id[PLATFORM_ID_MAX + 4]; /* "/in" for an ingress direction */
	bool attached;
	struct vif_counters cnt;
	struct vif_counters given; /* what the last read gave */
	struct enf_limit last;	   /* the last limit applied */
	int applies;
	bool unreadable; /* reads fail (-EIO) while set */
	bool refuses;	 /* applies fail (-EIO) while set */
};

struct dummy_enforcer {
	struct dummy_vif vifs[DUMMY_MAX_VMS * DUMMY_MAX_VIFS];
	int attaches, detaches;
};

struct dummy_host {
	struct dummy_platform dp;
	struct dummy_enforcer de;
	struct platform plat;
	struct enforcer enf;
	struct control ctl;
	uint64_t t, period_ns;
	bool ingress;		 /* the enforcer holds ingress */
	struct enforcer_ops ops; /* dummy_enforcer_ops, holding ingress or not */
};

extern const struct platform_ops dummy_platform_ops;
extern const struct enforcer_ops dummy_enforcer_ops;

/* The next uplink of the platform. */
void dummy_uplink(struct dummy_host *x, const char *name, uint64_t bps, uint64_t pps);
/* Slot i of the platform's VMs (present or not, one vif on the first uplink); the next scan
 * shows it. Returns it, to give it a domid, UUID or other vifs. */
struct dummy_vm *dummy_vm(struct dummy_host *x, int i, const char *id, bool present);
/* A host of one uplink, "up0" of bps bit/s, not open yet (calloc'd: NULL when out of memory);
 * dummy_teardown closes and frees it (a cmocka teardown, *state the host). */
struct dummy_host *dummy_host_new(uint64_t bps);
int dummy_teardown(void **state);
/* The control loop over the dummies; 0, or what control_init said. */
int dummy_host_open(struct dummy_host *x, enum alloc_mode mode, const uint64_t floor[ALLOC_NRES]);
void dummy_host_close(struct dummy_host *x);
/* One period at x->t, then x->t moves on a period; control_tick's answer. */
int dummy_tick(struct dummy_host *x);
/* The enforcer's record of vif id (its ingress: "<id>/in"), or NULL. */
struct dummy_vif *dummy_find(struct dummy_enforcer *e, const char *id);
/* vif id's counters move on by one period of bps bit/s in 1000-byte frames, all passed. */
void dummy_traffic(struct dummy_host *x, const char *id, uint64_t bps);

#endif
