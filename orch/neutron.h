/*
 * neutron: an OpenStack Neutron QoS policy, as Neutron's API returns it, mapped onto an SLA.
 *
 *   {"policy": {"rules": [{"type": "bandwidth_limit", "max_kbps": 150000,
 *                          "direction": "egress"}, ...], ...Neutron's other fields...}}
 *
 * Rule types: bandwidth_limit (max_kbps), minimum_bandwidth (min_kbps), packet_rate_limit
 * (max_kpps), minimum_packet_rate (min_kpps), each once per direction: an egress rule sets the
 * SLA's egress side, an ingress rule its ingress side; "any" (minimum_packet_rate's
 * direction-less guarantee, and a rule without a direction) counts as egress. A
 * bandwidth_limit's max_burst_kbps and a packet_rate_limit's max_burst_kpps size the side's
 * burst; without one, a bandwidth_limit gets 80 % of its rate, as Neutron's Open vSwitch agent
 * gives it. dscp_marking (dscp_mark, Neutron's valid marks) marks what the VM sends. Neutron
 * has no priority class: each side gets the default class (7) and weight 1.
 */
#ifndef DBAVM_NEUTRON_H
#define DBAVM_NEUTRON_H

#include <jansson.h>

#include "sla.h"

/* True if the document is a Neutron policy (has a "policy" key) rather than a native SLA. */
int neutron_is_policy(const json_t *doc);
/* Returns 0, or -EINVAL with err naming the field (policy.rules[1].direction). */
int neutron_to_sla(const json_t *doc, struct sla_spec *spec, struct sla_error *err);

#endif
