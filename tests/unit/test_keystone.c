/*
 * test_keystone: what the agent reads and writes for OpenStack without a network: openrc files
 * as operators keep them (and what they must not contain), the token request's URL and body,
 * Keystone's token answer (lifetime, the placement endpoint for the interface and region),
 * uuid5 against Python's uuid.uuid5, and physnet traits as Neutron normalises them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystone.h"
#include "placement.h"

static int parse(const char *text, struct os_creds *c, char *why, size_t len)
{
	return openrc_parse(text, strlen(text), c, why, len);
}

static void a_horizon_style_openrc_is_read(void **state)
{
	static const char rc[] = "#!/usr/bin/env bash\n"
				 "# from the dashboard\n"
				 "export OS_AUTH_URL=https://keystone.example:5000/v3\n"
				 "export OS_PROJECT_NAME=\"service\"\n"
				 "export OS_USER_DOMAIN_NAME=\"Default\"\n"
				 "unset OS_TENANT_ID\n"
				 "unset OS_TENANT_NAME\n"
				 "export OS_USERNAME=\"dbavm\"\n"
				 "export OS_PASSWORD='p@ss w$rd'\n"
				 "OS_REGION_NAME=RegionTwo   # trailing comment\n"
				 "export OS_INTERFACE=internal\r\n"
				 "export OS_IDENTITY_API_VERSION=3\n"
				 "export OS_CACERT=/etc/ssl/certs/cloud.pem\n";
	struct os_creds c;
	char why[256];

	(void)state;
	assert_int_equal(parse(rc, &c, why, sizeof(why)), 0);
	assert_string_equal(c.auth_url, "https://keystone.example:5000/v3");
	assert_string_equal(c.username, "dbavm");
	assert_string_equal(c.password, "p@ss w$rd"); /* single quotes: taken as written */
	assert_string_equal(c.project_name, "service");
	assert_string_equal(c.project_domain_name, "Default"); /* the default */
	assert_string_equal(c.region, "RegionTwo");
	assert_string_equal(c.interface, "internal");
	assert_string_equal(c.cacert, "/etc/ssl/certs/cloud.pem");
}

static void an_application_credential_is_enough(void **state)
{
	struct os_creds c;
	char why[256], *body;

	(void)state;
	assert_int_equal(parse("OS_AUTH_URL=http://k:5000\nOS_APPLICATION_CREDENTIAL_ID=abc\n"
			       "OS_APPLICATION_CREDENTIAL_SECRET=\"s\\\"q\"\n",
			       &c, why, sizeof(why)),
			 0);
	assert_string_equal(c.app_cred_secret, "s\"q");
	assert_string_equal(c.interface, "public");
	body = keystone_auth_body(&c);
	assert_string_equal(body,
			    "{\"auth\":{\"identity\":{\"methods\":[\"application_credential\"],"
			    "\"application_credential\":{\"id\":\"abc\",\"secret\":\"s\\\"q\"}}}}");
	free(body);
	body = keystone_tokens_url(&c);
	assert_string_equal(body, "http://k:5000/v3/auth/tokens"); /* no version: v3 */
	free(body);
}

static void what_needs_the_shell_or_is_incomplete_is_refused(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "export OS_PASSWORD=$OS_PASSWORD_INPUT\n",
		  "line 1: OS_PASSWORD: needs the shell" },
		{ "OS_USERNAME=\"a`id`\"\n", "needs the shell" },
		{ "read -sr OS_PASSWORD_INPUT\n", "line 1: not NAME=VALUE" },
		{ "OS_USERNAME=\"unclosed\n", "no closing quote" },
		{ "OS_USERNAME=two words\n", "a blank in an unquoted value" },
		{ "OS_PASSWORD='\xff\xfe'\n",
		  "OS_PASSWORD: not UTF-8" }, /* found by fuzz_openstack */
		{ "OS_USERNAME=u\nOS_PASSWORD=p\nOS_PROJECT_NAME=x\n", "OS_AUTH_URL is not set" },
		{ "OS_AUTH_URL=ftp://k\n", "must start with http" },
		{ "OS_AUTH_URL=http://k\nOS_USERNAME=u\n", "needs OS_APPLICATION_CREDENTIAL_ID" },
		{ "OS_AUTH_URL=http://k\nOS_APPLICATION_CREDENTIAL_ID=a\n", "go together" },
		{ "OS_AUTH_URL=http://k\nOS_APPLICATION_CREDENTIAL_ID=a\n"
		  "OS_APPLICATION_CREDENTIAL_SECRET=s\nOS_INTERFACE=private\n",
		  "OS_INTERFACE must be" },
	};
	struct os_creds c;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(parse(bad[i].text, &c, why, sizeof(why)), 0);
		if (!strstr(why, bad[i].why))
			fail_msg("case %zu: '%s' does not say '%s'", i, why, bad[i].why);
		assert_null(strstr(why, "OS_PASSWORD_INPUT")); /* never echoes a value */
	}
	/* a NUL byte inside */
	assert_int_not_equal(openrc_parse("OS_AUTH_URL=http://k\0x\n", 21, &c, why, sizeof(why)),
			     0);
	assert_non_null(strstr(why, "NUL"));
}

static void the_file_must_be_private(void **state)
{
	char path[] = "/tmp/dbavm-openrc-XXXXXX", why[512];
	struct os_creds c;
	int fd = mkstemp(path);
	static const char rc[] = "OS_AUTH_URL=http://k/v3/\nOS_USERNAME=u\nOS_PASSWORD=p\n"
				 "OS_PROJECT_NAME=x\n";
	char *url;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rc, sizeof(rc) - 1), (ssize_t)sizeof(rc) - 1);
	close(fd);
	chmod(path, 0644);
	assert_int_not_equal(openrc_load(path, &c, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "chmod 600"));
	chmod(path, 0600);
	assert_int_equal(openrc_load(path, &c, why, sizeof(why)), 0);
	url = keystone_tokens_url(&c);
	assert_string_equal(url, "http://k/v3/auth/tokens");
	free(url);
	unlink(path);
}

static void the_token_answer_gives_lifetime_and_placement(void **state)
{
	static const char body[] =
		"{\"token\": {\"expires_at\": \"2026-12-01T12:06:01.000000Z\","
		" \"issued_at\": \"2026-12-01T11:06:01.000000Z\", \"catalog\": ["
		" {\"type\": \"identity\", \"endpoints\": [{\"interface\": \"public\","
		"   \"region_id\": \"RegionOne\", \"url\": \"http://k/v3\"}]},"
		" {\"type\": \"placement\", \"endpoints\": ["
		"   {\"interface\": \"public\", \"region_id\": \"RegionOne\", \"url\": "
		"\"http://p1\"},"
		"   {\"interface\": \"internal\", \"region_id\": \"RegionOne\", \"url\": "
		"\"http://p2\"},"
		"   {\"interface\": \"internal\", \"region_id\": \"RegionTwo\", \"url\": "
		"\"http://p3\"}"
		" ]}]}}";
	struct os_creds c;
	struct ks_token t;
	char why[256];

	(void)state;
	assert_int_equal(parse("OS_AUTH_URL=http://k\nOS_APPLICATION_CREDENTIAL_ID=a\n"
			       "OS_APPLICATION_CREDENTIAL_SECRET=s\n",
			       &c, why, sizeof(why)),
			 0);
	assert_int_equal(keystone_parse_token(body, strlen(body), &c, &t, why, sizeof(why)), 0);
	assert_int_equal(t.lifetime_s, 3600);
	assert_string_equal(t.placement, "http://p1");
	strcpy(c.interface, "internal");
	strcpy(c.region, "RegionTwo");
	assert_int_equal(keystone_parse_token(body, strlen(body), &c, &t, why, sizeof(why)), 0);
	assert_string_equal(t.placement, "http://p3");
	strcpy(c.interface, "admin");
	assert_int_equal(keystone_parse_token(body, strlen(body), &c, &t, why, sizeof(why)), 0);
	assert_string_equal(t.placement, ""); /* none: --placement-url must say */
	assert_int_not_equal(keystone_parse_token("{\"token\": {}}", 13, &c, &t, why, sizeof(why)),
			     0);
	assert_non_null(strstr(why, "expires_at"));
	assert_int_not_equal(keystone_parse_token("[]", 2, &c, &t, why, sizeof(why)), 0);
}

static void uuid5_is_rfc_4122s(void **state)
{
	char out[PLATFORM_UUID_LEN];

	(void)state;
	/* python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"))' */
	assert_int_equal(placement_uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", out),
			 0);
	assert_string_equal(out, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
	/* uuid.uuid5(uuid.UUID(PLACEMENT_UUID_NAMESPACE), "cmp1:dbavm") */
	assert_int_equal(placement_uuid5(PLACEMENT_UUID_NAMESPACE, "cmp1:dbavm", out), 0);
	assert_string_equal(out, "ee71e89c-44f4-524b-b410-b764f1046689");
	assert_int_not_equal(placement_uuid5("not-a-uuid", "x", out), 0);
}

static void physnet_traits_are_normalised(void **state)
{
	char t[96];

	(void)state;
	placement_physnet_trait("physnet-a", t, sizeof(t));
	assert_string_equal(t, "CUSTOM_PHYSNET_PHYSNET_A");
	placement_physnet_trait("Ext.Net_2", t, sizeof(t));
	assert_string_equal(t, "CUSTOM_PHYSNET_EXT_NET_2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_horizon_style_openrc_is_read),
		cmocka_unit_test(an_application_credential_is_enough),
		cmocka_unit_test(what_needs_the_shell_or_is_incomplete_is_refused),
		cmocka_unit_test(the_file_must_be_private),
		cmocka_unit_test(the_token_answer_gives_lifetime_and_placement),
		cmocka_unit_test(uuid5_is_rfc_4122s),
		cmocka_unit_test(physnet_traits_are_normalised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
