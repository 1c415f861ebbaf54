/*
 * store: the durable SLA map, written by its own thread (store.h says what is on disk).
 *
 * Ownership: the writer thread owns `map` (what the files hold) and the files. The loop thread
 * owns nothing here but what it gets back from store_complete. Between them are two queues
 * under one mutex: `todo` (submitted, not yet taken) and `done` (written, not yet delivered),
 * and an eventfd that tells the loop `done` is not empty.
 *
 * A batch is written to the log before the map takes it, so a failed write leaves memory and
 * disk agreeing on the old state; the log is cut back to where it was.
 */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "boottime.h"
#include "log.h"
#include "owned.h"
#include "worker.h"

#define F_SNAP "slas.json"
#define F_SNAP_PREV "slas.json.prev"
#define F_LOG "slas.log"
#define F_LOG_PREV "slas.log.prev"
#define F_LOG_NEW "slas.log.new"
#define F_TMP "slas.json.tmp"
#define F_LOST "state-lost"
#define F_LOST_TMP "state-lost.tmp"
#define STORE_VERSION 2	       /* 1: no generation, read as generation 0 */
#define COMPACT_MIN_LINES 4096 /* and the log as large as the snapshot */
#define FILE_MAX (64 << 20)

enum op_kind { OP_PUT, OP_DEL, OP_ACK };

struct op {
	struct op *next;
	enum op_kind kind;
	enum store_kind what;
	char id[PLATFORM_ID_MAX];
	struct sla_spec sla;
	int64_t absent_since;
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
	int lock_fd; /* LOCK_FILE, flock()ed for the process's life: one agent per directory */
	int event_fd;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct op *todo, **todo_tail;
	struct op *done, **done_tail;
	bool stopping;
	size_t in_flight; /* loop thread only */

	/* the writer thread's, after store_open */
	struct map map;
	uint64_t gen;	   /* the generation of the snapshot the log follows */
	int log_fd;	   /* slas.log, open for appending; -1: opened (made) at the next change */
	size_t log_lines;  /* changes in it */
	size_t log_bytes;  /* its length: where a failed write cuts it back to */
	size_t snap_bytes; /* the snapshot's length: compaction waits for the log to reach it */
	size_t compact_at; /* lines; moved on when a compaction fails */
	size_t compact_lines; /* what compact_at is set to after a compaction */
};

/* ---- the map ---- */

static void map_free(struct map *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static struct store_entry *map_find(struct map *m, enum store_kind kind, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].kind == kind && !strcmp(m->e[i].id, id))
			return &m->e[i];
	return NULL;
}

static int map_reserve(struct map *m, size_t more)
{
	size_t cap = m->cap ? m->cap : 16;
	struct store_entry *n;

	while (cap < m->n + more)
		cap *= 2;
	if (cap == m->cap)
		return 0;
	n = realloc(m->e, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	m->e = n;
	m->cap = cap;
	return 0;
}

static int map_put(struct map *m, enum store_kind kind, const char *id, const struct sla_spec *sla,
		   int64_t absent_since)
{
	struct store_entry *e = map_find(m, kind, id);

	if (!e) {
		if (map_reserve(m, 1))
			return -ENOMEM;
		e = &m->e[m->n++];
		e->kind = kind;
		snprintf(e->id, sizeof(e->id), "%s", id);
	}
	e->sla = *sla;
	e->absent_since = absent_since;
	return 0;
}

static void map_del(struct map *m, enum store_kind kind, const char *id)
{
	struct store_entry *e = map_find(m, kind, id);

	if (e)
		*e = m->e[--m->n]; /* order on disk does not matter */
}

/* ---- snapshots ---- */

/* The CRC-32 of the VMs' SLAs, then of their absences, the ports' SLAs and theirs (each NULL
 * when there are none), as their sorted, compact JSON: a snapshot's check of itself, which a
 * bit flipped in a number (still JSON, another value) fails. A snapshot without ports has the
 * CRC it had before there were ports. */
static int slas_crc(const json_t *const parts[4], unsigned long *crc)
{
	*crc = crc32(0, NULL, 0);
	for (int i = 0; i < 4; i++) {
		if (!parts[i])
			continue;
		char *text = json_dumps(parts[i], JSON_COMPACT | JSON_SORT_KEYS);

		if (!text)
			return -ENOMEM;
		*crc = crc32(*crc, (const Bytef *)text, (uInt)strlen(text));
		free(text);
	}
	return 0;
}

/* A snapshot's four objects, in slas_crc's order, and their names in the file; the absences
 * written before they were durations had names of their own (read, never written). */
enum { P_SLAS, P_ABSENT, P_PORT_SLAS, P_PORT_ABSENT, P_N };
static const char *const part_name[P_N] = { "slas", "absence", "port_slas", "port_absence" };
static const char *const part_name_wall[P_N] = { NULL, "absent_since", NULL, "port_absent_since" };

/*
 * Absence on disk. In memory an absence is a stamp on this boot's clock (boottime.h); on disk it
 * is {"s": how long it had lasted when written, "at": when it began on the writer's boot clock,
 * in seconds, negative when before that boot}, with the writer's boot id beside it. A start on
 * the same boot takes "at" (the time the agent was stopped counts), one on another boot "s"
 * from then on (a reboot's downtime does not: the SLA is kept the longer). Never a wall-clock
 * time: a clock stepped by years, either way, changes nothing kept or forgotten. Files written
 * before held the wall-clock time the VM left: read as the duration that gives by the wall
 * clock at the start, from 0 (a time ahead of now) to ABSENCE_MAX_S.
 */
#define ABSENCE_MAX_S ((int64_t)1 << 36) /* some 2,000 years: beyond any forget-absent-after */

static json_t *absence_to_json(int64_t since)
{
	int64_t now = boot_stamp_now(), d = now > since ? now - since : 0;

	return json_pack("{s:I, s:I}", "s", (json_int_t)(d < ABSENCE_MAX_S ? d : ABSENCE_MAX_S),
			 "at", (json_int_t)(since - BOOT_STAMP_ORIGIN));
}

/* The stamp of an absence read back (boot: the id of the boot that wrote it), or 0 when a is
 * not an absence. */
static int64_t absence_from_json(const json_t *a, const char *boot)
{
	const json_t *s = json_object_get(a, "s"), *at = json_object_get(a, "at");
	int64_t now = boot_stamp_now();

	if (!json_is_object(a) || !json_is_integer(s) || !json_is_integer(at) ||
	    json_integer_value(s) < 0 || json_integer_value(s) > ABSENCE_MAX_S ||
	    json_integer_value(at) < -2 * ABSENCE_MAX_S || json_integer_value(at) > ABSENCE_MAX_S)
		return 0;
	if (boot && boot_id()[0] && !strcmp(boot, boot_id()) &&
	    json_integer_value(at) + BOOT_STAMP_ORIGIN <= now)
		return json_integer_value(at) + BOOT_STAMP_ORIGIN;
	return now - json_integer_value(s);
}

/* The stamp of an absence written as the wall-clock time t the VM left. */
static int64_t absence_from_wall(int64_t t)
{
	int64_t d = (int64_t)time(NULL) - t;

	return boot_stamp_now() - (d < 0 ? 0 : d > ABSENCE_MAX_S ? ABSENCE_MAX_S : d);
}

/* A time in seconds since the epoch, as absences were written before they were durations: 0
 * (none) to 2^40. */
static bool valid_time(const json_t *t)
{
	return json_is_integer(t) && json_integer_value(t) >= 0 &&
	       json_integer_value(t) < (1ll << 40);
}

/* An absence as a record holds it, a duration (a, with the boot id boot) or a wall-clock time
 * (wall), or neither: *since its stamp (0: present). False when what is there is not one. */
static bool absence_read(const json_t *a, const json_t *wall, const char *boot, int64_t *since)
{
	*since = 0;
	if (a && wall)
		return false;
	if (a)
		return (*since = absence_from_json(a, boot)) != 0;
	if (wall && !valid_time(wall))
		return false;
	if (wall && json_integer_value(wall))
		*since = absence_from_wall(json_integer_value(wall));
	return true;
}

char *store_serialize(const struct store_entry *entries, size_t n, uint64_t generation)
{
	json_t *parts[P_N] = { NULL }, *root = NULL;
	const json_t *crc_of[P_N];
	unsigned long crc;
	char *text = NULL, hex[16];

	for (int i = 0; i < P_N; i++)
		if (!(parts[i] = json_object()))
			goto out;
	for (size_t i = 0; i < n; i++) {
		int at = entries[i].kind == STORE_PORT ? P_PORT_SLAS : P_SLAS;

		if (json_object_set_new(parts[at], entries[i].id,
					sla_spec_to_json(&entries[i].sla)) ||
		    (entries[i].absent_since &&
		     json_object_set_new(parts[at + 1], entries[i].id,
					 absence_to_json(entries[i].absent_since))))
			goto out;
	}
	/* The VMs' SLAs always; the rest only when there is one. */
	for (int i = 0; i < P_N; i++)
		crc_of[i] = i == P_SLAS || json_object_size(parts[i]) ? parts[i] : NULL;
	if (slas_crc(crc_of, &crc))
		goto out;
	snprintf(hex, sizeof(hex), "%08lx", crc);
	root = json_pack("{s:i, s:I, s:s, s:s}", "version", STORE_VERSION, "generation",
			 (json_int_t)generation, "crc32", hex, "boot_id", boot_id());
	for (int i = 0; root && i < P_N; i++)
		if (crc_of[i] && json_object_set(root, part_name[i], parts[i]))
			goto out;
	text = root ? json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
out:
	json_decref(root);
	for (int i = 0; i < P_N; i++)
		json_decref(parts[i]);
	return text;
}

static bool valid_id(const char *id)
{
	return *id && strlen(id) < PLATFORM_ID_MAX;
}

/* One snapshot object of SLAs (VMs' or ports') and its absences into m (wall: as wall-clock
 * times, else durations that the boot `boot` wrote); 0, or -EINVAL / -ENOMEM with why. */
static int parse_slas(struct map *m, enum store_kind kind, const json_t *slas, const json_t *absent,
		      bool wall, const char *boot, const char *name, char *why, size_t why_len)
{
	const char *id;
	json_t *v;

	json_object_foreach((json_t *)slas, id, v) {
		struct sla_error e;
		struct sla_spec sla;
		int64_t since;
		json_t *t;

		if (!valid_id(id)) {
			snprintf(why, why_len, "%s: a key is empty or too long", name);
			return -EINVAL;
		}
		t = json_object_get(absent, id);
		if (sla_spec_from_json(v, &sla, &e)) {
			snprintf(why, why_len, "%s.%.64s: %s", name, id, e.msg);
			return -EINVAL;
		}
		if (!absence_read(wall ? NULL : t, wall ? t : NULL, boot, &since)) {
			snprintf(why, why_len, "%s: the absence of %.64s is not one", name, id);
			return -EINVAL;
		}
		if (map_put(m, kind, id, &sla, since)) {
			snprintf(why, why_len, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

static int parse_snapshot(const char *text, size_t len, struct map *m, uint64_t *gen, char *why,
			  size_t why_len)
{
	struct sla_error jerr;
	json_t *root, *ver, *g;
	const json_t *parts[P_N];
	bool wall[P_N];
	const char *boot;
	int rc = -EINVAL;

	root = sla_json_load(text, len, &jerr);
	if (!root) { /* where, not what: the file's bytes are not for /readyz to show */
		snprintf(why, why_len, "malformed JSON at line %d column %d", jerr.line,
			 jerr.column);
		return -EINVAL;
	}
	ver = json_object_get(root, "version");
	g = json_object_get(root, "generation");
	for (int i = 0; i < P_N; i++) {
		const json_t *w =
			part_name_wall[i] ? json_object_get(root, part_name_wall[i]) : NULL;

		parts[i] = json_object_get(root, part_name[i]);
		if (parts[i] && w) {
			snprintf(why, why_len, "both %s and %s", part_name[i], part_name_wall[i]);
			goto out;
		}
		wall[i] = !parts[i] && w;
		if (wall[i])
			parts[i] = w;
	}
	if (!json_is_integer(ver) ||
	    (json_integer_value(ver) != STORE_VERSION && json_integer_value(ver) != 1)) {
		snprintf(why, why_len, "version is not %d", STORE_VERSION);
		goto out;
	}
	*gen = 0;
	if (!json_is_object(parts[P_SLAS])) {
		snprintf(why, why_len, "slas is not an object");
		goto out;
	}
	for (int i = P_ABSENT; i < P_N; i++)
		if (parts[i] &&
		    (!json_is_object(parts[i]) || json_integer_value(ver) != STORE_VERSION)) {
			snprintf(why, why_len, "%s is not an object", part_name[i]);
			goto out;
		}
	if (json_integer_value(ver) == STORE_VERSION) {
		const char *want = json_string_value(json_object_get(root, "crc32"));
		unsigned long crc;
		char hex[16];

		if (!json_is_integer(g) || json_integer_value(g) < 0) {
			snprintf(why, why_len, "generation is not a count");
			goto out;
		}
		*gen = (uint64_t)json_integer_value(g);
		if (slas_crc(parts, &crc)) {
			snprintf(why, why_len, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		snprintf(hex, sizeof(hex), "%08lx", crc);
		if (!want || strcmp(want, hex)) {
			snprintf(why, why_len, "the SLAs do not match their crc32");
			goto out;
		}
	}
	if (parts[P_PORT_ABSENT] && !parts[P_PORT_SLAS]) {
		snprintf(why, why_len, "port absences without port_slas");
		goto out;
	}
	boot = json_string_value(json_object_get(root, "boot_id"));
	rc = parse_slas(m, STORE_VM, parts[P_SLAS], parts[P_ABSENT], wall[P_ABSENT], boot, "slas",
			why, why_len);
	if (!rc && parts[P_PORT_SLAS])
		rc = parse_slas(m, STORE_PORT, parts[P_PORT_SLAS], parts[P_PORT_ABSENT],
				wall[P_PORT_ABSENT], boot, "port_slas", why, why_len);
out:
	json_decref(root);
	return rc;
}

int store_parse(const char *text, size_t len, struct store_entry **entries, size_t *n,
		uint64_t *generation, char *why, size_t why_len)
{
	struct map m = { 0 };
	int rc = parse_snapshot(text, len, &m, generation, why, why_len);

	if (rc) {
		map_free(&m);
		return rc;
	}
	*entries = m.e;
	*n = m.n;
	return 0;
}

/* ---- logs ---- */

char *store_log_line(enum store_kind kind, const char *id, const struct sla_spec *sla,
		     int64_t absent_since, uint64_t base)
{
	/* A VM's change names it "id" (as before ports had SLAs), a port's "port". */
	json_t *o = id ? json_pack("{s:s, s:o}", kind == STORE_PORT ? "port" : "id", id, "sla",
				   sla ? sla_spec_to_json(sla) : json_null())
		       : json_pack("{s:i, s:I}", "log", 1, "base", (json_int_t)base);

	if (o && id && sla && absent_since &&
	    (json_object_set_new(o, "absence", absence_to_json(absent_since)) ||
	     json_object_set_new(o, "boot_id", json_string(boot_id())))) {
		json_decref(o);
		o = NULL;
	}
	char *body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *line = NULL;

	json_decref(o);
	if (!body)
		return NULL;
	if (asprintf(&line, "%08lx %s\n", crc32(0, (const Bytef *)body, (uInt)strlen(body)), body) <
	    0)
		line = NULL;
	free(body);
	return line;
}

/* A line's JSON, if its CRC holds: "<8 hex digits> <JSON>" (without the newline). */
static json_t *log_record(const char *line, size_t len)
{
	char hex[9];
	unsigned long want;
	char *end;

	if (len < 10 || line[8] != ' ')
		return NULL;
	memcpy(hex, line, 8);
	hex[8] = '\0';
	for (int i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return NULL;
	want = strtoul(hex, &end, 16);
	if (crc32(0, (const Bytef *)line + 9, (uInt)(len - 9)) != want)
		return NULL;
	return json_loadb(line + 9, len - 9, JSON_REJECT_DUPLICATES, NULL);
}

struct replay {
	uint64_t base;
	size_t applied, bad;
	size_t good_len;   /* where the last whole line ends: a torn line after it is cut */
	size_t first_bad;  /* its line number, 1-based; 0: none */
	char bad_ids[160]; /* ids of lines whose CRC failed but whose JSON still reads */
};

static void note_bad(struct replay *r, size_t line_no, const char *line, size_t len)
{
	json_t *o = len > 9 ? json_loadb(line + 9, len - 9, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(o, "id"));

	if (!id)
		id = json_string_value(json_object_get(o, "port"));
	size_t used = strlen(r->bad_ids);

	r->bad++;
	if (!r->first_bad)
		r->first_bad = line_no;
	if (id && valid_id(id) && used < sizeof(r->bad_ids) - 1)
		snprintf(r->bad_ids + used, sizeof(r->bad_ids) - used, "%s%s", used ? "," : "", id);
	json_decref(o);
}

/* Replays a log's changes onto m. Every change is a whole SLA or its removal, so a line that
 * cannot be read costs that change alone: the lines after it still apply. */
static int replay(const char *text, size_t len, struct map *m, struct replay *r, char *why,
		  size_t why_len)
{
	size_t pos = 0, line_no = 0;

	memset(r, 0, sizeof(*r));
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		json_t *o, *s;
		const char *id;
		enum store_kind kind = STORE_VM;

		line_no++;
		if (!nl && line_no > 1)
			break; /* torn: a change that was never acknowledged */
		if (!nl)
			break; /* no header: said below */
		pos += n + 1;
		o = log_record(line, n);
		if (line_no == 1) {
			json_t *b = json_object_get(o, "base");

			if (!json_is_integer(json_object_get(o, "log")) || !json_is_integer(b) ||
			    json_integer_value(b) < 0) {
				json_decref(o);
				snprintf(why, why_len, "no readable header");
				return -EINVAL;
			}
			r->base = (uint64_t)json_integer_value(b);
			json_decref(o);
			r->good_len = pos;
			continue;
		}
		id = json_string_value(json_object_get(o, "id"));
		if (!id && (id = json_string_value(json_object_get(o, "port"))))
			kind = STORE_PORT;
		s = json_object_get(o, "sla");
		if (!id || !valid_id(id) || !s) {
			note_bad(r, line_no, line, n);
		} else if (json_is_null(s)) {
			map_del(m, kind, id);
			r->applied++;
		} else {
			struct sla_spec sla;
			struct sla_error e;

			int64_t since;

			if (sla_spec_from_json(s, &sla, &e) ||
			    !absence_read(json_object_get(o, "absence"),
					  json_object_get(o, "absent_since"),
					  json_string_value(json_object_get(o, "boot_id")),
					  &since)) {
				note_bad(r, line_no, line, n);
			} else if (map_put(m, kind, id, &sla, since)) {
				json_decref(o);
				snprintf(why, why_len, "out of memory");
				return -ENOMEM;
			} else {
				r->applied++;
			}
		}
		json_decref(o);
		r->good_len = pos;
	}
	if (!r->good_len) {
		snprintf(why, why_len, "no readable header");
		return -EINVAL;
	}
	return 0;
}

long store_replay_log(const char *text, size_t len, struct store_entry **entries, size_t *n,
		      uint64_t *base, size_t *bad, char *why, size_t why_len)
{
	struct map m = { *entries, *n, *n };
	struct replay r;
	int rc = replay(text, len, &m, &r, why, why_len);

	*entries = m.e;
	*n = m.n;
	if (rc)
		return rc;
	*base = r.base;
	*bad = r.bad;
	return (long)r.applied;
}

/* ---- files ---- */

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

/* text as the file name, whole or not at all: a temp file, fsync, rename over (the directory
 * is the caller's to fsync). The temp file is made new (O_EXCL, after what a crash left is
 * removed): never opened through a link someone planted in its name. */
static int write_file(struct store *st, const char *tmp, const char *name, const char *text)
{
	int fd, rc;

	if (unlinkat(st->dir_fd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(st->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(st->dir_fd, tmp, st->dir_fd, name) < 0)
		rc = -errno;
	if (rc)
		unlinkat(st->dir_fd, tmp, 0);
	return rc;
}

static int read_file(int dir_fd, const char *name, char **text, size_t *len)
{
	/* O_NONBLOCK: a FIFO in its place opens at once, to be refused, not waited on. */
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc = 0;
	struct stat sb;
	size_t got = 0;

	*text = NULL;
	*len = 0;
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
	if (sb.st_size > FILE_MAX) {
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

/* Opens slas.log for appending, making it (its header: the generation it follows, written
 * beside and renamed into place, so that it is never torn) if absent. */
static int open_log(struct store *st)
{
	int fd = openat(st->dir_fd, F_LOG, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW), rc;
	char *head;
	struct stat sb;

	if (fd < 0 && errno == ENOENT) {
		head = store_log_line(STORE_VM, NULL, NULL, 0, st->gen);
		if (!head)
			return -ENOMEM;
		rc = write_file(st, F_LOG_NEW, F_LOG, head);
		if (!rc && fsync(st->dir_fd) < 0) /* its name, durable as its contents */
			rc = -errno;
		free(head);
		if (rc)
			return rc;
		st->log_lines = 0;
		fd = openat(st->dir_fd, F_LOG, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	st->log_fd = fd;
	st->log_bytes = (size_t)sb.st_size;
	return 0;
}

/*
 * A new snapshot, generation gen + 1, of the map, and the log that will follow it, both
 * written beside; then slas.json -> .prev, slas.log -> .prev, the new ones into place, and the
 * directory fsync'd. A crash at any step leaves a generation and the logs that lead from it.
 */
static int compact(struct store *st)
{
	char *text = store_serialize(st->map.e, st->map.n, st->gen + 1);
	char *head = store_log_line(STORE_VM, NULL, NULL, 0, st->gen + 1);
	int rc = text && head ? 0 : -ENOMEM;

	if (!rc)
		rc = write_file(st, F_TMP, F_TMP, text);
	if (!rc)
		rc = write_file(st, F_LOG_NEW, F_LOG_NEW, head);
	if (!rc && renameat(st->dir_fd, F_SNAP, st->dir_fd, F_SNAP_PREV) < 0 && errno != ENOENT)
		rc = -errno;
	if (!rc) {
		if (st->log_fd >= 0)
			close(st->log_fd);
		st->log_fd = -1;
		if (renameat(st->dir_fd, F_LOG, st->dir_fd, F_LOG_PREV) < 0 && errno != ENOENT)
			rc = -errno;
	}
	if (!rc && renameat(st->dir_fd, F_TMP, st->dir_fd, F_SNAP) < 0)
		rc = -errno;
	if (!rc && renameat(st->dir_fd, F_LOG_NEW, st->dir_fd, F_LOG) < 0)
		rc = -errno;
	if (!rc && fsync(st->dir_fd) < 0)
		rc = -errno;
	if (!rc) {
		st->gen++;
		st->log_lines = 0;
		st->snap_bytes = strlen(text);
		st->compact_at = st->compact_lines;
		rc = open_log(st);
	}
	if (rc) {
		unlinkat(st->dir_fd, F_TMP, 0);
		unlinkat(st->dir_fd, F_LOG_NEW, 0);
		log_error("state not compacted dir=%s generation=%" PRIu64 " err=%s", st->dir,
			  st->gen + 1, strerror(-rc));
		st->compact_at = st->log_lines * 2; /* not at every change from now on */
	} else {
		log_debug("state compacted dir=%s generation=%" PRIu64 " slas=%zu", st->dir,
			  st->gen, st->map.n);
	}
	free(text);
	free(head);
	return rc;
}

/* ---- loading ---- */

struct found {
	const char *name;
	bool present; /* on disk */
	bool ok;      /* and read */
	bool used;    /* what the store goes on from */
	char *text;
	size_t len;
	struct map m;	 /* a snapshot's SLAs */
	uint64_t gen;	 /* a snapshot's generation, a log's base */
	struct replay r; /* a log's, once replayed */
	char why[320];
};

static void found_free(struct found *f)
{
	free(f->text);
	map_free(&f->m);
}

static void read_found(struct store *st, struct found *f, const char *name, bool is_log)
{
	int rc;

	f->name = name;
	rc = read_file(st->dir_fd, name, &f->text, &f->len);
	if (rc == -ENOENT)
		return;
	f->present = true;
	if (rc) {
		snprintf(f->why, sizeof(f->why), "unreadable: %s", strerror(-rc));
		return;
	}
	if (is_log) { /* its header now, its changes when replayed */
		struct map scratch = { 0 };

		f->ok = !replay(f->text, f->len, &scratch, &f->r, f->why, sizeof(f->why));
		f->gen = f->r.base;
		map_free(&scratch);
		return;
	}
	f->ok = !parse_snapshot(f->text, f->len, &f->m, &f->gen, f->why, sizeof(f->why));
}

/* Renames an unusable file aside (name.corrupt-<time>), appending where to what. */
static int keep_aside(struct store *st, struct found *f, char *what, size_t len)
{
	char aside[96];
	size_t used = strlen(what);
	long long now = (long long)time(NULL);
	int rc = -EEXIST;

	/* Evidence is never overwritten: a second in the same second is name.corrupt-<time>.1 */
	for (unsigned k = 0; rc == -EEXIST && k < 1000; k++) {
		if (k)
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld.%u", f->name, now, k);
		else
			snprintf(aside, sizeof(aside), "%s.corrupt-%lld", f->name, now);
		rc = renameat2(st->dir_fd, f->name, st->dir_fd, aside, RENAME_NOREPLACE) < 0
			     ? -errno
			     : 0;
		if (rc == -EINVAL) /* a filesystem without it: a new name that must not exist */
			rc = linkat(st->dir_fd, f->name, st->dir_fd, aside, 0) < 0 ? -errno
			     : unlinkat(st->dir_fd, f->name, 0) < 0		   ? -errno
										   : 0;
	}
	if (rc) {
		snprintf(what + used, len - used,
			 "%s%s is unusable (%.160s) and could not be kept aside: %s",
			 used ? "; " : "", f->name, f->why, strerror(-rc));
		return rc;
	}
	/* the name alone: the directory is the state directory, said where this is logged */
	snprintf(what + used, len - used, "%s%s was unusable (%.160s) and is kept aside as %s",
		 used ? "; " : "", f->name, f->why, aside);
	log_error("state file unusable, kept aside file=%s/%s kept_at=%s/%s why=%s", st->dir,
		  f->name, st->dir, aside, log_q(f->why));
	return 0;
}

/* The mark that the SLAs were lost, and why: at every start until acknowledged. */
static void read_lost_mark(struct store *st, struct store_load *ld)
{
	char *text, *line[2] = { ld->why, ld->why_public };
	size_t len, k, i = 0;

	if (read_file(st->dir_fd, F_LOST, &text, &len))
		return;
	ld->lost = true;
	/* The first line says why, the second the same without names (older marks have one:
	 * then nothing but that it was lost); printable characters only. */
	for (int n = 0; n < 2; n++, i++) {
		for (k = 0; i < len && text[i] != '\n'; i++)
			if (text[i] >= 0x20 && text[i] < 0x7f && k < sizeof(ld->why) - 1)
				line[n][k++] = text[i];
		line[n][k] = '\0';
	}
	if (!ld->why[0])
		snprintf(ld->why, sizeof(ld->why), "the SLAs were lost at an earlier start");
	if (!ld->why_public[0])
		snprintf(ld->why_public, sizeof(ld->why_public),
			 "the SLAs were lost at an earlier start (a token reads why)");
	free(text);
}

/* Marks the SLAs lost (all of them, or partly), and why (WHAT), in the file
 * every start reads until the loss is acknowledged. 0, or a negative errno with ld->why set. */
static int mark_lost(struct store *st, struct store_load *ld, bool partly, const char *what,
		     const char *ids)
{
	const char *how = partly ? "state partly lost" : "state lost";
	char text[2 * sizeof(ld->why) + 2];
	int rc;

	ld->lost = true;
	snprintf(ld->why_public, sizeof(ld->why_public),
		 "%s: %.600s; %s, then POST /host/state/ack", how, what,
		 partly ? "what those changes said is not in force: put those SLAs again"
			: "SLAs put before are not in force: put them again");
	snprintf(ld->why, sizeof(ld->why), "%s: %.600s; %s%s%.120s%s, then POST /host/state/ack",
		 how, what,
		 partly ? "what those changes said is not in force: put those SLAs again"
			: "SLAs put before are not in force: put them again",
		 ids[0] ? " (VMs or ports " : "", ids, ids[0] ? ")" : "");
	snprintf(text, sizeof(text), "%s\n%s\n", ld->why, ld->why_public);
	rc = write_file(st, F_LOST_TMP, F_LOST, text);
	if (!rc && fsync(st->dir_fd) < 0)
		rc = -errno;
	if (rc) {
		snprintf(ld->why, sizeof(ld->why), "%s, and not marked: %s", how, strerror(-rc));
		snprintf(ld->why_public, sizeof(ld->why_public), "%s", ld->why);
	}
	return rc;
}

/*
 * The newest generation that reads, and the logs that follow it, one generation after the
 * other: slas.json and slas.log; or slas.json.prev, slas.log.prev (which leads to what
 * slas.json held) and slas.log; or, with no snapshot ever made, nothing and the logs from
 * generation 0.
 */
static int load(struct store *st, struct store_load *ld)
{
	struct found cur = { 0 }, prev = { 0 }, lg = { 0 }, lgp = { 0 };
	struct found *logs[2] = { &lgp, &lg }, *all[4] = { &cur, &prev, &lg, &lgp }, *from = NULL;
	struct map none = { 0 };
	char what[sizeof(ld->why)] = "", ids[200] = "";
	uint64_t g = 0, newest = 0;
	bool complete = true, anomaly = false;
	int rc = 0;

	unlinkat(st->dir_fd, F_TMP, 0); /* never the committed state */
	/* A compaction cut short after slas.log went to .prev: the new log, ready, goes in. */
	if (faccessat(st->dir_fd, F_LOG, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		renameat(st->dir_fd, F_LOG_NEW, st->dir_fd, F_LOG);
	unlinkat(st->dir_fd, F_LOG_NEW, 0);
	read_found(st, &cur, F_SNAP, false);
	read_found(st, &prev, F_SNAP_PREV, false);
	read_found(st, &lg, F_LOG, true);
	read_found(st, &lgp, F_LOG_PREV, true);
	read_lost_mark(st, ld);

	if (cur.ok)
		from = &cur;
	else if (prev.ok)
		from = &prev;
	if (from) {
		st->map = from->m;
		from->m = none;
		g = from->gen;
	} else if (prev.present) {
		complete = false; /* what it held, nothing rebuilds */
	}
	for (int step = 0; step < 2; step++) /* the log that follows g, then the next */
		for (int i = 0; i < 2; i++) {
			struct found *l = logs[i];

			if (!l->ok || l->used || l->gen != g)
				continue;
			rc = replay(l->text, l->len, &st->map, &l->r, l->why, sizeof(l->why));
			if (rc)
				goto out;
			l->used = true;
			g++;
			break;
		}
	/* What could not be rebuilt: what slas.json held past what it was rebuilt from... */
	if (from != &cur && cur.present && !lgp.used)
		complete = false;
	/* ... the log a snapshot made by a compaction always has ... */
	if (from && from->gen > 0 && !lg.present) {
		size_t used = strlen(what);

		complete = false;
		snprintf(what + used, sizeof(what) - used, "%s%s is missing", used ? "; " : "",
			 F_LOG);
	}
	/* ... changes in a log that cannot be read, or that follow nothing that reads ... */
	if (lg.present && !lg.used && (!lg.ok || lg.gen >= (from ? from->gen : 0)))
		complete = false;
	/* ... and unreadable lines. */
	for (int i = 0; i < 2; i++) {
		struct found *l = logs[i];
		size_t used = strlen(what);

		if (!l->used || !l->r.bad)
			continue;
		ld->n_lost += l->r.bad;
		snprintf(what + used, sizeof(what) - used,
			 "%s%zu unreadable change%s in %s from line %zu lost", used ? "; " : "",
			 l->r.bad, l->r.bad == 1 ? "" : "s", l->name, l->r.first_bad);
		used = strlen(ids);
		if (l->r.bad_ids[0])
			snprintf(ids + used, sizeof(ids) - used, "%s%s", used ? "," : "",
				 l->r.bad_ids);
		anomaly = true;
	}
	/* Unusable files (and a log that follows nothing here), kept aside before anything is
	 * written. slas.log.prev, history while slas.json reads, stays. */
	for (int i = 0; i < 4; i++) {
		struct found *f = all[i];
		bool stale = f == &lg && f->ok && !f->used;

		if (f->ok && f->gen > newest)
			newest = f->gen;
		if (!f->present || (f->ok && !stale))
			continue;
		if (stale)
			snprintf(f->why, sizeof(f->why), "follows generation %" PRIu64, f->gen);
		rc = keep_aside(st, f, what, sizeof(what));
		if (rc) {
			snprintf(ld->why, sizeof(ld->why), "%s", what);
			goto out;
		}
		anomaly = true;
	}
	if (!complete && !from) {
		/* Nothing to rebuild from: said at every start until acknowledged. */
		rc = mark_lost(st, ld, false, what, ids);
		if (rc)
			goto out;
		log_error("state lost, starting without the SLAs it held dir=%s slas=%zu why=%s",
			  st->dir, st->map.n, log_q(what));
	} else if (anomaly || !complete || from == &prev) {
		ld->recovered = true;
		ld->n_lost +=
			!complete; /* at least the changes a file held that nothing rebuilds */
		if (!ld->lost)
			snprintf(ld->why, sizeof(ld->why), "%s",
				 what[0] ? what : "slas.json missing");
		if (!ld->n_lost) {
			log_warn("state rebuilt, nothing lost dir=%s from=%s slas=%zu what=%s",
				 st->dir, from ? from->name : "the logs", st->map.n, log_q(what));
		} else {
			/* A partial loss is shown as a total one is: marked, at every start,
			 * until acknowledged; the rest goes on in force. */
			rc = mark_lost(st, ld, true, what, ids);
			if (rc)
				goto out;
			log_error("state rebuilt, changes lost dir=%s from=%s slas=%zu what=%s "
				  "ids=%s",
				  st->dir, from ? from->name : "the logs", st->map.n, log_q(what),
				  log_q(ids));
		}
	}
	if (ld->lost || ld->recovered) {
		/* Two new generations over what is left, beyond any a file read speaks of: one to
		 * go on from, and one before it that leads to it, as every start expects. */
		st->gen = (newest > g ? newest : g) + 1;
		if ((rc = compact(st)) || (rc = compact(st))) {
			snprintf(ld->why, sizeof(ld->why), "state rebuilt but not written: %s",
				 strerror(-rc));
			goto out;
		}
	} else {
		st->gen = lg.used ? lg.gen : g;
		st->snap_bytes = cur.ok ? cur.len : 0;
		st->compact_at = st->compact_lines;
		st->log_lines = lg.r.applied + lg.r.bad;
	}
	if (lg.used && !ld->lost && !ld->recovered && lg.len != lg.r.good_len) {
		/* Going on with slas.log: a torn last line (a change never acknowledged) cut. */
		int fd = openat(st->dir_fd, F_LOG, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0 || ftruncate(fd, (off_t)lg.r.good_len) < 0 || fdatasync(fd) < 0) {
			rc = -errno;
			snprintf(ld->why, sizeof(ld->why), "%s: %s", F_LOG, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		log_info("state log's torn last line cut (a change never acknowledged) file=%s/%s "
			 "bytes=%zu",
			 st->dir, F_LOG, lg.len - lg.r.good_len);
	}
	ld->generation = st->gen;
out:
	for (int i = 0; i < 4; i++)
		found_free(all[i]);
	return rc;
}

/* ---- the writer thread ---- */

/* The batch's changes appended to the log and fdatasync'd, then taken into the map; the
 * acknowledgement of a loss, the mark removed. Each op's rc set. */
/* The state directory is still the one opened at start, at its path: moved away or replaced
 * (renamed, another mounted over it), a write through dir_fd would land where no start reads
 * it. -ESTALE, said, if not. */
static int dir_in_place(struct store *st)
{
	struct stat at_path, opened;

	if (fstat(st->dir_fd, &opened) < 0)
		return -errno;
	if (stat(st->dir, &at_path) == 0 && at_path.st_dev == opened.st_dev &&
	    at_path.st_ino == opened.st_ino)
		return 0;
	log_error("state directory moved or replaced: nothing written until it is back dir=%s",
		  st->dir);
	return -ESTALE;
}

static void write_batch(struct store *st, struct op *batch)
{
	size_t n = 0, len = 0, at = st->log_bytes;
	char *buf = NULL;
	FILE *mem = open_memstream(&buf, &len);
	int rc = mem ? dir_in_place(st) : -ENOMEM;
	struct op *o;

	for (o = batch; !rc && o; o = o->next) {
		char *line;

		if (o->kind == OP_ACK)
			continue;
		line = store_log_line(o->what, o->id, o->kind == OP_DEL ? NULL : &o->sla,
				      o->absent_since, 0);
		if (!line || fputs(line, mem) == EOF)
			rc = -ENOMEM;
		free(line);
		n++;
	}
	if (mem && fclose(mem) && !rc)
		rc = -ENOMEM;
	if (!rc && n && st->log_fd >= 0) {
		/* The log removed from under the agent (or its directory): appending to it would
		 * acknowledge changes no start reads back. A new generation from the map instead,
		 * which fails as it should when the directory is gone. */
		struct stat sb;

		if (fstat(st->log_fd, &sb) < 0 || sb.st_nlink == 0) {
			log_warn("state log removed from under the agent, writing a new generation "
				 "dir=%s",
				 st->dir);
			rc = compact(st);
		}
	}
	if (!rc && n && !(rc = map_reserve(&st->map, n)) &&
	    (st->log_fd >= 0 || !(rc = open_log(st)))) {
		at = st->log_bytes;
		rc = write_all(st->log_fd, buf, len);
		if (!rc && fdatasync(st->log_fd) < 0)
			rc = -errno;
		if (rc && ftruncate(st->log_fd, (off_t)at) < 0) {
			/* What was written may be read back at the next start, though refused now:
			 * the next batch compacts the map, which never took it, over it. */
			log_error("state log not cut back after a failed write dir=%s err=%s",
				  st->dir, strerror(errno));
			st->compact_at = 0;
			st->snap_bytes = 0;
		}
	}
	free(buf);
	if (rc) {
		log_error("state not written dir=%s changes=%zu err=%s", st->dir, n, strerror(-rc));
	} else if (n) {
		st->log_bytes = at + len;
		st->log_lines += n;
		for (o = batch; o; o = o->next)
			if (o->kind == OP_PUT)
				map_put(&st->map, o->what, o->id, &o->sla,
					o->absent_since); /* room reserved */
			else if (o->kind == OP_DEL)
				map_del(&st->map, o->what, o->id);
	}
	for (o = batch; o; o = o->next) {
		o->rc = rc;
		if (o->kind != OP_ACK || rc == -ESTALE)
			continue;
		struct stat sb;

		if (fstat(st->dir_fd, &sb) < 0 || sb.st_nlink == 0) {
			o->rc = -ENOENT; /* the state directory is gone: nothing to acknowledge in
					  */
			continue;
		}
		o->rc = unlinkat(st->dir_fd, F_LOST, 0) < 0 && errno != ENOENT ? -errno : 0;
		if (!o->rc && fsync(st->dir_fd) < 0)
			o->rc = -errno;
		if (!o->rc)
			log_info("state loss acknowledged dir=%s", st->dir);
	}
}

static void *writer(void *arg)
{
	struct store *st = arg;

	worker_thread_background("dbavm-store");
	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct op *batch, *o;
		uint64_t one = 1;

		while (!st->todo && !st->stopping)
			pthread_cond_wait(&st->wake, &st->lock);
		if (!st->todo)
			break; /* stopping, and nothing left to write */
		batch = st->todo;
		st->todo = NULL;
		st->todo_tail = &st->todo;
		pthread_mutex_unlock(&st->lock);

		write_batch(st, batch);

		pthread_mutex_lock(&st->lock);
		for (o = batch; o->next; o = o->next)
			;
		*st->done_tail = batch;
		st->done_tail = &o->next;
		if (write(st->event_fd, &one, sizeof(one)) < 0)
			log_error("store wakeup lost err=%s", strerror(errno));
		/* After the completions, so that no change waits for it: the log folded into a
		 * new snapshot once it is as large (a change costs O(1) amortised). */
		if (st->log_lines >= st->compact_at && st->log_bytes >= st->snap_bytes) {
			pthread_mutex_unlock(&st->lock);
			compact(st);
			pthread_mutex_lock(&st->lock);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/*
 * One agent per state directory: LOCK_FILE in it, flock()ed exclusively for the process's
 * life (the kernel lets go when the process ends, however it ends), with the holder's PID
 * in it for the message a second agent gives. Two agents on one directory both started
 * before, and when one compacted, the other's acknowledged changes went to the .prev file
 * and were gone after a restart.
 */
#define LOCK_FILE "lock"

static int take_lock(struct store *st, struct store_load *ld)
{
	char pid[32] = "";
	ssize_t n;
	int len;

	st->lock_fd =
		openat(st->dir_fd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (st->lock_fd < 0 && errno == EROFS) {
		/* Nothing can be written there, by us or another agent: the lock if it is there
		 * (flock needs no write access), else none needed. */
		st->lock_fd = openat(st->dir_fd, LOCK_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (st->lock_fd < 0 && errno == ENOENT) {
			log_warn("state directory read-only, not locked dir=%s", st->dir);
			return 0;
		}
	}
	if (st->lock_fd < 0) {
		int e = errno;

		snprintf(ld->why, sizeof(ld->why), "cannot open its %s file: %s", LOCK_FILE,
			 strerror(e));
		return -e;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = pread(st->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strspn(pid, "0123456789")] = '\0';
		if (e == EWOULDBLOCK)
			snprintf(ld->why, sizeof(ld->why),
				 "in use by another dbavmd, pid %s (it holds the directory's %s "
				 "file)",
				 pid[0] ? pid : "unknown", LOCK_FILE);
		else
			snprintf(ld->why, sizeof(ld->why), "cannot lock its %s file: %s", LOCK_FILE,
				 strerror(e));
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if ((fcntl(st->lock_fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return 0; /* read-only: the PID stays what it was */
	if (ftruncate(st->lock_fd, 0) < 0 || pwrite(st->lock_fd, pid, (size_t)len, 0) != len)
		log_warn("state lock: pid not written file=%s/%s err=%s", st->dir, LOCK_FILE,
			 strerror(errno));
	return 0;
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
	/* Another user who can write in it could plant links where root writes (StrictModes) */
	rc = owned_check(NULL, dir, ld->why, sizeof(ld->why));
	if (rc)
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	st->event_fd = -1;
	st->log_fd = -1;
	st->lock_fd = -1;
	st->compact_lines = st->compact_at = COMPACT_MIN_LINES;
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
	rc = take_lock(st, ld);
	if (rc)
		goto fail;
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

/* The absences written as they stand at the stop (a compaction; the writer has stopped): a
 * start after a reboot goes on from what they had lasted then, not from their last change. */
static void absences_at_stop(struct store *st)
{
	size_t i = 0;
	int rc;

	while (i < st->map.n && !st->map.e[i].absent_since)
		i++;
	if (i == st->map.n)
		return;
	rc = compact(st);
	if (rc)
		log_warn("absences not written at the stop: a start after a reboot goes on from "
			 "their last change dir=%s err=%s",
			 st->dir, strerror(-rc));
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
		absences_at_stop(st);
	}
	for (struct op *o = st->done, *n; o; o = n) {
		n = o->next;
		free(o);
	}
	if (st->log_fd >= 0)
		close(st->log_fd);
	if (st->event_fd >= 0)
		close(st->event_fd);
	if (st->dir_fd >= 0)
		close(st->dir_fd);
	if (st->lock_fd >= 0) /* the lock goes last: nothing of ours is written after it */
		close(st->lock_fd);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->wake);
	map_free(&st->map);
	free(st);
}

int store_event_fd(const struct store *st)
{
	return st->event_fd;
}

static int queue(struct store *st, struct op *o)
{
	pthread_mutex_lock(&st->lock);
	*st->todo_tail = o;
	st->todo_tail = &o->next;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
	st->in_flight++;
	return 0;
}

int store_submit(struct store *st, enum store_kind kind, const char *id, const struct sla_spec *sla,
		 int64_t absent_since, void *cookie)
{
	struct op *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->what = kind;
	snprintf(o->id, sizeof(o->id), "%s", id);
	o->kind = sla ? OP_PUT : OP_DEL;
	if (sla) {
		o->sla = *sla;
		o->absent_since = absent_since;
	}
	o->cookie = cookie;
	return queue(st, o);
}

int store_ack_lost(struct store *st, void *cookie)
{
	struct op *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->kind = OP_ACK;
	o->cookie = cookie;
	return queue(st, o);
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

void store_compact_after(struct store *st, size_t lines)
{
	pthread_mutex_lock(&st->lock); /* the writer reads it after a batch it took under it */
	st->compact_lines = lines;
	st->compact_at = lines;
	pthread_mutex_unlock(&st->lock);
}

size_t store_in_flight(const struct store *st)
{
	return st->in_flight;
}
