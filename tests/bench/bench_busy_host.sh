#!/bin/sh
# bench_busy_host: the agent's helper threads (the store's writer, the body parser) against
# the loop's periods and against the host's other work. For each DBAVMD given (a build each,
# to compare in one run), on a simulated host of 1,000 VMs at a 10 ms period:
#   A. the loop against its own helpers: the agent pinned to CPU 0, wrk on CPU 1 saturating
#      PUT /vms/{id}/sla with 16 clients; PUTs/s and how late the periods started (the agent's
#      own dbavm_loop_lateness_seconds histogram: p99, the share within 1 ms);
#   B. the helpers against the host: two CPU-bound processes of the host's own (nice 0, one a
#      core) run for the whole part; 20 PUTs one after another (median and slowest answer),
#      then one 16 MB body (answered with a 400 once parsed), and the loop's lateness over it.
# Everything it starts is bounded in time and stopped by its PID.
# Usage: bench_busy_host.sh DBAVMD [DBAVMD...]   (BENCH_SECONDS=10 by default)
set -eu
SECONDS_EACH=${BENCH_SECONDS:-10}
VMS=1000

dir=$(mktemp -d /tmp/dbavm-bench-XXXXXX)
pid=""
hogs=""
cleanup() {
	for p in $pid $hogs; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

python3 - "$dir/scenario.json" "$VMS" <<'PY'
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
python3 -c '
import sys
sys.stdout.buffer.write(b"{\"priority\":1,\"bandwidth\":{\"min_bps\":1000,\"max_bps\":2000},\"padding\":["
    + b",".join([b"{\"a\":[1,2.5,\"x\",null,true]}"] * 560000) + b"]}")' >"$dir/big.json"
printf 's3cret\n' >"$dir/token"
chmod 600 "$dir/token"
cat >"$dir/put.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = '{"priority":' .. (n % 8) .. ',"bandwidth":{"min_bps":0,"max_bps":' ..
               (40000000 + n % 1000) .. '}}'
  return wrk.format("PUT", "/vms/vm" .. (n % 1000) .. "/sla",
                    {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer s3cret"}, body)
end
LUA

lateness() {
	curl -sf -m 10 "$url/metrics" | sed -n 's/^dbavm_loop_lateness_seconds_bucket{le="\([^"]*\)"} \(.*\)$/\1 \2/p'
}
p99_between() { # the smallest bucket bound holding 99 % of the periods; the share within 1 ms
	paste -d' ' "$1" "$2" | awk '{ le[NR] = $1; d[NR] = $4 - $2 } END {
		total = d[NR]; for (i = 1; i <= NR; i++) if (d[i] >= 0.99 * total) {
			printf "p99 <= %s s over %d periods;", le[i], total; break }
		for (i = 1; i <= NR; i++) if (le[i] == 0.001) printf " within 1 ms %.1f%%", 100 * d[i] / total }'
}
start_agent() { # DBAVMD [taskset CPU list]
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rm -rf "$dir/state"
	${2:+taskset -c "$2"} timeout 300 "$1" --platform sim --scenario "$dir/scenario.json" \
		--period 10 --log-level warn --listen "127.0.0.1:$port" --state-dir "$dir/state" \
		--token-file "$dir/token" --max-connections 256 --max-body-bytes 16777216 \
		2>"$dir/agent.log" &
	pid=$!
	url="http://127.0.0.1:$port"
	for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && return 0; sleep 0.1; done
	echo "the agent did not become ready" >&2
	cat "$dir/agent.log" >&2
	exit 1
}
stop_agent() {
	kill "$pid"
	wait "$pid" || true
	pid=""
}
put_seconds() { # one PUT of BODY-FILE to vm1: the seconds it took and its status (100: no
	# answer in 60 s, only curl's "100 Continue")
	curl -s -o /dev/null -m 60 -w '%{time_total} %{http_code}\n' -X PUT "$url/vms/vm1/sla" \
		-H 'Authorization: Bearer s3cret' -H 'Content-Type: application/json' \
		--data-binary "@$1" || true
}

for bin in "$@"; do
	echo "== $bin"
	start_agent "$bin" 0
	lateness >"$dir/l0"
	taskset -c 1 wrk -t1 -c16 -d"${SECONDS_EACH}s" --latency -s "$dir/put.lua" "$url" >"$dir/wrk"
	lateness >"$dir/l1"
	echo "A. pinned, saturating PUTs: $(awk '/Requests\/sec/ { print $2 }' "$dir/wrk") PUTs/s;" \
		"loop $(p99_between "$dir/l0" "$dir/l1")"
	stop_agent

	start_agent "$bin"
	for c in 0 1; do
		taskset -c "$c" timeout $((SECONDS_EACH * 3 + 90)) sh -c 'while :; do :; done' &
		hogs="$hogs $!"
	done
	sleep 1
	lateness >"$dir/l0"
	for i in $(seq 20); do
		printf '{"priority":1,"bandwidth":{"min_bps":%d,"max_bps":2000000}}' "$((i * 1000))" \
			>"$dir/small.json"
		put_seconds "$dir/small.json"
	done >"$dir/small.out"
	big=$(put_seconds "$dir/big.json")
	lateness >"$dir/l1"
	# shellcheck disable=SC2086 # a list of pids
	kill $hogs
	# shellcheck disable=SC2086
	wait $hogs 2>/dev/null || true
	hogs=""
	sort -g "$dir/small.out" | awk '{ t[NR] = $1; s[$2]++ } END {
		printf "B. both cores busy: 20 PUTs, median %.3f s, slowest %.3f s (statuses:", (t[10] + t[11]) / 2, t[NR]
		for (k in s) printf " %s x%d", k, s[k]; printf ")\n" }'
	echo "   the 16 MB body: status ${big#* } after ${big% *} s"
	echo "   loop $(p99_between "$dir/l0" "$dir/l1")"
	stop_agent
done
