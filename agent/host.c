/*
 * host: VM and vif records. Vifs are allocated one by one so that their addresses stay put
 * while an enforcer holds on to them; the arrays of pointers are what grows.
 */
#include "host.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void host_init(struct host *host)
{
	memset(host, 0, sizeof(*host));
}

void host_free(struct host *host)
{
	for (size_t i = 0; i < host->n_vms; i++) {
		struct vm *vm = host->vms[i];

		while (vm->n_vifs)
			vm_remove_vif(host, vm, vm->n_vifs - 1);
		free(vm->vifs);
		free(vm->hist);
		free(vm);
	}
	free(host->vms);
	free(host->uplinks);
	memset(host, 0, sizeof(*host));
}

/* Whether key is vm's UUID or (Xen) domid. */
static bool names_by_other_key(const struct vm *vm, const char *key)
{
	char domid[24];

	if (vm->uuid[0] && !strcasecmp(vm->uuid, key))
		return true;
	if (vm->domid < 0)
		return false;
	snprintf(domid, sizeof(domid), "%" PRId64, vm->domid);
	return !strcmp(domid, key);
}

struct vm *host_lookup_vm(const struct host *host, const char *key, struct vm **other)
{
	struct vm *by_id = NULL, *first = NULL, *second = NULL, *found;

	for (size_t i = 0; i < host->n_vms; i++) {
		struct vm *vm = host->vms[i];
		bool named = !strcmp(vm->id, key);

		if (!named && !names_by_other_key(vm, key))
			continue;
		if (named)
			by_id = vm; /* ids are unique: one at most */
		if (!first)
			first = vm;
		else if (!second)
			second = vm;
	}
	found = by_id ? by_id : first;
	if (other) /* another VM the key names, if any */
		*other = !second ? NULL : found == first ? second : first;
	return found;
}

struct vm *host_find_vm(const struct host *host, const char *key)
{
	return host_lookup_vm(host, key, NULL);
}

struct vm *host_add_vm(struct host *host, const char *id)
{
	struct vm **vms = realloc(host->vms, (host->n_vms + 1) * sizeof(*vms));
	struct vm *vm;

	if (!vms)
		return NULL;
	host->vms = vms;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	vm->domid = -1;
	host->vms[host->n_vms++] = vm;
	host->vms_generation++;
	host->generation++;
	return vm;
}

void host_remove_vm(struct host *host, struct vm *vm)
{
	for (size_t i = 0; i < host->n_vms; i++) {
		if (host->vms[i] != vm)
			continue;
		memmove(&host->vms[i], &host->vms[i + 1], (host->n_vms - i - 1) * sizeof(vm));
		host->n_vms--;
		host->vms_generation++;
		host->generation++;
		free(vm->vifs);
		free(vm->hist);
		free(vm);
		return;
	}
}

struct vif *vm_add_vif(struct host *host, struct vm *vm, const struct platform_vif *desc)
{
	struct vif **vifs = realloc(vm->vifs, (vm->n_vifs + 1) * sizeof(*vifs));
	struct vif *vif;

	if (!vifs)
		return NULL;
	vm->vifs = vifs;
	vif = calloc(1, sizeof(*vif));
	if (!vif)
		return NULL;
	vif->desc = *desc;
	vif->seq = host->next_vif_seq++;
	vif->vm = vm;
	vif->enf = (struct enf_vif){ &vif->desc, vm->id, NULL, NULL };
	vm->vifs[vm->n_vifs++] = vif;
	host->generation++;
	return vif;
}

void vm_remove_vif(struct host *host, struct vm *vm, size_t i)
{
	host->generation++;
	free(vm->vifs[i]->delay);
	free(vm->vifs[i]);
	memmove(&vm->vifs[i], &vm->vifs[i + 1], (vm->n_vifs - i - 1) * sizeof(vm->vifs[0]));
	vm->n_vifs--;
}

struct vif *vm_find_vif(const struct vm *vm, const char *id)
{
	for (size_t i = 0; i < vm->n_vifs; i++)
		if (!strcmp(vm->vifs[i]->desc.id, id))
			return vm->vifs[i];
	return NULL;
}

int host_set_sla(struct host *host, const char *id, const struct sla *sla)
{
	struct vm *vm = host_find_vm(host, id);

	if (!vm && !(vm = host_add_vm(host, id)))
		return -ENOMEM;
	vm->sla = *sla;
	vm->has_sla = true;
	host->generation++;
	return 0;
}

void host_clear_sla(struct host *host, struct vm *vm)
{
	vm->has_sla = false;
	host->generation++;
	if (!vm->present)
		host_remove_vm(host, vm);
}

const struct sla *vm_sla(const struct vm *vm)
{
	static const struct sla def = SLA_DEFAULT_INIT;

	return vm->has_sla ? &vm->sla : &def;
}
