/*
 * api: the routes of openapi.yaml over the host model, the store and the token.
 *
 *   PUT|GET|DELETE /vms/{id}/sla   GET /vms   GET /vms/{id}   GET /host
 *   GET /metrics   GET /healthz   GET /readyz
 *
 * A PUT or DELETE is answered only once the store has it on disk; until then it is pending,
 * and admission control counts it as made.
 */
#ifndef DBAVM_API_H
#define DBAVM_API_H

#include "auth.h"
#include "config.h"
#include "control.h"
#include "http.h"
#include "loop.h"
#include "metrics.h"
#include "neutron_follow.h"
#include "placement.h"
#include "store.h"

struct api_pending;
struct worker;

struct api {
	struct control *ctl;
	struct store *store;
	struct auth *auth;
	const struct config *cfg;
	struct metrics_info info;
	struct metrics *metrics;
	struct http_server *http;
	struct http_server *http_unix; /* --listen-unix; NULL without */
	gid_t api_gid;		       /* --api-group's ... */
	bool group_known;	       /* ... when it names one */
	struct worker *parser;	       /* large bodies are parsed here, off the loop */
	struct loop *loop;
	struct api_pending *pending;	/* in submission order */
	struct placement *placement;	/* NULL without --os-credentials */
	struct neutron_follow *neutron; /* NULL without --neutron */
	bool state_lost;		/* the SLAs were lost at a start, not yet acknowledged */
	uint64_t changes_lost;		/* changes the start could not read back */
	int64_t swept_at;		/* when api_period last looked at absent VMs (seconds) */
	char state_problem[1100];
	char state_problem_public[1100]; /* the same without the VMs or ports it names */
	/* Changes the store failed to write (each answered 500, nothing changed), and whether the
	 * last one failed: /readyz is not ready from then until a write succeeds again. */
	uint64_t store_failures;
	bool store_failing;
	char store_problem[300];
};

/* An SLA body, ours or a Neutron QoS policy, parsed and checked: 0, or -EINVAL with *err
 * saying what is wrong and where. Touches nothing but its arguments (any thread). */
int api_parse_sla(const char *body, size_t len, struct sla_spec *sla, struct sla_error *err);

/* Neutron's picture of the host's ports made the SLAs in force (neutron_follow.h's
 * neutron_apply_fn; arg: the api). */
void api_neutron_apply(void *arg, struct neutron_port *ports, size_t n);

/* Starts listening, with HTTPS only when tls is not NULL. Returns 0 or a negative errno. */
int api_open(struct api *api, struct loop *loop, struct control *ctl, struct store *store,
	     struct auth *auth, struct tls_creds *tls, const struct config *cfg,
	     const struct metrics_info *info, const struct store_load *load);
/* SIGHUP: the token (auth, owned by the caller) and, when not NULL, the certificates. */
void api_reload(struct api *api, struct auth *auth, struct tls_creds *tls);
/* After each control period: records in the store when VMs with an SLA left or came back,
 * and forgets the SLA of a VM absent for --forget-absent-after. At most once a second. */
void api_period(struct api *api);
/* Waits (up to a few seconds) for pending changes to reach the disk and answers them, then
 * stops listening. */
void api_close(struct api *api);

#endif
