/*
 * Sim scenario files: a good one loads as written; each bad one is refused with the file and
 * the JSON path of the offending field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scenario.h"

static char path[64];

static void write_file(const char *text)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/dbavm-test-scen-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

#define UP "\"uplinks\": [{\"name\": \"eth0\", \"capacity_bps\": 1000}]"
#define VIF(x) "{\"id\": \"v\", \"uplink\": \"eth0\", \"demand\": [" x "]}"
#define STEP "{\"t_ms\": 0, \"bps\": 100, \"frame_bytes\": 64}"

static void scenario_loads_as_written(void **state)
{
	struct scenario sc;
	char err[512];

	(void)state;
	write_file(
		"{" UP ", \"host\": {\"capacity_pps\": 190000}, \"vms\": ["
		"{\"id\": \"a\", \"start_ms\": 5, \"stop_ms\": 900, \"sla\": {\"priority\": 2},"
		" \"vifs\": [" VIF(
			STEP
			", {\"t_ms\": 300, \"bps\": 7, \"frame_bytes\": 1500}") "]},"
										"{\"id\": \"b\", "
										"\"vifs\": "
										"[" VIF(STEP) "]}]"
											      "}");
	assert_int_equal(scenario_load(path, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.n_uplinks, 1);
	assert_int_equal(sc.uplinks[0].capacity_bps, 1000);
	assert_int_equal(sc.host_capacity_pps, 190000);
	assert_int_equal(sc.n_vms, 2);
	assert_true(sc.vms[0].has_sla);
	assert_int_equal(sc.vms[0].sla.dir[SLA_EGRESS].priority, 2);
	assert_false(sc.vms[1].has_sla);
	assert_int_equal(sc.vms[0].start_ms, 5);
	assert_int_equal(sc.vms[1].stop_ms, SCENARIO_NEVER);
	assert_int_equal(scenario_step_at(&sc.vms[0].vifs[0], 299)->bps, 100);
	assert_int_equal(scenario_step_at(&sc.vms[0].vifs[0], 300)->frame_bytes, 1500);
	scenario_free(&sc);
	unlink(path);
}

static void uplink_capacity_changes_are_kept_in_time_order(void **state)
{
	struct scenario sc;
	char err[512];

	(void)state;
	write_file(
		"{\"uplinks\": [{\"name\": \"eth0\", \"capacity_bps\": 1000, \"changes\": ["
		"{\"t_ms\": 500, \"capacity_bps\": 2000}, {\"t_ms\": 900, \"capacity_pps\": 7}]},"
		"{\"name\": \"eth1\", \"capacity_bps\": 10, \"changes\": ["
		"{\"t_ms\": 600, \"capacity_bps\": 20}]}],"
		"\"vms\": [{\"id\": \"a\", \"vifs\": [" VIF(STEP) "]}]}");
	assert_int_equal(scenario_load(path, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.n_changes, 3);
	assert_int_equal(sc.changes[0].t_ms, 500);
	assert_int_equal(sc.changes[0].capacity_bps, 2000);
	assert_int_equal(sc.changes[1].uplink, 1);
	assert_int_equal(sc.changes[1].capacity_bps, 20);
	assert_int_equal(sc.changes[2].t_ms, 900);
	assert_int_equal(sc.changes[2].capacity_bps, 2000); /* left out: as it was */
	assert_int_equal(sc.changes[2].capacity_pps, 7);
	assert_int_equal(sc.uplinks[0].capacity_bps, 1000); /* the uplinks are as at time 0 */
	scenario_free(&sc);
	unlink(path);
}

static void scenario_refuses_bad_files_naming_the_field(void **state)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
		{ "{", "1:" },
		{ "[]", "must be an object" },
		{ "{\"vms\": []}", "uplinks must be a non-empty array" },
		{ "{" UP ", \"vms\": []}", "vms must be a non-empty array" },
		{ "{" UP ", \"extra\": 1, \"vms\": []}", "unknown field 'extra'" },
		{ "{\"uplinks\": [{\"name\": \"\"}], \"vms\": []}", "uplinks[0]: name must have" },
		{ "{\"uplinks\": [{\"name\": \"a b\"}], \"vms\": []}", "not allowed in a name" },
		{ "{\"uplinks\": [{\"name\": \"e\"}, {\"name\": \"e\"}], \"vms\": []}",
		  "uplinks[1]: uplink 'e' is named twice" },
		{ "{\"uplinks\": [{\"name\": \"e\", \"capacity_bps\": -1}], \"vms\": []}",
		  "uplinks[0]: capacity_bps must be between" },
		{ "{" UP ", \"host\": {\"capacity_pps\": \"x\"}, \"vms\": []}",
		  "host: capacity_pps must be an integer" },
		{ "{" UP ", \"vms\": [{\"vifs\": [" VIF(STEP) "]}]}", "vms[0]: id is required" },
		{ "{\"uplinks\": [{\"name\": \"e\", \"changes\": []}], \"vms\": []}",
		  "uplinks[0]: changes must be a non-empty array" },
		{ "{\"uplinks\": [{\"name\": \"e\", \"changes\": [{\"t_ms\": 0}]}], \"vms\": []}",
		  "uplinks[0].changes[0]: t_ms must be between 1" },
		{ "{\"uplinks\": [{\"name\": \"e\", \"changes\": [{\"t_ms\": 5}, {\"t_ms\": 5}]}],"
		  " \"vms\": []}",
		  "uplinks[0].changes[1]: t_ms must increase" },
		{ "{\"uplinks\": [{\"name\": \"e\", \"changes\": [{\"t_ms\": 5, \"x\": 1}]}],"
		  " \"vms\": []}",
		  "unknown field 'x'" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"sla\": {\"priority\": 9}, \"vifs\": [" VIF(
			  STEP) "]}]}",
		  "vms[0]: sla.priority" },
		{ "{" UP
		  ", \"vms\": [{\"id\": \"a\", \"start_ms\": 5, \"stop_ms\": 5, \"vifs\": [" VIF(
			  STEP) "]}]}",
		  "vms[0]: stop_ms must be after start_ms" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"vifs\": []}]}",
		  "vms[0]: vifs must be a non-empty array" },
		{ "{" UP
		  ", \"vms\": [{\"id\": \"a\", \"vifs\": [{\"id\": \"v\", \"uplink\": \"eth9\","
		  " \"demand\": [" STEP "]}]}]}",
		  "vms[0].vifs[0]: uplink 'eth9' is not among" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"vifs\": [" VIF(STEP) ", " VIF(STEP) "]}]}",
		  "vms[0].vifs[1]: vif 'v' is named twice" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"vifs\": [" VIF(
			  "{\"t_ms\": 1, \"bps\": 1, \"frame_bytes\": 64}") "]}]}",
		  "vms[0].vifs[0].demand[0]: the first step must start at t_ms 0" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"vifs\": [" VIF(
			  STEP ", {\"t_ms\": 0, \"bps\": 1, \"frame_bytes\": 64}") "]}]}",
		  "vms[0].vifs[0].demand[1]: t_ms must increase" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"vifs\": [" VIF(
			  "{\"t_ms\": 0, \"bps\": 1, \"frame_bytes\": 41}") "]}]}",
		  "demand[0]: frame_bytes must be between 42" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"vifs\": [" VIF(
			  "{\"t_ms\": 0, \"bps\": 1.5, \"frame_bytes\": 64}") "]}]}",
		  "demand[0]: bps must be an integer" },
		{ "{" UP ", \"vms\": [{\"id\": \"a\", \"vifs\": [" VIF(STEP) "]}, {\"id\": \"a\", "
									     "\"vifs\": [" VIF(
										     STEP) "]}]}",
		  "vms[1]: vm 'a' is named twice" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scenario sc;
		char err[512] = "";

		write_file(cases[i].text);
		if (scenario_load(path, &sc, err, sizeof(err)) != -EINVAL)
			fail_msg("case %zu accepted", i);
		if (strncmp(err, path, strlen(path)) || !strstr(err, cases[i].says))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].says);
		unlink(path);
	}
}

static void scenario_missing_file_is_named(void **state)
{
	struct scenario sc;
	char err[512];

	(void)state;
	assert_int_equal(scenario_load("/nonexistent/s.json", &sc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/nonexistent/s.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scenario_loads_as_written),
		cmocka_unit_test(uplink_capacity_changes_are_kept_in_time_order),
		cmocka_unit_test(scenario_refuses_bad_files_naming_the_field),
		cmocka_unit_test(scenario_missing_file_is_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
