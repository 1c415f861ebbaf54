/*
 * alloc: the allocation rules of dbavmd(8) (section ALLOCATION), exactly.
 *
 * One run does, for each resource (bps, pps):
 *   split    each VM's SLA onto its vifs by their share of the VM's measured bps,
 *   floor    every vif's effective minimum m = min(max, max(split min, floor)),
 *   demand   d_i from offered load, or from the measured rate with an upward probe,
 *   group    vifs by pool (uplink, or the host's packet budget) and class, by a counting sort
 *            that keeps creation order inside each class (the tie rule),
 *   steps    1 guarantees, 2 class-by-class weighted water-filling up to want,
 *            3 headroom up to max, all classes of the pool together (both modes), 4 limits.
 *
 * Step 3 ignores classes on purpose: headroom is what no vif asked for last period. Filled
 * class by class, a class-0 VM without a max took all of it and a quiet lower-class VM was
 * held at its demand of 0, unable to send the packet that would show it wants more.
 *
 * Water-filling never sorts: a class that fits costs one pass, and one that does not is
 * settled by an exact quickselect on gap-per-weight ratios, expected O(n).
 *
 * All arithmetic is integer. Products of a rate and a weight sum need more than 64 bits, hence
 * the 128-bit type; rates are at most 2^64 and weight sums far below 2^63.
 */
#include "alloc.h"
#include "arith.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NCLASS (SLA_PRIORITY_MAX + 1)
#define NSPLIT 5 /* min_bps, max_bps, min_pps, max_pps, weight */

/* One vif's view of one resource during a run. */
struct share {
	uint64_t min, max, want, a;
	uint64_t give; /* scratch: what this step adds */
	uint32_t weight;
	uint8_t prio;
	uint8_t unmet;	   /* scratch: still below its target after water-filling */
	uint8_t free_pool; /* its pool has unlimited capacity: the limit is the max */
};

struct fill_item {
	uint64_t cap;
	uint32_t weight;
	uint32_t vif;
};

struct vm_acc {
	u128 basis; /* sum of its vifs' measured bps */
	uint32_t n_vifs;
	bool left_set;
	uint64_t left[NSPLIT]; /* what the floor shares left over */
};

struct alloc_ws {
	size_t cap_vifs, cap_vms, cap_buckets;
	struct share *sh;
	uint32_t *order;
	struct fill_item *items;
	uint64_t *basis; /* per vif: the measured bps the split goes by */
	uint64_t (*split)[NSPLIT];
	struct vm_acc *vm;
	uint32_t *bucket;
};

struct alloc_ws *alloc_ws_new(void)
{
	return calloc(1, sizeof(struct alloc_ws));
}

void alloc_ws_free(struct alloc_ws *ws)
{
	if (!ws)
		return;
	free(ws->sh);
	free(ws->order);
	free(ws->items);
	free(ws->basis);
	free(ws->split);
	free(ws->vm);
	free(ws->bucket);
	free(ws);
}

static int grow(void **p, size_t *cap, size_t want, size_t elem)
{
	void *n;

	if (want <= *cap)
		return 0;
	n = realloc(*p, want * elem);
	if (!n)
		return -ENOMEM;
	*p = n;
	return 0;
}

static int ws_reserve(struct alloc_ws *ws, size_t n_vifs, size_t n_vms, size_t n_buckets)
{
	size_t cv = ws->cap_vifs, cm = ws->cap_vms, cb = ws->cap_buckets;
	int rc = 0;

	if (n_vifs > cv) {
		rc |= grow((void **)&ws->sh, &cv, n_vifs, sizeof(*ws->sh));
		rc |= grow((void **)&ws->order, &cv, n_vifs, sizeof(*ws->order));
		rc |= grow((void **)&ws->items, &cv, n_vifs, sizeof(*ws->items));
		rc |= grow((void **)&ws->basis, &cv, n_vifs, sizeof(*ws->basis));
		rc |= grow((void **)&ws->split, &cv, n_vifs, sizeof(*ws->split));
		if (rc)
			return -ENOMEM;
		ws->cap_vifs = n_vifs;
	}
	if (n_vms > cm) {
		if (grow((void **)&ws->vm, &cm, n_vms, sizeof(*ws->vm)))
			return -ENOMEM;
		ws->cap_vms = n_vms;
	}
	if (n_buckets > cb) {
		if (grow((void **)&ws->bucket, &cb, n_buckets, sizeof(*ws->bucket)))
			return -ENOMEM;
		ws->cap_buckets = n_buckets;
	}
	return 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* floor(v * num / den), num <= den; in 64 bits when the product fits, which is usual. */
static uint64_t scale_down(uint64_t v, uint64_t num, u128 den)
{
	uint64_t prod;

	if (den <= UINT64_MAX && !__builtin_mul_overflow(v, num, &prod))
		return prod / (uint64_t)den;
	return (uint64_t)((u128)v * num / den);
}

static uint64_t sat_u64(u128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/*
 * The values a VM's SLA is split by. Maxima are split as their excess over the minima and the
 * vif's min share added back afterwards: rounding each on its own could leave a vif a min one
 * unit above its max.
 */
static void sla_values(const struct sla *s, uint64_t val[NSPLIT])
{
	val[0] = s->min_bps;
	val[1] = s->max_bps == ALLOC_UNLIMITED ? ALLOC_UNLIMITED : s->max_bps - s->min_bps;
	val[2] = s->min_pps;
	val[3] = s->max_pps == ALLOC_UNLIMITED ? ALLOC_UNLIMITED : s->max_pps - s->min_pps;
	val[4] = (uint64_t)s->weight * ALLOC_WEIGHT_ONE;
}

/*
 * The paper's Step 2 rule, for every SLA value: a VM's vifs share it in proportion to their
 * share of the VM's measured bps (equally while the VM is silent). Floor shares first; what
 * the floors leave goes, one unit each, to the first-created vifs that carry traffic.
 * Unlimited stays unlimited. Weights never fall to 0, so every vif stays in the water-fill.
 */
static void split_slas(const struct alloc_in *in, struct alloc_ws *ws)
{
	const uint64_t *basis = ws->basis;
	struct vm_acc *vm = ws->vm;

	/* Only the records of VMs with vifs are read: those alone are cleared (the SLAs of VMs
	 * not on the host outnumber them on a host where SLAs wait for their VMs). */
	for (size_t i = 0; i < in->n_vifs; i++)
		vm[in->vifs[i].vm] = (struct vm_acc){ 0 };
	for (size_t i = 0; i < in->n_vifs; i++) {
		vm[in->vifs[i].vm].basis += basis[i];
		vm[in->vifs[i].vm].n_vifs++;
	}
	for (size_t i = 0; i < in->n_vifs; i++) {
		struct vm_acc *v = &vm[in->vifs[i].vm];
		uint64_t *part = ws->split[i];

		sla_values(&in->vms[in->vifs[i].vm], part);
		if (v->n_vifs == 1)
			continue; /* the common case: the VM's values, unchanged */
		if (!v->left_set) {
			sla_values(&in->vms[in->vifs[i].vm], v->left);
			v->left_set = true;
		}
		for (int j = 0; j < NSPLIT; j++) {
			if (part[j] == ALLOC_UNLIMITED)
				continue;
			part[j] = v->basis > 0 ? scale_down(part[j], basis[i], v->basis)
					       : part[j] / v->n_vifs;
			v->left[j] -= part[j];
		}
	}
	for (size_t i = 0; i < in->n_vifs; i++) {
		struct vm_acc *v = &vm[in->vifs[i].vm];

		if (v->n_vifs == 1 || (v->basis > 0 && basis[i] == 0))
			continue;
		for (int j = 0; j < NSPLIT; j++) {
			if (v->left[j] > 0 && ws->split[i][j] != ALLOC_UNLIMITED) {
				ws->split[i][j]++;
				v->left[j]--;
			}
		}
	}
	for (size_t i = 0; i < in->n_vifs; i++) {
		for (int j = 1; j <= 3; j += 2)
			if (ws->split[i][j] != ALLOC_UNLIMITED)
				ws->split[i][j] += ws->split[i][j - 1];
		if (ws->split[i][4] == 0)
			ws->split[i][4] = 1;
	}
}

/*
 * d_i. With offered load in sight it is the offered rate. Without, a vif running at 95 % or more
 * of its limit (or, at_limit_lately, in a recent period) may want more than it shows: ask for
 * 1.25 x the limit, capped at its max. One
 * whose shaper held its packets back lately wants more than its average shows by an unknown
 * amount (a burst of requests): it asks for its max, and its class decides what it gets.
 */
static uint64_t demand_of(const struct alloc_in *in, const struct alloc_vif_in *v, enum alloc_res r,
			  uint64_t max)
{
	uint64_t lim = v->limit[r], m = v->measured[r];

	if (in->sees_offered && !v->waits)
		return v->offered[r];
	if (r == ALLOC_BPS && v->held)
		return max;
	if (lim == ALLOC_UNLIMITED || ((u128)m * 100 < (u128)lim * 95 && !v->at_limit_lately[r]))
		return m;
	return min_u64(sat_u64((u128)lim + lim / 4), max);
}

/* a's gap per weight against b's: cap_a / w_a <=> cap_b / w_b, exactly. */
static int cmp_ratio(const struct fill_item *a, const struct fill_item *b)
{
	u128 l = (u128)a->cap * b->weight, r = (u128)b->cap * a->weight;

	return l < r ? -1 : l > r;
}

static void swap_items(struct fill_item *a, struct fill_item *b)
{
	struct fill_item t = *a;

	*a = *b;
	*b = t;
}

/*
 * Finds which vifs of a class saturate (get their whole gap) when R is water-filled into it.
 *
 * With f(t) = sum of min(cap_i, t * w_i), vif i saturates iff f(cap_i / w_i) <= R. That set is
 * unique, so it can be found like a quickselect: partition the undecided vifs around one's
 * ratio p, evaluate f(p) exactly, and settle one side. Expected O(n), no sort; the pivot choice
 * changes the speed, never the answer. On return *sat_cap is the sum of the saturated gaps
 * (already added to their a) and *unsat_w the sum of the other vifs' weights, marked unmet.
 */
static void settle_class(struct share *sh, struct fill_item *it, size_t n, uint64_t R,
			 u128 *sat_cap, u128 *unsat_w)
{
	size_t lo = 0, hi = n; /* undecided: it[lo, hi) */
	uint64_t pick = n;

	*sat_cap = 0;
	*unsat_w = 0;
	while (lo < hi) {
		size_t lt = lo, gt = hi, i = lo;
		struct fill_item pivot;
		u128 cap_le = 0, w_g = 0;

		pick = pick * 6364136223846793005ull + 1442695040888963407ull;
		pivot = it[lo + (size_t)((pick >> 33) % (hi - lo))];
		/* Three-way partition: [lo, lt) below p, [lt, gt) at p, [gt, hi) above. */
		while (i < gt) {
			int c = cmp_ratio(&it[i], &pivot);

			if (c < 0)
				swap_items(&it[i++], &it[lt++]);
			else if (c > 0)
				swap_items(&it[i], &it[--gt]);
			else
				i++;
		}
		for (i = lo; i < gt; i++)
			cap_le += it[i].cap;
		for (i = gt; i < hi; i++)
			w_g += it[i].weight;
		/* f(p) <= R, with p = pivot.cap / pivot.weight, multiplied through by weight. */
		if ((*sat_cap + cap_le) * pivot.weight + (u128)pivot.cap * (*unsat_w + w_g) <=
		    (u128)R * pivot.weight) {
			for (i = lo; i < gt; i++)
				sh[it[i].vif].a += it[i].cap;
			*sat_cap += cap_le;
			lo = gt;
		} else {
			for (i = lt; i < hi; i++)
				sh[it[i].vif].unmet = 1;
			*unsat_w += w_g;
			for (i = lt; i < gt; i++)
				*unsat_w += it[i].weight;
			hi = lt;
		}
	}
}

/* What fill_class raises a vif towards: its max (step 3) or its want (step 2). */
static uint64_t target_of(const struct share *s, int to_max)
{
	return to_max ? s->max : s->want;
}

/*
 * Weighted water-filling of one class: raise every a_i towards its target (want or max) by
 * min(target - a_i, lambda * w_i), lambda chosen so that the class takes all of *R or is
 * satisfied. The vifs left below their target share what the saturated ones leave in
 * proportion to weight; the units the floors leave go to the first-created.
 */
static void fill_class(struct share *sh, struct fill_item *items, const uint32_t *cls, size_t n,
		       uint64_t *R, int to_max)
{
	size_t n_items = 0;
	u128 total = 0, sat_cap, wsum;
	uint64_t rest, given = 0;

	/* The gaps first: a class that fits (the common case) is raised to its targets at
	 * once, and only one that does not is listed for settle_class. */
	for (size_t j = 0; j < n; j++) {
		const struct share *s = &sh[cls[j]];
		uint64_t target = target_of(s, to_max);

		if (target > s->a)
			total += target - s->a;
	}
	if (total == 0)
		return;
	if (total <= *R) {
		for (size_t j = 0; j < n; j++) {
			struct share *s = &sh[cls[j]];
			uint64_t target = target_of(s, to_max);

			if (target > s->a)
				s->a = target;
		}
		*R -= (uint64_t)total;
		return;
	}
	for (size_t j = 0; j < n; j++) {
		const struct share *s = &sh[cls[j]];
		uint64_t target = target_of(s, to_max);

		if (target > s->a)
			items[n_items++] = (struct fill_item){ target - s->a, s->weight, cls[j] };
	}
	settle_class(sh, items, n_items, *R, &sat_cap, &wsum);
	rest = *R - (uint64_t)sat_cap;
	/* lambda = rest / wsum. An unmet vif's gap exceeds lambda * w, so floor + 1 still fits. */
	for (size_t j = 0; j < n; j++) {
		struct share *s = &sh[cls[j]];

		if (!s->unmet)
			continue;
		s->give = (uint64_t)((u128)rest * s->weight / wsum);
		given += s->give;
	}
	rest -= given;
	for (size_t j = 0; j < n; j++) {
		struct share *s = &sh[cls[j]];

		if (!s->unmet)
			continue;
		s->a += s->give + (rest > 0);
		rest -= rest > 0;
		s->unmet = 0;
		s->give = 0;
	}
	*R = 0;
}

/* Step 1 when the guarantees exceed C: scale them by C / sum, the units lost to floors going to
 * the earlier class, then the first-created vif. */
static void scale_guarantees(struct share *sh, const uint32_t *pool, size_t n, uint64_t C, u128 sum)
{
	uint64_t got = 0;

	for (size_t j = 0; j < n; j++) {
		struct share *s = &sh[pool[j]];

		s->give = s->a;
		s->a = (uint64_t)((u128)s->a * C / sum);
		got += s->a;
	}
	for (size_t j = 0; j < n && got < C; j++) {
		struct share *s = &sh[pool[j]];

		if (s->give > s->a) {
			s->a++;
			got++;
		}
	}
	for (size_t j = 0; j < n; j++)
		sh[pool[j]].give = 0;
}

/* Steps 1 to 3 for one pool; pool[] is ordered by class, then creation. */
static void run_pool(const struct alloc_in *in, struct share *sh, struct fill_item *items,
		     const uint32_t *pool, const uint32_t *class_start, uint64_t C,
		     struct alloc_pool_out *po)
{
	size_t n = class_start[NCLASS] - class_start[0];
	u128 sum_g = 0, committed = 0, allocated = 0;
	uint64_t R;

	for (size_t j = 0; j < n; j++) {
		struct share *s = &sh[pool[j]];

		committed += s->min;
		s->free_pool = C == 0;
		if (C == 0) {
			s->a = s->want; /* unlimited capacity: every vif gets its max */
			continue;
		}
		s->a = in->mode == ALLOC_STRICT ? s->min : min_u64(s->want, s->min);
		sum_g += s->a;
	}
	po->capacity = C;
	po->n_vifs = (uint32_t)n;
	po->committed = sat_u64(committed);
	po->overcommitted = false;
	if (C != 0) {
		if (sum_g > C) {
			scale_guarantees(sh, pool, n, C, sum_g);
			po->overcommitted = true;
			R = 0;
		} else {
			R = C - (uint64_t)sum_g;
		}
		for (uint32_t p = 0; p < NCLASS && R > 0; p++)
			fill_class(sh, items, pool + class_start[p] - class_start[0],
				   class_start[p + 1] - class_start[p], &R, 0);
		/* The pool is ordered by class, then creation: remainders follow the tie rule. */
		if (R > 0)
			fill_class(sh, items, pool, n, &R, 1);
	}
	for (size_t j = 0; j < n; j++)
		allocated += sh[pool[j]].a;
	po->allocated = sat_u64(allocated);
}

static uint32_t pool_of(const struct alloc_in *in, const struct alloc_vif_in *v, enum alloc_res r)
{
	if (r == ALLOC_BPS || in->uplinks[v->uplink].capacity_pps != 0)
		return v->uplink;
	return (uint32_t)in->n_uplinks; /* the host's packet budget */
}

static uint64_t pool_capacity(const struct alloc_in *in, uint32_t pool, enum alloc_res r)
{
	if (r == ALLOC_BPS)
		return in->uplinks[pool].capacity_bps;
	return pool == in->n_uplinks ? in->host_capacity_pps : in->uplinks[pool].capacity_pps;
}

static void run_resource(const struct alloc_in *in, struct alloc_out *out, struct alloc_ws *ws,
			 enum alloc_res r)
{
	size_t n_pools = in->n_uplinks + 1, n_buckets = n_pools * NCLASS;
	uint32_t *bucket = ws->bucket;
	struct share *sh = ws->sh;

	for (size_t i = 0; i < in->n_vifs; i++) {
		const struct alloc_vif_in *v = &in->vifs[i];
		struct alloc_vif_out *o = &out->vifs[i];
		uint64_t max = o->max[r];

		o->min[r] = min_u64(max, max_u64(o->min[r], in->floor[r]));
		o->demand[r] = demand_of(in, v, r, max);
		sh[i] = (struct share){
			.min = o->min[r],
			.max = max,
			.want = min_u64(o->demand[r], max),
			.weight = o->weight,
			.prio = (uint8_t)in->vms[v->vm].priority,
		};
	}
	/* Counting sort by (pool, class); stable, so creation order holds inside a class. */
	memset(bucket, 0, (n_buckets + 1) * sizeof(*bucket));
	for (size_t i = 0; i < in->n_vifs; i++)
		bucket[pool_of(in, &in->vifs[i], r) * NCLASS + sh[i].prio + 1]++;
	for (size_t b = 0; b < n_buckets; b++)
		bucket[b + 1] += bucket[b];
	{
		/* bucket[b] is now the start of bucket b; place with a moving cursor copy. */
		uint32_t *cursor = ws->bucket + n_buckets + 1;

		memcpy(cursor, bucket, n_buckets * sizeof(*bucket));
		for (size_t i = 0; i < in->n_vifs; i++)
			ws->order[cursor[pool_of(in, &in->vifs[i], r) * NCLASS + sh[i].prio]++] =
				(uint32_t)i;
	}
	for (uint32_t p = 0; p < n_pools; p++) {
		const uint32_t *cs = &bucket[p * NCLASS];

		run_pool(in, sh, ws->items, ws->order + cs[0], cs, pool_capacity(in, p, r),
			 &out->pools[r][p]);
	}
	for (size_t i = 0; i < in->n_vifs; i++) {
		struct alloc_vif_out *o = &out->vifs[i];

		o->alloc[r] = sh[i].a;
		o->limit[r] = sh[i].free_pool ? sh[i].max
					      : min_u64(sh[i].max, max_u64(sh[i].a, sh[i].min));
	}
}

int alloc_run(const struct alloc_in *in, struct alloc_out *out, struct alloc_ws *ws)
{
	size_t n_buckets = (in->n_uplinks + 1) * NCLASS;
	int rc;

	for (size_t i = 0; i < in->n_vifs; i++)
		if (in->vifs[i].vm >= in->n_vms || in->vifs[i].uplink >= in->n_uplinks)
			return -EINVAL;
	for (size_t m = 0; m < in->n_vms; m++)
		if (in->vms[m].priority > SLA_PRIORITY_MAX)
			return -EINVAL;
	/* Two bucket arrays back to back: starts (n_buckets + 1) and cursors (n_buckets). */
	rc = ws_reserve(ws, in->n_vifs ? in->n_vifs : 1, in->n_vms ? in->n_vms : 1,
			2 * n_buckets + 1);
	if (rc)
		return rc;
	/* The split basis is the measured bps: offered where the enforcer sees it, else passed. */
	for (size_t i = 0; i < in->n_vifs; i++)
		ws->basis[i] = in->sees_offered && !in->vifs[i].waits
				       ? in->vifs[i].offered[ALLOC_BPS]
				       : in->vifs[i].measured[ALLOC_BPS];
	split_slas(in, ws);
	for (size_t i = 0; i < in->n_vifs; i++) {
		struct alloc_vif_out *o = &out->vifs[i];

		o->min[ALLOC_BPS] = ws->split[i][0];
		o->max[ALLOC_BPS] = ws->split[i][1];
		o->min[ALLOC_PPS] = ws->split[i][2];
		o->max[ALLOC_PPS] = ws->split[i][3];
		o->weight = (uint32_t)min_u64(ws->split[i][4], UINT32_MAX);
	}
	run_resource(in, out, ws, ALLOC_BPS);
	run_resource(in, out, ws, ALLOC_PPS);
	return 0;
}
