/*
 * test_units: rates as dbavmctl reads them from people. What is accepted is exact (no float
 * on the way: 0.1G is 100000000); what would be a guess (milli, binary prefixes, bytes, a
 * fraction of a bit, a value past the agent's range) is refused with a reason that says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "units.h"

#define BPS_MAX 100000000000000ull
#define PPS_MAX 10000000000ull

static uint64_t ok(const char *s, enum rate_kind k)
{
	uint64_t v = 0;
	char err[256] = "";
	int rc = units_parse(s, k, k == RATE_BPS ? BPS_MAX : PPS_MAX, &v, err, sizeof err);
	if (rc)
		fail_msg("'%s' refused: %s", s, err);
	return v;
}

/* Refused, and the reason mentions `says`. */
static void refused(const char *s, enum rate_kind k, const char *says)
{
	uint64_t v = 12345;
	char err[256] = "";
	int rc = units_parse(s, k, k == RATE_BPS ? BPS_MAX : PPS_MAX, &v, err, sizeof err);
	if (!rc)
		fail_msg("'%s' accepted as %llu", s, (unsigned long long)v);
	assert_int_equal(v, 12345); /* untouched */
	if (!strstr(err, says))
		fail_msg("'%s': \"%s\" does not say \"%s\"", s, err, says);
}

static void si_prefixes_and_decimals_are_exact(void **state)
{
	(void)state;
	assert_int_equal(ok("0", RATE_BPS), 0);
	assert_int_equal(ok("950", RATE_BPS), 950);
	assert_int_equal(ok("150M", RATE_BPS), 150000000);
	assert_int_equal(ok("1G", RATE_BPS), 1000000000);
	assert_int_equal(ok("1.5G", RATE_BPS), 1500000000);
	assert_int_equal(ok("0.1G", RATE_BPS), 100000000);
	assert_int_equal(ok("2.000k", RATE_BPS), 2000);
	assert_int_equal(ok("20k", RATE_PPS), 20000);
	assert_int_equal(ok("20K", RATE_PPS), 20000);
	assert_int_equal(ok("1.25T", RATE_BPS), 1250000000000ull);
	assert_int_equal(ok("123456789", RATE_BPS), 123456789);
	assert_int_equal(ok("0.000001T", RATE_BPS), 1000000);
}

static void unit_names_are_accepted_for_their_kind_only(void **state)
{
	(void)state;
	assert_int_equal(ok("150Mbit/s", RATE_BPS), 150000000);
	assert_int_equal(ok("150Mbps", RATE_BPS), 150000000);
	assert_int_equal(ok("150Mbit", RATE_BPS), 150000000);
	assert_int_equal(ok("20kpps", RATE_PPS), 20000);
	assert_int_equal(ok("20kp/s", RATE_PPS), 20000);
	refused("20kpps", RATE_BPS, "not a rate");
	refused("150Mbps", RATE_PPS, "not a packet rate");
}

static void the_range_is_the_agents(void **state)
{
	(void)state;
	assert_int_equal(ok("100T", RATE_BPS), BPS_MAX);
	refused("100.000000001T", RATE_BPS, "over the most");
	refused("101T", RATE_BPS, "over the most the agent accepts, 100000000000000 bit/s");
	assert_int_equal(ok("10G", RATE_PPS), PPS_MAX);
	refused("10000000001", RATE_PPS, "packets/s");
	refused("99999999999999999999", RATE_BPS, "too large");
	refused("18446744073709551615T", RATE_BPS, "too large");
}

static void guesses_are_refused_with_the_reason(void **state)
{
	(void)state;
	refused("", RATE_BPS, "empty");
	refused("-1M", RATE_BPS, "negative");
	refused("M", RATE_BPS, "starts with a digit");
	refused(".5M", RATE_BPS, "starts with a digit");
	refused("1.M", RATE_BPS, "digit must follow");
	refused("150m", RATE_BPS, "m is milli");
	refused("1Mi", RATE_BPS, "binary prefixes");
	refused("1Gi", RATE_PPS, "binary prefixes");
	refused("150MB", RATE_BPS, "not bytes");
	refused("150B", RATE_BPS, "not bytes");
	refused("1.0005k", RATE_BPS, "not a whole number of bit/s");
	refused("0.5", RATE_PPS, "not a whole number of packets/s");
	refused("1e6", RATE_BPS, "not a rate");
	refused("150 M", RATE_BPS, "not a rate");
	refused(" 150M", RATE_BPS, "starts with a digit");
	refused("1.2.3", RATE_BPS, "not a rate");
	refused("0x10", RATE_BPS, "not a rate");
	refused("1.0000000000001G", RATE_BPS, "more than 12 decimals");
	/* the reason is one line, the input shown short and without control characters */
	refused("1\n5M", RATE_BPS, "\"1?5M\": not a rate");
	refused("12345678901234567890123456789012345678901234567890M", RATE_BPS,
		"\"1234567890123456789012345678901234567890...\": too large");
}

static void formatting_rounds_to_three_figures(void **state)
{
	char b[32];
	(void)state;
	units_format(b, sizeof b, 0);
	assert_string_equal(b, "0");
	units_format(b, sizeof b, 950);
	assert_string_equal(b, "950");
	units_format(b, sizeof b, 150e6);
	assert_string_equal(b, "150M");
	units_format(b, sizeof b, 1.5e9);
	assert_string_equal(b, "1.5G");
	units_format(b, sizeof b, 58333);
	assert_string_equal(b, "58.3k");
	units_format(b, sizeof b, 999.7e6);
	assert_string_equal(b, "1G");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(si_prefixes_and_decimals_are_exact),
		cmocka_unit_test(unit_names_are_accepted_for_their_kind_only),
		cmocka_unit_test(the_range_is_the_agents),
		cmocka_unit_test(guesses_are_refused_with_the_reason),
		cmocka_unit_test(formatting_rounds_to_three_figures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
