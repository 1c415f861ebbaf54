/*
 * bench_alloc: the allocator's time per period for 10 .. 100,000 vifs, median of many runs.
 *
 * Two hosts per size, both congested in both resources (the allocator's hardest work):
 *   spread     VMs in all 8 classes, so water-filling sorts only the class at the boundary;
 *   one-class  every vif in one class that cannot have what it wants: a full sort, the
 *              O(n log n) worst case.
 * Prints the median and p90 in microseconds, ns per vif, and the median divided by n log2 n
 * (flat if cost grows no faster than n log n). Target: 10,000 vifs under 1 ms.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct bench_host {
	struct alloc_in in;
	struct sla *vms;
	struct alloc_vif_in *vifs;
	struct alloc_uplink_in up[4];
	struct alloc_vif_out *vo;
	struct alloc_pool_out po[2][5];
	struct alloc_out out;
};

/* n vifs on 4 uplinks, 2 vifs per VM on average, offering 4x what the uplinks carry. */
static void build(struct bench_host *h, size_t n, int one_class)
{
	size_t n_vms = n / 2 ? n / 2 : 1;
	uint64_t cap_bps = 10000000000ull, share = 4 * 4 * cap_bps / n;

	memset(h, 0, sizeof(*h));
	h->vms = calloc(n_vms, sizeof(*h->vms));
	h->vifs = calloc(n, sizeof(*h->vifs));
	h->vo = calloc(n, sizeof(*h->vo));
	for (int u = 0; u < 4; u++)
		h->up[u] = (struct alloc_uplink_in){ cap_bps, 0 };
	for (size_t m = 0; m < n_vms; m++) {
		struct sla *s = &h->vms[m];

		s->priority = one_class ? 3 : (uint32_t)(rnd() % 8);
		s->weight = 1 + (uint32_t)(rnd() % 4);
		s->min_bps = rnd() % (cap_bps / (n_vms + 1) + 1) / 2;
		s->max_bps = rnd() % 3 ? s->min_bps + rnd() % (4 * share + 1) : SLA_UNLIMITED;
		s->min_pps = 0;
		s->max_pps = rnd() % 3 ? 1 + rnd() % 200000 : SLA_UNLIMITED;
	}
	for (size_t i = 0; i < n; i++) {
		struct alloc_vif_in *v = &h->vifs[i];

		v->vm = (uint32_t)(i < n_vms ? i : rnd() % n_vms);
		v->uplink = (uint32_t)(rnd() % 4);
		v->offered[ALLOC_BPS] = rnd() % (2 * share + 1);
		v->offered[ALLOC_PPS] = v->offered[ALLOC_BPS] / (8 * (64 + rnd() % 1437));
		v->limit[ALLOC_BPS] = v->limit[ALLOC_PPS] = ALLOC_UNLIMITED;
	}
	h->in = (struct alloc_in){
		.mode = ALLOC_WORK_CONSERVING,
		.sees_offered = true,
		.floor = { 100000, 10 }, /* the agent's defaults */
		.host_capacity_pps = 190000 * 4,
		.vms = h->vms,
		.n_vms = n_vms,
		.uplinks = h->up,
		.n_uplinks = 4,
		.vifs = h->vifs,
		.n_vifs = n,
	};
	h->out = (struct alloc_out){ h->vo, { h->po[0], h->po[1] } };
}

static void destroy(struct bench_host *h)
{
	free(h->vms);
	free(h->vifs);
	free(h->vo);
}

/* What is timed must be an allocation: every pool within its capacity, no vif allocated
 * above its limit. */
static int sane(const struct bench_host *h)
{
	for (size_t i = 0; i < h->in.n_vifs; i++)
		for (int r = 0; r < ALLOC_NRES; r++)
			if (h->out.vifs[i].alloc[r] > h->out.vifs[i].limit[r])
				return 0;
	for (int r = 0; r < ALLOC_NRES; r++)
		for (size_t u = 0; u <= h->in.n_uplinks; u++) {
			const struct alloc_pool_out *p = &h->out.pools[r][u];

			if (p->capacity && p->allocated > p->capacity)
				return 0;
		}
	return 1;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 10, 100, 1000, 10000, 100000 };
	static const char *const kinds[] = { "spread", "one-class" };
	/* Enough runs for a stable median at every size, about 0.2 s each. --quick: a tenth.
	 * --vifs N --runs R: one size only, for counting instructions under callgrind. */
	int quick = 0, only_runs = 0;
	size_t only = 0;

	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick"))
			quick = 1;
		else if (!strcmp(argv[a], "--vifs") && a + 1 < argc)
			only = strtoul(argv[++a], NULL, 10);
		else if (!strcmp(argv[a], "--runs") && a + 1 < argc)
			only_runs = atoi(argv[++a]);
		else {
			fprintf(stderr, "usage: bench_alloc [--quick] [--vifs N --runs R]\n");
			return 2;
		}
	}

	printf("%-10s %8s %7s %12s %12s %10s %14s\n", "host", "vifs", "runs", "median_us", "p90_us",
	       "ns/vif", "ns/(n log2 n)");
	for (int k = 0; k < 2; k++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t n = only ? only : sizes[s];
			int runs = (int)(n >= 100000 ? 41 : n >= 10000 ? 201 : 1001);
			struct alloc_ws *ws = alloc_ws_new();
			struct bench_host h;
			uint64_t *t;

			if (quick)
				runs = runs / 10 + 1;
			if (only_runs > 0)
				runs = only_runs;
			if (only && s > 0)
				break;
			t = calloc((size_t)runs, sizeof(*t));
			build(&h, n, k);
			alloc_run(&h.in, &h.out, ws); /* warm: the workspace grows once */
			for (int r = 0; r < runs; r++) {
				uint64_t t0 = now_ns();

				if (alloc_run(&h.in, &h.out, ws)) {
					fprintf(stderr, "alloc_run failed\n");
					return 1;
				}
				t[r] = now_ns() - t0;
			}
			if (!sane(&h)) {
				fprintf(stderr, "%s %zu vifs: allocation broke an invariant\n",
					kinds[k], n);
				return 1;
			}
			qsort(t, (size_t)runs, sizeof(*t), cmp_u64);
			printf("%-10s %8zu %7d %12.1f %12.1f %10.1f %14.2f\n", kinds[k], n, runs,
			       t[runs / 2] / 1e3, t[runs * 9 / 10] / 1e3, (double)t[runs / 2] / n,
			       (double)t[runs / 2] / (n * log2((double)n)));
			free(t);
			destroy(&h);
			alloc_ws_free(ws);
		}
	}
	return 0;
}
