#!/usr/bin/env bash
# RLS cost: primary-key SELECTs on a stratum tenant table vs the same table
# without RLS, and vs a naive policy (tenant_id = current_setting(...)::uuid).
# Started by scripts/bench.sh (PGHOST/PGPORT/PGDATABASE point at its cluster).
set -euo pipefail
rows=${STRATUM_BENCH_RLS_ROWS:-200000}
seconds=${STRATUM_BENCH_SECONDS:-10}
clients=${STRATUM_BENCH_CLIENTS:-2}
tenant=aaaaaaaa-0000-4000-8000-000000000001
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -q -v ON_ERROR_STOP=1 -U stratum_owner <<SQL
DROP TABLE IF EXISTS bench_rls, bench_plain, bench_naive;
-- 10 tenants' rows interleaved; the bench reads tenant acme's.
CREATE TABLE bench_plain (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, payload text);
INSERT INTO bench_plain
SELECT g, CASE WHEN g % 10 = 0 THEN '$tenant'::uuid ELSE gen_random_uuid() END, md5(g::text)
  FROM generate_series(1, $rows) g;
CREATE INDEX ON bench_plain (tenant_id);
CREATE TABLE bench_rls (LIKE bench_plain INCLUDING ALL);
INSERT INTO bench_rls SELECT * FROM bench_plain;
CREATE TABLE bench_naive (LIKE bench_plain INCLUDING ALL);
INSERT INTO bench_naive SELECT * FROM bench_plain;
SQL
# Rows of unregistered tenants are fine: the policy only compares uuids.
psql -q -v ON_ERROR_STOP=1 -U postgres <<SQL
SELECT stratum.enable_tenancy('bench_rls');
ALTER TABLE bench_naive ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY naive ON bench_naive USING (tenant_id = current_setting('stratum.tenant_id')::uuid);
GRANT SELECT ON bench_plain, bench_naive TO stratum_app;
VACUUM ANALYZE bench_plain, bench_rls, bench_naive;
SQL

# 1. Server side, no network: ns per primary-key lookup through a cached plan.
# (Temporary tables of an application role last one transaction.)
psql -q -X -v ON_ERROR_STOP=1 -U stratum_app <<SQL
CREATE FUNCTION pg_temp.lookups(variant text, n int) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE started timestamptz; r record; i int;
BEGIN
    started := clock_timestamp();
    FOR i IN 1..n LOOP
        IF variant = 'plain' THEN SELECT * INTO r FROM bench_plain WHERE id = i * 10;
        ELSIF variant = 'rls' THEN SELECT * INTO r FROM bench_rls WHERE id = i * 10;
        ELSE SELECT * INTO r FROM bench_naive WHERE id = i * 10; END IF;
    END LOOP;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1e9 / n;
END \$\$;
BEGIN;
CREATE TEMP TABLE timings (variant text, ns_per_lookup numeric) ON COMMIT DROP;
SELECT stratum.set_tenant('$tenant');
SELECT pg_temp.lookups(v, 2000) FROM unnest(ARRAY['plain','rls','naive']) v;  -- warm up
INSERT INTO timings SELECT v, pg_temp.lookups(v, $rows / 10) FROM unnest(ARRAY['plain','rls','naive','plain','rls','naive']) v;
\echo 'server-side primary-key lookup (plpgsql loop, cached plans), best of 2:'
SELECT variant, round(min(ns_per_lookup)) AS ns_per_lookup,
       round(min(ns_per_lookup) / (SELECT min(ns_per_lookup) FROM timings WHERE variant = 'plain'), 3) AS ratio_to_plain
  FROM timings GROUP BY variant ORDER BY 2;
COMMIT;
SQL

# 2. Tenant scan: the whole of one tenant's rows (policy evaluated per row or once).
psql -q -X -v ON_ERROR_STOP=1 -U stratum_app <<SQL
CREATE FUNCTION pg_temp.scan(variant text) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE started timestamptz; n bigint;
BEGIN
    started := clock_timestamp();
    IF variant = 'plain' THEN SELECT count(*) INTO n FROM bench_plain WHERE tenant_id = '$tenant';
    ELSIF variant = 'rls' THEN SELECT count(*) INTO n FROM bench_rls;
    ELSE SELECT count(*) INTO n FROM bench_naive; END IF;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1e3;
END \$\$;
BEGIN;
CREATE TEMP TABLE scans (variant text, ms numeric) ON COMMIT DROP;
SELECT stratum.set_tenant('$tenant');
SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off;
SET LOCAL max_parallel_workers_per_gather = 0;
INSERT INTO scans SELECT v, pg_temp.scan(v) FROM unnest(ARRAY['plain','rls','naive','plain','rls','naive','plain','rls','naive']) v;
\echo 'sequential scan of one tenant out of 10 (filter per row), best of 3:'
SELECT variant, round(min(ms), 2) AS ms,
       round(min(ms) / (SELECT min(ms) FROM scans WHERE variant = 'plain'), 3) AS ratio_to_plain
  FROM scans GROUP BY variant ORDER BY 2;
COMMIT;
SQL

# 3. Over the wire: pgbench, prepared, 10 primary-key SELECTs per tenant transaction.
for variant in plain rls naive; do
  {
    echo "\\set id1 random(1, $rows / 10) * 10"
    echo "BEGIN;"
    echo "SELECT stratum.set_tenant('$tenant');"
    for i in $(seq 1 10); do echo "SELECT * FROM bench_$variant WHERE id = :id1 + $i * 0;"; done
    echo "COMMIT;"
  } >"$work/$variant.sql"
done
declare -A tps
rounds=${STRATUM_BENCH_ROUNDS:-3}
orders=("plain rls naive" "rls naive plain" "naive plain rls")
for ((round = 0; round < rounds; round++)); do
  for variant in ${orders[round % 3]}; do
    t=$(pgbench -n -U stratum_app -M prepared -c "$clients" -j 2 -T "$seconds" -f "$work/$variant.sql" 2>/dev/null |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    best=${tps[$variant]:-0}
    tps[$variant]=$(echo "$t $best" | awk '{print ($1 > $2) ? $1 : $2}')
  done
done
echo "pgbench -M prepared -c $clients, 10 primary-key SELECTs per tenant transaction, best of $rounds (order rotated):"
for variant in plain rls naive; do
  awk -v v="$variant" -v t="${tps[$variant]}" -v p="${tps[plain]}" \
    'BEGIN { printf "  %-6s %10.0f tps   ratio to plain %.3f\n", v, t, t / p }'
done
awk -v t="${tps[rls]}" -v p="${tps[plain]}" \
  'BEGIN { printf "  stratum policy within 10%% of the table without RLS (ratio >= 0.90): %s\n", (t / p >= 0.90) ? "met" : "MISSED" }'

# 4. current_tenant() itself.
psql -q -X -v ON_ERROR_STOP=1 -U stratum_app <<SQL
BEGIN;
SELECT stratum.set_tenant('$tenant');
CREATE TEMP TABLE calls (variant text, ns numeric) ON COMMIT DROP;
DO \$\$
DECLARE started timestamptz; n bigint;
BEGIN
    FOR round IN 1..2 LOOP
        started := clock_timestamp();
        SELECT count(*) INTO n FROM generate_series(1, 1000000);
        INSERT INTO calls VALUES ('count(*) baseline', extract(epoch FROM clock_timestamp() - started) * 1e3);
        started := clock_timestamp();
        SELECT count(stratum.current_tenant()) INTO n FROM generate_series(1, 1000000);
        INSERT INTO calls VALUES ('current_tenant()', extract(epoch FROM clock_timestamp() - started) * 1e3);
        started := clock_timestamp();
        SELECT count(current_setting('stratum.tenant_id')::uuid) INTO n FROM generate_series(1, 1000000);
        INSERT INTO calls VALUES ('current_setting()::uuid', extract(epoch FROM clock_timestamp() - started) * 1e3);
    END LOOP;
END \$\$;
\echo '1,000,000 calls in one query (ns per call above the count(*) baseline), best of 2:'
SELECT variant, round((min(ns) - (SELECT min(ns) FROM calls WHERE variant = 'count(*) baseline'))) AS ns_per_call
  FROM calls WHERE variant <> 'count(*) baseline' GROUP BY variant ORDER BY 2;
COMMIT;
SQL
