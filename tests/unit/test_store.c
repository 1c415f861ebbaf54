/*
 * The durable SLA store: changes survive a reopen, completions come back in order (several
 * per write under load), a corrupt file is kept aside untouched, a failed write changes
 * nothing and says so; each of its four files truncated, zero-filled, bit-flipped or deleted
 * in turn costs at most what that file alone held, and a loss with nothing to rebuild from
 * is said at every start until acknowledged.
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
#include <jansson.h>
#include <time.h>
#include <zlib.h>

#include "boottime.h"
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

static void on_done_count(void *cookie, int rc, void *arg)
{
	(void)cookie, (void)arg;
	assert_int_equal(rc, 0);
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

static const struct sla_spec *find(const struct store_load *ld, const char *id)
{
	for (size_t i = 0; i < ld->n_entries; i++)
		if (!strcmp(ld->entries[i].id, id))
			return &ld->entries[i].sla;
	return NULL;
}

/* Submits n changes at once and waits for them: ids <prefix><i>, min_bps base + i (del: removed).
 */
static void change_many(struct store *st, const char *prefix, int from, int to, uint64_t base,
			bool del)
{
	char id[32];

	for (int i = from; i < to; i++) {
		struct sla_spec s =
			SLA_SPEC_EGRESS(1, 1, base + (uint64_t)i, SLA_UNLIMITED, 0, SLA_UNLIMITED);

		snprintf(id, sizeof(id), "%s%d", prefix, i);
		assert_int_equal(store_submit(st, STORE_VM, id, del ? NULL : &s, 0, NULL), 0);
	}
	for (int i = 0; i < 3000 && store_in_flight(st); i++) {
		struct pollfd p = { store_event_fd(st), POLLIN, 0 };

		if (poll(&p, 1, 10) > 0)
			store_complete(st, on_done_count, NULL);
	}
	assert_int_equal(store_in_flight(st), 0);
}

/* Writes text as the file at path. */
static void put_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static off_t file_size(const char *name)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) ? -1 : sb.st_size;
}

/* A change costs one appended line: the snapshot is not rewritten, whatever it holds. */
/* A VM gone an hour ago, on this boot's clock: what an absence is in memory. */
static int64_t an_hour_ago(void)
{
	static int64_t t;

	if (!t)
		t = boot_stamp_now() - 3600;
	return t;
}

static void store_a_put_appends_a_line(void **state)
{
	struct store *st;
	struct store_load ld;
	off_t log0, log1;

	(void)state;
	assert_int_equal(store_open(dir, &st, &ld), 0);
	store_compact_after(st, 64);
	change_many(st, "a", 0, 1000, 0, false); /* past the compaction's 64 lines */
	assert_int_equal(store_submit(st, STORE_VM, "gone",
				      &SLA_SPEC_EGRESS(1, 1, 0, SLA_UNLIMITED, 0, SLA_UNLIMITED),
				      an_hour_ago(), NULL),
			 0);
	change_many(st, "a", 0, 2000, 7, false); /* the log as large as the snapshot: folded */
	store_close(st); /* after the compaction that follows the completions */
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_true(file_size("slas.json") > 1000 * 100);
	log0 = file_size("slas.log");
	change_many(st, "b", 0, 1, 0, false);
	log1 = file_size("slas.log");
	assert_true(log1 - log0 > 40 && log1 - log0 < 200);
	store_close(st);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_int_equal(ld.n_entries, 2002);
	{
		char cmd[160];

		/* in the snapshot, not only the log, as a duration */
		snprintf(cmd, sizeof(cmd),
			 "grep -A3 '^  \"gone\": {' %s/slas.json | grep -q '\"s\": 36[0-9][0-9]'",
			 dir);
		assert_int_equal(system(cmd), 0);
	}
	for (size_t i = 0; i < ld.n_entries; i++) /* kept through the snapshots */
		assert_int_equal(ld.entries[i].absent_since,
				 strcmp(ld.entries[i].id, "gone") ? 0 : an_hour_ago());
	assert_false(ld.recovered);
	store_close(st);
}

static int copy_dir(const char *from, const char *to)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
	return system(cmd);
}

/* Damage: 't' truncate to half, 'z' zero-fill, 'f' flip a bit mid-file, 'd' delete. */
static void damage(const char *d, const char *name, char how)
{
	char path[160];
	struct stat sb;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d, name);
	assert_int_equal(stat(path, &sb), 0);
	if (how == 'd') {
		assert_int_equal(unlink(path), 0);
		return;
	}
	if (how == 't') {
		assert_int_equal(truncate(path, sb.st_size / 2), 0);
		return;
	}
	f = fopen(path, "r+");
	assert_non_null(f);
	if (how == 'z') {
		for (off_t i = 0; i < sb.st_size; i++)
			fputc(0, f);
	} else {
		int c;

		fseek(f, sb.st_size / 2, SEEK_SET);
		c = fgetc(f);
		fseek(f, sb.st_size / 2, SEEK_SET);
		fputc(c ^ 0x04, f);
	}
	fclose(f);
}

/*
 * Two generations and their logs on disk (N SLAs, changed twice, then 15 changes more);
 * each file truncated, zero-filled, bit-flipped and deleted in turn. Damage to a snapshot or
 * to the older log costs nothing; to the newest log, what it alone held (a bit flip: the
 * one change), said; both snapshots zero-filled: lost, and said so.
 */
#define N 200
static void store_survives_each_file_damaged(void **state)
{
	static const char *const files[] = { "slas.json", "slas.json.prev", "slas.log",
					     "slas.log.prev" };
	static const char hows[] = "tzfd";
	char pristine[96], work[96];
	struct store *st;
	struct store_load ld;

	(void)state;
	snprintf(pristine, sizeof(pristine), "%s/pristine", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	assert_int_equal(store_open(pristine, &st, &ld), 0);
	store_compact_after(st, 64); /* the same files as 4096 would make, smaller */
	change_many(st, "a", 0, N, 0, false);
	change_many(st, "a", 0, N, 1000000, false);
	change_many(st, "a", 0, N, 2000000, false);
	change_many(st, "c", 0, 10, 0, false);
	change_many(st, "a", 0, 5, 0, true);
	store_close(st);
	for (size_t i = 0; i < 4; i++) {
		char path[160];

		snprintf(path, sizeof(path), "%s/%s", pristine, files[i]);
		if (access(path, F_OK))
			fail_msg("the pristine state has no %s", files[i]);
	}
	printf("  file            damage  SLAs (of %d)  lost  recovered  changes lost\n", N + 5);
	for (size_t i = 0; i < 5; i++)
		for (const char *how = hows; *how; how++) {
			size_t wrong = 0;

			if (i == 4 && *how != 'z')
				continue;
			assert_int_equal(copy_dir(pristine, work), 0);
			if (i == 4) { /* both snapshots */
				damage(work, files[0], 'z');
				damage(work, files[1], 'z');
			} else {
				damage(work, files[i], *how);
			}
			assert_int_equal(store_open(work, &st, &ld), 0);
			for (size_t k = 0; k < ld.n_entries; k++) {
				const struct store_entry *e = &ld.entries[k];
				int n = atoi(e->id + 1);

				/* the newest log damaged: what was put, or what was put before
				 * (the snapshot it follows was made at some point of the third
				 * round of changes: where depends on how they were batched) */
				bool older_ok = i == 2;

				wrong += e->id[0] == 'a'
						 ? (e->sla.dir[SLA_EGRESS].min_bps !=
							    2000000 + (uint64_t)n &&
						    !(older_ok && e->sla.dir[SLA_EGRESS].min_bps ==
									  1000000 + (uint64_t)n)) ||
							   (n < 5 && !older_ok)
						 : e->sla.dir[SLA_EGRESS].min_bps != (uint64_t)n;
			}
			printf("  %-15s %c       %13zu  %4s  %9s  %zu\n",
			       i == 4 ? "both snapshots" : files[i], *how, ld.n_entries,
			       ld.lost ? "yes" : "no", ld.recovered ? "yes" : "no", ld.n_lost);
			assert_int_equal(wrong, 0); /* what survives is what was put */
			if (i == 4) {
				assert_true(ld.lost);
				assert_int_equal(ld.n_entries, 0);
			} else if (i != 2) { /* a snapshot or the older log: nothing lost */
				assert_false(ld.lost);
				assert_int_equal(ld.n_entries, N + 5);
				assert_int_equal(ld.n_lost, 0);
			} else if (*how == 'f') { /* the one change in the flipped line */
				assert_true(ld.recovered);
				assert_int_equal(ld.n_lost, 1);
				assert_true(ld.n_entries >= N + 4 && ld.n_entries <= N + 6);
			} else if (*how == 't') { /* a torn tail: what was before it */
				assert_false(ld.lost);
				assert_true(ld.n_entries >= N && ld.n_entries <= N + 10);
			} else { /* the log gone: the snapshot it followed */
				assert_true(ld.recovered);
				assert_true(ld.n_lost >= 1);
				assert_int_equal(ld.n_entries, N);
			}
			store_close(st);
			/* and the start after it finds a consistent state, nothing more lost */
			assert_int_equal(store_open(work, &st, &ld), 0);
			assert_false(ld.recovered);
			store_close(st);
		}
}

static void store_changes_survive_reopen_in_order(void **state)
{
	struct store *st;
	struct store_load ld;
	struct done_log d = { 0 };
	struct sla_spec s = SLA_SPEC_EGRESS(3, 2, 100, 200, 5, SLA_UNLIMITED);
	char id[16];

	(void)state;
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_int_equal(ld.n_entries, 0);
	assert_false(ld.lost);
	assert_false(ld.recovered);
	/* 100 changes at once: group commit writes them in few files, completes all in order. */
	for (intptr_t i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "vm%d", (int)(i % 10));
		s.dir[SLA_EGRESS].min_bps = (uint64_t)i;
		assert_int_equal(store_submit(st, STORE_VM, id, i % 10 == 9 && i > 50 ? NULL : &s,
					      i == 95 ? an_hour_ago() : 0, (void *)i),
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
	assert_int_equal(find(&ld, "vm3")->dir[SLA_EGRESS].min_bps, 93);
	for (size_t i = 0; i < ld.n_entries; i++) /* the absence stored with vm5's last change */
		assert_int_equal(ld.entries[i].absent_since,
				 strcmp(ld.entries[i].id, "vm5") ? 0 : an_hour_ago());
	assert_int_equal(find(&ld, "vm3")->dir[SLA_EGRESS].priority, 3);
	assert_true(find(&ld, "vm3")->dir[SLA_EGRESS].max_pps == SLA_UNLIMITED);
	store_close(st);
}

/* Field by field (a struct's padding is not its value), the source included. */
static bool spec_equal(const struct sla_spec *a, const struct sla_spec *b)
{
	return sla_spec_same(a, b);
}

/* A whole SLA (both directions, bursts, a mark, a source) read back as it was put: from the
 * log, and from a snapshot after compaction. An egress-only SLA of the API's is written as
 * before (no ingress or source key), so a state directory of an agent before directions loads
 * unchanged. */
static void store_keeps_both_directions_bursts_and_marks(void **state)
{
	struct store *st;
	struct store_load ld;
	struct done_log d = { 0 };
	struct sla_spec s, e = SLA_SPEC_EGRESS(1, 1, 0, 20000000, 0, SLA_UNLIMITED);
	char *line;

	(void)state;
	sla_spec_default(&s);
	s.dir[SLA_EGRESS] = e.dir[SLA_EGRESS];
	s.dir[SLA_INGRESS] = (struct sla){ 2, 3, 1000000, 30000000, 10, 5000 };
	s.burst[SLA_EGRESS].bits = 4000000;
	s.burst[SLA_INGRESS].packets = 50;
	s.dscp_set = 1;
	s.dscp = 26;
	/* kept as Neutron says: the source goes to disk with it */
	s.source.from = SLA_FROM_NEUTRON;
	strcpy(s.source.policy_id, "5af80663-18fd-49d0-9dfa-a13f53e45b61");
	strcpy(s.source.port_id, "2bc57671-6aed-4bd8-befd-1526b8a277ef");
	s.source.revision = 7;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_open(dir, &st, &ld), 0);
		if (round) /* the next change compacts: the SLAs come back from a snapshot */
			store_compact_after(st, 1);
		assert_int_equal(store_submit(st, STORE_VM, "vm1", &s, 0, (void *)0), 0);
		assert_int_equal(store_submit(st, STORE_VM, "vm2", &e, 0, (void *)1), 0);
		wait_done(st, &d, 2 * (round + 1));
		store_close(st);
		assert_int_equal(store_open(dir, &st, &ld), 0);
		assert_false(ld.recovered);
		assert_int_equal(ld.n_entries, 2);
		assert_non_null(find(&ld, "vm1"));
		assert_non_null(find(&ld, "vm2"));
		assert_true(spec_equal(find(&ld, "vm1"), &s));
		assert_true(spec_equal(find(&ld, "vm2"), &e));
		assert_false(spec_equal(find(&ld, "vm1"), &e));
		store_close(st);
	}
	line = store_log_line(STORE_VM, "vm2", &e, 0, 0);
	assert_non_null(line);
	assert_null(strstr(line, "ingress"));
	assert_null(strstr(line, "burst"));
	assert_null(strstr(line, "dscp"));
	assert_null(strstr(line, "source")); /* an SLA of the API's reads as before */
	free(line);
}

/* A port's SLA kept apart from a VM's of the same name, from the log and from a snapshot;
 * its absence too; a snapshot without ports is the one written before ports had SLAs. */
static const struct store_entry *find_kind(const struct store_load *ld, enum store_kind kind,
					   const char *id)
{
	for (size_t i = 0; i < ld->n_entries; i++)
		if (ld->entries[i].kind == kind && !strcmp(ld->entries[i].id, id))
			return &ld->entries[i];
	return NULL;
}

static void store_keeps_port_slas_apart_from_vms(void **state)
{
	struct store *st;
	struct store_load ld;
	struct done_log d = { 0 };
	struct sla_spec vm = SLA_SPEC_EGRESS(1, 1, 0, 20000000, 0, SLA_UNLIMITED),
			port = SLA_SPEC_EGRESS(0, 2, 1000000, 5000000, 0, SLA_UNLIMITED);
	struct store_entry only_vm = { STORE_VM, "vm1", vm, 0 };
	char *text, *line;
	uint64_t gen;
	size_t n;
	struct store_entry *back;
	char why[128];

	(void)state;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_open(dir, &st, &ld), 0);
		if (round)
			store_compact_after(st, 1);
		/* the same key as a VM and as a port: two SLAs */
		assert_int_equal(store_submit(st, STORE_VM, "02:00:00:00:00:01", &vm, 0, NULL), 0);
		assert_int_equal(store_submit(st, STORE_PORT, "02:00:00:00:00:01", &port,
					      an_hour_ago(), NULL),
				 0);
		assert_int_equal(store_submit(st, STORE_PORT, "vif9.0", &port, 0, NULL), 0);
		assert_int_equal(store_submit(st, STORE_PORT, "vif9.0", NULL, 0, NULL), 0);
		wait_done(st, &d, 4 * (round + 1));
		store_close(st);
		assert_int_equal(store_open(dir, &st, &ld), 0);
		assert_false(ld.recovered);
		assert_int_equal(ld.n_entries, 2);
		assert_true(spec_equal(&find_kind(&ld, STORE_VM, "02:00:00:00:00:01")->sla, &vm));
		assert_true(
			spec_equal(&find_kind(&ld, STORE_PORT, "02:00:00:00:00:01")->sla, &port));
		assert_int_equal(find_kind(&ld, STORE_PORT, "02:00:00:00:00:01")->absent_since,
				 an_hour_ago());
		assert_null(find_kind(&ld, STORE_PORT, "vif9.0"));
		store_close(st);
	}
	line = store_log_line(STORE_PORT, "02:00:00:00:00:01", &port, 0, 0);
	assert_non_null(strstr(line, "\"port\":\"02:00:00:00:00:01\""));
	assert_null(strstr(line, "\"id\""));
	free(line);
	/* No port: no port key in the snapshot, and the CRC over the VMs' alone. */
	text = store_serialize(&only_vm, 1, 7);
	assert_null(strstr(text, "port"));
	assert_int_equal(store_parse(text, strlen(text), &back, &n, &gen, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(back[0].kind, STORE_VM);
	free(back);
	free(text);
}

/* The only generation unusable: kept aside byte for byte, the loss said at this start and
 * the next, until acknowledged. */
static void store_keeps_a_corrupt_file_aside_and_the_loss_until_acked(void **state)
{
	char cmd[400];
	struct store *st;
	struct store_load ld;
	struct done_log d = { 0 };

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s/slas.json", dir);
	put_text(cmd, "{\"version\": 1, \"slas\": {\"vm1\": ");
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_true(ld.lost);
	assert_int_equal(ld.n_entries, 0);
	assert_non_null(strstr(ld.why, "kept aside as slas.json.corrupt-"));
	assert_non_null(strstr(ld.why, "state lost"));
	store_submit(st, STORE_VM, "vm2",
		     &SLA_SPEC_EGRESS(1, 1, 0, SLA_UNLIMITED, 0, SLA_UNLIMITED), 0, NULL);
	wait_done(st, &d, 1);
	assert_int_equal(d.rc[0], 0);
	snprintf(cmd, sizeof(cmd),
		 "test \"$(cat %s/slas.json.corrupt-*)\" = '{\"version\": 1, \"slas\": {\"vm1\": '",
		 dir);
	assert_int_equal(system(cmd), 0);
	store_close(st);
	/* the next start: vm2 is there, and the loss is still said */
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_true(ld.lost);
	assert_false(ld.recovered);
	assert_int_equal(ld.n_entries, 1);
	assert_non_null(strstr(ld.why, "kept aside"));
	assert_int_equal(store_ack_lost(st, (void *)7), 0);
	wait_done(st, &d, 2);
	assert_int_equal(d.order[1], 7);
	assert_int_equal(d.rc[1], 0);
	store_close(st);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_false(ld.lost);
	assert_int_equal(ld.n_entries, 1);
	assert_int_equal(system(cmd), 0); /* and never overwritten */
	store_close(st);
}

/* Evidence is never overwritten: two unusable snapshots found in the same second are kept
 * aside under two names, each byte for byte; and the state-lost marker is made new, never
 * written through a link planted in its temp name (the victim stays as it was). */
static void store_keeps_two_corrupt_files_and_follows_no_planted_link(void **state)
{
	char path[256], victim[256], cmd[1024];
	struct store *st;
	struct store_load ld;

	(void)state;
	snprintf(victim, sizeof(victim), "%s.victim", dir);
	put_text(victim, "not the agent's\n");
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "%s/slas.json", dir);
		put_text(path, k ? "{\"version\": 1, \"slas\": {\"vm1\": "
				 : "{\"version\": 1, \"slas\": {\"vm0\": ");
		snprintf(path, sizeof(path), "%s/state-lost.tmp", dir);
		if (k == 0) /* the first start writes the marker */
			assert_int_equal(symlink(victim, path), 0);
		assert_int_equal(store_open(dir, &st, &ld), 0);
		assert_true(ld.lost);
		store_close(st);
	}
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; test $(ls slas.json.corrupt-* | wc -l) = 2;"
		 " test $(grep -l vm0 slas.json.corrupt-* | wc -l) = 1;"
		 " test $(grep -l vm1 slas.json.corrupt-* | wc -l) = 1;"
		 " test -f state-lost && test ! -L state-lost; test ! -e state-lost.tmp;"
		 " test \"$(cat %s)\" = \"not the agent's\"",
		 dir, victim);
	assert_int_equal(system(cmd), 0);
	unlink(victim);
}

/* An unusable file's reason says where, never what: /readyz shows it, without auth. */
static void store_says_where_a_file_is_bad_not_what_it_holds(void **state)
{
	char path[128];
	struct store *st;
	struct store_load ld;

	(void)state;
	snprintf(path, sizeof(path), "%s/slas.json", dir);
	put_text(path, "hunter2 is the password\n");
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_true(ld.lost);
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
	assert_true(ld.lost);
	assert_int_equal(ld.n_entries, 0);
	store_close(st);
}

static void store_leftover_temp_file_is_not_the_state(void **state)
{
	char path[128];
	struct store *st;
	struct store_load ld;

	(void)state;
	snprintf(path, sizeof(path), "%s/slas.json.tmp", dir);
	put_text(path, "{\"version\": 1, \"slas\": {\"half\": {\"priority\":");
	assert_int_equal(store_open(dir, &st, &ld), 0);
	assert_false(ld.lost);
	assert_false(ld.recovered);
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
	store_submit(st, STORE_VM, "vm1",
		     &SLA_SPEC_EGRESS(1, 1, 0, SLA_UNLIMITED, 0, SLA_UNLIMITED), 0, NULL);
	wait_done(st, &d, 1);
	assert_true(d.rc[0] < 0);
	store_close(st);
}

/* Appends a change to slas.log as a writer would: the record's compact, sorted JSON after its
 * CRC-32. absence: an object; wall: a legacy wall-clock time (0: neither). */
static void append_record(const char *id, json_t *absence, const char *boot, int64_t wall)
{
	struct sla_spec spec = SLA_SPEC_EGRESS(1, 1, 0, SLA_UNLIMITED, 0, SLA_UNLIMITED);
	json_t *o = json_pack("{s:s, s:o}", "id", id, "sla", sla_spec_to_json(&spec));
	char path[160], *body;
	FILE *f;

	if (absence)
		json_object_set_new(o, "absence", absence);
	if (boot)
		json_object_set_new(o, "boot_id", json_string(boot));
	if (wall)
		json_object_set_new(o, "absent_since", json_integer((json_int_t)wall));
	body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	snprintf(path, sizeof(path), "%s/slas.log", dir);
	f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "%08lx %s\n", crc32(0, (const Bytef *)body, (uInt)strlen(body)), body);
	fclose(f);
	free(body);
}

#define OTHER_BOOT "00000000-0000-0000-0000-000000000000"

static int64_t absence_of(const struct store_load *ld, const char *id)
{
	for (size_t i = 0; i < ld->n_entries; i++)
		if (!strcmp(ld->entries[i].id, id))
			return ld->entries[i].absent_since;
	fail_msg("no %s", id);
	return 0;
}

/* An absence is kept as how long it lasted, never as a wall-clock time: read back on this
 * boot exactly, on another boot from what it had lasted, and as durations from the wall-clock
 * times files held before (a time ahead of the clock: from now). */
static void store_absence_is_a_duration_never_a_wall_time(void **state)
{
	static const char *const ids[] = { "was", "ahead", "other", "same" };
	int64_t wall = (int64_t)time(NULL), now, got[4];
	struct store_load ld;
	struct store *st;
	char cmd[512];

	(void)state;
	assert_int_equal(store_open(dir, &st, &ld), 0);
	change_many(st, "seed", 0, 1, 0, false); /* a log with its header */
	store_close(st);
	append_record("was", NULL, NULL, wall - 7200);
	append_record("ahead", NULL, NULL, wall + 3 * 365 * 86400);
	append_record("other", json_pack("{s:i, s:i}", "s", 500, "at", 12345), OTHER_BOOT, 0);
	append_record("same",
		      json_pack("{s:i, s:I}", "s", 10, "at",
				(json_int_t)(boot_stamp_now() - BOOT_STAMP_ORIGIN - 40)),
		      boot_id(), 0);
	append_record("bad", json_pack("{s:i, s:i}", "s", -1, "at", 0), boot_id(), 0);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	now = boot_stamp_now();
	assert_in_range(now - absence_of(&ld, "was"), 7199, 7202);
	assert_in_range(now - absence_of(&ld, "ahead"), 0, 1);
	assert_in_range(now - absence_of(&ld, "other"), 500, 501);
	assert_in_range(now - absence_of(&ld, "same"), 40, 41); /* not the 10 it had when written */
	assert_int_equal(ld.n_lost, 1);				/* "bad" */
	for (int i = 0; i < 4; i++)
		got[i] = absence_of(&ld, ids[i]);
	store_close(st);
	/* written back as durations (the start compacted after the loss): read the same again */
	snprintf(cmd, sizeof(cmd), "grep -q absent_since %s/slas.json", dir);
	assert_int_not_equal(system(cmd), 0);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(absence_of(&ld, ids[i]), got[i]);
	sleep(2);
	store_close(st); /* written at the stop, as they stand: 2 s on */
	/* read on another boot (its id changed in the snapshot, which its CRC leaves out) 2 s
	 * later: each goes on from what it had lasted at the stop, those 2 s not counted (this
	 * boot would count them; what the previous start wrote would be 2 s short) */
	snprintf(cmd, sizeof(cmd),
		 "sed -i 's/\"boot_id\": \"[0-9a-f-]*\"/\"boot_id\": \"%s\"/' %s/slas.json && "
		 "grep -q '\"boot_id\": \"%s\"' %s/slas.json",
		 OTHER_BOOT, dir, OTHER_BOOT, dir);
	assert_int_equal(system(cmd), 0);
	sleep(2);
	assert_int_equal(store_open(dir, &st, &ld), 0);
	for (int i = 0; i < 4; i++)
		assert_in_range(absence_of(&ld, ids[i]) - got[i], 2, 3);
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
		cmocka_unit_test_setup_teardown(store_keeps_both_directions_bursts_and_marks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			store_keeps_a_corrupt_file_aside_and_the_loss_until_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(
			store_keeps_two_corrupt_files_and_follows_no_planted_link, setup, teardown),
		cmocka_unit_test_setup_teardown(store_a_put_appends_a_line, setup, teardown),
		cmocka_unit_test_setup_teardown(store_keeps_port_slas_apart_from_vms, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_survives_each_file_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(store_says_where_a_file_is_bad_not_what_it_holds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(store_refuses_a_fifo_without_waiting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_leftover_temp_file_is_not_the_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_failed_write_reports_and_changes_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(store_absence_is_a_duration_never_a_wall_time,
						setup, teardown),
		cmocka_unit_test_setup_teardown(store_refuses_an_unusable_directory, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
