/*
 * tls: the API's certificates. Files are checked with OpenSSL the way an operator would want
 * to hear of a mistake (the key file open to others, a key that is not the certificate's, a
 * certificate expired or not yet valid, a CA file without a certificate), then loaded as
 * GnuTLS credentials, which libmicrohttpd's sessions use. A reload (SIGHUP) makes new
 * credentials; sessions already running keep theirs (reference-counted) until they end.
 */
#ifndef DBAVM_TLS_H
#define DBAVM_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct tls_creds;

/* cert and key (PEM files), and client_ca (NULL or "": no client certificate asked for).
 * 0, or -EINVAL with why saying which file and what is wrong, in one line. */
int tls_creds_load(const char *cert, const char *key, const char *client_ca, struct tls_creds **out,
		   char *why, size_t why_len);
void tls_creds_ref(struct tls_creds *c);
void tls_creds_unref(struct tls_creds *c);

/* The PEM text of the certificate and key, for libmicrohttpd's start (valid while c is). */
const char *tls_creds_cert_pem(const struct tls_creds *c);
const char *tls_creds_key_pem(const struct tls_creds *c);
bool tls_creds_require_client(const struct tls_creds *c);
/* The GnuTLS certificate credentials (gnutls_certificate_credentials_t). */
void *tls_creds_gnutls(const struct tls_creds *c);
/* A line for the log: subject, expiry. */
const char *tls_creds_describe(const struct tls_creds *c);

#endif
