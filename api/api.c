/*
 * api: routing, authorisation, validation and answers. Handlers read the host model directly
 * (everything runs on the loop thread) and never wait on I/O: SLA changes go to the store's
 * queue and the request is suspended until the store calls back. Nor do they wait on a large
 * body: one over API_INLINE_BODY bytes is parsed by the worker thread, the request suspended
 * meanwhile (jansson's time grows with the body, and a 16 MB one took 55 to 157 periods of
 * 10 ms from the loop).
 */
#include "api.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <microhttpd.h>

#include "admit.h"
#include "boottime.h"
#include "log.h"
#include "neutron.h"
#include "owned.h"
#include "state_json.h"
#include "worker.h"

/* The largest body parsed on the loop thread (the default --max-body-bytes): under 1 ms. */
#define API_INLINE_BODY (64 * 1024)

struct parse_job {
	struct worker_job w; /* first */
	struct api *api;
	struct http_request *req;
	bool port; /* id is a {port} key */
	char id[PLATFORM_ID_MAX];
	const char *body;
	size_t len;
	int rc;
	struct sla_spec sla;
	struct sla_error err;
};

struct api_pending {
	struct api_pending *next;
	struct http_request *req;
	char id[PLATFORM_ID_MAX]; /* the VM's own id, or the id as PUT for a new one */
	bool port;		  /* ... or a port SLA's key */
	bool del;
	bool ack;	 /* not a change: the acknowledgement that the SLAs were lost */
	bool background; /* the agent's own: an absence recorded, an SLA forgotten; no request */
	bool neutron;	 /* the agent's own following Neutron: made real once stored */
	bool created;
	struct sla_spec sla;
	int64_t absent_since; /* what the store is given with the SLA */
};

static void respond_error(struct http_request *req, unsigned status, const char *field,
			  const char *msg)
{
	if (status == MHD_HTTP_UNAUTHORIZED)
		http_add_header(req, "WWW-Authenticate", "Bearer realm=\"dbavm\"");
	http_respond_error(req, status, field, msg);
}

/* ---- VM ids ---- */

/* What a platform's name may be (platform_name_problem: 1..63 bytes of UTF-8, no control
 * character), so that every VM the agent lists can be named in a path, percent-encoded where
 * it holds spaces, quotes or more than ASCII. */
static bool valid_id(const char *id)
{
	return !platform_name_problem(id);
}

/* ---- reads ---- */

/* With --os-credentials, a VM's "placement": what Nova allocated beside its SLA's minimums. */
static void add_placement(const struct api *api, const struct snap_vm *vm, json_t *doc)
{
	struct placement_vm pv;

	if (!api->placement || !json_is_object(doc))
		return;
	placement_vm(placement_status(api->placement), vm, &pv);
	json_object_set_new(doc, "placement",
			    pv.known ? json_pack("{s:{s:I,s:I},s:b}", "allocated", "bps",
						 (json_int_t)pv.alloc_bps, "pps",
						 (json_int_t)pv.alloc_pps, "mismatch", pv.mismatch)
				     : json_pack("{s:n,s:n}", "allocated", "mismatch"));
}

/* How key names vm: by its name, its UUID or its domid. */
static const char *named_by(const struct snap_vm *vm, const char *key)
{
	return !strcmp(vm->id, key)	    ? "its name"
	       : !strcasecmp(vm->uuid, key) ? "its UUID"
					    : "its domid";
}

/* The model as the readers see it (snapshot.h); NULL, answered 500, when out of memory. */
static const struct snapshot *snapshot_or_500(struct api *api, struct http_request *req)
{
	const struct snapshot *s = control_snapshot(api->ctl);

	if (!s)
		respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	return s;
}

/* The VM id names (NULL: none), into *out; false, answered 409 with both, when it names two
 * (a VM's name equal to another's domid or UUID): the agent never guesses which was meant;
 * false, answered 500, when out of memory. */
static bool lookup(struct api *api, struct http_request *req, const char *id,
		   const struct snap_vm **out)
{
	const struct snapshot *s = snapshot_or_500(api, req);
	const struct snap_vm *other = NULL, *vm;
	char msg[400];

	*out = NULL;
	if (!s)
		return false;
	*out = vm = snapshot_lookup_vm(s, id, &other);
	if (!other)
		return true;
	snprintf(msg, sizeof(msg),
		 "'%s' names two VMs: %s (by %s) and %s (by %s); use a name that is only one's, "
		 "or a UUID",
		 id, vm->id, named_by(vm, id), other->id, named_by(other, id));
	respond_error(req, MHD_HTTP_CONFLICT, NULL, msg);
	return false;
}

/* GET /vms/{id} and /vms/{id}/stats: the VM's state or its history, or 404. */
static void get_vm(struct api *api, struct http_request *req, const char *id, bool history)
{
	const struct snap_vm *vm;
	char msg[128];

	if (!lookup(api, req, id, &vm))
		return;
	if (!vm) {
		snprintf(msg, sizeof(msg), "no VM %s on this host and no SLA stored for it", id);
		respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
		return;
	}
	if (history) {
		http_respond_json(req, MHD_HTTP_OK, state_vm_stats_json(vm, api->cfg->period_ms));
		return;
	}
	json_t *doc = state_vm_json(control_snapshot(api->ctl), vm); /* lookup's, unchanged */

	add_placement(api, vm, doc);
	http_respond_json(req, MHD_HTTP_OK, doc);
}

static void get_vms(struct api *api, struct http_request *req)
{
	const struct snapshot *s = snapshot_or_500(api, req);
	json_t *report, *vms, *item;
	size_t i;

	if (!s)
		return;
	report = state_report_json(s);
	vms = report ? json_incref(json_object_get(report, "vms")) : NULL;
	json_decref(report);
	json_array_foreach(vms, i, item) /* one item a VM, in the snapshot's order */
		add_placement(api, &s->vms[i], item);
	http_respond_json(req, MHD_HTTP_OK, vms ? json_pack("{s:o}", "vms", vms) : NULL);
}

static void get_sla(struct api *api, struct http_request *req, const char *id)
{
	const struct snap_vm *vm;
	char msg[160];

	if (!lookup(api, req, id, &vm))
		return;
	if (!vm || !vm->has_sla) {
		snprintf(msg, sizeof(msg), "no SLA set for VM %s%s", id,
			 vm ? "; the default applies" : "");
		respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
		return;
	}
	http_respond_json(req, MHD_HTTP_OK, sla_spec_to_json(&vm->sla));
}

static json_t *pool_json(const struct alloc_pool_out *p, const char *unit)
{
	char committed[32], allocated[32], over[32];

	snprintf(committed, sizeof(committed), "committed_%s", unit);
	snprintf(allocated, sizeof(allocated), "allocated_%s", unit);
	snprintf(over, sizeof(over), "overcommitted_%s", unit);
	return json_pack("{s:I, s:I, s:b}", committed, (json_int_t)p->committed, allocated,
			 (json_int_t)p->allocated, over, p->overcommitted);
}

/* An uplink: its egress pools flat (as before there were two directions), and, where the
 * enforcer holds ingress, "ingress": what it receives (its receive capacity, the transmit
 * one: a full-duplex link; its packets draw on the host's budget). */
static json_t *uplink_json(const struct uplink *up, bool ingress)
{
	json_t *u = json_pack(
		"{s:s, s:o, s:o, s:i}", "name", up->cfg.name, "capacity_bps",
		up->cfg.capacity_bps ? json_integer((json_int_t)up->cfg.capacity_bps) : json_null(),
		"capacity_pps",
		up->cfg.capacity_pps ? json_integer((json_int_t)up->cfg.capacity_pps) : json_null(),
		"vifs", (int)up->pool[SLA_EGRESS][ALLOC_BPS].n_vifs);

	for (int r = 0; u && r < ALLOC_NRES; r++) {
		json_t *pool;

		if (r == ALLOC_PPS && !up->cfg.capacity_pps)
			break; /* its packets count against the host's budget */
		pool = pool_json(&up->pool[SLA_EGRESS][r], r == ALLOC_BPS ? "bps" : "pps");
		json_object_update(u, pool);
		json_decref(pool);
	}
	if (u && ingress) {
		const struct alloc_pool_out *in = &up->pool[SLA_INGRESS][ALLOC_BPS];
		json_t *pool = pool_json(in, "bps");

		if (pool) {
			json_object_set_new(pool, "capacity_bps",
					    up->cfg.capacity_bps
						    ? json_integer((json_int_t)up->cfg.capacity_bps)
						    : json_null());
			json_object_set_new(pool, "vifs", json_integer(in->n_vifs));
		}
		json_object_set_new(u, "ingress", pool);
	}
	return u;
}

/* GET /host's "placement": the providers the agent keeps and how the last sync went. */
static json_t *placement_json(const struct placement *pl)
{
	const struct placement_status *st = placement_status(pl);
	json_t *provs = json_array();

	for (size_t i = 0; i < st->n_providers; i++) {
		const struct placement_provider *p = &st->providers[i];
		json_t *traits = json_pack("[s]", "CUSTOM_VNIC_TYPE_NORMAL");

		if (p->physnet_trait[0])
			json_array_append_new(traits, json_string(p->physnet_trait));
		json_t *inv = json_object();

		for (size_t k = 0; k < p->n_inv; k++)
			json_object_set_new(inv, p->inv[k].resource_class,
					    json_pack("{s:I,s:I}", "total",
						      (json_int_t)p->inv[k].total, "reserved",
						      (json_int_t)p->inv[k].reserved));
		json_array_append_new(provs,
				      json_pack("{s:s,s:s,s:o,s:o}", "name", p->name, "uuid",
						p->uuid, "inventories", inv, "traits", traits));
	}
	return json_pack("{s:b,s:o,s:o,s:o,s:I,s:I,s:I,s:o}", "in_sync", st->in_sync, "problem",
			 st->problem ? json_string(st->problem) : json_null(), "compute_provider",
			 st->compute[0] ? json_string(st->compute) : json_null(), "last_success",
			 st->last_success_unix ? json_integer(st->last_success_unix) : json_null(),
			 "sync_attempts", (json_int_t)st->attempts, "sync_failures",
			 (json_int_t)st->failures, "generation_conflicts",
			 (json_int_t)st->conflicts, "providers", provs);
}

/* GET /host's "neutron": how following Neutron goes, and each of the host's ports Neutron
 * lists, with what became of its policy. */
static json_t *neutron_json(const struct neutron_follow *nf)
{
	const struct neutron_status *st = neutron_follow_status(nf);
	json_t *ports = json_array();

	for (size_t i = 0; ports && i < st->n_ports; i++) {
		const struct neutron_port *p = &st->ports[i];
		json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s}", "port_id", p->id, "mac", p->mac,
				      "policy_id",
				      p->policy_id[0] ? json_string(p->policy_id) : json_null(),
				      "policy_of", p->from_network ? "network" : "port", "state",
				      neutron_state_name[p->state]);

		if (o && p->state == NEUTRON_REFUSED)
			json_object_set_new(o, "why", json_string(p->why));
		json_array_append_new(ports, o);
	}
	return json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o}", "host", st->host, "endpoint",
		st->endpoint[0] ? json_string(st->endpoint) : json_null(), "problem",
		st->problem ? json_string(st->problem) : json_null(), "problem_since",
		st->problem ? json_integer(st->problem_since_unix) : json_null(), "last_success",
		st->last_success_unix ? json_integer(st->last_success_unix) : json_null(), "polls",
		(json_int_t)st->polls, "requests", (json_int_t)st->requests, "failures",
		(json_int_t)st->failures, "ports", ports);
}

/* VMs the platform shows that the agent left out, and why: [{name, why}] (the name with \xNN
 * for each byte that was not printable UTF-8). */
static json_t *refused_json(const struct snapshot *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < s->n_refused; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", s->refused[i].name, "why",
						   s->refused[i].why));
	return a;
}

static void get_host(struct api *api, struct http_request *req)
{
	const struct snapshot *h = snapshot_or_500(api, req);
	json_t *ups, *doc, *pps;

	if (!h)
		return;
	ups = json_array();
	for (size_t u = 0; ups && u < h->n_uplinks; u++)
		json_array_append_new(ups, uplink_json(&h->uplinks[u], h->holds_ingress));
	doc = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:o, s:{s:I, s:I}, s:o}", "platform",
			api->info.platform, "enforcer", api->info.enforcer, "mode", api->info.mode,
			"period_ms", (int)api->info.period_ms, "tick", (json_int_t)h->tick,
			"overruns", (json_int_t)h->overruns, "capacity_pps",
			h->host_capacity_pps ? json_integer((json_int_t)h->host_capacity_pps)
					     : json_null(),
			"floor", "bps", (json_int_t)h->floor[ALLOC_BPS], "pps",
			(json_int_t)h->floor[ALLOC_PPS], "uplinks", ups);
	pps = pool_json(&h->host_pps_pool, "pps");
	if (doc && pps)
		json_object_update(doc, pps);
	json_decref(pps);
	if (doc)
		json_object_set_new(doc, "refused_vms", refused_json(h));
	if (doc && api->placement)
		json_object_set_new(doc, "placement", placement_json(api->placement));
	if (doc && api->neutron)
		json_object_set_new(doc, "neutron", neutron_json(api->neutron));
	http_respond_json(req, MHD_HTTP_OK, doc);
}

static json_t *readiness_problems(const struct api *api, const struct snapshot *s, bool named);

static void get_metrics(struct api *api, struct http_request *req)
{
	const struct snapshot *s = snapshot_or_500(api, req);
	struct http_counts hc = { 0 }; /* both listeners' */
	json_t *problems;
	struct metrics_text *t;
	const char *text;
	size_t len;

	if (!s)
		return;
	problems = readiness_problems(api, s, true); /* only its size is used */
	for (int i = 0; i < HTTP_CUT_N; i++)
		hc.cut[i] = (api->http ? http_counts(api->http)->cut[i] : 0) +
			    (api->http_unix ? http_counts(api->http_unix)->cut[i] : 0);
	struct state_status ss = { api->store_failures, api->store_failing, api->state_lost,
				   api->changes_lost };

	t = metrics_get(api->metrics, s, api->placement ? placement_status(api->placement) : NULL,
			api->neutron ? neutron_follow_status(api->neutron) : NULL,
			api->http || api->http_unix ? &hc : NULL, api->store ? &ss : NULL,
			problems && json_array_size(problems) == 0);
	json_decref(problems);
	if (!t) {
		respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
		return;
	}
	text = metrics_text_data(t, &len);
	http_respond_shared(req, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
			    metrics_text_release, t);
}

#define COUNTING_NAMED 16 /* vifs named one by one in each list; the rest counted */

/* How the vifs are counted, for GET /readyz: into `problems` (if not NULL) each side not counted
 * for CONTROL_UNREAD_PROBLEM periods in a row or more, into `fallbacks` (if not NULL) each counted
 * by a source other than the first. named: with the VM's and the vif's names, else a count. */
static void counting_notes(const struct snapshot *s, bool named, json_t *problems,
			   json_t *fallbacks)
{
	size_t n_unread = 0, n_fallback = 0;
	char msg[512];

	for (size_t i = 0; s->n_noted_sides && i < s->n_vifs; i++) {
		const struct snap_vif *v = &s->vifs[i];

		for (int d = 0; d < SLA_NDIR; d++) {
			const struct snap_side *sd = &v->side[d];
			const char *vm = s->vms[v->vm].id, *note = sd->count_note;

			if (!sd->attached)
				continue;
			if (problems && sd->unread >= CONTROL_UNREAD_PROBLEM) {
				n_unread++;
				snprintf(msg, sizeof(msg),
					 "vif not counted: vm %s vif %s %s, %" PRIu32
					 " periods (%s%s%s): its figures are null",
					 vm, v->id, sla_dir_name[d], sd->unread,
					 strerror(-sd->unread_err), note[0] ? "; " : "", note);
				if (named && n_unread <= COUNTING_NAMED)
					json_array_append_new(problems, json_string(msg));
			} else if (fallbacks && sd->counted_by && note[0]) {
				n_fallback++;
				snprintf(msg, sizeof(msg), "vm %s vif %s %s counted from %s: %s",
					 vm, v->id, sla_dir_name[d], sd->counted_by, note);
				if (named && n_fallback <= COUNTING_NAMED)
					json_array_append_new(fallbacks, json_string(msg));
			}
		}
	}
	if (named && n_unread > COUNTING_NAMED) {
		snprintf(msg, sizeof(msg), "and %zu vifs more not counted",
			 n_unread - COUNTING_NAMED);
		json_array_append_new(problems, json_string(msg));
	}
	if (named && n_fallback > COUNTING_NAMED) {
		snprintf(msg, sizeof(msg), "and %zu vifs more counted by a fallback source",
			 n_fallback - COUNTING_NAMED);
		json_array_append_new(fallbacks, json_string(msg));
	}
	if (problems && !named && n_unread) {
		snprintf(msg, sizeof(msg), "%zu vif%s not counted: their figures are null",
			 n_unread, n_unread == 1 ? "" : "s");
		json_array_append_new(problems, json_string(msg));
	}
	if (fallbacks && !named && n_fallback) {
		snprintf(msg, sizeof(msg), "%zu vif%s counted by a fallback source", n_fallback,
			 n_fallback == 1 ? "" : "s");
		json_array_append_new(fallbacks, json_string(msg));
	}
}

/* Why the agent is not ready (GET /readyz, dbavm_ready): an array, empty when it is. named:
 * the caller may read what names VMs and ports (not so without a token under --auth-reads). */
static json_t *readiness_problems(const struct api *api, const struct snapshot *s, bool named)
{
	json_t *problems = json_array();

	if (api->state_lost)
		json_array_append_new(problems, json_string(named ? api->state_problem
								  : api->state_problem_public));
	if (api->store_failing)
		json_array_append_new(problems, json_string(api->store_problem));
	if (!s->started)
		json_array_append_new(problems, json_string("no control period has run yet"));
	if (s->platform_problem)
		json_array_append_new(problems, json_string(s->platform_problem));
	counting_notes(s, named, problems, NULL);
	if (api->placement && placement_status(api->placement)->problem) {
		char msg[700];

		snprintf(msg, sizeof(msg), "placement: %s",
			 placement_status(api->placement)->problem);
		json_array_append_new(problems, json_string(msg));
	}
	if (api->neutron && neutron_follow_status(api->neutron)->problem) {
		const struct neutron_status *ns = neutron_follow_status(api->neutron);
		char msg[800], since[32];
		time_t t = (time_t)ns->problem_since_unix;
		struct tm tm;

		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
		snprintf(msg, sizeof(msg), "neutron: %s (since %s; the SLAs in force stay)",
			 ns->problem, since);
		json_array_append_new(problems, json_string(msg));
	}
	return problems;
}

/* Whether a peer on the local socket may do anything (root, or the API group). */
static bool peer_is_writer(const struct api *api, const struct http_peer *peer)
{
	return peer->uid == 0 || (api->group_known && http_peer_in_group(peer, api->api_gid));
}

/* Whether the caller of an open route may read what names VMs and ports: anyone, but under
 * --auth-reads only a caller with the token, or root or the API group over the local socket. */
static bool may_read_names(const struct api *api, const struct http_request *req)
{
	struct http_peer peer;

	if (!api->cfg->auth_reads)
		return true;
	if (http_peer(req, &peer) == 0)
		return peer_is_writer(api, &peer);
	return auth_check(api->auth, http_header(req, "Authorization"));
}

static void get_readyz(struct api *api, struct http_request *req)
{
	const struct snapshot *s = snapshot_or_500(api, req);
	json_t *problems;

	if (!s)
		return;
	bool named = may_read_names(api, req);
	json_t *notes = json_array();

	problems = readiness_problems(api, s, named);
	/* What works, but not the first way: vifs counted by a fallback source. */
	counting_notes(s, named, NULL, notes);
	if (json_array_size(problems) == 0) {
		json_decref(problems);
		/* Ready: one tenant's badly named VM does not take the host out of service; the
		 * count says it is there (GET /host lists them). */
		http_respond_json(req, MHD_HTTP_OK,
				  json_pack("{s:s, s:I, s:o}", "status", "ready", "refused_vms",
					    (json_int_t)s->n_refused, "notes", notes));
		return;
	}
	http_respond_json(req, MHD_HTTP_SERVICE_UNAVAILABLE,
			  json_pack("{s:s, s:o, s:o}", "status", "not ready", "problems", problems,
				    "notes", notes));
}

/* ---- writes ---- */

/* Every change on its way to disk, for admission to count as made; *n of them, malloc'd
 * (NULL with *n 0 when there are none). */
static struct admit_change *pending_changes(const struct api *api, size_t *n)
{
	struct admit_change *out;
	size_t k = 0;

	*n = 0;
	for (const struct api_pending *p = api->pending; p; p = p->next)
		k += !p->ack;
	if (k == 0)
		return NULL;
	out = calloc(k, sizeof(*out));
	if (!out)
		return NULL;
	for (const struct api_pending *p = api->pending; p; p = p->next)
		if (!p->ack)
			out[(*n)++] =
				(struct admit_change){ p->id, p->del ? NULL : &p->sla, p->port };
	return out;
}

static bool is_json(const char *content_type)
{
	size_t n = strlen("application/json");

	return content_type && !strncasecmp(content_type, "application/json", n) &&
	       (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* A change on its way to the store for req; NULL (req answered 500) when out of memory. */
static struct api_pending *new_pending(struct http_request *req)
{
	struct api_pending *p = calloc(1, sizeof(*p));

	if (!p)
		respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	else
		p->req = req;
	return p;
}

static void submit(struct api *api, struct http_request *req, struct api_pending *p)
{
	struct api_pending **tail = &api->pending;
	int rc = p->ack ? store_ack_lost(api->store, p)
			: store_submit(api->store, p->port ? STORE_PORT : STORE_VM, p->id,
				       p->del ? NULL : &p->sla, p->absent_since, p);

	if (rc) {
		free(p);
		respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
		return;
	}
	while (*tail)
		tail = &(*tail)->next;
	*tail = p; /* answered from on_stored */
}

int api_parse_sla(const char *body, size_t len, struct sla_spec *sla, struct sla_error *err)
{
	json_t *doc = sla_json_load(body, len, err);
	int rc;

	if (!doc)
		return -EINVAL;
	rc = neutron_is_policy(doc) ? neutron_to_sla(doc, sla, err)
				    : sla_spec_from_json(doc, sla, err);
	json_decref(doc);
	return rc;
}

static void put_port_parsed(struct api *api, struct http_request *req, const char *key,
			    const struct snapshot *snap, const struct sla_spec *sla,
			    const struct admit_change *pend, size_t n_pend);

/* Whether this host's enforcer can hold what sla says; if not, the field and why. Taken and
 * not held would be a limit, or a guarantee, that is not there. */
static bool enforcer_holds(const struct snapshot *snap, const struct sla_spec *sla,
			   const char **field, const char **msg)
{
	if (!snap->holds_ingress && sla_spec_has_ingress(sla)) {
		*field = "ingress";
		*msg = "this host's enforcer does not hold what a VM receives (ingress): only "
		       "netfront and vif-police do; the SLA's ingress side must be left out";
		return false;
	}
	if (!snap->marks_dscp && sla->dscp_set) {
		*field = "dscp_mark";
		*msg = "this host's enforcer does not mark packets: only netfront and vif-police "
		       "do; the SLA's dscp_mark must be left out";
		return false;
	}
	return true;
}

/* A 409 for a change by hand to a port SLA the agent keeps as Neutron says; false if none. */
static bool neutron_owns(struct http_request *req, const struct port_ref *r, const char *key)
{
	char msg[400];

	if (!r->sla || r->sla->sla.source.from != SLA_FROM_NEUTRON)
		return false;
	snprintf(msg, sizeof(msg),
		 "port %s's SLA is Neutron's (QoS policy %s, revision %" PRIu64 ", port %s): "
		 "change the policy in Neutron",
		 key, r->sla->sla.source.policy_id, r->sla->sla.source.revision,
		 r->sla->sla.source.port_id);
	respond_error(req, MHD_HTTP_CONFLICT, NULL, msg);
	return true;
}

/* The rest of a PUT, on the loop thread once its body is parsed (rc from api_parse_sla); port:
 * id is a {port} key. */
static void put_parsed(struct api *api, struct http_request *req, bool port, const char *id, int rc,
		       const struct sla_spec *sla_in, const struct sla_error *err)
{
	struct admit_change *pend;
	struct admit_refusal refusal;
	struct api_pending *p;
	struct sla_spec sla;
	const struct snap_vm *vm;
	const struct snapshot *snap;
	const char *field, *msg;
	size_t n_pend;

	if (rc) {
		respond_error(req, MHD_HTTP_BAD_REQUEST, err->field, err->msg);
		return;
	}
	if (!port && !lookup(api, req, id, &vm))
		return;
	sla = *sla_in;
	snap = control_snapshot(api->ctl);
	if (!snap) {
		respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
		return;
	}
	if (sla.source.from != SLA_FROM_API) {
		respond_error(req, MHD_HTTP_BAD_REQUEST, "source",
			      "source is the agent's to say (an SLA it follows Neutron for); a PUT "
			      "leaves it out");
		return;
	}
	if (!enforcer_holds(snap, &sla, &field, &msg)) {
		respond_error(req, MHD_HTTP_CONFLICT, field, msg);
		return;
	}
	pend = pending_changes(api, &n_pend);
	if (api->pending && !pend) {
		respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
		return;
	}
	if (port) {
		put_port_parsed(api, req, id, snap, &sla, pend, n_pend);
		free(pend);
		return;
	}
	rc = admit_sla(snap, id, &sla, pend, n_pend, &refusal);
	free(pend);
	if (rc) {
		log_info("sla refused vm=%s why=\"%s\"", log_q(id), refusal.msg);
		respond_error(req, MHD_HTTP_CONFLICT, refusal.field, refusal.msg);
		return;
	}
	p = new_pending(req);
	if (!p)
		return;
	snprintf(p->id, sizeof(p->id), "%s", vm ? vm->id : id);
	p->sla = sla;
	p->created = !vm || !vm->has_sla;
	/* put while its VM is away: absent from now (a reservation lasts from its last PUT) */
	p->absent_since = vm && vm->present ? 0 : boot_stamp_now();
	submit(api, req, p);
}

static void parse_run(struct worker_job *w)
{
	struct parse_job *j = (struct parse_job *)w;

	j->rc = api_parse_sla(j->body, j->len, &j->sla, &j->err);
}

static void parse_done(struct worker_job *w)
{
	struct parse_job *j = (struct parse_job *)w;

	log_debug("sla body parsed off the loop %s=%s bytes=%zu", j->port ? "port" : "vm",
		  log_q(j->id), j->len);
	put_parsed(j->api, j->req, j->port, j->id, j->rc, &j->sla, &j->err);
	free(j);
}

static void parse_drop(struct worker_job *w)
{
	struct parse_job *j = (struct parse_job *)w;

	respond_error(j->req, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
		      "the agent is shutting down; nothing changed");
	free(j);
}

static void put_sla(struct api *api, struct http_request *req, bool port, const char *id)
{
	struct parse_job *j;
	struct sla_error err;
	struct sla_spec sla;
	const char *body;
	size_t len;

	if (!is_json(http_header(req, "Content-Type"))) {
		respond_error(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
			      "the body must be JSON, sent as Content-Type: application/json");
		return;
	}
	body = http_body(req, &len);
	if (len <= API_INLINE_BODY) {
		put_parsed(api, req, port, id, api_parse_sla(body, len, &sla, &err), &sla, &err);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
		return;
	}
	j->w.run = parse_run;
	j->w.done = parse_done;
	j->api = api;
	j->req = req;
	j->port = port;
	snprintf(j->id, sizeof(j->id), "%s", id);
	j->body = body;
	j->len = len;
	if (worker_submit(api->parser, &j->w)) {
		free(j);
		respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
			      "the agent is shutting down; nothing changed");
	}
	/* Unanswered: the request waits, suspended, for parse_done. */
}

static void delete_sla(struct api *api, struct http_request *req, const char *id)
{
	const struct snap_vm *vm;
	struct api_pending *p;
	char msg[128];

	if (!lookup(api, req, id, &vm))
		return;
	if (!vm || !vm->has_sla) {
		snprintf(msg, sizeof(msg), "no SLA set for VM %s", id);
		respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
		return;
	}
	p = new_pending(req);
	if (!p)
		return;
	snprintf(p->id, sizeof(p->id), "%s", vm->id);
	p->del = true;
	submit(api, req, p);
}

/* POST /host/state/ack: the orchestrator has put the SLAs again after they were lost. */
static void ack_state(struct api *api, struct http_request *req)
{
	struct api_pending *p;

	if (!api->state_lost) {
		respond_error(req, MHD_HTTP_CONFLICT, NULL,
			      "no loss of state to acknowledge: the SLAs were not lost");
		return;
	}
	p = new_pending(req);
	if (!p)
		return;
	p->ack = true;
	submit(api, req, p);
}

/* ---- ports ---- */

/* What key names among the ports into *out (out->vif and out->sla NULL: nothing); false,
 * answered 409, when it names two (a MAC two vifs carry), or 500 when out of memory. */
static bool lookup_port(struct api *api, struct http_request *req, const char *key,
			struct port_ref *out)
{
	const struct snapshot *s = snapshot_or_500(api, req);
	struct port_ref other;
	char msg[400];

	memset(out, 0, sizeof(*out));
	if (!s)
		return false;
	if (snapshot_lookup_port(s, key, out, &other) < 2)
		return true;
	snprintf(msg, sizeof(msg), "'%s' names two ports: vif %s of VM %s and %s; use the vif's id",
		 key, out->vif ? out->vif->id : out->sla->key, out->vm ? out->vm->id : "(none)",
		 other.vif ? other.vif->id : other.sla->key);
	respond_error(req, MHD_HTTP_CONFLICT, NULL, msg);
	return false;
}

static void no_port(struct http_request *req, const char *key)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "no port %s on this host and no SLA stored for it", key);
	respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
}

static void get_ports(struct api *api, struct http_request *req)
{
	const struct snapshot *s = snapshot_or_500(api, req);

	if (s)
		http_respond_json(req, MHD_HTTP_OK, state_ports_json(s));
}

/* GET /ports/{port} and /ports/{port}/stats. */
static void get_port(struct api *api, struct http_request *req, const char *key, bool stats)
{
	struct port_ref r;
	char msg[200];

	if (!lookup_port(api, req, key, &r))
		return;
	if (!r.vif && !r.sla) {
		no_port(req, key);
		return;
	}
	if (!stats) {
		http_respond_json(req, MHD_HTTP_OK,
				  state_port_json(control_snapshot(api->ctl), &r));
		return;
	}
	if (!r.vif) {
		snprintf(msg, sizeof(msg), "port %s is not on this host: nothing is counted", key);
		respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
		return;
	}
	http_respond_json(req, MHD_HTTP_OK, state_port_stats_json(control_snapshot(api->ctl), &r));
}

static void get_port_sla(struct api *api, struct http_request *req, const char *key)
{
	struct port_ref r;
	char msg[200];

	if (!lookup_port(api, req, key, &r))
		return;
	if (!r.sla) {
		snprintf(msg, sizeof(msg), "no SLA set for port %s%s", key,
			 r.vif ? "; its VM's SLA covers it" : "");
		respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
		return;
	}
	http_respond_json(req, MHD_HTTP_OK, sla_spec_to_json(&r.sla->sla));
}

/*
 * The key a port's SLA is kept under: the one it has; else its orchestrator's port id when it
 * was asked for by that, its vif's MAC (the name that outlives a restart or a migration), its
 * vif's id; a port not on the host only by its MAC or a port id in UUID form (Neutron's), in
 * lowercase: a vif id would be a guess at a name the platform has not given yet. NULL,
 * answered 404, when there is none.
 */
static const char *port_sla_key(struct http_request *req, const char *key, const struct port_ref *r,
				char mac[PLATFORM_MAC_LEN], char uuid[PLATFORM_UUID_LEN])
{
	char msg[300];

	if (r->sla)
		return r->sla->key;
	if (r->vif && r->vif->port_id[0] &&
	    (!strcmp(key, r->vif->port_id) ||
	     (platform_uuid_parse(key, uuid) && !strcmp(uuid, r->vif->port_id))))
		return r->vif->port_id;
	if (r->vif)
		return r->vif->mac[0] ? r->vif->mac : r->vif->id;
	if (platform_mac_parse(key, mac) || platform_uuid_parse(key, uuid))
		return mac[0] ? mac : uuid;
	snprintf(msg, sizeof(msg),
		 "no port %s on this host; a port not on the host yet takes an SLA by its MAC "
		 "address (aa:bb:cc:dd:ee:ff) or its port id as a UUID",
		 key);
	respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
	return NULL;
}

/* The rest of PUT /ports/{port}/sla, the body parsed and checked (put_parsed). */
static void put_port_parsed(struct api *api, struct http_request *req, const char *key,
			    const struct snapshot *snap, const struct sla_spec *sla,
			    const struct admit_change *pend, size_t n_pend)
{
	struct admit_refusal refusal;
	struct api_pending *p;
	struct port_ref r;
	char mac[PLATFORM_MAC_LEN], uuid[PLATFORM_UUID_LEN];
	const char *at;

	if (snapshot_lookup_port(snap, key, &r, NULL) > 1) {
		lookup_port(api, req, key, &r); /* answers the 409 */
		return;
	}
	if (neutron_owns(req, &r, key) || !(at = port_sla_key(req, key, &r, mac, uuid)))
		return;
	if (admit_port_sla(snap, at, &r, sla, pend, n_pend, &refusal)) {
		log_info("sla refused port=%s why=\"%s\"", log_q(at), refusal.msg);
		respond_error(req, MHD_HTTP_CONFLICT, refusal.field, refusal.msg);
		return;
	}
	p = new_pending(req);
	if (!p)
		return;
	p->port = true;
	snprintf(p->id, sizeof(p->id), "%s", at);
	p->sla = *sla;
	p->created = !r.sla;
	p->absent_since = r.vif ? 0 : boot_stamp_now();
	submit(api, req, p);
}

static void delete_port_sla(struct api *api, struct http_request *req, const char *key)
{
	struct api_pending *p;
	struct port_ref r;
	char msg[200];

	if (!lookup_port(api, req, key, &r))
		return;
	if (!r.sla) {
		snprintf(msg, sizeof(msg), "no SLA set for port %s", key);
		respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
		return;
	}
	if (neutron_owns(req, &r, key))
		return;
	p = new_pending(req);
	if (!p)
		return;
	p->port = true;
	snprintf(p->id, sizeof(p->id), "%s", r.sla->key);
	p->del = true;
	submit(api, req, p);
}

/* An SLA (a VM's or a port's) in force: said in the log, and answered 201 or 200. */
static void sla_set_answer(struct api_pending *p)
{
	const struct sla *e = &p->sla.dir[SLA_EGRESS], *in = &p->sla.dir[SLA_INGRESS];

	log_info("sla set %s=%s priority=%u weight=%u min_bps=%" PRIu64 " min_pps=%" PRIu64
		 " ingress=%s ingress_min_bps=%" PRIu64 " ingress_min_pps=%" PRIu64,
		 p->port ? "port" : "vm", log_q(p->id), e->priority, e->weight, e->min_bps,
		 e->min_pps, sla_spec_has_ingress(&p->sla) ? "set" : "default", in->min_bps,
		 in->min_pps);
	http_respond_json(p->req, p->created ? MHD_HTTP_CREATED : MHD_HTTP_OK,
			  sla_spec_to_json(&p->sla));
}

/* A port's change is on disk: made real, and answered. */
static void port_stored(struct api *api, struct api_pending *p)
{
	if (p->del) {
		control_clear_port_sla(api->ctl, p->id);
		log_info("sla deleted port=%s", log_q(p->id));
		http_respond(p->req, MHD_HTTP_NO_CONTENT, NULL, NULL, 0);
		return;
	}
	if (control_set_port_sla(api->ctl, p->id, &p->sla)) {
		respond_error(p->req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			      "stored, but out of memory applying it; it applies after a restart");
		return;
	}
	control_note_port_absence(api->ctl, p->id, p->absent_since, p->absent_since);
	sla_set_answer(p);
}

/* A write's outcome, for /readyz and /metrics: failing from the first failure (said once,
 * with when and why) until a write succeeds (said too). */
static void store_outcome(struct api *api, int rc)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (rc) {
		api->store_failures++;
		if (!api->store_failing) {
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
			snprintf(api->store_problem, sizeof(api->store_problem),
				 "the state directory cannot be written since %s (%s): changes are "
				 "refused until it can",
				 when, strerror(-rc));
			log_error("state directory not writable, changes refused err=%s",
				  strerror(-rc));
		}
		api->store_failing = true;
	} else if (api->store_failing) {
		api->store_failing = false;
		log_info("state directory writable again failures=%" PRIu64, api->store_failures);
	}
	control_publish(api->ctl); /* /metrics says it at once */
}

/* A change the agent made following Neutron is on disk (rc 0): made real and said. */
static void neutron_stored(struct api *api, struct api_pending *p, int rc)
{
	const struct sla_source *src = &p->sla.source;

	if (rc) {
		log_error("neutron's sla not stored, retried at the next poll port=%s err=%s",
			  log_q(p->id), strerror(-rc));
		return;
	}
	if (p->del) {
		control_clear_port_sla(api->ctl, p->id);
		log_info("sla deleted port=%s source=neutron why=\"no policy for it in neutron\"",
			 log_q(p->id));
		return;
	}
	if (control_set_port_sla(api->ctl, p->id, &p->sla)) {
		log_error("neutron's sla stored, not applied (out of memory) port=%s",
			  log_q(p->id));
		return;
	}
	control_note_port_absence(api->ctl, p->id, p->absent_since, p->absent_since);
	log_info("sla set port=%s source=neutron neutron_port=%s policy=%s revision=%" PRIu64
		 " min_bps=%" PRIu64 " max_bps=%" PRIu64 " ingress_max_bps=%" PRIu64,
		 log_q(p->id), src->port_id, src->policy_id, src->revision,
		 p->sla.dir[SLA_EGRESS].min_bps, p->sla.dir[SLA_EGRESS].max_bps,
		 p->sla.dir[SLA_INGRESS].max_bps);
}

/* The store has written (or failed to write) a change: make it real, then answer. */
static void on_stored(void *cookie, int rc, void *arg)
{
	struct api_pending *p = cookie, **pp;
	struct api *api = arg;
	char msg[160];

	store_outcome(api, rc);
	if (p->background) { /* memory changed when it was queued: only a failure to say */
		if (rc)
			log_error("state not written %s=%s change=%s err=%s",
				  p->port ? "port" : "vm", log_q(p->id),
				  p->del ? "forgotten" : "absence", strerror(-rc));
		free(p);
		return;
	}
	for (pp = &api->pending; *pp && *pp != p; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = p->next;
	if (p->neutron) {
		neutron_stored(api, p, rc);
		free(p);
		return;
	}
	if (rc) {
		snprintf(msg, sizeof(msg), "%s (%s); nothing changed",
			 p->ack ? "the acknowledgement could not be stored"
				: "the SLA could not be stored",
			 strerror(-rc));
		respond_error(p->req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, msg);
		free(p);
		return;
	}
	if (p->port) {
		port_stored(api, p);
	} else if (p->ack) {
		api->state_lost = false;
		log_warn("state loss acknowledged: the agent is ready again");
		http_respond(p->req, MHD_HTTP_NO_CONTENT, NULL, NULL, 0);
	} else if (p->del) {
		control_clear_sla(api->ctl, p->id);
		log_info("sla deleted vm=%s", log_q(p->id));
		http_respond(p->req, MHD_HTTP_NO_CONTENT, NULL, NULL, 0);
	} else if (control_set_sla(api->ctl, p->id, &p->sla)) {
		respond_error(p->req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			      "stored, but out of memory applying it; it applies after a restart");
	} else {
		/* a VM that came meanwhile is present: the next sweep stores that */
		control_note_absence(api->ctl, p->id, p->absent_since, p->absent_since);
		sla_set_answer(p);
	}
	free(p);
}

static void on_store_event(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct api *api = arg;

	(void)loop, (void)fd, (void)events;
	store_complete(api->store, on_stored, api);
}

/* ---- the SLAs of absent VMs ---- */

static bool change_pending(const struct api *api, bool port, const char *id)
{
	for (const struct api_pending *p = api->pending; p; p = p->next)
		if (!p->ack && p->port == port && !strcmp(p->id, id))
			return true;
	return false;
}

/* The agent's own change to the store, answered to nobody: sla NULL forgets. */
static int background(struct api *api, bool port, const char *id, const struct sla_spec *sla,
		      int64_t absent_since)
{
	struct api_pending *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->background = true;
	p->port = port;
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->del = !sla;
	if (sla)
		p->sla = *sla;
	p->absent_since = absent_since;
	rc = store_submit(api->store, port ? STORE_PORT : STORE_VM, p->id, sla, absent_since, p);
	if (rc)
		free(p);
	return rc;
}

/* ---- following Neutron ---- */

/* A change for Neutron's sake on its way to the store, in the pending list (admission counts
 * it as made) until it is on disk; sla NULL deletes. */
static void neutron_submit(struct api *api, const char *key, const struct sla_spec *sla,
			   int64_t absent_since)
{
	struct api_pending *p = calloc(1, sizeof(*p)), **tail = &api->pending;

	if (!p) {
		log_error("neutron's sla not queued (out of memory) port=%s", log_q(key));
		return;
	}
	p->neutron = p->port = true;
	snprintf(p->id, sizeof(p->id), "%s", key);
	p->del = !sla;
	if (sla)
		p->sla = *sla;
	p->absent_since = absent_since;
	if (store_submit(api->store, STORE_PORT, p->id, sla, absent_since, p)) {
		log_error("neutron's sla not queued (out of memory) port=%s", log_q(key));
		free(p);
		return;
	}
	while (*tail)
		tail = &(*tail)->next;
	*tail = p;
}

/* One of Neutron's ports that cannot have its SLA: said in the port's state. */
static void neutron_refuse(struct neutron_port *np, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void neutron_refuse(struct neutron_port *np, const char *fmt, ...)
{
	va_list ap;

	np->state = NEUTRON_REFUSED;
	va_start(ap, fmt);
	vsnprintf(np->why, sizeof(np->why), fmt, ap);
	va_end(ap);
}

/*
 * What Neutron says of the host's ports made the Neutron-sourced port SLAs in force, through
 * the admission and the store a PUT goes through: an SLA that differs is set (under the key the
 * port's SLA has, else its MAC), one admission refuses is the port's refusal (its last SLA
 * stays), and an SLA of Neutron's whose port Neutron no longer lists with a policy goes.
 */
void api_neutron_apply(void *arg, struct neutron_port *ports, size_t n)
{
	struct api *api = arg;
	const struct snapshot *s = control_snapshot(api->ctl);

	if (!s)
		return; /* out of memory: the next poll tries again */
	for (size_t i = 0; i < n; i++) {
		struct neutron_port *np = &ports[i];
		struct admit_refusal refusal;
		struct admit_change *pend;
		struct port_ref r, other;
		const char *field, *msg, *key;
		size_t n_pend;
		int rc;

		if (np->state != NEUTRON_SLA)
			continue;
		if (snapshot_lookup_port(s, np->mac, &r, &other) > 1) {
			neutron_refuse(np, "MAC %s names two ports on this host", np->mac);
			continue;
		}
		key = r.sla ? r.sla->key : np->mac;
		if (change_pending(api, true, key) ||
		    (r.sla && sla_spec_same(&r.sla->sla, &np->sla)))
			continue;
		if (!enforcer_holds(s, &np->sla, &field, &msg)) {
			neutron_refuse(np, "%s", msg);
			continue;
		}
		pend = pending_changes(api, &n_pend);
		rc = admit_port_sla(s, key, &r, &np->sla, pend, n_pend, &refusal);
		free(pend);
		if (rc) {
			neutron_refuse(np, "%s", refusal.msg);
			continue;
		}
		neutron_submit(api, key, &np->sla, r.vif ? 0 : boot_stamp_now());
	}
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct snap_port *sp = &s->ports[i];
		bool listed = false;

		if (sp->sla.source.from != SLA_FROM_NEUTRON)
			continue;
		for (size_t j = 0; j < n && !listed; j++)
			listed = (ports[j].state == NEUTRON_SLA ||
				  ports[j].state == NEUTRON_REFUSED) &&
				 !strcmp(ports[j].id, sp->sla.source.port_id);
		if (!listed && !change_pending(api, true, sp->key))
			neutron_submit(api, sp->key, NULL, 0);
	}
}

void api_reload(struct api *api, struct auth *auth, struct tls_creds *tls)
{
	api->auth = auth;
	if (tls)
		http_set_tls(api->http, tls);
}

void api_period(struct api *api)
{
	int64_t now = boot_stamp_now();
	struct control_absence *due;
	size_t n;

	if (now == api->swept_at)
		return; /* once a second: absences are counted in seconds */
	api->swept_at = now;
	n = control_absences(api->ctl, now, &due);
	for (size_t i = 0; i < n; i++) {
		const struct control_absence *a = &due[i];

		if (change_pending(api, a->port, a->id))
			continue; /* the request's answer records it */
		if (a->forget) {
			if (background(api, a->port, a->id, NULL, 0))
				continue;
			log_info("sla forgotten, its %s absent too long %s=%s absent_s=%" PRId64
				 " forget_absent_after_s=%u",
				 a->port ? "port" : "vm", a->port ? "port" : "vm", log_q(a->id),
				 now - a->absent_since, api->cfg->forget_absent_after_s);
			if (a->port)
				control_forget_port_sla(api->ctl, a->id);
			else
				control_forget_sla(api->ctl, a->id); /* its record goes with it */
			continue;
		}
		if (background(api, a->port, a->id, &a->sla, a->absent_since))
			continue;
		if (a->port)
			control_note_port_absence(api->ctl, a->id, a->absent_since,
						  a->absent_since);
		else
			control_note_absence(api->ctl, a->id, a->absent_since, a->absent_since);
	}
	free(due);
}

/* ---- routing ---- */

enum route {
	R_NONE,
	R_HEALTHZ,
	R_READYZ,
	R_HOST,
	R_STATE_ACK,
	R_METRICS,
	R_VMS,
	R_VM,
	R_SLA,
	R_STATS,
	R_PORTS,
	R_PORT,
	R_PORT_SLA,
	R_PORT_STATS
};

/* Splits the path; *id points into buf for /vms/{id}[/sla|/stats] and
 * /ports/{port}[/sla|/stats]. */
static enum route route_of(const char *path, char *buf, size_t size, const char **id)
{
	char *slash;
	bool port;
	size_t skip;

	*id = NULL;
	if (!strcmp(path, "/healthz"))
		return R_HEALTHZ;
	if (!strcmp(path, "/readyz"))
		return R_READYZ;
	if (!strcmp(path, "/host"))
		return R_HOST;
	if (!strcmp(path, "/host/state/ack"))
		return R_STATE_ACK;
	if (!strcmp(path, "/metrics"))
		return R_METRICS;
	if (!strcmp(path, "/vms") || !strcmp(path, "/vms/"))
		return R_VMS;
	if (!strcmp(path, "/ports") || !strcmp(path, "/ports/"))
		return R_PORTS;
	port = !strncmp(path, "/ports/", 7);
	skip = port ? 7 : 5;
	if ((!port && strncmp(path, "/vms/", 5)) || strlen(path + skip) >= size)
		return R_NONE;
	strcpy(buf, path + skip);
	*id = buf;
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	http_url_unescape(buf); /* split first: a %2F in the id is the id's */
	if (!slash)
		return port ? R_PORT : R_VM;
	http_url_unescape(slash + 1);
	if (!strcmp(slash + 1, "sla"))
		return port ? R_PORT_SLA : R_SLA;
	return !strcmp(slash + 1, "stats") ? (port ? R_PORT_STATS : R_STATS) : R_NONE;
}

static const char *allowed_methods(enum route r)
{
	return r == R_SLA || r == R_PORT_SLA ? "GET, HEAD, PUT, DELETE"
	       : r == R_STATE_ACK	     ? "POST"
					     : "GET, HEAD";
}

static void handle(struct http_request *req, void *arg)
{
	struct api *api = arg;
	const char *method = http_method(req), *id;
	char buf[256], msg[320];
	struct http_peer peer;
	/* HEAD is GET without the body (libmicrohttpd sends only the head) */
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), mutating;
	enum route r = route_of(http_path(req), buf, sizeof(buf), &id);

	if (r == R_NONE) {
		snprintf(msg, sizeof(msg), "no such resource: %.200s", http_path(req));
		respond_error(req, MHD_HTTP_NOT_FOUND, NULL, msg);
		return;
	}
	mutating = ((r == R_SLA || r == R_PORT_SLA) &&
		    (!strcmp(method, "PUT") || !strcmp(method, "DELETE"))) ||
		   (r == R_STATE_ACK && !strcmp(method, "POST"));
	if ((!get || r == R_STATE_ACK) && !mutating) {
		snprintf(msg, sizeof(msg), "%s is not allowed here; allowed: %s", method,
			 allowed_methods(r));
		http_add_header(req, "Allow", allowed_methods(r));
		respond_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, msg);
		return;
	}
	if (http_peer(req, &peer) == 0) {
		/* The local socket: the kernel says who is asking, no token needed. Root and the
		 * API group may do anything; others read (nothing with --auth-reads). */
		bool writer = peer_is_writer(api, &peer);

		if (!writer &&
		    (mutating || (api->cfg->auth_reads && r != R_HEALTHZ && r != R_READYZ))) {
			snprintf(msg, sizeof(msg),
				 "uid %u may not %s over the local socket: root or group %.64s may",
				 (unsigned)peer.uid, mutating ? "change SLAs" : "read",
				 api->cfg->api_group);
			respond_error(req, MHD_HTTP_FORBIDDEN, NULL, msg);
			return;
		}
	} else if ((mutating || (api->cfg->auth_reads && r != R_HEALTHZ && r != R_READYZ)) &&
		   !auth_check(api->auth, http_header(req, "Authorization"))) {
		respond_error(
			req, MHD_HTTP_UNAUTHORIZED, NULL,
			!auth_configured(api->auth)
				? "this agent has no --token-file: calls that need a token "
				  "are refused"
				: "missing or wrong bearer token (Authorization: Bearer ...)");
		return;
	}
	if (id && !valid_id(id)) {
		bool port = r == R_PORT || r == R_PORT_SLA || r == R_PORT_STATS;

		respond_error(req, MHD_HTTP_BAD_REQUEST, port ? "port" : "id",
			      port ? "a port key is 1 to 63 bytes of UTF-8 without control "
				     "characters (percent-encoded in the path)"
				   : "a VM id is 1 to 63 bytes of UTF-8 without control characters "
				     "(percent-encoded in the path)");
		return;
	}
	switch (r) {
	case R_HEALTHZ:
		http_respond_json(req, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
		break;
	case R_READYZ:
		get_readyz(api, req);
		break;
	case R_HOST:
		get_host(api, req);
		break;
	case R_STATE_ACK:
		ack_state(api, req);
		break;
	case R_METRICS:
		get_metrics(api, req);
		break;
	case R_VMS:
		get_vms(api, req);
		break;
	case R_VM:
	case R_STATS:
		get_vm(api, req, id, r == R_STATS);
		break;
	case R_SLA:
		if (get)
			get_sla(api, req, id);
		else if (!strcmp(method, "PUT"))
			put_sla(api, req, false, id);
		else
			delete_sla(api, req, id);
		break;
	case R_PORTS:
		get_ports(api, req);
		break;
	case R_PORT:
	case R_PORT_STATS:
		get_port(api, req, id, r == R_PORT_STATS);
		break;
	case R_PORT_SLA:
		if (get)
			get_port_sla(api, req, id);
		else if (!strcmp(method, "PUT"))
			put_sla(api, req, true, id);
		else
			delete_port_sla(api, req, id);
		break;
	case R_NONE:
		break;
	}
}

/* --listen-unix: its directory (made 0755 if missing), the socket, and the group whose
 * members may change SLAs over it (a name, or a number; one that does not exist: root alone,
 * said). */
static int open_unix(struct api *api, const struct http_limits *limits)
{
	const char *path = api->cfg->listen_unix, *g = api->cfg->api_group;
	char dir[sizeof(api->cfg->listen_unix)], *slash;
	struct group *gr;
	char *end;
	unsigned long n = strtoul(g, &end, 10);
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warn("api socket directory not made dir=%s err=%s", dir,
				 strerror(errno));
		/* Another user who can write in it could swap the socket (StrictModes) */
		char why[PATH_MAX + 256];

		if ((rc = owned_check("--listen-unix's directory", dir, why, sizeof(why)))) {
			log_error("api socket not opened path=%s: %s", path, why);
			return rc;
		}
	}
	api->group_known = true;
	if (*g && !*end && n < (gid_t)-1) {
		api->api_gid = (gid_t)n;
	} else if ((gr = getgrnam(g))) {
		api->api_gid = gr->gr_gid;
	} else {
		api->group_known = false;
		log_warn("api group not found: over the local socket only root may change SLAs "
			 "group=%s",
			 log_q(g));
	}
	rc = http_open_unix(&api->http_unix, path, limits, api->loop, handle, api);
	if (rc) {
		log_error("api socket not opened path=%s err=%s", path, strerror(-rc));
		return rc;
	}
	log_info("api listening on a local socket path=%s mode=0666 writers=root%s%s", path,
		 api->group_known ? ",group:" : "", api->group_known ? g : "");
	return 0;
}

int api_open(struct api *api, struct loop *loop, struct control *ctl, struct store *store,
	     struct auth *auth, struct tls_creds *tls, const struct config *cfg,
	     const struct metrics_info *info, const struct store_load *load)
{
	struct http_limits limits = {
		cfg->max_body_bytes, cfg->max_connections,   cfg->max_connections_per_address,
		cfg->idle_timeout_s, cfg->request_timeout_s, tls
	};
	int rc;

	memset(api, 0, sizeof(*api));
	api->ctl = ctl;
	api->store = store;
	api->auth = auth;
	api->cfg = cfg;
	api->info = *info;
	api->loop = loop;
	api->changes_lost = load->n_lost;
	if (load->lost) {
		api->state_lost = true;
		snprintf(api->state_problem, sizeof(api->state_problem), "%s", load->why);
		snprintf(api->state_problem_public, sizeof(api->state_problem_public), "%s",
			 load->why_public[0] ? load->why_public : load->why);
	}
	api->metrics = metrics_new(info);
	if (!api->metrics)
		return -ENOMEM;
	rc = loop_add_fd(loop, store_event_fd(store), EPOLLIN, on_store_event, api);
	if (rc) {
		metrics_free(api->metrics);
		return rc;
	}
	rc = worker_open(&api->parser, loop);
	if (rc) {
		loop_del_fd(loop, store_event_fd(store));
		metrics_free(api->metrics);
		return rc;
	}
	rc = http_open(&api->http, cfg->listen_addr, cfg->listen_port, &limits, loop, handle, api);
	if (rc)
		log_error("api not listening listen=%s:%u err=%s", cfg->listen_addr,
			  cfg->listen_port, strerror(-rc));
	if (!rc && cfg->listen_unix[0])
		rc = open_unix(api, &limits);
	if (rc) {
		http_close(api->http);
		api->http = NULL;
		worker_close(api->parser, parse_drop);
		loop_del_fd(loop, store_event_fd(store));
		metrics_free(api->metrics);
	}
	return rc;
}

void api_close(struct api *api)
{
	/* Answer what is on its way to disk before the server goes (the agent's own changes
	 * too: their completions free them). */
	for (int waited_ms = 0; store_in_flight(api->store) && waited_ms < 5000; waited_ms += 50) {
		struct pollfd pfd = { store_event_fd(api->store), POLLIN, 0 };

		if (poll(&pfd, 1, 50) > 0)
			store_complete(api->store, on_stored, api);
	}
	worker_close(api->parser, parse_drop);
	api->parser = NULL;
	loop_del_fd(api->loop, store_event_fd(api->store));
	http_close(api->http);
	api->http = NULL;
	http_close(api->http_unix); /* and its socket file */
	api->http_unix = NULL;
	metrics_free(api->metrics);
	api->metrics = NULL;
}
