/*
 * xen_credit.c: writes each vif's limit to netback's rate node in xenstore and clears it when
 * the vif is released or the agent stops: what xen_credit.h describes.
 */
#include "xen_credit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "arith.h"
#include "enforcer.h"
#include "frame.h"
#include "log.h"
#include "netfront.h"
#include "xen.h"
#include "xen_counters.h"

/* The byte credit per window for a limit; false when nothing limits. */
static bool credit_bytes(uint64_t bps, uint64_t pps, uint64_t mean_frame_bits, uint64_t *out)
{
	struct frame_mean f = { mean_frame_bits };
	uint64_t eff = frame_fold(bps, pps, &f), bytes;

	if (eff == UINT64_MAX)
		return false;
	/* bytes per window = bps / 8 * usec / 1e6, rounded to nearest, in 128 bits */
	bytes = (uint64_t)(((u128)eff * XEN_CREDIT_USEC + 4000000) / 8000000);
	*out = bytes ? bytes : 1;
	return true;
}

static void rate_value(uint64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%llu,%u", (unsigned long long)bytes, XEN_CREDIT_USEC);
}

bool xen_credit_rate(uint64_t bps, uint64_t pps, uint64_t mean_frame_bits, char *buf, size_t len)
{
	uint64_t bytes;

	if (!credit_bytes(bps, pps, mean_frame_bits, &bytes))
		return false;
	rate_value(bytes, buf, len);
	return true;
}

struct xc_vif {
	/* The vif as the counters see it: the same description, its own state slot. */
	struct enf_vif counted;
	bool counting; /* the counters attached it: at its first reading (xc_attach) */
	bool count_failed_said;
	char path[96]; /* the backend's rate node */
	bool written;
	uint64_t bytes;		 /* ...and the credit it holds */
	uint64_t pps;		 /* the packet limit in force, UINT64_MAX: none */
	struct frame_mean frame; /* smoothed over periods */
	/* netback's ring as last read (ring_state), and when: read once a second at most, but
	 * each period while the vif passes near its credit (estimate_limited). */
	uint64_t ring_read_ns;
	bool ring_known, credit_waiting;
	uint32_t ring_slots;
	/* "Allowance exceeded", estimated (estimate_limited): which limit set the credit, what
	 * had passed at the last reading and when, and the packets counted limited so far. */
	bool pps_binds;
	bool have_last;
	uint64_t last_bytes, last_pkts, last_ns;
	uint64_t limited_pkts[MEASURE_NRES];
};

struct xc {
	struct xs_handle *xs;
	bool ring_unreadable_said; /* netback's debugfs: said once when it cannot be read */
	struct enforcer counters;  /* where it counts: the tap, the netdevs or libxenstat */
	/* What VMs receive is no credit's: vif-police's hook and shaper hold it on the vif's tc
	 * egress in dom0, ahead of netback's receive copy (ops NULL: not held, BPF missing). */
	struct enforcer held_in;
	struct enforcer_ops ops; /* xen_credit_ops, holding ingress when held_in does */
	uint64_t now_ns;	 /* the period's time, from sync */
	bool clear_on_exit;
	struct xc_vif **vifs; /* attached, for clearing on exit */
	size_t n_vifs;
};

static bool xc_put(struct xc *x, const char *path, const char *value);

static int xc_attach(struct enforcer *e, struct enf_vif *ev)
{
	struct xc *x = e->priv;
	unsigned domid, devid;
	struct xc_vif *v, **grown;

	if (ev->dir == SLA_INGRESS)
		return x->held_in.ops->attach(&x->held_in, ev);
	if (!xen_vif_id_parse(ev->desc->id, &domid, &devid))
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	grown = v ? realloc(x->vifs, (x->n_vifs + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(v);
		return -ENOMEM;
	}
	x->vifs = grown;
	/* The counters attach at the vif's first reading, a period later, and the vif's limit
	 * (the rate node) does not wait for them: the tap's two netlink requests took 4-12 ms
	 * under QEMU, but 180-215 ms twice in a run, most likely waiting for the rtnl lock while
	 * xl's hotplug scripts set the new vif up, and once that made a new domU's limit late. */
	v->counted = (struct enf_vif){
		.desc = ev->desc, .vm = ev->vm, .delay = ev->delay, .dir = ev->dir
	};
	x->vifs[x->n_vifs++] = v;
	snprintf(v->path, sizeof(v->path), XEN_VIF_BACKEND "/%u/%u/rate", domid, devid);
	v->pps = UINT64_MAX;
	ev->state = v;
	return 0;
}

static void xc_forget(struct xc *x, struct xc_vif *v)
{
	for (size_t i = 0; i < x->n_vifs; i++)
		if (x->vifs[i] == v) {
			x->vifs[i] = x->vifs[--x->n_vifs];
			break;
		}
	free(v);
}

static void xc_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct xc *x = e->priv;
	struct xc_vif *v = ev->state;

	if (ev->dir == SLA_INGRESS) {
		x->held_in.ops->detach(&x->held_in, ev);
		return;
	}
	if (!v)
		return;
	if (v->counting)
		x->counters.ops->detach(&x->counters, &v->counted);
	/* The agent stopping (or the vif going, when the node is gone already). */
	if (x->clear_on_exit && v->written && !xc_put(x, v->path, NULL))
		log_warn("xen-credit rate not cleared vm=%s vif=%s err=%s", log_q(ev->vm),
			 log_q(ev->desc->id), strerror(errno));
	xc_forget(x, v);
	ev->state = NULL;
}

static int xc_sync(struct enforcer *e, uint64_t now_ns)
{
	struct xc *x = e->priv;
	int rc, rc_in = 0;

	x->now_ns = now_ns;
	rc = x->counters.ops->sync(&x->counters, now_ns);
	if (x->held_in.ops)
		rc_in = x->held_in.ops->sync(&x->held_in, now_ns);
	return rc ? rc : rc_in;
}

int xen_credit_ring_parse(const char *text, uint32_t *backlog_slots, bool *credit_waiting)
{
	const char *tx = strstr(text, "TX: "), *credit = strstr(text, "Credit timer_pending: ");
	unsigned prod, cons;
	int d1, d2, pending;

	if (!tx || !credit || !(tx = strstr(tx, "req prod ")) ||
	    sscanf(tx, "req prod %u (%d) cons %u (%d)", &prod, &d1, &cons, &d2) != 4 ||
	    sscanf(credit, "Credit timer_pending: %d", &pending) != 1)
		return -EINVAL;
	*backlog_slots = prod - cons; /* ring indices wrap: the difference does not */
	*credit_waiting = pending != 0;
	return 0;
}

/* How often a vif's ring is read: a report, not an input to the allocator, and a file to open
 * and parse a vif, which a thousand vifs at 100 ms would do ten thousand times a second. */
#define RING_READ_NS 1000000000ull

/* The vif's shared rings as netback's debugfs shows them (io_ring_q<N> for each queue):
 * requests the guest put on its transmit ring that netback has not taken yet, and whether
 * netback waits for its credit. A measured proxy of what the credit holds in the guest, where
 * dom0 cannot count packets. Unknown (not ring_known) without debugfs. */
static void ring_state(struct xc *x, const struct enf_vif *ev, struct xc_vif *v)
{
	char path[128], text[2048];
	uint32_t total = 0;
	bool waiting = false;
	unsigned q;

	for (q = 0; q < 64; q++) {
		uint32_t slots;
		bool w;
		size_t n;
		FILE *f;

		snprintf(path, sizeof(path), XEN_NETBACK_DEBUGFS "/%s/io_ring_q%u",
			 ev->desc->host_ifname, q);
		f = fopen(path, "re");
		if (!f)
			break;
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = '\0';
		if (xen_credit_ring_parse(text, &slots, &w))
			break;
		total += slots;
		waiting |= w;
	}
	v->ring_read_ns = x->now_ns;
	v->ring_known = q > 0;
	v->ring_slots = total;
	v->credit_waiting = waiting;
	if (!q && !x->ring_unreadable_said)
		log_info("netback's ring state not readable (no debugfs at %s); what the credit "
			 "holds in the guest is reported as unknown vm=%s vif=%s",
			 XEN_NETBACK_DEBUGFS, log_q(ev->vm), log_q(ev->desc->id));
	x->ring_unreadable_said |= !q;
}

/* A period counts as limited when the vif passed at least HELD_PCT of what its credit allowed
 * in it, or, from NEAR_PCT, when netback's ring, read then, holds requests it has not taken.
 * netback refills the credit each 20 ms window, so a vif held at its limit passes 4 to 6
 * windows' worth in a 100 ms period: 80-120 % of the period's share, about 100 % over a few.
 * (With the ring's credit timer required as well, a flood at three times the limit for 30 s
 * read 27.7 s limited: the timer is not pending from its firing until netback has taken the
 * new window's credit, and some readings fell there.) */
#define HELD_PCT 97u
#define NEAR_PCT 70u

/*
 * What netback's credit held back cannot be counted in dom0: it waits in the guest (in its
 * ring, then its queue), and the guest's sender waits with it (pktgen on a full ring, a UDP
 * socket blocking on its buffer): the sink loses nothing. So "allowance exceeded" is an
 * estimate under xen-credit, named so (limited_estimated): the periods in which the credit
 * bound, judged from what passed against what the credit allowed and from the ring, and the
 * packets that passed in them, each of which waited for the credit. By the resource that set
 * the credit: the packet limit when it is the tighter at the mean frame, else the bit rate.
 */
static void estimate_limited(struct xc *x, const struct enf_vif *ev, struct xc_vif *v,
			     struct vif_counters *out)
{
	if (v->have_last && x->now_ns > v->last_ns && out->passed_bytes >= v->last_bytes &&
	    out->passed_pkts > v->last_pkts) {
		uint64_t dt = x->now_ns - v->last_ns, got = out->passed_bytes - v->last_bytes;
		/* what the credit allowed over dt, in 128 bits: bytes per XEN_CREDIT_USEC */
		uint64_t allowed = (uint64_t)((u128)v->bytes * dt / (XEN_CREDIT_USEC * 1000ull));
		bool bound = (u128)got * 100 >= (u128)allowed * HELD_PCT;

		if (!bound && (u128)got * 100 >= (u128)allowed * NEAR_PCT) {
			ring_state(x, ev, v);
			bound = v->ring_known && v->ring_slots > 0;
		}
		if (bound)
			v->limited_pkts[v->pps_binds ? MEASURE_PPS : MEASURE_BPS] +=
				out->passed_pkts - v->last_pkts;
	}
	v->have_last = true;
	v->last_bytes = out->passed_bytes;
	v->last_pkts = out->passed_pkts;
	v->last_ns = x->now_ns;
}

/* What counts the vif, as the counters said (their fallbacks: counter_chain.h), for the agent. */
static void counted_as(struct enf_vif *ev, const struct xc_vif *v)
{
	ev->counted_by = v->counted.counted_by;
	memcpy(ev->count_note, v->counted.count_note, sizeof(ev->count_note));
}

static int xc_read_counters(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	struct xc *x = e->priv;
	struct xc_vif *v = ev->state;
	int rc;

	if (ev->dir == SLA_INGRESS)
		return x->held_in.ops->read_counters(&x->held_in, ev, out);
	if (!v)
		return -ENOENT;
	if (!v->counting) {
		rc = x->counters.ops->attach(&x->counters, &v->counted);
		counted_as(ev, v);
		if (rc) {
			if (!v->count_failed_said)
				log_warn("vif not counted, tried again each period vm=%s vif=%s "
					 "err=%s",
					 log_q(ev->vm), log_q(ev->desc->id), strerror(-rc));
			v->count_failed_said = true;
			return rc;
		}
		v->counting = true;
		return -EAGAIN; /* counted from the next reading */
	}
	rc = x->counters.ops->read_counters(&x->counters, &v->counted, out);
	counted_as(ev, v);
	if (rc)
		return rc;
	if (v->written) {
		if (!v->ring_read_ns || x->now_ns - v->ring_read_ns >= RING_READ_NS)
			ring_state(x, ev, v);
		estimate_limited(x, ev, v, out);
		out->ring_known = v->ring_known;
		out->ring_backlog_slots = v->ring_slots;
		out->credit_waiting = v->credit_waiting;
	} else { /* no credit in force: nothing it holds */
		v->have_last = false;
	}
	/* The counters' own limited counts (the tap's: it limits nothing) are not the credit's:
	 * the estimate's replace them. */
	memcpy(out->limited_pkts, v->limited_pkts, sizeof(out->limited_pkts));
	out->limited_known = true;
	out->limited_estimated = true;
	return 0;
}

/* Writes (value) or removes (NULL) a node; after xenstored restarted, once more on a new
 * connection. */
static bool xc_put(struct xc *x, const char *path, const char *value)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		bool ok = value ? xs_write(x->xs, XBT_NULL, path, value, (unsigned)strlen(value))
				: xs_rm(x->xs, XBT_NULL, path) || errno == ENOENT;
		struct xs_handle *again;

		if (ok)
			return true;
		if (!xen_connection_error(errno))
			return false;
		again = xs_open(0);
		if (!again)
			return false;
		xs_close(x->xs);
		x->xs = again;
	}
	return false;
}

/* The mean frame, learnt only while a credit is written (frame.h says from which periods),
 * from what passed under the packet limit last in force. */
static void learn_frame(struct xc_vif *v, const struct enf_limit *l)
{
	if (v->written)
		frame_learn(&v->frame, &l->passed, v->bytes * 8 * (1000000 / XEN_CREDIT_USEC),
			    v->pps);
}

static int xc_write(struct xc *x, struct xc_vif *v, uint64_t bytes)
{
	char value[48];

	rate_value(bytes, value, sizeof(value));
	if (!xc_put(x, v->path, value))
		return errno ? -errno : -EIO;
	v->written = true;
	v->bytes = bytes;
	return 0;
}

static int xc_apply(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct xc *x = e->priv;
	struct xc_vif *v = ev->state;
	uint64_t bytes;
	int rc = 0;

	if (ev->dir == SLA_INGRESS)
		return x->held_in.ops->apply(&x->held_in, ev, l);
	if (!v)
		return -ENOENT;
	learn_frame(v, l);
	/* A VM without an SLA of its own (never set, or deleted) is not dbavm's to limit. */
	if (l->own_sla && credit_bytes(l->bps, l->pps, v->frame.bits, &bytes)) {
		rc = xc_write(x, v, bytes);
	} else if (v->written) {
		if (!xc_put(x, v->path, NULL))
			return errno ? -errno : -EIO;
		v->written = false;
	}
	if (!rc) {
		v->pps = l->pps;
		v->pps_binds = frame_fold(UINT64_MAX, l->pps, &v->frame) < l->bps;
	}
	return rc;
}

/* The limit l stands, but the frame it is folded in by moves: rewritten when the credit moved
 * by more than 1 % (so a frame's jitter does not write the store every period). */
static int xc_retune(struct enforcer *e, struct enf_vif *ev, const struct enf_limit *l)
{
	struct xc *x = e->priv;
	struct xc_vif *v = ev->state;
	uint64_t bytes, diff;

	if (ev->dir == SLA_INGRESS)
		return x->held_in.ops->retune(&x->held_in, ev, l);
	if (!v)
		return -ENOENT;
	learn_frame(v, l);
	if (!v->written || !credit_bytes(l->bps, l->pps, v->frame.bits, &bytes))
		return 0;
	diff = bytes > v->bytes ? bytes - v->bytes : v->bytes - bytes;
	return diff * 100 > v->bytes ? xc_write(x, v, bytes) : 0;
}

static void xc_close(struct enforcer *e)
{
	struct xc *x = e->priv;

	if (!x)
		return;
	for (size_t i = 0; i < x->n_vifs; i++) /* detach has cleared what it should */
		free(x->vifs[i]);
	free(x->vifs);
	if (x->counters.ops)
		x->counters.ops->close(&x->counters);
	if (x->held_in.ops)
		x->held_in.ops->close(&x->held_in);
	if (x->xs)
		xs_close(x->xs);
	free(x);
	e->priv = NULL;
}

/* Delay samples come from the counters' tap, when they come from it. */
static void xc_drain_samples(struct enforcer *e, struct delay_matcher *m)
{
	struct xc *x = e->priv;

	if (x->counters.ops->drain_samples)
		x->counters.ops->drain_samples(&x->counters, m);
}

/* What a VM receives, held ahead of netback's copy: a vif quiet that way since the last sync
 * is not read (what a VM sends is always read: its counters are the chain's). */
static bool xc_unchanged(struct enforcer *e, struct enf_vif *ev)
{
	struct xc *x = e->priv;

	return ev->dir == SLA_INGRESS && x->held_in.ops->unchanged(&x->held_in, ev);
}

/* passed_only is of what a VM sends (the credit's hold, in the guest). What it receives, when
 * held (xc.ops), is counted before the hook's drops and waits in the shaper (TCP), as under
 * vif-police. */
static const struct enforcer_ops xen_credit_ops = {
	.name = "xen-credit",
	.sees_offered = false, /* what waits in the guest is not seen: demand is estimated */
	.attach = xc_attach,
	.detach = xc_detach,
	.sync = xc_sync,
	.read_counters = xc_read_counters,
	.apply = xc_apply,
	.retune = xc_retune,
	.close = xc_close,
	.drain_samples = xc_drain_samples, /* on when the counters sample (e->sample_every) */
	.passed_only = true,
};

int xen_credit_open(struct enforcer *e, bool clear_on_exit, enum xen_counters counters,
		    uint32_t sample_every, char *why, size_t why_len)
{
	struct xc *x = calloc(1, sizeof(*x));
	char in_why[256];
	int rc;

	if (!x)
		return -ENOMEM;
	x->clear_on_exit = clear_on_exit;
	x->xs = xs_open(0);
	if (!x->xs) {
		rc = errno ? -errno : -EIO;
		snprintf(why, why_len, "xen-credit: no xenstore (%s)", strerror(-rc));
		free(x);
		return rc;
	}
	rc = xen_counters_open(&x->counters, counters, sample_every, why, why_len);
	if (rc) {
		xs_close(x->xs);
		free(x);
		return rc;
	}
	/* Without BPF, what VMs receive is neither held nor counted (an SLA's ingress side is
	 * refused), and the credit holds what they send as before. Its delay is not sampled:
	 * the counters' tap samples what they send, and one sampler a packet is all the matcher
	 * takes. */
	rc = netfront_police_open(&x->held_in, 0, in_why, sizeof(in_why));
	if (rc)
		log_warn("what VMs receive is not held enforcer=xen-credit why=%s", log_q(in_why));
	x->ops = xen_credit_ops;
	if (!rc) {
		x->ops.holds_ingress = x->ops.ingress_waits = true;
		x->ops.unchanged = xc_unchanged;
	}
	e->ops = &x->ops;
	e->priv = x;
	e->sample_every = x->counters.sample_every;
	return 0;
}
