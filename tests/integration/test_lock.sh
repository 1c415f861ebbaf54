#!/bin/sh
# One agent per state directory: a second dbavmd on the directory of a running one exits 2,
# naming the first's PID, and leaves the first serving and its state as it was; the lock
# goes with the process however it ends (SIGKILL here), and the next agent starts and keeps
# what the first acknowledged. Simulated host, loopback only; every agent stopped on exit.
set -eu
DBAVMD=$1
DATA=$2

dir=$(mktemp -d /tmp/dbavm-lock-XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

failed=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	failed=$((failed + 1))
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
start() { # PORT LOG: an agent on the shared state directory, in the background ($!)
	"$DBAVMD" --platform sim --scenario "$DATA/paper-scenario2.json" --period 100 \
		--listen "127.0.0.1:$1" --state-dir "$dir/state" --token-file "$dir/token" 2>"$2" &
}
ready() { # PORT: ready within 5 s
	for _ in $(seq 50); do
		curl -sf -m 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
sla() { # PORT: vm1's max_bps as stored, or the HTTP status
	curl -s -m 2 -H 'Authorization: Bearer lock-test-token-0123456789' \
		"http://127.0.0.1:$1/vms/vm1/sla" | jq -r '.bandwidth.max_bps // empty'
}

printf 'lock-test-token-0123456789\n' >"$dir/token"
chmod 600 "$dir/token"
p1=$(free_port)
start "$p1" "$dir/a1.log"
a1=$!
pids="$a1"
ready "$p1" && ok "the first agent ready" || bad "the first agent not ready"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -X PUT "http://127.0.0.1:$p1/vms/vm1/sla" \
	-H 'Content-Type: application/json' -H 'Authorization: Bearer lock-test-token-0123456789' \
	-d '{"priority":1,"bandwidth":{"min_bps":1000000,"max_bps":7000000}}')
case $code in 200 | 201) ok "PUT vm1's SLA on the first: $code" ;; *) bad "PUT on the first: $code" ;; esac

p2=$(free_port)
start "$p2" "$dir/a2.log"
a2=$!
rc=0
wait "$a2" || rc=$?
[ "$rc" = 2 ] && ok "a second agent on the same directory exits 2" || bad "the second agent's exit status $rc, want 2"
grep -q "in use by another dbavmd, pid $a1 " "$dir/a2.log" &&
	ok "it names the first's PID: $(grep 'in use' "$dir/a2.log")" ||
	bad "no PID $a1 in its message: $(cat "$dir/a2.log")"
curl -sf -m 2 "http://127.0.0.1:$p2/readyz" >/dev/null 2>&1 &&
	bad "the second agent answers on its port" || ok "the second agent does not listen"
expect_sla() { # WHAT PORT
	got=$(sla "$2")
	[ "$got" = 7000000 ] && ok "$1: vm1's SLA 7000000" || bad "$1: vm1's SLA '$got', want 7000000"
}
expect_sla "the first still serves, its SLA as it was" "$p1"

kill -9 "$a1"
wait "$a1" 2>/dev/null || true
pids=""
p3=$(free_port)
start "$p3" "$dir/a3.log"
a3=$!
pids="$a3"
ready "$p3" && ok "after the first was killed (SIGKILL), the next agent starts: the lock went with it" ||
	bad "the next agent not ready: $(cat "$dir/a3.log")"
expect_sla "the next agent has what the first acknowledged" "$p3"
[ "$(cat "$dir/state/lock")" = "$a3" ] && ok "the lock file holds the holder's PID" ||
	bad "the lock file holds '$(cat "$dir/state/lock")', want $a3"
echo "$failed failed"
[ "$failed" -eq 0 ]
