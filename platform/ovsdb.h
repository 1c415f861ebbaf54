/*
 * ovsdb: the orchestrator's name for each port, from Open vSwitch's database. Where an
 * orchestrator plugs a VM's vif into Open vSwitch (Nova through os-vif, XCP-ng's xapi), it
 * records the port's own id on the vif's Interface row as external_ids:iface-id (Neutron's port
 * UUID). This wraps a platform: its scans go on as before, and each vif whose host end is an
 * Interface with an iface-id carries it as port_id, by which the API finds the port too.
 *
 * One connection to ovsdb-server's Unix socket, on the agent's loop: a "monitor" of the
 * Interface table's name and external_ids, so that ovsdb-server pushes each change (RFC 7047)
 * and a changed iface-id brings a rescan forward; never a poll. Without the socket (no Open
 * vSwitch on the host, or it is restarting) the platform runs without port ids, and the wrapper
 * tries again every OVSDB_RETRY_S seconds; ovsdb_problem says why meanwhile.
 */
#ifndef DBAVM_OVSDB_H
#define DBAVM_OVSDB_H

#include <stdbool.h>
#include <stddef.h>

#include "platform.h"

#define OVSDB_DEFAULT_SOCKET "/var/run/openvswitch/db.sock"
#define OVSDB_RETRY_S 5
/* What one connection may hold unparsed: a table of 10,000 interfaces with long external_ids
 * fits many times over; more is a server gone wrong, and the connection is dropped. */
#define OVSDB_MAX_BUFFER (16u << 20)

/* p, an open platform, becomes one whose scans carry port ids from the ovsdb-server at the
 * Unix socket path (connected to once the loop runs; not there yet is not an error).
 * 0, or -ENOMEM / -EINVAL (the path is too long; why says so), p unchanged then. */
int ovsdb_wrap(struct platform *p, const char *path, char *why, size_t why_len);

/* The parts a test drives without a socket (unit_ovsdb, fuzz_ovsdb). */
struct ovsdb_table;
struct ovsdb_table *ovsdb_table_new(void);
void ovsdb_table_free(struct ovsdb_table *t);
/* Applies one JSON-RPC message from ovsdb-server (text of len bytes, one JSON value): a
 * monitor reply or an "update" notification changes the table. *changed: some interface's
 * iface-id changed; *reply: a message to send back (an "echo" answered; malloc'd, or NULL).
 * 1 when it was the monitor's reply (the whole table), else 0; -EPROTO (not JSON-RPC, or the
 * server's error to the monitor; *why says what), -ENOMEM. */
int ovsdb_table_apply(struct ovsdb_table *t, const char *text, size_t len, bool *changed,
		      char **reply, const char **why);
/* The iface-id of the interface named ifname; NULL when it has none. */
const char *ovsdb_table_port_id(const struct ovsdb_table *t, const char *ifname);
/* Where one message ends in a byte stream: the stream's state between reads, the scan going
 * on from where it stopped, so a message that arrives in many reads is scanned once. */
struct ovsdb_stream {
	size_t scanned; /* bytes of the current message scanned */
	unsigned depth;
	bool in_string, escaped, started;
};
/* The length of the message at the start of buf[0, len) (whitespace before it included) once
 * it is whole, 0 while more bytes are needed, -EPROTO when the stream is not a sequence of
 * JSON objects or nests deeper than OVSDB_MAX_DEPTH. After a message, the state is reset for
 * the next, which starts after it. */
#define OVSDB_MAX_DEPTH 32
long ovsdb_stream_next(struct ovsdb_stream *s, const char *buf, size_t len);

#endif
