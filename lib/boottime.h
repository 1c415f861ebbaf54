/*
 * boottime.h: times that no step of the wall clock moves. A stamp is seconds on CLOCK_BOOTTIME
 * (which counts a suspend, unlike CLOCK_MONOTONIC) plus BOOT_STAMP_ORIGIN, so that it is never 0
 * where 0 means "none", and a time before this boot (a duration carried over a reboot) is still
 * positive. A stamp means something only on the boot that made it: boot_id() says which that is.
 */
#ifndef DBAVM_BOOTTIME_H
#define DBAVM_BOOTTIME_H

#include <stdint.h>

#define BOOT_STAMP_ORIGIN ((int64_t)1 << 40)

/* Now, as a stamp. */
int64_t boot_stamp_now(void);
/* The wall-clock time (seconds since the epoch) that stamp was, by the wall clock as it reads
 * now: for people to read, never to decide with. */
int64_t boot_stamp_to_wall(int64_t stamp);
/* This boot's id (the kernel's random boot_id), or "" where it cannot be read. */
const char *boot_id(void);

#endif
