#!/bin/sh
# What tenants mostly send, on the testbed of testbed/testbed.h (root, BPF, iperf3 TCP,
# nginx and ab), under one enforcer (netfront, or netback for comparison):
#   (a) a capped VM (class 1, max 40 Mbit/s) beside a quiet class-0 VM with a guarantee and no
#       max connects at once and gets >= 90 % of 40 Mbit/s as TCP goodput;
#   (b) min = max = 40 Mbit/s, one flow and eight: >= 90 %;
#   (c) class 0 with min 200 Mbit/s and no max beside a VM without an SLA, both sending TCP:
#       class 0 >= 90 % of 200, the two together >= 80 % of the uplink;
#   (d) a VM quiet for 5 s gets its first connection through at once;
#   (h) the agent's byte counters match the frames a TCP flow put on the wire (GSO packets
#       counted as their segments, each with its headers);
#   (g) a VM's own UDP beside its TCP at its max loses nothing (under 1 %), TCP keeps >= 90 %;
#   (f) netfront: a TCP flow held by a packet rate (max 2 kpps, no bit rate) gets 80 % of what
#       2,000 full frames a second carry (the packet rate is folded into the shaper);
#   (e) many short requests (ab against nginx in the sink) from the capped VM while its
#       neighbours flood UDP: no request fails, and under netfront p99 within 2x of the same
#       VM alone (netback's p99 is printed: it queues the VM behind the floods).
# Goodput is TCP payload (iperf3's received rate); the limits count whole frames, so 95.6 % is
# the most a full-sized flow can show (1448 of 1514 bytes).
#   test_tcp.sh DBAVMD TOP ENFORCER
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed # builds the testbed (testbed/testbed.c)
TOP=$2
ENFORCER=$3
# The uplink carries 500 Mbit/s; the agent is told 475, as an operator leaves a margin below
# the line rate, so that limits adding up to the capacity do not keep a queue on the wire.
UPLINK_MBIT=500
UPLINK_BPS=475000000

. "$TOP/tests/testbed/check.sh"
. "$TOP/tests/testbed/traffic.sh"
test_start tcp 40

port=$(free_port)
api="http://127.0.0.1:$port"
auth="Authorization: Bearer s3cret0123456789"
sla() { # VM JSON
	curl -sf -o /dev/null -X PUT "$api/vms/$1/sla" -H "$auth" -H 'Content-Type: application/json' \
		-d "$2" || bad "PUT $1's SLA"
}
unsla() { curl -sf -o /dev/null -X DELETE "$api/vms/$1/sla" -H "$auth" || true; }
settle() { sleep 0.5; } # a few periods for a new SLA to be in force

# VM I sends TCP to the sink for SECONDS with FLOWS parallel flows; JSON in $dir/tcpI.json.
# The pid in $tcp_pid. The server takes one test and stops.
tcp_start() { # I SECONDS FLOWS
	ip netns exec dbavm-sink timeout $(($2 + 15)) iperf3 -s -1 -p "53$1" >/dev/null 2>&1 &
	sink_listening "53$1" || bad "iperf3 server for vm$1"
	ip netns exec "dbavm-vm$1" timeout $(($2 + 10)) iperf3 -c 198.18.0.254 -p "53$1" \
		-t "$2" -P "$3" --connect-timeout 1000 -J >"$dir/tcp$1.json" 2>/dev/null &
	tcp_pid=$!
}
# The goodput the sink received, bit/s; fails the check (empty) when iperf3 said nothing.
goodput() { jq -e '.end.sum_received.bits_per_second' "$dir/tcp$1.json" 2>/dev/null || true; }
tcp_run() { # I SECONDS FLOWS: runs to the end, prints the goodput
	tcp_start "$@"
	wait "$tcp_pid" || true
	goodput "$1"
}
at_least() { # WHAT GOT LOWEST: a missing figure fails
	if [ -z "$2" ]; then bad "$1: no figure (iperf3 failed)"; else above "$1" "$2" "$3"; fi
}

"$TESTBED" up 3 "${UPLINK_MBIT}mbit"
agent_start_netns "$DBAVMD" "$UPLINK_BPS" 190000 "$port" "$ENFORCER" ||
	bad "the agent did not become ready"

echo "== (a) capped VM beside a quiet class-0 VM with a guarantee and no max ($ENFORCER)"
sla dbavm-vm1 '{"priority":1,"bandwidth":{"min_bps":0,"max_bps":40000000}}'
sla dbavm-vm2 '{"priority":0,"bandwidth":{"min_bps":100000000}}'
settle
got=$(tcp_run 1 5 1)
at_least "vm1 TCP goodput, max 40 Mbit/s, beside quiet class 0" "$got" 36000000
got=$(jq -e '.end.sum_sent.bytes' "$dir/tcp1.json" 2>/dev/null || true)
at_least "vm1 connected and sent" "$got" 1

echo "== (b) min = max = 40 Mbit/s, 1 and 8 flows"
sla dbavm-vm1 '{"priority":1,"bandwidth":{"min_bps":40000000,"max_bps":40000000}}'
settle
at_least "vm1 1 flow" "$(tcp_run 1 5 1)" 36000000
at_least "vm1 8 flows" "$(tcp_run 1 5 8)" 36000000
got=$(tcp_run 1 5 8)
below "vm1 8 flows held at 40 Mbit/s" "${got:-0}" 40400000

echo "== (g) the same VM's own UDP (1 Mbit/s of 200-byte datagrams) beside its TCP at 40 Mbit/s"
ip netns exec dbavm-sink timeout 25 iperf3 -s -1 -p 5401 >/dev/null 2>&1 &
sink_listening 5401 || bad "iperf3 server on 5401"
tcp_start 1 7 1
sleep 1.5
ip netns exec dbavm-vm1 timeout 15 iperf3 -c 198.18.0.254 -p 5401 -u -b 1M -l 200 -t 4 -J \
	>"$dir/udp1.json" 2>/dev/null || true
wait "$tcp_pid" || true
lost=$(jq -e '.end.sum.lost_percent' "$dir/udp1.json" 2>/dev/null || true)
udp=$(jq -e '.end.sum.bits_per_second' "$dir/udp1.json" 2>/dev/null || true)
if [ -z "$lost" ] || [ -z "$udp" ]; then
	bad "vm1's UDP beside its TCP: no figure (iperf3 failed)"
else
	# The hook polices what is not TCP against its own buckets: TCP's queue in the shaper
	# must not make it drop the VM's other packets (measured before: 4.5-5.9 % lost).
	below "vm1's UDP beside its own TCP, % lost" "$lost" 1
	got=$(goodput 1)
	# 39 Mbit/s of frames left for TCP, 95.6 % of it payload: 37.3 at best.
	at_least "vm1's TCP beside its own UDP" "$got" 33500000
	below "vm1's TCP (4 s of 7 beside 1 Mbit/s of UDP), held at 40 Mbit/s" "${got:-0}" 40400000
fi

echo "== (h) the agent's counters against the frames a TCP flow put on the wire"
metric() { # NAME VM: fails (empty) when the series is missing
	curl -sf -m 5 "$api/metrics" | sed -n "s/^$1{vm=\"$2\"} //p"
}
sleep 0.5
o0=$(metric dbavm_vm_offered_bytes_total dbavm-vm1)
p0=$(metric dbavm_vm_passed_bytes_total dbavm-vm1)
tcp_run 1 4 1 >/dev/null
sleep 0.5 # the last period's counters read
o1=$(metric dbavm_vm_offered_bytes_total dbavm-vm1)
p1=$(metric dbavm_vm_passed_bytes_total dbavm-vm1)
recv=$(jq -e '.end.sum_received.bytes' "$dir/tcp1.json" 2>/dev/null || true)
if [ -z "$o0" ] || [ -z "$p0" ] || [ -z "$o1" ] || [ -z "$p1" ] || [ -z "$recv" ]; then
	bad "counters against the wire: a figure is missing"
else
	# Full frames of 1514 bytes carry 1448 of payload (TCP with timestamps): the frames on
	# the wire are the payload x 1514/1448, plus the little iperf3's control connection
	# adds. A GSO packet counted with one set of headers read 4.4 % low.
	wire=$(awk -v r="$recv" 'BEGIN { printf "%.0f", r * 1514 / 1448 }')
	for c in "offered $o0 $o1" "passed $p0 $p1"; do
		set -- $c
		r=$(awk -v a="$2" -v b="$3" -v w="$wire" 'BEGIN { printf "%.4f", (b - a) / w }')
		above "vm1's $1 bytes / frames on the wire" "$r" 0.985
		below "vm1's $1 bytes / frames on the wire" "$r" 1.03
	done
fi

echo "== (c) class 0 min 200 Mbit/s, no max, beside a VM without an SLA"
unsla dbavm-vm1
sla dbavm-vm2 '{"priority":0,"bandwidth":{"min_bps":200000000}}'
settle
tcp_start 2 6 4
p2=$tcp_pid
tcp_start 3 6 4
wait "$p2" "$tcp_pid" || true
g2=$(goodput 2)
g3=$(goodput 3)
at_least "vm2 (class 0, min 200 Mbit/s)" "$g2" 180000000
if [ -n "$g2" ] && [ -n "$g3" ]; then
	at_least "vm2 + vm3 (no SLA) together, of a 500 Mbit/s uplink" \
		"$(awk -v a="$g2" -v b="$g3" 'BEGIN { printf "%.0f", a + b }')" 400000000
else
	bad "vm2 + vm3 together: no figure"
fi

echo "== (d) a VM quiet for 5 s connects at once"
unsla dbavm-vm2
sla dbavm-vm3 '{"priority":2,"bandwidth":{"min_bps":0,"max_bps":40000000}}'
sleep 5
t0=$(date +%s%N)
got=$(tcp_run 3 2 1)
t1=$(date +%s%N)
at_least "vm3's first connection after 5 s of silence carried data" "$got" 1
# 2 s of test, the server's 0.3 s head start, iperf3's own exchange: well under 4 s unless
# the connection waited for a retransmission timer.
below "vm3's test took (ms)" "$(((t1 - t0) / 1000000))" 4000

if [ "$ENFORCER" = netfront ]; then # netback's HTB holds bits only
	echo "== (f) a TCP flow held by its packet rate (2 kpps)"
	unsla dbavm-vm3
	sla dbavm-vm1 '{"priority":1,"packet_rate":{"min_pps":0,"max_pps":2000}}'
	settle
	# 2,000 full frames a second carry 2,000 x 1448 bytes of payload: 23.2 Mbit/s. Measured
	# 22.0 on a quiet testbed and 19.2-20.1 after the flows above (no drop, no retransmission:
	# not understood yet); without the fold 2.1 (the hook's drops).
	got=$(tcp_run 1 5 4)
	at_least "vm1 4 flows under max_pps 2000, goodput" "$got" 18500000
	below "vm1 under max_pps 2000, goodput" "${got:-0}" 23400000
fi

echo "== (e) short requests from the capped VM while its neighbours flood UDP"
sla dbavm-vm1 '{"priority":1,"bandwidth":{"min_bps":0,"max_bps":40000000}}'
mkdir -p "$dir/www"
head -c 20000 /dev/zero >"$dir/www/obj"
cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $dir;
	server { listen 198.18.0.254:80; root $dir/www; keepalive_requests 0; }
}
EOF
ip netns exec dbavm-sink timeout 120 nginx -c "$dir/nginx.conf" &
extra_pids=$!
sink_listening 80 || { bad "nginx did not listen"; cat "$dir/nginx.err" >&2 || true; }
ab_run() { # LABEL: 10,000 requests, 4 at a time; checks that all completed; p99 in ms in $p99
	# 300 requests first, not counted: the first period of a burst after silence runs at
	# the floor until the hook has seen the shaper hold it (one period, 100 ms).
	ip netns exec dbavm-vm1 timeout 60 ab -q -n 300 -c 4 -s 5 http://198.18.0.254/obj \
		>/dev/null 2>&1 || true
	ip netns exec dbavm-vm1 timeout 60 ab -q -n 10000 -c 4 -s 5 http://198.18.0.254/obj \
		>"$dir/ab.txt" 2>&1 || true
	n=$(awk '/^Complete requests:/ { print $3 }' "$dir/ab.txt")
	expect "$1: requests completed" "$n" 10000
	expect "$1: requests failed" "$(awk '/^Failed requests:/ { print $3 }' "$dir/ab.txt")" 0
	[ "$n" = 10000 ] || sed 's/^/  ab: /' "$dir/ab.txt" | tail -20
	p99=$(awk '$1 == "99%" { print $2 }' "$dir/ab.txt")
}
ab_run alone
alone=$p99
# The flooders run at nice 19: on two cores they and the driver domain's softirqs would
# otherwise take the CPU that ab and nginx need, and the p99 would measure the scheduler, not
# the network (the floods alone keep a core busy).
for i in 2 3; do
	ip netns exec dbavm-sink timeout 40 nice -n 19 iperf3 -s -1 -p "52$i" >/dev/null 2>&1 &
done
sink_listening 522 523 || bad "iperf3 servers for the floods"
for i in 2 3; do
	ip netns exec "dbavm-vm$i" timeout 30 nice -n 19 iperf3 -c 198.18.0.254 -p "52$i" -u -b 1G \
		-l 1400 -t 15 >/dev/null 2>&1 &
done
sleep 2
ab_run "beside UDP floods"
loaded=$p99
echo "p99 alone ${alone:-?} ms, beside floods ${loaded:-?} ms ($ENFORCER)"
if [ "$ENFORCER" = netback ]; then
	# The baseline drops the floods on the uplink, after the copy, where the capped VM's
	# packets queue behind them (measured: 65 ms): shown, not held to netfront's bound.
	:
elif [ -n "$alone" ] && [ -n "$loaded" ]; then
	# ab reports whole milliseconds, rounded down: a p99 read as A is below A + 1, so the
	# loaded one is refuted as more than twice the lone one only when it reads above
	# 2 x (A + 1).
	below "p99 beside floods (ms), at most 2 x (alone + 1)" "$loaded" $((2 * (alone + 1) + 1))
else
	bad "p99: no figure from ab"
fi

check_done
