/*
 * agent_proc: the dbavmd process and libcurl plumbing the API tests share.
 */
#include "agent_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static int recording = 1; /* off while agent_start polls /healthz */

/* Every prepared agent until cleaned up: a failed assertion jumps past a test's own cleanup,
 * so the group teardown reaps what is left (agent_reap_all). */
static struct agent_proc *live[32];

static void track(struct agent_proc *a, int on)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (on && !live[i]) {
			live[i] = a;
			return;
		}
		if (!on && live[i] == a)
			live[i] = NULL;
	}
}

void agent_reap_all(void)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i])
			agent_cleanup(live[i]);
}

static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

void agent_prepare(struct agent_proc *a)
{
	FILE *f;

	memset(a, 0, sizeof(*a));
	snprintf(a->dir, sizeof(a->dir), "/tmp/dbavm-test-XXXXXX");
	if (!mkdtemp(a->dir))
		abort();
	snprintf(a->state_dir, sizeof(a->state_dir), "%s/state", a->dir);
	snprintf(a->token_file, sizeof(a->token_file), "%s/token", a->dir);
	snprintf(a->log, sizeof(a->log), "%s/log", a->dir);
	f = fopen(a->token_file, "w");
	fputs("s3cret0123456789\n", f);
	fclose(f);
	chmod(a->token_file, 0600);
	track(a, 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Whether the agent's log has a line containing what. */
static int log_says(const struct agent_proc *a, const char *what)
{
	char line[1024];
	FILE *f = fopen(a->log, "r");
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* Whether process pid holds the socket listening on 127.0.0.1:port: another agent on the same
 * port (tests run side by side) would answer /healthz as well. */
static int listens_on(pid_t pid, unsigned port)
{
	char line[512], want[32], path[64], link[64];
	unsigned long inode = 0;
	FILE *f = fopen("/proc/net/tcp", "r");
	int found = 0;

	snprintf(want, sizeof(want), "0100007F:%04X", port);
	while (f && !inode && fgets(line, sizeof(line), f)) {
		char local[32], st[8];
		unsigned long ino;

		if (sscanf(line, "%*s %31s %*s %7s %*s %*s %*s %*s %*s %lu", local, st, &ino) ==
			    3 &&
		    !strcmp(local, want) && !strcmp(st, "0A"))
			inode = ino;
	}
	if (f)
		fclose(f);
	for (int fd = 0; inode && !found && fd < 256; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			snprintf(line, sizeof(line), "socket:[%lu]", inode);
			found = !strcmp(link, line);
		}
	}
	return found;
}

static int start_once(struct agent_proc *a, const char *scenario, va_list ap)
{
	char port[16], listen[32], path[512];
	char *argv[56], *wrapper = getenv("DBAVM_TEST_WRAPPER"), *words = NULL;
	int argc = 0, status;

	a->port = free_port();
	snprintf(port, sizeof(port), "%u", a->port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", a->port);
	snprintf(path, sizeof(path), "%s/%s", DATA_DIR, scenario);
	/* DBAVM_TEST_WRAPPER: a command line the agent runs under (valgrind ...). */
	if (wrapper && *wrapper) {
		words = strdup(wrapper);
		for (char *w = strtok(words, " "); w && argc < 16; w = strtok(NULL, " "))
			argv[argc++] = w;
	}
	argv[argc++] = DBAVMD;
	argv[argc++] = "--platform=sim";
	argv[argc++] = "--scenario";
	argv[argc++] = path;
	argv[argc++] = "--listen";
	argv[argc++] = listen;
	argv[argc++] = "--state-dir";
	argv[argc++] = a->state_dir;
	while (argc < 54 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	argv[argc] = NULL;
	a->pid = fork();
	if (a->pid == 0) {
		int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 2);
		dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	free(words);
	for (int i = 0; i < 800; i++) {
		struct reply r;

		if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
			a->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		if (!listens_on(a->pid, a->port)) {
			sleep_ms(25);
			continue;
		}
		recording = 0;
		agent_http(a, "GET", "/healthz", NULL, NULL, NULL, 0, &r);
		recording = 1;
		reply_free(&r);
		if (r.status == 200)
			return 0;
		sleep_ms(25);
	}
	return -1;
}

int agent_start(struct agent_proc *a, const char *scenario, ...)
{
	va_list ap;
	int rc;

	/* A port free when asked may be taken before the agent binds it (tests run side by
	 * side): the agent then says so and exits, and is started again on another port. */
	for (int attempt = 0;; attempt++) {
		va_start(ap, scenario);
		rc = start_once(a, scenario, ap);
		va_end(ap);
		if (rc != 1 || attempt == 3 || !log_says(a, "api not started"))
			return rc;
		if (truncate(a->log, 0) != 0)
			return rc;
	}
}

int agent_stop(struct agent_proc *a)
{
	int status;

	if (a->pid <= 0)
		return -1;
	kill(a->pid, SIGTERM);
	if (waitpid(a->pid, &status, 0) != a->pid)
		return -1;
	a->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void agent_cleanup(struct agent_proc *a)
{
	char cmd[128];

	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", a->dir);
	track(a, 0);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + r->len, data, size * n);
	r->body = b;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (len > 18 && !strncasecmp(data, "WWW-Authenticate: ", 18))
		snprintf(r->www_authenticate, sizeof(r->www_authenticate), "%.*s",
			 (int)(len - 18 - 2), data + 18);
	if (len > 7 && !strncasecmp(data, "Allow: ", 7))
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 7 - 2), data + 7);
	return len;
}

static void record(const char *method, const char *path, const struct reply *r)
{
	const char *file = getenv("DBAVM_API_RECORD");
	json_t *rec;
	FILE *f;

	if (!file || !*file || !recording)
		return;
	rec = json_pack("{s:s, s:s, s:i, s:s, s:s%}", "method", method, "path", path, "status",
			(int)r->status, "content_type", r->content_type, "body",
			r->body ? r->body : "", r->len);
	f = fopen(file, "a");
	if (f && rec) {
		json_dumpf(rec, f, JSON_COMPACT);
		fputc('\n', f);
	}
	if (f)
		fclose(f);
	json_decref(rec);
}

void agent_http(const struct agent_proc *a, const char *method, const char *path, const char *token,
		const char *content_type, const char *body, size_t len, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[512], hdr[256];
	char *ct = NULL;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", a->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (token) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, hdr);
	}
	if (content_type) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, hdr);
	} else {
		hdrs = curl_slist_append(hdrs, "Content-Type:"); /* curl's default removed */
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ct)
			snprintf(r->content_type, sizeof(r->content_type), "%s", ct);
		record(method, path, r);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

void reply_free(struct reply *r)
{
	free(r->body);
	r->body = NULL;
}

json_t *reply_json(const struct reply *r)
{
	return r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}
