/*
 * http: libmicrohttpd in "external select" mode with epoll (MHD_USE_EPOLL without an internal
 * thread). MHD's epoll fd is readable whenever MHD has work; the loop then calls MHD_run. A
 * timerfd, re-armed from MHD_get_timeout after every run, wakes the loop for idle timeouts.
 *
 * A request that cannot be answered at once (its answer waits for the disk) is suspended.
 * Resuming it fires the timer, the loop runs MHD, and the access handler, called again,
 * queues the answer that was stored for it.
 *
 * Slow and many clients. MHD's own timeout counts from a connection's last byte, so a client
 * sending a byte a second would hold its connection for ever. Every connection is therefore
 * tracked here (its socket context): while it is receiving a request (from its accept, or
 * from the answer to its previous one, until the whole body is in) it has request_timeout_s
 * to finish, after which its socket is shut down and MHD closes it; an idle keep-alive
 * connection counts as one receiving. At max_connections a new connection is not refused:
 * the one still receiving its request that has sent it slowest is closed to make room
 * (make_room), so that a client that sends its request at once is answered however many slow
 * ones there are. Over max_per_address from one address, that address's slowest are closed as
 * soon as what they send shows them slow (settle_addresses), not at the accept, so that slow
 * connections from an address cannot lock out its other clients: on a host, local tools, a
 * node-local Prometheus and any local process all come from 127.0.0.1. And once the first
 * byte of a request head is in, the head must come at HEAD_MIN_BPS or faster, counted over
 * the bytes the kernel received (TCP_INFO), from HEAD_GRACE_NS on: a client that sends a byte
 * a second is closed in seconds, not at the request timeout.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "log.h"
#include "tls.h"

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
	size_t body_len, body_cap;
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

#define HEAD_MIN_BPS 256		  /* a request head slower than this is closed ... */
#define HEAD_GRACE_NS (2 * 1000000000ull) /* ... once this long after its first byte */

/* A connection, from its accept to its close (MHD's socket context). */
struct conn {
	struct conn *prev, *next; /* oldest first */
	int fd;
	bool receiving;	   /* its request not yet in whole: the deadline runs */
	bool head_in;	   /* its request's head is in (the header rate is met) */
	bool cut;	   /* shut down, MHD not yet told */
	uint64_t since_ns; /* the deadline runs from here */
	uint64_t rx0;	   /* bytes the kernel had received when this request began */
	uint64_t first_ns; /* when a byte past rx0 was first seen (0: none yet) */
	char peer[INET6_ADDRSTRLEN];
	struct tls_creds *tls; /* the certificates its session was given (a reference) */
};

/* At most LOG_BURST lines a second of one kind; the rest are counted and said once. */
#define LOG_BURST 5
struct log_limit {
	uint64_t window_ns;
	unsigned lines, dropped;
};

struct http_server {
	struct MHD_Daemon *mhd;
	struct loop *loop;
	int mhd_fd, timer_fd;
	struct http_limits limits;
	http_handler_fn *handler;
	void *arg;
	struct conn *oldest, *newest;
	unsigned n_conns, n_cut; /* tracked, and of them cut and not yet closed by MHD */
	bool over_address;	 /* an address may be over max_per_address: settle_addresses */
	struct http_counts counts;
	struct tls_creds *tls; /* given to each new session; NULL: plain HTTP */
	struct log_limit cut_log, mhd_log;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* removed at close */
};

/* Whether a line may be logged now; says how many were held back in the last window. */
static bool log_allowed(struct log_limit *l, const char *what)
{
	uint64_t now = loop_now_ns();

	if (now - l->window_ns >= 1000000000u) {
		if (l->dropped)
			log_info("http: %u more %s in the last second, not logged", l->dropped,
				 what);
		l->window_ns = now;
		l->lines = l->dropped = 0;
	}
	if (l->lines < LOG_BURST) {
		l->lines++;
		return true;
	}
	l->dropped++;
	return false;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The connection's request is in (or refused): no deadline while it is answered. */
static void request_in(struct MHD_Connection *mc)
{
	struct conn *c = conn_of(mc);

	if (c)
		c->receiving = false;
}

const struct http_counts *http_counts(const struct http_server *srv)
{
	return &srv->counts;
}

/* Closes a connection from under MHD: its socket reads as ended, and MHD closes it; counted
 * by kind. */
static void conn_cut(struct http_server *srv, struct conn *c, enum http_cut kind, const char *why)
{
	c->cut = true;
	srv->n_cut++;
	srv->counts.cut[kind]++;
	shutdown(c->fd, SHUT_RDWR);
	if (log_allowed(&srv->cut_log, "connections closed"))
		log_info("http connection closed peer=%s why=\"%s\"", c->peer, why);
}

/* The bytes the kernel has received on the connection (TLS records included); 0 if unknown. */
static uint64_t bytes_received(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_bytes_received;
}

/* The connection waits for a request from now: its deadline and its header rate start. */
static void await_request(struct conn *c)
{
	c->receiving = true;
	c->head_in = false;
	c->since_ns = loop_now_ns();
	c->rx0 = bytes_received(c->fd);
	c->first_ns = 0;
}

/* Whether a request head has come slower than HEAD_MIN_BPS for HEAD_GRACE_NS or more since
 * its first byte; *next lowered to when it should be looked at again. */
static bool head_too_slow(struct conn *c, uint64_t now, uint64_t *next)
{
	uint64_t got, at;

	if (c->head_in)
		return false;
	got = bytes_received(c->fd);
	if (got <= c->rx0)
		return false; /* nothing of it yet: an idle keep-alive connection */
	if (!c->first_ns)
		c->first_ns = now;
	at = now - c->first_ns;
	if (at >= HEAD_GRACE_NS && (got - c->rx0) * 1000000000ull < HEAD_MIN_BPS * at)
		return true;
	at = at < HEAD_GRACE_NS ? HEAD_GRACE_NS - at : 1000000000ull; /* then once a second */
	if (at < *next)
		*next = at;
	return false;
}

static uint64_t settle_addresses(struct http_server *srv);

/* Cuts every connection whose request is overdue, or whose head comes too slowly; returns the
 * nanoseconds to the next deadline (UINT64_MAX: none). */
static uint64_t cut_overdue(struct http_server *srv)
{
	uint64_t now = loop_now_ns(), limit = (uint64_t)srv->limits.request_timeout_s * 1000000000u;
	uint64_t next = UINT64_MAX;

	for (struct conn *c = srv->oldest; c; c = c->next) {
		if (!c->receiving || c->cut)
			continue;
		if (now - c->since_ns >= limit)
			conn_cut(srv, c, HTTP_CUT_REQUEST_TIMEOUT,
				 "its request was not in within the request timeout");
		else if (head_too_slow(c, now, &next))
			conn_cut(srv, c, HTTP_CUT_SLOW_HEAD,
				 "its request head came at under 256 bytes a second");
		else if (c->since_ns + limit - now < next)
			next = c->since_ns + limit - now;
	}
	if (srv->over_address) {
		uint64_t settle = settle_addresses(srv);

		next = settle < next ? settle : next;
	}
	return next;
}

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

static void peer_name(struct MHD_Connection *mc, char *buf, size_t len);

/* What framing a request's headers declare, counted over all of them. */
struct framing {
	unsigned te, cl, auth, host;
	bool te_chunked; /* the only Transfer-Encoding is "chunked" */
	bool bad_value;	 /* a NUL or a bare CR inside a value */
	bool bad_name;	 /* whitespace in a name (before the colon) */
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    size_t key_size, const char *value, size_t value_size)
{
	struct framing *f = cls;

	(void)kind;
	if (!key)
		return MHD_YES;
	if (strlen(key) != key_size || strpbrk(key, " \t\r\n"))
		f->bad_name = true;
	if (value && (strlen(value) != value_size || memchr(value, '\r', value_size)))
		f->bad_value = true;
	if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->te++;
		f->te_chunked = value && !strcasecmp(value, "chunked");
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		f->cl++;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) {
		f->auth++;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_HOST)) {
		f->host++;
	}
	return MHD_YES;
}

/* Why the request's framing must be refused (RFC 9112: a request with both Transfer-Encoding
 * and Content-Length, a coding other than chunked, whitespace before a colon, a NUL or bare CR
 * in a value; and what this API never needs: two Authorization or Host headers, an HTTP/1.1
 * request without Host), with *status, or NULL. libmicrohttpd 0.9.75 accepts each of these,
 * and with the first two a second request smuggled in a body was answered. */
static const char *framing_problem(struct MHD_Connection *conn, const char *version,
				   unsigned *status)
{
	struct framing f = { 0 };

	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, count_header, &f);
	*status = MHD_HTTP_BAD_REQUEST;
	if (f.bad_name)
		return "whitespace in a header name, or before its colon";
	if (f.bad_value)
		return "a NUL or a bare CR in a header value";
	if (f.te && f.cl)
		return "both Transfer-Encoding and Content-Length";
	if (f.te > 1 || (f.te && !f.te_chunked)) {
		*status = MHD_HTTP_NOT_IMPLEMENTED;
		return "a transfer coding other than chunked";
	}
	if (f.cl > 1)
		return "several Content-Length headers";
	if (f.auth > 1)
		return "several Authorization headers";
	if (f.host > 1)
		return "several Host headers";
	if (!f.host && version && !strcmp(version, MHD_HTTP_VERSION_1_1))
		return "an HTTP/1.1 request without a Host header";
	return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;

	if (!req) {
		struct conn *c = conn_of(conn);
		const char *cl, *why;
		unsigned status;

		if (c)
			c->head_in = true;
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
		/* Framing that two parsers could read two ways is refused before the body is
		 * read, and the connection closed after the answer: nothing after it is read. */
		if ((why = framing_problem(conn, version, &status))) {
			char peer[64];

			request_in(conn);
			req->too_large = true; /* whatever body follows is not read */
			peer_name(conn, peer, sizeof(peer));
			if (log_allowed(&srv->cut_log, "requests refused"))
				log_info("http request refused peer=%s why=\"%s\"", peer, why);
			http_respond_error(req, status, NULL, why);
			http_add_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
			return queue_answer(req);
		}
		/* A declared body over the limit is refused before a byte of it is read. */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > srv->limits.max_body_bytes) {
			request_in(conn);
			req->too_large = true;
			http_respond(req, MHD_HTTP_CONTENT_TOO_LARGE, "application/json", NULL, 0);
			return queue_answer(req);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!req->too_large && req->body_len + *upload_size <= srv->limits.max_body_bytes) {
			size_t need = req->body_len + *upload_size + 1;

			if (need >
			    req->body_cap) { /* doubling: a 16 MB body is not copied 500 times */
				size_t cap = req->body_cap ? req->body_cap : 4096;
				char *b;

				while (cap < need)
					cap *= 2;
				b = realloc(req->body, cap);
				if (!b)
					return MHD_NO;
				req->body = b;
				req->body_cap = cap;
			}
			memcpy(req->body + req->body_len, upload, *upload_size);
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
	request_in(conn);
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
	struct conn *c = conn_of(conn);

	(void)cls, (void)code;
	if (c && !c->receiving)
		await_request(c); /* the next request's deadline runs from this answer */
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

/* MHD's percent-decoding of the URL: none. The path is split at '/' before its segments are
 * decoded (http_url_unescape), so that %2F is a character of a segment. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls, (void)conn;
	return strlen(s);
}

static void conn_unlink(struct http_server *srv, struct conn *c)
{
	*(c->prev ? &c->prev->next : &srv->oldest) = c->next;
	*(c->next ? &c->next->prev : &srv->newest) = c->prev;
	srv->n_conns--;
	srv->n_cut -= c->cut;
}

static void peer_name(struct MHD_Connection *mc, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	snprintf(buf, len, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  (socklen_t)len);
	else if ((ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD)) &&
		 !getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
		snprintf(buf, len, "uid:%u", (unsigned)cred.uid); /* a local user is an address */
}

int http_peer(const struct http_request *req, struct http_peer *p)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t cl = sizeof(cred), gl = sizeof(p->groups);

	if (!req->srv->unix_path[0])
		return -EAFNOSUPPORT; /* TCP: no credentials but what it presents */
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
		return -errno ? -errno : -EIO;
	p->uid = cred.uid;
	p->gid = cred.gid;
	p->pid = cred.pid;
	/* its supplementary groups as they were when it connected, from the kernel: not looked up
	 * by name, so never another process's that reused its pid */
	if (getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &gl) < 0) {
		if (errno != ERANGE)
			return -errno;
		gl = sizeof(p->groups); /* more than fit: the first ones are kept */
	}
	p->n_groups = (int)(gl / sizeof(p->groups[0]));
	return 0;
}

bool http_peer_in_group(const struct http_peer *p, gid_t gid)
{
	if (p->gid == gid)
		return true;
	for (int i = 0; i < p->n_groups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
}

/*
 * A client certificate, verified in the handshake: its chain to the client CA, and its purpose.
 * A certificate that names its purposes (Extended Key Usage) must name TLS client
 * authentication, so a server's certificate from the same CA (the agent's own, or another
 * host's) is not a client's; one that names none is taken, as RFC 5280 allows. A CA's
 * certificate is never a client's, though the chain to itself verifies.
 */
static gnutls_typed_vdata_st client_purpose = { GNUTLS_DT_KEY_PURPOSE_OID,
						(unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0 };

static int verify_client(gnutls_session_t s)
{
	unsigned status = 0, n = 0, critical = 0, ca = 0;
	const gnutls_datum_t *chain;
	gnutls_x509_crt_t leaf;
	int is_ca;

	if (gnutls_certificate_verify_peers(s, &client_purpose, 1, &status) || status)
		return GNUTLS_E_CERTIFICATE_ERROR;
	chain = gnutls_certificate_get_peers(s, &n);
	if (!chain || !n || gnutls_x509_crt_init(&leaf))
		return GNUTLS_E_CERTIFICATE_ERROR;
	is_ca = gnutls_x509_crt_import(leaf, &chain[0], GNUTLS_X509_FMT_DER)
			? 1
			: gnutls_x509_crt_get_basic_constraints(leaf, &critical, &ca, NULL);
	gnutls_x509_crt_deinit(leaf);
	/* no basic constraints at all: an end entity's certificate */
	if (is_ca == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	return is_ca < 0 || ca ? GNUTLS_E_CERTIFICATE_ERROR : 0;
}

/*
 * A TLS session before its handshake: the current certificates (libmicrohttpd's own are those
 * of the start, which a reload must not leave in place), and with a client CA, a client
 * certificate required and verified in the handshake itself (verify_client), so that a client
 * without one, with one from another CA or one not meant for a client never gets as far as
 * HTTP.
 */
static int tls_session_start(struct http_server *srv, struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;

	if (!s || gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tls_creds_gnutls(srv->tls)))
		return -EIO;
	if (tls_creds_require_client(srv->tls)) {
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_function(s, verify_client);
	}
	return 0;
}

/* Connections from the address, not yet cut. */
static unsigned from_address(const struct http_server *srv, const char *peer)
{
	unsigned n = 0;

	for (const struct conn *o = srv->oldest; o; o = o->next)
		n += !o->cut && !strcmp(o->peer, peer);
	return n;
}

#define SILENT_GRACE_NS (100 * 1000000ull) /* a new connection's time to send a first byte */
#define RANK_SILENT (1ull << 40)	   /* close_rank: just came, nothing sent yet */
#define RANK_FAST (1ull << 41)		   /* close_rank: sending at HEAD_MIN_BPS or more */

/* How a connection ranks to be closed for a new one, lowest first: one sending its request
 * slowly (under HEAD_MIN_BPS, over at least SILENT_GRACE_NS; one silent for longer ranks 0),
 * by its rate; then one that came in under SILENT_GRACE_NS ago and has sent nothing yet, the
 * last come first (too soon to tell; of a burst of connections, the earlier ones are the
 * nearest to sending); then one sending at a good rate. */
static uint64_t close_rank(const struct conn *c, uint64_t now)
{
	uint64_t got = bytes_received(c->fd), age = now - c->since_ns, rate;

	if (got <= c->rx0)
		return age < SILENT_GRACE_NS ? RANK_SILENT + age : 0;
	if (age < SILENT_GRACE_NS)
		age = SILENT_GRACE_NS;
	rate = (got - c->rx0) * 1000000000ull / age;
	return rate < HEAD_MIN_BPS ? rate : RANK_FAST + rate;
}

/* The connection still receiving its request, its head not in, that ranks lowest under below
 * (close_rank; the oldest of equals), other than skip and of peer's address if peer is not
 * NULL; NULL if none. */
static struct conn *slowest(struct http_server *srv, uint64_t now, const struct conn *skip,
			    const char *peer, uint64_t below)
{
	struct conn *victim = NULL;

	for (struct conn *o = srv->oldest; o; o = o->next) {
		uint64_t r;

		if (o == skip || o->cut || !o->receiving || o->head_in ||
		    (peer && strcmp(o->peer, peer)))
			continue;
		r = close_rank(o, now);
		if (r < below) {
			below = r;
			victim = o;
		}
	}
	return victim;
}

/*
 * At max_connections, makes room for the new connection c: cuts the slowest other one, and c
 * itself only when no other is receiving. By rate rather than by age: slow clients that come
 * back at once when cut keep their connections young, and a client that sent its request at
 * once would otherwise soon be the oldest.
 */
static void make_room(struct http_server *srv, struct conn *c)
{
	struct conn *victim = slowest(srv, loop_now_ns(), c, NULL, UINT64_MAX);

	if (!victim)
		conn_cut(srv, c, HTTP_CUT_CONNECTION_LIMIT,
			 "at the connection limit, every other one busy");
	else
		conn_cut(srv, victim, HTTP_CUT_CONNECTION_LIMIT,
			 "the slowest still sending its request, at the connection limit");
}

/*
 * Brings every address over max_per_address back to it: cuts its connections that are
 * sending their requests slowly (close_rank under RANK_SILENT), slowest first. Not at the
 * accept: a slow client that comes back as fast as it is cut keeps as many connections just
 * come in as one that sends its request at once, and the two are told apart only by what
 * they send, within moments. One too young to tell stays, the address over its limit (the
 * connection limit still bounds it, make_room). Returns the nanoseconds until it should be
 * done again (UINT64_MAX: every address within its limit).
 */
static uint64_t settle_addresses(struct http_server *srv)
{
	uint64_t now = loop_now_ns(), next = UINT64_MAX;

	for (struct conn *a = srv->oldest; a; a = a->next) {
		unsigned n = a->cut ? 0 : from_address(srv, a->peer);

		for (; n > srv->limits.max_per_address; n--) {
			struct conn *victim = slowest(srv, now, NULL, a->peer, RANK_SILENT);

			if (!victim) {
				next = SILENT_GRACE_NS; /* the young ones, once they can be told */
				break;
			}
			conn_cut(srv, victim, HTTP_CUT_ADDRESS_LIMIT,
				 "the slowest still sending its request, at the limit of its "
				 "address");
		}
	}
	srv->over_address = next != UINT64_MAX;
	return next;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	int size = HTTP_SNDBUF_BYTES;
	struct conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (c) {
			conn_unlink(srv, c);
			tls_creds_unref(c->tls);
			free(c);
			*socket_context = NULL;
		}
		return;
	}
	if (srv->tls && tls_session_start(srv, mc)) {
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	if (setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
		log_debug("http send buffer not bounded err=%s", strerror(errno));
	c = calloc(1, sizeof(*c));
	if (!c) {
		shutdown(ci->connect_fd, SHUT_RDWR); /* untracked, it could not be cut later */
		return;
	}
	c->fd = ci->connect_fd;
	c->tls = srv->tls;
	tls_creds_ref(c->tls);
	await_request(c);
	c->rx0 = 0; /* new: whatever the kernel has received is its request's */
	peer_name(mc, c->peer, sizeof(c->peer));
	c->prev = srv->newest;
	*(srv->newest ? &srv->newest->next : &srv->oldest) = c;
	srv->newest = c;
	srv->n_conns++;
	*socket_context = c;
	/* Over the limit: make room at once. Over an address's: settled after this run
	 * (settle_addresses), once what they send tells them apart. */
	if (srv->n_conns - srv->n_cut > srv->limits.max_connections)
		make_room(srv, c);
	else if (from_address(srv, c->peer) > srv->limits.max_per_address)
		srv->over_address = true;
}

/* Wakes the loop for MHD's next timeout or the next request deadline, whichever is first. */
static void rearm_timer(struct http_server *srv, uint64_t deadline_ns)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct itimerspec its = { 0 };
	uint64_t ns = deadline_ns;

	if (MHD_get_timeout(srv->mhd, &ms) == MHD_YES && ms * 1000000u < ns)
		ns = ms * 1000000u;
	if (ns != UINT64_MAX) {
		if (ns == 0)
			ns = 1;
		its.it_value.tv_sec = (time_t)(ns / 1000000000u);
		its.it_value.tv_nsec = (long)(ns % 1000000000u);
	}
	timerfd_settime(srv->timer_fd, 0, &its, NULL);
}

/* MHD's connection limit: ours, one for the newcomer that makes room, and room for those cut
 * and not yet closed (as many again, and 64). */
static unsigned int mhd_limit(const struct http_limits *l)
{
	return 2 * l->max_connections + 1 + 64;
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
	if (before >= mhd_limit(&srv->limits) && connections(srv) < before)
		MHD_run(srv->mhd);
	rearm_timer(srv, cut_overdue(srv));
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;
	char msg[256];
	size_t len;

	if (!log_allowed(&srv->mhd_log, "messages from libmicrohttpd"))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_info("http: %s", msg); /* about a client, not the agent */
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

/* The server on what listen names: a TCP address (listen_fd < 0) or a Unix socket listening
 * already (listen_fd). */
static int start(struct http_server **out, unsigned flags, uint16_t port, const struct sockaddr *sa,
		 int listen_fd, const char *unix_path, const struct http_limits *limits,
		 struct loop *loop, http_handler_fn *handler, void *arg, bool *fd_taken)
{
	const union MHD_DaemonInfo *info;
	struct http_server *srv;
	int rc = 0;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->limits = *limits;
	srv->handler = handler;
	srv->arg = arg;
	srv->mhd_fd = srv->timer_fd = -1;
	srv->tls = limits->tls;
	tls_creds_ref(srv->tls);
	struct MHD_OptionItem tls_opts[3] = { { MHD_OPTION_END, 0, NULL } };
	struct MHD_OptionItem where[2] = {
		listen_fd >= 0
			? (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL }
			: (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, (void *)sa },
		{ MHD_OPTION_END, 0, NULL }
	};

	if (srv->tls) {
		flags |= MHD_USE_TLS;
		tls_opts[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
						       (void *)tls_creds_cert_pem(srv->tls) };
		tls_opts[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
						       (void *)tls_creds_key_pem(srv->tls) };
		tls_opts[2] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	}
	srv->mhd = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
		MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_ARRAY, where,
		/* MHD's own limit leaves room for the connections cut and not yet closed:
		 * counted there, at max_connections + 1 it refused a client while slow ones came
		 * back as fast as cut (1 in 118 in integration_hostile) */
		MHD_OPTION_CONNECTION_LIMIT, mhd_limit(limits),
		/* no MHD_OPTION_PER_IP_CONNECTION_LIMIT: settle_addresses keeps each address to
		 * its limit, and MHD's would count the connections cut and not yet closed, refusing
		 * a client at once while slow ones of its address come back as fast as cut */
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)limits->idle_timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
	if (!srv->mhd) {
		rc = errno ? -errno : -EADDRINUSE;
		tls_creds_unref(srv->tls);
		free(srv);
		return rc;
	}
	*fd_taken = true; /* MHD closes the listening socket when it stops */
	if (unix_path)
		snprintf(srv->unix_path, sizeof(srv->unix_path), "%s", unix_path);
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	srv->mhd_fd = info ? info->epoll_fd : -1;
	srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->mhd_fd < 0 || srv->timer_fd < 0 ||
	    (rc = loop_add_fd(loop, srv->mhd_fd, EPOLLIN, run_mhd, srv)) ||
	    (rc = loop_add_fd(loop, srv->timer_fd, EPOLLIN, run_mhd, srv))) {
		http_close(srv);
		return rc ? rc : -EIO;
	}
	rearm_timer(srv, UINT64_MAX);
	*out = srv;
	return 0;
}

int http_open(struct http_server **out, const char *addr, uint16_t port,
	      const struct http_limits *limits, struct loop *loop, http_handler_fn *handler,
	      void *arg)
{
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	int rc = parse_addr(addr, port, &ss, &flags);
	bool taken;

	return rc ? rc
		  : start(out, flags, port, (struct sockaddr *)&ss, -1, NULL, limits, loop, handler,
			  arg, &taken);
}

int http_open_unix(struct http_server **out, const char *path, const struct http_limits *limits,
		   struct loop *loop, http_handler_fn *handler, void *arg)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct http_limits plain = *limits;
	struct stat sb;
	bool taken = false;
	mode_t old;
	int fd, rc;

	if (!*path || strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (lstat(path, &sb) == 0) {
		/* Only a socket is replaced, and only one nobody listens on (an agent that did not
		 * stop cleanly left it): another agent's stays its own. */
		if (!S_ISSOCK(sb.st_mode)) {
			close(fd);
			return -EEXIST;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno == EAGAIN) {
			close(fd);
			return -EADDRINUSE;
		}
		close(fd);
		unlink(path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
			return -errno;
	}
	/* Anyone may connect (0666): what a peer may do is decided by its credentials. The mode
	 * comes with the bind (the umask), never by its path afterwards: a link swapped in
	 * between would give that mode to what it points to. */
	old = umask(0111);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old);
	if (!rc && listen(fd, 64) < 0)
		rc = -errno;
	plain.tls = NULL; /* the kernel vouches for the peer; nothing to encrypt */
	if (!rc)
		rc = start(out, MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
			   NULL, fd, path, &plain, loop, handler, arg, &taken);
	if (rc && !taken) { /* else http_close closed and removed it */
		close(fd);
		unlink(path);
	}
	return rc;
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
	if (srv->mhd) {
		/* closes every connection (their references go), and the listening socket */
		MHD_stop_daemon(srv->mhd);
	}
	if (srv->unix_path[0])
		unlink(srv->unix_path);
	tls_creds_unref(srv->tls);
	free(srv);
}

uint16_t http_port(const struct http_server *srv)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

int http_set_tls(struct http_server *srv, struct tls_creds *tls)
{
	if (!srv->tls || !tls)
		return -EINVAL;
	tls_creds_ref(tls);
	tls_creds_unref(srv->tls);
	srv->tls = tls;
	return 0;
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
