/*
 * sim: a simulated host (the man page's SIMULATED HOST). Its platform side reports the scenario's
 * VMs present at a given simulated time; its enforcer side models where the paper's host spends and
 * loses packets, for netfront, netback and none enforcement.
 */
#ifndef DBAVM_SIM_H
#define DBAVM_SIM_H

#include <stddef.h>

#include "enforcer.h"
#include "platform.h"

/* Loads the scenario and sets up both sides. On failure, returns -EINVAL/-ENOMEM with err set
 * and nothing to close. The platform's close also releases the enforcer. */
int sim_open(const char *scenario_path, enum enforcer_kind model, struct platform *plat,
	     struct enforcer *enf, char *err, size_t err_len);

struct scenario;
/* The scenario a sim platform runs, for the SLAs it gives its VMs. */
const struct scenario *sim_scenario(const struct platform *plat);

#endif
