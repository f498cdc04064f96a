#!/usr/bin/env bash
# Pool acquire+release: uncontended (p50/p99 against a bare mutex+vector, and
# the system calls made per acquire+release, counted with strace) and 100
# threads on 25 connections (p95 against a mutex+condition_variable pool, and
# how often a waiter was overtaken). Started by scripts/bench.sh.
set -euo pipefail
bin=$STRATUM_BENCH_BUILD_DIR/bench/pool_bench
export STRATUM_BENCH_CONNINFO="host=127.0.0.1 port=$STRATUM_BENCH_PGPORT user=stratum_app dbname=${PGDATABASE:-stratum_bench}"
iterations=${STRATUM_BENCH_POOL_ITERATIONS:-2000000}
seconds=${STRATUM_BENCH_SECONDS:-10}

"$bin" uncontended "$iterations"

# No system call on the fast path: count them between two markers the
# program leaves (opening /dev/null) around 100,000 acquire+release.
if command -v strace >/dev/null; then
  trace=$(mktemp)
  strace -f -qq -o "$trace" "$bin" syscalls 100000
  calls=$(awk '/openat\(.*"\/dev\/null"/ { marker++; next } marker == 1 { n++ } END { print n - 1 }' "$trace")  # minus the marker's close
  echo "  system calls during 100,000 acquire+release (strace): $calls"
  rm -f "$trace"
else
  echo "  (strace not installed: system calls not counted)"
fi

echo
"$bin" contended 100 25 "$((seconds / 2 > 0 ? seconds / 2 : 1))" 1000
