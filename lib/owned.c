/*
 * owned: StrictModes for the agent's own files (owned.h). The path is resolved first
 * (realpath), so a link on the way is judged by where it leads, and each directory of the
 * resolved path is checked from the thing itself up to /.
 */
#include "owned.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why st is not the agent's own, or NULL. leaf: the thing itself (a sticky directory others
 * may write is no excuse there: they could plant names in it). */
static const char *not_own(const struct stat *st, bool leaf)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return "owned by another user";
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return NULL;
	if (!leaf && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
		return NULL;
	return st->st_mode & S_IWOTH ? "writable by others" : "writable by its group";
}

int owned_check(const char *what, const char *path, char *why, size_t why_len)
{
	char real[PATH_MAX], *slash, pre[PATH_MAX + 64] = "";
	struct stat st;
	const char *bad;
	bool leaf = true;

	if (what)
		snprintf(pre, sizeof(pre), "%s %s: ", what, path);

	if (!realpath(path, real)) {
		int rc = -errno;

		snprintf(why, why_len, "%s%s", pre, strerror(errno));
		return rc;
	}
	for (;;) {
		const char *at = real[0] ? real : "/"; /* "" is the root */

		if (stat(at, &st) < 0) {
			int rc = -errno;

			snprintf(why, why_len, "%s%s: %s", pre, at, strerror(errno));
			return rc;
		}
		if ((bad = not_own(&st, leaf))) {
			snprintf(why, why_len,
				 "%s%s%s is %s (uid %u, mode %04o); only root or the agent's "
				 "user may write it and the directories above it",
				 pre, leaf ? "" : "the directory above it ", at, bad,
				 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		if (!real[0])
			return 0;
		slash = strrchr(real, '/');
		*slash = '\0'; /* "/a/b" -> "/a"; "/a" -> "" (the root, checked last) */
		leaf = false;
	}
}
