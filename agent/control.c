/*
 * control: the per-period pipeline and the reconciliation of the host model with what the
 * platform reports. Everything here runs on the loop thread.
 *
 * A new vif is attached and allocated in the same period it is found, so it never runs
 * without a limit for longer than the rest of that period.
 */
#include "control_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boottime.h"
#include "log.h"
#include "loop.h"
#include "arith.h"
#include "report.h"
#include "snapshot.h"

/* How many periods a vif whose shaper held it back keeps asking for its max; and one at its
 * limit, under an enforcer that sees only what passed, for more than its limit. */
#define CONTROL_HELD_PERIODS 10

/* Samples awaited at the uplink at once, and how long one may take before it counts lost. */
#define CONTROL_SAMPLES_IN_FLIGHT 65536
#define CONTROL_SAMPLE_TIMEOUT_NS 2000000000ull

const uint32_t control_lateness_bucket_us[CONTROL_N_LATENESS] = {
	10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000,
};

void control_note_start(struct control *ctl, uint64_t late_ns, uint64_t missed)
{
	size_t b = 0;

	ctl->overruns += missed;
	while (b < CONTROL_N_LATENESS && late_ns > control_lateness_bucket_us[b] * 1000ull)
		b++;
	ctl->lateness_count[b]++;
	ctl->lateness_sum_ns += late_ns;
	ctl->lateness_n++;
}

size_t control_n_dirs(const struct control *ctl)
{
	return ctl->enf->ops->holds_ingress ? SLA_NDIR : 1;
}

int control_init(struct control *ctl, enum alloc_mode mode, const uint64_t floor[ALLOC_NRES],
		 struct platform *plat, struct enforcer *enf)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->mode = mode;
	ctl->plat = plat;
	ctl->enf = enf;
	host_init(&ctl->host);
	memcpy(ctl->host.floor, floor, sizeof(ctl->host.floor));
	ctl->rescan = true;
	ctl->topology_changed = true;
	ctl->ws = alloc_ws_new();
	if (enf->sample_every && enf->ops->drain_samples)
		ctl->matcher =
			delay_matcher_new(CONTROL_SAMPLES_IN_FLIGHT, CONTROL_SAMPLE_TIMEOUT_NS);
	return ctl->ws && (ctl->matcher || !enf->sample_every || !enf->ops->drain_samples)
		       ? 0
		       : -ENOMEM;
}

static void detach_vif(struct control *ctl, struct vm *vm, size_t i)
{
	struct vif *vif = vm->vifs[i];

	for (int d = SLA_NDIR; d-- > 0;)
		if (vif->side[d].attached)
			ctl->enf->ops->detach(ctl->enf, &vif->side[d].enf);
	for (int d = 0; ctl->matcher && vif->delay && d < SLA_NDIR; d++)
		delay_forget(ctl->matcher, &vif->delay[d]);
	log_info("vif released vm=%s vif=%s", log_q(vm->id), log_q(vif->desc.id));
	vm_remove_vif(&ctl->host, vm, i);
	ctl->topology_changed = true;
}

static void free_flat(struct control *ctl)
{
	free(ctl->flat);
	free(ctl->slas);
	free(ctl->ain);
	free(ctl->aout);
	free(ctl->aup);
	free(ctl->apool[0]);
	free(ctl->apool[1]);
	ctl->flat = NULL;
	ctl->slas = NULL;
	ctl->ain = NULL;
	ctl->aout = NULL;
	ctl->aup = NULL;
	ctl->apool[0] = ctl->apool[1] = NULL;
}

void control_close(struct control *ctl)
{
	for (size_t m = 0; m < ctl->host.n_vms; m++) {
		struct vm *vm = ctl->host.vms[m];

		while (vm->n_vifs)
			detach_vif(ctl, vm, vm->n_vifs - 1);
	}
	host_free(&ctl->host);
	free(ctl->refused);
	ctl->refused = NULL;
	ctl->n_refused = 0;
	free_flat(ctl);
	alloc_ws_free(ctl->ws);
	ctl->ws = NULL;
	delay_matcher_free(ctl->matcher);
	ctl->matcher = NULL;
	snapshot_free(ctl->snap);
	ctl->snap = NULL;
}

int control_new(struct control **out, enum alloc_mode mode, const uint64_t floor[ALLOC_NRES],
		struct platform *plat, struct enforcer *enf)
{
	struct control *ctl = calloc(1, sizeof(*ctl));

	*out = NULL;
	if (!ctl)
		return -ENOMEM;
	if (control_init(ctl, mode, floor, plat, enf)) {
		control_close(ctl);
		free(ctl);
		return -ENOMEM;
	}
	*out = ctl;
	return 0;
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	control_close(ctl);
	free(ctl);
}

static int find_uplink(const struct host *host, const char *name)
{
	for (size_t u = 0; u < host->n_uplinks; u++)
		if (!strcmp(host->uplinks[u].cfg.name, name))
			return (int)u;
	return -1;
}

static int reconcile_uplinks(struct control *ctl, const struct platform_scan *scan)
{
	struct host *h = &ctl->host;
	struct uplink *up = calloc(scan->n_uplinks ? scan->n_uplinks : 1, sizeof(*up));

	if (!up)
		return -ENOMEM;
	for (size_t u = 0; u < scan->n_uplinks; u++)
		up[u].cfg = scan->uplinks[u];
	free(h->uplinks);
	h->uplinks = up;
	h->n_uplinks = scan->n_uplinks;
	h->host_capacity_pps = scan->host_capacity_pps;
	/* Uplink indices may have moved: re-resolve every vif's. */
	for (size_t m = 0; m < h->n_vms; m++) {
		struct vm *vm = h->vms[m];

		for (size_t i = vm->n_vifs; i-- > 0;) {
			int u = find_uplink(h, vm->vifs[i]->desc.uplink);

			if (u < 0) {
				log_warn("uplink gone, vif released vm=%s vif=%s uplink=%s",
					 log_q(vm->id), log_q(vm->vifs[i]->desc.id),
					 log_q(vm->vifs[i]->desc.uplink));
				detach_vif(ctl, vm, i);
				continue;
			}
			vm->vifs[i]->uplink = (uint32_t)u;
		}
	}
	ctl->topology_changed = true;
	return 0;
}

static void reconcile_vm(struct control *ctl, struct vm *vm, const struct platform_vm *pvm)
{
	struct host *h = &ctl->host;

	memcpy(vm->uuid, pvm->uuid, sizeof(vm->uuid));
	vm->domid = pvm->domid;
	if (!vm->present)
		log_info("vm appeared vm=%s vifs=%zu sla=%s", log_q(vm->id), pvm->n_vifs,
			 vm->has_sla ? "set" : "default");
	if (!vm->present)
		h->generation++;
	vm->present = true;
	vm->absent_since = 0;
	for (size_t i = vm->n_vifs; i-- > 0;) {
		size_t k;

		for (k = 0; k < pvm->n_vifs && strcmp(pvm->vifs[k].id, vm->vifs[i]->desc.id); k++)
			;
		if (k == pvm->n_vifs)
			detach_vif(ctl, vm, i);
	}
	for (size_t k = 0; k < pvm->n_vifs; k++) {
		const struct platform_vif *d = &pvm->vifs[k];
		struct vif *vif;
		int u, rc;

		if ((vif = vm_find_vif(vm, d->id))) {
			/* The orchestrator names a port when it plugs it, before or after the vif
			 * appears: its id is followed on a vif already attached. */
			if (strcmp(vif->desc.port_id, d->port_id)) {
				log_info("vif port id vm=%s vif=%s port_id=%s", log_q(vm->id),
					 log_q(d->id), d->port_id[0] ? log_q(d->port_id) : "none");
				memcpy(vif->desc.port_id, d->port_id, sizeof(d->port_id));
				h->generation++;
			}
			continue;
		}
		u = find_uplink(h, d->uplink);
		if (u < 0) {
			log_warn("vif skipped, unknown uplink vm=%s vif=%s uplink=%s",
				 log_q(vm->id), log_q(d->id), log_q(d->uplink));
			continue;
		}
		vif = vm_add_vif(h, vm, d);
		if (!vif) {
			log_error("vif skipped, out of memory vm=%s vif=%s", log_q(vm->id),
				  log_q(d->id));
			continue;
		}
		vif->uplink = (uint32_t)u;
		if (ctl->matcher && !(vif->delay = calloc(SLA_NDIR, sizeof(*vif->delay)))) {
			log_error("vif skipped, out of memory vm=%s vif=%s", log_q(vm->id),
				  log_q(d->id));
			vm_remove_vif(h, vm, vm->n_vifs - 1);
			continue;
		}
		for (int dir = 0; vif->delay && dir < SLA_NDIR; dir++)
			vif->side[dir].enf.delay = &vif->delay[dir];
		rc = ctl->enf->ops->attach(ctl->enf, &vif->side[SLA_EGRESS].enf);
		if (rc) {
			log_error("vif attach failed vm=%s vif=%s enforcer=%s err=%s",
				  log_q(vm->id), log_q(d->id), ctl->enf->ops->name, strerror(-rc));
			vm_remove_vif(h, vm, vm->n_vifs - 1);
			continue;
		}
		vif->side[SLA_EGRESS].attached = true;
		/* Ingress on its own: a vif whose ingress cannot be held still has its egress held,
		 * and its ingress figures are null (not counted), said here once. */
		if (ctl->enf->ops->holds_ingress) {
			rc = ctl->enf->ops->attach(ctl->enf, &vif->side[SLA_INGRESS].enf);
			vif->side[SLA_INGRESS].attached = rc == 0;
			if (rc)
				log_error("vif ingress not held vm=%s vif=%s enforcer=%s err=%s",
					  log_q(vm->id), log_q(d->id), ctl->enf->ops->name,
					  strerror(-rc));
		}
		log_info("vif attached vm=%s vif=%s uplink=%s enforcer=%s ingress=%s%s%s",
			 log_q(vm->id), log_q(d->id), log_q(d->uplink), ctl->enf->ops->name,
			 vif->side[SLA_INGRESS].attached ? "held" : "not held",
			 vif->side[SLA_EGRESS].enf.counted_by ? " counters=" : "",
			 vif->side[SLA_EGRESS].enf.counted_by ? vif->side[SLA_EGRESS].enf.counted_by
							      : "");
		ctl->topology_changed = true;
	}
}

static int cmp_vm_id(const void *a, const void *b)
{
	return strcmp((*(const struct vm *const *)a)->id, (*(const struct vm *const *)b)->id);
}

static int cmp_pvm_id(const void *a, const void *b)
{
	return strcmp((*(const struct platform_vm *const *)a)->id,
		      (*(const struct platform_vm *const *)b)->id);
}

/* bsearch's comparisons of an id (the key) with a VM's or a scanned VM's. */
static int cmp_id_vm(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct vm *const *)elem)->id);
}

static int cmp_id_pvm(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct platform_vm *const *)elem)->id);
}

/* The host's VM of a scanned VM's id, by the index of VMs sorted by id; NULL: new to the host.
 * Only the id, the key the platform keeps unique: a VM named after another's domid or UUID is
 * another VM, never taken for that one (whose vifs it would release). */
static struct vm *find_scanned(struct vm **by_id, size_t n, const char *id)
{
	struct vm **hit = bsearch(id, by_id, n, sizeof(*by_id), cmp_id_vm);

	return hit ? *hit : NULL;
}

static bool refused_in(const struct platform_refusal *r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].name, name))
			return true;
	return false;
}

/* The scan's refusals become the control's: each new one said once, at warn (a VM the agent
 * cannot limit), and one that went, at info. */
static void take_refusals(struct control *ctl, struct platform_scan *scan)
{
	bool changed = scan->n_refused != ctl->n_refused;

	for (size_t i = 0; i < scan->n_refused; i++) {
		const struct platform_refusal *r = &scan->refused[i];

		if (refused_in(ctl->refused, ctl->n_refused, r->name))
			continue;
		changed = true;
		log_warn("vm refused, not limited: %s name=%s", r->why, log_q(r->name));
	}
	for (size_t i = 0; i < ctl->n_refused; i++)
		if (!refused_in(scan->refused, scan->n_refused, ctl->refused[i].name))
			log_info("vm refused no longer seen name=%s", log_q(ctl->refused[i].name));
	free(ctl->refused);
	ctl->refused = scan->refused;
	ctl->n_refused = scan->n_refused;
	scan->refused = NULL;
	scan->n_refused = 0;
	if (changed)
		ctl->host.generation++;
}

static int reconcile(struct control *ctl, uint64_t now_ns)
{
	struct host *h = &ctl->host;
	struct platform_scan scan;
	struct vm **by_id = NULL;
	const struct platform_vm **seen = NULL;
	size_t n_by_id = h->n_vms;
	int rc;

	rc = ctl->plat->ops->scan(ctl->plat, now_ns, &scan);
	if (rc) {
		log_error("platform scan failed platform=%s err=%s", ctl->plat->ops->name,
			  strerror(-rc));
		return rc;
	}
	take_refusals(ctl, &scan);
	/* Both sides sorted by id: a scan of a thousand VMs is matched in n log n, not n^2. */
	by_id = malloc((n_by_id ? n_by_id : 1) * sizeof(*by_id));
	seen = malloc((scan.n_vms ? scan.n_vms : 1) * sizeof(*seen));
	if (!by_id || !seen) {
		rc = -ENOMEM;
		goto out;
	}
	if (n_by_id) /* h->vms may be NULL, and memcpy's source must not be */
		memcpy(by_id, h->vms, n_by_id * sizeof(*by_id));
	qsort(by_id, n_by_id, sizeof(*by_id), cmp_vm_id);
	for (size_t k = 0; k < scan.n_vms; k++)
		seen[k] = &scan.vms[k];
	qsort(seen, scan.n_vms, sizeof(*seen), cmp_pvm_id);
	rc = reconcile_uplinks(ctl, &scan);
	for (size_t k = 0; !rc && k < scan.n_vms; k++) {
		struct vm *vm = find_scanned(by_id, n_by_id, scan.vms[k].id);

		if (!vm && !(vm = host_add_vm(h, scan.vms[k].id))) {
			rc = -ENOMEM;
			break;
		}
		reconcile_vm(ctl, vm, &scan.vms[k]);
	}
	/* VMs the scan no longer shows: release their vifs; forget them unless an SLA waits. */
	for (size_t m = h->n_vms; !rc && m-- > 0;) {
		struct vm *vm = h->vms[m];

		if (!vm->present || bsearch(vm->id, seen, scan.n_vms, sizeof(*seen), cmp_id_pvm))
			continue;
		while (vm->n_vifs)
			detach_vif(ctl, vm, vm->n_vifs - 1);
		vm->present = false;
		vm->absent_since = boot_stamp_now();
		h->generation++;
		log_info("vm gone vm=%s sla=%s", log_q(vm->id), vm->has_sla ? "kept" : "default");
		if (!vm->has_sla)
			host_remove_vm(h, vm);
	}
	if (!rc)
		host_bind_ports(h); /* vifs came or went: port SLAs follow */
	log_debug("platform scanned platform=%s vms=%zu", ctl->plat->ops->name, scan.n_vms);
out:
	free(by_id);
	free(seen);
	platform_scan_free(&scan);
	if (rc)
		log_error("reconcile failed err=%s", strerror(-rc));
	return rc;
}

static int cmp_vif_seq(const void *a, const void *b)
{
	const struct vif *x = *(struct vif *const *)a, *y = *(struct vif *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The allocator wants vifs in creation order with VM and uplink indices: build that once per
 * change of topology, not every period. */
static int rebuild_flat(struct control *ctl)
{
	struct host *h = &ctl->host;
	size_t n = 0, k = 0, nd = control_n_dirs(ctl), n_pools = h->n_uplinks * nd + 1;

	for (size_t m = 0; m < h->n_vms; m++)
		n += h->vms[m]->n_vifs;
	free_flat(ctl);
	ctl->flat = calloc(n + 1, sizeof(*ctl->flat));
	ctl->slas = calloc((h->n_vms + h->n_ports) * nd + 1, sizeof(*ctl->slas));
	ctl->ain = calloc(n * nd + 1, sizeof(*ctl->ain));
	ctl->aout = calloc(n * nd + 1, sizeof(*ctl->aout));
	ctl->aup = calloc(n_pools, sizeof(*ctl->aup));
	ctl->apool[0] = calloc(n_pools, sizeof(*ctl->apool[0]));
	ctl->apool[1] = calloc(n_pools, sizeof(*ctl->apool[1]));
	if (!ctl->flat || !ctl->slas || !ctl->ain || !ctl->aout || !ctl->aup || !ctl->apool[0] ||
	    !ctl->apool[1]) {
		free_flat(ctl);
		return -ENOMEM;
	}
	for (size_t m = 0; m < h->n_vms; m++) { /* (ports keep their index: host.c) */
		h->vms[m]->index = (uint32_t)m;
		for (size_t i = 0; i < h->vms[m]->n_vifs; i++)
			ctl->flat[k++] = h->vms[m]->vifs[i];
	}
	qsort(ctl->flat, n, sizeof(*ctl->flat), cmp_vif_seq);
	ctl->n_flat = n;
	ctl->alloc_valid = false;
	ctl->vms_generation = h->vms_generation;
	ctl->topology_changed = false;
	return 0;
}

/* One direction's reading. The VM's totals and its history are of what it sends (egress). */
static void read_side(struct control *ctl, struct vif *vif, int dir, uint64_t at)
{
	struct vif_side *sd = &vif->side[dir];
	struct vif_counters cur;
	int rc;

	sd->quiet = true;
	/* Read at the last period's sync, and the enforcer sure nothing moved since */
	if (sd->have_cnt && sd->cnt_ns == ctl->last_read_ns && at > sd->cnt_ns &&
	    ctl->enf->ops->unchanged && ctl->enf->ops->unchanged(ctl->enf, &sd->enf)) {
		memset(&sd->rates, 0, sizeof(sd->rates));
		sd->cnt_ns = at;
		return;
	}
	rc = ctl->enf->ops->read_counters(ctl->enf, &sd->enf, &cur);
	if (rc) {
		/* Not counted: its figures are null, never 0 (the snapshot's readers), and the
		 * allocator keeps its last rates. Said once, when a vif that was read stops being,
		 * and at the period that makes it a problem (GET /readyz). */
		sd->quiet = false;
		sd->unread_err = rc;
		vif->vm->hist_unread |= dir == SLA_EGRESS;
		if (++sd->unread == CONTROL_UNREAD_PROBLEM)
			log_warn("vif not counted for %u periods vm=%s vif=%s direction=%s "
				 "err=%s%s%s",
				 sd->unread, log_q(vif->vm->id), log_q(vif->desc.id),
				 sla_dir_name[dir], strerror(-rc),
				 sd->enf.count_note[0] ? " why=" : "",
				 sd->enf.count_note[0] ? log_q(sd->enf.count_note) : "");
		else
			log_debug("counters unreadable vm=%s vif=%s direction=%s err=%s",
				  log_q(vif->vm->id), log_q(vif->desc.id), sla_dir_name[dir],
				  strerror(-rc));
		return;
	}
	if (sd->unread >= CONTROL_UNREAD_PROBLEM)
		log_info("vif counted again vm=%s vif=%s direction=%s after %u periods",
			 log_q(vif->vm->id), log_q(vif->desc.id), sla_dir_name[dir], sd->unread);
	sd->unread = 0;
	if (sd->have_cnt && at > sd->cnt_ns && cur.offered_pkts == sd->cnt.offered_pkts &&
	    cur.passed_pkts == sd->cnt.passed_pkts) {
		/* Idle (offered and passed counts are the ones that move first): nothing to add,
		 * and the totals stay out of the cache. */
		memset(&sd->rates, 0, sizeof(sd->rates));
	} else if (sd->have_cnt && at > sd->cnt_ns) {
		sd->quiet = false;
		struct vif_counters d;

		if (measure_delta(&sd->cnt, &cur, &d))
			log_info(
				"counters reset vm=%s vif=%s direction=%s: counted from zero again",
				log_q(vif->vm->id), log_q(vif->desc.id), sla_dir_name[dir]);
		measure_rates(&d, at - sd->cnt_ns, &sd->rates);
		measure_add(&sd->total, &d);
		for (int r = 0; r < MEASURE_NRES; r++)
			if (d.limited_pkts[r])
				sd->limited_ns[r] += at - sd->cnt_ns;
		if (dir == SLA_EGRESS) {
			measure_add(&vif->vm->total, &d);
			/* The history's entry under way (from vm->hist_ns) takes what fell in its
			 * time: all of it, however long since the last reading (a 160 ms rescan on
			 * Xen), unless that reading was before the entry began (readings failed
			 * across its start); then its share, the rest being the closed entry's. A
			 * period's worth alone read 888 of 1002 packet/s on Xen, rescans between.
			 */
			if (vif->vm->hist && sd->cnt_ns < vif->vm->hist_ns && at > vif->vm->hist_ns)
				measure_scale(&d, at - vif->vm->hist_ns, at - sd->cnt_ns);
			measure_add(&vif->vm->timed, &d);
		}
	} else {
		memset(&sd->rates, 0, sizeof(sd->rates));
	}
	sd->cnt = cur;
	sd->cnt_ns = at;
	sd->have_cnt = true;
}

/* Reads every vif's counters; at: the time the readings stand for (ctl->read_ns). A real enforcer's
 * readings are stamped with the moment they are read: a rescan before them took 4-224 ms on Xen,
 * and stamped with the period's start, a VM held at 1000 packet/s read 957 over the 4 s after its
 * SLA was set (its own rate node's write had caused the rescan). */
static void read_counters(struct control *ctl, uint64_t at)
{
	for (size_t k = 0; k < ctl->n_flat; k++) {
		struct vif *vif = ctl->flat[k];

		for (int d = 0; d < SLA_NDIR; d++)
			if (vif->side[d].attached)
				read_side(ctl, vif, d, at);
	}
}

/* The allocator's units: every vif once per direction held, egress first (so ties go to what
 * is sent, then to the vif created first). Unit k is vif flat[k % n_flat] in direction
 * k / n_flat; the SLAs are the VMs' then the ports', a direction at a time (n_sla = n_vms +
 * n_ports each): a vif under its port's SLA is that port's unit alone, slas[dir * n_sla + n_vms
 * + port], the others share their VM's, slas[dir * n_sla + vm]; its pool is uplink
 * dir * n_uplinks + u,
 * where an ingress uplink is the uplink's receive side, whose packets draw on the host's budget
 * (capacity_pps 0), the same budget egress packets draw on. */
static int allocate(struct control *ctl)
{
	struct host *h = &ctl->host;
	size_t nd = control_n_dirs(ctl), n_sla = h->n_vms + h->n_ports;
	struct alloc_in in = {
		.mode = ctl->mode,
		.sees_offered = ctl->enf->ops->sees_offered,
		.host_capacity_pps = h->host_capacity_pps,
		.floor = { h->floor[ALLOC_BPS], h->floor[ALLOC_PPS] },
		.vms = ctl->slas,
		.n_vms = n_sla * nd,
		.uplinks = ctl->aup,
		.n_uplinks = h->n_uplinks * nd,
		.vifs = ctl->ain,
		.n_vifs = ctl->n_flat * nd,
	};
	struct alloc_out out = { ctl->aout, { ctl->apool[0], ctl->apool[1] } };
	int rc;

	bool changed = !ctl->alloc_valid || ctl->alloc_host_pps != h->host_capacity_pps ||
		       memcmp(ctl->alloc_floor, h->floor, sizeof(h->floor));

	/* Nothing but counters moved since the last period: the SLAs are the ones copied then,
	 * and a unit quiet then and now has the same input (the rest is built and compared). */
	ctl->incremental = !changed && !ctl->reapply && ctl->passes_generation == h->generation;
	ctl->alloc_ran = false;
	for (size_t d = 0; d < nd && !ctl->incremental; d++)
		for (size_t m = 0; m < n_sla; m++) {
			const struct sla *s = m < h->n_vms ? &vm_sla(h->vms[m])->dir[d]
							   : &h->ports[m - h->n_vms]->sla.dir[d];
			struct sla *to = &ctl->slas[d * n_sla + m];

			if (!changed && memcmp(to, s, sizeof(*s)))
				changed = true;
			*to = *s;
		}
	for (size_t d = 0; d < nd; d++)
		for (size_t u = 0; u < h->n_uplinks; u++) {
			struct alloc_uplink_in a = { h->uplinks[u].cfg.capacity_bps,
						     d == SLA_EGRESS
							     ? h->uplinks[u].cfg.capacity_pps
							     : 0 };
			struct alloc_uplink_in *to = &ctl->aup[d * h->n_uplinks + u];

			changed = changed || memcmp(to, &a, sizeof(a));
			*to = a;
		}
	for (size_t k = 0; k < ctl->n_flat * nd; k++) {
		size_t d = k / ctl->n_flat;
		struct vif *vif = ctl->flat[k % ctl->n_flat];
		struct vif_side *sd = &vif->side[d];
		struct alloc_vif_in a;

		if (ctl->incremental && sd->quiet && sd->ain_quiet)
			continue;
		memset(&a, 0, sizeof(a)); /* padding too: compared as bytes */
		a.vm = (uint32_t)(d * n_sla +
				  (vif->port ? h->n_vms + vif->port->index : vif->vm->index));
		a.uplink = (uint32_t)(d * h->n_uplinks + vif->uplink);
		a.offered[ALLOC_BPS] = sd->rates.offered.bps;
		a.offered[ALLOC_PPS] = sd->rates.offered.pps;
		a.measured[ALLOC_BPS] = sd->rates.passed.bps;
		a.measured[ALLOC_PPS] = sd->rates.passed.pps;
		/* Held back lately: bursts keep coming, so the want stays up for a while
		 * (CONTROL_HELD_PERIODS) rather than falling to the average between them. */
		if (sd->rates.held_pps > 0)
			sd->held_until = ctl->tick + CONTROL_HELD_PERIODS;
		a.held = ctl->tick < sd->held_until;
		/* vif-police's ingress shaper makes TCP wait: seen as it passes, not as offered. An
		 * offered TCP flow dipping for a period under emulation took its limit down to its
		 * share of the headroom, and the flow, its queue overflowing, got 2.2 of its 3. */
		a.waits = d == SLA_INGRESS && ctl->enf->ops->ingress_waits;
		a.limit[ALLOC_BPS] = sd->applied ? sd->applied_bps : ALLOC_UNLIMITED;
		a.limit[ALLOC_PPS] = sd->applied ? sd->applied_pps : ALLOC_UNLIMITED;
		/* What passed a credit window (xen-credit: 20 ms) at a time jitters against the
		 * period: a VM held at 1,000 packet/s passed 803 in one, and lost its probe for it.
		 * At its limit in any of the last CONTROL_HELD_PERIODS, it keeps probing. */
		for (int r = 0; r < ALLOC_NRES && !(in.sees_offered && !a.waits); r++) {
			if (ctl->enf->ops->passed_only && d == SLA_EGRESS &&
			    a.limit[r] != ALLOC_UNLIMITED &&
			    (u128)a.measured[r] * 100 >= (u128)a.limit[r] * 95)
				sd->at_limit_until[r] = ctl->tick + CONTROL_HELD_PERIODS;
			a.at_limit_lately[r] = ctl->tick < sd->at_limit_until[r];
		}
		changed = changed || memcmp(&ctl->ain[k], &a, sizeof(a));
		ctl->ain[k] = a;
		/* Built from nothing moving and no window open (held, at its limit lately): the
		 * same while it stays quiet and its limit stands (apply_limits). */
		sd->ain_quiet = sd->quiet && !a.held && !a.at_limit_lately[ALLOC_BPS] &&
				!a.at_limit_lately[ALLOC_PPS];
	}
	/* The allocator is a pure function: the same inputs, the same answer (an idle host's
	 * periods mostly are). */
	if (!changed)
		return 0;
	ctl->alloc_valid = false;
	ctl->alloc_ran = true;
	rc = alloc_run(&in, &out, ctl->ws);
	if (rc)
		return rc;
	ctl->alloc_valid = true;
	ctl->alloc_host_pps = h->host_capacity_pps;
	memcpy(ctl->alloc_floor, h->floor, sizeof(h->floor));
	for (size_t d = 0; d < SLA_NDIR; d++)
		for (size_t u = 0; u < h->n_uplinks; u++)
			for (int r = 0; r < ALLOC_NRES; r++)
				if (d < nd)
					h->uplinks[u].pool[d][r] =
						ctl->apool[r][d * h->n_uplinks + u];
				else
					memset(&h->uplinks[u].pool[d][r], 0,
					       sizeof(h->uplinks[u].pool[d][r]));
	h->host_pps_pool = ctl->apool[ALLOC_PPS][h->n_uplinks * nd];
	return 0;
}

static bool shape_equal(const struct enf_shape *a, const struct enf_shape *b)
{
	return a->burst_bits == b->burst_bits && a->burst_pkts == b->burst_pkts &&
	       a->dscp == b->dscp;
}

static void apply_limits(struct control *ctl)
{
	size_t nd = control_n_dirs(ctl);

	for (size_t k = 0; k < ctl->n_flat * nd; k++) {
		size_t d = k / ctl->n_flat;
		struct vif *vif = ctl->flat[k % ctl->n_flat];
		struct vif_side *sd = &vif->side[d];
		const struct alloc_vif_out *o = &ctl->aout[k];

		/* The allocator's answer stands, and the enforcer did all it would with it. */
		if (ctl->incremental && !ctl->alloc_ran &&
		    (!sd->attached || (sd->quiet && sd->settled)))
			continue;
		const struct sla_spec *spec = vif_sla(vif);
		uint64_t bps = o->limit[ALLOC_BPS], pps = o->limit[ALLOC_PPS];
		struct enf_limit l = {
			.bps = bps,
			.pps = pps,
			.min_bps = o->min[ALLOC_BPS],
			.min_pps = o->min[ALLOC_PPS],
			.own_sla = vif_has_sla(vif),
			.shape = { spec->burst[d].bits, spec->burst[d].packets,
				   d == SLA_EGRESS && spec->dscp_set ? spec->dscp : -1 },
			.passed = sd->rates.passed,
		};
		int rc;

		sd->alloc = *o;
		sd->have_alloc = true;
		if (!sd->attached)
			continue;
		sd->settled = false;
		if (sd->applied && sd->applied_bps == bps && sd->applied_pps == pps &&
		    shape_equal(&sd->applied_shape, &l.shape) && !ctl->reapply) {
			if (ctl->enf->ops->retune &&
			    (rc = ctl->enf->ops->retune(ctl->enf, &sd->enf, &l)))
				log_debug("limit not retuned vm=%s vif=%s direction=%s err=%s",
					  log_q(vif->vm->id), log_q(vif->desc.id), sla_dir_name[d],
					  strerror(-rc));
			else
				sd->settled = sd->quiet;
			continue;
		}
		sd->ain_quiet = false; /* its input's limit moves */
		rc = ctl->enf->ops->apply(ctl->enf, &sd->enf, &l);
		if (rc) {
			ctl->apply_failures++;
			log_error("limit not applied vm=%s vif=%s direction=%s err=%s",
				  log_q(vif->vm->id), log_q(vif->desc.id), sla_dir_name[d],
				  strerror(-rc));
			continue;
		}
		log_debug("limit applied vm=%s vif=%s direction=%s limit_bps=%" PRIu64
			  " limit_pps=%" PRIu64,
			  log_q(vif->vm->id), log_q(vif->desc.id), sla_dir_name[d], bps, pps);
		sd->applied = true;
		sd->applied_bps = bps;
		sd->applied_pps = pps;
		sd->applied_shape = l.shape;
		sd->settled = sd->quiet;
	}
}

void control_publish(struct control *ctl)
{
	ctl->seq++;
}

int control_set_sla(struct control *ctl, const char *id, const struct sla_spec *sla)
{
	int rc = host_set_sla(&ctl->host, id, sla);

	control_publish(ctl);
	return rc;
}

void control_clear_sla(struct control *ctl, const char *id)
{
	struct vm *vm = host_find_vm(&ctl->host, id);

	if (vm)
		host_clear_sla(&ctl->host, vm);
	control_publish(ctl);
}

void control_forget_sla(struct control *ctl, const char *id)
{
	ctl->host.slas_forgotten++;
	control_clear_sla(ctl, id);
}

void control_forget_port_sla(struct control *ctl, const char *key)
{
	ctl->host.slas_forgotten++;
	control_clear_port_sla(ctl, key);
}

int control_set_port_sla(struct control *ctl, const char *key, const struct sla_spec *sla)
{
	int rc = host_set_port_sla(&ctl->host, key, sla);

	control_publish(ctl);
	return rc;
}

void control_clear_port_sla(struct control *ctl, const char *key)
{
	struct port *port = host_find_port(&ctl->host, key);

	if (port)
		host_clear_port_sla(&ctl->host, port);
	control_publish(ctl);
}

/* Whether the store must hear of an absence at now (an SLA's record that is present, or
 * absent since absent_since, the store holding `stored`), and how (*forget). */
static bool due(const struct host *h, bool has_sla, bool present, int64_t absent_since,
		int64_t stored, int64_t now, bool *forget)
{
	*forget = has_sla && !present && absent_since && h->forget_absent_after_s &&
		  now - absent_since >= (int64_t)h->forget_absent_after_s;
	return has_sla && (*forget || absent_since != stored);
}

static bool absence_due(const struct host *h, const struct vm *vm, int64_t now, bool *forget)
{
	return due(h, vm->has_sla, vm->present, vm->absent_since, vm->absent_stored, now, forget);
}

static bool port_absence_due(const struct host *h, const struct port *p, int64_t now, bool *forget)
{
	return due(h, true, p->vif != NULL, p->absent_since, p->absent_stored, now, forget);
}

size_t control_absences(const struct control *ctl, int64_t now, struct control_absence **out)
{
	const struct host *h = &ctl->host;
	size_t n = 0, k = 0;
	bool forget;

	*out = NULL;
	for (size_t m = 0; m < h->n_vms; m++)
		n += absence_due(h, h->vms[m], now, &forget);
	for (size_t p = 0; p < h->n_ports; p++)
		n += port_absence_due(h, h->ports[p], now, &forget);
	if (!n || !(*out = calloc(n, sizeof(**out))))
		return 0;
	for (size_t p = h->n_ports; p-- > 0;) {
		const struct port *port = h->ports[p];
		struct control_absence *a = &(*out)[k];

		if (!port_absence_due(h, port, now, &forget))
			continue;
		memcpy(a->id, port->key, sizeof(a->id));
		a->port = true;
		a->sla = port->sla;
		a->absent_since = port->absent_since;
		a->forget = forget;
		k++;
	}
	for (size_t m = h->n_vms; m-- > 0;) {
		const struct vm *vm = h->vms[m];
		struct control_absence *a = &(*out)[k];

		if (!absence_due(h, vm, now, &forget))
			continue;
		memcpy(a->id, vm->id, sizeof(a->id));
		a->sla = vm->sla;
		a->absent_since = vm->absent_since;
		a->forget = forget;
		k++;
	}
	return k;
}

void control_note_port_absence(struct control *ctl, const char *key, int64_t stored, int64_t since)
{
	struct port *port = host_find_port(&ctl->host, key);

	if (!port)
		return;
	port->absent_stored = stored;
	port->absent_since = port->vif ? 0 : since;
	control_publish(ctl);
}

void control_note_absence(struct control *ctl, const char *id, int64_t stored, int64_t since)
{
	struct vm *vm = host_find_vm(&ctl->host, id);

	if (!vm)
		return;
	vm->absent_stored = stored;
	vm->absent_since = vm->present ? 0 : since;
	control_publish(ctl);
}

void control_reconfigure(struct control *ctl, enum alloc_mode mode,
			 const uint64_t floor[ALLOC_NRES], uint32_t forget_absent_after_s)
{
	if (ctl->mode != mode)
		ctl->alloc_valid = false; /* not among the inputs it compares: run it again */
	ctl->mode = mode;
	memcpy(ctl->host.floor, floor, sizeof(ctl->host.floor));
	ctl->host.forget_absent_after_s = forget_absent_after_s;
	ctl->host.generation++; /* the allocator runs again */
	control_publish(ctl);
}

void control_platform_event(struct control *ctl, int what)
{
	if (what)
		ctl->rescan = true;
	if (what == PLATFORM_RESYNC)
		ctl->reapply = true;
}

static int period(struct control *ctl, uint64_t now_ns)
{
	uint64_t t0 = loop_now_ns(), t_scan = 0, t_read, t_alloc, t_apply;
	bool rescanned = ctl->rescan;
	int rc;

	if (ctl->plat->ops->due)
		control_platform_event(ctl, ctl->plat->ops->due(ctl->plat, now_ns));
	if (ctl->rescan) {
		rc = reconcile(ctl, now_ns);
		if (rc)
			return rc; /* keep the old model; the next period tries again */
		ctl->rescan = false;
		t_scan = loop_now_ns() - t0;
	}
	/* A VM record added or dropped (an SLA ahead of its VM) moves VM indices too. */
	if ((ctl->topology_changed || ctl->vms_generation != ctl->host.vms_generation) &&
	    (rc = rebuild_flat(ctl))) {
		log_error("period skipped, out of memory vifs=%zu", ctl->n_flat);
		return rc;
	}
	rc = ctl->enf->ops->sync(ctl->enf, now_ns);
	if (rc && !ctl->sync_failing) /* said once, not every period it lasts */
		log_warn("enforcer sync failed enforcer=%s err=%s", ctl->enf->ops->name,
			 strerror(-rc));
	else if (!rc && ctl->sync_failing)
		log_info("enforcer sync works again enforcer=%s", ctl->enf->ops->name);
	ctl->sync_failing = rc != 0;
	ctl->sync_failures += rc != 0;
	ctl->last_read_ns = ctl->read_ns;
	ctl->read_ns = now_ns + (ctl->enf->ops->simulated_time ? 0 : loop_now_ns() - t0);
	read_counters(ctl, ctl->read_ns);
	if (ctl->matcher) {
		delay_matcher_period_end(ctl->matcher);
		ctl->enf->ops->drain_samples(ctl->enf, ctl->matcher);
	}
	t_read = loop_now_ns();
	rc = allocate(ctl);
	if (rc) {
		log_error("allocation failed err=%s", strerror(-rc));
		return rc;
	}
	t_alloc = loop_now_ns();
	apply_limits(ctl);
	t_apply = loop_now_ns();
	ctl->reapply = false;
	ctl->passes_generation = ctl->host.generation;
	if (rescanned)
		log_debug("period after a rescan vifs=%zu scan_us=%" PRIu64 " read_us=%" PRIu64
			  " alloc_us=%" PRIu64 " apply_us=%" PRIu64,
			  ctl->n_flat, t_scan / 1000, (t_read - t0 - t_scan) / 1000,
			  (t_alloc - t_read) / 1000, (t_apply - t_alloc) / 1000);
	/* The first tick sets limits before any traffic is counted: it is period 0. */
	ctl->tick += ctl->started;
	ctl->started = true;
	ctl->now_ns = now_ns;
	report_publish(ctl);
	return 0;
}

int control_tick(struct control *ctl, uint64_t now_ns)
{
	int rc;

	/* No reader holds a snapshot across the loop's callbacks (snapshot.h): the last one goes
	 * now, so that it holds none of the histories the period is about to write. */
	snapshot_free(ctl->snap);
	ctl->snap = NULL;
	rc = period(ctl, now_ns);

	ctl->periods_run++;
	control_publish(ctl); /* a period that failed still moved its counters */
	return rc;
}
