/* The state file (<state-dir>/slas.json): what loads must be written back as the same SLAs. */
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
	size_t n = 0, n_back = 0;
	char why[320], *text;

	if (store_parse((const char *)data, size, &e, &n, why, sizeof(why))) {
		FUZZ_CHECK(why[0]);
		return 0;
	}
	text = store_serialize(e, n);
	FUZZ_CHECK(text);
	FUZZ_CHECK(store_parse(text, strlen(text), &back, &n_back, why, sizeof(why)) == 0);
	FUZZ_CHECK(n_back == n);
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < n_back && strcmp(back[j].id, e[i].id))
			j++;
		FUZZ_CHECK(j < n_back && !memcmp(&back[j].sla, &e[i].sla, sizeof(e[i].sla)));
	}
	free(text);
	free(e);
	free(back);
	return 0;
}
