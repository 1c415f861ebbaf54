/*
 * The simulated host's counters over random scenarios, run through the real control pipeline:
 * every counter monotonic and offered = passed + dropped at every reading, no vif's passed
 * rate above what it offered, no uplink carrying more than its capacity, and no "counters
 * reset" logged for a vif that was never reset (the sim once derived dropped from doubles,
 * which went back by one and was read as a reset: 13.5 Gbit/s of demand on a 1 Gbit/s uplink).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control_impl.h"
#include "scenario.h"
#include "sim.h"

#define SEEDS 120
#define TICKS 60
#define PERIOD_NS 100000000ull
#define MAX_VIFS 16

static uint64_t rng;

/* The first failure, reported once stderr is back (the agent's log goes to a file meanwhile,
 * and so would cmocka's message). */
static char failure[256];
#define FAIL(...) (failure[0] ? 0 : snprintf(failure, sizeof(failure), __VA_ARGS__))

static uint64_t rnd_below(uint64_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return n ? (rng * 2685821657736338717ull) % n : 0;
}

/* A random host: 1-2 uplinks, 1-6 VMs with 1-2 vifs, SLAs or none, demand steps of random
 * rates and frame sizes, VMs that arrive and leave. */
static void write_scenario(FILE *f)
{
	int n_up = 1 + (int)rnd_below(2), n_vms = 1 + (int)rnd_below(6);

	fprintf(f, "{\"uplinks\": [");
	for (int u = 0; u < n_up; u++)
		fprintf(f, "%s{\"name\": \"eth%d\", \"capacity_bps\": %llu}", u ? "," : "", u,
			(unsigned long long)(rnd_below(5) == 0 ? 0 : 1 + rnd_below(2000000000)));
	fprintf(f, "], \"host\": {\"capacity_pps\": %llu}, \"vms\": [",
		(unsigned long long)(rnd_below(4) == 0 ? 0 : 1000 + rnd_below(400000)));
	for (int m = 0; m < n_vms; m++) {
		int n_vifs = 1 + (int)rnd_below(2);
		uint64_t min = rnd_below(300000000);

		fprintf(f, "%s{\"id\": \"vm%d\", \"start_ms\": %llu", m ? "," : "", m,
			(unsigned long long)(rnd_below(3) == 0 ? rnd_below(3000) : 0));
		if (rnd_below(3) == 0)
			fprintf(f, ", \"stop_ms\": %llu",
				(unsigned long long)(3000 + rnd_below(3000)));
		if (rnd_below(3))
			fprintf(f,
				", \"sla\": {\"priority\": %d, \"weight\": %d, \"bandwidth\": "
				"{\"min_bps\": %llu, \"max_bps\": %llu}, \"packet_rate\": "
				"{\"min_pps\": "
				"%d, \"max_pps\": %d}}",
				(int)rnd_below(8), 1 + (int)rnd_below(4), (unsigned long long)min,
				(unsigned long long)(min + rnd_below(1000000000)),
				(int)rnd_below(1000), 1000 + (int)rnd_below(300000));
		fprintf(f, ", \"vifs\": [");
		for (int v = 0; v < n_vifs; v++) {
			int steps = 1 + (int)rnd_below(4);
			uint64_t t = 0;

			fprintf(f, "%s{\"id\": \"vif%d.%d\", \"uplink\": \"eth%d\", \"demand\": [",
				v ? "," : "", m, v, (int)rnd_below((uint64_t)n_up));
			for (int s = 0; s < steps; s++) {
				fprintf(f, "%s{\"t_ms\": %llu, \"bps\": %llu, \"frame_bytes\": %d}",
					s ? "," : "", (unsigned long long)t,
					(unsigned long long)(rnd_below(4) == 0
								     ? 0
								     : rnd_below(3000000000)),
					42 + (int)rnd_below(rnd_below(2) ? 1473 : 65000));
				t += 1 + rnd_below(2500);
			}
			fprintf(f, "]}");
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
}

struct seen {
	const struct vif *vif;
	struct vif_counters cnt;
};

static void check_counters(struct control *ctl, struct seen *seen, size_t *n_seen,
			   unsigned long seed)
{
	const struct host *h = &ctl->host;
	struct seen next[MAX_VIFS];
	size_t n_next = 0;

	for (size_t u = 0; u < h->n_uplinks; u++) {
		uint64_t cap = h->uplinks[u].cfg.capacity_bps, sum = 0, slack = 0;

		for (size_t m = 0; m < h->n_vms; m++)
			for (size_t i = 0; i < h->vms[m]->n_vifs; i++) {
				const struct rate *r =
					&h->vms[m]->vifs[i]->side[SLA_EGRESS].rates.passed;

				if (h->vms[m]->vifs[i]->uplink != u)
					continue;
				sum += r->bps;
				/* A period's counts are whole bytes: each vif may round up by a
				 * byte in each of the period's intervals. */
				slack += 8 * 4 * (1000000000ull / PERIOD_NS);
			}
		if (cap && sum > cap + slack)
			FAIL("seed %lu: uplink %zu passed %llu > capacity %llu", seed, u,
			     (unsigned long long)sum, (unsigned long long)cap);
	}
	for (size_t m = 0; m < h->n_vms; m++) {
		for (size_t i = 0; i < h->vms[m]->n_vifs; i++) {
			const struct vif *vif = h->vms[m]->vifs[i];
			struct vif_counters c;

			if (ctl->enf->ops->read_counters(
				    ctl->enf, (struct enf_vif *)&vif->side[SLA_EGRESS].enf, &c))
				FAIL("seed %lu %s: counters unreadable", seed, vif->desc.id);
			if (c.offered_pkts != c.passed_pkts + c.dropped_pkts ||
			    c.offered_bytes != c.passed_bytes + c.dropped_bytes)
				FAIL("seed %lu %s: offered != passed + dropped", seed,
				     vif->desc.id);
			if (vif->side[SLA_EGRESS].rates.passed.bps >
				    vif->side[SLA_EGRESS].rates.offered.bps ||
			    vif->side[SLA_EGRESS].rates.passed.pps >
				    vif->side[SLA_EGRESS].rates.offered.pps)
				FAIL("seed %lu %s: passed above offered", seed, vif->desc.id);
			for (size_t k = 0; k < *n_seen; k++) {
				const struct vif_counters *p = &seen[k].cnt;

				if (seen[k].vif != vif)
					continue;
				if (c.offered_bytes < p->offered_bytes ||
				    c.offered_pkts < p->offered_pkts ||
				    c.passed_bytes < p->passed_bytes ||
				    c.passed_pkts < p->passed_pkts ||
				    c.dropped_bytes < p->dropped_bytes ||
				    c.dropped_pkts < p->dropped_pkts)
					FAIL("seed %lu %s: a counter went back", seed,
					     vif->desc.id);
			}
			if (n_next == MAX_VIFS) {
				FAIL("seed %lu: more than %d vifs", seed, MAX_VIFS);
				return;
			}
			next[n_next++] = (struct seen){ vif, c };
		}
	}
	memcpy(seen, next, n_next * sizeof(*next));
	*n_seen = n_next;
}

static void sim_counters_monotonic_and_never_reset(void **state)
{
	static const enum enforcer_kind models[] = { ENFORCER_NETFRONT, ENFORCER_NETBACK,
						     ENFORCER_NONE };
	char path[] = "/tmp/dbavm-sim-XXXXXX", logpath[] = "/tmp/dbavm-simlog-XXXXXX";
	int fd = mkstemp(path), logfd = mkstemp(logpath), saved = dup(2);
	char line[512];
	unsigned long resets = 0, lines = 0;
	FILE *logs;

	(void)state;
	assert_true(fd >= 0 && logfd >= 0 && saved >= 0);
	close(fd);
	/* Everything the agent logs goes to a file, read once all seeds have run. */
	assert_true(dup2(logfd, 2) == 2);
	for (unsigned long seed = 1; seed <= SEEDS && !failure[0]; seed++) {
		static const uint64_t floor[ALLOC_NRES] = { 100000, 10 };
		struct platform plat;
		struct enforcer enf;
		struct control ctl;
		struct seen seen[MAX_VIFS];
		size_t n_seen = 0;
		char err[256];
		FILE *f = fopen(path, "w");

		rng = seed * 0x9E3779B97F4A7C15ull;
		assert_non_null(f);
		write_scenario(f);
		fclose(f);
		memset(&plat, 0, sizeof(plat));
		memset(&enf, 0, sizeof(enf));
		if (sim_open(path, models[seed % 3], &plat, &enf, err, sizeof(err))) {
			FAIL("seed %lu: %.200s", seed, err);
			break;
		}
		if (control_init(&ctl, (enum alloc_mode)(seed / 3 % 2), floor, &plat, &enf))
			FAIL("seed %lu: control_init", seed);
		for (size_t i = 0; i < sim_scenario(&plat)->n_vms; i++) {
			const struct scenario_vm *vm = &sim_scenario(&plat)->vms[i];

			if (vm->has_sla && host_set_sla(&ctl.host, vm->id, &vm->sla))
				FAIL("seed %lu: host_set_sla", seed);
		}
		for (uint64_t k = 0; k <= TICKS && !failure[0]; k++) {
			if (control_tick(&ctl, k * PERIOD_NS))
				FAIL("seed %lu tick %llu: control_tick failed", seed,
				     (unsigned long long)k);
			check_counters(&ctl, seen, &n_seen, seed);
		}
		control_close(&ctl);
		enf.ops->close(&enf);
		plat.ops->close(&plat);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	logs = fdopen(logfd, "r");
	assert_non_null(logs);
	rewind(logs);
	while (fgets(line, sizeof(line), logs)) {
		lines++;
		if (strstr(line, "counters reset")) {
			resets++;
			print_message("%s", line);
		}
	}
	fclose(logs);
	unlink(path);
	unlink(logpath);
	if (failure[0])
		fail_msg("%s", failure);
	print_message("%d scenarios, %lu log lines, %lu counter resets\n", SEEDS, lines, resets);
	assert_true(lines > SEEDS); /* the log was captured: VMs appeared in every scenario */
	assert_int_equal(resets, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sim_counters_monotonic_and_never_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
