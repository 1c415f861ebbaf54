/*
 * platform: what every platform shares: the configured host, building and freeing a scan.
 */
#include "platform.h"

#include <ctype.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int platform_host_copy(struct platform_host *dst, const struct platform_host *src)
{
	*dst = *src;
	dst->uplinks = calloc(src->n_uplinks ? src->n_uplinks : 1, sizeof(*dst->uplinks));
	if (!dst->uplinks)
		return -ENOMEM;
	memcpy(dst->uplinks, src->uplinks, src->n_uplinks * sizeof(*src->uplinks));
	return 0;
}

void platform_host_free(struct platform_host *h)
{
	free(h->uplinks);
	h->uplinks = NULL;
	h->n_uplinks = 0;
}

int platform_scan_start(struct platform_scan *scan, const struct platform_host *h)
{
	struct platform_host copy;

	memset(scan, 0, sizeof(*scan));
	if (platform_host_copy(&copy, h))
		return -ENOMEM;
	scan->uplinks = copy.uplinks;
	scan->n_uplinks = copy.n_uplinks;
	scan->host_capacity_pps = copy.host_capacity_pps;
	return 0;
}

const char *platform_name_problem(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;

	if (!*s)
		return "an empty name";
	if (strlen(name) >= PLATFORM_ID_MAX)
		return "a name longer than 63 bytes";
	for (size_t n; *s; s += n) {
		n = text_utf8_len(s);
		if (!n)
			return "a name that is not UTF-8";
		if ((n == 1 && (*s < 0x20 || *s == 0x7f)) ||
		    (n == 2 && s[0] == 0xc2 && s[1] < 0xa0))
			return "a name with a control character";
	}
	return NULL;
}

bool platform_mac_parse(const char *text, char out[PLATFORM_MAC_LEN])
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '\0';
	if (strlen(text) != PLATFORM_MAC_LEN - 1)
		return false;
	for (int i = 0; i < PLATFORM_MAC_LEN - 1; i++) {
		char c = (char)tolower((unsigned char)text[i]);

		if (i % 3 == 2) {
			if (c != ':' && c != '-')
				return false;
			c = ':';
		} else if (!strchr(hex, c) || !c) {
			return false;
		}
		out[i] = c;
	}
	out[PLATFORM_MAC_LEN - 1] = '\0';
	if (text[2] != text[5] || text[2] != text[8] || text[2] != text[11] ||
	    text[2] != text[14]) {
		out[0] = '\0'; /* one separator throughout */
		return false;
	}
	return true;
}

bool platform_uuid_parse(const char *text, char out[PLATFORM_UUID_LEN])
{
	out[0] = '\0';
	if (strlen(text) != PLATFORM_UUID_LEN - 1)
		return false;
	for (int i = 0; i < PLATFORM_UUID_LEN - 1; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i])) {
			out[0] = '\0';
			return false;
		}
		out[i] = (char)tolower((unsigned char)text[i]);
	}
	out[PLATFORM_UUID_LEN - 1] = '\0';
	return true;
}

void platform_mac_format(const unsigned char mac[6], char out[PLATFORM_MAC_LEN])
{
	snprintf(out, PLATFORM_MAC_LEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
}

int platform_scan_refuse(struct platform_scan *scan, const char *name, const char *why)
{
	struct platform_refusal *grown =
		realloc(scan->refused, (scan->n_refused + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	scan->refused = grown;
	text_escape(grown[scan->n_refused].name, sizeof(grown->name), name);
	grown[scan->n_refused++].why = why;
	return 0;
}

int platform_scan_add_vm(struct platform_scan *scan, struct platform_vm *vm)
{
	const char *why = platform_name_problem(vm->id);
	struct platform_vm *grown;

	if (why) {
		free(vm->vifs);
		vm->vifs = NULL;
		return platform_scan_refuse(scan, vm->id, why);
	}
	grown = realloc(scan->vms, (scan->n_vms + 1) * sizeof(*grown));
	if (!grown) {
		free(vm->vifs);
		vm->vifs = NULL;
		return -ENOMEM;
	}
	scan->vms = grown;
	scan->vms[scan->n_vms++] = *vm;
	return 0;
}

int platform_scan_uplink(struct platform_scan *scan, const char *name, uint64_t capacity_bps)
{
	struct platform_uplink *grown;

	for (size_t u = 0; u < scan->n_uplinks; u++)
		if (!strcmp(scan->uplinks[u].name, name))
			return (int)u;
	grown = realloc(scan->uplinks, (scan->n_uplinks + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	scan->uplinks = grown;
	memset(&grown[scan->n_uplinks], 0, sizeof(*grown));
	snprintf(grown[scan->n_uplinks].name, sizeof(grown->name), "%s", name);
	grown[scan->n_uplinks].capacity_bps = capacity_bps;
	return (int)scan->n_uplinks++;
}

struct platform_vif *platform_vm_add_vif(struct platform_vm *vm)
{
	struct platform_vif *grown = realloc(vm->vifs, (vm->n_vifs + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	vm->vifs = grown;
	memset(&vm->vifs[vm->n_vifs], 0, sizeof(*grown));
	return &vm->vifs[vm->n_vifs++];
}

void platform_scan_free(struct platform_scan *scan)
{
	if (scan->vms)
		for (size_t i = 0; i < scan->n_vms; i++)
			free(scan->vms[i].vifs);
	free(scan->vms);
	free(scan->uplinks);
	free(scan->refused);
	memset(scan, 0, sizeof(*scan));
}
