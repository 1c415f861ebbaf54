#!/bin/sh
# Names from the platform are data (root, real namespaces on the testbed of testbed/testbed.h).
# Beside a VM named plainly, namespaces a careless operator or a hostile neighbour could make,
# each with a vif on the testbed's bridge:
#   - two names of 67 bytes alike in their first 63 (cut to 63, they would be one VM);
#   - a name that is not UTF-8 (a 0xff byte);
#   - a name holding a newline and a forged log line after it;
#   - a name holding an escape sequence that retitles a terminal (ESC ] 0 ; ... BEL);
# and two that are names like any other: one with a space, a quote and an e-acute, one with a
# space and a forged logfmt field after it.
# Checks: each is refused, once in the log at warn (not at every scan), and counted
# (GET /host refused_vms, dbavm_vms_refused, /readyz, still 200); the plain VMs are found
# and their vifs stay attached (no release, no flap over 3 s); GET /vms answers 200 with only
# them; the oddly but validly named one gets an SLA by its percent-encoded name (curl, dbavmctl);
# promtool finds /metrics clean; no line of the log is a forged one, none holds an ESC or a
# byte that is not UTF-8, and read as logfmt every line has one level, first, and the names
# are the vm fields' quoted values; dbavmctl's vms and host print no control character.
set -eu
DBAVMD=$1
TESTBED=$(dirname "$DBAVMD")/dbavm-testbed
CTL=$(dirname "$DBAVMD")/dbavmctl
TOP=$2

. "$TOP/tests/testbed/check.sh"
. "$TOP/tests/testbed/traffic.sh"
test_start names 40

port=$(free_port)
api="http://127.0.0.1:$port"
"$TESTBED" up 1 100mbit

long=dbavm-$(printf 'p%.0s' $(seq 57))
nl=$(printf 'dbavm-nl\nlevel=error msg=FORGED-LOG-LINE')
esc=$(printf 'dbavm-esc\033]0;PWNED\007')
bad=$(printf 'dbavm-bad\377')
odd=$(printf 'dbavm-web "srv" \303\251')
odd_enc='dbavm-web%20%22srv%22%20%C3%A9'
field='dbavm-sp level=error msg=FORGED-FIELD'
i=0
for name in "${long}aaaa" "${long}bbbb" "$bad" "$nl" "$esc" "$odd" "$field"; do
	i=$((i + 1))
	ip netns add "$name"
	ip link add "dbavm-odd$i" type veth peer name eth0 netns "$name"
	ip link set "dbavm-odd$i" master dbavm-br0 up
	ip -n "$name" link set eth0 up
done
expect "seven odd namespaces made" "$(ls /run/netns | grep -c '^dbavm-\(p\|bad\|nl\|esc\|web\|sp\)')" 7

agent_start_netns "$DBAVMD" 100000000 19000 "$port" || bad "the agent did not become ready"
sleep 1
expect "GET /vms answers 200" "$(curl -s -o /dev/null -w '%{http_code}' "$api/vms")" 200
expect "GET /vms: only the plain VMs, present with their vifs" \
	"$(curl -sf "$api/vms" | jq -c '[.vms[] | select(.present) | [.id, (.vifs | length)]] | sort')" \
	"$(jq -cn --arg o "$odd" --arg f "$field" '[[$o, 1], [$f, 1], ["dbavm-vm1", 1]] | sort')"
expect "PUT an SLA by the percent-encoded name" "$(api_put_sla "$odd_enc" 5000000 1000; curl -s \
	-o /dev/null -w '%{http_code}' "$api/vms/$odd_enc/sla")" 200
# (applied at the next period: a sanitizer build's may come a few hundred ms later)
for _ in $(seq 50); do
	lim=$(curl -sf "$api/vms/$odd_enc" | jq .vifs[0].limit.bps)
	[ "$lim" = 5000000 ] && break
	sleep 0.1
done
expect "GET /vms/{name}: its limit, within 5 s" "$lim" 5000000
expect "dbavmctl sla get by the name as it is" \
	"$("$CTL" --url "$api" --json sla get "$odd" | jq .bandwidth.max_bps)" 5000000
expect "GET /host: five refused, and why" \
	"$(curl -sf "$api/host" | jq -c '[.refused_vms[].why] | group_by(.) | map([.[0], length])')" \
	'[["a name longer than 63 bytes",2],["a name that is not UTF-8",1],["a name with a control character",2]]'
expect "GET /host: names shown whole, \\xNN for what is not printable" \
	"$(curl -sf "$api/host" | jq -r '.refused_vms[].name' | grep -c 'dbavm-nl\\x0alevel=error\|dbavm-bad\\xff\|dbavm-esc\\x1b]0;PWNED\\x07\|bbbb$')" 4
expect "/readyz: ready, five refused" "$(curl -s -w ' %{http_code}' "$api/readyz" | tr -d ' \n')" \
	'{"status":"ready","refused_vms":5,"notes":[]}200'
expect "dbavm_vms_refused" "$(curl -sf "$api/metrics" | sed -n 's/^dbavm_vms_refused //p')" 5
curl -sf "$api/metrics" >"$dir/metrics"
promtool check metrics <"$dir/metrics" >"$dir/promtool" 2>&1 && ok "promtool: /metrics clean" ||
	bad "promtool: $(head -3 "$dir/promtool")"

# Three seconds more (thirty scans' chances): nothing flaps, nothing is said again.
sleep 3
expect "the plain VMs' vifs never released" "$(grep -c 'vif released' "$dir/agent.log" || true)" 0
expect "each refusal said once" "$(grep -c 'vm refused, not limited' "$dir/agent.log" || true)" 5
expect "no forged line in the log" "$(grep -c '^level=error msg=FORGED' "$dir/agent.log" || true)" 0
expect "no ESC, BEL or byte that is not UTF-8 in the log" \
	"$(LC_ALL=C grep -c "$(printf '[\033\007\377]')" "$dir/agent.log" || true)" 0
python3 - "$dir/agent.log" "$odd" "$field" >"$dir/logfmt" 2>&1 <<'PY' && ok "logfmt: one level per line, first; the names quoted whole" || bad "logfmt: $(head -3 "$dir/logfmt")"
import re, sys
path, odd, field = sys.argv[1:4]
token = re.compile(r'\s*(?:([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)|"(?:[^"\\]|\\.)*"|[^\s]+)')
vms, bad = set(), []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    line, pos, keys = line.rstrip("\n"), 0, []
    while pos < len(line):
        m = token.match(line, pos)
        if not m or m.end() == pos:
            bad.append(f"line {n}: unreadable at {pos}: {line!r}")
            break
        if m.group(1):
            keys.append(m.group(1))
            v = m.group(2)
            if m.group(1) == "vm" and v.startswith('"'):
                vms.add(re.sub(r'\\(.)', r'\1', v[1:-1]))
        pos = m.end()
    if keys.count("level") != 1 or keys[0] != "level":
        bad.append(f"line {n}: keys {keys}: {line!r}")
for want in (odd, field):
    if want not in vms:
        bad.append(f"no vm={want!r} field read back")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
grep 'vm refused\|vm appeared vm="' "$dir/agent.log" | sed 's/^/   /'
for cmd in vms host; do
	"$CTL" --url "$api" "$cmd" >"$dir/ctl" 2>&1 && ok "dbavmctl $cmd: exit 0" || bad "dbavmctl $cmd"
	expect "dbavmctl $cmd: no control character printed" \
		"$(LC_ALL=C tr -d '\n' <"$dir/ctl" | LC_ALL=C grep -c "$(printf '[\001-\037\177]')" || true)" 0
done

kill "$agent" && wait "$agent" || true
agent=""
"$TESTBED" down >/dev/null
expect "nothing of the testbed left, odd names included" "$(ls /run/netns | grep -c '^dbavm-' || true)" 0
check_done
