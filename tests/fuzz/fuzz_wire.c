/*
 * Bytes on the wire through the agent's real HTTP server (api/http.c over libmicrohttpd, on
 * loopback, from the agent's event loop) to a handler that answers every request it is given.
 * The input is what a client sends on one connection, as it is.
 *
 * Properties:
 *   - whatever is answered starts with an HTTP/1.x status line, and no status line is a 500;
 *   - when the first request's head, read strictly (RFC 9112) here, declares framing that two
 *     parsers could read two ways (both Transfer-Encoding and Content-Length, a coding other
 *     than chunked, whitespace before a colon, two Content-Length, Authorization or Host
 *     headers, HTTP/1.1 without Host), no request of that connection reaches the handler and
 *     at most one whole response is sent, the connection closed after it: a request smuggled
 *     in its body is never answered.
 * A head this reading cannot judge the way libmicrohttpd would (a NUL, a bare CR or LF, a
 * folded line, a Content-Length that is not digits: the library answers those itself, see
 * dbavmd(8)) is held to the first property only.
 *
 * Each input gets a server of its own, closed after it, so that what a connection caused is
 * counted for that input and no other. The seeds (corpus/wire) are integration_framing's cases.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "loop.h"

#define QUIET_NS (5 * 1000 * 1000ull) /* nothing read this long: the server has answered */
#define ANSWER_MAX (64 * 1024)

static struct loop *loop;
static int quiet_fd = -1;

static struct run {
	unsigned calls; /* requests the handler was given */
	char answer[ANSWER_MAX];
	size_t len;
	bool closed;
} run;

static void handler(struct http_request *req, void *arg)
{
	(void)arg;
	run.calls++;
	http_respond(req, 200, "application/json", strdup("{}"), 2);
}

static void on_quiet(struct loop *l, uint64_t expirations, void *arg)
{
	(void)expirations, (void)arg;
	loop_stop(l);
}

static void on_client(struct loop *l, int fd, uint32_t events, void *arg)
{
	ssize_t n;

	(void)events, (void)arg;
	while ((n = recv(fd, run.answer + run.len, sizeof(run.answer) - run.len, 0)) > 0) {
		run.len += (size_t)n;
		if (run.len == sizeof(run.answer))
			break;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN) || run.len == sizeof(run.answer)) {
		run.closed = n == 0;
		loop_stop(l);
		return;
	}
	loop_timer_restart(quiet_fd, QUIET_NS, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	loop = loop_new();
	FUZZ_CHECK(loop);
	quiet_fd = loop_add_timer(loop, QUIET_NS, on_quiet, NULL);
	FUZZ_CHECK(quiet_fd >= 0);
	return 0;
}

/* How many responses the answer holds, each an HTTP/1.x status line and head, its body skipped
 * by its Content-Length; -1 if it is not that (libmicrohttpd's double answer to a malformed
 * Content-Length is not: the first head's body is the second head). A 500 fails. */
static int responses(const char *a, size_t len)
{
	int n = 0;
	size_t at = 0;

	while (at < len) {
		const char *end = memmem(a + at, len - at, "\r\n\r\n", 4), *cl;
		unsigned long body = 0;

		if (len - at < 12 || memcmp(a + at, "HTTP/1.", 7))
			return -1;
		FUZZ_CHECK(memcmp(a + at + 9, "500", 3));
		n++;
		if (!end)
			break;
		cl = memmem(a + at, (size_t)(end - (a + at)), "Content-Length: ", 16);
		if (cl)
			body = strtoul(cl + 16, NULL, 10);
		at = (size_t)(end - a) + 4 + body;
	}
	return n;
}

/* A header's name and value, the value without its surrounding spaces and tabs. */
struct field {
	const char *name, *value;
	size_t name_len, value_len;
};

/* Whether the head (without its final CRLF CRLF) declares framing to refuse, read strictly;
 * -1 when this reading cannot judge it as libmicrohttpd would. */
static int framing_refused(const char *h, size_t len)
{
	unsigned te = 0, cl = 0, host = 0, auth = 0;
	bool te_chunked = false, bad_name = false, http11;
	const char *line = h, *end = h + len, *eol;

	if (memchr(h, '\0', len))
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((h[i] == '\r' && (i + 1 == len || h[i + 1] != '\n')) ||
		    (h[i] == '\n' && (i == 0 || h[i - 1] != '\r')))
			return -1;
	eol = memmem(line, (size_t)(end - line), "\r\n", 2);
	if (!eol)
		eol = end;
	/* METHOD SP target SP HTTP/1.x, nothing else */
	const char *sp1 = memchr(line, ' ', (size_t)(eol - line)), *sp2;

	if (!sp1 || sp1 == line)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1 || eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1') || sp2[1 + 8] != '\r')
		return -1;
	for (const char *c = line; c < sp1; c++)
		if (*c < 'A' || *c > 'Z')
			return -1;
	http11 = sp2[8] == '1';
	for (line = eol + 2; line < end; line = eol + 2) {
		struct field f;
		const char *colon;
		size_t raw_len;

		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol)
			eol = end;
		if (line == eol || *line == ' ' || *line == '\t')
			return -1; /* an empty line inside, or a folded one */
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon || colon == line)
			return -1;
		f.name = line;
		f.name_len = (size_t)(colon - line);
		for (size_t i = 0; i < f.name_len; i++) {
			unsigned char c = (unsigned char)f.name[i];

			if (c == ' ' || c == '\t')
				bad_name = true;
			else if (c <= 0x20 || c >= 0x7f)
				return -1;
		}
		f.value = colon + 1;
		f.value_len = (size_t)(eol - f.value);
		while (f.value_len && (*f.value == ' ' || *f.value == '\t'))
			f.value++, f.value_len--;
		raw_len = f.value_len; /* the library reads a Content-Length with its trailing
					  blanks */
		while (f.value_len &&
		       (f.value[f.value_len - 1] == ' ' || f.value[f.value_len - 1] == '\t'))
			f.value_len--;
		if (f.name_len == 17 && !strncasecmp(f.name, "Transfer-Encoding", 17)) {
			te++;
			te_chunked = f.value_len == 7 && !strncasecmp(f.value, "chunked", 7);
		} else if (f.name_len == 14 && !strncasecmp(f.name, "Content-Length", 14)) {
			cl++;
			if (!raw_len || raw_len > 18)
				return -1;
			for (size_t i = 0; i < raw_len; i++)
				if (f.value[i] < '0' || f.value[i] > '9')
					return -1;
		} else if (f.name_len == 4 && !strncasecmp(f.name, "Host", 4)) {
			host++;
		} else if (f.name_len == 13 && !strncasecmp(f.name, "Authorization", 13)) {
			auth++;
		}
	}
	return bad_name || (te && cl) || te > 1 || (te && !te_chunked) || cl > 1 || auth > 1 ||
	       host > 1 || (http11 && !host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits limits = { .max_body_bytes = 4096,
				      .max_connections = 64,
				      .max_per_address = 64,
				      .idle_timeout_s = 5,
				      .request_timeout_s = 5 };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct http_server *srv;
	const char *head_end;
	int fd, judged, rc;

	if (size > 16384)
		return 0;
	FUZZ_CHECK(http_open(&srv, "127.0.0.1", 0, &limits, loop, handler, NULL) == 0);
	sa.sin_port = htons(http_port(srv));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc)
		fprintf(stderr, "connect to port %u: %s\n", ntohs(sa.sin_port), strerror(errno));
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(size == 0 || send(fd, data, size, MSG_NOSIGNAL) == (ssize_t)size);
	FUZZ_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	run.calls = 0;
	run.len = 0;
	run.closed = false;
	FUZZ_CHECK(loop_add_fd(loop, fd, EPOLLIN, on_client, NULL) == 0);
	loop_timer_restart(quiet_fd, QUIET_NS, 0);
	FUZZ_CHECK(loop_run(loop) == 0);
	loop_timer_stop(quiet_fd);
	loop_del_fd(loop, fd);
	/* closed with a reset: no TIME_WAIT left to use up the ports over a million inputs */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 }, sizeof(struct linger));
	close(fd);
	http_close(srv); /* every connection closed: nothing of this input is left */

	int n = responses(run.answer, run.len);

	head_end = memmem(data, size, "\r\n\r\n", 4);
	judged = head_end ? framing_refused((const char *)data,
					    (size_t)(head_end - (const char *)data))
			  : -1;
	if (getenv("FUZZ_WIRE_SHOW")) /* what was answered, to read a failure by */
		fprintf(stderr, "calls=%u responses=%d closed=%d judged=%d answer:\n%.*s\n",
			run.calls, n, run.closed, judged, (int)run.len, run.answer);
	FUZZ_CHECK(!run.len || !memcmp(run.answer, "HTTP/1.", 7));
	if (judged == 1) {
		FUZZ_CHECK(run.calls == 0);
		FUZZ_CHECK(n == 0 || n == 1);
		FUZZ_CHECK(n == 0 || run.closed); /* closed as soon as answered */
	}
	return 0;
}
