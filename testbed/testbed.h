/*
 * testbed: the testbed of the demo (`dbavmd --dev`) and of the tests (tests/testbed/, the
 * dbavm-testbed tool), built through rtnetlink, in the driver domain (the root namespace):
 *
 *   dbavm-vm1..N  the guests: named namespaces, eth0 = guest end of a veth, 198.18.0.<i>/24
 *   dbavm-br0     the bridge; the vifs' host ends dbavm-vif<i> are its ports
 *   dbavm-up0     the uplink: a veth from the bridge to namespace dbavm-sink (198.18.0.254),
 *                 shaped to the uplink's capacity by an HTB (1:, class 1:1) with a wire's
 *                 burst (TESTBED_UPLINK_BURST)
 *
 * Everything is named dbavm-*, addressed from 198.18.0.0/15, with no route out, and IPv6
 * off (no router solicitations in the counters).
 */
#ifndef DBAVM_TESTBED_H
#define DBAVM_TESTBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TESTBED_UPLINK "dbavm-up0"
#define TESTBED_VMS 3
#define TESTBED_UPLINK_BURST 65536 /* bytes: half a millisecond at 1 Gbit/s */

/* Removes whatever an earlier testbed left (namespaces dbavm-*, links dbavm-* in the driver
 * domain), then builds one with n_vms VMs and the uplink shaped to uplink_bps. Returns 0, or a
 * negative errno with why set, having removed what it had built. */
int testbed_up(unsigned n_vms, uint64_t uplink_bps, char *why, size_t why_len);

/* VM i (dbavm-vm<i>, dbavm-vif<i>, 198.18.0.<i>) arrives on a testbed that is up. moved: its
 * veth made and plugged in the driver domain, the guest end moved into the VM last and left
 * down. Returns 0 or a negative errno with why set. */
int testbed_add_vm(unsigned i, bool moved, char *why, size_t why_len);
/* VM i's namespace goes (its veth with it once nothing runs there). 0 or a negative errno. */
int testbed_del_vm(unsigned i);

/* Removes every dbavm-* namespace and driver-domain link. Returns how many it removed. */
int testbed_down(void);

#endif
