/*
 * host: VM and vif records. Vifs are allocated one by one so that their addresses stay put
 * while an enforcer holds on to them; the arrays of pointers are what grows.
 */
#include "host.h"
#include "boottime.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	for (size_t i = 0; i < host->n_ports; i++)
		free(host->ports[i]);
	free(host->ports);
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
		vif->side[d].enf = (struct enf_vif){ .desc = &vif->desc, .vm = vm->id, .dir = d };
	vm->vifs[vm->n_vifs++] = vif;
	host->generation++;
	return vif;
}

void vm_remove_vif(struct host *host, struct vm *vm, size_t i)
{
	struct port *port = vm->vifs[i]->port;

	if (port) { /* its port leaves with it */
		port->vif = NULL;
		port->absent_since = boot_stamp_now();
		log_info("port gone port=%s sla=kept", log_q(port->key));
	}
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
		{ SLA_DEFAULT_INIT, SLA_DEFAULT_INIT }, { { 0, 0 }, { 0, 0 } }, 0, 0, { 0 }
	};

	return vm->has_sla ? &vm->sla : &def;
}

const struct sla_spec *vif_sla(const struct vif *vif)
{
	return vif->port ? &vif->port->sla : vm_sla(vif->vm);
}

bool vif_has_sla(const struct vif *vif)
{
	return vif->port || vif->vm->has_sla;
}

struct port *host_find_port(const struct host *host, const char *key)
{
	for (size_t i = 0; i < host->n_ports; i++)
		if (!strcmp(host->ports[i]->key, key))
			return host->ports[i];
	return NULL;
}

int host_set_port_sla(struct host *host, const char *key, const struct sla_spec *sla)
{
	struct port *p = host_find_port(host, key), **grown;

	if (!p) {
		grown = realloc(host->ports, (host->n_ports + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		host->ports = grown;
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		snprintf(p->key, sizeof(p->key), "%s", key);
		p->index = (uint32_t)host->n_ports;
		host->ports[host->n_ports++] = p;
		host->vms_generation++;
	}
	p->sla = *sla;
	host->generation++;
	host_bind_ports(host);
	return 0;
}

void host_clear_port_sla(struct host *host, struct port *port)
{
	size_t i = port->index;

	if (port->vif)
		port->vif->port = NULL;
	memmove(&host->ports[i], &host->ports[i + 1], (host->n_ports - i - 1) * sizeof(port));
	host->n_ports--;
	for (; i < host->n_ports; i++)
		host->ports[i]->index = (uint32_t)i;
	free(port);
	host->vms_generation++;
	host->generation++;
	host_bind_ports(host);
}

/* How a port's key names a vif, the most specific first: the orchestrator's port id, its
 * MAC, its vif id. */
enum port_by { BY_PORT_ID, BY_MAC, BY_VIF_ID, BY_N };

static bool port_names_vif_by(const struct port *port, const struct vif *vif, enum port_by by)
{
	switch (by) {
	case BY_PORT_ID:
		return vif->desc.port_id[0] && !strcmp(port->key, vif->desc.port_id);
	case BY_MAC:
		return vif->desc.mac[0] && !strcmp(port->key, vif->desc.mac);
	default:
		return !strcmp(port->key, vif->desc.id);
	}
}

bool port_names_vif(const struct port *port, const struct vif *vif)
{
	for (int by = 0; by < BY_N; by++)
		if (port_names_vif_by(port, vif, by))
			return true;
	return false;
}

/* Each port SLA to the vif its key names, by the most specific name first: a vif that two
 * SLAs name (one by its port id, one by its MAC) is under the one by its port id, and the
 * other is absent. */
void host_bind_ports(struct host *host)
{
	struct vif **was = NULL;

	if (host->n_ports && !(was = malloc(host->n_ports * sizeof(*was))))
		return; /* out of memory: the bindings stay as they were */
	for (size_t m = 0; m < host->n_vms; m++)
		for (size_t i = 0; i < host->vms[m]->n_vifs; i++)
			host->vms[m]->vifs[i]->port = NULL;
	for (size_t p = 0; p < host->n_ports; p++) {
		was[p] = host->ports[p]->vif;
		host->ports[p]->vif = NULL;
	}
	for (int by = 0; by < BY_N; by++)
		for (size_t p = 0; p < host->n_ports; p++) {
			struct port *port = host->ports[p];

			for (size_t m = 0; m < host->n_vms && !port->vif; m++)
				for (size_t i = 0; i < host->vms[m]->n_vifs && !port->vif; i++) {
					struct vif *vif = host->vms[m]->vifs[i];

					if (!vif->port && port_names_vif_by(port, vif, by)) {
						port->vif = vif;
						vif->port = port;
					}
				}
		}
	for (size_t p = 0; p < host->n_ports; p++) {
		struct port *port = host->ports[p];

		if (port->vif)
			port->absent_since = 0;
		else if (!port->absent_since) /* left now, or set while away */
			port->absent_since = boot_stamp_now();
		if (was[p] == port->vif)
			continue;
		host->generation++;
		if (port->vif)
			log_info("port sla in force port=%s vm=%s vif=%s", log_q(port->key),
				 log_q(port->vif->vm->id), log_q(port->vif->desc.id));
		else if (was[p])
			log_info("port gone port=%s sla=kept", log_q(port->key));
	}
	free(was);
}
