#!/bin/sh
# bench_fuzz: every libFuzzer harness (tests/fuzz) for RUNS inputs (default 10 million) from
# its seed corpus: runs, time, rate, coverage (libFuzzer's cov: edges, ft: features) and
# crashes, one line each. Target (issue 14): >= 10 million runs per harness, 0 crashes.
#   bench_fuzz.sh [RUNS]
set -eu
exec "$(cd "$(dirname "$0")/.." && pwd)/fuzz/run.sh" --runs "${1:-10000000}"
