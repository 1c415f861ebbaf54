/*
 * store: the durable SLA map, written by its own thread.
 *
 * Ownership: the writer thread owns `map`, the committed contents of the file. The loop thread
 * owns nothing here but what it gets back from store_complete. Between them are two queues
 * under one mutex: `todo` (submitted, not yet taken) and `done` (written, not yet delivered),
 * and an eventfd that tells the loop `done` is not empty.
 *
 * A batch is applied to a copy of the map; only if the file is safely replaced does the copy
 * become the map, so a failed write leaves memory and disk agreeing on the old state.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "worker.h"

#define STORE_FILE "slas.json"
#define STORE_TMP "slas.json.tmp"
#define STORE_VERSION 1

struct op {
	struct op *next;
	char id[PLATFORM_ID_MAX];
	bool del;
	struct sla sla;
	void *cookie;
	int rc;
};

struct map {
	struct store_entry *e;
	size_t n, cap;
};

struct store {
	char dir[4096];
	int dir_fd;
	int event_fd;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct op *todo, **todo_tail;
	struct op *done, **done_tail;
	bool stopping;
	size_t in_flight; /* loop thread only */

	struct map map; /* writer thread only, after store_open */
};

static void map_free(struct map *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static struct store_entry *map_find(struct map *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].id, id))
			return &m->e[i];
	return NULL;
}

static int map_put(struct map *m, const char *id, const struct sla *sla)
{
	struct store_entry *e = map_find(m, id);

	if (!e) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 16;
			struct store_entry *n = realloc(m->e, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			m->e = n;
			m->cap = cap;
		}
		e = &m->e[m->n++];
		snprintf(e->id, sizeof(e->id), "%s", id);
	}
	e->sla = *sla;
	return 0;
}

static void map_del(struct map *m, const char *id)
{
	struct store_entry *e = map_find(m, id);

	if (e)
		*e = m->e[--m->n]; /* order in the file does not matter */
}

static int map_copy(struct map *dst, const struct map *src)
{
	dst->cap = src->n ? src->n : 1;
	dst->e = malloc(dst->cap * sizeof(*dst->e));
	if (!dst->e)
		return -ENOMEM;
	if (src->n) /* an empty map has no array: memcpy from NULL is undefined even for 0 */
		memcpy(dst->e, src->e, src->n * sizeof(*dst->e));
	dst->n = src->n;
	return 0;
}

/* ---- the file ---- */

static char *serialize(const struct map *m)
{
	json_t *slas = json_object(), *root;
	char *text;

	if (!slas)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		if (json_object_set_new(slas, m->e[i].id, sla_to_json(&m->e[i].sla))) {
			json_decref(slas);
			return NULL;
		}
	}
	root = json_pack("{s:i, s:o}", "version", STORE_VERSION, "slas", slas);
	if (!root)
		return NULL;
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* temp file, fsync, rename over, fsync the directory: after a crash at any point the file is
 * either the old one or the new one, whole. */
static int replace_file(struct store *st, const struct map *m)
{
	char *text = serialize(m);
	int fd, rc = 0;

	if (!text)
		return -ENOMEM;
	fd = openat(st->dir_fd, STORE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, text, strlen(text));
	if (!rc)
		rc = write_all(fd, "\n", 1);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(st->dir_fd, STORE_TMP, st->dir_fd, STORE_FILE) < 0)
		rc = -errno;
	if (!rc && fsync(st->dir_fd) < 0)
		rc = -errno;
	if (rc)
		unlinkat(st->dir_fd, STORE_TMP, 0);
out:
	free(text);
	return rc;
}

static int parse_file(const char *text, size_t len, struct map *m, char *why, size_t why_len)
{
	struct sla_error jerr;
	json_t *root, *slas, *v, *ver;
	const char *id;
	int rc = -EINVAL;

	root = sla_json_load(text, len, &jerr);
	if (!root) { /* where, not what: the file's bytes are not for /readyz to show */
		snprintf(why, why_len, "malformed JSON at line %d column %d", jerr.line,
			 jerr.column);
		return -EINVAL;
	}
	ver = json_object_get(root, "version");
	slas = json_object_get(root, "slas");
	if (!json_is_integer(ver) || json_integer_value(ver) != STORE_VERSION) {
		snprintf(why, why_len, "version is not %d", STORE_VERSION);
		goto out;
	}
	if (!json_is_object(slas)) {
		snprintf(why, why_len, "slas is not an object");
		goto out;
	}
	json_object_foreach(slas, id, v) {
		struct sla_error e;
		struct sla sla;

		if (!*id || strlen(id) >= PLATFORM_ID_MAX) {
			snprintf(why, why_len, "a VM id is empty or too long");
			goto out;
		}
		if (sla_from_json(v, &sla, &e)) {
			snprintf(why, why_len, "slas.%.64s: %s", id, e.msg);
			goto out;
		}
		if (map_put(m, id, &sla)) {
			snprintf(why, why_len, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int store_parse(const char *text, size_t len, struct store_entry **entries, size_t *n, char *why,
		size_t why_len)
{
	struct map m = { 0 };
	int rc = parse_file(text, len, &m, why, why_len);

	if (rc) {
		map_free(&m);
		return rc;
	}
	*entries = m.e;
	*n = m.n;
	return 0;
}

char *store_serialize(const struct store_entry *entries, size_t n)
{
	const struct map m = { (struct store_entry *)entries, n, n };

	return serialize(&m);
}

static int read_file(int dir_fd, char **text, size_t *len)
{
	/* O_NONBLOCK: a FIFO in its place opens at once, to be refused, not waited on. */
	int fd = openat(dir_fd, STORE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc = 0;
	struct stat sb;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL; /* "unreadable: Invalid argument", kept aside as any unusable file */
		goto out;
	}
	if (sb.st_size > (64 << 20)) {
		rc = -EFBIG;
		goto out;
	}
	*text = malloc((size_t)sb.st_size + 1);
	if (!*text) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, *text + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			free(*text);
			*text = NULL;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
out:
	close(fd);
	return rc;
}

/* Loads the file; an unusable one is renamed aside and reported. */
static int load(struct store *st, struct store_load *ld)
{
	char *text = NULL, aside[64];
	size_t len = 0;
	int rc;

	unlinkat(st->dir_fd, STORE_TMP, 0); /* never the committed state */
	rc = read_file(st->dir_fd, &text, &len);
	if (rc == -ENOENT)
		return 0; /* a first start */
	if (rc == 0)
		rc = parse_file(text, len, &st->map, ld->why, sizeof(ld->why));
	else
		snprintf(ld->why, sizeof(ld->why), "unreadable: %s", strerror(-rc));
	free(text);
	if (rc == 0 || rc == -ENOMEM)
		return rc;
	map_free(&st->map);
	snprintf(aside, sizeof(aside), STORE_FILE ".corrupt-%lld", (long long)time(NULL));
	if (renameat(st->dir_fd, STORE_FILE, st->dir_fd, aside) < 0) {
		rc = -errno;
		snprintf(ld->why + strlen(ld->why), sizeof(ld->why) - strlen(ld->why),
			 "; could not keep it aside: %s", strerror(errno));
		return rc; /* refusing to start beats overwriting it later */
	}
	fsync(st->dir_fd);
	ld->corrupt = true;
	snprintf(ld->kept_at, sizeof(ld->kept_at), "%s/%s", st->dir, aside);
	log_error("state file unusable, kept aside, starting without SLAs file=%s/%s kept_at=%s "
		  "why=\"%s\"",
		  st->dir, STORE_FILE, ld->kept_at, ld->why);
	return 0;
}

/* ---- the writer thread ---- */

static void *writer(void *arg)
{
	struct store *st = arg;

	worker_thread_background("dbavm-store");
	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct op *batch, *o;
		struct map next;
		uint64_t one = 1;
		int rc;

		while (!st->todo && !st->stopping)
			pthread_cond_wait(&st->wake, &st->lock);
		if (!st->todo)
			break; /* stopping, and nothing left to write */
		batch = st->todo;
		st->todo = NULL;
		st->todo_tail = &st->todo;
		pthread_mutex_unlock(&st->lock);

		rc = map_copy(&next, &st->map);
		for (o = batch; !rc && o; o = o->next) {
			if (o->del)
				map_del(&next, o->id);
			else
				rc = map_put(&next, o->id, &o->sla);
		}
		if (!rc)
			rc = replace_file(st, &next);
		if (rc) {
			log_error("state not written dir=%s err=%s", st->dir, strerror(-rc));
			map_free(&next);
		} else {
			map_free(&st->map);
			st->map = next;
		}
		for (o = batch; o; o = o->next)
			o->rc = rc;

		pthread_mutex_lock(&st->lock);
		for (o = batch; o->next; o = o->next)
			;
		*st->done_tail = batch;
		st->done_tail = &o->next;
		if (write(st->event_fd, &one, sizeof(one)) < 0)
			log_error("store wakeup lost err=%s", strerror(errno));
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int store_open(const char *dir, struct store **out, struct store_load *ld)
{
	struct store *st;
	int rc;

	memset(ld, 0, sizeof(*ld));
	*out = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(ld->why, sizeof(ld->why), "cannot create %s: %s", dir, strerror(errno));
		return rc;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	st->event_fd = -1;
	st->todo_tail = &st->todo;
	st->done_tail = &st->done;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->wake, NULL);
	st->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd < 0) {
		rc = -errno;
		snprintf(ld->why, sizeof(ld->why), "cannot open %s: %s", dir, strerror(errno));
		goto fail;
	}
	rc = load(st, ld);
	if (rc) {
		if (!ld->why[0])
			snprintf(ld->why, sizeof(ld->why), "%s", strerror(-rc));
		goto fail;
	}
	st->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->event_fd < 0) {
		rc = -errno;
		snprintf(ld->why, sizeof(ld->why), "eventfd: %s", strerror(errno));
		goto fail;
	}
	{
		/* The writer must never take a signal meant for the loop's signalfd: it starts
		 * with every signal blocked (a thread inherits its creator's mask). */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		rc = -pthread_create(&st->thread, NULL, writer, st);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rc) {
		snprintf(ld->why, sizeof(ld->why), "writer thread: %s", strerror(-rc));
		goto fail;
	}
	st->thread_started = true;
	ld->entries = st->map.e;
	ld->n_entries = st->map.n;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->thread_started) {
		pthread_mutex_lock(&st->lock);
		st->stopping = true;
		pthread_cond_signal(&st->wake);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->thread, NULL);
	}
	for (struct op *o = st->done, *n; o; o = n) {
		n = o->next;
		free(o);
	}
	if (st->event_fd >= 0)
		close(st->event_fd);
	if (st->dir_fd >= 0)
		close(st->dir_fd);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->wake);
	map_free(&st->map);
	free(st);
}

int store_event_fd(const struct store *st)
{
	return st->event_fd;
}

int store_submit(struct store *st, const char *id, const struct sla *sla, void *cookie)
{
	struct op *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	snprintf(o->id, sizeof(o->id), "%s", id);
	o->del = sla == NULL;
	if (sla)
		o->sla = *sla;
	o->cookie = cookie;
	pthread_mutex_lock(&st->lock);
	*st->todo_tail = o;
	st->todo_tail = &o->next;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
	st->in_flight++;
	return 0;
}

void store_complete(struct store *st, store_done_fn *done, void *arg)
{
	struct op *list;
	uint64_t n;

	if (read(st->event_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("store eventfd read failed err=%s", strerror(errno));
	pthread_mutex_lock(&st->lock);
	list = st->done;
	st->done = NULL;
	st->done_tail = &st->done;
	pthread_mutex_unlock(&st->lock);
	while (list) {
		struct op *next = list->next;

		st->in_flight--;
		done(list->cookie, list->rc, arg);
		free(list);
		list = next;
	}
}

size_t store_in_flight(const struct store *st)
{
	return st->in_flight;
}
