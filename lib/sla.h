/*
 * sla: what a VM was sold, per direction. Parsed from JSON (the body of PUT /vms/{id}/sla, an
 * entry of a sim scenario), validated field by field, and encoded back in the one native form.
 *
 * struct sla is one direction's side (class, weight, min and max of each resource): what the
 * allocator shares a pool by. struct sla_spec is the whole SLA, a side for each direction:
 * egress (what the VM sends, held at the guest end) and ingress (what it receives, held on the
 * driver domain's side of the vif, before the copy into the guest).
 */
#ifndef DBAVM_SLA_H
#define DBAVM_SLA_H

#include <jansson.h>
#include <stdint.h>

#define SLA_UNLIMITED UINT64_MAX /* a max that is unset */
#define SLA_PRIORITY_MAX 7u
#define SLA_WEIGHT_MAX 10000u
/* Sane bounds: 100 Tbit/s and 10 Gpackets/s are far above any single host's uplinks. */
#define SLA_BPS_MAX 100000000000000ull
#define SLA_PPS_MAX 10000000000ull

struct sla {
	uint32_t priority;	   /* 0 (most important) .. 7 */
	uint32_t weight;	   /* 1 .. SLA_WEIGHT_MAX, share within a class */
	uint64_t min_bps, max_bps; /* max_bps SLA_UNLIMITED = unlimited */
	uint64_t min_pps, max_pps;
};

enum sla_dir { SLA_EGRESS, SLA_INGRESS, SLA_NDIR };

/* "egress", "ingress": the names the API, the metrics and the log use. */
extern const char *const sla_dir_name[SLA_NDIR];

/* What a side's enforcer may let through at once beyond its rates: its buckets' depths, in
 * bits and packets; 0: the enforcer's own rule (5 ms of the rate, at least two frames). */
struct sla_burst {
	uint64_t bits, packets;
};

/* The DSCP marks Neutron's dscp_marking rule takes (0 to 56, as its API validates them). */
#define SLA_DSCP_MAX 63u
int sla_dscp_valid(uint32_t mark);

/* Who set an SLA: the API (an operator or an orchestrator), or the agent itself following
 * Neutron (orch/neutron_follow.h), which says which policy at which revision, for which of
 * Neutron's ports. Kept with the SLA (the store) and shown with it ("source"). */
enum sla_origin { SLA_FROM_API, SLA_FROM_NEUTRON };
#define SLA_UUID_LEN 37
struct sla_source {
	uint8_t from; /* enum sla_origin */
	char policy_id[SLA_UUID_LEN], port_id[SLA_UUID_LEN];
	uint64_t revision; /* the policy's revision_number */
};

/* The whole SLA: a side for each direction, what each side's enforcer may let through at once,
 * and the DSCP what the VM sends leaves with. A side nobody set is the default. */
struct sla_spec {
	struct sla dir[SLA_NDIR];
	struct sla_burst burst[SLA_NDIR];
	uint8_t dscp_set; /* else the packets' own DSCP is left as it is */
	uint8_t dscp;
	struct sla_source source;
};

/* Why a document was refused: the field (dotted path, "" for the whole body) and a sentence. */
struct sla_error {
	char field[256]; /* both cut, if they must be, at a character's boundary */
	char msg[448];
	int line, column; /* sla_json_load: where the JSON went wrong */
};

/* Fills *err (field, and a sentence from fmt); returns -EINVAL for the caller to pass on. */
int sla_error_set(struct sla_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The SLA of a VM nobody set one for: class 7, weight 1, min 0, max unlimited. */
/* Debian 12's and 13's clang-format lay out a braced initialiser in a macro apart. */
/* clang-format off */
#define SLA_DEFAULT_INIT { SLA_PRIORITY_MAX, 1, 0, SLA_UNLIMITED, 0, SLA_UNLIMITED }
/* clang-format on */
void sla_default(struct sla *sla);
/* A whole SLA whose egress side is the initialiser given (as struct sla's fields) and whose
 * ingress side is the default: what a body of one side means. */
#define SLA_SPEC_EGRESS(...)                                                                       \
	((struct sla_spec){                                                                        \
		{ { __VA_ARGS__ }, SLA_DEFAULT_INIT }, { { 0, 0 }, { 0, 0 } }, 0, 0, { 0 } })
/* Both sides the default. */
void sla_spec_default(struct sla_spec *spec);
/* Whether a side is the default one (class 7, weight 1, no minimum, no maximum). */
int sla_is_default(const struct sla *sla);
/* Whether two SLAs say the same, their source included. */
int sla_spec_same(const struct sla_spec *a, const struct sla_spec *b);
/* Whether the spec's ingress side says anything: not the default, or a burst. */
int sla_spec_has_ingress(const struct sla_spec *spec);

/* Fills *spec from a parsed JSON object: the flat body (one side, egress), and beside or instead
 * of its fields an "egress" and an "ingress" object, each shaped like the flat body. The flat
 * fields and an "egress" object together are refused (which counts would be a guess). A side's
 * bandwidth may carry burst_bits and its packet_rate burst_packets; the egress side may carry
 * dscp_mark. Returns 0, or -EINVAL with *err filled (the field a dotted path:
 * "ingress.bandwidth.max_bps"). */
int sla_spec_from_json(const json_t *obj, struct sla_spec *spec, struct sla_error *err);

/* Parses a JSON text, refusing duplicate keys (which value counts would be a guess); NULL
 * with *err filled ("malformed JSON at line L column C: ...") if it is not JSON. */
json_t *sla_json_load(const char *text, size_t len, struct sla_error *err);

/* One side in the native JSON form (a new reference; NULL on allocation failure). */
json_t *sla_to_json(const struct sla *sla);
/* The whole SLA's native form: the egress side flat, as a body of one side is, and an
 * "ingress" object when that side is not the default; bursts and the DSCP mark only where set
 * (so an SLA of one side reads as it did before there were two, and what reads it back is
 * sla_spec_from_json). */
json_t *sla_spec_to_json(const struct sla_spec *spec);

/* A rate as JSON: null when unlimited or unknown, an integer otherwise. */
json_t *sla_rate_json(uint64_t rate);

#endif
