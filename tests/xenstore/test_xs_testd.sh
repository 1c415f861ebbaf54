#!/bin/sh
# The test xenstore (xs_testd) against the real libxenstore client (xenstore-utils, through
# XENSTORED_PATH): a dom0's store with domUs is listed, read, written (each in a
# transaction, as xenstore-write does), removed with its subtree, watched (the registration
# event, then one per change at or under the path), and a missing node is an error.
set -eu
XS_TESTD=$1
dir=$(mktemp -d /tmp/dbavm-xs-XXXXXX)
pid=""
. "$(dirname "$0")/../testbed/check.sh"
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

cat >"$dir/store" <<'STORE'
/local/domain/0/name=Domain-0
/local/domain/3/name=vm1
/local/domain/3/vm=/vm/6f3c0b8e-1a2b-4c3d-8e9f-000000000001
/local/domain/0/backend/vif/3/0/frontend=/local/domain/3/device/vif/0
/local/domain/0/backend/vif/3/0/handle=0
/local/domain/0/backend/vif/3/0/mac=00:16:3e:00:00:03
/local/domain/0/backend/vif/3/0/bridge=xenbr0
/local/domain/0/backend/vif/3/0/state=4
STORE
export XENSTORED_PATH="$dir/socket"
"$XS_TESTD" "$XENSTORED_PATH" "$dir/store" &
pid=$!
for _ in $(seq 50); do [ -S "$XENSTORED_PATH" ] && break; sleep 0.05; done

expect "read" "$(xenstore-read /local/domain/3/name)" vm1
expect "directory" "$(xenstore-list /local/domain/0/backend/vif/3/0 | tr '\n' ' ')" \
	"frontend handle mac bridge state "
expect "a domU's tree listed" "$(xenstore-ls /local/domain/3 | wc -l)" 2
xenstore-write /local/domain/0/backend/vif/3/0/rate 18750000,1000000
expect "write, then read" "$(xenstore-read /local/domain/0/backend/vif/3/0/rate)" 18750000,1000000
xenstore-read /local/domain/3/nope 2>/dev/null && bad "a missing node was read" ||
	ok "a missing node is an error"

timeout 3 xenstore-watch -n 4 /local/domain/0/backend/vif >"$dir/events" &
w=$!
sleep 0.3
xenstore-write /local/domain/0/backend/vif/4/0/state 1
xenstore-rm /local/domain/0/backend/vif/4
wait "$w" || true
expect "watch: registration, then the changes under the path" "$(tr '\n' ' ' <"$dir/events")" \
	"/local/domain/0/backend/vif /local/domain/0/backend/vif/4 /local/domain/0/backend/vif/4/0 /local/domain/0/backend/vif/4/0/state "
xenstore-read /local/domain/0/backend/vif/4/0/state 2>/dev/null && bad "rm left the subtree" ||
	ok "rm takes the subtree"

kill "$pid"
wait "$pid" && ok "SIGTERM: exit 0" || bad "exit status $?"
pid=""
[ ! -e "$XENSTORED_PATH" ] && ok "socket removed" || bad "socket left"
check_done
