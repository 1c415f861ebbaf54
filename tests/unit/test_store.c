/*
 * The durable SLA store: changes survive a reopen, completions come back in order (several
 * per write under load), a corrupt file is kept aside untouched, a failed write changes
 * nothing and says so.
 */
#include <errno.h>
#include <poll.h>
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

#include "store.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/dbavm-test-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[96];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

struct done_log {
	int n;
	intptr_t order[256];
	int rc[256];
};

static void on_done(void *cookie, int rc, void *arg)
{
	struct done_log *d = arg;

	d->order[d->n] = (intptr_t)cookie;
	d->rc[d->n++] = rc;
}

/* Waits until n completions have come back. */
static void wait_done(struct store *st, struct done_log *d, int n)
{
	for (int i = 0; i < 500 && d->n < n; i++) {
		struct pollfd p = { store_event_fd(st), POLLIN, 0 };

		if (poll(&p, 1, 10) > 0)
			store_complete(st, on_done, d);
	}
	assert_int_equal(d->n, n);
}

static const struct sla *find(const struct store_load *ld, const char *id)
{
	for (size_t i = 0; i < ld->n_entries; i++)
		if (!strcmp(ld->entries[i].id, id))
			return &ld->entries[i].sla;
	return NULL;
}

static void store_changes_survive_reopen_in_order(void **state)
{
	struct store *st;
	struct store_load ld;
	struct done_log d = { 0 };
	struct sla s = { 3, 2, 100, 200, 5, SLA_UNLIMITED };
	char id[16];

	(void)state;
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_int_equal(ld.n_entries, 0);
	assert_false(ld.corrupt);
	/* 100 changes at once: group commit writes them in few files, completes all in order. */
	for (intptr_t i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "vm%d", (int)(i % 10));
		s.min_bps = (uint64_t)i;
		assert_int_equal(store_submit(st, id, i % 10 == 9 && i > 50 ? NULL : &s, (void *)i),
				 0);
	}
	assert_int_equal(store_in_flight(st), 100);
	wait_done(st, &d, 100);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(d.order[i], i);
		assert_int_equal(d.rc[i], 0);
	}
	assert_int_equal(store_in_flight(st), 0);
	store_close(st);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_int_equal(ld.n_entries, 9); /* vm9 was deleted last */
	assert_null(find(&ld, "vm9"));
	assert_int_equal(find(&ld, "vm3")->min_bps, 93);
	assert_int_equal(find(&ld, "vm3")->priority, 3);
	assert_true(find(&ld, "vm3")->max_pps == SLA_UNLIMITED);
	store_close(st);
}

static void store_keeps_a_corrupt_file_aside(void **state)
{
	char path[128], cmd[4400];
	struct store *st;
	struct store_load ld;
	struct done_log d = { 0 };
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/slas.json", dir);
	f = fopen(path, "w");
	fputs("{\"version\": 1, \"slas\": {\"vm1\": ", f);
	fclose(f);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_true(ld.corrupt);
	assert_int_equal(ld.n_entries, 0);
	assert_non_null(strstr(ld.kept_at, "slas.json.corrupt-"));
	assert_true(ld.why[0] != '\0');
	assert_int_equal(access(path, F_OK), -1);
	store_submit(st, "vm2", &(struct sla){ 1, 1, 0, SLA_UNLIMITED, 0, SLA_UNLIMITED }, NULL);
	wait_done(st, &d, 1);
	assert_int_equal(d.rc[0], 0);
	snprintf(cmd, sizeof(cmd), "test \"$(cat '%s')\" = '{\"version\": 1, \"slas\": {\"vm1\": '",
		 ld.kept_at);
	assert_int_equal(system(cmd), 0);
	store_close(st);
}

/* An unusable file's reason says where, never what: /readyz shows it, without auth. */
static void store_says_where_a_file_is_bad_not_what_it_holds(void **state)
{
	char path[128];
	struct store *st;
	struct store_load ld;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/slas.json", dir);
	f = fopen(path, "w");
	fputs("hunter2 is the password\n", f);
	fclose(f);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_true(ld.corrupt);
	assert_non_null(strstr(ld.why, "line 1"));
	if (strstr(ld.why, "hunter"))
		fail_msg("the reason quotes the file: %s", ld.why);
	store_close(st);
}

/* A FIFO where the file belongs is kept aside like any unusable file, not waited on. */
static void store_refuses_a_fifo_without_waiting(void **state)
{
	char path[128];
	struct store *st;
	struct store_load ld;

	(void)state;
	snprintf(path, sizeof(path), "%s/slas.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5); /* a blocking open would hang: SIGALRM ends the test as failed */
	assert_int_equal(store_open(dir, &st, &ld), 0);
	alarm(0);
	assert_true(ld.corrupt);
	assert_int_equal(ld.n_entries, 0);
	store_close(st);
}

static void store_leftover_temp_file_is_not_the_state(void **state)
{
	char path[128];
	struct store *st;
	struct store_load ld;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/slas.json.tmp", dir);
	f = fopen(path, "w");
	fputs("{\"version\": 1, \"slas\": {\"half\": {\"priority\":", f);
	fclose(f);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_false(ld.corrupt);
	assert_null(find(&ld, "half"));
	assert_int_equal(access(path, F_OK), -1);
	store_close(st);
}

static void store_failed_write_reports_and_changes_nothing(void **state)
{
	char sub[96], cmd[128];
	struct store *st;
	struct store_load ld;
	struct done_log d = { 0 };

	(void)state;
	snprintf(sub, sizeof(sub), "%s/gone", dir);
	assert_int_equal(store_open(sub, &st, &ld), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sub);
	assert_int_equal(system(cmd), 0);
	store_submit(st, "vm1", &(struct sla){ 1, 1, 0, SLA_UNLIMITED, 0, SLA_UNLIMITED }, NULL);
	wait_done(st, &d, 1);
	assert_true(d.rc[0] < 0);
	store_close(st);
}

static void store_refuses_an_unusable_directory(void **state)
{
	char file[96];
	struct store *st;
	struct store_load ld;
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "%s/plainfile", dir);
	f = fopen(file, "w");
	fclose(f);
	assert_true(store_open(file, &st, &ld) < 0);
	assert_null(st);
	assert_true(ld.why[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(store_changes_survive_reopen_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_keeps_a_corrupt_file_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(store_says_where_a_file_is_bad_not_what_it_holds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(store_refuses_a_fifo_without_waiting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_leftover_temp_file_is_not_the_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_failed_write_reports_and_changes_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(store_refuses_an_unusable_directory, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
