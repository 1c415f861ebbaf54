/*
 * fake_xenstat: a stand-in for libxenstat.so.4.17 when no hypervisor runs (the real one needs
 * /dev/xen/privcmd for its domain list). Built with the real library's soname and symbol
 * version, it is loaded in its place through LD_LIBRARY_PATH by the tests only, and
 * implements the part of xenstat.h the agent calls, with the real one's meaning: per domain,
 * its vifs' statistics as dom0 sees them (rbytes: what dom0 received, the guest's sending).
 *
 * What it reports comes from the file named by DBAVM_TEST_XENSTAT, read at every
 * xenstat_get_node, one vif a line:
 *     <domid> <devid> <bytes per second> <packets per second> <since>
 * the vif's counters growing at those rates from 0 at <since> (seconds of CLOCK_BOOTTIME,
 * as /proc/uptime gives them): rewriting <since> resets them, as a restarted domain's do.
 * A line "unavailable" makes xenstat_get_node fail. No such file: xenstat_init fails, as
 * without a hypervisor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstat.h>

#define MAX_VIFS 64

struct xenstat_handle {
	char path[512];
};

struct xenstat_network {
	unsigned id;
	unsigned long long rbytes, rpackets;
};

struct xenstat_domain {
	unsigned id;
	unsigned n;
	struct xenstat_network net[MAX_VIFS];
};

struct xenstat_node {
	unsigned n;
	struct xenstat_domain dom[MAX_VIFS];
};

xenstat_handle *xenstat_init(void)
{
	const char *path = getenv("DBAVM_TEST_XENSTAT");
	xenstat_handle *h;
	FILE *f;

	if (!path || !(f = fopen(path, "r"))) {
		errno = ENOENT;
		return NULL;
	}
	fclose(f);
	h = calloc(1, sizeof(*h));
	if (h)
		snprintf(h->path, sizeof(h->path), "%s", path);
	return h;
}

void xenstat_uninit(xenstat_handle *handle)
{
	free(handle);
}

static struct xenstat_domain *domain_of(xenstat_node *node, unsigned domid)
{
	for (unsigned i = 0; i < node->n; i++)
		if (node->dom[i].id == domid)
			return &node->dom[i];
	if (node->n == MAX_VIFS)
		return NULL;
	node->dom[node->n].id = domid;
	return &node->dom[node->n++];
}

xenstat_node *xenstat_get_node(xenstat_handle *handle, unsigned int flags)
{
	struct timespec ts;
	double now;
	char line[256];
	xenstat_node *node;
	FILE *f;

	if (!(flags & XENSTAT_NETWORK) || !(f = fopen(handle->path, "r"))) {
		errno = EIO;
		return NULL;
	}
	clock_gettime(CLOCK_BOOTTIME, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	node = calloc(1, sizeof(*node));
	while (node && fgets(line, sizeof(line), f)) {
		unsigned domid, devid;
		double bps, pps, since, t;
		struct xenstat_domain *d;

		if (strncmp(line, "unavailable", 11) == 0) {
			free(node);
			node = NULL;
			errno = EIO;
			break;
		}
		if (sscanf(line, "%u %u %lf %lf %lf", &domid, &devid, &bps, &pps, &since) != 5)
			continue;
		d = domain_of(node, domid);
		if (!d || d->n == MAX_VIFS)
			continue;
		t = now > since ? now - since : 0;
		d->net[d->n++] = (struct xenstat_network){ devid, (unsigned long long)(bps * t),
							   (unsigned long long)(pps * t) };
	}
	fclose(f);
	return node;
}

void xenstat_free_node(xenstat_node *node)
{
	free(node);
}

unsigned int xenstat_node_num_domains(xenstat_node *node)
{
	return node->n;
}

xenstat_domain *xenstat_node_domain_by_index(xenstat_node *node, unsigned index)
{
	return index < node->n ? &node->dom[index] : NULL;
}

unsigned xenstat_domain_id(xenstat_domain *domain)
{
	return domain->id;
}

unsigned int xenstat_domain_num_networks(xenstat_domain *domain)
{
	return domain->n;
}

xenstat_network *xenstat_domain_network(xenstat_domain *domain, unsigned int network)
{
	return network < domain->n ? &domain->net[network] : NULL;
}

unsigned int xenstat_network_id(xenstat_network *network)
{
	return network->id;
}

unsigned long long xenstat_network_rbytes(xenstat_network *network)
{
	return network->rbytes;
}

unsigned long long xenstat_network_rpackets(xenstat_network *network)
{
	return network->rpackets;
}
