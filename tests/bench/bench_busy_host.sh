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

. "$(dirname "$0")/api_load.sh"
api_load_files "$VMS"
python3 -c '
import sys
sys.stdout.buffer.write(b"{\"priority\":1,\"bandwidth\":{\"min_bps\":1000,\"max_bps\":2000},\"padding\":["
    + b",".join([b"{\"a\":[1,2.5,\"x\",null,true]}"] * 560000) + b"]}")' >"$dir/big.json"

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
		-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
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
