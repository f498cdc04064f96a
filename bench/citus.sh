#!/usr/bin/env bash
# Citus: a tenant's primary-key lookup through the coordinator, on a
# distributed tenant table with stratum's policy (set_tenant, then the
# lookup, in one transaction) against the same distributed table without
# row level security (the same lookup, naming the tenant, in one
# transaction). Both pipelined, one round trip each, as libstratum sends them. A coordinator and two workers of its own, on loopback.
# Skipped when Citus is not installed.
set -euo pipefail
root=$STRATUM_BENCH_ROOT
seconds=${STRATUM_BENCH_SECONDS:-10}
clients=${STRATUM_BENCH_CLIENTS:-4}
rounds=${STRATUM_BENCH_ROUNDS:-3}
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
work=$(mktemp -d)
trap 'rm -rf "$work"; services_stop_all' EXIT

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

for variant in plain stratum; do
  {
    echo "\\set t random(1, 100)"
    echo "\\set k random(0, 999)"
    echo "\\startpipeline"
    echo "BEGIN;"
    if [[ $variant == stratum ]]; then
      echo "SELECT stratum.set_tenant(('00000000-0000-4000-8000-' || lpad(:t::text, 12, '0'))::uuid);"
      echo "SELECT payload FROM items WHERE tenant_id = ('00000000-0000-4000-8000-' || lpad(:t::text, 12, '0'))::uuid AND id = :k * 100 + :t - 1;"
    else
      echo "SELECT payload FROM items_plain WHERE tenant_id = ('00000000-0000-4000-8000-' || lpad(:t::text, 12, '0'))::uuid AND id = :k * 100 + :t - 1;"
    fi
    echo "COMMIT;"
    echo "\\endpipeline"
  } >"$work/$variant.sql"
done
declare -A tps
for ((round = 0; round < rounds; round++)); do
  for variant in $([[ $((round % 2)) == 0 ]] && echo "plain stratum" || echo "stratum plain"); do
    t=$(pgbench -n -U bench_app -M prepared -c "$clients" -j 2 -T "$seconds" -f "$work/$variant.sql" 2>/dev/null |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    best=${tps[$variant]:-0}
    tps[$variant]=$(echo "$t $best" | awk '{print ($1 > $2) ? $1 : $2}')
  done
done
echo "tenant primary-key lookup through the coordinator, pgbench -M prepared -c $clients, best of $rounds:"
echo "  (plain: the distributed table without RLS, BEGIN + the lookup + COMMIT pipelined;"
echo "   stratum: the tenant table, BEGIN + set_tenant + the same lookup + COMMIT pipelined)"
for variant in plain stratum; do
  awk -v v="$variant" -v t="${tps[$variant]}" -v p="${tps[plain]}" \
    'BEGIN { printf "  %-8s %8.0f tps   ratio to plain %.3f   (target >= 0.9)\n", v, t, t / p }'
done
