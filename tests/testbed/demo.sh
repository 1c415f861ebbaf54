#!/bin/sh
# The demo: the paper's two scenarios on dbavm's simulated host, under the three ways of
# enforcing (none, netback = tc after the copy, netfront = dbavm's hook before it), with a
# table per scenario of what each VM was sold and what it got. Installs what it needs and
# builds first; leaves nothing running.
set -eu
cd "$(dirname "$0")/../.."

./packaging/install-deps.sh >/dev/null
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/demo -j "$(nproc 2>/dev/null || echo 2)" --target dbavmd >/dev/null

cat <<'TXT'
dbavm demo: three VMs on a host with a 1 Gbit/s uplink and a budget of 190 kpps copied into
the driver domain, each VM offering 1 Gbit/s of UDP. SLAs: VM1 150 Mbit/s & 20 kpps,
VM2 700 Mbit/s & 60 kpps, VM3 150 Mbit/s & 60 kpps.

Part 1, a simulated host (5 s of traffic), the three ways of enforcing side by side:
TXT

for scenario in 1 2; do
	case $scenario in
	1) echo; echo "Scenario 1: every VM sends 1500-byte frames" ;;
	2) echo; echo "Scenario 2: VM1 and VM3 send 64-byte frames, VM2 1500-byte frames" ;;
	esac
	printf '%-9s %-4s %16s %12s %12s %10s %8s\n' enforcer vm "SLA Mbit/s,kpps" \
		"got Mbit/s" "got kpps" "drop %" "SLA met"
	for enforcer in none netback netfront; do
		build/demo/dbavmd --platform sim --enforcer "$enforcer" --log-level warn \
			--scenario "tests/data/paper-scenario$scenario.json" --ticks 50 --report json |
			jq -r --arg e "$enforcer" '
			  .vms[] |
			  .sla.bandwidth.max_bps as $sb | .sla.packet_rate.max_pps as $sp |
			  .passed.bps as $b | .passed.pps as $p | .offered.pps as $o |
			  # What the SLA lets this traffic have: the lower of its two caps, in bit/s.
			  ([$sb, $sp * .offered.bps / $o] | min) as $due |
			  # Met: at least 99 % of that, and no cap exceeded by more than 1 %.
			  (($b >= 0.99 * $due) and ($b <= 1.01 * $sb) and ($p <= 1.01 * $sp)) as $met |
			  [$e, .id, "\($sb / 1e6 | floor),\($sp / 1e3 | floor)",
			   $b / 1e6, $p / 1e3, (1 - $p / $o) * 100,
			   (if $met then "yes" else "NO" end)]
			  | @tsv' |
			awk -F'\t' '{ printf "%-9s %-4s %16s %12.2f %12.2f %10.1f %8s\n", $1, $2, $3, $4, $5, $6, $7 }'
	done
done
cat <<'TXT'

none: no enforcement; VMs share what the host lets through. netback: tc on the uplink,
after every offered packet was copied into the driver domain, so small frames exhaust the
packet budget. netfront: dbavm drops over-budget packets in the guest, before the copy.
TXT

# ---- Part 2: real traffic on network namespaces, through the eBPF hook ----
S=${SCALE:-10}
dir=$(mktemp -d /tmp/dbavm-demo-XXXXXX)
agent=""
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	tests/testbed/testbed.sh down 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
. tests/testbed/traffic.sh
port=$(free_port)
api="http://127.0.0.1:$port"

cat <<TXT

Part 2, real traffic: the testbed (namespaces dbavm-vm1..3, bridge dbavm-br0, uplink
dbavm-up0 to dbavm-sink), dbavmd with its eBPF hook on each guest's eth0, iperf3 UDP from
each VM to the sink for 8 s. Rates are the paper's divided by $S (SCALE=$S): this machine's
cores cannot source 1 Gbit/s per VM through a bridge; SCALE=1 runs the paper's own figures.
VM1 and VM3 offer 3x their allocation, VM2 1.25x.
TXT
tests/testbed/testbed.sh up 3 "$((1000 / S))mbit" 2>/dev/null
agent_start_netns build/demo/dbavmd $((1000000000 / S)) $((190000 / S)) "$port"
api_put_sla dbavm-vm1 $((150000000 / S)) $((20000 / S))
api_put_sla dbavm-vm2 $((700000000 / S)) $((60000 / S))
api_put_sla dbavm-vm3 $((150000000 / S)) $((60000 / S))

real_scenario() { # TITLE PAYLOAD1 PAYLOAD2 PAYLOAD3 RATE1 RATE2 RATE3 (iperf3 -b)
	echo
	echo "$1"
	traffic_start3 "$2" "$3" "$4" "$5" "$6" "$7" 8
	sleep 5
	curl -sf "$api/vms" >"$dir/vms.json"
	# shellcheck disable=SC2086 # a list of pids
	wait $traffic_pids
	printf '%-9s %16s %14s %13s %11s %9s %14s\n' vm "SLA Mbit/s,kpps" "offered kpps" \
		"got Mbit/s" "got kpps" "loss %" "agent Mbit/s"
	for i in 1 2 3; do
		frame=$(($(eval echo "\$$((i + 1))") + 42))
		sent=$(traffic_sent_pps "$i")
		got=$(traffic_recv_pps "$i")
		agent_bps=$(jq ".vms[] | select(.id == \"dbavm-vm$i\") | .passed.bps" "$dir/vms.json")
		sla=$(jq -r ".vms[] | select(.id == \"dbavm-vm$i\") | .sla |
			\"\\(.bandwidth.max_bps / 1e6),\\(.packet_rate.max_pps / 1e3)\"" \
			"$dir/vms.json")
		awk -v vm="dbavm-vm$i" -v sla="$sla" -v sent="$sent" -v got="$got" -v f="$frame" \
			-v ab="$agent_bps" -v s="$S" 'BEGIN {
			printf "%-9s %16s %14.2f %13.2f %11.2f %9.1f %14.2f\n", vm, sla, sent / 1e3,
			       got * f * 8 / 1e6, got / 1e3, 100 * (1 - got / sent), ab / 1e6 }'
	done
}
real_scenario "Scenario 1 (real): 1500-byte frames" 1458 1458 1458 \
	$((450 / S))M $((875 / S))M $((450 / S))M
real_scenario "Scenario 2 (real): VM1 and VM3 64-byte frames, VM2 1500-byte frames" 22 1458 22 \
	"$(awk -v s="$S" 'BEGIN { print 10560 / s }')K" $((875 / S))M \
	"$(awk -v s="$S" 'BEGIN { print 31680 / s }')K"
cat <<TXT

The hook passes each VM its allocation: at this scale 15/70/15 Mbit/s in scenario 1 and
2 kpps / 70 Mbit/s / 6 kpps in scenario 2 (x$S: the paper's 150/700/150 and 20 kpps /
700 Mbit/s / 60 kpps); everything over it is dropped in the guest, before the bridge.
TXT
