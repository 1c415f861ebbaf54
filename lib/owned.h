/*
 * owned: whether a file or directory the agent trusts is its own, as sshd's StrictModes asks:
 * the thing itself, and every directory above it, owned by root or the agent's user and
 * writable by no one else. A directory above it that others may write is accepted when it is
 * sticky (/tmp): there nobody else can move or replace what is in it.
 */
#ifndef DBAVM_OWNED_H
#define DBAVM_OWNED_H

#include <stddef.h>

/* 0, or -EPERM (or what realpath or stat said) with why ("WHAT PATH: " unless what is NULL,
 * then which part of the path is wrong, and what to do). */
int owned_check(const char *what, const char *path, char *why, size_t why_len);

#endif
