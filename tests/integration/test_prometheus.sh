#!/bin/sh
# Prometheus against a live dbavmd: promtool's lint of /metrics, then a real Prometheus server
# on loopback scraping the agent, and one of our series read back through its query API.
# Everything listens on 127.0.0.1 and is stopped on exit, failure or signal.
set -eu
DBAVMD=$1
DATA=$2

dir=$(mktemp -d /tmp/dbavm-prom-XXXXXX)
agent_pid=""
prom_pid=""
cleanup() {
	[ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null || true
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

agent_port=$(free_port)
"$DBAVMD" --platform sim --scenario "$DATA/paper-scenario2.json" --period 100 \
	--listen "127.0.0.1:$agent_port" --state-dir "$dir/state" 2>"$dir/agent.log" &
agent_pid=$!
for _ in $(seq 50); do
	curl -sf "http://127.0.0.1:$agent_port/readyz" >/dev/null && break
	sleep 0.1
done

echo "== promtool check metrics"
curl -sf "http://127.0.0.1:$agent_port/metrics" >"$dir/metrics.txt"
promtool check metrics <"$dir/metrics.txt"
echo "promtool: $(wc -l <"$dir/metrics.txt") lines, no problems"

echo "== a Prometheus server scraping the agent"
prom_port=$(free_port)
cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dbavm
    static_configs:
      - targets: ["127.0.0.1:$agent_port"]
YML
promtool check config "$dir/prometheus.yml" >/dev/null
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
	--web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$dir/prom.log" &
prom_pid=$!

query='dbavm_vif_limit_packets_per_second{job="dbavm",vm="vm1",vif="vif1.0"}'
for _ in $(seq 60); do
	value=$(curl -sf --get "http://127.0.0.1:$prom_port/api/v1/query" \
		--data-urlencode "query=$query" |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null || true)
	[ -n "$value" ] && break
	sleep 0.5
done
echo "prometheus answered $query = ${value:-nothing}"
if [ "${value:-}" != "20000" ]; then
	echo "FAIL: expected 20000"
	tail -20 "$dir/prom.log"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "1 passed, 0 failed"
