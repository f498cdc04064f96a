#!/usr/bin/env bash
# Installs the Debian packages stratum builds, tests and benchmarks with.
# Idempotent: asks apt only for what is missing.
# Usage: install-deps.sh [build|demo|test|bench|fuzz|soak|all]
set -euo pipefail

profile=${1:-test}

build_pkgs=(
  build-essential cmake pkg-config
  postgresql-15 postgresql-client-15 postgresql-server-dev-15 libpq-dev
  libssl-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev
  libcpp-httplib-dev libhiredis-dev libcli11-dev
)
# make demo: the build, plus Redis (so health has more than one server to
# check) and curl (to ask stratum serve).
demo_pkgs=(redis-server curl)
test_pkgs=(libgtest-dev libgmock-dev redis-server pgbouncer)
bench_pkgs=(libbenchmark-dev sqitch valgrind)
# make fuzz: clang with libFuzzer and the sanitizer runtimes, llvm-symbolizer.
fuzz_pkgs=(clang-14 libclang-rt-14-dev llvm-14)
# make soak: pg_auto_failover (monitor + two nodes) for the failover soak.
soak_pkgs=(postgresql-15-auto-failover pg-auto-failover-cli)

case "$profile" in
  build) wanted=("${build_pkgs[@]}") ;;
  demo) wanted=("${build_pkgs[@]}" "${demo_pkgs[@]}") ;;
  test)  wanted=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  fuzz) wanted=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  soak) wanted=("${build_pkgs[@]}" "${test_pkgs[@]}" "${soak_pkgs[@]}") ;;
  all) wanted=("${build_pkgs[@]}" "${demo_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}" "${fuzz_pkgs[@]}" "${soak_pkgs[@]}") ;;
  *) echo "usage: $0 [build|demo|test|bench|fuzz|soak|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# The S3 test server (npm s3rver) needs Node.js; a machine may already carry a
# newer one than Debian's, whose npm package would conflict with it.
if [[ "$profile" != build && "$profile" != demo && "$profile" != fuzz ]] && ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

# postgresql-server-dev-15 must match the server's minor version; when one of
# them is missing, ask for both so apt upgrades them together.
if [[ " ${missing[*]} " == *" postgresql-server-dev-15 "* ]]; then
  missing+=(postgresql-15 postgresql-client-15 libpq-dev libpq5)
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
