#!/bin/sh
# bench_xen_ingress: what dom0's CPU pays for a packet sent to a guest on a real Xen 4.17 under
# QEMU (tests/xen/, dom0-test.sh ingress): a flood of 64-byte UDP frames at 1,000 a second from
# vm3's pktgen to vm1 (its MAC, an address not its own: vm1's kernel drops them), either let
# through netback's receive copy into vm1 or dropped before that copy by vif-police's hook on
# vm1's vif's tc egress in dom0 (vm1's ingress held to 100 packet/s); and dom0 with no flood.
# The agent (vif-police) runs in all three. Five rounds a boot; dom0's CPU by Xen's
# accounting (xl list) over 8 s of each.
# Prints every round's lines, the medians, and dom0's CPU per packet offered in each mode over
# the idle one: the copy's cost is what dropping before it saves.
#   bench_xen_ingress.sh DBAVMD
set -eu
DBAVMD=$1
xen="$(cd "$(dirname "$0")/.." && pwd)/xen/test_xen_qemu.sh"
log=$(mktemp /tmp/dbavm-xen-ingress-XXXXXX)
trap 'rm -f "$log"' EXIT
"$xen" "$DBAVMD" ingress >"$log" 2>&1 || true
grep -a '^ING ' "$log" || {
	echo "FAIL no ING lines; the run's end:"
	tail -40 "$log"
	exit 1
}
grep -a '^ING ' "$log" | awk '
function field(k,   i, n, a) { n = split($0, a, " "); for (i = 1; i <= n; i++)
	if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
function median(list,   n, a, i, j, t) { n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
{ m = field("mode"); cpu[m] = cpu[m] " " field("dom0_cpu_pct"); off[m] = off[m] " " field("offered_pps")
  gst[m] = gst[m] " " field("to_guest_pps") }
END {
	idle = median(cpu["idle"])
	printf "%-8s %12s %14s %14s %22s\n", "mode", "offered/s", "to guest/s", "dom0 CPU %", "dom0 us per packet"
	for (k = 1; k <= 3; k++) {
		m = k == 1 ? "idle" : k == 2 ? "through" : "dropped"
		o = median(off[m]); c = median(cpu[m])
		per[m] = o > 0 ? (c - idle) / 100 / o * 1e6 : 0
		printf "%-8s %12.0f %14.0f %14.2f %22s\n", m, o, median(gst[m]), c,
			(o > 0 ? sprintf("%.1f", per[m]) : "-")
	}
	if (per["through"] > 0)
		printf "BENCH xen_ingress: dom0 CPU per packet dropped before the copy %.1f us, let through to the guest %.1f us: %.2fx\n",
			per["dropped"], per["through"], per["dropped"] / per["through"]
}'
