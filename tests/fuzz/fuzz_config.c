/* The config file (-c FILE), line by line through the setters the flags use. */
#include <stdio.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[PATH_MAX + 256];
	FILE *f;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	FUZZ_CHECK(f);
	config_defaults(&cfg);
	if (config_load_stream(&cfg, f, "dbavmd.conf", err, sizeof(err)))
		FUZZ_CHECK(err[0]); /* a refusal says why */
	fclose(f);
	return 0;
}
