#!/bin/sh
# TCP goodput / limit on the testbed, for one VM with min = max = LIMIT, at limits of 10, 50
# and 300 Mbit/s, with 1 and 8 flows (iperf3, 5 s each, the median of RUNS runs), under
# netfront and netback, and under any other build given as LABEL=PATH (an earlier netfront
# design, say: `git worktree add /tmp/old 26bda97` and build it).
#   bench_tcp.sh DBAVMD [LABEL=DBAVMD ...]
# Goodput is TCP payload: with full-sized frames 1448 of every 1514 bytes, so 0.956 is the
# most any enforcer can show against a limit counted in frames.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed # builds the testbed (testbed/testbed.c)
shift
RUNS=${RUNS:-3}
. "$TOP/tests/testbed/traffic.sh"
bench_start
port=$(free_port)
api="http://127.0.0.1:$port"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_one() { # LABEL BINARY ENFORCER
	"$TESTBED" up 1 1gbit
	agent_start_netns "$2" 1000000000 0 "$port" "$3" || { echo "$1: the agent did not start"; exit 1; }
	for limit in 10000000 50000000 300000000; do
		api_put_sla dbavm-vm1 "$limit" 100000000
		sleep 0.5
		for flows in 1 8; do
			for r in $(seq "$RUNS"); do
				ip netns exec dbavm-sink timeout 20 iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
				sink_listening 5301 || true
				ip netns exec dbavm-vm1 timeout 15 iperf3 -c 198.18.0.254 -p 5301 -t 5 \
					-P "$flows" -J 2>/dev/null |
					jq -e ".end.sum_received.bits_per_second / $limit" || echo nan # shown, never a 0
				wait
			done | median | awk -v l="$1" -v m="$limit" -v f="$flows" \
				'{ printf "%-22s limit %4d Mbit/s  flows %d  goodput/limit %.3f\n", l, m / 1e6, f, $1 }'
		done
	done
	kill "$agent" && wait "$agent" 2>/dev/null || true
	agent=""
}

bench_one "netfront (shaper)" "$DBAVMD" netfront
bench_one "netback (HTB uplink)" "$DBAVMD" netback
for pair in "$@"; do
	bench_one "${pair%%=*}" "${pair#*=}" netfront
done
