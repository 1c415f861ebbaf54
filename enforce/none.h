/*
 * none: the measure-only enforcer ("native" in the paper). It limits nothing and counts each
 * vif from its host end's interface statistics; xen-credit counts with it too.
 */
#ifndef DBAVM_NONE_H
#define DBAVM_NONE_H

#include <stddef.h>

struct enforcer;
/* Returns 0, or a negative errno with why set. l2_bytes: what the host end's statistics leave
 * out of each frame and is added back per packet: 0 for a veth (it counts whole frames), 14 on
 * Xen, where netback counts skb->len after eth_type_trans() pulled the Ethernet header while
 * its credit, and the wire, count the whole frame. */
int none_open(struct enforcer *e, unsigned l2_bytes, char *why, size_t why_len);

#endif
