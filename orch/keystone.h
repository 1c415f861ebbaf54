/*
 * keystone: what the agent needs of OpenStack's identity service, without I/O: the
 * credentials file operators already keep (an openrc), the v3 token request made of it, and
 * the token's answer read back: when it expires and where Placement and Neutron are (its service
 * catalog).
 */
#ifndef DBAVM_KEYSTONE_H
#define DBAVM_KEYSTONE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct os_creds {
	char auth_url[512]; /* OS_AUTH_URL, as written */
	char username[256], password[256], project_name[256];
	char user_domain_name[256], project_domain_name[256]; /* default "Default" */
	char app_cred_id[256], app_cred_secret[256];
	char cacert[PATH_MAX]; /* OS_CACERT, "" for the system's CAs */
	char interface[32];    /* OS_INTERFACE, default "public" */
	char region[128];      /* OS_REGION_NAME, "" for any */
};

/*
 * An openrc's text: "export NAME=VALUE" or "NAME=VALUE" lines (VALUE bare, '...' or "..."),
 * '#' comments, "unset NAME..." lines; variables other than the ones above are ignored; a
 * value that needs the shell ($, `) is an error. Needs OS_AUTH_URL and either
 * OS_APPLICATION_CREDENTIAL_ID and _SECRET, or OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME.
 * 0, or -EINVAL with err saying which line and why (never a secret's value).
 */
int openrc_parse(const char *text, size_t len, struct os_creds *c, char *err, size_t err_len);
/* The same from a file, which must be a regular file not readable or writable by group or
 * others (mode 0600 or stricter). */
int openrc_load(const char *path, struct os_creds *c, char *err, size_t err_len);

/* The token request's URL (OS_AUTH_URL with /v3 if it has no version, then /auth/tokens) and
 * JSON body; malloc'd, NULL on allocation failure. */
char *keystone_tokens_url(const struct os_creds *c);
char *keystone_auth_body(const struct os_creds *c);

struct ks_token {
	int64_t lifetime_s;  /* expires_at - issued_at */
	char placement[512]; /* the catalog's placement endpoint for the interface and region,
				"" if it has none */
	char network[512];   /* ... and its network (Neutron) endpoint */
};

/* A token answer (201's body). 0, or -EINVAL with err saying what is missing. */
int keystone_parse_token(const char *body, size_t len, const struct os_creds *c, struct ks_token *t,
			 char *err, size_t err_len);

#endif
