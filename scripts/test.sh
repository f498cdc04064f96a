#!/usr/bin/env bash
# make test: builds everything and runs every test suite against throwaway
# servers (PostgreSQL, PgBouncer, Redis) that are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test
make -s -j"$(nproc)" all
make -s check-version

source scripts/lib/services.sh
services_init
trap services_stop_all EXIT
pg_tree_build .
pg_start pg

echo "== pg_regress (extension)"
if ! make -s installcheck; then
  [[ -f regress/regression.diffs ]] && head -c 20000 regress/regression.diffs
  exit 1
fi
