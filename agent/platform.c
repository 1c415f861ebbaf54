/*
 * platform: what every platform shares: freeing a scan.
 */
#include "platform.h"

#include <stdlib.h>
#include <string.h>

void platform_scan_free(struct platform_scan *scan)
{
	if (scan->vms)
		for (size_t i = 0; i < scan->n_vms; i++)
			free(scan->vms[i].vifs);
	free(scan->vms);
	free(scan->uplinks);
	memset(scan, 0, sizeof(*scan));
}
