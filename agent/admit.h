/*
 * admit: admission control for SLAs (the man page's ALLOCATION): a VM's guarantees may not make the
 * guarantees on its uplink (bps) or on the packet budget it draws on (the host's, or its
 * uplink's own) exceed the capacity. Changes still on their way to disk count as made.
 */
#ifndef DBAVM_ADMIT_H
#define DBAVM_ADMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "sla.h"
#include "snapshot.h"

struct admit_change {
	const char *id;
	const struct sla_spec *sla; /* NULL: the SLA is being deleted */
	bool port;		    /* id is a port SLA's key (a VM's id else) */
};

struct admit_refusal {
	char field[32];
	char msg[256];
};

/* 0 if VM id may have sla, else -EBUSY with why filled. pending are in submission order. */
int admit_sla(const struct snapshot *h, const char *id, const struct sla_spec *sla,
	      const struct admit_change *pending, size_t n_pending, struct admit_refusal *why);
/* The same for the SLA kept under key for the port `at` names (snapshot_lookup_port; its vif
 * NULL: a port not on the host, which draws on the host's packet budget alone). */
int admit_port_sla(const struct snapshot *h, const char *key, const struct port_ref *at,
		   const struct sla_spec *sla, const struct admit_change *pending, size_t n_pending,
		   struct admit_refusal *why);

#endif
