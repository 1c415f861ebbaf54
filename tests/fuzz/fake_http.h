/* The request the harness builds for fake_http.c, and the call that runs it. */
#ifndef DBAVM_FAKE_HTTP_H
#define DBAVM_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define FAKE_HTTP_HEADERS 16

struct http_request {
	char method[32];
	char *path;
	struct {
		char *name, *value;
	} headers[FAKE_HTTP_HEADERS];
	size_t n_headers;
	const char *body;
	size_t body_len;
	/* The answer. */
	bool answered;
	unsigned status;
	const char *content_type;
	char *resp;
	size_t resp_len;
};

/* Hands req to the API's handler and returns once it is answered (running the loop if the
 * handler suspended it). */
void fake_http_run(struct http_request *req);

#endif
