/*
 * neutron: Neutron QoS policy -> SLA. Neutron's own fields (id, name, project_id, tags, ...)
 * are accepted and ignored; rule fields are checked as strictly as a native SLA's.
 */
#include "neutron.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int neutron_is_policy(const json_t *doc)
{
	return json_is_object(doc) && json_object_get(doc, "policy") != NULL;
}

struct rule_kind {
	const char *type;
	const char *value_key; /* kbps or kpps */
	uint64_t limit;	       /* largest value, in the key's unit */
	const char *burst_key; /* kilobits, or kilopackets, the enforcer's bucket may hold */
};

enum { K_BW_LIMIT, K_BW_MIN, K_PPS_LIMIT, K_PPS_MIN, K_DSCP, N_KINDS };

static const struct rule_kind kinds[N_KINDS] = {
	{ "bandwidth_limit", "max_kbps", SLA_BPS_MAX / 1000, "max_burst_kbps" },
	{ "minimum_bandwidth", "min_kbps", SLA_BPS_MAX / 1000, NULL },
	{ "packet_rate_limit", "max_kpps", SLA_PPS_MAX / 1000, "max_burst_kpps" },
	{ "minimum_packet_rate", "min_kpps", SLA_PPS_MAX / 1000, NULL },
	/* no direction in Neutron's API: it marks what the port sends */
	{ "dscp_marking", "dscp_mark", SLA_DSCP_MAX, NULL },
};

/* Neutron's Open vSwitch agent's burst when a bandwidth_limit rule gives none: 80 % of the
 * rate, as kilobits (neutron/agent/common/ovs_lib.py). */
#define DEFAULT_BURST_PERCENT 80

/* Fields Neutron puts on every rule that say nothing about the rate. */
static int is_rule_meta(const char *key)
{
	return !strcmp(key, "id") || !strcmp(key, "qos_policy_id") || !strcmp(key, "tenant_id") ||
	       !strcmp(key, "project_id") || !strcmp(key, "type") || !strcmp(key, "direction");
}

/* What the rules said, per direction and rule kind; bursts as given (-1: none). */
struct rule_vals {
	uint64_t v[SLA_NDIR][N_KINDS];
	int64_t burst[SLA_NDIR][N_KINDS];
	int seen[SLA_NDIR][N_KINDS];
};

static int parse_rule(const json_t *rule, size_t i, struct rule_vals *rv, struct sla_error *err)
{
	char path[64], field[sizeof(((struct sla_error *)0)->field)];
	const char *type, *key, *dir;
	const json_t *v, *d;
	const struct rule_kind *k = NULL;
	size_t ki;
	json_int_t n;
	int dn;

	snprintf(path, sizeof(path), "policy.rules[%zu]", i);
	if (!json_is_object(rule))
		return sla_error_set(err, path, "%s must be an object", path);
	v = json_object_get(rule, "type");
	snprintf(field, sizeof(field), "%s.type", path);
	if (!json_is_string(v))
		return sla_error_set(err, field, "%s must be a string", field);
	type = json_string_value(v);
	for (ki = 0; ki < N_KINDS; ki++)
		if (!strcmp(kinds[ki].type, type))
			k = &kinds[ki];
	if (!k)
		return sla_error_set(
			err, field,
			"rule type '%s' is not supported (bandwidth_limit, minimum_bandwidth, "
			"packet_rate_limit, minimum_packet_rate, dscp_marking)",
			type);
	ki = (size_t)(k - kinds);
	d = json_object_get(rule, "direction");
	snprintf(field, sizeof(field), "%s.direction", path);
	if (d && !json_is_string(d))
		return sla_error_set(err, field, "%s must be a string", field);
	dir = d ? json_string_value(d) : "egress";
	if (!strcmp(dir, "ingress"))
		dn = SLA_INGRESS;
	else if (!strcmp(dir, "egress") || !strcmp(dir, "any"))
		dn = SLA_EGRESS;
	else
		return sla_error_set(err, field, "%s must be egress, ingress or any, got '%s'",
				     field, dir);
	if (ki == K_DSCP && dn != SLA_EGRESS)
		return sla_error_set(err, field, "%s: a dscp_marking rule marks what a VM sends",
				     field);
	if (rv->seen[dn][ki])
		return sla_error_set(err, (snprintf(field, sizeof(field), "%s.type", path), field),
				     "a second %s %s rule; a policy has at most one of each per "
				     "direction",
				     sla_dir_name[dn], type);
	rv->seen[dn][ki] = 1;
	json_object_foreach((json_t *)rule, key, v) {
		if (is_rule_meta(key) || !strcmp(key, k->value_key) ||
		    (k->burst_key && !strcmp(key, k->burst_key)))
			continue;
		snprintf(field, sizeof(field), "%s.%s", path, key);
		return sla_error_set(err, field, "unknown field %s for a %s rule", field, type);
	}
	v = json_object_get(rule, k->value_key);
	snprintf(field, sizeof(field), "%s.%s", path, k->value_key);
	if (!v)
		return sla_error_set(err, field, "%s is required", field);
	if (!json_is_integer(v))
		return sla_error_set(err, field, "%s must be an integer", field);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > k->limit)
		return sla_error_set(err, field, "%s must be between 0 and %llu, got %lld", field,
				     (unsigned long long)k->limit, (long long)n);
	rv->burst[dn][ki] = -1;
	if (k->burst_key && (v = json_object_get(rule, k->burst_key))) {
		snprintf(field, sizeof(field), "%s.%s", path, k->burst_key);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (uint64_t)json_integer_value(v) > k->limit)
			return sla_error_set(err, field, "%s must be between 0 and %llu", field,
					     (unsigned long long)k->limit);
		rv->burst[dn][ki] = json_integer_value(v);
	}
	if (ki == K_DSCP) {
		if (!sla_dscp_valid((uint32_t)n))
			return sla_error_set(err, field,
					     "%s %lld is not a valid DSCP mark (0, 8 to 40 even, "
					     "46, 48, 56)",
					     field, (long long)n);
		rv->v[dn][ki] = (uint64_t)n;
		return 0;
	}
	/* Neutron back ends disagree on whether a zero maximum means "no limit" or "nothing":
	 * refuse it rather than guess. */
	if (n == 0 && (ki == 0 || ki == 2))
		return sla_error_set(err, field,
				     "%s of 0 is ambiguous; omit the %s rule for no limit", field,
				     type);
	rv->v[dn][ki] = (uint64_t)n * 1000;
	return 0;
}

/* One direction's side from its rules; at: "" or "ingress " for the messages. */
static int side_of(const struct rule_vals *rv, int dn, struct sla_spec *spec, struct sla_error *err)
{
	const uint64_t *vals = rv->v[dn];
	const char *at = dn == SLA_EGRESS ? "" : "ingress ";
	struct sla *sla = &spec->dir[dn];
	int64_t b = rv->burst[dn][K_BW_LIMIT], bp = rv->burst[dn][K_PPS_LIMIT];

	/* Bursts in bits and packets: as given, or for a bit rate limit without one (Neutron's
	 * API answers 0 for "not given") what Neutron's Open vSwitch agent gives (80 % of the
	 * rate); a packet rate limit without one
	 * keeps the enforcer's rule, as that agent's meters do (a burst of 0). */
	if (rv->seen[dn][K_BW_LIMIT])
		spec->burst[dn].bits =
			b > 0 ? (uint64_t)b * 1000 : vals[K_BW_LIMIT] / 100 * DEFAULT_BURST_PERCENT;
	if (rv->seen[dn][K_PPS_LIMIT] && bp > 0)
		spec->burst[dn].packets = (uint64_t)bp * 1000;
	if (dn == SLA_EGRESS && rv->seen[dn][K_DSCP]) {
		spec->dscp_set = 1;
		spec->dscp = (uint8_t)vals[K_DSCP];
	}
	if (rv->seen[dn][0])
		sla->max_bps = vals[0];
	sla->min_bps = vals[1];
	if (rv->seen[dn][2])
		sla->max_pps = vals[2];
	sla->min_pps = vals[3];
	if (sla->min_bps > sla->max_bps)
		return sla_error_set(
			err, "policy.rules", "%smin_kbps (%llu) exceeds %smax_kbps (%llu)", at,
			(unsigned long long)vals[1] / 1000, at, (unsigned long long)vals[0] / 1000);
	if (sla->min_pps > sla->max_pps)
		return sla_error_set(
			err, "policy.rules", "%smin_kpps (%llu) exceeds %smax_kpps (%llu)", at,
			(unsigned long long)vals[3] / 1000, at, (unsigned long long)vals[2] / 1000);
	return 0;
}

int neutron_to_sla(const json_t *doc, struct sla_spec *spec, struct sla_error *err)
{
	const json_t *policy, *rules, *rule;
	struct rule_vals rv;
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	memset(err, 0, sizeof(*err));
	memset(&rv, 0, sizeof(rv));
	json_object_foreach((json_t *)doc, key, v)
		if (strcmp(key, "policy"))
			return sla_error_set(err, key, "unknown field %s next to policy", key);
	policy = json_object_get(doc, "policy");
	if (!json_is_object(policy))
		return sla_error_set(err, "policy", "policy must be an object");
	rules = json_object_get(policy, "rules");
	if (!json_is_array(rules))
		return sla_error_set(err, "policy.rules", "policy.rules must be an array");
	json_array_foreach(rules, i, rule)
		if ((rc = parse_rule(rule, i, &rv, err)))
			return rc;
	sla_spec_default(spec);
	for (int d = 0; d < SLA_NDIR; d++)
		if ((rc = side_of(&rv, d, spec, err)))
			return rc;
	return 0;
}
