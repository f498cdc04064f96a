#!/usr/bin/env bash
# Citus: a tenant's primary-key lookup through the coordinator, on a
# distributed tenant table with stratum's policy, against the same
# distributed table without row level security (the tenant named in the
# WHERE clause). Each lookup is a transaction in one round trip (BEGIN, the
# lookup, COMMIT pipelined), as libstratum sends it on Citus: with the tenant
# bound to the lookup as a stratum.tenant_param parameter ("bound", what
# libstratum does) and, beside it, with a set_tenant statement before the
# lookup ("statement", what it did before). bench/citus_bench.cpp runs the
# clients. A coordinator and two workers of its own, on loopback. Skipped
# when Citus is not installed.
set -euo pipefail
root=$STRATUM_BENCH_ROOT
seconds=${STRATUM_BENCH_SECONDS:-10}
clients=${STRATUM_BENCH_CLIENTS:-4}
rounds=${STRATUM_BENCH_ROUNDS:-5}
source "$root/scripts/lib/services.sh"
if ! citus_available; then
  echo "skipped: Citus is not installed for $("$PG_CONFIG" --version)"
  exit 0
fi
PG_TREE_POSTGRES=$STRATUM_BENCH_PG_TREE
services_init
trap services_stop_all EXIT
citus_start bench >/dev/null
export PGHOST=127.0.0.1 PGPORT=$CITUS_COORDINATOR_PORT PGDATABASE=bench PGUSER=postgres

psql -q -X -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION stratum;
CREATE ROLE bench_app LOGIN;
SELECT stratum.grant_app_role('bench_app');
INSERT INTO stratum.tenants (id, slug, name)
SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 't' || g, 'Tenant ' || g
  FROM generate_series(1, 100) g;
SELECT stratum.sync_citus();
CREATE TABLE items_plain (id bigint, tenant_id uuid NOT NULL, payload text, PRIMARY KEY (tenant_id, id));
SELECT create_distributed_table('items_plain', 'tenant_id');
CREATE TABLE items (id bigint, tenant_id uuid NOT NULL, payload text, PRIMARY KEY (tenant_id, id));
SELECT stratum.distribute_table('items');
INSERT INTO items_plain
SELECT g, ('00000000-0000-4000-8000-' || lpad((g % 100 + 1)::text, 12, '0'))::uuid, md5(g::text)
  FROM generate_series(1, 100000) g;
INSERT INTO items SELECT * FROM items_plain;
GRANT SELECT ON items_plain TO bench_app;
VACUUM ANALYZE items_plain;
VACUUM ANALYZE items;
SQL

# CPU time of the three nodes' servers (every backend, the postmasters and
# what they started; a backend that ended counts in its postmaster's
# children time), in clock ticks: the machine is shared, so the cost per
# lookup is read in CPU time as well as in throughput.
postmasters=()
for name in citus_coordinator citus_worker1 citus_worker2; do
  postmasters+=("$(head -1 "$STRATUM_RUN_DIR/$name/data/postmaster.pid")")
done
cluster_cpu_ticks() {
  local total=0 pid line fields
  for pid in "${postmasters[@]}" $(for pid in "${postmasters[@]}"; do pgrep -P "$pid"; done); do
    line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a fields <<<"${line##*) }"
    # utime stime cutime cstime: fields 14-17 of stat, 12-15 after the name.
    total=$((total + fields[11] + fields[12] + fields[13] + fields[14]))
  done
  echo "$total"
}
# Every round's figures, per variant; the variants of a round ran back to
# back, so their ratio is the least disturbed by the load of the machine's
# other tenants, which drifts.
bin=$STRATUM_BENCH_BUILD_DIR/bench/citus_bench
export STRATUM_BENCH_CONNINFO="host=127.0.0.1 port=$CITUS_COORDINATOR_PORT dbname=bench user=bench_app"
variants=(plain bound statement)
declare -A tps cpu
for ((round = 0; round < rounds; round++)); do
  for ((i = 0; i < ${#variants[@]}; i++)); do
    variant=${variants[(i + round) % ${#variants[@]}]}
    before=$(cluster_cpu_ticks)
    read -r t n < <("$bin" "$clients" "$seconds" "$variant")
    sleep 0.5  # the backends end and are counted
    after=$(cluster_cpu_ticks)
    tps[$variant]+=" $t"
    cpu[$variant]+=" $(awk -v d=$((after - before)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { print d * 1e6 / hz / n }')"
  done
done
best_tps() { tr ' ' '\n' <<<"${tps[$1]}" | sort -g | tail -1; }
best_cpu() { tr ' ' '\n' <<<"${cpu[$1]}" | grep . | sort -g | head -1; }
# The median over rounds of a variant's figure against plain's in the same
# round ($1: tps or cpu; CPU is read as plain / variant, higher is better).
paired_median() {
  local -n figures=$1
  paste <(tr ' ' '\n' <<<"${figures[$2]}" | grep .) <(tr ' ' '\n' <<<"${figures[plain]}" | grep .) |
    awk -v cpu="$([[ $1 == cpu ]] && echo 1)" '{ print cpu ? $2 / $1 : $1 / $2 }' | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "tenant primary-key lookup through the coordinator, $clients clients, best of $rounds:"
echo "  (plain: the distributed table without RLS; bound: the tenant table, the tenant bound"
echo "   to the lookup (libstratum); statement: a set_tenant statement before it instead;"
echo "   each BEGIN + lookup + COMMIT pipelined; CPU: the three nodes' servers, per lookup)"
for variant in "${variants[@]}"; do
  awk -v v="$variant" -v t="$(best_tps "$variant")" -v p="$(best_tps plain)" -v c="$(best_cpu "$variant")" -v pc="$(best_cpu plain)" \
    'BEGIN { printf "  %-10s %8.0f tps  ratio %.3f   %6.0f us CPU  ratio %.3f   (target >= 0.9)\n", v, t, t / p, c, pc / c }'
done
for variant in bound statement; do
  echo "  $variant, paired rounds (back to back with plain), median of $rounds: throughput ratio $(paired_median tps "$variant"), CPU ratio $(paired_median cpu "$variant")   (target >= 0.9)"
done
