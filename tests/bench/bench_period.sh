#!/bin/sh
# bench_period: the instructions one control period costs the agent (callgrind, counting
# run_periods alone: read every vif's counters, allocate, apply, publish), on bench_period.c's
# modelled host of VMS VMs, every vif busy and then every vif quiet, in three shapes: one port
# holding egress only (the agent before ports and directions), one port both directions, two
# ports both directions (each VM's second port under an SLA of its own). Prints each, per
# period and per vif direction, and the ratios to the first of the same traffic.
#   bench_period.sh BENCH_PERIOD [VMS [PERIODS]]
set -eu
BIN=$1
VMS=${2:-1000}
PERIODS=${3:-20}
out=$(mktemp -d /tmp/dbavm-bench-period-XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
for traffic in busy idle; do
	base=""
	for shape in "1 1" "1 2" "2 2"; do
		set -- $shape
		valgrind --tool=callgrind --toggle-collect=run_periods \
			--callgrind-out-file="$out/cg" "$BIN" "$VMS" "$1" "$2" "$PERIODS" \
			$([ "$traffic" = idle ] && echo idle) >/dev/null 2>"$out/err"
		ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/err")
		per=$((ir / PERIODS))
		units=$((VMS * $1 * $2))
		[ -n "$base" ] || base=$per
		echo "BENCH period vms=$VMS ports=$1 directions=$2 $traffic: $per instructions a period," \
			"$((per / units)) a vif direction, $(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.2f", a / b }')x one port egress only"
	done
done
