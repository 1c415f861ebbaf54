#!/bin/sh
# Every test dbavm has: installs what it needs, builds with warnings as errors, runs the unit,
# integration and valgrind tests, then the unit and integration tests again under AddressSanitizer
# and UBSan. The README's test command; .ci/run calls it.
set -eu
cd "$(dirname "$0")/.."

./packaging/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

# ctest, and a failure when it failed or skipped anything: a skipped test has proved nothing.
run_ctest() {
	log=$(mktemp)
	rc=0
	ctest "$@" >"$log" 2>&1 || rc=$?
	cat "$log"
	if grep -q -e '\*\*\*Skipped' -e '\*\*\*Not Run' "$log"; then
		echo "FAIL: tests were skipped or not run (see above)" >&2
		rc=1
	fi
	rm -f "$log"
	return "$rc"
}

echo "== build (warnings are errors)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBAVM_WERROR=ON >/dev/null
cmake --build build/ci -j "$jobs"
echo "== tests"
run_ctest --test-dir build/ci --output-on-failure -j "$jobs"

echo "== build with AddressSanitizer and UBSan"
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DDBAVM_WERROR=ON -DDBAVM_SANITIZE=ON \
	>/dev/null
cmake --build build/sanitize -j "$jobs"
# Excluded: valgrind's tests (the two do not mix), the real Xen's (its dom0 has no sanitizer
# runtime; the sanitized agent meets the Xen platform in integration_xen), the package's
# (it builds the package from the sources, as Debian would, not this build), and the demo's
# (a user's run, of the release build; the sanitized agent meets the same paths in the
# integration tests).
echo "== tests under sanitizers (valgrind, the real Xen, the package and the demo excluded)"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_ctest --test-dir build/sanitize --output-on-failure -j "$jobs" -E '^valgrind_|^bench_|^xen_qemu$|^package_|^demo_'

# The parsers under libFuzzer (clang, ASan, UBSan), 20 s each from the seed corpora and every
# regression input; tests/bench/bench_fuzz.sh runs them for 10 million inputs each.
echo "== fuzzing"
./tests/fuzz/run.sh 20
