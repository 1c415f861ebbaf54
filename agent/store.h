/*
 * store: SLAs on disk, durable before they are acknowledged.
 *
 * The file is <state-dir>/slas.json, replaced atomically: write a temp file, fsync it, rename
 * it over the old one, fsync the directory. The writing happens on the store's own thread, so
 * an fsync never delays the control loop; requests queue to it and their completions come
 * back through an eventfd the loop waits on. Requests that arrive while a write is under way
 * are committed together by the next one (group commit).
 *
 * A state file that cannot be read or parsed at start is renamed aside (slas.json.corrupt-
 * <unix time>), reported, and never overwritten; the agent starts without SLAs.
 */
#ifndef DBAVM_STORE_H
#define DBAVM_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "platform.h"
#include "sla.h"

struct store;

struct store_entry {
	char id[PLATFORM_ID_MAX];
	struct sla sla;
};

/* What store_open found. */
struct store_load {
	struct store_entry *entries; /* the SLAs on disk; owned by the store */
	size_t n_entries;
	bool corrupt;	    /* the file was unusable and was kept aside ... */
	char kept_at[4160]; /* ... at this path */
	char why[320];	    /* ... for this reason */
};

/* Opens (creating dir, mode 0700, if missing) and loads. Returns 0 (also when the file was
 * corrupt: see load) or a negative errno with why set (the directory is unusable). */
int store_open(const char *dir, struct store **out, struct store_load *load);
/* Waits for queued writes to finish, then stops the writer. */
void store_close(struct store *st);

/* Readable when completions are waiting for store_complete. */
int store_event_fd(const struct store *st);

/* Queues a change; sla NULL deletes. done(cookie, rc) is called from store_complete once the
 * change is on disk (rc 0) or failed (negative errno; the file is unchanged). */
int store_submit(struct store *st, const char *id, const struct sla *sla, void *cookie);

typedef void store_done_fn(void *cookie, int rc, void *arg);
/* Delivers every waiting completion, in submission order. */
void store_complete(struct store *st, store_done_fn *done, void *arg);

/* A state file's text parsed: 0 with *entries (malloc'd, the caller frees) and *n, or
 * -EINVAL/-ENOMEM with why (where in the file, never its content). */
int store_parse(const char *text, size_t len, struct store_entry **entries, size_t *n, char *why,
		size_t why_len);
/* The text store_parse reads back as entries; malloc'd, NULL when out of memory. */
char *store_serialize(const struct store_entry *entries, size_t n);

/* Changes submitted and not yet completed. */
size_t store_in_flight(const struct store *st);

#endif
