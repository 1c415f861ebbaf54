/*
 * The SLA parser: every field's bad values, wrong types, missing and unknown fields, huge
 * numbers, in the flat body and in each direction's object; each refusal names the field it
 * concerns.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api.h" /* api_parse_sla: the PUT body's own parser */
#include "sla.h"

struct bad_case {
	const char *body;
	const char *field; /* what the error must name */
};

static const struct bad_case bad[] = {
	/* not an object, not JSON */
	{ "", "" },
	{ "[]", "" },
	{ "42", "" },
	{ "{\"priority\": 1", "" },
	{ "{\"priority\": 1}{}", "" },
	{ "{\"priority\": 1, \"priority\": 2}", "" },
	/* priority */
	{ "{}", "priority" },
	{ "{\"priority\": -1}", "priority" },
	{ "{\"priority\": 8}", "priority" },
	{ "{\"priority\": 1.5}", "priority" },
	{ "{\"priority\": \"1\"}", "priority" },
	{ "{\"priority\": null}", "priority" },
	{ "{\"priority\": true}", "priority" },
	{ "{\"priority\": 99999999999999999999999}", "" }, /* beyond any integer JSON here */
	/* weight */
	{ "{\"priority\": 1, \"weight\": 0}", "weight" },
	{ "{\"priority\": 1, \"weight\": -3}", "weight" },
	{ "{\"priority\": 1, \"weight\": 10001}", "weight" },
	{ "{\"priority\": 1, \"weight\": \"heavy\"}", "weight" },
	{ "{\"priority\": 1, \"weight\": null}", "weight" },
	/* bandwidth */
	{ "{\"priority\": 1, \"bandwidth\": 5}", "bandwidth" },
	{ "{\"priority\": 1, \"bandwidth\": null}", "bandwidth" },
	{ "{\"priority\": 1, \"bandwidth\": {\"min_bps\": -1}}", "bandwidth.min_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"min_bps\": null}}", "bandwidth.min_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"min_bps\": \"1G\"}}", "bandwidth.min_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"min_bps\": 1e9}}", "bandwidth.min_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"max_bps\": -5}}", "bandwidth.max_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"max_bps\": 100000000000001}}", "bandwidth.max_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"max_bps\": 9223372036854775807}}",
	  "bandwidth.max_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"max_bps\": [1]}}", "bandwidth.max_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"min_bps\": 10, \"max_bps\": 9}}",
	  "bandwidth.min_bps" },
	{ "{\"priority\": 1, \"bandwidth\": {\"max_bsp\": 10}}", "bandwidth.max_bsp" },
	/* packet_rate */
	{ "{\"priority\": 1, \"packet_rate\": []}", "packet_rate" },
	{ "{\"priority\": 1, \"packet_rate\": {\"min_pps\": -1}}", "packet_rate.min_pps" },
	{ "{\"priority\": 1, \"packet_rate\": {\"min_pps\": 10000000001}}", "packet_rate.min_pps" },
	{ "{\"priority\": 1, \"packet_rate\": {\"max_pps\": false}}", "packet_rate.max_pps" },
	{ "{\"priority\": 1, \"packet_rate\": {\"min_pps\": 7, \"max_pps\": 6}}",
	  "packet_rate.min_pps" },
	{ "{\"priority\": 1, \"packet_rate\": {\"min_bps\": 7}}", "packet_rate.min_bps" },
	/* unknown top-level fields */
	{ "{\"priority\": 1, \"prio\": 1}", "prio" },
	{ "{\"priority\": 1, \"Bandwidth\": {}}", "Bandwidth" },
	/* the directions' objects */
	{ "{\"priority\": 1, \"egress\": {\"priority\": 2}}", "egress" },
	{ "{\"egress\": 5}", "egress" },
	{ "{\"ingress\": []}", "ingress" },
	{ "{\"ingress\": null}", "ingress" },
	{ "{\"ingress\": {}}", "ingress.priority" },
	{ "{\"egress\": {\"weight\": 2}}", "egress.priority" },
	{ "{\"ingress\": {\"priority\": 9}}", "ingress.priority" },
	{ "{\"ingress\": {\"priority\": 1, \"weight\": 0}}", "ingress.weight" },
	{ "{\"ingress\": {\"priority\": 1, \"bandwidth\": {\"max_bps\": -1}}}",
	  "ingress.bandwidth.max_bps" },
	{ "{\"ingress\": {\"priority\": 1, \"packet_rate\": {\"min_pps\": 7, \"max_pps\": 6}}}",
	  "ingress.packet_rate.min_pps" },
	{ "{\"ingress\": {\"priority\": 1, \"max_bps\": 1}}", "ingress.max_bps" },
	{ "{\"egress\": {\"priority\": 1, \"ingress\": {\"priority\": 1}}}", "egress.ingress" },
	{ "{\"priority\": 1, \"ingress\": {\"priority\": 1}, \"egres\": {}}", "egres" },
	/* bursts and the DSCP mark */
	{ "{\"priority\": 1, \"bandwidth\": {\"burst_bits\": -1}}", "bandwidth.burst_bits" },
	{ "{\"priority\": 1, \"bandwidth\": {\"burst_bits\": null}}", "bandwidth.burst_bits" },
	{ "{\"priority\": 1, \"packet_rate\": {\"burst_packets\": \"9\"}}",
	  "packet_rate.burst_packets" },
	{ "{\"priority\": 1, \"bandwidth\": {\"burst_packets\": 9}}", "bandwidth.burst_packets" },
	{ "{\"priority\": 1, \"dscp_mark\": 7}", "dscp_mark" },
	{ "{\"priority\": 1, \"dscp_mark\": 64}", "dscp_mark" },
	{ "{\"priority\": 1, \"dscp_mark\": null}", "dscp_mark" },
	{ "{\"ingress\": {\"priority\": 1, \"dscp_mark\": 8}}", "ingress.dscp_mark" },
};

/* The PUT body's parser, and the egress side it gives (its ingress side must be the default:
 * these bodies say nothing of it). */
static int parse_egress(const char *body, struct sla *sla, struct sla_error *err)
{
	struct sla_spec spec;
	int rc = api_parse_sla(body, strlen(body), &spec, err);

	if (!rc)
		assert_true(sla_is_default(&spec.dir[SLA_INGRESS]));
	*sla = spec.dir[SLA_EGRESS];
	return rc;
}

static void sla_refuses_every_bad_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sla sla;
		struct sla_error err;
		int rc = parse_egress(bad[i].body, &sla, &err);

		if (rc != -EINVAL)
			fail_msg("accepted: %s", bad[i].body);
		if (strcmp(err.field, bad[i].field) != 0)
			fail_msg("%s: field '%s', expected '%s'", bad[i].body, err.field,
				 bad[i].field);
		if (!err.msg[0])
			fail_msg("%s: no message", bad[i].body);
	}
}

static void sla_error_message_says_what_and_where(void **state)
{
	struct sla sla;
	struct sla_error err;
	const char *body = "{\"priority\": 1, \"bandwidth\": {\"min_bps\": 10, \"max_bps\": 9}}";

	(void)state;
	assert_int_equal(parse_egress(body, &sla, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bandwidth.min_bps"));
	assert_non_null(strstr(err.msg, "bandwidth.max_bps"));
	body = "{\"priority\": 1,\n \"weight\": }";
	assert_int_equal(parse_egress(body, &sla, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "line 2"));
}

static void sla_parses_the_paper_sla(void **state)
{
	struct sla sla;
	struct sla_error err;
	const char *body = "{\"priority\": 1, \"weight\": 1,"
			   " \"bandwidth\": {\"min_bps\": 150000000, \"max_bps\": 150000000},"
			   " \"packet_rate\": {\"min_pps\": 0, \"max_pps\": 20000}}";

	(void)state;
	assert_int_equal(parse_egress(body, &sla, &err), 0);
	assert_int_equal(sla.priority, 1);
	assert_int_equal(sla.weight, 1);
	assert_int_equal(sla.min_bps, 150000000);
	assert_int_equal(sla.max_bps, 150000000);
	assert_int_equal(sla.min_pps, 0);
	assert_int_equal(sla.max_pps, 20000);
}

static void sla_missing_optional_fields_take_defaults(void **state)
{
	struct sla sla;
	struct sla_error err;
	const char *body = "{\"priority\": 0, \"bandwidth\": {\"max_bps\": null}}";

	(void)state;
	assert_int_equal(parse_egress(body, &sla, &err), 0);
	assert_int_equal(sla.priority, 0);
	assert_int_equal(sla.weight, 1);
	assert_int_equal(sla.min_bps, 0);
	assert_true(sla.max_bps == SLA_UNLIMITED);
	assert_true(sla.max_pps == SLA_UNLIMITED);
}

static void sla_accepts_the_bounds(void **state)
{
	struct sla sla;
	struct sla_error err;
	const char *body =
		"{\"priority\": 7, \"weight\": 10000,"
		" \"bandwidth\": {\"min_bps\": 100000000000000,"
		" \"max_bps\": 100000000000000},"
		" \"packet_rate\": {\"min_pps\": 10000000000, \"max_pps\": 10000000000}}";

	(void)state;
	assert_int_equal(parse_egress(body, &sla, &err), 0);
	assert_int_equal(sla.max_bps, SLA_BPS_MAX);
	assert_int_equal(sla.max_pps, SLA_PPS_MAX);
}

static void sla_round_trips_through_json(void **state)
{
	struct sla in = { 3, 7, 1000, SLA_UNLIMITED, 5, 600 }, out;
	struct sla_error err;
	json_t *j = sla_to_json(&in);
	char *text;

	(void)state;
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(json_object_get(j, "bandwidth"), "max_bps")));
	text = json_dumps(j, 0);
	assert_int_equal(parse_egress(text, &out, &err), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	free(text);
	json_decref(j);
}

/* An unknown key is named whole in the error when it fits (62 'a' and an e-acute: 64 bytes),
 * and cut at a character's boundary when it does not (300 e-acutes), never inside one. */
static void sla_error_keeps_or_cuts_characters_whole(void **state)
{
	char key[700], body[800];
	struct sla_error err;
	struct sla sla;

	(void)state;
	memset(key, 'a', 62);
	strcpy(key + 62, "\xc3\xa9");
	snprintf(body, sizeof(body), "{\"priority\":1,\"%s\":1}", key);
	assert_int_equal(parse_egress(body, &sla, &err), -EINVAL);
	assert_string_equal(err.field, key);
	key[0] = '\0';
	for (int i = 0; i < 300; i++)
		strcat(key, "\xc3\xa9");
	snprintf(body, sizeof(body), "{\"%s\":1}", key);
	assert_int_equal(parse_egress(body, &sla, &err), -EINVAL);
	assert_true(strlen(err.field) > 200 && strlen(err.field) % 2 == 0);
	assert_memory_equal(err.field, key, strlen(err.field));
	assert_true(strlen(err.msg) > 200 && ((unsigned char)err.msg[strlen(err.msg) - 1] == 0xa9));
}

/* Both directions: the flat body with an ingress object, the two objects, ingress alone; and
 * the native form written back reads as what was put. */
static void sla_takes_both_directions(void **state)
{
	static const char *const bodies[] = {
		"{\"priority\": 1, \"bandwidth\": {\"max_bps\": 3000000},"
		" \"ingress\": {\"priority\": 2, \"bandwidth\": {\"min_bps\": 1000000,"
		" \"max_bps\": 2000000}, \"packet_rate\": {\"max_pps\": 700}}}",
		"{\"egress\": {\"priority\": 1, \"bandwidth\": {\"max_bps\": 3000000}},"
		" \"ingress\": {\"priority\": 2, \"bandwidth\": {\"min_bps\": 1000000,"
		" \"max_bps\": 2000000}, \"packet_rate\": {\"max_pps\": 700}}}",
	};
	struct sla_spec spec, back;
	struct sla_error err;
	const char *alone = "{\"ingress\": {\"priority\": 0, \"weight\": 3}}";

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *j;
		char *text;

		assert_int_equal(api_parse_sla(bodies[i], strlen(bodies[i]), &spec, &err), 0);
		assert_int_equal(spec.dir[SLA_EGRESS].priority, 1);
		assert_int_equal(spec.dir[SLA_EGRESS].max_bps, 3000000);
		assert_int_equal(spec.dir[SLA_INGRESS].priority, 2);
		assert_int_equal(spec.dir[SLA_INGRESS].min_bps, 1000000);
		assert_int_equal(spec.dir[SLA_INGRESS].max_bps, 2000000);
		assert_int_equal(spec.dir[SLA_INGRESS].max_pps, 700);
		assert_true(spec.dir[SLA_INGRESS].max_pps != SLA_UNLIMITED);
		j = sla_spec_to_json(&spec);
		assert_non_null(json_object_get(j, "ingress"));
		assert_null(json_object_get(j, "egress")); /* egress stays flat, as before */
		text = json_dumps(j, 0);
		assert_int_equal(api_parse_sla(text, strlen(text), &back, &err), 0);
		assert_memory_equal(&spec, &back, sizeof(spec));
		free(text);
		json_decref(j);
	}
	/* bursts and the mark read back as put */
	{
		const char *b =
			"{\"priority\": 1, \"dscp_mark\": 46, \"bandwidth\": {\"max_bps\":"
			" 10000000, \"burst_bits\": 2000000}, \"ingress\": {\"priority\": 1,"
			" \"packet_rate\": {\"max_pps\": 100, \"burst_packets\": 50}}}";
		json_t *j;
		char *text;

		assert_int_equal(api_parse_sla(b, strlen(b), &spec, &err), 0);
		assert_int_equal(spec.burst[SLA_EGRESS].bits, 2000000);
		assert_int_equal(spec.burst[SLA_INGRESS].packets, 50);
		assert_true(spec.dscp_set && spec.dscp == 46);
		j = sla_spec_to_json(&spec);
		text = json_dumps(j, 0);
		assert_int_equal(api_parse_sla(text, strlen(text), &back, &err), 0);
		assert_memory_equal(&spec, &back, sizeof(spec));
		free(text);
		json_decref(j);
	}
	assert_int_equal(api_parse_sla(alone, strlen(alone), &spec, &err), 0);
	assert_true(sla_is_default(&spec.dir[SLA_EGRESS]));
	assert_int_equal(spec.dir[SLA_INGRESS].priority, 0);
	assert_int_equal(spec.dir[SLA_INGRESS].weight, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sla_refuses_every_bad_field),
		cmocka_unit_test(sla_error_message_says_what_and_where),
		cmocka_unit_test(sla_parses_the_paper_sla),
		cmocka_unit_test(sla_missing_optional_fields_take_defaults),
		cmocka_unit_test(sla_accepts_the_bounds),
		cmocka_unit_test(sla_round_trips_through_json),
		cmocka_unit_test(sla_takes_both_directions),
		cmocka_unit_test(sla_error_keeps_or_cuts_characters_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
