/*
 * neutron_follow: the agent following OpenStack Neutron's QoS policies (README, "Following
 * Neutron"). With --neutron, every --neutron-poll seconds it reads, as the identity in
 * --os-credentials,
 *
 *   GET /v2.0/ports?binding:host_id=<host>&fields=...   the ports bound to this host
 *   GET /v2.0/qos/policies?id=...                        the policies they are under, rules
 *                                                        included (skipped when none is)
 *
 * and hands the whole picture to the API's write path (neutron_apply_fn): each port's
 * effective policy (its qos_policy_id, else its network's qos_network_policy_id) mapped onto an
 * SLA (neutron.h), kept under the port's MAC address with its source (policy id and revision,
 * Neutron's port id). What is in force is decided there (admission, the store, the model);
 * this module only reads Neutron, and never waits: libcurl on the agent's loop (client.h).
 *
 * Neutron or Keystone failing leaves every SLA in force as it is: nothing is applied until
 * both lists have been read again, and the problem (and since when) is in the status.
 */
#ifndef DBAVM_NEUTRON_FOLLOW_H
#define DBAVM_NEUTRON_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sla.h"

#define NEUTRON_MAC_LEN 18

struct loop;
struct neutron_follow;

/* What Neutron says of one port bound to this host, and what became of it. */
enum neutron_port_state {
	NEUTRON_NO_POLICY, /* no policy on the port or its network: no SLA of Neutron's */
	NEUTRON_SLA,	   /* sla is what its policy says */
	NEUTRON_REFUSED,   /* the policy cannot be held (why); the last SLA in force stays */
	NEUTRON_UNMANAGED, /* --neutron-unmanaged names it: its SLA is the API's */
	NEUTRON_N_STATES
};
/* "no_policy", "in_force", "refused", "unmanaged": what the API and /metrics call them. */
extern const char *const neutron_state_name[NEUTRON_N_STATES];
struct neutron_port {
	char id[SLA_UUID_LEN];
	char mac[NEUTRON_MAC_LEN]; /* lowercase aa:bb:cc:dd:ee:ff: the key its SLA is kept under */
	char policy_id[SLA_UUID_LEN]; /* the effective policy, "" for none */
	bool from_network;	      /* ... is its network's */
	enum neutron_port_state state;
	struct sla_spec sla; /* NEUTRON_SLA: with its source */
	char why[520];	     /* NEUTRON_REFUSED: why (the policy, or admission) */
};

/* The API's write path: makes ports[] the Neutron-sourced port SLAs in force (sets what
 * differs, deletes those of ports no longer listed or without a policy), and marks a port
 * NEUTRON_REFUSED with why when admission refuses its SLA. */
typedef void neutron_apply_fn(void *arg, struct neutron_port *ports, size_t n);

/* What the API shows; valid until the loop runs again. */
struct neutron_status {
	char host[256];	    /* binding:host_id */
	char endpoint[512]; /* Neutron's, "" until known */
	uint64_t polls, requests, failures, tokens;
	int64_t last_success_unix; /* both lists read and applied; 0: never */
	const char *problem;	   /* why not now, or NULL */
	int64_t problem_since_unix;
	const struct neutron_port *ports; /* as last applied */
	size_t n_ports;
};

/* Reads --os-credentials and sets up; the first poll is at once. 0, or -EINVAL with err saying
 * what is wrong with the configuration, or another negative errno. */
int neutron_follow_open(struct neutron_follow **out, struct loop *loop, const struct config *cfg,
			neutron_apply_fn *apply, void *arg, char *err, size_t err_len);
void neutron_follow_close(struct neutron_follow *nf);
const struct neutron_status *neutron_follow_status(const struct neutron_follow *nf);
/* The port Neutron manages under key (a port SLA's key: its MAC), or NULL. */
const struct neutron_port *neutron_follow_port(const struct neutron_follow *nf, const char *key);

/* ---- what a poll reads, without I/O (for the tests) ---- */

/* GET /v2.0/ports's answer: *out (malloc'd, the caller frees; NULL when empty) and *n. 0, or
 * -EINVAL with err saying what is wrong (a port without a valid id or MAC is skipped, counted
 * in *skipped), or -ENOMEM. */
int neutron_ports_parse(const char *body, size_t len, struct neutron_port **out, size_t *n,
			size_t *skipped, char *err, size_t err_len);
/* Marks NEUTRON_UNMANAGED the ports the list names (Neutron port ids or MACs, as
 * --neutron-unmanaged gives them, lowercase). */
void neutron_ports_unmanage(struct neutron_port *ports, size_t n, const char (*keys)[SLA_UUID_LEN],
			    size_t n_keys);
/* GET /v2.0/qos/policies's answer onto ports: each port with a policy gets NEUTRON_SLA (the
 * policy mapped, with its source) or NEUTRON_REFUSED (why). 0, or -EINVAL (the answer is not
 * a list of policies). */
int neutron_policies_apply(const char *body, size_t len, struct neutron_port *ports, size_t n,
			   char *err, size_t err_len);

#endif
