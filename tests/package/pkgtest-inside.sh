#!/bin/sh
# Runs inside the package test's container, booted with systemd as PID 1 (a oneshot unit
# after dbavmd.service), as an operator would check a freshly installed agent: the service
# ready, the token, a PUT, the local socket, a reload, the watchdog, a stop. Writes its lines to
# /root/pkgtest.out, then powers the container off.
exec >/root/pkgtest.out 2>&1
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; }
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
api() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
wait_for() { # SECONDS COMMAND...: until it succeeds
	n=$(($1 * 5))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	"$@"
}
mainpid() { systemctl show -p MainPID --value dbavmd; }

wait_for 30 systemctl is-active -q dbavmd
check "dbavmd is active (Type=notify: ready once the API listens and a period ran)" \
	systemctl is-active -q dbavmd
check "the token was made at install, mode 600" \
	test "$(stat -c %a /etc/dbavm/token)" = 600 -a -s /etc/dbavm/token
T=$(cat /etc/dbavm/token)
SLA='{"priority": 1, "bandwidth": {"min_bps": 1000000, "max_bps": 5000000}}'
code=$(api -X PUT localhost:8470/vms/vm9/sla -H "Authorization: Bearer $T" \
	-H 'Content-Type: application/json' -d "$SLA")
check "a PUT with the token (got $code)" test "$code" = 201
code=$(api -X PUT localhost:8470/vms/vm9/sla -H "Authorization: Bearer wrong" \
	-H 'Content-Type: application/json' -d "$SLA")
check "a PUT with another token is refused (got $code)" test "$code" = 401
check "the state directory is 700" test "$(stat -c %a /var/lib/dbavm)" = 700

# The local socket, as the package sets it up: the group, the runtime directory, the modes.
check "the group dbavm was made at install" getent group dbavm
check "the API's local socket /run/dbavm/api.sock: 0666, root's, in a 0755 directory" \
	sh -c 'test -S /run/dbavm/api.sock && test "$(stat -c %a:%U /run/dbavm/api.sock)" = 666:root &&
	       test "$(stat -c %a /run/dbavm)" = 755'

# dbavmctl as installed: no flag, no token; it finds the agent's socket.
check "dbavmctl sla set, no flag, as root, with no token file to read" \
	env DBAVM_TOKEN_FILE=/nonexistent dbavmctl sla set vm8 --priority 2 --min 1M --max 5M \
	--max-pps 2k
check "dbavmctl sla get: the SLA in human units" \
	sh -c "dbavmctl sla get vm8 | grep -Eq '^vm8 +2 +1 +1M +5M +0 +2k$'"
check "dbavmctl vms lists both VMs" sh -c "dbavmctl vms | grep -q '^vm9 ' && dbavmctl vms | grep -q '^vm8 '"
check "dbavmctl host" sh -c "dbavmctl host | grep -q 'enforcer'"
nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
member() { setpriv --reuid=nobody --regid=nogroup --groups="$(getent group dbavm | cut -d: -f3)" "$@"; }
out=$(nobody dbavmctl sla rm vm8 2>&1) && rc=0 || rc=$?
check "dbavmctl as nobody: a change refused over the socket (exit $rc), 403" \
	sh -c 'test "$1" = 1 && printf "%s" "$2" | grep -q "403 uid [0-9]* may not change SLAs"' _ \
	"$rc" "$out"
check "dbavmctl as nobody: reading works" nobody dbavmctl vms
check "dbavmctl as nobody in group dbavm: a change works" \
	member dbavmctl sla set vm7 --priority 3
check "dbavmctl sla rm, as root" dbavmctl sla rm vm8

pid=$(mainpid)
systemctl reload dbavmd
check "systemctl reload: the same process, reloaded" \
	sh -c "test \"$(mainpid)\" = $pid && journalctl -u dbavmd -o cat | grep -q '^level=info reloaded'"
check "systemctl reload: the SLA kept" test "$(api localhost:8470/vms/vm9/sla)" = 200

kill -STOP "$pid"
restarted() { p=$(mainpid); [ "$p" != 0 ] && [ "$p" != "$pid" ] && systemctl is-active -q dbavmd; }
t0=$(date +%s)
wait_for 40 restarted
check "a stopped agent: the watchdog kills it, systemd restarts it ($(($(date +%s) - t0)) s)" \
	restarted
check "the journal says it was the watchdog" \
	sh -c "journalctl -u dbavmd -o cat | grep -qi 'watchdog timeout'"
wait_for 10 sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' localhost:8470/vms/vm9/sla)\" = 200"
check "after the restart the SLA is back from the state file" \
	test "$(api localhost:8470/vms/vm9/sla)" = 200

systemctl stop dbavmd
check "systemctl stop: inactive" sh -c "! systemctl is-active -q dbavmd"
check "systemctl stop: no dbavmd process left" sh -c "! pgrep -x dbavmd"
check "systemctl stop: the socket gone" sh -c "! test -e /run/dbavm/api.sock"

v=$(systemd-analyze verify /lib/systemd/system/dbavmd.service 2>&1)
check "systemd-analyze verify: nothing to say${v:+ ($v)}" test -z "$v"
echo "info $(systemd-analyze security --offline=yes /lib/systemd/system/dbavmd.service 2>&1 |
	tail -1)"
echo "DONE"
systemctl poweroff --no-block
