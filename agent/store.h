/*
 * store: SLAs on disk, durable before they are acknowledged, at a cost per change that does
 * not grow with the number of SLAs held.
 *
 * In <state-dir>:
 *   slas.json       a snapshot of every SLA, generation G
 *   slas.log        the changes since snapshot G, a line each, appended and fdatasync'd
 *   slas.json.prev  the snapshot before it, generation G-1, ...
 *   slas.log.prev   ... and the changes that led from it to G
 *   state-lost      there while the SLAs were lost at a start and nobody has acknowledged it
 * A change is one appended line. When the log outgrows the snapshot, the writer compacts: a
 * new snapshot G+1 is written beside (temp file, fsync), then slas.json becomes .prev,
 * slas.log becomes .prev, the new snapshot slas.json, and the directory is fsync'd. Two
 * generations are always on disk, and the newer can be rebuilt from the older and its log.
 * Each log line carries a CRC-32 of itself: a torn or flipped line is seen, never applied.
 *
 * At start, the newest generation that can be read is taken and the logs replayed onto it. A
 * file that cannot be read is renamed aside (<name>.corrupt-<unix time>), never overwritten,
 * and logged with what was lost (nothing, when the other generation and the logs rebuild
 * it). With nothing to rebuild from, the store starts empty and says the state is lost, at
 * this start and every later one, until store_ack_lost.
 *
 * The writing happens on the store's own thread, so an fsync never delays the control loop;
 * requests queue to it and their completions come back through an eventfd the loop waits on.
 * Requests that arrive while a write is under way are committed together (group commit).
 */
#ifndef DBAVM_STORE_H
#define DBAVM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "sla.h"

struct store;

/* What an SLA is kept for: a VM (by its id) or a port (by its key, host.h's struct port). */
enum store_kind { STORE_VM, STORE_PORT };

struct store_entry {
	enum store_kind kind;
	char id[PLATFORM_ID_MAX];
	struct sla_spec sla;
	int64_t absent_since; /* when its VM was last seen leaving (a stamp on this boot's clock,
				 boottime.h; on disk a duration); 0: present, or not known */
};

/* What store_open found. */
struct store_load {
	struct store_entry *entries; /* the SLAs on disk; owned by the store */
	size_t n_entries;
	bool lost;	/* the SLAs were lost (now or at an earlier start, not acknowledged) */
	char why[1024]; /* ... why, or what was found wrong and kept aside */
	char why_public[1024]; /* why, without the VMs or ports named (for readers without a
				 token under --auth-reads) */
	bool recovered;	     /* a file was unusable; what it held was rebuilt or is counted below */
	size_t n_lost;	     /* changes that were on disk and could not be read back */
	uint64_t generation; /* the snapshot's generation the store goes on from */
};

/* Opens (creating dir, mode 0700, if missing) and loads. Returns 0 (also when files were
 * unusable: see load) or a negative errno with why set (the directory is unusable, or an
 * unusable file could not be kept aside: refusing to start beats overwriting it later). */
int store_open(const char *dir, struct store **out, struct store_load *load);
/* Waits for queued writes to finish, then stops the writer. */
void store_close(struct store *st);

/* Readable when completions are waiting for store_complete. */
int store_event_fd(const struct store *st);

/* Queues a change: the SLA of VM (or port) id, with when it left (0: present), or sla NULL
 * to delete it. done(cookie, rc) is called from store_complete once the change is on disk
 * (rc 0) or failed (negative errno; nothing changed). */
int store_submit(struct store *st, enum store_kind kind, const char *id, const struct sla_spec *sla,
		 int64_t absent_since, void *cookie);
/* Queues the acknowledgement that the SLAs were lost: the state-lost mark is removed, and
 * done(cookie, rc) says when. */
int store_ack_lost(struct store *st, void *cookie);

typedef void store_done_fn(void *cookie, int rc, void *arg);
/* Delivers every waiting completion, in submission order. */
void store_complete(struct store *st, store_done_fn *done, void *arg);

/* A snapshot's text parsed: 0 with *entries (malloc'd, the caller frees), *n and *generation,
 * or -EINVAL/-ENOMEM with why (where in the file, never its content). */
int store_parse(const char *text, size_t len, struct store_entry **entries, size_t *n,
		uint64_t *generation, char *why, size_t why_len);
/* The text store_parse reads back as entries; malloc'd, NULL when out of memory. */
char *store_serialize(const struct store_entry *entries, size_t n, uint64_t generation);

/* A log's text parsed onto entries (*entries and *n: malloc'd, the caller frees; *n may come
 * in non-zero). Returns the number of changes applied, with *base the generation the log
 * follows, *bad the lines that could not be read (a torn last line is not counted), or -EINVAL
 * (no readable header) / -ENOMEM, with why. */
long store_replay_log(const char *text, size_t len, struct store_entry **entries, size_t *n,
		      uint64_t *base, size_t *bad, char *why, size_t why_len);
/* One log line (a change; sla NULL deletes) or the header (id NULL: base), with its CRC and
 * newline; malloc'd, NULL when out of memory. */
char *store_log_line(enum store_kind kind, const char *id, const struct sla_spec *sla,
		     int64_t absent_since, uint64_t base);

/* Compacts once the log holds `lines` changes (and is as large as the snapshot); 4096 unless
 * set. For tests, before the first change. */
void store_compact_after(struct store *st, size_t lines);

/* Changes submitted and not yet completed. */
size_t store_in_flight(const struct store *st);

#endif
