/*
 * dbavmctl: the agent's API for a person at the host. `sla get|set|rm`, `vms`, `host` and a
 * live `top`. Where the agent is, its token and whether it speaks HTTPS come from the
 * agent's own configuration file (read with the agent's parser), so on an installed host
 * every command works with no flag at all.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "sla.h"
#include "text.h"
#include "units.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/dbavm/dbavmd.conf"
#define DEFAULT_TOKEN "/etc/dbavm/token"
#define DEFAULT_SOCKET "/run/dbavm/api.sock"

static const char usage[] =
	"usage: dbavmctl [-c|--config FILE] [--socket PATH | --url URL] [--token-file FILE]\n"
	"                [--cacert FILE] [--cert FILE --key FILE] [--json] COMMAND\n"
	"       dbavmctl --help | --version\n"
	"commands:\n"
	"  sla get VM\n"
	"  sla set VM [--ingress] [--priority 0-7] [--weight N] [--min RATE] [--max "
	"RATE|unlimited]\n"
	"             [--min-pps RATE] [--max-pps RATE|unlimited]\n"
	"  sla rm VM\n"
	"  port get|set|rm PORT ...  the same for a port's own SLA (PORT: its vif or MAC)\n"
	"  vms\n"
	"  ports\n"
	"  host\n"
	"  top [-d SECONDS] [-n FRAMES] [-b]\n"
	"RATE: a number, then k, M, G or T (10^3 .. 10^12): 150M, 1.5G, 20k\n";

/* ---- the connection ---- */

volatile sig_atomic_t ctl_stop;

struct buf {
	char *data;
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	if (size * n > CTL_ANSWER_MAX - b->len) { /* the agent's size is not trusted */
		b->too_big = true;
		return 0;
	}
	if (b->len + size * n + 1 > b->cap) { /* doubling: a large answer is not copied per chunk */
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + size * n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, size * n);
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

/* libcurl asks at least once a second, and whenever data moves: a signal ends the transfer. */
static int on_progress(void *arg, curl_off_t dlt, curl_off_t dl, curl_off_t ult, curl_off_t ul)
{
	(void)arg, (void)dlt, (void)dl, (void)ult, (void)ul;
	return ctl_stop ? 1 : 0;
}

/* curl's socket, opened here so that trusted_peer knows it. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct ctl *c = arg;

	(void)purpose;
	c->sock_fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	return c->sock_fd < 0 ? CURL_SOCKET_BAD : c->sock_fd;
}

/*
 * Who answers on the agent's Unix socket, once curl is connected and before a byte is sent:
 * the kernel's word for the process that listens (SO_PEERCRED), which must be root's or our
 * own user's. Anyone who could replace the socket (in a directory they can write) would
 * otherwise answer for the agent, and be told the SLAs we set.
 */
static int trusted_peer(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct ctl *c = arg;
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	(void)ip, (void)local_ip, (void)port, (void)local_port;
	/* (curl 7.88 has no CURLINFO_ACTIVESOCKET yet here: the socket is the one it opened) */
	if (c->sock_fd < 0 || getsockopt(c->sock_fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		snprintf(c->peer_why, sizeof c->peer_why, "who answers cannot be known: %s",
			 c->sock_fd < 0 ? "no socket" : strerror(errno));
		return CURL_PREREQFUNC_ABORT;
	}
	if (cred.uid != 0 && cred.uid != getuid()) {
		snprintf(c->peer_why, sizeof c->peer_why,
			 "it is answered by uid %u (pid %d), neither root nor you",
			 (unsigned)cred.uid, (int)cred.pid);
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* c->err says why, and stderr too unless quiet; returns rc. */
static int call_failed(struct ctl *c, int rc)
{
	if (!c->quiet)
		fprintf(stderr, "dbavmctl: %s\n", c->err);
	return rc;
}

int ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, long *status,
	     json_t **answer)
{
	json_error_t jerr;
	CURL *h = c->curl;
	struct curl_slist *hdr = NULL;
	struct buf b = { 0 };
	char url[1024], auth[600], err[CURL_ERROR_SIZE] = "", clean[CURL_ERROR_SIZE];
	char *text = NULL;

	*answer = NULL;
	c->peer_why[0] = '\0';
	/* over the agent's local socket the kernel tells it who we are: no token needed, and
	 * none is sent (whoever answers there could take it to the TCP API); the kernel tells
	 * us who answers too (trusted_peer) */
	snprintf(url, sizeof url, "%s%s", c->socket[0] ? "http://localhost" : c->url, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket[0] ? c->socket : NULL);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, c->socket[0] ? open_socket : NULL);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, c->socket[0] ? trusted_peer : NULL);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, c);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"); /* not file://, not others */
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CTL_ANSWER_MAX);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (c->cacert[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->cert[0])
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	if (c->key[0])
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	if (c->have_token && !c->socket[0]) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
		hdr = curl_slist_append(hdr, auth);
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	} else {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL); /* err is this call's */
	curl_slist_free_all(hdr);
	free(text);
	if (rc != CURLE_OK) {
		free(b.data);
		if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
			snprintf(c->err, sizeof c->err,
				 "%s %s: the agent's answer is larger than %u MiB; not read",
				 method, path, CTL_ANSWER_MAX >> 20);
			return call_failed(c, CTL_BAD_ANSWER);
		}
		/* curl's text may quote the peer */
		text_printable(clean, sizeof clean,
			       rc == CURLE_ABORTED_BY_CALLBACK ? "interrupted"
			       : err[0]			       ? err
							       : curl_easy_strerror(rc));
		if (c->peer_why[0])
			snprintf(c->err, sizeof c->err,
				 "not the agent at unix:%s: %s; nothing sent", c->socket,
				 c->peer_why);
		else
			snprintf(c->err, sizeof c->err, "cannot reach the agent at %s%s: %s",
				 c->socket[0] ? "unix:" : "", c->socket[0] ? c->socket : c->url,
				 clean);
		return call_failed(c, CTL_UNREACHABLE);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (b.len)
		*answer = json_loadb(b.data, b.len, 0, &jerr);
	free(b.data);
	if (b.len && !*answer && *status >= 200 && *status < 300) {
		char why[160];
		snprintf(c->err, sizeof c->err, "%s %s: the agent's answer is not JSON (%s)",
			 method, path, text_printable(why, sizeof why, jerr.text));
		return call_failed(c, CTL_BAD_ANSWER);
	}
	return 0;
}

const char *ctl_refusal(const struct ctl *c, const char *what, long status, json_t *answer, char *b,
			size_t len)
{
	const char *msg = json_string_value(json_object_get(answer, "error"));
	char clean[512];
	int n = snprintf(b, len, "%s: %ld %s", what, status,
			 msg ? text_printable(clean, sizeof clean, msg) : "(no message)");
	if (status == 401 && !c->have_token && n >= 0 && (size_t)n < len)
		snprintf(b + n, len - (size_t)n, "\nthe agent wants its token, and %s",
			 c->token_why);
	return b;
}

int ctl_refused(const struct ctl *c, const char *what, long status, json_t *answer)
{
	char b[sizeof c->err];
	ctl_refusal(c, what, status, answer, b, sizeof b);
	for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n"))
		fprintf(stderr, "dbavmctl: %s\n", line);
	return CTL_REFUSED;
}

int ctl_expect(struct ctl *c, const char *what, json_t *answer, const char *array_member)
{
	if (json_is_object(answer) &&
	    (!array_member || json_is_array(json_object_get(answer, array_member))))
		return 0;
	snprintf(c->err, sizeof c->err, "%s: the agent's answer is not the API's (%s%s%s)", what,
		 array_member ? "an object with an array \"" : "a JSON object",
		 array_member ? array_member : "", array_member ? "\"" : "");
	return call_failed(c, CTL_BAD_ANSWER);
}

const char *ctl_str(json_t *o, const char *key)
{
	static char ring[8][256];
	static unsigned next;
	const char *v = json_string_value(json_object_get(o, key));

	return v ? text_printable(ring[next++ % 8], sizeof ring[0], v) : "?";
}

double ctl_num(json_t *o, const char *path, double def)
{
	char part[64];
	const char *p = path;
	while (o && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof part)
			return def;
		memcpy(part, p, n);
		part[n] = '\0';
		o = json_object_get(o, part);
		p += n + (p[n] == '.');
	}
	return json_is_number(o) ? json_number_value(o) : def;
}

/* GET path into *answer, an object (with an array member, if named); a status other than 200
 * is said and returned as CTL_REFUSED, another answer as CTL_BAD_ANSWER. */
static int get(struct ctl *c, const char *what, const char *path, const char *array_member,
	       json_t **answer)
{
	long status = 0;
	int rc = ctl_call(c, "GET", path, NULL, &status, answer);
	if (rc)
		return rc;
	rc = status != 200 ? ctl_refused(c, what, status, *answer)
			   : ctl_expect(c, what, *answer, array_member);
	if (rc) {
		json_decref(*answer);
		*answer = NULL;
	}
	return rc;
}

static void vm_path(const struct ctl *c, char *out, size_t len, const char *vm, const char *tail)
{
	char *esc = curl_easy_escape(c->curl, vm, 0);
	snprintf(out, len, "/%s/%s%s", c->port ? "ports" : "vms", esc ? esc : "", tail);
	curl_free(esc);
}

static void print_json(json_t *j)
{
	/* \uXXXX for all but ASCII: a C1 control in a name cannot reach the terminal */
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	putchar('\n');
}

/* ---- sla ---- */

/* Exact: 150M, 1.5G, 123456789; "-" for unlimited. */
static const char *exact(char *b, size_t len, json_t *v)
{
	if (!json_is_integer(v)) {
		snprintf(b, len, "-");
		return b;
	}
	uint64_t x = (uint64_t)json_integer_value(v);
	static const char prefix[] = " kMGT";
	int i = 0;
	uint64_t scale = 1;
	while (i < 4 && x >= scale * 1000)
		scale *= 1000, i++;
	if (i == 0) {
		snprintf(b, len, "%" PRIu64, x);
		return b;
	}
	/* x / scale with as many decimals as it takes, trailing zeros dropped */
	char frac[24];
	snprintf(frac, sizeof frac, "%0*" PRIu64, 3 * i, x % scale);
	for (size_t n = strlen(frac); n && frac[n - 1] == '0';)
		frac[--n] = '\0';
	snprintf(b, len, "%" PRIu64 "%s%s%c", x / scale, frac[0] ? "." : "", frac, prefix[i]);
	return b;
}

/* One side of an SLA, a row. */
static void print_side(const char *name, json_t *side)
{
	char a[32], b[32], d[32], e[32];

	printf("%-20s %8d %6d %10s %10s %10s %10s\n", name, (int)ctl_num(side, "priority", -1),
	       (int)ctl_num(side, "weight", -1),
	       exact(a, sizeof a, json_object_get(json_object_get(side, "bandwidth"), "min_bps")),
	       exact(b, sizeof b, json_object_get(json_object_get(side, "bandwidth"), "max_bps")),
	       exact(d, sizeof d, json_object_get(json_object_get(side, "packet_rate"), "min_pps")),
	       exact(e, sizeof e,
		     json_object_get(json_object_get(side, "packet_rate"), "max_pps")));
}

/* The SLA: what the VM sends on its row, what it receives (where set) on the next. */
static void print_sla(const struct ctl *c, const char *vm, json_t *sla)
{
	json_t *in = json_object_get(sla, "ingress");

	printf("%-20s %8s %6s %10s %10s %10s %10s\n", c->port ? "PORT" : "VM", "PRIORITY", "WEIGHT",
	       "MIN", "MAX", "MIN-PPS", "MAX-PPS");
	json_t *src = json_object_get(sla, "source");

	print_side(vm, sla);
	if (json_is_object(in))
		print_side("  receiving", in);
	printf("(MIN and MAX in bit/s, PPS in packets/s; - is unlimited; priority 0 is served "
	       "first; a row is what the VM sends, \"receiving\" what it receives)\n");
	if (json_is_object(src))
		printf("set by %s: QoS policy %s, revision %.0f, for its port %s (change it "
		       "there)\n",
		       ctl_str(src, "from"), ctl_str(src, "policy_id"),
		       ctl_num(src, "policy_revision", -1), ctl_str(src, "port_id"));
}

static int sla_get(struct ctl *c, const char *vm)
{
	char path[1024];
	json_t *sla;
	vm_path(c, path, sizeof path, vm, "/sla");
	int rc = get(c, vm, path, NULL, &sla);
	if (rc)
		return rc;
	if (c->json)
		print_json(sla);
	else
		print_sla(c, vm, sla);
	json_decref(sla);
	return CTL_OK;
}

/* A rate flag into sla[group][key]; "unlimited" (a maximum only) is null. */
static int set_rate(json_t *sla, const char *group, const char *key, const char *flag,
		    const char *val, enum rate_kind kind, bool may_be_unlimited)
{
	char err[256];
	uint64_t v;
	json_t *g = json_object_get(sla, group);
	if (may_be_unlimited && !strcmp(val, "unlimited"))
		return json_object_set_new(g, key, json_null()), 0;
	if (units_parse(val, kind, kind == RATE_BPS ? SLA_BPS_MAX : SLA_PPS_MAX, &v, err,
			sizeof err)) {
		fprintf(stderr, "dbavmctl: %s: %s\n", flag, err);
		return CTL_USAGE;
	}
	json_object_set_new(g, key, json_integer((json_int_t)v));
	return 0;
}

static int set_int(json_t *sla, const char *key, const char *flag, const char *val, long lo,
		   long hi)
{
	char *end;
	errno = 0;
	long v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < lo || v > hi) {
		fprintf(stderr, "dbavmctl: %s must be a whole number from %ld to %ld, got '%s'\n",
			flag, lo, hi, val);
		return CTL_USAGE;
	}
	json_object_set_new(sla, key, json_integer(v));
	return 0;
}

/* The VM's SLA with the flags applied over it: what it was, or the default, changed only
 * where a flag says so. */
/* sla set's flags as an edit of an SLA ({"bandwidth": {...}, "packet_rate": {...}} and
 * priority, weight), said wrong before anything is asked of the agent. 0 or CTL_USAGE (said);
 * *edit is the caller's in every case. */
static int sla_flags(const char *vm, int argc, char **argv, json_t **edit_out)
{
	static const struct option opts[] = { { "ingress", no_argument, NULL, 'i' },
					      { "priority", required_argument, NULL, 'p' },
					      { "weight", required_argument, NULL, 'w' },
					      { "min", required_argument, NULL, 'm' },
					      { "max", required_argument, NULL, 'M' },
					      { "min-pps", required_argument, NULL, 'q' },
					      { "max-pps", required_argument, NULL, 'Q' },
					      { NULL, 0, NULL, 0 } };
	json_t *edit = json_pack("{s:{},s:{}}", "bandwidth", "packet_rate");
	int rc = 0, o;

	*edit_out = edit;
	if (!edit) {
		fprintf(stderr, "dbavmctl: sla set: out of memory\n");
		return CTL_USAGE;
	}
	optind = 0; /* glibc: start again, at argv[1] */
	opterr = 0; /* argv[0] is the VM here: the complaint is ours */
	while ((o = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (o) {
		case 'i': /* the other flags are of what the VM receives */
			json_object_set_new(edit, "ingress", json_true());
			break;
		case 'p':
			rc = set_int(edit, "priority", "--priority", optarg, 0, SLA_PRIORITY_MAX);
			break;
		case 'w':
			rc = set_int(edit, "weight", "--weight", optarg, 1, SLA_WEIGHT_MAX);
			break;
		case 'm':
			rc = set_rate(edit, "bandwidth", "min_bps", "--min", optarg, RATE_BPS,
				      false);
			break;
		case 'M':
			rc = set_rate(edit, "bandwidth", "max_bps", "--max", optarg, RATE_BPS,
				      true);
			break;
		case 'q':
			rc = set_rate(edit, "packet_rate", "min_pps", "--min-pps", optarg, RATE_PPS,
				      false);
			break;
		case 'Q':
			rc = set_rate(edit, "packet_rate", "max_pps", "--max-pps", optarg, RATE_PPS,
				      true);
			break;
		default: /* '?' an unknown option, ':' one without its value */
			fprintf(stderr, "dbavmctl: sla set: %s '%s'\n%s",
				o == ':' ? "a value must follow" : "no such option",
				argv[optind - 1], usage);
			rc = CTL_USAGE;
		}
		if (rc)
			return rc;
	}
	if (optind != argc) {
		fprintf(stderr, "dbavmctl: sla set: unexpected '%s'\n%s", argv[optind], usage);
		return CTL_USAGE;
	}
	if (json_object_size(edit) == 2 + !!json_object_get(edit, "ingress") &&
	    !json_object_size(json_object_get(edit, "bandwidth")) &&
	    !json_object_size(json_object_get(edit, "packet_rate"))) {
		fprintf(stderr,
			"dbavmctl: sla set %s: nothing to set (--priority, --weight, --min, "
			"--max, --min-pps, --max-pps)\n",
			vm);
		return CTL_USAGE;
	}
	return 0;
}

/* The edit over the SLA in force: over what the VM sends, or with --ingress what it receives
 * (from the default when that side was not set). */
static void sla_edit(json_t *sla, const json_t *edit)
{
	if (json_object_get(edit, "ingress")) {
		json_t *in = json_object_get(sla, "ingress");

		if (!json_is_object(in)) {
			in = json_pack("{s:i,s:i,s:{s:i,s:n},s:{s:i,s:n}}", "priority",
				       SLA_PRIORITY_MAX, "weight", 1, "bandwidth", "min_bps", 0,
				       "max_bps", "packet_rate", "min_pps", 0, "max_pps");
			json_object_set_new(sla, "ingress", in);
		}
		sla = in;
	}
	json_object_update(json_object_get(sla, "bandwidth"), json_object_get(edit, "bandwidth"));
	json_object_update(json_object_get(sla, "packet_rate"),
			   json_object_get(edit, "packet_rate"));
	if (json_object_get(edit, "priority"))
		json_object_set(sla, "priority", json_object_get(edit, "priority"));
	if (json_object_get(edit, "weight"))
		json_object_set(sla, "weight", json_object_get(edit, "weight"));
}

static int sla_set(struct ctl *c, const char *vm, int argc, char **argv)
{
	char path[1024];
	long status = 0;
	json_t *edit = NULL, *sla = NULL, *answer = NULL;
	int rc = sla_flags(vm, argc, argv, &edit);

	if (rc)
		goto out;
	vm_path(c, path, sizeof path, vm, "/sla");
	rc = ctl_call(c, "GET", path, NULL, &status, &sla);
	if (rc)
		goto out;
	if (status == 404) { /* none yet: the agent's default, SLA_DEFAULT */
		json_decref(sla);
		sla = json_pack("{s:i,s:i,s:{s:i,s:n},s:{s:i,s:n}}", "priority", SLA_PRIORITY_MAX,
				"weight", 1, "bandwidth", "min_bps", 0, "max_bps", "packet_rate",
				"min_pps", 0, "max_pps");
	} else if (status != 200 || !json_is_object(sla)) {
		rc = ctl_refused(c, vm, status, sla);
		goto out;
	}
	sla_edit(sla, edit);
	rc = ctl_call(c, "PUT", path, sla, &status, &answer);
	if (rc)
		goto out;
	if (status != 200 && status != 201) {
		rc = ctl_refused(c, vm, status, answer);
		goto out;
	}
	if (c->json) {
		print_json(answer);
	} else {
		printf("%s: SLA %s\n", vm, status == 201 ? "set" : "replaced");
		print_sla(c, vm, answer);
	}
out:
	json_decref(edit);
	json_decref(sla);
	json_decref(answer);
	return rc;
}

static int sla_rm(struct ctl *c, const char *vm)
{
	char path[1024];
	long status = 0;
	json_t *answer = NULL;
	vm_path(c, path, sizeof path, vm, "/sla");
	int rc = ctl_call(c, "DELETE", path, NULL, &status, &answer);
	if (!rc && status != 204)
		rc = ctl_refused(c, vm, status, answer);
	else if (!rc && c->port)
		printf("%s: the port's SLA removed; its VM's SLA covers it\n", vm);
	else if (!rc)
		printf("%s: SLA removed; the default applies (priority 7, no guarantee, no "
		       "maximum)\n",
		       vm);
	json_decref(answer);
	return rc;
}

/* ---- vms, host ---- */

const char *ctl_rate(char *b, size_t len, json_t *o, const char *path)
{
	double v = ctl_num(o, path, -1);
	if (v < 0)
		snprintf(b, len, "-");
	else
		units_format(b, len, v);
	return b;
}

const char *ctl_seconds(char *b, size_t len, json_t *o, const char *path)
{
	double v = ctl_num(o, path, -1);
	if (v < 0)
		snprintf(b, len, "-");
	else if (v < 1e-3)
		snprintf(b, len, "%.0fus", v * 1e6);
	else if (v < 1)
		snprintf(b, len, "%.1fms", v * 1e3);
	else
		snprintf(b, len, "%.2fs", v);
	return b;
}

static int vms(struct ctl *c)
{
	json_t *all, *vm;
	size_t i;
	int rc = get(c, "vms", "/vms", "vms", &all);
	if (rc)
		return rc;
	if (c->json) {
		print_json(all);
		json_decref(all);
		return CTL_OK;
	}
	printf("%-20s %4s %8s %8s %8s %8s %8s %8s %7s %8s %8s %8s %8s\n", "VM", "PRIO", "MIN",
	       "MAX", "MAX-PPS", "OFFERED", "SENT", "SENT-PPS", "DROP%", "P99", "JITTER",
	       "RECEIVED", "IN-P99");
	json_array_foreach(json_object_get(all, "vms"), i, vm) {
		char a[16], b[16], d[16], e[16], f[16], g[16], h[16], k[16], r[16], q[16];
		double off = ctl_num(vm, "offered.pps", 0), drop = ctl_num(vm, "dropped.pps", 0);
		if (!json_is_true(json_object_get(vm, "present"))) {
			printf("%-20s %4d %8s %8s %8s  (not on this host; the SLA waits for it)\n",
			       ctl_str(vm, "id"), (int)ctl_num(vm, "sla.priority", -1),
			       ctl_rate(a, sizeof a, vm, "sla.bandwidth.min_bps"),
			       ctl_rate(b, sizeof b, vm, "sla.bandwidth.max_bps"),
			       ctl_rate(d, sizeof d, vm, "sla.packet_rate.max_pps"));
			continue;
		}
		/* what it received: n/a where the enforcer does not hold that direction */
		if (json_is_object(json_object_get(vm, "ingress"))) {
			ctl_rate(r, sizeof r, vm, "ingress.passed.bps");
			ctl_seconds(q, sizeof q, vm, "ingress.delay.period.p99_s");
		} else {
			snprintf(r, sizeof r, "n/a");
			snprintf(q, sizeof q, "n/a");
		}
		printf("%-20s %4d %8s %8s %8s %8s %8s %8s %7.1f %8s %8s %8s %8s\n",
		       ctl_str(vm, "id"), (int)ctl_num(vm, "sla.priority", -1),
		       ctl_rate(a, sizeof a, vm, "sla.bandwidth.min_bps"),
		       ctl_rate(b, sizeof b, vm, "sla.bandwidth.max_bps"),
		       ctl_rate(d, sizeof d, vm, "sla.packet_rate.max_pps"),
		       ctl_rate(e, sizeof e, vm, "offered.bps"),
		       ctl_rate(f, sizeof f, vm, "passed.bps"),
		       ctl_rate(g, sizeof g, vm, "passed.pps"), off > 0 ? 100 * drop / off : 0.0,
		       ctl_seconds(h, sizeof h, vm, "delay.period.p99_s"),
		       ctl_seconds(k, sizeof k, vm, "jitter_s"), r, q);
	}
	printf("(bit/s, and packets/s where it says PPS; over the last period; the SLA's figures "
	       "are of what the VM sends; P99 and IN-P99 its delay each way)\n");
	json_decref(all);
	return CTL_OK;
}

/* Where a port's SLA comes from: "port" (its own), "neutron" (its own, as Neutron says), "vm",
 * "default". */
static const char *sla_from(json_t *p)
{
	json_t *src = json_object_get(json_object_get(p, "sla"), "source");

	return json_is_object(src) ? ctl_str(src, "from") : ctl_str(p, "sla_from");
}

/* Every port (vif) and where its SLA comes from. */
static int ports(struct ctl *c)
{
	json_t *all, *p;
	size_t i;
	int rc = get(c, "ports", "/ports", "ports", &all);
	if (rc)
		return rc;
	if (c->json) {
		print_json(all);
		json_decref(all);
		return CTL_OK;
	}
	printf("%-20s %-20s %-15s %-7s %4s %8s %8s %8s %8s\n", "PORT", "VM", "VIF", "SLA", "PRIO",
	       "MAX", "LIMIT", "SENT", "RECEIVED");
	json_array_foreach(json_object_get(all, "ports"), i, p) {
		char a[16], b[16], d[16], r[16];
		if (!json_is_true(json_object_get(p, "present"))) {
			printf("%-20s %-20s %-15s %-7s %4d %8s  (not on this host; the SLA waits "
			       "for "
			       "it)\n",
			       ctl_str(p, "port"), "-", "-", sla_from(p),
			       (int)ctl_num(p, "sla.priority", -1),
			       ctl_rate(a, sizeof a, p, "sla.bandwidth.max_bps"));
			continue;
		}
		if (json_is_object(json_object_get(json_object_get(p, "vif"), "ingress")))
			ctl_rate(r, sizeof r, p, "vif.ingress.passed.bps");
		else
			snprintf(r, sizeof r, "n/a");
		printf("%-20s %-20s %-15s %-7s %4d %8s %8s %8s %8s\n", ctl_str(p, "port"),
		       ctl_str(p, "vm"), ctl_str(json_object_get(p, "vif"), "id"), sla_from(p),
		       (int)ctl_num(p, "sla.priority", -1),
		       ctl_rate(a, sizeof a, p, "sla.bandwidth.max_bps"),
		       ctl_rate(b, sizeof b, p, "vif.limit.bps"),
		       ctl_rate(d, sizeof d, p, "vif.passed.bps"), r);
	}
	printf("(bit/s over the last period; SLA: the port's own, Neutron's for the port, its "
	       "VM's, or the default)\n");
	json_decref(all);
	return CTL_OK;
}

/* GET /host's "neutron", when the agent follows it: how it goes, and the refused ports. */
static void host_neutron(json_t *n)
{
	json_t *p;
	size_t i, k[3] = { 0 };

	if (!json_is_object(n))
		return;
	json_array_foreach(json_object_get(n, "ports"), i, p) {
		const char *st = ctl_str(p, "state");

		k[!strcmp(st, "in_force") ? 0 : !strcmp(st, "refused") ? 1 : 2]++;
	}
	printf("\nneutron: host %s at %s: %zu ports, %zu under their policy, %zu refused, %zu "
	       "without one; %.0f polls, %.0f failed\n",
	       ctl_str(n, "host"), ctl_str(n, "endpoint"), k[0] + k[1] + k[2], k[0], k[1], k[2],
	       ctl_num(n, "polls", 0), ctl_num(n, "failures", 0));
	if (json_is_string(json_object_get(n, "problem")))
		printf("  NOT FOLLOWED now (the SLAs in force stay): %s\n", ctl_str(n, "problem"));
	json_array_foreach(json_object_get(n, "ports"), i, p)
		if (!strcmp(ctl_str(p, "state"), "refused"))
			printf("  refused: port %s (%s): %s\n", ctl_str(p, "port_id"),
			       ctl_str(p, "mac"), ctl_str(p, "why"));
}

static int host(struct ctl *c)
{
	json_t *h, *u;
	size_t i;
	char a[16], b[16], d[16];
	int rc = get(c, "host", "/host", NULL, &h);
	if (rc)
		return rc;
	if (c->json) {
		print_json(h);
		json_decref(h);
		return CTL_OK;
	}
	printf("platform %s, enforcer %s, mode %s, period %d ms, %.0f periods, %.0f overruns\n",
	       ctl_str(h, "platform"), ctl_str(h, "enforcer"), ctl_str(h, "mode"),
	       (int)ctl_num(h, "period_ms", 0), ctl_num(h, "tick", 0), ctl_num(h, "overruns", 0));
	printf("packet budget %s: %s pps guaranteed, %s allocated%s\n",
	       json_is_integer(json_object_get(h, "capacity_pps"))
		       ? ctl_rate(a, sizeof a, h, "capacity_pps")
		       : "unlimited",
	       ctl_rate(b, sizeof b, h, "committed_pps"), ctl_rate(d, sizeof d, h, "allocated_pps"),
	       json_is_true(json_object_get(h, "overcommitted_pps")) ? "  OVER-COMMITTED" : "");
	printf("every vif's floor: %s bit/s, %s pps\n", ctl_rate(a, sizeof a, h, "floor.bps"),
	       ctl_rate(b, sizeof b, h, "floor.pps"));
	printf("\n%-16s %5s %10s %10s %10s  %s\n", "UPLINK", "VIFS", "CAPACITY", "GUARANTEED",
	       "ALLOCATED", "");
	json_array_foreach(json_object_get(h, "uplinks"), i, u) {
		printf("%-16s %5d %10s %10s %10s  %s\n", ctl_str(u, "name"),
		       (int)ctl_num(u, "vifs", 0), ctl_rate(a, sizeof a, u, "capacity_bps"),
		       ctl_rate(b, sizeof b, u, "committed_bps"),
		       ctl_rate(d, sizeof d, u, "allocated_bps"),
		       json_is_true(json_object_get(u, "overcommitted_bps")) ? "OVER-COMMITTED"
									     : "");
		if (json_is_object(json_object_get(u, "ingress")))
			printf("%-16s %5d %10s %10s %10s  %s\n", "  receiving",
			       (int)ctl_num(u, "ingress.vifs", 0),
			       ctl_rate(a, sizeof a, u, "ingress.capacity_bps"),
			       ctl_rate(b, sizeof b, u, "ingress.committed_bps"),
			       ctl_rate(d, sizeof d, u, "ingress.allocated_bps"),
			       json_is_true(json_object_get(json_object_get(u, "ingress"),
							    "overcommitted_bps"))
				       ? "OVER-COMMITTED"
				       : "");
	}
	printf("(bit/s; - is unlimited)\n");
	json_array_foreach(json_object_get(h, "refused_vms"), i, u)
		printf("%s  %s  (%s)\n", i ? "" : "\nVMs left out for their names, not limited:\n",
		       ctl_str(u, "name"), ctl_str(u, "why"));
	host_neutron(json_object_get(h, "neutron"));
	json_decref(h);
	return CTL_OK;
}

/* ---- where the agent is ---- */

static void read_token(struct ctl *c)
{
	FILE *f = fopen(c->token_file, "r");
	if (!f) {
		snprintf(c->token_why, sizeof c->token_why, "%s cannot be read: %s", c->token_file,
			 strerror(errno));
		return;
	}
	if (fgets(c->token, sizeof c->token, f)) {
		c->token[strcspn(c->token, "\r\n")] = '\0';
		c->have_token = c->token[0] != '\0';
	}
	fclose(f);
	if (!c->have_token)
		snprintf(c->token_why, sizeof c->token_why, "%s is empty", c->token_file);
}

/* The agent's configuration file, read by the agent's own parser: its address, whether it
 * speaks HTTPS (then its certificate is what we trust), its token file. */
static int from_config(struct ctl *c, const char *path, bool required)
{
	struct config cfg;
	char err[PATH_MAX + 256];
	config_defaults(&cfg);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!required && errno == ENOENT)
			goto done;
		fprintf(stderr, "dbavmctl: %s: %s\n", path, strerror(errno));
		return required ? CTL_USAGE : 0;
	}
	int rc = config_load_stream(&cfg, f, path, err, sizeof err);
	fclose(f);
	if (rc) {
		fprintf(stderr, "dbavmctl: %s\n", err);
		return CTL_USAGE;
	}
done:;
	/* The local socket, when it is there and nothing named a URL: the agent's own, or the
	 * package's. */
	const char *sock = cfg.listen_unix[0] ? cfg.listen_unix : DEFAULT_SOCKET;
	struct stat sb;
	if (!c->url[0] && !c->socket[0] && !stat(sock, &sb) && S_ISSOCK(sb.st_mode))
		snprintf(c->socket, sizeof c->socket, "%s", sock);
	const char *a = cfg.listen_addr;
	if (!strcmp(a, "0.0.0.0") || !a[0])
		a = "127.0.0.1";
	else if (!strcmp(a, "[::]") || !strcmp(a, "::"))
		a = "[::1]";
	if (!c->url[0])
		snprintf(c->url, sizeof c->url, "%s://%s:%u", cfg.tls_cert[0] ? "https" : "http", a,
			 cfg.listen_port);
	if (!c->cacert[0] && cfg.tls_cert[0])
		snprintf(c->cacert, sizeof c->cacert, "%s", cfg.tls_cert);
	if (!c->token_file[0])
		snprintf(c->token_file, sizeof c->token_file, "%s",
			 cfg.token_file[0] ? cfg.token_file : DEFAULT_TOKEN);
	return 0;
}

static void copy_opt(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v);
}

/* The options before the command, into *c and *config; -1 to go on, else the exit code
 * (--help, --version, a bad option). */
static int global_flags(struct ctl *c, int argc, char **argv, const char **config)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "url", required_argument, NULL, 'u' },
					      { "socket", required_argument, NULL, 'S' },
					      { "token-file", required_argument, NULL, 't' },
					      { "cacert", required_argument, NULL, 'A' },
					      { "cert", required_argument, NULL, 'C' },
					      { "key", required_argument, NULL, 'K' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { NULL, 0, NULL, 0 } };
	int o;

	while ((o = getopt_long(argc, argv, "+c:u:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			*config = optarg;
			break;
		case 'u':
			copy_opt(c->url, sizeof c->url, optarg);
			break;
		case 'S':
			copy_opt(c->socket, sizeof c->socket, optarg);
			break;
		case 't':
			copy_opt(c->token_file, sizeof c->token_file, optarg);
			break;
		case 'A':
			copy_opt(c->cacert, sizeof c->cacert, optarg);
			break;
		case 'C':
			copy_opt(c->cert, sizeof c->cert, optarg);
			break;
		case 'K':
			copy_opt(c->key, sizeof c->key, optarg);
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CTL_OK;
		case 'V':
			printf("dbavmctl %s\n", DBAVM_VERSION);
			return CTL_OK;
		default:
			fputs(usage, stderr);
			return CTL_USAGE;
		}
	}
	return -1;
}

/* Where the agent is and how to speak to it: the options, else the environment, else the
 * configuration file. 0 or the exit code (said). */
static int settle(struct ctl *c, const char *config)
{
	int rc;

	if (!c->url[0] && !c->socket[0] && getenv("DBAVM_SOCKET"))
		copy_opt(c->socket, sizeof c->socket, getenv("DBAVM_SOCKET"));
	if (!c->url[0] && !c->socket[0] && getenv("DBAVM_URL"))
		copy_opt(c->url, sizeof c->url, getenv("DBAVM_URL"));
	if (!c->token_file[0] && getenv("DBAVM_TOKEN_FILE"))
		copy_opt(c->token_file, sizeof c->token_file, getenv("DBAVM_TOKEN_FILE"));
	if ((rc = from_config(c, config ? config : DEFAULT_CONFIG, config != NULL)))
		return rc;
	c->url[strcspn(c->url, "\n")] = '\0';
	for (size_t n = strlen(c->url); n && c->url[n - 1] == '/';)
		c->url[--n] = '\0';
	if (!!c->cert[0] != !!c->key[0]) {
		fprintf(stderr, "dbavmctl: --cert and --key go together\n");
		return CTL_USAGE;
	}
	read_token(c);
	return 0;
}

/* A command dbavmctl has, with its arguments; said if not. */
static bool is_command(int nargs, char **args)
{
	const char *cmd = args[0], *sub = nargs > 1 ? args[1] : "";

	bool ok = (!strcmp(cmd, "vms") || !strcmp(cmd, "host") || !strcmp(cmd, "ports"))
			  ? nargs == 1
		  : !strcmp(cmd, "sla") || !strcmp(cmd, "port")
			  ? (nargs == 3 && (!strcmp(sub, "get") || !strcmp(sub, "rm"))) ||
				    (nargs >= 3 && !strcmp(sub, "set"))
			  : !strcmp(cmd, "top");
	if (!ok)
		fprintf(stderr, "dbavmctl: '%s%s%s' is not a command\n%s", cmd,
			nargs > 1 ? " " : "", nargs > 1 ? sub : "", usage);
	return ok;
}

int main(int argc, char **argv)
{
	struct ctl c = { .sock_fd = -1 };
	const char *config = NULL;
	int rc = global_flags(&c, argc, argv, &config);

	if (rc >= 0)
		return rc;
	if (optind == argc) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	if ((rc = settle(&c, config)))
		return rc;

	char **args = argv + optind;
	int nargs = argc - optind;
	const char *cmd = args[0], *sub = nargs > 1 ? args[1] : "";

	if (!is_command(nargs, args))
		return CTL_USAGE;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c.curl = curl_easy_init();
	if (!c.curl) {
		fprintf(stderr, "dbavmctl: out of memory\n");
		return CTL_UNREACHABLE;
	}
	c.port = !strcmp(cmd, "port");
	if (!strcmp(cmd, "vms"))
		rc = vms(&c);
	else if (!strcmp(cmd, "ports"))
		rc = ports(&c);
	else if (!strcmp(cmd, "host"))
		rc = host(&c);
	else if (!strcmp(cmd, "top"))
		rc = ctl_top(&c, nargs, args);
	else if (!strcmp(sub, "get"))
		rc = sla_get(&c, args[2]);
	else if (!strcmp(sub, "rm"))
		rc = sla_rm(&c, args[2]);
	else
		rc = sla_set(&c, args[2], nargs - 2, args + 2);
	curl_easy_cleanup(c.curl);
	curl_global_cleanup();
	return rc;
}
