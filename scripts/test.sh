#!/usr/bin/env bash
# make test: builds everything and runs every test suite against throwaway
# servers (PostgreSQL, PgBouncer, Redis) that are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh test
make -s -j"$(nproc)" all
make -s check-version

# The extension's suites, with and without shared_preload_libraries, on
# Debian's PostgreSQL and on every /opt/pg*/bin/pg_config found; then on a
# Citus cluster when Citus is installed (skipped, by name, otherwise).
# STRATUM_TEST_SKIP_EXTENSION=1 skips them (for iterating on the client only).
if [[ ${STRATUM_TEST_SKIP_EXTENSION:-0} != 1 ]]; then
  scripts/regress.sh
  scripts/citus_test.sh
fi

source scripts/lib/services.sh
services_init
trap services_stop_all EXIT
pg_tree_build .
pg_start pg

if [[ -z $(ls client/lib/*.cpp 2>/dev/null) ]]; then
  exit 0
fi

echo "== GoogleTest (client library and command)"
redis_start
s3rver_start stratum-test
# The roles, the template the suites copy and the default test database, on
# the cluster at $1 (port) / $2 (socket directory).
setup_test_cluster() {
  local cluster=(-p "$1" -h "$2")
  psql "${cluster[@]}" -q -v ON_ERROR_STOP=1 -d postgres <<SQL
CREATE ROLE stratum_owner LOGIN;
CREATE ROLE stratum_app LOGIN;
CREATE DATABASE stratum_template;
SQL
  psql "${cluster[@]}" -q -v ON_ERROR_STOP=1 -d stratum_template -f tests/support/template.sql >/dev/null
  psql "${cluster[@]}" -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE stratum_test TEMPLATE stratum_template"
}
setup_test_cluster "$PG_PORT" "$PG_DIR"
pgbouncer_start "$PG_PORT" postgres stratum_app stratum_owner
# Two streaming replicas of the test cluster (pool.replica()), and a separate
# primary + standby pair that the failover test may demote and promote.
pg_replica_start replica1 "$PG_PORT"
pg_replica_start replica2 "$PG_PORT"
pg_start failover
setup_test_cluster "$FAILOVER_PORT" "$FAILOVER_DIR"
pg_replica_start failover_standby "$FAILOVER_PORT"
# A pair of its own for the failover fault test (tests/service/failover_fault_test.cpp).
pg_start fault_primary
setup_test_cluster "$FAULT_PRIMARY_PORT" "$FAULT_PRIMARY_DIR"
pg_replica_start fault_standby "$FAULT_PRIMARY_PORT"
# A cluster of its own for the commit-outcome fault test
# (tests/lib/commit_outcome_fault_test.cpp): it kills its backends, crashes
# it, stops and restarts it, and names a synchronous standby that never comes.
pg_start commit_fault
setup_test_cluster "$COMMIT_FAULT_PORT" "$COMMIT_FAULT_DIR"
# A cluster that does not preload the library: a backend loads it at its
# first stratum call (tests/lib/lazy_load_test.cpp).
pg_start nopreload "shared_preload_libraries = ''"
setup_test_cluster "$NOPRELOAD_PORT" "$NOPRELOAD_DIR"
export STRATUM_TEST_NOPRELOAD_PORT=$NOPRELOAD_PORT
pgctl() { echo "$root/scripts/pgctl.sh $1/data $PG_TREE_POSTGRES"; }
export STRATUM_TEST_COMMIT_FAULT_PORT=$COMMIT_FAULT_PORT
export STRATUM_TEST_PGCTL_COMMIT_FAULT=$(pgctl "$COMMIT_FAULT_DIR")
export STRATUM_TEST_FAULT_PRIMARY_PORT=$FAULT_PRIMARY_PORT STRATUM_TEST_FAULT_STANDBY_PORT=$FAULT_STANDBY_PORT
export STRATUM_TEST_PGCTL_FAULT_PRIMARY=$(pgctl "$FAULT_PRIMARY_DIR")
export STRATUM_TEST_PGCTL_FAULT_STANDBY=$(pgctl "$FAULT_STANDBY_DIR")
export STRATUM_TEST_REPLICA_PORTS=$REPLICA1_PORT,$REPLICA2_PORT
export STRATUM_TEST_PGCTL_REPLICA1=$(pgctl "$REPLICA1_DIR") STRATUM_TEST_PGCTL_REPLICA2=$(pgctl "$REPLICA2_DIR")
export STRATUM_TEST_FAILOVER_PRIMARY_PORT=$FAILOVER_PORT STRATUM_TEST_FAILOVER_STANDBY_PORT=$FAILOVER_STANDBY_PORT
export STRATUM_TEST_PGCTL_FAILOVER_PRIMARY=$(pgctl "$FAILOVER_DIR")
export STRATUM_TEST_PGCTL_FAILOVER_STANDBY=$(pgctl "$FAILOVER_STANDBY_DIR")
export STRATUM_TEST_SOURCE_DIR=$root

export STRATUM_TEST_PGHOST=127.0.0.1 STRATUM_TEST_PGPORT=$PG_PORT
export STRATUM_TEST_PGBOUNCER_PORT=$PGBOUNCER_PORT
export STRATUM_TEST_REDIS_ADDR=127.0.0.1:$REDIS_PORT
# s3rver's built-in test account (S3RVER/S3RVER), not a secret; set these to
# point the object store tests at another S3-compatible server.
export STRATUM_TEST_S3_ENDPOINT=${STRATUM_TEST_S3_ENDPOINT:-127.0.0.1:$S3RVER_PORT}
export STRATUM_TEST_S3_BUCKET=${STRATUM_TEST_S3_BUCKET:-stratum-test}
export STRATUM_TEST_S3_ACCESS_KEY=${STRATUM_TEST_S3_ACCESS_KEY:-S3RVER}
export STRATUM_TEST_S3_SECRET_KEY=${STRATUM_TEST_S3_SECRET_KEY:-S3RVER}
export STRATUM_TEST_S3RVER_BIN=$root/build/s3rver/node_modules/.bin/s3rver
export STRATUM_TEST_PGCTL="$root/scripts/pgctl.sh $PG_DIR/data $PG_TREE_POSTGRES"
export STRATUM_TEST_BIN_DIR=$root/build/client

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
# STRATUM_TEST_FILTER=regex runs only the GoogleTest cases it matches (ctest -R).
ctest --test-dir build --output-on-failure --timeout 600 ${STRATUM_TEST_FILTER:+-R "$STRATUM_TEST_FILTER"}
