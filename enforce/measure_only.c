/*
 * measure_only.c: the counter table and the do-nothing ops shared by the enforcers that only
 * measure (measure_only.h).
 */
#include "measure_only.h"

#include <errno.h>
#include <stdlib.h>

int counter_table_add(struct counter_table *t, uint32_t key, uint64_t bytes, uint64_t pkts)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct counter_rec *grown = realloc(t->r, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		t->r = grown;
		t->cap = cap;
	}
	t->r[t->n++] = (struct counter_rec){ key, bytes, pkts };
	return 0;
}

static int by_key(const void *a, const void *b)
{
	uint32_t x = ((const struct counter_rec *)a)->key, y = ((const struct counter_rec *)b)->key;

	return (x > y) - (x < y);
}

void counter_table_sort(struct counter_table *t)
{
	qsort(t->r, t->n, sizeof(*t->r), by_key);
}

int counter_table_read(const struct counter_table *t, uint32_t key, struct vif_counters *out)
{
	struct counter_rec k = { .key = key };
	const struct counter_rec *r = bsearch(&k, t->r, t->n, sizeof(*t->r), by_key);

	if (!r)
		return -EAGAIN;
	*out = (struct vif_counters){ .offered_bytes = r->bytes,
				      .offered_pkts = r->pkts,
				      .passed_bytes = r->bytes,
				      .passed_pkts = r->pkts };
	return 0;
}

void counter_table_free(struct counter_table *t)
{
	free(t->r);
	*t = (struct counter_table){ 0 };
}

void measure_only_detach(struct enforcer *e, struct enf_vif *ev)
{
	(void)e;
	(void)ev;
}

int measure_only_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	(void)e;
	(void)ev;
	(void)l;
	return 0;
}
