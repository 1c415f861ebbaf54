/*
 * What the agent takes from OpenStack's side: an openrc file (operator-written), and Keystone's
 * token answer (the catalog). The first byte picks which; the rest is the input. Properties:
 * an accepted openrc has what it needs (an http(s) auth URL, a complete credential) and makes a
 * token request; a refusal says why; a found placement endpoint fits its buffer.
 */
#include <string.h>

#include "fuzz.h"
#include "keystone.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct os_creds c;
	struct ks_token t;
	char err[512] = "";

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (openrc_parse((const char *)data + 1, size - 1, &c, err, sizeof(err))) {
			FUZZ_CHECK(err[0]);
			return 0;
		}
		FUZZ_CHECK(!strncmp(c.auth_url, "http://", 7) ||
			   !strncmp(c.auth_url, "https://", 8));
		FUZZ_CHECK((c.app_cred_id[0] && c.app_cred_secret[0]) ||
			   (c.username[0] && c.password[0] && c.project_name[0]));
		char *url = keystone_tokens_url(&c), *body = keystone_auth_body(&c);

		FUZZ_CHECK(url && strstr(url, "/auth/tokens"));
		FUZZ_CHECK(body);
		free(url);
		free(body);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	strcpy(c.interface, "public");
	if (data[0] & 2)
		strcpy(c.region, "RegionOne");
	if (keystone_parse_token((const char *)data + 1, size - 1, &c, &t, err, sizeof(err)))
		FUZZ_CHECK(err[0]);
	else
		FUZZ_CHECK(t.lifetime_s > 0 && strlen(t.placement) < sizeof(t.placement));
	return 0;
}
