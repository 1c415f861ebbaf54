/*
 * ctl: what dbavmctl's commands share. One connection to one agent (libcurl easy, kept
 * alive between requests), answers as jansson values.
 */
#ifndef DBAVM_CTL_H
#define DBAVM_CTL_H

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>

/* Exit codes: dbavmctl(1). */
enum { CTL_OK = 0, CTL_REFUSED = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3, CTL_BAD_ANSWER = 4 };

/* The most of an answer dbavmctl reads: GET /vms of a host with thousands of VMs is a few MB. */
#define CTL_ANSWER_MAX (16u << 20)

/* Set by a signal handler (top's SIGINT and SIGTERM): a transfer under way ends at once. */
extern volatile sig_atomic_t ctl_stop;

struct ctl {
	void *curl;	  /* CURL * */
	char url[512];	  /* http[s]://host:port, no trailing slash */
	char socket[108]; /* the agent's Unix socket, used instead when set */
	char token[512];
	bool have_token;
	char token_file[PATH_MAX];
	char token_why[PATH_MAX + 64]; /* why there is no token, when there is none */
	char cacert[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	bool json;  /* print the agent's JSON as it is */
	bool port;  /* the sla commands name a port (dbavmctl port ...), not a VM */
	bool quiet; /* ctl_call keeps its complaint in err, and does not print it */
	char err[1024];
	char peer_why[256]; /* why the socket's answerer was not trusted (trusted_peer) */
	int sock_fd;	    /* the last socket curl opened (open_socket), -1 before */
};

/*
 * method path [body]: *status and *answer (NULL when the body is empty, or not JSON in an
 * answer that is not 2xx). 0; CTL_UNREACHABLE (or interrupted: ctl_stop) or CTL_BAD_ANSWER (a
 * 2xx answer that is not JSON, or one over CTL_ANSWER_MAX) with why in c->err, and on stderr
 * unless c->quiet.
 */
int ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, long *status,
	     json_t **answer);

/* What the agent said when status is not 2xx, in b: "WHAT: STATUS MESSAGE", and for a 401
 * without a token a second line with the token's story. Returns b. */
const char *ctl_refusal(const struct ctl *c, const char *what, long status, json_t *answer, char *b,
			size_t len);

/* A 200 answer of the API's shape: an object (with an array member, if named). 0, or
 * CTL_BAD_ANSWER with why in c->err (and on stderr unless c->quiet). */
int ctl_expect(struct ctl *c, const char *what, json_t *answer, const char *array_member);

/* ctl_refusal on stderr. Returns CTL_REFUSED. */
int ctl_refused(const struct ctl *c, const char *what, long status, json_t *answer);

/* A string member of o, or "?" when absent or not a string; the agent's strings are data, so
 * what could drive a terminal (C0 and C1 controls, DEL, bytes that are not UTF-8) reads '?'.
 * The string lives until the eighth call after. */
const char *ctl_str(json_t *o, const char *key);

/* A number member (integer or real) of o, or def when absent or null. */
double ctl_num(json_t *o, const char *path, double def);

/* A rate member of o in 3 figures (150M, 58.3k), a delay member (850us, 1.2ms), or "-" when
 * absent or null; b, for printf. */
const char *ctl_rate(char *b, size_t len, json_t *o, const char *path);
const char *ctl_seconds(char *b, size_t len, json_t *o, const char *path);

int ctl_top(struct ctl *c, int argc, char **argv);

#endif
