#!/bin/sh
# Ports known by the orchestrator's id, from a real Open vSwitch database (ovsdb-server and
# ovs-vsctl of Debian's openvswitch packages, unpacked by tests/support/ovs-tools.sh; no
# vswitchd, no datapath: the rows are what Nova's os-vif writes when it plugs a port), beside
# the netns testbed (root, BPF, iperf3), under netfront:
#   (a) a vif whose Interface row has external_ids:iface-id (a Neutron port UUID) shows it as
#       port_id; GET /ports/{that id} finds it;
#   (b) a port SLA PUT by that id (in capitals) is kept under it and held: TCP from the sink
#       to the VM at its ingress max (>= 95 %, not above);
#   (c) a port SLA PUT by an id no vif has yet (absent, 201), then the iface-id set on
#       another vif's row: in force there within a second (ovsdb-server pushes the change);
#       two rows with one id: GET /ports/{id} 409;
#   (d) an iface-id the API could not carry (a control character): not taken, logged;
#   (e) ovsdb-server stopped: /readyz says so, the ids last known kept; started again: ready,
#       and a change made meanwhile followed;
#   (f) the agent stopped: no qdisc of its left.
#   test_ovsdb.sh DBAVMD TOP
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed
TOP=$2

. "$TOP/tests/testbed/check.sh"
. "$TOP/tests/testbed/traffic.sh"
test_start ovsdb 40

OVS=$("$TOP/tests/support/ovs-tools.sh")
export OVS_RUNDIR="$dir" OVS_LOGDIR="$dir" OVS_DBDIR="$dir" OVS_SYSCONFDIR="$dir"
sock=$dir/db.sock
ovsdb_pid=""
ovsdb_start() { # bounded in time, stopped by its pid
	timeout 300 "$OVS/usr/sbin/ovsdb-server" "$dir/conf.db" --remote="punix:$sock" \
		--unixctl="$dir/ovsdb.ctl" --log-file="$dir/ovsdb.log" 2>/dev/null &
	ovsdb_pid=$!
	extra_pids="$ovsdb_pid"
	_n=0
	until [ -S "$sock" ]; do
		_n=$((_n + 1))
		[ "$_n" -lt 100 ] || return 1
		sleep 0.05
	done
}
ovsdb_stop() {
	kill "$ovsdb_pid" 2>/dev/null && wait "$ovsdb_pid" 2>/dev/null || true
	extra_pids=""
	rm -f "$sock" # ovsdb-server removes it on exit; a kill before it could leaves it
}
vsctl() { "$OVS/usr/bin/ovs-vsctl" --db="unix:$sock" --no-wait --timeout=5 "$@"; }
port=$(free_port)
api="http://127.0.0.1:$port"
auth="Authorization: Bearer s3cret0123456789"
P1=0f6e2a52-1b2c-4c3d-8e9f-a0b1c2d3e4f5
P2=7a1c9e30-5d2b-4f6a-9c8e-1b2d3f4a5b6c
port_put() { # PORT JSON
	code=$(curl -s -o "$dir/put.json" -w '%{http_code}' -X PUT "$api/ports/$1/sla" \
		-H "$auth" -H 'Content-Type: application/json' -d "$2")
}
# What GET /ports/{PORT} says, as jq's FILTER gives it, within SECONDS (or the last answer).
port_until() { # PORT FILTER WANT SECONDS
	_n=0
	while :; do
		_got=$(curl -s "$api/ports/$1" | jq -c "$2" 2>/dev/null || true)
		[ "$_got" = "$3" ] && break
		_n=$((_n + 1))
		[ "$_n" -lt $(($4 * 50)) ] || break
		sleep 0.02
	done
	echo "$_got"
}
need() {
	[ -n "$2" ] || bad "$1: no figure (iperf3 failed)"
	[ -n "$2" ]
}

"$OVS/usr/bin/ovsdb-tool" create "$dir/conf.db" "$OVS/usr/share/openvswitch/vswitch.ovsschema"
ovsdb_start || bad "ovsdb-server did not make its socket"
"$TESTBED" up 3 500mbit
# The rows os-vif writes: the vif's host end on a bridge, its Neutron port id and MAC.
vsctl init -- add-br br-int -- add-port br-int dbavm-vif2 -- set Interface dbavm-vif2 \
	"external_ids:iface-id=$P1" external_ids:iface-status=active
agent_start_netns "$DBAVMD" 100000000 190000 "$port" netfront --ovsdb "$sock" ||
	bad "the agent did not become ready"

echo "== (a) the port id from its Interface row"
got=$(curl -sf "$api/ports/$P1" | jq -c '[.vm, .vif.id, .port_id]' || true)
expect "GET /ports/{Neutron port id}: vm2's vif" "$got" "[\"dbavm-vm2\",\"dbavm-vif2\",\"$P1\"]"
got=$(curl -sf "$api/vms/dbavm-vm2" | jq -r '.vifs[0].port_id' || true)
expect "GET /vms/dbavm-vm2: its vif's port_id" "$got" "$P1"
got=$(curl -sf "$api/vms/dbavm-vm1" | jq -r '.vifs[0].port_id' || true)
expect "GET /vms/dbavm-vm1: no row, port_id null" "$got" null
# br-int's own interface and dbavm-vif2's
grep -q 'ovsdb connected socket=.* interfaces=2 with_iface_id=1' "$dir/agent.log" &&
	ok "the log: connected, 2 interfaces, 1 with an iface-id" ||
	bad "the log: no 'ovsdb connected' line with interfaces=2 with_iface_id=1"

echo "== (b) a port SLA by the port id, held"
port_put "$(echo "$P1" | tr a-f A-F)" '{"ingress":{"priority":1,"bandwidth":{"max_bps":25000000}}}'
expect "PUT /ports/{port id in capitals}/sla" "$code" 201
got=$(curl -sf "$api/ports/$P1" | jq -c '[.port, .sla_from, .sla.ingress.bandwidth.max_bps]' || true)
expect "the SLA kept under the port id" "$got" "[\"$P1\",\"port\",25000000]"
sleep 0.5
tcp_to 2 5 2
got=$(tcp_frames "$dir/in_tcp2.json")
if need "vm2 received TCP" "$got"; then
	above "vm2 received TCP through its port's ingress max of 25 Mbit/s, frames" "$got" 23750000
	below "vm2 received TCP, held at 25 Mbit/s" "$got" 25500000
fi

echo "== (c) an SLA for a port not here yet; its id set on vm3's row"
port_put "$P2" '{"priority":1,"bandwidth":{"max_bps":15000000}}'
expect "PUT /ports/{an id no vif has}/sla: absent, kept" "$code" 201
got=$(curl -sf "$api/ports/$P2" | jq -c '[.present, .vm]' || true)
expect "GET /ports/{it}: absent" "$got" '[false,null]'
t0=$(date +%s%N)
vsctl add-port br-int dbavm-vif3 -- set Interface dbavm-vif3 "external_ids:iface-id=$P2"
got=$(port_until "$P2" '[.present, .vm, .vif.sla_from]' '[true,"dbavm-vm3","port"]' 2)
ms=$((($(date +%s%N) - t0) / 1000000))
expect "the port found on vm3, its SLA in force ($ms ms after ovs-vsctl)" "$got" \
	'[true,"dbavm-vm3","port"]'
below "ms from the row's change to the SLA in force" "$ms" 1000
vsctl add-port br-int dbavm-vif1 -- set Interface dbavm-vif1 "external_ids:iface-id=$P2"
got=$(curl -s -o /dev/null -w '%{http_code}' "$api/ports/$P2")
n=0
while [ "$got" != 409 ] && [ "$n" -lt 50 ]; do
	sleep 0.02
	n=$((n + 1))
	got=$(curl -s -o /dev/null -w '%{http_code}' "$api/ports/$P2")
done
expect "two rows with one iface-id: GET /ports/{it} is ambiguous" "$got" 409
vsctl remove Interface dbavm-vif1 external_ids iface-id

echo "== (d) an iface-id the API could not carry"
vsctl set Interface dbavm-vif1 "external_ids:iface-id=\"bad$(printf '\001')id\""
n=0
until grep -q 'ovsdb iface-id not taken interface=dbavm-vif1' "$dir/agent.log" || [ "$n" -ge 50 ]; do
	sleep 0.02
	n=$((n + 1))
done
grep -q 'ovsdb iface-id not taken interface=dbavm-vif1 why="a name with a control character"' \
	"$dir/agent.log" && ok "the log says it was not taken, and why" ||
	bad "no 'iface-id not taken' line for dbavm-vif1"
got=$(curl -sf "$api/vms/dbavm-vm1" | jq -r '.vifs[0].port_id' || true)
expect "vm1's vif: no port id" "$got" null

echo "== (e) ovsdb-server stopped, then started again"
ovsdb_stop
n=0
code=200
while [ "$code" = 200 ] && [ "$n" -lt 100 ]; do
	sleep 0.05
	n=$((n + 1))
	code=$(curl -s -o "$dir/ready.json" -w '%{http_code}' "$api/readyz")
done
expect "/readyz with ovsdb-server gone" "$code" 503
grep -q 'ovsdb-server at' "$dir/ready.json" && ok "/readyz names ovsdb-server" ||
	bad "/readyz: $(cat "$dir/ready.json")"
got=$(curl -sf "$api/ports/$P1" | jq -c '[.vm, .sla_from]' || true)
expect "the ids last known kept: GET /ports/{P1}" "$got" '["dbavm-vm2","port"]'
ovsdb_start || bad "ovsdb-server did not come back"
vsctl set Interface dbavm-vif2 "external_ids:iface-id=$P2" -- \
	remove Interface dbavm-vif3 external_ids iface-id
got=$(port_until "$P2" '[.vm, .vif.id]' '["dbavm-vm2","dbavm-vif2"]' 8)
expect "back within $((5 + 3)) s: the change made meanwhile followed" "$got" \
	'["dbavm-vm2","dbavm-vif2"]'
code=$(curl -s -o /dev/null -w '%{http_code}' "$api/readyz")
expect "/readyz once ovsdb-server is back" "$code" 200
got=$(curl -sf "$api/ports/$P1" | jq -c '[.present]' || true)
expect "P1 no longer on any row: its SLA absent, kept" "$got" '[false]'

echo "== (f) the agent stopped"
kill "$agent" && wait "$agent" || true
agent=""
for i in 1 2 3; do
	left=$(tc qdisc show dev "dbavm-vif$i" | grep -cE 'htb db01:|clsact' || true)
	expect "dbavm-vif$i: the agent's qdiscs after it stopped" "$left" 0
done
ovsdb_stop

check_done
