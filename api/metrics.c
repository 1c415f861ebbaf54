/*
 * metrics: renders the exposition into one growing buffer. Every family's samples are
 * contiguous, as the format requires, so the VMs are walked once per family. Numbers are
 * formatted by hand: with a thousand VMs there are tens of thousands of samples, and printf
 * per sample would dominate the scrape.
 *
 * Units are Prometheus base units: bytes and bytes per second (the SLA's bits / 8), packets,
 * seconds. Unlimited is +Inf.
 */
#include "metrics.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void reserve(struct buf *b, size_t more)
{
	char *n;
	size_t cap;

	if (b->oom || b->len + more <= b->cap)
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

static void put(struct buf *b, const char *s, size_t n)
{
	reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_u64(struct buf *b, uint64_t v)
{
	char tmp[24];
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

static void put_label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(b, "\\", 1);
		if (*s == '\n')
			puts_(b, "\\n");
		else
			put(b, s, 1);
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

/* name{vm="..."[,vif="..."]} and a space: the value follows. */
static void sample_vm(struct buf *b, const char *name, const struct vm *vm, const struct vif *vif)
{
	puts_(b, name);
	puts_(b, "{vm=\"");
	put_label_value(b, vm->id);
	if (vif) {
		puts_(b, "\",vif=\"");
		put_label_value(b, vif->id);
	}
	puts_(b, "\"} ");
}

enum counter_field { OFF_B, OFF_P, PAS_B, PAS_P, DRO_B, DRO_P };

static uint64_t counter_of(const struct vif_counters *c, enum counter_field f)
{
	switch (f) {
	case OFF_B:
		return c->offered_bytes;
	case OFF_P:
		return c->offered_pkts;
	case PAS_B:
		return c->passed_bytes;
	case PAS_P:
		return c->passed_pkts;
	case DRO_B:
		return c->dropped_bytes;
	case DRO_P:
		return c->dropped_pkts;
	}
	return 0;
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

static void render_counters(struct buf *b, const struct host *h)
{
	char name[64];

	for (int f = 0; f < 6; f++) {
		strcpy(name, "dbavm_vm_");
		strcat(name, counters[f].suffix);
		family(b, name, "counter", counters[f].help);
		for (size_t m = 0; m < h->n_vms; m++) {
			sample_vm(b, name, h->vms[m], NULL);
			put_u64(b, counter_of(&h->vms[m]->total, (enum counter_field)f));
			put(b, "\n", 1);
		}
		strcpy(name, "dbavm_vif_");
		strcat(name, counters[f].suffix);
		family(b, name, "counter", counters[f].help);
		for (size_t m = 0; m < h->n_vms; m++) {
			const struct vm *vm = h->vms[m];

			for (size_t i = 0; i < vm->n_vifs; i++) {
				sample_vm(b, name, vm, vm->vifs[i]);
				put_u64(b, counter_of(&vm->vifs[i]->total, (enum counter_field)f));
				put(b, "\n", 1);
			}
		}
	}
}

enum vif_gauge { LIMIT, DEMAND, ALLOC };

static void render_vif_gauges(struct buf *b, const struct host *h)
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

	for (size_t k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		family(b, g[k].name, "gauge", g[k].help);
		for (size_t m = 0; m < h->n_vms; m++) {
			const struct vm *vm = h->vms[m];

			for (size_t i = 0; i < vm->n_vifs; i++) {
				const struct vif *vif = vm->vifs[i];
				const struct alloc_vif_out *o = &vif->alloc;
				uint64_t v;

				if (!vif->have_alloc)
					continue;
				v = g[k].what == LIMIT	  ? o->limit[g[k].r]
				    : g[k].what == DEMAND ? o->demand[g[k].r]
							  : o->alloc[g[k].r];
				sample_vm(b, g[k].name, vm, vif);
				if (g[k].r == ALLOC_BPS)
					put_bits_as_bytes(b, v);
				else
					put_rate(b, v);
				put(b, "\n", 1);
			}
		}
	}
}

static void render_vm_gauges(struct buf *b, const struct host *h)
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

	for (int k = 0; k < 7; k++) {
		family(b, names[k], "gauge", helps[k]);
		for (size_t m = 0; m < h->n_vms; m++) {
			const struct vm *vm = h->vms[m];
			const struct sla *s = vm_sla(vm);

			sample_vm(b, names[k], vm, NULL);
			switch (k) {
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

static void render_uplinks(struct buf *b, const struct host *h)
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
		put_bits_as_bytes(b, h->uplinks[u].pool[ALLOC_BPS].committed);
		put(b, "\n", 1);
	}
	family(b, "dbavm_uplink_overcommitted", "gauge",
	       "1 if the guarantees on the uplink exceed its capacity and were scaled down.");
	for (size_t u = 0; u < h->n_uplinks; u++) {
		uplink_sample(b, "dbavm_uplink_overcommitted", h->uplinks[u].cfg.name, "bps");
		put_u64(b, h->uplinks[u].pool[ALLOC_BPS].overcommitted);
		put(b, "\n", 1);
		if (!h->uplinks[u].cfg.capacity_pps)
			continue;
		uplink_sample(b, "dbavm_uplink_overcommitted", h->uplinks[u].cfg.name, "pps");
		put_u64(b, h->uplinks[u].pool[ALLOC_PPS].overcommitted);
		put(b, "\n", 1);
	}
	family(b, "dbavm_host_capacity_packets_per_second", "gauge",
	       "The host's packet-rate budget (+Inf: unlimited).");
	puts_(b, "dbavm_host_capacity_packets_per_second ");
	put_rate(b, h->host_capacity_pps ? h->host_capacity_pps : UINT64_MAX);
	put(b, "\n", 1);
	family(b, "dbavm_host_committed_packets_per_second", "gauge",
	       "Sum of the packet-rate guarantees drawn on the host's budget.");
	puts_(b, "dbavm_host_committed_packets_per_second ");
	put_u64(b, h->host_pps_pool.committed);
	put(b, "\n", 1);
}

char *metrics_render(const struct control *ctl, const struct metrics_info *info, size_t *len)
{
	struct buf b = { 0 };

	family(&b, "dbavm_build_info", "gauge", "The running dbavmd: version and configuration.");
	puts_(&b, "dbavm_build_info{version=\"" DBAVM_VERSION "\",platform=\"");
	put_label_value(&b, info->platform);
	puts_(&b, "\",enforcer=\"");
	put_label_value(&b, info->enforcer);
	puts_(&b, "\",mode=\"");
	put_label_value(&b, info->mode);
	puts_(&b, "\"} 1\n");
	family(&b, "dbavm_loop_period_seconds", "gauge", "The control period.");
	puts_(&b, "dbavm_loop_period_seconds ");
	put_u64(&b, info->period_ms / 1000);
	put(&b, ".", 1);
	put_u64(&b, info->period_ms % 1000 / 100);
	put_u64(&b, info->period_ms % 100 / 10);
	put_u64(&b, info->period_ms % 10);
	put(&b, "\n", 1);
	family(&b, "dbavm_loop_ticks_total", "counter", "Periods completed.");
	puts_(&b, "dbavm_loop_ticks_total ");
	put_u64(&b, ctl->tick);
	put(&b, "\n", 1);
	family(&b, "dbavm_loop_overruns_total", "counter",
	       "Periods the loop started late by a whole period or more.");
	puts_(&b, "dbavm_loop_overruns_total ");
	put_u64(&b, ctl->overruns);
	put(&b, "\n", 1);
	render_uplinks(&b, &ctl->host);
	render_vm_gauges(&b, &ctl->host);
	render_counters(&b, &ctl->host);
	render_vif_gauges(&b, &ctl->host);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
