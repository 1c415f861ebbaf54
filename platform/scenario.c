/*
 * scenario: load and check a sim scenario. Like the SLA parser, every key is known or refused
 * and every error names the file and the JSON path of the field (vms[1].vifs[0].demand[2].bps).
 */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

struct ctx {
	const char *file;
	char *err;
	size_t err_len;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->err_len, "%s: %s%s%s", c->file, path, *path ? ": " : "", msg);
	return -EINVAL;
}

static int only_keys(struct ctx *c, const char *path, const json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return fail(c, path, "must be an object");
	json_object_foreach((json_t *)obj, key, v) {
		const char *const *a;

		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a)
			return fail(c, path, "unknown field '%s'", key);
	}
	return 0;
}

/* obj.key as an integer in [lo, hi]; absent gives dflt, or an error when dflt is NULL. */
static int get_u64(struct ctx *c, const char *path, const json_t *obj, const char *key, uint64_t lo,
		   uint64_t hi, const uint64_t *dflt, uint64_t *out)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v) {
		if (!dflt)
			return fail(c, path, "%s is required", key);
		*out = *dflt;
		return 0;
	}
	if (!json_is_integer(v))
		return fail(c, path, "%s must be an integer", key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < lo || (uint64_t)n > hi)
		return fail(c, path, "%s must be between %llu and %llu, got %lld", key,
			    (unsigned long long)lo, (unsigned long long)hi, (long long)n);
	*out = (uint64_t)n;
	return 0;
}

static int get_name(struct ctx *c, const char *path, const json_t *obj, const char *key, char *out,
		    size_t size)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;

	if (!v)
		return fail(c, path, "%s is required", key);
	if (!json_is_string(v))
		return fail(c, path, "%s must be a string", key);
	s = json_string_value(v);
	if (!*s || strlen(s) >= size)
		return fail(c, path, "%s must have 1 to %zu characters", key, size - 1);
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p == '/' || *p == 0x7f)
			return fail(c, path, "%s '%s' has a character not allowed in a name", key,
				    s);
	strcpy(out, s);
	return 0;
}

static const json_t *get_array(struct ctx *c, const char *path, const json_t *obj, const char *key,
			       int *rc)
{
	const json_t *v = json_object_get(obj, key);

	*rc = 0;
	if (!v || !json_is_array(v) || json_array_size(v) == 0) {
		*rc = fail(c, path, "%s must be a non-empty array", key);
		return NULL;
	}
	return v;
}

static int cmp_change(const void *a, const void *b)
{
	const struct scenario_capacity *x = a, *y = b;

	/* ties are changes of different uplinks: their order does not matter */
	return x->t_ms < y->t_ms ? -1 : x->t_ms > y->t_ms;
}

/* An uplink's "changes": [{"t_ms", "capacity_bps", "capacity_pps"}], appended to sc->changes;
 * a capacity a change leaves out stays as it was. */
static int load_changes(struct ctx *c, const char *upath, const json_t *u, uint32_t index,
			struct scenario *sc)
{
	static const char *const keys[] = { "t_ms", "capacity_bps", "capacity_pps", NULL };
	const json_t *arr = json_object_get(u, "changes"), *ch;
	const struct platform_uplink *up = &sc->uplinks[index];
	uint64_t last_t = 0, bps = up->capacity_bps, pps = up->capacity_pps;
	struct scenario_capacity *grown;
	size_t i;
	int rc;

	if (!arr)
		return 0;
	arr = get_array(c, upath, u, "changes", &rc);
	if (!arr)
		return rc;
	grown = realloc(sc->changes, (sc->n_changes + json_array_size(arr)) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	sc->changes = grown;
	json_array_foreach(arr, i, ch) {
		struct scenario_capacity *x = &sc->changes[sc->n_changes];
		char path[80];

		snprintf(path, sizeof(path), "%s.changes[%zu]", upath, i);
		if ((rc = only_keys(c, path, ch, keys)) ||
		    (rc = get_u64(c, path, ch, "t_ms", 1, UINT32_MAX, NULL, &x->t_ms)) ||
		    (rc = get_u64(c, path, ch, "capacity_bps", 0, SLA_BPS_MAX, &bps,
				  &x->capacity_bps)) ||
		    (rc = get_u64(c, path, ch, "capacity_pps", 0, SLA_PPS_MAX, &pps,
				  &x->capacity_pps)))
			return rc;
		if (x->t_ms <= last_t && i)
			return fail(c, path, "t_ms must increase, got %llu after %llu",
				    (unsigned long long)x->t_ms, (unsigned long long)last_t);
		last_t = x->t_ms;
		bps = x->capacity_bps;
		pps = x->capacity_pps;
		x->uplink = index;
		sc->n_changes++;
	}
	return 0;
}

static int load_uplinks(struct ctx *c, const json_t *root, struct scenario *sc)
{
	static const char *const keys[] = { "name", "capacity_bps", "capacity_pps", "changes",
					    NULL };
	const uint64_t zero = 0;
	const json_t *arr, *u;
	size_t i;
	int rc;

	arr = get_array(c, "", root, "uplinks", &rc);
	if (!arr)
		return rc;
	sc->uplinks = calloc(json_array_size(arr), sizeof(*sc->uplinks));
	if (!sc->uplinks)
		return -ENOMEM;
	json_array_foreach(arr, i, u) {
		struct platform_uplink *up = &sc->uplinks[i];
		char path[48];

		snprintf(path, sizeof(path), "uplinks[%zu]", i);
		if ((rc = only_keys(c, path, u, keys)) ||
		    (rc = get_name(c, path, u, "name", up->name, sizeof(up->name))) ||
		    (rc = get_u64(c, path, u, "capacity_bps", 0, SLA_BPS_MAX, &zero,
				  &up->capacity_bps)) ||
		    (rc = get_u64(c, path, u, "capacity_pps", 0, SLA_PPS_MAX, &zero,
				  &up->capacity_pps)) ||
		    (rc = load_changes(c, path, u, (uint32_t)i, sc)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(sc->uplinks[j].name, up->name))
				return fail(c, path, "uplink '%s' is named twice", up->name);
		sc->n_uplinks++;
	}
	if (sc->n_changes)
		qsort(sc->changes, sc->n_changes, sizeof(*sc->changes), cmp_change);
	return 0;
}

static int load_steps(struct ctx *c, const char *vpath, const json_t *vif, struct scenario_vif *sv)
{
	static const char *const keys[] = { "t_ms", "bps", "frame_bytes", NULL };
	const json_t *arr, *s;
	size_t i;
	int rc;

	arr = get_array(c, vpath, vif, "demand", &rc);
	if (!arr)
		return rc;
	sv->steps = calloc(json_array_size(arr), sizeof(*sv->steps));
	if (!sv->steps)
		return -ENOMEM;
	json_array_foreach(arr, i, s) {
		struct scenario_step *st = &sv->steps[i];
		char path[128];
		uint64_t frame;

		snprintf(path, sizeof(path), "%s.demand[%zu]", vpath, i);
		if ((rc = only_keys(c, path, s, keys)) ||
		    (rc = get_u64(c, path, s, "t_ms", 0, UINT32_MAX * 1000ull, NULL, &st->t_ms)) ||
		    (rc = get_u64(c, path, s, "bps", 0, SLA_BPS_MAX, NULL, &st->bps)) ||
		    (rc = get_u64(c, path, s, "frame_bytes", SCENARIO_FRAME_MIN, SCENARIO_FRAME_MAX,
				  NULL, &frame)))
			return rc;
		st->frame_bytes = (uint32_t)frame;
		if (i == 0 && st->t_ms != 0)
			return fail(c, path, "the first step must start at t_ms 0");
		if (i > 0 && st->t_ms <= sv->steps[i - 1].t_ms)
			return fail(c, path, "t_ms must increase from step to step");
		sv->n_steps++;
	}
	return 0;
}

/* A vif's "unreadable": {"from_ms", "to_ms"}: its counters fail to read in that time. */
static int load_unreadable(struct ctx *c, const char *vpath, const json_t *vif,
			   struct scenario_vif *sv)
{
	static const char *const keys[] = { "from_ms", "to_ms", NULL };
	const json_t *u = json_object_get(vif, "unreadable");
	char path[128];
	int rc;

	if (!u)
		return 0;
	snprintf(path, sizeof(path), "%s.unreadable", vpath);
	if ((rc = only_keys(c, path, u, keys)) ||
	    (rc = get_u64(c, path, u, "from_ms", 0, UINT32_MAX * 1000ull, NULL,
			  &sv->unreadable_from_ms)) ||
	    (rc = get_u64(c, path, u, "to_ms", 1, UINT32_MAX * 1000ull, NULL,
			  &sv->unreadable_to_ms)))
		return rc;
	if (sv->unreadable_to_ms <= sv->unreadable_from_ms)
		return fail(c, path, "to_ms must be after from_ms");
	return 0;
}

static int load_vifs(struct ctx *c, const char *mpath, const json_t *vm, struct scenario *sc,
		     struct scenario_vm *svm)
{
	static const char *const keys[] = { "id",     "uplink",	    "mac", "port_id",
					    "demand", "unreadable", NULL };
	const json_t *arr, *v, *mac;
	size_t i;
	int rc;

	arr = get_array(c, mpath, vm, "vifs", &rc);
	if (!arr)
		return rc;
	svm->vifs = calloc(json_array_size(arr), sizeof(*svm->vifs));
	if (!svm->vifs)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		struct scenario_vif *sv = &svm->vifs[i];
		char path[96];
		size_t u;

		snprintf(path, sizeof(path), "%s.vifs[%zu]", mpath, i);
		if ((rc = only_keys(c, path, v, keys)) ||
		    (rc = get_name(c, path, v, "id", sv->desc.id, sizeof(sv->desc.id))) ||
		    (rc = get_name(c, path, v, "uplink", sv->desc.uplink, sizeof(sv->desc.uplink))))
			return rc;
		mac = json_object_get(v, "mac");
		if (mac && (!json_is_string(mac) ||
			    !platform_mac_parse(json_string_value(mac), sv->desc.mac)))
			return fail(c, path, "mac is not a MAC address (aa:bb:cc:dd:ee:ff)");
		if (json_object_get(v, "port_id") &&
		    (rc = get_name(c, path, v, "port_id", sv->desc.port_id,
				   sizeof(sv->desc.port_id))))
			return rc;
		for (u = 0; u < sc->n_uplinks && strcmp(sc->uplinks[u].name, sv->desc.uplink); u++)
			;
		if (u == sc->n_uplinks)
			return fail(c, path, "uplink '%s' is not among the uplinks",
				    sv->desc.uplink);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(svm->vifs[j].desc.id, sv->desc.id))
				return fail(c, path, "vif '%s' is named twice", sv->desc.id);
		snprintf(sv->desc.host_ifname, sizeof(sv->desc.host_ifname), "%.15s", sv->desc.id);
		snprintf(sv->desc.guest_ifname, sizeof(sv->desc.guest_ifname), "eth%u",
			 (unsigned)(i % 10000));
		svm->n_vifs++;
		if ((rc = load_steps(c, path, v, sv)) || (rc = load_unreadable(c, path, v, sv)))
			return rc;
	}
	return 0;
}

/* The optional identities a Xen VM has: a UUID (8-4-4-4-12 hex) and a domid, both unique. */
static int load_identity(struct ctx *c, const char *path, const json_t *vm,
			 const struct scenario *sc, size_t i, struct scenario_vm *svm)
{
	const json_t *u = json_object_get(vm, "uuid");
	const uint64_t none = UINT64_MAX;
	uint64_t domid;
	int rc;

	svm->domid = -1;
	if (u) {
		const char *s = json_is_string(u) ? json_string_value(u) : "";
		size_t n = strlen(s);
		int ok = n == PLATFORM_UUID_LEN - 1;

		for (size_t k = 0; ok && k < n; k++)
			ok = (k == 8 || k == 13 || k == 18 || k == 23)
				     ? s[k] == '-'
				     : isxdigit((unsigned char)s[k]);
		if (!ok)
			return fail(c, path, "uuid must be a UUID (8-4-4-4-12 hex digits)");
		strcpy(svm->uuid, s);
	}
	if ((rc = get_u64(c, path, vm, "domid", 0, 32752, &none, &domid)))
		return rc;
	if (domid != UINT64_MAX)
		svm->domid = (int64_t)domid;
	for (size_t j = 0; j < i; j++) {
		if (svm->uuid[0] && !strcasecmp(sc->vms[j].uuid, svm->uuid))
			return fail(c, path, "uuid %s is given twice", svm->uuid);
		if (svm->domid >= 0 && sc->vms[j].domid == svm->domid)
			return fail(c, path, "domid %lld is given twice", (long long)svm->domid);
	}
	return 0;
}

static int load_vms(struct ctx *c, const json_t *root, struct scenario *sc)
{
	static const char *const keys[] = { "id",	"uuid",	   "domid", "sla",
					    "start_ms", "stop_ms", "vifs",  NULL };
	const uint64_t zero = 0, never = SCENARIO_NEVER;
	const json_t *arr, *vm;
	size_t i;
	int rc;

	arr = get_array(c, "", root, "vms", &rc);
	if (!arr)
		return rc;
	sc->vms = calloc(json_array_size(arr), sizeof(*sc->vms));
	if (!sc->vms)
		return -ENOMEM;
	json_array_foreach(arr, i, vm) {
		struct scenario_vm *svm = &sc->vms[i];
		const json_t *sla;
		char path[48];

		snprintf(path, sizeof(path), "vms[%zu]", i);
		if ((rc = only_keys(c, path, vm, keys)) ||
		    (rc = get_name(c, path, vm, "id", svm->id, sizeof(svm->id))) ||
		    (rc = get_u64(c, path, vm, "start_ms", 0, UINT32_MAX * 1000ull, &zero,
				  &svm->start_ms)) ||
		    (rc = get_u64(c, path, vm, "stop_ms", 1, UINT64_MAX, &never, &svm->stop_ms)))
			return rc;
		if (svm->stop_ms <= svm->start_ms)
			return fail(c, path, "stop_ms must be after start_ms");
		if ((rc = load_identity(c, path, vm, sc, i, svm)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(sc->vms[j].id, svm->id))
				return fail(c, path, "vm '%s' is named twice", svm->id);
		sla = json_object_get(vm, "sla");
		if (sla) {
			struct sla_error e;

			if (sla_spec_from_json(sla, &svm->sla, &e))
				return fail(c, path, "sla%s%s: %s", e.field[0] ? "." : "", e.field,
					    e.msg);
			svm->has_sla = true;
		}
		sc->n_vms++;
		if ((rc = load_vifs(c, path, vm, sc, svm)))
			return rc;
	}
	return 0;
}

/* Builds sc from root (taken), named path in messages. */
static int load_root(json_t *root, const char *path, struct scenario *sc, char *err, size_t err_len)
{
	static const char *const keys[] = { "uplinks", "host", "vms", NULL };
	static const char *const host_keys[] = { "capacity_pps", NULL };
	struct ctx c = { path, err, err_len };
	const uint64_t zero = 0;
	const json_t *host;
	int rc;

	rc = only_keys(&c, "", root, keys);
	host = json_object_get(root, "host");
	if (!rc && host)
		rc = only_keys(&c, "host", host, host_keys);
	if (!rc && host)
		rc = get_u64(&c, "host", host, "capacity_pps", 0, SLA_PPS_MAX, &zero,
			     &sc->host_capacity_pps);
	if (!rc)
		rc = load_uplinks(&c, root, sc);
	if (!rc)
		rc = load_vms(&c, root, sc);
	json_decref(root);
	if (rc == -ENOMEM)
		snprintf(err, err_len, "%s: out of memory", path);
	if (rc)
		scenario_free(sc);
	return rc;
}

int scenario_load(const char *path, struct scenario *sc, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *root;

	memset(sc, 0, sizeof(*sc));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_len, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	return load_root(root, path, sc, err, err_len);
}

int scenario_parse(const char *text, size_t len, struct scenario *sc, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *root;

	memset(sc, 0, sizeof(*sc));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_len, "scenario:%d:%d: %s", jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	return load_root(root, "scenario", sc, err, err_len);
}

void scenario_free(struct scenario *sc)
{
	for (size_t i = 0; i < sc->n_vms; i++) {
		for (size_t j = 0; j < sc->vms[i].n_vifs; j++)
			free(sc->vms[i].vifs[j].steps);
		free(sc->vms[i].vifs);
	}
	free(sc->vms);
	free(sc->uplinks);
	free(sc->changes);
	memset(sc, 0, sizeof(*sc));
}

const struct scenario_step *scenario_step_at(const struct scenario_vif *v, uint64_t t_ms)
{
	size_t i = 0;

	while (i + 1 < v->n_steps && v->steps[i + 1].t_ms <= t_ms)
		i++;
	return &v->steps[i];
}
