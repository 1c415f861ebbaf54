/*
 * dbavm-testbed: the testbed of the tests and benchmarks, built by the code that builds the
 * demo's (testbed/testbed.c; the topology is in testbed.h). Run as root:
 *
 *   dbavm-testbed up [N [RATE]]    remove any stale testbed, build one with N VMs (default 3)
 *                                  and the uplink shaped to RATE (e.g. 1gbit, 400mbit; default
 *                                  1gbit)
 *   dbavm-testbed down             remove it, ending what still runs in its namespaces
 *   dbavm-testbed add-vm I [moved] VM dbavm-vm<I> arrives while the rest runs (moved: the
 *                                  guest end moved into the VM last and left down)
 *   dbavm-testbed del-vm I         VM dbavm-vm<I> goes
 *
 * Exit 0, 1 when the change failed (with why), 2 for bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "testbed.h"
#include "log.h"
#include "netns.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: dbavm-testbed up [N [RATE]] | down | add-vm I [moved] | del-vm I\n");
	return 2;
}

/* "1gbit", "400mbit", "10kbit", "5000bit": bits per second, 0 when not one of those. */
static uint64_t parse_rate(const char *s)
{
	static const struct {
		const char *unit;
		uint64_t scale;
	} units[] = { { "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 } };
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit) && v <= UINT64_MAX / units[i].scale)
			return v * units[i].scale;
	return 0;
}

/* A VM number: 1..253 (198.18.0.<i>; .254 is the sink). */
static unsigned parse_vm(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	return errno || *end || end == s || *s == '-' || v > 253 ? 0 : (unsigned)v;
}

/* Ends the processes still running in the testbed's namespaces (SIGTERM), as `ip netns pids`
 * finds them: a process whose network namespace is one of them. */
static void end_inside(void)
{
	struct stat ns[300];
	size_t n = 0;
	struct dirent *de;
	DIR *dir = opendir(NETNS_DIR);

	while (dir && n < sizeof(ns) / sizeof(ns[0]) && (de = readdir(dir))) {
		char path[300];

		snprintf(path, sizeof(path), NETNS_DIR "/%s", de->d_name);
		if (!strncmp(de->d_name, "dbavm-", 6) && stat(path, &ns[n]) == 0)
			n++;
	}
	if (dir)
		closedir(dir);
	dir = n ? opendir("/proc") : NULL;
	while (dir && (de = readdir(dir))) {
		char path[300], *end;
		long pid = strtol(de->d_name, &end, 10);
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (*end || pid <= 1 || stat(path, &st) < 0)
			continue;
		for (size_t i = 0; i < n; i++)
			if (st.st_dev == ns[i].st_dev && st.st_ino == ns[i].st_ino)
				kill((pid_t)pid, SIGTERM);
	}
	if (dir)
		closedir(dir);
}

int main(int argc, char **argv)
{
	char why[256];
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc;

	log_set_level(LOG_LEVEL_ERROR);
	if (!strcmp(cmd, "up") && argc <= 4) {
		unsigned n = argc > 2 ? parse_vm(argv[2]) : TESTBED_VMS;
		uint64_t rate = argc > 3 ? parse_rate(argv[3]) : 1000000000;

		if ((argc > 2 && strcmp(argv[2], "0") && !n) || !rate)
			return usage();
		end_inside();
		rc = testbed_up(n, rate, why, sizeof(why));
	} else if (!strcmp(cmd, "down") && argc == 2) {
		end_inside();
		testbed_down();
		return 0;
	} else if (!strcmp(cmd, "add-vm") && (argc == 3 || argc == 4)) {
		unsigned i = parse_vm(argv[2]);

		if (!i || (argc == 4 && strcmp(argv[3], "moved")))
			return usage();
		rc = testbed_add_vm(i, argc == 4, why, sizeof(why));
	} else if (!strcmp(cmd, "del-vm") && argc == 3) {
		unsigned i = parse_vm(argv[2]);

		if (!i)
			return usage();
		rc = testbed_del_vm(i);
		snprintf(why, sizeof(why), "dbavm-vm%u: %s", i, strerror(-rc));
	} else {
		return usage();
	}
	if (rc)
		fprintf(stderr, "dbavm-testbed: %s\n", why);
	return rc ? 1 : 0;
}
