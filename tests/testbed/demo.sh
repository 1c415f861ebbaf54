#!/bin/sh
# The demo: the paper's two scenarios on dbavm's simulated host and then on real traffic
# (dbavmd --dev, iperf3), under the three ways of
# enforcing (none, netback = tc after the copy, netfront = dbavm's hook before it), then what
# the VMs receive (a VM flooded from the sink beside one with an ingress guarantee), with a
# table per scenario of what each VM was sold and what it got, and the same as figures (PNG,
# gnuplot) with the data they were drawn from; and, on the simulated host in real time, each
# VM's rate second by second through a VM arriving and an SLA change. Installs what it needs
# and builds first; leaves nothing running.
#
#   DBAVM_DEMO_OUT  where the figures go (build/demo/figures)
#   DBAVM_BUILD     a build directory with dbavmd, dbavmctl and dbavm-testbed made (the tests');
#                   without it, the demo builds its own in build/demo
#   SCALE           the real traffic's rates are the paper's divided by it (10)
#   DEMO_XEN=1      a fourth part: scenario 2 on a real Xen 4.17 under QEMU (tests/xen/), under
#                   none, vif-police (dropped in dom0 after the copy) and xen-credit (held in
#                   the guest), with dom0's CPU by Xen's accounting; about 8 minutes, and
#                   5 more the first time (the Debian root it boots, kept in /var/cache/dbavm)
set -eu
cd "$(dirname "$0")/../.."

# The demo's packages; the Xen part boots a Debian root under QEMU with the Xen test's tools
# (its sink is built with the tests), as the tests do.
if [ "${DEMO_XEN:-}" = 1 ]; then
	./packaging/install-deps.sh >/dev/null
	tests=ON
	xen_targets=xen_pgsink
else
	./packaging/install-deps.sh demo >/dev/null
	tests=OFF
	xen_targets=
fi
if [ -n "${DBAVM_BUILD:-}" ]; then
	B=$DBAVM_BUILD
else
	B=build/demo
	cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=$tests >/dev/null
	cmake --build "$B" -j "$(nproc 2>/dev/null || echo 2)" --target dbavmd dbavmctl dbavm-testbed \
		$xen_targets >/dev/null
fi
OUT=${DBAVM_DEMO_OUT:-build/demo/figures}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
. tests/testbed/figures.sh

cat <<'TXT'
dbavm demo: three VMs on a host with a 1 Gbit/s uplink and a budget of 190 kpps copied into
the driver domain, each VM offering 1 Gbit/s of UDP. SLAs: VM1 150 Mbit/s & 20 kpps,
VM2 700 Mbit/s & 60 kpps, VM3 150 Mbit/s & 60 kpps.

Part 1, a simulated host (5 s of traffic), the three ways of enforcing side by side:
TXT

for scenario in 1 2; do
	case $scenario in
	1) title="every VM sends 1500-byte frames" ;;
	2) title="VM1 and VM3 send 64-byte frames, VM2 1500-byte frames" ;;
	esac
	echo
	echo "Scenario $scenario: $title"
	printf '%-9s %-4s %16s %12s %12s %10s %8s\n' enforcer vm "SLA Mbit/s,kpps" \
		"got Mbit/s" "got kpps" "drop %" "SLA met"
	: >"$OUT/sim-scenario$scenario.rows"
	for enforcer in none netback netfront; do
		"$B/dbavmd" --platform sim --enforcer "$enforcer" --log-level warn \
			--scenario "tests/support/data/paper-scenario$scenario.json" --ticks 50 --report json |
			jq -r --arg e "$enforcer" '
			  .vms[] |
			  .sla.bandwidth.max_bps as $sb | .sla.packet_rate.max_pps as $sp |
			  .passed.bps as $b | .passed.pps as $p | .offered.pps as $o |
			  # What the SLA lets this traffic have: the lower of its two caps, in bit/s
			  # and in packets/s at the frames it sends.
			  ([$sb, $sp * .offered.bps / $o] | min) as $due |
			  # Met: at least 99 % of that, and no cap exceeded by more than 1 %.
			  (($b >= 0.99 * $due) and ($b <= 1.01 * $sb) and ($p <= 1.01 * $sp)) as $met |
			  [$e, .id, "\($sb / 1e6 | floor),\($sp / 1e3 | floor)",
			   $b / 1e6, $p / 1e3, (1 - $p / $o) * 100,
			   (if $met then "yes" else "NO" end), $due / 1e6, $due * $o / .offered.bps / 1e3]
			  | @tsv' |
			# The table, and the rows the figure is drawn from: the same figures.
			awk -F'\t' -v rows="$OUT/sim-scenario$scenario.rows" '{
				m = sprintf("%.2f", $4); k = sprintf("%.2f", $5)
				printf "%-9s %-4s %16s %12s %12s %10.1f %8s\n", $1, $2, $3, m, k, $6, $7
				printf "%s %s %.2f %.2f %s %s\n", $1, $2, $8, $9, m, k >>rows
			}'
	done
	bars_data "$OUT/sim-scenario$scenario.rows" >"$OUT/sim-scenario$scenario.dat"
	bars_plot "$OUT/sim-scenario$scenario.dat" "$OUT/sim-scenario$scenario.png" \
		"Scenario $scenario, simulated host: $title" 0
done
cat <<'TXT'

none: no enforcement; VMs share what the host lets through. netback: tc on the uplink,
after every offered packet was copied into the driver domain, so small frames exhaust the
packet budget. netfront: dbavm drops over-budget packets in the guest, before the copy.
TXT

# ---- Parts 2 and 3: an agent at a time, on its API ----
S=${SCALE:-10}
dir=$(mktemp -d /tmp/dbavm-demo-XXXXXX)
TESTBED=$B/dbavm-testbed
agent=""
stop_agent() { # the agent removes its testbed when it stops
	ip netns pids dbavm-sink 2>/dev/null | xargs -r kill 2>/dev/null || true
	[ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
	agent=""
}
cleanup() {
	stop_agent
	"$TESTBED" down 2>/dev/null || true # had it been killed outright
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
. tests/testbed/traffic.sh
port=$(free_port)
api="http://127.0.0.1:$port"
printf 's3cret0123456789\n' >"$dir/token"
chmod 600 "$dir/token"

# ---- Part 2: the simulated host in real time, through a VM arriving and an SLA change ----
cat <<'TXT'

Part 2, the simulated host in real time for 32 s (tests/support/data/demo-timeline.json): vm1
(150-300 Mbit/s) and vm2 (300 Mbit/s-1 Gbit/s) offer 1 Gbit/s each; vm3 (400 Mbit/s-1
Gbit/s) arrives at 10 s; at 20 s vm1's SLA is raised to 300-600 Mbit/s with dbavmctl. Each
VM's rate, second by second, from GET /vms/{id}/stats:
TXT
"$B/dbavmd" --platform sim --scenario tests/support/data/demo-timeline.json --listen "127.0.0.1:$port" \
	--state-dir "$dir/timeline-state" --token-file "$dir/token" 2>>"$dir/agent.log" &
agent=$!
tick() { curl -sf "$api/host" | jq '.tick * .period_ms / 1000' 2>/dev/null || echo 0; }
until_s() { # agent time, in seconds
	for _ in $(seq 400); do
		[ "$(tick | awk -v t="$1" '{ print ($1 >= t) }')" = 1 ] && return 0
		sleep 0.1
	done
	echo "the simulated host did not reach ${1} s; its log:" >&2
	tail -20 "$dir/agent.log" >&2
	exit 1
}
until_s 20
"$B/dbavmctl" --url "$api" --token-file "$dir/token" sla set vm1 --min 300M --max 600M >/dev/null
changed=$(tick)
until_s 32
for vm in vm1 vm2 vm3; do
	curl -sf "$api/vms/$vm/stats" |
		jq -r --arg vm "$vm" '.periods[] | [.t_ms / 1000, .passed.bps / 1e6] | @tsv' \
			>"$dir/timeline-$vm"
done
stop_agent
printf '10 vm3 arrives\n%s vm1: SLA raised\n' "$changed" >"$OUT/timeline-events"
# A block per VM (gnuplot's index), its name first: t_s and Mbit/s, a line a second from its
# arrival; blocks apart by two blank lines.
for vm in vm1 vm2 vm3; do
	printf '# %s\n' "$vm"
	awk '{ printf "%s %.1f\n", $1, $2 }' "$dir/timeline-$vm"
	printf '\n\n'
done >"$OUT/timeline.dat"
printf '%-28s %10s %10s %10s\n' "Mbit/s sent, mean" vm1 vm2 vm3
awk -v c="$changed" '/^# vm/ { j++; next } NF == 2 {
	p = $1 <= 10 ? 1 : $1 <= c ? 2 : 3
	# the two seconds after each event are the step itself: not in the means
	if (($1 > 10 && $1 <= 12) || ($1 > c && $1 <= c + 2)) next
	sum[p, j] += $2; n[p, j]++
}
END {
	split("before vm3 arrives (0-10 s)|vm3 on the host|after vm1'"'"'s SLA change", name, "|")
	for (p = 1; p <= 3; p++) {
		line = sprintf("%-28s", name[p])
		for (j = 1; j <= 3; j++)
			line = line sprintf(" %10s", n[p, j] ? sprintf("%.1f", sum[p, j] / n[p, j]) : "-")
		print line
	}
}' "$OUT/timeline.dat"
timeline_plot "$OUT/timeline.dat" "$OUT/timeline-events" "$OUT/timeline.png" \
	"The simulated host in real time: vm3 arrives, then vm1's SLA is raised"

cat <<TXT

Part 3, real traffic: \`dbavmd --dev\` builds the testbed (namespaces dbavm-vm1..3, bridge
dbavm-br0, uplink dbavm-up0 to dbavm-sink) and runs on it; the SLAs go in with curl; iperf3
sends UDP from each VM to the sink for 8 s, under each enforcer in turn. Rates are the
paper's divided by $S (SCALE=$S): this machine's cores cannot source 1 Gbit/s per VM through
a bridge; SCALE=1 runs the paper's own figures. VM1 and VM3 offer 3x their allocation, VM2
1.25x. Figures are at the sink, scaled back up by $S to the paper's.
TXT

start_dev() { # ENFORCER
	"$B/dbavmd" --dev --enforcer "$1" --uplinks "dbavm-up0:$((1000000000 / S))" \
		--host-pps $((190000 / S)) --listen "127.0.0.1:$port" --state-dir "$dir/state" \
		--token-file "$dir/token" 2>>"$dir/agent.log" &
	agent=$!
	for _ in $(seq 100); do
		[ "$(curl -sf "$api/vms" | jq '[.vms[] | select(.present)] | length' 2>/dev/null)" = 3 ] &&
			return 0
		sleep 0.1
	done
	echo "dbavmd --dev did not come up; its log:" >&2
	tail -20 "$dir/agent.log" >&2
	exit 1
}

real_scenario() { # ENFORCER SCENARIO PAYLOAD1 PAYLOAD2 PAYLOAD3 RATE1 RATE2 RATE3
	traffic_start3 "$3" "$4" "$5" "$6" "$7" "$8" 8
	# shellcheck disable=SC2086 # a list of pids
	wait $traffic_pids
	for i in 1 2 3; do
		eval "payload=\$$((i + 2))"
		printf '%s %s %s %s %s\n' "$1" "$i" "$((payload + 42))" "$(traffic_sent_pps "$i")" \
			"$(traffic_recv_pps "$i")" >>"$dir/rows$2"
	done
}

# Scenario 3: TCP, four flows per VM, all three at once for 6 s; the goodput each received.
tcp_scenario() { # ENFORCER
	for i in 1 2 3; do
		ip netns exec dbavm-sink timeout 20 iperf3 -s -1 -p "53$i" >/dev/null 2>&1 &
	done
	sink_listening 531 532 533 || true
	pids=""
	for i in 1 2 3; do
		ip netns exec "dbavm-vm$i" timeout 16 iperf3 -c 198.18.0.254 -p "53$i" -t 6 -P 4 -J \
			>"$dir/tcp$i.json" 2>/dev/null &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086 # a list of pids (not the agent's)
	wait $pids
	for i in 1 2 3; do
		printf '%s %s %s\n' "$1" "$i" \
			"$(jq '.end.sum_received.bits_per_second // 0' "$dir/tcp$i.json")" >>"$dir/rows3"
	done
}

# Scenario 4: what the VMs receive. The uplink's receive side is a pool of its own (1 Gbit/s
# at the paper's scale); vm2 is sold 600 Mbit/s of it (ingress class 0, min = max) and
# receives TCP paced at 750 Mbit/s; vm1, with no SLA, is flooded with 1.5 Gbit/s of UDP from
# the sink at the same time; 8 s of flood, 6 of TCP inside it. Only an enforcer that holds
# ingress can take the SLA (netfront, on the host end of each veth, before the copy into the
# guest); under none nothing holds it. Rows: enforcer vm frames_offered_bps
# frames_received_bps lost_percent, at 1/S.
ingress_scenario() { # ENFORCER
	if [ "$1" = netfront ]; then
		code=$(curl -s -o "$dir/put.json" -w '%{http_code}' -X PUT "$api/vms/dbavm-vm2/sla" \
			-H "Authorization: Bearer $(cat "$dir/token")" -H 'Content-Type: application/json' \
			-d "{\"ingress\":{\"priority\":0,\"bandwidth\":{\"min_bps\":$((600000000 / S)),\"max_bps\":$((600000000 / S))}}}")
		case $code in
		200 | 201) ;;
		*)
			echo "PUT vm2's ingress SLA: $code $(cat "$dir/put.json")" >&2
			exit 1
			;;
		esac
		sleep 0.5 # a few periods: the SLA in force
		dropped0=$(ingress_dropped)
	fi
	udp_to 1 $((1500 / S))M 1400 8 &
	flood=$!
	sleep 1
	tcp_to 2 6 1 $((750 / S))M
	wait "$flood" || true
	if [ "$1" = netfront ]; then
		dropped1=$(ingress_dropped)
		lost_nf=$(jq -e '.end.sum.lost_packets' "$dir/in_udp1.json" || echo "no figure")
	fi
	off1=$(jq -e '.end.sum.packets / .end.sum.seconds * 1442 * 8' "$dir/in_udp1.json" || true)
	lost1=$(jq -e '.end.sum.lost_percent' "$dir/in_udp1.json" || true)
	got1=$(udp_frames_median 1 1400)
	got2=$(tcp_frames "$dir/in_tcp2.json")
	if [ -z "$off1" ] || [ -z "$lost1" ] || [ -z "$got1" ] || [ -z "$got2" ]; then
		echo "scenario 4 under $1: iperf3 gave no figure (vm1's flood: '$got1', vm2's TCP: '$got2')" >&2
		exit 1
	fi
	printf '%s 1 %s %s %s\n' "$1" "$off1" "$got1" "$lost1" >>"$dir/rows4"
	printf '%s 2 %s %s -\n' "$1" $((750000000 * 1514 / 1448 / S)) "$got2" >>"$dir/rows4"
}
dropped0="" dropped1="" lost_nf=""
# The packets of vm1's flood the agent dropped on the host end of its vif, so far.
ingress_dropped() {
	curl -sf "$api/metrics" |
		sed -n 's/^dbavm_vif_dropped_packets_total{vm="dbavm-vm1",vif="dbavm-vif1",direction="ingress"} //p'
}

for enforcer in none netback netfront; do
	start_dev "$enforcer"
	api_put_sla dbavm-vm1 $((150000000 / S)) $((20000 / S))
	api_put_sla dbavm-vm2 $((700000000 / S)) $((60000 / S))
	api_put_sla dbavm-vm3 $((150000000 / S)) $((60000 / S))
	real_scenario "$enforcer" 1 1458 1458 1458 $((450 / S))M $((875 / S))M $((450 / S))M
	real_scenario "$enforcer" 2 22 1458 22 "$(awk -v s="$S" 'BEGIN { print 10560 / s }')K" \
		$((875 / S))M "$(awk -v s="$S" 'BEGIN { print 31680 / s }')K"
	tcp_scenario "$enforcer"
	[ "$enforcer" = netback ] || ingress_scenario "$enforcer"
	stop_agent
done

for scenario in 1 2; do
	case $scenario in
	1) title="every VM sends 1500-byte frames" ;;
	2) title="VM1 and VM3 send 64-byte frames, VM2 1500-byte frames" ;;
	esac
	echo
	echo "Scenario $scenario (real): $title"
	printf '%-9s %-4s %16s %12s %12s %10s %8s\n' enforcer vm "SLA Mbit/s,kpps" \
		"got Mbit/s" "got kpps" "loss %" "SLA met"
	# rows: enforcer vm frame_bytes sent_pps received_pps (at 1/S)
	awk -v s="$S" -v rows="$OUT/real-scenario$scenario.rows" '
	BEGIN { split("150 700 150", mb, " "); split("20 60 60", kp, " ") }
	{
		mbps = $5 * $3 * 8 / 1e6 * s; kpps = $5 / 1e3 * s; offered = $4 * $3 * 8 / 1e6 * s
		# What the SLA lets this traffic have, in Mbit/s: the lower cap, at most what was
		# offered. Met: at least 95 % of it, and neither cap exceeded by more than 5 %.
		due = mb[$2]; if (kp[$2] * $3 * 8 / 1e3 < due) due = kp[$2] * $3 * 8 / 1e3
		if (offered < due) due = offered
		met = (mbps >= 0.95 * due && mbps <= 1.05 * mb[$2] && kpps <= 1.05 * kp[$2]) ? "yes" : "NO"
		m = sprintf("%.1f", mbps); k = sprintf("%.1f", kpps)
		printf "%-9s vm%-2s %16s %12s %12s %10.1f %8s\n", $1, $2, mb[$2] "," kp[$2], m, k,
		       100 * (1 - $5 / $4), met
		printf "%s vm%s %.1f %.1f %s %s\n", $1, $2, due, due * 1e3 / ($3 * 8), m, k >rows
	}' "$dir/rows$scenario"
	bars_data "$OUT/real-scenario$scenario.rows" >"$OUT/real-scenario$scenario.dat"
	bars_plot "$OUT/real-scenario$scenario.dat" "$OUT/real-scenario$scenario.png" \
		"Scenario $scenario, real traffic (dbavmd --dev, iperf3 UDP): $title" 0
done
echo
echo "Scenario 3 (real): TCP, four flows per VM, scenario 1's SLAs"
printf '%-9s %-4s %16s %12s %16s %8s\n' enforcer vm "SLA Mbit/s" "goodput" "of allocation" \
	"SLA met"
# Goodput is TCP payload: 1448 of every 1514 bytes of a full frame, so 95.6 % of an
# allocation counted in frames is all a flow can show. Met: 95 % of that at least.
awk -v s="$S" -v rows="$OUT/real-tcp.rows" 'BEGIN { split("150 700 150", mb, " ") }
{
	got = sprintf("%.1f", $3 / 1e6 * s); share = got / mb[$2]
	printf "%-9s vm%-2s %16s %12s %15.1f%% %8s\n", $1, $2, mb[$2], got, 100 * share,
	       (share >= 0.95 * 0.956 && share <= 1.0) ? "yes" : "NO"
	printf "%s vm%s %s - %s -\n", $1, $2, mb[$2], got >rows
}' "$dir/rows3"
bars_data "$OUT/real-tcp.rows" >"$OUT/real-tcp.dat"
bars_plot "$OUT/real-tcp.dat" "$OUT/real-tcp.png" "TCP goodput, four flows per VM (real)" 1
echo
echo "Scenario 4 (real): what the VMs receive, the uplink's receive side of 1 Gbit/s"
printf '%-9s %-4s %16s %12s %12s %10s %8s\n' enforcer vm "allowed Mbit/s" got offered \
	"dropped %" held
# What the pool lets each have: vm2 its 600; vm1 what is left of 1000. Held: vm2 got at
# least 95 % of its guarantee; vm1 no more than 5 % over what is left to it.
awk -v s="$S" -v rows="$OUT/real-ingress.rows" 'BEGIN { due[1] = 400; due[2] = 600 }
{
	off = $3 / 1e6 * s; got = $4 / 1e6 * s
	held = ($2 == 2) ? (got >= 0.95 * due[2]) : (got <= 1.05 * due[1])
	printf "%-9s vm%-2s %16s %12.1f %12.1f %10s %8s\n", $1, $2, due[$2], got, off,
	       ($5 == "-" ? "-" : sprintf("%.1f", $5)), held ? "yes" : "NO"
	printf "%s vm%s %s - %.1f -\n", $1, $2, due[$2], got >rows
}' "$dir/rows4"
bars_data "$OUT/real-ingress.rows" >"$OUT/real-ingress.dat"
ingress_drops=$(awk -v a="$dropped0" -v b="$dropped1" 'BEGIN {
	if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) print b - a " packets"
	else print "(no count: the agent did not show the series)" }')
BAR_TITLES="none||netfront" bars_plot "$OUT/real-ingress.dat" "$OUT/real-ingress.png" \
	"What each VM received: vm1 flooded, vm2 guaranteed 600 Mbit/s (real)" 1
cat <<TXT

none: nothing limits the VMs; the uplink's one queue shares by offered load, so the SLAs do
not hold (VM2 usually misses its 700 Mbit/s). netback: HTB on the uplink holds the Mbit/s,
after the copy, and has no packet-rate limit: VM1's and VM3's small frames pass over their
kpps caps. netfront: dbavm holds each VM in the guest, before the bridge: its eBPF hook drops
the UDP that is over budget, and a shaper at the guest end makes TCP senders wait, which TCP
lives with where it would stall on drops; every VM gets its allocation.

In scenario 4, vm2 is sold 600 Mbit/s of what the uplink receives and gets TCP paced at 750;
vm1 (no SLA) is flooded with 1.5 Gbit/s of UDP at the same time. none: every packet of the
flood is copied into vm1, more than the whole receive side was sold for. netfront holds
ingress on the host end of each veth: it dropped $ingress_drops of vm1's flood there, before
the copy into the guest (iperf3 counted $lost_nf lost), and held vm1 to the 400 Mbit/s left
to it, while vm2 received its guarantee. (netback cannot hold ingress: it refuses the SLA.)

Figures (PNG, gnuplot) and the data they were drawn from (.dat, .rows), in $OUT:
$(cd "$OUT" && ls -- *.png | sed 's/^/  /')
TXT

# ---- Part 4 (DEMO_XEN=1): scenario 2 on a real Xen hypervisor ----
[ "${DEMO_XEN:-0}" = 1 ] || exit 0
cat <<'TXT'

Part 4, scenario 2 on a real Xen 4.17 (under QEMU, no host network), scaled by 1/16: a
62.5 Mbit/s wire, a host budget of 11,875 packet/s; VM1 and VM3 flood 64-byte frames at 3x
their packet limits (1,250 and 3,750 a second), VM2 sends 1500-byte frames at 1.25x its
43.75 Mbit/s, each from pktgen in its domU. What the sink received of each, against the
allocation, and dom0's CPU by Xen's own accounting (xl list):
TXT
xen_lines=$dir/xen-s2
tests/xen/test_xen_qemu.sh "$B/dbavmd" scenario2 "$B/xen_pgsink" | grep -a '^S2 ' >"$xen_lines" ||
	true
[ -s "$xen_lines" ] || {
	echo "the Xen run gave no figures (tests/xen/test_xen_qemu.sh scenario2 says why)"
	exit 1
}
printf '%-11s %-6s %-4s %14s %14s %10s %10s\n' mode sent vm "allocation" "got" "got/alloc" \
	"dom0 CPU"
: >"$OUT/xen-scenario2.rows"
awk -v rows="$OUT/xen-scenario2.rows" '
function f(k,   i, n, a) { n = split($0, a, " "); for (i = 1; i <= n; i++)
	if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
/ dom0 / { cpu[f("mode") " " f("senders")] = f("xen_cpu_pct"); next }
{ line[++n] = $0 }
END {
	for (i = 1; i <= n; i++) {
		$0 = line[i]; m = f("mode"); s = f("senders"); v = f("vm")
		if (index("," s ",", "," substr(v, 3) ",") == 0) continue
		if (v == "vm2") { a = f("alloc_bps") / 1e6; g = f("sink_mbps"); u = "Mbit/s" }
		else { a = f("alloc_pps") / 1e3; g = f("sink_pps") / 1e3; u = "kpps" }
		printf "%-11s %-6s %-4s %7.2f %-6s %7.2f %-6s %10.2f %9s%%\n", m, s, v, a, u, g, u,
			(a > 0 ? g / a : 0), cpu[m " " s]
		# The figure: what the allocation lets this traffic have, in both units (64-byte
		# frames for VM1 and VM3, 1500-byte for VM2), and what it got.
		if (s == "1,2,3")
			printf "%s %s %.3f %.3f %.3f %.3f\n", m, v,
				v == "vm2" ? a : a * 1e3 * 64 * 8 / 1e6,
				v == "vm2" ? a * 1e6 / 1500 / 8 / 1e3 : a, f("sink_mbps"),
				f("sink_pps") / 1e3 >>rows
	}
}' "$xen_lines"
sed -e 's/^vif-police /netback /' -e 's/^xen-credit /netfront /' "$OUT/xen-scenario2.rows" |
	bars_data /dev/stdin >"$OUT/xen-scenario2.dat"
BAR_TITLES="none|vif-police (dropped in dom0)|xen-credit (held in the guest)" \
	bars_plot "$OUT/xen-scenario2.dat" "$OUT/xen-scenario2.png" \
	"Scenario 2 on a real Xen 4.17 (1/16 scale): what each VM got" 0
cat <<TXT

none: dom0 copies every packet the floods offer. vif-police: dom0 copies them, then drops
what is over each VM's limits. xen-credit: netback takes no more than the credit from each
guest's ring, so what is over the limit never costs dom0 a copy. Figure:
$OUT/xen-scenario2.png
TXT


# ---- Part 4, its ingress part: scenario 4 on the same Xen, 1/16 of the testbed's scale ----
cat <<'TXT'

Part 4, what the VMs receive on Xen (scenario 4 at 1/16 of the testbed's scale): dom0's
uplink receives 6 Mbit/s; vm2 is sold 3.5 of it and receives TCP, vm1 (no SLA) is flooded
from the sink with 5 Mbit/s of UDP at the same time. Under none, and under vif-police, which
holds what each VM receives on its vif in dom0, before netback's copy into the guest. What
dom0 handed each over the same 3 s (netback's counts), and dom0's CPU (xl list):
TXT
din=$dir/xen-din
tests/xen/test_xen_qemu.sh "$B/dbavmd" demoin "$B/xen_pgsink" | grep -a '^DIN ' >"$din" || true
[ "$(wc -l <"$din")" = 2 ] || {
	echo "the Xen run gave no figures (tests/xen/test_xen_qemu.sh demoin says why)"
	exit 1
}
printf '%-11s %-4s %16s %12s %14s %10s %6s\n' mode vm "allowed Mbit/s" got "dropped (pkts)" \
	"dom0 CPU" held
# What the pool lets each have: vm2 its 3.5; vm1 what is left of 6. Held as in part 3: vm2 at
# least 95 % of its guarantee, vm1 no more than 5 % over what is left to it.
: >"$OUT/xen-ingress.rows"
awk -v rows="$OUT/xen-ingress.rows" '
function f(k,   i, n, a) { n = split($0, a, " "); for (i = 1; i <= n; i++)
	if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
BEGIN { due[1] = 2.5; due[2] = 3.5 }
{
	m = f("mode")
	for (v = 1; v <= 2; v++) {
		got = f("vm" v "_mbps") + 0
		held = (v == 2) ? (got >= 0.95 * due[2]) : (got <= 1.05 * due[1])
		printf "%-11s vm%-2s %16s %12s %14s %9s%% %6s\n", m, v, due[v], got,
		       v == 1 ? f("vm1_dropped") : "-", f("xen_cpu_pct"), held ? "yes" : "NO"
		printf "%s vm%s %s - %s -\n", m == "vif-police" ? "netfront" : m, v, due[v], got >>rows
	}
}' "$din"
bars_data "$OUT/xen-ingress.rows" >"$OUT/xen-ingress.dat"
BAR_TITLES="none||vif-police (before the copy)" bars_plot "$OUT/xen-ingress.dat" \
	"$OUT/xen-ingress.png" "What each VM received on Xen: vm1 flooded, vm2 guaranteed 3.5 Mbit/s" 1
cat <<TXT

none: every packet of the flood is copied into vm1. vif-police drops what is over vm1's share
on its vif in dom0, before netback's copy, and vm2 receives its guarantee. Figure:
$OUT/xen-ingress.png
TXT
