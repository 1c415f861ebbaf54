#!/bin/sh
# A Neutron policy taken whole, on the testbed of testbed/testbed.h (root, BPF, iperf3,
# python3), under netfront:
#   (a) dscp_marking: what the VM sends reaches the sink with that DSCP, the guest's ECN bits
#       kept; a mark of 0 replaces the guest's own (EF); a VM without one is left alone; the
#       delay samples still match at the uplink (the hook marks before it samples);
#   (b) max_burst_kbps: after an idle while, a 200 Mbit/s UDP flood passes the burst and then
#       the rate: what passed beyond rate x time is the burst, within 10 %, each way;
#   (c) a bandwidth_limit without a burst gets Neutron's Open vSwitch agent's, 80 % of the
#       rate (within 10 %); a native SLA without one, the enforcer's (5 ms of rate: under
#       5 % of that);
#   (d) TCP through the largest of those bursts still gets its limit, on average.
#   test_shape.sh DBAVMD TOP
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed # builds the testbed (testbed/testbed.c)
TOP=$2
RATE=10000000 # every limit here: 10 Mbit/s
PAYLOAD=1400  # UDP payload: 1442-byte frames

. "$TOP/tests/testbed/check.sh"
. "$TOP/tests/testbed/traffic.sh"
test_start shape 40

port=$(free_port)
api="http://127.0.0.1:$port"
auth="Authorization: Bearer s3cret0123456789"

# The DSCP of each datagram the sink gets on PORT until SECONDS of quiet after the first: "dscp/ecn:count ...".
tos_listen() { # PORT SECONDS
	ip netns exec dbavm-sink timeout $(($2 + 30)) python3 - 198.18.0.254 "$1" "$2" \
		>"$dir/tos$1" <<'EOF' &
import collections, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(15) # the first datagram: the sender may start late on a loaded machine
seen = collections.Counter()
try:
    while True:
        _, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(1))
        s.settimeout(float(sys.argv[3]))
        tos = [c[2][0] for c in anc if c[:2] == (socket.IPPROTO_IP, socket.IP_TOS)]
        seen["%d/%d" % (tos[0] >> 2, tos[0] & 3) if tos else "none"] += 1
except socket.timeout:
    pass
print(" ".join("%s:%d" % kv for kv in sorted(seen.items())))
EOF
	tos_pid=$!
	sink_listening -u "$1" || bad "the DSCP listener on $1"
}
# VM I sends 5 datagrams to PORT with each TOS given (DSCP << 2 | ECN).
tos_send() { # I PORT TOS...
	_i=$1 _p=$2
	shift 2
	ip netns exec "dbavm-vm$_i" timeout 10 python3 - "$_p" "$@" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for tos in sys.argv[2:]:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, int(tos))
    for _ in range(5):
        s.sendto(b"x" * 100, ("198.18.0.254", int(sys.argv[1])))
EOF
}
tos_seen() { # PORT: waits for the listener (not in a subshell: it is this shell's child)
	wait "$tos_pid" || true
	seen=$(cat "$dir/tos$1")
}

# What passed of a one-second UDP flood at 200 Mbit/s, beyond RATE x its time: the burst, in
# bytes of frames. WAY: egress (VM I to the sink) or ingress (the sink to VM I). The buckets
# are full first: the VM has been quiet for 2 s (a burst of 1 MB refills in 0.8 s at 10 Mbit/s).
burst_of() { # I WAY
	sleep 2
	if [ "$2" = egress ]; then
		_srv=dbavm-sink _cli="dbavm-vm$1" _to=198.18.0.254
	else
		_srv="dbavm-vm$1" _cli=dbavm-sink _to="198.18.0.$1"
	fi
	ip netns exec "$_srv" timeout 20 iperf3 -s -1 -J -p "57$1" >"$dir/burst.json" 2>&1 &
	_n=0
	until ip netns exec "$_srv" ss -Hlnt "sport = :57$1" | grep -q .; do
		_n=$((_n + 1))
		[ "$_n" -lt 200 ] || break
		sleep 0.05
	done
	ip netns exec "$_cli" timeout 15 iperf3 -c "$_to" -p "57$1" -u -b 200M -l "$PAYLOAD" \
		-t 1 -J >/dev/null 2>&1 || true
	sleep 0.5
	jq -e --argjson r "$RATE" --argjson f $((PAYLOAD + 42)) \
		'.end.sum | (.packets - .lost_packets) * $f - $r / 8 * .seconds' \
		"$dir/burst.json" 2>/dev/null || true
}
burst_within() { # WHAT GOT WANT PERCENT: a missing figure fails
	if [ -z "$2" ]; then bad "$1: no figure (iperf3 failed)"; else within "$1" "$2" "$3" "$4"; fi
}

"$TESTBED" up 3 500mbit
agent_start_netns "$DBAVMD" 475000000 190000 "$port" netfront ||
	bad "the agent did not become ready"

echo "== (a) dscp_marking: the DSCP on the wire at the sink"
api_sla dbavm-vm1 '{"policy":{"rules":[
	{"type":"bandwidth_limit","max_kbps":10000,"max_burst_kbps":4000,"direction":"egress"},
	{"type":"bandwidth_limit","max_kbps":10000,"max_burst_kbps":4000,"direction":"ingress"},
	{"type":"dscp_marking","dscp_mark":26}]}}'
api_sla dbavm-vm2 '{"policy":{"rules":[{"type":"dscp_marking","dscp_mark":0}]}}'
sleep 0.5
tos_listen 5801 2
tos_send 1 5801 0 1 2 3
tos_seen 5801
expect "vm1's packets at the sink (DSCP/ECN:count), mark 26" "$seen" \
	"26/0:5 26/1:5 26/2:5 26/3:5"
tos_listen 5802 2
tos_send 2 5802 184 185 # EF (46), with ECN 0 and 1
tos_seen 5802
expect "vm2's EF packets at the sink, mark 0" "$seen" "0/0:5 0/1:5"
tos_listen 5803 2
tos_send 3 5803 184 40
tos_seen 5803
expect "vm3's packets (no mark) at the sink" "$seen" "10/0:5 46/0:5"
# Delay samples under the mark: the hook and the uplink must read the same header, or every
# sample goes unmatched and counts as lost on the path. A packet the kernel really dropped
# between the two (a queue behind the hook overflowed: the shaper's in the guest, a CPU's
# backlog, the uplink's) is lost on the path too, and the kernel counts it: at most 3 x
# drops / 64 samples (one in 64; the binomial's spread with room). One sample more may go
# unmatched with nothing counted dropped: seen twice on a loaded machine (CI, and a run beside
# SCHED_FIFO hogs), 1 sample of 200-270, not explained yet (not a wait past the 2 s a sample is
# kept: the matched ones' p99 stayed under 50 us in those runs). A header read two ways leaves
# nearly all of them unmatched.
path_lost() { # VM: its path loss since the agent started, packets (64 per sample)
	curl -sf -m 5 "$api/metrics" |
		sed -n "s/^dbavm_vm_lost_packets_total{vm=\"$1\",cause=\"path\"} //p"
}
# What the kernel dropped between vm1's hook and the uplink, packets, by where: "WHERE N" lines.
# (not the hook's own: tc counts what the hook drops on clsact, and those are policy's)
no_hook='[.[] | select(.kind != "clsact") | .drops // 0] | add // 0'
drops_at() {
	# the CPUs' backlogs (netif_rx: a veth's far end; the second column, hexadecimal), the
	# sink's too: more than the path's, never less
	echo "backlog $(while read -r _ _d _; do echo $((0x$_d)); done </proc/net/softnet_stat |
		awk '{ n += $1 } END { print n + 0 }')"
	for d in dbavm-vif1 dbavm-up0; do
		echo "$d $(ip -s -j link show dev "$d" | jq '.[0].stats64 | .rx.dropped + .tx.dropped')"
		echo "$d-qdisc $(tc -s -j qdisc show dev "$d" | jq "$no_hook")"
	done
	echo "vm1-eth0 $(ip netns exec dbavm-vm1 ip -s -j link show dev eth0 |
		jq '.[0].stats64 | .rx.dropped + .tx.dropped')"
	echo "vm1-eth0-qdisc $(ip netns exec dbavm-vm1 tc -s -j qdisc show dev eth0 |
		jq "$no_hook")"
}
lost0=$(path_lost dbavm-vm1)
drops_at >"$dir/drops0"
traffic_serve 1
traffic_send 1 5M 200 4 || true
sleep 2.5 # a sample waits 2 s for its match before it counts as lost
lost1=$(path_lost dbavm-vm1)
drops_at >"$dir/drops1"
# each place's drops over the window, and their sum
where=$(awk 'NR == FNR { was[$1] = $2; next } { printf "%s %d, ", $1, $2 - was[$1] }' \
	"$dir/drops0" "$dir/drops1")
drops=$(awk 'NR == FNR { was[$1] = $2; next } { n += $2 - was[$1] } END { print n + 0 }' \
	"$dir/drops0" "$dir/drops1")
got=$(curl -sf "$api/vms/dbavm-vm1" | jq -e '.delay.total.samples' || true)
if [ -z "$got" ]; then bad "vm1's delay samples: no figure"; else above "vm1's delay samples matched under the mark" "$got" 100; fi
if [ -z "$lost0" ] || [ -z "$lost1" ]; then
	bad "vm1's path loss under the mark: no figure"
else
	echo "     packets the kernel dropped between the hook and the uplink: $drops ($where)"
	below "vm1's samples unmatched under the mark, at most what those drops show" \
		"$(((lost1 - lost0) / 64))" "$((2 + 3 * drops / 64))"
fi

echo "== (b) max_burst_kbps 4000: 500 kB at once, each way"
burst_within "vm1 egress burst, bytes" "$(burst_of 1 egress)" 500000 10
burst_within "vm1 ingress burst, bytes" "$(burst_of 1 ingress)" 500000 10

echo "== (c) no burst given: Neutron's agent's 80 % of the rate; a native SLA, the enforcer's"
api_sla dbavm-vm2 '{"policy":{"rules":[{"type":"bandwidth_limit","max_kbps":10000}]}}'
got=$(curl -sf "$api/vms/dbavm-vm2/sla" | jq -e '.bandwidth.burst_bits' || true)
expect "vm2's burst from its policy, bits" "$got" 8000000
api_record GET /vms/dbavm-vm1/sla
api_record GET /vms/dbavm-vm2/sla
api_record GET /vms/dbavm-vm1
api_record PUT /vms/dbavm-vm3/sla '{"priority":7,"bandwidth":{"max_bps":10000000,"burst_bits":80000},"dscp_mark":46,"ingress":{"priority":1,"packet_rate":{"max_pps":5000,"burst_packets":100}}}'
burst_within "vm2 egress burst (80 % of 10 Mbit/s), bytes" "$(burst_of 2 egress)" 1000000 10
api_sla dbavm-vm3 '{"priority":7,"bandwidth":{"max_bps":10000000}}'
got=$(burst_of 3 egress)
if [ -z "$got" ]; then bad "vm3 egress burst: no figure"; else below "vm3 egress burst (the enforcer's 5 ms, 6.25 kB), bytes" "$got" 25000; fi

echo "== (d) TCP through a 1 MB burst: the limit on average"
ip netns exec dbavm-sink timeout 25 iperf3 -s -1 -J -p 5902 >/dev/null 2>&1 &
sink_listening 5902 || bad "iperf3 server on 5902"
ip netns exec dbavm-vm2 timeout 20 iperf3 -c 198.18.0.254 -p 5902 -t 8 -J \
	>"$dir/tcp2.json" 2>/dev/null || true
got=$(jq -e '.end.sum_received.bytes * 8 * 1514 / 1448 / .end.sum_received.seconds' \
	"$dir/tcp2.json" 2>/dev/null || true)
# at most the rate and one burst (8 Mbit) over the run's time, 2 % for the headers' rounding
most=$(jq -e '(10000000 + 8000000 / .end.sum_received.seconds) * 1.02' "$dir/tcp2.json" \
	2>/dev/null || true)
if [ -z "$got" ] || [ -z "$most" ]; then
	bad "vm2 TCP: no figure (iperf3 failed)"
else
	above "vm2 TCP frames through 10 Mbit/s with a 1 MB burst" "$got" 9500000
	below "vm2 TCP held: the rate and one burst over the run" "$got" "$most"
fi

check_done
