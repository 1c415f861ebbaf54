/*
 * sim: the paper's host as a fluid model, advanced in simulated time.
 *
 * A vif's offered packets flow through up to four stages; each stage passes a fraction:
 *   hook     netfront only: the token buckets, min(offered, limit_pps, limit_bps / frame)
 *   copy     into the driver domain: all copies together spend the host's packet budget,
 *            shared in proportion to what arrives (a saturated backend drops at random)
 *   htb      netback only: the per-vif class's ceil, limit_bps / frame
 *   uplink   its bit rate (and packet rate, if it has one), shared in proportion
 * so with netfront only passed packets spend the budget, and with netback and none every
 * offered packet does, which is the paper's point. "passed" is what leaves the uplink;
 * "dropped" is everything else. Time is split wherever a vif's demand steps, so results do
 * not depend on the period.
 *
 * The flows are fluid, the counters are not: each interval turns its flows into whole packets
 * (the fractions carried to the next), passes at most what it offered and drops the rest, so
 * offered = passed + dropped always and no counter ever goes back.
 */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

struct sim_vif {
	const struct scenario_vif *sv;
	uint32_t vm, uplink;
	struct enf_vif *vif; /* the agent's, while attached */
	struct vif_counters cnt;
	double carry[2][2]; /* [packets, bytes][offered, passed]: fractions not counted yet */
	uint64_t limit_bps, limit_pps;
	double pps; /* scratch: the flow through the current stage */
};

struct sim {
	struct scenario sc;
	enum enforcer_kind model;
	struct sim_vif *v;
	size_t n_v;
	uint64_t t_ns;		 /* the model has run up to here */
	size_t next_change;	 /* the first of sc.changes not yet in sc.uplinks */
	bool *present;		 /* per VM, as the last scan reported */
	double *up_bps, *up_pps; /* scratch per uplink */
};

static bool vm_present_at(const struct scenario_vm *vm, uint64_t now_ns)
{
	uint64_t t_ms = now_ns / 1000000u;

	return t_ms >= vm->start_ms && t_ms < vm->stop_ms;
}

static void advance(struct sim *s, uint64_t now_ns);

/* ---- platform side ---- */

static int sim_scan(struct platform *p, uint64_t now_ns, struct platform_scan *scan)
{
	struct sim *s = p->priv;

	struct platform_host host = { s->sc.uplinks, s->sc.n_uplinks, s->sc.host_capacity_pps };

	if (platform_scan_start(scan, &host))
		return -ENOMEM;
	scan->vms = calloc(s->sc.n_vms ? s->sc.n_vms : 1, sizeof(*scan->vms));
	if (!scan->vms) {
		platform_scan_free(scan);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->sc.n_vms; i++) {
		const struct scenario_vm *svm = &s->sc.vms[i];
		struct platform_vm *pvm;

		s->present[i] = vm_present_at(svm, now_ns);
		if (!s->present[i])
			continue;
		pvm = &scan->vms[scan->n_vms++];
		memcpy(pvm->id, svm->id, sizeof(pvm->id));
		memcpy(pvm->uuid, svm->uuid, sizeof(pvm->uuid));
		pvm->domid = svm->domid;
		pvm->vifs = calloc(svm->n_vifs, sizeof(*pvm->vifs));
		if (!pvm->vifs) {
			platform_scan_free(scan);
			return -ENOMEM;
		}
		for (size_t j = 0; j < svm->n_vifs; j++)
			pvm->vifs[j] = svm->vifs[j].desc;
		pvm->n_vifs = svm->n_vifs;
	}
	return 0;
}

/* VMs come and go, and uplinks change capacity, with simulated time: asked at the start of
 * each period (so a capacity changes on a period's boundary). The model first runs up to now
 * as the host was: a VM that arrives at now sent nothing before it, a capacity changed at now
 * held none of the time before. */
static int sim_due(struct platform *p, uint64_t now_ns)
{
	struct sim *s = p->priv;
	bool changed = false;

	advance(s, now_ns);

	while (s->next_change < s->sc.n_changes &&
	       s->sc.changes[s->next_change].t_ms <= now_ns / 1000000u) {
		const struct scenario_capacity *ch = &s->sc.changes[s->next_change++];

		s->sc.uplinks[ch->uplink].capacity_bps = ch->capacity_bps;
		s->sc.uplinks[ch->uplink].capacity_pps = ch->capacity_pps;
		changed = true;
	}
	if (changed)
		return PLATFORM_RESCAN;
	for (size_t i = 0; i < s->sc.n_vms; i++)
		if (vm_present_at(&s->sc.vms[i], now_ns) != s->present[i])
			return 1;
	return 0;
}

static void sim_close(struct platform *p)
{
	struct sim *s = p->priv;

	if (!s)
		return;
	scenario_free(&s->sc);
	free(s->v);
	free(s->present);
	free(s->up_bps);
	free(s->up_pps);
	free(s);
	p->priv = NULL;
}

static const struct platform_ops sim_platform_ops = {
	.name = "sim",
	.scan = sim_scan,
	.due = sim_due,
	.close = sim_close,
};

/* ---- enforcer side ---- */

static double per_frame(uint64_t limit_bps, uint32_t frame_bytes)
{
	return limit_bps == UINT64_MAX ? INFINITY : (double)limit_bps / (8.0 * frame_bytes);
}

static double limit_pps_of(uint64_t limit_pps)
{
	return limit_pps == UINT64_MAX ? INFINITY : (double)limit_pps;
}

/* Scales every attached vif's flow so that their sum fits cap (0: no cap). */
static void share_budget(struct sim *s, double cap)
{
	double total = 0;

	if (cap <= 0)
		return;
	for (size_t i = 0; i < s->n_v; i++)
		if (s->v[i].vif)
			total += s->v[i].pps;
	if (total <= cap)
		return;
	for (size_t i = 0; i < s->n_v; i++)
		s->v[i].pps *= cap / total;
}

/* Whole units from a fluid count, the fraction carried over. */
static uint64_t whole(double *carry, double flow)
{
	double n = floor(*carry + flow);

	*carry = *carry + flow - n;
	return (uint64_t)n;
}

/* One interval's offered and passed flow of one unit (packets or bytes): passed never more
 * than offered (the fraction waits with the offered one), dropped the difference. */
static void count_units(double carry[2], double offered, double passed, uint64_t *off_c,
			uint64_t *pass_c, uint64_t *drop_c)
{
	uint64_t off = whole(&carry[0], offered), pass = whole(&carry[1], passed);

	if (pass > off) {
		carry[1] += (double)(pass - off);
		pass = off;
	}
	*off_c += off;
	*pass_c += pass;
	*drop_c += off - pass;
}

/* One interval's offered and passed flows (in packets) into the vif's counters. Bytes carry
 * their own fractions: counted as whole packets, a fraction left from small frames would
 * come out as a packet of the next step's size. */
static void count_interval(struct sim_vif *v, double offered, double passed, uint32_t frame_bytes)
{
	count_units(v->carry[0], offered, passed, &v->cnt.offered_pkts, &v->cnt.passed_pkts,
		    &v->cnt.dropped_pkts);
	count_units(v->carry[1], offered * frame_bytes, passed * frame_bytes, &v->cnt.offered_bytes,
		    &v->cnt.passed_bytes, &v->cnt.dropped_bytes);
}

/* The model over [t_ns, t_ns + dt_ns), during which no demand steps. */
static void run_interval(struct sim *s, uint64_t t_ns, uint64_t dt_ns)
{
	double dt = (double)dt_ns / 1e9;
	uint64_t t_ms = t_ns / 1000000u;

	memset(s->up_bps, 0, s->sc.n_uplinks * sizeof(double));
	memset(s->up_pps, 0, s->sc.n_uplinks * sizeof(double));
	for (size_t i = 0; i < s->n_v; i++) {
		struct sim_vif *v = &s->v[i];
		const struct scenario_step *st;
		double offered;

		if (!v->vif)
			continue;
		st = scenario_step_at(v->sv, t_ms);
		offered = (double)st->bps / (8.0 * st->frame_bytes);
		v->pps = offered;
		if (s->model == ENFORCER_NETFRONT)
			v->pps = fmin(v->pps, fmin(limit_pps_of(v->limit_pps),
						   per_frame(v->limit_bps, st->frame_bytes)));
	}
	share_budget(s, (double)s->sc.host_capacity_pps);
	for (size_t i = 0; i < s->n_v; i++) {
		struct sim_vif *v = &s->v[i];
		uint32_t f;

		if (!v->vif)
			continue;
		f = scenario_step_at(v->sv, t_ms)->frame_bytes;
		if (s->model == ENFORCER_NETBACK)
			v->pps = fmin(v->pps, per_frame(v->limit_bps, f));
		s->up_bps[v->uplink] += v->pps * 8.0 * f;
		s->up_pps[v->uplink] += v->pps;
	}
	for (size_t i = 0; i < s->n_v; i++) {
		struct sim_vif *v = &s->v[i];
		const struct platform_uplink *up = &s->sc.uplinks[v->uplink];
		const struct scenario_step *st;
		double scale = 1.0;

		if (!v->vif)
			continue;
		st = scenario_step_at(v->sv, t_ms);
		if (up->capacity_bps && s->up_bps[v->uplink] > (double)up->capacity_bps)
			scale = (double)up->capacity_bps / s->up_bps[v->uplink];
		if (up->capacity_pps && s->up_pps[v->uplink] > (double)up->capacity_pps)
			scale = fmin(scale, (double)up->capacity_pps / s->up_pps[v->uplink]);
		count_interval(v, (double)st->bps / (8.0 * st->frame_bytes) * dt,
			       v->pps * scale * dt, st->frame_bytes);
	}
}

/* The next demand step of any attached vif after t_ns, or end. */
static uint64_t next_boundary(const struct sim *s, uint64_t t_ns, uint64_t end_ns)
{
	uint64_t next = end_ns;

	for (size_t i = 0; i < s->n_v; i++) {
		const struct scenario_vif *sv = s->v[i].sv;

		if (!s->v[i].vif)
			continue;
		for (size_t k = 0; k < sv->n_steps; k++) {
			uint64_t b = sv->steps[k].t_ms * 1000000u;

			if (b > t_ns) {
				if (b < next)
					next = b;
				break;
			}
		}
	}
	return next;
}

/* The model from where it was up to now_ns, interval by interval between demand steps. */
static void advance(struct sim *s, uint64_t now_ns)
{
	while (s->t_ns < now_ns) {
		uint64_t next = next_boundary(s, s->t_ns, now_ns);

		run_interval(s, s->t_ns, next - s->t_ns);
		s->t_ns = next;
	}
}

static int sim_sync(struct enforcer *e, uint64_t now_ns)
{
	advance(e->priv, now_ns);
	return 0;
}

static int sim_attach(struct enforcer *e, struct enf_vif *ev)
{
	struct sim *s = e->priv;

	for (size_t i = 0; i < s->n_v; i++) {
		struct sim_vif *v = &s->v[i];

		if (strcmp(s->sc.vms[v->vm].id, ev->vm) || strcmp(v->sv->desc.id, ev->desc->id))
			continue;
		if (v->vif)
			return -EBUSY;
		v->vif = ev;
		memset(&v->cnt, 0, sizeof(v->cnt));
		memset(v->carry, 0, sizeof(v->carry));
		v->limit_bps = v->limit_pps = UINT64_MAX;
		ev->state = v;
		return 0;
	}
	return -ENOENT;
}

static void sim_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct sim_vif *v = ev->state;

	(void)e;
	if (v)
		v->vif = NULL;
	ev->state = NULL;
}

static int sim_read_counters(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	const struct sim_vif *v = ev->state;
	const struct sim *s = e->priv;
	uint64_t t_ms = s->t_ns / 1000000u;

	if (!v)
		return -ENOENT;
	if (t_ms >= v->sv->unreadable_from_ms && t_ms < v->sv->unreadable_to_ms)
		return -EIO; /* the scenario's fault: a source that cannot be read */
	*out = v->cnt;
	return 0;
}

static int sim_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct sim_vif *v = ev->state;

	(void)e;
	if (!v)
		return -ENOENT;
	v->limit_bps = l->bps;
	v->limit_pps = l->pps;
	return 0;
}

static void sim_enforcer_close(struct enforcer *e)
{
	e->priv = NULL; /* the platform owns the shared state */
}

/* Debian 12's and 13's clang-format lay out a braced initialiser in a macro apart. */
/* clang-format off */
#define SIM_ENFORCER(n, on_path)                                                                   \
	{                                                                                          \
		.name = n, .sees_offered = true, .attach = sim_attach, .detach = sim_detach,       \
		.sync = sim_sync, .read_counters = sim_read_counters, .apply = sim_apply,          \
		.simulated_time = true, .close = sim_enforcer_close, .drops_on_path = on_path      \
	}
/* clang-format on */
static const struct enforcer_ops sim_enforcer_ops[] = {
	[ENFORCER_NETFRONT] = SIM_ENFORCER("netfront", false),
	[ENFORCER_NETBACK] = SIM_ENFORCER("netback", true),
	[ENFORCER_NONE] = SIM_ENFORCER("none", false),
};

int sim_open(const char *scenario_path, enum enforcer_kind model, struct platform *plat,
	     struct enforcer *enf, char *err, size_t err_len)
{
	struct sim *s;
	size_t n = 0;
	int rc;

	if (model == ENFORCER_XEN_CREDIT || model == ENFORCER_VIF_POLICE) {
		snprintf(err, err_len, "the sim does not model %s",
			 model == ENFORCER_XEN_CREDIT ? "xen-credit" : "vif-police");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	rc = scenario_load(scenario_path, &s->sc, err, err_len);
	if (rc) {
		free(s);
		return rc;
	}
	s->model = model;
	for (size_t i = 0; i < s->sc.n_vms; i++)
		n += s->sc.vms[i].n_vifs;
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	s->present = calloc(s->sc.n_vms, sizeof(*s->present));
	s->up_bps = calloc(s->sc.n_uplinks, sizeof(double));
	s->up_pps = calloc(s->sc.n_uplinks, sizeof(double));
	plat->ops = &sim_platform_ops;
	plat->priv = s;
	if (!s->v || !s->present || !s->up_bps || !s->up_pps) {
		sim_close(plat);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->sc.n_vms; i++) {
		for (size_t j = 0; j < s->sc.vms[i].n_vifs; j++) {
			struct sim_vif *v = &s->v[s->n_v++];
			const struct scenario_vif *sv = &s->sc.vms[i].vifs[j];

			v->sv = sv;
			v->vm = (uint32_t)i;
			for (v->uplink = 0; strcmp(s->sc.uplinks[v->uplink].name, sv->desc.uplink);
			     v->uplink++)
				;
		}
	}
	enf->ops = &sim_enforcer_ops[model];
	enf->priv = s;
	return 0;
}

const struct scenario *sim_scenario(const struct platform *plat)
{
	const struct sim *s = plat->priv;

	return &s->sc;
}
