#!/bin/sh
# bench_agent: what dbavmd itself costs on the netns testbed: CPU (% of one core, as perf's
# task-clock counts it over all the agent's threads; without perf, the scheduler's run time
# from /proc/PID/task/*/schedstat, which reads higher here; never utime/stime, which are
# sampled at the timer tick and overcharge a task that wakes in step with it) and RSS, at
# periods of 10, 100 and 1,000 ms, with
# the testbed's 3 VMs and with 100. The VMs are idle: this is the agent's own cost per period
# (read counters, allocate, publish), which traffic through the BPF hook does not change.
# Target: under 1 % of a core at a 10 ms period with 100 vifs (met: tests/bench/README.md).
# Usage: bench_agent.sh DBAVMD [SECONDS]
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed # builds the testbed (testbed/testbed.c)
SECS=${2:-10}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/testbed/traffic.sh"
bench_start
# CPU nanoseconds of PID over SECS seconds.
cpu_ns_over() {
	if command -v perf >/dev/null 2>&1; then
		perf stat -x, -e task-clock -p "$1" sleep "$2" 2>&1 >/dev/null |
			awk -F, '/task-clock/ { printf "%.0f", $1 * 1e6 }'
	else
		a=$(cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }')
		sleep "$2"
		cat /proc/"$1"/task/*/schedstat | awk -v a="$a" '{ s += $1 } END { printf "%.0f", s - a }'
	fi
}
command -v perf >/dev/null 2>&1 && echo "CPU from perf task-clock" || echo "CPU from schedstat"

printf '%-5s %-10s %10s %10s %8s\n' vms period_ms cpu_pct rss_kib ticks
for vms in 3 100; do
	"$TESTBED" up "$vms" >/dev/null 2>&1
	sleep 10 # a new testbed's links go on changing for a few seconds; each change is a rescan
	for period in 10 100 1000; do
		port=$(free_port)
		api="http://127.0.0.1:$port"
		"$DBAVMD" --platform netns --uplinks dbavm-up0:1000000000 --host-pps 190000 \
			--period "$period" --listen "127.0.0.1:$port" --state-dir "$dir/state" \
			--log-level warn 2>"$dir/agent.log" &
		agent=$!
		for _ in $(seq 100); do
			[ "$(curl -sf "$api/vms" | jq '[.vms[] | select(.present)] | length' 2>/dev/null)" = "$vms" ] && break
			sleep 0.1
		done
		sleep 1 # past start-up: attaching a hundred hooks is not the steady state
		k0=$(curl -sf "$api/host" | jq .tick)
		ns=$(cpu_ns_over "$agent" "$SECS")
		k1=$(curl -sf "$api/host" | jq .tick)
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$agent/status")
		awk -v n="$ns" -v s="$SECS" -v v="$vms" -v p="$period" -v r="$rss" \
			-v t="$((k1 - k0))" 'BEGIN {
			printf "%-5s %-10s %10.3f %10d %8d\n", v, p, 100 * n / 1e9 / s, r, t }'
		kill "$agent"
		wait "$agent" || true
		agent=""
	done
done
