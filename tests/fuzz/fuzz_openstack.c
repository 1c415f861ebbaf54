/*
 * What the agent takes from OpenStack's side: an openrc file (operator-written), Keystone's
 * token answer (the catalog), and Neutron's answers to the follower (the host's ports, their
 * policies). The first byte picks which; the rest is the input. Properties: an accepted openrc
 * has what it needs (an http(s) auth URL, a complete credential) and makes a token request; a
 * refusal says why; a found endpoint fits its buffer; a port read has a UUID and a lowercase
 * MAC, and after its policies either an SLA from Neutron with that port's source, no policy,
 * or a refusal that says why.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "keystone.h"
#include "log.h"
#include "neutron_follow.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static void check_port(const struct neutron_port *p)
{
	FUZZ_CHECK(strlen(p->id) == 36 && strlen(p->mac) == 17);
	for (int i = 0; i < 17; i++)
		FUZZ_CHECK(!isupper((unsigned char)p->mac[i]));
	FUZZ_CHECK(p->state != NEUTRON_REFUSED || p->why[0]);
	FUZZ_CHECK(p->state != NEUTRON_SLA || (p->sla.source.from == SLA_FROM_NEUTRON &&
					       !strcmp(p->sla.source.port_id, p->id) &&
					       !strcmp(p->sla.source.policy_id, p->policy_id)));
	FUZZ_CHECK(p->policy_id[0] || p->state != NEUTRON_SLA);
}

/* The ports answer (policies: the same bytes as the policies answer for a fixed host). */
static void neutron_answers(bool policies, const char *text, size_t len)
{
	static const char fixed[] =
		"{\"ports\": [{\"id\": \"2bc57671-6aed-4bd8-befd-1526b8a277ef\", "
		"\"mac_address\": \"fa:16:3e:00:00:01\", "
		"\"qos_policy_id\": \"5af80663-18fd-49d0-9dfa-a13f53e45b61\"}, "
		"{\"id\": \"f26cb6d0-0412-4c33-9c90-b5da62eae083\", "
		"\"mac_address\": \"fa:16:3e:00:00:02\", "
		"\"qos_network_policy_id\": \"70a823ab-ff43-48be-a94f-a6ec0e787a33\"}]}";
	struct neutron_port *ports;
	size_t n, skipped;
	char err[300] = "";

	if (policies) {
		FUZZ_CHECK(!neutron_ports_parse(fixed, sizeof(fixed) - 1, &ports, &n, &skipped, err,
						sizeof(err)) &&
			   n == 2);
		if (neutron_policies_apply(text, len, ports, n, err, sizeof(err)))
			FUZZ_CHECK(err[0]);
	} else if (neutron_ports_parse(text, len, &ports, &n, &skipped, err, sizeof(err))) {
		FUZZ_CHECK(err[0] || !ports);
		return;
	}
	for (size_t i = 0; i < n; i++)
		check_port(&ports[i]);
	free(ports);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct os_creds c;
	struct ks_token t;
	char err[512] = "";

	if (size < 1)
		return 0;
	if (data[0] & 4) {
		neutron_answers(data[0] & 8, (const char *)data + 1, size - 1);
		return 0;
	}
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
		FUZZ_CHECK(t.lifetime_s > 0 && strlen(t.placement) < sizeof(t.placement) &&
			   strlen(t.network) < sizeof(t.network));
	return 0;
}
