/*
 * A transport for the API's handlers without sockets: the http.h calls the handlers make,
 * over a request the harness builds. http_text.c (the JSON and error answers) is the real one.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "fake_http.h"

struct http_server {
	struct loop *loop;
	http_handler_fn *handler;
	void *arg;
};

static struct http_server server;

int http_open(struct http_server **out, const char *addr, uint16_t port,
	      const struct http_limits *limits, struct loop *loop, http_handler_fn *handler,
	      void *arg)
{
	(void)addr, (void)port, (void)limits;
	server = (struct http_server){ loop, handler, arg };
	*out = &server;
	return 0;
}

/* The harness's agent has no --listen-unix; its requests come over "TCP". */
int http_open_unix(struct http_server **out, const char *path, const struct http_limits *limits,
		   struct loop *loop, http_handler_fn *handler, void *arg)
{
	(void)out, (void)path, (void)limits, (void)loop, (void)handler, (void)arg;
	return -EAFNOSUPPORT;
}

int http_peer(const struct http_request *req, struct http_peer *p)
{
	(void)req, (void)p;
	return -EAFNOSUPPORT;
}

bool http_peer_in_group(const struct http_peer *p, gid_t gid)
{
	(void)p, (void)gid;
	return false;
}

void http_close(struct http_server *srv)
{
	if (srv) /* NULL: a server never opened (the local socket) */
		memset(srv, 0, sizeof(*srv));
}

/* No connections here, so none closed (and /metrics says 0 of each). */
int http_set_tls(struct http_server *srv, struct tls_creds *tls)
{
	(void)srv, (void)tls;
	return 0; /* no server, no TLS: only the reload calls it */
}

const struct http_counts *http_counts(const struct http_server *srv)
{
	static const struct http_counts none;

	(void)srv;
	return &none;
}

const char *http_method(const struct http_request *req)
{
	return req->method;
}

const char *http_path(const struct http_request *req)
{
	return req->path;
}

const char *http_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

const char *http_body(const struct http_request *req, size_t *len)
{
	*len = req->body_len;
	return req->body;
}

int http_add_header(struct http_request *req, const char *name, const char *value)
{
	(void)req, (void)name, (void)value;
	return 0;
}

void http_respond(struct http_request *req, unsigned status, const char *content_type, char *body,
		  size_t len)
{
	if (req->answered) {
		free(body);
		return;
	}
	req->answered = true;
	req->status = status;
	req->content_type = content_type;
	req->resp = body;
	req->resp_len = body ? len : 0;
	if (server.loop)
		loop_stop(server.loop); /* the harness may be waiting in loop_run */
}

void http_respond_shared(struct http_request *req, unsigned status, const char *content_type,
			 const char *body, size_t len, void (*release)(void *), void *cls)
{
	char *copy = malloc(len + 1);

	if (copy)
		memcpy(copy, body, len);
	release(cls);
	http_respond(req, status, content_type, copy, copy ? len : 0);
}

void fake_http_run(struct http_request *req)
{
	server.handler(req, server.arg);
	if (!req->answered)
		loop_run(server.loop); /* suspended: the store or the parser answers it */
}
