/*
 * dbavmd: the per-host network SLA agent. main() only wires: it reads the configuration, opens
 * the platform and the enforcer by name (providers.c), the store, the API and Placement, and
 * either runs the periods in real time on the event loop (periods.c; SIGHUP: reload.c), or
 * (sim with --ticks) runs them in simulated time as fast as it can and prints a report.
 *
 * Exit status: 0 on clean shutdown, 1 on a runtime failure, 2 on bad usage or configuration.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "agent.h"
#include "boottime.h"
#include "auth.h"
#include "log.h"
#include "loop.h"
#include "testbed.h"
#include "placement.h"
#include "providers.h"
#include "state_json.h"
#include "store.h"
#include "tls.h"
#include "version.h"

#define EXIT_USAGE 2

static int usage_error(const char *msg)
{
	fprintf(stderr, "dbavmd: %s\nTry 'dbavmd --help'.\n", msg);
	return EXIT_USAGE;
}

/* --dev: the demo testbed (testbed.h) under the netns platform. SIGTERM and SIGINT are
 * held from here on, so that one arriving while the testbed is built still ends in an orderly
 * shutdown that removes it (the event loop takes them over). */
static int start_dev(struct config *cfg, char *err, size_t err_len)
{
	char why[200];
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	cfg->platform = PLATFORM_NETNS;
	if (!cfg->n_uplinks) {
		snprintf(cfg->uplinks[0].name, sizeof(cfg->uplinks[0].name), TESTBED_UPLINK);
		cfg->uplinks[0].capacity_bps = 1000000000;
		cfg->n_uplinks = 1;
	}
	if (!cfg->host_pps)
		cfg->host_pps = 190000; /* the paper's host */
	rc = testbed_up(TESTBED_VMS, cfg->uplinks[0].capacity_bps, why, sizeof(why));
	if (rc)
		snprintf(err, err_len, "--dev: %s", why);
	return rc;
}

static int run_ticks(struct agent *a, uint64_t ticks)
{
	json_t *report;
	int rc = 0;

	for (uint64_t k = 0; k <= ticks && !rc; k++)
		rc = control_tick(a->ctl, k * (uint64_t)a->cfg->period_ms * 1000000u);
	if (rc)
		return 1;
	report = control_snapshot(a->ctl) ? state_report_json(control_snapshot(a->ctl)) : NULL;
	if (!report || json_dumpf(report, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) ||
	    fputc('\n', stdout) == EOF || fflush(stdout)) {
		log_error("report not written err=%s", strerror(errno));
		json_decref(report);
		return 1;
	}
	json_decref(report);
	return 0;
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	if (signo == SIGHUP) {
		log_info("reloading signal=HUP");
		sd_notify(0, "RELOADING=1");
		agent_reload(arg);
		sd_notify(0, "READY=1");
		return;
	}
	log_info("shutting down signal=%s", sigabbrev_np(signo));
	sd_notify(0, "STOPPING=1");
	loop_stop(loop);
}

/* Real time: the store, the token and the API around the control loop. Returns the exit
 * status. */
static int run_loop(struct agent *a)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct store_load load;
	size_t n_ports = 0;
	char why[PATH_MAX + 1024];
	struct loop *loop;
	int rc;

	rc = auth_open(a->cfg->token_file, &a->auth, why, sizeof(why));
	if (rc)
		return usage_error(why);
	if (a->cfg->tls_cert[0] && tls_creds_load(a->cfg->tls_cert, a->cfg->tls_key,
						  a->cfg->tls_client_ca, &a->tls, why, sizeof(why)))
		return usage_error(why);
	if (a->tls)
		log_info("tls %s client_certificates=%s", tls_creds_describe(a->tls),
			 tls_creds_require_client(a->tls) ? "required" : "not asked for");
	rc = store_open(a->cfg->state_dir, &a->store, &load);
	if (rc) {
		snprintf(why, sizeof(why), "--state-dir %.500s: %.700s", a->cfg->state_dir,
			 load.why);
		return usage_error(why);
	}
	const struct snapshot *snap = control_snapshot(a->ctl);

	if (!snap) {
		log_error("out of memory");
		return 1;
	}
	for (size_t i = 0; i < load.n_entries; i++) {
		const struct store_entry *e = &load.entries[i];
		int64_t since = e->absent_since ? e->absent_since : boot_stamp_now();
		const char *kind = e->kind == STORE_PORT ? "port" : "vm";

		/* Taken as stored (the next enforcer may hold it), but said: the API refuses such
		 * an SLA under this enforcer, and here it is in force only in part. */
		if (sla_spec_has_ingress(&e->sla) && !snap->holds_ingress)
			log_warn("stored sla has an ingress side this enforcer does not hold: "
				 "not enforced %s=%s enforcer=%s",
				 kind, log_q(e->id), a->info.enforcer);
		if (e->sla.dscp_set && !snap->marks_dscp)
			log_warn("stored sla has a dscp mark this enforcer does not write: not "
				 "enforced %s=%s enforcer=%s",
				 kind, log_q(e->id), a->info.enforcer);

		/* Absent until a scan shows it; since when the store says, or (present when last
		 * written, or not known) from now. */
		if (e->kind == STORE_PORT) {
			if (control_set_port_sla(a->ctl, e->id, &e->sla))
				return 1;
			control_note_port_absence(a->ctl, e->id, e->absent_since, since);
			n_ports++;
			continue;
		}
		if (control_set_sla(a->ctl, e->id, &e->sla))
			return 1;
		control_note_absence(a->ctl, e->id, e->absent_since, since);
	}
	control_reconfigure(a->ctl, a->cfg->mode,
			    (const uint64_t[ALLOC_NRES]){ a->cfg->floor_bps, a->cfg->floor_pps },
			    a->cfg->forget_absent_after_s);
	log_info("state loaded dir=%s slas=%zu port_slas=%zu generation=%" PRIu64 " lost=%s",
		 a->cfg->state_dir, load.n_entries - n_ports, n_ports, load.generation,
		 load.lost ? "yes" : "no");
	loop = loop_new();
	if (!loop) {
		log_error("event loop not created err=%s", strerror(errno));
		return 1;
	}
	rc = loop_add_signals(loop, signals, 3, on_signal, a);
	if (rc || periods_start(a, loop)) {
		log_error("event loop setup failed");
		loop_free(loop);
		return 1;
	}
	if (a->cfg->os_credentials[0] &&
	    (rc = placement_open(&a->placement, loop, a->cfg, why, sizeof(why)))) {
		periods_stop(a);
		loop_free(loop);
		if (rc != -EINVAL) {
			log_error("%s", why);
			return 1;
		}
		return usage_error(why);
	}
	rc = api_open(&a->api, loop, a->ctl, a->store, a->auth, a->tls, a->cfg, &a->info, &load);
	if (rc) {
		/* api_open said which listener failed and why */
		log_error("api not started err=%s", strerror(-rc));
		placement_close(a->placement);
		periods_stop(a);
		loop_free(loop);
		return rc == -EPERM ? EXIT_USAGE : 1; /* a socket directory not its own */
	}
	log_info("api listening listen=%s:%u scheme=%s token=%s reads=%s", a->cfg->listen_addr,
		 a->cfg->listen_port, a->tls ? "https" : "http",
		 auth_configured(a->auth) ? "set" : "none", a->cfg->auth_reads ? "token" : "open");
	a->api.placement = a->placement;
	if (a->cfg->neutron &&
	    (rc = neutron_follow_open(&a->neutron, loop, a->cfg, api_neutron_apply, &a->api, why,
				      sizeof(why)))) {
		api_close(&a->api);
		placement_close(a->placement);
		periods_stop(a);
		loop_free(loop);
		if (rc != -EINVAL) {
			log_error("%s", why);
			return 1;
		}
		return usage_error(why);
	}
	a->api.neutron = a->neutron;
	periods_first(a);
	/* under systemd (Type=notify): ready once the API listens and the first period ran */
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%u, period %u ms", a->cfg->listen_addr,
		   a->cfg->listen_port, a->cfg->period_ms);
	rc = loop_run(loop);
	neutron_follow_close(a->neutron);
	api_close(&a->api);
	placement_close(a->placement);
	periods_stop(a);
	loop_free(loop);
	if (rc) {
		log_error("event loop failed err=%s", strerror(-rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct platform plat = { 0 };
	struct enforcer enf = { 0 };
	struct agent a;
	char err[PATH_MAX + 256];
	int rc;

	if (config_parse(&cfg, argc, argv, err, sizeof(err)))
		return usage_error(err);
	if (cfg.help) {
		fputs(config_usage, stdout);
		return 0;
	}
	if (cfg.version) {
		printf("dbavmd %s\n", DBAVM_VERSION);
		return 0;
	}
	log_set_level(cfg.log_level);
	if (cfg.dev && start_dev(&cfg, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (providers_open(&cfg, &plat, &enf, err, sizeof(err))) {
		if (cfg.dev)
			testbed_down();
		return usage_error(err);
	}
	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	a.argc = argc;
	a.argv = argv;
	a.plat = &plat;
	a.info = (struct metrics_info){ plat.ops->name, enf.ops->name, config_mode_name(cfg.mode),
					cfg.period_ms };
	if (control_new(&a.ctl, cfg.mode,
			(const uint64_t[ALLOC_NRES]){ cfg.floor_bps, cfg.floor_pps }, &plat,
			&enf) ||
	    providers_initial_slas(&cfg, &plat, a.ctl)) {
		log_error("out of memory at start");
		rc = 1;
	} else {
		log_info("dbavmd started version=%s platform=%s enforcer=%s mode=%s period_ms=%u",
			 DBAVM_VERSION, plat.ops->name, enf.ops->name, config_mode_name(cfg.mode),
			 cfg.period_ms);
		rc = cfg.ticks ? run_ticks(&a, cfg.ticks) : run_loop(&a);
	}
	control_free(a.ctl);
	store_close(a.store);
	auth_close(a.auth);
	tls_creds_unref(a.tls);
	enf.ops->close(&enf);
	plat.ops->close(&plat);
	if (cfg.dev)
		log_info("dev testbed removed items=%d", testbed_down());
	if (!cfg.ticks)
		log_info("dbavmd stopped status=%d", rc);
	return rc;
}
