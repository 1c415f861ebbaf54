/*
 * xen: the Xen platform. Discovery through libxenstore: every domain's vifs from the backend
 * tree in dom0 (/local/domain/0/backend/vif/<domid>/<devid>/...), each domain's name and UUID,
 * and a watch on that tree. A vif's host end is netback's netdev, vif<domid>.<devid>.
 */
#ifndef DBAVM_XEN_H
#define DBAVM_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"

/* dom0's backend tree of the vifs, where netback reads each one's `rate` node. */
#define XEN_VIF_BACKEND "/local/domain/0/backend/vif"

/* A vif's id, the name of netback's netdev for it: "vif<domid>.<devid>" (14 characters at
 * most: both are below 0x7ff0). xen_vif_id_parse takes one back; false if it is not one. */
#define XEN_VIF_ID_MAX 16
void xen_vif_id(char out[XEN_VIF_ID_MAX], unsigned domid, unsigned devid);
bool xen_vif_id_parse(const char *id, unsigned *domid, unsigned *devid);

/* What the platform takes from xenstore's values (each checked, never trusted):
 *   xen_parse_id        a domid or devid: decimal, 0 to 0x7fef; -1 otherwise
 *   xen_uuid_of_vm_path a domain's UUID, the last element of its /vm path; false if none
 *   xen_watch_domid     the domid a watch event's path under the backend tree names; -1 if
 *                       none (the tree itself, or a path not under it) */
long xen_parse_id(const char *s);
bool xen_uuid_of_vm_path(const char *vmpath, char uuid[PLATFORM_UUID_LEN]);
long xen_watch_domid(const char *path);

/* True if a xenstore answers (XENSTORED_PATH, the socket, or the xenbus device). */
bool xen_available(void);

/* An error from libxenstore that means the connection, not the request, failed (xenstored
 * went away): reconnect. */
bool xen_connection_error(int err);

/* Opens the platform over the given host (uplinks and packet budget; copied). Returns 0, or a
 * negative errno with why set. */
int xen_open(struct platform *p, const struct platform_host *host, char *why, size_t why_len);

#endif
