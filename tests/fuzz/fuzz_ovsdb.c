/*
 * What ovsdb-server sends (platform/ovsdb.h), whatever the bytes: the stream cut into
 * messages as they would arrive in reads of any size (the first byte of the input picks the
 * read size), each message applied to the table. Never a crash, a leak or a read out of
 * bounds; a message the scanner returns lies within what was given; every port id the table
 * holds afterwards is a name the API could carry (platform_name_problem).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ovsdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ovsdb_table *t;
	struct ovsdb_stream s = { 0 };
	size_t chunk, have = 0, at = 0;
	const char *buf;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	buf = (const char *)data + 1;
	size--;
	t = ovsdb_table_new();
	if (!t)
		abort();
	while (have < size) {
		long n;

		have = have + chunk < size ? have + chunk : size;
		while ((n = ovsdb_stream_next(&s, buf + at, have - at)) > 0) {
			bool changed;
			char *reply;
			const char *why;
			int rc;

			if ((size_t)n > have - at)
				abort();
			rc = ovsdb_table_apply(t, buf + at, (size_t)n, &changed, &reply, &why);
			if (rc < 0 && rc != -EPROTO && rc != -ENOMEM)
				abort();
			free(reply);
			at += (size_t)n;
		}
		if (n < 0)
			break;
	}
	/* Every interface name a lookup can name: the ids held are names */
	static const char *const names[] = { "vif1.0", "vif3.0", "br0", "a", "" };
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		const char *id = ovsdb_table_port_id(t, names[i]);

		if (id && platform_name_problem(id))
			abort();
	}
	ovsdb_table_free(t);
	return 0;
}
