/*
 * tls: OpenSSL reads and checks the files; GnuTLS (libmicrohttpd's TLS library in Debian)
 * gets the same PEM text as a certificate credential, with the client CA as its trust list
 * when one is given.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLS_FILE_MAX (1u << 20)

struct tls_creds {
	unsigned refs;
	char *cert_pem, *key_pem;
	bool require_client;
	gnutls_certificate_credentials_t cred;
	char describe[512];
};

/* The whole file, NUL-terminated; private: refused if group or others may read it. */
static char *slurp(const char *path, bool private, size_t *len, char *why, size_t why_len)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		snprintf(why, why_len, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "%s: not a regular file", path);
		goto out;
	}
	if (private && (st.st_mode & 077)) {
		snprintf(why, why_len,
			 "%s: a private key must not be open to group or others (mode %03o; "
			 "chmod 600 it)",
			 path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (st.st_size <= 0 || (size_t)st.st_size > TLS_FILE_MAX) {
		snprintf(why, why_len, "%s: empty or over 1 MiB", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(why, why_len, "%s: out of memory", path);
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		snprintf(why, why_len, "%s: short read", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	close(fd);
	return buf;
}

static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no PEM data");
	ERR_clear_error();
}

/* Checks with OpenSSL: a certificate, valid now, whose key is key; the CA file holds one
 * certificate at least. */
static int check(const char *cert_path, const char *cert, size_t cert_len, const char *key_path,
		 const char *key, size_t key_len, const char *ca_path, const char *ca,
		 size_t ca_len, char *describe, size_t dlen, char *why, size_t why_len)
{
	BIO *b = BIO_new_mem_buf(cert, (int)cert_len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = NULL;
	char reason[256], subject[256] = "", until[64] = "";
	int rc = -EINVAL;

	BIO_free(b);
	if (!x) {
		ssl_reason(reason, sizeof(reason));
		snprintf(why, why_len, "%s: not a PEM certificate (%s)", cert_path, reason);
		return rc;
	}
	b = BIO_new_mem_buf(key, (int)key_len);
	k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!k) {
		ssl_reason(reason, sizeof(reason));
		snprintf(why, why_len, "%s: not an unencrypted PEM private key (%s)", key_path,
			 reason);
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		snprintf(why, why_len, "%s: is not the key of the certificate in %s", key_path,
			 cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		snprintf(why, why_len, "%s: the certificate has expired", cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
		snprintf(why, why_len, "%s: the certificate is not valid yet", cert_path);
		goto out;
	}
	if (ca) {
		b = BIO_new_mem_buf(ca, (int)ca_len);
		X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

		BIO_free(b);
		if (!c) {
			ssl_reason(reason, sizeof(reason));
			snprintf(why, why_len, "%s: no PEM certificate in it (%s)", ca_path,
				 reason);
			goto out;
		}
		X509_free(c);
	}
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	b = BIO_new(BIO_s_mem());
	if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) > 0) {
		int n = BIO_read(b, until, (int)sizeof(until) - 1);

		until[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	snprintf(describe, dlen, "subject=\"%s\" not_after=\"%s\"", subject, until);
	rc = 0;
out:
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}

int tls_creds_load(const char *cert, const char *key, const char *client_ca, struct tls_creds **out,
		   char *why, size_t why_len)
{
	struct tls_creds *c = calloc(1, sizeof(*c));
	size_t cert_len = 0, key_len = 0, ca_len = 0;
	char *ca = NULL;
	int rc = -EINVAL;

	*out = NULL;
	if (!c) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	c->refs = 1;
	c->cert_pem = slurp(cert, false, &cert_len, why, why_len);
	if (!c->cert_pem || !(c->key_pem = slurp(key, true, &key_len, why, why_len)))
		goto fail;
	if (client_ca && *client_ca && !(ca = slurp(client_ca, false, &ca_len, why, why_len)))
		goto fail;
	if (check(cert, c->cert_pem, cert_len, key, c->key_pem, key_len, client_ca, ca, ca_len,
		  c->describe, sizeof(c->describe), why, why_len))
		goto fail;
	gnutls_datum_t dc = { (unsigned char *)c->cert_pem, (unsigned)cert_len };
	gnutls_datum_t dk = { (unsigned char *)c->key_pem, (unsigned)key_len };
	int g;

	if ((g = gnutls_certificate_allocate_credentials(&c->cred)) ||
	    (g = gnutls_certificate_set_x509_key_mem(c->cred, &dc, &dk, GNUTLS_X509_FMT_PEM))) {
		snprintf(why, why_len, "%s, %s: GnuTLS refused them: %s", cert, key,
			 gnutls_strerror(g));
		goto fail;
	}
	if (ca) {
		gnutls_datum_t da = { (unsigned char *)ca, (unsigned)ca_len };

		g = gnutls_certificate_set_x509_trust_mem(c->cred, &da, GNUTLS_X509_FMT_PEM);
		if (g <= 0) {
			snprintf(why, why_len, "%s: GnuTLS found no CA in it: %s", client_ca,
				 g < 0 ? gnutls_strerror(g) : "none");
			goto fail;
		}
		c->require_client = true;
	}
	free(ca);
	*out = c;
	return 0;
fail:
	free(ca);
	tls_creds_unref(c);
	return rc;
}

void tls_creds_ref(struct tls_creds *c)
{
	if (c)
		c->refs++;
}

void tls_creds_unref(struct tls_creds *c)
{
	if (!c || --c->refs)
		return;
	if (c->cred)
		gnutls_certificate_free_credentials(c->cred);
	free(c->cert_pem);
	if (c->key_pem) {
		memset(c->key_pem, 0, strlen(c->key_pem));
		free(c->key_pem);
	}
	free(c);
}

const char *tls_creds_cert_pem(const struct tls_creds *c)
{
	return c->cert_pem;
}

const char *tls_creds_key_pem(const struct tls_creds *c)
{
	return c->key_pem;
}

bool tls_creds_require_client(const struct tls_creds *c)
{
	return c->require_client;
}

void *tls_creds_gnutls(const struct tls_creds *c)
{
	return c->cred;
}

const char *tls_creds_describe(const struct tls_creds *c)
{
	return c->describe;
}
