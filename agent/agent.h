/*
 * agent: the running daemon's parts, as main() wires them (the wiring layer: agent/main.c,
 * periods.c, reload.c). Nothing below this layer sees this struct.
 */
#ifndef DBAVM_AGENT_H
#define DBAVM_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "config.h"
#include "control.h"
#include "loop.h"
#include "neutron_follow.h"
#include "placement.h"
#include "store.h"
#include "tls.h"

/* The period timer (periods.c): a period each period_ns on the loop, begun early when the
 * platform says the host changed, its lateness and overruns recorded, systemd's watchdog fed
 * by the periods themselves. */
struct periods {
	uint64_t period_ns;
	uint64_t start_ns;     /* the agent's time 0: control_tick's clock counts from here */
	uint64_t sched_ns;     /* when the timer's periods are counted from (moves when rephased) */
	uint64_t periods_due;  /* timer expirations since sched_ns */
	uint64_t last_tick_ns; /* when the last period began, on the agent's clock */
	int timer_fd;
	bool started;	      /* the first period has run */
	bool rephased;	      /* the timer was moved for a host change, and has not fired since */
	uint64_t watchdog_ns; /* systemd's WatchdogSec / 2; 0: no watchdog */
	uint64_t watchdog_at_ns; /* when it was last fed */
};

struct agent {
	struct config *cfg; /* what a reload may change is changed in place */
	int argc;
	char **argv;	       /* for a reload: the flags again, over the file again */
	struct tls_creds *tls; /* NULL: plain HTTP */
	struct platform *plat;
	struct control *ctl;
	struct store *store;
	struct auth *auth;
	struct placement *placement;	/* NULL without --os-credentials */
	struct neutron_follow *neutron; /* NULL without --neutron */
	struct api api;
	struct metrics_info info;
	struct periods periods;
};

/* periods.c. The timer on the loop, and the platform's watch that can bring a period
 * forward; 0, or -1 (logged). */
int periods_start(struct agent *a, struct loop *loop);
/* The platform's watch removed (the timer goes with the loop). */
void periods_stop(struct agent *a);
/* The first period, at time 0, before the loop runs; then the watchdog, if systemd set one. */
void periods_first(struct agent *a);
/* What follows each period: the API's sweep of absent VMs, Placement's input. */
void periods_after(struct agent *a);

/* reload.c: SIGHUP. */
void agent_reload(struct agent *a);

#endif
