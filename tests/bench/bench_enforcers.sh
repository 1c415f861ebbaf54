#!/bin/sh
# bench_enforcers: the paper's scenario 2 on the netns testbed, at the paper's rates (every VM
# offers UDP at 1 Gbit/s; dbavm-vm1 and dbavm-vm3 in 64-byte frames, dbavm-vm2 in 1500-byte
# frames; SLAs 150 Mbit/s + 20 kpps, 700 Mbit/s + 60 kpps, 150 Mbit/s + 60 kpps; 1 Gbit/s
# uplink; 190 kpps host), under none, netback and netfront in one run, ROUNDS times each,
# interleaved. Per mode: per-VM Mbit/s and kpps at the sink, and the host's CPU time per
# offered and per delivered packet, in total and in the driver domain.
#
# The load is udpblast (tests/bench/udpblast.c: batched sendmmsg/recvmmsg), not iperf3: iperf3
# spends a system call per datagram, and on two cores its send path alone (about 7.5 us a
# packet) would be most of what is measured, the same under every mode. CPU comes from
# /proc/stat over the traffic: total = every busy state; driver domain = the softirq state,
# where everything after a packet crosses the veth runs (the host end's receive, the bridge,
# the uplink's qdisc, and the sink's receive, which on a real host is another machine's). The
# guests' send path, the netfront hook with it, is system time in the senders' context.
# Offered = datagrams the senders sent; delivered = datagrams the sink received.
# Target: netfront costs the host at least 30 % less CPU per offered packet than netback.
# Usage: bench_enforcers.sh DBAVMD UDPBLAST [SECONDS [ROUNDS]]
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed # builds the testbed (testbed/testbed.c)
UDPBLAST=$2
SECS=${3:-10}
ROUNDS=${4:-3}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/testbed/traffic.sh"
bench_start

# Busy (user, nice, system, irq, softirq) and softirq jiffies, summed over all CPUs.
cpu_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $8 }' /proc/stat; }
hz=$(getconf CLK_TCK)

one() { # MODE ROUND
	"$TESTBED" up 3 1gbit >/dev/null 2>&1
	port=$(free_port)
	api="http://127.0.0.1:$port"
	agent_start_netns "$DBAVMD" 1000000000 190000 "$port" "$1" || {
		echo "the agent did not start under $1" >&2
		tail "$dir/agent.log" >&2
		exit 1
	}
	api_put_sla dbavm-vm1 150000000 20000
	api_put_sla dbavm-vm2 700000000 60000
	api_put_sla dbavm-vm3 150000000 60000
	sleep 0.5
	rx=""
	for i in 1 2 3; do
		blast_recv "$i" $((SECS + 2))
		rx="$rx $blast_pid"
	done
	set -- "$1" "$2" $(cpu_jiffies)
	pids=""
	for i in 1 2 3; do
		payload=22
		[ "$i" = 2 ] && payload=1458
		blast_send "$i" "$payload" "$SECS" 1e9
		pids="$pids $blast_pid"
	done
	# shellcheck disable=SC2086 # a list of pids
	wait $pids
	set -- "$1" "$2" "$3" "$4" $(cpu_jiffies)
	# shellcheck disable=SC2086
	wait $rx
	kill "$agent"
	wait "$agent" || true
	agent=""
	for i in 1 2 3; do
		printf '%s %s %s %s %s %s %s %s\n' "$1" "$2" "$i" "$(awk '{ print $2 }' "$dir/tx$i")" \
			"$(awk '{ print $2 }' "$dir/rx$i")" "$SECS" $(($5 - $3)) $(($6 - $4))
	done >>"$dir/raw"
	"$TESTBED" down
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
	for mode in none netback netfront; do one "$mode" "$r"; done
	r=$((r + 1))
done

# raw: mode round vm sent received seconds busy_jiffies softirq_jiffies
awk -v hz="$hz" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	k = $1 SUBSEP $2
	frame = ($3 == 2) ? 1500 : 64
	rx[$1, $3, $2] = $5 / $6
	mb[$1, $3, $2] = $5 / $6 * frame * 8 / 1e6
	off[k] += $4; del[k] += $5; busy[k] = $7 * 1e9 / hz; soft[k] = $8 * 1e9 / hz; secs[k] = $6
	rounds[$2] = 1
}
END {
	n = 0; for (x in rounds) n++
	split("none netback netfront", modes, " ")
	printf "scenario 2, %d round(s), medians\n", n
	printf "%-9s %-9s %9s %9s\n", "mode", "vm", "Mbit/s", "kpps"
	for (m = 1; m <= 3; m++) for (v = 1; v <= 3; v++) {
		for (i = 1; i <= n; i++) { a[i] = mb[modes[m], v, i]; b[i] = rx[modes[m], v, i] / 1e3 }
		printf "%-9s dbavm-vm%d %9.1f %9.1f\n", modes[m], v, median(a, n), median(b, n)
	}
	printf "\n%-9s %12s %12s %14s %14s %14s %14s\n", "mode", "offered_kpps", "delivered_kpps",
		"total_ns/off", "driver_ns/off", "total_ns/del", "driver_ns/del"
	for (m = 1; m <= 3; m++) {
		for (i = 1; i <= n; i++) {
			k = modes[m] SUBSEP i
			c1[i] = busy[k] / off[k]; c2[i] = soft[k] / off[k]
			c3[i] = busy[k] / del[k]; c4[i] = soft[k] / del[k]
			o[i] = off[k] / secs[k] / 1e3; d[i] = del[k] / secs[k] / 1e3
		}
		T[m] = median(c1, n); D[m] = median(c2, n)
		printf "%-9s %12.1f %12.1f %14.0f %14.0f %14.0f %14.0f\n", modes[m], median(o, n), median(d, n),
			T[m], D[m], median(c3, n), median(c4, n)
	}
	printf "\nnetfront / netback, CPU per offered packet: total %.2f, driver domain %.2f (target: total <= 0.70)\n",
		T[3] / T[2], D[3] / D[2]
}' "$dir/raw"
