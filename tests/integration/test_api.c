/*
 * The HTTP API of a real dbavmd on the sim platform, driven with libcurl: every route and
 * every error status of openapi.yaml with its JSON body, round trips, admission, the
 * allocation following an SLA change, SLAs waiting for their VM, restarts, read protection,
 * a corrupt state file, a failing disk. Every exchange is recorded for the OpenAPI check.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "agent_proc.h"

#define TOKEN "s3cret0123456789"
#define JSON_CT "application/json"

static struct agent_proc main_agent;

static int start_main(void **state)
{
	(void)state;
	agent_prepare(&main_agent);
	if (agent_start(&main_agent, "paper-scenario2.json", "--token-file", main_agent.token_file,
			"--period", "50", NULL))
		return -1;
	return 0;
}

static int stop_main(void **state)
{
	int rc = agent_stop(&main_agent);

	(void)state;
	agent_reap_all();
	return rc == 0 ? 0 : -1;
}

/* One exchange with the main agent; the body is JSON text or NULL. */
static long call(const struct agent_proc *a, const char *method, const char *path,
		 const char *token, const char *body, json_t **out)
{
	struct reply r;

	agent_http(a, method, path, token, body ? JSON_CT : NULL, body, body ? strlen(body) : 0,
		   &r);
	if (out)
		*out = reply_json(&r);
	reply_free(&r);
	return r.status;
}

static json_t *get_ok(const struct agent_proc *a, const char *path, const char *token)
{
	json_t *j = NULL;
	long status = call(a, "GET", path, token, NULL, &j);

	if (status != 200 || !j)
		fail_msg("GET %s: %ld", path, status);
	return j;
}

static json_int_t jint(json_t *j, const char *path)
{
	char buf[128], *save = NULL;
	json_t *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = (*k >= '0' && *k <= '9') ? json_array_get(v, strtoul(k, NULL, 10))
					     : json_object_get(v, k);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void api_every_read_route_answers(void **state)
{
	struct reply r;
	json_t *j;

	(void)state;
	j = get_ok(&main_agent, "/healthz", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	json_decref(j);
	j = get_ok(&main_agent, "/readyz", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ready");
	json_decref(j);
	j = get_ok(&main_agent, "/host", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "platform")), "sim");
	assert_int_equal(jint(j, "uplinks.0.capacity_bps"), 1000000000);
	assert_int_equal(jint(j, "capacity_pps"), 190000);
	json_decref(j);
	j = get_ok(&main_agent, "/vms", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "vms")), 3);
	json_decref(j);
	j = get_ok(&main_agent, "/vms/vm1", NULL);
	assert_int_equal(jint(j, "vifs.0.limit.pps"), 20000);
	/* The sim's enforcer drops at the hook and measures no delay: policy loss is counted,
	 * the rest is not available (null), never 0. */
	assert_true(json_is_null(json_object_get(j, "delay")));
	assert_true(json_is_null(json_object_get(j, "jitter_s")));
	assert_true(json_is_null(
		json_object_get(json_object_get(json_object_get(j, "loss"), "path"), "ratio")));
	assert_true(json_is_integer(
		json_object_get(json_object_get(json_object_get(j, "loss"), "policy"), "pps")));
	json_decref(j);
	/* History: one entry a second, each over the second before it. */
	for (int k = 0; k < 40; k++) {
		j = get_ok(&main_agent, "/vms/vm1/stats", NULL);
		if (json_array_size(json_object_get(j, "periods")) >= 2)
			break;
		json_decref(j);
		j = NULL;
		usleep(100000);
	}
	assert_non_null(j);
	assert_int_equal(jint(j, "period_ms"), 50);
	assert_true(json_array_size(json_object_get(j, "periods")) <= 60);
	/* The second entry is a whole second of VM1 held at its 20 kpps. */
	assert_in_range(jint(j, "periods.1.passed.pps"), 19800, 20200);
	assert_true(json_is_null(/* the sim measures no delay */
				 json_object_get(json_array_get(json_object_get(j, "periods"), 1),
						 "delay")));
	json_decref(j);
	agent_http(&main_agent, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "text/plain"));
	assert_non_null(strstr(r.body, "dbavm_vif_limit_packets_per_second{vm=\"vm1\","
				       "vif=\"vif1.0\",direction=\"egress\"} 20000\n"));
	/* the sim's enforcer holds no ingress: no ingress series, rather than zeros */
	assert_null(strstr(r.body, "direction=\"ingress\""));
	reply_free(&r);
}

static void api_put_then_get_round_trips(void **state)
{
	const char *native = "{\"priority\":2,\"weight\":3,\"bandwidth\":{\"min_bps\":1000000,"
			     "\"max_bps\":90000000},\"packet_rate\":{\"min_pps\":100,"
			     "\"max_pps\":null}}";
	const char *neutron =
		"{\"policy\":{\"id\":\"6a8454ba\",\"name\":\"gold\",\"rules\":["
		"{\"type\":\"bandwidth_limit\",\"max_kbps\":150000,\"max_burst_kbps\":0,"
		"\"direction\":\"egress\",\"id\":\"r1\"},"
		"{\"type\":\"minimum_bandwidth\",\"min_kbps\":1000,\"direction\":\"egress\"},"
		"{\"type\":\"packet_rate_limit\",\"max_kpps\":20,\"direction\":\"egress\"},"
		"{\"type\":\"minimum_packet_rate\",\"min_kpps\":1,\"direction\":\"any\"}]}}";
	json_t *put = NULL, *got, *want = json_loads(native, 0, NULL);

	(void)state;
	/* vm3 came with an SLA from the scenario: replacing it is a 200. */
	assert_int_equal(call(&main_agent, "PUT", "/vms/vm3/sla", TOKEN, native, &put), 200);
	assert_true(json_equal(put, want));
	got = get_ok(&main_agent, "/vms/vm3/sla", NULL);
	assert_true(json_equal(got, want));
	json_decref(put);
	json_decref(got);
	json_decref(want);
	/* A Neutron policy for a VM not on the host: created (201), answered natively. */
	assert_int_equal(call(&main_agent, "PUT", "/vms/ghost/sla", TOKEN, neutron, &put), 201);
	got = get_ok(&main_agent, "/vms/ghost/sla", NULL);
	assert_true(json_equal(put, got));
	assert_int_equal(jint(got, "priority"), 7);
	assert_int_equal(jint(got, "bandwidth.max_bps"), 150000000);
	assert_int_equal(jint(got, "bandwidth.min_bps"), 1000000);
	assert_int_equal(jint(got, "packet_rate.max_pps"), 20000);
	assert_int_equal(jint(got, "packet_rate.min_pps"), 1000);
	json_decref(put);
	json_decref(got);
	got = get_ok(&main_agent, "/vms/ghost", NULL);
	assert_true(json_is_false(json_object_get(got, "present")));
	assert_true(json_is_true(json_object_get(got, "sla_set")));
	json_decref(got);
	assert_int_equal(call(&main_agent, "DELETE", "/vms/ghost/sla", TOKEN, NULL, NULL), 204);
	assert_int_equal(call(&main_agent, "GET", "/vms/ghost/sla", NULL, NULL, NULL), 404);
	assert_int_equal(call(&main_agent, "GET", "/vms/ghost", NULL, NULL, NULL), 404);
}

struct bad_call {
	const char *method, *path, *token, *content_type, *body;
	long status;
	const char *field; /* NULL: the error names no field */
};

static const struct bad_call bad_calls[] = {
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"priority\":", 400, NULL },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "[1,2]", 400, NULL },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"priority\":\"1\"}", 400, "priority" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"priority\":1,\"weight\":0}", 400, "weight" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"priority\":1,\"bandwidth\":{\"min_bps\":10,\"max_bps\":9}}", 400,
	  "bandwidth.min_bps" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"priority\":1,\"packet_rate\":{\"max_pps\":-1}}", 400, "packet_rate.max_pps" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"priority\":1,\"speed\":5}", 400, "speed" },
	/* The sim's enforcer does not hold ingress: an ingress side, native or Neutron's, is
	 * refused rather than taken and not held. */
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":5,"
	  "\"direction\":\"ingress\"}]}}",
	  409, "ingress" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"priority\":1,\"ingress\":{\"priority\":1,\"bandwidth\":{\"max_bps\":5000}}}", 409,
	  "ingress" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit\",\"max_kbps\":5,"
	  "\"direction\":\"inbound\"}]}}",
	  400, "policy.rules[0].direction" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"priority\":1,\"egress\":{\"priority\":1}}",
	  400, "egress" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"ingress\":{\"weight\":2}}", 400,
	  "ingress.priority" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"policy\":{\"rules\":[{\"type\":\"dscp_marking\",\"dscp_mark\":26}]}}", 409,
	  "dscp_mark" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"priority\":1,\"dscp_mark\":46}", 409,
	  "dscp_mark" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"policy\":{\"rules\":[{\"type\":\"dscp_marking\",\"dscp_mark\":27}]}}", 400,
	  "policy.rules[0].dscp_mark" },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"policy\":{\"rules\":[{\"type\":\"bandwidth_limit_v2\",\"max_kbps\":5}]}}", 400,
	  "policy.rules[0].type" },
	{ "PUT", "/vms/vm1/sla", TOKEN, NULL, "{\"priority\":1}", 415, NULL },
	{ "PUT", "/vms/vm1/sla", TOKEN, "text/plain", "{\"priority\":1}", 415, NULL },
	{ "PUT", "/vms/vm1/sla", NULL, JSON_CT, "{\"priority\":1}", 401, NULL },
	{ "PUT", "/vms/vm1/sla", "wrong", JSON_CT, "{\"priority\":1}", 401, NULL },
	{ "DELETE", "/vms/vm1/sla", NULL, NULL, NULL, 401, NULL },
	{ "DELETE", "/vms/vm1/sla", "s3cret0123456789-and-more", NULL, NULL, 401, NULL },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"priority\":1,\"bandwidth\":{\"min_bps\":900000000}}", 409, "bandwidth.min_bps" },
	{ "PUT", "/vms/newvm/sla", TOKEN, JSON_CT,
	  "{\"priority\":1,\"packet_rate\":{\"min_pps\":190001}}", 409, "packet_rate.min_pps" },
	{ "GET", "/vms/nope", NULL, NULL, NULL, 404, NULL },
	{ "GET", "/vms/nope/sla", NULL, NULL, NULL, 404, NULL },
	{ "GET", "/vms/nope/stats", NULL, NULL, NULL, 404, NULL },
	{ "GET", "/vms/bad%0Aid/stats", NULL, NULL, NULL, 400, "id" },
	{ "DELETE", "/vms/nope/sla", TOKEN, NULL, NULL, 404, NULL },
	{ "GET", "/vms/bad%1Bid", NULL, NULL, NULL, 400, "id" },
	{ "GET", "/vms/bad%FFid/sla", NULL, NULL, NULL, 400, "id" },
	{ "PUT", "/vms/bad%C2%9Bid/sla", TOKEN, JSON_CT, "{\"priority\":1}", 400, "id" },
	{ "DELETE", "/vms/0123456789012345678901234567890123456789012345678901234567890123/sla",
	  TOKEN, NULL, NULL, 400, "id" },
	{ "POST", "/vms", TOKEN, JSON_CT, "{}", 405, NULL },
	{ "PATCH", "/vms/vm1/sla", TOKEN, JSON_CT, "{}", 405, NULL },
	{ "GET", "/nothing", NULL, NULL, NULL, 404, NULL },
	/* Ports: the same answers as a VM's, for a port key. */
	{ "PUT", "/ports/vif1.0/sla", TOKEN, JSON_CT, "{\"priority\":", 400, NULL },
	{ "PUT", "/ports/vif1.0/sla", TOKEN, "text/plain", "{\"priority\":1}", 415, NULL },
	{ "PUT", "/ports/vif1.0/sla", TOKEN, JSON_CT,
	  "{\"priority\":1,\"ingress\":{\"priority\":1}}", 409, "ingress" },
	{ "DELETE", "/ports/vif1.0/sla", NULL, NULL, NULL, 401, NULL },
	{ "DELETE", "/ports/bad%0Aport/sla", TOKEN, NULL, NULL, 400, "port" },
	{ "GET", "/ports/bad%0Aport", NULL, NULL, NULL, 400, "port" },
	{ "GET", "/ports/bad%1Bport/stats", NULL, NULL, NULL, 400, "port" },
	{ "GET", "/ports/vif1.0/other", NULL, NULL, NULL, 404, NULL },
	{ "PATCH", "/ports/vif1.0/sla", TOKEN, JSON_CT, "{}", 405, NULL },
	{ "POST", "/ports", TOKEN, JSON_CT, "{}", 405, NULL },
	{ "GET", "/vms/vm1/other", NULL, NULL, NULL, 404, NULL },
	/* Hostile bytes: a NUL must not cut the path; text that is not UTF-8 must still make a
	 * JSON error, not a 500; a field is kept whole (62 'a' and an e-acute, 64 bytes). */
	{ "PUT", "/vms/vm3/sla%00junk", TOKEN, JSON_CT, "{\"priority\":1}", 404, NULL },
	{ "GET", "/vms/vm3%00", NULL, NULL, NULL, 404, NULL }, /* not vm3 */
	{ "GET", "/%ff", NULL, NULL, NULL, 404, NULL },
	{ "PUT", "/vms/vm1/sla", TOKEN, JSON_CT,
	  "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\":1}", 400,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9" },
};

static void api_errors_answer_with_status_and_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_calls) / sizeof(bad_calls[0]); i++) {
		const struct bad_call *b = &bad_calls[i];
		struct reply r;
		json_t *j, *field;

		agent_http(&main_agent, b->method, b->path, b->token, b->content_type, b->body,
			   b->body ? strlen(b->body) : 0, &r);
		if (r.status != b->status)
			fail_msg("%s %s (case %zu): %ld, want %ld: %s", b->method, b->path, i,
				 r.status, b->status, r.body);
		j = reply_json(&r);
		if (!j || !json_is_string(json_object_get(j, "error")) ||
		    strcmp(r.content_type, JSON_CT))
			fail_msg("case %zu: not a JSON error: %s", i, r.body);
		field = json_object_get(j, "field");
		if (b->field ? !json_is_string(field) || strcmp(json_string_value(field), b->field)
			     : field != NULL)
			fail_msg("case %zu: field %s, want %s", i,
				 field ? json_string_value(field) : "none",
				 b->field ? b->field : "none");
		if (b->status == 401 && !strstr(r.www_authenticate, "Bearer"))
			fail_msg("case %zu: 401 without WWW-Authenticate: Bearer", i);
		if (b->status == 405 && !r.allow[0])
			fail_msg("case %zu: 405 without Allow", i);
		/* admission says what is free; what the enforcer cannot do says so */
		if (b->status == 409 &&
		    !strstr(json_string_value(json_object_get(j, "error")),
			    strcmp(b->field, "ingress") && strcmp(b->field, "dscp_mark")
				    ? "free"
				    : "does not "))
			fail_msg("case %zu: 409 does not say what is free or not done", i);
		json_decref(j);
		reply_free(&r);
	}
}

static void api_refuses_oversized_bodies(void **state)
{
	static char big[70001];
	size_t len = sizeof(big) - 1;
	struct reply r;

	(void)state;
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	big[len] = '\0';
	agent_http(&main_agent, "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, big, len, &r);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "\"error\""));
	reply_free(&r);
	agent_http(&main_agent, "PUT", "/ports/vif1.0/sla", TOKEN, JSON_CT, big, len, &r);
	assert_int_equal(r.status, 413);
	reply_free(&r);
	/* The agent still serves. */
	assert_int_equal(call(&main_agent, "GET", "/healthz", NULL, NULL, NULL), 200);
}

static void api_allocation_follows_an_sla_within_two_periods(void **state)
{
	const char *sla = "{\"priority\":1,\"bandwidth\":{\"min_bps\":0,\"max_bps\":300000000},"
			  "\"packet_rate\":{\"min_pps\":0,\"max_pps\":60000}}";
	json_int_t t_put, t_seen = -1;
	json_t *j;

	(void)state;
	assert_int_equal(call(&main_agent, "PUT", "/vms/vm2/sla", TOKEN, sla, NULL), 200);
	j = get_ok(&main_agent, "/host", NULL);
	t_put = jint(j, "tick");
	json_decref(j);
	for (int i = 0; i < 200 && t_seen < 0; i++) {
		json_t *vm = get_ok(&main_agent, "/vms/vm2", NULL);
		json_int_t limit = jint(vm, "vifs.0.limit.bps");

		json_decref(vm);
		if (limit == 300000000) {
			j = get_ok(&main_agent, "/host", NULL);
			t_seen = jint(j, "tick");
			json_decref(j);
		} else {
			sleep_ms(5);
		}
	}
	if (t_seen < 0)
		fail_msg("the limit never followed the SLA");
	if (t_seen - t_put > 2)
		fail_msg("the limit followed after %lld periods", (long long)(t_seen - t_put));
	/* And the traffic follows the limit. */
	sleep_ms(200);
	j = get_ok(&main_agent, "/vms/vm2", NULL);
	assert_true(llabs(jint(j, "passed.bps") - 300000000) < 3000000);
	json_decref(j);
}

static void api_sla_waits_for_its_vm_and_survives_restart(void **state)
{
	const char *sla = "{\"priority\":0,\"bandwidth\":{\"min_bps\":0,\"max_bps\":100000000}}";
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	json_t *j = NULL;
	int present = 0;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(agent_start(&a, "late-vm.json", "--token-file", a.token_file, "--period",
				     "50", NULL),
			 0);
	assert_int_equal(call(&a, "PUT", "/vms/late/sla", TOKEN, sla, NULL), 201);
	j = get_ok(&a, "/vms/late", NULL);
	assert_true(json_is_false(json_object_get(j, "present")));
	json_decref(j);
	for (int i = 0; i < 100 && !present; i++) {
		sleep_ms(50);
		j = get_ok(&a, "/vms/late", NULL);
		present = json_is_true(json_object_get(j, "present")) &&
			  json_array_size(json_object_get(j, "vifs")) == 1 &&
			  jint(j, "vifs.0.limit.bps") == 100000000;
		json_decref(j);
	}
	assert_true(present);
	assert_int_equal(agent_stop(&a), 0);
	assert_int_equal(agent_start(&a, "late-vm.json", "--token-file", a.token_file, NULL), 0);
	j = get_ok(&a, "/vms/late/sla", NULL);
	assert_int_equal(jint(j, "bandwidth.max_bps"), 100000000);
	assert_int_equal(jint(j, "priority"), 0);
	json_decref(j);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

/* A port's limit, as GET /ports/{port} shows it, once it reads want (within 100 periods). */
static json_int_t port_limit_bps(const struct agent_proc *a, const char *port, json_int_t want)
{
	char path[96];
	json_int_t got = -1;

	snprintf(path, sizeof(path), "/ports/%s", port);
	for (int i = 0; i < 100 && got != want; i++) {
		json_t *j = get_ok(a, path, NULL);

		got = jint(j, "vif.limit.bps");
		json_decref(j);
		if (got != want)
			sleep_ms(50);
	}
	return got;
}

/*
 * Ports as SLA objects: found by vif id or MAC (any case, dashes), an SLA of their own (kept
 * under the MAC) that makes the port a unit of its own while the VM's SLA covers its other
 * vif, admission per port, an SLA ahead of its port by MAC only, a MAC two vifs carry refused
 * as ambiguous, and the port SLAs kept across a restart.
 */
static void api_port_slas(void **state)
{
	const char *vm_sla = "{\"priority\":1,\"bandwidth\":{\"max_bps\":200000000}}";
	const char *port_sla = "{\"priority\":0,\"bandwidth\":{\"min_bps\":10000000,"
			       "\"max_bps\":50000000}}";
	static struct agent_proc a;
	json_t *j;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(
		agent_start(&a, "ports.json", "--token-file", a.token_file, "--period", "50", NULL),
		0);
	j = get_ok(&a, "/ports", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "ports")), 5);
	json_decref(j);
	j = get_ok(&a, "/ports/02-00-00-00-01-01", NULL); /* dashes, and found by its MAC */
	assert_string_equal(json_string_value(json_object_get(j, "vm")), "web");
	assert_string_equal(json_string_value(json_object_get(j, "port")), "02:00:00:00:01:01");
	assert_string_equal(json_string_value(json_object_get(j, "sla_from")), "default");
	json_decref(j);
	j = get_ok(&a, "/ports/vif3.1", NULL); /* no MAC: known by its vif id */
	assert_string_equal(json_string_value(json_object_get(j, "port")), "vif3.1");
	assert_true(json_is_null(json_object_get(j, "mac")));
	json_decref(j);
	j = get_ok(&a, "/ports/vif1.1/stats", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "vif")), "vif1.1");
	assert_true(json_is_null(json_object_get(j, "ingress"))); /* the sim holds no ingress */
	json_decref(j);
	assert_int_equal(call(&a, "GET", "/ports/vif1.1/sla", NULL, NULL, NULL), 404);
	assert_int_equal(call(&a, "GET", "/ports/nosuch", NULL, NULL, NULL), 404);
	assert_int_equal(call(&a, "GET", "/ports/02:00:00:00:02:00", NULL, NULL, NULL), 409);
	assert_int_equal(call(&a, "GET", "/ports/02:00:00:00:02:00/stats", NULL, NULL, NULL), 409);
	assert_int_equal(call(&a, "GET", "/ports/02:00:00:00:02:00/sla", NULL, NULL, NULL), 409);
	assert_int_equal(call(&a, "DELETE", "/ports/02:00:00:00:02:00/sla", TOKEN, NULL, NULL),
			 409);
	assert_int_equal(call(&a, "PUT", "/ports/02:00:00:00:02:00/sla", TOKEN, port_sla, NULL),
			 409);
	assert_int_equal(call(&a, "GET", "/ports/%01/sla", NULL, NULL, NULL), 400);
	assert_int_equal(call(&a, "PUT", "/ports/vif1.1/sla", NULL, port_sla, NULL), 401);

	/* The VM's SLA splits over both its vifs; then the port's own takes vif1.1 out of it. */
	assert_int_equal(call(&a, "PUT", "/vms/web/sla", TOKEN, vm_sla, NULL), 201);
	assert_int_equal(call(&a, "PUT", "/ports/VIF1.1/sla", TOKEN, port_sla, NULL), 404);
	assert_int_equal(call(&a, "PUT", "/ports/vif1.1/sla", TOKEN, port_sla, NULL), 201);
	assert_int_equal(call(&a, "PUT", "/ports/02:00:00:00:01:01/sla", TOKEN, port_sla, NULL),
			 200);
	assert_int_equal(port_limit_bps(&a, "vif1.1", 50000000), 50000000);
	assert_int_equal(port_limit_bps(&a, "vif1.0", 200000000), 200000000);
	j = get_ok(&a, "/ports/vif1.1", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "sla_from")), "port");
	assert_int_equal(jint(j, "sla.bandwidth.min_bps"), 10000000);
	assert_int_equal(jint(j, "vif.passed.bps") > 0, 1);
	json_decref(j);
	j = get_ok(&a, "/vms/web", NULL); /* and the VM shows where each vif's SLA comes from */
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "vifs"), 0), "sla_from")),
			    "vm");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "vifs"), 1), "sla_from")),
			    "port");
	json_decref(j);
	/* Admission: the port's guarantee on its own uplink. */
	j = NULL;
	assert_int_equal(call(&a, "PUT", "/ports/vif1.0/sla", TOKEN,
			      "{\"priority\":0,\"bandwidth\":{\"min_bps\":2000000000}}", &j),
			 409);
	assert_string_equal(json_string_value(json_object_get(j, "field")), "bandwidth.min_bps");
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "uplink eth0"));
	json_decref(j);
	/* Ahead of its port: by MAC only. */
	assert_int_equal(call(&a, "PUT", "/ports/vif9.9/sla", TOKEN, port_sla, NULL), 404);
	assert_int_equal(call(&a, "PUT", "/ports/02:00:00:00:09:09/sla", TOKEN, port_sla, NULL),
			 201);
	j = get_ok(&a, "/ports/02:00:00:00:09:09", NULL);
	assert_true(json_is_false(json_object_get(j, "present")));
	assert_true(json_is_integer(json_object_get(j, "absent_since")));
	json_decref(j);
	assert_int_equal(call(&a, "GET", "/ports/02:00:00:00:09:09/stats", NULL, NULL, NULL), 404);
	j = get_ok(&a, "/ports", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "ports")), 6);
	json_decref(j);

	/* Kept across a restart, under the MAC. */
	assert_int_equal(agent_stop(&a), 0);
	assert_int_equal(
		agent_start(&a, "ports.json", "--token-file", a.token_file, "--period", "50", NULL),
		0);
	j = get_ok(&a, "/ports/02:00:00:00:01:01/sla", NULL);
	assert_int_equal(jint(j, "bandwidth.max_bps"), 50000000);
	json_decref(j);
	assert_int_equal(port_limit_bps(&a, "vif1.1", 50000000), 50000000);
	assert_int_equal(call(&a, "GET", "/ports/02:00:00:00:09:09/sla", NULL, NULL, NULL), 200);

	/* Deleted: the VM's SLA covers the vif again. */
	assert_int_equal(call(&a, "DELETE", "/ports/vif1.1/sla", TOKEN, NULL, NULL), 204);
	assert_int_equal(call(&a, "DELETE", "/ports/vif1.1/sla", TOKEN, NULL, NULL), 404);
	j = get_ok(&a, "/ports/vif1.1", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "sla_from")), "vm");
	json_decref(j);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

static void api_reads_can_require_the_token(void **state)
{
	static const char *const paths[] = { "/vms",   "/vms/vm1",	"/vms/vm1/sla",
					     "/host",  "/metrics",	"/vms/vm1/stats",
					     "/ports", "/ports/vif1.0", "/ports/vif1.0/stats" };
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */

	(void)state;
	agent_prepare(&a);
	assert_int_equal(agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file,
				     "--auth-reads", NULL),
			 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(call(&a, "GET", paths[i], NULL, NULL, NULL), 401);
		assert_int_equal(call(&a, "GET", paths[i], TOKEN, NULL, NULL), 200);
	}
	assert_int_equal(call(&a, "GET", "/ports/vif1.0/sla", NULL, NULL, NULL), 401);
	assert_int_equal(call(&a, "GET", "/healthz", NULL, NULL, NULL), 200);
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, NULL), 200);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

/* The only state file unusable: kept aside, the loss said by /readyz at this start and the
 * next, until the orchestrator, having put the SLAs again, acknowledges it. */
static void api_corrupt_state_is_kept_aside_and_reported(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	char path[160], cmd[512];
	json_t *j = NULL;
	FILE *f;

	(void)state;
	agent_prepare(&a);
	mkdir(a.state_dir, 0700);
	snprintf(path, sizeof(path), "%s/slas.json", a.state_dir);
	f = fopen(path, "w");
	fputs("{\"version\": 1, \"slas\": {\"vm1\": {\"priority\": 99}}}\n", f);
	fclose(f);
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, &j), 503);
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "problems"), 0)),
			       "state lost"));
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "problems"), 0)),
			       "kept aside"));
	json_decref(j);
	snprintf(cmd, sizeof(cmd), "grep -q '\"priority\": 99' %s/slas.json.corrupt-*",
		 a.state_dir);
	assert_int_equal(system(cmd), 0); /* kept, byte for byte */
	assert_int_equal(call(&a, "PUT", "/vms/newvm/sla", TOKEN, "{\"priority\":1}", NULL), 201);
	assert_int_equal(system(cmd), 0); /* and never overwritten */
	assert_int_equal(agent_stop(&a), 0);
	/* restarted: still not ready, the SLA put since kept */
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, &j), 503);
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "problems"), 0)),
			       "state lost"));
	json_decref(j);
	assert_int_equal(call(&a, "GET", "/vms/newvm/sla", TOKEN, NULL, NULL), 200);
	assert_int_equal(call(&a, "POST", "/host/state/ack", NULL, NULL, NULL), 401);
	assert_int_equal(call(&a, "GET", "/host/state/ack", TOKEN, NULL, NULL), 405);
	/* the state directory gone: the acknowledgement cannot be stored, nothing changes */
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s.bak' && rm -rf '%s'", a.state_dir, a.state_dir,
		 a.state_dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(call(&a, "POST", "/host/state/ack", TOKEN, NULL, NULL), 500);
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, NULL), 503);
	assert_int_equal(agent_stop(&a), 0);
	snprintf(cmd, sizeof(cmd), "mv '%s.bak' '%s'", a.state_dir, a.state_dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, NULL), 503);
	assert_int_equal(call(&a, "POST", "/host/state/ack", TOKEN, NULL, NULL), 204);
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, NULL), 200);
	assert_int_equal(call(&a, "POST", "/host/state/ack", TOKEN, NULL, NULL), 409);
	assert_int_equal(agent_stop(&a), 0);
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	for (int i = 0; i < 50 && call(&a, "GET", "/readyz", NULL, NULL, NULL) != 200; i++)
		usleep(100000); /* the first period */
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, NULL), 200);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

/* TEXT says WHAT, or the test fails showing TEXT. */
static void says(const char *text, const char *what)
{
	if (!text || !strstr(text, what))
		fail_msg("\"%s\" does not say \"%s\"", text ? text : "(null)", what);
}

/* The metric NAME's value in the agent's exposition; fails when it is not there. */
static long metric_of(const struct agent_proc *a, const char *name)
{
	struct reply r;
	char key[128];
	const char *at;
	long v;

	agent_http(a, "GET", "/metrics", TOKEN, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	snprintf(key, sizeof(key), "\n%s ", name);
	at = strstr(r.body, key);
	if (!at)
		fail_msg("no %s in /metrics", name);
	v = strtol(at + strlen(key), NULL, 10);
	reply_free(&r);
	return v;
}

/* One damaged record in the middle of slas.log: the rest is in force, and the loss is shown as
 * a total one is (which VM, which file, which line; /readyz, a metric, at every start) until
 * acknowledged. */
static void api_partial_loss_is_shown_until_acknowledged(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	char cmd[512], line[1024], where[64];
	const char *problem;
	json_t *j = NULL;
	int n = 0;
	FILE *f;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	assert_int_equal(call(&a, "PUT", "/vms/vm1/sla", TOKEN, "{\"priority\":1}", NULL) / 100, 2);
	assert_int_equal(call(&a, "PUT", "/vms/vm2/sla", TOKEN, "{\"priority\":2}", NULL) / 100, 2);
	assert_int_equal(call(&a, "PUT", "/vms/vm3/sla", TOKEN, "{\"priority\":3}", NULL) / 100, 2);
	assert_int_equal(metric_of(&a, "dbavm_state_lost"), 0);
	assert_int_equal(agent_stop(&a), 0);
	/* the line of the record to damage, as the store will name it */
	snprintf(cmd, sizeof(cmd), "%s/slas.log", a.state_dir);
	f = fopen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) && !strstr(line, "\"vm2\""))
		n++;
	fclose(f);
	snprintf(where, sizeof(where), "slas.log from line %d", n + 1);
	/* one character of that record changed: its CRC no longer matches */
	snprintf(cmd, sizeof(cmd),
		 "sed -i '/\"vm2\"/s/\"priority\":2/\"priority\":4/' '%s/slas.log' && "
		 "grep -q '\"priority\":4' '%s/slas.log'",
		 a.state_dir, a.state_dir);
	assert_int_equal(system(cmd), 0);	  /* damaged, not missed */
	for (int start = 0; start < 2; start++) { /* shown again at the next start */
		/* the second under --auth-reads: the VM named only to a caller with the token */
		assert_int_equal(start ? agent_start(&a, "paper-scenario1.json", "--token-file",
						     a.token_file, "--auth-reads", NULL)
				       : agent_start(&a, "paper-scenario1.json", "--token-file",
						     a.token_file, NULL),
				 0);
		assert_int_equal(call(&a, "GET", "/readyz", start ? TOKEN : NULL, NULL, &j), 503);
		problem = json_string_value(json_array_get(json_object_get(j, "problems"), 0));
		says(problem, "state partly lost");
		says(problem, where);
		says(problem, "vm2");
		says(problem, "POST /host/state/ack");
		json_decref(j);
		if (start) {
			assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, &j), 503);
			problem = json_string_value(
				json_array_get(json_object_get(j, "problems"), 0));
			says(problem, "state partly lost");
			says(problem, where);
			if (strstr(problem, "vm2"))
				fail_msg("\"%s\" names the VM without a token", problem);
			json_decref(j);
		}
		assert_int_equal(metric_of(&a, "dbavm_state_lost"), 1);
		/* read at the first start; the second reads what the first wrote again */
		assert_int_equal(metric_of(&a, "dbavm_state_changes_lost"), start == 0 ? 1 : 0);
		assert_int_equal(metric_of(&a, "dbavm_ready"), 0);
		/* the rest in force */
		assert_int_equal(call(&a, "GET", "/vms/vm1/sla", TOKEN, NULL, NULL), 200);
		assert_int_equal(call(&a, "GET", "/vms/vm3/sla", TOKEN, NULL, NULL), 200);
		j = get_ok(&a, "/vms/vm2/sla", TOKEN); /* the scenario's, not the one put */
		assert_int_not_equal(jint(j, "priority"), 2);
		json_decref(j);
		assert_int_equal(agent_stop(&a), 0);
	}
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	assert_int_equal(call(&a, "PUT", "/vms/vm2/sla", TOKEN, "{\"priority\":2}", NULL) / 100, 2);
	assert_int_equal(call(&a, "POST", "/host/state/ack", TOKEN, NULL, NULL), 204);
	for (int i = 0; i < 50 && call(&a, "GET", "/readyz", NULL, NULL, NULL) != 200; i++)
		usleep(100000); /* the first period */
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, NULL), 200);
	assert_int_equal(metric_of(&a, "dbavm_state_lost"), 0);
	assert_int_equal(agent_stop(&a), 0);
	/* acknowledged: the next start is ready, with all three */
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	for (int i = 0; i < 50 && call(&a, "GET", "/readyz", NULL, NULL, NULL) != 200; i++)
		usleep(100000);
	assert_int_equal(call(&a, "GET", "/readyz", NULL, NULL, NULL), 200);
	j = get_ok(&a, "/vms/vm2/sla", TOKEN);
	assert_int_equal(jint(j, "priority"), 2);
	json_decref(j);
	assert_int_equal(metric_of(&a, "dbavm_state_changes_lost"), 0);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

static void api_failed_write_answers_500_and_changes_nothing(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	char cmd[160];
	json_t *j;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	assert_int_equal(call(&a, "PUT", "/vms/vm1/sla", TOKEN, "{\"priority\":4}", NULL), 200);
	assert_int_equal(call(&a, "PUT", "/ports/vif1.0/sla", TOKEN, "{\"priority\":3}", NULL),
			 201);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a.state_dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(call(&a, "PUT", "/vms/vm1/sla", TOKEN, "{\"priority\":5}", NULL), 500);
	assert_int_equal(call(&a, "DELETE", "/vms/vm1/sla", TOKEN, NULL, NULL), 500);
	assert_int_equal(call(&a, "PUT", "/ports/vif1.0/sla", TOKEN, "{\"priority\":5}", NULL),
			 500);
	assert_int_equal(call(&a, "DELETE", "/ports/vif1.0/sla", TOKEN, NULL, NULL), 500);
	j = get_ok(&a, "/ports/vif1.0/sla", NULL);
	assert_int_equal(jint(j, "priority"), 3);
	json_decref(j);
	j = get_ok(&a, "/vms/vm1/sla", NULL);
	assert_int_equal(jint(j, "priority"), 4);
	json_decref(j);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

static void api_refuses_a_token_file_others_can_read(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */

	(void)state;
	agent_prepare(&a);
	chmod(a.token_file, 0644);
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 2);
	agent_cleanup(&a);
}

static void api_without_token_file_refuses_writes(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	struct reply r;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(agent_start(&a, "paper-scenario1.json", NULL), 0);
	agent_http(&a, "PUT", "/vms/vm1/sla", TOKEN, JSON_CT, "{\"priority\":1}", 14, &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "--token-file"));
	reply_free(&r);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

static void api_vm_is_found_by_name_uuid_or_domid(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	static const char *const keys[] = { "vm1", "6f1c2e2a-8ad3-4f0e-9a72-a61c2e2a8ad3",
					    "6F1C2E2A-8AD3-4F0E-9A72-A61C2E2A8AD3", "1" };
	json_t *j;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(
		agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file, NULL), 0);
	for (size_t i = 0; i < 4; i++) {
		char path[96];

		snprintf(path, sizeof(path), "/vms/%s", keys[i]);
		j = get_ok(&a, path, NULL);
		assert_string_equal(json_string_value(json_object_get(j, "id")), "vm1");
		assert_int_equal(jint(j, "domid"), 1);
		json_decref(j);
	}
	/* A PUT by domid lands on the VM's own record. */
	assert_int_equal(call(&a, "PUT", "/vms/2/sla", TOKEN, "{\"priority\":6}", NULL), 200);
	j = get_ok(&a, "/vms/vm2/sla", NULL);
	assert_int_equal(jint(j, "priority"), 6);
	json_decref(j);
	j = get_ok(&a, "/vms", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "vms")), 3);
	json_decref(j);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

/* An id that is one VM's name and another's domid names both: 409 with both, on every route
 * that takes an id, never a guess; each VM stays reachable by a key that is its alone. */
static void api_an_ambiguous_id_is_refused_naming_both(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	static const char *const calls[][2] = { { "GET", "/vms/7" },
						{ "GET", "/vms/7/stats" },
						{ "GET", "/vms/7/sla" },
						{ "DELETE", "/vms/7/sla" },
						{ "PUT", "/vms/7/sla" } };
	json_t *j;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(agent_start(&a, "ambiguous-ids.json", "--token-file", a.token_file, NULL),
			 0);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		const char *msg;

		j = NULL;
		assert_int_equal(call(&a, calls[i][0], calls[i][1], TOKEN,
				      !strcmp(calls[i][0], "PUT") ? "{\"priority\":1}" : NULL, &j),
				 409);
		msg = json_string_value(json_object_get(j, "error"));
		if (!msg || !strstr(msg, "7 (by its name)") || !strstr(msg, "alpha (by its domid)"))
			fail_msg("%s %s: %s", calls[i][0], calls[i][1], msg ? msg : "(no error)");
		json_decref(j);
	}
	j = get_ok(&a, "/vms/alpha", NULL);
	assert_int_equal(jint(j, "domid"), 7);
	json_decref(j);
	j = get_ok(&a, "/vms/9", NULL); /* the other's domid: one VM */
	assert_string_equal(json_string_value(json_object_get(j, "id")), "7");
	json_decref(j);
	j = get_ok(&a, "/vms/0B5C8F7E-3D0A-4B8E-9A51-2F6C1D9E7A10", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "alpha");
	json_decref(j);
	j = get_ok(&a, "/vms", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "vms")), 2);
	json_decref(j);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

/* A TCP connection to the agent; -1 on failure. */
/* A TCP connection to the agent from 127.0.0.<from> (any address of 127/8 is this host's). */
static int raw_connect(unsigned port, unsigned from)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1 + from) };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
			connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* 1 if the peer closed the connection within timeout_ms. */
static int closed_within(int fd, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	return poll(&p, 1, timeout_ms) == 1 && read(fd, &c, 1) <= 0;
}

/* 1 if an HTTP answer starts arriving within timeout_ms. */
static int answered_within(int fd, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[16];

	return poll(&p, 1, timeout_ms) == 1 && read(fd, buf, sizeof(buf)) > 0 &&
	       !strncmp(buf, "HTTP/1.1 200", 12);
}

static void api_limits_connections_and_idle_time(void **state)
{
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	int idle[2], extra, third, left;

	(void)state;
	agent_prepare(&a);
	assert_int_equal(agent_start(&a, "paper-scenario1.json", "--max-connections", "2",
				     "--max-connections-per-address", "2", "--idle-timeout", "1",
				     NULL),
			 0);
	idle[0] = raw_connect(a.port, 1);
	sleep_ms(50);
	idle[1] = raw_connect(a.port, 1);
	assert_true(idle[0] >= 0 && idle[1] >= 0);
	sleep_ms(100);
	/* A third from the same address is over its per-address limit: the address's oldest
	 * idle one is closed for it ... */
	third = raw_connect(a.port, 1);
	assert_true(third >= 0);
	assert_true(closed_within(idle[0], 300));
	/* ... one from another address is over the connection limit: one of the two idle ones
	 * left is closed for it (the one silent for longer, unless the machine held the test
	 * back until the third was silent as long), and its request answered at once ... */
	extra = raw_connect(a.port, 2);
	assert_true(extra >= 0);
	assert_int_equal(write(extra, req, strlen(req)), (ssize_t)strlen(req));
	assert_true(answered_within(extra, 300));
	left = closed_within(idle[1], 300) ? third : closed_within(third, 10) ? idle[1] : -1;
	assert_true(left >= 0);
	/* ... and the other, idle, is closed after the idle timeout (1 s). */
	assert_true(closed_within(left, 2500));
	close(third);
	close(idle[0]);
	close(idle[1]);
	close(extra);
	assert_int_equal(call(&a, "GET", "/healthz", NULL, NULL, NULL), 200);
	assert_int_equal(agent_stop(&a), 0);
	agent_cleanup(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(api_every_read_route_answers),
		cmocka_unit_test(api_put_then_get_round_trips),
		cmocka_unit_test(api_errors_answer_with_status_and_json),
		cmocka_unit_test(api_refuses_oversized_bodies),
		cmocka_unit_test(api_allocation_follows_an_sla_within_two_periods),
		cmocka_unit_test(api_sla_waits_for_its_vm_and_survives_restart),
		cmocka_unit_test(api_port_slas),
		cmocka_unit_test(api_reads_can_require_the_token),
		cmocka_unit_test(api_corrupt_state_is_kept_aside_and_reported),
		cmocka_unit_test(api_partial_loss_is_shown_until_acknowledged),
		cmocka_unit_test(api_failed_write_answers_500_and_changes_nothing),
		cmocka_unit_test(api_refuses_a_token_file_others_can_read),
		cmocka_unit_test(api_without_token_file_refuses_writes),
		cmocka_unit_test(api_vm_is_found_by_name_uuid_or_domid),
		cmocka_unit_test(api_an_ambiguous_id_is_refused_naming_both),
		cmocka_unit_test(api_limits_connections_and_idle_time),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, start_main, stop_main);
	curl_global_cleanup();
	return rc;
}
