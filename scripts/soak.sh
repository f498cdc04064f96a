#!/usr/bin/env bash
# make soak: load and failover soak on throwaway servers, bounded in time,
# everything printed, stopped on exit. Fails when a phase sees an error or a
# leaked connection. Knobs (environment):
#   SOAK_SECONDS=60         the sustained-load phase (up to 600)
#   SOAK_QPS=10000          its target rate; SOAK_CLIENTS=8 its clients
#   SOAK_CONNECTIONS=1000   connections leased at once
#   SOAK_PHASES="connections clients peer sustained exhaustion autofailover migrators"
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${SOAK_SECONDS:-60}
((seconds >= 5 && seconds <= 600)) || { echo "SOAK_SECONDS must be 5..600" >&2; exit 2; }
qps=${SOAK_QPS:-10000}
clients=${SOAK_CLIENTS:-8}
connections=${SOAK_CONNECTIONS:-1000}
phases=${SOAK_PHASES:-connections clients peer sustained exhaustion autofailover migrators}
scale=10

scripts/install-deps.sh soak
make -s -j2 all

source scripts/lib/services.sh
services_init
trap services_stop_all EXIT
pg_tree_build .
# 1,000 pooled connections need room beyond them for the harness itself.
pg_start pg "max_connections = $((connections + 100))" "shared_buffers = 256MB" \
  "max_wal_size = 4GB" "checkpoint_timeout = 30min"
psql -q -v ON_ERROR_STOP=1 -d postgres <<SQL
CREATE ROLE stratum_owner LOGIN;
CREATE ROLE stratum_app LOGIN;
CREATE DATABASE stratum_soak;
SQL
psql -q -v ON_ERROR_STOP=1 -d stratum_soak -f tests/support/template.sql >/dev/null
echo "preparing pgbench scale $scale and its tenant copy..."
pgbench -i -q -s "$scale" -U stratum_owner stratum_soak >/dev/null 2>&1
psql -q -v ON_ERROR_STOP=1 -U stratum_owner -d stratum_soak <<SQL >/dev/null
SET client_min_messages = warning;
CREATE TABLE tenant_accounts AS
  SELECT aid, bid, abalance, filler, 'aaaaaaaa-0000-4000-8000-000000000001'::uuid AS tenant_id
    FROM pgbench_accounts;
ALTER TABLE tenant_accounts ADD PRIMARY KEY (aid);
SELECT stratum.enable_tenancy('tenant_accounts');
SQL
psql -q -v ON_ERROR_STOP=1 -d stratum_soak -c "SELECT stratum.grant_app_role('stratum_app')" >/dev/null
psql -q -d stratum_soak -c "VACUUM ANALYZE" >/dev/null

# A build directory of its own: make test's (RelWithDebInfo) stays as it is.
build=$root/build/soak
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 >/dev/null
bin=$build/bench/load_bench
export STRATUM_BENCH_CONNINFO="host=127.0.0.1 port=$PG_PORT user=stratum_app dbname=stratum_soak"
export STRATUM_BENCH_ADMIN_CONNINFO="host=$PG_DIR port=$PG_PORT user=postgres dbname=postgres"
export STRATUM_BENCH_ACCOUNTS=$((scale * 100000))

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
failed=()
phase() {
  local name=$1
  shift
  [[ " $phases " == *" $name "* ]] || return 0
  echo
  echo "=== $name"
  "$@" || failed+=("$name")
}

pgbench_tps() {  # pgbench -S -M prepared, its tps (TCP like the pool)
  pgbench -h 127.0.0.1 -p "$PG_PORT" -U stratum_app -S -M prepared -n -c "$1" -j 2 -T "$2" stratum_soak 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
peer() {
  local peer_seconds=$((seconds < 10 ? seconds : 10)) tps
  psql -q -d stratum_soak -c "GRANT SELECT ON pgbench_accounts, pgbench_branches TO stratum_app" >/dev/null
  tps=$(pgbench_tps "$clients" "$peer_seconds")
  echo "pgbench -S -M prepared -c $clients -j 2 -T $peer_seconds: $tps tps"
  "$bin" sustained "$clients" 100000000 "$peer_seconds" "$peer_seconds" | tee "$STRATUM_RUN_DIR/max.txt"
  local ours
  ours=$(sed -n 's/^  overall: \([0-9]*\) queries.*/\1/p' "$STRATUM_RUN_DIR/max.txt")
  awk -v o="$ours" -v p="$tps" 'BEGIN { printf "maximum: %d queries/s as a tenant through the pool = %.0f%% of pgbench -S at %s\n", o, 100 * o / p, "the same client count" }'
}

phase connections "$bin" connections "$connections"
phase clients "$bin" clients 100 25 "$((seconds < 10 ? seconds : 10))"
phase peer peer
phase sustained "$bin" sustained "$clients" "$qps" "$seconds" 5
phase exhaustion "$bin" exhaustion 20 10
autofailover() {  # pg_auto_failover: monitor + two nodes, `perform failover` twice under load
  local started=$SECONDS cmd
  pgaf_start || return 1
  echo "monitor and two nodes up in $((SECONDS - started)) s (ports $PGAF_MONITOR_PORT, $PGAF_NODE1_PORT, $PGAF_NODE2_PORT)"
  psql -h 127.0.0.1 -p "$PGAF_NODE1_PORT" -U postgres -q -v ON_ERROR_STOP=1 -d postgres <<SQL || return 1
CREATE ROLE stratum_owner LOGIN;
CREATE ROLE stratum_app LOGIN;
CREATE DATABASE stratum_soak;
SQL
  psql -h 127.0.0.1 -p "$PGAF_NODE1_PORT" -U postgres -q -v ON_ERROR_STOP=1 -d stratum_soak \
    -f tests/support/template.sql >/dev/null || return 1
  local pgaf=$STRATUM_RUN_DIR/pgaf
  cmd="$(pgaf_env_command) pg_autoctl perform failover --pgdata $PGAF_NODE1_DIR --wait 60"
  [[ $(id -u) == 0 ]] && cmd="runuser -u postgres -- $cmd"
  cmd+=" >>$pgaf/failover.log 2>&1"
  STRATUM_SOAK_NODE1_PORT=$PGAF_NODE1_PORT STRATUM_SOAK_NODE2_PORT=$PGAF_NODE2_PORT STRATUM_SOAK_FAILOVER=$cmd \
    "$build/tests/reliability/autofailover_soak" 2>&1 | grep -v '^\[20'
  return "${PIPESTATUS[0]}"
}
phase autofailover autofailover
[[ " $phases " == *" migrators "* ]] && [[ -x scripts/soak_migrators.sh ]] &&
  { echo; echo "=== migrators"; scripts/soak_migrators.sh || failed+=(migrators); }

echo
echo "machine load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if ((${#failed[@]} > 0)); then
  echo "soak: FAILED: ${failed[*]}"
  exit 1
fi
echo "soak: every phase passed"
