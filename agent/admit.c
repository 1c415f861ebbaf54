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
	{ SLA_DEFAULT_INIT, SLA_DEFAULT_INIT }, { { 0, 0 }, { 0, 0 } }, 0, 0
};

/* The SLA VM id will have once the pending changes are through: its own, the default if it
 * is on the host without one, or NULL (an absent VM whose SLA is gone, or none at all). */
static const struct sla_spec *effective(const char *id, const struct snap_vm *vm,
					const struct admit_change *pending, size_t n)
{
	const struct sla_spec *s = vm && vm->has_sla ? &vm->sla : NULL;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(pending[i].id, id))
			s = pending[i].sla;
	return s || !vm || !vm->present ? s : &default_sla;
}

/* The most the effective minimums of k vifs sharing min and max can add up to. */
static u128 eff_min(uint64_t min, uint64_t max, uint64_t floor, size_t k)
{
	u128 m = (u128)(min > floor ? min : floor) + (u128)floor * (k - 1);

	return max != SLA_UNLIMITED && m > max ? max : m;
}

static size_t vifs_on_uplink(const struct snap_vm *vm, uint32_t u)
{
	size_t k = 0;

	for (size_t i = 0; i < vm->n_vifs; i++)
		k += vm->vifs[i].uplink_index == u;
	return k;
}

/* How many of the VM's vifs draw on the host's packet budget (on an uplink without one of
 * its own); an absent VM will with one. */
static size_t vifs_on_host_pps(const struct snapshot *h, const struct snap_vm *vm)
{
	size_t k = 0;

	if (!vm || !vm->present || vm->n_vifs == 0)
		return 1;
	for (size_t i = 0; i < vm->n_vifs; i++)
		k += h->uplinks[vm->vifs[i].uplink_index].cfg.capacity_pps == 0;
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
static size_t vifs_in_on_host_pps(const struct snapshot *h, const struct snap_vm *vm)
{
	if (!h->holds_ingress)
		return 0;
	return !vm || !vm->present || vm->n_vifs == 0 ? 1 : vm->n_vifs;
}

/*
 * VM vm's effective minimum of one resource on a pool where it has k vifs, in direction dir;
 * dir < 0: the host's packet budget, which the egress of its k vifs there and the ingress of
 * all its vifs share.
 */
static u128 vm_eff_min(const struct snapshot *h, const struct snap_vm *vm, const struct sla_spec *s,
		       int res_pps, int dir, size_t k)
{
	if (!s)
		return 0;
	if (dir >= 0)
		return side_eff_min(h, &s->dir[dir], res_pps, k);
	return side_eff_min(h, &s->dir[SLA_EGRESS], res_pps, k) +
	       side_eff_min(h, &s->dir[SLA_INGRESS], res_pps, vifs_in_on_host_pps(h, vm));
}

static bool pending_seen_before(const struct admit_change *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(p[j].id, p[i].id))
			return true;
	return false;
}

/* Guarantees on a pool from every VM but `self`. pool: an uplink index for bps (in direction
 * dir) or for an uplink's own pps budget; host_pps: the host's packet budget. */
static u128 committed(const struct snapshot *h, const char *self, int res_pps, int dir,
		      uint32_t pool, bool host_pps, const struct admit_change *pending, size_t n)
{
	u128 sum = 0;

	for (size_t m = 0; m < h->n_vms; m++) {
		const struct snap_vm *vm = &h->vms[m];
		size_t k;

		if (!strcmp(vm->id, self))
			continue;
		if (host_pps)
			k = vifs_on_host_pps(h, vm);
		else
			k = vm->present ? vifs_on_uplink(vm, pool) : 0;
		sum += vm_eff_min(h, vm, effective(vm->id, vm, pending, n), res_pps,
				  host_pps ? -1 : dir, k);
	}
	/* VMs that exist only as pending PUTs are absent: they draw on the host's packets. */
	if (host_pps && res_pps)
		for (size_t i = 0; i < n; i++)
			if (strcmp(pending[i].id, self) && !snapshot_find_vm(h, pending[i].id) &&
			    !pending_seen_before(pending, i) && pending[i].sla)
				sum += vm_eff_min(h, NULL,
						  effective(pending[i].id, NULL, pending, n), 1, -1,
						  1);
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

/*
 * One pool: refused if the VM's new effective minimum there does not fit in what the others
 * leave, unless it is no more than what the VM holds there now (lowering a guarantee, or
 * setting one that the floors already give, never fails on a pool over-committed by others).
 * dir: the direction whose pool it is; host_pps: the host's packet budget, both directions'.
 */
static int check_pool(const struct snapshot *h, const char *id, const struct snap_vm *vm,
		      const struct sla_spec *sla, int res_pps, int dir, uint32_t pool,
		      bool host_pps, size_t k, uint64_t cap, const struct admit_change *pending,
		      size_t n_pending, struct admit_refusal *why)
{
	int d = host_pps ? -1 : dir;
	const struct sla_spec *now = effective(id, vm, pending, n_pending);
	u128 asked = vm_eff_min(h, vm, sla, res_pps, d, k), used;
	char where[64], field[32];
	const char *at;

	if (!cap || asked <= vm_eff_min(h, vm, now, res_pps, d, k))
		return 0;
	/* On the budget both directions share, the refusal names the side that asks for more. */
	if (host_pps && now &&
	    side_eff_min(h, &sla->dir[SLA_EGRESS], res_pps, k) <=
		    side_eff_min(h, &now->dir[SLA_EGRESS], res_pps, k))
		dir = SLA_INGRESS;
	at = dir == SLA_INGRESS ? "ingress." : "";
	used = committed(h, id, res_pps, dir, pool, host_pps, pending, n_pending);
	if (used + asked <= cap)
		return 0;
	if (host_pps)
		snprintf(where, sizeof(where), "the host's packet budget");
	else
		snprintf(where, sizeof(where), "uplink %s%s", h->uplinks[pool].cfg.name,
			 dir == SLA_INGRESS ? " (receiving)" : "");
	snprintf(field, sizeof(field), "%s%s", at,
		 res_pps ? "packet_rate.min_pps" : "bandwidth.min_bps");
	return refuse(why, field, res_pps ? "min_pps" : "min_bps", (uint64_t)asked, where, used,
		      cap, res_pps ? "packet/s" : "bit/s");
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
			rc = check_pool(h, id, vm, sla, 0, d, u, false, vifs_on_uplink(vm, u),
					h->uplinks[u].cfg.capacity_bps, pending, n_pending, why);
	if (!rc)
		rc = check_pool(h, id, vm, sla, 1, SLA_EGRESS, 0, true, vifs_on_host_pps(h, vm),
				h->host_capacity_pps, pending, n_pending, why);
	for (uint32_t u = 0; on_host && !rc && u < h->n_uplinks; u++)
		rc = check_pool(h, id, vm, sla, 1, SLA_EGRESS, u, false, vifs_on_uplink(vm, u),
				h->uplinks[u].cfg.capacity_pps, pending, n_pending, why);
	return rc;
}
