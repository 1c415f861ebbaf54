/*
 * test_ovsdb: the orchestrator's port ids from Open vSwitch's database (platform/ovsdb.h), as
 * ovsdb-server sends them (RFC 7047; the messages below are shaped as ovsdb-server 3.1 writes
 * them): the monitor's first reply, updates that insert, change and delete rows, its echo
 * probes answered; what is not taken (a name that is not a name, a reply that is not one); and
 * the stream cut into messages however the bytes arrive.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ovsdb.h"

#define U1 "9e33fb4c-d8f0-4538-b39f-3e3534a58604"
#define U2 "c29448ba-77c8-4408-a50a-fa2a64c1c349"
#define PORT "0f6e2a52-1b2c-4c3d-8e9f-a0b1c2d3e4f5"

static int apply(struct ovsdb_table *t, const char *msg, bool *changed, char **reply)
{
	const char *why;

	return ovsdb_table_apply(t, msg, strlen(msg), changed, reply, &why);
}

static const char first[] =
	"{\"id\":\"dbavm-monitor\",\"result\":{\"Interface\":{"
	"\"" U2 "\":{\"new\":{\"name\":\"br0\",\"external_ids\":[\"map\",[]]}},"
	"\"" U1 "\":{\"new\":{\"name\":\"vif3.0\",\"external_ids\":[\"map\",[[\"attached-mac\","
	"\"fa:16:3e:00:00:01\"],[\"iface-id\",\"" PORT "\"]]]}}}},\"error\":null}";

static void test_monitor_reply_and_updates(void **state)
{
	struct ovsdb_table *t = ovsdb_table_new();
	bool changed;
	char *reply;

	(void)state;
	assert_int_equal(apply(t, first, &changed, &reply), 1);
	assert_true(changed);
	assert_null(reply);
	assert_string_equal(ovsdb_table_port_id(t, "vif3.0"), PORT);
	assert_null(ovsdb_table_port_id(t, "br0"));
	assert_null(ovsdb_table_port_id(t, "vif4.0"));

	/* A change of another column (old holds only what changed): the id stays, no rescan */
	assert_int_equal(
		apply(t,
		      "{\"id\":null,\"method\":\"update\",\"params\":[null,{\"Interface\":{\"" U2
		      "\":{\"old\":{\"external_ids\":[\"map\",[]]},\"new\":{\"name\":\"br0\","
		      "\"external_ids\":[\"map\",[[\"k\",\"v\"]]]}}}}]}",
		      &changed, &reply),
		0);
	assert_false(changed);
	/* The iface-id changed: a rescan */
	assert_int_equal(
		apply(t,
		      "{\"id\":null,\"method\":\"update\",\"params\":[null,{\"Interface\":{\"" U1
		      "\":{\"old\":{},\"new\":{\"name\":\"vif3.0\",\"external_ids\":[\"map\","
		      "[[\"iface-id\",\"other\"]]]}}}}]}",
		      &changed, &reply),
		0);
	assert_true(changed);
	assert_string_equal(ovsdb_table_port_id(t, "vif3.0"), "other");
	/* The row deleted (no "new"): its id goes */
	assert_int_equal(
		apply(t,
		      "{\"id\":null,\"method\":\"update\",\"params\":[null,{\"Interface\":{\"" U1
		      "\":{\"old\":{\"name\":\"vif3.0\"}}}}]}",
		      &changed, &reply),
		0);
	assert_true(changed);
	assert_null(ovsdb_table_port_id(t, "vif3.0"));
	/* A monitor reply again (a reconnection) replaces the whole table */
	assert_int_equal(apply(t, first, &changed, &reply), 1);
	assert_string_equal(ovsdb_table_port_id(t, "vif3.0"), PORT);
	ovsdb_table_free(t);
}

static void test_echo_answered(void **state)
{
	struct ovsdb_table *t = ovsdb_table_new();
	bool changed;
	char *reply;

	(void)state;
	assert_int_equal(
		apply(t, "{\"id\":\"echo\",\"method\":\"echo\",\"params\":[]}", &changed, &reply),
		0);
	assert_non_null(reply);
	assert_string_equal(reply, "{\"id\":\"echo\",\"result\":[],\"error\":null}");
	free(reply);
	ovsdb_table_free(t);
}

static void test_refused(void **state)
{
	struct ovsdb_table *t = ovsdb_table_new();
	bool changed;
	char *reply;
	const char *why;

	(void)state;
	/* The server's error to the monitor */
	assert_int_equal(ovsdb_table_apply(t,
					   "{\"id\":\"dbavm-monitor\",\"result\":null,\"error\":"
					   "{\"error\":\"unknown database\"}}",
					   77, &changed, &reply, &why),
			 -EPROTO);
	assert_non_null(why);
	/* Not JSON, not an object, a map that is not one, a row key that is not a UUID */
	assert_int_equal(apply(t, "{\"id\":", &changed, &reply), -EPROTO);
	assert_int_equal(apply(t, "[1]", &changed, &reply), -EPROTO);
	assert_int_equal(
		apply(t,
		      "{\"method\":\"update\",\"params\":[null,{\"Interface\":{\"" U1
		      "\":{\"new\":{\"name\":\"vif1.0\",\"external_ids\":[\"set\",[]]}}}}]}",
		      &changed, &reply),
		-EPROTO);
	assert_int_equal(apply(t,
			       "{\"method\":\"update\",\"params\":[null,{\"Interface\":{\"x\":"
			       "{\"new\":{}}}}]}",
			       &changed, &reply),
			 -EPROTO);
	/* An iface-id that is not a name (a control character, a NUL, too long): not taken,
	 * the row kept without one */
	assert_int_equal(
		apply(t,
		      "{\"method\":\"update\",\"params\":[null,{\"Interface\":{\"" U1
		      "\":{\"new\":{\"name\":\"vif1.0\",\"external_ids\":[\"map\",[[\"iface-id\","
		      "\"a\\u0001b\"]]]}}}}]}",
		      &changed, &reply),
		0);
	assert_null(ovsdb_table_port_id(t, "vif1.0"));
	assert_int_equal(
		apply(t,
		      "{\"method\":\"update\",\"params\":[null,{\"Interface\":{\"" U1
		      "\":{\"new\":{\"name\":\"vif1.0\",\"external_ids\":[\"map\",[[\"iface-id\","
		      "\"a\\u0000b\"]]]}}}}]}",
		      &changed, &reply),
		0);
	assert_null(ovsdb_table_port_id(t, "vif1.0"));
	assert_int_equal(
		apply(t,
		      "{\"method\":\"update\",\"params\":[null,{\"Interface\":{\"" U1
		      "\":{\"new\":{\"name\":\"vif1.0\",\"external_ids\":[\"map\",[[\"iface-id\","
		      "\"0123456789012345678901234567890123456789012345678901234567890123\"]]]}}}}]"
		      "}",
		      &changed, &reply),
		0);
	assert_null(ovsdb_table_port_id(t, "vif1.0"));
	/* A notification not asked for: ignored */
	assert_int_equal(apply(t, "{\"method\":\"locked\",\"params\":[\"x\"],\"id\":null}",
			       &changed, &reply),
			 0);
	assert_false(changed);
	ovsdb_table_free(t);
}

/* The stream: two messages with a string holding braces and an escaped quote, whitespace
 * between, given a byte at a time; then what cannot be a message. */
static void test_stream(void **state)
{
	static const char two[] = " {\"a\":\"}{\\\"[\",\"b\":[{}]}\n{\"c\":1}";
	struct ovsdb_stream s = { 0 };
	size_t at = 0, ends[2], n = 0;

	(void)state;
	for (size_t len = 1; len <= sizeof(two) - 1; len++) {
		long got = ovsdb_stream_next(&s, two + at, len - at);

		assert_true(got >= 0);
		if (got > 0) {
			ends[n++] = at + (size_t)got;
			at += (size_t)got;
		}
	}
	assert_int_equal(n, 2);
	assert_int_equal(ends[0], strlen(" {\"a\":\"}{\\\"[\",\"b\":[{}]}"));
	assert_int_equal(ends[1], sizeof(two) - 1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(ovsdb_stream_next(&s, "[1]", 3), -EPROTO);
	memset(&s, 0, sizeof(s));
	assert_int_equal(ovsdb_stream_next(&s, "{\"a\":1}}", 8), 7);
	assert_int_equal(ovsdb_stream_next(&s, "}", 1), -EPROTO);
	memset(&s, 0, sizeof(s));
	char deep[OVSDB_MAX_DEPTH + 2];

	memset(deep, '[', sizeof(deep));
	deep[0] = '{';
	assert_int_equal(ovsdb_stream_next(&s, deep, sizeof(deep)), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monitor_reply_and_updates),
		cmocka_unit_test(test_echo_answered),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
