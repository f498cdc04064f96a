#!/usr/bin/env bash
# make bench: builds, starts throwaway servers and runs every bench/*.sh (or
# only those named: scripts/bench.sh rls audit). Each prints its ratios against
# a peer measured in the same run. Not a test: nothing here fails on speed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh bench
make -s -j"$(nproc)" all

source scripts/lib/services.sh
services_init
trap services_stop_all EXIT
pg_tree_build .
# Room for every bench's tables at once (the query bench's pgbench_accounts
# and its tenant copy alone are 320 MB): a lookup that misses shared buffers
# would measure the kernel's page cache, not the variant.
pg_start pg "shared_buffers = 1GB" "max_wal_size = 4GB" "checkpoint_timeout = 30min"
redis_start
psql -q -v ON_ERROR_STOP=1 -d postgres <<SQL
CREATE ROLE stratum_owner LOGIN;
CREATE ROLE stratum_app LOGIN;
CREATE DATABASE stratum_bench;
SQL
psql -q -v ON_ERROR_STOP=1 -d stratum_bench -f tests/support/template.sql >/dev/null
pgbouncer_start "$PG_PORT" postgres stratum_app stratum_owner

if [[ -n $(ls client/lib/*.cpp 2>/dev/null) ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" >/dev/null
fi

export PGDATABASE=stratum_bench
export STRATUM_BENCH_BUILD_DIR=$root/build STRATUM_BENCH_ROOT=$root
export STRATUM_BENCH_PGPORT=$PG_PORT STRATUM_BENCH_PGHOST_DIR=$PG_DIR
export STRATUM_BENCH_PGBOUNCER_PORT=$PGBOUNCER_PORT STRATUM_BENCH_REDIS_PORT=$REDIS_PORT
export STRATUM_BENCH_PGCTL="$root/scripts/pgctl.sh $PG_DIR/data $PG_TREE_POSTGRES"
export STRATUM_BENCH_PG_TREE=$PG_TREE_POSTGRES

if (($# > 0)); then
  benches=()
  for name in "$@"; do benches+=("bench/$name.sh"); done
else
  benches=(bench/*.sh)
fi
for bench in "${benches[@]}"; do
  echo
  echo "=== ${bench#bench/}"
  bash "$bench"
done
