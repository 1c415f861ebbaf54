/*
 * providers: which enforcer each platform allows, and how each opens there.
 */
#include "providers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netback.h"
#include "netfront.h"
#include "netns.h"
#include "none.h"
#include "ovsdb.h"
#include "scenario.h"
#include "sim.h"
#include "xen.h"
#include "xen_counters.h"
#include "xen_credit.h"

typedef int enforcer_open_fn(const struct config *cfg, const struct platform_uplink *up,
			     struct enforcer *enf, char *err, size_t err_len);

static int open_netfront(const struct config *cfg, const struct platform_uplink *up,
			 struct enforcer *enf, char *err, size_t err_len)
{
	(void)up;
	return netfront_open(enf, cfg->sample_every, err, err_len);
}

static int open_netback(const struct config *cfg, const struct platform_uplink *up,
			struct enforcer *enf, char *err, size_t err_len)
{
	return netback_open(enf, up, cfg->n_uplinks, err, err_len);
}

static int open_none(const struct config *cfg, const struct platform_uplink *up,
		     struct enforcer *enf, char *err, size_t err_len)
{
	(void)cfg;
	(void)up;
	return none_open(enf, 0, err, err_len);
}

static int open_xen_none(const struct config *cfg, const struct platform_uplink *up,
			 struct enforcer *enf, char *err, size_t err_len)
{
	(void)up;
	return xen_counters_open(enf, cfg->xen_counters, cfg->sample_every, err, err_len);
}

static int open_vif_police(const struct config *cfg, const struct platform_uplink *up,
			   struct enforcer *enf, char *err, size_t err_len)
{
	(void)up;
	return netfront_police_open(enf, cfg->sample_every, err, err_len);
}

static int open_xen_credit(const struct config *cfg, const struct platform_uplink *up,
			   struct enforcer *enf, char *err, size_t err_len)
{
	(void)up;
	return xen_credit_open(enf, !cfg->keep_rates, cfg->xen_counters, cfg->sample_every, err,
			       err_len);
}

/* What each real platform allows, its default first. netback (HTB on the uplink, after the
 * copy) runs on both; the others on one each. */
static const struct pairing {
	enum platform_kind platform;
	enum enforcer_kind enforcer;
	enforcer_open_fn *open;
} pairings[] = {
	{ PLATFORM_NETNS, ENFORCER_NETFRONT, open_netfront },
	{ PLATFORM_NETNS, ENFORCER_NETBACK, open_netback },
	{ PLATFORM_NETNS, ENFORCER_NONE, open_none },
	{ PLATFORM_XEN, ENFORCER_XEN_CREDIT, open_xen_credit },
	{ PLATFORM_XEN, ENFORCER_VIF_POLICE, open_vif_police },
	{ PLATFORM_XEN, ENFORCER_NETBACK, open_netback },
	{ PLATFORM_XEN, ENFORCER_NONE, open_xen_none },
};

static const struct pairing *pairing_of(enum platform_kind p, enum enforcer_kind e)
{
	for (size_t i = 0; i < sizeof(pairings) / sizeof(pairings[0]); i++)
		if (pairings[i].platform == p && pairings[i].enforcer == e)
			return &pairings[i];
	return NULL;
}

/* "--enforcer K: on P use A, B or C", from the table. */
static void refuse(enum platform_kind p, enum enforcer_kind e, char *err, size_t err_len)
{
	size_t n = 0, len;
	const char *name = p == PLATFORM_XEN ? "xen" : "netns";

	len = (size_t)snprintf(err, err_len, "--enforcer %s: on %s use", config_enforcer_name(e),
			       name);
	for (size_t i = 0; i < sizeof(pairings) / sizeof(pairings[0]); i++)
		n += pairings[i].platform == p;
	for (size_t i = 0, k = 0; i < sizeof(pairings) / sizeof(pairings[0]) && len < err_len;
	     i++) {
		if (pairings[i].platform != p)
			continue;
		k++;
		len += (size_t)snprintf(err + len, err_len - len, "%s%s",
					k == 1	 ? " "
					: k == n ? " or "
						 : ", ",
					config_enforcer_name(pairings[i].enforcer));
	}
}

/* A real host: the platform over the configured uplinks, then the enforcer. */
static int open_host(const struct config *cfg, enum platform_kind p, struct platform *plat,
		     struct enforcer *enf, char *err, size_t err_len)
{
	struct platform_uplink up[CONFIG_MAX_UPLINKS];
	struct platform_host host = { up, cfg->n_uplinks, cfg->host_pps };
	bool xen = p == PLATFORM_XEN;
	const char *name = xen ? "xen" : "netns";
	enum enforcer_kind kind = cfg->enforcer_given || !xen ? cfg->enforcer : ENFORCER_XEN_CREDIT;
	const struct pairing *pair = pairing_of(p, kind);
	int rc;

	if (!cfg->n_uplinks && !xen) { /* xen finds each bridge's uplink */
		snprintf(err, err_len, "--platform %s needs --uplinks NAME:BPS[:PPS],...", name);
		return -EINVAL;
	}
	if (!pair) {
		refuse(p, kind, err, err_len);
		return -EINVAL;
	}
	if (kind == ENFORCER_NETBACK && !cfg->n_uplinks) { /* its HTB needs each capacity */
		snprintf(err, err_len,
			 "--enforcer netback on %s needs --uplinks NAME:BPS[:PPS],...", name);
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->n_uplinks; i++) {
		memset(&up[i], 0, sizeof(up[i]));
		memcpy(up[i].name, cfg->uplinks[i].name, sizeof(up[i].name));
		up[i].capacity_bps = cfg->uplinks[i].capacity_bps;
		up[i].capacity_pps = cfg->uplinks[i].capacity_pps;
	}
	rc = xen ? xen_open(plat, &host, err, err_len) : netns_open(plat, &host, err, err_len);
	if (!rc && cfg->ovsdb[0] && (rc = ovsdb_wrap(plat, cfg->ovsdb, err, err_len)))
		plat->ops->close(plat);
	if (rc)
		return rc;
	rc = pair->open(cfg, up, enf, err, err_len);
	if (rc)
		plat->ops->close(plat);
	return rc;
}

int providers_open(const struct config *cfg, struct platform *plat, struct enforcer *enf, char *err,
		   size_t err_len)
{
	switch (cfg->platform) {
	case PLATFORM_SIM:
		return sim_open(cfg->scenario, cfg->enforcer, plat, enf, err, err_len);
	case PLATFORM_XEN:
		return open_host(cfg, PLATFORM_XEN, plat, enf, err, err_len);
	case PLATFORM_AUTO: /* xen when a xenstore answers, else netns */
		return open_host(cfg, !cfg->dev && xen_available() ? PLATFORM_XEN : PLATFORM_NETNS,
				 plat, enf, err, err_len);
	case PLATFORM_NETNS:
		return open_host(cfg, PLATFORM_NETNS, plat, enf, err, err_len);
	}
	return -EINVAL;
}

int providers_initial_slas(const struct config *cfg, const struct platform *plat,
			   struct control *ctl)
{
	const struct scenario *sc = cfg->platform == PLATFORM_SIM ? sim_scenario(plat) : NULL;

	for (size_t i = 0; sc && i < sc->n_vms; i++)
		if (sc->vms[i].has_sla && control_set_sla(ctl, sc->vms[i].id, &sc->vms[i].sla))
			return -ENOMEM;
	return 0;
}
