/*
 * client: libcurl's multi interface on the agent's loop, as its "multi_socket" API wants it:
 * CURLMOPT_SOCKETFUNCTION says which sockets to wait on for what (loop_set_fd / loop_del_fd),
 * CURLMOPT_TIMERFUNCTION when to call back anyway (one timerfd). Each wake-up hands the event to
 * curl_multi_socket_action, then collects finished transfers and calls their owners back.
 */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

struct request {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t len, cap;
	bool too_long;
	char *subject_token;
	client_done_fn *done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct request *next;
};

struct client {
	struct loop *loop;
	CURLM *multi;
	int timer_fd;
	struct client_opts opts;
	char *ca_file;
	struct request *requests;
	size_t n;
};

static void request_free(struct request *r)
{
	curl_slist_free_all(r->headers);
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r->body);
	free(r->subject_token);
	free(r);
}

static void unlink_request(struct client *c, struct request *r)
{
	for (struct request **p = &c->requests; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			c->n--;
			return;
		}
}

/* Hands every finished transfer to its owner. */
static void collect(struct client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct request *r = NULL;
		struct client_response resp = { 0 };
		CURLcode res = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		curl_multi_remove_handle(c->multi, m->easy_handle);
		unlink_request(c, r);
		if (res == CURLE_OK)
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
		else
			resp.error = r->too_long    ? "answer too long"
				     : r->errbuf[0] ? r->errbuf
						    : curl_easy_strerror(res);
		resp.body = r->body ? r->body : "";
		resp.len = r->len;
		resp.subject_token = r->subject_token;
		r->done(r->arg, &resp);
		request_free(r);
	}
}

static void on_socket(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct client *c = arg;
	int flags = 0, running;

	(void)loop;
	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	collect(c);
}

static void on_timer(struct loop *loop, uint64_t expirations, void *arg)
{
	struct client *c = arg;
	int running;

	(void)loop, (void)expirations;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect(c);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct client *c = userp;
	uint32_t events = 0;

	(void)easy, (void)socketp;
	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(c->loop, fd);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (loop_set_fd(c->loop, fd, events, on_socket, c)) {
		log_warn("http client socket not watched fd=%d", (int)fd);
		return -1; /* libcurl fails the transfer */
	}
	return 0;
}

/* libcurl's one timeout: -1 none, 0 at once (from the loop, never from inside libcurl). */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct client *c = userp;

	(void)multi;
	if (timeout_ms < 0)
		return loop_timer_stop(c->timer_fd) ? -1 : 0;
	return loop_timer_restart(c->timer_fd, (uint64_t)timeout_ms * 1000000u, 0) ? -1 : 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct request *r = userp;
	size_t n = size * nmemb;

	if (r->len + n > CLIENT_MAX_BODY) {
		r->too_long = true;
		return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *b;

		while (cap < r->len + n + 1)
			cap *= 2;
		b = realloc(r->body, cap);
		if (!b)
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userp)
{
	static const char name[] = "X-Subject-Token:";
	struct request *r = userp;
	size_t n = size * nitems, k = sizeof(name) - 1;

	if (n > k && !strncasecmp(data, name, k)) {
		const char *v = data + k, *e = data + n;

		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		free(r->subject_token);
		r->subject_token = strndup(v, (size_t)(e - v));
	}
	return n;
}

int client_open(struct client **out, struct loop *loop, const struct client_opts *opts)
{
	struct client *c;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	c->loop = loop;
	c->opts = *opts;
	c->ca_file = opts->ca_file ? strdup(opts->ca_file) : NULL;
	c->multi = curl_multi_init();
	c->timer_fd = c->multi ? loop_add_timer(loop, 1000000000u, on_timer, c) : -1;
	if ((opts->ca_file && !c->ca_file) || c->timer_fd < 0) {
		client_close(c);
		return -ENOMEM;
	}
	loop_timer_stop(c->timer_fd);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return 0;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	while (c->requests) {
		struct request *r = c->requests;

		c->requests = r->next;
		curl_multi_remove_handle(c->multi, r->easy); /* its sockets leave the loop */
		request_free(r);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->timer_fd >= 0) {
		loop_del_fd(c->loop, c->timer_fd);
		close(c->timer_fd);
	}
	free(c->ca_file);
	free(c);
	curl_global_cleanup(); /* one for client_open's curl_global_init */
}

int client_request(struct client *c, const char *method, const char *url,
		   const char *const *headers, const char *body, client_done_fn *done, void *arg)
{
	struct request *r = calloc(1, sizeof(*r));
	bool ok;

	if (!r || !(r->easy = curl_easy_init())) {
		free(r);
		return -ENOMEM;
	}
	r->done = done;
	r->arg = arg;
	ok = true;
	for (const char *const *h = headers; h && *h && ok; h++) {
		struct curl_slist *l = curl_slist_append(r->headers, *h);

		ok = l != NULL;
		if (ok)
			r->headers = l;
	}
	if (body && ok) {
		struct curl_slist *l =
			curl_slist_append(r->headers, "Content-Type: application/json");

		ok = l != NULL;
		if (ok)
			r->headers = l;
	}
	ok = ok && !curl_easy_setopt(r->easy, CURLOPT_URL, url) &&
	     !curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https") &&
	     !curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") &&
	     !curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method) &&
	     !curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers) &&
	     !curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L) &&
	     !curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)c->opts.timeout_ms) &&
	     !curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
			       (long)c->opts.connect_timeout_ms) &&
	     !curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body) &&
	     !curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r) &&
	     !curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header) &&
	     !curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r) &&
	     !curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf) &&
	     !curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r) &&
	     !curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "dbavmd") &&
	     (!c->ca_file || !curl_easy_setopt(r->easy, CURLOPT_CAINFO, c->ca_file)) &&
	     (!body || !curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body));
	if (ok && !body && strcmp(method, "GET") && strcmp(method, "DELETE")) /* PUT, no body */
		ok = !curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, "");
	if (!ok || curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
		request_free(r);
		return -ENOMEM;
	}
	r->next = c->requests;
	c->requests = r;
	c->n++;
	return 0;
}

void client_error_text(const struct client_response *r, char *out, size_t size, char *code,
		       size_t code_size)
{
	json_t *root = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
	json_t *e = json_array_get(json_object_get(root, "errors"), 0);
	const char *detail = json_string_value(json_object_get(e, "detail"));
	const char *c = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(
		json_object_get(json_object_get(root, "error"), "message")); /* keystone */

	if (!detail)
		detail = msg;
	if (!detail) /* neutron */
		detail = json_string_value(
			json_object_get(json_object_get(root, "NeutronError"), "message"));
	if (code)
		snprintf(code, code_size, "%s", c ? c : "");
	if (detail) {
		size_t n = strcspn(detail, "\n");

		snprintf(out, size, "HTTP %ld: %.*s", r->status, (int)(n > 300 ? 300 : n), detail);
	} else {
		snprintf(out, size, "HTTP %ld", r->status);
	}
	json_decref(root);
}
