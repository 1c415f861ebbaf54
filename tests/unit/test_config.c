/*
 * The command line and config file: defaults, precedence (defaults < file < flags), and a
 * one-line error naming the flag or file:line for every bad input.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static int parse(struct config *cfg, char *err, size_t len, ...)
{
	char *argv[64] = { "dbavmd" };
	int argc = 1;
	va_list ap;

	va_start(ap, len);
	while (argc < 63 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return config_parse(cfg, argc, argv, err, len);
}

static char *write_file(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	strcpy(path, "/tmp/dbavm-test-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void config_defaults_match_the_design(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, err, sizeof(err), NULL), 0);
	assert_int_equal(c.platform, PLATFORM_AUTO);
	assert_int_equal(c.enforcer, ENFORCER_NETFRONT);
	assert_string_equal(c.listen_addr, "127.0.0.1");
	assert_int_equal(c.listen_port, 8470);
	assert_int_equal(c.period_ms, 100);
	assert_int_equal(c.mode, ALLOC_WORK_CONSERVING);
	assert_int_equal(c.log_level, LOG_LEVEL_INFO);
	assert_int_equal(c.floor_bps, 100000);
	assert_int_equal(c.floor_pps, 10);
	assert_int_equal(c.xen_counters, XEN_COUNTERS_BPF); /* the tap on each vif */
	assert_int_equal(c.max_connections, 64);
	assert_int_equal(c.max_connections_per_address, 16);
	assert_int_equal(c.idle_timeout_s, 30);
	assert_int_equal(c.request_timeout_s, 10);
}

static void config_flags_set_every_key(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, err, sizeof(err), "--platform", "sim", "--enforcer", "none",
			       "--listen", "[::1]:9000", "--period", "10", "--state-dir", "/s",
			       "--token-file", "/t", "--mode", "strict", "--log-level", "debug",
			       "--scenario", "x.json", "--ticks", "5", "--report", "json",
			       "--floor-bps", "0", "--floor-pps", "25", "--xen-counters", "xenstat",
			       "--max-connections", "100", "--max-connections-per-address", "4",
			       "--request-timeout", "3", NULL),
			 0);
	assert_int_equal(c.platform, PLATFORM_SIM);
	assert_int_equal(c.enforcer, ENFORCER_NONE);
	assert_string_equal(c.listen_addr, "[::1]");
	assert_int_equal(c.listen_port, 9000);
	assert_int_equal(c.period_ms, 10);
	assert_string_equal(c.state_dir, "/s");
	assert_string_equal(c.token_file, "/t");
	assert_int_equal(c.mode, ALLOC_STRICT);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c.ticks, 5);
	assert_true(c.report_json);
	assert_int_equal(c.floor_bps, 0);
	assert_int_equal(c.floor_pps, 25);
	assert_int_equal(c.xen_counters, XEN_COUNTERS_XENSTAT);
	assert_int_equal(c.max_connections, 100);
	assert_int_equal(c.max_connections_per_address, 4);
	assert_int_equal(c.request_timeout_s, 3);
}

static void config_tls_flags_and_what_a_reload_may_change(void **state)
{
	struct config a, b;
	char err[256];

	(void)state;
	assert_int_equal(parse(&a, err, sizeof(err), "--tls-cert", "/c.pem", "--tls-key", "/k.pem",
			       "--tls-client-ca", "/ca.pem", NULL),
			 0);
	assert_string_equal(a.tls_cert, "/c.pem");
	assert_string_equal(a.tls_key, "/k.pem");
	assert_string_equal(a.tls_client_ca, "/ca.pem");
	/* what a reload takes at once */
	assert_int_equal(parse(&b, err, sizeof(err), "--tls-cert", "/new.pem", "--tls-key",
			       "/newk.pem", "--tls-client-ca", "/ca2.pem", "--log-level", "debug",
			       "--token-file", "/t2", "--mode", "strict", "--floor-bps", "5",
			       "--floor-pps", "0", "--auth-reads", NULL),
			 0);
	assert_null(config_restart_key_changed(&a, &b));
	/* what takes a restart */
	assert_int_equal(parse(&b, err, sizeof(err), "--tls-cert", "/c.pem", "--tls-key", "/k.pem",
			       "--tls-client-ca", "/ca.pem", "--period", "50", NULL),
			 0);
	assert_string_equal(config_restart_key_changed(&a, &b), "period");
	assert_int_equal(
		parse(&b, err, sizeof(err), "--tls-cert", "/c.pem", "--tls-key", "/k.pem", NULL),
		0);
	assert_string_equal(config_restart_key_changed(&a, &b), "tls-client-ca");
	assert_int_equal(parse(&b, err, sizeof(err), NULL), 0);
	assert_string_equal(config_restart_key_changed(&a, &b), "tls-cert");
	assert_int_equal(parse(&a, err, sizeof(err), "--uplinks", "eth0:100", NULL), 0);
	assert_int_equal(parse(&b, err, sizeof(err), "--uplinks", "eth0:200", NULL), 0);
	assert_string_equal(config_restart_key_changed(&a, &b), "uplinks");
}

static void config_placement_flags(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, err, sizeof(err), NULL), 0);
	assert_string_equal(c.os_credentials, "");
	assert_int_equal(c.placement_resync_s, 60);
	assert_int_equal(parse(&c, err, sizeof(err), "--os-credentials", "/etc/dbavm/openrc",
			       "--placement-url", "https://placement.example/placement",
			       "--placement-host-name", "cmp-7", "--physnets",
			       "eth0=physnet1,bond0=ext", "--placement-reserved-kbps", "10000",
			       "--placement-reserved-kpps", "2", "--placement-resync", "5", NULL),
			 0);
	assert_string_equal(c.os_credentials, "/etc/dbavm/openrc");
	assert_string_equal(c.placement_url, "https://placement.example/placement");
	assert_string_equal(c.placement_host_name, "cmp-7");
	assert_int_equal(c.n_physnets, 2);
	assert_string_equal(c.physnets[1].uplink, "bond0");
	assert_string_equal(c.physnets[1].physnet, "ext");
	assert_int_equal(c.placement_reserved_kbps, 10000);
	assert_int_equal(c.placement_reserved_kpps, 2);
	assert_int_equal(c.placement_resync_s, 5);
	assert_false(c.placement_pps_directions);
	assert_int_equal(parse(&c, err, sizeof(err), "--os-credentials", "/c", "--neutron",
			       "--neutron-host", "cmp-7", "--neutron-poll", "5",
			       "--neutron-unmanaged",
			       "FA:16:3E:00:00:01,2BC57671-6aed-4bd8-befd-1526b8a277ef",
			       "--placement-packet-rate", "150:100", NULL),
			 0);
	assert_true(c.neutron);
	assert_string_equal(c.neutron_host, "cmp-7");
	assert_int_equal(c.neutron_poll_s, 5);
	assert_int_equal(c.n_neutron_unmanaged, 2);
	assert_string_equal(c.neutron_unmanaged[0], "fa:16:3e:00:00:01");
	assert_string_equal(c.neutron_unmanaged[1], "2bc57671-6aed-4bd8-befd-1526b8a277ef");
	assert_true(c.placement_pps_directions);
	assert_int_equal(c.placement_egress_kpps, 150);
	assert_int_equal(c.placement_ingress_kpps, 100);
}

struct bad_flag {
	const char *args[6];
	const char *says; /* a piece the message must hold */
};

static const struct bad_flag bad_flags[] = {
	{ { "--period", "9" }, "--period" },
	{ { "--period", "10001" }, "--period" },
	{ { "--period", "100ms" }, "--period" },
	{ { "--period", "-100" }, "--period" },
	{ { "--period", "" }, "--period" },
	{ { "--platform", "kvm" }, "--platform" },
	{ { "--enforcer", "police" }, "--enforcer" },
	{ { "--mode", "fair" }, "--mode" },
	{ { "--log-level", "loud" }, "--log-level" },
	{ { "--listen", "8470" }, "--listen" },
	{ { "--listen", "127.0.0.1:0" }, "--listen" },
	{ { "--listen", "127.0.0.1:65536" }, "--listen" },
	{ { "--listen", ":80" }, "--listen" },
	{ { "--ticks", "0" }, "--ticks" },
	{ { "--floor-bps", "-1" }, "--floor-bps" },
	{ { "--floor-bps", "100k" }, "--floor-bps" },
	{ { "--floor-pps", "100000000000" }, "--floor-pps" },
	{ { "--report", "xml" }, "--report" },
	{ { "--xen-counters", "libxl" }, "--xen-counters" },
	{ { "--xen-counters", "" }, "--xen-counters" },
	{ { "--request-timeout", "0" }, "--request-timeout" },
	{ { "--request-timeout", "3601" }, "--request-timeout" },
	{ { "--max-connections-per-address", "0" }, "--max-connections-per-address" },
	{ { "--max-connections-per-address", "65" }, "--max-connections-per-address" },
	{ { "--max-connections", "8" }, "--max-connections-per-address" }, /* 16 > 8 */
	{ { "--os-credentials", "" }, "--os-credentials" },
	{ { "--os-credentials", "/c", "--placement-url", "placement:8778" }, "--placement-url" },
	{ { "--os-credentials", "/c", "--placement-url", "http://p/?x" }, "--placement-url" },
	{ { "--os-credentials", "/c", "--placement-host-name", "a b" }, "--placement-host-name" },
	{ { "--os-credentials", "/c", "--physnets", "eth0" }, "--physnets" },
	{ { "--os-credentials", "/c", "--physnets", "eth0=a,eth0=b" }, "twice" },
	{ { "--os-credentials", "/c", "--placement-resync", "0" }, "--placement-resync" },
	{ { "--os-credentials", "/c", "--placement-reserved-kbps", "-1" },
	  "--placement-reserved-kbps" },
	{ { "--physnets", "eth0=physnet1" }, "--os-credentials" },
	{ { "--neutron" }, "--os-credentials" },
	{ { "--neutron-unmanaged", "fa:16:3e:00:00:01" }, "--neutron" },
	{ { "--os-credentials", "/c", "--neutron", "--neutron-unmanaged", "port1" },
	  "--neutron-unmanaged" },
	{ { "--os-credentials", "/c", "--neutron", "--neutron-poll", "0" }, "--neutron-poll" },
	{ { "--os-credentials", "/c", "--neutron", "--neutron-url", "neutron:9696" },
	  "--neutron-url" },
	{ { "--os-credentials", "/c", "--neutron", "--neutron-host", "a&b" }, "--neutron-host" },
	{ { "--os-credentials", "/c", "--placement-packet-rate", "150" },
	  "--placement-packet-rate" },
	{ { "--os-credentials", "/c", "--placement-packet-rate", "1:2:3" },
	  "--placement-packet-rate" },
	{ { "--placement-url", "http://p" }, "--os-credentials" },
	{ { "--tls-cert", "/c" }, "--tls-cert and --tls-key go together" },
	{ { "--tls-key", "/k" }, "--tls-cert and --tls-key go together" },
	{ { "--tls-client-ca", "/ca" }, "--tls-client-ca goes with" },
	{ { "--bogus" }, "--bogus" },
	{ { "-x" }, "-x" },
	{ { "--period" }, "--period" },
	{ { "stray" }, "stray" },
	{ { "--platform", "sim" }, "--scenario" },
	{ { "--scenario", "a.json" }, "--platform sim" },
	{ { "--ticks", "3" }, "--platform sim" },
	{ { "--platform", "sim", "--scenario", "a" }, NULL }, /* fine: a control case */
	{ { "--dev", "--platform", "sim" }, "--dev" },
	{ { "-c", "/nonexistent/dbavmd.conf" }, "/nonexistent/dbavmd.conf" },
};

static void config_bad_flags_say_which(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		const struct bad_flag *b = &bad_flags[i];
		struct config c;
		char err[512] = "";
		char *argv[10] = { "dbavmd" };
		int argc = 1, rc;

		for (int k = 0; k < 6 && b->args[k]; k++)
			argv[argc++] = (char *)b->args[k];
		rc = config_parse(&c, argc, argv, err, sizeof(err));
		if (!b->says) {
			if (rc)
				fail_msg("case %zu refused: %s", i, err);
			continue;
		}
		if (rc != -EINVAL)
			fail_msg("case %zu (%s) accepted", i, b->args[0]);
		if (!strstr(err, b->says))
			fail_msg("case %zu: '%s' does not name '%s'", i, err, b->says);
		if (strchr(err, '\n'))
			fail_msg("case %zu: message is not one line", i);
	}
}

static void config_file_sets_keys_and_flags_win(void **state)
{
	struct config c;
	char err[512];
	char *path = write_file("# dbavmd.conf\n"
				"period 250\n"
				"mode = strict   # trailing comment\n"
				"\n"
				"  log-level\twarn\n"
				"listen 0.0.0.0:9100\n");

	(void)state;
	assert_int_equal(parse(&c, err, sizeof(err), "-c", path, "--period", "50", NULL), 0);
	assert_int_equal(c.period_ms, 50);
	assert_int_equal(c.mode, ALLOC_STRICT);
	assert_int_equal(c.log_level, LOG_LEVEL_WARN);
	assert_int_equal(c.listen_port, 9100);
	/* The flag wins even when it comes before -c. */
	assert_int_equal(parse(&c, err, sizeof(err), "--period", "60", "-c", path, NULL), 0);
	assert_int_equal(c.period_ms, 60);
	unlink(path);
}

static void config_file_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
		{ "period 100\nperod 100\n", ":2: unknown key 'perod'" },
		{ "period 5\n", ":1: period must be" },
		{ "period 100\nperiod 200\n", ":2: period is set twice" },
		{ "mode\n", ":1: mode needs a value" },
		{ "config /etc/other\n", ":1: unknown key 'config'" },
		{ "help yes\n", ":1: unknown key 'help'" },
		{ "dev maybe\n", ":1: dev must be true or false" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char err[512] = "";
		char *path = write_file(cases[i].text);

		assert_int_equal(parse(&c, err, sizeof(err), "-c", path, NULL), -EINVAL);
		if (!strstr(err, path) || !strstr(err, cases[i].says))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].says);
		unlink(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_defaults_match_the_design),
		cmocka_unit_test(config_flags_set_every_key),
		cmocka_unit_test(config_placement_flags),
		cmocka_unit_test(config_tls_flags_and_what_a_reload_may_change),
		cmocka_unit_test(config_bad_flags_say_which),
		cmocka_unit_test(config_file_sets_keys_and_flags_win),
		cmocka_unit_test(config_file_errors_name_file_and_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
