/*
 * none: the measure-only enforcer ("native" in the paper). It limits nothing and counts each
 * vif from its host end's interface statistics; xen-credit counts with it too.
 */
#ifndef DBAVM_NONE_H
#define DBAVM_NONE_H

#include <stddef.h>

struct enforcer;
/* Returns 0, or a negative errno with why set. */
int none_open(struct enforcer *e, char *why, size_t why_len);

#endif
