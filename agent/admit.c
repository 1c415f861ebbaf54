/*
 * admit: sums the guarantees already given on each pool the VM would draw on, over the host
 * model with the pending changes laid on top, and compares what is free with what is asked.
 *
 * A VM counts on every uplink one of its vifs uses (a guarantee split across uplinks by
 * traffic could land wholly on any one of them). A VM not on the host yet has no uplink: only
 * its packet guarantee is checked, against the host's budget, where it will draw.
 */
#include "admit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

/* The SLA VM id will have once the pending changes are through; NULL if none. */
static const struct sla *effective(const char *id, const struct vm *vm,
				   const struct admit_change *pending, size_t n)
{
	const struct sla *s = vm && vm->has_sla ? &vm->sla : NULL;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(pending[i].id, id))
			s = pending[i].sla;
	return s;
}

static bool uses_uplink(const struct vm *vm, uint32_t u)
{
	for (size_t i = 0; i < vm->n_vifs; i++)
		if (vm->vifs[i]->uplink == u)
			return true;
	return false;
}

/* Draws on the host's packet budget: absent, or a vif on an uplink without its own. */
static bool uses_host_pps(const struct host *h, const struct vm *vm)
{
	if (!vm || !vm->present || vm->n_vifs == 0)
		return true;
	for (size_t i = 0; i < vm->n_vifs; i++)
		if (h->uplinks[vm->vifs[i]->uplink].cfg.capacity_pps == 0)
			return true;
	return false;
}

static bool pending_seen_before(const struct admit_change *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(p[j].id, p[i].id))
			return true;
	return false;
}

/* Guarantees on a pool from every VM but `self`. pool: an uplink index for bps or for an
 * uplink's own pps budget; host_pps: the host's packet budget. */
static u128 committed(const struct host *h, const char *self, int res_pps, uint32_t pool,
		      bool host_pps, const struct admit_change *pending, size_t n)
{
	u128 sum = 0;

	for (size_t m = 0; m < h->n_vms; m++) {
		const struct vm *vm = h->vms[m];
		const struct sla *s;
		bool on;

		if (!strcmp(vm->id, self))
			continue;
		if (host_pps)
			on = uses_host_pps(h, vm);
		else
			on = vm->present && uses_uplink(vm, pool);
		if (!on || !(s = effective(vm->id, vm, pending, n)))
			continue;
		sum += res_pps ? s->min_pps : s->min_bps;
	}
	/* VMs that exist only as pending PUTs are absent: they draw on the host's packets. */
	if (host_pps && res_pps)
		for (size_t i = 0; i < n; i++)
			if (strcmp(pending[i].id, self) && !host_find_vm(h, pending[i].id) &&
			    !pending_seen_before(pending, i)) {
				const struct sla *s = effective(pending[i].id, NULL, pending, n);

				sum += s ? s->min_pps : 0;
			}
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

int admit_sla(const struct host *h, const char *id, const struct sla *sla,
	      const struct admit_change *pending, size_t n_pending, struct admit_refusal *why)
{
	const struct vm *vm = host_find_vm(h, id);
	u128 used;

	memset(why, 0, sizeof(*why));
	if (vm)
		id = vm->id; /* the id may have been a UUID or domid */
	if (sla->min_bps > 0 && vm && vm->present) {
		for (uint32_t u = 0; u < h->n_uplinks; u++) {
			uint64_t cap = h->uplinks[u].cfg.capacity_bps;
			char where[48];

			if (!cap || !uses_uplink(vm, u))
				continue;
			used = committed(h, id, 0, u, false, pending, n_pending);
			if (used + sla->min_bps > cap) {
				snprintf(where, sizeof(where), "uplink %s", h->uplinks[u].cfg.name);
				return refuse(why, "bandwidth.min_bps", "min_bps", sla->min_bps,
					      where, used, cap, "bit/s");
			}
		}
	}
	if (sla->min_pps == 0)
		return 0;
	if (uses_host_pps(h, vm) && h->host_capacity_pps) {
		used = committed(h, id, 1, 0, true, pending, n_pending);
		if (used + sla->min_pps > h->host_capacity_pps)
			return refuse(why, "packet_rate.min_pps", "min_pps", sla->min_pps,
				      "the host's packet budget", used, h->host_capacity_pps,
				      "packet/s");
	}
	for (uint32_t u = 0; vm && vm->present && u < h->n_uplinks; u++) {
		uint64_t cap = h->uplinks[u].cfg.capacity_pps;
		char where[48];

		if (!cap || !uses_uplink(vm, u))
			continue;
		used = committed(h, id, 1, u, false, pending, n_pending);
		if (used + sla->min_pps > cap) {
			snprintf(where, sizeof(where), "uplink %s", h->uplinks[u].cfg.name);
			return refuse(why, "packet_rate.min_pps", "min_pps", sla->min_pps, where,
				      used, cap, "packet/s");
		}
	}
	return 0;
}
