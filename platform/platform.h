/*
 * platform: discovery of VMs and their vifs. A platform answers "what is on this host now"
 * with a scan, and says when the answer may have changed: through fds it registers with the
 * agent's loop (a xenstore watch, netlink link events, an inotify watch), or, for the sim,
 * by its clock.
 */
#ifndef DBAVM_PLATFORM_H
#define DBAVM_PLATFORM_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLATFORM_ID_MAX 64
#define PLATFORM_UUID_LEN 37
#define PLATFORM_MAC_LEN 18 /* "aa:bb:cc:dd:ee:ff" and its NUL */

struct platform_vif {
	char id[PLATFORM_ID_MAX];    /* "vif<domid>.<devid>", or the host ifname */
	char host_ifname[IFNAMSIZ];  /* netback / host end of the veth */
	char guest_ifname[IFNAMSIZ]; /* netfront / guest end */
	char uplink[IFNAMSIZ];
	/* netns only: where the guest end is, for an enforcer that hooks it there. */
	char guest_netns[96];	/* path of the VM's namespace (/run/netns/NAME) */
	uint64_t netns_cookie;	/* its SO_NETNS_COOKIE */
	uint32_t guest_ifindex; /* the guest end's ifindex in that namespace */
	uint32_t host_ifindex;	/* the host end's ifindex in the driver domain */
	/* The guest's MAC address on it, lowercase with colons (what a port is known by across
	 * restarts and migrations: Xen's backend `mac` node, the guest end's address); "": not
	 * known. */
	char mac[PLATFORM_MAC_LEN];
	/* The orchestrator's id for the port (Neutron's port UUID): Open vSwitch's
	 * external_ids:iface-id on its host end (ovsdb.h), a scenario vif's port_id; "": none. */
	char port_id[PLATFORM_ID_MAX];
};

struct platform_vm {
	char id[PLATFORM_ID_MAX];     /* name, stable across restarts */
	char uuid[PLATFORM_UUID_LEN]; /* "" when the platform has none */
	int64_t domid;		      /* -1 when the platform has none */
	struct platform_vif *vifs;
	size_t n_vifs;
};

struct platform_uplink {
	char name[IFNAMSIZ];
	uint64_t capacity_bps; /* 0: unlimited */
	uint64_t capacity_pps; /* 0: draws on the host's packet budget */
};

/* A VM the platform shows but the agent cannot take by its name: the name (text_escape'd, so
 * it can be logged and shown as it is) and why. */
struct platform_refusal {
	char name[PLATFORM_ID_MAX * 4];
	const char *why; /* static text */
};

struct platform_scan {
	struct platform_uplink *uplinks;
	size_t n_uplinks;
	uint64_t host_capacity_pps; /* 0: unlimited */
	struct platform_vm *vms;
	size_t n_vms;
	struct platform_refusal *refused; /* left out of vms, whatever else they have */
	size_t n_refused;
};

/* The host as configured (uplinks, packet budget): kept by a platform, copied into each scan. */
struct platform_host {
	struct platform_uplink *uplinks;
	size_t n_uplinks;
	uint64_t host_capacity_pps; /* 0: unlimited */
};

/* dst becomes a copy of src. 0 or -ENOMEM. */
int platform_host_copy(struct platform_host *dst, const struct platform_host *src);
void platform_host_free(struct platform_host *h);

/* Starts a scan: empty, with the host's uplinks and packet budget. 0 or -ENOMEM. */
int platform_scan_start(struct platform_scan *scan, const struct platform_host *h);
/* Why name cannot be a VM's id, or NULL when it can. An id is what the API, the log and
 * /metrics carry, and what tells one VM from another: at most PLATFORM_ID_MAX - 1 bytes (a
 * longer name is never cut, for two names cut alike would be one VM), valid UTF-8, with no
 * control character (C0, DEL, C1). */
const char *platform_name_problem(const char *name);
/* text as a MAC address in canonical form (six two-digit hex octets, separated by colons or
 * dashes, any case) into out, lowercase with colons; false (out "") when it is not one. */
bool platform_mac_parse(const char *text, char out[PLATFORM_MAC_LEN]);
/* text as a UUID (8-4-4-4-12 hex digits, any case) into out, lowercase; false (out "") when
 * it is not one. */
bool platform_uuid_parse(const char *text, char out[PLATFORM_UUID_LEN]);
/* Six octets as a canonical MAC address. */
void platform_mac_format(const unsigned char mac[6], char out[PLATFORM_MAC_LEN]);
/* Appends vm to the scan, which takes its vifs (freed on failure); a VM whose id
 * platform_name_problem refuses is recorded as refused instead. 0 or -ENOMEM. */
int platform_scan_add_vm(struct platform_scan *scan, struct platform_vm *vm);
/* Records that the scan leaves out the VM named name (its whole name, as the platform has it),
 * for why. 0 or -ENOMEM. */
int platform_scan_refuse(struct platform_scan *scan, const char *name, const char *why);
/* The index of the scan's uplink named name, added with capacity_bps (its packets drawing on
 * the host's budget) if it is not there yet; -ENOMEM. */
int platform_scan_uplink(struct platform_scan *scan, const char *name, uint64_t capacity_bps);
/* A new, zeroed vif at the end of vm's; NULL on allocation failure. */
struct platform_vif *platform_vm_add_vif(struct platform_vm *vm);

struct platform;
struct loop;

#define PLATFORM_RESCAN 1
#define PLATFORM_RESYNC 2

/* How a platform says the host may have changed: what is PLATFORM_RESCAN, or PLATFORM_RESYNC
 * when it came back from an outage (rescan, and apply every limit again: what the enforcer
 * had set may be gone). */
typedef void platform_notify_fn(void *arg, int what);

struct platform_ops {
	const char *name;
	/* Fills *scan with what is on the host at now_ns; the caller frees it. */
	int (*scan)(struct platform *p, uint64_t now_ns, struct platform_scan *scan);
	/* Optional (a platform that learns of changes from fds): registers its fds and timers
	 * with the agent's loop, keeps them registered as they come and go (a reconnection),
	 * and calls notify(arg, what) when they say a rescan is due. 0 or a negative errno. */
	int (*watch)(struct platform *p, struct loop *loop, platform_notify_fn *notify, void *arg);
	/* Takes back from the loop everything watch registered; before the loop goes. */
	void (*unwatch)(struct platform *p);
	/* Optional (the sim, whose host changes with simulated time): 0, or PLATFORM_RESCAN
	 * when the host at now_ns differs from the last scan. Called at the start of a period. */
	int (*due)(struct platform *p, uint64_t now_ns);
	/* Optional: why the platform cannot be trusted now (NULL: it can), for /readyz. */
	const char *(*problem)(struct platform *p);
	void (*close)(struct platform *p);
};

struct platform {
	const struct platform_ops *ops;
	void *priv;
};

void platform_scan_free(struct platform_scan *scan);

#endif
