/*
 * providers: the platforms and enforcers there are, by name, and which enforcer each platform
 * allows (the registry). The wiring (main.c) opens them through here and includes no
 * provider's header.
 */
#ifndef DBAVM_PROVIDERS_H
#define DBAVM_PROVIDERS_H

#include <stddef.h>

#include "config.h"
#include "control.h"
#include "enforcer.h"
#include "platform.h"

/* The platform cfg names (auto: xen when a xenstore answers, unless --dev; else netns) and,
 * on it, the enforcer cfg names (by default netfront, xen-credit on xen), refused with a
 * message in err if that platform does not allow it. On sim, the modelled host and its
 * model of the enforcer. 0, or a negative errno with err filled; nothing is left open then. */
int providers_open(const struct config *cfg, struct platform *plat, struct enforcer *enf, char *err,
		   size_t err_len);

/* The SLAs the platform brings with it, set as if PUT before the VMs show up: on sim, its
 * scenario's; elsewhere none. 0 or -ENOMEM. */
int providers_initial_slas(const struct config *cfg, const struct platform *plat,
			   struct control *ctl);

#endif
