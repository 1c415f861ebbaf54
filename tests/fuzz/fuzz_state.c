/* The state files (<state-dir>/slas.json, slas.log): what loads must be written back as the
 * same SLAs; a log, read on the snapshot, is replayed or refused, never half-taken. */
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_entry *e = NULL, *back = NULL;
	size_t n = 0, n_back = 0, bad = 0;
	uint64_t gen = 0, gen_back = 0, base = 0;
	char why[320], *text;
	long applied;

	/* The same bytes as a log, replayed onto nothing: refused with a reason, or every line
	 * applied or counted as unreadable. */
	why[0] = '\0';
	applied = store_replay_log((const char *)data, size, &e, &n, &base, &bad, why, sizeof(why));
	FUZZ_CHECK(applied >= 0 || why[0]);
	FUZZ_CHECK(applied < 0 || (size_t)applied >= n);
	free(e);
	e = NULL;
	n = 0;
	if (store_parse((const char *)data, size, &e, &n, &gen, why, sizeof(why))) {
		FUZZ_CHECK(why[0]);
		return 0;
	}
	text = store_serialize(e, n, gen);
	FUZZ_CHECK(text);
	FUZZ_CHECK(store_parse(text, strlen(text), &back, &n_back, &gen_back, why, sizeof(why)) ==
		   0);
	FUZZ_CHECK(n_back == n && (gen_back == gen));
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < n_back && (back[j].kind != e[i].kind || strcmp(back[j].id, e[i].id)))
			j++;
		FUZZ_CHECK(j < n_back && !memcmp(&back[j].sla, &e[i].sla, sizeof(e[i].sla)) &&
			   back[j].absent_since == e[i].absent_since);
	}
	free(text);
	free(e);
	free(back);
	return 0;
}
