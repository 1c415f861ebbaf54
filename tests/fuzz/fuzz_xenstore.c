/*
 * The values the xen platform reads from xenstore, each line of the input one value: as a
 * domid or devid, a vif's netdev name, a domain's /vm path and a watch event's path. What is
 * accepted must be in range and say back what it read.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "xen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *line, *save = NULL;

	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char uuid[PLATFORM_UUID_LEN], id[XEN_VIF_ID_MAX];
		unsigned domid, devid;
		long v;

		v = xen_parse_id(line);
		FUZZ_CHECK(v >= -1 && v <= 0x7fef);
		if (xen_vif_id_parse(line, &domid, &devid)) {
			FUZZ_CHECK(domid <= 0x7fef && devid <= 0x7fef);
			xen_vif_id(id, domid, devid);
			FUZZ_CHECK(xen_vif_id_parse(id, &domid, &devid));
		}
		if (xen_uuid_of_vm_path(line, uuid))
			FUZZ_CHECK(strlen(uuid) == PLATFORM_UUID_LEN - 1);
		v = xen_watch_domid(line);
		FUZZ_CHECK(v >= -1 && v <= 0x7fef);
		if (v >= 0)
			FUZZ_CHECK(
				!strncmp(line, XEN_VIF_BACKEND "/", strlen(XEN_VIF_BACKEND "/")));
	}
	free(text);
	return 0;
}
