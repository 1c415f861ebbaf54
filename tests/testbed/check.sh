# Sourced, not run: the checks every shell test prints and counts.
#   ok WHAT / bad WHAT            one check passed / failed
#   expect WHAT GOT WANT          equal as strings
#   within WHAT GOT WANT PERCENT  |GOT - WANT| <= WANT x PERCENT / 100
#   above WHAT GOT LOWEST         GOT >= LOWEST
#   below WHAT GOT LIMIT          GOT < LIMIT
#   check_log_on_failure FILE N   the last N lines of FILE, if anything failed
#   check_done                    the failed checks again, the count; the exit status
passed=0
failed=0
failures="" # each FAIL line again, so the end of a long log says what failed
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
	failures="$failures
FAIL $*"
}
expect() {
	[ "$2" = "$3" ] && ok "$1" || bad "$1: got '$2', want '$3'"
}
within() {
	if awk -v g="$2" -v w="$3" -v p="$4" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= w * p / 100) }'; then
		ok "$1: $2, want $3 +-$4%"
	else
		bad "$1: $2, want $3 +-$4%"
	fi
}
above() {
	awk -v g="$2" -v w="$3" 'BEGIN { exit !(g >= w) }' && ok "$1: $2, at least $3" ||
		bad "$1: $2, want at least $3"
}
below() {
	awk -v v="$2" -v l="$3" 'BEGIN { exit !(v < l) }' && ok "$1: $2 < $3" || bad "$1: $2, want < $3"
}
check_log_on_failure() {
	if [ "$failed" -gt 0 ] && [ -f "$1" ]; then
		echo "agent log:"
		tail -"$2" "$1"
	fi
}
check_done() {
	[ -z "$failures" ] || echo "the failed checks:$failures"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
