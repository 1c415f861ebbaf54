/*
 * sla: parse, validate and encode a VM's SLA.
 *
 * The parser distrusts its input the way OpenBSD daemons do: every key is known or refused
 * (a typo such as "max_bsp" must not silently mean "unlimited"), every number is an integer
 * within its range, and the error names the field it concerns.
 */
#include "sla.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const char *const sla_dir_name[SLA_NDIR] = { "egress", "ingress" };

void sla_default(struct sla *sla)
{
	*sla = (struct sla)SLA_DEFAULT_INIT;
}

void sla_spec_default(struct sla_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	for (int d = 0; d < SLA_NDIR; d++)
		sla_default(&spec->dir[d]);
}

static int side_same(const struct sla *a, const struct sla *b)
{
	return a->priority == b->priority && a->weight == b->weight && a->min_bps == b->min_bps &&
	       a->max_bps == b->max_bps && a->min_pps == b->min_pps && a->max_pps == b->max_pps;
}

int sla_spec_same(const struct sla_spec *a, const struct sla_spec *b)
{
	for (int d = 0; d < SLA_NDIR; d++)
		if (!side_same(&a->dir[d], &b->dir[d]) || a->burst[d].bits != b->burst[d].bits ||
		    a->burst[d].packets != b->burst[d].packets)
			return 0;
	return a->dscp_set == b->dscp_set && (!a->dscp_set || a->dscp == b->dscp) &&
	       a->source.from == b->source.from && a->source.revision == b->source.revision &&
	       !strcmp(a->source.policy_id, b->source.policy_id) &&
	       !strcmp(a->source.port_id, b->source.port_id);
}

int sla_dscp_valid(uint32_t mark)
{
	static const uint8_t valid[] = { 0,  8,	 10, 12, 14, 16, 18, 20, 22, 24, 26,
					 28, 30, 32, 34, 36, 38, 40, 46, 48, 56 };

	for (size_t i = 0; i < sizeof(valid); i++)
		if (valid[i] == mark)
			return 1;
	return 0;
}

int sla_spec_has_ingress(const struct sla_spec *spec)
{
	return !sla_is_default(&spec->dir[SLA_INGRESS]) || spec->burst[SLA_INGRESS].bits ||
	       spec->burst[SLA_INGRESS].packets;
}

int sla_is_default(const struct sla *sla)
{
	const struct sla def = SLA_DEFAULT_INIT;

	return sla->priority == def.priority && sla->weight == def.weight &&
	       sla->min_bps == def.min_bps && sla->max_bps == def.max_bps &&
	       sla->min_pps == def.min_pps && sla->max_pps == def.max_pps;
}

/* Drops a UTF-8 sequence that a cut left incomplete at the end of s. */
static void cut_whole(char *s)
{
	size_t n = strlen(s), i = n, want;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	if (n - (i - 1) < want)
		s[i - 1] = '\0';
}

int sla_error_set(struct sla_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	/* Cut whole also what a caller's own buffer cut, before it came here. */
	snprintf(err->field, sizeof(err->field), "%s", field);
	cut_whole(err->field);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	cut_whole(err->msg);
	return -EINVAL;
}

/* A field's dotted path: prefix (empty, or "ingress.") and name. */
#define FIELD(buf, prefix, name) (snprintf(buf, sizeof(buf), "%s%s", prefix, name), buf)

/* An integer in [lo, hi]; null allowed (meaning "unlimited") only when nullable. */
static int get_uint(const json_t *v, const char *field, uint64_t lo, uint64_t hi, int nullable,
		    uint64_t *out, struct sla_error *err)
{
	json_int_t n;

	if (nullable && json_is_null(v)) {
		*out = SLA_UNLIMITED;
		return 0;
	}
	if (!json_is_integer(v))
		return sla_error_set(err, field, "%s must be an integer%s", field,
				     nullable ? " or null (unlimited)" : "");
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < lo || (uint64_t)n > hi)
		return sla_error_set(err, field, "%s must be between %llu and %llu, got %lld",
				     field, (unsigned long long)lo, (unsigned long long)hi,
				     (long long)n);
	*out = (uint64_t)n;
	return 0;
}

/* Refuses any key of obj not in allowed (NULL-terminated). */
static int check_keys(const json_t *obj, const char *prefix, const char *const *allowed,
		      struct sla_error *err)
{
	const char *key;
	json_t *v;
	char field[sizeof(((struct sla_error *)0)->field)];

	json_object_foreach((json_t *)obj, key, v) {
		int known = 0;

		for (const char *const *a = allowed; *a; a++)
			known |= strcmp(key, *a) == 0;
		if (!known) {
			snprintf(field, sizeof(field), "%s%s", prefix, key);
			return sla_error_set(err, field, "unknown field %s", field);
		}
	}
	return 0;
}

/* One of "bandwidth"/"packet_rate": {"min_<unit>": int, "max_<unit>": int|null, "<burst_key>":
 * int}, each optional (a burst of 0: the enforcer's own rule). */
static int get_range(const json_t *root, const char *at, const char *name, const char *unit,
		     const char *burst_key, uint64_t hi, uint64_t *min, uint64_t *max,
		     uint64_t *burst, struct sla_error *err)
{
	char kmin[16], kmax[16], fmin[80], fmax[80], fburst[80], prefix[64], fname[48];
	const char *allowed[4] = { kmin, kmax, burst_key, NULL };
	const json_t *obj = json_object_get(root, name);
	const json_t *v;
	int rc;

	*min = 0;
	*max = SLA_UNLIMITED;
	*burst = 0;
	if (!obj)
		return 0;
	FIELD(fname, at, name);
	if (!json_is_object(obj))
		return sla_error_set(err, fname, "%s must be an object", fname);
	snprintf(kmin, sizeof(kmin), "min_%s", unit);
	snprintf(kmax, sizeof(kmax), "max_%s", unit);
	snprintf(fmin, sizeof(fmin), "%s.%s", fname, kmin);
	snprintf(fmax, sizeof(fmax), "%s.%s", fname, kmax);
	snprintf(prefix, sizeof(prefix), "%s.", fname);
	rc = check_keys(obj, prefix, allowed, err);
	if (rc)
		return rc;
	if ((v = json_object_get(obj, kmin)) && (rc = get_uint(v, fmin, 0, hi, 0, min, err)))
		return rc;
	if ((v = json_object_get(obj, kmax)) && (rc = get_uint(v, fmax, 0, hi, 1, max, err)))
		return rc;
	snprintf(fburst, sizeof(fburst), "%s.%s", fname, burst_key);
	if ((v = json_object_get(obj, burst_key)) &&
	    (rc = get_uint(v, fburst, 0, hi, 0, burst, err)))
		return rc;
	if (*min > *max)
		return sla_error_set(err, fmin, "%s (%llu) must not exceed %s (%llu)", fmin,
				     (unsigned long long)*min, fmax, (unsigned long long)*max);
	return 0;
}

/* One side from obj, whose fields other than a side's are allowed[] (NULL-terminated; the
 * side's own are always); at: the side's place in the body ("" or "ingress."); spec: the
 * SLA whose side dir it is (its burst, and for egress its DSCP mark). */
static int side_from_json(const json_t *obj, const char *at, const char *const *extra,
			  struct sla_spec *spec, int dir, struct sla_error *err)
{
	static const char *const side[] = { "priority", "weight", "bandwidth", "packet_rate",
					    "dscp_mark" };
	struct sla *sla = &spec->dir[dir];
	const char *allowed[9];
	char field[64];
	const json_t *v;
	uint64_t n;
	size_t k = 0;
	int rc;

	/* what a VM receives carries no mark of ours: dscp_mark is egress's */
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]) - (dir != SLA_EGRESS); i++)
		allowed[k++] = side[i];
	for (; extra && *extra && k < 8; extra++)
		allowed[k++] = *extra;
	allowed[k] = NULL;
	if (!json_is_object(obj)) {
		/* the side's own name: at without its dot */
		snprintf(field, sizeof(field), "%.*s", (int)(*at ? strlen(at) - 1 : 0), at);
		return sla_error_set(err, field, "%s must be a JSON object",
				     *at ? field : "the SLA");
	}
	rc = check_keys(obj, at, allowed, err);
	if (rc)
		return rc;
	sla_default(sla);
	v = json_object_get(obj, "priority");
	FIELD(field, at, "priority");
	if (!v)
		return sla_error_set(err, field, "%s is required (0 = most important .. %u)", field,
				     SLA_PRIORITY_MAX);
	if ((rc = get_uint(v, field, 0, SLA_PRIORITY_MAX, 0, &n, err)))
		return rc;
	sla->priority = (uint32_t)n;
	if ((v = json_object_get(obj, "weight"))) {
		if ((rc = get_uint(v, FIELD(field, at, "weight"), 1, SLA_WEIGHT_MAX, 0, &n, err)))
			return rc;
		sla->weight = (uint32_t)n;
	}
	rc = get_range(obj, at, "bandwidth", "bps", "burst_bits", SLA_BPS_MAX, &sla->min_bps,
		       &sla->max_bps, &spec->burst[dir].bits, err);
	if (!rc)
		rc = get_range(obj, at, "packet_rate", "pps", "burst_packets", SLA_PPS_MAX,
			       &sla->min_pps, &sla->max_pps, &spec->burst[dir].packets, err);
	if (rc || !(v = json_object_get(obj, "dscp_mark")))
		return rc;
	if ((rc = get_uint(v, FIELD(field, at, "dscp_mark"), 0, SLA_DSCP_MAX, 0, &n, err)))
		return rc;
	if (!sla_dscp_valid((uint32_t)n))
		return sla_error_set(err, field,
				     "%s %llu is not a DSCP mark Neutron takes (0, 8 to 40 even, "
				     "46, 48, 56)",
				     field, (unsigned long long)n);
	spec->dscp_set = 1;
	spec->dscp = (uint8_t)n;
	return 0;
}

/* "source": {"from": "neutron", "policy_id", "policy_revision", "port_id"}, or absent (the
 * API's). */
static int source_from_json(const json_t *v, struct sla_source *src, struct sla_error *err)
{
	static const char *const keys[] = { "from", "policy_id", "policy_revision", "port_id",
					    NULL };
	const char *from = json_string_value(json_object_get(v, "from"));
	const char *pol = json_string_value(json_object_get(v, "policy_id"));
	const char *port = json_string_value(json_object_get(v, "port_id"));
	const json_t *rev = json_object_get(v, "policy_revision");
	int rc;

	if (!json_is_object(v))
		return sla_error_set(err, "source", "source must be a JSON object");
	if ((rc = check_keys(v, "source.", keys, err)))
		return rc;
	if (!from || strcmp(from, "neutron"))
		return sla_error_set(err, "source.from", "source.from must be \"neutron\"");
	if (!pol || !*pol || strlen(pol) >= sizeof(src->policy_id) || !port ||
	    strlen(port) >= sizeof(src->port_id))
		return sla_error_set(err, "source", "source needs policy_id and port_id, UUIDs");
	if (!json_is_integer(rev) || json_integer_value(rev) < 0)
		return sla_error_set(err, "source.policy_revision",
				     "source.policy_revision must be an integer >= 0");
	src->from = SLA_FROM_NEUTRON;
	snprintf(src->policy_id, sizeof(src->policy_id), "%s", pol);
	snprintf(src->port_id, sizeof(src->port_id), "%s", port);
	src->revision = (uint64_t)json_integer_value(rev);
	return 0;
}

int sla_spec_from_json(const json_t *obj, struct sla_spec *spec, struct sla_error *err)
{
	static const char *const dirs[] = { "egress", "ingress", "source", NULL };
	const json_t *side[SLA_NDIR];
	bool flat = false;
	const char *key;
	json_t *v;
	int rc;

	memset(err, 0, sizeof(*err));
	sla_spec_default(spec);
	if (!json_is_object(obj))
		return sla_error_set(err, "", "the SLA must be a JSON object");
	json_object_foreach((json_t *)obj, key, v)
		flat |= strcmp(key, "egress") && strcmp(key, "ingress") && strcmp(key, "source");
	for (int d = 0; d < SLA_NDIR; d++)
		side[d] = json_object_get(obj, sla_dir_name[d]);
	if (flat && side[SLA_EGRESS])
		return sla_error_set(err, "egress",
				     "egress is given twice: by the flat fields and by the egress "
				     "object; use one");
	/* The flat body is the egress side; a body of neither side is a flat one that lacks its
	 * priority, and says so. */
	if (flat || (!side[SLA_EGRESS] && !side[SLA_INGRESS]))
		rc = side_from_json(obj, "", dirs, spec, SLA_EGRESS, err);
	else
		rc = side[SLA_EGRESS] ? side_from_json(side[SLA_EGRESS], "egress.", NULL, spec,
						       SLA_EGRESS, err)
				      : 0;
	if (!rc && side[SLA_INGRESS])
		rc = side_from_json(side[SLA_INGRESS], "ingress.", NULL, spec, SLA_INGRESS, err);
	if (!rc && (v = json_object_get(obj, "source")))
		rc = source_from_json(v, &spec->source, err);
	return rc;
}

json_t *sla_json_load(const char *text, size_t len, struct sla_error *err)
{
	json_error_t jerr;
	json_t *root;

	memset(err, 0, sizeof(*err));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		sla_error_set(err, "", "malformed JSON at line %d column %d: %s", jerr.line,
			      jerr.column, jerr.text);
		err->line = jerr.line;
		err->column = jerr.column;
	}
	return root;
}

json_t *sla_rate_json(uint64_t rate)
{
	return rate == SLA_UNLIMITED ? json_null() : json_integer((json_int_t)rate);
}

json_t *sla_to_json(const struct sla *sla)
{
	return json_pack("{s:I, s:I, s:{s:o, s:o}, s:{s:o, s:o}}", "priority",
			 (json_int_t)sla->priority, "weight", (json_int_t)sla->weight, "bandwidth",
			 "min_bps", sla_rate_json(sla->min_bps), "max_bps",
			 sla_rate_json(sla->max_bps), "packet_rate", "min_pps",
			 sla_rate_json(sla->min_pps), "max_pps", sla_rate_json(sla->max_pps));
}

/* One side, with its burst where set. */
static json_t *side_to_json(const struct sla *sla, const struct sla_burst *b)
{
	json_t *o = sla_to_json(sla);

	if (o && b->bits &&
	    json_object_set_new(json_object_get(o, "bandwidth"), "burst_bits",
				json_integer((json_int_t)b->bits))) {
		json_decref(o);
		return NULL;
	}
	if (o && b->packets &&
	    json_object_set_new(json_object_get(o, "packet_rate"), "burst_packets",
				json_integer((json_int_t)b->packets))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *sla_spec_to_json(const struct sla_spec *spec)
{
	json_t *o = side_to_json(&spec->dir[SLA_EGRESS], &spec->burst[SLA_EGRESS]);

	if (o && spec->dscp_set && json_object_set_new(o, "dscp_mark", json_integer(spec->dscp))) {
		json_decref(o);
		return NULL;
	}
	if (o && sla_spec_has_ingress(spec) &&
	    json_object_set_new(o, "ingress",
				side_to_json(&spec->dir[SLA_INGRESS], &spec->burst[SLA_INGRESS]))) {
		json_decref(o);
		return NULL;
	}
	if (o && spec->source.from == SLA_FROM_NEUTRON &&
	    json_object_set_new(o, "source",
				json_pack("{s:s, s:s, s:I, s:s}", "from", "neutron", "policy_id",
					  spec->source.policy_id, "policy_revision",
					  (json_int_t)spec->source.revision, "port_id",
					  spec->source.port_id))) {
		json_decref(o);
		return NULL;
	}
	return o;
}
