/*
 * metrics: renders the exposition into one buffer. Every family's samples are contiguous, as
 * the format requires, so the VMs are walked once per family. With a thousand VMs that is
 * some 25,000 samples, so the hot path is plain copying: label sets are escaped once per
 * change of the model and kept, numbers are formatted by hand, and the buffer starts at the
 * size the last render needed.
 *
 * Units are Prometheus base units: bytes and bytes per second (the SLA's bits / 8), packets,
 * seconds. Unlimited is +Inf.
 */
#include "metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "neutron_follow.h"
#include "placement.h"
#include "version.h"

struct metrics_text {
	unsigned refs;
	size_t len;
	char data[];
};

struct metrics {
	struct metrics_info info;
	/* The label sets, {vm="..."} per VM and {vm="...",vif="...",direction="..."} per vif
	 * and direction, in host order, valid for labels_generation. */
	uint64_t labels_generation;
	bool have_labels;
	char *labels; /* all of them, NUL-separated */
	/* offsets into labels, per VM and per vif in host order (vif_label: 2 per vif, by
	 * direction) */
	size_t *vm_label, *vif_label;
	uint16_t *vm_label_len, *vif_label_len;
	size_t n_vm_labels;
	/* The last text and the state of the model it shows. */
	struct metrics_text *text;
	uint64_t text_seq; /* the snapshot's */
	bool text_ready;
	size_t last_len;
};

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void reserve(struct buf *b, size_t more)
{
	char *n;
	size_t cap;

	if (b->len + more <= b->cap || b->oom)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	n = realloc(b->p, cap);
	if (!n) {
		b->oom = true;
		return;
	}
	b->p = n;
	b->cap = cap;
}

static inline void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		reserve(b, n);
		if (b->oom)
			return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static inline void put_u64(struct buf *b, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

/* A rate in bits/s as bytes/s: exact, since n / 8 has at most three decimals. */
static void put_bits_as_bytes(struct buf *b, uint64_t bps)
{
	static const char *const frac[8] = {
		"", ".125", ".25", ".375", ".5", ".625", ".75", ".875"
	};

	if (bps == UINT64_MAX) {
		puts_(b, "+Inf");
		return;
	}
	put_u64(b, bps / 8);
	puts_(b, frac[bps % 8]);
}

static void put_rate(struct buf *b, uint64_t v)
{
	if (v == UINT64_MAX)
		puts_(b, "+Inf");
	else
		put_u64(b, v);
}

/* Seconds with six decimals from microseconds. */
static void put_us_as_seconds(struct buf *b, uint64_t us)
{
	char frac[6];

	put_u64(b, us / 1000000);
	for (int i = 5; i >= 0; i--, us /= 10)
		frac[i] = (char)('0' + us % 10);
	put(b, ".", 1);
	put(b, frac, 6);
}

/* Seconds with nine decimals from nanoseconds. */
static void put_ns_as_seconds(struct buf *b, uint64_t ns)
{
	char frac[9];

	put_u64(b, ns / 1000000000u);
	for (int i = 8; i >= 0; i--, ns /= 10)
		frac[i] = (char)('0' + ns % 10);
	put(b, ".", 1);
	put(b, frac, 9);
}

static void put_label_value(struct buf *b, const char *s)
{
	while (*s) {
		size_t run = strcspn(s, "\\\"\n");

		put(b, s, run);
		s += run;
		if (!*s)
			break;
		put(b, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", 2);
		s++;
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	puts_(b, "# HELP ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, help);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, type);
	put(b, "\n", 1);
}

/* ---- label sets, escaped once per change of the model ---- */

static int build_labels(struct metrics *m, const struct snapshot *h)
{
	struct buf b = { 0 };
	size_t n_vifs = 0, k = 0;

	for (size_t i = 0; i < h->n_vms; i++)
		n_vifs += h->vms[i].n_vifs;
	free(m->vm_label);
	free(m->vif_label);
	free(m->vm_label_len);
	free(m->vif_label_len);
	m->vm_label = malloc((h->n_vms + 1) * sizeof(size_t));
	m->vif_label = malloc((n_vifs * SLA_NDIR + 1) * sizeof(size_t));
	m->vm_label_len = malloc((h->n_vms + 1) * sizeof(uint16_t));
	m->vif_label_len = malloc((n_vifs * SLA_NDIR + 1) * sizeof(uint16_t));
	if (!m->vm_label || !m->vif_label || !m->vm_label_len || !m->vif_label_len)
		return -1;
	for (size_t i = 0; i < h->n_vms; i++) {
		const struct snap_vm *vm = &h->vms[i];

		m->vm_label[i] = b.len;
		puts_(&b, "{vm=\"");
		put_label_value(&b, vm->id);
		put(&b, "\"} ", 3);
		m->vm_label_len[i] = (uint16_t)(b.len - m->vm_label[i]);
		for (size_t j = 0; j < vm->n_vifs; j++, k++) {
			for (int d = 0; d < SLA_NDIR; d++) {
				size_t at = k * SLA_NDIR + (size_t)d;

				m->vif_label[at] = b.len;
				puts_(&b, "{vm=\"");
				put_label_value(&b, vm->id);
				puts_(&b, "\",vif=\"");
				put_label_value(&b, vm->vifs[j].id);
				puts_(&b, "\",direction=\"");
				puts_(&b, sla_dir_name[d]);
				put(&b, "\"} ", 3);
				m->vif_label_len[at] = (uint16_t)(b.len - m->vif_label[at]);
			}
		}
	}
	if (b.oom) {
		free(b.p);
		return -1;
	}
	free(m->labels);
	m->labels = b.p;
	m->n_vm_labels = h->n_vms;
	m->labels_generation = h->model_generation;
	m->have_labels = true;
	return 0;
}

/* name{labels} followed by a space: the value comes next. One capacity check for the line. */
static inline void sample(struct buf *b, const char *name, size_t name_len, const char *labels,
			  size_t labels_len)
{
	reserve(b, name_len + labels_len + 32);
	if (b->oom)
		return;
	memcpy(b->p + b->len, name, name_len);
	memcpy(b->p + b->len + name_len, labels, labels_len);
	b->len += name_len + labels_len;
}

#define VM_LABEL(m, i) (m)->labels + (m)->vm_label[i], (m)->vm_label_len[i]
/* vif k's label set in direction d */
#define VIF_LABEL(m, k, d)                                                                         \
	(m)->labels + (m)->vif_label[SLA_NDIR * (k) + (d)], (m)->vif_label_len[SLA_NDIR * (k) + (d)]

/* ---- the families ---- */

enum counter_field { OFF_B, OFF_P, PAS_B, PAS_P, DRO_B, DRO_P };

static uint64_t counter_of(const struct vif_counters *c, enum counter_field f)
{
	const uint64_t v[6] = { c->offered_bytes, c->offered_pkts,  c->passed_bytes,
				c->passed_pkts,	  c->dropped_bytes, c->dropped_pkts };

	return v[f];
}

static const struct {
	const char *suffix, *help;
} counters[] = {
	{ "offered_bytes_total", "Bytes offered to the enforcer (L2 frames, FCS excluded)." },
	{ "offered_packets_total", "Packets offered to the enforcer." },
	{ "passed_bytes_total", "Bytes the enforcer let pass." },
	{ "passed_packets_total", "Packets the enforcer let pass." },
	{ "dropped_bytes_total", "Bytes dropped." },
	{ "dropped_packets_total", "Packets dropped." },
};

/* name{vm="...",extra} and a space: the VM's label set with one label more. */
static void sample_vm_with(struct buf *b, const char *name, const struct metrics *m, size_t i,
			   const char *extra)
{
	puts_(b, name);
	put(b, m->labels + m->vm_label[i], m->vm_label_len[i] - 2u); /* without "} " */
	put(b, ",", 1);
	puts_(b, extra);
	put(b, "} ", 2);
}

/* name{vm="...",vif="...",direction="...",label="value"} and a space: vif k's label set in
 * direction d with one label more (value: one of the agent's own words, not escaped). */
static void sample_vif_with(struct buf *b, const char *name, const struct metrics *m, size_t k,
			    int d, const char *label, const char *value)
{
	puts_(b, name);
	put(b, m->labels + m->vif_label[k * SLA_NDIR + (size_t)d],
	    m->vif_label_len[k * SLA_NDIR + (size_t)d] - 2u); /* without "} " */
	put(b, ",", 1);
	puts_(b, label);
	put(b, "=\"", 2);
	puts_(b, value);
	put(b, "\"} ", 3);
}

/* Offered and dropped have no series where the enforcer does not see them (passed_only: what
 * VMs send; what they receive, where held, is counted before the drops). */
static void render_counters(struct buf *b, const struct metrics *m, const struct snapshot *h)
{
	char name[64];

	for (int f = 0; f < 6; f++) {
		bool seen = !h->passed_only || f == PAS_B || f == PAS_P;
		size_t len, k = 0;

		if (seen) {
			strcpy(name, "dbavm_vm_");
			strcat(name, counters[f].suffix);
			len = strlen(name);
			family(b, name, "counter", counters[f].help);
			for (size_t i = 0; i < h->n_vms; i++) {
				sample(b, name, len, VM_LABEL(m, i));
				put_u64(b, counter_of(&h->vms[i].total, (enum counter_field)f));
				put(b, "\n", 1);
			}
		}
		if (!seen && !h->holds_ingress)
			continue;
		strcpy(name, "dbavm_vif_");
		strcat(name, counters[f].suffix);
		len = strlen(name);
		family(b, name, "counter", counters[f].help);
		for (size_t i = 0; i < h->n_vms; i++) {
			const struct snap_vm *vm = &h->vms[i];

			for (size_t j = 0; j < vm->n_vifs; j++, k++) {
				for (int d = 0; d < SLA_NDIR; d++) {
					const struct snap_side *sd = &vm->vifs[j].side[d];

					if (d == SLA_EGRESS ? !seen : !sd->attached)
						continue;
					sample(b, name, len, VIF_LABEL(m, k, d));
					put_u64(b, counter_of(&sd->total, (enum counter_field)f));
					put(b, "\n", 1);
				}
			}
		}
	}
}

/* Whether each vif is counted, and by what: 0 from its first failed reading until one works
 * (its figures are then null in the API), with the source that counts it ("" : the enforcer's
 * own counters). */
static void render_counted(struct buf *b, const struct metrics *m, const struct snapshot *h)
{
	size_t k = 0;

	family(b, "dbavm_vif_counted", "gauge",
	       "1 when the vif's last reading worked, 0 when its counters cannot be read (its "
	       "rates are null: GET /readyz says why after 3 periods); source: what counts it "
	       "where there is a choice (on Xen bpf, netdev or xenstat), else empty.");
	for (size_t i = 0; i < h->n_vms; i++) {
		const struct snap_vm *vm = &h->vms[i];

		for (size_t j = 0; j < vm->n_vifs; j++, k++)
			for (int d = 0; d < SLA_NDIR; d++) {
				const struct snap_side *sd = &vm->vifs[j].side[d];

				if (!sd->attached)
					continue;
				sample_vif_with(b, "dbavm_vif_counted", m, k, d, "source",
						sd->counted_by ? sd->counted_by : "");
				puts_(b, sd->unread ? "0\n" : "1\n");
			}
	}
}

/* Delay, jitter and loss by cause, for the VMs whose enforcer measures
 * them; a figure the enforcer cannot see has no series rather than a 0. */
static void render_delay(struct buf *b, const struct metrics *m, const struct snapshot *h)
{
	bool on_path = h->drops_on_path;

	family(b, "dbavm_vm_delay_seconds", "histogram",
	       "One-way delay of sampled packets through the driver domain: egress from the "
	       "netfront hook to the uplink's transmit, ingress from the uplink's receive to the "
	       "vif's transmit (after its shaper).");
	for (int d = 0; d < SLA_NDIR; d++)
		for (size_t i = 0; i < h->n_vms; i++) {
			const struct vm_delay *dl = &h->vms[i].delay[d];
			uint64_t cum = 0;
			char le[80];

			if (!dl->measured)
				continue;
			for (int k = 0; k <= DELAY_N_PROM; k++) {
				cum += dl->prom[k];
				if (k < DELAY_N_PROM)
					snprintf(le, sizeof(le), "direction=\"%s\",le=\"%g\"",
						 sla_dir_name[d],
						 (double)delay_prom_bounds_ns[k] / 1e9);
				else
					snprintf(le, sizeof(le), "direction=\"%s\",le=\"+Inf\"",
						 sla_dir_name[d]);
				sample_vm_with(b, "dbavm_vm_delay_seconds_bucket", m, i, le);
				put_u64(b, cum);
				put(b, "\n", 1);
			}
			snprintf(le, sizeof(le), "direction=\"%s\"", sla_dir_name[d]);
			sample_vm_with(b, "dbavm_vm_delay_seconds_sum", m, i, le);
			put_ns_as_seconds(b, dl->total_sum_ns);
			put(b, "\n", 1);
			sample_vm_with(b, "dbavm_vm_delay_seconds_count", m, i, le);
			put_u64(b, dl->total_n);
			put(b, "\n", 1);
		}
	family(b, "dbavm_vm_jitter_seconds", "gauge",
	       "RFC 3550 interarrival jitter over consecutive delay samples, each direction.");
	for (int d = 0; d < SLA_NDIR; d++)
		for (size_t i = 0; i < h->n_vms; i++) {
			const struct vm_delay *dl = &h->vms[i].delay[d];
			char dir[32];

			if (!dl->measured || dl->jitter_na)
				continue;
			snprintf(dir, sizeof(dir), "direction=\"%s\"", sla_dir_name[d]);
			sample_vm_with(b, "dbavm_vm_jitter_seconds", m, i, dir);
			put_ns_as_seconds(b, (uint64_t)(dl->jitter_ns + 0.5));
			put(b, "\n", 1);
		}
	family(b, "dbavm_vm_lost_packets_total", "counter",
	       "Packets lost, by cause: policy (dropped at the netfront hook by the SLA), path "
	       "(lost between the guest and the uplink; from samples, scaled by the sampling "
	       "rate).");
	for (size_t i = 0; i < h->n_vms; i++) {
		const struct snap_vm *vm = &h->vms[i];

		if (!on_path && !h->passed_only) {
			sample_vm_with(b, "dbavm_vm_lost_packets_total", m, i, "cause=\"policy\"");
			put_u64(b, vm->total.dropped_pkts);
			put(b, "\n", 1);
		}
		if (on_path || h->vms[i].delay[SLA_EGRESS].measured) {
			sample_vm_with(b, "dbavm_vm_lost_packets_total", m, i, "cause=\"path\"");
			put_u64(b, on_path ? vm->total.dropped_pkts
					   : h->vms[i].delay[SLA_EGRESS].lost *
						     (uint64_t)h->sample_every);
			put(b, "\n", 1);
		}
	}
}

enum vif_gauge { LIMIT, DEMAND, ALLOC };

static void render_vif_gauges(struct buf *b, const struct metrics *m, const struct snapshot *h)
{
	static const struct {
		const char *name, *help;
		enum vif_gauge what;
		enum alloc_res r;
	} g[] = {
		{ "dbavm_vif_limit_bytes_per_second", "Byte rate the enforcer allows.", LIMIT,
		  ALLOC_BPS },
		{ "dbavm_vif_limit_packets_per_second", "Packet rate the enforcer allows.", LIMIT,
		  ALLOC_PPS },
		{ "dbavm_vif_demand_bytes_per_second", "Byte rate the allocator saw demanded.",
		  DEMAND, ALLOC_BPS },
		{ "dbavm_vif_demand_packets_per_second", "Packet rate the allocator saw demanded.",
		  DEMAND, ALLOC_PPS },
		{ "dbavm_vif_allocated_bytes_per_second", "Byte rate allocated (a_i).", ALLOC,
		  ALLOC_BPS },
		{ "dbavm_vif_allocated_packets_per_second", "Packet rate allocated (a_i).", ALLOC,
		  ALLOC_PPS },
	};

	for (size_t f = 0; f < sizeof(g) / sizeof(g[0]); f++) {
		size_t len = strlen(g[f].name), k = 0;

		family(b, g[f].name, "gauge", g[f].help);
		for (size_t i = 0; i < h->n_vms; i++) {
			const struct snap_vm *vm = &h->vms[i];

			for (size_t j = 0; j < vm->n_vifs; j++, k++) {
				for (int d = 0; d < SLA_NDIR; d++) {
					const struct snap_side *sd = &vm->vifs[j].side[d];
					const struct alloc_vif_out *o = &sd->alloc;
					uint64_t v;

					if (!sd->have_alloc || (!sd->attached && d != SLA_EGRESS))
						continue;
					v = g[f].what == LIMIT	  ? o->limit[g[f].r]
					    : g[f].what == DEMAND ? o->demand[g[f].r]
								  : o->alloc[g[f].r];
					sample(b, g[f].name, len, VIF_LABEL(m, k, d));
					if (g[f].r == ALLOC_BPS)
						put_bits_as_bytes(b, v);
					else
						put_rate(b, v);
					put(b, "\n", 1);
				}
			}
		}
	}
}

/* "Allowance exceeded": per vif, direction and resource, the packets dropped or held because
 * the limit bound, and how long it bound; only where the enforcer counts them. */
static void render_limited(struct buf *b, const struct metrics *m, const struct snapshot *h)
{
	static const char *const names[] = { "dbavm_vif_limited_packets_total",
					     "dbavm_vif_limited_seconds_total" };
	static const char *const helps[] = {
		"Packets dropped or held (queued past the burst) because the limit bound (under "
		"xen-credit an estimate: the packets that passed while the credit bound).",
		"Time the limit bound: the periods in which it dropped or held a packet (under "
		"xen-credit an estimate: the periods in which the credit bound)."
	};
	static const char *const res[MEASURE_NRES] = { "bps", "pps" };

	for (int f = 0; f < 2; f++) {
		size_t k = 0;

		family(b, names[f], "counter", helps[f]);
		for (size_t i = 0; i < h->n_vms; i++) {
			const struct snap_vm *vm = &h->vms[i];

			for (size_t j = 0; j < vm->n_vifs; j++, k++) {
				for (int d = 0; d < SLA_NDIR; d++) {
					const struct snap_side *sd = &vm->vifs[j].side[d];

					if (!sd->have_cnt || !sd->cnt.limited_known)
						continue;
					for (int r = 0; r < MEASURE_NRES; r++) {
						sample_vif_with(b, names[f], m, k, d, "resource",
								res[r]);
						if (f)
							put_ns_as_seconds(b, sd->limited_ns[r]);
						else
							put_u64(b, sd->total.limited_pkts[r]);
						put(b, "\n", 1);
					}
				}
			}
		}
	}
}

/* xen-credit: the vifs' shared rings (state_json.c's ring), only where they were read. */
static void render_rings(struct buf *b, const struct metrics *m, const struct snapshot *h)
{
	static const char *const names[] = { "dbavm_vif_ring_backlog_slots",
					     "dbavm_vif_credit_waiting" };
	static const char *const helps[] = {
		"Requests the guest queued on its transmit ring that netback has not taken "
		"(xen-credit, netback's debugfs).",
		"1 while netback waits for its credit to take more."
	};

	for (int f = 0; f < 2; f++) {
		size_t k = 0;

		family(b, names[f], "gauge", helps[f]);
		for (size_t i = 0; i < h->n_vms; i++) {
			const struct snap_vm *vm = &h->vms[i];

			for (size_t j = 0; j < vm->n_vifs; j++, k++) {
				const struct snap_side *v = &vm->vifs[j].side[SLA_EGRESS];

				if (!v->have_cnt || !v->cnt.ring_known)
					continue;
				sample(b, names[f], strlen(names[f]), VIF_LABEL(m, k, SLA_EGRESS));
				put_u64(b, f ? v->cnt.credit_waiting : v->cnt.ring_backlog_slots);
				put(b, "\n", 1);
			}
		}
	}
}

static void render_vm_gauges(struct buf *b, const struct metrics *m, const struct snapshot *h)
{
	static const char *const names[] = { "dbavm_vm_sla_min_bytes_per_second",
					     "dbavm_vm_sla_max_bytes_per_second",
					     "dbavm_vm_sla_min_packets_per_second",
					     "dbavm_vm_sla_max_packets_per_second",
					     "dbavm_vm_sla_priority",
					     "dbavm_vm_sla_weight",
					     "dbavm_vm_present" };
	static const char *const helps[] = {
		"SLA guaranteed byte rate.",
		"SLA maximum byte rate (+Inf: unlimited).",
		"SLA guaranteed packet rate.",
		"SLA maximum packet rate (+Inf: unlimited).",
		"SLA priority class (0 is served first).",
		"SLA weight within its class.",
		"1 if the VM is on this host now, 0 if only its SLA is known."
	};

	for (int f = 0; f < 7; f++) {
		size_t len = strlen(names[f]);

		family(b, names[f], "gauge", helps[f]);
		for (size_t i = 0; i < h->n_vms; i++) {
			const struct snap_vm *vm = &h->vms[i];
			const struct sla *s = &vm->sla_in_force.dir[SLA_EGRESS];

			sample(b, names[f], len, VM_LABEL(m, i));
			switch (f) {
			case 0:
				put_bits_as_bytes(b, s->min_bps);
				break;
			case 1:
				put_bits_as_bytes(b, s->max_bps);
				break;
			case 2:
				put_rate(b, s->min_pps);
				break;
			case 3:
				put_rate(b, s->max_pps);
				break;
			case 4:
				put_u64(b, s->priority);
				break;
			case 5:
				put_u64(b, s->weight);
				break;
			default:
				put_u64(b, vm->present);
			}
			put(b, "\n", 1);
		}
	}
}

static void uplink_sample(struct buf *b, const char *name, const char *uplink, const char *resource)
{
	puts_(b, name);
	puts_(b, "{uplink=\"");
	put_label_value(b, uplink);
	if (resource) {
		puts_(b, "\",resource=\"");
		puts_(b, resource);
	}
	puts_(b, "\"} ");
}

static void render_uplinks(struct buf *b, const struct snapshot *h)
{
	family(b, "dbavm_uplink_capacity_bytes_per_second", "gauge",
	       "Uplink byte-rate capacity (+Inf: unlimited).");
	for (size_t u = 0; u < h->n_uplinks; u++) {
		const struct uplink *up = &h->uplinks[u];

		uplink_sample(b, "dbavm_uplink_capacity_bytes_per_second", up->cfg.name, NULL);
		put_bits_as_bytes(b, up->cfg.capacity_bps ? up->cfg.capacity_bps : UINT64_MAX);
		put(b, "\n", 1);
	}
	family(b, "dbavm_uplink_committed_bytes_per_second", "gauge",
	       "Sum of the byte-rate guarantees of the vifs on the uplink.");
	for (size_t u = 0; u < h->n_uplinks; u++) {
		uplink_sample(b, "dbavm_uplink_committed_bytes_per_second", h->uplinks[u].cfg.name,
			      NULL);
		put_bits_as_bytes(b, h->uplinks[u].pool[SLA_EGRESS][ALLOC_BPS].committed);
		put(b, "\n", 1);
	}
	family(b, "dbavm_uplink_overcommitted", "gauge",
	       "1 if the guarantees on the uplink exceed its capacity and were scaled down.");
	for (size_t u = 0; u < h->n_uplinks; u++) {
		uplink_sample(b, "dbavm_uplink_overcommitted", h->uplinks[u].cfg.name, "bps");
		put_u64(b, h->uplinks[u].pool[SLA_EGRESS][ALLOC_BPS].overcommitted);
		put(b, "\n", 1);
		if (!h->uplinks[u].cfg.capacity_pps)
			continue;
		uplink_sample(b, "dbavm_uplink_overcommitted", h->uplinks[u].cfg.name, "pps");
		put_u64(b, h->uplinks[u].pool[SLA_EGRESS][ALLOC_PPS].overcommitted);
		put(b, "\n", 1);
	}
	family(b, "dbavm_host_capacity_packets_per_second", "gauge",
	       "The host's packet-rate budget (+Inf: unlimited).");
	puts_(b, "dbavm_host_capacity_packets_per_second ");
	put_rate(b, h->host_capacity_pps ? h->host_capacity_pps : UINT64_MAX);
	put(b, "\n", 1);
	family(b, "dbavm_vif_floor_bytes_per_second", "gauge",
	       "Every vif's least bit-rate guarantee (--floor-bps), in bytes; 0: none.");
	puts_(b, "dbavm_vif_floor_bytes_per_second ");
	put_bits_as_bytes(b, h->floor[ALLOC_BPS]);
	put(b, "\n", 1);
	family(b, "dbavm_vif_floor_packets_per_second", "gauge",
	       "Every vif's least packet-rate guarantee (--floor-pps); 0: none.");
	puts_(b, "dbavm_vif_floor_packets_per_second ");
	put_u64(b, h->floor[ALLOC_PPS]);
	put(b, "\n", 1);
	family(b, "dbavm_host_committed_packets_per_second", "gauge",
	       "Sum of the effective packet-rate minimums drawn on the host's budget.");
	puts_(b, "dbavm_host_committed_packets_per_second ");
	put_u64(b, h->host_pps_pool.committed);
	put(b, "\n", 1);
}

static void render_loop(struct buf *b, const struct metrics_info *info, const struct snapshot *s)
{
	uint64_t cum = 0;

	family(b, "dbavm_build_info", "gauge", "The running dbavmd: version and configuration.");
	puts_(b, "dbavm_build_info{version=\"" DBAVM_VERSION "\",platform=\"");
	put_label_value(b, info->platform);
	puts_(b, "\",enforcer=\"");
	put_label_value(b, info->enforcer);
	puts_(b, "\",mode=\"");
	put_label_value(b, info->mode);
	puts_(b, "\"} 1\n");
	family(b, "dbavm_loop_period_seconds", "gauge", "The control period.");
	puts_(b, "dbavm_loop_period_seconds ");
	put_us_as_seconds(b, (uint64_t)info->period_ms * 1000);
	put(b, "\n", 1);
	family(b, "dbavm_loop_ticks_total", "counter", "Periods completed.");
	puts_(b, "dbavm_loop_ticks_total ");
	put_u64(b, s->tick);
	put(b, "\n", 1);
	family(b, "dbavm_loop_time_seconds", "gauge",
	       "The agent's clock when the last period read the counters, from its start: where "
	       "the time its counters cover ends (rates over its own time, whatever the periods' "
	       "lengths).");
	puts_(b, "dbavm_loop_time_seconds ");
	put_us_as_seconds(b, s->read_ns / 1000);
	put(b, "\n", 1);
	family(b, "dbavm_loop_lateness_seconds", "histogram",
	       "How late each control period started after it was due.");
	for (int i = 0; i <= CONTROL_N_LATENESS; i++) {
		cum += s->lateness_count[i];
		puts_(b, "dbavm_loop_lateness_seconds_bucket{le=\"");
		if (i < CONTROL_N_LATENESS)
			put_us_as_seconds(b, control_lateness_bucket_us[i]);
		else
			puts_(b, "+Inf");
		puts_(b, "\"} ");
		put_u64(b, cum);
		put(b, "\n", 1);
	}
	puts_(b, "dbavm_loop_lateness_seconds_sum ");
	put_us_as_seconds(b, s->lateness_sum_ns / 1000);
	puts_(b, "\ndbavm_loop_lateness_seconds_count ");
	put_u64(b, s->lateness_n);
	put(b, "\n", 1);
	family(b, "dbavm_slas_forgotten_total", "counter",
	       "SLAs dropped because their VM was absent for --forget-absent-after.");
	puts_(b, "dbavm_slas_forgotten_total ");
	put_u64(b, s->slas_forgotten);
	put(b, "\n", 1);
	family(b, "dbavm_loop_overruns_total", "counter",
	       "Periods the loop started late by a whole period or more.");
	puts_(b, "dbavm_loop_overruns_total ");
	put_u64(b, s->overruns);
	put(b, "\n", 1);
	if (s->samples_delay) {
		family(b, "dbavm_delay_samples_unmatched_total", "counter",
		       "Delay samples dropped because the table of samples in flight was full.");
		puts_(b, "dbavm_delay_samples_unmatched_total ");
		put_u64(b, s->delay_overflows);
		put(b, "\n", 1);
	}
}

static void counter_line(struct buf *b, const char *name, const char *type, const char *help,
			 uint64_t v)
{
	family(b, name, type, help);
	puts_(b, name);
	put(b, " ", 1);
	put_u64(b, v);
	put(b, "\n", 1);
}

/* With --os-credentials: how the Placement syncs go, and per VM what Nova allocated. */
static void render_placement(struct buf *b, const struct metrics *m, const struct snapshot *h,
			     const struct placement_status *st)
{
	static const char *const names[] = { "dbavm_vm_placement_allocated_bytes_per_second",
					     "dbavm_vm_placement_allocated_packets_per_second",
					     "dbavm_vm_placement_mismatch" };
	static const char *const helps[] = {
		"Byte rate the orchestrator allocated to the VM in Placement "
		"(NET_BW_EGR_KILOBIT_PER_SEC).",
		"Packet rate the orchestrator allocated to the VM in Placement "
		"(NET_PACKET_RATE_KILOPACKET_PER_SEC and NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC).",
		"1 if the VM's Placement allocation differs from its SLA's minimums."
	};

	counter_line(b, "dbavm_placement_sync_attempts_total", "counter",
		     "Syncs with Placement started.", st->attempts);
	counter_line(b, "dbavm_placement_sync_failures_total", "counter",
		     "Syncs with Placement that failed.", st->failures);
	counter_line(b, "dbavm_placement_generation_conflicts_total", "counter",
		     "Placement writes refused for a concurrent update, then read again.",
		     st->conflicts);
	counter_line(b, "dbavm_placement_tokens_total", "counter", "Keystone tokens obtained.",
		     st->tokens);
	counter_line(b, "dbavm_placement_in_sync", "gauge",
		     "1 if the last sync succeeded and the host has not changed since.",
		     st->in_sync);
	counter_line(b, "dbavm_placement_last_success_timestamp_seconds", "gauge",
		     "When a sync last succeeded, in seconds since the epoch; 0: never.",
		     (uint64_t)st->last_success_unix);
	struct placement_vm *pv = calloc(h->n_vms ? h->n_vms : 1, sizeof(*pv));

	if (!pv) {
		b->oom = true;
		return;
	}
	for (size_t i = 0; i < h->n_vms; i++) /* once per VM, not once per family */
		placement_vm(st, &h->vms[i], &pv[i]);
	for (int f = 0; f < 3; f++) {
		size_t len = strlen(names[f]);

		family(b, names[f], "gauge", helps[f]);
		for (size_t i = 0; i < h->n_vms; i++) {
			if (!pv[i].known)
				continue;
			sample(b, names[f], len, VM_LABEL(m, i));
			if (f == 0)
				put_bits_as_bytes(b, pv[i].alloc_bps);
			else
				put_u64(b, f == 1 ? pv[i].alloc_pps : pv[i].mismatch);
			put(b, "\n", 1);
		}
	}
	free(pv);
}

/* Each port SLA, where it came from: the API, or Neutron (which policy, which revision). */
static void render_port_slas(struct buf *b, const struct snapshot *h)
{
	static const char name[] = "dbavm_port_sla_info";

	family(b, name, "gauge",
	       "1 for each port SLA; source: api, or neutron with the QoS policy and its "
	       "revision.");
	for (size_t i = 0; i < h->n_ports; i++) {
		const struct sla_source *src = &h->ports[i].sla.source;

		puts_(b, name);
		puts_(b, "{port=\"");
		put_label_value(b, h->ports[i].key);
		if (src->from == SLA_FROM_NEUTRON) {
			puts_(b, "\",source=\"neutron\",policy_id=\"");
			put_label_value(b, src->policy_id);
			puts_(b, "\",policy_revision=\"");
			put_u64(b, src->revision);
			puts_(b, "\",neutron_port=\"");
			put_label_value(b, src->port_id);
			puts_(b, "\"} 1\n");
		} else {
			puts_(b, "\",source=\"api\"} 1\n");
		}
	}
}

/* With --neutron: how following it goes, and its ports by what became of their policies. */
static void render_neutron(struct buf *b, const struct neutron_status *st)
{
	uint64_t n[NEUTRON_N_STATES] = { 0 };

	counter_line(b, "dbavm_neutron_polls_total", "counter",
		     "Polls of Neutron that read the host's ports and their policies.", st->polls);
	counter_line(b, "dbavm_neutron_requests_total", "counter",
		     "Requests made to Neutron and Keystone.", st->requests);
	counter_line(b, "dbavm_neutron_failures_total", "counter",
		     "Polls of Neutron that failed (the SLAs in force stayed).", st->failures);
	counter_line(
		b, "dbavm_neutron_up", "gauge",
		"1 if the last poll of Neutron read both lists, else 0 (GET /readyz says why).",
		st->problem == NULL);
	counter_line(b, "dbavm_neutron_problem_since_timestamp_seconds", "gauge",
		     "Since when Neutron cannot be read, in seconds since the epoch; 0: it can.",
		     st->problem ? (uint64_t)st->problem_since_unix : 0);
	counter_line(
		b, "dbavm_neutron_last_success_timestamp_seconds", "gauge",
		"When Neutron was last read and applied, in seconds since the epoch; 0: never.",
		(uint64_t)st->last_success_unix);
	for (size_t i = 0; i < st->n_ports; i++)
		n[st->ports[i].state]++;
	family(b, "dbavm_neutron_ports", "gauge",
	       "Neutron's ports bound to this host, by what became of their policy.");
	for (int k = 0; k < NEUTRON_N_STATES; k++) {
		puts_(b, "dbavm_neutron_ports{state=\"");
		puts_(b, neutron_state_name[k]);
		puts_(b, "\"} ");
		put_u64(b, n[k]);
		put(b, "\n", 1);
	}
}

/* ---- the text and its life ---- */

struct metrics *metrics_new(const struct metrics_info *info)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m)
		m->info = *info;
	return m;
}

void metrics_text_release(void *p)
{
	struct metrics_text *t = p;

	if (t && --t->refs == 0)
		free(t);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	metrics_text_release(m->text);
	free(m->labels);
	free(m->vm_label);
	free(m->vif_label);
	free(m->vm_label_len);
	free(m->vif_label_len);
	free(m);
}

const char *metrics_text_data(const struct metrics_text *t, size_t *len)
{
	*len = t->len;
	return t->data;
}

static void render_http(struct buf *b, const struct http_counts *hc)
{
	static const char *const why[HTTP_CUT_N] = {
		[HTTP_CUT_REQUEST_TIMEOUT] = "request_timeout",
		[HTTP_CUT_SLOW_HEAD] = "slow_head",
		[HTTP_CUT_ADDRESS_LIMIT] = "address_limit",
		[HTTP_CUT_CONNECTION_LIMIT] = "connection_limit",
	};

	family(b, "dbavm_http_connections_closed_total", "counter",
	       "API connections the agent closed before their request was in (TCP and the local "
	       "socket), by why: the request timeout, a head under 256 bytes a second, or the "
	       "slowest at the limit of its address or of all, for a new one.");
	for (int i = 0; i < HTTP_CUT_N; i++) {
		puts_(b, "dbavm_http_connections_closed_total{why=\"");
		puts_(b, why[i]);
		puts_(b, "\"} ");
		put_u64(b, hc->cut[i]);
		put(b, "\n", 1);
	}
}

static struct metrics_text *render(struct metrics *m, const struct snapshot *h,
				   const struct placement_status *pst,
				   const struct neutron_status *nst, const struct http_counts *hc,
				   const struct state_status *ss, bool ready)
{
	struct buf b = { 0 };
	struct metrics_text *t;
	size_t head = offsetof(struct metrics_text, data);

	if ((!m->have_labels || m->labels_generation != h->model_generation) && build_labels(m, h))
		return NULL;
	/* The header of struct metrics_text first, the text after it: one allocation. */
	reserve(&b, head + m->last_len + m->last_len / 8 + 4096);
	b.len = head;
	render_loop(&b, &m->info, h);
	if (hc)
		render_http(&b, hc);
	counter_line(&b, "dbavm_ready", "gauge", "1 when GET /readyz answers ready, else 0.",
		     ready);
	if (ss) {
		counter_line(&b, "dbavm_state_write_failures_total", "counter",
			     "Changes the agent failed to write to its state directory (each "
			     "refused: nothing changed).",
			     ss->write_failures);
		counter_line(&b, "dbavm_state_writable", "gauge",
			     "0 from a failed write to the state directory until a write succeeds "
			     "again (GET /readyz says why), else 1.",
			     !ss->failing);
		counter_line(&b, "dbavm_state_lost", "gauge",
			     "1 while SLAs lost at a start (all, or the changes a damaged record "
			     "held: GET /readyz says which) are not acknowledged (POST "
			     "/host/state/ack), else 0.",
			     ss->lost);
		counter_line(&b, "dbavm_state_changes_lost", "gauge",
			     "Changes on disk that the last start could not read back (0 when it "
			     "read them all).",
			     ss->changes_lost);
	}
	counter_line(&b, "dbavm_vms_refused", "gauge",
		     "VMs the platform shows that the agent left out for their names (GET /host "
		     "says which and why); not limited.",
		     h->n_refused);
	counter_line(&b, "dbavm_enforcer_sync_failures_total", "counter",
		     "Periods whose enforcer sync (its own state on the host) failed.",
		     h->sync_failures);
	counter_line(&b, "dbavm_enforcer_apply_failures_total", "counter",
		     "Limits the enforcer failed to apply to a vif.", h->apply_failures);
	render_uplinks(&b, h);
	render_vm_gauges(&b, m, h);
	render_counters(&b, m, h);
	render_vif_gauges(&b, m, h);
	render_rings(&b, m, h);
	render_limited(&b, m, h);
	render_delay(&b, m, h);
	render_counted(&b, m, h);
	render_port_slas(&b, h);
	if (pst)
		render_placement(&b, m, h, pst);
	if (nst)
		render_neutron(&b, nst);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	t = (struct metrics_text *)b.p;
	t->refs = 1;
	t->len = b.len - head;
	m->last_len = t->len;
	return t;
}

struct metrics_text *metrics_get(struct metrics *m, const struct snapshot *s,
				 const struct placement_status *pst,
				 const struct neutron_status *nst, const struct http_counts *hc,
				 const struct state_status *ss, bool ready)
{
	/* The text stands for one snapshot of the model, and one readiness. */
	if (!m->text || m->text_seq != s->seq || m->text_ready != ready) {
		struct metrics_text *t = render(m, s, pst, nst, hc, ss, ready);

		if (!t)
			return NULL;
		metrics_text_release(m->text);
		m->text = t;
		m->text_seq = s->seq;
		m->text_ready = ready;
	}
	m->text->refs++;
	return m->text;
}
