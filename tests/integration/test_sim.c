/*
 * The real dbavmd binary on the sim platform, end to end: the paper's two scenarios under
 * netfront, netback and none; VMs coming and going; a VM with two vifs; the report's shape;
 * the command line's exit statuses; clean shutdown on SIGTERM in real time.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

/* Runs dbavmd with the arguments (NULL-terminated); returns its exit status, stdout in out. */
static int run(char *out, size_t out_len, char *errbuf, size_t err_len, ...)
{
	char *argv[32] = { DBAVMD };
	int argc = 1, po[2], pe[2], status;
	size_t n = 0, m = 0;
	va_list ap;
	pid_t pid;

	va_start(ap, err_len);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]), close(pe[0]);
		execv(DBAVMD, argv);
		_exit(127);
	}
	close(po[1]), close(pe[1]);
	/* The reports are small next to a pipe's buffer; read stdout then stderr. */
	for (ssize_t r; (r = read(po[0], out + n, out_len - 1 - n)) > 0;)
		n += (size_t)r;
	for (ssize_t r; (r = read(pe[0], errbuf + m, err_len - 1 - m)) > 0;)
		m += (size_t)r;
	out[n] = errbuf[m] = '\0';
	close(po[0]), close(pe[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char out[1 << 20], errs[1 << 16];

static json_t *report(const char *scenario, const char *enforcer, const char *ticks,
		      const char *extra)
{
	char path[512];
	json_error_t e;
	json_t *j;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", DATA_DIR, scenario);
	if (extra)
		rc = run(out, sizeof(out), errs, sizeof(errs), "--platform", "sim", "--scenario",
			 path, "--enforcer", enforcer, "--ticks", ticks, "--report", "json",
			 "--log-level", "warn", extra, NULL);
	else
		rc = run(out, sizeof(out), errs, sizeof(errs), "--platform", "sim", "--scenario",
			 path, "--enforcer", enforcer, "--ticks", ticks, "--report", "json",
			 "--log-level", "warn", NULL);
	if (rc != 0)
		fail_msg("dbavmd exited %d: %s", rc, errs);
	j = json_loads(out, 0, &e);
	if (!j)
		fail_msg("report is not JSON: %s", e.text);
	return j;
}

static json_t *vm(json_t *rep, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(rep, "vms"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "id")), id))
			return v;
	fail_msg("no vm %s in report", id);
	return NULL;
}

static double rate(json_t *obj, const char *what, const char *unit)
{
	json_t *r = json_object_get(json_object_get(obj, what), unit);

	if (!json_is_integer(r))
		fail_msg("%s.%s is not an integer", what, unit);
	return (double)json_integer_value(r);
}

/* Within rel of want (the sim's counters are whole packets per period). */
static void near(double got, double want, double rel, const char *what)
{
	if (fabs(got - want) > rel * want)
		fail_msg("%s: got %.0f, want %.0f (+-%.2f%%)", what, got, want, rel * 100);
}

static const double sc1_bps[3] = { 150e6, 700e6, 150e6 };
static const double sc2_bps[3] = { 10.24e6, 700e6, 30.72e6 };
static const char *const vms[3] = { "vm1", "vm2", "vm3" };

static void sim_netfront_gives_every_vm_its_allocation(void **state)
{
	json_t *r1 = report("paper-scenario1.json", "netfront", "20", NULL);
	json_t *r2 = report("paper-scenario2.json", "netfront", "20", NULL);

	(void)state;
	for (int i = 0; i < 3; i++) {
		json_t *v1 = vm(r1, vms[i]), *v2 = vm(r2, vms[i]);

		near(rate(v1, "passed", "bps"), sc1_bps[i], 0.001, vms[i]);
		near(rate(v2, "passed", "bps"), sc2_bps[i], 0.001, vms[i]);
		/* Everything over the allocation is dropped at the hook. */
		near(rate(v2, "dropped", "bps") + rate(v2, "passed", "bps"), 1e9, 0.001, "offered");
	}
	near(rate(vm(r2, "vm1"), "passed", "pps"), 20000, 0.001, "vm1 pps");
	near(rate(vm(r2, "vm3"), "passed", "pps"), 60000, 0.001, "vm3 pps");
	json_decref(r1);
	json_decref(r2);
}

static void sim_none_shares_the_uplink_equally(void **state)
{
	json_t *r1 = report("paper-scenario1.json", "none", "20", NULL);
	json_t *r2 = report("paper-scenario2.json", "none", "20", NULL);
	double first = rate(vm(r2, "vm1"), "passed", "bps");

	(void)state;
	for (int i = 0; i < 3; i++) {
		near(rate(vm(r1, vms[i]), "passed", "bps"), 1e9 / 3, 0.001, vms[i]);
		near(rate(vm(r2, vms[i]), "passed", "bps"), first, 0.001, vms[i]);
	}
	/* Scenario 2: the host's packet budget, spent by every offered packet, is the limit. */
	near(rate(vm(r2, "vm1"), "passed", "pps") + rate(vm(r2, "vm2"), "passed", "pps") +
		     rate(vm(r2, "vm3"), "passed", "pps"),
	     190000, 0.001, "host packet budget");
	json_decref(r1);
	json_decref(r2);
}

static void sim_netback_small_frames_break_every_sla(void **state)
{
	json_t *r1 = report("paper-scenario1.json", "netback", "20", NULL);
	json_t *r2 = report("paper-scenario2.json", "netback", "20", NULL);

	(void)state;
	/* Large frames: HTB after the copy still meets the SLAs (the paper's TC result). */
	for (int i = 0; i < 3; i++)
		near(rate(vm(r1, vms[i]), "passed", "bps"), sc1_bps[i], 0.001, vms[i]);
	/* Small frames exhaust the packet budget before HTB sees them: VM2 starves far below
	 * its 700 Mbit/s, VM1 and VM3 pass more packets than their SLAs allow. */
	assert_true(rate(vm(r2, "vm2"), "passed", "bps") < 0.1 * 700e6);
	assert_true(rate(vm(r2, "vm1"), "passed", "pps") > 20000 * 1.5);
	assert_true(rate(vm(r2, "vm3"), "passed", "pps") > 60000 * 1.2);
	json_decref(r1);
	json_decref(r2);
}

static void sim_results_do_not_depend_on_the_period(void **state)
{
	json_t *a = report("paper-scenario2.json", "netfront", "20", "--period=100");
	json_t *b = report("paper-scenario2.json", "netfront", "200", "--period=10");

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(a, "t_ms")), 2000);
	assert_int_equal(json_integer_value(json_object_get(b, "t_ms")), 2000);
	for (int i = 0; i < 3; i++)
		near(rate(vm(b, vms[i]), "passed", "bps"), rate(vm(a, vms[i]), "passed", "bps"),
		     0.002, vms[i]);
	json_decref(a);
	json_decref(b);
}

static void sim_vms_come_and_go(void **state)
{
	json_t *before = report("vm-churn.json", "netfront", "5", NULL);
	json_t *during = report("vm-churn.json", "netfront", "15", NULL);
	json_t *after = report("vm-churn.json", "netfront", "25", NULL);

	(void)state;
	/* Before "late" starts: its SLA waits on an absent record; "early" keeps its 300 M
	 * guarantee and the two share the rest equally. */
	assert_false(json_is_true(json_object_get(vm(before, "late"), "present")));
	assert_int_equal(json_array_size(json_object_get(vm(before, "late"), "vifs")), 0);
	near(rate(vm(before, "early"), "passed", "bps"), 650e6, 0.001, "early");
	near(rate(vm(before, "steady"), "passed", "bps"), 350e6, 0.001, "steady");
	/* "late" is class 0 up to 400 M; the class 7 VMs share what is left above "early"'s
	 * guarantee. */
	assert_true(json_is_true(json_object_get(vm(during, "late"), "present")));
	near(rate(vm(during, "late"), "passed", "bps"), 400e6, 0.001, "late");
	near(rate(vm(during, "early"), "passed", "bps"), 450e6, 0.001, "early");
	near(rate(vm(during, "steady"), "passed", "bps"), 150e6, 0.001, "steady");
	/* "early" is gone; its SLA is kept for its return, its vif released. */
	assert_false(json_is_true(json_object_get(vm(after, "early"), "present")));
	assert_true(json_is_true(json_object_get(vm(after, "early"), "sla_set")));
	near(rate(vm(after, "steady"), "passed", "bps"), 600e6, 0.001, "steady");
	json_decref(before);
	json_decref(during);
	json_decref(after);
}

static json_t *vif(json_t *v, size_t i)
{
	return json_array_get(json_object_get(v, "vifs"), i);
}

static void sim_vm_with_two_vifs_splits_its_sla(void **state)
{
	json_t *a = report("multi-vif.json", "netfront", "5", NULL);
	json_t *b = report("multi-vif.json", "netfront", "15", NULL);
	json_t *va = vm(a, "twovifs"), *vb = vm(b, "twovifs");

	(void)state;
	/* 300 and 100 Mbit/s offered: the 200 Mbit/s max splits 150/50. */
	near(rate(vif(va, 0), "limit", "bps"), 150e6, 0.001, "vif1.0 limit");
	near(rate(vif(va, 1), "limit", "bps"), 50e6, 0.001, "vif1.1 limit");
	near(rate(va, "passed", "bps"), 200e6, 0.001, "vm total");
	/* Both offer 300: an even split. */
	near(rate(vif(vb, 0), "limit", "bps"), 100e6, 0.001, "vif1.0 limit");
	near(rate(vif(vb, 1), "limit", "bps"), 100e6, 0.001, "vif1.1 limit");
	json_decref(a);
	json_decref(b);
}

static void sim_report_has_the_shape_of_the_vm_state(void **state)
{
	json_t *r = report("paper-scenario2.json", "netfront", "3", NULL);
	json_t *v = vm(r, "vm1"), *f;

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(r, "tick")), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "t_ms")), 300);
	assert_string_equal(json_string_value(json_object_get(v, "name")), "vm1");
	assert_true(json_is_null(json_object_get(v, "uuid")));
	assert_true(json_is_true(json_object_get(v, "present")));
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(v, "sla"), "packet_rate"), "max_pps")),
		20000);
	f = vif(v, 0);
	assert_string_equal(json_string_value(json_object_get(f, "id")), "vif1.0");
	assert_string_equal(json_string_value(json_object_get(f, "uplink")), "eth0");
	for (const char *const *k =
		     (const char *const[]){ "demand", "limit", "passed", "dropped", NULL };
	     *k; k++) {
		assert_true(json_is_object(json_object_get(f, *k)));
		assert_true(json_is_integer(json_object_get(json_object_get(f, *k), "bps")));
		assert_true(json_is_integer(json_object_get(json_object_get(f, *k), "pps")));
	}
	assert_true(json_is_object(json_object_get(v, "passed")));
	assert_true(json_is_object(json_object_get(v, "dropped")));
	json_decref(r);
}

static void sim_report_is_deterministic(void **state)
{
	char first[sizeof(out)];
	json_t *a = report("paper-scenario2.json", "netfront", "7", NULL);

	(void)state;
	strcpy(first, out);
	json_decref(a);
	json_decref(report("paper-scenario2.json", "netfront", "7", NULL));
	assert_string_equal(first, out);
}

static void cli_bad_usage_exits_2_with_one_line(void **state)
{
	static const char *const cases[][3] = {
		{ "--period", "5", NULL },
		{ "--platform", "sim", NULL },
		{ "--no-such-flag", NULL, NULL },
		{ "--platform", "sim", "--scenario=/nonexistent.json" },
		{ "--platform=netns", NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run(out, sizeof(out), errs, sizeof(errs), cases[i][0], cases[i][1],
			     cases[i][2], NULL);

		if (rc != 2)
			fail_msg("case %zu exited %d", i, rc);
		if (strncmp(errs, "dbavmd: ", 8) || !strstr(errs, "\nTry 'dbavmd --help'.\n"))
			fail_msg("case %zu: '%s'", i, errs);
	}
	assert_int_equal(run(out, sizeof(out), errs, sizeof(errs), "--help", NULL), 0);
	assert_non_null(strstr(out, "usage: dbavmd"));
	assert_int_equal(run(out, sizeof(out), errs, sizeof(errs), "--version", NULL), 0);
	assert_non_null(strstr(out, "dbavmd "));
}

static void cli_sigterm_stops_cleanly_in_real_time(void **state)
{
	char path[512];
	int pe[2], status;
	size_t m = 0;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/paper-scenario1.json", DATA_DIR);
	assert_int_equal(pipe(pe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pe[1], 2);
		close(pe[0]);
		execl(DBAVMD, DBAVMD, "--platform", "sim", "--scenario", path, "--period", "10",
		      (char *)NULL);
		_exit(127);
	}
	close(pe[1]);
	usleep(300000);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (ssize_t r; (r = read(pe[0], errs + m, sizeof(errs) - 1 - m)) > 0;)
		m += (size_t)r;
	errs[m] = '\0';
	close(pe[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(strstr(errs, "vif attached vm=vm1 vif=vif1.0"));
	assert_non_null(strstr(errs, "shutting down signal=TERM"));
	assert_non_null(strstr(errs, "vif released vm=vm1 vif=vif1.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sim_netfront_gives_every_vm_its_allocation),
		cmocka_unit_test(sim_none_shares_the_uplink_equally),
		cmocka_unit_test(sim_netback_small_frames_break_every_sla),
		cmocka_unit_test(sim_results_do_not_depend_on_the_period),
		cmocka_unit_test(sim_vms_come_and_go),
		cmocka_unit_test(sim_vm_with_two_vifs_splits_its_sla),
		cmocka_unit_test(sim_report_has_the_shape_of_the_vm_state),
		cmocka_unit_test(sim_report_is_deterministic),
		cmocka_unit_test(cli_bad_usage_exits_2_with_one_line),
		cmocka_unit_test(cli_sigterm_stops_cleanly_in_real_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
