/*
 * state_json: the state of a VM as JSON, from the snapshot (openapi.yaml, VmState), the one shape
 * shared by GET /vms/{id}, the items of GET /vms and the sim's --report json.
 */
#ifndef DBAVM_STATE_JSON_H
#define DBAVM_STATE_JSON_H

#include <jansson.h>

#include "snapshot.h"

/* New references; NULL on allocation failure. */
json_t *state_vm_json(const struct snapshot *s, const struct snap_vm *vm);
/* {"id", "period_ms", "periods": [...]}: the VM's last VM_HISTORY periods, oldest first. */
json_t *state_vm_stats_json(const struct snap_vm *vm, uint32_t period_ms);
/* A port (openapi.yaml, PortState): r from snapshot_lookup_port. */
json_t *state_port_json(const struct snapshot *s, const struct port_ref *r);
/* {"ports": [...]}: every vif on the host, then the port SLAs whose port is not. */
json_t *state_ports_json(const struct snapshot *s);
/* A port's counts since its vif was found (r->vif not NULL), per direction. */
json_t *state_port_stats_json(const struct snapshot *s, const struct port_ref *r);
/* {"tick": N, "t_ms": T, "vms": [...]} for every VM the agent knows. */
json_t *state_report_json(const struct snapshot *s);

#endif
