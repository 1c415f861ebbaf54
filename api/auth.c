/*
 * auth: the token is kept only as its SHA-256, and a presented token is hashed and compared
 * with CRYPTO_memcmp, so the time a check takes says nothing about the token, not even its
 * length.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "owned.h"

#define TOKEN_MAX 4096
#define TOKEN_MIN 16 /* a guessable token is no token */

struct auth {
	bool configured;
	unsigned char digest[32];
};

static int sha256(const char *data, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -EIO;
}

int auth_open(const char *path, struct auth **out, char *why, size_t why_len)
{
	char buf[TOKEN_MAX + 2];
	struct auth *a = calloc(1, sizeof(*a));
	struct stat sb;
	ssize_t n;
	size_t len;
	int fd, rc;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	if (!path || !*path) {
		*out = a;
		return 0;
	}
	/* Its directories too: another user who can write one could swap the token. */
	rc = owned_check(NULL, path, why, why_len);
	if (rc)
		goto fail;
	/* O_NONBLOCK: a FIFO in its place opens at once, to be refused below, where a blocking
	 * open would wait for a writer forever. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		snprintf(why, why_len, "%s: not a regular file", path);
		goto fail_fd;
	}
	if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
		rc = -EPERM;
		snprintf(why, why_len, "%s: owned by another user (uid %u); chown it to root", path,
			 (unsigned)sb.st_uid);
		goto fail_fd;
	}
	if (sb.st_mode & 077) {
		rc = -EPERM;
		snprintf(why, why_len, "%s: mode %03o lets group or others at the token; chmod 600",
			 path, (unsigned)(sb.st_mode & 0777));
		goto fail_fd;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		rc = -errno;
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		goto fail_fd;
	}
	close(fd);
	buf[n] = '\0';
	for (len = 0; len < (size_t)n && buf[len] != '\r' && buf[len] != '\n'; len++)
		;
	if (len < TOKEN_MIN || len > TOKEN_MAX) {
		rc = -EINVAL;
		snprintf(why, why_len,
			 "%s: the token must be %d to %d bytes on the first line (%zu); make one "
			 "with: od -An -tx1 -N32 /dev/urandom | tr -d ' \\n'",
			 path, TOKEN_MIN, TOKEN_MAX, len);
		goto fail;
	}
	/* What a client cannot send, or what one would send without meaning to. */
	if (memchr(buf, '\0', len)) {
		rc = -EINVAL;
		snprintf(why, why_len, "%s: the token holds a NUL byte", path);
		goto fail;
	}
	if (buf[0] == ' ' || buf[0] == '\t' || buf[len - 1] == ' ' || buf[len - 1] == '\t') {
		rc = -EINVAL;
		snprintf(why, why_len, "%s: the token begins or ends with a blank", path);
		goto fail;
	}
	rc = sha256(buf, len, a->digest);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc) {
		snprintf(why, why_len, "%s: hashing failed", path);
		goto fail;
	}
	a->configured = true;
	*out = a;
	return 0;
fail_fd:
	close(fd);
fail:
	OPENSSL_cleanse(buf, sizeof(buf));
	free(a);
	return rc;
}

void auth_close(struct auth *a)
{
	if (a)
		OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

bool auth_configured(const struct auth *a)
{
	return a && a->configured;
}

bool auth_check(const struct auth *a, const char *header)
{
	unsigned char digest[32];
	const char *token;

	if (!auth_configured(a) || !header || strncasecmp(header, "Bearer ", 7) != 0)
		return false;
	token = header + 7;
	while (*token == ' ')
		token++;
	if (sha256(token, strlen(token), digest))
		return false;
	return CRYPTO_memcmp(digest, a->digest, sizeof(digest)) == 0;
}
