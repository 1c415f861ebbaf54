/*
 * http: libmicrohttpd in "external select" mode with epoll (MHD_USE_EPOLL without an internal
 * thread). MHD's epoll fd is readable whenever MHD has work; the loop then calls MHD_run. A
 * timerfd, re-armed from MHD_get_timeout after every run, wakes the loop for idle timeouts.
 *
 * A request that cannot be answered at once (its answer waits for the disk) is suspended.
 * Resuming it fires the timer, the loop runs MHD, and the access handler, called again,
 * queues the answer that was stored for it.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"

struct header {
	struct header *next;
	char *name, *value;
};

struct http_request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	char method[16];
	char *path;
	char *body;
	size_t body_len;
	bool too_large;
	bool dispatched;
	bool suspended;
	/* The answer, once known. */
	bool answered;
	unsigned status;
	const char *content_type;
	char *resp_body;
	size_t resp_len;
	const char *shared_body; /* not ours: release(release_cls) when done */
	void (*release)(void *);
	void *release_cls;
	struct header *headers;
};

struct http_server {
	struct MHD_Daemon *mhd;
	struct loop *loop;
	int mhd_fd, timer_fd;
	struct http_limits limits;
	http_handler_fn *handler;
	void *arg;
};

static void free_headers(struct header *h)
{
	while (h) {
		struct header *n = h->next;

		free(h->name);
		free(h->value);
		free(h);
		h = n;
	}
}

static void request_free(struct http_request *req)
{
	if (req->release)
		req->release(req->release_cls);
	free(req->path);
	free(req->body);
	free(req->resp_body);
	free_headers(req->headers);
	free(req);
}

static enum MHD_Result queue_answer(struct http_request *req)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	if (req->release) {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			req->resp_len, (void *)req->shared_body, req->release, req->release_cls);
		if (resp)
			req->release = NULL; /* MHD releases it now */
	} else {
		resp = MHD_create_response_from_buffer(req->resp_len, req->resp_body,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)
			req->resp_body = NULL; /* MHD owns it now */
	}
	if (!resp)
		return MHD_NO;
	if (req->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
	for (struct header *h = req->headers; h; h = h->next)
		MHD_add_response_header(resp, h->name, h->value);
	ok = MHD_queue_response(req->conn, req->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;

	(void)version;
	if (!req) {
		const char *cl;

		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->srv = srv;
		req->conn = conn;
		snprintf(req->method, sizeof(req->method), "%s", method);
		req->path = strdup(url);
		if (!req->path) {
			free(req);
			return MHD_NO;
		}
		*con_cls = req;
		/* A declared body over the limit is refused before a byte of it is read. */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > srv->limits.max_body_bytes) {
			req->too_large = true;
			http_respond(req, MHD_HTTP_CONTENT_TOO_LARGE, "application/json", NULL, 0);
			return queue_answer(req);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!req->too_large && req->body_len + *upload_size <= srv->limits.max_body_bytes) {
			char *b = realloc(req->body, req->body_len + *upload_size + 1);

			if (!b)
				return MHD_NO;
			memcpy(b + req->body_len, upload, *upload_size);
			req->body = b;
			req->body_len += *upload_size;
			req->body[req->body_len] = '\0';
		} else {
			req->too_large = true; /* chunked past the limit: drain, then refuse */
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->answered)
		return queue_answer(req); /* resumed, or answered while the body was coming */
	if (req->dispatched)
		return MHD_YES; /* a spurious call while suspended */
	req->dispatched = true;
	if (req->too_large) {
		http_respond(req, MHD_HTTP_CONTENT_TOO_LARGE, "application/json", NULL, 0);
		return queue_answer(req);
	}
	srv->handler(req, srv->arg);
	if (req->answered)
		return queue_answer(req);
	req->suspended = true;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	(void)cls, (void)conn, (void)code;
	if (*con_cls)
		request_free(*con_cls);
	*con_cls = NULL;
}

/*
 * A send buffer of bounded size per connection bounds how much one MHD_run can write, and so
 * how long it keeps the loop from its next period: loopback buffers otherwise grow to
 * megabytes, and a few large responses in one run would delay a 10 ms period by more than 1 ms.
 */
#define HTTP_SNDBUF_BYTES (64 * 1024)

static int hex_value(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* libmicrohttpd's percent-decoding of the URL and its arguments, except that "%00" stays as it
 * is: a NUL would end the path the router sees, and /vms/vm3/sla%00junk be taken for
 * /vms/vm3/sla. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;
	int hi, lo;

	(void)cls, (void)conn;
	for (const char *r = s; *r;) {
		if (r[0] == '%' && (hi = hex_value(r[1])) >= 0 && (lo = hex_value(r[2])) >= 0 &&
		    (hi | lo)) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	int size = HTTP_SNDBUF_BYTES;

	(void)cls, (void)socket_context;
	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci && setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
		log_debug("http send buffer not bounded err=%s", strerror(errno));
}

static void rearm_timer(struct http_server *srv)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct itimerspec its = { 0 };

	if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES) {
		if (ms == 0)
			ms = 1;
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	}
	timerfd_settime(srv->timer_fd, 0, &its, NULL);
}

static unsigned connections(const struct http_server *srv)
{
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

static void run_mhd(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct http_server *srv = arg;
	unsigned before = connections(srv);
	uint64_t n;

	(void)loop, (void)events;
	if (fd == srv->timer_fd && read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("http timer read failed err=%s", strerror(errno));
	MHD_run(srv->mhd);
	/* At its connection limit MHD takes the listening socket out of its epoll set, and puts
	 * it back only at the start of a later run. If this run closed connections, nothing
	 * else would cause that run: MHD's set is empty and it wants no timeout. */
	if (before >= srv->limits.max_connections && connections(srv) < before)
		MHD_run(srv->mhd);
	rearm_timer(srv);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t len;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_warn("http: %s", msg);
}

static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss, unsigned *flags)
{
	char host[64];
	size_t len = strlen(addr);

	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[' && len > 2 && addr[len - 1] == ']' && len - 2 < sizeof(host)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		memcpy(host, addr + 1, len - 2);
		host[len - 2] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*flags |= MHD_USE_IPv6;
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
		return -EINVAL;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	return 0;
}

int http_open(struct http_server **out, const char *addr, uint16_t port,
	      const struct http_limits *limits, struct loop *loop, http_handler_fn *handler,
	      void *arg)
{
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct http_server *srv;
	int rc;

	rc = parse_addr(addr, port, &ss, &flags);
	if (rc)
		return rc;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->limits = *limits;
	srv->handler = handler;
	srv->arg = arg;
	srv->mhd_fd = srv->timer_fd = -1;
	srv->mhd = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)limits->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)limits->idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_UNESCAPE_CALLBACK,
		unescape, NULL, MHD_OPTION_END);
	if (!srv->mhd) {
		rc = errno ? -errno : -EADDRINUSE;
		free(srv);
		return rc;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	srv->mhd_fd = info ? info->epoll_fd : -1;
	srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->mhd_fd < 0 || srv->timer_fd < 0 ||
	    (rc = loop_add_fd(loop, srv->mhd_fd, EPOLLIN, run_mhd, srv)) ||
	    (rc = loop_add_fd(loop, srv->timer_fd, EPOLLIN, run_mhd, srv))) {
		http_close(srv);
		return rc ? rc : -EIO;
	}
	rearm_timer(srv);
	*out = srv;
	return 0;
}

void http_close(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->mhd_fd >= 0)
		loop_del_fd(srv->loop, srv->mhd_fd);
	if (srv->timer_fd >= 0) {
		loop_del_fd(srv->loop, srv->timer_fd);
		close(srv->timer_fd);
	}
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	free(srv);
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
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_body(const struct http_request *req, size_t *len)
{
	*len = req->body_len;
	return req->body ? req->body : "";
}

int http_add_header(struct http_request *req, const char *name, const char *value)
{
	struct header *h = calloc(1, sizeof(*h));

	if (!h || !(h->name = strdup(name)) || !(h->value = strdup(value))) {
		free_headers(h);
		return -ENOMEM;
	}
	h->next = req->headers;
	req->headers = h;
	return 0;
}

/* Marks the request answered; a suspended one is resumed so that MHD sends the answer. */
static void finish(struct http_request *req, unsigned status, const char *content_type)
{
	req->answered = true;
	req->status = status;
	req->content_type = content_type;
	if (req->suspended) {
		struct itimerspec now = { .it_value = { 0, 1 } };

		/* In external-poll mode MHD does not wake its own epoll fd on resume: fire the
		 * timer so the loop runs MHD on its next turn (never from inside MHD). */
		req->suspended = false;
		MHD_resume_connection(req->conn);
		timerfd_settime(req->srv->timer_fd, 0, &now, NULL);
	}
}

void http_respond(struct http_request *req, unsigned status, const char *content_type, char *body,
		  size_t len)
{
	if (req->answered) {
		free(body);
		return;
	}
	if (status == MHD_HTTP_CONTENT_TOO_LARGE && !body) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the body is larger than the limit of %zu bytes",
			 req->srv->limits.max_body_bytes);
		http_respond_error(req, status, NULL, msg);
		return;
	}
	req->resp_body = body;
	req->resp_len = body ? len : 0;
	finish(req, status, content_type);
}

void http_respond_shared(struct http_request *req, unsigned status, const char *content_type,
			 const char *body, size_t len, void (*release)(void *), void *cls)
{
	if (req->answered) {
		release(cls);
		return;
	}
	req->shared_body = body;
	req->resp_len = len;
	req->release = release;
	req->release_cls = cls;
	finish(req, status, content_type);
}

void http_respond_json(struct http_request *req, unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!text) {
		http_respond(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
			     strdup("{\"error\":\"out of memory\"}"), 25);
		return;
	}
	http_respond(req, status, "application/json", text, strlen(text));
}

/* The length of the well-formed UTF-8 sequence s begins with (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF), 0 if none. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

size_t http_utf8_clean(char *dst, size_t dst_len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t k = 0;

	while (*s) {
		size_t n = utf8_seq(s);

		if (k + (n ? n : 1) >= dst_len)
			break;
		if (n) {
			memcpy(dst + k, s, n);
			k += n;
			s += n;
		} else {
			dst[k++] = '?';
			s++;
		}
	}
	dst[k] = '\0';
	return k;
}

void http_respond_error(struct http_request *req, unsigned status, const char *field,
			const char *msg)
{
	char m[512], f[256];
	json_t *doc;

	/* An error body that cannot fail: jansson refuses a string that is not UTF-8. */
	http_utf8_clean(m, sizeof(m), msg ? msg : "");
	doc = json_pack("{s:s}", "error", m);
	if (doc && field && *field) {
		http_utf8_clean(f, sizeof(f), field);
		json_object_set_new(doc, "field", json_string(f));
	}
	http_respond_json(req, status, doc);
}
