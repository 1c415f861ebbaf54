#!/bin/sh
# The fuzzers' pass: builds the libFuzzer harnesses (clang, ASan, UBSan) in build/fuzz, then
# runs each over a copy of its seed corpus (corpus/<harness>) and its regression inputs
# (regressions/<harness>: every crash found is kept there and replayed first), for a time or a
# number of runs each. Prints each harness's runs, rate, coverage and whether it crashed;
# fails if any did. A crash's input is left in build/fuzz/crashes/<harness>/.
#   run.sh [SECONDS]   each harness for SECONDS (default 20): tests/run-all.sh's pass
#   run.sh --runs N    each harness for N runs (the benchmark: tests/bench/bench_fuzz.sh)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build/fuzz
HARNESSES="sla scenario config state xenstore http openstack units names wire ovsdb"
if [ "${1:-}" = --runs ]; then
	limit="-runs=$2"
	what="$2 runs"
else
	limit="-max_total_time=${1:-20}"
	what="${1:-20} s"
fi

command -v clang >/dev/null || {
	echo "FAIL the fuzzers need clang (packaging/install-deps.sh installs it)"
	exit 1
}
CC=clang cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBAVM_FUZZ=ON \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target fuzz_all >/dev/null

# fuzz_http's state directory is /dev/shm/dbavm-fuzz-*, removed at its exit; a crash leaves
# it behind, and this removes it (a stale one at the start too).
rm -rf /dev/shm/dbavm-fuzz-*
work=$(mktemp -d /tmp/dbavm-fuzz-XXXXXX)
trap 'rm -rf "$work" /dev/shm/dbavm-fuzz-*' EXIT
trap 'exit 1' HUP INT PIPE TERM
failed=0
printf '%-9s %12s %8s %10s %7s %7s  %s\n' harness runs seconds "runs/s" cov ft result
for h in $HARNESSES; do
	mkdir -p "$work/$h" "$BUILD/crashes/$h"
	cp "$HERE/corpus/$h/"* "$work/$h/"
	regress=""
	[ -d "$HERE/regressions/$h" ] && regress="$HERE/regressions/$h"
	t0=$(date +%s.%N)
	rc=0
	# shellcheck disable=SC2086 # $limit and $regress are one word or none
	"$BUILD/tests/fuzz/fuzz_$h" $limit -print_final_stats=1 -max_len=4096 -timeout=10 \
		-rss_limit_mb=4096 -artifact_prefix="$BUILD/crashes/$h/" "$work/$h" $regress \
		>"$work/$h.log" 2>&1 || rc=$?
	t1=$(date +%s.%N)
	runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$work/$h.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/$h.log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$work/$h.log" | tail -1 | cut -d' ' -f2)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
	result=ok
	if [ "$rc" != 0 ]; then
		result="CRASH (exit $rc)"
		failed=1
	fi
	printf '%-9s %12s %8s %10s %7s %7s  %s\n' "$h" "${runs:-?}" "$secs" \
		"$(awk -v r="${runs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? r / s : 0) }')" \
		"${cov:-?}" "${ft:-?}" "$result"
	if [ "$rc" != 0 ]; then
		grep -E -A12 'ERROR:|property failed|runtime error' "$work/$h.log" | head -40
		echo "the input: $(ls "$BUILD/crashes/$h/" | head -1) in $BUILD/crashes/$h" \
			"(keep it in tests/fuzz/regressions/$h once fixed)"
	fi
done
echo "fuzzing: $what per harness, $([ $failed = 0 ] && echo "no crash" || echo "CRASHES: see above")"
exit "$failed"
