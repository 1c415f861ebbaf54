/*
 * client: outgoing HTTP(S) for the agent, libcurl's multi interface driven by the agent's
 * event loop. libcurl's sockets are registered with the loop as libcurl asks (its socket
 * callback), its one timeout is a timerfd of the loop; nothing here ever blocks, so a slow or
 * dead server costs the control loop nothing but the callbacks' few microseconds.
 */
#ifndef DBAVM_CLIENT_H
#define DBAVM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct client;

#define CLIENT_MAX_BODY (8u << 20) /* a longer answer is cut off: an error */

struct client_response {
	long status;	   /* HTTP status; 0 when the request failed in transport */
	const char *error; /* why it failed in transport, else NULL */
	const char *body;  /* NUL-terminated */
	size_t len;
	const char *subject_token; /* Keystone's X-Subject-Token header, or NULL */
};

/* Called once per request, on the loop's thread; r and what it points to live until return.
 * It may start further requests. */
typedef void client_done_fn(void *arg, const struct client_response *r);

struct client_opts {
	const char *ca_file;	     /* NULL: the system's CAs */
	uint32_t timeout_ms;	     /* whole request */
	uint32_t connect_timeout_ms; /* connection, TLS included */
};

/* 0, or a negative errno (libcurl failed to start). */
int client_open(struct client **out, struct loop *loop, const struct client_opts *opts);
/* Aborts what is in flight, calling nothing back. */
void client_close(struct client *c);

/* Starts method url with headers (NULL-terminated "Name: value" strings, or NULL) and body
 * (NUL-terminated JSON, or NULL). 0, or a negative errno: done is then never called. */
int client_request(struct client *c, const char *method, const char *url,
		   const char *const *headers, const char *body, client_done_fn *done, void *arg);

/* An error answer in a sentence: the service's own words where it gave them (Placement's
 * errors[0].detail and .code, Keystone's error.message, Neutron's NeutronError.message), else
 * "HTTP <status>"; code (may be NULL) gets Placement's error code or "". */
void client_error_text(const struct client_response *r, char *out, size_t size, char *code,
		       size_t code_size);

#endif
