/*
 * test_auth: the token file as auth_open reads it: a regular file of mode 0600 whose first
 * line is the token; a FIFO, a NUL inside the token or blanks around it are refused with a
 * message, never taken in part or waited on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

static char dir[] = "/tmp/dbavm-auth-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* Writes len bytes to the token file, mode 0600; returns its path. */
static const char *token_file(const char *bytes, size_t len)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", dir);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	fclose(f);
	chmod(path, 0600);
	return path;
}

/* auth_open's result for path, and its message in why. */
static int open_token(const char *path, char *why, size_t why_len)
{
	struct auth *a = NULL;
	int rc;

	why[0] = '\0';
	rc = auth_open(path, &a, why, why_len);
	if (!rc) {
		assert_true(auth_configured(a));
		auth_close(a);
	}
	return rc;
}

static void a_token_on_the_first_line_is_taken(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(open_token(token_file("s3cret0123456789\n", 17), why, sizeof(why)), 0);
	assert_int_equal(open_token(token_file("s3cret0123456789\r\nmore\n", 23), why, sizeof(why)),
			 0);
	assert_int_equal(open_token(token_file("s3cret0123456789", 16), why, sizeof(why)), 0);
}

static void what_a_client_cannot_send_is_refused(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *says;
	} bad[] = {
		{ "s3\0cret0123456789\n", 18, "NUL" },
		{ " s3cret0123456789\n", 18, "blank" },
		{ "s3cret0123456789 \n", 18, "blank" },
		{ "\ts3cret0123456789\n", 18, "blank" },
		{ "\n", 1, "16 to" },
		{ "", 0, "16 to" },
		/* 15 bytes: a guessable token is no token */
		{ "s3cret012345678\n", 16, "16 to" },
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = token_file(bad[i].bytes, bad[i].len);

		if (open_token(path, why, sizeof(why)) == 0)
			fail_msg("case %zu accepted", i);
		if (!strstr(why, bad[i].says) || !strstr(why, path))
			fail_msg("case %zu: '%s' names neither '%s' nor the file", i, why,
				 bad[i].says);
	}
}

static void a_fifo_is_refused_not_waited_on(void **state)
{
	char path[64], why[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5); /* a blocking open would hang here: SIGALRM ends the test as failed */
	assert_int_not_equal(open_token(path, why, sizeof(why)), 0);
	alarm(0);
	assert_non_null(strstr(why, "not a regular file"));
}

static void a_token_others_can_read_is_refused(void **state)
{
	char why[256];
	const char *path = token_file("s3cret0123456789\n", 17);

	(void)state;
	chmod(path, 0640);
	assert_int_not_equal(open_token(path, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "chmod 600"));
}

/* StrictModes: a token in a directory another user can write, or owned by another user, is
 * refused (they could swap it), saying which part of the path is wrong. */
static void a_token_others_can_replace_is_refused(void **state)
{
	char why[512];
	const char *path = token_file("s3cret0123456789\n", 17);

	(void)state;
	assert_int_equal(open_token(path, why, sizeof(why)), 0);
	chmod(dir, 0777); /* the directory it is in, writable by anyone, not sticky */
	assert_int_equal(open_token(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "the directory above it"));
	assert_non_null(strstr(why, "writable by others"));
	/* Sticky, as /tmp: nobody else can move or replace root's file there (one they made
	 * themselves is theirs, refused below) */
	chmod(dir, 01777);
	assert_int_equal(open_token(path, why, sizeof(why)), 0);
	chmod(dir, 0770);
	assert_int_equal(open_token(path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by its group"));
	chmod(dir, 0700);
	if (geteuid() == 0) { /* another owner takes root to make */
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(open_token(path, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "owned by another user"));
		assert_int_equal(chown(path, 0, 0), 0);
	}
	assert_int_equal(open_token(path, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_token_on_the_first_line_is_taken),
		cmocka_unit_test(what_a_client_cannot_send_is_refused),
		cmocka_unit_test(a_fifo_is_refused_not_waited_on),
		cmocka_unit_test(a_token_others_can_read_is_refused),
		cmocka_unit_test(a_token_others_can_replace_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
