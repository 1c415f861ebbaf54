/*
 * dbavmctl top: every VM on the host, refreshed each second, the one furthest from its SLA
 * first. A frame is built as lines of text from one GET /host and one GET /vms; curses
 * draws it on a terminal, and -b (batch) prints it, frame after frame, for logs and pipes.
 *
 * Furthest from its SLA: of the four ways a VM can miss it, the worst, as a share of the
 * SLA's own figure: sending less than its guarantee while offering more (below min), or more
 * than its maximum (over max), in bit/s and in packets/s.
 */
#include <curses.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "units.h"

#define LINE_MAX_CHARS 256
#define FRAME_MAX_LINES 1024

struct frame {
	char line[FRAME_MAX_LINES][LINE_MAX_CHARS];
	int n;
	int header; /* the column header's line, drawn in reverse */
};

static void add(struct frame *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct frame *f, const char *fmt, ...)
{
	va_list ap;
	if (f->n == FRAME_MAX_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(f->line[f->n++], LINE_MAX_CHARS, fmt, ap);
	va_end(ap);
}

/* Misses under 1 % are measurement, not a miss (a period's count of whole packets). */
#define GAP_NOISE 0.01

struct row {
	json_t *vm;
	double gap; /* how far from its SLA, a share; 0: met; -1: not on the host */
	char why[16];
};

static void worse(struct row *r, double gap, const char *why)
{
	if (gap >= GAP_NOISE && gap > r->gap) {
		r->gap = gap;
		snprintf(r->why, sizeof r->why, "%s", why);
	}
}

/*
 * Below its guarantee while offering more, or over its maximum; in bit/s and in packets/s.
 * What is due is the guarantee, but no more than was offered, nor than the other unit's
 * maximum allows at the frames the VM sends (20 kpps of 64-byte frames is 10 Mbit/s, whatever
 * the bit/s guarantee).
 */
static void judge(struct row *r)
{
	json_t *vm = r->vm;
	double off_bps = ctl_num(vm, "offered.bps", 0), off_pps = ctl_num(vm, "offered.pps", 0);
	double bps = ctl_num(vm, "passed.bps", 0), pps = ctl_num(vm, "passed.pps", 0);
	double min_bps = ctl_num(vm, "sla.bandwidth.min_bps", 0);
	double max_bps = ctl_num(vm, "sla.bandwidth.max_bps", INFINITY);
	double min_pps = ctl_num(vm, "sla.packet_rate.min_pps", 0);
	double max_pps = ctl_num(vm, "sla.packet_rate.max_pps", INFINITY);
	double frame_bits = off_pps > 0 ? off_bps / off_pps : 0;
	double due_bps;

	if (ctl_num(vm, "passed.bps", -1) < 0) { /* a vif of it not counted: nothing to judge */
		snprintf(r->why, sizeof r->why, "uncounted");
		return;
	}
	due_bps = fmin(fmin(min_bps, off_bps), frame_bits > 0 ? max_pps * frame_bits : INFINITY);
	double due_pps =
		fmin(fmin(min_pps, off_pps), frame_bits > 0 ? max_bps / frame_bits : INFINITY);

	if (min_bps > 0 && bps < due_bps)
		worse(r, (due_bps - bps) / min_bps, "min");
	if (min_pps > 0 && pps < due_pps)
		worse(r, (due_pps - pps) / min_pps, "min-pps");
	if (max_bps > 0 && bps > max_bps)
		worse(r, (bps - max_bps) / max_bps, "max");
	if (max_pps > 0 && pps > max_pps)
		worse(r, (pps - max_pps) / max_pps, "max-pps");
}

static int by_gap(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	/* as shown, in whole percent: equal shares of one shortfall are a tie, by name */
	long gx = lround(x->gap * 100), gy = lround(y->gap * 100);
	if (gx != gy)
		return gx < gy ? 1 : -1;
	return strcmp(ctl_str(x->vm, "id"), ctl_str(y->vm, "id"));
}

/* One frame; 0, or why not (the frame says it). */
static int build(struct frame *f, struct ctl *c, double every)
{
	int rc;
	json_t *host = NULL, *all = NULL, *vm, *u;
	long status = 0;
	size_t i, n;
	char now[32], a[16], b[16], d[16], e[16], g[16], h[16], k[16], m[16], r[16];
	time_t t = time(NULL);

	f->n = 0;
	f->header = -1;
	strftime(now, sizeof now, "%H:%M:%S", localtime(&t));
	add(f, "dbavmctl top  %s%s  %s  every %gs  (q quits)", c->socket[0] ? "unix:" : "",
	    c->socket[0] ? c->socket : c->url, now, every);
	if ((rc = ctl_call(c, "GET", "/host", NULL, &status, &host)) ||
	    (status != 200 && (rc = CTL_REFUSED) &&
	     ctl_refusal(c, "GET /host", status, host, c->err, sizeof c->err)) ||
	    (rc = ctl_expect(c, "GET /host", host, NULL)) ||
	    (rc = ctl_call(c, "GET", "/vms", NULL, &status, &all)) ||
	    (status != 200 && (rc = CTL_REFUSED) &&
	     ctl_refusal(c, "GET /vms", status, all, c->err, sizeof c->err)) ||
	    (rc = ctl_expect(c, "GET /vms", all, "vms"))) {
		for (char *line = strtok(c->err, "\n"); line; line = strtok(NULL, "\n"))
			add(f, "%s", line);
		goto out;
	}
	add(f, "%s on %s, %s, period %d ms, tick %.0f, overruns %.0f", ctl_str(host, "enforcer"),
	    ctl_str(host, "platform"), ctl_str(host, "mode"), (int)ctl_num(host, "period_ms", 0),
	    ctl_num(host, "tick", 0), ctl_num(host, "overruns", 0));
	json_array_foreach(json_object_get(host, "uplinks"), i, u) {
		json_t *in = json_object_get(u, "ingress");

		add(f, "uplink %-12s %s bit/s: %s guaranteed, %s allocated, %d vifs%s",
		    ctl_str(u, "name"), ctl_rate(a, sizeof a, u, "capacity_bps"),
		    ctl_rate(b, sizeof b, u, "committed_bps"),
		    ctl_rate(d, sizeof d, u, "allocated_bps"), (int)ctl_num(u, "vifs", 0),
		    json_is_true(json_object_get(u, "overcommitted_bps")) ? "  OVER-COMMITTED"
									  : "");
		if (json_is_object(in)) /* where the enforcer holds what VMs receive */
			add(f, "       %-12s receiving: %s guaranteed, %s allocated%s", "",
			    ctl_rate(b, sizeof b, in, "committed_bps"),
			    ctl_rate(d, sizeof d, in, "allocated_bps"),
			    json_is_true(json_object_get(in, "overcommitted_bps"))
				    ? "  OVER-COMMITTED"
				    : "");
	}
	add(f, "packets %s: %s pps guaranteed, %s allocated%s",
	    json_is_integer(json_object_get(host, "capacity_pps"))
		    ? ctl_rate(a, sizeof a, host, "capacity_pps")
		    : "unlimited",
	    ctl_rate(b, sizeof b, host, "committed_pps"),
	    ctl_rate(d, sizeof d, host, "allocated_pps"),
	    json_is_true(json_object_get(host, "overcommitted_pps")) ? "  OVER-COMMITTED" : "");
	add(f, "%s", "");

	json_t *list = json_object_get(all, "vms");
	n = json_array_size(list);
	struct row *rows = calloc(n ? n : 1, sizeof *rows);
	if (!rows) {
		add(f, "out of memory");
		rc = CTL_UNREACHABLE;
		goto out;
	}
	json_array_foreach(list, i, vm) {
		rows[i].vm = vm;
		if (!json_is_true(json_object_get(vm, "present"))) {
			rows[i].gap = -1;
			snprintf(rows[i].why, sizeof rows[i].why, "absent");
			continue;
		}
		snprintf(rows[i].why, sizeof rows[i].why, "ok");
		judge(&rows[i]);
	}
	qsort(rows, n, sizeof *rows, by_gap);
	f->header = f->n;
	add(f, "%-16s %4s %7s %7s %7s %7s %7s %7s %6s %7s %7s %8s  %s", "VM", "PRIO", "SENT", "MIN",
	    "MAX", "OFFERED", "PPS", "MAX-PPS", "DROP%", "P99", "JITTER", "RECEIVED", "SLA");
	for (i = 0; i < n; i++) {
		char sla[32];
		vm = rows[i].vm;
		double off = ctl_num(vm, "offered.pps", 0), drop = ctl_num(vm, "dropped.pps", 0);
		if (rows[i].gap > 0)
			snprintf(sla, sizeof sla, "%s%.0f%% %s",
				 !strncmp(rows[i].why, "min", 3) ? "-" : "+", 100 * rows[i].gap,
				 rows[i].why);
		else
			snprintf(sla, sizeof sla, "%s", rows[i].why);
		/* what it received: n/a where the enforcer does not hold that direction */
		if (json_is_object(json_object_get(vm, "ingress")))
			ctl_rate(r, sizeof r, vm, "ingress.passed.bps");
		else
			snprintf(r, sizeof r, "n/a");
		add(f, "%-16.16s %4d %7s %7s %7s %7s %7s %7s %6.1f %7s %7s %8s  %s",
		    ctl_str(vm, "id"), (int)ctl_num(vm, "sla.priority", -1),
		    ctl_rate(a, sizeof a, vm, "passed.bps"),
		    ctl_rate(b, sizeof b, vm, "sla.bandwidth.min_bps"),
		    ctl_rate(d, sizeof d, vm, "sla.bandwidth.max_bps"),
		    ctl_rate(e, sizeof e, vm, "offered.bps"),
		    ctl_rate(g, sizeof g, vm, "passed.pps"),
		    ctl_rate(h, sizeof h, vm, "sla.packet_rate.max_pps"),
		    off > 0 ? 100 * drop / off : 0.0,
		    ctl_seconds(k, sizeof k, vm, "delay.period.p99_s"),
		    ctl_seconds(m, sizeof m, vm, "jitter_s"), r, sla);
	}
	free(rows);
out:
	json_decref(host);
	json_decref(all);
	return rc;
}

static void on_signal(int sig)
{
	(void)sig;
	ctl_stop = 1; /* ends a transfer under way, and the frames */
}

/* top's options; -1 to go on, else the exit code (said). */
static int top_flags(int argc, char **argv, double *every, long *frames, bool *batch)
{
	int o;
	char *end;

	optind = 0;
	while ((o = getopt(argc, argv, "+d:n:b")) != -1) {
		switch (o) {
		case 'd':
			*every = strtod(optarg, &end);
			if (*end || end == optarg || !(*every >= 0.1 && *every <= 3600)) {
				fprintf(stderr,
					"dbavmctl: top -d: seconds from 0.1 to 3600, got '%s'\n",
					optarg);
				return CTL_USAGE;
			}
			break;
		case 'n':
			*frames = strtol(optarg, &end, 10);
			if (*end || end == optarg || *frames < 1) {
				fprintf(stderr, "dbavmctl: top -n: a number of frames, got '%s'\n",
					optarg);
				return CTL_USAGE;
			}
			break;
		case 'b':
			*batch = true;
			break;
		default:
			fprintf(stderr, "usage: dbavmctl top [-d SECONDS] [-n FRAMES] [-b]\n");
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dbavmctl: top: unexpected '%s'\n", argv[optind]);
		return CTL_USAGE;
	}
	return -1;
}

/* curses on the terminal; NULL (said) if curses does not know it. */
static SCREEN *screen_open(void)
{
	SCREEN *scr = newterm(NULL, stdout, stdin);

	if (!scr) {
		fprintf(stderr,
			"dbavmctl: top: not a terminal curses knows (TERM=%s); -b "
			"prints frames instead\n",
			getenv("TERM") ? getenv("TERM") : "");
		return NULL;
	}
	cbreak();
	noecho();
	curs_set(0);
	keypad(stdscr, TRUE);
	return scr;
}

static void frame_show(const struct frame *f, bool batch)
{
	if (batch) {
		for (int i = 0; i < f->n; i++)
			puts(f->line[i]);
		putchar('\n');
		fflush(stdout);
		return;
	}
	erase();
	for (int i = 0; i < f->n && i < LINES; i++) {
		if (i == f->header)
			attron(A_REVERSE);
		mvaddnstr(i, 0, f->line[i], COLS);
		if (i == f->header)
			attroff(A_REVERSE);
	}
	refresh();
}

/* Waits for the next frame; in curses a key cuts it short. True when the key was q. */
static bool frame_wait(double every, bool batch)
{
	if (batch) {
		struct timespec ts = { (time_t)every,
				       (long)((every - (double)(time_t)every) * 1e9) };

		nanosleep(&ts, NULL);
		return false;
	}
	timeout((int)(every * 1000));
	int ch = getch();

	return ch == 'q' || ch == 'Q';
}

int ctl_top(struct ctl *c, int argc, char **argv)
{
	double every = 1;
	long frames = 0; /* 0: until q */
	bool batch = false;
	int rc = top_flags(argc, argv, &every, &frames, &batch);

	if (rc >= 0)
		return rc;

	struct frame *f = malloc(sizeof *f);
	if (!f)
		return CTL_UNREACHABLE;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	c->quiet = true;
	SCREEN *scr = batch ? NULL : screen_open();
	if (!batch && !scr) {
		free(f);
		return CTL_USAGE;
	}
	rc = CTL_OK; /* with -b, the last frame's failure, if any */
	for (long k = 0; !ctl_stop && (!frames || k < frames); k++) {
		int r = build(f, c, every);
		if (ctl_stop)
			break;
		if (batch)
			rc = r;
		frame_show(f, batch);
		if ((frames && k + 1 == frames) || frame_wait(every, batch))
			break;
	}
	if (scr) {
		endwin();
		delscreen(scr);
	}
	free(f);
	return rc;
}
