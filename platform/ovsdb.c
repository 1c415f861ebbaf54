/*
 * ovsdb.c: the platform wrapper of ovsdb.h. The JSON-RPC of RFC 7047 over ovsdb-server's Unix
 * socket, with jansson: one "monitor" request, then the server's pushes ("update"), and the
 * answers to its "echo" probes. Messages are split out of the byte stream by a scanner that
 * keeps its place between reads (ovsdb_stream_next), so a large first reply costs one pass.
 */
#include "ovsdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "loop.h"

#define MONITOR_ID "dbavm-monitor"

struct row {
	char uuid[PLATFORM_UUID_LEN];
	char name[IFNAMSIZ];
	char port_id[PLATFORM_ID_MAX]; /* "": none, or one not taken (logged) */
};

struct ovsdb_table {
	struct row *rows; /* sorted by name once an apply has returned */
	size_t n, cap;
};

struct ovsdb_table *ovsdb_table_new(void)
{
	return calloc(1, sizeof(struct ovsdb_table));
}

void ovsdb_table_free(struct ovsdb_table *t)
{
	if (t)
		free(t->rows);
	free(t);
}

static int cmp_row_name(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

static int cmp_name_row(const void *key, const void *r)
{
	return strcmp(key, ((const struct row *)r)->name);
}

const char *ovsdb_table_port_id(const struct ovsdb_table *t, const char *ifname)
{
	const struct row *r =
		t->n ? bsearch(ifname, t->rows, t->n, sizeof(*r), cmp_name_row) : NULL;

	return r && r->port_id[0] ? r->port_id : NULL;
}

static struct row *row_by_uuid(struct ovsdb_table *t, const char *uuid)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->rows[i].uuid, uuid))
			return &t->rows[i];
	return NULL;
}

/* The iface-id in an external_ids column (["map", [[key, value], ...]]) into out; "" when it
 * has none. false when the column is not a map of strings. */
static bool iface_id_of(const json_t *col, const char *ifname, char out[PLATFORM_ID_MAX])
{
	const json_t *pairs = json_array_get(col, 1), *pair;
	const char *problem;
	size_t i;

	out[0] = '\0';
	if (!json_is_array(col) || json_array_size(col) != 2 ||
	    !json_is_string(json_array_get(col, 0)) ||
	    strcmp(json_string_value(json_array_get(col, 0)), "map") || !json_is_array(pairs))
		return false;
	json_array_foreach(pairs, i, pair) {
		const json_t *k = json_array_get(pair, 0), *v = json_array_get(pair, 1);

		if (json_array_size(pair) != 2 || !json_is_string(k) || !json_is_string(v))
			return false;
		if (strcmp(json_string_value(k), "iface-id") || !json_string_length(v))
			continue;
		/* What the API, the log and /metrics will carry: the rules of a VM's name. */
		problem = strlen(json_string_value(v)) != json_string_length(v)
				  ? "it holds a NUL"
				  : platform_name_problem(json_string_value(v));
		if (problem) {
			log_warn("ovsdb iface-id not taken interface=%s why=\"%s\"", log_q(ifname),
				 problem);
			return true;
		}
		snprintf(out, PLATFORM_ID_MAX, "%s", json_string_value(v));
	}
	return true;
}

/* One row's update ({"old": ..., "new": ...}; no "new": deleted). */
static int apply_row(struct ovsdb_table *t, const char *uuid, const json_t *upd, bool *changed)
{
	const json_t *nw = json_object_get(upd, "new"), *name, *ext;
	struct row *r = row_by_uuid(t, uuid), fresh;

	if (!json_is_object(upd) || (nw && !json_is_object(nw)))
		return -EPROTO;
	if (!nw) {
		if (r) {
			*changed |= r->port_id[0] != '\0';
			*r = t->rows[--t->n];
		}
		return 0;
	}
	memset(&fresh, 0, sizeof(fresh));
	if (r)
		fresh = *r;
	snprintf(fresh.uuid, sizeof(fresh.uuid), "%s", uuid);
	name = json_object_get(nw, "name");
	ext = json_object_get(nw, "external_ids");
	if (name) {
		if (!json_is_string(name))
			return -EPROTO;
		/* A name no vif can have (longer than an ifname) matches none: kept as "". */
		if (json_string_length(name) < sizeof(fresh.name) &&
		    strlen(json_string_value(name)) == json_string_length(name))
			memcpy(fresh.name, json_string_value(name), json_string_length(name) + 1);
		else
			fresh.name[0] = '\0';
	}
	if (ext && !iface_id_of(ext, fresh.name, fresh.port_id))
		return -EPROTO;
	if (!r) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 64;
			struct row *grown = realloc(t->rows, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			t->rows = grown;
			t->cap = cap;
		}
		r = &t->rows[t->n++];
		memset(r, 0, sizeof(*r));
	}
	*changed |= strcmp(r->port_id, fresh.port_id) ||
		    (fresh.port_id[0] && strcmp(r->name, fresh.name));
	*r = fresh;
	return 0;
}

/* A <table-updates> object: the Interface table's rows. */
static int apply_updates(struct ovsdb_table *t, const json_t *updates, bool *changed)
{
	const json_t *rows = json_object_get(updates, "Interface"), *upd;
	const char *uuid;
	int rc = 0;

	if (!json_is_object(updates) || (rows && !json_is_object(rows)))
		return -EPROTO;
	json_object_foreach((json_t *)rows, uuid, upd) {
		if (strlen(uuid) != PLATFORM_UUID_LEN - 1)
			return -EPROTO;
		rc = apply_row(t, uuid, upd, changed);
		if (rc)
			break;
	}
	if (t->n > 1)
		qsort(t->rows, t->n, sizeof(*t->rows), cmp_row_name);
	return rc;
}

int ovsdb_table_apply(struct ovsdb_table *t, const char *text, size_t len, bool *changed,
		      char **reply, const char **why)
{
	json_t *msg = json_loadb(text, len, JSON_ALLOW_NUL, NULL), *method, *id, *params;
	int rc = 0;

	*changed = false;
	*reply = NULL;
	*why = NULL;
	if (!json_is_object(msg)) {
		json_decref(msg);
		*why = "a message that is not a JSON object";
		return -EPROTO;
	}
	method = json_object_get(msg, "method");
	id = json_object_get(msg, "id");
	params = json_object_get(msg, "params");
	if (json_is_string(method) && !strcmp(json_string_value(method), "echo")) {
		json_t *answer = json_pack("{s:O?,s:O?,s:n}", "id", id, "result", params, "error");

		*reply = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
		json_decref(answer);
		rc = *reply ? 0 : -ENOMEM;
	} else if (json_is_string(method) && !strcmp(json_string_value(method), "update")) {
		rc = json_array_size(params) == 2
			     ? apply_updates(t, json_array_get(params, 1), changed)
			     : -EPROTO;
		if (rc == -EPROTO)
			*why = "an update that is not the monitor's table-updates";
	} else if (!method && json_is_string(id) && !strcmp(json_string_value(id), MONITOR_ID)) {
		const json_t *result = json_object_get(msg, "result");

		if (!json_is_null(json_object_get(msg, "error")) || !json_is_object(result)) {
			*why = "ovsdb-server refused the monitor of the Interface table";
			rc = -EPROTO;
		} else {
			/* The whole table: what was known before goes */
			*changed = t->n > 0;
			t->n = 0;
			rc = apply_updates(t, result, changed);
			if (rc == -EPROTO)
				*why = "a monitor reply that is not table-updates";
			else if (!rc)
				rc = 1;
		}
	} /* anything else (a notification this client did not ask for) is not for it */
	json_decref(msg);
	return rc;
}

long ovsdb_stream_next(struct ovsdb_stream *s, const char *buf, size_t len)
{
	for (size_t i = s->scanned; i < len; i++) {
		char c = buf[i];

		if (s->in_string) {
			if (s->escaped)
				s->escaped = false;
			else if (c == '\\')
				s->escaped = true;
			else if (c == '"')
				s->in_string = false;
			continue;
		}
		if (!s->started) {
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
				continue;
			if (c != '{')
				return -EPROTO;
			s->started = true;
		}
		if (c == '"') {
			s->in_string = true;
		} else if (c == '{' || c == '[') {
			if (++s->depth > OVSDB_MAX_DEPTH)
				return -EPROTO;
		} else if (c == '}' || c == ']') {
			if (--s->depth == 0) {
				memset(s, 0, sizeof(*s));
				return (long)(i + 1);
			}
		}
	}
	s->scanned = len;
	return 0;
}

/* ---- the wrapper ---- */

struct ovsdb {
	struct platform inner;
	struct platform_ops ops; /* the inner platform's name, these functions */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ovsdb_table *table; /* kept across a reconnection: the last names known */
	struct ovsdb_stream stream;
	int fd;		 /* -1: not connected */
	bool registered; /* fd is on the loop */
	bool monitoring; /* the monitor's reply came */
	bool ever;	 /* it came once: Open vSwitch is on this host */
	struct loop *loop;
	platform_notify_fn *notify;
	void *arg;
	char *buf;
	size_t len, cap;
	uint64_t retry_at_ns;
	char problem[160]; /* "": none */
	int said_err;	   /* the error last logged, so that each change is logged once */
};

static void disconnect(struct ovsdb *o, const char *why, int err)
{
	if (o->fd >= 0) {
		if (o->registered)
			loop_del_fd(o->loop, o->fd);
		close(o->fd);
	}
	o->fd = -1;
	o->registered = false;
	o->monitoring = false;
	o->len = 0;
	memset(&o->stream, 0, sizeof(o->stream));
	o->retry_at_ns = loop_now_ns() + OVSDB_RETRY_S * 1000000000ull;
	if (why) {
		if (err != o->said_err)
			log_warn("ovsdb not connected socket=%s why=\"%s\" err=%s retry_s=%d "
				 "port_ids=kept",
				 log_q(o->path), why, strerror(err), OVSDB_RETRY_S);
		o->said_err = err;
		snprintf(o->problem, sizeof(o->problem), "ovsdb-server at %s: %s (%s)", o->path,
			 why, strerror(err));
	}
}

static bool send_all(struct ovsdb *o, const char *text)
{
	size_t n = strlen(text);
	ssize_t w = send(o->fd, text, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w == (ssize_t)n)
		return true;
	disconnect(o, "a message could not be sent whole", w < 0 ? errno : EAGAIN);
	return false;
}

static void on_message(struct ovsdb *o, const char *text, size_t len)
{
	bool changed;
	char *reply;
	const char *why;
	int rc = ovsdb_table_apply(o->table, text, len, &changed, &reply, &why);

	if (rc < 0) {
		disconnect(o, why ? why : "out of memory", rc == -ENOMEM ? ENOMEM : EPROTO);
		return;
	}
	if (reply) {
		bool sent = send_all(o, reply);

		free(reply);
		if (!sent)
			return;
	}
	if (rc == 1) { /* the monitor's reply: the whole table */
		size_t named = 0;

		for (size_t i = 0; i < o->table->n; i++)
			named += o->table->rows[i].port_id[0] != '\0';
		o->monitoring = o->ever = true;
		o->problem[0] = '\0';
		o->said_err = 0;
		log_info("ovsdb connected socket=%s interfaces=%zu with_iface_id=%zu",
			 log_q(o->path), o->table->n, named);
	}
	if (changed && o->notify)
		o->notify(o->arg, PLATFORM_RESCAN);
}

static void on_readable(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct ovsdb *o = arg;
	long n = 0;

	(void)loop, (void)fd, (void)events;
	for (;;) {
		ssize_t got;

		if (o->cap - o->len < 65536) {
			size_t cap = o->cap ? 2 * o->cap : 131072;
			char *grown;

			if (cap > OVSDB_MAX_BUFFER) {
				disconnect(o, "a message larger than the limit", EMSGSIZE);
				return;
			}
			grown = realloc(o->buf, cap);
			if (!grown) {
				disconnect(o, "out of memory", ENOMEM);
				return;
			}
			o->buf = grown;
			o->cap = cap;
		}
		got = recv(o->fd, o->buf + o->len, o->cap - o->len, MSG_DONTWAIT);
		if (got == 0) {
			disconnect(o, "ovsdb-server closed the connection", ECONNRESET);
			return;
		}
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			disconnect(o, "reading failed", errno);
			return;
		}
		o->len += (size_t)got;
	}
	while (o->fd >= 0 && (n = ovsdb_stream_next(&o->stream, o->buf, o->len)) > 0) {
		on_message(o, o->buf, (size_t)n);
		if (o->fd < 0)
			return;
		memmove(o->buf, o->buf + n, o->len - (size_t)n);
		o->len -= (size_t)n;
	}
	if (n < 0)
		disconnect(o, "what it sent is not JSON-RPC", EPROTO);
}

static void try_connect(struct ovsdb *o)
{
	static const char monitor[] = "{\"id\":\"" MONITOR_ID
				      "\",\"method\":\"monitor\",\"params\":[\"Open_vSwitch\",null,"
				      "{\"Interface\":{\"columns\":[\"name\",\"external_ids\"]}}]}";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	o->retry_at_ns = loop_now_ns() + OVSDB_RETRY_S * 1000000000ull;
	if (stat(o->path, &st)) {
		/* No Open vSwitch here (yet): not a fault, said once. Gone after it was here
		 * (stopped, or restarting): a fault until it is back, the last ids kept. */
		if (o->ever) {
			disconnect(o, "its socket is gone", errno);
		} else {
			if (o->said_err != ENOENT)
				log_info("ovsdb not there socket=%s retry_s=%d", log_q(o->path),
					 OVSDB_RETRY_S);
			o->said_err = ENOENT;
		}
		return;
	}
	memcpy(sa.sun_path, o->path, strlen(o->path) + 1);
	o->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (o->fd < 0) {
		disconnect(o, "no socket", errno);
		return;
	}
	if (connect(o->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		disconnect(o, "connect failed", errno);
		return;
	}
	if (loop_add_fd(o->loop, o->fd, EPOLLIN, on_readable, o)) {
		disconnect(o, "not added to the loop", ENOMEM);
		return;
	}
	o->registered = true;
	send_all(o, monitor);
}

static int ovsdb_scan(struct platform *p, uint64_t now_ns, struct platform_scan *scan)
{
	struct ovsdb *o = p->priv;
	int rc = o->inner.ops->scan(&o->inner, now_ns, scan);

	for (size_t m = 0; !rc && m < scan->n_vms; m++)
		for (size_t i = 0; i < scan->vms[m].n_vifs; i++) {
			struct platform_vif *v = &scan->vms[m].vifs[i];
			const char *id = v->port_id[0] || !v->host_ifname[0]
						 ? NULL
						 : ovsdb_table_port_id(o->table, v->host_ifname);

			if (id)
				snprintf(v->port_id, sizeof(v->port_id), "%s", id);
		}
	return rc;
}

static int ovsdb_watch(struct platform *p, struct loop *loop, platform_notify_fn *notify, void *arg)
{
	struct ovsdb *o = p->priv;
	int rc = o->inner.ops->watch ? o->inner.ops->watch(&o->inner, loop, notify, arg) : 0;

	if (rc)
		return rc;
	o->loop = loop;
	o->notify = notify;
	o->arg = arg;
	try_connect(o);
	return 0;
}

static void ovsdb_unwatch(struct platform *p)
{
	struct ovsdb *o = p->priv;

	disconnect(o, NULL, 0);
	o->loop = NULL;
	o->notify = NULL;
	if (o->inner.ops->unwatch)
		o->inner.ops->unwatch(&o->inner);
}

/* At the start of a period: a connection lost is tried again every OVSDB_RETRY_S. */
static int ovsdb_due(struct platform *p, uint64_t now_ns)
{
	struct ovsdb *o = p->priv;

	if (o->loop && o->fd < 0 && loop_now_ns() >= o->retry_at_ns)
		try_connect(o);
	return o->inner.ops->due ? o->inner.ops->due(&o->inner, now_ns) : 0;
}

static const char *ovsdb_problem(struct platform *p)
{
	struct ovsdb *o = p->priv;
	const char *inner = o->inner.ops->problem ? o->inner.ops->problem(&o->inner) : NULL;

	return inner ? inner : o->problem[0] ? o->problem : NULL;
}

static void ovsdb_close(struct platform *p)
{
	struct ovsdb *o = p->priv;

	disconnect(o, NULL, 0);
	o->inner.ops->close(&o->inner);
	ovsdb_table_free(o->table);
	free(o->buf);
	free(o);
}

int ovsdb_wrap(struct platform *p, const char *path, char *why, size_t why_len)
{
	struct ovsdb *o;

	if (strlen(path) >= sizeof(o->path)) {
		snprintf(why, why_len, "--ovsdb: a Unix socket path is at most %zu bytes",
			 sizeof(o->path) - 1);
		return -EINVAL;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->table = ovsdb_table_new())) {
		free(o);
		snprintf(why, why_len, "ovsdb: out of memory");
		return -ENOMEM;
	}
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->fd = -1;
	o->inner = *p;
	o->ops = (struct platform_ops){ .name = p->ops->name,
					.scan = ovsdb_scan,
					.watch = ovsdb_watch,
					.unwatch = ovsdb_unwatch,
					.due = ovsdb_due,
					.problem = ovsdb_problem,
					.close = ovsdb_close };
	p->ops = &o->ops;
	p->priv = o;
	return 0;
}
