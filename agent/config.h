/*
 * config: the command line of dbavmd(8) and the config file that mirrors it. Every
 * flag has a file key of the same name; defaults < file < flags. Errors are one line saying
 * what and where (the flag, or file:line).
 */
#ifndef DBAVM_CONFIG_H
#define DBAVM_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "enforcer.h" /* enum enforcer_kind */
#include "log.h"
#include "xen_counters.h"

enum platform_kind { PLATFORM_AUTO, PLATFORM_XEN, PLATFORM_NETNS, PLATFORM_SIM };

#define CONFIG_MAX_UNMANAGED 64 /* --neutron-unmanaged's ports */
#define CONFIG_MAX_UPLINKS 16

struct config_uplink {
	char name[16];	       /* IFNAMSIZ */
	uint64_t capacity_bps; /* 0: unlimited */
	uint64_t capacity_pps; /* 0: the host's packet budget */
};

struct config_physnet {
	char uplink[16];  /* IFNAMSIZ */
	char physnet[64]; /* Neutron's physical network name */
};

#define CONFIG_PERIOD_MS_MIN 10u
#define CONFIG_PERIOD_MS_MAX 10000u

struct config {
	char config_file[PATH_MAX];
	enum platform_kind platform;
	enum enforcer_kind enforcer;
	bool enforcer_given; /* not: the platform's own (netfront; xen-credit on xen) */
	char listen_addr[64];
	char listen_unix[108]; /* the API on a Unix socket too; "": not */
	char api_group[64];    /* may change SLAs over it, besides root: a name or a gid */
	uint16_t listen_port;
	uint32_t period_ms;
	char state_dir[PATH_MAX];
	char token_file[PATH_MAX];
	char tls_cert[PATH_MAX], tls_key[PATH_MAX]; /* HTTPS only, when set */
	char tls_client_ca[PATH_MAX];		    /* client certificates required, when set */
	enum alloc_mode mode;
	enum log_level log_level;
	struct config_uplink uplinks[CONFIG_MAX_UPLINKS];
	size_t n_uplinks;
	uint64_t host_pps;		/* the host's packet budget, 0: unlimited */
	uint64_t floor_bps, floor_pps;	/* every vif's least guarantee, 0: none */
	bool auth_reads;		/* GETs need the token too */
	bool keep_rates;		/* xen-credit: leave the rate nodes in place on exit */
	enum xen_counters xen_counters; /* xen: where the vifs' counters come from */
	/* ovsdb-server's Unix socket, for the orchestrator's port ids (ovsdb.h); "": none */
	char ovsdb[108];
	uint64_t max_body_bytes;
	uint32_t max_connections;
	uint32_t max_connections_per_address;
	uint32_t idle_timeout_s;	/* an HTTP connection silent this long is closed */
	uint32_t request_timeout_s;	/* a request's headers and body must be in by then */
	uint32_t forget_absent_after_s; /* an SLA whose VM is absent this long is dropped; 0: never
					 */
	uint32_t sample_every; /* delay sampling: 1 packet in this many (a power of 2), 0: off */
	/* OpenStack Placement (placement.h): off without os_credentials */
	char os_credentials[PATH_MAX];
	char placement_url[512];
	char placement_host_name[256];
	struct config_physnet physnets[CONFIG_MAX_UPLINKS];
	size_t n_physnets;
	uint64_t placement_reserved_kbps, placement_reserved_kpps;
	/* --placement-packet-rate: direction-less (false), or these kpps each way */
	bool placement_pps_directions;
	uint64_t placement_egress_kpps, placement_ingress_kpps;
	uint32_t placement_resync_s;
	/* Following Neutron's QoS policies (neutron_follow.h): off without neutron */
	bool neutron;
	char neutron_url[512];
	char neutron_host[256]; /* binding:host_id; "": --placement-host-name, else the host's */
	uint32_t neutron_poll_s;
	/* ports whose SLA stays the API's (Neutron port ids or MACs, lowercase) */
	char neutron_unmanaged[CONFIG_MAX_UNMANAGED][37];
	size_t n_neutron_unmanaged;
	bool dev;
	char scenario[PATH_MAX];
	uint64_t ticks; /* 0: run in real time */
	bool report_json;
	bool help, version;
};

void config_defaults(struct config *cfg);
/* Applies a config file's lines, read from f (named path in messages), over *cfg. 0, or
 * -EINVAL with err saying which line and why. */
int config_load_stream(struct config *cfg, FILE *f, const char *path, char *err, size_t err_len);

/*
 * Fills cfg from argv (and the file named by -c). Returns 0, or -EINVAL with a one-line
 * message in err.
 */
int config_parse(struct config *cfg, int argc, char **argv, char *err, size_t err_len);

/* What a reload (SIGHUP) cannot change in a running agent: the name of the first such key
 * whose value differs between a and b, or NULL. The others (log-level, token-file, auth-reads,
 * tls-cert, tls-key, tls-client-ca, mode, floor-bps, floor-pps) take effect at once. */
const char *config_restart_key_changed(const struct config *a, const struct config *b);

const char *config_enforcer_name(enum enforcer_kind k);
const char *config_mode_name(enum alloc_mode m);

/* The --help text. */
extern const char config_usage[];

#endif
