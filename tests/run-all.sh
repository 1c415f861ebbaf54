#!/bin/sh
# Every test dbavm has: installs what it needs, builds with warnings as errors, runs the unit,
# integration and valgrind tests, then the unit and integration tests again under AddressSanitizer
# and UBSan. The README's test command; .ci/run calls it.
set -eu
cd "$(dirname "$0")/.."

./packaging/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (warnings are errors)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDBAVM_WERROR=ON >/dev/null
cmake --build build/ci -j "$jobs"
echo "== tests"
ctest --test-dir build/ci --output-on-failure -j "$jobs"

echo "== build with AddressSanitizer and UBSan"
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DDBAVM_WERROR=ON -DDBAVM_SANITIZE=ON \
	>/dev/null
cmake --build build/sanitize -j "$jobs"
echo "== tests under sanitizers (valgrind tests excluded: the two do not mix)"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ctest --test-dir build/sanitize --output-on-failure -j "$jobs" -E '^valgrind_|^bench_'
