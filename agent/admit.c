/*
 * admit: sums the effective minimums already given on each pool the VM would draw on, over
 * the snapshot of the host model (snapshot.h) with the pending changes laid on top, and compares
 * what is free with what is asked.
 *
 * A vif's effective minimum is its share of the SLA's minimum raised to the floor (and capped
 * by its max), so a VM's on one pool is at most min(max, max(min, floor) + (k - 1) floor) for
 * its k vifs there, whatever the traffic split: that bound is what is counted. VMs without an
 * SLA count too, by the default SLA's floors.
 *
 * A VM counts on every uplink one of its vifs uses (a guarantee split across uplinks by
 * traffic could land wholly on any one of them). A VM not on the host yet has no uplink: only
 * its packet guarantee is checked, against the host's budget, where it will draw with one vif.
 *
 * A port with an SLA of its own is a holder of its own: its vif counts once on its uplink's
 * pools (a port not on the host: on the host's packet budget), and no longer in its VM's
 * split, whose k counts only the VM's other vifs.
 *
 * Each direction the enforcer holds has pools of its own: an uplink's transmit capacity for
 * egress, its receive capacity for ingress. Packets of both directions draw on one budget: the
 * host's (an uplink's own budget holds only its egress), so there a VM's guarantees of both
 * directions count together.
 */
#include "admit.h"
#include "arith.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct sla_spec default_sla = {
	{ SLA_DEFAULT_INIT, SLA_DEFAULT_INIT }, { { 0, 0 }, { 0, 0 } }, 0, 0, { 0 }
};

/* The SLA VM id will have once the pending changes are through: its own, the default if it
 * is on the host without one, or NULL (an absent VM whose SLA is gone, or none at all). */
static const struct sla_spec *effective(const char *id, const struct snap_vm *vm,
					const struct admit_change *pending, size_t n)
{
	const struct sla_spec *s = vm && vm->has_sla ? &vm->sla : NULL;

	for (size_t i = 0; i < n; i++)
		if (!pending[i].port && !strcmp(pending[i].id, id))
			s = pending[i].sla;
	return s || !vm || !vm->present ? s : &default_sla;
}

/* The SLA port key will have once the pending changes are through (NULL: none). */
static const struct sla_spec *port_effective(const char *key, const struct snap_port *p,
					     const struct admit_change *pending, size_t n)
{
	const struct sla_spec *s = p ? &p->sla : NULL;

	for (size_t i = 0; i < n; i++)
		if (pending[i].port && !strcmp(pending[i].id, key))
			s = pending[i].sla;
	return s;
}

/* The most the effective minimums of k vifs sharing min and max can add up to. */
static u128 eff_min(uint64_t min, uint64_t max, uint64_t floor, size_t k)
{
	u128 m = (u128)(min > floor ? min : floor) + (u128)floor * (k - 1);

	return max != SLA_UNLIMITED && m > max ? max : m;
}

/* Whether the VM's vif v is in the split of the VM's SLA: not under a port SLA of its own,
 * and not `skip` (the vif a port SLA being checked is about to take out of it). */
static bool in_split(const struct snap_vif *v, const struct snap_vif *skip)
{
	return v->port < 0 && v != skip;
}

static size_t vifs_on_uplink(const struct snap_vm *vm, uint32_t u, const struct snap_vif *skip)
{
	size_t k = 0;

	for (size_t i = 0; i < vm->n_vifs; i++)
		k += vm->vifs[i].uplink_index == u && in_split(&vm->vifs[i], skip);
	return k;
}

/* How many of the VM's vifs draw on the host's packet budget (on an uplink without one of
 * its own); an absent VM will with one. */
static size_t vifs_on_host_pps(const struct snapshot *h, const struct snap_vm *vm,
			       const struct snap_vif *skip)
{
	size_t k = 0;

	if (!vm || !vm->present || vm->n_vifs == 0)
		return 1;
	for (size_t i = 0; i < vm->n_vifs; i++)
		k += h->uplinks[vm->vifs[i].uplink_index].cfg.capacity_pps == 0 &&
		     in_split(&vm->vifs[i], skip);
	return k;
}

/* One side's effective minimum of one resource on a pool where it has k vifs. */
static u128 side_eff_min(const struct snapshot *h, const struct sla *s, int res_pps, size_t k)
{
	if (k == 0)
		return 0;
	return res_pps ? eff_min(s->min_pps, s->max_pps, h->floor[ALLOC_PPS], k)
		       : eff_min(s->min_bps, s->max_bps, h->floor[ALLOC_BPS], k);
}

/* How many of its vifs draw on the host's budget in their ingress direction: all of them (one
 * for a VM not on the host yet), where the enforcer holds ingress; else none. */
static size_t vifs_in_on_host_pps(const struct snapshot *h, const struct snap_vm *vm,
				  const struct snap_vif *skip)
{
	size_t k = 0;

	if (!h->holds_ingress)
		return 0;
	if (!vm || !vm->present || vm->n_vifs == 0)
		return 1;
	for (size_t i = 0; i < vm->n_vifs; i++)
		k += in_split(&vm->vifs[i], skip);
	return k;
}

/*
 * VM vm's effective minimum of one resource on a pool where it has k vifs, in direction dir;
 * dir < 0: the host's packet budget, which the egress of its k vifs there and the ingress of
 * all its vifs share.
 */
static u128 vm_eff_min(const struct snapshot *h, const struct snap_vm *vm, const struct sla_spec *s,
		       int res_pps, int dir, size_t k, const struct snap_vif *skip)
{
	if (!s)
		return 0;
	if (dir >= 0)
		return side_eff_min(h, &s->dir[dir], res_pps, k);
	return side_eff_min(h, &s->dir[SLA_EGRESS], res_pps, k) +
	       side_eff_min(h, &s->dir[SLA_INGRESS], res_pps, vifs_in_on_host_pps(h, vm, skip));
}

static bool pending_seen_before(const struct admit_change *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (p[j].port == p[i].port && !strcmp(p[j].id, p[i].id))
			return true;
	return false;
}

/* The port SLA kept under key, NULL: none. */
static const struct snap_port *find_port(const struct snapshot *h, const char *key)
{
	for (size_t p = 0; p < h->n_ports; p++)
		if (!strcmp(h->ports[p].key, key))
			return &h->ports[p];
	return NULL;
}

/* A port's effective minimum of one resource on a pool (as vm_eff_min; its vif uplink u, or
 * -1 when it is not on the host): one vif's worth where it draws. */
static u128 port_eff_min(const struct snapshot *h, int u, const struct sla_spec *s, int res_pps,
			 int dir, uint32_t pool, bool host_pps)
{
	if (!s)
		return 0;
	if (!host_pps)
		return u == (int)pool ? side_eff_min(h, &s->dir[dir], res_pps, 1) : 0;
	return side_eff_min(h, &s->dir[SLA_EGRESS], res_pps,
			    u < 0 || h->uplinks[u].cfg.capacity_pps == 0) +
	       side_eff_min(h, &s->dir[SLA_INGRESS], res_pps, h->holds_ingress);
}

static int port_uplink(const struct snapshot *h, const struct snap_port *p)
{
	return p && p->vif >= 0 ? (int)h->vifs[p->vif].uplink_index : -1;
}

/* Guarantees on a pool from every holder but `self` (a VM's id, or self_port: a port's key).
 * pool: an uplink index for bps (in direction dir) or for an uplink's own pps budget;
 * host_pps: the host's packet budget. */
static u128 committed(const struct snapshot *h, const char *self, bool self_port,
		      const struct snap_vif *skip, int res_pps, int dir, uint32_t pool,
		      bool host_pps, const struct admit_change *pending, size_t n)
{
	u128 sum = 0;

	for (size_t p = 0; p < h->n_ports; p++) {
		const struct snap_port *sp = &h->ports[p];

		if (self_port && !strcmp(sp->key, self))
			continue;
		sum += port_eff_min(h, port_uplink(h, sp), port_effective(sp->key, sp, pending, n),
				    res_pps, dir, pool, host_pps);
	}
	/* Ports that exist only as pending PUTs are not on the host. */
	if (host_pps)
		for (size_t i = 0; i < n; i++)
			if (pending[i].port && pending[i].sla &&
			    (!self_port || strcmp(pending[i].id, self)) &&
			    !find_port(h, pending[i].id) && !pending_seen_before(pending, i))
				sum += port_eff_min(h, -1,
						    port_effective(pending[i].id, NULL, pending, n),
						    res_pps, dir, pool, true);
	for (size_t m = 0; m < h->n_vms; m++) {
		const struct snap_vm *vm = &h->vms[m];
		size_t k;

		if (!self_port && !strcmp(vm->id, self))
			continue;
		if (host_pps)
			k = vifs_on_host_pps(h, vm, skip);
		else
			k = vm->present ? vifs_on_uplink(vm, pool, skip) : 0;
		sum += vm_eff_min(h, vm, effective(vm->id, vm, pending, n), res_pps,
				  host_pps ? -1 : dir, k, skip);
	}
	/* VMs that exist only as pending PUTs are absent: they draw on the host's packets. */
	if (host_pps && res_pps)
		for (size_t i = 0; i < n; i++)
			if (!pending[i].port && (self_port || strcmp(pending[i].id, self)) &&
			    !snapshot_find_vm(h, pending[i].id) &&
			    !pending_seen_before(pending, i) && pending[i].sla)
				sum += vm_eff_min(h, NULL,
						  effective(pending[i].id, NULL, pending, n), 1, -1,
						  1, NULL);
	return sum;
}

static int refuse(struct admit_refusal *why, const char *field, const char *what, uint64_t asked,
		  const char *where, u128 used, uint64_t cap, const char *unit)
{
	uint64_t free_ = used >= cap ? 0 : cap - (uint64_t)used;

	snprintf(why->field, sizeof(why->field), "%s", field);
	snprintf(why->msg, sizeof(why->msg),
		 "%s %llu exceeds what is free on %s: %llu of %llu %s are not yet guaranteed", what,
		 (unsigned long long)asked, where, (unsigned long long)free_,
		 (unsigned long long)cap, unit);
	return -EBUSY;
}

/* What is asked of one pool and what the holder has there now. */
struct ask {
	const char *self; /* the VM's id or the port's key */
	bool port;
	const struct snap_vif *skip; /* a port's vif, out of its VM's split once it has its SLA */
	u128 asked, now;
	bool egress_no_more; /* on the host's budget: its egress side asks no more than now */
};

/*
 * One pool: refused if the holder's new effective minimum there does not fit in what the
 * others leave, unless it is no more than what it holds there now (lowering a guarantee, or
 * setting one that the floors already give, never fails on a pool over-committed by others).
 * dir: the direction whose pool it is; host_pps: the host's packet budget, both directions'.
 */
static int check(const struct snapshot *h, const struct ask *a, int res_pps, int dir, uint32_t pool,
		 bool host_pps, uint64_t cap, const struct admit_change *pending, size_t n_pending,
		 struct admit_refusal *why)
{
	char where[64], field[32];
	const char *at;
	u128 used;

	if (!cap || a->asked <= a->now)
		return 0;
	/* On the budget both directions share, the refusal names the side that asks for more. */
	if (host_pps && a->egress_no_more)
		dir = SLA_INGRESS;
	at = dir == SLA_INGRESS ? "ingress." : "";
	used = committed(h, a->self, a->port, a->skip, res_pps, dir, pool, host_pps, pending,
			 n_pending);
	if (used + a->asked <= cap)
		return 0;
	if (host_pps)
		snprintf(where, sizeof(where), "the host's packet budget");
	else
		snprintf(where, sizeof(where), "uplink %s%s", h->uplinks[pool].cfg.name,
			 dir == SLA_INGRESS ? " (receiving)" : "");
	snprintf(field, sizeof(field), "%s%s", at,
		 res_pps ? "packet_rate.min_pps" : "bandwidth.min_bps");
	return refuse(why, field, res_pps ? "min_pps" : "min_bps", (uint64_t)a->asked, where, used,
		      cap, res_pps ? "packet/s" : "bit/s");
}

/* One pool for VM id, where it has k vifs. */
static int check_pool(const struct snapshot *h, const char *id, const struct snap_vm *vm,
		      const struct sla_spec *sla, int res_pps, int dir, uint32_t pool,
		      bool host_pps, size_t k, uint64_t cap, const struct admit_change *pending,
		      size_t n_pending, struct admit_refusal *why)
{
	int d = host_pps ? -1 : dir;
	const struct sla_spec *now = effective(id, vm, pending, n_pending);
	struct ask a = { id,
			 false,
			 NULL,
			 vm_eff_min(h, vm, sla, res_pps, d, k, NULL),
			 vm_eff_min(h, vm, now, res_pps, d, k, NULL),
			 now && side_eff_min(h, &sla->dir[SLA_EGRESS], res_pps, k) <=
					 side_eff_min(h, &now->dir[SLA_EGRESS], res_pps, k) };

	return check(h, &a, res_pps, dir, pool, host_pps, cap, pending, n_pending, why);
}

/* What the VM's SLA guarantees the vif `v` on a pool now: what the VM's guarantee there falls
 * by when v leaves its split (its share, or the floor). */
static u128 share_of(const struct snapshot *h, const struct snap_vm *vm, const struct snap_vif *v,
		     const struct admit_change *pending, size_t n, int res_pps, int dir,
		     uint32_t pool, bool host_pps)
{
	const struct sla_spec *s = effective(vm->id, vm, pending, n);
	size_t with, without;

	if (host_pps) {
		with = vifs_on_host_pps(h, vm, NULL);
		without = vifs_on_host_pps(h, vm, v);
	} else {
		with = vifs_on_uplink(vm, pool, NULL);
		without = vifs_on_uplink(vm, pool, v);
	}
	return vm_eff_min(h, vm, s, res_pps, host_pps ? -1 : dir, with, NULL) -
	       vm_eff_min(h, vm, s, res_pps, host_pps ? -1 : dir, without, v);
}

/* One pool for the port SLA kept under key, its vif `at` (NULL: not on the host) on uplink u
 * (-1). A port under its VM's SLA holds its share of it there now. */
static int check_port_pool(const struct snapshot *h, const char *key, const struct port_ref *at,
			   int u, const struct sla_spec *sla, int res_pps, int dir, uint32_t pool,
			   bool host_pps, uint64_t cap, const struct admit_change *pending,
			   size_t n_pending, struct admit_refusal *why)
{
	const struct sla_spec *now = port_effective(key, find_port(h, key), pending, n_pending);
	int k_eg = u < 0 || h->uplinks[u].cfg.capacity_pps == 0;
	bool in_vm = at->vif && at->vif->port < 0;
	struct ask a = { key,
			 true,
			 in_vm ? at->vif : NULL,
			 port_eff_min(h, u, sla, res_pps, dir, pool, host_pps),
			 port_eff_min(h, u, now, res_pps, dir, pool, host_pps),
			 now && side_eff_min(h, &sla->dir[SLA_EGRESS], res_pps, k_eg) <=
					 side_eff_min(h, &now->dir[SLA_EGRESS], res_pps, k_eg) };

	if (in_vm && !now)
		a.now = share_of(h, at->vm, at->vif, pending, n_pending, res_pps, dir, pool,
				 host_pps);
	return check(h, &a, res_pps, dir, pool, host_pps, cap, pending, n_pending, why);
}

int admit_port_sla(const struct snapshot *h, const char *key, const struct port_ref *at,
		   const struct sla_spec *sla, const struct admit_change *pending, size_t n_pending,
		   struct admit_refusal *why)
{
	int n_dirs = h->holds_ingress ? SLA_NDIR : 1, rc = 0;
	int u = at->vif ? (int)at->vif->uplink_index : -1;

	memset(why, 0, sizeof(*why));
	for (int d = 0; u >= 0 && d < n_dirs && !rc; d++)
		rc = check_port_pool(h, key, at, u, sla, 0, d, (uint32_t)u, false,
				     h->uplinks[u].cfg.capacity_bps, pending, n_pending, why);
	if (!rc)
		rc = check_port_pool(h, key, at, u, sla, 1, SLA_EGRESS, 0, true,
				     h->host_capacity_pps, pending, n_pending, why);
	if (!rc && u >= 0)
		rc = check_port_pool(h, key, at, u, sla, 1, SLA_EGRESS, (uint32_t)u, false,
				     h->uplinks[u].cfg.capacity_pps, pending, n_pending, why);
	return rc;
}

int admit_sla(const struct snapshot *h, const char *id, const struct sla_spec *sla,
	      const struct admit_change *pending, size_t n_pending, struct admit_refusal *why)
{
	const struct snap_vm *vm = snapshot_find_vm(h, id);
	bool on_host = vm && vm->present;
	int n_dirs = h->holds_ingress ? SLA_NDIR : 1, rc = 0;

	memset(why, 0, sizeof(*why));
	if (vm)
		id = vm->id; /* the id may have been a UUID or domid */
	for (int d = 0; d < n_dirs && !rc; d++)
		for (uint32_t u = 0; on_host && !rc && u < h->n_uplinks; u++)
			rc = check_pool(h, id, vm, sla, 0, d, u, false, vifs_on_uplink(vm, u, NULL),
					h->uplinks[u].cfg.capacity_bps, pending, n_pending, why);
	if (!rc)
		rc = check_pool(h, id, vm, sla, 1, SLA_EGRESS, 0, true,
				vifs_on_host_pps(h, vm, NULL), h->host_capacity_pps, pending,
				n_pending, why);
	for (uint32_t u = 0; on_host && !rc && u < h->n_uplinks; u++)
		rc = check_pool(h, id, vm, sla, 1, SLA_EGRESS, u, false,
				vifs_on_uplink(vm, u, NULL), h->uplinks[u].cfg.capacity_pps,
				pending, n_pending, why);
	return rc;
}
