/*
 * SLA bodies, ours and Neutron's QoS policies, through api_parse_sla, the parser PUT uses.
 * An accepted SLA must encode (sla_spec_to_json, both directions) and parse back as itself; a
 * rejection must make a buildable JSON error body, its message and field made valid UTF-8 as
 * the API makes them.
 */
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "fuzz.h"
#include "http.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sla_error err, err2;
	struct sla_spec sla, back;
	char m[512], f[256], *text;
	json_t *doc;

	memset(&sla, 0, sizeof(sla));
	if (api_parse_sla((const char *)data, size, &sla, &err)) {
		http_utf8_clean(m, sizeof(m), err.msg);
		http_utf8_clean(f, sizeof(f), err.field);
		doc = json_pack("{s:s, s:s}", "error", m, "field", f);
		FUZZ_CHECK(doc);
		text = json_dumps(doc, JSON_COMPACT);
		FUZZ_CHECK(text);
		free(text);
		json_decref(doc);
		return 0;
	}
	doc = sla_spec_to_json(&sla);
	FUZZ_CHECK(doc);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	FUZZ_CHECK(text);
	memset(&back, 0, sizeof(back));
	FUZZ_CHECK(api_parse_sla(text, strlen(text), &back, &err2) == 0);
	FUZZ_CHECK(!memcmp(&sla, &back, sizeof(sla)));
	free(text);
	return 0;
}
