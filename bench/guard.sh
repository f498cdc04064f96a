#!/usr/bin/env bash
# The statement guard's cost (extension/isolation.cpp): the same primary-key
# lookups, in one session of a cluster without shared_preload_libraries,
# before the library is loaded (no guard at all) and after LOAD (the guard
# checks every statement). Server side, PL/pgSQL loop, cached plans.
# Started by scripts/bench.sh, which exports the private install tree.
set -euo pipefail
root=$STRATUM_BENCH_ROOT
n=${STRATUM_BENCH_GUARD_STATEMENTS:-200000}
source "$root/scripts/lib/services.sh"
PG_TREE_POSTGRES=$STRATUM_BENCH_PG_TREE
services_init
trap services_stop_all EXIT
pg_start guard "shared_preload_libraries = ''"
export PGHOST=$GUARD_DIR PGPORT=$GUARD_PORT PGDATABASE=postgres PGUSER=postgres

psql -q -X -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION stratum;
INSERT INTO stratum.tenants (id, slug, name) VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'acme', 'Acme');
CREATE TABLE guard_plain (id int PRIMARY KEY, v int);
INSERT INTO guard_plain SELECT g, g FROM generate_series(1, 1000) g;
CREATE TABLE guard_tenant (id int PRIMARY KEY, v int);
SELECT stratum.enable_tenancy('guard_tenant');
INSERT INTO guard_tenant SELECT g, g, 'aaaaaaaa-0000-4000-8000-000000000001' FROM generate_series(1, 1000) g;
ANALYZE guard_plain, guard_tenant;
SQL

# ns per statement of a loop of n lookups in table t. A plain PL/pgSQL
# function: calling it touches nothing of stratum's, so a backend that does
# not LOAD the library runs without the guard.
psql -q -X -v ON_ERROR_STOP=1 <<SQL
CREATE FUNCTION lookups(t text, n int) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE started timestamptz; r int;
BEGIN
    started := clock_timestamp();
    IF t = 'guard_plain' THEN
        FOR i IN 1..n LOOP SELECT v INTO r FROM guard_plain WHERE id = i % 1000 + 1; END LOOP;
    ELSE
        FOR i IN 1..n LOOP SELECT v INTO r FROM guard_tenant WHERE id = i % 1000 + 1; END LOOP;
    END IF;
    RETURN extract(epoch FROM clock_timestamp() - started) * 1e9 / n;
END \$\$;
CREATE TABLE timings (variant text, ns numeric);
SQL

# Each variant in a backend of its own, the variants interleaved round by round.
tenant="SELECT stratum.set_tenant('aaaaaaaa-0000-4000-8000-000000000001');"
for round in 1 2 3 4 5; do
  psql -q -X -v ON_ERROR_STOP=1 -c "SELECT lookups('guard_plain', 2000)" \
    -c "INSERT INTO timings SELECT 'no guard (library not loaded)', lookups('guard_plain', $n)" >/dev/null
  psql -q -X -v ON_ERROR_STOP=1 -c "LOAD 'stratum'" -c "SELECT lookups('guard_plain', 2000)" \
    -c "INSERT INTO timings SELECT 'guard, no tenant, plain table', lookups('guard_plain', $n)" >/dev/null
  psql -q -X -v ON_ERROR_STOP=1 >/dev/null <<SQL
BEGIN;
$tenant
SELECT lookups('guard_plain', 2000);
INSERT INTO timings SELECT 'guard, tenant set, plain table', lookups('guard_plain', $n);
COMMIT;
BEGIN;
$tenant
SELECT lookups('guard_tenant', 2000);
INSERT INTO timings SELECT 'guard, tenant set, tenant table', lookups('guard_tenant', $n);
COMMIT;
SQL
done
psql -q -X -v ON_ERROR_STOP=1 <<SQL
\echo 'statement guard: ns per primary-key lookup (PL/pgSQL loop, one backend per variant, 5 rounds interleaved), best of 5:'
SELECT variant, round(min(ns)) AS ns_per_statement,
       round(min(ns) - (SELECT min(ns) FROM timings WHERE variant LIKE 'no guard%')) AS over_no_guard_ns,
       round(min(ns) / (SELECT min(ns) FROM timings WHERE variant LIKE 'no guard%'), 3) AS ratio
  FROM timings GROUP BY variant ORDER BY min(ns);
SQL
