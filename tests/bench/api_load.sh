# Sourced, not run: what the API benchmarks share (bench_api.sh, bench_busy_host.sh). Needs
# $dir (a scratch directory) and, for the readings, $url (the agent's base URL); $cacert when
# the agent speaks HTTPS.

# A simulated host of VMS VMs on four 10 Gbit/s uplinks, every VM with an SLA and a demand,
# in $dir/scenario.json; the token s3cret0123456789 in $dir/token; in $dir/put.lua, a wrk script that
# PUTs an SLA to vm0..vm999 in turn.
api_load_files() { # VMS
	python3 - "$dir/scenario.json" "$1" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
vms = [{"id": f"vm{i}",
        "sla": {"priority": i % 8, "bandwidth": {"min_bps": 0, "max_bps": 50000000}},
        "vifs": [{"id": f"vif{i}.0", "uplink": f"eth{i % 4}",
                  "demand": [{"t_ms": 0, "bps": 30000000 + 1000 * i, "frame_bytes": 1500}]}]}
       for i in range(n)]
json.dump({"uplinks": [{"name": f"eth{u}", "capacity_bps": 10000000000} for u in range(4)],
           "host": {"capacity_pps": 2000000}, "vms": vms}, open(path, "w"))
PY
	printf 's3cret0123456789\n' >"$dir/token"
	chmod 600 "$dir/token"
	cat >"$dir/put.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = '{"priority":' .. (n % 8) .. ',"bandwidth":{"min_bps":0,"max_bps":' ..
               (40000000 + n % 1000) .. '}}'
  return wrk.format("PUT", "/vms/vm" .. (n % 1000) .. "/sla",
                    {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer s3cret0123456789"}, body)
end
LUA
}

# The loop's lateness histogram's cumulative buckets, one "le count" per line.
lateness() {
	curl -sf -m 10 ${cacert:+--cacert "$cacert"} "$url/metrics" |
		sed -n 's/^dbavm_loop_lateness_seconds_bucket{le="\([^"]*\)"} \(.*\)$/\1 \2/p'
}

# p99 lateness between two readings: the smallest bucket bound holding 99 % of the periods,
# then the share of periods within 0.1, 0.25, 0.5, 1 and 2.5 ms.
p99_between() {
	paste -d' ' "$1" "$2" | awk '{ le[NR] = $1; d[NR] = $4 - $2 } END {
		total = d[NR]; for (i = 1; i <= NR; i++) if (d[i] >= 0.99 * total) {
			printf "p99 <= %s s over %d periods;", le[i], total; break }
		for (i = 1; i <= NR; i++) if (le[i] >= 0.0001 && le[i] <= 0.0025)
			printf " <=%gms %.1f%%", le[i] * 1000, 100 * d[i] / total }'
}
