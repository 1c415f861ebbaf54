/*
 * Durability: SIGKILL dbavmd at a random moment during a stream of PUTs and DELETEs, restart
 * it on the same state directory, and check that every acknowledged change is there, intact.
 * The one change in flight at the kill may have landed or not, but nothing else may differ
 * and the state file must load cleanly. 100 rounds, seeded (DBAVM_DURABILITY_SEED).
 */
#include <errno.h>
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
#include <curl/curl.h>
#include <jansson.h>

#include "agent_proc.h"

#define N_IDS 12
#define ROUNDS 100

/* What the agent must hold for an id: nothing, or an SLA with these two numbers. */
struct expect {
	int set;
	long priority, min_bps;
};

static struct expect acked[N_IDS];
static unsigned long rng;

static unsigned long rnd(void)
{
	rng = rng * 6364136223846793005ul + 1442695040888963407ul;
	return rng >> 33;
}

/* The SLA stored for id, as an expect. -1 if the agent did not answer sensibly. */
static int fetch(const struct agent_proc *a, int id, struct expect *out)
{
	char path[64];
	struct reply r;
	json_t *j;

	snprintf(path, sizeof(path), "/vms/d%02d/sla", id);
	agent_http(a, "GET", path, NULL, NULL, NULL, 0, &r);
	memset(out, 0, sizeof(*out));
	if (r.status == 404) {
		reply_free(&r);
		return 0;
	}
	j = reply_json(&r);
	reply_free(&r);
	if (r.status != 200 || !j)
		return -1;
	out->set = 1;
	out->priority = (long)json_integer_value(json_object_get(j, "priority"));
	out->min_bps = (long)json_integer_value(
		json_object_get(json_object_get(j, "bandwidth"), "min_bps"));
	json_decref(j);
	return 0;
}

static int same(const struct expect *a, const struct expect *b)
{
	return a->set == b->set &&
	       (!a->set || (a->priority == b->priority && a->min_bps == b->min_bps));
}

static void durability_acknowledged_slas_survive_sigkill(void **state)
{
	const char *seed_env = getenv("DBAVM_DURABILITY_SEED");
	unsigned long seed = seed_env ? strtoul(seed_env, NULL, 10) : (unsigned long)time(NULL);
	static struct agent_proc a; /* static: the reaper may need it after a failed assertion */
	unsigned long total_acked = 0, in_flight_landed = 0, in_flight_lost = 0;

	(void)state;
	rng = seed;
	print_message("seed %lu (DBAVM_DURABILITY_SEED=%lu to repeat)\n", seed, seed);
	agent_prepare(&a);
	for (int round = 1; round <= ROUNDS; round++) {
		int id = -1, status;
		struct expect pending = { 0 }, got;
		pid_t killer;
		long kill_after_us = (long)(rnd() % 60000);

		if (agent_start(&a, "paper-scenario1.json", "--token-file", a.token_file,
				"--log-level", "warn", NULL))
			fail_msg("round %d: agent did not start (seed %lu)", round, seed);
		/* It must have come back with exactly what was acknowledged. */
		for (int k = 0; k < N_IDS; k++) {
			if (fetch(&a, k, &got))
				fail_msg("round %d: GET d%02d failed (seed %lu)", round, k, seed);
			if (!same(&got, &acked[k]))
				fail_msg("round %d: d%02d is %s/%ld/%ld, acknowledged %s/%ld/%ld "
					 "(seed %lu)",
					 round, k, got.set ? "set" : "unset", got.priority,
					 got.min_bps, acked[k].set ? "set" : "unset",
					 acked[k].priority, acked[k].min_bps, seed);
		}
		{
			struct reply r;

			agent_http(&a, "GET", "/readyz", NULL, NULL, NULL, 0, &r);
			reply_free(&r);
			if (r.status != 200)
				fail_msg("round %d: not ready after restart (seed %lu)", round,
					 seed);
		}
		killer = fork();
		if (killer == 0) {
			usleep((useconds_t)kill_after_us);
			kill(a.pid, SIGKILL);
			_exit(0);
		}
		/* The stream: until the agent dies under it. */
		for (int seq = 0;; seq++) {
			char path[64], body[160];
			struct reply r;

			id = (int)(rnd() % N_IDS);
			snprintf(path, sizeof(path), "/vms/d%02d/sla", id);
			if (acked[id].set && rnd() % 4 == 0) {
				pending = (struct expect){ 0 };
				agent_http(&a, "DELETE", path, "s3cret0123456789", NULL, NULL, 0,
					   &r);
			} else {
				pending = (struct expect){ 1, (long)(rnd() % 8),
							   (long)round * 10000 + seq };
				snprintf(body, sizeof(body),
					 "{\"priority\":%ld,\"bandwidth\":{\"min_bps\":%ld}}",
					 pending.priority, pending.min_bps);
				agent_http(&a, "PUT", path, "s3cret0123456789", "application/json",
					   body, strlen(body), &r);
			}
			reply_free(&r);
			if (r.status == 0)
				break; /* the agent is gone: this change was not acknowledged */
			if (r.status != 200 && r.status != 201 && r.status != 204)
				fail_msg("round %d: status %ld (seed %lu)", round, r.status, seed);
			acked[id] = pending;
			total_acked++;
		}
		waitpid(killer, NULL, 0);
		waitpid(a.pid, &status, 0);
		a.pid = 0;
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("round %d: the agent did not die by SIGKILL", round);
		/* The change in flight may have landed: if so, it is now what must be there. */
		if (agent_start(&a, "paper-scenario1.json", "--log-level", "warn", NULL) ||
		    fetch(&a, id, &got))
			fail_msg("round %d: no restart after the kill (seed %lu)", round, seed);
		if (same(&got, &pending) && !same(&got, &acked[id])) {
			acked[id] = pending;
			in_flight_landed++;
		} else if (same(&got, &acked[id])) {
			in_flight_lost++;
		} else {
			fail_msg("round %d: d%02d holds neither the acknowledged nor the in-flight "
				 "SLA (seed %lu)",
				 round, id, seed);
		}
		kill(a.pid, SIGKILL);
		waitpid(a.pid, NULL, 0);
		a.pid = 0;
	}
	print_message("%d rounds, %lu acknowledged changes all intact; the change in flight at "
		      "the kill had landed %lu times, not %lu times\n",
		      ROUNDS, total_acked, in_flight_landed, in_flight_lost);
	agent_cleanup(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durability_acknowledged_slas_survive_sigkill),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	agent_reap_all();
	curl_global_cleanup();
	return rc;
}
