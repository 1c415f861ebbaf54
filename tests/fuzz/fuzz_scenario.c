/* The sim's scenario files (--scenario), through the loader the agent uses. */
#include "fuzz.h"
#include "log.h"
#include "scenario.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scenario sc;
	char err[512];

	if (!scenario_parse((const char *)data, size, &sc, err, sizeof(err))) {
		for (size_t i = 0; i < sc.n_vms; i++)
			for (size_t j = 0; j < sc.vms[i].n_vifs; j++)
				(void)scenario_step_at(&sc.vms[i].vifs[j], 1000);
		scenario_free(&sc);
	}
	return 0;
}
