/*
 * dbavmd: the per-host network SLA agent. main() reads the configuration, opens the platform
 * and the enforcer, and either runs the control loop in real time on the event loop, or (sim
 * with --ticks) runs it in simulated time as fast as it can and prints a report.
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

#include "api.h"
#include "auth.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "loop.h"
#include "testbed.h"
#include "placement.h"
#include "providers.h"
#include "scenario.h" /* a simulated host's SLAs, put at start */
#include "sim.h"
#include "state_json.h"
#include "store.h"
#include "tls.h"
#include "version.h"

#define EXIT_USAGE 2

struct agent {
	struct config *cfg; /* what a reload may change is changed in place */
	int argc;
	char **argv;	       /* for a reload: the flags again, over the file again */
	struct tls_creds *tls; /* NULL: plain HTTP */
	struct control ctl;
	struct store *store;
	struct auth *auth;
	struct placement *placement; /* NULL without --os-credentials */
	struct api api;
	struct metrics_info info;
	uint64_t period_ns;
	uint64_t start_ns;     /* the agent's time 0: control_tick's clock counts from here */
	uint64_t sched_ns;     /* when the timer's periods are counted from (moves when rephased) */
	uint64_t periods_due;  /* timer expirations since sched_ns */
	uint64_t last_tick_ns; /* when the last period began, on the agent's clock */
	int timer_fd;
	bool rephased;	      /* the timer was moved for a host change, and has not fired since */
	uint64_t watchdog_ns; /* systemd's WatchdogSec / 2; 0: no watchdog */
	uint64_t watchdog_at_ns; /* when it was last fed */
};

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

/* The sim's SLAs arrive as if PUT before the VMs show up. */
static int install_scenario_slas(struct control *ctl, const struct scenario *sc)
{
	for (size_t i = 0; i < sc->n_vms; i++)
		if (sc->vms[i].has_sla && control_set_sla(ctl, sc->vms[i].id, &sc->vms[i].sla))
			return -ENOMEM;
	return 0;
}

/* Placement's input, the host's uplinks and capacities, from the snapshot (a sync starts only
 * when they changed). */
static void tell_placement(struct agent *a)
{
	const struct snapshot *s = a->placement ? control_snapshot(&a->ctl) : NULL;

	if (s)
		placement_host(a->placement, s);
}

static int run_ticks(struct agent *a, uint64_t ticks)
{
	json_t *report;
	int rc = 0;

	for (uint64_t k = 0; k <= ticks && !rc; k++)
		rc = control_tick(&a->ctl, k * a->period_ns);
	if (rc)
		return 1;
	report = control_snapshot(&a->ctl) ? state_report_json(control_snapshot(&a->ctl)) : NULL;
	if (!report || json_dumpf(report, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) ||
	    fputc('\n', stdout) == EOF || fflush(stdout)) {
		log_error("report not written err=%s", strerror(errno));
		json_decref(report);
		return 1;
	}
	json_decref(report);
	return 0;
}

static void on_period(struct loop *loop, uint64_t expirations, void *arg)
{
	struct agent *a = arg;
	uint64_t abs = loop_now_ns(), now = abs - a->start_ns, due;

	(void)loop;
	if (expirations > 1) {
		a->ctl.overruns += expirations - 1;
		log_debug("loop late periods=%" PRIu64, expirations - 1);
	}
	a->periods_due += expirations;
	due = a->sched_ns + a->periods_due * a->period_ns;
	control_note_lateness(&a->ctl, abs > due ? abs - due : 0);
	a->rephased = false;
	a->last_tick_ns = now;
	control_tick(&a->ctl, now);
	/* systemd's watchdog is fed by the periods themselves: a loop that stops running them
	 * (hung, stopped) is killed and restarted */
	if (a->watchdog_ns && abs - a->watchdog_at_ns >= a->watchdog_ns) {
		sd_notify(0, "WATCHDOG=1");
		a->watchdog_at_ns = abs;
	}
	api_period(&a->api);
	tell_placement(a);
}

/*
 * The platform says the host may have changed (a VM or vif came or went): a period begins
 * at once, and the periods go on from there, so that a new vif is limited, and a gone one's
 * guarantee freed, within a scan's time rather than up to a period later. Not sooner than a
 * quarter period after the last began: host changes come in bursts (a domain's vif passes
 * through several states), and a period needs time to measure in. From the timer, so that
 * the platform's own callback has returned before its scan runs.
 */
static void on_platform_event(void *arg, int what)
{
	struct agent *a = arg;
	uint64_t abs = loop_now_ns(), now = abs - a->start_ns, since, wait;

	control_platform_event(&a->ctl, what);
	if (a->timer_fd < 0 || !a->ctl.started || a->rephased)
		return;
	since = now > a->last_tick_ns ? now - a->last_tick_ns : 0;
	wait = since >= a->period_ns / 4 ? 0 : a->period_ns / 4 - since;
	if (loop_timer_restart(a->timer_fd, wait, a->period_ns))
		return; /* the next period, as it was due, will rescan */
	a->rephased = true;
	a->sched_ns = abs + wait - a->period_ns;
	a->periods_due = 0;
}

static void unwatch(struct platform *plat)
{
	if (plat->ops->unwatch)
		plat->ops->unwatch(plat);
}

/*
 * SIGHUP: the configuration file and flags read again, the token file and the certificates
 * loaded again. All or nothing: anything wrong and the configuration in force stays, whole,
 * with a log line saying why. What only a restart can change is kept as it runs, and said.
 * Nothing here touches the host model, the SLAs or the limits, and it takes a few file reads:
 * no period is missed for it.
 */
static void reload(struct agent *a)
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
	a->api.auth = auth;
	auth_close(a->auth);
	a->auth = auth;
	if (tls) {
		http_set_tls(a->api.http, tls);
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
	control_reconfigure(&a->ctl, next.mode,
			    (const uint64_t[ALLOC_NRES]){ next.floor_bps, next.floor_pps },
			    next.forget_absent_after_s);
	log_info("reloaded token=%s tls=%s mode=%s floor_bps=%" PRIu64 " floor_pps=%" PRIu64
		 " forget_absent_after_s=%u log_level=%s",
		 auth_configured(auth) ? "set" : "none",
		 tls ? tls_creds_describe(tls) : "unchanged", config_mode_name(next.mode),
		 next.floor_bps, next.floor_pps, next.forget_absent_after_s,
		 log_level_name(next.log_level));
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	if (signo == SIGHUP) {
		log_info("reloading signal=HUP");
		sd_notify(0, "RELOADING=1");
		reload(arg);
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
		snprintf(why, sizeof(why), "--state-dir %s: %s", a->cfg->state_dir, load.why);
		return usage_error(why);
	}
	for (size_t i = 0; i < load.n_entries; i++) {
		const struct store_entry *e = &load.entries[i];

		if (control_set_sla(&a->ctl, e->id, &e->sla))
			return 1;
		/* Absent until a scan shows it; since when the store says, or (present when last
		 * written, or not known) from now. */
		control_note_absence(&a->ctl, e->id, e->absent_since,
				     e->absent_since ? e->absent_since : (int64_t)time(NULL));
	}
	control_reconfigure(&a->ctl, a->cfg->mode,
			    (const uint64_t[ALLOC_NRES]){ a->cfg->floor_bps, a->cfg->floor_pps },
			    a->cfg->forget_absent_after_s);
	log_info("state loaded dir=%s slas=%zu generation=%" PRIu64 " lost=%s", a->cfg->state_dir,
		 load.n_entries, load.generation, load.lost ? "yes" : "no");
	loop = loop_new();
	if (!loop) {
		log_error("event loop not created err=%s", strerror(errno));
		return 1;
	}
	rc = loop_add_signals(loop, signals, 3, on_signal, a);
	a->start_ns = a->sched_ns = loop_now_ns(); /* the timer's periods fall due from here */
	a->timer_fd = -1;
	if (!rc && (a->timer_fd = loop_add_timer(loop, a->period_ns, on_period, a)) < 0)
		rc = 1;
	if (!rc && a->ctl.plat->ops->watch &&
	    (rc = a->ctl.plat->ops->watch(a->ctl.plat, loop, on_platform_event, a)))
		log_error("platform not watched platform=%s err=%s", a->ctl.plat->ops->name,
			  strerror(-rc));
	if (rc) {
		log_error("event loop setup failed");
		unwatch(a->ctl.plat);
		loop_free(loop);
		return 1;
	}
	if (a->cfg->os_credentials[0] &&
	    (rc = placement_open(&a->placement, loop, a->cfg, why, sizeof(why)))) {
		unwatch(a->ctl.plat);
		loop_free(loop);
		if (rc != -EINVAL) {
			log_error("%s", why);
			return 1;
		}
		return usage_error(why);
	}
	rc = api_open(&a->api, loop, &a->ctl, a->store, a->auth, a->tls, a->cfg, &a->info, &load);
	if (rc) {
		log_error("api not started listen=%s:%u err=%s", a->cfg->listen_addr,
			  a->cfg->listen_port, strerror(-rc));
		placement_close(a->placement);
		unwatch(a->ctl.plat);
		loop_free(loop);
		return 1;
	}
	log_info("api listening listen=%s:%u scheme=%s token=%s reads=%s", a->cfg->listen_addr,
		 a->cfg->listen_port, a->tls ? "https" : "http",
		 auth_configured(a->auth) ? "set" : "none", a->cfg->auth_reads ? "token" : "open");
	a->api.placement = a->placement;
	control_tick(&a->ctl, 0);
	tell_placement(a);
	/* under systemd (Type=notify): ready once the API listens and the first period ran */
	uint64_t wd_us = 0;

	if (sd_watchdog_enabled(0, &wd_us) > 0 && wd_us) {
		a->watchdog_ns = wd_us * 1000 / 2;
		a->watchdog_at_ns = loop_now_ns();
	}
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%u, period %u ms", a->cfg->listen_addr,
		   a->cfg->listen_port, a->cfg->period_ms);
	rc = loop_run(loop);
	api_close(&a->api);
	placement_close(a->placement);
	unwatch(a->ctl.plat);
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
	a.period_ns = (uint64_t)cfg.period_ms * 1000000u;
	a.info = (struct metrics_info){ plat.ops->name, enf.ops->name, config_mode_name(cfg.mode),
					cfg.period_ms };
	if (control_init(&a.ctl, cfg.mode,
			 (const uint64_t[ALLOC_NRES]){ cfg.floor_bps, cfg.floor_pps }, &plat,
			 &enf) ||
	    (cfg.platform == PLATFORM_SIM && install_scenario_slas(&a.ctl, sim_scenario(&plat)))) {
		log_error("out of memory at start");
		rc = 1;
	} else {
		log_info("dbavmd started version=%s platform=%s enforcer=%s mode=%s period_ms=%u",
			 DBAVM_VERSION, plat.ops->name, enf.ops->name, config_mode_name(cfg.mode),
			 cfg.period_ms);
		rc = cfg.ticks ? run_ticks(&a, cfg.ticks) : run_loop(&a);
	}
	control_close(&a.ctl);
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
