#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets (fuzz/*_fuzz.cpp) with clang,
# AddressSanitizer and UBSan, and runs each for a bounded time, starting from
# its seed corpus (fuzz/corpus/<target>/) plus what earlier runs found
# (build/fuzz/corpus/<target>/). Fails when a target crashes; the input is
# kept under build/fuzz/artifacts/<target>/ and belongs in a regression test.
#   FUZZ_SECONDS=60 (per target)  FUZZ_JOBS=1  scripts/fuzz.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-60}

scripts/install-deps.sh fuzz
build=$root/build/fuzz
cmake -S fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 >/dev/null

if (($# > 0)); then
  targets=("$@")
else
  targets=()
  for source in fuzz/*_fuzz.cpp; do
    name=${source##*/}
    targets+=("${name%.cpp}")
  done
fi

failed=()
for target in "${targets[@]}"; do
  seeds=$root/fuzz/corpus/${target%_fuzz}
  corpus=$build/corpus/${target%_fuzz}
  artifacts=$build/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  echo "== $target (${seconds}s)"
  if "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$build/$target.log" 2>&1; then
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added)" "$build/$target.log" || true
  else
    failed+=("$target")
    grep -E "ERROR|SUMMARY|Test unit written" "$build/$target.log" | head -20
    echo "   full log: $build/$target.log"
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: crashes in ${failed[*]} (inputs in $build/artifacts/)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
