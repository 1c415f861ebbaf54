/*
 * auth: the bearer token mutating calls must present (Authorization: Bearer <token>).
 */
#ifndef DBAVM_AUTH_H
#define DBAVM_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth;

/* Reads the token from path (its first line). Refuses a file that group or others may read
 * or write, an empty token, or a token over 4096 bytes. Returns 0 or a negative errno with
 * why set. path NULL or "": no token, every call that needs one is refused. */
int auth_open(const char *path, struct auth **out, char *why, size_t why_len);
void auth_close(struct auth *a);

bool auth_configured(const struct auth *a);
/* Checks an Authorization header value in constant time (whatever its length). */
bool auth_check(const struct auth *a, const char *header);

#endif
