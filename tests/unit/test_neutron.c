/*
 * Neutron QoS policies onto SLAs: the four rule types and their units, Neutron's own fields
 * ignored, and a clear refusal naming the rule for ingress, unknown types, duplicates, zero
 * maxima and bad values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "neutron.h"

static int map(const char *text, struct sla *sla, struct sla_error *err)
{
	json_t *doc = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(doc);
	assert_true(neutron_is_policy(doc));
	rc = neutron_to_sla(doc, sla, err);
	json_decref(doc);
	return rc;
}

static void neutron_maps_all_four_rules(void **state)
{
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
		    &sla, &err),
		0);
	assert_int_equal(sla.max_bps, 150000000);
	assert_int_equal(sla.min_bps, 20000000);
	assert_int_equal(sla.max_pps, 60000);
	assert_int_equal(sla.min_pps, 5000);
	assert_int_equal(sla.priority, SLA_PRIORITY_MAX);
	assert_int_equal(sla.weight, 1);
}

static void neutron_empty_policy_is_the_default(void **state)
{
	struct sla sla, def;
	struct sla_error err;

	(void)state;
	assert_int_equal(map("{\"policy\":{\"rules\":[]}}", &sla, &err), 0);
	sla_default(&def);
	assert_memory_equal(&sla, &def, sizeof(sla));
}

static void neutron_refuses_naming_the_rule(void **state)
{
	static const struct {
		const char *text, *field;
	} bad[] = {
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":1,"
		  "\"direction\":\"ingress\"}]}}",
		  "policy.rules[0].direction" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":1,"
		  "\"direction\":\"up\"}]}}",
		  "policy.rules[0].direction" },
		{ "{\"policy\":{\"rules\":[{\"type\":\"dscp_marking\",\"dscp_mark\":8}]}}",
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
		struct sla sla;
		struct sla_error err;

		if (map(bad[i].text, &sla, &err) != -EINVAL)
			fail_msg("case %zu accepted", i);
		if (strcmp(err.field, bad[i].field) || !err.msg[0])
			fail_msg("case %zu: field '%s', want '%s'", i, err.field, bad[i].field);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(neutron_maps_all_four_rules),
		cmocka_unit_test(neutron_empty_policy_is_the_default),
		cmocka_unit_test(neutron_refuses_naming_the_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
