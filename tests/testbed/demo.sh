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
VM2 700 Mbit/s & 60 kpps, VM3 150 Mbit/s & 60 kpps. Simulated host, 5 s of traffic.
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
