/*
 * placement: the sync as a small state machine, one request in flight at a time. Each answer
 * moves it to the next step (on_answer); a failure anywhere ends the sync, sets the problem
 * /readyz shows, and schedules the next attempt with backoff. The desired tree is computed from
 * the host model (want_*), compared with what Placement holds, and written only where it
 * differs, so a resync that finds everything right costs only reads.
 */
#include "placement.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
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

#define RC_BW "NET_BW_EGR_KILOBIT_PER_SEC"
#define RC_BW_IN "NET_BW_IGR_KILOBIT_PER_SEC"
#define RC_PPS "NET_PACKET_RATE_KILOPACKET_PER_SEC" /* either direction: Neutron's "any" */
#define RC_PPS_OUT "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC"
#define RC_PPS_IN "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC"
#define TRAIT_VNIC "CUSTOM_VNIC_TYPE_NORMAL"
#define MAX_PROVIDERS (1 + CONFIG_MAX_UPLINKS)
#define MAX_STALE 32
#define MAX_CONFLICTS 8 /* generation conflicts in a row on one write before giving up */
#define BACKOFF_MIN_NS 1000000000ull
#define BACKOFF_MAX_NS 60000000000ull

enum step {
	ST_IDLE,
	ST_TOKEN,
	ST_COMPUTE,
	ST_TRAIT,     /* PUT /traits/{name}, each custom trait */
	ST_RP_GET,    /* then, per provider: */
	ST_RP_CREATE, /*   404: POST /resource_providers */
	ST_RP_UPDATE, /*   another name or parent: PUT */
	ST_INV_GET,
	ST_INV_PUT,
	ST_TRAITS_GET,
	ST_TRAITS_PUT,
	ST_ALLOCS,
	ST_TREE,   /* the compute node's tree: children of ours we no longer want */
	ST_DELETE, /* each of them */
};

static const char *const step_names[] = {
	"idle",
	"token",
	"compute node",
	"trait",
	"provider",
	"provider creation",
	"provider update",
	"inventory",
	"inventory update",
	"provider traits",
	"provider traits update",
	"allocations",
	"provider tree",
	"stale provider deletion",
};

struct placement {
	struct loop *loop;
	struct client *cl;
	int timer_fd;
	struct os_creds creds;
	char *tokens_url, *auth_body;
	char url_given[512];
	char host_name[256];
	const struct config *cfg;
	uint64_t resync_ns;

	char *token;
	uint64_t token_renew_ns; /* when to get a new one (monotonic) */
	const char *token_why;	 /* why the token step runs: "first", "expiring", "401" */
	char endpoint[512];

	/* the host as last seen (placement_host), made into want when a sync starts */
	struct platform_uplink seen[CONFIG_MAX_UPLINKS];
	size_t n_seen;
	uint64_t seen_pps;
	bool seen_ingress; /* the enforcer holds what VMs receive */

	/* what Placement should hold, for the sync in progress */
	struct placement_provider want[MAX_PROVIDERS];
	size_t n_want;
	uint64_t want_sig;
	bool have_want;
	char traits[MAX_PROVIDERS + 1][96]; /* the custom traits to create */
	size_t n_traits;

	/* the sync in progress */
	enum step step, resume;
	size_t cur;
	unsigned conflicts_in_row;
	bool reauthed, dirty;
	int64_t gen;
	char stale[MAX_STALE][PLATFORM_UUID_LEN];
	size_t n_stale;
	struct placement_alloc *rows; /* allocations read so far */
	size_t n_rows, cap_rows;

	unsigned fails_in_row;
	char problem[640];
	struct placement_alloc *allocs; /* of the last sync that read them all */
	size_t n_allocs;
	struct placement_status st;
};

/* ---- names, UUIDs, traits ---- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int placement_uuid5(const char *ns, const char *name, char *out)
{
	unsigned char in[16], md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx;
	size_t k = 0;
	int ok;

	for (const char *p = ns; *p && k < 32; p++) {
		int v = hexval(*p);

		if (*p == '-')
			continue;
		if (v < 0)
			return -EINVAL;
		if (k % 2 == 0)
			in[k / 2] = (unsigned char)(v << 4);
		else
			in[k / 2] |= (unsigned char)v;
		k++;
	}
	if (k != 32)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, in, 16) &&
	     EVP_DigestUpdate(ctx, name, strlen(name)) && EVP_DigestFinal_ex(ctx, md, &md_len);
	EVP_MD_CTX_free(ctx);
	if (!ok || md_len < 16)
		return -EIO;
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	snprintf(out, PLATFORM_UUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0],
		 md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11],
		 md[12], md[13], md[14], md[15]);
	return 0;
}

void placement_physnet_trait(const char *physnet, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "CUSTOM_PHYSNET_%s", physnet);

	for (size_t i = sizeof("CUSTOM_PHYSNET_") - 1; i < n && i < size; i++) {
		char ch = out[i];

		if (ch >= 'a' && ch <= 'z')
			out[i] = (char)(ch - 'a' + 'A');
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
			out[i] = '_';
	}
}

static const char *physnet_of(const struct config *cfg, const char *uplink)
{
	for (size_t i = 0; i < cfg->n_physnets; i++)
		if (!strcmp(cfg->physnets[i].uplink, uplink))
			return cfg->physnets[i].physnet;
	return NULL;
}

/* FNV-1a over what the desired tree is made of (so capacity_pps, which Placement is not
 * told of, does not count). */
static uint64_t host_sig(const struct snapshot *h)
{
	uint64_t x = 1469598103934665603ull;

#define MIX(p, n)                                                                                  \
	for (size_t i_ = 0; i_ < (n); i_++)                                                        \
	x = (x ^ ((const unsigned char *)(p))[i_]) * 1099511628211ull
	MIX(&h->n_uplinks, sizeof(h->n_uplinks));
	MIX(&h->host_capacity_pps, sizeof(h->host_capacity_pps));
	MIX(&h->holds_ingress, sizeof(h->holds_ingress));
	for (size_t u = 0; u < h->n_uplinks; u++) {
		MIX(h->uplinks[u].cfg.name, strlen(h->uplinks[u].cfg.name) + 1);
		MIX(&h->uplinks[u].cfg.capacity_bps, sizeof(uint64_t));
	}
#undef MIX
	return x;
}

static void add_trait(struct placement *p, const char *t)
{
	for (size_t i = 0; i < p->n_traits; i++)
		if (!strcmp(p->traits[i], t))
			return;
	size_t n = strnlen(t, sizeof(p->traits[0]) - 1);

	memcpy(p->traits[p->n_traits], t, n);
	p->traits[p->n_traits++][n] = '\0';
}

static void add_inv(struct placement_provider *w, const char *rc, uint64_t total, uint64_t reserved)
{
	if (!total || w->n_inv == PLACEMENT_MAX_INV)
		return; /* unlimited: no inventory */
	w->inv[w->n_inv++] =
		(struct placement_inventory){ rc, total, reserved < total ? reserved : total };
}

static int want_build(struct placement *p)
{
	struct placement_provider *w = &p->want[0];
	const struct config *cfg = p->cfg;

	memset(p->want, 0, sizeof(p->want));
	p->n_traits = 0;
	add_trait(p, TRAIT_VNIC);
	snprintf(w->name, sizeof(w->name), "%s:dbavm", p->host_name);
	if (cfg->placement_pps_directions) {
		add_inv(w, RC_PPS_OUT, cfg->placement_egress_kpps, cfg->placement_reserved_kpps);
		add_inv(w, RC_PPS_IN, cfg->placement_ingress_kpps, cfg->placement_reserved_kpps);
	} else {
		add_inv(w, RC_PPS, p->seen_pps / 1000, cfg->placement_reserved_kpps);
	}
	p->n_want = 1;
	for (size_t u = 0; u < p->n_seen && p->n_want < MAX_PROVIDERS; u++) {
		const char *physnet = physnet_of(p->cfg, p->seen[u].name);

		w = &p->want[p->n_want++];
		snprintf(w->name, sizeof(w->name), "%s:dbavm:%s", p->host_name, p->seen[u].name);
		add_inv(w, RC_BW, p->seen[u].capacity_bps / 1000, cfg->placement_reserved_kbps);
		if (p->seen_ingress) /* the uplink's receive side: a pool of its own */
			add_inv(w, RC_BW_IN, p->seen[u].capacity_bps / 1000,
				cfg->placement_reserved_kbps);
		if (physnet) {
			placement_physnet_trait(physnet, w->physnet_trait,
						sizeof(w->physnet_trait));
			add_trait(p, w->physnet_trait);
		}
	}
	for (size_t i = 0; i < p->n_want; i++) {
		if (placement_uuid5(PLACEMENT_UUID_NAMESPACE, p->want[i].name, p->want[i].uuid))
			return -EIO;
	}
	p->st.providers = p->want;
	p->st.n_providers = p->n_want;
	return 0;
}

/* ---- scheduling and outcome ---- */

static void schedule(struct placement *p, uint64_t after_ns)
{
	uint64_t now = loop_now_ns();

	/* a token that falls due first is renewed by a sync of its own */
	if (p->token && p->token_renew_ns > now && p->token_renew_ns - now < after_ns)
		after_ns = p->token_renew_ns - now;
	loop_timer_restart(p->timer_fd, after_ns, 0);
}

static void fail(struct placement *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct placement *p, const char *fmt, ...)
{
	uint64_t backoff = BACKOFF_MIN_NS, jittered;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->problem, sizeof(p->problem), fmt, ap);
	va_end(ap);
	for (unsigned i = 0; i < p->fails_in_row && backoff < BACKOFF_MAX_NS; i++)
		backoff *= 2;
	if (backoff > BACKOFF_MAX_NS)
		backoff = BACKOFF_MAX_NS;
	/* full jitter over the upper half: agents that failed together do not retry together */
	jittered = backoff / 2 + (uint64_t)((double)(backoff / 2) * drand48());
	p->fails_in_row++;
	p->st.failures++;
	p->st.in_sync = false;
	p->st.problem = p->problem;
	p->step = ST_IDLE;
	log_warn("placement sync failed, retry in %.1f s failures_in_row=%u why=\"%s\"",
		 (double)jittered / 1e9, p->fails_in_row, p->problem);
	schedule(p, jittered);
}

static int cmp_consumer(const void *a, const void *b)
{
	return strcasecmp(((const struct placement_alloc *)a)->consumer,
			  ((const struct placement_alloc *)b)->consumer);
}

static void succeed(struct placement *p)
{
	bool recovered = p->fails_in_row > 0 || !p->st.last_success_unix;

	if (p->n_rows) /* by consumer, for placement_vm's bsearch */
		qsort(p->rows, p->n_rows, sizeof(*p->rows), cmp_consumer);
	free(p->allocs);
	p->allocs = p->rows;
	p->n_allocs = p->n_rows;
	p->rows = NULL;
	p->n_rows = p->cap_rows = 0;
	p->st.allocs = p->allocs;
	p->st.n_allocs = p->n_allocs;
	p->st.allocs_known = true;
	p->st.last_success_unix = (int64_t)time(NULL);
	p->fails_in_row = 0;
	p->problem[0] = '\0';
	p->st.problem = NULL;
	p->step = ST_IDLE;
	if (recovered)
		log_info("placement in sync compute=%s providers=%zu consumers=%zu endpoint=%s",
			 log_q(p->st.compute), p->n_want, p->n_allocs, p->endpoint);
	if (p->dirty) {
		p->st.in_sync = false;
		schedule(p, 0);
	} else {
		p->st.in_sync = true;
		schedule(p, p->resync_ns);
	}
}

/* ---- requests ---- */

static void on_answer(void *arg, const struct client_response *r);

static int send_req(struct placement *p, const char *method, const char *path, json_t *body)
{
	char url[2048], auth[4096];
	const char *headers[] = { auth, "OpenStack-API-Version: placement " PLACEMENT_MICROVERSION,
				  "Accept: application/json", NULL };
	char *text = NULL;
	int rc;

	snprintf(url, sizeof(url), "%s%s", p->endpoint, path);
	snprintf(auth, sizeof(auth), "X-Auth-Token: %s", p->token ? p->token : "");
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (!text)
			return -ENOMEM;
	}
	rc = client_request(p->cl, method, url, headers, text, on_answer, p);
	free(text);
	return rc;
}

static void percent_encode(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in && n + 4 < size; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
}

static json_t *inventory_body(const struct placement *p, const struct placement_provider *w)
{
	json_t *inv = json_object();

	for (size_t i = 0; i < w->n_inv; i++)
		json_object_set_new(inv, w->inv[i].resource_class,
				    json_pack("{s:I,s:I,s:i,s:I,s:i,s:f}", "total",
					      (json_int_t)w->inv[i].total, "reserved",
					      (json_int_t)w->inv[i].reserved, "min_unit", 1,
					      "max_unit", (json_int_t)w->inv[i].total, "step_size",
					      1, "allocation_ratio", 1.0));
	return json_pack("{s:I,s:o}", "resource_provider_generation", (json_int_t)p->gen,
			 "inventories", inv);
}

static json_t *traits_body(const struct placement *p, const struct placement_provider *w)
{
	json_t *t = json_pack("[s]", TRAIT_VNIC);

	if (w->physnet_trait[0])
		json_array_append_new(t, json_string(w->physnet_trait));
	return json_pack("{s:I,s:o}", "resource_provider_generation", (json_int_t)p->gen, "traits",
			 t);
}

/* Sends the current step's request. */
static void issue(struct placement *p)
{
	const struct placement_provider *w = p->cur < p->n_want ? &p->want[p->cur] : NULL;
	char path[1024], enc[800];
	int rc = 0;

	/* a sync can outlast a short-lived token: renew it before the request that would fail */
	if (p->step != ST_TOKEN && p->step != ST_IDLE && loop_now_ns() >= p->token_renew_ns) {
		p->resume = p->step;
		p->step = ST_TOKEN;
		p->token_why = "expiring";
	}
	switch (p->step) {
	case ST_TOKEN:
		rc = client_request(p->cl, "POST", p->tokens_url, NULL, p->auth_body, on_answer, p);
		break;
	case ST_COMPUTE:
		percent_encode(p->host_name, enc, sizeof(enc));
		snprintf(path, sizeof(path), "/resource_providers?name=%s", enc);
		rc = send_req(p, "GET", path, NULL);
		break;
	case ST_TRAIT:
		snprintf(path, sizeof(path), "/traits/%s", p->traits[p->cur]);
		rc = send_req(p, "PUT", path, NULL);
		break;
	case ST_RP_GET:
		snprintf(path, sizeof(path), "/resource_providers/%s", w->uuid);
		rc = send_req(p, "GET", path, NULL);
		break;
	case ST_RP_CREATE:
		rc = send_req(p, "POST", "/resource_providers",
			      json_pack("{s:s,s:s,s:s}", "name", w->name, "uuid", w->uuid,
					"parent_provider_uuid",
					p->cur ? p->want[0].uuid : p->st.compute));
		break;
	case ST_RP_UPDATE:
		snprintf(path, sizeof(path), "/resource_providers/%s", w->uuid);
		rc = send_req(p, "PUT", path,
			      json_pack("{s:s,s:s}", "name", w->name, "parent_provider_uuid",
					p->cur ? p->want[0].uuid : p->st.compute));
		break;
	case ST_INV_GET:
	case ST_INV_PUT:
		snprintf(path, sizeof(path), "/resource_providers/%s/inventories", w->uuid);
		rc = p->step == ST_INV_GET ? send_req(p, "GET", path, NULL)
					   : send_req(p, "PUT", path, inventory_body(p, w));
		break;
	case ST_TRAITS_GET:
	case ST_TRAITS_PUT:
		snprintf(path, sizeof(path), "/resource_providers/%s/traits", w->uuid);
		rc = p->step == ST_TRAITS_GET ? send_req(p, "GET", path, NULL)
					      : send_req(p, "PUT", path, traits_body(p, w));
		break;
	case ST_ALLOCS:
		snprintf(path, sizeof(path), "/resource_providers/%s/allocations", w->uuid);
		rc = send_req(p, "GET", path, NULL);
		break;
	case ST_TREE:
		snprintf(path, sizeof(path), "/resource_providers?in_tree=%s", p->st.compute);
		rc = send_req(p, "GET", path, NULL);
		break;
	case ST_DELETE:
		snprintf(path, sizeof(path), "/resource_providers/%s", p->stale[p->cur]);
		rc = send_req(p, "DELETE", path, NULL);
		break;
	case ST_IDLE:
		return;
	}
	if (rc)
		fail(p, "%s request not sent: %s", step_names[p->step], strerror(-rc));
}

static void go(struct placement *p, enum step s, size_t cur)
{
	p->step = s;
	p->cur = cur;
	issue(p);
}

static void start_sync(struct placement *p)
{
	if (p->step != ST_IDLE || !p->have_want)
		return;
	if (p->dirty || !p->n_want) {
		p->dirty = false;
		if (want_build(p)) {
			fail(p, "no uuid5: libcrypto failed");
			return;
		}
	}
	p->st.attempts++;
	p->n_rows = 0;
	p->reauthed = false;
	p->conflicts_in_row = 0;
	p->resume = ST_COMPUTE;
	if (!p->token || loop_now_ns() >= p->token_renew_ns) {
		p->token_why = p->token ? "expiring" : "first";
		go(p, ST_TOKEN, 0);
	} else
		go(p, ST_COMPUTE, 0);
}

static void on_timer(struct loop *loop, uint64_t expirations, void *arg)
{
	(void)loop, (void)expirations;
	start_sync(arg);
}

/* ---- answers ---- */

static void unexpected(struct placement *p, const struct client_response *r)
{
	char why[400];
	const struct placement_provider *w = p->cur < p->n_want ? &p->want[p->cur] : NULL;

	client_error_text(r, why, sizeof(why), NULL, 0);
	if (w && p->step >= ST_RP_GET && p->step <= ST_ALLOCS)
		fail(p, "%s of %s: %s", step_names[p->step], w->name, why);
	else
		fail(p, "%s: %s", step_names[p->step], why);
}

static void got_token(struct placement *p, const struct client_response *r)
{
	struct ks_token t;
	char why[300];

	if (r->status != 201 || !r->subject_token || !r->subject_token[0]) {
		client_error_text(r, why, sizeof(why), NULL, 0);
		fail(p, "keystone at %s refused a token: %s", p->tokens_url, why);
		return;
	}
	if (keystone_parse_token(r->body, r->len, &p->creds, &t, why, sizeof(why))) {
		fail(p, "keystone's token answer: %s", why);
		return;
	}
	if (p->url_given[0]) {
		snprintf(p->endpoint, sizeof(p->endpoint), "%s", p->url_given);
	} else if (t.placement[0]) {
		snprintf(p->endpoint, sizeof(p->endpoint), "%s", t.placement);
	} else {
		fail(p,
		     "keystone's catalog has no placement endpoint (interface %s%s%s); give "
		     "--placement-url",
		     p->creds.interface, p->creds.region[0] ? ", region " : "", p->creds.region);
		return;
	}
	for (size_t n = strlen(p->endpoint); n && p->endpoint[n - 1] == '/'; n--)
		p->endpoint[n - 1] = '\0';
	free(p->token);
	p->token = strdup(r->subject_token);
	/* renewed once three quarters of its life are gone, and not sooner than in a second */
	p->token_renew_ns = loop_now_ns() +
			    (uint64_t)(t.lifetime_s > 4 ? t.lifetime_s * 3 / 4 : 1) * 1000000000ull;
	p->st.tokens++;
	log_info("keystone token obtained why=%s lifetime_s=%" PRId64 " placement=%s",
		 p->token_why ? p->token_why : "first", t.lifetime_s, p->endpoint);
	if (!p->token) {
		fail(p, "out of memory");
		return;
	}
	go(p, p->resume, p->resume == ST_COMPUTE ? 0 : p->cur);
}

static void got_compute(struct placement *p, json_t *root)
{
	json_t *rps = json_object_get(root, "resource_providers");
	const char *uuid = json_string_value(json_object_get(json_array_get(rps, 0), "uuid"));

	if (!uuid || strlen(uuid) != PLATFORM_UUID_LEN - 1) {
		fail(p,
		     "no resource provider named '%s' in placement (nova-compute creates it; "
		     "--placement-host-name names it)",
		     p->host_name);
		return;
	}
	if (strcmp(p->st.compute, uuid))
		log_info("placement compute node found name=%s uuid=%s", log_q(p->host_name),
			 log_q(uuid));
	memcpy(p->st.compute, uuid, PLATFORM_UUID_LEN);
	go(p, ST_TRAIT, 0);
}

static bool get_gen(struct placement *p, json_t *root)
{
	json_t *g = json_object_get(root, "resource_provider_generation");

	if (!g)
		g = json_object_get(root, "generation");
	if (!json_is_integer(g)) {
		fail(p, "%s: the answer has no generation", step_names[p->step]);
		return false;
	}
	p->gen = json_integer_value(g);
	return true;
}

static void got_provider(struct placement *p, json_t *root)
{
	const struct placement_provider *w = &p->want[p->cur];
	const char *name = json_string_value(json_object_get(root, "name"));
	const char *parent = json_string_value(json_object_get(root, "parent_provider_uuid"));
	const char *want_parent = p->cur ? p->want[0].uuid : p->st.compute;

	if (!get_gen(p, root))
		return;
	if (p->step == ST_RP_GET &&
	    (!name || strcmp(name, w->name) || !parent || strcmp(parent, want_parent))) {
		log_info("placement provider put right name=%s uuid=%s", log_q(w->name),
			 log_q(w->uuid));
		go(p, ST_RP_UPDATE, p->cur);
		return;
	}
	if (p->step == ST_RP_CREATE)
		log_info("placement provider created name=%s uuid=%s", log_q(w->name),
			 log_q(w->uuid));
	go(p, ST_INV_GET, p->cur);
}

static bool inventory_matches(const struct placement_provider *w, json_t *inv)
{
	if (json_object_size(inv) != w->n_inv)
		return false;
	for (size_t i = 0; i < w->n_inv; i++) {
		const struct placement_inventory *x = &w->inv[i];
		json_t *mine = json_object_get(inv, x->resource_class);

		if (!mine ||
		    json_integer_value(json_object_get(mine, "total")) != (json_int_t)x->total ||
		    json_integer_value(json_object_get(mine, "reserved")) !=
			    (json_int_t)x->reserved ||
		    json_integer_value(json_object_get(mine, "min_unit")) != 1 ||
		    json_integer_value(json_object_get(mine, "max_unit")) != (json_int_t)x->total ||
		    json_integer_value(json_object_get(mine, "step_size")) != 1 ||
		    json_number_value(json_object_get(mine, "allocation_ratio")) != 1.0)
			return false;
	}
	return true;
}

static bool traits_match(const struct placement_provider *w, json_t *traits)
{
	size_t n = w->physnet_trait[0] ? 2 : 1, i, seen = 0;
	json_t *t;

	if (json_array_size(traits) != n)
		return false;
	json_array_foreach(traits, i, t) {
		const char *s = json_string_value(t);

		if (s && (!strcmp(s, TRAIT_VNIC) || !strcmp(s, w->physnet_trait)))
			seen++;
	}
	return seen == n;
}

static void add_rows(struct placement *p, json_t *root)
{
	json_t *allocs = json_object_get(root, "allocations"), *a;
	const char *consumer;

	json_object_foreach(allocs, consumer, a) {
		json_t *res = json_object_get(a, "resources");
		json_int_t kbps = json_integer_value(json_object_get(res, RC_BW));
		/* what the VM sends draws on either: the direction-less class, or egress's */
		json_int_t kpps = json_integer_value(json_object_get(res, RC_PPS)) +
				  json_integer_value(json_object_get(res, RC_PPS_OUT));
		struct placement_alloc *row = NULL;

		if (strlen(consumer) != PLATFORM_UUID_LEN - 1)
			continue;
		for (size_t i = 0; i < p->n_rows && !row; i++)
			if (!strcmp(p->rows[i].consumer, consumer))
				row = &p->rows[i];
		if (!row) {
			if (p->n_rows == p->cap_rows) {
				size_t cap = p->cap_rows ? p->cap_rows * 2 : 16;
				struct placement_alloc *n = realloc(p->rows, cap * sizeof(*n));

				if (!n)
					continue;
				p->rows = n;
				p->cap_rows = cap;
			}
			row = &p->rows[p->n_rows++];
			memset(row, 0, sizeof(*row));
			memcpy(row->consumer, consumer, PLATFORM_UUID_LEN);
		}
		row->kbps += kbps > 0 ? (uint64_t)kbps : 0;
		row->kpps += kpps > 0 ? (uint64_t)kpps : 0;
	}
}

static bool wanted(const struct placement *p, const char *uuid)
{
	for (size_t i = 0; i < p->n_want; i++)
		if (!strcmp(p->want[i].uuid, uuid))
			return true;
	return false;
}

static void got_tree(struct placement *p, json_t *root)
{
	json_t *rp;
	size_t i;

	p->n_stale = 0;
	json_array_foreach(json_object_get(root, "resource_providers"), i, rp) {
		const char *uuid = json_string_value(json_object_get(rp, "uuid"));
		const char *parent = json_string_value(json_object_get(rp, "parent_provider_uuid"));

		if (uuid && parent && !strcmp(parent, p->want[0].uuid) && !wanted(p, uuid) &&
		    strlen(uuid) == PLATFORM_UUID_LEN - 1 && p->n_stale < MAX_STALE)
			memcpy(p->stale[p->n_stale++], uuid, PLATFORM_UUID_LEN);
	}
	if (p->n_stale)
		go(p, ST_DELETE, 0);
	else
		succeed(p);
}

/* A generation conflict: read again, then write again. */
static void conflict(struct placement *p, enum step reread)
{
	p->st.conflicts++;
	if (++p->conflicts_in_row > MAX_CONFLICTS) {
		fail(p, "%s of %s: %u generation conflicts in a row", step_names[p->step],
		     p->want[p->cur].name, p->conflicts_in_row);
		return;
	}
	log_info("placement generation conflict, reading again provider=%s step=%s",
		 log_q(p->want[p->cur].name), step_names[p->step]);
	go(p, reread, p->cur);
}

/* What any step may be answered besides its own answer: the host changed under the sync, a
 * transport error, a 401 (a new token, once), a concurrent update; and the token step's own.
 * True when the answer was taken here. */
static bool answer_out_of_step(struct placement *p, enum step s, const struct client_response *r)
{
	char code[96] = "";

	if (p->dirty && s != ST_TOKEN) {
		/* the host changed: this sync's tree is out of date; start again with the new one
		 * (every write is idempotent and generation-checked, so stopping halfway is safe)
		 */
		p->step = ST_IDLE;
		start_sync(p);
		return true;
	}
	if (r->error) {
		if (s == ST_TOKEN)
			fail(p, "keystone at %s: %s", p->tokens_url, r->error);
		else
			fail(p, "placement at %s: %s", p->endpoint, r->error);
		return true;
	}
	if (s == ST_TOKEN) {
		got_token(p, r);
		return true;
	}
	if (r->status == 401) {
		if (p->reauthed) {
			unexpected(p, r);
			return true;
		}
		/* the token was revoked or expired early: a new one, once, then the same step */
		log_info("placement said 401, renewing the token step=%s", step_names[s]);
		p->reauthed = true;
		free(p->token);
		p->token = NULL;
		p->resume = s;
		p->step = ST_TOKEN;
		p->token_why = "401";
		issue(p);
		return true;
	}
	if (r->status == 409 && (s == ST_INV_PUT || s == ST_TRAITS_PUT || s == ST_RP_UPDATE)) {
		client_error_text(r, NULL, 0, code, sizeof(code));
		if (!strcmp(code, "placement.concurrent_update")) {
			conflict(p, s == ST_INV_PUT	 ? ST_INV_GET
				    : s == ST_TRAITS_PUT ? ST_TRAITS_GET
							 : ST_RP_GET);
			return true;
		}
	}
	return false;
}

/* The steps whose answer has no body to read: a provider looked up and not there, a stale
 * provider deleted, a trait created. True when the answer was taken here. */
static bool answer_without_body(struct placement *p, enum step s, const struct client_response *r)
{
	if (s == ST_RP_GET && r->status == 404) {
		go(p, ST_RP_CREATE, p->cur);
		return true;
	}
	if (s == ST_DELETE) {
		if (r->status == 204 || r->status == 404)
			log_info("placement stale provider deleted uuid=%s",
				 log_q(p->stale[p->cur]));
		else if (r->status == 409) /* its allocations still hold it */
			log_warn("placement stale provider kept, it has allocations uuid=%s",
				 log_q(p->stale[p->cur]));
		else {
			unexpected(p, r);
			return true;
		}
		if (p->cur + 1 < p->n_stale)
			go(p, ST_DELETE, p->cur + 1);
		else
			succeed(p);
		return true;
	}
	if (s == ST_TRAIT) {
		if (r->status != 201 && r->status != 204) {
			unexpected(p, r);
			return true;
		}
		if (p->cur + 1 < p->n_traits)
			go(p, ST_TRAIT, p->cur + 1);
		else
			go(p, ST_RP_GET, 0);
		return true;
	}
	return false;
}

/* A step's 200, its JSON object: the next step, from what it says. */
static void answer_with_body(struct placement *p, enum step s, json_t *root)
{
	switch (s) {
	case ST_COMPUTE:
		got_compute(p, root);
		break;
	case ST_RP_GET:
	case ST_RP_CREATE:
	case ST_RP_UPDATE:
		got_provider(p, root);
		break;
	case ST_INV_GET:
		if (!get_gen(p, root))
			break;
		if (inventory_matches(&p->want[p->cur], json_object_get(root, "inventories"))) {
			go(p, ST_TRAITS_GET, p->cur);
		} else {
			const struct placement_provider *w = &p->want[p->cur];

			log_info("placement inventory set provider=%s inventories=%zu %s "
				 "total=%" PRIu64 " reserved=%" PRIu64,
				 log_q(w->name), w->n_inv,
				 w->n_inv ? w->inv[0].resource_class : "none",
				 w->n_inv ? w->inv[0].total : 0, w->n_inv ? w->inv[0].reserved : 0);
			go(p, ST_INV_PUT, p->cur);
		}
		break;
	case ST_INV_PUT:
	case ST_TRAITS_PUT:
		if (get_gen(p, root))
			go(p, s == ST_INV_PUT ? ST_TRAITS_GET : ST_ALLOCS, p->cur);
		break;
	case ST_TRAITS_GET:
		if (!get_gen(p, root))
			break;
		if (traits_match(&p->want[p->cur], json_object_get(root, "traits"))) {
			go(p, ST_ALLOCS, p->cur);
		} else {
			log_info("placement traits set provider=%s", log_q(p->want[p->cur].name));
			go(p, ST_TRAITS_PUT, p->cur);
		}
		break;
	case ST_ALLOCS:
		add_rows(p, root);
		if (p->cur + 1 < p->n_want)
			go(p, ST_RP_GET, p->cur + 1);
		else
			go(p, ST_TREE, 0);
		break;
	case ST_TREE:
		got_tree(p, root);
		break;
	default:
		fail(p, "%s: unexpected answer", step_names[s]);
	}
}

static void on_answer(void *arg, const struct client_response *r)
{
	struct placement *p = arg;
	enum step s = p->step;
	json_t *root;

	if (answer_out_of_step(p, s, r) || answer_without_body(p, s, r))
		return;
	if (r->status != 200) {
		unexpected(p, r);
		return;
	}
	root = json_loadb(r->body, r->len, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		fail(p, "%s: the answer is not a JSON object", step_names[s]);
		return;
	}
	p->conflicts_in_row = s == ST_INV_PUT || s == ST_TRAITS_PUT ? 0 : p->conflicts_in_row;
	answer_with_body(p, s, root);
	json_decref(root);
}

/* ---- the outside ---- */

int placement_open(struct placement **out, struct loop *loop, const struct config *cfg, char *err,
		   size_t err_len)
{
	struct placement *p = calloc(1, sizeof(*p));
	struct client_opts opts = { NULL, 10000, 5000 };
	int rc;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->cfg = cfg;
	p->timer_fd = -1;
	rc = openrc_load(cfg->os_credentials, &p->creds, err, err_len);
	if (rc) {
		free(p);
		return rc;
	}
	snprintf(p->url_given, sizeof(p->url_given), "%s", cfg->placement_url);
	if (cfg->placement_host_name[0])
		snprintf(p->host_name, sizeof(p->host_name), "%s", cfg->placement_host_name);
	else if (gethostname(p->host_name, sizeof(p->host_name) - 1))
		snprintf(p->host_name, sizeof(p->host_name), "localhost");
	p->resync_ns = (uint64_t)cfg->placement_resync_s * 1000000000ull;
	p->tokens_url = keystone_tokens_url(&p->creds);
	p->auth_body = keystone_auth_body(&p->creds);
	if (p->creds.cacert[0])
		opts.ca_file = p->creds.cacert;
	if (!p->tokens_url || !p->auth_body) {
		placement_close(p);
		return -ENOMEM;
	}
	rc = client_open(&p->cl, loop, &opts);
	if (!rc) {
		p->timer_fd = loop_add_timer(loop, 1000000000u, on_timer, p);
		rc = p->timer_fd < 0 ? p->timer_fd : loop_timer_stop(p->timer_fd);
	}
	if (rc) {
		snprintf(err, err_len, "placement client not started: %s", strerror(-rc));
		placement_close(p);
		return rc;
	}
	srand48((long)loop_now_ns() ^ (long)getpid());
	snprintf(p->problem, sizeof(p->problem), "not synced with placement yet");
	p->st.problem = p->problem;
	log_info("placement reporting on host=%s keystone=%s resync_s=%u", log_q(p->host_name),
		 p->tokens_url, cfg->placement_resync_s);
	*out = p;
	return 0;
}

void placement_close(struct placement *p)
{
	if (!p)
		return;
	client_close(p->cl);
	if (p->timer_fd >= 0) {
		loop_del_fd(p->loop, p->timer_fd);
		close(p->timer_fd);
	}
	if (p->auth_body)
		memset(p->auth_body, 0, strlen(p->auth_body));
	free(p->auth_body);
	free(p->tokens_url);
	free(p->token);
	free(p->rows);
	free(p->allocs);
	memset(&p->creds, 0, sizeof(p->creds));
	free(p);
}

void placement_host(struct placement *p, const struct snapshot *h)
{
	uint64_t sig = host_sig(h);

	if (p->have_want && sig == p->want_sig)
		return;
	p->n_seen = h->n_uplinks < CONFIG_MAX_UPLINKS ? h->n_uplinks : CONFIG_MAX_UPLINKS;
	for (size_t u = 0; u < p->n_seen; u++)
		p->seen[u] = h->uplinks[u].cfg;
	p->seen_pps = h->host_capacity_pps;
	p->seen_ingress = h->holds_ingress;
	if (p->have_want)
		log_info("placement host changed, syncing uplinks=%zu host_pps=%" PRIu64,
			 h->n_uplinks, h->host_capacity_pps);
	p->have_want = true;
	p->want_sig = sig;
	p->dirty = true; /* the sync that starts next, or the one in progress at its next answer,
			    builds the tree again */
	p->st.in_sync = false;
	if (p->step == ST_IDLE) {
		p->fails_in_row = 0; /* a change is worth trying at once */
		schedule(p, 0);
	}
}

const struct placement_status *placement_status(const struct placement *p)
{
	return p ? &p->st : NULL;
}

void placement_vm(const struct placement_status *s, const struct snap_vm *vm,
		  struct placement_vm *out)
{
	const struct sla *sla = &vm->sla_in_force.dir[SLA_EGRESS];
	struct placement_alloc key;
	const struct placement_alloc *a;

	memset(out, 0, sizeof(*out));
	if (!s || !s->allocs_known || !vm->uuid[0])
		return;
	out->known = true;
	memcpy(key.consumer, vm->uuid, sizeof(key.consumer));
	a = s->n_allocs ? bsearch(&key, s->allocs, s->n_allocs, sizeof(*a), cmp_consumer) : NULL;
	if (a) {
		out->alloc_bps = a->kbps * 1000;
		out->alloc_pps = a->kpps * 1000;
	}
	out->mismatch = out->alloc_bps != sla->min_bps || out->alloc_pps != sla->min_pps;
}
