#!/bin/sh
# bench_sampling: what delay sampling costs. First the hook's own cost per packet (bench_hook:
# the kernel's BPF_PROG_TEST_RUN timing, sampling off, 1 in 64 (the default), 1 in 16); then
# the testbed's maximum packet rate through the hook with sampling off and at the default:
# dbavm-vm1 and dbavm-vm3 send 64-byte UDP frames as fast as udpblast can, unlimited SLAs,
# SECONDS per run, ROUNDS rounds interleaved; packets per second received at the sink, median.
# Target: sampling lowers the maximum packet rate by at most 5 %.
# Usage: bench_sampling.sh DBAVMD UDPBLAST BENCH_HOOK [SECONDS [ROUNDS]]
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed # builds the testbed (testbed/testbed.c)
UDPBLAST=$2
BENCH_HOOK=$3
SECS=${4:-5}
ROUNDS=${5:-3}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/testbed/traffic.sh"
bench_start

"$BENCH_HOOK" 20000 5
echo

one() { # SAMPLE_EVERY
	"$TESTBED" up 3 10gbit >/dev/null 2>&1
	port=$(free_port)
	api="http://127.0.0.1:$port"
	agent_start_netns "$DBAVMD" 10000000000 0 "$port" netfront --sample-every "$1" || {
		echo "the agent did not start" >&2
		exit 1
	}
	sleep 0.5
	rx=""
	for i in 1 3; do
		blast_recv "$i" $((SECS + 2))
		rx="$rx $blast_pid"
	done
	tx=""
	for i in 1 3; do
		blast_send "$i" 22 "$SECS" 1e12
		tx="$tx $blast_pid"
	done
	# shellcheck disable=SC2086 # lists of pids
	wait $tx $rx
	kill "$agent"
	wait "$agent" || true
	agent=""
	"$TESTBED" down
	awk -v s="$SECS" '{ n += $2 } END { printf "%.0f\n", n / s }' "$dir/rx1" "$dir/rx3"
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "off $(one 0)" >>"$dir/pps"
	echo "64 $(one 64)" >>"$dir/pps"
	r=$((r + 1))
done
awk 'function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
$1 == "off" { off[++n] = $2 } $1 == "64" { on[++m] = $2 }
END {
	printf "testbed maximum, 64-byte frames from 2 VMs, pps at the sink (median of %d):\n", n
	printf "  sampling off     %9.0f\n  sampling 1 in 64 %9.0f\n  ratio            %9.3f (target >= 0.95)\n",
	       median(off, n), median(on, m), median(on, m) / median(off, n)
}' "$dir/pps"
