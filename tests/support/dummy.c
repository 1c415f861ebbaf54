/*
 * dummy.c: the dummy platform and enforcer (dummy.h).
 */
#include "dummy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a platform that shows what the test says is there ---- */

static int dp_add_vm(const struct dummy_platform *f, const struct dummy_vm *d,
		     struct platform_scan *scan)
{
	struct platform_vm vm = { .domid = d->domid ? d->domid : -1 };

	snprintf(vm.id, sizeof(vm.id), "%s", d->id);
	snprintf(vm.uuid, sizeof(vm.uuid), "%s", d->uuid ? d->uuid : "");
	for (int j = 0; j < DUMMY_MAX_VIFS && (j == 0 || d->uplinks[j]); j++) {
		struct platform_vif *v = platform_vm_add_vif(&vm);

		if (!v)
			return -ENOMEM;
		if (j)
			snprintf(v->id, sizeof(v->id), "%s-vif%d", d->id, j);
		else
			snprintf(v->id, sizeof(v->id), "%s-vif", d->id);
		memcpy(v->uplink, d->uplinks[j] ? d->uplinks[j] : f->up[0].name,
		       strnlen(d->uplinks[j] ? d->uplinks[j] : f->up[0].name,
			       sizeof(v->uplink) - 1));
	}
	return platform_scan_add_vm(scan, &vm);
}

static int dp_scan(struct platform *p, uint64_t now_ns, struct platform_scan *scan)
{
	struct dummy_platform *f = p->priv;
	struct platform_host h = { f->up, f->n_up, f->host_pps };
	int rc = platform_scan_start(scan, &h);

	(void)now_ns;
	f->scans++;
	for (size_t i = 0; !rc && i < DUMMY_MAX_VMS; i++) {
		const struct dummy_vm *d = &f->vms[i];

		if (!d->id || !d->present)
			continue;
		if (platform_name_problem(d->id)) /* as netns does: the whole name */
			rc = platform_scan_refuse(scan, d->id, platform_name_problem(d->id));
		else
			rc = dp_add_vm(f, d, scan);
	}
	return rc;
}

static int dp_due(struct platform *p, uint64_t now_ns)
{
	struct dummy_platform *f = p->priv;
	int due = f->changed ? PLATFORM_RESCAN : 0;

	(void)now_ns;
	f->changed = false;
	return due;
}

static void dp_close(struct platform *p)
{
	p->priv = NULL;
}

const struct platform_ops dummy_platform_ops = {
	.name = "dummy", .scan = dp_scan, .due = dp_due, .close = dp_close
};

/* ---- an enforcer that records what it is told, and reads counters the test sets ---- */

struct dummy_vif *dummy_find(struct dummy_enforcer *f, const char *id)
{
	for (size_t i = 0; i < sizeof(f->vifs) / sizeof(f->vifs[0]); i++)
		if (!strcmp(f->vifs[i].id, id))
			return &f->vifs[i];
	return NULL;
}

static int de_attach(struct enforcer *e, struct enf_vif *ev)
{
	struct dummy_enforcer *f = e->priv;
	char id[PLATFORM_ID_MAX + 4];
	struct dummy_vif *v;

	snprintf(id, sizeof(id), "%s%s", ev->desc->id, ev->dir == SLA_INGRESS ? "/in" : "");
	if (!(v = dummy_find(f, id)))
		v = dummy_find(f, ""); /* a free entry */
	if (!v)
		return -ENOSPC;
	snprintf(v->id, sizeof(v->id), "%s", id);
	v->attached = true;
	ev->state = v;
	f->attaches++;
	return 0;
}

static void de_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct dummy_enforcer *f = e->priv;
	struct dummy_vif *v = ev->state;

	v->attached = false;
	ev->state = NULL;
	f->detaches++;
}

static int de_sync(struct enforcer *e, uint64_t now_ns)
{
	(void)e, (void)now_ns;
	return 0;
}

static int de_read(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	(void)e;
	if (((struct dummy_vif *)ev->state)->unreadable)
		return -EIO;
	*out = ((struct dummy_vif *)ev->state)->cnt;
	((struct dummy_vif *)ev->state)->given = *out;
	return 0;
}

static int de_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct dummy_vif *v = ev->state;

	(void)e;
	if (v->refuses)
		return -EIO;
	v->last = *l;
	v->applies++;
	return 0;
}

static void de_close(struct enforcer *e)
{
	e->priv = NULL;
}

const struct enforcer_ops dummy_enforcer_ops = {
	.name = "dummy",
	.sees_offered = true,
	.attach = de_attach,
	.detach = de_detach,
	.sync = de_sync,
	.read_counters = de_read,
	.apply = de_apply,
	.close = de_close,
	.simulated_time = true, /* its counters are the script's at the period's time */
};

/* ---- the host ---- */

void dummy_uplink(struct dummy_host *x, const char *name, uint64_t bps, uint64_t pps)
{
	struct platform_uplink *u = &x->dp.up[x->dp.n_up++];

	snprintf(u->name, sizeof(u->name), "%s", name);
	u->capacity_bps = bps;
	u->capacity_pps = pps;
	x->dp.changed = true;
}

struct dummy_vm *dummy_vm(struct dummy_host *x, int i, const char *id, bool present)
{
	x->dp.vms[i] = (struct dummy_vm){ .id = id, .present = present };
	x->dp.changed = true;
	return &x->dp.vms[i];
}

struct dummy_host *dummy_host_new(uint64_t bps)
{
	struct dummy_host *x = calloc(1, sizeof(*x));

	if (x)
		dummy_uplink(x, "up0", bps, 0);
	return x;
}

int dummy_teardown(void **state)
{
	struct dummy_host *x = *state;

	dummy_host_close(x);
	free(x);
	return 0;
}

int dummy_host_open(struct dummy_host *x, enum alloc_mode mode, const uint64_t floor[ALLOC_NRES])
{
	if (!x->period_ns)
		x->period_ns = 100000000ull;
	x->plat = (struct platform){ &dummy_platform_ops, &x->dp };
	x->ops = dummy_enforcer_ops;
	x->ops.holds_ingress = x->ingress;
	x->enf = (struct enforcer){ &x->ops, &x->de, 0 };
	return control_init(&x->ctl, mode, floor, &x->plat, &x->enf);
}

void dummy_host_close(struct dummy_host *x)
{
	control_close(&x->ctl);
}

int dummy_tick(struct dummy_host *x)
{
	int rc = control_tick(&x->ctl, x->t);

	x->t += x->period_ns;
	return rc;
}

void dummy_traffic(struct dummy_host *x, const char *id, uint64_t bps)
{
	struct dummy_vif *v = dummy_find(&x->de, id);
	uint64_t bytes = bps / 8 * x->period_ns / 1000000000ull, pkts = bytes / 1000;

	if (!v)
		return;
	v->cnt.offered_bytes += bytes;
	v->cnt.offered_pkts += pkts;
	v->cnt.passed_bytes += bytes;
	v->cnt.passed_pkts += pkts;
}
