/*
 * reload: SIGHUP (agent.h). The configuration file and flags read again, the token file and
 * the certificates loaded again. All or nothing: anything wrong and the configuration in
 * force stays, whole, with a log line saying why. What only a restart can change is kept as
 * it runs, and said. The model changes only through control_reconfigure (the mode, the
 * floors, how long an absent VM's SLA lives), the API only through api_reload; it takes a
 * few file reads: no period is missed for it.
 */
#include "agent.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "auth.h"
#include "log.h"

void agent_reload(struct agent *a)
{
	struct config next;
	struct auth *auth = NULL;
	struct tls_creds *tls = NULL;
	const char *fixed;
	char why[PATH_MAX + 512];

	if (config_parse(&next, a->argc, a->argv, why, sizeof(why))) {
		log_error("reload refused, the configuration in force is kept: %s", why);
		return;
	}
	if (auth_open(next.token_file, &auth, why, sizeof(why))) {
		log_error("reload refused, the configuration in force is kept: --token-file %s",
			  why);
		return;
	}
	if (a->tls && next.tls_cert[0] &&
	    tls_creds_load(next.tls_cert, next.tls_key, next.tls_client_ca, &tls, why,
			   sizeof(why))) {
		log_error("reload refused, the configuration in force is kept: %s", why);
		auth_close(auth);
		return;
	}
	fixed = config_restart_key_changed(a->cfg, &next);
	if (fixed)
		log_warn("reload: %s changed, which takes a restart; it stays as it runs", fixed);
	api_reload(&a->api, auth, tls);
	auth_close(a->auth);
	a->auth = auth;
	if (tls) {
		tls_creds_unref(a->tls);
		a->tls = tls;
		memcpy(a->cfg->tls_cert, next.tls_cert, sizeof(next.tls_cert));
		memcpy(a->cfg->tls_key, next.tls_key, sizeof(next.tls_key));
		memcpy(a->cfg->tls_client_ca, next.tls_client_ca, sizeof(next.tls_client_ca));
	}
	memcpy(a->cfg->token_file, next.token_file, sizeof(next.token_file));
	a->cfg->log_level = next.log_level;
	log_set_level(next.log_level);
	a->cfg->auth_reads = next.auth_reads;
	a->cfg->mode = next.mode;
	a->cfg->floor_bps = next.floor_bps;
	a->cfg->floor_pps = next.floor_pps;
	a->cfg->forget_absent_after_s = next.forget_absent_after_s;
	/* the follower reads the list at each poll */
	memcpy(a->cfg->neutron_unmanaged, next.neutron_unmanaged, sizeof(next.neutron_unmanaged));
	a->cfg->n_neutron_unmanaged = next.n_neutron_unmanaged;
	control_reconfigure(a->ctl, next.mode,
			    (const uint64_t[ALLOC_NRES]){ next.floor_bps, next.floor_pps },
			    next.forget_absent_after_s);
	log_info("reloaded token=%s tls=%s mode=%s floor_bps=%" PRIu64 " floor_pps=%" PRIu64
		 " forget_absent_after_s=%u log_level=%s neutron_unmanaged=%zu",
		 auth_configured(auth) ? "set" : "none",
		 tls ? tls_creds_describe(tls) : "unchanged", config_mode_name(next.mode),
		 next.floor_bps, next.floor_pps, next.forget_absent_after_s,
		 log_level_name(next.log_level), next.n_neutron_unmanaged);
}
