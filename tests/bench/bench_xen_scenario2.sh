#!/bin/sh
# bench_xen_scenario2: the paper's scenario 2 on a real Xen 4.17 under QEMU (tests/xen/,
# dom0-test.sh scenario2), scaled by 1/16: a 62.5 Mbit/s wire, a host budget of 11,875
# packet/s; vm1 and vm3 flood 64-byte frames at 3x their packet limits (1,250 and 3,750 a
# second), vm2 sends 1500-byte frames at 1.25x its 43.75 Mbit/s, each from pktgen in its domU.
# Three modes in each boot: none (nothing limits), vif-police (the hook's policer on each vif
# in dom0: dropped after netback's copy, the paper's baseline) and xen-credit (held in the
# guest by netback's credit, before the copy); each with the three VMs and with the floods
# alone; and, for the floods alone, the same packet limits set by hand with no agent in dom0
# (hand-police: tc's act_police on each vif; hand-credit: netback's rate node), to tell the
# mechanisms' cost from the agent's. Per VM: what the sink received (its own count: a tc filter a source MAC) against the
# allocation (packets a second for vm1 and vm3, bits for vm2), the agent's own figures beside
# it; per mode: dom0's CPU by Xen's accounting (xl list) and by dom0's /proc/stat, and the
# agent's own (its /proc/PID/stat).
# Medians over BOOTS boots (default 3); every boot's lines are kept in OUT (default a
# temporary file, printed at the end).
# Targets (issue 24): under xen-credit every VM within 5 % of its allocation and vm2 at least
# 95 % of its SLA; the floods alone held by the credit cost dom0 at most 0.6 of what dropping
# them in dom0 costs.
#   bench_xen_scenario2.sh DBAVMD [BOOTS [OUT]]
set -eu
DBAVMD=$1
BOOTS=${2:-3}
OUT=${3:-$(mktemp /tmp/dbavm-s2-XXXXXX)}
xen="$(cd "$(dirname "$0")/.." && pwd)/xen/test_xen_qemu.sh"
: >"$OUT"
for b in $(seq "$BOOTS"); do
	echo "boot $b of $BOOTS"
	"$xen" "$DBAVMD" scenario2 | tee /tmp/dbavm-s2-boot.log | grep -a '^S2 ' |
		sed "s/^S2 /S2 boot=$b /" >>"$OUT" || true
	grep -a 'QEMU ended\|^FAIL' /tmp/dbavm-s2-boot.log || true
done
rm -f /tmp/dbavm-s2-boot.log
echo "every boot's lines: $OUT"
cat "$OUT"
echo
# Medians across boots of each (mode, senders, vm) figure.
awk '
function field(k,   i, n, a) { n = split($0, a, " "); for (i = 1; i <= n; i++)
	if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
function median(list,   n, a, i, j, t) { n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
/^S2 / {
	key = field("mode") " " field("senders")
	if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
	if ($0 ~ / dom0 /) { cpu[key] = cpu[key] " " field("xen_cpu_pct"); stat[key] = stat[key] " " field("procstat_cpu_pct")
		acpu[key] = acpu[key] " " field("agent_cpu_pct"); next }
	vm = field("vm"); k = key " " vm
	if (vm == "vm2") { got = field("sink_mbps") * 1e6; alloc = field("alloc_bps") }
	else { got = field("sink_pps"); alloc = field("alloc_pps") }
	if (alloc + 0 > 0) ratio[k] = ratio[k] " " got / alloc
	pps[k] = pps[k] " " field("sink_pps"); mbps[k] = mbps[k] " " field("sink_mbps")
	apps[k] = apps[k] " " field("agent_pps"); off[k] = off[k] " " field("agent_offered_pps")
	pl[k] = pl[k] " " field("agent_policy_loss"); ptl[k] = ptl[k] " " field("agent_path_loss")
	dl[k] = dl[k] " " field("agent_delay_p50_s") * 1e6; aj[k] = aj[k] " " field("agent_jitter_s") * 1e6
}
END {
	printf "%-11s %-6s %-4s %9s %9s %8s | %9s %9s %7s %7s %8s %8s\n", "mode", "sender", "vm",
		"sink kpps", "sink Mb/s", "got/alloc", "agent kpps", "offered", "policy", "path", "p50 us", "jit us"
	for (o = 1; o <= nk; o++) {
		key = order[o]
		for (v = 1; v <= 3; v++) {
			k = key " vm" v
			if (!(k in pps)) continue
			split(key, kk, " ")
			printf "%-11s %-6s vm%-2d %9.3f %9.2f %8.3f | %9s %9s %7s %7s %8.0f %8.0f\n", kk[1], kk[2], v,
				median(pps[k]) / 1000, median(mbps[k]), median(ratio[k]),
				apps[k] ~ /null/ ? "null" : sprintf("%.3f", median(apps[k]) / 1000),
				off[k] ~ /null/ ? "null" : sprintf("%.3f", median(off[k]) / 1000),
				pl[k] ~ /null/ ? "null" : sprintf("%.3f", median(pl[k])),
				ptl[k] ~ /null/ ? "null" : sprintf("%.3f", median(ptl[k])),
				median(dl[k]), median(aj[k])
		}
		printf "%-11s %-6s dom0: Xen-accounted CPU %.1f %% (boots:%s), /proc/stat %.1f %%, the agent %s\n",
			kk[1], kk[2], median(cpu[key]), cpu[key], median(stat[key]),
			acpu[key] ~ /null/ ? "not running" : sprintf("%.1f %%", median(acpu[key]))
		c[key] = median(cpu[key])
	}
	if (("vif-police 1,3" in c) && c["vif-police 1,3"] > 0)
		printf "floods alone, held by the credit vs dropped in dom0 after the copy: dom0 CPU %.1f / %.1f = %.2f (target <= 0.6)\n",
			c["xen-credit 1,3"], c["vif-police 1,3"], c["xen-credit 1,3"] / c["vif-police 1,3"]
	if (("none 1,3" in c) && c["none 1,3"] > 0)
		printf "floods alone, held by the credit vs not limited: %.2f\n", c["xen-credit 1,3"] / c["none 1,3"]
	# What the floods add to an idle dom0 (the agent, no traffic): their own cost.
	if (("none " in c) && ("vif-police 1,3" in c) && c["vif-police 1,3"] > c["none "])
		printf "floods alone, above an idle dom0 (%.1f %%): held %.1f, dropped after the copy %.1f, ratio %.2f\n",
			c["none "], c["xen-credit 1,3"] - c["none "], c["vif-police 1,3"] - c["none "],
			(c["xen-credit 1,3"] - c["none "]) / (c["vif-police 1,3"] - c["none "])
	# The same limits set by hand with no agent: the two mechanisms alone.
	if (("hand-police 1,3" in c) && c["hand-police 1,3"] > 0)
		printf "floods alone, no agent, limits by hand: netback credit / act_police in dom0: %.1f / %.1f = %.2f\n",
			c["hand-credit 1,3"], c["hand-police 1,3"], c["hand-credit 1,3"] / c["hand-police 1,3"]
}' "$OUT"
