#!/bin/sh
# The command-line contract in one place per reader: every option in agent/config.c's table
# must appear in `dbavmd --help`, the man page and the README, and every route in the API
# code must be in openapi.yaml and the README.
set -eu
DBAVMD=$1
TOP=$2
DBAVMCTL=$3
failed=0
checked=0

names=$(grep -o '{ *"[a-z-]*", [012], set_' "$TOP/agent/config.c" |
	sed 's/{ *"\([a-z-]*\)".*/\1/' | sort -u)
[ -n "$names" ] || { echo "FAIL: no options found in agent/config.c"; exit 1; }
help=$("$DBAVMD" --help)
for n in $names; do
	checked=$((checked + 1))
	[ "$n" = config ] && continue # -c FILE everywhere
	printf '%s\n' "$help" | grep -q -- "--$n" || { echo "FAIL: --$n not in --help"; failed=$((failed + 1)); }
	grep -q -- "Fl \\\\-$n" "$TOP/packaging/dbavmd.8" || { echo "FAIL: --$n not in dbavmd.8"; failed=$((failed + 1)); }
	grep -q -- "--$n" "$TOP/README.md" || { echo "FAIL: --$n not in README.md"; failed=$((failed + 1)); }
done
for route in /vms /vms/{id} /vms/{id}/sla /host /metrics /healthz /readyz; do
	checked=$((checked + 1))
	grep -q "^  $route:" "$TOP/openapi.yaml" || { echo "FAIL: $route not in openapi.yaml"; failed=$((failed + 1)); }
	plain=$(printf '%s' "$route" | sed 's/{id}/vm1/')
	grep -q "localhost:8470$plain" "$TOP/README.md" || { echo "FAIL: $route has no curl example in README.md"; failed=$((failed + 1)); }
done
# dbavmctl: every long option of its tables (and every command) in --help, its man page and
# the README.
names=$(grep -ho '{ *"[a-z-]*", \(required\|no\)_argument' "$TOP/ctl/dbavmctl.c" |
	sed 's/.*{ *"\([a-z-]*\)".*/\1/' | sort -u)
[ -n "$names" ] || { echo "FAIL: no options found in ctl/dbavmctl.c"; exit 1; }
help=$("$DBAVMCTL" --help)
for n in $names; do
	checked=$((checked + 1))
	printf '%s\n' "$help" | grep -q -- "--$n" || { echo "FAIL: dbavmctl --$n not in --help"; failed=$((failed + 1)); }
	grep -q -- "Fl \\\\-$n" "$TOP/packaging/dbavmctl.1" || { echo "FAIL: dbavmctl --$n not in dbavmctl.1"; failed=$((failed + 1)); }
	grep -q -- "--$n" "$TOP/README.md" || { echo "FAIL: dbavmctl --$n not in README.md"; failed=$((failed + 1)); }
done
for cmd in "sla get" "sla set" "sla rm" vms host top; do
	checked=$((checked + 1))
	printf '%s\n' "$help" | grep -q -- "  $cmd" || { echo "FAIL: dbavmctl $cmd not in --help"; failed=$((failed + 1)); }
	grep -q -- "^\.Cm $cmd" "$TOP/packaging/dbavmctl.1" || { echo "FAIL: dbavmctl $cmd not in dbavmctl.1"; failed=$((failed + 1)); }
	grep -q -- "dbavmctl $cmd" "$TOP/README.md" || { echo "FAIL: dbavmctl $cmd not in README.md"; failed=$((failed + 1)); }
done
echo "$((checked - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
