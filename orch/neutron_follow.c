/*
 * neutron_follow: one poll at a time, as a small state machine (token when needed -> ports ->
 * policies -> apply). A poll that fails anywhere applies nothing: what is in force stays.
 */
#include "neutron_follow.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "keystone.h"
#include "log.h"
#include "loop.h"
#include "neutron.h"

/* Policies asked for by id in one request; more distinct ones than this: all of them. */
#define MAX_IDS_IN_URL 40

enum step { ST_IDLE, ST_TOKEN, ST_PORTS, ST_POLICIES };

struct neutron_follow {
	struct loop *loop;
	const struct config *cfg;
	struct client *cl;
	int timer_fd;
	uint64_t poll_ns;
	neutron_apply_fn *apply;
	void *apply_arg;
	struct os_creds creds;
	char *tokens_url, *auth_body, *token;
	uint64_t token_renew_ns;
	bool retried_401; /* this poll renewed its token after a 401 already */
	char url_given[512];
	enum step step, resume;
	struct neutron_port *reading; /* this poll's ports */
	size_t n_reading;
	struct neutron_port *ports; /* as last applied */
	size_t n_ports;
	char problem[600];
	struct neutron_status st;
};

const char *const neutron_state_name[NEUTRON_N_STATES] = { "no_policy", "in_force", "refused",
							   "unmanaged" };

/* ---- parsing ---- */

/* Neutron's MAC as the key: six pairs of hex digits, lowercased; false if it is not one. */
static bool mac_key(const char *in, char out[NEUTRON_MAC_LEN])
{
	if (!in || strlen(in) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? in[i] != ':' : !isxdigit((unsigned char)in[i]))
			return false;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[17] = '\0';
	return true;
}

/* A UUID as Neutron writes them (36 characters of hex and dashes). */
static bool uuid_ok(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
							    : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

int neutron_ports_parse(const char *body, size_t len, struct neutron_port **out, size_t *n,
			size_t *skipped, char *err, size_t err_len)
{
	json_t *root = json_loadb(body, len, 0, NULL), *list = json_object_get(root, "ports"), *p;
	struct neutron_port *ports = NULL;
	size_t i, k = 0;
	int rc = 0;

	*out = NULL;
	*n = *skipped = 0;
	if (!json_is_array(list)) {
		snprintf(err, err_len, "the ports answer has no \"ports\" list");
		json_decref(root);
		return -EINVAL;
	}
	if (json_array_size(list) && !(ports = calloc(json_array_size(list), sizeof(*ports)))) {
		json_decref(root);
		return -ENOMEM;
	}
	json_array_foreach(list, i, p) {
		struct neutron_port *np = &ports[k];
		const char *id = json_string_value(json_object_get(p, "id"));
		const char *pol = json_string_value(json_object_get(p, "qos_policy_id"));
		const char *net = json_string_value(json_object_get(p, "qos_network_policy_id"));

		memset(np, 0, sizeof(*np));
		if (!uuid_ok(id) ||
		    !mac_key(json_string_value(json_object_get(p, "mac_address")), np->mac) ||
		    (pol && !uuid_ok(pol)) || (!pol && net && !uuid_ok(net))) {
			(*skipped)++;
			continue;
		}
		snprintf(np->id, sizeof(np->id), "%s", id);
		np->from_network = !pol && net;
		snprintf(np->policy_id, sizeof(np->policy_id), "%s", pol ? pol : net ? net : "");
		np->state = NEUTRON_NO_POLICY;
		/* two of Neutron's ports with one MAC on this host: neither can be told apart */
		for (size_t j = 0; j < k; j++)
			if (!strcmp(ports[j].mac, np->mac)) {
				ports[j].state = np->state = NEUTRON_REFUSED;
				snprintf(np->why, sizeof(np->why),
					 "ports %s and %s on this host have one MAC address",
					 ports[j].id, np->id);
				memcpy(ports[j].why, np->why, sizeof(ports[j].why));
			}
		k++;
	}
	json_decref(root);
	*out = ports;
	*n = k;
	return rc;
}

void neutron_ports_unmanage(struct neutron_port *ports, size_t n, const char (*keys)[SLA_UUID_LEN],
			    size_t n_keys)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n_keys; k++)
			if (!strcasecmp(ports[i].id, keys[k]) || !strcasecmp(ports[i].mac, keys[k]))
				ports[i].state = NEUTRON_UNMANAGED;
}

int neutron_policies_apply(const char *body, size_t len, struct neutron_port *ports, size_t n,
			   char *err, size_t err_len)
{
	json_t *root = json_loadb(body, len, 0, NULL), *list = json_object_get(root, "policies");

	if (!json_is_array(list)) {
		snprintf(err, err_len, "the policies answer has no \"policies\" list");
		json_decref(root);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct neutron_port *np = &ports[i];
		json_t *pol = NULL, *doc, *v;
		struct sla_error e;
		size_t j;

		if (!np->policy_id[0] || np->state == NEUTRON_REFUSED ||
		    np->state == NEUTRON_UNMANAGED)
			continue;
		json_array_foreach(list, j, v) {
			const char *id = json_string_value(json_object_get(v, "id"));

			if (id && !strcmp(id, np->policy_id))
				pol = v;
		}
		np->state = NEUTRON_REFUSED;
		if (!pol) {
			snprintf(np->why, sizeof(np->why), "policy %s is not readable (deleted?)",
				 np->policy_id);
			continue;
		}
		doc = json_pack("{s:O}", "policy", pol);
		if (!doc) {
			snprintf(np->why, sizeof(np->why), "out of memory");
			continue;
		}
		if (neutron_to_sla(doc, &np->sla, &e)) {
			snprintf(np->why, sizeof(np->why), "policy %s: %s", np->policy_id, e.msg);
		} else {
			json_t *rev = json_object_get(pol, "revision_number");

			np->state = NEUTRON_SLA;
			np->sla.source.from = SLA_FROM_NEUTRON;
			snprintf(np->sla.source.policy_id, sizeof(np->sla.source.policy_id), "%s",
				 np->policy_id);
			snprintf(np->sla.source.port_id, sizeof(np->sla.source.port_id), "%s",
				 np->id);
			np->sla.source.revision =
				json_is_integer(rev) && json_integer_value(rev) > 0
					? (uint64_t)json_integer_value(rev)
					: 0;
		}
		json_decref(doc);
	}
	json_decref(root);
	return 0;
}

/* ---- the poll ---- */

static void on_answer(void *arg, const struct client_response *r);

static void schedule(struct neutron_follow *nf, uint64_t after_ns)
{
	loop_timer_restart(nf->timer_fd, after_ns ? after_ns : 1, 0);
}

static void fail(struct neutron_follow *nf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct neutron_follow *nf, const char *fmt, ...)
{
	char now[sizeof(nf->problem)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(now, sizeof(now), fmt, ap);
	va_end(ap);
	nf->st.failures++;
	/* said once per change of problem; what is in force stays */
	if (!nf->st.problem || strcmp(now, nf->problem)) {
		log_warn("neutron not followed, the SLAs in force stay why=\"%s\"", now);
		if (!nf->st.problem)
			nf->st.problem_since_unix = (int64_t)time(NULL);
		snprintf(nf->problem, sizeof(nf->problem), "%s", now);
		nf->st.problem = nf->problem;
	}
	free(nf->reading);
	nf->reading = NULL;
	nf->n_reading = 0;
	nf->step = ST_IDLE;
	schedule(nf, nf->poll_ns);
}

static int send_get(struct neutron_follow *nf, const char *path_query)
{
	char url[4096], auth[4096];
	const char *headers[] = { auth, "Accept: application/json", NULL };

	snprintf(url, sizeof(url), "%s%s", nf->st.endpoint, path_query);
	snprintf(auth, sizeof(auth), "X-Auth-Token: %s", nf->token ? nf->token : "");
	nf->st.requests++;
	return client_request(nf->cl, "GET", url, headers, NULL, on_answer, nf);
}

static void go(struct neutron_follow *nf, enum step s)
{
	char q[4096];
	int rc = 0;

	nf->step = s;
	if (s == ST_TOKEN) {
		nf->st.requests++;
		rc = client_request(nf->cl, "POST", nf->tokens_url, NULL, nf->auth_body, on_answer,
				    nf);
	} else if (s == ST_PORTS) {
		/* the host name is checked at start: nothing in it needs encoding */
		snprintf(q, sizeof(q),
			 "/v2.0/ports?binding%%3Ahost_id=%s&fields=id&fields=mac_address"
			 "&fields=qos_policy_id&fields=qos_network_policy_id",
			 nf->st.host);
		rc = send_get(nf, q);
	} else if (s == ST_POLICIES) {
		size_t at = (size_t)snprintf(q, sizeof(q), "/v2.0/qos/policies"), ids = 0;

		for (size_t i = 0; i < nf->n_reading; i++) {
			const char *id = nf->reading[i].policy_id;
			bool seen = false;

			for (size_t j = 0; j < i && !seen; j++)
				seen = !strcmp(nf->reading[j].policy_id, id);
			if (!*id || seen)
				continue;
			if (++ids > MAX_IDS_IN_URL) {
				snprintf(q, sizeof(q), "/v2.0/qos/policies"); /* all of them */
				break;
			}
			at += (size_t)snprintf(q + at, sizeof(q) - at, "%cid=%s",
					       ids == 1 ? '?' : '&', id);
		}
		rc = send_get(nf, q);
	}
	if (rc)
		fail(nf, "a request to %s not started: %s", s == ST_TOKEN ? "keystone" : "neutron",
		     strerror(-rc));
}

/* Both lists read: the picture handed on, and kept for the status. */
static void done(struct neutron_follow *nf)
{
	size_t n_sla = 0, n_refused = 0;

	nf->apply(nf->apply_arg, nf->reading, nf->n_reading);
	for (size_t i = 0; i < nf->n_reading; i++) {
		n_sla += nf->reading[i].state == NEUTRON_SLA;
		n_refused += nf->reading[i].state == NEUTRON_REFUSED;
		if (nf->reading[i].state == NEUTRON_REFUSED) {
			const struct neutron_port *was =
				neutron_follow_port(nf, nf->reading[i].mac);

			if (!was || was->state != NEUTRON_REFUSED ||
			    strcmp(was->why, nf->reading[i].why))
				log_warn("neutron port refused, its last SLA stays port=%s mac=%s "
					 "why=\"%s\"",
					 nf->reading[i].id, nf->reading[i].mac, nf->reading[i].why);
		}
	}
	free(nf->ports);
	nf->ports = nf->reading;
	nf->n_ports = nf->n_reading;
	nf->reading = NULL;
	nf->n_reading = 0;
	nf->st.ports = nf->ports;
	nf->st.n_ports = nf->n_ports;
	nf->st.last_success_unix = (int64_t)time(NULL);
	if (nf->st.problem || nf->st.polls == 0)
		log_info("neutron followed host=%s endpoint=%s ports=%zu with_sla=%zu refused=%zu",
			 log_q(nf->st.host), nf->st.endpoint, nf->n_ports, n_sla, n_refused);
	nf->st.problem = NULL;
	nf->st.problem_since_unix = 0;
	nf->st.polls++;
	nf->step = ST_IDLE;
	schedule(nf, nf->poll_ns);
}

static void got_token(struct neutron_follow *nf, const struct client_response *r)
{
	struct ks_token t;
	char why[400];

	if (r->status != 201 || !r->subject_token || !r->subject_token[0]) {
		client_error_text(r, why, sizeof(why), NULL, 0);
		fail(nf, "keystone at %s refused a token: %s", nf->tokens_url, why);
		return;
	}
	if (keystone_parse_token(r->body, r->len, &nf->creds, &t, why, sizeof(why))) {
		fail(nf, "keystone's token answer: %s", why);
		return;
	}
	if (!nf->url_given[0] && !t.network[0]) {
		fail(nf,
		     "keystone's catalog has no network endpoint (interface %s%s%s); give "
		     "--neutron-url",
		     nf->creds.interface, nf->creds.region[0] ? ", region " : "", nf->creds.region);
		return;
	}
	snprintf(nf->st.endpoint, sizeof(nf->st.endpoint), "%s",
		 nf->url_given[0] ? nf->url_given : t.network);
	/* the catalog's endpoint is Neutron's root; one that names the version loses it */
	for (size_t n = strlen(nf->st.endpoint); n && nf->st.endpoint[n - 1] == '/'; n--)
		nf->st.endpoint[n - 1] = '\0';
	size_t n = strlen(nf->st.endpoint);
	if (n >= 5 && !strcmp(nf->st.endpoint + n - 5, "/v2.0"))
		nf->st.endpoint[n - 5] = '\0';
	free(nf->token);
	nf->token = strdup(r->subject_token);
	if (!nf->token) {
		fail(nf, "out of memory");
		return;
	}
	nf->token_renew_ns =
		loop_now_ns() +
		(uint64_t)(t.lifetime_s > 4 ? t.lifetime_s * 3 / 4 : 1) * 1000000000ull;
	nf->st.tokens++;
	go(nf, nf->resume);
}

static void on_answer(void *arg, const struct client_response *r)
{
	struct neutron_follow *nf = arg;
	char why[400];
	size_t skipped;
	int rc;

	if (r->status == 0) {
		fail(nf, "%s: %s", nf->step == ST_TOKEN ? nf->tokens_url : nf->st.endpoint,
		     r->error ? r->error : "no answer");
		return;
	}
	if (nf->step == ST_TOKEN) {
		got_token(nf, r);
		return;
	}
	if (r->status == 401 && !nf->retried_401) {
		/* revoked or expired early: a new token, once a poll, then the same request */
		nf->retried_401 = true;
		nf->resume = nf->step;
		go(nf, ST_TOKEN);
		return;
	}
	if (r->status != 200) {
		client_error_text(r, why, sizeof(why), NULL, 0);
		fail(nf, "neutron at %s, %s: %s", nf->st.endpoint,
		     nf->step == ST_PORTS ? "the host's ports" : "their policies", why);
		return;
	}
	if (nf->step == ST_PORTS) {
		rc = neutron_ports_parse(r->body, r->len, &nf->reading, &nf->n_reading, &skipped,
					 why, sizeof(why));
		if (rc) {
			fail(nf, "neutron at %s: %s", nf->st.endpoint,
			     rc == -ENOMEM ? "out of memory" : why);
			return;
		}
		if (skipped)
			log_debug("neutron ports skipped (no valid id or MAC) n=%zu", skipped);
		neutron_ports_unmanage(nf->reading, nf->n_reading, nf->cfg->neutron_unmanaged,
				       nf->cfg->n_neutron_unmanaged);
		for (size_t i = 0; i < nf->n_reading; i++)
			if (nf->reading[i].policy_id[0] &&
			    nf->reading[i].state != NEUTRON_UNMANAGED) {
				go(nf, ST_POLICIES);
				return;
			}
		done(nf);
		return;
	}
	if (neutron_policies_apply(r->body, r->len, nf->reading, nf->n_reading, why, sizeof(why))) {
		fail(nf, "neutron at %s: %s", nf->st.endpoint, why);
		return;
	}
	done(nf);
}

static void on_timer(struct loop *loop, uint64_t expirations, void *arg)
{
	struct neutron_follow *nf = arg;

	(void)loop, (void)expirations;
	if (nf->step != ST_IDLE)
		return; /* a poll is on its way (libcurl's timeout ends it) */
	nf->retried_401 = false;
	if (!nf->token || loop_now_ns() >= nf->token_renew_ns) {
		nf->resume = ST_PORTS;
		go(nf, ST_TOKEN);
	} else {
		go(nf, ST_PORTS);
	}
}

/* ---- the outside ---- */

int neutron_follow_open(struct neutron_follow **out, struct loop *loop, const struct config *cfg,
			neutron_apply_fn *apply, void *arg, char *err, size_t err_len)
{
	struct neutron_follow *nf = calloc(1, sizeof(*nf));
	struct client_opts opts = { NULL, 10000, 5000 };
	int rc;

	*out = NULL;
	if (!nf)
		return -ENOMEM;
	nf->loop = loop;
	nf->cfg = cfg;
	nf->timer_fd = -1;
	nf->apply = apply;
	nf->apply_arg = arg;
	nf->poll_ns = (uint64_t)cfg->neutron_poll_s * 1000000000ull;
	rc = openrc_load(cfg->os_credentials, &nf->creds, err, err_len);
	if (rc) {
		free(nf);
		return rc;
	}
	snprintf(nf->url_given, sizeof(nf->url_given), "%s", cfg->neutron_url);
	if (cfg->neutron_host[0])
		snprintf(nf->st.host, sizeof(nf->st.host), "%s", cfg->neutron_host);
	else if (cfg->placement_host_name[0])
		snprintf(nf->st.host, sizeof(nf->st.host), "%s", cfg->placement_host_name);
	else if (gethostname(nf->st.host, sizeof(nf->st.host) - 1) ||
		 strpbrk(nf->st.host, " \t\r\n:/?&#%"))
		snprintf(nf->st.host, sizeof(nf->st.host), "localhost");
	nf->tokens_url = keystone_tokens_url(&nf->creds);
	nf->auth_body = keystone_auth_body(&nf->creds);
	if (nf->creds.cacert[0])
		opts.ca_file = nf->creds.cacert;
	if (!nf->tokens_url || !nf->auth_body) {
		neutron_follow_close(nf);
		return -ENOMEM;
	}
	rc = client_open(&nf->cl, loop, &opts);
	if (!rc) {
		nf->timer_fd = loop_add_timer(loop, 1000000000u, on_timer, nf);
		rc = nf->timer_fd < 0 ? nf->timer_fd : loop_timer_restart(nf->timer_fd, 1, 0);
	}
	if (rc) {
		snprintf(err, err_len, "neutron client not started: %s", strerror(-rc));
		neutron_follow_close(nf);
		return rc;
	}
	snprintf(nf->problem, sizeof(nf->problem), "not read from neutron yet");
	nf->st.problem = nf->problem;
	nf->st.problem_since_unix = (int64_t)time(NULL);
	log_info("neutron followed for host=%s keystone=%s poll_s=%u", log_q(nf->st.host),
		 nf->tokens_url, cfg->neutron_poll_s);
	*out = nf;
	return 0;
}

void neutron_follow_close(struct neutron_follow *nf)
{
	if (!nf)
		return;
	client_close(nf->cl);
	if (nf->timer_fd >= 0) {
		loop_del_fd(nf->loop, nf->timer_fd);
		close(nf->timer_fd);
	}
	if (nf->auth_body)
		memset(nf->auth_body, 0, strlen(nf->auth_body));
	free(nf->auth_body);
	free(nf->tokens_url);
	free(nf->token);
	free(nf->reading);
	free(nf->ports);
	memset(&nf->creds, 0, sizeof(nf->creds));
	free(nf);
}

const struct neutron_status *neutron_follow_status(const struct neutron_follow *nf)
{
	return &nf->st;
}

const struct neutron_port *neutron_follow_port(const struct neutron_follow *nf, const char *key)
{
	for (size_t i = 0; nf && i < nf->n_ports; i++)
		if (!strcmp(nf->ports[i].mac, key))
			return &nf->ports[i];
	return NULL;
}
