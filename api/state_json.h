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
/* {"tick": N, "t_ms": T, "vms": [...]} for every VM the agent knows. */
json_t *state_report_json(const struct snapshot *s);

#endif
