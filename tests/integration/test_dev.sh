#!/bin/sh
# dbavmd --dev (root): the demo testbed built by the agent itself, through
# rtnetlink, and removed by it:
#   - built at start: three VMs and the sink, found by the agent, traffic enforced;
#   - removed on SIGTERM, on SIGINT, on a signal that arrives while it is being built, and on
#     a start-up error after it was built: no namespace, link or BPF program left;
#   - what a SIGKILLed agent left is removed at the next start, and said so in the log.
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed # builds the testbed (testbed/testbed.c)
dir=$(mktemp -d /tmp/dbavm-dev-XXXXXX)
agent=""
. "$(dirname "$0")/../testbed/check.sh"
cleanup() {
	[ -n "$agent" ] && kill -9 "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
	# Whatever a failed check left: the agent's own cleaner, run once more.
	"$DBAVMD" --dev --listen 127.0.0.1:1 --state-dir /nonexistent/x >/dev/null 2>&1 || true
	check_log_on_failure "$dir/agent.log" 30
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

. "$(dirname "$0")/../testbed/traffic.sh"
port=$(free_port)
api="http://127.0.0.1:$port"
printf 's3cret0123456789\n' >"$dir/token"
chmod 600 "$dir/token"

start() { # extra flags...
	"$DBAVMD" --dev --listen "127.0.0.1:$port" --state-dir "$dir/state" \
		--token-file "$dir/token" "$@" 2>>"$dir/agent.log" &
	agent=$!
}
ready() {
	for _ in $(seq 100); do
		[ "$(curl -sf "$api/vms" | jq '[.vms[] | select(.present)] | length' 2>/dev/null)" = 3 ] &&
			return 0
		sleep 0.1
	done
	return 1
}
stop() { # SIGNAL
	kill -"$1" "$agent"
	if wait "$agent"; then ok "exit status 0 on SIG$1"; else bad "exit status $? on SIG$1"; fi
	agent=""
}
nothing_left() { # WHEN
	for _ in $(seq 20); do # programs are freed after an RCU grace period
		progs=$(bpftool prog show 2>/dev/null | grep -c netfront_egress || true)
		[ "$progs" = 0 ] && break
		sleep 0.1
	done
	ns=$(ip netns list | grep -c '^dbavm-' || true)
	links=$(ip -o link | grep -c ': dbavm-' || true)
	if [ "$ns$links$progs" = 000 ]; then
		ok "$1: no namespace, link or BPF program left"
	else
		bad "$1: $ns namespaces, $links links, $progs BPF programs left"
	fi
}

echo "== a stale testbed (an agent killed with SIGKILL) is removed at the next start"
start
ready || bad "the first agent did not find its three VMs"
kill -9 "$agent"
wait "$agent" 2>/dev/null || true
agent=""
[ "$(ip netns list | grep -c '^dbavm-')" = 4 ] && ok "SIGKILL left the testbed behind" ||
	bad "expected a stale testbed after SIGKILL"
start
if ready; then ok "built again: three VMs present"; else bad "three VMs not found"; fi
grep -q "stale testbed removed" "$dir/agent.log" && ok "the stale testbed's removal logged" ||
	bad "no log line for the stale testbed"
[ "$(ip netns list | grep -c '^dbavm-')" = 4 ] && ok "four namespaces (three VMs, the sink)" ||
	bad "$(ip netns list | grep -c '^dbavm-') namespaces"
tc qdisc show dev dbavm-up0 | grep -q "htb 1:" && ok "the uplink is shaped" || bad "no shaping"

echo "== traffic on it is enforced"
api_put_sla dbavm-vm1 50000000 100000 || bad "PUT refused"
traffic_serve 1
traffic_send 1 80M 1458 3
got=$(traffic_recv_pps 1 | awk '{ printf "%.1f", $1 * 1500 * 8 / 1e6 }')
awk -v g="$got" 'BEGIN { exit !(g > 47.5 && g < 52.5) }' &&
	ok "dbavm-vm1 received at 50 Mbit/s +-5%: $got" || bad "dbavm-vm1 received $got Mbit/s"
stop TERM
nothing_left "after SIGTERM"

echo "== SIGINT"
start
ready || bad "three VMs not found"
stop INT
nothing_left "after SIGINT"

echo "== a signal while the testbed is being built"
start
# Sent once its first namespace exists: the agent is in main and building. (A fixed delay
# raced its start-up: under AddressSanitizer 50 ms can end before main, where SIGTERM's
# default action, not the agent, ends it.)
for _ in $(seq 1000); do
	ip netns list | grep -q '^dbavm-' && break
	sleep 0.005
done
stop TERM
nothing_left "after SIGTERM during start-up"

echo "== an error after the testbed was built"
: >"$dir/not-a-dir"
"$DBAVMD" --dev --listen "127.0.0.1:$port" --state-dir "$dir/not-a-dir" 2>"$dir/err.log" &&
	bad "started with a file as --state-dir" || {
	rc=$?
	[ "$rc" = 2 ] && ok "exit status 2 on a bad --state-dir" || bad "exit status $rc"
}
nothing_left "after a start-up error"
"$DBAVMD" --dev --platform sim 2>/dev/null && bad "--dev with --platform sim accepted" || {
	rc=$? # a usage error, not a crash
	[ "$rc" = 2 ] && ok "--dev with --platform sim refused (exit status 2)" ||
		bad "--dev with --platform sim: exit status $rc, want 2"
}
"$DBAVMD" --dev --uplinks eth0:1000 2>/dev/null && bad "--dev on another uplink accepted" ||
	ok "--dev with an uplink other than dbavm-up0 refused"

check_done
