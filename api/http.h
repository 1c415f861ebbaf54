/*
 * http: a small HTTP server on libmicrohttpd, run from the agent's own event loop: MHD's epoll
 * fd and a timer for its timeouts are registered in the loop, and MHD never starts a thread.
 *
 * The server collects a request's body (up to a limit), then hands the request to one handler.
 * The handler answers at once with http_respond, or later: a request not answered when the
 * handler returns is suspended until http_respond is called for it.
 */
#ifndef DBAVM_HTTP_H
#define DBAVM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "loop.h"

struct http_server;
struct http_request;
struct tls_creds;

struct http_limits {
	size_t max_body_bytes;
	unsigned max_connections; /* at the limit, the oldest still sending its request is closed */
	unsigned max_per_address; /* more from one address are refused */
	unsigned idle_timeout_s;  /* silent this long: closed */
	unsigned request_timeout_s; /* a request not in whole this long after the connection or
				     * the previous answer: closed */
	struct tls_creds *tls;	    /* NULL: plain HTTP; else HTTPS only (the server refs it) */
};

typedef void http_handler_fn(struct http_request *req, void *arg);

/* Listens on addr:port (IPv4, or IPv6 in brackets). Returns 0 or a negative errno. */
int http_open(struct http_server **out, const char *addr, uint16_t port,
	      const struct http_limits *limits, struct loop *loop, http_handler_fn *handler,
	      void *arg);
/* Listens on a Unix socket at path, mode 0666 (who may do what is the handler's question:
 * http_peer), plain HTTP; a stale socket there (nobody listening) is replaced, anything else
 * refused (-EEXIST, -EADDRINUSE). Removed at http_close. */
int http_open_unix(struct http_server **out, const char *path, const struct http_limits *limits,
		   struct loop *loop, http_handler_fn *handler, void *arg);
void http_close(struct http_server *srv);

/* Who sent a request over a Unix socket, as the kernel saw it when it connected. */
struct http_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t groups[256]; /* supplementary */
	int n_groups;
};
/* 0 with *p, or -EAFNOSUPPORT for a request over TCP (no credentials but its token). */
int http_peer(const struct http_request *req, struct http_peer *p);
/* gid is the peer's primary group or one of its supplementary ones. */
bool http_peer_in_group(const struct http_peer *p, gid_t gid);
/* Connections the server closed before their request was in, by why, since it opened. */
enum http_cut {
	HTTP_CUT_REQUEST_TIMEOUT,  /* its request not in whole within the request timeout */
	HTTP_CUT_SLOW_HEAD,	   /* its request head under 256 bytes a second */
	HTTP_CUT_ADDRESS_LIMIT,	   /* the slowest of its address, for a new one there */
	HTTP_CUT_CONNECTION_LIMIT, /* the slowest of all, for a new one */
	HTTP_CUT_N
};
struct http_counts {
	uint64_t cut[HTTP_CUT_N];
};
const struct http_counts *http_counts(const struct http_server *srv);

/* The port it listens on (the one the kernel chose when opened with port 0). */
uint16_t http_port(const struct http_server *srv);
/* New certificates (a reload): served from the next connection on; a server opened without
 * TLS cannot take them. 0 or -EINVAL. */
int http_set_tls(struct http_server *srv, struct tls_creds *tls);

const char *http_method(const struct http_request *req);
const char *http_path(const struct http_request *req);
/* A request header, or NULL. */
const char *http_header(const struct http_request *req, const char *name);
const char *http_body(const struct http_request *req, size_t *len);

/* Answers the request; takes body (malloc'd, may be NULL). The request must not be used
 * after this call. */
void http_respond(struct http_request *req, unsigned status, const char *content_type, char *body,
		  size_t len);
/* Answers with a body the server does not own: release(cls) is called once it is sent. */
void http_respond_shared(struct http_request *req, unsigned status, const char *content_type,
			 const char *body, size_t len, void (*release)(void *), void *cls);
/* Answers with a JSON document (takes the reference). */
void http_respond_json(struct http_request *req, unsigned status, json_t *doc);
/* Percent-decodes s in place as libmicrohttpd would, except that "%00" stays as it is: a NUL
 * would end the path the router sees, and /vms/vm3/sla%00junk be taken for /vms/vm3/sla.
 * The server leaves the path as it came; the router splits it at '/' first and decodes each
 * segment with this, so that "%2F" in an id is the id's character, not a separator.
 * Returns the new length. */
size_t http_url_unescape(char *s);
/* Copies src into dst (dst_len > 0) as valid UTF-8, which JSON needs: every byte that does not
 * begin a whole, well-formed sequence (a raw URL byte, a character that snprintf cut in two)
 * becomes '?', and a sequence that does not fit is left out whole. Returns the length. */
size_t http_utf8_clean(char *dst, size_t dst_len, const char *src);

/* Answers with the API's error body, {"error": msg} and, when field is not NULL or empty,
 * "field": field; both made valid UTF-8 (http_utf8_clean) first, so that it cannot fail. */
void http_respond_error(struct http_request *req, unsigned status, const char *field,
			const char *msg);
/* Adds a header to the answer that http_respond will send. */
int http_add_header(struct http_request *req, const char *name, const char *value);

#endif
