/*
 * keystone: openrc parsing, the v3 password or application-credential token request, and the
 * token answer (its lifetime, Placement's endpoint). Pure functions over text: the fuzzer and
 * the unit tests drive them directly.
 */
#include "keystone.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct var {
	const char *name;
	size_t off, size;
};

/* Debian 12's and 13's clang-format lay out a braced initialiser in a macro apart. */
/* clang-format off */
#define V(n, f) { n, offsetof(struct os_creds, f), sizeof(((struct os_creds *)0)->f) }
/* clang-format on */
static const struct var vars[] = {
	V("OS_AUTH_URL", auth_url),
	V("OS_USERNAME", username),
	V("OS_PASSWORD", password),
	V("OS_PROJECT_NAME", project_name),
	V("OS_USER_DOMAIN_NAME", user_domain_name),
	V("OS_PROJECT_DOMAIN_NAME", project_domain_name),
	V("OS_APPLICATION_CREDENTIAL_ID", app_cred_id),
	V("OS_APPLICATION_CREDENTIAL_SECRET", app_cred_secret),
	V("OS_CACERT", cacert),
	V("OS_INTERFACE", interface),
	V("OS_REGION_NAME", region),
};
#undef V

static int line_error(char *err, size_t len, int lineno, const char *msg, const char *name)
{
	snprintf(err, len, "line %d: %s%s", lineno, name ? name : "", msg);
	return -EINVAL;
}

/* The value after '=': bare (to the end or a '#' after a blank), '...' or "...". */
static int unquote(char *v, int lineno, const char *name, char *err, size_t err_len)
{
	char *out = v, q = 0;

	if (*v == '\'' || *v == '"')
		q = *v++;
	for (; *v; v++) {
		if (q && *v == q) {
			char *rest = v + 1;

			while (*rest == ' ' || *rest == '\t')
				rest++;
			if (*rest && *rest != '#')
				return line_error(err, err_len, lineno,
						  ": text after the closing quote", name);
			*out = '\0';
			return 0;
		}
		if (q != '\'' && (*v == '$' || *v == '`'))
			return line_error(err, err_len, lineno,
					  ": needs the shell ($ or `): write the value itself",
					  name);
		if (q != '\'' && *v == '\\') {
			if (!v[1])
				break;
			v++;
		} else if (!q && (*v == ' ' || *v == '\t')) {
			char *rest = v;

			while (*rest == ' ' || *rest == '\t')
				rest++;
			if (*rest && *rest != '#')
				return line_error(err, err_len, lineno,
						  ": a blank in an unquoted value", name);
			break;
		}
		*out++ = *v;
	}
	if (q)
		return line_error(err, err_len, lineno, ": no closing quote", name);
	*out = '\0';
	return 0;
}

static int parse_line(char *line, int lineno, struct os_creds *c, char *err, size_t err_len)
{
	char *eq, *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#')
		return 0;
	if (!strncmp(p, "unset", 5) && (p[5] == ' ' || p[5] == '\t' || !p[5]))
		return 0;
	if (!strncmp(p, "export", 6) && (p[6] == ' ' || p[6] == '\t')) {
		p += 6;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	eq = p;
	while ((*eq >= 'A' && *eq <= 'Z') || (*eq >= 'a' && *eq <= 'z') ||
	       (*eq >= '0' && *eq <= '9') || *eq == '_')
		eq++;
	if (eq == p || *eq != '=')
		return line_error(err, err_len, lineno,
				  "not NAME=VALUE, export NAME=VALUE, unset or a comment", NULL);
	*eq = '\0';
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		char *dst = (char *)c + vars[i].off;
		int rc;

		if (strcmp(p, vars[i].name))
			continue;
		rc = unquote(eq + 1, lineno, p, err, err_len);
		if (rc)
			return rc;
		if (strlen(eq + 1) >= vars[i].size)
			return line_error(err, err_len, lineno, ": too long", p);
		json_t *utf8 = json_string(eq + 1); /* NULL unless valid UTF-8: it goes into JSON */

		if (!utf8)
			return line_error(err, err_len, lineno, ": not UTF-8", p);
		json_decref(utf8);
		strcpy(dst, eq + 1);
		return 0;
	}
	return 0; /* another variable: OS_IDENTITY_API_VERSION and the like */
}

int openrc_parse(const char *text, size_t len, struct os_creds *c, char *err, size_t err_len)
{
	char line[2048];
	size_t i = 0;
	int lineno = 0, rc;

	memset(c, 0, sizeof(*c));
	while (i < len) {
		size_t n = 0;

		lineno++;
		while (i < len && text[i] != '\n') {
			if (text[i] == '\0')
				return line_error(err, err_len, lineno, "a NUL byte", NULL);
			if (n + 1 >= sizeof(line))
				return line_error(err, err_len, lineno, "line too long", NULL);
			line[n++] = text[i++];
		}
		i++;
		if (n && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		rc = parse_line(line, lineno, c, err, err_len);
		if (rc)
			return rc;
	}
	if (!c->auth_url[0]) {
		snprintf(err, err_len, "OS_AUTH_URL is not set");
		return -EINVAL;
	}
	if (strncmp(c->auth_url, "http://", 7) && strncmp(c->auth_url, "https://", 8)) {
		snprintf(err, err_len, "OS_AUTH_URL must start with http:// or https://");
		return -EINVAL;
	}
	if (c->app_cred_id[0] || c->app_cred_secret[0]) {
		if (!c->app_cred_id[0] || !c->app_cred_secret[0]) {
			snprintf(err, err_len,
				 "OS_APPLICATION_CREDENTIAL_ID and "
				 "OS_APPLICATION_CREDENTIAL_SECRET go together");
			return -EINVAL;
		}
	} else if (!c->username[0] || !c->password[0] || !c->project_name[0]) {
		snprintf(err, err_len,
			 "needs OS_APPLICATION_CREDENTIAL_ID and _SECRET, or "
			 "OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME");
		return -EINVAL;
	}
	if (!c->user_domain_name[0])
		strcpy(c->user_domain_name, "Default");
	if (!c->project_domain_name[0])
		strcpy(c->project_domain_name, "Default");
	if (!c->interface[0])
		strcpy(c->interface, "public");
	if (strcmp(c->interface, "public") && strcmp(c->interface, "internal") &&
	    strcmp(c->interface, "admin")) {
		snprintf(err, err_len, "OS_INTERFACE must be public, internal or admin");
		return -EINVAL;
	}
	return 0;
}

int openrc_load(const char *path, struct os_creds *c, char *err, size_t err_len)
{
	char buf[65536], why[256];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

	if (fd < 0) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, err_len,
			 "%s: holds a secret, must not be open to group or others "
			 "(mode %03o; chmod 600 it)",
			 path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -EINVAL;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || (size_t)n == sizeof(buf)) {
		snprintf(err, err_len, "%s: %s", path, n < 0 ? strerror(errno) : "too long");
		return -EINVAL;
	}
	rc = openrc_parse(buf, (size_t)n, c, why, sizeof(why));
	memset(buf, 0, sizeof(buf));
	if (rc)
		snprintf(err, err_len, "%s: %s", path, why);
	return rc;
}

char *keystone_tokens_url(const struct os_creds *c)
{
	size_t n = strlen(c->auth_url);
	char *url;

	while (n && c->auth_url[n - 1] == '/')
		n--;
	bool versioned = n >= 3 && !strncmp(c->auth_url + n - 3, "/v3", 3);

	if (asprintf(&url, "%.*s%s/auth/tokens", (int)n, c->auth_url, versioned ? "" : "/v3") < 0)
		return NULL;
	return url;
}

char *keystone_auth_body(const struct os_creds *c)
{
	json_t *root;
	char *s;

	if (c->app_cred_id[0])
		root = json_pack("{s:{s:{s:[s],s:{s:s,s:s}}}}", "auth", "identity", "methods",
				 "application_credential", "application_credential", "id",
				 c->app_cred_id, "secret", c->app_cred_secret);
	else
		root = json_pack("{s:{s:{s:[s],s:{s:{s:s,s:s,s:{s:s}}}},s:{s:{s:s,s:{s:s}}}}}",
				 "auth", "identity", "methods", "password", "password", "user",
				 "name", c->username, "password", c->password, "domain", "name",
				 c->user_domain_name, "scope", "project", "name", c->project_name,
				 "domain", "name", c->project_domain_name);
	if (!root)
		return NULL;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* "2026-12-01T12:00:00.000000Z" (fractions and Z optional) as seconds since the epoch. */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int n = 0;

	if (!s ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    !n)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static const char *find_endpoint(const json_t *catalog, const struct os_creds *c,
				 const char *service)
{
	size_t i, j;
	const json_t *svc, *ep;

	json_array_foreach(catalog, i, svc) {
		const char *type = json_string_value(json_object_get(svc, "type"));

		if (!type || strcmp(type, service))
			continue;
		json_array_foreach(json_object_get(svc, "endpoints"), j, ep) {
			const char *iface = json_string_value(json_object_get(ep, "interface"));
			const char *region = json_string_value(json_object_get(ep, "region_id"));
			const char *url = json_string_value(json_object_get(ep, "url"));

			if (!region)
				region = json_string_value(json_object_get(ep, "region"));
			if (!iface || !url || strcmp(iface, c->interface))
				continue;
			if (c->region[0] && (!region || strcmp(region, c->region)))
				continue;
			return url;
		}
	}
	return NULL;
}

int keystone_parse_token(const char *body, size_t len, const struct os_creds *c, struct ks_token *t,
			 char *err, size_t err_len)
{
	json_t *root = json_loadb(body, len, 0, NULL), *tok;
	int64_t issued, expires;
	const char *url;
	int rc = -EINVAL;

	memset(t, 0, sizeof(*t));
	tok = json_object_get(root, "token");
	if (!json_is_object(tok)) {
		snprintf(err, err_len, "the answer has no token object");
		goto out;
	}
	if (parse_time(json_string_value(json_object_get(tok, "expires_at")), &expires) ||
	    parse_time(json_string_value(json_object_get(tok, "issued_at")), &issued) ||
	    expires <= issued) {
		snprintf(err, err_len, "the token has no valid issued_at and expires_at");
		goto out;
	}
	t->lifetime_s = expires - issued;
	url = find_endpoint(json_object_get(tok, "catalog"), c, "placement");
	if (url && strlen(url) < sizeof(t->placement))
		strcpy(t->placement, url);
	url = find_endpoint(json_object_get(tok, "catalog"), c, "network");
	if (url && strlen(url) < sizeof(t->network))
		strcpy(t->network, url);
	rc = 0;
out:
	json_decref(root);
	return rc;
}
