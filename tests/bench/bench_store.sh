#!/bin/sh
# bench_store: what a PUT /vms/{id}/sla costs as the host holds more SLAs. With 100, 1,000 and
# 10,000 SLAs stored (seeded as a version-1 slas.json, which every dbavmd reads), PUTS PUTs one
# after another on one keep-alive connection: the median and p99 latency, and the bytes the
# agent wrote to storage per PUT (/proc/PID/io write_bytes). For each DBAVMD given: run it with
# the binary before a change and after it, in one run, to compare on the same machine. Then,
# for the last one, enough PUTs at 10,000 SLAs to include the store's compactions.
# The state directory is on the disk (/var/tmp), not tmpfs: the fsyncs are real.
# Usage: bench_store.sh [PUTS] DBAVMD [DBAVMD ...]
set -eu
PUTS=300
case $1 in [0-9]*) PUTS=$1; shift ;; esac

dir=$(mktemp -d /var/tmp/dbavm-bench-store-XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

printf 's3cret0123456789\n' >"$dir/token"
chmod 600 "$dir/token"
python3 - "$dir/scenario.json" <<'PY'
import json, sys
vms = [{"id": f"vm{i}", "vifs": [{"id": f"vif{i}.0", "uplink": "eth0",
        "demand": [{"t_ms": 0, "bps": 1000000, "frame_bytes": 1500}]}]} for i in range(10)]
json.dump({"uplinks": [{"name": "eth0", "capacity_bps": 10000000000}],
           "host": {"capacity_pps": 2000000}, "vms": vms}, open(sys.argv[1], "w"))
PY

# PUTS PUTs to ids the store holds (SLAS of them), one at a time; prints
# "median_ms p99_ms max_ms written_bytes_per_put".
measure() { # DBAVMD SLAS PUTS
	rm -rf "$dir/state"
	mkdir -m 700 "$dir/state"
	python3 - "$dir/state/slas.json" "$2" <<'PY'
import json, sys
json.dump({"version": 1, "slas": {f"bench{i}": {"priority": i % 8, "weight": 1}
                                  for i in range(int(sys.argv[2]))}}, open(sys.argv[1], "w"))
PY
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$1" --platform sim --scenario "$dir/scenario.json" --period 100 --log-level warn \
		--listen "127.0.0.1:$port" --state-dir "$dir/state" --token-file "$dir/token" \
		2>"$dir/agent.log" &
	pid=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
	python3 - "$port" "$2" "$3" "$pid" <<'PY'
import http.client, statistics, sys, time
port, slas, puts, pid = (int(a) for a in sys.argv[1:])
def written():
    for line in open(f"/proc/{pid}/io"):
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
hdr = {"Content-Type": "application/json", "Authorization": "Bearer s3cret0123456789"}
lat = []
w0 = written()
for k in range(puts):
    body = '{"priority": %d, "weight": %d}' % (k % 8, 1 + k % 50)
    t = time.perf_counter()
    c.request("PUT", f"/vms/bench{(k * 7919) % slas}/sla", body, hdr)
    r = c.getresponse()
    r.read()
    lat.append((time.perf_counter() - t) * 1000)
    if r.status not in (200, 201):
        sys.exit(f"PUT answered {r.status}")
w1 = written()
lat.sort()
print("%.2f %.2f %.2f %d" % (statistics.median(lat), lat[int(0.99 * (len(lat) - 1))],
                             lat[-1], (w1 - w0) // puts))
PY
	kill "$pid"
	wait "$pid" || true
	pid=""
}

echo "PUT /vms/{id}/sla one after another, $PUTS a run; the store's disk: $(df --output=fstype /var/tmp | tail -1)"
printf '%-40s %7s %10s %10s %10s %14s\n' dbavmd SLAs median_ms p99_ms max_ms bytes/PUT
for bin in "$@"; do
	for n in 100 1000 10000; do
		printf '%-40s %7s %10s %10s %10s %14s\n' "$bin" "$n" $(measure "$bin" "$n" "$PUTS")
	done
done
last=$(for bin in "$@"; do echo "$bin"; done | tail -1)
printf '%-40s %7s %10s %10s %10s %14s   (13,000 PUTs: compactions included)\n' "$last" 10000 \
	$(measure "$last" 10000 13000)
