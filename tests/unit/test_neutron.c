/*
 * Neutron QoS policies onto SLAs: the four rule types and their units in both directions,
 * Neutron's own fields ignored, and a clear refusal naming the rule for unknown types and
 * directions, duplicates in one direction, zero maxima and bad values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "neutron.h"

static int map(const char *text, struct sla_spec *spec, struct sla_error *err)
{
	json_t *doc = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(doc);
	assert_true(neutron_is_policy(doc));
	rc = neutron_to_sla(doc, spec, err);
	json_decref(doc);
	return rc;
}

static void neutron_maps_all_four_rules(void **state)
{
	struct sla_spec spec;
	const struct sla *in = &spec.dir[SLA_INGRESS], def = SLA_DEFAULT_INIT;
	struct sla sla;
	struct sla_error err;

	(void)state;
	assert_int_equal(
		map("{\"policy\":{\"id\":\"p\",\"name\":\"gold\",\"shared\":false,"
		    "\"project_id\":\"x\",\"tags\":[],\"rules\":["
		    "{\"type\":\"bandwidth_limit\",\"max_kbps\":150000,\"max_burst_kbps\":15000,"
		    "\"direction\":\"egress\",\"id\":\"r\",\"qos_policy_id\":\"p\"},"
		    "{\"type\":\"minimum_bandwidth\",\"min_kbps\":20000},"
		    "{\"type\":\"packet_rate_limit\",\"max_kpps\":60,\"max_burst_kpps\":6},"
		    "{\"type\":\"minimum_packet_rate\",\"min_kpps\":5,\"direction\":\"any\"}]}}",
		    &spec, &err),
		0);
	sla = spec.dir[SLA_EGRESS];
	assert_memory_equal(in, &def, sizeof(def)); /* no ingress rule: the default */
	assert_int_equal(sla.max_bps, 150000000);
	assert_int_equal(sla.min_bps, 20000000);
	assert_int_equal(sla.max_pps, 60000);
	assert_int_equal(sla.min_pps, 5000);
	assert_int_equal(sla.priority, SLA_PRIORITY_MAX);
	assert_int_equal(sla.weight, 1);
}

/* Neutron's own documented example: a bandwidth_limit each way, and a guarantee each way. */
static void neutron_maps_both_directions(void **state)
{
	struct sla_spec spec;
	struct sla_error err;

	(void)state;
	assert_int_equal(
		map("{\"policy\":{\"rules\":["
		    "{\"type\":\"bandwidth_limit\",\"max_kbps\":3000,\"direction\":\"egress\"},"
		    "{\"type\":\"bandwidth_limit\",\"max_kbps\":2000,\"direction\":\"ingress\"},"
		    "{\"type\":\"minimum_bandwidth\",\"min_kbps\":1000,\"direction\":\"ingress\"},"
		    "{\"type\":\"packet_rate_limit\",\"max_kpps\":7,\"direction\":\"ingress\"},"
		    "{\"type\":\"minimum_packet_rate\",\"min_kpps\":2,\"direction\":\"ingress\"}]}"
		    "}",
		    &spec, &err),
		0);
	assert_int_equal(spec.dir[SLA_EGRESS].max_bps, 3000000);
	assert_int_equal(spec.dir[SLA_EGRESS].min_bps, 0);
	assert_true(spec.dir[SLA_EGRESS].max_pps == SLA_UNLIMITED);
	assert_int_equal(spec.dir[SLA_INGRESS].max_bps, 2000000);
	assert_int_equal(spec.dir[SLA_INGRESS].min_bps, 1000000);
	assert_int_equal(spec.dir[SLA_INGRESS].max_pps, 7000);
	assert_int_equal(spec.dir[SLA_INGRESS].min_pps, 2000);
	assert_int_equal(spec.dir[SLA_INGRESS].priority, SLA_PRIORITY_MAX);
}

/* Bursts size the enforcer's buckets: as given, or 80 % of the rate for a bandwidth_limit
 * without one (Neutron's Open vSwitch agent); dscp_marking marks what the VM sends. */
static void neutron_takes_bursts_and_the_dscp_mark(void **state)
{
	struct sla_spec spec;
	struct sla_error err;
	json_t *back;

	(void)state;
	assert_int_equal(
		map("{\"policy\":{\"rules\":["
		    "{\"type\":\"bandwidth_limit\",\"max_kbps\":10000,\"direction\":\"egress\"},"
		    "{\"type\":\"bandwidth_limit\",\"max_kbps\":20000,\"max_burst_kbps\":4000,"
		    "\"direction\":\"ingress\"},"
		    "{\"type\":\"packet_rate_limit\",\"max_kpps\":5,\"max_burst_kpps\":2},"
		    "{\"type\":\"dscp_marking\",\"dscp_mark\":26}]}}",
		    &spec, &err),
		0);
	assert_int_equal(spec.burst[SLA_EGRESS].bits, 8000000);	 /* 80 % of 10 Mbit/s */
	assert_int_equal(spec.burst[SLA_INGRESS].bits, 4000000); /* as given */
	assert_int_equal(spec.burst[SLA_EGRESS].packets, 2000);	 /* as given */
	assert_int_equal(spec.burst[SLA_INGRESS].packets, 0);	 /* no rule: the enforcer's */
	assert_true(spec.dscp_set);
	assert_int_equal(spec.dscp, 26);
	/* and the native form says the same */
	back = sla_spec_to_json(&spec);
	assert_int_equal(json_integer_value(json_object_get(back, "dscp_mark")), 26);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(back, "bandwidth"), "burst_bits")),
			 8000000);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(back, "ingress"), "bandwidth"),
				 "burst_bits")),
			 4000000);
	json_decref(back);
}

static void neutron_empty_policy_is_the_default(void **state)
{
	struct sla_spec spec, def;
	struct sla_error err;

	(void)state;
	assert_int_equal(map("{\"policy\":{\"rules\":[]}}", &spec, &err), 0);
	sla_spec_default(&def);
	assert_memory_equal(&spec, &def, sizeof(spec));
}

static void neutron_refuses_naming_the_rule(void **state)
{
	static const struct {
		const char *text, *field;
	} bad[] = {
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":1,"
		  "\"direction\":\"ingress\"},{\"type\":\"bandwidth_limit\",\"max_kbps\":2,"
		  "\"direction\":\"ingress\"}]}}",
		  "policy.rules[1].type" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":10,"
		  "\"direction\":\"ingress\"},{\"type\":\"minimum_bandwidth\",\"min_kbps\":11,"
		  "\"direction\":\"ingress\"}]}}",
		  "policy.rules" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":1,"
		  "\"direction\":\"up\"}]}}",
		  "policy.rules[0].direction" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"dscp_marking\",\"dscp_mark\":7}]}}",
		  "policy.rules[0].dscp_mark" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"dscp_marking\",\"dscp_mark\":64}]}}",
		  "policy.rules[0].dscp_mark" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"dscp_marking\",\"dscp_mark\":8,"
		  "\"direction\":\"ingress\"}]}}",
		  "policy.rules[0].direction" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"dscp_marking\",\"dscp_mark\":8},"
		  "{\"type\":\"dscp_marking\",\"dscp_mark\":10}]}}",
		  "policy.rules[1].type" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"minimum_bandwidth\",\"min_kbps\":1,"
		  "\"max_burst_kbps\":5}]}}",
		  "policy.rules[0].max_burst_kbps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":1,"
		  "\"max_burst_kbps\":-5}]}}",
		  "policy.rules[0].max_burst_kbps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"qos_whatever\",\"x\":1}]}}",
		  "policy.rules[0].type" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"minimum_bandwidth\",\"min_kbps\":1},"
		  "{\"type\":\"minimum_bandwidth\",\"min_kbps\":2}]}}",
		  "policy.rules[1].type" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":0}]}}",
		  "policy.rules[0].max_kbps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"packet_rate_limit\",\"max_kpps\":0}]}}",
		  "policy.rules[0].max_kpps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":-1}]}}",
		  "policy.rules[0].max_kbps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":\"1\"}]}}",
		  "policy.rules[0].max_kbps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\"}]}}",
		  "policy.rules[0].max_kbps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":1,"
		  "\"min_kbps\":1}]}}",
		  "policy.rules[0].min_kbps" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":10},"
		  "{\"type\":\"minimum_bandwidth\",\"min_kbps\":11}]}}",
		  "policy.rules" },
		{ "{\"policy\":{\"rules\":[5]}}", "policy.rules[0]" },
		{ "{\"policy\":{\"rules\":{}}}", "policy.rules" },
		{ "{\"policy\":[]}", "policy" },
		{ "{\"policy\":{\"rules\":[]},\"priority\":1}", "priority" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sla_spec spec;
		struct sla_error err;

		if (map(bad[i].text, &spec, &err) != -EINVAL)
			fail_msg("case %zu accepted", i);
		if (strcmp(err.field, bad[i].field) || !err.msg[0])
			fail_msg("case %zu: field '%s', want '%s'", i, err.field, bad[i].field);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(neutron_maps_all_four_rules),
		cmocka_unit_test(neutron_maps_both_directions),
		cmocka_unit_test(neutron_takes_bursts_and_the_dscp_mark),
		cmocka_unit_test(neutron_empty_policy_is_the_default),
		cmocka_unit_test(neutron_refuses_naming_the_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
