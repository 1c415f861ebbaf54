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
#include <stdio.h>
#include <string.h>

void sla_default(struct sla *sla)
{
	*sla = (struct sla)SLA_DEFAULT_INIT;
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

/* One of "bandwidth"/"packet_rate": {"min_<unit>": int, "max_<unit>": int|null}, both optional. */
static int get_range(const json_t *root, const char *name, const char *unit, uint64_t hi,
		     uint64_t *min, uint64_t *max, struct sla_error *err)
{
	char kmin[16], kmax[16], fmin[48], fmax[48], prefix[32];
	const char *allowed[3] = { kmin, kmax, NULL };
	const json_t *obj = json_object_get(root, name);
	const json_t *v;
	int rc;

	*min = 0;
	*max = SLA_UNLIMITED;
	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return sla_error_set(err, name, "%s must be an object", name);
	snprintf(kmin, sizeof(kmin), "min_%s", unit);
	snprintf(kmax, sizeof(kmax), "max_%s", unit);
	snprintf(fmin, sizeof(fmin), "%s.%s", name, kmin);
	snprintf(fmax, sizeof(fmax), "%s.%s", name, kmax);
	snprintf(prefix, sizeof(prefix), "%s.", name);
	rc = check_keys(obj, prefix, allowed, err);
	if (rc)
		return rc;
	if ((v = json_object_get(obj, kmin)) && (rc = get_uint(v, fmin, 0, hi, 0, min, err)))
		return rc;
	if ((v = json_object_get(obj, kmax)) && (rc = get_uint(v, fmax, 0, hi, 1, max, err)))
		return rc;
	if (*min > *max)
		return sla_error_set(err, fmin, "%s (%llu) must not exceed %s (%llu)", fmin,
				     (unsigned long long)*min, fmax, (unsigned long long)*max);
	return 0;
}

int sla_from_json(const json_t *obj, struct sla *sla, struct sla_error *err)
{
	static const char *const allowed[] = { "priority", "weight", "bandwidth", "packet_rate",
					       NULL };
	const json_t *v;
	uint64_t n;
	int rc;

	memset(err, 0, sizeof(*err));
	if (!json_is_object(obj))
		return sla_error_set(err, "", "the SLA must be a JSON object");
	rc = check_keys(obj, "", allowed, err);
	if (rc)
		return rc;
	sla_default(sla);
	v = json_object_get(obj, "priority");
	if (!v)
		return sla_error_set(err, "priority",
				     "priority is required (0 = most important .. %u)",
				     SLA_PRIORITY_MAX);
	if ((rc = get_uint(v, "priority", 0, SLA_PRIORITY_MAX, 0, &n, err)))
		return rc;
	sla->priority = (uint32_t)n;
	if ((v = json_object_get(obj, "weight"))) {
		if ((rc = get_uint(v, "weight", 1, SLA_WEIGHT_MAX, 0, &n, err)))
			return rc;
		sla->weight = (uint32_t)n;
	}
	rc = get_range(obj, "bandwidth", "bps", SLA_BPS_MAX, &sla->min_bps, &sla->max_bps, err);
	if (rc)
		return rc;
	return get_range(obj, "packet_rate", "pps", SLA_PPS_MAX, &sla->min_pps, &sla->max_pps, err);
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
