#!/bin/sh
# bench_api: the HTTP API under load from wrk on loopback, with 1,000 VMs on a simulated host
# and the control loop at a 10 ms period; all of it over plain HTTP, then over HTTPS
# (--tls-cert, an EC P-256 certificate made here; keep-alive, as wrk keeps its connections).
#   1. GET /metrics, one client (as Prometheus scrapes), then four at once: requests/s and
#      p99 latency (target p99 < 5 ms)
#   2. PUT /vms/{id}/sla, 16 clients: requests/s and p99 (each answered once on disk)
#   and during each, how late the loop's periods started (p99 from the agent's own
#   dbavm_loop_lateness_seconds histogram; target p99 < 1 ms).
# Usage: bench_api.sh DBAVMD [SECONDS]
set -eu
DBAVMD=$1
SECONDS_EACH=${2:-10}
VMS=1000

dir=$(mktemp -d /tmp/dbavm-bench-XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

. "$(dirname "$0")/api_load.sh"
api_load_files "$VMS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/tls.key" \
	-out "$dir/tls.pem" -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	2>/dev/null
chmod 600 "$dir/tls.key"

# wrk's requests/s, p99 and error counts from its --latency report.
summary() {
	awk '/Requests\/sec/ { rps = $2 } /^ +99%/ { p99 = $2 }
	     /Non-2xx/ { bad = $NF } /Socket errors/ { sock = $0 }
	     END { printf "%s req/s, p99 %s, non-2xx %s%s", rps, p99, bad ? bad : 0,
	           sock ? " (" sock ")" : "" }' "$1"
}

for scheme in http https; do
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tls=""
[ "$scheme" = https ] && tls="--tls-cert $dir/tls.pem --tls-key $dir/tls.key"
rm -rf "$dir/state"
# shellcheck disable=SC2086 # $tls is two flags or none
"$DBAVMD" --platform sim --scenario "$dir/scenario.json" --period 10 --log-level warn \
	--listen "127.0.0.1:$port" --state-dir "$dir/state" --token-file "$dir/token" \
	--max-connections 256 $tls 2>"$dir/agent.log" &
pid=$!
url="$scheme://127.0.0.1:$port"
cacert="$dir/tls.pem"
for _ in $(seq 100); do curl -sf --cacert "$dir/tls.pem" "$url/readyz" >/dev/null && break; sleep 0.1; done

size=$(curl -sf --cacert "$dir/tls.pem" "$url/metrics" | wc -c)
lines=$(curl -sf --cacert "$dir/tls.pem" "$url/metrics" | wc -l)
echo "== $scheme"
echo "dbavmd: $VMS VMs, period 10 ms; /metrics is $lines lines, $size bytes"
lateness >"$dir/l0"
sleep "$SECONDS_EACH"
lateness >"$dir/l1"
echo "idle               loop lateness $(p99_between "$dir/l0" "$dir/l1")"

# One scraper, as a Prometheus server is; then four at once, to saturate the loop.
wrk -t1 -c1 -d"${SECONDS_EACH}s" --latency "$url/metrics" >"$dir/wrk-metrics1"
echo "GET /metrics  x1   $(summary "$dir/wrk-metrics1")"
lateness >"$dir/l1"
wrk -t1 -c4 -d"${SECONDS_EACH}s" --latency "$url/metrics" >"$dir/wrk-metrics"
lateness >"$dir/l2"
echo "GET /metrics  x4   $(summary "$dir/wrk-metrics")"
echo "                   loop lateness $(p99_between "$dir/l1" "$dir/l2")"

wrk -t1 -c16 -d"${SECONDS_EACH}s" --latency -s "$dir/put.lua" "$url" >"$dir/wrk-put"
lateness >"$dir/l3"
echo "PUT sla      x16  $(summary "$dir/wrk-put")"
echo "                   loop lateness $(p99_between "$dir/l2" "$dir/l3")"
overruns=$(curl -sf --cacert "$dir/tls.pem" "$url/metrics" | sed -n 's/^dbavm_loop_overruns_total //p')
echo "loop overruns (whole periods missed) over the run: $overruns"
kill "$pid"
wait "$pid" || true
pid=""
done
