#!/bin/sh
# The demo testbed, on network namespaces:
#
#   dbavm-vm1..N   the guests: eth0 = guest end of a veth, 198.18.0.<i>/24
#   dbavm-br0      bridge in the root namespace (the driver domain); the vifs' host ends,
#                  dbavm-vif<i>, are its ports
#   dbavm-up0      the uplink: a veth from the bridge to namespace dbavm-sink (198.18.0.254),
#                  shaped to 1 Gbit/s (or RATE) in the driver domain (HTB, class 1:1)
#
# Everything is named dbavm-*, addressed from 198.18.0.0/15, and has no route out.
#   testbed.sh up [N [RATE]]  remove any stale testbed, build one with N VMs (default 3) and
#                             the uplink shaped to RATE (tc units, default 1gbit)
#   testbed.sh down     remove it (also what `up` does first)
#   testbed.sh add-vm I / del-vm I   a VM dbavm-vm<I> arrives / goes, while the rest runs
#   testbed.sh add-vm I moved        the same, its veth made and plugged in the driver domain,
#                                    the guest end moved into the VM's namespace last and
#                                    left down
set -eu

down() {
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^dbavm-' || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 |
		grep '^dbavm-' || true); do
		ip link del "$link" 2>/dev/null || true
	done
}

quiet_ipv6() { # no router solicitations or DAD in the counters
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

add_vm() { # I [moved]
	i=$1
	ns=dbavm-vm$i
	ip netns add "$ns"
	quiet_ipv6 "$ns"
	if [ "${2:-}" = moved ]; then
		# Made and plugged in the driver domain, the guest end moved in last: no event
		# about the host end follows the move.
		ip link add "dbavm-vif$i" type veth peer name "dbavm-g$i"
		sysctl -qw "net.ipv6.conf.dbavm-vif$i.disable_ipv6=1"
		ip link set "dbavm-vif$i" master dbavm-br0 up
		ip link set "dbavm-g$i" netns "$ns"
		ip -n "$ns" link set "dbavm-g$i" name eth0
	else
		ip link add "dbavm-vif$i" type veth peer name eth0 netns "$ns"
		sysctl -qw "net.ipv6.conf.dbavm-vif$i.disable_ipv6=1"
		ip link set "dbavm-vif$i" master dbavm-br0 up
	fi
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "198.18.0.$i/24" dev eth0
	# A moved guest end stays down: a guest that has not brought its interface up yet
	# (bringing it up changes the host end's carrier, an event that would tell the agent).
	[ "${2:-}" = moved ] || ip -n "$ns" link set eth0 up
}

up() {
	n=${1:-3}
	rate=${2:-1gbit}
	down
	ip link add dbavm-br0 type bridge forward_delay 0 # ports forward at once: no late link events
	sysctl -qw "net.ipv6.conf.dbavm-br0.disable_ipv6=1"
	ip link set dbavm-br0 up
	ip netns add dbavm-sink
	quiet_ipv6 dbavm-sink
	ip link add dbavm-up0 type veth peer name eth0 netns dbavm-sink
	sysctl -qw "net.ipv6.conf.dbavm-up0.disable_ipv6=1"
	ip link set dbavm-up0 master dbavm-br0 up
	ip -n dbavm-sink link set lo up
	ip -n dbavm-sink addr add 198.18.0.254/24 dev eth0
	ip -n dbavm-sink link set eth0 up
	# The uplink: 1 Gbit/s leaving the driver domain.
	tc qdisc add dev dbavm-up0 root handle 1: htb default 1
	tc class add dev dbavm-up0 parent 1: classid 1:1 htb rate "$rate" ceil "$rate" burst 64k cburst 64k \
		quantum 60000
	i=1
	while [ "$i" -le "$n" ]; do
		add_vm "$i"
		i=$((i + 1))
	done
}

case "${1:-}" in
up) up "${2:-3}" "${3:-1gbit}" ;;
down) down ;;
add-vm) add_vm "$2" "${3:-}" ;;
del-vm)
	ip netns pids "dbavm-vm$2" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "dbavm-vm$2"
	;;
*)
	echo "usage: testbed.sh up [N [RATE]] | down | add-vm I | del-vm I" >&2
	exit 2
	;;
esac
