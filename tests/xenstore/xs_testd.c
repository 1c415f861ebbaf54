/*
 * xs_testd: a xenstore for tests. It speaks the xenstore wire protocol (xen/io/xs_wire.h) on a
 * Unix socket, which the real libxenstore reaches through XENSTORED_PATH, so the agent's Xen
 * platform is tested with the real client library on a machine without a hypervisor.
 *
 *   xs_testd SOCKET [STORE_FILE]
 *
 * STORE_FILE holds "path=value" lines, loaded at start (a dom0's store with its domUs, as a
 * test writes it). Requests: READ, WRITE, DIRECTORY, MKDIR, RM, WATCH / UNWATCH (with the
 * first event on registration, and events for every change at or under a watched path),
 * TRANSACTION_START / END (applied as they come: no isolation, which single-writer tests do
 * not need), GET_DOMAIN_PATH, GET_PERMS (everyone may read and write). Anything else is
 * answered ENOSYS. One process, poll(2), no threads; it runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#define MAX_CONNS 64
#define MAX_NODES 4096
#define MAX_WATCHES 256
#define MAX_PATH 3072 /* XENSTORE_ABS_PATH_MAX */

struct node {
	char *path, *value; /* path NULL: a free slot */
	size_t len;
};

struct watch {
	int conn; /* -1: free */
	char *path, *token;
};

struct conn {
	int fd; /* -1: free */
	struct xsd_sockmsg hdr;
	char body[XENSTORE_PAYLOAD_MAX];
	size_t got; /* bytes of header + body read so far */
};

static struct node nodes[MAX_NODES];
static struct watch watches[MAX_WATCHES];
static struct conn conns[MAX_CONNS];
static volatile sig_atomic_t stop;
static uint32_t next_tx = 1;

static struct node *find(const char *path)
{
	for (int i = 0; i < MAX_NODES; i++)
		if (nodes[i].path && !strcmp(nodes[i].path, path))
			return &nodes[i];
	return NULL;
}

/* Under: path is base or below it. */
static bool under(const char *path, const char *base)
{
	size_t n = strlen(base);

	return !strncmp(path, base, n) && (path[n] == '\0' || path[n] == '/' || !strcmp(base, "/"));
}

static void send_msg(int fd, uint32_t type, uint32_t req, uint32_t tx, const void *body, size_t len)
{
	struct xsd_sockmsg h = { type, req, tx, (uint32_t)len };
	char buf[sizeof(h) + XENSTORE_PAYLOAD_MAX];

	if (len > XENSTORE_PAYLOAD_MAX)
		len = h.len = XENSTORE_PAYLOAD_MAX;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, len);
	if (write(fd, buf, sizeof(h) + len) < 0)
		perror("xs_testd: write");
}

static void fire(const char *changed)
{
	for (int w = 0; w < MAX_WATCHES; w++) {
		char ev[2 * MAX_PATH + 2];
		size_t a, b;

		if (watches[w].conn < 0 || !under(changed, watches[w].path))
			continue;
		a = strlen(changed) + 1;
		b = strlen(watches[w].token) + 1;
		memcpy(ev, changed, a);
		memcpy(ev + a, watches[w].token, b);
		send_msg(conns[watches[w].conn].fd, XS_WATCH_EVENT, 0, 0, ev, a + b);
	}
}

/* Creates path and its missing parents (with empty values), firing for each new one. */
static struct node *make(const char *path)
{
	struct node *n = find(path);
	char parent[MAX_PATH + 1];
	char *slash;

	if (n)
		return n;
	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (!make(parent))
			return NULL;
	}
	for (int i = 0; i < MAX_NODES; i++)
		if (!nodes[i].path) {
			nodes[i].path = strdup(path);
			nodes[i].value = strdup("");
			nodes[i].len = 0;
			fire(path);
			return &nodes[i];
		}
	return NULL;
}

static int set(const char *path, const char *value, size_t len)
{
	struct node *n = make(path);

	if (!n)
		return ENOSPC;
	free(n->value);
	n->value = malloc(len + 1);
	memcpy(n->value, value, len);
	n->value[len] = '\0';
	n->len = len;
	fire(path);
	return 0;
}

static int rm(const char *path)
{
	bool any = false;

	for (int i = 0; i < MAX_NODES; i++)
		if (nodes[i].path && under(nodes[i].path, path)) {
			free(nodes[i].path);
			free(nodes[i].value);
			nodes[i].path = nodes[i].value = NULL;
			any = true;
		}
	if (any)
		fire(path);
	return any ? 0 : ENOENT;
}

static bool valid_path(const char *p, size_t len)
{
	return len > 0 && len <= MAX_PATH && p[0] == '/' && memchr(p, '\0', len + 1);
}

static void error_reply(struct conn *c, int err)
{
	const char *name = err == ENOENT   ? "ENOENT"
			   : err == EINVAL ? "EINVAL"
			   : err == ENOSPC ? "ENOSPC"
			   : err == E2BIG  ? "E2BIG"
					   : "ENOSYS";

	send_msg(c->fd, XS_ERROR, c->hdr.req_id, c->hdr.tx_id, name, strlen(name) + 1);
}

static void ok_reply(struct conn *c)
{
	send_msg(c->fd, c->hdr.type, c->hdr.req_id, c->hdr.tx_id, "OK", 3);
}

static void directory(struct conn *c, const char *path)
{
	char out[XENSTORE_PAYLOAD_MAX];
	size_t len = 0, plen = strlen(path);

	if (!find(path) && strcmp(path, "/")) {
		error_reply(c, ENOENT);
		return;
	}
	for (int i = 0; i < MAX_NODES; i++) {
		const char *p = nodes[i].path, *name;
		size_t n;

		if (!p || !strcmp(p, path) || !under(p, path))
			continue;
		name = p + (strcmp(path, "/") ? plen + 1 : 1);
		if (strchr(name, '/'))
			continue; /* a grandchild */
		n = strlen(name) + 1;
		if (len + n > sizeof(out)) {
			error_reply(c, E2BIG);
			return;
		}
		memcpy(out + len, name, n);
		len += n;
	}
	send_msg(c->fd, XS_DIRECTORY, c->hdr.req_id, c->hdr.tx_id, out, len);
}

static void handle(int ci)
{
	struct conn *c = &conns[ci];
	const char *b = c->body;
	size_t len = c->hdr.len;
	char reply[64];
	struct node *n;

	c->body[len < sizeof(c->body) ? len : sizeof(c->body) - 1] = '\0';
	switch (c->hdr.type) {
	case XS_READ:
		if (!valid_path(b, strnlen(b, len)))
			return error_reply(c, EINVAL);
		if (!(n = find(b)))
			return error_reply(c, ENOENT);
		return send_msg(c->fd, XS_READ, c->hdr.req_id, c->hdr.tx_id, n->value, n->len);
	case XS_WRITE: {
		size_t plen = strnlen(b, len);

		if (plen == len || !valid_path(b, plen))
			return error_reply(c, EINVAL);
		if (set(b, b + plen + 1, len - plen - 1))
			return error_reply(c, ENOSPC);
		return ok_reply(c);
	}
	case XS_MKDIR:
		if (!valid_path(b, strnlen(b, len)))
			return error_reply(c, EINVAL);
		if (!make(b))
			return error_reply(c, ENOSPC);
		return ok_reply(c);
	case XS_RM:
		if (!valid_path(b, strnlen(b, len)))
			return error_reply(c, EINVAL);
		if (rm(b))
			return error_reply(c, ENOENT);
		return ok_reply(c);
	case XS_DIRECTORY:
		if (!valid_path(b, strnlen(b, len)))
			return error_reply(c, EINVAL);
		return directory(c, b);
	case XS_GET_PERMS:
		if (!find(b))
			return error_reply(c, ENOENT);
		return send_msg(c->fd, XS_GET_PERMS, c->hdr.req_id, c->hdr.tx_id, "b0", 3);
	case XS_WATCH:
	case XS_UNWATCH: {
		size_t plen = strnlen(b, len);
		const char *token = b + plen + 1;
		int w;

		if (plen >= len || !memchr(token, '\0', len - plen - 1 + 1))
			return error_reply(c, EINVAL);
		if (c->hdr.type == XS_UNWATCH) {
			for (w = 0; w < MAX_WATCHES; w++)
				if (watches[w].conn == ci && !strcmp(watches[w].path, b) &&
				    !strcmp(watches[w].token, token)) {
					free(watches[w].path);
					free(watches[w].token);
					watches[w].conn = -1;
					return ok_reply(c);
				}
			return error_reply(c, ENOENT);
		}
		for (w = 0; w < MAX_WATCHES && watches[w].conn >= 0; w++)
			;
		if (w == MAX_WATCHES)
			return error_reply(c, ENOSPC);
		watches[w] = (struct watch){ ci, strdup(b), strdup(token) };
		ok_reply(c);
		{ /* the first event, on registration */
			char ev[2 * MAX_PATH + 2];
			size_t x = strlen(b) + 1, y = strlen(token) + 1;

			memcpy(ev, b, x);
			memcpy(ev + x, token, y);
			send_msg(c->fd, XS_WATCH_EVENT, 0, 0, ev, x + y);
		}
		return;
	}
	case XS_TRANSACTION_START:
		snprintf(reply, sizeof(reply), "%u", next_tx++);
		return send_msg(c->fd, XS_TRANSACTION_START, c->hdr.req_id, 0, reply,
				strlen(reply) + 1);
	case XS_TRANSACTION_END:
		return ok_reply(c);
	case XS_GET_DOMAIN_PATH:
		snprintf(reply, sizeof(reply), "/local/domain/%d", atoi(b));
		return send_msg(c->fd, XS_GET_DOMAIN_PATH, c->hdr.req_id, c->hdr.tx_id, reply,
				strlen(reply) + 1);
	default:
		return error_reply(c, ENOSYS);
	}
}

static void drop(int ci)
{
	close(conns[ci].fd);
	conns[ci].fd = -1;
	for (int w = 0; w < MAX_WATCHES; w++)
		if (watches[w].conn == ci) {
			free(watches[w].path);
			free(watches[w].token);
			watches[w].conn = -1;
		}
}

/* Reads what is there; handles each whole message. */
static void readable(int ci)
{
	struct conn *c = &conns[ci];
	size_t want = c->got < sizeof(c->hdr) ? sizeof(c->hdr) - c->got
					      : sizeof(c->hdr) + c->hdr.len - c->got;
	char *at = c->got < sizeof(c->hdr) ? (char *)&c->hdr + c->got
					   : c->body + (c->got - sizeof(c->hdr));
	ssize_t n = read(c->fd, at, want);

	if (n <= 0) {
		drop(ci);
		return;
	}
	c->got += (size_t)n;
	if (c->got == sizeof(c->hdr) && c->hdr.len >= XENSTORE_PAYLOAD_MAX) {
		drop(ci); /* as xenstored: a message too big ends the connection */
		return;
	}
	if (c->got < sizeof(c->hdr) || c->got < sizeof(c->hdr) + c->hdr.len)
		return;
	handle(ci);
	c->got = 0;
}

static int load(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[MAX_PATH + XENSTORE_PAYLOAD_MAX];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		if (!eq || line[0] != '/')
			continue;
		*eq = '\0';
		if (set(line, eq + 1, strlen(eq + 1)))
			break;
	}
	fclose(f);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction act = { .sa_handler = on_signal };
	int lfd;

	if (argc < 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: xs_testd SOCKET [STORE_FILE]\n");
		return 2;
	}
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	for (int i = 0; i < MAX_WATCHES; i++)
		watches[i].conn = -1;
	if (argc > 2 && load(argv[2])) {
		perror(argv[2]);
		return 1;
	}
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		perror("xs_testd");
		return 1;
	}
	while (!stop) {
		struct pollfd p[MAX_CONNS + 1];
		int map[MAX_CONNS + 1], n = 0;

		p[n] = (struct pollfd){ lfd, POLLIN, 0 };
		map[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0) {
				p[n] = (struct pollfd){ conns[i].fd, POLLIN, 0 };
				map[n++] = i;
			}
		if (poll(p, (nfds_t)n, 500) < 0)
			continue; /* EINTR: a signal, checked above */
		for (int k = 0; k < n; k++) {
			if (!p[k].revents)
				continue;
			if (map[k] < 0) {
				int fd = accept(lfd, NULL, NULL), i;

				for (i = 0; fd >= 0 && i < MAX_CONNS && conns[i].fd >= 0; i++)
					;
				if (fd >= 0 && i < MAX_CONNS)
					conns[i] = (struct conn){ .fd = fd };
				else if (fd >= 0)
					close(fd);
			} else if (conns[map[k]].fd >= 0) {
				readable(map[k]);
			}
		}
	}
	unlink(argv[1]);
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			drop(i);
	for (int i = 0; i < MAX_NODES; i++) {
		free(nodes[i].path);
		free(nodes[i].value);
	}
	close(lfd);
	return 0;
}
