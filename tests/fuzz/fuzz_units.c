/*
 * Rates as dbavmctl reads them (units_parse), each input as a bit rate and as a packet rate.
 * An accepted rate must be within the range asked and be what it says: printed back in plain
 * digits, it parses to itself; a refusal must leave the output untouched and say why in a
 * non-empty, terminated line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "units.h"

static void one(const char *s, enum rate_kind kind, uint64_t max)
{
	char err[256], again[32];
	uint64_t v = 7, w = 0;

	memset(err, 'x', sizeof(err));
	if (units_parse(s, kind, max, &v, err, sizeof(err))) {
		FUZZ_CHECK(v == 7);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0] && !strchr(err, '\n'));
		return;
	}
	FUZZ_CHECK(v <= max);
	snprintf(again, sizeof(again), "%" PRIu64, v);
	FUZZ_CHECK(!units_parse(again, kind, max, &w, err, sizeof(err)) && w == v);
	units_format(again, sizeof(again), (double)v);
	FUZZ_CHECK(again[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';
	one(s, RATE_BPS, 100000000000000ull);
	one(s, RATE_PPS, 10000000000ull);
	one(s, RATE_BPS, UINT64_MAX);
	free(s);
	return 0;
}
