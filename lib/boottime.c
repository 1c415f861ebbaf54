/* boottime.c: CLOCK_BOOTTIME stamps and this boot's id (boottime.h). */
#include "boottime.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t ns_of(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t boot_stamp_now(void)
{
	return ns_of(CLOCK_BOOTTIME) / 1000000000 + BOOT_STAMP_ORIGIN;
}

int64_t boot_stamp_to_wall(int64_t stamp)
{
	/* The two clocks' offset, to the nanosecond: read twice, it is the same second. */
	int64_t off = ns_of(CLOCK_REALTIME) - ns_of(CLOCK_BOOTTIME);
	int64_t off_s = off / 1000000000 - (off % 1000000000 < 0);

	return stamp - BOOT_STAMP_ORIGIN + off_s;
}

static char id[40];
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void read_id(void)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, id, sizeof(id) - 1) : -1;

	if (fd >= 0)
		close(fd);
	id[n > 0 ? n : 0] = '\0';
	id[strcspn(id, "\n")] = '\0';
	/* a UUID's characters only: anything else is not an id to compare */
	if (strspn(id, "0123456789abcdef-") != strlen(id) || strlen(id) != 36)
		id[0] = '\0';
}

const char *boot_id(void)
{
	pthread_once(&id_once, read_id);
	return id;
}
