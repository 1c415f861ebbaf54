/*
 * Neutron QoS policies onto SLAs: the four rule types and their units in both directions,
 * Neutron's own fields ignored, and a clear refusal naming the rule for unknown types and
 * directions, duplicates in one direction, zero maxima and bad values. Then what the follower
 * reads (neutron_follow.h): the host's ports as Neutron lists them, each port's effective
 * policy, the SLA's source, and what it does with ports and policies it cannot use.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "neutron.h"
#include "neutron_follow.h"

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

/* Neutron answers max_burst_kbps 0 for a rule given none: the 80 % default, not 0. */
static void neutron_burst_of_zero_is_none(void **state)
{
	struct sla_spec spec;
	struct sla_error err;

	(void)state;
	assert_int_equal(map("{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\","
			     "\"max_kbps\":5000,\"max_burst_kbps\":0,\"direction\":\"egress\"}]}}",
			     &spec, &err),
			 0);
	assert_int_equal(spec.burst[SLA_EGRESS].bits, 4000000);
}

#define P1 "5af80663-18fd-49d0-9dfa-a13f53e45b61"
#define P2 "70a823ab-ff43-48be-a94f-a6ec0e787a33"
#define PORT_A "2bc57671-6aed-4bd8-befd-1526b8a277ef"
#define PORT_B "f26cb6d0-0412-4c33-9c90-b5da62eae083"
#define PORT_C "ca5b30f4-f626-4a18-a7e6-4886dd7ebf7d"

/* As Neutron 21 answers GET /v2.0/ports?binding:host_id=H&fields=...: the port's own policy
 * before its network's, MACs lowercased, ports that are not a port skipped. */
static void follow_reads_the_ports(void **state)
{
	const char *body = "{\"ports\": ["
			   "{\"id\": \"" PORT_A "\", \"mac_address\": \"FA:16:3E:00:00:01\","
			   " \"qos_policy_id\": \"" P1 "\", \"qos_network_policy_id\": \"" P2 "\"},"
			   "{\"id\": \"" PORT_B "\", \"mac_address\": \"fa:16:3e:00:00:02\","
			   " \"qos_policy_id\": null, \"qos_network_policy_id\": \"" P2 "\"},"
			   "{\"id\": \"" PORT_C "\", \"mac_address\": \"fa:16:3e:00:00:03\","
			   " \"qos_policy_id\": null, \"qos_network_policy_id\": null},"
			   "{\"id\": \"not-a-uuid\", \"mac_address\": \"fa:16:3e:00:00:04\"},"
			   "{\"id\": \"" PORT_C "\", \"mac_address\": \"fa:16:3e:00:00\"},"
			   "{\"id\": \"" PORT_C "\", \"mac_address\": \"fa:16:3e:00:00:05\","
			   " \"qos_policy_id\": \"x\"},"
			   "5]}";
	struct neutron_port *p;
	size_t n, skipped;
	char err[200];

	(void)state;
	assert_int_equal(
		neutron_ports_parse(body, strlen(body), &p, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(skipped, 4);
	assert_string_equal(p[0].mac, "fa:16:3e:00:00:01");
	assert_string_equal(p[0].policy_id, P1);
	assert_false(p[0].from_network);
	assert_string_equal(p[1].policy_id, P2);
	assert_true(p[1].from_network);
	assert_string_equal(p[2].policy_id, "");
	assert_int_equal(p[2].state, NEUTRON_NO_POLICY);
	free(p);
	assert_int_equal(neutron_ports_parse("{}", 2, &p, &n, &skipped, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ports"));
	assert_int_equal(neutron_ports_parse("<html>", 6, &p, &n, &skipped, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(
		neutron_ports_parse("{\"ports\": []}", 13, &p, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(p);
}

/* Two of Neutron's ports with one MAC on a host: neither can be told from the other. */
static void follow_refuses_a_mac_two_ports_share(void **state)
{
	const char *body = "{\"ports\": ["
			   "{\"id\": \"" PORT_A "\", \"mac_address\": \"fa:16:3e:00:00:01\","
			   " \"qos_policy_id\": \"" P1 "\"},"
			   "{\"id\": \"" PORT_B "\", \"mac_address\": \"FA:16:3E:00:00:01\"}]}";
	struct neutron_port *p;
	size_t n, skipped;
	char err[200];

	(void)state;
	assert_int_equal(
		neutron_ports_parse(body, strlen(body), &p, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(p[i].state, NEUTRON_REFUSED);
		assert_non_null(strstr(p[i].why, "one MAC address"));
	}
	free(p);
}

/* The policies, as GET /v2.0/qos/policies answers them: each port's mapped with its source;
 * a policy that is not there or not held is the port's refusal, the others go on. */
static void follow_maps_the_policies(void **state)
{
	const char *ports =
		"{\"ports\": ["
		"{\"id\": \"" PORT_A "\", \"mac_address\": \"fa:16:3e:00:00:01\","
		" \"qos_policy_id\": \"" P1 "\"},"
		"{\"id\": \"" PORT_B "\", \"mac_address\": \"fa:16:3e:00:00:02\","
		" \"qos_policy_id\": \"" P2 "\"},"
		"{\"id\": \"" PORT_C "\", \"mac_address\": \"fa:16:3e:00:00:03\","
		" \"qos_network_policy_id\": \"4e2e3a60-0000-4000-8000-000000000000\"}]}";
	const char *policies =
		"{\"policies\": ["
		"{\"id\": \"" P1 "\", \"name\": \"p\", \"revision_number\": 4, \"rules\": ["
		"{\"max_kbps\": 5000, \"max_burst_kbps\": 0, \"direction\": \"egress\","
		" \"id\": \"32eb0077-1337-46d4-a8c6-587323152eed\", \"qos_policy_id\": \"" P1 "\","
		" \"type\": \"bandwidth_limit\"},"
		"{\"min_kpps\": 10, \"direction\": \"any\", \"type\": \"minimum_packet_rate\"}]},"
		"{\"id\": \"" P2 "\", \"revision_number\": 1, \"rules\": ["
		"{\"type\": \"packet_rate_limit_v9\", \"max_kpps\": 1}]}]}";
	struct neutron_port *p;
	size_t n, skipped;
	char err[200];
	json_t *back;

	(void)state;
	assert_int_equal(
		neutron_ports_parse(ports, strlen(ports), &p, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(neutron_policies_apply(policies, strlen(policies), p, n, err, sizeof(err)),
			 0);
	assert_int_equal(p[0].state, NEUTRON_SLA);
	assert_int_equal(p[0].sla.dir[SLA_EGRESS].max_bps, 5000000);
	assert_int_equal(p[0].sla.dir[SLA_EGRESS].min_pps, 10000);
	assert_int_equal(p[0].sla.source.from, SLA_FROM_NEUTRON);
	assert_string_equal(p[0].sla.source.policy_id, P1);
	assert_string_equal(p[0].sla.source.port_id, PORT_A);
	assert_int_equal(p[0].sla.source.revision, 4);
	assert_int_equal(p[1].state, NEUTRON_REFUSED);
	assert_non_null(strstr(p[1].why, "packet_rate_limit_v9"));
	assert_int_equal(p[2].state, NEUTRON_REFUSED);
	assert_non_null(strstr(p[2].why, "not readable"));
	/* the source goes with the SLA into its native form, and back */
	back = sla_spec_to_json(&p[0].sla);
	{
		struct sla_spec again;
		struct sla_error e;

		assert_string_equal(
			json_string_value(json_object_get(json_object_get(back, "source"), "from")),
			"neutron");
		assert_int_equal(sla_spec_from_json(back, &again, &e), 0);
		assert_true(sla_spec_same(&again, &p[0].sla));
		again.source.revision++;
		assert_false(sla_spec_same(&again, &p[0].sla));
	}
	json_decref(back);
	assert_int_equal(neutron_policies_apply("{\"policy\": {}}", 14, p, n, err, sizeof(err)),
			 -EINVAL);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(neutron_maps_all_four_rules),
		cmocka_unit_test(neutron_maps_both_directions),
		cmocka_unit_test(neutron_takes_bursts_and_the_dscp_mark),
		cmocka_unit_test(neutron_empty_policy_is_the_default),
		cmocka_unit_test(neutron_refuses_naming_the_rule),
		cmocka_unit_test(neutron_burst_of_zero_is_none),
		cmocka_unit_test(follow_reads_the_ports),
		cmocka_unit_test(follow_refuses_a_mac_two_ports_share),
		cmocka_unit_test(follow_maps_the_policies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
