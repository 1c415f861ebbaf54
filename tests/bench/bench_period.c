/*
 * bench_period: what one control period costs the agent (control_tick: read every vif's
 * counters, allocate, apply), on a modelled host of VMS VMs with PORTS ports each, every vif
 * busy (or, with idle, none: a quiet host, as bench_scale.sh measures the real agent), the enforcer
 * holding egress only (DIRS 1) or both directions (DIRS 2); with two ports, each VM's second port
 * is under an SLA of its own (a unit of its own in the allocator). The platform and enforcer here
 * are the bench's own, cheap and exact, so that what is counted is the agent's part; the real
 * enforcer's system calls add to it, not measured here. bench_period VMS PORTS DIRS PERIODS [idle]
 * Prints the time per period; under callgrind (bench_period.sh) only run_periods is counted,
 * so the instructions per period are the count over PERIODS.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "log.h"

static unsigned n_vms, n_ports, n_dirs;
static bool idle; /* no traffic: what a quiet host's periods cost */
static uint64_t now_ns;

static int scan(struct platform *p, uint64_t t, struct platform_scan *s)
{
	static const struct platform_uplink up = { "up0", 40000000000ull, 0 };
	struct platform_host h = { (struct platform_uplink *)&up, 1, 50000000 };
	int rc = platform_scan_start(s, &h);

	(void)p, (void)t;
	for (unsigned m = 0; !rc && m < n_vms; m++) {
		struct platform_vm vm;

		memset(&vm, 0, sizeof(vm));
		snprintf(vm.id, sizeof(vm.id), "vm%u", m);
		vm.domid = -1;
		for (unsigned k = 0; k < n_ports; k++) {
			struct platform_vif *v = platform_vm_add_vif(&vm);

			if (!v)
				return -ENOMEM;
			snprintf(v->id, sizeof(v->id), "vif%u.%u", m, k);
			char mac[32];

			snprintf(mac, sizeof(mac), "02:00:%02x:%02x:%02x:%02x", k & 0xff,
				 m >> 16 & 0xff, m >> 8 & 0xff, m & 0xff);
			memcpy(v->mac, mac, sizeof(v->mac) - 1);
			snprintf(v->uplink, sizeof(v->uplink), "up0");
		}
		rc = platform_scan_add_vm(s, &vm);
	}
	return rc;
}

static void plat_close(struct platform *p)
{
	(void)p;
}

static const struct platform_ops plat_ops = { .name = "bench", .scan = scan, .close = plat_close };

/* Each vif direction offers a steady 2 Mbit/s of 1000-byte frames. */
struct side {
	struct vif_counters c;
	uint64_t at;
};

static int attach(struct enforcer *e, struct enf_vif *v)
{
	(void)e;
	v->state = calloc(1, sizeof(struct side));
	return v->state ? 0 : -ENOMEM;
}

static void detach(struct enforcer *e, struct enf_vif *v)
{
	(void)e;
	free(v->state);
	v->state = NULL;
}

static int sync_(struct enforcer *e, uint64_t t)
{
	(void)e;
	now_ns = t;
	return 0;
}

static int read_counters(struct enforcer *e, struct enf_vif *v, struct vif_counters *out)
{
	struct side *s = v->state;
	uint64_t pkts = idle ? 0 : (now_ns - s->at) / 4000000; /* 250 packet/s */

	(void)e;
	s->at += pkts * 4000000;
	s->c.offered_pkts += pkts;
	s->c.offered_bytes += pkts * 1000;
	s->c.passed_pkts += pkts;
	s->c.passed_bytes += pkts * 1000;
	s->c.limited_known = true;
	*out = s->c;
	return 0;
}

/* Nothing counted since the last reading (a real enforcer's pages of counters that did not
 * move: netfront.c). */
static bool unchanged(struct enforcer *e, struct enf_vif *v)
{
	const struct side *s = v->state;

	(void)e;
	return idle || now_ns - s->at < 4000000;
}

static int apply(struct enforcer *e, struct enf_vif *v, const struct enf_limit *l)
{
	(void)e, (void)v, (void)l;
	return 0;
}

static void enf_close(struct enforcer *e)
{
	(void)e;
}

static struct enforcer_ops enf_ops = {
	.name = "bench",
	.sees_offered = true,
	.attach = attach,
	.detach = detach,
	.sync = sync_,
	.read_counters = read_counters,
	.unchanged = unchanged,
	.apply = apply,
	.close = enf_close,
	.simulated_time = true,
};

/* The periods measured: callgrind counts this function alone (bench_period.sh). */
int run_periods(struct control *ctl, unsigned n, uint64_t period_ns);
__attribute__((noinline)) int run_periods(struct control *ctl, unsigned n, uint64_t period_ns)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = control_tick(ctl, now_ns + period_ns);

		if (rc)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct platform plat = { &plat_ops, NULL };
	struct enforcer enf = { &enf_ops, NULL, 0 };
	struct control *ctl;
	unsigned periods;
	struct timespec t0, t1;
	struct sla_spec vm_sla, port_sla;
	char key[32];

	if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "idle"))) {
		fprintf(stderr, "usage: bench_period VMS PORTS(1|2) DIRS(1|2) PERIODS [idle]\n");
		return 2;
	}
	n_vms = (unsigned)atoi(argv[1]);
	n_ports = (unsigned)atoi(argv[2]);
	n_dirs = (unsigned)atoi(argv[3]);
	periods = (unsigned)atoi(argv[4]);
	idle = argc == 6;
	if (!n_vms || n_ports < 1 || n_ports > 2 || n_dirs < 1 || n_dirs > 2 || !periods)
		return 2;
	log_set_level(LOG_LEVEL_ERROR);
	enf_ops.holds_ingress = n_dirs == 2;
	if (control_new(&ctl, ALLOC_WORK_CONSERVING, (const uint64_t[ALLOC_NRES]){ 100000, 10 },
			&plat, &enf))
		return 1;
	control_platform_event(ctl, PLATFORM_RESCAN);
	sla_spec_default(&vm_sla);
	vm_sla.dir[SLA_EGRESS] = (struct sla){ 2, 1, 1000000, 10000000, 0, SLA_UNLIMITED };
	vm_sla.dir[SLA_INGRESS] = vm_sla.dir[SLA_EGRESS];
	port_sla = vm_sla;
	port_sla.dir[SLA_EGRESS].priority = port_sla.dir[SLA_INGRESS].priority = 1;
	for (unsigned m = 0; m < n_vms; m++) {
		char id[PLATFORM_ID_MAX];

		snprintf(id, sizeof(id), "vm%u", m);
		if (control_set_sla(ctl, id, &vm_sla))
			return 1;
		snprintf(key, sizeof(key), "02:00:01:%02x:%02x:%02x", m >> 16 & 0xff, m >> 8 & 0xff,
			 m & 0xff);
		if (n_ports == 2 && control_set_port_sla(ctl, key, &port_sla))
			return 1;
	}
	/* Found, attached and limited, then a few periods to steady state: not counted (not
	 * through run_periods, which callgrind counts). */
	for (unsigned i = 0; i <= 5; i++)
		if (control_tick(ctl, now_ns + (i ? 10000000 : 0)))
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (run_periods(ctl, periods, 10000000))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("vms=%u ports=%u dirs=%u periods=%u%s us_per_period=%.1f\n", n_vms, n_ports, n_dirs,
	       periods, idle ? " idle" : "",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 /
		       periods);
	control_free(ctl);
	return 0;
}
