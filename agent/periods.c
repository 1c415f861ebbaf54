/*
 * periods: the real-time agent's period scheduler (agent.h). A timerfd on the loop starts
 * each period; the platform's watch can bring the next one forward; the periods feed
 * systemd's watchdog, so an agent whose loop stops running them is restarted.
 */
#include "agent.h"

#include <inttypes.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

/* Placement's input, the host's uplinks and capacities, from the snapshot (a sync starts only
 * when they changed). */
static void tell_placement(struct agent *a)
{
	const struct snapshot *s = a->placement ? control_snapshot(a->ctl) : NULL;

	if (s)
		placement_host(a->placement, s);
}

void periods_after(struct agent *a)
{
	api_period(&a->api);
	tell_placement(a);
}

static void on_period(struct loop *loop, uint64_t expirations, void *arg)
{
	struct agent *a = arg;
	struct periods *p = &a->periods;
	uint64_t abs = loop_now_ns(), now = abs - p->start_ns, due;

	(void)loop;
	if (expirations > 1)
		log_debug("loop late periods=%" PRIu64, expirations - 1);
	p->periods_due += expirations;
	due = p->sched_ns + p->periods_due * p->period_ns;
	control_note_start(a->ctl, abs > due ? abs - due : 0, expirations - 1);
	p->rephased = false;
	p->last_tick_ns = now;
	control_tick(a->ctl, now);
	/* systemd's watchdog is fed by the periods themselves: a loop that stops running them
	 * (hung, stopped) is killed and restarted */
	if (p->watchdog_ns && abs - p->watchdog_at_ns >= p->watchdog_ns) {
		sd_notify(0, "WATCHDOG=1");
		p->watchdog_at_ns = abs;
	}
	periods_after(a);
}

/*
 * The platform says the host may have changed (a VM or vif came or went): a period begins
 * at once, and the periods go on from there, so that a new vif is limited, and a gone one's
 * guarantee freed, within a scan's time rather than up to a period later. Not sooner than a
 * quarter period after the last began: host changes come in bursts (a domain's vif passes
 * through several states), and a period needs time to measure in. From the timer, so that
 * the platform's own callback has returned before its scan runs.
 */
static void on_platform_event(void *arg, int what)
{
	struct agent *a = arg;
	struct periods *p = &a->periods;
	uint64_t abs = loop_now_ns(), now = abs - p->start_ns, since, wait;

	control_platform_event(a->ctl, what);
	if (p->timer_fd < 0 || !p->started || p->rephased)
		return;
	since = now > p->last_tick_ns ? now - p->last_tick_ns : 0;
	wait = since >= p->period_ns / 4 ? 0 : p->period_ns / 4 - since;
	if (loop_timer_restart(p->timer_fd, wait, p->period_ns))
		return; /* the next period, as it was due, will rescan */
	p->rephased = true;
	p->sched_ns = abs + wait - p->period_ns;
	p->periods_due = 0;
}

int periods_start(struct agent *a, struct loop *loop)
{
	struct periods *p = &a->periods;
	int rc;

	p->period_ns = (uint64_t)a->cfg->period_ms * 1000000u;
	p->start_ns = p->sched_ns = loop_now_ns(); /* the timer's periods fall due from here */
	p->timer_fd = loop_add_timer(loop, p->period_ns, on_period, a);
	if (p->timer_fd < 0) {
		log_error("period timer not created err=%s", strerror(-p->timer_fd));
		return -1;
	}
	if (a->plat->ops->watch &&
	    (rc = a->plat->ops->watch(a->plat, loop, on_platform_event, a))) {
		log_error("platform not watched platform=%s err=%s", a->plat->ops->name,
			  strerror(-rc));
		periods_stop(a);
		return -1;
	}
	return 0;
}

void periods_stop(struct agent *a)
{
	if (a->plat->ops->unwatch)
		a->plat->ops->unwatch(a->plat);
}

void periods_first(struct agent *a)
{
	uint64_t wd_us = 0;

	control_tick(a->ctl, 0);
	a->periods.started = true;
	tell_placement(a);
	if (sd_watchdog_enabled(0, &wd_us) > 0 && wd_us) {
		a->periods.watchdog_ns = wd_us * 1000 / 2;
		a->periods.watchdog_at_ns = loop_now_ns();
	}
}
