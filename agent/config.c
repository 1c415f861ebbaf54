/*
 * config: one table of options serves both the command line and the config file, so a key
 * is parsed and range-checked in exactly one place whichever way it arrives.
 *
 * The file format is the OpenBSD daemons' plain one: "key value" or "key = value" per line,
 * '#' starts a comment. A key may appear once; an unknown key is an error, not a warning.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovsdb.h"

const char config_usage[] =
	"usage: dbavmd [-c FILE] [--platform auto|xen|netns|sim]\n"
	"              [--enforcer netfront|netback|xen-credit|vif-police|none]\n"
	"              [--listen ADDR:PORT] [--listen-unix PATH [--api-group GROUP]]\n"
	"              [--period MS] [--state-dir DIR] [--token-file FILE]\n"
	"              [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
	"              [--mode work_conserving|strict] [--log-level error|warn|info|debug]\n"
	"              [--uplinks NAME:BPS[:PPS],...] [--host-pps N]\n"
	"              [--auth-reads] [--max-body-bytes N] [--max-connections N]\n"
	"              [--max-connections-per-address N] [--idle-timeout S]\n"
	"              [--request-timeout S] [--forget-absent-after S]\n"
	"              [--sample-every N] [--keep-rates]\n"
	"              [--xen-counters bpf|netdev|xenstat] [--ovsdb PATH|none]\n"
	"              [--floor-bps N] [--floor-pps N]\n"
	"              [--os-credentials FILE [--placement-url URL]\n"
	"               [--placement-host-name NAME] [--physnets UPLINK=NAME,...]\n"
	"               [--placement-reserved-kbps N] [--placement-reserved-kpps N]\n"
	"               [--placement-resync S] [--placement-packet-rate any|E:I]\n"
	"               [--neutron [--neutron-url URL] [--neutron-host NAME]\n"
	"                [--neutron-poll S] [--neutron-unmanaged PORT,...]]]\n"
	"       dbavmd --dev [--enforcer E] [--uplinks dbavm-up0:BPS] [--host-pps N] [...]\n"
	"       dbavmd --platform sim --scenario FILE [--ticks N --report json]\n"
	"       dbavmd --help | --version\n"
	"\n"
	"Every flag has a config-file key of the same name (\"period 100\"). See dbavmd(8).\n";

typedef int setter_fn(struct config *cfg, const char *val, char *why, size_t why_len);

struct option_def {
	const char *name;
	int has_arg;
	setter_fn *set;
};

static int why(char *buf, size_t len, const char *fmt, const char *val)
{
	snprintf(buf, len, fmt, val);
	return -EINVAL;
}

static int pick(const char *val, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(val, names[i]) == 0)
			return i;
	return -1;
}

static const char *const platform_names[] = { "auto", "xen", "netns", "sim" };
static const char *const enforcer_names[] = { "netfront", "netback", "xen-credit", "none",
					      "vif-police" };
static const char *const mode_names[] = { "work_conserving", "strict" };

const char *config_enforcer_name(enum enforcer_kind k)
{
	return enforcer_names[k];
}

const char *config_mode_name(enum alloc_mode m)
{
	return mode_names[m];
}

/* A whole decimal number in [lo, hi]; no sign, no trailing junk. */
static int parse_u64(const char *val, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!*val || *val < '0' || *val > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(val, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -EINVAL;
	*out = n;
	return 0;
}

static int copy_path(char *dst, size_t size, const char *val, char *w, size_t wl)
{
	if (!*val)
		return why(w, wl, "must not be empty%s", "");
	if (strlen(val) >= size)
		return why(w, wl, "path too long: '%s'", val);
	strcpy(dst, val);
	return 0;
}

static int set_config(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->config_file, sizeof(c->config_file), v, w, wl);
}

static int set_platform(struct config *c, const char *v, char *w, size_t wl)
{
	int k = pick(v, platform_names, 4);

	if (k < 0)
		return why(w, wl, "must be auto, xen, netns or sim, got '%s'", v);
	c->platform = (enum platform_kind)k;
	return 0;
}

static int set_enforcer(struct config *c, const char *v, char *w, size_t wl)
{
	int k = pick(v, enforcer_names, 5);

	if (k < 0)
		return why(w, wl,
			   "must be netfront, netback, xen-credit, vif-police or none, got '%s'",
			   v);
	c->enforcer = (enum enforcer_kind)k;
	c->enforcer_given = true;
	return 0;
}

static int set_listen(struct config *c, const char *v, char *w, size_t wl)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;
	size_t host_len;

	if (!colon || colon == v)
		return why(w, wl, "must be ADDR:PORT, got '%s'", v);
	host_len = (size_t)(colon - v);
	if (host_len >= sizeof(c->listen_addr))
		return why(w, wl, "address too long: '%s'", v);
	if (parse_u64(colon + 1, 1, 65535, &port))
		return why(w, wl, "port must be 1..65535, got '%s'", colon + 1);
	memcpy(c->listen_addr, v, host_len);
	c->listen_addr[host_len] = '\0';
	c->listen_port = (uint16_t)port;
	return 0;
}

static int set_period(struct config *c, const char *v, char *w, size_t wl)
{
	uint64_t ms;

	if (parse_u64(v, CONFIG_PERIOD_MS_MIN, CONFIG_PERIOD_MS_MAX, &ms))
		return why(w, wl,
			   "must be a whole number of milliseconds from 10 to 10000, got '%s'", v);
	c->period_ms = (uint32_t)ms;
	return 0;
}

static int set_state_dir(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->state_dir, sizeof(c->state_dir), v, w, wl);
}

static int set_listen_unix(struct config *c, const char *v, char *w, size_t wl)
{
	if (*v && *v != '/')
		return why(w, wl, "must be an absolute path, got '%s'", v);
	if (strlen(v) >= sizeof(c->listen_unix))
		return why(w, wl, "too long for a Unix socket (107 bytes at most): '%s'", v);
	strcpy(c->listen_unix, v); /* "": off */
	return 0;
}

static int set_api_group(struct config *c, const char *v, char *w, size_t wl)
{
	if (!*v || strlen(v) >= sizeof(c->api_group) || strpbrk(v, ": \t\n"))
		return why(w, wl, "must be a group's name or number, got '%s'", v);
	strcpy(c->api_group, v);
	return 0;
}

static int set_token_file(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->token_file, sizeof(c->token_file), v, w, wl);
}

static int set_tls_cert(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->tls_cert, sizeof(c->tls_cert), v, w, wl);
}

static int set_tls_key(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->tls_key, sizeof(c->tls_key), v, w, wl);
}

static int set_tls_client_ca(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->tls_client_ca, sizeof(c->tls_client_ca), v, w, wl);
}

static int set_mode(struct config *c, const char *v, char *w, size_t wl)
{
	int k = pick(v, mode_names, 2);

	if (k < 0)
		return why(w, wl, "must be work_conserving or strict, got '%s'", v);
	c->mode = (enum alloc_mode)k;
	return 0;
}

static int set_log_level(struct config *c, const char *v, char *w, size_t wl)
{
	if (log_level_parse(v, &c->log_level))
		return why(w, wl, "must be error, warn, info or debug, got '%s'", v);
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!v || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int set_dev(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_bool(v, &c->dev))
		return why(w, wl, "must be true or false, got '%s'", v);
	return 0;
}

/* "NAME:BPS[:PPS],..." */
static int set_uplinks(struct config *c, const char *v, char *w, size_t wl)
{
	char buf[1024], *save = NULL;

	if (strlen(v) >= sizeof(buf))
		return why(w, wl, "is too long: '%s'", v);
	strcpy(buf, v);
	c->n_uplinks = 0;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct config_uplink *u = &c->uplinks[c->n_uplinks];
		char *bps = strchr(item, ':'), *pps;

		if (c->n_uplinks == CONFIG_MAX_UPLINKS)
			return why(w, wl, "names more than 16 uplinks%s", "");
		if (!bps || bps == item || (size_t)(bps - item) >= sizeof(u->name))
			return why(w, wl,
				   "must be NAME:BPS[:PPS],... with names of 1 to 15 "
				   "characters, got '%s'",
				   item);
		*bps++ = '\0';
		pps = strchr(bps, ':');
		if (pps)
			*pps++ = '\0';
		if (parse_u64(bps, 0, SLA_BPS_MAX, &u->capacity_bps) ||
		    (pps && parse_u64(pps, 0, SLA_PPS_MAX, &u->capacity_pps)))
			return why(w, wl,
				   "capacities must be whole numbers (bit/s, packet/s) in '%s'",
				   item);
		if (!pps)
			u->capacity_pps = 0;
		strcpy(u->name, item);
		for (size_t k = 0; k < c->n_uplinks; k++)
			if (!strcmp(c->uplinks[k].name, u->name))
				return why(w, wl, "names uplink '%s' twice", u->name);
		c->n_uplinks++;
	}
	if (!c->n_uplinks)
		return why(w, wl, "names no uplink%s", "");
	return 0;
}

static int set_host_pps(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_u64(v, 0, SLA_PPS_MAX, &c->host_pps))
		return why(w, wl, "must be a whole number of packets per second, got '%s'", v);
	return 0;
}

static int set_floor_bps(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_u64(v, 0, SLA_BPS_MAX, &c->floor_bps))
		return why(w, wl,
			   "must be a whole number of bits per second (0: no floor), got '%s'", v);
	return 0;
}

static int set_floor_pps(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_u64(v, 0, SLA_PPS_MAX, &c->floor_pps))
		return why(w, wl,
			   "must be a whole number of packets per second (0: no floor), got '%s'",
			   v);
	return 0;
}

static int set_sample_every(struct config *c, const char *v, char *w, size_t wl)
{
	uint64_t n;

	if (parse_u64(v, 0, 65536, &n) || (n & (n - 1)))
		return why(w, wl, "must be 0 (off) or a power of two up to 65536, got '%s'", v);
	c->sample_every = (uint32_t)n;
	return 0;
}

static int set_keep_rates(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_bool(v, &c->keep_rates))
		return why(w, wl, "must be true or false, got '%s'", v);
	return 0;
}

static int set_xen_counters(struct config *c, const char *v, char *w, size_t wl)
{
	static const char *const names[] = { "bpf", "netdev", "xenstat" };
	int k = pick(v, names, 3);

	if (k < 0)
		return why(w, wl, "must be bpf, netdev or xenstat, got '%s'", v);
	c->xen_counters = (enum xen_counters)k;
	return 0;
}

static int set_auth_reads(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_bool(v, &c->auth_reads))
		return why(w, wl, "must be true or false, got '%s'", v);
	return 0;
}

static int set_max_body_bytes(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_u64(v, 256, 16u << 20, &c->max_body_bytes))
		return why(w, wl, "must be a whole number of bytes from 256 to 16777216, got '%s'",
			   v);
	return 0;
}

/* A whole number from lo to hi (unit: "" or " of seconds", for the message) into *out. */
static int set_u32(uint32_t *out, const char *v, uint32_t lo, uint32_t hi, const char *unit,
		   char *w, size_t wl)
{
	uint64_t n;

	if (parse_u64(v, lo, hi, &n)) {
		snprintf(w, wl, "must be a whole number%s from %u to %u, got '%s'", unit, lo, hi,
			 v);
		return -EINVAL;
	}
	*out = (uint32_t)n;
	return 0;
}

static int set_max_connections(struct config *c, const char *v, char *w, size_t wl)
{
	return set_u32(&c->max_connections, v, 1, 10000, "", w, wl);
}

static int set_max_connections_per_address(struct config *c, const char *v, char *w, size_t wl)
{
	return set_u32(&c->max_connections_per_address, v, 1, 10000, "", w, wl);
}

static int set_request_timeout(struct config *c, const char *v, char *w, size_t wl)
{
	return set_u32(&c->request_timeout_s, v, 1, 3600, " of seconds", w, wl);
}

static int set_forget_absent_after(struct config *c, const char *v, char *w, size_t wl)
{
	return set_u32(&c->forget_absent_after_s, v, 0, 10 * 365 * 86400u, " of seconds", w, wl);
}

static int set_idle_timeout(struct config *c, const char *v, char *w, size_t wl)
{
	return set_u32(&c->idle_timeout_s, v, 1, 3600, " of seconds", w, wl);
}

static int set_ovsdb(struct config *c, const char *v, char *w, size_t wl)
{
	if (!strcmp(v, "none")) {
		c->ovsdb[0] = '\0';
		return 0;
	}
	if (v[0] != '/')
		return why(w, wl, "a Unix socket's absolute path, or none: '%s'", v);
	return copy_path(c->ovsdb, sizeof(c->ovsdb), v, w, wl);
}

static int set_os_credentials(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->os_credentials, sizeof(c->os_credentials), v, w, wl);
}

static int set_url(char *out, size_t size, const char *v, char *w, size_t wl)
{
	if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
		return why(w, wl, "must be an http:// or https:// URL, got '%s'", v);
	if (strlen(v) >= size || strpbrk(v, " \t\r\n?#"))
		return why(w, wl, "must be a URL without blanks, query or fragment, got '%s'", v);
	strcpy(out, v);
	return 0;
}

static int set_placement_url(struct config *c, const char *v, char *w, size_t wl)
{
	return set_url(c->placement_url, sizeof(c->placement_url), v, w, wl);
}

static int set_neutron_url(struct config *c, const char *v, char *w, size_t wl)
{
	return set_url(c->neutron_url, sizeof(c->neutron_url), v, w, wl);
}

static int set_host_name(char *out, size_t size, const char *v, char *w, size_t wl)
{
	if (!*v || strlen(v) >= size || strpbrk(v, " \t\r\n:/?&#%"))
		return why(w, wl,
			   "must be a host name of 1 to 255 characters without blanks or any of "
			   ":/?&#%%, got '%s'",
			   v);
	strcpy(out, v);
	return 0;
}

static int set_placement_host_name(struct config *c, const char *v, char *w, size_t wl)
{
	return set_host_name(c->placement_host_name, sizeof(c->placement_host_name), v, w, wl);
}

static int set_neutron_host(struct config *c, const char *v, char *w, size_t wl)
{
	return set_host_name(c->neutron_host, sizeof(c->neutron_host), v, w, wl);
}

static int set_neutron(struct config *c, const char *v, char *w, size_t wl)
{
	(void)v, (void)w, (void)wl;
	c->neutron = true;
	return 0;
}

/* A comma list of Neutron port ids (UUIDs) or MAC addresses, kept lowercase. */
static int set_neutron_unmanaged(struct config *c, const char *v, char *w, size_t wl)
{
	char buf[CONFIG_MAX_UNMANAGED * 38], *save = NULL;

	if (strlen(v) >= sizeof(buf))
		return why(w, wl, "is too long (at most 64 ports)%s", "");
	strcpy(buf, v);
	c->n_neutron_unmanaged = 0;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(item);
		bool ok = n == 36 || n == 17;

		for (size_t i = 0; ok && i < n; i++) {
			bool sep = n == 36 ? (i == 8 || i == 13 || i == 18 || i == 23) : i % 3 == 2;

			ok = sep ? item[i] == (n == 36 ? '-' : ':')
				 : isxdigit((unsigned char)item[i]);
			item[i] = (char)tolower((unsigned char)item[i]);
		}
		if (!ok)
			return why(w, wl,
				   "names ports by Neutron's port id (a UUID) or MAC address "
				   "(aa:bb:cc:dd:ee:ff), got '%s'",
				   item);
		if (c->n_neutron_unmanaged == CONFIG_MAX_UNMANAGED)
			return why(w, wl, "names more than 64 ports%s", "");
		strcpy(c->neutron_unmanaged[c->n_neutron_unmanaged++], item);
	}
	return 0;
}

static int set_neutron_poll(struct config *c, const char *v, char *w, size_t wl)
{
	return set_u32(&c->neutron_poll_s, v, 1, 3600, " of seconds", w, wl);
}

static int set_physnets(struct config *c, const char *v, char *w, size_t wl)
{
	char buf[2048], *save = NULL;

	if (strlen(v) >= sizeof(buf))
		return why(w, wl, "is too long: '%s'", v);
	strcpy(buf, v);
	c->n_physnets = 0;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct config_physnet *pn = &c->physnets[c->n_physnets];
		char *eq = strchr(item, '=');

		if (c->n_physnets == CONFIG_MAX_UPLINKS)
			return why(w, wl, "names more than 16 uplinks%s", "");
		if (!eq || eq == item || (size_t)(eq - item) >= sizeof(pn->uplink) || !eq[1] ||
		    strlen(eq + 1) >= sizeof(pn->physnet))
			return why(w, wl,
				   "must be UPLINK=PHYSNET,... (uplink 1 to 15 characters, "
				   "physical network 1 to 63), got '%s'",
				   item);
		*eq = '\0';
		strcpy(pn->uplink, item);
		strcpy(pn->physnet, eq + 1);
		for (size_t k = 0; k < c->n_physnets; k++)
			if (!strcmp(c->physnets[k].uplink, pn->uplink))
				return why(w, wl, "names uplink '%s' twice", pn->uplink);
		c->n_physnets++;
	}
	if (!c->n_physnets)
		return why(w, wl, "names no uplink%s", "");
	return 0;
}

static int set_placement_reserved_kbps(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_u64(v, 0, SLA_BPS_MAX / 1000, &c->placement_reserved_kbps))
		return why(w, wl, "must be a whole number of kbit/s, got '%s'", v);
	return 0;
}

static int set_placement_reserved_kpps(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_u64(v, 0, SLA_PPS_MAX / 1000, &c->placement_reserved_kpps))
		return why(w, wl, "must be a whole number of kpacket/s, got '%s'", v);
	return 0;
}

static int set_placement_packet_rate(struct config *c, const char *v, char *w, size_t wl)
{
	char a[32], b[32];

	c->placement_pps_directions = strcmp(v, "any") != 0;
	if (!c->placement_pps_directions)
		return 0;
	if (sscanf(v, "%31[0-9]:%31[0-9]", a, b) != 2 || strlen(a) + strlen(b) + 1 != strlen(v) ||
	    parse_u64(a, 0, SLA_PPS_MAX / 1000, &c->placement_egress_kpps) ||
	    parse_u64(b, 0, SLA_PPS_MAX / 1000, &c->placement_ingress_kpps))
		return why(w, wl,
			   "must be any, or EGRESS:INGRESS in kpacket/s (whole numbers), got "
			   "'%s'",
			   v);
	return 0;
}

static int set_placement_resync(struct config *c, const char *v, char *w, size_t wl)
{
	return set_u32(&c->placement_resync_s, v, 1, 86400, " of seconds", w, wl);
}

static int set_scenario(struct config *c, const char *v, char *w, size_t wl)
{
	return copy_path(c->scenario, sizeof(c->scenario), v, w, wl);
}

static int set_ticks(struct config *c, const char *v, char *w, size_t wl)
{
	if (parse_u64(v, 1, 100000000, &c->ticks))
		return why(w, wl, "must be a whole number from 1 to 100000000, got '%s'", v);
	return 0;
}

static int set_report(struct config *c, const char *v, char *w, size_t wl)
{
	if (strcmp(v, "json") != 0)
		return why(w, wl, "the only report format is json, got '%s'", v);
	c->report_json = true;
	return 0;
}

static int set_help(struct config *c, const char *v, char *w, size_t wl)
{
	(void)v, (void)w, (void)wl;
	c->help = true;
	return 0;
}

static int set_version(struct config *c, const char *v, char *w, size_t wl)
{
	(void)v, (void)w, (void)wl;
	c->version = true;
	return 0;
}

/* has_arg 2: optional on the command line (--dev), a value in the file (dev true). */
static const struct option_def defs[] = {
	{ "config", 1, set_config },
	{ "platform", 1, set_platform },
	{ "enforcer", 1, set_enforcer },
	{ "listen", 1, set_listen },
	{ "period", 1, set_period },
	{ "state-dir", 1, set_state_dir },
	{ "token-file", 1, set_token_file },
	{ "tls-cert", 1, set_tls_cert },
	{ "tls-key", 1, set_tls_key },
	{ "tls-client-ca", 1, set_tls_client_ca },
	{ "mode", 1, set_mode },
	{ "log-level", 1, set_log_level },
	{ "dev", 2, set_dev },
	{ "uplinks", 1, set_uplinks },
	{ "host-pps", 1, set_host_pps },
	{ "floor-bps", 1, set_floor_bps },
	{ "floor-pps", 1, set_floor_pps },
	{ "auth-reads", 2, set_auth_reads },
	{ "keep-rates", 2, set_keep_rates },
	{ "xen-counters", 1, set_xen_counters },
	{ "max-body-bytes", 1, set_max_body_bytes },
	{ "max-connections", 1, set_max_connections },
	{ "max-connections-per-address", 1, set_max_connections_per_address },
	{ "idle-timeout", 1, set_idle_timeout },
	{ "request-timeout", 1, set_request_timeout },
	{ "forget-absent-after", 1, set_forget_absent_after },
	{ "listen-unix", 1, set_listen_unix },
	{ "api-group", 1, set_api_group },
	{ "sample-every", 1, set_sample_every },
	{ "os-credentials", 1, set_os_credentials },
	{ "ovsdb", 1, set_ovsdb },
	{ "placement-url", 1, set_placement_url },
	{ "placement-host-name", 1, set_placement_host_name },
	{ "physnets", 1, set_physnets },
	{ "placement-reserved-kbps", 1, set_placement_reserved_kbps },
	{ "placement-reserved-kpps", 1, set_placement_reserved_kpps },
	{ "placement-resync", 1, set_placement_resync },
	{ "placement-packet-rate", 1, set_placement_packet_rate },
	{ "neutron", 0, set_neutron },
	{ "neutron-url", 1, set_neutron_url },
	{ "neutron-host", 1, set_neutron_host },
	{ "neutron-poll", 1, set_neutron_poll },
	{ "neutron-unmanaged", 1, set_neutron_unmanaged },
	{ "scenario", 1, set_scenario },
	{ "ticks", 1, set_ticks },
	{ "report", 1, set_report },
	{ "help", 0, set_help },
	{ "version", 0, set_version },
};
#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->platform = PLATFORM_AUTO;
	cfg->enforcer = ENFORCER_NETFRONT;
	strcpy(cfg->listen_addr, "127.0.0.1");
	strcpy(cfg->api_group, "dbavm");
	cfg->listen_port = 8470;
	cfg->period_ms = 100;
	snprintf(cfg->ovsdb, sizeof(cfg->ovsdb), "%s", OVSDB_DEFAULT_SOCKET);
	strcpy(cfg->state_dir, "/var/lib/dbavm");
	cfg->mode = ALLOC_WORK_CONSERVING;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->max_body_bytes = 65536;
	cfg->max_connections = 64;
	cfg->max_connections_per_address = 16;
	cfg->idle_timeout_s = 30;
	cfg->request_timeout_s = 10;
	cfg->forget_absent_after_s = 86400;
	cfg->sample_every = 64;
	cfg->floor_bps = 100000;
	cfg->floor_pps = 10;
	cfg->placement_resync_s = 60;
	cfg->neutron_poll_s = 2;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int config_load_stream(struct config *cfg, FILE *f, const char *path, char *err, size_t err_len)
{
	char line[PATH_MAX + 64], w[PATH_MAX + 128];
	bool seen[N_DEFS] = { false };
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *key, *val, *hash = strchr(line, '#');
		size_t k;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, err_len, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		if (hash)
			*hash = '\0';
		key = trim(line);
		if (!*key)
			continue;
		val = key + strcspn(key, " \t=");
		if (*val) {
			*val++ = '\0';
			val = trim(val);
			if (*val == '=')
				val = trim(val + 1);
		}
		for (k = 0; k < N_DEFS; k++)
			if (!strcmp(defs[k].name, key))
				break;
		if (k == N_DEFS || defs[k].has_arg == 0 || defs[k].set == set_config) {
			snprintf(err, err_len, "%s:%d: unknown key '%s'", path, lineno, key);
			goto fail;
		}
		if (seen[k]) {
			snprintf(err, err_len, "%s:%d: %s is set twice", path, lineno, key);
			goto fail;
		}
		seen[k] = true;
		if (!*val) {
			snprintf(err, err_len, "%s:%d: %s needs a value", path, lineno, key);
			goto fail;
		}
		if (defs[k].set(cfg, val, w, sizeof(w))) {
			snprintf(err, err_len, "%s:%d: %s %s", path, lineno, key, w);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, err_len, "%s: read error", path);
		return -EINVAL;
	}
	return 0;
fail:
	return -EINVAL;
}

static int load_file(struct config *cfg, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -EINVAL;
	}
	rc = config_load_stream(cfg, f, path, err, err_len);
	fclose(f);
	return rc;
}

/* Rules that tie flags together; checked once everything is in. */
static int check_combination(const struct config *cfg, char *err, size_t err_len)
{
	const char *msg = NULL;

	if (cfg->dev && cfg->platform != PLATFORM_AUTO && cfg->platform != PLATFORM_NETNS)
		msg = "--dev builds a netns testbed; it goes with --platform netns (or auto)";
	else if (cfg->dev && cfg->n_uplinks &&
		 (cfg->n_uplinks > 1 || strcmp(cfg->uplinks[0].name, "dbavm-up0")))
		msg = "--dev has one uplink, dbavm-up0: --uplinks may only give its capacity";
	else if (cfg->platform == PLATFORM_SIM && !cfg->scenario[0])
		msg = "--platform sim needs --scenario FILE";
	else if (cfg->scenario[0] && cfg->platform != PLATFORM_SIM)
		msg = "--scenario goes with --platform sim";
	else if (cfg->ticks && cfg->platform != PLATFORM_SIM)
		msg = "--ticks goes with --platform sim";
	else if (cfg->report_json && !cfg->ticks)
		msg = "--report goes with --ticks";
	else if (cfg->platform == PLATFORM_SIM && (cfg->n_uplinks || cfg->host_pps))
		msg = "--uplinks and --host-pps are for real hosts; the sim's come from its "
		      "scenario";
	else if (!cfg->tls_cert[0] != !cfg->tls_key[0])
		msg = "--tls-cert and --tls-key go together";
	else if (cfg->tls_client_ca[0] && !cfg->tls_cert[0])
		msg = "--tls-client-ca goes with --tls-cert and --tls-key";
	else if (cfg->max_connections_per_address > cfg->max_connections)
		msg = "--max-connections-per-address is more than --max-connections";
	else if (!cfg->os_credentials[0] &&
		 (cfg->placement_url[0] || cfg->placement_host_name[0] || cfg->n_physnets ||
		  cfg->placement_reserved_kbps || cfg->placement_reserved_kpps ||
		  cfg->placement_pps_directions || cfg->placement_resync_s != 60))
		msg = "--placement-* and --physnets go with --os-credentials FILE";
	else if (!cfg->neutron && (cfg->neutron_url[0] || cfg->neutron_host[0] ||
				   cfg->neutron_poll_s != 2 || cfg->n_neutron_unmanaged))
		msg = "--neutron-url, --neutron-host, --neutron-poll and --neutron-unmanaged go "
		      "with --neutron";
	else if (cfg->neutron && !cfg->os_credentials[0])
		msg = "--neutron reads Neutron with --os-credentials FILE's identity";
	else if (cfg->os_credentials[0] && cfg->ticks)
		msg = "--os-credentials reports a running host; not with --ticks";
	else if (cfg->platform == PLATFORM_SIM &&
		 (cfg->enforcer == ENFORCER_XEN_CREDIT || cfg->enforcer == ENFORCER_VIF_POLICE))
		msg = "the sim models netfront, netback and none; not xen-credit or vif-police";
	if (!msg)
		return 0;
	snprintf(err, err_len, "%s", msg);
	return -EINVAL;
}

const char *config_restart_key_changed(const struct config *a, const struct config *b)
{
#define SAME_STR(f, key)                                                                           \
	if (strcmp(a->f, b->f))                                                                    \
		return key;
#define SAME(f, key)                                                                               \
	if (a->f != b->f)                                                                          \
		return key;
	SAME(platform, "platform");
	SAME(enforcer, "enforcer");
	SAME(enforcer_given, "enforcer");
	SAME_STR(listen_addr, "listen");
	SAME_STR(listen_unix, "listen-unix");
	SAME_STR(api_group, "api-group");
	SAME(listen_port, "listen");
	SAME(period_ms, "period");
	SAME_STR(state_dir, "state-dir");
	SAME(n_uplinks, "uplinks");
	for (size_t i = 0; i < a->n_uplinks; i++) {
		SAME_STR(uplinks[i].name, "uplinks");
		SAME(uplinks[i].capacity_bps, "uplinks");
		SAME(uplinks[i].capacity_pps, "uplinks");
	}
	SAME(host_pps, "host-pps");
	SAME(keep_rates, "keep-rates");
	SAME(xen_counters, "xen-counters");
	SAME(max_body_bytes, "max-body-bytes");
	SAME(max_connections, "max-connections");
	SAME(max_connections_per_address, "max-connections-per-address");
	SAME(idle_timeout_s, "idle-timeout");
	SAME(request_timeout_s, "request-timeout");
	SAME(sample_every, "sample-every");
	SAME_STR(os_credentials, "os-credentials");
	SAME_STR(ovsdb, "ovsdb");
	SAME_STR(placement_url, "placement-url");
	SAME_STR(placement_host_name, "placement-host-name");
	SAME(n_physnets, "physnets");
	for (size_t i = 0; i < a->n_physnets; i++) {
		SAME_STR(physnets[i].uplink, "physnets");
		SAME_STR(physnets[i].physnet, "physnets");
	}
	SAME(placement_reserved_kbps, "placement-reserved-kbps");
	SAME(placement_reserved_kpps, "placement-reserved-kpps");
	SAME(placement_resync_s, "placement-resync");
	SAME(placement_pps_directions, "placement-packet-rate");
	SAME(placement_egress_kpps, "placement-packet-rate");
	SAME(placement_ingress_kpps, "placement-packet-rate");
	SAME(neutron, "neutron");
	SAME_STR(neutron_url, "neutron-url");
	SAME_STR(neutron_host, "neutron-host");
	SAME(neutron_poll_s, "neutron-poll");
	SAME(dev, "dev");
	SAME_STR(scenario, "scenario");
	SAME(ticks, "ticks");
	SAME(report_json, "report");
	/* on and off: a server opened with or without TLS stays so */
	if (!a->tls_cert[0] != !b->tls_cert[0])
		return "tls-cert";
	if (!a->tls_client_ca[0] != !b->tls_client_ca[0])
		return "tls-client-ca";
#undef SAME
#undef SAME_STR
	return NULL;
}

int config_parse(struct config *cfg, int argc, char **argv, char *err, size_t err_len)
{
	struct option longopts[N_DEFS + 1];
	char w[PATH_MAX + 128];
	int opt, idx;

	config_defaults(cfg);
	memset(longopts, 0, sizeof(longopts));
	for (size_t k = 0; k < N_DEFS; k++)
		longopts[k] = (struct option){ defs[k].name, defs[k].has_arg, NULL, (int)k + 256 };
	/* Pass 1: find -c, load the file. Pass 2: flags override the file. */
	for (int pass = 0; pass < 2; pass++) {
		optind = 0;
		opterr = 0;
		while ((opt = getopt_long(argc, argv, ":c:", longopts, &idx)) != -1) {
			const struct option_def *d;

			if (opt == '?' || opt == ':') {
				if (optopt >= 256)
					snprintf(err, err_len, "--%s %s", defs[optopt - 256].name,
						 opt == ':' ? "needs a value" : "takes no value");
				else if (optopt)
					snprintf(err, err_len, "unknown option -%c", optopt);
				else
					snprintf(err, err_len, "unknown option %s",
						 argv[optind - 1]);
				return -EINVAL;
			}
			d = opt == 'c' ? &defs[0] : &defs[opt - 256];
			if ((pass == 0) != (d->set == set_config))
				continue;
			if (d->set(cfg, optarg, w, sizeof(w))) {
				snprintf(err, err_len, "--%s: %s", d->name, w);
				return -EINVAL;
			}
		}
		if (optind < argc) {
			snprintf(err, err_len, "unexpected argument '%s'", argv[optind]);
			return -EINVAL;
		}
		if (pass == 0 && cfg->config_file[0] &&
		    load_file(cfg, cfg->config_file, err, err_len))
			return -EINVAL;
	}
	if (cfg->help || cfg->version)
		return 0;
	return check_combination(cfg, err, err_len);
}
