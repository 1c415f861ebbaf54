/*
 * counter_chain.c: vifs counted by the first source that can (counter_chain.h). Each vif holds
 * its place in the chain and its own state slot in the source counting it; the sources are
 * enforcers that measure only, and the chain calls each as the agent would.
 */
#include "counter_chain.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enforcer.h"
#include "log.h"
#include "measure_only.h"

struct chain {
	struct counter_source src[CHAIN_MAX];
	struct enforcer e[CHAIN_MAX];
	bool opened[CHAIN_MAX];
	bool refused[CHAIN_MAX]; /* did not open: skipped, why in why[] */
	bool down[CHAIN_MAX];	 /* its last sync failed: out for every vif, waited for */
	char why[CHAIN_MAX][128];
	size_t n;
	size_t first;		  /* the first that opened, at the start */
	size_t n_vifs[CHAIN_MAX]; /* vifs each counts: only a source with some is synced */
	uint32_t sample_every;
};

struct chain_vif {
	size_t at;	    /* the source counting it */
	struct enf_vif sub; /* the vif as that source sees it */
	unsigned fails;	    /* its readings failed in a row there */
	bool have_last, moved;
	bool stuck; /* its source fails and no other takes it: said once until it reads */
	struct vif_counters last;   /* what it last showed */
	struct vif_counters offset; /* added to the source's counts (mod 2^64) since a move */
};

static int open_source(struct chain *c, size_t i)
{
	int rc;

	if (c->opened[i] || c->refused[i])
		return c->opened[i] ? 0 : -ENODEV;
	rc = c->src[i].open(&c->e[i], c->sample_every, c->why[i], sizeof(c->why[i]));
	if (rc) {
		c->refused[i] = true;
		log_warn("vif counters: %s does not open, skipped: %s", c->src[i].name, c->why[i]);
		return rc;
	}
	c->opened[i] = true;
	return 0;
}

/* Attaches v to the first source from `from` on that takes it; notes why the ones before did
 * not (into ev->count_note, after what it says already). */
static int attach_from(struct chain *c, struct enf_vif *ev, struct chain_vif *v, size_t from)
{
	size_t len = strlen(ev->count_note);
	int rc = -ENODEV;

	for (size_t i = from; i < c->n; i++) {
		char why[128];

		rc = open_source(c, i);
		if (rc) {
			snprintf(why, sizeof(why), "%s", c->why[i]);
		} else {
			v->sub = (struct enf_vif){
				.desc = ev->desc, .vm = ev->vm, .delay = ev->delay, .dir = ev->dir
			};
			rc = c->e[i].ops->attach(&c->e[i], &v->sub);
			if (!rc) {
				v->at = i;
				v->fails = 0;
				c->n_vifs[i]++;
				ev->counted_by = c->src[i].name;
				return 0;
			}
			snprintf(why, sizeof(why), "%s: %s", c->src[i].name, strerror(-rc));
		}
		if (len < sizeof(ev->count_note))
			len += (size_t)snprintf(ev->count_note + len, sizeof(ev->count_note) - len,
						"%s%s", len ? "; " : "", why);
	}
	ev->counted_by = NULL;
	return rc;
}

static int chain_attach(struct enforcer *e, struct enf_vif *ev)
{
	struct chain *c = e->priv;
	struct chain_vif *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	ev->count_note[0] = '\0';
	rc = attach_from(c, ev, v, 0);
	if (rc) {
		free(v);
		return rc;
	}
	if (v->at > 0)
		log_warn("vif counted from %s vm=%s vif=%s why=%s", ev->counted_by, log_q(ev->vm),
			 log_q(ev->desc->id), log_q(ev->count_note));
	ev->state = v;
	return 0;
}

static void chain_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct chain *c = e->priv;
	struct chain_vif *v = ev->state;

	if (!v)
		return;
	c->e[v->at].ops->detach(&c->e[v->at], &v->sub);
	c->n_vifs[v->at]--;
	free(v);
	ev->state = NULL;
}

static int chain_sync(struct enforcer *e, uint64_t now_ns)
{
	struct chain *c = e->priv;
	int rc = 0;

	for (size_t i = 0; i < c->n; i++)
		if (c->opened[i] && (c->n_vifs[i] || i == c->first)) {
			int r = c->e[i].ops->sync(&c->e[i], now_ns);

			c->down[i] = r != 0;
			if (r && !rc)
				rc = r;
		}
	return rc;
}

/* out = a + b, or a - b (mod 2^64), over the counter fields of a reading: what a move
 * carries over. out may be a. */
static void combine(struct vif_counters *out, const struct vif_counters *a,
		    const struct vif_counters *b, bool minus)
{
#define COMBINE(f) out->f = minus ? a->f - b->f : a->f + b->f
	COMBINE(offered_bytes);
	COMBINE(offered_pkts);
	COMBINE(passed_bytes);
	COMBINE(passed_pkts);
	COMBINE(dropped_bytes);
	COMBINE(dropped_pkts);
	COMBINE(held_pkts);
	COMBINE(limited_pkts[0]);
	COMBINE(limited_pkts[1]);
#undef COMBINE
}

/* A failing vif onto the next source that takes it; its counts go on from its last. */
static void move_on(struct chain *c, struct enf_vif *ev, struct chain_vif *v, int err)
{
	size_t from = v->at, len = strlen(ev->count_note);

	if (from + 1 >= c->n)
		return; /* nothing after: not counted, the agent says so */
	c->e[from].ops->detach(&c->e[from], &v->sub);
	c->n_vifs[from]--;
	if (len < sizeof(ev->count_note))
		snprintf(ev->count_note + len, sizeof(ev->count_note) - len,
			 "%s%s: %u readings failed (%s)", len ? "; " : "", c->src[from].name,
			 v->fails, strerror(-err));
	if (attach_from(c, ev, v, from + 1)) {
		/* No source takes it: back where it was, tried again each period; said once. */
		v->sub = (struct enf_vif){
			.desc = ev->desc, .vm = ev->vm, .delay = ev->delay, .dir = ev->dir
		};
		if (c->e[from].ops->attach(&c->e[from], &v->sub) == 0)
			c->n_vifs[from]++;
		v->fails = 0;
		ev->counted_by = c->src[from].name;
		if (v->stuck) /* said already: the note as it was */
			ev->count_note[len] = '\0';
		else
			log_warn("vif counters fail and no other source takes it vm=%s vif=%s "
				 "why=%s",
				 log_q(ev->vm), log_q(ev->desc->id), log_q(ev->count_note));
		v->stuck = true;
		return;
	}
	v->moved = v->have_last;
	log_warn("vif counted from %s vm=%s vif=%s why=%s", ev->counted_by, log_q(ev->vm),
		 log_q(ev->desc->id), log_q(ev->count_note));
}

static int chain_read_counters(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	struct chain *c = e->priv;
	struct chain_vif *v = ev->state;
	struct vif_counters cur;
	int rc;

	if (!v)
		return -ENOENT;
	rc = c->e[v->at].ops->read_counters(&c->e[v->at], &v->sub, &cur);
	if (rc) {
		/* A source out as a whole (its sync failed: libxenstat without an answer) fails
		 * every vif alike and comes back: the vifs wait for it, not counted meanwhile. One
		 * that counts others but not this vif is of no use to it. */
		if (!c->down[v->at] && ++v->fails >= CHAIN_FAILS)
			move_on(c, ev, v, rc);
		return rc;
	}
	v->fails = 0;
	v->stuck = false;
	if (v->moved) { /* the new source's first reading shows what the old one last did */
		combine(&v->offset, &v->last, &cur, true);
		v->moved = false;
	}
	*out = cur;
	combine(out, &cur, &v->offset, false);
	v->last = *out;
	v->have_last = true;
	return 0;
}

static bool chain_unchanged(struct enforcer *e, struct enf_vif *ev)
{
	struct chain *c = e->priv;
	struct chain_vif *v = ev->state;
	const struct enforcer *s = v ? &c->e[v->at] : NULL;

	return s && !v->moved && s->ops->unchanged &&
	       s->ops->unchanged((struct enforcer *)s, &v->sub);
}

static void chain_drain_samples(struct enforcer *e, struct delay_matcher *m)
{
	struct chain *c = e->priv;

	if (c->e[c->first].ops->drain_samples) /* the only one that samples, if one does */
		c->e[c->first].ops->drain_samples(&c->e[c->first], m);
}

static void chain_close(struct enforcer *e)
{
	struct chain *c = e->priv;

	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->opened[i])
			c->e[i].ops->close(&c->e[i]);
	free(c);
	e->priv = NULL;
}

static const struct enforcer_ops chain_ops = {
	.name = "none", /* measures only */
	.sees_offered = true,
	.attach = chain_attach,
	.detach = chain_detach,
	.sync = chain_sync,
	.read_counters = chain_read_counters,
	.unchanged = chain_unchanged,
	.apply = measure_only_apply,
	.close = chain_close,
	.drain_samples = chain_drain_samples,
};

int counter_chain_open(struct enforcer *e, const struct counter_source *src, size_t n,
		       uint32_t sample_every, char *why, size_t why_len)
{
	struct chain *c;
	size_t len = 0;

	if (!n || n > CHAIN_MAX) {
		snprintf(why, why_len, "counters: %zu sources (1 to %d)", n, CHAIN_MAX);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, why_len, "counters: out of memory");
		return -ENOMEM;
	}
	memcpy(c->src, src, n * sizeof(*src));
	c->n = n;
	c->sample_every = sample_every;
	/* The first that opens is opened now: a host where none does is refused at start. The
	 * ones before it stay in the chain, refused, each vif's note saying why. */
	for (size_t i = 0; i < n; i++) {
		if (open_source(c, i) == 0) {
			c->first = i;
			break;
		}
		if (len < why_len)
			len += (size_t)snprintf(why + len, why_len - len, "%s%s", len ? "; " : "",
						c->why[i]);
	}
	if (!c->opened[c->first]) {
		free(c);
		return -ENODEV;
	}
	e->ops = &chain_ops;
	e->priv = c;
	e->sample_every = c->e[c->first].sample_every;
	return 0;
}

const struct counter_source *counter_chain_first(const struct enforcer *e)
{
	const struct chain *c = e->priv;

	return &c->src[c->first];
}
