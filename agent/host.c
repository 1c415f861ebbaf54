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
		vm_history_release(vm->hist);
		free(vm);
	}
	free(host->vms);
	free(host->uplinks);
	memset(host, 0, sizeof(*host));
}

void vm_history_release(struct vm_history *h)
{
	if (h && --h->refs == 0)
		free(h);
}

/* Whether key is the VM's UUID or (Xen) domid. */
static bool names_by_other_key(const struct vm_keys *k, const char *key)
{
	char domid[24];

	if (k->uuid[0] && !strcasecmp(k->uuid, key))
		return true;
	if (k->domid < 0)
		return false;
	snprintf(domid, sizeof(domid), "%" PRId64, k->domid);
	return !strcmp(domid, key);
}

size_t vm_lookup(size_t n, struct vm_keys (*keys)(const void *set, size_t i), const void *set,
		 const char *key, size_t *other)
{
	size_t by_id = n, first = n, second = n, found;

	for (size_t i = 0; i < n; i++) {
		struct vm_keys k = keys(set, i);
		bool named = !strcmp(k.id, key);

		if (!named && !names_by_other_key(&k, key))
			continue;
		if (named)
			by_id = i; /* ids are unique: one at most */
		if (first == n)
			first = i;
		else if (second == n)
			second = i;
	}
	found = by_id < n ? by_id : first;
	if (other) /* another VM the key names, if any */
		*other = second == n ? n : found == first ? second : first;
	return found;
}

static struct vm_keys host_keys(const void *set, size_t i)
{
	const struct vm *vm = ((const struct host *)set)->vms[i];

	return (struct vm_keys){ vm->id, vm->uuid, vm->domid };
}

struct vm *host_lookup_vm(const struct host *host, const char *key, struct vm **other)
{
	size_t n = host->n_vms, o, i = vm_lookup(n, host_keys, host, key, &o);

	if (other)
		*other = o < n ? host->vms[o] : NULL;
	return i < n ? host->vms[i] : NULL;
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
		vm_history_release(vm->hist);
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
	for (int d = 0; d < SLA_NDIR; d++)
		vif->side[d].enf = (struct enf_vif){ &vif->desc, vm->id, NULL, NULL, d };
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

int host_set_sla(struct host *host, const char *id, const struct sla_spec *sla)
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

const struct sla_spec *vm_sla(const struct vm *vm)
{
	static const struct sla_spec def = {
		{ SLA_DEFAULT_INIT, SLA_DEFAULT_INIT }, { { 0, 0 }, { 0, 0 } }, 0, 0
	};

	return vm->has_sla ? &vm->sla : &def;
}
