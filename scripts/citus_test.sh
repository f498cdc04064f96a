#!/usr/bin/env bash
# stratum on Citus: the regress/citus suites against a coordinator and two
# workers on loopback (a third is added during the suites), started here and
# stopped on exit. They run when Citus is installed for the PostgreSQL in use
# (it is never built or shipped by this project) and say they were skipped
# otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/lib/services.sh
suites=(citus_setup citus_distribute citus_isolation citus_audit citus_nodes)
if ! citus_available; then
  echo "== Citus suites (${suites[*]}): skipped, Citus is not installed for $("$PG_CONFIG" --version)"
  exit 0
fi
echo "== Citus suites: $("$PG_CONFIG" --version), a coordinator and two workers (a third added)"
services_init
trap services_stop_all EXIT
make -s all >/dev/null
pg_tree_build .
citus_start regression
# The node the suites add with citus_add_node.
pg_start citus_worker3 "shared_preload_libraries = 'citus,stratum'" \
  "max_prepared_transactions = 100" "citus.node_conninfo = 'sslmode=disable'"
psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CITUS_WORKER3_PORT" -U postgres -d postgres \
  -c "CREATE DATABASE regression" >/dev/null
psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CITUS_WORKER3_PORT" -U postgres -d regression \
  -c "CREATE EXTENSION citus" >/dev/null
# Where the suites find the nodes (their ports change from run to run).
psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CITUS_COORDINATOR_PORT" -U postgres -d regression <<SQL
CREATE TABLE citus_test_nodes (name text PRIMARY KEY, port integer NOT NULL);
INSERT INTO citus_test_nodes VALUES ('coordinator', $CITUS_COORDINATOR_PORT),
    ('worker1', $CITUS_WORKER1_PORT), ('worker2', $CITUS_WORKER2_PORT), ('worker3', $CITUS_WORKER3_PORT);
SQL
out=$STRATUM_RUN_DIR/citus-results
mkdir -p "$out"
if ! "$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
    --inputdir=regress/citus --outputdir="$out" --bindir="$("$PG_CONFIG" --bindir)" \
    --host=127.0.0.1 --port="$CITUS_COORDINATOR_PORT" --user=postgres \
    --use-existing --dbname=regression "${suites[@]}"; then
  rm -rf "$root/regress/citus/results" && cp -r "$out/results" "$root/regress/citus/results"
  cp "$out/regression.diffs" "$root/regress/citus/regression.diffs"
  head -c 20000 "$out/regression.diffs"
  exit 1
fi

# libstratum on the coordinator, as the suites' application role.
echo "== libstratum on Citus (tests/citus)"
# The build type make test uses too, so its build reuses these objects.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target citus_client_test >/dev/null
STRATUM_TEST_CITUS_CONNINFO="host=127.0.0.1 port=$CITUS_COORDINATOR_PORT user=citus_app dbname=regression" \
  build/tests/citus_client_test
