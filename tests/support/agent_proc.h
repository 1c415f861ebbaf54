/*
 * agent_proc: start a real dbavmd for a test, talk to it over HTTP, stop it. Every exchange
 * can be recorded (DBAVM_API_RECORD names a JSON-lines file) for the OpenAPI validator.
 */
#ifndef DBAVM_TEST_AGENT_PROC_H
#define DBAVM_TEST_AGENT_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct agent_proc {
	pid_t pid;
	unsigned port;
	char dir[64]; /* a fresh temp dir: state/, token, log */
	char state_dir[96];
	char token_file[96];
	char log[96];
};

struct reply {
	long status;
	char content_type[128];
	char *body; /* NUL-terminated */
	size_t len;
	char www_authenticate[128];
	char allow[64];
};

/* A temp dir with a 0600 token file "s3cret0123456789". a must outlive the test (static): after a
 * failed assertion, agent_reap_all reaches it through a pointer. */
void agent_prepare(struct agent_proc *a);
/* Starts dbavmd on the sim with extra arguments (NULL-terminated) and waits until /healthz
 * answers. Returns 0, or the exit status if it stopped instead. */
int agent_start(struct agent_proc *a, const char *scenario, ...);
/* SIGTERM, wait, return the exit status (0 is a clean shutdown). */
int agent_stop(struct agent_proc *a);
void agent_cleanup(struct agent_proc *a);
/* Kills and removes every agent not cleaned up yet (after a failed assertion). */
void agent_reap_all(void);

/* One exchange. token may be NULL; content_type NULL sends none. */
void agent_http(const struct agent_proc *a, const char *method, const char *path, const char *token,
		const char *content_type, const char *body, size_t len, struct reply *r);
void reply_free(struct reply *r);
json_t *reply_json(const struct reply *r);

#endif
